/* permfile.c - Perms as safetensors files (perm.h): one I64 index array per
 * group, named by the group. */
#include "perm/perm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int llfc_perm_save(const llfc_perm *p, const char *path)
{
    llfc_st_file *f = llfc_st_new();
    if (!f) return -1;
    int rc = -1;
    for (int g = 0; g < p->spec->ngroups; g++) {
        int64_t n = p->spec->gsize[g];
        llfc_tensor *t = llfc_tensor_new(1, &n);
        if (!t) goto done;
        float *d = llfc_tensor_data(t);
        for (int64_t i = 0; i < n; i++) d[i] = (float)p->idx[g][i];
        int e = llfc_st_add_i64(f, p->spec->gname[g], t);
        llfc_tensor_free(t);
        if (e) goto done;
    }
    if (llfc_st_set_meta(f, "format", "llfc.perm")) goto done;
    rc = llfc_st_write(path, f);
done:
    llfc_st_free(f);
    return rc;
}

/* the integers of a 1-d tensor, checked */
static int read_index(const char *path, const char *name, const llfc_tensor *t, int64_t *idx)
{
    const float *d = llfc_tensor_data(t);
    for (int64_t i = 0; i < t->size[0]; i++) {
        if (!(d[i] == floorf(d[i])))
            return llfc_seterr("%s: group %s: entry %lld is %g, not an integer", path, name, (long long)i + 1, d[i]);
        idx[i] = (int64_t)d[i];
    }
    return 0;
}

llfc_perm *llfc_perm_load(const char *path, const llfc_permspec *spec)
{
    llfc_st_file *f = llfc_st_read(path);
    if (!f) return NULL;
    llfc_permspec *own = NULL;
    llfc_perm *p = NULL;
    int64_t *idx = NULL;
    const char *fmt = llfc_st_get_meta(f, "format");
    if (fmt && strcmp(fmt, "llfc.perm")) {
        llfc_seterr("%s: not a permutation file (format '%s')", path, fmt);
        goto fail;
    }
    for (int i = 0; i < f->n; i++) {
        const llfc_tensor *t = f->tensors[i].t;
        if (t->ndim != 1) {
            char sh[64];
            llfc_seterr("%s: '%s' has shape %s, not a list of indices", path, f->tensors[i].name,
                        llfc_tensor_shape_str(t, sh, sizeof sh));
            goto fail;
        }
    }
    if (!spec) {
        if (f->n < 1) { llfc_seterr("%s: no groups", path); goto fail; }
        if (!(own = llfc_permspec_new(f->n, 0))) goto fail;
        for (int i = 0; i < f->n; i++) {
            size_t len = strlen(f->tensors[i].name) + 1;
            if (!(own->gname[i] = llfc_malloc(len))) goto fail;
            memcpy(own->gname[i], f->tensors[i].name, len);
            own->gsize[i] = f->tensors[i].t->size[0];
        }
        spec = own;
    }
    for (int i = 0; i < f->n; i++) {
        const char *name = f->tensors[i].name;
        int g = llfc_permspec_group(spec, name);
        if (g < 0) {
            char list[512] = "";
            size_t len = 0;
            for (int k = 0; k < spec->ngroups && len + 1 < sizeof list; k++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", spec->gname[k]);
            llfc_seterr("%s: unknown group '%s' (the network's groups: %s)", path, name, list);
            goto fail;
        }
        if (f->tensors[i].t->size[0] != spec->gsize[g]) {
            llfc_seterr("%s: %s has %lld entries but the group has %lld units", path, name,
                        (long long)f->tensors[i].t->size[0], (long long)spec->gsize[g]);
            goto fail;
        }
    }
    if (!(p = llfc_perm_identity(spec))) goto fail;
    for (int i = 0; i < f->n; i++) {
        const llfc_tensor *t = f->tensors[i].t;
        int g = llfc_permspec_group(spec, f->tensors[i].name);
        free(idx);
        if (!(idx = llfc_mallocarray((size_t)t->size[0] + 1, sizeof *idx))) goto fail;
        if (read_index(path, f->tensors[i].name, t, idx)) goto fail;
        if (llfc_perm_set(p, g, idx)) { llfc_adderr("%s", path); goto fail; }
    }
    goto done;
fail:
    llfc_perm_free(p);
    p = NULL;
done:
    free(idx);
    llfc_permspec_free(own);
    llfc_st_free(f);
    return p;
}
