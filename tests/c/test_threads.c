/* test_threads.c - llfc_parallel_for and its pool, products split between
 * the pool's threads, and the kernels that use it giving bit-identical
 * results with one and more threads (BatchNorm, max pooling). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "nn/kernels/layers.h"

/* ---- llfc_parallel_for covers [0, n) exactly once ---------------------------- */
struct cover { int64_t n; unsigned char *hits; int calls; int bad; };

static void mark(void *ud, int64_t lo, int64_t hi)
{
    struct cover *c = ud;
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    if (lo < 0 || hi > c->n || lo >= hi) { __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED); return; }
    for (int64_t i = lo; i < hi; i++) c->hits[i]++;
}

static void check_cover(int64_t n, int64_t minpt, int want_threads)
{
    struct cover c = {n, calloc((size_t)(n > 0 ? n : 1), 1), 0, 0};
    int used = llfc_parallel_for(n, minpt, mark, &c);
    int once = !c.bad;
    for (int64_t i = 0; i < n; i++) once &= c.hits[i] == 1;
    CHECK(once, "parallel_for n=%lld min=%lld: every index exactly once", (long long)n, (long long)minpt);
    CHECK(used == want_threads && c.calls == want_threads,
          "parallel_for n=%lld min=%lld: %d threads, %d calls (want %d)", (long long)n, (long long)minpt, used,
          c.calls, want_threads);
    free(c.hits);
}

/* ---- parts of n: sizes differ by at most one, in order ------------------------- */
struct parts { int64_t lo[64], hi[64]; int k; };

static void record(void *ud, int64_t lo, int64_t hi)
{
    struct parts *p = ud;
    int k = __atomic_fetch_add(&p->k, 1, __ATOMIC_RELAXED);
    if (k < 64) p->lo[k] = lo, p->hi[k] = hi;
}

static void check_parts(int threads, int64_t n, int64_t minpt, int want)
{
    llfc_blas_set_threads(threads);
    struct parts p = {{0}, {0}, 0};
    int used = llfc_parallel_for(n, minpt, record, &p);
    int ok = used == want && p.k == want && llfc_parallel_parts(n, minpt) == want;
    int64_t mn = n, mx = 0;
    for (int i = 0; i < p.k && i < 64; i++) {
        int64_t len = p.hi[i] - p.lo[i];
        if (len < mn) mn = len;
        if (len > mx) mx = len;
        ok &= len >= (want > 1 ? minpt : 0);
    }
    ok &= mx - mn <= 1;
    CHECK(ok, "%d threads, n=%lld min=%lld: %d parts of %lld..%lld (want %d)", threads, (long long)n,
          (long long)minpt, used, (long long)mn, (long long)mx, want);
}

/* a parallel_for inside a part runs its range on the part's thread */
struct nest { int inner_ok[64]; int k; struct cover *c; };

static void inner(void *ud, int64_t lo, int64_t hi)
{
    struct nest *z = ud;
    for (int64_t i = lo; i < hi; i++) z->c->hits[i]++;
    unsigned char h[50] = {0};
    struct cover c = {50, h, 0, 0};
    int used = llfc_parallel_for(50, 1, mark, &c);
    int ok = used == 1 && c.calls == 1 && !c.bad && llfc_parallel_parts(1000, 1) == 1;
    for (int i = 0; i < 50; i++) ok &= h[i] == 1;
    int k = __atomic_fetch_add(&z->k, 1, __ATOMIC_RELAXED);
    if (k < 64) z->inner_ok[k] = ok;
}

static void check_nested(void)
{
    llfc_blas_set_threads(2);
    unsigned char hits[100] = {0};
    struct cover c = {100, hits, 0, 0};
    struct nest z = {{0}, 0, &c};
    int used = llfc_parallel_for(100, 1, inner, &z);
    int ok = used == 2 && z.k == 2;
    for (int i = 0; i < z.k && i < 64; i++) ok &= z.inner_ok[i];
    for (int i = 0; i < 100; i++) ok &= hits[i] == 1;
    CHECK(ok, "parallel_for inside a part: one part there (outer used %d parts, %d inner calls)", used, z.k);
}

/* ---- products split between threads: right, and the same bits on every run ----
 * (not the same bits as one thread: OpenBLAS's kernels round an element
 * differently depending on where its tile falls, with or without llfc) */
static int same(const float *a, const float *b, size_t n);

static void check_split_gemm(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *B = malloc(nb * 4), *C0 = malloc(nc * 4), *C1 = malloc(nc * 4), *C3 = malloc(nc * 4);
    float *C4 = malloc(nc * 4), *Cin = malloc(nc * 4);
    for (size_t i = 0; i < na; i++) A[i] = 2 * llfc_rng_float(&r) - 1;
    for (size_t i = 0; i < nb; i++) B[i] = 2 * llfc_rng_float(&r) - 1;
    for (size_t i = 0; i < nc; i++) Cin[i] = C0[i] = C1[i] = C3[i] = C4[i] = 2 * llfc_rng_float(&r) - 1;
    llfc_blas_set_threads(2);
    int parts = llfc_parallel_parts(((N >= M ? N : M) + 15) / 16, 2);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
    llfc_blas_set_threads(3);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C3, ldc);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C4, ldc);
    /* the padding of C untouched; a double-precision reference from the original C */
    double err = 0;
    int pad_ok = 1;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++)
            pad_ok &= C0[(size_t)i * ldc + j] == Cin[(size_t)i * ldc + j] &&
                      C3[(size_t)i * ldc + j] == Cin[(size_t)i * ldc + j];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double c = Cin[(size_t)i * ldc + j];
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            double want = alpha * s + beta * c;
            double d = fmax(fabs(C0[(size_t)i * ldc + j] - want), fabs(C3[(size_t)i * ldc + j] - want));
            if (d > err) err = d;
        }
    CHECK(parts >= 2 || (long long)M * N * K < (1L << 19) || llfc_threads() < 2,
          "gemm %c%c %dx%dx%d: split between %d threads", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, parts);
    CHECK(same(C0, C1, nc) && same(C3, C4, nc) && pad_ok,
          "gemm %c%c %dx%dx%d alpha %g beta %g: 2 and 3 threads give the same bits on every call, C's padding "
          "untouched", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, beta);
    CHECK(err < 1e-4 * sqrt((double)K), "gemm %c%c %dx%dx%d: max |error| %.3g against double", ta ? 'T' : 'N',
          tb ? 'T' : 'N', M, N, K, err);
    free(A), free(B), free(C0), free(C1), free(C3), free(C4), free(Cin);
}

/* ---- a forked child has its own pool ------------------------------------------- */
static void check_fork(void)
{
    llfc_blas_set_threads(2);
    unsigned char h0[64] = {0};
    struct cover c0 = {64, h0, 0, 0};
    llfc_parallel_for(64, 1, mark, &c0);   /* the parent's workers exist now */
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char h[1000] = {0};
        struct cover c = {1000, h, 0, 0};
        int used = llfc_parallel_for(1000, 1, mark, &c);
        int ok = used == 2 && c.calls == 2 && !c.bad;
        for (int i = 0; i < 1000; i++) ok &= h[i] == 1;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "parallel_for in a forked child runs on the child's own threads (status %d)", status);
}

/* ---- kernels: run with 1 and 2 threads, compare bits -------------------------- */
static float *rnd(llfc_rng *r, size_t n, float lo, float hi)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * llfc_rng_float(r);
    return x;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

struct bn_out { float *out, *outr, *mean, *rstd, *rm, *rv, *eval, *evalr, *din, *dinr, *dw, *db, *dine; };

static void bn_run(struct bn_out *o, int threads, const float *x, const float *g, const float *w, const float *b,
                   int N, int C, int H, int W)
{
    size_t n = (size_t)N * C * H * W;
    llfc_blas_set_threads(threads);
    o->out = malloc(n * 4), o->outr = malloc(n * 4), o->eval = malloc(n * 4), o->evalr = malloc(n * 4);
    o->din = malloc(n * 4), o->dinr = malloc(n * 4), o->dine = malloc(n * 4);
    o->mean = malloc(C * 4), o->rstd = malloc(C * 4), o->rm = malloc(C * 4), o->rv = malloc(C * 4);
    o->dw = malloc(4 * C * 4), o->db = malloc(4 * C * 4);
    for (int c = 0; c < C; c++) o->rm[c] = 0.1f * c, o->rv[c] = 1.0f + 0.5f * c;
    for (int c = 0; c < 4 * C; c++) o->dw[c] = 0.25f * c, o->db[c] = -0.5f * c;
    int rc = llfc_batchnorm2d_forward_train(o->out, o->mean, o->rstd, o->rm, o->rv, x, w, b, N, C, H, W, 0.1f, 1e-5f);
    rc |= llfc_batchnorm2d_forward_train_relu(o->outr, NULL, NULL, NULL, NULL, x, w, b, N, C, H, W, 0.1f, 1e-5f);
    rc |= llfc_batchnorm2d_forward_eval(o->eval, x, w, b, o->rm, o->rv, N, C, H, W, 1e-5f);
    rc |= llfc_batchnorm2d_forward_eval_relu(o->evalr, x, w, b, o->rm, o->rv, N, C, H, W, 1e-5f);
    rc |= llfc_batchnorm2d_backward_train(o->din, o->dw, o->db, g, x, w, o->mean, o->rstd, N, C, H, W);
    rc |= llfc_batchnorm2d_backward_train_relu(o->dinr, o->dw + C, o->db + C, g, o->outr, x, w, o->mean, o->rstd,
                                               N, C, H, W);
    rc |= llfc_batchnorm2d_backward_eval(o->dine, o->dw + 2 * C, o->db + 2 * C, g, x, w, o->rm, o->rv, N, C, H, W,
                                         1e-5f);
    rc |= llfc_batchnorm2d_backward_train(NULL, o->dw + 3 * C, o->db + 3 * C, g, x, NULL, o->mean, o->rstd,
                                          N, C, H, W);
    CHECK(rc == 0, "batchnorm %dx%dx%dx%d with %d thread(s) runs", N, C, H, W, threads);
}

static void bn_free(struct bn_out *o)
{
    float **p[] = {&o->out, &o->outr, &o->mean, &o->rstd, &o->rm, &o->rv, &o->eval, &o->evalr, &o->din,
                   &o->dinr, &o->dw, &o->db, &o->dine};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(*p[i]);
}

static void check_bn(int N, int C, int H, int W, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    size_t n = (size_t)N * C * H * W;
    float *x = rnd(&r, n, -2, 3), *g = rnd(&r, n, -1, 1), *w = rnd(&r, C, 0.5f, 1.5f), *b = rnd(&r, C, -1, 1);
    struct bn_out a, t;
    bn_run(&a, 1, x, g, w, b, N, C, H, W);
    bn_run(&t, 2, x, g, w, b, N, C, H, W);
    const char *s = "bn 1 vs 2 threads";
    CHECK(same(a.out, t.out, n) && same(a.mean, t.mean, C) && same(a.rstd, t.rstd, C), "%s %dx%dx%dx%d: forward_train", s, N, C, H, W);
    CHECK(same(a.rm, t.rm, C) && same(a.rv, t.rv, C), "%s %dx%dx%dx%d: running stats", s, N, C, H, W);
    CHECK(same(a.outr, t.outr, n), "%s %dx%dx%dx%d: forward_train_relu", s, N, C, H, W);
    CHECK(same(a.eval, t.eval, n) && same(a.evalr, t.evalr, n), "%s %dx%dx%dx%d: forward_eval (+relu)", s, N, C, H, W);
    CHECK(same(a.din, t.din, n) && same(a.dinr, t.dinr, n) && same(a.dine, t.dine, n),
          "%s %dx%dx%dx%d: backward_train (+relu), backward_eval din", s, N, C, H, W);
    CHECK(same(a.dw, t.dw, 4 * C) && same(a.db, t.db, 4 * C), "%s %dx%dx%dx%d: dweight, dbias", s, N, C, H, W);
    /* the fused relu really is relu of the plain forward */
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= t.outr[i] == (t.out[i] > 0 ? t.out[i] : 0.0f);
    CHECK(ok, "bn %dx%dx%dx%d: forward_train_relu = relu(forward_train) with 2 threads", N, C, H, W);
    bn_free(&a), bn_free(&t);
    free(x), free(g), free(w), free(b);
}

static void check_maxpool(int N, int C, int H, int W, int k, int stride, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    int P = (H - k) / stride + 1, Q = (W - k) / stride + 1;
    size_t n = (size_t)N * C * H * W, m = (size_t)N * C * P * Q;
    float *x = rnd(&r, n, -1, 1), *g = rnd(&r, m, -1, 1);
    float *o[2], *d[2];
    int32_t *ix[2];
    int rc = 0;
    for (int t = 0; t < 2; t++) {
        llfc_blas_set_threads(t + 1);
        o[t] = malloc(m * 4), d[t] = malloc(n * 4), ix[t] = malloc(m * 4);
        rc |= llfc_maxpool2d_forward(o[t], ix[t], x, N, C, H, W, k, stride);
        rc |= llfc_maxpool2d_backward(d[t], g, ix[t], N, C, H, W, k, stride);
    }
    CHECK(rc == 0, "maxpool %dx%dx%dx%d k%d s%d runs", N, C, H, W, k, stride);
    CHECK(same(o[0], o[1], m) && memcmp(ix[0], ix[1], m * 4) == 0, "maxpool %dx%dx%dx%d k%d s%d: forward 1 vs 2 threads",
          N, C, H, W, k, stride);
    CHECK(same(d[0], d[1], n), "maxpool %dx%dx%dx%d k%d s%d: backward 1 vs 2 threads", N, C, H, W, k, stride);
    /* independent reference: each output is the max of its window */
    int ok = 1;
    for (size_t nc = 0; nc < (size_t)N * C; nc++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float mx = -1e30f;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        float v = x[nc * H * W + (size_t)(p * stride + i) * W + q * stride + j];
                        mx = v > mx ? v : mx;
                    }
                ok &= o[1][nc * P * Q + p * Q + q] == mx;
            }
    CHECK(ok, "maxpool %dx%dx%dx%d k%d s%d: 2-thread output = window maxima", N, C, H, W, k, stride);
    for (int t = 0; t < 2; t++) free(o[t]), free(d[t]), free(ix[t]);
    free(x), free(g);
}

int main(void)
{
    int saved = llfc_blas_get_threads();
    llfc_blas_set_threads(2);
    int two = llfc_blas_get_threads() >= 2 ? 2 : 1;   /* a single-threaded BLAS build stays at 1 */
    check_cover(0, 1, 0);
    check_cover(1, 1, 1);
    check_cover(2, 1, two);
    check_cover(7, 1, two);
    check_cover(7, 3, two);
    check_cover(7, 4, 1);          /* 7 < 2 * 4: one call */
    check_cover(8, 4, two);
    check_cover(1001, 0, two);     /* min_per_thread < 1 counts as 1 */
    check_cover(1001, -5, two);
    check_cover(1001, 501, 1);
    check_cover(1001, 500, two);
    llfc_blas_set_threads(1);
    check_cover(1001, 1, 1);       /* one configured thread: no extra thread */
    check_cover(2, 1, 1);

    check_parts(3, 9, 1, 3);
    check_parts(3, 10, 4, 2);      /* 10 / 4 = 2 parts of at least 4 */
    check_parts(4, 1000, 1, 4);
    check_parts(4, 7, 2, 3);
    check_parts(2, 1001, 1, 2);
    check_parts(4, 3, 2, 1);
    check_nested();
    check_fork();
    /* the shapes of an MLP step and evaluation, odd ones, every transposition */
    check_split_gemm(0, 1, 128, 512, 784, 1.0f, 0.0f, 0, 11);
    check_split_gemm(1, 0, 512, 784, 128, 1.0f, 0.0f, 0, 12);
    check_split_gemm(0, 0, 128, 784, 512, 1.0f, 0.0f, 0, 13);
    check_split_gemm(1, 1, 200, 77, 300, 0.5f, 0.25f, 3, 14);
    check_split_gemm(0, 1, 1000, 37, 129, -1.5f, 1.0f, 5, 15);
    check_split_gemm(0, 0, 33, 1001, 65, 1.0f, -2.0f, 1, 16);
    check_split_gemm(1, 0, 20, 20, 20, 1.0f, 0.0f, 0, 17);   /* too small to split */

    check_bn(8, 5, 64, 64, 1);     /* 32768 values per channel, odd channel count */
    check_bn(33, 7, 31, 31, 2);    /* hw not a multiple of 16, two channels per thread at least */
    check_bn(128, 16, 32, 32, 3);  /* ResNet-20 stage 1 */
    check_bn(3, 1, 2, 2, 4);       /* tiny: one thread */
    check_maxpool(4, 9, 64, 64, 2, 2, 5);
    check_maxpool(3, 11, 63, 63, 3, 2, 6);
    check_maxpool(64, 5, 32, 32, 2, 2, 7);
    llfc_blas_set_threads(saved);
    return check_summary();
}
