/* test_layers.c - conv2d, pooling and normalisation kernels (src/nn/kernels/layers.h).
 *
 * Forward passes against naive loops and hand-computed values; every backward
 * pass against central finite differences of L = sum(out * G) for a random G,
 * the loss accumulated in double. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "nn/kernels/layers.h"

static llfc_rng rng;

static float *randbuf(size_t n, double scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * llfc_rng_normal(&rng));
    return p;
}

static double maxabs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

/* ---- finite differences ------------------------------------------------------
 * A layer under test is a forward function writing `out` from the current
 * contents of its buffers; dot() with G gives the loss. */
typedef struct fdctx fdctx;
struct fdctx {
    void (*forward)(fdctx *);
    float *out, *G;
    size_t nout;
    /* layer buffers and shape */
    float *in, *w, *b, *m, *r;
    int N, C, H, W, K, R, S, stride, pad;
    float eps;
};

static double loss(fdctx *t)
{
    t->forward(t);
    double acc = 0;
    for (size_t i = 0; i < t->nout; i++) acc += (double)t->out[i] * t->G[i];
    return acc;
}

/* Max |grad - fd| over x[0..n) relative to max |fd| (returned), central differences. */
static double fd_error(fdctx *t, float *x, size_t n, const float *grad, double h, double *scale)
{
    double err = 0, big = 0;
    float *fd = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = (float)(keep + h);
        double hp = (double)x[i] - keep;
        double lp = loss(t);
        x[i] = (float)(keep - h);
        double hm = keep - (double)x[i];
        double lm = loss(t);
        x[i] = keep;
        fd[i] = (float)((lp - lm) / (hp + hm));
    }
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)grad[i] - fd[i]);
        if (e > err) err = e;
        if (fabs(fd[i]) > big) big = fabs(fd[i]);
    }
    free(fd);
    if (scale) *scale = big;
    return big > 0 ? err / big : err;
}

/* ---- conv2d --------------------------------------------------------------------- */

static void conv_naive(double *out, const float *in, const float *w, const float *b,
                       int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                       int P, int Q)
{
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    double acc = b ? b[k] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++)
                            for (int s = 0; s < S; s++) {
                                int h = p * stride - pad + r, x = q * stride - pad + s;
                                if (h < 0 || h >= H || x < 0 || x >= W) continue;
                                acc += (double)w[((k * C + c) * R + r) * S + s]
                                       * in[((n * C + c) * H + h) * W + x];
                            }
                    out[((n * K + k) * P + p) * Q + q] = acc;
                }
}

static void conv_fwd(fdctx *t)
{
    llfc_conv2d_forward(t->out, t->in, t->w, t->b, t->N, t->C, t->H, t->W, t->K, t->R, t->S,
                        t->stride, t->pad, NULL);
}

static const int conv_shapes[][9] = {
    /* N  C  H  W  K  R  S  stride pad */
    {1, 1, 5, 5, 1, 3, 3, 1, 0},
    {3, 2, 7, 5, 4, 3, 3, 2, 1},
    {3, 3, 6, 7, 5, 1, 1, 1, 0},   /* pointwise */
    {2, 3, 5, 5, 2, 1, 1, 2, 0},   /* 1x1 stride 2 */
    {1, 2, 4, 4, 3, 4, 4, 1, 1},   /* kernel as big as the input */
    {3, 2, 9, 8, 3, 3, 2, 3, 2},   /* non-square kernel, stride 3, pad 2 */
    {2, 1, 3, 3, 2, 5, 5, 1, 1},   /* kernel larger than input, fits with padding */
    {3, 3, 7, 5, 2, 3, 3, 1, 1},   /* 3x3 pad 1: output rows as long as input rows */
    {1, 2, 6, 5, 3, 5, 5, 1, 2},   /* 5x5 pad 2, same */
    {2, 2, 6, 5, 3, 5, 3, 1, 1},   /* 5x3 pad 1: same width, shorter height */
    {1, 2, 2, 3, 2, 4, 3, 1, 1},   /* 4x3 pad 1 on a 2x3 input: one output row */
};

static void test_conv_shape(const int *sh, int bias, size_t chunk)
{
    int N = sh[0], C = sh[1], H = sh[2], W = sh[3], K = sh[4], R = sh[5], S = sh[6];
    int stride = sh[7], pad = sh[8];
    int P = llfc_conv2d_outsize(H, R, stride, pad), Q = llfc_conv2d_outsize(W, S, stride, pad);
    llfc_conv2d_set_chunk(chunk);
    char name[128];
    snprintf(name, sizeof name, "conv %dx%dx%dx%d -> %d, %dx%d s%d p%d%s%s%s", N, C, H, W, K, R,
             S, stride, pad, bias ? " bias" : "", chunk ? " (batched)" : "",
             llfc_conv2d_get_backend() == LLFC_CONV_IM2COL ? "" : " (oneDNN)");
    size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * R * S, nout = (size_t)N * K * P * Q;
    fdctx t = {conv_fwd, NULL, NULL, nout, NULL, NULL, NULL, NULL, NULL,
               N, C, H, W, K, R, S, stride, pad, 0};
    t.in = randbuf(nin, 1), t.w = randbuf(nw, 1), t.b = bias ? randbuf(K, 1) : NULL;
    t.out = randbuf(nout, 1), t.G = randbuf(nout, 1);

    /* forward: naive loop; with a caller's workspace and without */
    double *ref = malloc(sizeof(double) * nout);
    conv_naive(ref, t.in, t.w, t.b, N, C, H, W, K, R, S, stride, pad, P, Q);
    size_t nwork = llfc_conv2d_worksize(N, C, H, W, K, R, S, stride, pad);
    float *work = randbuf(nwork, 1);
    int rc = llfc_conv2d_forward(t.out, t.in, t.w, t.b, N, C, H, W, K, R, S, stride, pad, work);
    double err = 0;
    for (size_t i = 0; i < nout; i++) if (fabs(t.out[i] - ref[i]) > err) err = fabs(t.out[i] - ref[i]);
    CHECK(rc == 0 && err < 1e-5 * (1 + C * R * S), "%s: forward matches the naive loop (err %.2g)", name, err);
    float *out2 = malloc(sizeof(float) * nout);
    llfc_conv2d_forward(out2, t.in, t.w, t.b, N, C, H, W, K, R, S, stride, pad, NULL);
    CHECK(memcmp(out2, t.out, sizeof(float) * nout) == 0, "%s: own workspace gives the same output", name);

    /* backward: dL/din, dL/dw, dL/db against finite differences */
    float *din = randbuf(nin, 1), *dw = calloc(nw, sizeof(float)), *db = calloc(K, sizeof(float));
    rc = llfc_conv2d_backward(din, dw, bias ? db : NULL, t.G, t.in, t.w, N, C, H, W, K, R, S,
                              stride, pad, work);
    CHECK(rc == 0, "%s: backward runs", name);
    double sc;
    double e1 = fd_error(&t, t.in, nin, din, 1e-2, &sc);
    CHECK(e1 < 1e-3 && sc > 0, "%s: dinput against finite differences (rel err %.2g)", name, e1);
    double e2 = fd_error(&t, t.w, nw, dw, 1e-2, &sc);
    CHECK(e2 < 1e-3 && sc > 0, "%s: dweight against finite differences (rel err %.2g)", name, e2);
    if (bias) {
        double e3 = fd_error(&t, t.b, K, db, 1e-2, &sc);
        CHECK(e3 < 1e-3 && sc > 0, "%s: dbias against finite differences (rel err %.2g)", name, e3);
    }
    /* parameter gradients accumulate; dinput is overwritten */
    float *dw2 = malloc(sizeof(float) * nw), *din2 = randbuf(nin, 5);
    memcpy(dw2, dw, sizeof(float) * nw);
    llfc_conv2d_backward(din2, dw2, NULL, t.G, t.in, t.w, N, C, H, W, K, R, S, stride, pad, NULL);
    double acc_err = 0, ow_err = 0;
    for (size_t i = 0; i < nw; i++) acc_err = fmax(acc_err, fabs(dw2[i] - 2 * dw[i]));
    for (size_t i = 0; i < nin; i++) ow_err = fmax(ow_err, fabs(din2[i] - din[i]));
    CHECK(acc_err <= 1e-5 * (1 + maxabs(dw, nw)) && ow_err <= 1e-5 * (1 + maxabs(din, nin)),
          "%s: dweight accumulates, dinput is overwritten", name);

    /* partial gradients: din only (no input needed), dweight only (no weight needed) */
    float *din3 = randbuf(nin, 1), *dw3 = calloc(nw, sizeof(float));
    int rc1 = llfc_conv2d_backward(din3, NULL, NULL, t.G, NULL, t.w, N, C, H, W, K, R, S, stride, pad, work);
    int rc2 = llfc_conv2d_backward(NULL, dw3, NULL, t.G, t.in, NULL, N, C, H, W, K, R, S, stride, pad, work);
    double e4 = 0, e5 = 0;
    for (size_t i = 0; i < nin; i++) e4 = fmax(e4, fabs(din3[i] - din[i]));
    for (size_t i = 0; i < nw; i++) e5 = fmax(e5, fabs(dw3[i] - dw[i]));
    CHECK(rc1 == 0 && rc2 == 0 && e4 <= 1e-5 * (1 + maxabs(din, nin)) && e5 <= 1e-5 * (1 + maxabs(dw, nw)),
          "%s: din alone and dweight alone match the full backward", name);
    free(din3); free(dw3);

    free(ref); free(work); free(out2); free(din); free(dw); free(db); free(dw2); free(din2);
    free(t.in); free(t.w); free(t.b); free(t.out); free(t.G);
    llfc_conv2d_set_chunk(0);
}

static void test_conv(void)
{
    /* im2col (the fallback), then the default backend when it is oneDNN
     * (tests/c/test_conv.c compares the two directly) */
    int dflt = llfc_conv2d_get_backend();
    llfc_conv2d_set_backend(LLFC_CONV_IM2COL);
    for (size_t s = 0; s < sizeof conv_shapes / sizeof conv_shapes[0]; s++) {
        test_conv_shape(conv_shapes[s], s % 2 == 1, (size_t)1 << 20);
        test_conv_shape(conv_shapes[s], s % 2 == 0, 0);
    }
    if (dflt != LLFC_CONV_IM2COL && llfc_conv2d_set_backend(dflt) == 0) {
        for (size_t s = 0; s < sizeof conv_shapes / sizeof conv_shapes[0]; s++)
            test_conv_shape(conv_shapes[s], s % 2 == 0, 0);
        llfc_conv2d_set_backend(LLFC_CONV_IM2COL);
    }
    /* a chunk that splits the batch unevenly (3 samples, 2 per chunk) */
    const int sh[9] = {3, 2, 6, 6, 3, 3, 3, 1, 1};
    test_conv_shape(sh, 1, 2 * (size_t)(2 * 9 + 3) * 36);

    /* hand-computed: 3x3 input, 2x2 kernel of ones, stride 1, no padding */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b = 0.5f, o[4];
    llfc_conv2d_forward(o, x, w, &b, 1, 1, 3, 3, 1, 2, 2, 1, 0, NULL);
    CHECK(o[0] == 12.5f && o[1] == 16.5f && o[2] == 24.5f && o[3] == 28.5f,
          "conv 3x3 * ones(2x2) + 0.5 = [12.5 16.5; 24.5 28.5]");
}

static void test_conv_errors(void)
{
    float x[16] = {0}, w[25] = {0}, o[16], sentinel = 123.0f;
    for (int i = 0; i < 16; i++) o[i] = sentinel;
    int rc = llfc_conv2d_forward(o, x, w, NULL, 1, 1, 3, 3, 1, 5, 5, 1, 0, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "conv2d_forward") && strstr(llfc_errmsg(), "5")
          && o[0] == sentinel, "conv kernel 5 on 3x3 unpadded input fails: %s", llfc_errmsg());
    rc = llfc_conv2d_forward(o, x, w, NULL, 1, 1, 3, 3, 1, 3, 3, 0, 0, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "stride"), "conv stride 0 fails: %s", llfc_errmsg());
    rc = llfc_conv2d_forward(o, x, w, NULL, 1, 1, 3, 3, 1, 3, 3, 1, -1, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "padding"), "conv negative padding fails: %s", llfc_errmsg());
    rc = llfc_conv2d_forward(o, x, w, NULL, 1, 1, 3, 3, 1, 3, 3, 1 << 30, 1 << 30, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "too large"), "conv padding 2^30 fails cleanly: %s",
          llfc_errmsg());
    rc = llfc_conv2d_forward(o, x, w, NULL, 0, 1, 3, 3, 1, 3, 3, 1, 0, NULL);
    CHECK(rc == -1, "conv batch 0 fails: %s", llfc_errmsg());
    rc = llfc_conv2d_backward(o, w, NULL, x, x, w, 1, 1, 3, 3, 1, 5, 5, 1, 0, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "conv2d_backward"), "conv backward checks shapes: %s",
          llfc_errmsg());
    CHECK(llfc_conv2d_worksize(1, 1, 3, 3, 1, 5, 5, 1, 0) == 0, "worksize of an impossible shape is 0");
    rc = llfc_conv2d_forward(o, x, w, NULL, 1, 1, 1 << 16, 1 << 16, 1, 3, 3, 1, 1, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "too large"), "conv on a 2^16 x 2^16 plane fails cleanly: %s",
          llfc_errmsg());
    rc = llfc_conv2d_backward(o, NULL, NULL, x, NULL, NULL, 1, 1, 3, 3, 1, 3, 3, 1, 1, NULL);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "NULL"), "conv backward to the input without weights fails: %s",
          llfc_errmsg());
    CHECK(llfc_conv2d_outsize(32, 3, 1, 1) == 32 && llfc_conv2d_outsize(32, 3, 2, 1) == 16
          && llfc_conv2d_outsize(28, 5, 1, 0) == 24, "conv output sizes as PyTorch");
}

/* ---- pooling ---------------------------------------------------------------------- */

static void maxpool_fwd(fdctx *t)
{
    llfc_maxpool2d_forward(t->out, NULL, t->in, t->N, t->C, t->H, t->W, t->K, t->stride);
}
static void avgpool_fwd(fdctx *t)
{
    llfc_avgpool2d_forward(t->out, t->in, t->N, t->C, t->H, t->W, t->K, t->stride);
}
static void gavg_fwd(fdctx *t) { llfc_gavgpool_forward(t->out, t->in, t->N, t->C, t->H, t->W); }

/* Max pool with ties and NaNs against a branching loop written here (the
 * first maximum in row-major window order wins; the first NaN wins over all). */
static void test_maxpool_ties(int N, int C, int H, int W, int k, int st)
{
    int P = llfc_pool2d_outsize(H, k, st), Q = llfc_pool2d_outsize(W, k, st);
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * P * Q;
    float *x = malloc(sizeof(float) * nin), *o = malloc(sizeof(float) * nout);
    int32_t *ix = malloc(sizeof(int32_t) * nout);
    for (size_t i = 0; i < nin; i++) {
        uint32_t r = llfc_rng_next(&rng) % 16;
        x[i] = r == 0 ? NAN : (float)(r % 4);   /* few distinct values: many ties, 1 in 16 NaN */
    }
    int rc = llfc_maxpool2d_forward(o, ix, x, N, C, H, W, k, st);
    size_t bad = 0, nans = 0;
    for (size_t nc = 0; nc < (size_t)N * C; nc++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                const float *xp = x + nc * H * W;
                int best = p * st * W + q * st;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int at = (p * st + i) * W + q * st + j;
                        if (isnan(xp[best])) continue;
                        if (isnan(xp[at]) || xp[at] > xp[best]) best = at;
                    }
                size_t oi = nc * P * Q + (size_t)p * Q + q;
                int same = isnan(xp[best]) ? isnan(o[oi]) : o[oi] == xp[best];
                nans += isnan(o[oi]) != 0;
                bad += !same || ix[oi] != best;
            }
    CHECK(rc == 0 && bad == 0 && nans > 0 && nans < nout,
          "maxpool %dx%d/%d on %dx%dx%dx%d with ties and NaNs: values and argmax as the reference loop (%zu differ, %zu NaN outputs)",
          k, k, st, N, C, H, W, bad, nans);
    float *o2 = malloc(sizeof(float) * nout);
    rc = llfc_maxpool2d_forward(o2, NULL, x, N, C, H, W, k, st);
    size_t same = 0;
    for (size_t i = 0; i < nout; i++) same += o2[i] == o[i] || (isnan(o2[i]) && isnan(o[i]));
    CHECK(rc == 0 && same == nout, "maxpool %dx%d/%d without indices: the same values (%zu of %zu)", k, k, st, same, nout);
    free(x), free(o), free(o2), free(ix);
}

static void test_pool(void)
{
    /* hand values: 4x4 ramp, 2x2 windows stride 2 */
    float x[16], o[4];
    int32_t ix[4];
    for (int i = 0; i < 16; i++) x[i] = (float)((i * 7) % 16);   /* 0 7 14 5 / 12 3 10 1 / 8 15 6 13 / 4 11 2 9 */
    CHECK(llfc_maxpool2d_forward(o, ix, x, 1, 1, 4, 4, 2, 2) == 0, "maxpool 2x2/2 runs");
    CHECK(o[0] == 12 && o[1] == 14 && o[2] == 15 && o[3] == 13, "maxpool values [12 14; 15 13]");
    CHECK(ix[0] == 4 && ix[1] == 2 && ix[2] == 9 && ix[3] == 11, "maxpool argmax indices [4 2; 9 11]");
    llfc_avgpool2d_forward(o, x, 1, 1, 4, 4, 2, 2);
    CHECK(o[0] == 5.5f && o[1] == 7.5f && o[2] == 9.5f && o[3] == 7.5f, "avgpool values [5.5 7.5; 9.5 7.5]");
    /* overlapping windows: 3x3 stride 1 on the same 4x4 */
    llfc_maxpool2d_forward(o, ix, x, 1, 1, 4, 4, 3, 1);
    CHECK(o[0] == 15 && o[1] == 15 && o[2] == 15 && o[3] == 15 && ix[0] == 9 && ix[3] == 9,
          "maxpool 3x3/1 picks 15 everywhere");
    float g[4] = {1, 2, 3, 4}, dx[16];
    llfc_maxpool2d_backward(dx, g, ix, 1, 1, 4, 4, 3, 1);
    CHECK(dx[9] == 10 && maxabs(dx, 9) == 0 && maxabs(dx + 10, 6) == 0, "maxpool backward adds overlapping windows at the argmax");
    /* odd input: floor mode drops the last row/column */
    CHECK(llfc_pool2d_outsize(7, 2, 2) == 3 && llfc_pool2d_outsize(7, 3, 2) == 3,
          "pool output sizes in floor mode");
    float gx[6] = {1, 2, 3, 4, 5, 6}, go[2];
    llfc_gavgpool_forward(go, gx, 1, 2, 1, 3);
    CHECK(go[0] == 2 && go[1] == 5, "global average pool [1 2 3 | 4 5 6] = [2, 5]");
    float nanx[4] = {1, NAN, 3, 2}, no;
    llfc_maxpool2d_forward(&no, NULL, nanx, 1, 1, 2, 2, 2, 2);
    CHECK(isnan(no), "maxpool propagates NaN");

    /* backward against finite differences; distinct values keep the argmax stable */
    const int shapes[][6] = {{1, 1, 4, 4, 2, 2}, {3, 2, 7, 5, 3, 2}, {2, 3, 5, 6, 2, 1}};
    for (int s = 0; s < 3; s++) {
        int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
        int k = shapes[s][4], st = shapes[s][5];
        int P = llfc_pool2d_outsize(H, k, st), Q = llfc_pool2d_outsize(W, k, st);
        size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * P * Q;
        fdctx t = {maxpool_fwd, NULL, NULL, nout, NULL, NULL, NULL, NULL, NULL,
                   N, C, H, W, k, 0, 0, st, 0, 0};
        t.in = malloc(sizeof(float) * nin);
        int64_t *perm = malloc(sizeof(int64_t) * nin);
        for (size_t i = 0; i < nin; i++) perm[i] = (int64_t)i;
        llfc_rng_shuffle(&rng, perm, (int64_t)nin);
        for (size_t i = 0; i < nin; i++) t.in[i] = 0.1f * (float)(perm[i] - (int64_t)nin / 2);
        t.out = malloc(sizeof(float) * nout), t.G = randbuf(nout, 1);
        int32_t *idx = malloc(sizeof(int32_t) * nout);
        float *din = malloc(sizeof(float) * nin);
        llfc_maxpool2d_forward(t.out, idx, t.in, N, C, H, W, k, st);
        llfc_maxpool2d_backward(din, t.G, idx, N, C, H, W, k, st);
        double sc, e = fd_error(&t, t.in, nin, din, 1e-2, &sc);
        CHECK(e < 1e-3 && sc > 0, "maxpool %dx%dx%dx%d k%d s%d backward against finite differences (%.2g)",
              N, C, H, W, k, st, e);
        t.forward = avgpool_fwd;
        llfc_avgpool2d_backward(din, t.G, N, C, H, W, k, st);
        e = fd_error(&t, t.in, nin, din, 1e-1, &sc);
        CHECK(e < 1e-3 && sc > 0, "avgpool %dx%dx%dx%d k%d s%d backward against finite differences (%.2g)",
              N, C, H, W, k, st, e);
        t.forward = gavg_fwd, t.nout = (size_t)N * C;
        llfc_gavgpool_backward(din, t.G, N, C, H, W);
        e = fd_error(&t, t.in, nin, din, 1e-1, &sc);
        CHECK(e < 1e-3 && sc > 0, "global avgpool %dx%dx%dx%d backward against finite differences (%.2g)",
              N, C, H, W, e);
        free(t.in); free(perm); free(t.out); free(t.G); free(idx); free(din);
    }

    /* errors */
    float sentinel = 77.0f;
    o[0] = sentinel;
    int rc = llfc_maxpool2d_forward(o, ix, x, 1, 1, 4, 4, 5, 1);
    CHECK(rc == -1 && o[0] == sentinel && strstr(llfc_errmsg(), "maxpool2d_forward"),
          "maxpool window 5 on 4x4 fails: %s", llfc_errmsg());
    rc = llfc_avgpool2d_forward(o, x, 1, 1, 4, 4, 2, 0);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "stride"), "avgpool stride 0 fails: %s", llfc_errmsg());
    rc = llfc_gavgpool_forward(o, x, 1, 0, 4, 4);
    CHECK(rc == -1, "global avgpool with 0 channels fails: %s", llfc_errmsg());
    int32_t badix[4] = {0, 1, 99, 2};
    dx[0] = sentinel;
    rc = llfc_maxpool2d_backward(dx, g, badix, 1, 1, 4, 4, 2, 2);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "99") && dx[0] == sentinel,
          "maxpool backward rejects a bad index, writing nothing: %s", llfc_errmsg());
}

/* ---- normalisation ---------------------------------------------------------------- */

static void bn_train_fwd(fdctx *t)
{
    llfc_batchnorm2d_forward_train(t->out, t->m, t->r, NULL, NULL, t->in, t->w, t->b,
                                   t->N, t->C, t->H, t->W, 0.1f, t->eps);
}
static void bn_eval_fwd(fdctx *t)
{
    /* running statistics live in m (mean) and r (var) here */
    llfc_batchnorm2d_forward_eval(t->out, t->in, t->w, t->b, t->m, t->r,
                                  t->N, t->C, t->H, t->W, t->eps);
}
static void lnc_fwd(fdctx *t)
{
    llfc_layernorm_c_forward(t->out, t->m, t->r, t->in, t->w, t->b, t->N, t->C, t->H, t->W, t->eps);
}
static void lnchw_fwd(fdctx *t)
{
    llfc_layernorm_chw_forward(t->out, t->m, t->r, t->in, t->w, t->b, t->N, t->C, t->H, t->W, t->eps);
}

static void test_bn_hand(void)
{
    /* N=2, C=2, H=1, W=2: channel 0 = {1, 2, 3, 4}, channel 1 = {0, 0, 2, 2} */
    float x[8] = {1, 2, 0, 0, 3, 4, 2, 2}, o[8], m[2], r[2];
    float w[2] = {2, 1}, b[2] = {0.5f, -1};
    float rm[2] = {0, 1}, rv[2] = {1, 2};
    float eps = 1e-5f;
    int rc = llfc_batchnorm2d_forward_train(o, m, r, rm, rv, x, w, b, 2, 2, 1, 2, 0.1f, eps);
    CHECK(rc == 0, "batchnorm train runs");
    /* channel 0: mean 2.5, biased var 1.25, unbiased 5/3; channel 1: mean 1, var 1, unbiased 4/3 */
    double r0 = 1 / sqrt(1.25 + eps), r1 = 1 / sqrt(1.0 + eps);
    CHECK_NEAR(o[0], 2 * (1 - 2.5) * r0 + 0.5, 1e-6, "bn out[0,0,0,0] = 2*(1-2.5)/sqrt(1.25+eps)+0.5");
    CHECK_NEAR(o[5], 2 * (4 - 2.5) * r0 + 0.5, 1e-6, "bn out[1,0,0,1]");
    CHECK_NEAR(o[2], (0 - 1) * r1 - 1, 1e-6, "bn out[0,1,0,0] = (0-1)/sqrt(1+eps)-1");
    CHECK_NEAR(m[0], 2.5, 1e-7, "bn saved mean");
    CHECK_NEAR(r[1], r1, 1e-6, "bn saved rstd");
    CHECK_NEAR(rm[0], 0.25, 1e-7, "running mean 0.9*0 + 0.1*2.5");
    CHECK_NEAR(rm[1], 0.9 * 1 + 0.1 * 1, 1e-7, "running mean 0.9*1 + 0.1*1");
    CHECK_NEAR(rv[0], 0.9 * 1 + 0.1 * 5.0 / 3.0, 1e-6, "running var uses the unbiased variance 5/3");
    CHECK_NEAR(rv[1], 0.9 * 2 + 0.1 * 4.0 / 3.0, 1e-6, "running var 0.9*2 + 0.1*4/3");

    /* eval mode uses the running statistics (hand values) */
    float rme[2] = {1, -1}, rve[2] = {4, 0.25f};
    llfc_batchnorm2d_forward_eval(o, x, w, b, rme, rve, 2, 2, 1, 2, 0);
    CHECK(o[0] == 0.5f && o[1] == 1.5f && o[2] == 1.0f && o[7] == 5.0f,
          "bn eval: 2*(x-1)/2+0.5 and (x+1)/0.5-1");
    /* eval with running stats = batch stats (biased var) equals train mode */
    float ot[8], oe[8], bv[2] = {1.25f, 1.0f};
    llfc_batchnorm2d_forward_train(ot, m, r, NULL, NULL, x, w, b, 2, 2, 1, 2, 0.1f, eps);
    llfc_batchnorm2d_forward_eval(oe, x, w, b, m, bv, 2, 2, 1, 2, eps);
    double d = 0;
    for (int i = 0; i < 8; i++) d = fmax(d, fabs(ot[i] - oe[i]));
    CHECK(d < 1e-6, "bn eval with the batch statistics equals train mode (%.2g)", d);
    llfc_batchnorm2d_forward_eval(oe, x, w, b, rm, rv, 2, 2, 1, 2, eps);
    d = 0;
    for (int i = 0; i < 8; i++) d = fmax(d, fabs(ot[i] - oe[i]));
    CHECK(d > 0.1, "bn eval with other running statistics differs from train mode");
    /* affine-free, momentum 1/(t+1) averages the batch means */
    float cm[2] = {7, 7}, cv[2] = {7, 7};
    float x2[8] = {3, 3, 1, 1, 5, 5, 1, 1};   /* channel means 4 and 1 */
    llfc_batchnorm2d_forward_train(o, NULL, NULL, cm, cv, x, NULL, NULL, 2, 2, 1, 2, 1.0f, eps);
    llfc_batchnorm2d_forward_train(o, NULL, NULL, cm, cv, x2, NULL, NULL, 2, 2, 1, 2, 0.5f, eps);
    CHECK_NEAR(cm[0], (2.5 + 4) / 2, 1e-6, "momentum 1, then 1/2: the average of the batch means");
    CHECK_NEAR(cv[0], (5.0 / 3 + 4.0 / 3) / 2, 1e-6, "... and of the unbiased batch variances");
    CHECK_NEAR(o[0], -1 / sqrt(1 + eps), 1e-6, "bn without affine: (3-4)/sqrt(1+eps)");
    float sm[2], sr[2], sv[2] = {0, 0}, sq[2] = {0, 0};
    rc = llfc_batchnorm2d_forward_train(NULL, sm, sr, sq, sv, x2, NULL, NULL, 2, 2, 1, 2, 1.0f, eps);
    CHECK(rc == 0 && sm[0] == 4 && sm[1] == 1 && sq[0] == 4 && fabs(sv[1] - 0.0) < 1e-7
          && fabs(sv[0] - 4.0 / 3) < 1e-6, "bn statistics only (out NULL): means 4, 1; unbiased vars 4/3, 0");

    /* errors */
    o[0] = 99;
    rc = llfc_batchnorm2d_forward_train(o, m, r, rm, rv, x, w, b, 1, 2, 1, 1, 0.1f, eps);
    CHECK(rc == -1 && o[0] == 99 && strstr(llfc_errmsg(), "more than 1 value"),
          "bn train with one value per channel fails: %s", llfc_errmsg());
    rc = llfc_batchnorm2d_forward_train(o, m, r, rm, rv, x, w, b, 2, 2, 1, 2, 1.5f, eps);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "momentum"), "bn momentum 1.5 fails: %s", llfc_errmsg());
    rc = llfc_batchnorm2d_forward_eval(o, x, w, b, rm, rv, 2, 2, 0, 2, eps);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "batchnorm2d_forward_eval"), "bn eval with H=0 fails: %s",
          llfc_errmsg());
}

static void test_ln_hand(void)
{
    /* N=1, C=2, H=1, W=2: channel 0 = {1, 3}, channel 1 = {3, 7} */
    float x[4] = {1, 3, 3, 7}, o[4], m[2], r[2], w[2] = {2, 3}, b[2] = {0.5f, -1};
    float eps = 1e-6f;
    CHECK(llfc_layernorm_c_forward(o, m, r, x, w, b, 1, 2, 1, 2, eps) == 0, "layernorm_c runs");
    /* pixel 0: {1, 3} mean 2 var 1; pixel 1: {3, 7} mean 5 var 4 */
    CHECK(m[0] == 2 && m[1] == 5, "layernorm_c per-pixel means 2, 5");
    CHECK_NEAR(r[1], 1 / sqrt(4 + eps), 1e-6, "layernorm_c rstd of pixel 1");
    CHECK_NEAR(o[0], 2 * -1 / sqrt(1 + eps) + 0.5, 1e-6, "layernorm_c out[0,0,0,0]");
    CHECK_NEAR(o[1], 2 * -2 / sqrt(4 + eps) + 0.5, 1e-6, "layernorm_c out[0,0,0,1]");
    CHECK_NEAR(o[3], 3 * 2 / sqrt(4 + eps) - 1, 1e-6, "layernorm_c out[0,1,0,1]");
    CHECK(llfc_layernorm_chw_forward(o, m, r, x, w, b, 1, 2, 1, 2, eps) == 0, "layernorm_chw runs");
    /* all four: mean 3.5, var (6.25 + 0.25 + 0.25 + 12.25) / 4 = 4.75 */
    double rs = 1 / sqrt(4.75 + eps);
    CHECK_NEAR(m[0], 3.5, 1e-7, "layernorm_chw mean 3.5");
    CHECK_NEAR(o[0], 2 * -2.5 * rs + 0.5, 1e-6, "layernorm_chw out[0,0,0,0]");
    CHECK_NEAR(o[3], 3 * 3.5 * rs - 1, 1e-6, "layernorm_chw out[0,1,0,1]");
    /* no affine: each pixel's channel vector has mean 0, variance ~1 */
    llfc_rng_seed(&rng, 5);
    float *xs = randbuf(2 * 5 * 3 * 4, 3), *os = malloc(sizeof(float) * 120), ms[24], rr[24];
    llfc_layernorm_c_forward(os, ms, rr, xs, NULL, NULL, 2, 5, 3, 4, 0);
    double worst = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 12; i++) {
            double s = 0, ss = 0;
            for (int c = 0; c < 5; c++) { double v = os[(n * 5 + c) * 12 + i]; s += v; ss += v * v; }
            worst = fmax(worst, fmax(fabs(s / 5), fabs(ss / 5 - 1)));
        }
    CHECK(worst < 1e-5, "layernorm_c without affine: every pixel has mean 0, var 1 over channels");
    free(xs); free(os);
    CHECK(llfc_layernorm_c_forward(o, m, r, x, w, b, 1, 0, 1, 2, eps) == -1
          && strstr(llfc_errmsg(), "layernorm_c_forward"), "layernorm_c with C=0 fails: %s", llfc_errmsg());
    CHECK(llfc_layernorm_chw_forward(o, m, r, x, w, b, 1, 2, 1, 2, -1) == -1
          && strstr(llfc_errmsg(), "eps"), "layernorm_chw with eps<0 fails: %s", llfc_errmsg());
}

enum { BN_TRAIN, BN_EVAL, LN_C, LN_CHW };

static void test_norm_grad(int kind, int N, int C, int H, int W, int affine)
{
    static const char *names[] = {"batchnorm train", "batchnorm eval", "layernorm_c", "layernorm_chw"};
    static void (*fwd[])(fdctx *) = {bn_train_fwd, bn_eval_fwd, lnc_fwd, lnchw_fwd};
    size_t n = (size_t)N * C * H * W;
    size_t nstat = kind == LN_C ? (size_t)N * H * W : kind == LN_CHW ? (size_t)N : (size_t)C;
    fdctx t = {fwd[kind], NULL, NULL, n, NULL, NULL, NULL, NULL, NULL, N, C, H, W, 0, 0, 0, 0, 0, 1e-5f};
    t.in = randbuf(n, 1.5);
    for (size_t i = 0; i < n; i++) t.in[i] += 0.7f;
    t.w = affine ? randbuf(C, 1) : NULL, t.b = affine ? randbuf(C, 1) : NULL;
    t.m = randbuf(nstat, 0.3), t.r = randbuf(nstat, 0.3);
    if (kind == BN_EVAL) for (int c = 0; c < C; c++) t.r[c] = 0.5f + t.r[c] * t.r[c];
    t.out = malloc(sizeof(float) * n), t.G = randbuf(n, 1);
    float *din = randbuf(n, 1), *dw = calloc(C, sizeof(float)), *db = calloc(C, sizeof(float));
    t.forward(&t);   /* fills the saved statistics */
    int rc;
    switch (kind) {
    case BN_TRAIN:
        rc = llfc_batchnorm2d_backward_train(din, affine ? dw : NULL, affine ? db : NULL, t.G, t.in,
                                             t.w, t.m, t.r, N, C, H, W);
        break;
    case BN_EVAL:
        rc = llfc_batchnorm2d_backward_eval(din, affine ? dw : NULL, affine ? db : NULL, t.G, t.in,
                                            t.w, t.m, t.r, N, C, H, W, t.eps);
        break;
    case LN_C:
        rc = llfc_layernorm_c_backward(din, affine ? dw : NULL, affine ? db : NULL, t.G, t.in, t.w,
                                       t.m, t.r, N, C, H, W);
        break;
    default:
        rc = llfc_layernorm_chw_backward(din, affine ? dw : NULL, affine ? db : NULL, t.G, t.in,
                                         t.w, t.m, t.r, N, C, H, W);
    }
    char name[96];
    snprintf(name, sizeof name, "%s %dx%dx%dx%d%s", names[kind], N, C, H, W, affine ? " affine" : "");
    CHECK(rc == 0, "%s: backward runs", name);
    double sc, e = fd_error(&t, t.in, n, din, 3e-3, &sc);
    CHECK(e < 2e-3 && sc > 0, "%s: dinput against finite differences (rel err %.2g)", name, e);
    if (affine) {
        e = fd_error(&t, t.w, C, dw, 1e-2, &sc);
        CHECK(e < 2e-3 && sc > 0, "%s: dweight against finite differences (rel err %.2g)", name, e);
        e = fd_error(&t, t.b, C, db, 1e-2, &sc);
        CHECK(e < 2e-3 && sc > 0, "%s: dbias against finite differences (rel err %.2g)", name, e);
    }
    free(t.in); free(t.w); free(t.b); free(t.m); free(t.r); free(t.out); free(t.G);
    free(din); free(dw); free(db);
}

/* The fused BatchNorm + ReLU kernels against the BatchNorm kernels followed
 * by a ReLU loop written here (forward) and its derivative (backward). */
static void test_bn_relu(int N, int C, int H, int W)
{
    size_t n = (size_t)N * C * H * W;
    float eps = 1e-5f;
    float *x = randbuf(n, 1.5), *w = randbuf(C, 1), *b = randbuf(C, 1), *G = randbuf(n, 1);
    float *o1 = malloc(sizeof(float) * n), *o2 = malloc(sizeof(float) * n);
    float *d1 = malloc(sizeof(float) * n), *d2 = malloc(sizeof(float) * n), *gm = malloc(sizeof(float) * n);
    float *m1 = malloc(sizeof(float) * C), *r1 = malloc(sizeof(float) * C);
    float *m2 = malloc(sizeof(float) * C), *r2 = malloc(sizeof(float) * C);
    float *rm1 = calloc(C, sizeof(float)), *rv1 = calloc(C, sizeof(float));
    float *rm2 = calloc(C, sizeof(float)), *rv2 = calloc(C, sizeof(float));
    float *dw1 = calloc(C, sizeof(float)), *db1 = calloc(C, sizeof(float));
    float *dw2 = calloc(C, sizeof(float)), *db2 = calloc(C, sizeof(float));
    char name[64];
    snprintf(name, sizeof name, "bn+relu %dx%dx%dx%d", N, C, H, W);
    int rc = llfc_batchnorm2d_forward_train(o1, m1, r1, rm1, rv1, x, w, b, N, C, H, W, 0.1f, eps);
    for (size_t i = 0; i < n; i++) o1[i] = o1[i] < 0 ? 0 : o1[i];
    rc |= llfc_batchnorm2d_forward_train_relu(o2, m2, r2, rm2, rv2, x, w, b, N, C, H, W, 0.1f, eps);
    size_t zeros = 0, same = 0;
    for (size_t i = 0; i < n; i++) same += o1[i] == o2[i], zeros += o2[i] == 0;
    int stats = 1;
    for (int c = 0; c < C; c++) stats &= m1[c] == m2[c] && r1[c] == r2[c] && rm1[c] == rm2[c] && rv1[c] == rv2[c];
    CHECK(rc == 0 && same == n && stats && zeros > 0 && zeros < n,
          "%s: train forward = batchnorm then relu (%zu of %zu equal, statistics equal, %zu zeros)", name, same, n, zeros);
    /* backward: dout G at the ReLU's output o2 */
    for (size_t i = 0; i < n; i++) gm[i] = o2[i] > 0 ? G[i] : 0;
    rc = llfc_batchnorm2d_backward_train(d1, dw1, db1, gm, x, w, m1, r1, N, C, H, W);
    rc |= llfc_batchnorm2d_backward_train_relu(d2, dw2, db2, G, o2, x, w, m2, r2, N, C, H, W);
    for (size_t i = 0; i < n; i++) d1[i] -= d2[i];
    for (int c = 0; c < C; c++) dw1[c] -= dw2[c], db1[c] -= db2[c];
    double e = maxabs(d1, n) / maxabs(d2, n), ew = maxabs(dw1, C) / maxabs(dw2, C), eb = maxabs(db1, C) / maxabs(db2, C);
    CHECK(rc == 0 && e < 1e-6 && ew < 1e-6 && eb < 1e-6,
          "%s: train backward = relu backward then batchnorm backward (rel diff %.2g, %.2g, %.2g)", name, e, ew, eb);
    /* eval */
    for (int c = 0; c < C; c++) rv1[c] = 0.5f + r1[c];
    rc = llfc_batchnorm2d_forward_eval(o1, x, w, b, m1, rv1, N, C, H, W, eps);
    for (size_t i = 0; i < n; i++) o1[i] = o1[i] < 0 ? 0 : o1[i];
    rc |= llfc_batchnorm2d_forward_eval_relu(o2, x, w, b, m1, rv1, N, C, H, W, eps);
    same = 0;
    for (size_t i = 0; i < n; i++) same += o1[i] == o2[i];
    CHECK(rc == 0 && same == n, "%s: eval forward = batchnorm then relu (%zu of %zu equal)", name, same, n);
    /* a NaN stays NaN, as in the ReLU */
    x[1] = NAN;
    rc = llfc_batchnorm2d_forward_eval_relu(o2, x, w, b, m1, rv1, N, C, H, W, eps);
    CHECK(rc == 0 && isnan(o2[1]) && !isnan(o2[0]), "%s: eval forward keeps a NaN", name);
    rc = llfc_batchnorm2d_backward_train_relu(d2, dw2, db2, G, NULL, x, w, m2, r2, N, C, H, W);
    CHECK(rc == -1 && strstr(llfc_errmsg(), "batchnorm2d_backward_train_relu"),
          "%s: backward without the relu output fails: %s", name, llfc_errmsg());
    free(x); free(w); free(b); free(G); free(o1); free(o2); free(d1); free(d2); free(gm);
    free(m1); free(r1); free(m2); free(r2); free(rm1); free(rv1); free(rm2); free(rv2);
    free(dw1); free(db1); free(dw2); free(db2);
}

/* Channel-blocked activations [N, C/B, H, W, B]: the layout changes against
 * the index formula, and each blocked kernel against its plain call, bit for
 * bit (the same arithmetic in other places). */
static void test_blocked_shape(int B, int N, int C, int H, int W, int K, int R, int stride, int pad)
{
    char name[96];
    snprintf(name, sizeof name, "blocked %d: %dx%dx%dx%d, conv %d %dx%d/%d pad %d (backend %d)", B, N, C, H, W, K,
             R, R, stride, pad, llfc_conv2d_get_backend());
    int P = llfc_conv2d_outsize(H, R, stride, pad), Q = llfc_conv2d_outsize(W, R, stride, pad);
    size_t n = (size_t)N * C * H * W, no = (size_t)N * K * P * Q, hw = (size_t)H * W;
    float *x = randbuf(n, 1), *xb = malloc(n * sizeof *xb), *x2 = malloc(n * sizeof *x2);
    int ok = llfc_act_to_blocked(xb, x, N, C, H, W, B) == 0 && llfc_act_to_plain(x2, xb, N, C, H, W, B) == 0;
    for (int s = 0; s < N; s++)
        for (int c = 0; c < C; c++)
            for (size_t i = 0; i < hw; i++)
                ok &= xb[(((size_t)s * (C / B) + c / B) * hw + i) * B + c % B] == x[((size_t)s * C + c) * hw + i];
    CHECK(ok && !memcmp(x, x2, n * sizeof *x), "%s: to blocked at n, c/B, h, w, c%%B, and back", name);
    /* BatchNorm eval, with and without the ReLU */
    float *w = randbuf(C, 1), *b = randbuf(C, 1), *rm = randbuf(C, 1), *rv = randbuf(C, 1);
    for (int c = 0; c < C; c++) rv[c] = rv[c] * rv[c] + 0.1f;
    float *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2), *o3 = malloc(n * sizeof *o3);
    for (int relu = 0; relu < 2; relu++) {
        int rc = (relu ? llfc_batchnorm2d_forward_eval_relu : llfc_batchnorm2d_forward_eval)(o1, x, w, b, rm, rv, N, C,
                                                                                            H, W, 1e-5f);
        rc |= llfc_batchnorm2d_forward_eval_blk(o2, xb, w, b, rm, rv, N, C, H, W, 1e-5f, relu, B);
        rc |= llfc_act_to_plain(o3, o2, N, C, H, W, B);
        CHECK(rc == 0 && !memcmp(o1, o3, n * sizeof *o1), "%s: batchnorm eval%s blocked = plain", name,
              relu ? "+relu" : "");
    }
    /* BatchNorm training forward (statistics too) and backward, with and without the ReLU */
    float *m1 = malloc(C * sizeof *m1), *r1 = malloc(C * sizeof *r1), *m2 = malloc(C * sizeof *m2),
          *r2 = malloc(C * sizeof *r2), *G = randbuf(n, 1), *Gb = malloc(n * sizeof *Gb);
    float *rm2 = malloc(C * sizeof *rm2), *rv2 = malloc(C * sizeof *rv2), *rm1 = malloc(C * sizeof *rm1),
          *rv1 = malloc(C * sizeof *rv1);
    float *dw1 = calloc(C, sizeof *dw1), *db1 = calloc(C, sizeof *db1), *dw2 = calloc(C, sizeof *dw2),
          *db2 = calloc(C, sizeof *db2), *d1 = malloc(n * sizeof *d1), *d2 = malloc(n * sizeof *d2);
    llfc_act_to_blocked(Gb, G, N, C, H, W, B);
    for (int relu = 0; relu < 2; relu++) {
        memcpy(rm1, rm, C * sizeof *rm), memcpy(rv1, rv, C * sizeof *rv);
        memcpy(rm2, rm, C * sizeof *rm), memcpy(rv2, rv, C * sizeof *rv);
        int rc = (relu ? llfc_batchnorm2d_forward_train_relu : llfc_batchnorm2d_forward_train)(
            o1, m1, r1, rm1, rv1, x, w, b, N, C, H, W, 0.1f, 1e-5f);
        rc |= llfc_batchnorm2d_forward_train_blk(o2, m2, r2, rm2, rv2, xb, w, b, N, C, H, W, 0.1f, 1e-5f, relu, B);
        rc |= llfc_act_to_plain(o3, o2, N, C, H, W, B);
        size_t cb = C * sizeof(float);
        CHECK(rc == 0 && !memcmp(o1, o3, n * sizeof *o1) && !memcmp(m1, m2, cb) && !memcmp(r1, r2, cb) &&
                  !memcmp(rm1, rm2, cb) && !memcmp(rv1, rv2, cb),
              "%s: batchnorm train%s forward blocked = plain (output, statistics, running statistics)", name,
              relu ? "+relu" : "");
        /* o2 (blocked) is the fused forward's output h */
        rc = relu ? llfc_batchnorm2d_backward_train_relu(d1, dw1, db1, G, o1, x, w, m1, r1, N, C, H, W)
                  : llfc_batchnorm2d_backward_train(d1, dw1, db1, G, x, w, m1, r1, N, C, H, W);
        rc |= llfc_batchnorm2d_backward_train_blk(d2, dw2, db2, Gb, relu ? o2 : NULL, xb, w, m2, r2, N, C, H, W, B);
        rc |= llfc_act_to_plain(o3, d2, N, C, H, W, B);
        CHECK(rc == 0 && !memcmp(d1, o3, n * sizeof *d1) && !memcmp(dw1, dw2, cb) && !memcmp(db1, db2, cb) &&
                  maxabs(dw1, C) > 0,
              "%s: batchnorm train%s backward blocked = plain (din, dweight, dbias)", name, relu ? "+relu" : "");
    }
    free(m1), free(r1), free(m2), free(r2), free(rm1), free(rv1), free(rm2), free(rv2);
    free(dw1), free(db1), free(dw2), free(db2), free(d1), free(d2);
    /* global average pool */
    float *g1 = malloc((size_t)N * C * sizeof *g1), *g2 = malloc((size_t)N * C * sizeof *g2);
    int rc = llfc_gavgpool_forward(g1, x, N, C, H, W) | llfc_gavgpool_forward_blk(g2, xb, N, C, H, W, B);
    CHECK(rc == 0 && !memcmp(g1, g2, (size_t)N * C * sizeof *g1), "%s: global average pool blocked = plain", name);
    rc = llfc_gavgpool_backward(o1, g1, N, C, H, W) | llfc_gavgpool_backward_blk(o2, g1, N, C, H, W, B) |
         llfc_act_to_plain(o3, o2, N, C, H, W, B);
    CHECK(rc == 0 && !memcmp(o1, o3, n * sizeof *o1), "%s: global average pool backward blocked = plain", name);
    /* conv: each combination of input and output layout */
    float *cw = randbuf((size_t)K * C * R * R, 0.3), *cb = randbuf(K, 1);
    float *y1 = malloc(no * sizeof *y1), *y2 = malloc(no * sizeof *y2), *y3 = malloc(no * sizeof *y3);
    rc = llfc_conv2d_forward(y1, x, cw, cb, N, C, H, W, K, R, R, stride, pad, NULL);
    for (int lay = 1; lay < 4; lay++) {
        int ib = lay & 1 ? B : 0, ob = lay & 2 ? B : 0;
        int r2 = llfc_conv2d_forward_blk(y2, ib ? xb : x, cw, cb, N, C, H, W, K, R, R, stride, pad, ib, ob, NULL);
        if (ob) r2 |= llfc_act_to_plain(y3, y2, N, K, P, Q, B);
        else memcpy(y3, y2, no * sizeof *y3);
        CHECK(rc == 0 && r2 == 0 && !memcmp(y1, y3, no * sizeof *y1), "%s: conv in %s, out %s = plain", name,
              ib ? "blocked" : "plain", ob ? "blocked" : "plain");
    }
    /* conv backward: din, dweight, dbias for each combination */
    float *gy = randbuf(no, 1), *gyb = malloc(no * sizeof *gyb);
    size_t nw = (size_t)K * C * R * R;
    float *dwa = calloc(nw, sizeof *dwa), *dba = calloc(K, sizeof *dba), *dwb = calloc(nw, sizeof *dwb),
          *dbb = calloc(K, sizeof *dbb);
    llfc_act_to_blocked(gyb, gy, N, K, P, Q, B);
    rc = llfc_conv2d_backward(o1, dwa, dba, gy, x, cw, N, C, H, W, K, R, R, stride, pad, NULL);
    for (int lay = 1; lay < 4; lay++) {
        int ib = lay & 1 ? B : 0, ob = lay & 2 ? B : 0;
        memset(dwb, 0, nw * sizeof *dwb), memset(dbb, 0, K * sizeof *dbb);
        int r2 = llfc_conv2d_backward_blk(o2, dwb, dbb, ob ? gyb : gy, ib ? xb : x, cw, N, C, H, W, K, R, R, stride,
                                          pad, ib, ob, NULL);
        if (ib) r2 |= llfc_act_to_plain(o3, o2, N, C, H, W, B);
        else memcpy(o3, o2, n * sizeof *o3);
        CHECK(rc == 0 && r2 == 0 && !memcmp(o1, o3, n * sizeof *o1) && !memcmp(dwa, dwb, nw * sizeof *dwa) &&
                  !memcmp(dba, dbb, K * sizeof *dba),
              "%s: conv backward in %s, out %s = plain (din, dweight, dbias)", name, ib ? "blocked" : "plain",
              ob ? "blocked" : "plain");
    }
    free(gy), free(gyb), free(dwa), free(dba), free(dwb), free(dbb), free(G), free(Gb);
    free(x), free(xb), free(x2), free(w), free(b), free(rm), free(rv), free(o1), free(o2), free(o3);
    free(g1), free(g2), free(cw), free(cb), free(y1), free(y2), free(y3);
}

static void test_blocked(void)
{
    int dflt = llfc_conv2d_get_backend();
    /* the fallback (through plain buffers), then oneDNN's blocked primitives */
    llfc_conv2d_set_backend(LLFC_CONV_IM2COL);
    CHECK(llfc_conv2d_act_block() == 0, "im2col: no blocked activations");
    test_blocked_shape(8, 3, 16, 7, 5, 8, 3, 1, 1);
    test_blocked_shape(16, 2, 16, 6, 6, 32, 3, 2, 1);
    if (llfc_conv2d_set_backend(LLFC_CONV_DNNL_BLOCKED) == 0) {
        int B = llfc_conv2d_act_block();
        CHECK(B == 8 || B == 16, "oneDNN blocked: activations in blocks of %d channels", B);
        if (B) {
            test_blocked_shape(B, 3, 2 * B, 9, 9, B, 3, 1, 1);
            test_blocked_shape(B, 2, B, 8, 8, 2 * B, 1, 2, 0);
            test_blocked_shape(B, 2, B, 8, 8, 2 * B, 3, 2, 1);
        }
        /* the other block size goes through reorders in oneDNN */
        test_blocked_shape(B == 8 ? 16 : 8, 2, 16, 5, 5, 16, 3, 1, 1);
    }
    llfc_conv2d_set_backend(dflt);
    float x[16], y[16];
    CHECK(llfc_act_to_blocked(y, x, 1, 12, 1, 1, 8) < 0 && strstr(llfc_errmsg(), "12 channels in blocks of 8"),
          "act_to_blocked: channels not a multiple of the block fail: %s", llfc_errmsg());
    CHECK(llfc_act_to_plain(y, x, 1, 8, 1, 1, 5) < 0 && strstr(llfc_errmsg(), "channel block 5"),
          "act_to_plain: a block other than 0, 8, 16 fails: %s", llfc_errmsg());
}

int main(void)
{
    llfc_rng_seed(&rng, 2026);
    llfc_blas_set_threads(1);
    test_conv();
    test_conv_errors();
    test_blocked();
    test_pool();
    test_maxpool_ties(3, 4, 8, 9, 2, 2);
    test_maxpool_ties(2, 3, 6, 23, 2, 2);
    test_maxpool_ties(2, 3, 7, 7, 3, 2);
    test_maxpool_ties(2, 2, 5, 6, 2, 1);
    test_bn_hand();
    test_ln_hand();
    test_bn_relu(3, 5, 6, 7);
    test_bn_relu(4, 3, 8, 8);
    for (int kind = BN_TRAIN; kind <= LN_CHW; kind++) {
        test_norm_grad(kind, 3, 4, 5, 3, 1);
        test_norm_grad(kind, 1, 3, 3, 3, 0);
        test_norm_grad(kind, 3, 5, 1, 1, 1);
    }
    return check_summary();
}
