/* tensor_ops.c - views, constructors, elementwise ops, reductions and the
 * matrix product of float32 tensors.
 *
 * Kernels work on contiguous buffers: a strided operand is first read into a
 * contiguous copy (llfc_tensor_read), which also makes overlapping in-place
 * operations safe.  Dimensions and indices are 0-based; error messages are
 * written for the user, who counts from 1, so they quote 1-based numbers and
 * leave the function name to the caller ("narrow: ...").
 */
#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHAPES(a, b)                                                            \
    char sa_[96], sb_[96];                                                      \
    llfc_tensor_shape_str(a, sa_, sizeof sa_);                                  \
    llfc_tensor_shape_str(b, sb_, sizeof sb_)

static int check_dim(const llfc_tensor *t, int dim, const char *what)
{
    if (dim < 0 || dim >= t->ndim) {
        char s[96];
        if (t->ndim == 0)
            return llfc_seterr("%s %d out of range: the tensor is 0-d", what, dim + 1);
        return llfc_seterr("%s %d out of range for a %d-d tensor (%s)", what, dim + 1, t->ndim,
                           llfc_tensor_shape_str(t, s, sizeof s));
    }
    return 0;
}

/* ---- views --------------------------------------------------------------- */

llfc_tensor *llfc_tensor_narrow(const llfc_tensor *t, int dim, int64_t start, int64_t len)
{
    if (check_dim(t, dim, "dimension")) return NULL;
    int64_t n = t->size[dim];
    if (start < 0 || len < 0 || start > n || len > n - start) {
        llfc_seterr("range %lld..%lld (start %lld, length %lld) out of bounds for dimension %d of size %lld",
                    (long long)start + 1, (long long)(start + len), (long long)start + 1,
                    (long long)len, dim + 1, (long long)n);
        return NULL;
    }
    llfc_tensor *v = llfc_tensor_share(t);
    if (!v) return NULL;
    v->offset += start * t->stride[dim];
    v->size[dim] = len;
    return v;
}

llfc_tensor *llfc_tensor_select(const llfc_tensor *t, int dim, int64_t index)
{
    if (check_dim(t, dim, "dimension")) return NULL;
    if (index < 0 || index >= t->size[dim]) {
        llfc_seterr("index %lld out of range for dimension %d of size %lld", (long long)index + 1, dim + 1,
                    (long long)t->size[dim]);
        return NULL;
    }
    llfc_tensor *v = llfc_tensor_share(t);
    if (!v) return NULL;
    v->offset += index * t->stride[dim];
    for (int d = dim; d < t->ndim - 1; d++) {
        v->size[d] = t->size[d + 1];
        v->stride[d] = t->stride[d + 1];
    }
    v->ndim--;
    v->size[v->ndim] = 0;
    v->stride[v->ndim] = 0;
    return v;
}

llfc_tensor *llfc_tensor_transpose(const llfc_tensor *t, int d1, int d2)
{
    if (check_dim(t, d1, "dimension") || check_dim(t, d2, "dimension")) return NULL;
    llfc_tensor *v = llfc_tensor_share(t);
    if (!v) return NULL;
    v->size[d1] = t->size[d2];
    v->size[d2] = t->size[d1];
    v->stride[d1] = t->stride[d2];
    v->stride[d2] = t->stride[d1];
    return v;
}

llfc_tensor *llfc_tensor_t(const llfc_tensor *t)
{
    if (t->ndim < 2) return llfc_tensor_share(t);
    if (t->ndim > 2) {
        char s[96];
        llfc_seterr("expects a 2-d tensor, got %s (use transpose)", llfc_tensor_shape_str(t, s, sizeof s));
        return NULL;
    }
    return llfc_tensor_transpose(t, 0, 1);
}

/* Resolve a -1 in size[] and check the element count. */
static int resolve_shape(const llfc_tensor *t, int ndim, const int64_t *size, int64_t *out)
{
    if (ndim < 0 || ndim > LLFC_MAXDIM)
        return llfc_seterr("tensors have at most %d dimensions, got %d", LLFC_MAXDIM, ndim);
    int infer = -1;
    int64_t prod = 1, n = llfc_tensor_numel(t);
    for (int d = 0; d < ndim; d++) {
        out[d] = size[d];
        if (size[d] == -1) {
            if (infer >= 0) return llfc_seterr("only one size can be -1");
            infer = d;
        } else if (size[d] < 0) {
            return llfc_seterr("negative size %lld in dimension %d", (long long)size[d], d + 1);
        } else {
            if (size[d] && prod > INT64_MAX / size[d]) return llfc_seterr("shape too large");
            prod *= size[d];
        }
    }
    char s[96], want[160];
    llfc_tensor_shape_str(t, s, sizeof s);
    size_t u = 0;
    want[0] = 0;
    for (int d = 0; d < ndim && u < sizeof want; d++)
        u += snprintf(want + u, sizeof want - u, d ? "x%lld" : "%lld", (long long)size[d]);
    if (ndim == 0) snprintf(want, sizeof want, "scalar");
    if (infer >= 0) {
        if (prod == 0 || n % prod)
            return llfc_seterr("cannot view %s (%lld elements) as %s", s, (long long)n, want);
        out[infer] = n / prod;
    } else if (prod != n) {
        return llfc_seterr("cannot view %s (%lld elements) as %s (%lld elements)", s, (long long)n, want,
                           (long long)prod);
    }
    return 0;
}

llfc_tensor *llfc_tensor_view(const llfc_tensor *t, int ndim, const int64_t *size)
{
    int64_t sz[LLFC_MAXDIM];
    if (resolve_shape(t, ndim, size, sz)) return NULL;
    if (!llfc_tensor_is_contiguous(t)) {
        char s[96];
        llfc_seterr("the %s tensor is not contiguous (use reshape or contiguous)",
                    llfc_tensor_shape_str(t, s, sizeof s));
        return NULL;
    }
    llfc_tensor *v = llfc_tensor_share(t);
    if (!v) return NULL;
    v->ndim = ndim;
    int64_t st = 1;
    for (int d = LLFC_MAXDIM - 1; d >= 0; d--) {
        if (d >= ndim) { v->size[d] = 0; v->stride[d] = 0; continue; }
        v->size[d] = sz[d];
        v->stride[d] = st;
        st *= sz[d] ? sz[d] : 1;
    }
    return v;
}

llfc_tensor *llfc_tensor_contiguous(const llfc_tensor *t)
{
    return llfc_tensor_is_contiguous(t) ? llfc_tensor_share(t) : llfc_tensor_clone(t);
}

llfc_tensor *llfc_tensor_reshape(const llfc_tensor *t, int ndim, const int64_t *size)
{
    int64_t sz[LLFC_MAXDIM];
    if (resolve_shape(t, ndim, size, sz)) return NULL;
    llfc_tensor *c = llfc_tensor_contiguous(t);
    if (!c) return NULL;
    llfc_tensor *v = llfc_tensor_view(c, ndim, sz);
    llfc_tensor_free(c);
    return v;
}

/* ---- constructors ------------------------------------------------------------ */

int llfc_tensor_fill(llfc_tensor *t, float value)
{
    int64_t n = llfc_tensor_numel(t);
    if (llfc_tensor_is_contiguous(t)) {
        float *p = llfc_tensor_data(t);
        for (int64_t i = 0; i < n; i++) p[i] = value;
        return 0;
    }
    float *tmp = llfc_mallocarray((size_t)(n ? n : 1), sizeof(float));
    if (!tmp) return -1;
    for (int64_t i = 0; i < n; i++) tmp[i] = value;
    llfc_tensor_write(t, tmp);
    free(tmp);
    return 0;
}

llfc_tensor *llfc_tensor_full(int ndim, const int64_t *size, float value)
{
    llfc_tensor *t = llfc_tensor_new(ndim, size);
    if (t && value != 0.0f) llfc_tensor_fill(t, value);
    return t;
}

llfc_tensor *llfc_tensor_arange(double start, double stop, double step)
{
    if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(stop)) {
        llfc_seterr("step must be finite and non-zero (start %g, stop %g, step %g)", start, stop, step);
        return NULL;
    }
    double cnt = ceil((stop - start) / step);
    if (cnt < 0) cnt = 0;
    if (cnt > 1e15) { llfc_seterr("too many elements (%g)", cnt); return NULL; }
    llfc_tensor *t = llfc_tensor_new1((int64_t)cnt);
    if (!t) return NULL;
    float *p = llfc_tensor_data(t);
    for (int64_t i = 0; i < t->size[0]; i++) p[i] = (float)(start + (double)i * step);
    return t;
}

llfc_tensor *llfc_tensor_linspace(double a, double b, int64_t n)
{
    if (n < 0) { llfc_seterr("negative number of points %lld", (long long)n); return NULL; }
    if (!isfinite(a) || !isfinite(b)) { llfc_seterr("the ends must be finite, got %g and %g", a, b); return NULL; }
    llfc_tensor *t = llfc_tensor_new1(n);
    if (!t) return NULL;
    float *p = llfc_tensor_data(t);
    for (int64_t i = 0; i < n; i++)
        p[i] = n == 1 ? (float)a : (float)(a + (b - a) * (double)i / (double)(n - 1));
    if (n > 1) p[n - 1] = (float)b;
    return t;
}

static llfc_tensor *random_tensor(int ndim, const int64_t *size, uint64_t seed, int normal)
{
    llfc_tensor *t = llfc_tensor_new(ndim, size);
    if (!t) return NULL;
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *p = llfc_tensor_data(t);
    int64_t n = llfc_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) p[i] = normal ? (float)llfc_rng_normal(&r) : llfc_rng_float(&r);
    return t;
}

llfc_tensor *llfc_tensor_rand(int ndim, const int64_t *size, uint64_t seed)
{
    return random_tensor(ndim, size, seed, 0);
}

llfc_tensor *llfc_tensor_randn(int ndim, const int64_t *size, uint64_t seed)
{
    return random_tensor(ndim, size, seed, 1);
}

/* ---- elementwise --------------------------------------------------------------- */

/* A contiguous buffer holding t's values: t's own data when contiguous and
 * not aliased, else a copy the caller frees through *owned. */
static const float *flat(const llfc_tensor *t, float **owned)
{
    *owned = NULL;
    if (llfc_tensor_is_contiguous(t)) return llfc_tensor_data(t);
    int64_t n = llfc_tensor_numel(t);
    if (!(*owned = llfc_mallocarray((size_t)(n ? n : 1), sizeof(float)))) return NULL;
    llfc_tensor_read(t, *owned);
    return *owned;
}

static int shape_check(const char *opname, const llfc_tensor *a, const llfc_tensor *b)
{
    if (llfc_tensor_same_shape(a, b)) return 0;
    SHAPES(a, b);
    return llfc_seterr("size mismatch, %s %s %s", sa_, opname, sb_);
}

static const char *opsym(int op) { return op == LLFC_BINOP_ADD ? "+" : op == LLFC_BINOP_SUB ? "-" : op == LLFC_BINOP_MUL ? "*" : "/"; }

/* out[i] = x[i] op y[i]  (n elements; out may alias x) */
static void kernel_binop(int op, float *out, const float *x, const float *y, float alpha, int64_t n)
{
    switch (op) {
    case LLFC_BINOP_ADD: for (int64_t i = 0; i < n; i++) out[i] = x[i] + alpha * y[i]; break;
    case LLFC_BINOP_SUB: for (int64_t i = 0; i < n; i++) out[i] = x[i] - alpha * y[i]; break;
    case LLFC_BINOP_MUL: for (int64_t i = 0; i < n; i++) out[i] = x[i] * y[i]; break;
    default:          for (int64_t i = 0; i < n; i++) out[i] = x[i] / y[i]; break;
    }
}

static void kernel_scalar(int op, float *out, const float *x, float s, int sfirst, int64_t n)
{
    switch (op) {
    case LLFC_BINOP_ADD: for (int64_t i = 0; i < n; i++) out[i] = x[i] + s; break;
    case LLFC_BINOP_SUB:
        if (sfirst) for (int64_t i = 0; i < n; i++) out[i] = s - x[i];
        else        for (int64_t i = 0; i < n; i++) out[i] = x[i] - s;
        break;
    case LLFC_BINOP_MUL: for (int64_t i = 0; i < n; i++) out[i] = x[i] * s; break;
    default:
        if (sfirst) for (int64_t i = 0; i < n; i++) out[i] = s / x[i];
        else        for (int64_t i = 0; i < n; i++) out[i] = x[i] / s;
        break;
    }
}

llfc_tensor *llfc_tensor_binop(int op, const llfc_tensor *a, const llfc_tensor *b)
{
    if (shape_check(opsym(op), a, b)) return NULL;
    llfc_tensor *r = llfc_tensor_new(a->ndim, a->size);
    if (!r) return NULL;
    float *fa, *fb;
    const float *x = flat(a, &fa), *y = x ? flat(b, &fb) : NULL;
    if (!x || !y) { free(fa); llfc_tensor_free(r); return NULL; }
    kernel_binop(op, llfc_tensor_data(r), x, y, 1.0f, llfc_tensor_numel(a));
    free(fa);
    free(fb);
    return r;
}

llfc_tensor *llfc_tensor_binop_scalar(int op, const llfc_tensor *a, float s, int scalar_first)
{
    llfc_tensor *r = llfc_tensor_clone(a);
    if (!r) return NULL;
    float *p = llfc_tensor_data(r);
    kernel_scalar(op, p, p, s, scalar_first, llfc_tensor_numel(r));
    return r;
}

/* Run fn over a's values in a contiguous buffer and write them back. */
static float *inplace_begin(llfc_tensor *a, int *direct)
{
    *direct = llfc_tensor_is_contiguous(a);
    if (*direct) return llfc_tensor_data(a);
    int64_t n = llfc_tensor_numel(a);
    float *buf = llfc_mallocarray((size_t)(n ? n : 1), sizeof(float));
    if (buf) llfc_tensor_read(a, buf);
    return buf;
}

static void inplace_end(llfc_tensor *a, float *buf, int direct)
{
    if (direct) return;
    llfc_tensor_write(a, buf);
    free(buf);
}

int llfc_tensor_binop_(int op, llfc_tensor *a, const llfc_tensor *b, float alpha)
{
    if (shape_check(opsym(op), a, b)) return -1;
    /* b is read into a private copy whenever it shares a's storage, so
     * overlapping views (a:add(a:t())) see the old values. */
    float *fb = NULL;
    const float *y;
    int64_t n = llfc_tensor_numel(a);
    if (b->storage == a->storage && !(b->offset == a->offset && !memcmp(a->stride, b->stride, sizeof a->stride))) {
        if (!(fb = llfc_mallocarray((size_t)(n ? n : 1), sizeof(float)))) return -1;
        llfc_tensor_read(b, fb);
        y = fb;
    } else if (!(y = flat(b, &fb))) {
        return -1;
    }
    int direct;
    float *x = inplace_begin(a, &direct);
    if (!x) { free(fb); return -1; }
    kernel_binop(op, x, x, y, alpha, n);
    inplace_end(a, x, direct);
    free(fb);
    return 0;
}

int llfc_tensor_binop_scalar_(int op, llfc_tensor *a, float s)
{
    int direct;
    float *x = inplace_begin(a, &direct);
    if (!x) return -1;
    kernel_scalar(op, x, x, s, 0, llfc_tensor_numel(a));
    inplace_end(a, x, direct);
    return 0;
}

static void kernel_unary(int op, float *p, int64_t n)
{
    switch (op) {
    case LLFC_UNOP_NEG:  for (int64_t i = 0; i < n; i++) p[i] = -p[i]; break;
    case LLFC_UNOP_EXP:  for (int64_t i = 0; i < n; i++) p[i] = expf(p[i]); break;
    case LLFC_UNOP_LOG:  for (int64_t i = 0; i < n; i++) p[i] = logf(p[i]); break;
    case LLFC_UNOP_RELU: for (int64_t i = 0; i < n; i++) p[i] = p[i] < 0.0f ? 0.0f : p[i]; /* NaN propagates */ break;
    case LLFC_UNOP_ABS:  for (int64_t i = 0; i < n; i++) p[i] = fabsf(p[i]); break;
    default:           for (int64_t i = 0; i < n; i++) p[i] = sqrtf(p[i]); break;
    }
}

llfc_tensor *llfc_tensor_unary(int op, const llfc_tensor *a)
{
    llfc_tensor *r = llfc_tensor_clone(a);
    if (r) kernel_unary(op, llfc_tensor_data(r), llfc_tensor_numel(r));
    return r;
}

static inline float cmp1(int op, float x, float y)
{
    switch (op) {
    case LLFC_CMP_EQ: return x == y;
    case LLFC_CMP_LT: return x < y;
    case LLFC_CMP_GT: return x > y;
    case LLFC_CMP_LE: return x <= y;
    default:          return x >= y;
    }
}

static const char *cmpsym(int op)
{
    static const char *s[] = {"==", "<", ">", "<=", ">="};
    return op >= 0 && op <= 4 ? s[op] : "?";
}

llfc_tensor *llfc_tensor_cmp(int op, const llfc_tensor *a, const llfc_tensor *b)
{
    if (shape_check(cmpsym(op), a, b)) return NULL;
    llfc_tensor *r = llfc_tensor_new(a->ndim, a->size);
    if (!r) return NULL;
    float *fa, *fb;
    const float *x = flat(a, &fa), *y = x ? flat(b, &fb) : NULL;
    if (!x || !y) { free(fa); llfc_tensor_free(r); return NULL; }
    float *p = llfc_tensor_data(r);
    int64_t n = llfc_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) p[i] = cmp1(op, x[i], y[i]);
    free(fa);
    free(fb);
    return r;
}

llfc_tensor *llfc_tensor_cmp_scalar(int op, const llfc_tensor *a, float s)
{
    llfc_tensor *r = llfc_tensor_clone(a);
    if (!r) return NULL;
    float *p = llfc_tensor_data(r);
    int64_t n = llfc_tensor_numel(r);
    for (int64_t i = 0; i < n; i++) p[i] = cmp1(op, p[i], s);
    return r;
}

/* ---- reductions --------------------------------------------------------------- */

/* Reduce x[0], x[stride], ..., x[(n-1)*stride]. */
static double reduce_run(int op, const float *x, int64_t n, int64_t stride, int64_t *index)
{
    double acc = 0;
    switch (op) {
    case LLFC_RED_SUM:
    case LLFC_RED_MEAN:
        for (int64_t i = 0; i < n; i++) acc += x[i * stride];
        return op == LLFC_RED_MEAN ? (n ? acc / (double)n : NAN) : acc;
    case LLFC_RED_NORM:
        for (int64_t i = 0; i < n; i++) acc += (double)x[i * stride] * x[i * stride];
        return sqrt(acc);
    default: {
        int64_t best = 0;
        float bv = x[0];
        for (int64_t i = 1; i < n && !isnan(bv); i++) {
            float v = x[i * stride];
            if (isnan(v) || (op == LLFC_RED_MAX ? v > bv : v < bv)) { bv = v; best = i; }
        }
        if (index) *index = best;
        return bv;
    }
    }
}

int llfc_tensor_reduce_all(int op, const llfc_tensor *t, double *value, int64_t *index)
{
    int64_t n = llfc_tensor_numel(t);
    if ((op == LLFC_RED_MAX || op == LLFC_RED_MIN) && n == 0)
    {
        char sh[96];
        return llfc_seterr("the tensor is empty (%s)", llfc_tensor_shape_str(t, sh, sizeof sh));
    }
    float *owned;
    const float *x = flat(t, &owned);
    if (!x) return -1;
    *value = reduce_run(op, x, n, 1, index);
    free(owned);
    return 0;
}

llfc_tensor *llfc_tensor_reduce_dim(int op, const llfc_tensor *t, int dim, llfc_tensor **indices)
{
    if (indices) *indices = NULL;
    if (check_dim(t, dim, "dimension")) return NULL;
    int64_t n = t->size[dim];
    int is_ext = op == LLFC_RED_MAX || op == LLFC_RED_MIN;
    if (is_ext && n == 0) {
        llfc_seterr("dimension %d has size 0", dim + 1);
        return NULL;
    }
    int64_t osz[LLFC_MAXDIM], outer = 1, inner = 1;
    for (int d = 0, k = 0; d < t->ndim; d++) {
        if (d == dim) continue;
        osz[k++] = t->size[d];
        if (d < dim) outer *= t->size[d]; else inner *= t->size[d];
    }
    llfc_tensor *r = llfc_tensor_new(t->ndim - 1, osz), *ix = NULL;
    if (!r) return NULL;
    if (is_ext && indices && !(ix = llfc_tensor_new(t->ndim - 1, osz))) { llfc_tensor_free(r); return NULL; }
    float *owned;
    const float *x = flat(t, &owned);
    if (!x) { llfc_tensor_free(r); llfc_tensor_free(ix); return NULL; }
    /* x viewed as outer x n x inner; result outer x inner */
    float *out = llfc_tensor_data(r), *io = ix ? llfc_tensor_data(ix) : NULL;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            out[o * inner + i] = (float)reduce_run(op, x + o * n * inner + i, n, inner, &best);
            if (io) io[o * inner + i] = (float)best;
        }
    free(owned);
    if (indices) *indices = ix;
    return r;
}

int llfc_tensor_dot(const llfc_tensor *a, const llfc_tensor *b, double *value)
{
    if (llfc_tensor_numel(a) != llfc_tensor_numel(b)) {
        SHAPES(a, b);
        return llfc_seterr("size mismatch, %s . %s (%lld and %lld elements)", sa_, sb_,
                           (long long)llfc_tensor_numel(a), (long long)llfc_tensor_numel(b));
    }
    float *fa, *fb;
    const float *x = flat(a, &fa), *y = x ? flat(b, &fb) : NULL;
    if (!x || !y) { free(fa); return -1; }
    double acc = 0;
    int64_t n = llfc_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) acc += (double)x[i] * y[i];
    free(fa);
    free(fb);
    *value = acc;
    return 0;
}

/* ---- matrix product --------------------------------------------------------- */

/* Describe the rows x cols matrix m (2-d view) for the BLAS: data pointer,
 * transpose flag and leading dimension.  A view whose strides the BLAS cannot
 * take is copied into *owned. */
static int blas_operand(const llfc_tensor *m, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                        const float **p, int *trans, int *ld, llfc_tensor **owned)
{
    int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
    *owned = NULL;
    *p = llfc_tensor_data(m);
    /* row-major as stored: element (i, j) at i*ld + j */
    if ((cols <= 1 || cs == 1) && (rows <= 1 || (rs >= c1 && rs <= INT32_MAX))) {
        *trans = 0;
        *ld = (int)(rows <= 1 ? c1 : rs);
        return 0;
    }
    /* stored transposed: element (i, j) at j*ld + i */
    if ((rows <= 1 || rs == 1) && (cols <= 1 || (cs >= r1 && cs <= INT32_MAX))) {
        *trans = 1;
        *ld = (int)(cols <= 1 ? r1 : cs);
        return 0;
    }
    llfc_tensor *c = llfc_tensor_clone(m);
    if (!c) return -1;
    *owned = c;
    *p = llfc_tensor_data(c);
    *trans = 0;
    *ld = (int)c1;
    return 0;
}

llfc_tensor *llfc_tensor_mm(const llfc_tensor *a, const llfc_tensor *b)
{
    SHAPES(a, b);
    if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2 || (a->ndim == 1 && b->ndim == 1)) {
        llfc_seterr("expects 2-d @ 2-d, 2-d @ 1-d or 1-d @ 2-d, got %s @ %s%s", sa_, sb_,
                    a->ndim == 1 && b->ndim == 1 ? " (use dot)" : "");
        return NULL;
    }
    /* a as M x K, b as K x N (a vector is a 1 x K row or a K x 1 column) */
    int64_t M, K, N, ars, acs, brs, bcs;
    if (a->ndim == 2) { M = a->size[0]; K = a->size[1]; ars = a->stride[0]; acs = a->stride[1]; }
    else { M = 1; K = a->size[0]; ars = K * a->stride[0]; acs = a->stride[0]; }
    int64_t Kb;
    if (b->ndim == 2) { Kb = b->size[0]; N = b->size[1]; brs = b->stride[0]; bcs = b->stride[1]; }
    else { Kb = b->size[0]; N = 1; brs = b->stride[0]; bcs = 1; }
    if (K != Kb) { llfc_seterr("size mismatch, %s @ %s", sa_, sb_); return NULL; }
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
        llfc_seterr("dimensions too large for the BLAS, %s @ %s", sa_, sb_);
        return NULL;
    }
    llfc_tensor *r;
    if (a->ndim == 2 && b->ndim == 2) r = llfc_tensor_new2(M, N);
    else r = llfc_tensor_new1(a->ndim == 2 ? M : N);
    if (!r) return NULL;
    if (M == 0 || N == 0 || K == 0) return r; /* zeros */
    const float *pa, *pb;
    int ta, tb, lda, ldb;
    llfc_tensor *oa = NULL, *ob = NULL;
    if (blas_operand(a, M, K, ars, acs, &pa, &ta, &lda, &oa) ||
        blas_operand(b, K, N, brs, bcs, &pb, &tb, &ldb, &ob)) {
        llfc_tensor_free(oa);
        llfc_tensor_free(r);
        return NULL;
    }
    /* C[M x N] = op(A)[M x K] @ op(B)[K x N] */
    llfc_gemm(ta, tb, (int)M, (int)N, (int)K, 1.0f, pa, lda, pb, ldb, 0.0f, llfc_tensor_data(r), (int)N);
    llfc_tensor_free(oa);
    llfc_tensor_free(ob);
    return r;
}
