/* idx.c - MNIST-format IDX files (images idx3-ubyte, labels idx1-ubyte),
 * raw or gzip'd: Fashion-MNIST, MNIST and friends.  Every count is checked
 * against the bytes present before anything is read. */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check an IDX header: unsigned-byte type, `ndims` dimensions; dims[] gets
 * them.  Returns 0 or -1 with a message naming the file. */
static int idx_header(const unsigned char *b, size_t len, const char *name, int ndims, uint32_t *dims)
{
    if (len < 4) return llfc_seterr("%s: truncated IDX header (%zu bytes)", name, len);
    if (b[0] != 0 || b[1] != 0)
        return llfc_seterr("%s: bad magic number %02x %02x %02x %02x (not an IDX file)", name, b[0], b[1], b[2], b[3]);
    if (b[2] != 0x08)
        return llfc_seterr("%s: IDX data type 0x%02x, only unsigned bytes (0x08) are supported", name, b[2]);
    if (b[3] != ndims)
        return llfc_seterr("%s: IDX file has %d dimensions, expected %d (%s)", name, b[3], ndims,
                           ndims == 1 ? "a labels file" : "an images file");
    size_t hdr = 4 + 4 * (size_t)ndims;
    if (len < hdr) return llfc_seterr("%s: truncated IDX header (%zu bytes, need %zu)", name, len, hdr);
    uint64_t total = 1;
    for (int d = 0; d < ndims; d++) {
        dims[d] = be32(b + 4 + 4 * d);
        total *= dims[d] ? dims[d] : 1;
        if (total > (uint64_t)LLFC_DATA_MAX_BYTES)
            return llfc_seterr("%s: absurd IDX dimensions (%u at dimension %d)", name, dims[d], d + 1);
    }
    for (int d = 0; d < ndims; d++) if (dims[d] == 0) total = 0;
    if (len - hdr < total)
        return llfc_seterr("%s: truncated: header promises %llu data bytes, file has %zu", name,
                           (unsigned long long)total, len - hdr);
    if (len - hdr > total)
        return llfc_seterr("%s: %zu trailing bytes after the %llu data bytes the header promises", name,
                           len - hdr - (size_t)total, (unsigned long long)total);
    return 0;
}

llfc_dataset *llfc_idx_parse(const unsigned char *img, size_t img_len, const char *img_name,
                             const unsigned char *lab, size_t lab_len, const char *lab_name, int nclasses)
{
    uint32_t idim[3], ldim[1];
    if (idx_header(img, img_len, img_name, 3, idim) || idx_header(lab, lab_len, lab_name, 1, ldim)) return NULL;
    if (idim[0] != ldim[0]) {
        llfc_seterr("%s has %u images but %s has %u labels", img_name, idim[0], lab_name, ldim[0]);
        return NULL;
    }
    if (idim[1] == 0 || idim[2] == 0 || (uint64_t)idim[1] * idim[2] > (uint64_t)LLFC_DATA_MAX_DIM
        || idim[1] > 65535 || idim[2] > 65535) {
        llfc_seterr("%s: absurd image size %ux%u", img_name, idim[1], idim[2]);
        return NULL;
    }
    if (idim[0] > LLFC_DATA_MAX_SAMPLES) { llfc_seterr("%s: absurd image count %u", img_name, idim[0]); return NULL; }
    int64_t n = idim[0], dim = (int64_t)idim[1] * idim[2];
    const unsigned char *lp = lab + 8;
    int maxl = -1;
    for (int64_t i = 0; i < n; i++) {
        if (nclasses > 0 && lp[i] >= nclasses) {
            llfc_seterr("%s: label %u of item %lld out of range [0, %d)", lab_name, lp[i], (long long)i + 1, nclasses);
            return NULL;
        }
        if (lp[i] > maxl) maxl = lp[i];
    }
    llfc_dataset *ds = llfc_dataset_new(n, dim, nclasses > 0 ? nclasses : maxl + 1 > 0 ? maxl + 1 : 1);
    if (!ds) return NULL;
    ds->c = 1;
    ds->h = (int)idim[1];
    ds->w = (int)idim[2];
    const unsigned char *ip = img + 16;
    float lut[256];
    for (int k = 0; k < 256; k++) lut[k] = (float)k / 255.0f;
    for (int64_t k = 0; k < n * dim; k++) ds->x[k] = lut[ip[k]];
    for (int64_t i = 0; i < n; i++) ds->y[i] = lp[i];
    return ds;
}

llfc_dataset *llfc_idx_load(const char *images_path, const char *labels_path, int nclasses)
{
    size_t ni, nl;
    unsigned char *img = llfc_data_readfile(images_path, &ni, (size_t)LLFC_DATA_MAX_BYTES / 4);
    if (!img) return NULL;
    unsigned char *lab = llfc_data_readfile(labels_path, &nl, (size_t)LLFC_DATA_MAX_SAMPLES + 8);
    if (!lab) { free(img); return NULL; }
    llfc_dataset *ds = llfc_idx_parse(img, ni, images_path, lab, nl, labels_path, nclasses);
    free(img);
    free(lab);
    if (ds) {
        const char *base = strrchr(images_path, '/');
        snprintf(ds->name, sizeof ds->name, "%s", base ? base + 1 : images_path);
    }
    return ds;
}

/* Find dir/base or dir/base.gz; path gets the one that exists. */
static int find_file(const char *dir, const char *base, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.gz", dir, base);
    FILE *f = fopen(path, "rb");
    if (f) { fclose(f); return 0; }
    snprintf(path, n, "%s/%s", dir, base);
    if ((f = fopen(path, "rb"))) { fclose(f); return 0; }
    return -1;
}

llfc_dataset *llfc_idx_load_dir(const char *dir, int test)
{
    const char *pre = test ? "t10k" : "train";
    char ib[64], lb[64], ip[4096], lp[4096];
    snprintf(ib, sizeof ib, "%s-images-idx3-ubyte", pre);
    snprintf(lb, sizeof lb, "%s-labels-idx1-ubyte", pre);
    int mi = find_file(dir, ib, ip, sizeof ip), ml = find_file(dir, lb, lp, sizeof lp);
    if (mi || ml) {
        size_t len;
        free(llfc_data_readfile(mi ? ip : lp, &len, 0)); /* sets llfc_data_missing() */
        llfc_seterr("%s/%s[.gz] not found", dir, mi ? ib : lb);
        return NULL;
    }
    llfc_dataset *ds = llfc_idx_load(ip, lp, 10);
    if (ds) snprintf(ds->name, sizeof ds->name, "%s", pre);
    return ds;
}
