/* test_tensor.c - tensor views, constructors, elementwise ops, reductions,
 * mm against a naive loop, and .npy reading/writing (incl. malformed files). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "io/npy.h"
#include "core/tensor.h"

static float at2(const llfc_tensor *t, int64_t i, int64_t j)
{
    int64_t idx[2] = {i, j};
    return *llfc_tensor_ptr(t, idx);
}

static llfc_tensor *iota2(int64_t r, int64_t c)
{
    llfc_tensor *t = llfc_tensor_new2(r, c);
    for (int64_t i = 0; i < r * c; i++) llfc_tensor_data(t)[i] = (float)i;
    return t;
}

static void test_views(void)
{
    llfc_tensor *a = iota2(3, 4); /* 0..11 */
    llfc_tensor *n = llfc_tensor_narrow(a, 1, 1, 2);
    CHECK(n && n->size[0] == 3 && n->size[1] == 2 && n->stride[0] == 4 && n->stride[1] == 1,
          "narrow(dim 2, 2, 2) is 3x2 with strides 4,1");
    CHECK(at2(n, 2, 1) == 10.0f, "narrow reads the right element");
    *llfc_tensor_data(n) = -1.0f;
    CHECK(llfc_tensor_data(a)[1] == -1.0f, "narrow shares memory with its base");
    CHECK(!llfc_tensor_is_contiguous(n), "a column narrow is not contiguous");
    llfc_tensor *s = llfc_tensor_select(a, 0, 2);
    CHECK(s && s->ndim == 1 && s->size[0] == 4 && llfc_tensor_data(s)[0] == 8.0f, "select(1, 3) is row 3");
    llfc_tensor *c = llfc_tensor_select(a, 1, 3);
    CHECK(c && c->ndim == 1 && c->size[0] == 3 && c->stride[0] == 4, "select(2, 4) is a strided column");
    llfc_tensor *t = llfc_tensor_t(a);
    CHECK(t && t->size[0] == 4 && t->size[1] == 3 && t->stride[0] == 1 && t->stride[1] == 4, "t() swaps sizes and strides");
    CHECK(at2(t, 3, 2) == 11.0f && t->storage == a->storage, "t() shares storage");
    llfc_tensor *ct = llfc_tensor_contiguous(t);
    CHECK(ct && llfc_tensor_is_contiguous(ct) && ct->storage != a->storage && llfc_tensor_data(ct)[1] == 4.0f,
          "contiguous of a transposed view copies in row-major order");
    llfc_tensor *ca = llfc_tensor_contiguous(a);
    CHECK(ca && ca->storage == a->storage, "contiguous of a contiguous tensor shares");
    int64_t sz[3] = {2, -1, 3};
    llfc_tensor *v = llfc_tensor_view(a, 3, sz);
    CHECK(v && v->ndim == 3 && v->size[1] == 2 && v->stride[0] == 6 && v->storage == a->storage,
          "view(2, -1, 3) infers 2 and shares");
    int64_t bad[2] = {5, 2};
    CHECK(!llfc_tensor_view(a, 2, bad) && strstr(llfc_errmsg(), "cannot view 3x4 (12 elements) as 5x2"),
          "view with the wrong count fails: %s", llfc_errmsg());
    int64_t flat = 12;
    CHECK(!llfc_tensor_view(t, 1, &flat) && strstr(llfc_errmsg(), "not contiguous"), "view of a transposed view fails");
    llfc_tensor *r = llfc_tensor_reshape(t, 1, &flat);
    CHECK(r && r->storage != a->storage && llfc_tensor_data(r)[1] == 4.0f, "reshape copies a transposed view");
    CHECK(!llfc_tensor_narrow(a, 0, 2, 2) && strstr(llfc_errmsg(), "dimension 1 of size 3"),
          "narrow past the end fails: %s", llfc_errmsg());
    CHECK(!llfc_tensor_select(a, 2, 0) && strstr(llfc_errmsg(), "dimension 3 out of range for a 2-d tensor"),
          "select on a missing dimension fails: %s", llfc_errmsg());
    CHECK(!llfc_tensor_select(a, 1, 4) && strstr(llfc_errmsg(), "index 5 out of range"),
          "select past the end quotes the 1-based index: %s", llfc_errmsg());
    /* views of views */
    llfc_tensor *nn = llfc_tensor_narrow(t, 0, 1, 2); /* rows 2..3 of a^T */
    CHECK(nn && at2(nn, 0, 0) == -1.0f && at2(nn, 1, 2) == 10.0f, "narrow of a transposed view");
    llfc_tensor *sel0 = llfc_tensor_select(s, 0, 1);
    CHECK(sel0 && sel0->ndim == 0 && llfc_tensor_numel(sel0) == 1 && *llfc_tensor_data(sel0) == 9.0f,
          "selecting from a 1-d tensor gives a 0-d scalar");
    /* the storage outlives its first owner */
    llfc_tensor_free(a);
    CHECK(at2(t, 3, 2) == 11.0f, "views keep the storage alive");
    llfc_tensor *list[] = {n, s, c, t, ct, ca, v, r, nn, sel0};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) llfc_tensor_free(list[i]);
}

static void test_constructors(void)
{
    llfc_tensor *r = llfc_tensor_arange(1, 2, 0.25);
    CHECK(r && r->size[0] == 4 && llfc_tensor_data(r)[3] == 1.75f, "arange(1, 2, 0.25) = 1, 1.25, 1.5, 1.75");
    llfc_tensor_free(r);
    r = llfc_tensor_arange(5, 0, -2);
    CHECK(r && r->size[0] == 3 && llfc_tensor_data(r)[2] == 1.0f, "arange(5, 0, -2) = 5, 3, 1");
    llfc_tensor_free(r);
    CHECK(!llfc_tensor_arange(0, 1, 0), "arange with step 0 fails");
    r = llfc_tensor_linspace(-1, 1, 5);
    CHECK(r && r->size[0] == 5 && llfc_tensor_data(r)[1] == -0.5f && llfc_tensor_data(r)[4] == 1.0f,
          "linspace(-1, 1, 5)");
    llfc_tensor_free(r);
    int64_t sz[2] = {3, 5};
    llfc_tensor *f = llfc_tensor_full(2, sz, 2.5f);
    CHECK(f && llfc_tensor_data(f)[14] == 2.5f, "full fills every element");
    llfc_tensor_free(f);
    llfc_tensor *a = llfc_tensor_rand(2, sz, 7), *b = llfc_tensor_rand(2, sz, 7), *c = llfc_tensor_rand(2, sz, 8);
    CHECK(!memcmp(llfc_tensor_data(a), llfc_tensor_data(b), 15 * sizeof(float)), "rand: same seed, same values");
    CHECK(memcmp(llfc_tensor_data(a), llfc_tensor_data(c), 15 * sizeof(float)), "rand: another seed, other values");
    llfc_rng g;
    llfc_rng_seed(&g, 7);
    CHECK(llfc_tensor_data(a)[0] == llfc_rng_float(&g), "rand is llfc_rng_float from llfc_rng_seed(seed)");
    llfc_tensor_free(a); llfc_tensor_free(b); llfc_tensor_free(c);
    int64_t big[1] = {1000};
    llfc_tensor *n = llfc_tensor_randn(1, big, 3);
    double m = 0;
    llfc_tensor_reduce_all(LLFC_RED_MEAN, n, &m, NULL);
    CHECK(fabs(m) < 0.15, "randn mean is near 0 (%g)", m);
    llfc_tensor_free(n);
    int64_t neg[2] = {2, -3};
    CHECK(!llfc_tensor_new(2, neg) && strstr(llfc_errmsg(), "negative size -3 in dimension 2"), "negative sizes fail");
    int64_t huge[3] = {0, (int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(!llfc_tensor_new(3, huge), "overflowing sizes fail even with a zero dimension");
    int64_t toobig[1] = {(int64_t)1 << 50};
    CHECK(!llfc_tensor_new(1, toobig) && strstr(llfc_errmsg(), "too large"), "more than the machine's memory fails");
}

static void test_elementwise(void)
{
    llfc_tensor *a = iota2(2, 3), *braw = iota2(3, 2), *b = llfc_tensor_t(braw);
    llfc_tensor_free(braw);
    llfc_tensor *s = llfc_tensor_binop(LLFC_BINOP_ADD, a, b); /* b[i][j] = j*2 + i */
    CHECK(s && at2(s, 1, 2) == 5.0f + 5.0f && at2(s, 0, 1) == 1.0f + 2.0f, "a + b with a transposed operand");
    llfc_tensor *d = llfc_tensor_binop_scalar(LLFC_BINOP_DIV, a, 1.0f, 1);
    CHECK(d && isinf(llfc_tensor_data(d)[0]) && llfc_tensor_data(d)[2] == 0.5f, "1 / a");
    llfc_tensor *m = llfc_tensor_binop_scalar(LLFC_BINOP_SUB, a, 10.0f, 1);
    CHECK(m && llfc_tensor_data(m)[5] == 5.0f, "10 - a");
    llfc_tensor *c = llfc_tensor_t(a);
    CHECK(!llfc_tensor_binop(LLFC_BINOP_MUL, a, c) && strstr(llfc_errmsg(), "size mismatch, 2x3 * 3x2"),
          "shape mismatch names both shapes: %s", llfc_errmsg());
    /* in place with alpha, into a strided view */
    llfc_tensor *col = llfc_tensor_select(a, 1, 1); /* 1, 4 */
    llfc_tensor *two = llfc_tensor_new1(2);
    llfc_tensor_fill(two, 2.0f);
    CHECK(llfc_tensor_binop_(LLFC_BINOP_ADD, col, two, -0.5f) == 0 && at2(a, 0, 1) == 0.0f && at2(a, 1, 1) == 3.0f,
          "add(u, -0.5) in place through a strided view");
    /* overlapping in place: x[1:] += x[:-1] sees the old values */
    llfc_tensor *x = llfc_tensor_arange(0, 5, 1);
    llfc_tensor *hi = llfc_tensor_narrow(x, 0, 1, 4), *lo = llfc_tensor_narrow(x, 0, 0, 4);
    llfc_tensor_binop_(LLFC_BINOP_ADD, hi, lo, 1.0f);
    const float *xv = llfc_tensor_data(x);
    CHECK(xv[1] == 1 && xv[2] == 3 && xv[3] == 5 && xv[4] == 7, "overlapping in-place add uses the old values");
    /* square a += a^T */
    llfc_tensor *q = iota2(2, 2), *qt = llfc_tensor_t(q);
    llfc_tensor_binop_(LLFC_BINOP_ADD, q, qt, 1.0f);
    CHECK(at2(q, 0, 1) == 3.0f && at2(q, 1, 0) == 3.0f && at2(q, 1, 1) == 6.0f, "a:add(a:t()) is symmetric");
    llfc_tensor *u = llfc_tensor_unary(LLFC_UNOP_RELU, m); /* 10-a: 10 9 8 7 6 5 -> unchanged */
    llfc_tensor *neg = llfc_tensor_unary(LLFC_UNOP_NEG, u);
    llfc_tensor *r = llfc_tensor_unary(LLFC_UNOP_RELU, neg);
    CHECK(llfc_tensor_data(r)[0] == 0.0f && llfc_tensor_data(u)[0] == 10.0f, "relu and neg");
    llfc_tensor *e = llfc_tensor_unary(LLFC_UNOP_EXP, r), *l = llfc_tensor_unary(LLFC_UNOP_LOG, e);
    CHECK(llfc_tensor_data(e)[0] == 1.0f && llfc_tensor_data(l)[0] == 0.0f, "exp and log");
    llfc_tensor *ab = llfc_tensor_unary(LLFC_UNOP_ABS, neg), *sq = llfc_tensor_unary(LLFC_UNOP_SQRT, ab);
    CHECK(llfc_tensor_data(sq)[1] == 3.0f, "abs and sqrt");
    llfc_tensor *gt = llfc_tensor_cmp_scalar(LLFC_CMP_GT, u, 7.0f), *eq = llfc_tensor_cmp(LLFC_CMP_EQ, u, u);
    double gs, es;
    llfc_tensor_reduce_all(LLFC_RED_SUM, gt, &gs, NULL);
    llfc_tensor_reduce_all(LLFC_RED_SUM, eq, &es, NULL);
    CHECK(gs == 3 && es == 6, "comparison masks are 1/0 floats");
    llfc_tensor *list[] = {a, b, s, d, m, c, col, two, x, hi, lo, q, qt, u, neg, r, e, l, ab, sq, gt, eq};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) llfc_tensor_free(list[i]);
}

static void test_reductions(void)
{
    llfc_tensor *a = llfc_tensor_new2(2, 3);
    float v[6] = {3, -1, 4, 1, 5, -9};
    memcpy(llfc_tensor_data(a), v, sizeof v);
    double x;
    int64_t i;
    llfc_tensor_reduce_all(LLFC_RED_SUM, a, &x, NULL);
    CHECK(x == 3.0, "sum");
    llfc_tensor_reduce_all(LLFC_RED_MEAN, a, &x, NULL);
    CHECK_NEAR(x, 0.5, 1e-12, "mean");
    llfc_tensor_reduce_all(LLFC_RED_MAX, a, &x, &i);
    CHECK(x == 5.0 && i == 4, "max and its flat index");
    llfc_tensor_reduce_all(LLFC_RED_MIN, a, &x, &i);
    CHECK(x == -9.0 && i == 5, "min and its flat index");
    llfc_tensor_reduce_all(LLFC_RED_NORM, a, &x, NULL);
    CHECK_NEAR(x, sqrt(9 + 1 + 16 + 1 + 25 + 81), 1e-12, "norm");
    llfc_tensor *idx, *mx = llfc_tensor_reduce_dim(LLFC_RED_MAX, a, 0, &idx);
    CHECK(mx && mx->ndim == 1 && mx->size[0] == 3 && llfc_tensor_data(mx)[1] == 5 && llfc_tensor_data(idx)[1] == 1 &&
              llfc_tensor_data(idx)[2] == 0, "max over dimension 1 with indices");
    llfc_tensor *sm = llfc_tensor_reduce_dim(LLFC_RED_SUM, a, 1, NULL);
    CHECK(sm && sm->size[0] == 2 && llfc_tensor_data(sm)[0] == 6 && llfc_tensor_data(sm)[1] == -3, "sum over dimension 2");
    llfc_tensor *t = llfc_tensor_t(a), *tm = llfc_tensor_reduce_dim(LLFC_RED_MEAN, t, 0, NULL);
    CHECK(tm && tm->size[0] == 2 && llfc_tensor_data(tm)[0] == 2.0f, "mean over dimension 1 of a transposed view");
    /* 3-d against a naive loop over every dimension */
    int64_t sz[3] = {3, 4, 5};
    llfc_tensor *r = llfc_tensor_randn(3, sz, 11);
    int ok = 1;
    for (int dim = 0; dim < 3; dim++) {
        llfc_tensor *ix, *s = llfc_tensor_reduce_dim(LLFC_RED_SUM, r, dim, NULL);
        llfc_tensor *m = llfc_tensor_reduce_dim(LLFC_RED_MIN, r, dim, &ix);
        llfc_tensor *nr = llfc_tensor_reduce_dim(LLFC_RED_NORM, r, dim, NULL);
        int64_t k = 0;
        for (int64_t p = 0; p < sz[0]; p++)
            for (int64_t q = 0; q < sz[1]; q++)
                for (int64_t w = 0; w < sz[2]; w++) {
                    int64_t id[3] = {p, q, w};
                    if (id[dim] != 0) continue;
                    double acc = 0, sq = 0, best = INFINITY;
                    int64_t bi = 0;
                    for (int64_t j = 0; j < sz[dim]; j++) {
                        id[dim] = j;
                        double e = *llfc_tensor_ptr(r, id);
                        acc += e; sq += e * e;
                        if (e < best) { best = e; bi = j; }
                    }
                    const float *sv = llfc_tensor_data(s), *mv = llfc_tensor_data(m), *iv = llfc_tensor_data(ix);
                    if (fabs(sv[k] - acc) > 1e-5 || mv[k] != (float)best || iv[k] != bi ||
                        fabs(llfc_tensor_data(nr)[k] - sqrt(sq)) > 1e-5) ok = 0;
                    k++;
                }
        ok &= k == llfc_tensor_numel(s);
        llfc_tensor_free(s); llfc_tensor_free(m); llfc_tensor_free(ix); llfc_tensor_free(nr);
    }
    CHECK(ok, "sum, min (with indices) and norm over each dimension of a 3x4x5 tensor match a naive loop");
    llfc_tensor *one = llfc_tensor_arange(0, 4, 1), *s0 = llfc_tensor_reduce_dim(LLFC_RED_SUM, one, 0, NULL);
    CHECK(s0 && s0->ndim == 0 && *llfc_tensor_data(s0) == 6.0f, "sum over the only dimension is 0-d");
    /* a = [3 -1 4; 1 5 -9], a^T row-major = 3 1 -1 5 4 -9 */
    CHECK(llfc_tensor_dot(a, t, &x) == 0 && x == 9 - 1 - 4 + 5 + 20 + 81,
          "dot runs over row-major elements of each operand");
    llfc_tensor *e = llfc_tensor_new1(0);
    CHECK(llfc_tensor_reduce_all(LLFC_RED_MAX, e, &x, &i) == -1 && strstr(llfc_errmsg(), "empty"), "max of nothing fails");
    CHECK(llfc_tensor_reduce_all(LLFC_RED_SUM, e, &x, NULL) == 0 && x == 0, "sum of nothing is 0");
    llfc_tensor *nanv = llfc_tensor_arange(0, 3, 1);
    llfc_tensor_data(nanv)[1] = NAN;
    llfc_tensor_reduce_all(LLFC_RED_MAX, nanv, &x, &i);
    CHECK(isnan(x) && i == 1, "max propagates NaN");
    llfc_tensor *list[] = {a, mx, idx, sm, t, tm, r, one, s0, e, nanv};
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) llfc_tensor_free(list[k]);
}

/* C = A @ B by a naive loop over any strides (A: MxK, B: KxN 2-d views). */
static int mm_matches(const llfc_tensor *A, const llfc_tensor *B, const llfc_tensor *C)
{
    int64_t M = A->size[0], K = A->size[1], N = B->size[1];
    if (C->ndim != 2 || C->size[0] != M || C->size[1] != N) return 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (double)at2(A, i, k) * at2(B, k, j);
            if (fabs(acc - at2(C, i, j)) > 1e-4 * (1 + fabs(acc))) return 0;
        }
    return 1;
}

static void test_mm(void)
{
    llfc_rng g;
    llfc_rng_seed(&g, 5);
    int64_t shapes[][3] = {{1, 1, 1}, {1, 9, 4}, {9, 1, 4}, {7, 5, 1}, {4, 6, 9}, {0, 3, 2}, {3, 0, 2},
                           {3, 2, 0}, {33, 17, 40}, {1, 20, 1}};
    int nshapes = sizeof shapes / sizeof shapes[0];
    for (int s = 0; s < nshapes; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int variant = 0; variant < 4; variant++) {
            /* variant bit 0: A is a transposed view; bit 1: B is a narrowed
             * view of a wider matrix (row stride > N) or a transposed one */
            int64_t sa[2] = {variant & 1 ? K : M, variant & 1 ? M : K};
            llfc_tensor *Araw = llfc_tensor_randn(2, sa, llfc_rng_next(&g));
            llfc_tensor *A = variant & 1 ? llfc_tensor_t(Araw) : llfc_tensor_share(Araw);
            int64_t sb[2] = {K, N + 3};
            llfc_tensor *Braw = llfc_tensor_randn(2, sb, llfc_rng_next(&g));
            llfc_tensor *B = variant & 2 ? llfc_tensor_narrow(Braw, 1, 2, N) : llfc_tensor_narrow(Braw, 1, 0, N);
            llfc_tensor *C = llfc_tensor_mm(A, B);
            CHECK(C && mm_matches(A, B, C), "mm %lldx%lld @ %lldx%lld (variant %d) matches a naive loop",
                  (long long)M, (long long)K, (long long)K, (long long)N, variant);
            llfc_tensor *Bt = llfc_tensor_contiguous(B), *Btt = llfc_tensor_t(Bt);
            llfc_tensor *Bc = llfc_tensor_clone(Btt), *Bv = llfc_tensor_t(Bc); /* B as a transposed view */
            llfc_tensor *C2 = llfc_tensor_mm(A, Bv);
            CHECK(C2 && mm_matches(A, Bv, C2), "mm with B a transposed view, %lldx%lldx%lld variant %d",
                  (long long)M, (long long)N, (long long)K, variant);
            llfc_tensor *list[] = {Araw, A, Braw, B, C, Bt, Btt, Bc, Bv, C2};
            for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) llfc_tensor_free(list[k]);
        }
    }
    /* matrix-vector and vector-matrix with a strided vector */
    int64_t s35[2] = {3, 5};
    llfc_tensor *A = llfc_tensor_randn(2, s35, 1), *V = llfc_tensor_randn(2, s35, 2);
    llfc_tensor *col = llfc_tensor_select(V, 0, 1); /* 5 contiguous */
    llfc_tensor *vcol = llfc_tensor_select(V, 1, 2); /* 3, stride 5 */
    llfc_tensor *y = llfc_tensor_mm(A, col), *z = llfc_tensor_mm(vcol, A);
    int ok = y && z && y->ndim == 1 && y->size[0] == 3 && z->ndim == 1 && z->size[0] == 5;
    for (int i = 0; ok && i < 3; i++) {
        double acc = 0;
        for (int k = 0; k < 5; k++) acc += (double)at2(A, i, k) * llfc_tensor_data(col)[k];
        ok &= fabs(acc - llfc_tensor_data(y)[i]) < 1e-5;
    }
    for (int j = 0; ok && j < 5; j++) {
        double acc = 0;
        for (int i = 0; i < 3; i++) acc += (double)at2(V, i, 2) * at2(A, i, j);
        ok &= fabs(acc - llfc_tensor_data(z)[j]) < 1e-5;
    }
    CHECK(ok, "matrix-vector and vector-matrix (strided vector) match naive loops");
    int64_t s34[2] = {3, 4}, s52[2] = {5, 2};
    llfc_tensor *p = llfc_tensor_new(2, s34), *q = llfc_tensor_new(2, s52);
    CHECK(!llfc_tensor_mm(p, q) && !strcmp(llfc_errmsg(), "size mismatch, 3x4 @ 5x2"), "mm mismatch: %s", llfc_errmsg());
    CHECK(!llfc_tensor_mm(col, col) && strstr(llfc_errmsg(), "use dot"), "mm of two vectors points to dot");
    llfc_tensor *list[] = {A, V, col, vcol, y, z, p, q};
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) llfc_tensor_free(list[k]);
}

/* ---- npy ------------------------------------------------------------------------ */

static char tmpdir[64];

static char *tpath(const char *name)
{
    static char buf[160];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Write a .npy file with the given header dict and raw data. */
static void write_npy(const char *path, int major, const char *dict, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t hl = strlen(dict);
    fwrite("\x93NUMPY", 1, 6, f);
    unsigned char v[2] = {(unsigned char)major, 0};
    fwrite(v, 1, 2, f);
    if (major == 1) {
        unsigned char l[2] = {(unsigned char)(hl & 255), (unsigned char)(hl >> 8)};
        fwrite(l, 1, 2, f);
    } else {
        unsigned char l[4] = {(unsigned char)(hl & 255), (unsigned char)(hl >> 8), 0, 0};
        fwrite(l, 1, 4, f);
    }
    fwrite(dict, 1, hl, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void test_npy(void)
{
    strcpy(tmpdir, "/tmp/llfc_npyXXXXXX");
    if (!mkdtemp(tmpdir)) { CHECK(0, "mkdtemp"); return; }
    int64_t sz[3] = {2, 3, 4};
    llfc_tensor *a = llfc_tensor_randn(3, sz, 9), *v = llfc_tensor_transpose(a, 0, 2);
    CHECK(llfc_npy_save(tpath("a.npy"), v) == 0, "save a transposed 4x3x2 view");
    llfc_tensor *b = llfc_npy_load(tpath("a.npy"));
    llfc_tensor *vc = llfc_tensor_contiguous(v);
    CHECK(b && llfc_tensor_same_shape(b, v) && !memcmp(llfc_tensor_data(b), llfc_tensor_data(vc), 24 * sizeof(float)),
          "npy round trip keeps shape and values");
    FILE *f = fopen(tpath("a.npy"), "rb");
    char head[256] = {0};
    size_t got = fread(head, 1, 255, f);
    fseek(f, 0, SEEK_END);
    long fsz = ftell(f);
    fclose(f);
    CHECK(got > 10 && strstr(head + 10, "'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 2), }") &&
              (fsz - 24 * 4) % 64 == 0 && head[(fsz - 24 * 4) - 1] == '\n',
          "the header is numpy's, padded to 64 bytes, newline-terminated");
    llfc_tensor *sc = llfc_tensor_full(0, NULL, 3.5f), *e1 = llfc_tensor_new1(5);
    int64_t ez[2] = {0, 3};
    llfc_tensor *e0 = llfc_tensor_new(2, ez);
    llfc_npy_save(tpath("s.npy"), sc);
    llfc_npy_save(tpath("e.npy"), e0);
    llfc_npy_save(tpath("v.npy"), e1);
    llfc_tensor *lsc = llfc_npy_load(tpath("s.npy")), *le = llfc_npy_load(tpath("e.npy")), *lv = llfc_npy_load(tpath("v.npy"));
    CHECK(lsc && lsc->ndim == 0 && *llfc_tensor_data(lsc) == 3.5f, "0-d round trip");
    CHECK(le && le->ndim == 2 && le->size[0] == 0 && le->size[1] == 3, "empty 0x3 round trip");
    CHECK(lv && lv->ndim == 1 && lv->size[0] == 5, "1-d round trip ('shape': (5,))");
    int leftover = 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", tmpdir);
    leftover = system(cmd) == 0;
    CHECK(!leftover, "no temporary files are left behind");
    CHECK(llfc_npy_save("/nonexistent-dir/x.npy", a) == -1 && strstr(llfc_errmsg(), "/nonexistent-dir/x.npy"),
          "saving into a missing directory fails naming the file: %s", llfc_errmsg());

    /* other dtypes, written by hand */
    double d8[3] = {1.5, -2.25, 1e10};
    write_npy(tpath("f8.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", d8, sizeof d8);
    llfc_tensor *t = llfc_npy_load(tpath("f8.npy"));
    CHECK(t && t->size[0] == 3 && llfc_tensor_data(t)[1] == -2.25f && llfc_tensor_data(t)[2] == 1e10f, "float64 -> float32");
    llfc_tensor_free(t);
    int64_t i8[4] = {-3, 0, 7, 1 << 20};
    write_npy(tpath("i8.npy"), 2, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2, 2)}", i8, sizeof i8);
    t = llfc_npy_load(tpath("i8.npy"));
    CHECK(t && t->ndim == 2 && llfc_tensor_data(t)[0] == -3.0f && llfc_tensor_data(t)[3] == 1048576.0f,
          "int64 in a version 2.0 file with double quotes");
    llfc_tensor_free(t);
    int32_t i4[2] = {-5, 6};
    write_npy(tpath("i4.npy"), 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }", i4, sizeof i4);
    t = llfc_npy_load(tpath("i4.npy"));
    CHECK(t && llfc_tensor_data(t)[0] == -5.0f && t->size[1] == 1, "int32");
    llfc_tensor_free(t);
    unsigned char u1[3] = {0, 128, 255};
    write_npy(tpath("u1.npy"), 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", u1, 3);
    t = llfc_npy_load(tpath("u1.npy"));
    CHECK(t && llfc_tensor_data(t)[2] == 255.0f && llfc_tensor_data(t)[1] == 128.0f, "uint8");
    llfc_tensor_free(t);
    write_npy(tpath("b1.npy"), 1, "{'descr': '|b1', 'fortran_order': True, 'shape': (3,), }", u1, 3);
    t = llfc_npy_load(tpath("b1.npy"));
    CHECK(t && llfc_tensor_data(t)[0] == 0.0f && llfc_tensor_data(t)[1] == 1.0f, "bool; 1-d Fortran order is C order");
    llfc_tensor_free(t);

    /* malformed files: each error names the file and the problem */
    float f4[6] = {0};
    struct { const char *name; int major; const char *dict; size_t n; const char *msg; } bad[] = {
        {"fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "Fortran-order"},
        {"big.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "big-endian"},
        {"obj.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "object arrays"},
        {"c8.npy", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24, "unsupported dtype '<c8'"},
        {"short.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 24, "truncated data"},
        {"nokey.npy", 1, "{'descr': '<f4', 'shape': (6,), }", 24, "missing 'fortran_order'"},
        {"extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", 24, "unexpected key 'x'"},
        {"shape.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, "non-negative integers"},
        {"dims.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, "more than 8"},
        {"huge.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 24, "too large"},
        {"dict.npy", 1, "['descr']", 24, "expected '{'"},
        {"ver.npy", 4, "{}", 0, "version 4.0"},
        {"struct.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, "structured"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_npy(tpath(bad[k].name), bad[k].major, bad[k].dict, f4, bad[k].n);
        t = llfc_npy_load(tpath(bad[k].name));
        CHECK(!t && strstr(llfc_errmsg(), bad[k].msg) && strstr(llfc_errmsg(), bad[k].name),
              "%s is refused: %s", bad[k].name, llfc_errmsg());
        llfc_tensor_free(t);
    }
    f = fopen(tpath("magic.npy"), "wb");
    fputs("PK\x03\x04 this is a zip", f);
    fclose(f);
    CHECK(!llfc_npy_load(tpath("magic.npy")) && strstr(llfc_errmsg(), "bad magic"), "a non-npy file: %s", llfc_errmsg());
    f = fopen(tpath("cut.npy"), "wb");
    fwrite("\x93NUMPY\x01\x00\x40\x00{'descr'", 1, 19, f);
    fclose(f);
    CHECK(!llfc_npy_load(tpath("cut.npy")) && strstr(llfc_errmsg(), "truncated .npy header"), "a cut header: %s", llfc_errmsg());
    CHECK(!llfc_npy_load(tpath("missing.npy")) && strstr(llfc_errmsg(), "cannot open"), "a missing file: %s", llfc_errmsg());

    llfc_tensor *list[] = {a, v, b, vc, sc, e1, e0, lsc, le, lv};
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) llfc_tensor_free(list[k]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
}

static void test_format(void)
{
    llfc_tensor *a = llfc_tensor_arange(0, 20, 1);
    char buf[256];
    CHECK(!strcmp(llfc_tensor_summary(a, buf, sizeof buf), "Tensor 20 float32 [0, 1, 2, 3, 4, 5, ...]"),
          "one-line summary: %s", buf);
    char *s = llfc_tensor_format(a);
    CHECK(s && strstr(s, " 0  1  2 ... 17 18 19\n[Tensor 20 float32]"), "print abbreviates long rows");
    free(s);
    llfc_tensor_free(a);
}

int main(void)
{
    test_views();
    test_constructors();
    test_elementwise();
    test_reductions();
    test_mm();
    test_npy();
    test_format();
    return check_summary();
}
