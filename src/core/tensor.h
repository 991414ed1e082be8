/* tensor.h - float32 n-d tensors with refcounted storage and strided views.
 *
 * A tensor is (storage, offset, sizes, strides), as in torch7's TH: views made
 * by narrow/select/transpose/reshape share the storage.  Sizes and strides are
 * in elements.  Indices in the core are 0-based; the Lua binding converts.
 */
#ifndef LLFC_TENSOR_H
#define LLFC_TENSOR_H

#include "core/core.h"

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

/* ---- additions: raw strided access ------------------------------------------
 * Read the view's elements in row-major order into out (numel floats), or
 * write them from in.  Work for any strides. */
void llfc_tensor_read(const llfc_tensor *t, float *out);
void llfc_tensor_write(llfc_tensor *t, const float *in);
/* Pointer to the element at the 0-based multi-index idx[0..ndim-1] (unchecked). */
float *llfc_tensor_ptr(const llfc_tensor *t, const int64_t *idx);

/* ---- views (tensor_ops.c): new headers over the same storage ----------------
 * Dimensions and indices are 0-based here.  NULL + error on bad arguments. */
llfc_tensor *llfc_tensor_narrow(const llfc_tensor *t, int dim, int64_t start, int64_t len);
llfc_tensor *llfc_tensor_select(const llfc_tensor *t, int dim, int64_t index); /* drops dim */
llfc_tensor *llfc_tensor_transpose(const llfc_tensor *t, int d1, int d2);
/* 2-d transpose; 0-d and 1-d tensors come back as a shared view. */
llfc_tensor *llfc_tensor_t(const llfc_tensor *t);
/* New shape with the same numel (one size may be -1: inferred).  view needs a
 * contiguous tensor; reshape copies when the tensor is not contiguous. */
llfc_tensor *llfc_tensor_view(const llfc_tensor *t, int ndim, const int64_t *size);
llfc_tensor *llfc_tensor_reshape(const llfc_tensor *t, int ndim, const int64_t *size);
/* A shared view when already contiguous, else a contiguous copy. */
llfc_tensor *llfc_tensor_contiguous(const llfc_tensor *t);

/* ---- constructors ------------------------------------------------------------ */
llfc_tensor *llfc_tensor_full(int ndim, const int64_t *size, float value);
/* start, start+step, ... while < stop (> stop for a negative step). */
llfc_tensor *llfc_tensor_arange(double start, double stop, double step);
/* n points from a to b inclusive. */
llfc_tensor *llfc_tensor_linspace(double a, double b, int64_t n);
/* Uniform [0,1) (llfc_rng_float) / standard normal (llfc_rng_normal), filled in
 * row-major order from llfc_rng_seed(seed): the same numbers on every machine. */
llfc_tensor *llfc_tensor_rand(int ndim, const int64_t *size, uint64_t seed);
llfc_tensor *llfc_tensor_randn(int ndim, const int64_t *size, uint64_t seed);

/* ---- elementwise ---------------------------------------------------------------- */
enum { LLFC_BINOP_ADD, LLFC_BINOP_SUB, LLFC_BINOP_MUL, LLFC_BINOP_DIV };
enum { LLFC_UNOP_NEG, LLFC_UNOP_EXP, LLFC_UNOP_LOG, LLFC_UNOP_RELU, LLFC_UNOP_ABS, LLFC_UNOP_SQRT };
enum { LLFC_CMP_EQ, LLFC_CMP_LT, LLFC_CMP_GT, LLFC_CMP_LE, LLFC_CMP_GE };
/* a op b, same shape, new contiguous result. */
llfc_tensor *llfc_tensor_binop(int op, const llfc_tensor *a, const llfc_tensor *b);
/* a op s, or s op a when scalar_first. */
llfc_tensor *llfc_tensor_binop_scalar(int op, const llfc_tensor *a, float s, int scalar_first);
/* In place: a += alpha*b, a -= alpha*b, a *= b, a /= b (alpha only for add/sub).
 * b may overlap a. */
int llfc_tensor_binop_(int op, llfc_tensor *a, const llfc_tensor *b, float alpha);
int llfc_tensor_binop_scalar_(int op, llfc_tensor *a, float s);
llfc_tensor *llfc_tensor_unary(int op, const llfc_tensor *a);
/* Masks: 1.0f where the comparison holds, else 0.0f. */
llfc_tensor *llfc_tensor_cmp(int op, const llfc_tensor *a, const llfc_tensor *b);
llfc_tensor *llfc_tensor_cmp_scalar(int op, const llfc_tensor *a, float s);
int llfc_tensor_fill(llfc_tensor *t, float value);

/* ---- reductions ------------------------------------------------------------------ */
enum { LLFC_RED_SUM, LLFC_RED_MEAN, LLFC_RED_MAX, LLFC_RED_MIN, LLFC_RED_NORM };
/* Over all elements (accumulated in double).  For max/min, *index (may be
 * NULL) gets the 0-based row-major flat index of the first extreme; NaN wins.
 * max/min of an empty tensor fail; sum is 0, mean and norm of nothing are 0/NaN. */
int llfc_tensor_reduce_all(int op, const llfc_tensor *t, double *value, int64_t *index);
/* Over dimension dim (removed from the result).  For max/min, *indices (may be
 * NULL) gets a tensor of 0-based positions along dim, stored as floats. */
llfc_tensor *llfc_tensor_reduce_dim(int op, const llfc_tensor *t, int dim, llfc_tensor **indices);
/* Sum of a[k]*b[k] over the row-major elements (same numel). */
int llfc_tensor_dot(const llfc_tensor *a, const llfc_tensor *b, double *value);

/* ---- products (through llfc_gemm) ------------------------------------------------ */
/* a @ b for 2-d @ 2-d (MxK @ KxN), 2-d @ 1-d (matrix-vector) and 1-d @ 2-d.
 * Transposed views go to the BLAS as transpose flags, other strides are copied. */
llfc_tensor *llfc_tensor_mm(const llfc_tensor *a, const llfc_tensor *b);

/* Format every value "%.4g"-style with row/slice layout, abbreviated (first and
 * last 3 along a dimension larger than 8).  Returns a malloc'd string. */
char *llfc_tensor_format(const llfc_tensor *t);
/* One-line summary "Tensor 3x4 float32 [0.1, 0.2, ...]" into buf. */
char *llfc_tensor_summary(const llfc_tensor *t, char *buf, size_t n);

#endif
