/* synth.c - built-in synthetic datasets (blobs, moons, spirals): no files,
 * seeded with llfc_rng, the same numbers on every machine.  The generators
 * are documented in data.h. */
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PI 3.14159265358979323846

static int check_common(int64_t n, int classes, double noise)
{
    if (n < 1 || n > LLFC_DATA_MAX_SAMPLES) return llfc_seterr("n must be in [1, %lld], got %lld", (long long)LLFC_DATA_MAX_SAMPLES, (long long)n);
    if (classes < 1 || classes > LLFC_DATA_MAX_CLASSES) return llfc_seterr("classes must be in [1, %d], got %d", LLFC_DATA_MAX_CLASSES, classes);
    if (!(noise >= 0) || !isfinite(noise)) return llfc_seterr("noise must be >= 0, got %g", noise);
    return 0;
}

llfc_dataset *llfc_data_blobs(int64_t n, int classes, int64_t dim, double noise, uint64_t seed)
{
    if (check_common(n, classes, noise)) return NULL;
    if (dim < 1 || dim > 65536) { llfc_seterr("dim must be in [1, 65536], got %lld", (long long)dim); return NULL; }
    llfc_dataset *ds = llfc_dataset_new(n, dim, classes);
    if (!ds) return NULL;
    double *centre = llfc_mallocarray((size_t)classes * (size_t)dim, sizeof *centre);
    if (!centre) { llfc_dataset_release(ds); return NULL; }
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t k = 0; k < (int64_t)classes * dim; k++) centre[k] = -4.0 + 8.0 * llfc_rng_double(&r);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % classes);
        ds->y[i] = c;
        for (int64_t j = 0; j < dim; j++)
            ds->x[i * dim + j] = (float)(centre[c * dim + j] + noise * llfc_rng_normal(&r));
    }
    free(centre);
    snprintf(ds->name, sizeof ds->name, "blobs");
    return ds;
}

llfc_dataset *llfc_data_moons(int64_t n, double noise, uint64_t seed)
{
    if (check_common(n, 2, noise)) return NULL;
    llfc_dataset *ds = llfc_dataset_new(n, 2, 2);
    if (!ds) return NULL;
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    int64_t m[2] = {(n + 1) / 2, n / 2};
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        int64_t k = i / 2;
        double t = m[c] > 1 ? PI * (double)k / (double)(m[c] - 1) : 0;
        double x0 = c == 0 ? cos(t) : 1 - cos(t);
        double x1 = c == 0 ? sin(t) : 0.5 - sin(t);
        ds->y[i] = c;
        ds->x[2 * i] = (float)(x0 + noise * llfc_rng_normal(&r));
        ds->x[2 * i + 1] = (float)(x1 + noise * llfc_rng_normal(&r));
    }
    snprintf(ds->name, sizeof ds->name, "moons");
    return ds;
}

llfc_dataset *llfc_data_spirals(int64_t n, int classes, double noise, uint64_t seed)
{
    if (check_common(n, classes, noise)) return NULL;
    llfc_dataset *ds = llfc_dataset_new(n, 2, classes);
    if (!ds) return NULL;
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % classes);
        int64_t k = i / classes;
        int64_t m = n / classes + (c < n % classes ? 1 : 0);  /* points on arm c */
        double rad = m > 1 ? (double)k / (double)(m - 1) : 0;
        double t = 4.0 * c + 4.0 * rad + noise * llfc_rng_normal(&r);
        ds->y[i] = c;
        ds->x[2 * i] = (float)(rad * sin(t));
        ds->x[2 * i + 1] = (float)(rad * cos(t));
    }
    snprintf(ds->name, sizeof ds->name, "spirals");
    return ds;
}
