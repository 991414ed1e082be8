/* data.h - datasets held in memory: inputs as float32 [n, dim], labels int32.
 *
 * Images are stored flattened channel-first (c, h, w) with pixel/255 in
 * [0, 1] unless normalisation is asked for.  Datasets are refcounted so that
 * a Lua object and a {train=, test=} table can share one.
 */
#ifndef LLFC_DATA_H
#define LLFC_DATA_H

#include "core.h"

typedef struct llfc_dataset {
    int64_t n;          /* samples */
    int64_t dim;        /* features per sample (c*h*w for images) */
    int c, h, w;        /* image shape, or 0 0 0 for plain vectors */
    int nclasses;
    float *x;           /* [n, dim] */
    int32_t *y;         /* [n], 0-based labels in [0, nclasses) */
    char name[64];
    int refcount;
} llfc_dataset;

llfc_dataset *llfc_dataset_new(int64_t n, int64_t dim, int nclasses);
void llfc_dataset_retain(llfc_dataset *ds);
void llfc_dataset_release(llfc_dataset *ds);
/* Copy rows idx[0..m) into xb [m, dim] and yb [m] (yb may be NULL). */
void llfc_dataset_gather(const llfc_dataset *ds, const int64_t *idx, int64_t m,
                         float *xb, int32_t *yb);

#endif
