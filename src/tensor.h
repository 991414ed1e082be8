/* tensor.h - float32 n-d tensors with refcounted storage and strided views.
 *
 * A tensor is (storage, offset, sizes, strides), as in torch7's TH: views made
 * by narrow/select/transpose/reshape share the storage.  Sizes and strides are
 * in elements.  Indices in the core are 0-based; the Lua binding converts.
 */
#ifndef LLFC_TENSOR_H
#define LLFC_TENSOR_H

#include "core.h"

#define LLFC_MAXDIM 8

typedef struct llfc_storage {
    float *data;
    int64_t n;        /* number of floats */
    int refcount;
} llfc_storage;

typedef struct llfc_tensor {
    llfc_storage *storage;
    int64_t offset;
    int ndim;         /* 0 .. LLFC_MAXDIM (0 = scalar, numel 1) */
    int64_t size[LLFC_MAXDIM];
    int64_t stride[LLFC_MAXDIM];
} llfc_tensor;

/* New contiguous tensor filled with zeros (NULL + error on failure). */
llfc_tensor *llfc_tensor_new(int ndim, const int64_t *size);
/* Convenience constructors for 1-d and 2-d. */
llfc_tensor *llfc_tensor_new1(int64_t n);
llfc_tensor *llfc_tensor_new2(int64_t rows, int64_t cols);
/* Free the header and drop one reference to the storage. NULL is fine. */
void llfc_tensor_free(llfc_tensor *t);
/* A new header over the same storage (same view). */
llfc_tensor *llfc_tensor_share(const llfc_tensor *t);
/* Deep copy into a new contiguous tensor. */
llfc_tensor *llfc_tensor_clone(const llfc_tensor *t);
/* Pointer to element 0 of the view. */
static inline float *llfc_tensor_data(const llfc_tensor *t) { return t->storage->data + t->offset; }
int64_t llfc_tensor_numel(const llfc_tensor *t);
int llfc_tensor_is_contiguous(const llfc_tensor *t);
/* Same shape? */
int llfc_tensor_same_shape(const llfc_tensor *a, const llfc_tensor *b);
/* Write "3x4" (or "scalar") into buf. Returns buf. */
char *llfc_tensor_shape_str(const llfc_tensor *t, char *buf, size_t n);
/* Copy src into dst (same numel, any strides). */
int llfc_tensor_copy(llfc_tensor *dst, const llfc_tensor *src);

#endif
