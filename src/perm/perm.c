/* perm.c - Perm objects: construction, validation, algebra, application. */
#include "perm/perm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static llfc_perm *perm_alloc(const llfc_permspec *spec)
{
    llfc_perm *p = llfc_calloc(1, sizeof *p);
    if (!p) return NULL;
    if (!(p->spec = llfc_permspec_clone(spec))) goto fail;
    if (!(p->idx = llfc_calloc((size_t)spec->ngroups + 1, sizeof *p->idx))) goto fail;
    for (int g = 0; g < spec->ngroups; g++)
        if (!(p->idx[g] = llfc_mallocarray((size_t)spec->gsize[g] + 1, sizeof **p->idx))) goto fail;
    return p;
fail:
    llfc_perm_free(p);
    return NULL;
}

void llfc_perm_free(llfc_perm *p)
{
    if (!p) return;
    if (p->idx && p->spec)
        for (int g = 0; g < p->spec->ngroups; g++) free(p->idx[g]);
    free(p->idx);
    llfc_permspec_free(p->spec);
    free(p);
}

llfc_perm *llfc_perm_identity(const llfc_permspec *spec)
{
    llfc_perm *p = perm_alloc(spec);
    if (!p) return NULL;
    for (int g = 0; g < spec->ngroups; g++)
        for (int64_t i = 0; i < spec->gsize[g]; i++) p->idx[g][i] = i;
    return p;
}

llfc_perm *llfc_perm_random(const llfc_permspec *spec, uint64_t seed)
{
    llfc_perm *p = llfc_perm_identity(spec);
    if (!p) return NULL;
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int g = 0; g < spec->ngroups; g++) llfc_rng_shuffle(&r, p->idx[g], spec->gsize[g]);
    return p;
}

llfc_perm *llfc_perm_clone(const llfc_perm *src)
{
    llfc_perm *p = perm_alloc(src->spec);
    if (!p) return NULL;
    for (int g = 0; g < src->spec->ngroups; g++)
        memcpy(p->idx[g], src->idx[g], (size_t)src->spec->gsize[g] * sizeof **p->idx);
    return p;
}

int llfc_perm_set(llfc_perm *p, int g, const int64_t *idx)
{
    if (g < 0 || g >= p->spec->ngroups) return llfc_seterr("no group %d", g + 1);
    int64_t n = p->spec->gsize[g];
    char *seen = llfc_calloc((size_t)n + 1, 1);
    if (!seen) return -1;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= n) {
            free(seen);
            return llfc_seterr("group %s: entry %lld is %lld, outside 1..%lld", p->spec->gname[g], (long long)i + 1,
                               (long long)idx[i] + 1, (long long)n);
        }
        if (seen[idx[i]]) {
            free(seen);
            return llfc_seterr("group %s: %lld appears twice (entry %lld): not a permutation", p->spec->gname[g],
                               (long long)idx[i] + 1, (long long)i + 1);
        }
        seen[idx[i]] = 1;
    }
    free(seen);
    memcpy(p->idx[g], idx, (size_t)n * sizeof *idx);
    return 0;
}

int llfc_perm_fits(const llfc_perm *p, const llfc_permspec *spec)
{
    if (!spec) return llfc_seterr("the network has no permutation spec");
    if (p->spec->ngroups != spec->ngroups)
        return llfc_seterr("the permutation has %d groups, the network %d", p->spec->ngroups, spec->ngroups);
    for (int g = 0; g < spec->ngroups; g++) {
        if (strcmp(p->spec->gname[g], spec->gname[g]))
            return llfc_seterr("group %d is %s in the permutation and %s in the network", g + 1, p->spec->gname[g],
                               spec->gname[g]);
        if (p->spec->gsize[g] != spec->gsize[g])
            return llfc_seterr("group %s has %lld units in the permutation and %lld in the network", spec->gname[g],
                               (long long)p->spec->gsize[g], (long long)spec->gsize[g]);
    }
    return 0;
}

int llfc_perm_is_identity(const llfc_perm *p)
{
    for (int g = 0; g < p->spec->ngroups; g++)
        for (int64_t i = 0; i < p->spec->gsize[g]; i++)
            if (p->idx[g][i] != i) return 0;
    return 1;
}

int llfc_perm_equal(const llfc_perm *p, const llfc_perm *q)
{
    if (llfc_perm_fits(p, q->spec)) return 0;
    for (int g = 0; g < p->spec->ngroups; g++)
        if (memcmp(p->idx[g], q->idx[g], (size_t)p->spec->gsize[g] * sizeof **p->idx)) return 0;
    return 1;
}

llfc_perm *llfc_perm_inverse(const llfc_perm *p)
{
    llfc_perm *r = perm_alloc(p->spec);
    if (!r) return NULL;
    for (int g = 0; g < p->spec->ngroups; g++)
        for (int64_t i = 0; i < p->spec->gsize[g]; i++) r->idx[g][p->idx[g][i]] = i;
    return r;
}

llfc_perm *llfc_perm_compose(const llfc_perm *p, const llfc_perm *q)
{
    if (llfc_perm_fits(q, p->spec)) return NULL;
    llfc_perm *r = perm_alloc(p->spec);
    if (!r) return NULL;
    for (int g = 0; g < p->spec->ngroups; g++)
        for (int64_t i = 0; i < p->spec->gsize[g]; i++) r->idx[g][i] = q->idx[g][p->idx[g][i]];
    return r;
}

/* Gather with one permutation per axis.  The innermost axis is copied with
 * memcpy when it is not permuted; other axes are walked as an odometer. */
void llfc_perm_gather(const llfc_tensor *src, llfc_tensor *dst, const int64_t *const *axisperm)
{
    const float *s = llfc_tensor_data(src);
    float *d = llfc_tensor_data(dst);
    int nd = src->ndim;
    if (nd == 0) { d[0] = s[0]; return; }
    int64_t stride[LLFC_MAXDIM], pos[LLFC_MAXDIM] = {0};
    stride[nd - 1] = 1;
    for (int k = nd - 2; k >= 0; k--) stride[k] = stride[k + 1] * src->size[k + 1];
    int64_t inner = src->size[nd - 1], outer = llfc_tensor_numel(src) / (inner ? inner : 1);
    if (inner == 0) return;
    const int64_t *pin = axisperm[nd - 1];
    for (int64_t o = 0; o < outer; o++) {
        int64_t base = 0;
        for (int k = 0; k < nd - 1; k++) base += (axisperm[k] ? axisperm[k][pos[k]] : pos[k]) * stride[k];
        float *drow = d + o * inner;
        if (pin)
            for (int64_t i = 0; i < inner; i++) drow[i] = s[base + pin[i]];
        else
            memcpy(drow, s + base, (size_t)inner * sizeof *drow);
        for (int k = nd - 2; k >= 0; k--) { /* odometer */
            if (++pos[k] < src->size[k]) break;
            pos[k] = 0;
        }
    }
}

llfc_net *llfc_perm_apply(const llfc_perm *p, const llfc_net *net)
{
    if (llfc_perm_fits(p, net->spec)) return NULL;
    llfc_net *out = llfc_net_clone(net);
    if (!out) return NULL;
    const llfc_permspec *s = net->spec;
    for (int k = 0; k < net->nparams; k++) {
        const int64_t *ap[LLFC_MAXDIM] = {0};
        int any = 0;
        for (int d = 0; d < net->param[k]->ndim; d++) {
            int g = s->axis[k][d];
            if (g < 0) continue;
            if (s->gsize[g] != net->param[k]->size[d]) {
                llfc_net_free(out);
                llfc_seterr("parameter '%s' axis %d has size %lld but group %s has %lld units", net->pname[k], d + 1,
                            (long long)net->param[k]->size[d], s->gname[g], (long long)s->gsize[g]);
                return NULL;
            }
            ap[d] = p->idx[g];
            any = 1;
        }
        if (!any) continue;
        llfc_tensor *src = llfc_tensor_is_contiguous(net->param[k]) ? net->param[k] : NULL;
        llfc_tensor *tmp = NULL;
        if (!src && !(src = tmp = llfc_tensor_clone(net->param[k]))) { llfc_net_free(out); return NULL; }
        llfc_perm_gather(src, out->param[k], ap);
        llfc_tensor_free(tmp);
    }
    return out;
}

int llfc_perm_check(const llfc_net *net, const llfc_perm *p, const float *x, int64_t n, double *maxdiff)
{
    llfc_net *q = llfc_perm_apply(p, net);
    if (!q) return -1;
    int64_t k = llfc_net_num_classes(net);
    float *y0 = llfc_mallocarray((size_t)(n * k) + 1, sizeof *y0);
    float *y1 = llfc_mallocarray((size_t)(n * k) + 1, sizeof *y1);
    int rc = -1;
    if (y0 && y1 && !llfc_net_forward(net, x, n, y0) && !llfc_net_forward(q, x, n, y1)) {
        double m = 0.0;
        for (int64_t i = 0; i < n * k; i++) {
            double e = fabs((double)y0[i] - (double)y1[i]);
            if (!(e <= m)) m = e; /* NaN propagates */
        }
        *maxdiff = m;
        rc = 0;
    }
    free(y0);
    free(y1);
    llfc_net_free(q);
    return rc;
}
