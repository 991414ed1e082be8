/* data.c - in-memory datasets: refcounting, ordering, subsets, splits,
 * normalisation, and whole-file reading (raw or gzip'd) for the loaders. */
#include "data/data.h"
#include "io/npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

llfc_dataset *llfc_dataset_new(int64_t n, int64_t dim, int nclasses)
{
    if (n < 0 || dim < 1 || n > LLFC_DATA_MAX_SAMPLES || dim > LLFC_DATA_MAX_DIM
        || n * dim > LLFC_DATA_MAX_BYTES / 4) {
        llfc_seterr("dataset: bad size %lld x %lld", (long long)n, (long long)dim);
        return NULL;
    }
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

/* ---- ordering and derived datasets ---------------------------------------- */
void llfc_dataset_order(const llfc_dataset *ds, uint64_t seed, int64_t *idx)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t i = 0; i < ds->n; i++) idx[i] = i;
    llfc_rng_shuffle(&r, idx, ds->n);
}

uint64_t llfc_epoch_seed(uint64_t seed, int64_t epoch)
{
    /* one stream per (seed, epoch): mix the epoch into the seed */
    return seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1));
}

void llfc_dataset_epoch_order(const llfc_dataset *ds, uint64_t seed, int64_t epoch, int64_t *idx)
{
    llfc_dataset_order(ds, llfc_epoch_seed(seed, epoch), idx);
}

static void copy_meta(llfc_dataset *dst, const llfc_dataset *src)
{
    dst->c = src->c;
    dst->h = src->h;
    dst->w = src->w;
    memcpy(dst->name, src->name, sizeof dst->name);
}

llfc_dataset *llfc_dataset_subset(const llfc_dataset *ds, const int64_t *idx, int64_t m)
{
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= ds->n) {
            llfc_seterr("index %lld out of range (dataset has %lld samples)",
                        (long long)idx[i] + 1, (long long)ds->n);
            return NULL;
        }
    llfc_dataset *s = llfc_dataset_new(m, ds->dim, ds->nclasses);
    if (!s) return NULL;
    copy_meta(s, ds);
    llfc_dataset_gather(ds, idx, m, s->x, s->y);
    return s;
}

int llfc_dataset_split(const llfc_dataset *ds, double frac, uint64_t seed, llfc_dataset **a, llfc_dataset **b)
{
    *a = *b = NULL;
    if (!(frac >= 0 && frac <= 1)) return llfc_seterr("fraction must be in [0, 1], got %g", frac);
    int64_t *idx = llfc_mallocarray((size_t)(ds->n ? ds->n : 1), sizeof *idx);
    if (!idx) return -1;
    llfc_dataset_order(ds, seed, idx);
    int64_t na = (int64_t)floor(frac * (double)ds->n + 0.5);
    if (na > ds->n) na = ds->n;
    *a = llfc_dataset_subset(ds, idx, na);
    *b = *a ? llfc_dataset_subset(ds, idx + na, ds->n - na) : NULL;
    free(idx);
    if (!*a || !*b) {
        llfc_dataset_release(*a);
        *a = NULL;
        return -1;
    }
    return 0;
}

llfc_dataset *llfc_dataset_normalized(const llfc_dataset *ds, const float *mean, int nmean,
                                      const float *std, int nstd)
{
    int64_t nch = ds->c > 0 ? ds->c : 0;
    if (mean && nmean != 1 && nmean != ds->dim && !(nch && nmean == nch)) {
        llfc_seterr("mean has %d values, expected 1%s or %lld", nmean,
                    nch ? ", the channel count" : "", (long long)ds->dim);
        return NULL;
    }
    if (std && nstd != 1 && nstd != ds->dim && !(nch && nstd == nch)) {
        llfc_seterr("std has %d values, expected 1%s or %lld", nstd,
                    nch ? ", the channel count" : "", (long long)ds->dim);
        return NULL;
    }
    for (int k = 0; std && k < nstd; k++)
        if (!(std[k] > 0)) { llfc_seterr("std[%d] = %g, must be > 0", k + 1, std[k]); return NULL; }
    llfc_dataset *o = llfc_dataset_new(ds->n, ds->dim, ds->nclasses);
    if (!o) return NULL;
    copy_meta(o, ds);
    memcpy(o->y, ds->y, (size_t)ds->n * sizeof *ds->y);
    /* per-feature mean/std vectors, then one pass */
    float *m = llfc_mallocarray((size_t)ds->dim, sizeof *m), *is = llfc_mallocarray((size_t)ds->dim, sizeof *is);
    if (!m || !is) { free(m); free(is); llfc_dataset_release(o); return NULL; }
    int64_t plane = nch ? ds->dim / nch : ds->dim;
    for (int64_t j = 0; j < ds->dim; j++) {
        int64_t ch = nch ? j / plane : 0;
        float mv = 0, sv = 1;
        if (mean) mv = nmean == 1 ? mean[0] : nmean == ds->dim ? mean[j] : mean[ch];
        if (std) sv = nstd == 1 ? std[0] : nstd == ds->dim ? std[j] : std[ch];
        m[j] = mv;
        is[j] = 1.0f / sv;
    }
    for (int64_t i = 0; i < ds->n; i++) {
        const float *xi = ds->x + i * ds->dim;
        float *oi = o->x + i * ds->dim;
        for (int64_t j = 0; j < ds->dim; j++) oi[j] = (xi[j] - m[j]) * is[j];
    }
    free(m);
    free(is);
    return o;
}

int llfc_dataset_stats(const llfc_dataset *ds, int per_channel, float *mean, float *std)
{
    int nch = per_channel && ds->c > 0 ? ds->c : 1;
    int64_t plane = ds->dim / nch;
    for (int k = 0; k < nch; k++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < ds->n; i++) {
            const float *p = ds->x + i * ds->dim + k * plane;
            for (int64_t j = 0; j < plane; j++) s += p[j];
        }
        double cnt = (double)ds->n * (double)plane;
        double mu = cnt > 0 ? s / cnt : 0;
        for (int64_t i = 0; i < ds->n; i++) {
            const float *p = ds->x + i * ds->dim + k * plane;
            for (int64_t j = 0; j < plane; j++) s2 += (p[j] - mu) * (p[j] - mu);
        }
        mean[k] = (float)mu;
        std[k] = (float)(cnt > 0 ? sqrt(s2 / cnt) : 0);
    }
    return nch;
}

llfc_dataset *llfc_dataset_concat(llfc_dataset *const *parts, int nparts)
{
    if (nparts < 1) { llfc_seterr("concat: no datasets"); return NULL; }
    int64_t n = 0;
    int nc = 0;
    for (int k = 0; k < nparts; k++) {
        if (parts[k]->dim != parts[0]->dim) {
            llfc_seterr("concat: dimensions differ, %lld and %lld", (long long)parts[0]->dim, (long long)parts[k]->dim);
            return NULL;
        }
        n += parts[k]->n;
        if (parts[k]->nclasses > nc) nc = parts[k]->nclasses;
    }
    llfc_dataset *o = llfc_dataset_new(n, parts[0]->dim, nc);
    if (!o) return NULL;
    copy_meta(o, parts[0]);
    int64_t at = 0;
    for (int k = 0; k < nparts; k++) {
        memcpy(o->x + at * o->dim, parts[k]->x, (size_t)(parts[k]->n * o->dim) * sizeof(float));
        memcpy(o->y + at, parts[k]->y, (size_t)parts[k]->n * sizeof(int32_t));
        at += parts[k]->n;
    }
    return o;
}

/* ---- whole-file reading ------------------------------------------------------ */
static int missing_flag;

/* zlib's messages start with the path; drop it, the caller names the file */
static const char *gzmsg(const char *m, const char *path)
{
    size_t n = strlen(path);
    if (!m) return "?";
    if (!strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') return m + n + 2;
    return m;
}

int llfc_data_missing(void) { return missing_flag; }

unsigned char *llfc_data_readfile(const char *path, size_t *len, size_t max)
{
    missing_flag = 0;
    *len = 0;
    FILE *f = llfc_fopen_read(path);
    if (!f) {
        missing_flag = errno != EISDIR; /* could not open: a missing file */
        return NULL;
    }
    unsigned char magic[2];
    size_t got = fread(magic, 1, 2, f);
    int gz = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!gz) {
        if (fseek(f, 0, SEEK_END) != 0) { fclose(f); llfc_seterr("%s: cannot seek", path); return NULL; }
        long sz = ftell(f);
        if (sz < 0) { fclose(f); llfc_seterr("%s: cannot tell size", path); return NULL; }
        if ((unsigned long)sz > max) {
            fclose(f);
            llfc_seterr("%s: file too large (%ld bytes)", path, sz);
            return NULL;
        }
        rewind(f);
        buf = llfc_malloc((size_t)sz + 1);
        if (!buf) { fclose(f); return NULL; }
        n = fread(buf, 1, (size_t)sz, f);
        int err = ferror(f);
        fclose(f);
        if (err || n != (size_t)sz) { free(buf); llfc_seterr("%s: read error", path); return NULL; }
        *len = n;
        return buf;
    }
    fclose(f);
    gzFile g = gzopen(path, "rb");
    if (!g) { llfc_seterr("%s: cannot open gzip stream", path); return NULL; }
    gzbuffer(g, 1 << 17);
    cap = 1 << 20;
    buf = llfc_malloc(cap);
    if (!buf) { gzclose(g); return NULL; }
    for (;;) {
        if (n == cap) {
            if (cap >= max + 1) break;
            size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
            unsigned char *nb = llfc_realloc(buf, nc);
            if (!nb) { free(buf); gzclose(g); return NULL; }
            buf = nb;
            cap = nc;
        }
        size_t want = cap - n;
        if (want > (1u << 22)) want = 1u << 22; /* 4 MB at a time: Ctrl-C is seen between chunks */
        if (llfc_check_interrupt()) { free(buf); gzclose(g); return NULL; }
        int r = gzread(g, buf + n, (unsigned)want);
        if (r < 0) {
            int errnum;
            const char *m = gzerror(g, &errnum);
            llfc_seterr("%s: bad gzip data (%s)", path, gzmsg(m, path));
            free(buf);
            gzclose(g);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    int errnum = 0;
    const char *m = gzerror(g, &errnum);
    if (errnum != Z_OK) {
        llfc_seterr("%s: %s gzip data (%s)", path, errnum == Z_BUF_ERROR ? "truncated" : "bad", gzmsg(m, path));
        free(buf);
        gzclose(g);
        return NULL;
    }
    gzclose(g);
    if (n > max) { free(buf); llfc_seterr("%s: decompressed data too large (over %zu bytes)", path, max); return NULL; }
    *len = n;
    return buf;
}

/* ---- .npy pairs ------------------------------------------------------------------ */
llfc_dataset *llfc_npy_dataset(const char *x_path, const char *y_path, int nclasses, float scale)
{
    missing_flag = 0;
    const char *miss = access(x_path, R_OK) ? x_path : access(y_path, R_OK) ? y_path : NULL;
    if (miss) {
        missing_flag = 1;
        llfc_seterr("%s: %s", miss, strerror(errno));
        return NULL;
    }
    llfc_tensor *x = llfc_npy_load(x_path), *y = x ? llfc_npy_load(y_path) : NULL;
    llfc_dataset *ds = NULL;
    if (!y) goto done;
    if (x->ndim < 2) { llfc_seterr("%s: expected an array [n, ...], got %d dimension(s)", x_path, x->ndim); goto done; }
    int64_t n = x->size[0], dim = 1;
    for (int d = 1; d < x->ndim; d++) dim *= x->size[d];
    if (dim < 1) { llfc_seterr("%s: samples have no features", x_path); goto done; }
    int64_t ny = llfc_tensor_numel(y);
    if (y->ndim > 2 || (y->ndim == 2 && y->size[1] != 1) || y->ndim == 0) {
        llfc_seterr("%s: labels must be a vector [n] or [n, 1]", y_path);
        goto done;
    }
    if (ny != n) { llfc_seterr("%s has %lld samples but %s has %lld labels", x_path, (long long)n, y_path, (long long)ny); goto done; }
    const float *yv = llfc_tensor_data(y);
    int maxl = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = yv[i];
        if (!(v >= 0 && v < LLFC_DATA_MAX_CLASSES && v == floorf(v)) || (nclasses > 0 && v >= nclasses)) {
            if (nclasses > 0) llfc_seterr("%s: label %g of item %lld out of range [0, %d)", y_path, v, (long long)i + 1, nclasses);
            else llfc_seterr("%s: label %g of item %lld is not a class index (a non-negative integer)", y_path, v, (long long)i + 1);
            goto done;
        }
        if ((int)v > maxl) maxl = (int)v;
    }
    ds = llfc_dataset_new(n, dim, nclasses > 0 ? nclasses : maxl + 1);
    if (!ds) goto done;
    const float *xv = llfc_tensor_data(x);
    for (int64_t k = 0; k < n * dim; k++) ds->x[k] = xv[k] * scale;
    for (int64_t i = 0; i < n; i++) ds->y[i] = (int32_t)yv[i];
    if (x->ndim == 4 && x->size[1] <= 65535 && x->size[2] <= 65535 && x->size[3] <= 65535) {
        ds->c = (int)x->size[1];
        ds->h = (int)x->size[2];
        ds->w = (int)x->size[3];
    } else if (x->ndim == 3 && x->size[1] <= 65535 && x->size[2] <= 65535) { /* grayscale [n, h, w] */
        ds->c = 1;
        ds->h = (int)x->size[1];
        ds->w = (int)x->size[2];
    }
    const char *base = strrchr(x_path, '/');
    snprintf(ds->name, sizeof ds->name, "%s", base ? base + 1 : x_path);
done:
    llfc_tensor_free(x);
    llfc_tensor_free(y);
    return ds;
}
