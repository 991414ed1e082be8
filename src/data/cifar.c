/* cifar.c - CIFAR-10 binary batches: records of 1 label byte (0..9) and
 * 3072 pixel bytes (1024 red, 1024 green, 1024 blue; 32x32 row-major each),
 * so images come out channel-first [3, 32, 32] as stored. */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC 3073
#define NPIX 3072

llfc_dataset *llfc_cifar_parse(const unsigned char *buf, size_t len, const char *name)
{
    if (len == 0) { llfc_seterr("%s: empty file", name); return NULL; }
    if (len % REC != 0) {
        llfc_seterr("%s: size %zu is not a multiple of the 3073-byte CIFAR-10 record (truncated? %zu records + %zu bytes)",
                    name, len, len / REC, len % REC);
        return NULL;
    }
    int64_t n = (int64_t)(len / REC);
    for (int64_t i = 0; i < n; i++)
        if (buf[i * REC] > 9) {
            llfc_seterr("%s: label %u of record %lld out of range [0, 10)", name, buf[i * REC], (long long)i + 1);
            return NULL;
        }
    llfc_dataset *ds = llfc_dataset_new(n, NPIX, 10);
    if (!ds) return NULL;
    ds->c = 3;
    ds->h = 32;
    ds->w = 32;
    float lut[256];
    for (int k = 0; k < 256; k++) lut[k] = (float)k / 255.0f;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *r = buf + i * REC;
        ds->y[i] = r[0];
        float *x = ds->x + i * NPIX;
        for (int k = 0; k < NPIX; k++) x[k] = lut[r[1 + k]];
    }
    const char *base = strrchr(name, '/');
    snprintf(ds->name, sizeof ds->name, "%s", base ? base + 1 : name);
    return ds;
}

llfc_dataset *llfc_cifar_load(const char *const *paths, int npaths)
{
    if (npaths < 1 || npaths > 64) { llfc_seterr("cifar: %d files", npaths); return NULL; }
    llfc_dataset *parts[64] = {0};
    llfc_dataset *out = NULL;
    int k;
    for (k = 0; k < npaths; k++) {
        size_t len;
        unsigned char *b = llfc_data_readfile(paths[k], &len, (size_t)REC * 1000000);
        if (!b) goto done;
        parts[k] = llfc_cifar_parse(b, len, paths[k]);
        free(b);
        if (!parts[k]) goto done;
    }
    out = npaths == 1 ? (llfc_dataset_retain(parts[0]), parts[0]) : llfc_dataset_concat(parts, npaths);
done:
    for (int j = 0; j < npaths; j++) llfc_dataset_release(parts[j]);
    return out;
}

llfc_dataset *llfc_cifar10_load_dir(const char *dir, int test)
{
    char buf[6][4096];
    const char *paths[6];
    int n = test ? 1 : 5;
    for (int k = 0; k < n; k++) {
        if (test) snprintf(buf[k], sizeof buf[k], "%s/test_batch.bin", dir);
        else snprintf(buf[k], sizeof buf[k], "%s/data_batch_%d.bin", dir, k + 1);
        paths[k] = buf[k];
    }
    llfc_dataset *ds = llfc_cifar_load(paths, n);
    if (ds) snprintf(ds->name, sizeof ds->name, "cifar10-%s", test ? "test" : "train");
    return ds;
}
