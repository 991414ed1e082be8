/* permspec.c - permutation specs (see permspec.h). */
#include "perm/permspec.h"

#include <stdlib.h>
#include <string.h>

llfc_permspec *llfc_permspec_new(int ngroups, int nparams)
{
    llfc_permspec *s = llfc_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ngroups = ngroups;
    s->nparams = nparams;
    s->gname = llfc_calloc((size_t)ngroups + 1, sizeof *s->gname);
    s->gsize = llfc_calloc((size_t)ngroups + 1, sizeof *s->gsize);
    s->gfeat = llfc_calloc((size_t)ngroups + 1, sizeof *s->gfeat);
    s->axis = llfc_calloc((size_t)nparams + 1, sizeof *s->axis);
    if (!s->gname || !s->gsize || !s->gfeat || !s->axis) { llfc_permspec_free(s); return NULL; }
    for (int p = 0; p < nparams; p++)
        for (int d = 0; d < LLFC_MAXDIM; d++) s->axis[p][d] = -1;
    for (int g = 0; g < ngroups; g++) s->gfeat[g] = -1;
    return s;
}

void llfc_permspec_free(llfc_permspec *s)
{
    if (!s) return;
    if (s->gname)
        for (int g = 0; g < s->ngroups; g++) free(s->gname[g]);
    free(s->gname);
    free(s->gsize);
    free(s->gfeat);
    free(s->axis);
    free(s);
}

llfc_permspec *llfc_permspec_clone(const llfc_permspec *s)
{
    llfc_permspec *c = llfc_permspec_new(s->ngroups, s->nparams);
    if (!c) return NULL;
    for (int g = 0; g < s->ngroups; g++) {
        c->gname[g] = strdup(s->gname[g] ? s->gname[g] : "");
        if (!c->gname[g]) { llfc_permspec_free(c); llfc_seterr("out of memory"); return NULL; }
        c->gsize[g] = s->gsize[g];
        c->gfeat[g] = s->gfeat[g];
    }
    memcpy(c->axis, s->axis, (size_t)s->nparams * sizeof *s->axis);
    return c;
}

int llfc_permspec_group(const llfc_permspec *s, const char *name)
{
    for (int g = 0; g < s->ngroups; g++)
        if (s->gname[g] && !strcmp(s->gname[g], name)) return g;
    return -1;
}
