/* tensor.c - storage, views and copies of float32 tensors. */
#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llfc_storage *storage_new(int64_t n)
{
    llfc_storage *s = llfc_malloc(sizeof *s);
    if (!s) return NULL;
    s->data = llfc_calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!s->data) { free(s); return NULL; }
    s->n = n;
    s->refcount = 1;
    return s;
}

static void storage_release(llfc_storage *s)
{
    if (s && --s->refcount == 0) {
        free(s->data);
        free(s);
    }
}

llfc_tensor *llfc_tensor_new(int ndim, const int64_t *size)
{
    if (ndim < 0 || ndim > LLFC_MAXDIM) {
        llfc_seterr("tensors have at most %d dimensions, got %d", LLFC_MAXDIM, ndim);
        return NULL;
    }
    int64_t n = 1, nz = 1; /* nz: product of the non-zero sizes (bounds the strides) */
    for (int d = 0; d < ndim; d++) {
        if (size[d] < 0) { llfc_seterr("negative size %lld in dimension %d", (long long)size[d], d + 1); return NULL; }
        if (size[d] && nz > INT64_MAX / 4 / size[d]) { llfc_seterr("tensor too large"); return NULL; }
        n *= size[d];
        nz *= size[d] ? size[d] : 1;
    }
    /* refuse more than one allocation may take (llfc_alloc_cap) */
    if ((double)n * sizeof(float) > (double)llfc_alloc_cap()) {
        llfc_seterr("tensor too large: %lld elements (%.1f GB) exceed the allocation cap of %.1f GB "
                    "(the physical memory, or LLFC_MAX_ALLOC)", (long long)n, n * 4.0 / 1e9, (double)llfc_alloc_cap() / 1e9);
        return NULL;
    }
    llfc_tensor *t = llfc_calloc(1, sizeof *t);
    if (!t) return NULL;
    if (!(t->storage = storage_new(n))) { free(t); return NULL; }
    t->ndim = ndim;
    int64_t st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        t->size[d] = size[d];
        t->stride[d] = st;
        st *= size[d] ? size[d] : 1;
    }
    return t;
}

llfc_tensor *llfc_tensor_new1(int64_t n) { return llfc_tensor_new(1, &n); }

llfc_tensor *llfc_tensor_new2(int64_t rows, int64_t cols)
{
    int64_t s[2] = {rows, cols};
    return llfc_tensor_new(2, s);
}

void llfc_tensor_free(llfc_tensor *t)
{
    if (!t) return;
    storage_release(t->storage);
    free(t);
}

llfc_tensor *llfc_tensor_share(const llfc_tensor *t)
{
    llfc_tensor *v = llfc_malloc(sizeof *v);
    if (!v) return NULL;
    *v = *t;
    v->storage->refcount++;
    return v;
}

int64_t llfc_tensor_numel(const llfc_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->size[d];
    return n;
}

int llfc_tensor_is_contiguous(const llfc_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->size[d] == 0) return 1; /* no elements: any layout is contiguous */
    int64_t st = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != st) return 0;
        st *= t->size[d];
    }
    return 1;
}

int llfc_tensor_same_shape(const llfc_tensor *a, const llfc_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->size[d] != b->size[d]) return 0;
    return 1;
}

char *llfc_tensor_shape_str(const llfc_tensor *t, char *buf, size_t n)
{
    if (t->ndim == 0) { snprintf(buf, n, "scalar"); return buf; }
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < t->ndim && used < n; d++)
        used += snprintf(buf + used, n - used, d ? "x%lld" : "%lld", (long long)t->size[d]);
    return buf;
}

/* Visit every element of a strided view in row-major order. */
void llfc_tensor_read(const llfc_tensor *t, float *out)
{
    int64_t n = llfc_tensor_numel(t);
    if (llfc_tensor_is_contiguous(t)) { memcpy(out, llfc_tensor_data(t), (size_t)n * sizeof(float)); return; }
    int64_t idx[LLFC_MAXDIM] = {0};
    const float *base = llfc_tensor_data(t);
    for (int64_t k = 0; k < n; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        out[k] = base[off];
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

void llfc_tensor_write(llfc_tensor *t, const float *in)
{
    int64_t n = llfc_tensor_numel(t);
    if (llfc_tensor_is_contiguous(t)) { memmove(llfc_tensor_data(t), in, (size_t)n * sizeof(float)); return; }
    int64_t idx[LLFC_MAXDIM] = {0};
    float *base = llfc_tensor_data(t);
    for (int64_t k = 0; k < n; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        base[off] = in[k];
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

llfc_tensor *llfc_tensor_clone(const llfc_tensor *t)
{
    llfc_tensor *c = llfc_tensor_new(t->ndim, t->size);
    if (!c) return NULL;
    llfc_tensor_read(t, llfc_tensor_data(c));
    return c;
}

int llfc_tensor_copy(llfc_tensor *dst, const llfc_tensor *src)
{
    int64_t n = llfc_tensor_numel(src);
    if (n != llfc_tensor_numel(dst)) {
        char a[64], b[64];
        return llfc_seterr("%s and %s differ in element count", llfc_tensor_shape_str(dst, a, sizeof a),
                           llfc_tensor_shape_str(src, b, sizeof b));
    }
    float *tmp = llfc_mallocarray((size_t)(n ? n : 1), sizeof(float));
    if (!tmp) return -1;
    llfc_tensor_read(src, tmp);
    llfc_tensor_write(dst, tmp);
    free(tmp);
    return 0;
}

float *llfc_tensor_ptr(const llfc_tensor *t, const int64_t *idx)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
    return t->storage->data + off;
}
