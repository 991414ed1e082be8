/* test_conv.c - conv2d backends (src/nn/kernels/conv.c, conv_dnnl.c): oneDNN against
 * the im2col path on the layer shapes of VGG and ResNet-20.
 *
 * The im2col path is itself checked against a naive loop and finite
 * differences in test_layers.c; here both oneDNN layouts must give the same
 * forward output, input gradient and (accumulated) parameter gradients, to
 * 1e-4 of the largest entry, and must not fall back to im2col. */
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

static float *copybuf(const float *a, size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    memcpy(p, a, sizeof(float) * n);
    return p;
}

/* max |a - b| / max(1e-3, max |b|) */
static double relerr(const float *a, const float *b, size_t n)
{
    double e = 0, m = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e)) e = d;   /* NaN propagates */
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return e / m;
}

static const char *bname(int b)
{
    return b == LLFC_CONV_DNNL ? "oneDNN plain" : b == LLFC_CONV_DNNL_BLOCKED ? "oneDNN blocked" : "im2col";
}

static const int shapes[][9] = {
    /* N   C   H   W   K  R  S  stride pad */
    {7, 16, 8, 8, 16, 3, 3, 1, 1},     /* ResNet-20 block conv, batch 7 */
    {1, 3, 32, 32, 16, 3, 3, 1, 1},    /* stem on CIFAR, batch 1, C = 3 */
    {7, 1, 28, 28, 8, 3, 3, 1, 1},     /* VGG on Fashion-MNIST, C = 1 */
    {7, 16, 9, 9, 32, 3, 3, 2, 1},     /* stride-2 block conv, odd size */
    {7, 16, 9, 9, 32, 1, 1, 2, 0},     /* 1x1 stride-2 projection shortcut, odd size */
    {1, 32, 16, 16, 64, 1, 1, 2, 0},   /* projection, batch 1 */
    {7, 8, 7, 5, 12, 3, 3, 1, 1},      /* odd, non-square */
    {7, 5, 11, 11, 6, 3, 3, 2, 0},     /* unpadded stride 2 */
    {2, 3, 5, 5, 4, 1, 1, 1, 0},       /* pointwise */
    {3, 64, 2, 2, 64, 3, 3, 1, 1},     /* VGG's last 2x2 maps */
    {2, 4, 6, 6, 3, 5, 5, 1, 2},       /* 5x5 pad 2 */
};

static void test_shape(const int *sh, int backend, int bias)
{
    int N = sh[0], C = sh[1], H = sh[2], W = sh[3], K = sh[4], R = sh[5], S = sh[6];
    int stride = sh[7], pad = sh[8];
    int P = llfc_conv2d_outsize(H, R, stride, pad), Q = llfc_conv2d_outsize(W, S, stride, pad);
    size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * R * S, nout = (size_t)N * K * P * Q;
    char name[160];
    snprintf(name, sizeof name, "%s conv %dx%dx%dx%d -> %d, %dx%d s%d p%d%s", bname(backend), N, C,
             H, W, K, R, S, stride, pad, bias ? " bias" : "");
    float *in = randbuf(nin, 1), *w = randbuf(nw, 0.3), *b = bias ? randbuf(K, 1) : NULL;
    float *g = randbuf(nout, 1);
    float *dw0 = randbuf(nw, 1), *db0 = randbuf(K, 1);   /* gradients accumulate onto these */

    /* reference: im2col */
    llfc_conv2d_set_backend(LLFC_CONV_IM2COL);
    float *out_r = randbuf(nout, 1), *din_r = randbuf(nin, 1);
    float *dw_r = copybuf(dw0, nw), *db_r = copybuf(db0, K);
    int rc = llfc_conv2d_forward(out_r, in, w, b, N, C, H, W, K, R, S, stride, pad, NULL);
    rc |= llfc_conv2d_backward(din_r, dw_r, db_r, g, in, w, N, C, H, W, K, R, S, stride, pad, NULL);

    if (llfc_conv2d_set_backend(backend) < 0) {
        CHECK(0, "%s: set_backend: %s", name, llfc_errmsg());
        return;
    }
    long fb = llfc_conv2d_fallbacks();
    float *out = randbuf(nout, 100), *din = randbuf(nin, 100);
    float *dw = copybuf(dw0, nw), *db = copybuf(db0, K);
    rc |= llfc_conv2d_forward(out, in, w, b, N, C, H, W, K, R, S, stride, pad, NULL);
    rc |= llfc_conv2d_backward(din, dw, db, g, in, w, N, C, H, W, K, R, S, stride, pad, NULL);
    double ef = relerr(out, out_r, nout), ed = relerr(din, din_r, nin);
    double ew = relerr(dw, dw_r, nw), eb = relerr(db, db_r, K);
    CHECK(rc == 0 && ef < 1e-4 && ed < 1e-4 && ew < 1e-4 && eb < 1e-4,
          "%s: forward, din, dweight += , dbias += equal im2col (rel err %.1g %.1g %.1g %.1g)",
          name, ef, ed, ew, eb);
    CHECK(llfc_conv2d_fallbacks() == fb, "%s: ran without falling back to im2col (%ld fallbacks)",
          name, llfc_conv2d_fallbacks() - fb);

    /* the cached primitives again, and gradients accumulate once more; only
     * some of the gradients */
    float *out2 = randbuf(nout, 1), *din2 = randbuf(nin, 1), *dw2 = copybuf(dw, nw);
    rc = llfc_conv2d_forward(out2, in, w, b, N, C, H, W, K, R, S, stride, pad, NULL);
    rc |= llfc_conv2d_backward(din2, NULL, NULL, g, NULL, w, N, C, H, W, K, R, S, stride, pad, NULL);
    rc |= llfc_conv2d_backward(NULL, dw2, NULL, g, in, NULL, N, C, H, W, K, R, S, stride, pad, NULL);
    double acc = 0;   /* dw2 = dw0 + 2 grad */
    for (size_t i = 0; i < nw; i++) {
        double want = 2.0 * dw_r[i] - dw0[i];
        acc = fmax(acc, fabs(dw2[i] - want) / (1 + fabs(want)));
    }
    CHECK(rc == 0 && relerr(out2, out, nout) == 0 && relerr(din2, din, nin) == 0 && acc < 1e-4,
          "%s: second call (cached primitive) repeats; din alone; dweight alone accumulates (err %.1g)",
          name, acc);
    float *db2 = copybuf(db0, K);
    rc = llfc_conv2d_backward(NULL, NULL, db2, g, NULL, NULL, N, C, H, W, K, R, S, stride, pad, NULL);
    CHECK(rc == 0 && relerr(db2, db_r, K) < 1e-4, "%s: dbias alone", name);

    free(in); free(w); free(b); free(g); free(dw0); free(db0);
    free(out_r); free(din_r); free(dw_r); free(db_r);
    free(out); free(din); free(dw); free(db); free(out2); free(din2); free(dw2); free(db2);
}

/* More shapes than the cache holds, then the first shape again. */
static void test_eviction(int backend)
{
    llfc_conv2d_set_backend(backend);
    long fb = llfc_conv2d_fallbacks();
    float in[2 * 3 * 9 * 9], w[4 * 3 * 9], out[2 * 4 * 81], ref[2 * 4 * 81];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) in[i] = (float)llfc_rng_normal(&rng);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) w[i] = (float)llfc_rng_normal(&rng);
    int rc = 0;
    for (int h = 3; h <= 9; h++)
        for (int k = 1; k <= 4; k++)
            for (int n = 1; n <= 2; n++)
                rc |= llfc_conv2d_forward(out, in, w, NULL, n, 3, h, h, k, 3, 3, 1, 1, NULL);
    rc |= llfc_conv2d_forward(out, in, w, NULL, 2, 3, 9, 9, 4, 3, 3, 1, 1, NULL);
    llfc_conv2d_set_backend(LLFC_CONV_IM2COL);
    rc |= llfc_conv2d_forward(ref, in, w, NULL, 2, 3, 9, 9, 4, 3, 3, 1, 1, NULL);
    CHECK(rc == 0 && relerr(out, ref, 2 * 4 * 81) < 1e-4 && llfc_conv2d_fallbacks() == fb,
          "%s: 56 shapes through the cache, then the first again", bname(backend));
}

int main(void)
{
    llfc_rng_seed(&rng, 8);
    llfc_blas_set_threads(1);
    const char *info = llfc_conv2d_dnnl_info();
    int dflt = llfc_conv2d_get_backend();
    CHECK(llfc_conv2d_set_backend(7) < 0 && strstr(llfc_errmsg(), "7"),
          "set_backend(7) fails: %s", llfc_errmsg());
    if (info && strstr(info, "not loaded")) {
        CHECK(llfc_conv2d_set_backend(LLFC_CONV_DNNL) < 0 && strstr(llfc_errmsg(), "not loaded"),
              "oneDNN built in but not loadable: set_backend fails: %s", llfc_errmsg());
        printf("skip - %s: backends not compared\n", info);
        return check_summary();
    }
    if (!info) {
        CHECK(dflt == LLFC_CONV_IM2COL, "without oneDNN the backend is im2col");
        CHECK(llfc_conv2d_set_backend(LLFC_CONV_DNNL) < 0 && strstr(llfc_errmsg(), "oneDNN"),
              "without oneDNN, set_backend(LLFC_CONV_DNNL) fails: %s", llfc_errmsg());
        printf("skip - built without oneDNN: backends not compared\n");
        return check_summary();
    }
    CHECK(dflt == LLFC_CONV_DNNL_BLOCKED && strstr(info, "oneDNN"),
          "built with %s: the default backend is oneDNN (blocked layouts)", info);
    for (int be = LLFC_CONV_DNNL; be <= LLFC_CONV_DNNL_BLOCKED; be++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            test_shape(shapes[s], be, s % 2 == 0);
        test_eviction(be);
    }
    CHECK(llfc_conv2d_set_backend(dflt) == 0 && llfc_conv2d_get_backend() == dflt,
          "set_backend back to the default");
    /* thread counts: primitives made for 1 thread are remade for 2 */
    int t0 = llfc_conv2d_get_threads();
    llfc_conv2d_set_threads(1);
    CHECK(t0 >= 1 && llfc_conv2d_get_threads() == 1, "set_threads(1): %d threads (default %d)",
          llfc_conv2d_get_threads(), t0);
    test_shape(shapes[3], dflt, 0);
    llfc_conv2d_set_threads(2);
    CHECK(llfc_conv2d_get_threads() == 2, "set_threads(2): %d threads", llfc_conv2d_get_threads());
    test_shape(shapes[3], dflt, 1);
    llfc_conv2d_set_threads(0);
    CHECK(llfc_conv2d_get_threads() == t0, "set_threads(0): back to %d threads", llfc_conv2d_get_threads());
    /* release drops the cache; the next call makes its primitive again */
    llfc_conv2d_release();
    test_shape(shapes[0], dflt, 1);
    return check_summary();
}
