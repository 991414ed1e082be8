/* fuzz_idx.c - libFuzzer harness for the IDX reader.  Input: a 4-byte
 * little-endian length L, then L bytes of images file, then the labels file.
 * If the first byte after the length is the gzip magic, both parts go
 * through files on disk so the gzip path is exercised too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "../c/dataset_valid.h"

static void put(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 4) return 0;
    size_t l = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    data += 4;
    size -= 4;
    if (l > size) l = size;
    /* exact-size copies so the sanitizer sees any over-read */
    unsigned char *img = malloc(l ? l : 1), *lab = malloc(size - l ? size - l : 1);
    memcpy(img, data, l);
    memcpy(lab, data + l, size - l);
    llfc_dataset *ds;
    int nclasses = size & 1 ? 10 : 0;
    if (l >= 2 && img[0] == 0x1f && img[1] == 0x8b) {
        char ip[64], lp[64];
        snprintf(ip, sizeof ip, "/tmp/fuzz-idx-%d-i", (int)getpid());
        snprintf(lp, sizeof lp, "/tmp/fuzz-idx-%d-l", (int)getpid());
        put(ip, img, l);
        put(lp, lab, size - l);
        ds = llfc_idx_load(ip, lp, nclasses);
        unlink(ip);
        unlink(lp);
    } else {
        ds = llfc_idx_parse(img, l, "images", lab, size - l, "labels", nclasses);
    }
    if (ds) {
        if (dataset_valid(ds) != 0) abort();   /* a loaded set is always valid */
        for (int64_t i = 0; i < ds->n * ds->dim; i++)
            if (!(ds->x[i] >= 0 && ds->x[i] <= 1)) abort();
    }
    llfc_dataset_release(ds);
    free(img);
    free(lab);
    return 0;
}
