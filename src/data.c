/* data.c - in-memory datasets. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

llfc_dataset *llfc_dataset_new(int64_t n, int64_t dim, int nclasses)
{
    if (n < 0 || dim < 1) { llfc_seterr("dataset: bad size %lld x %lld", (long long)n, (long long)dim); return NULL; }
    llfc_dataset *ds = llfc_calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->n = n;
    ds->dim = dim;
    ds->nclasses = nclasses;
    ds->refcount = 1;
    ds->x = llfc_calloc((size_t)(n ? n : 1) * (size_t)dim, sizeof(float));
    ds->y = llfc_calloc((size_t)(n ? n : 1), sizeof(int32_t));
    if (!ds->x || !ds->y) { free(ds->x); free(ds->y); free(ds); return NULL; }
    return ds;
}

void llfc_dataset_retain(llfc_dataset *ds) { if (ds) ds->refcount++; }

void llfc_dataset_release(llfc_dataset *ds)
{
    if (ds && --ds->refcount == 0) {
        free(ds->x);
        free(ds->y);
        free(ds);
    }
}

void llfc_dataset_gather(const llfc_dataset *ds, const int64_t *idx, int64_t m, float *xb, int32_t *yb)
{
    for (int64_t i = 0; i < m; i++) {
        memcpy(xb + i * ds->dim, ds->x + idx[i] * ds->dim, (size_t)ds->dim * sizeof(float));
        if (yb) yb[i] = ds->y[idx[i]];
    }
}
