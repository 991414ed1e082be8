/* dataset_valid.h - the test oracle for loaded datasets (test_data.c and the
 * fuzz harnesses): every label in [0, nclasses), every input finite.
 * Returns 0, or -1 with the first bad value recorded. */
#ifndef LLFC_DATASET_VALID_H
#define LLFC_DATASET_VALID_H

#include <math.h>

#include "data/data.h"

static inline int dataset_valid(const llfc_dataset *ds)
{
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= ds->nclasses)
            return llfc_seterr("label %d of sample %lld out of range [0, %d)", ds->y[i], (long long)i + 1, ds->nclasses);
    for (int64_t i = 0; i < ds->n * ds->dim; i++)
        if (!isfinite(ds->x[i]))
            return llfc_seterr("input %lld of sample %lld is not finite", (long long)(i % ds->dim) + 1,
                               (long long)(i / ds->dim) + 1);
    return 0;
}

#endif
