/* bench_layers.c - time llfc's per-batch layer kernels other than conv2d
 * (BatchNorm2d, channel LayerNorm, 2x2 max pool, ReLU) on one NCHW shape, and
 * BatchNorm2d on blocked values ([N, C/8, H, W, 8], the _blk8 rows).
 *
 * Built and driven by scripts/bench_conv.py --layers.  Usage:
 *   bench_layers N C H W reps
 * Prints one line per kernel: "NAME fwd_ms=<median> bwd_ms=<median>" (wall
 * clock; the kernels are single-threaded).  ReLU lives in the network code;
 * two ways of writing its loops are timed: a plain loop and the executor's blocks (src/nn/exec.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "nn/kernels/layers.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* plain loops: GCC -O2 does not vectorize them and branches on each sign */
static void relu_fwd(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

static void relu_bwd(float *restrict d, const float *restrict h, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = h[i] > 0.0f ? d[i] : 0.0f;
}

/* the executor's way: fixed blocks of 16 that -O2 vectorizes (branch-free) */
#define VB 16
static void relu_fwd_vb(float *restrict out, const float *restrict in, size_t n)
{
    size_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++) out[i + j] = in[i + j] < 0.0f ? 0.0f : in[i + j];
    for (; i < n; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

static void relu_bwd_vb(float *restrict d, const float *restrict h, size_t n)
{
    size_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++) d[i + j] = h[i + j] > 0.0f ? d[i + j] : 0.0f;
    for (; i < n; i++) d[i] = h[i] > 0.0f ? d[i] : 0.0f;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_layers N C H W reps\n");
        return 2;
    }
    int N = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), W = atoi(argv[4]);
    int reps = atoi(argv[5]);
    size_t n = (size_t)N * C * H * W, nhw = (size_t)N * H * W;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *g = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n);
    float *w = malloc(sizeof(float) * C), *b = malloc(sizeof(float) * C);
    float *dw = calloc(C, sizeof(float)), *db = calloc(C, sizeof(float));
    float *mean = malloc(sizeof(float) * (nhw > (size_t)C ? nhw : (size_t)C));
    float *rstd = malloc(sizeof(float) * (nhw > (size_t)C ? nhw : (size_t)C));
    float *rm = calloc(C, sizeof(float)), *rv = calloc(C, sizeof(float));
    int32_t *idx = malloc(sizeof(int32_t) * n);
    double *tf = malloc(sizeof(double) * reps), *tb = malloc(sizeof(double) * reps);
    llfc_rng r;
    llfc_rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)llfc_rng_normal(&r), g[i] = (float)llfc_rng_normal(&r);
    for (int c = 0; c < C; c++) w[c] = 1.0f, b[c] = 0.0f;
    const char *names[] = {"batchnorm2d", "layernorm_c", "maxpool2x2", "relu_loop", "relu_blocked",
                           "batchnorm2d_blk8", "batchnorm2d_relu", "batchnorm2d_relu_blk8"};
    for (int k = 0; k < 8; k++) {
        if (k >= 5 && C % 8) continue;
        for (int i = -1; i < reps; i++) {
            double t0 = llfc_now(), t1, t2;
            switch (k) {
            case 0:
                llfc_batchnorm2d_forward_train(y, mean, rstd, rm, rv, x, w, b, N, C, H, W, 0.1f, 1e-5f);
                t1 = llfc_now();
                llfc_batchnorm2d_backward_train(dx, dw, db, g, x, w, mean, rstd, N, C, H, W);
                break;
            case 1:
                llfc_layernorm_c_forward(y, mean, rstd, x, w, b, N, C, H, W, 1e-5f);
                t1 = llfc_now();
                llfc_layernorm_c_backward(dx, dw, db, g, x, w, mean, rstd, N, C, H, W);
                break;
            case 2:
                llfc_maxpool2d_forward(y, idx, x, N, C, H, W, 2, 2);
                t1 = llfc_now();
                llfc_maxpool2d_backward(dx, g, idx, N, C, H, W, 2, 2);
                break;
            case 3:
                relu_fwd(y, x, n);
                t1 = llfc_now();
                relu_bwd(g, y, n);
                break;
            case 5:
            case 7:
                llfc_batchnorm2d_forward_train_blk(y, mean, rstd, rm, rv, x, w, b, N, C, H, W, 0.1f, 1e-5f, k == 7, 8);
                t1 = llfc_now();
                llfc_batchnorm2d_backward_train_blk(dx, dw, db, g, k == 7 ? y : NULL, x, w, mean, rstd, N, C, H, W, 8);
                break;
            case 6:
                llfc_batchnorm2d_forward_train_relu(y, mean, rstd, rm, rv, x, w, b, N, C, H, W, 0.1f, 1e-5f);
                t1 = llfc_now();
                llfc_batchnorm2d_backward_train_relu(dx, dw, db, g, y, x, w, mean, rstd, N, C, H, W);
                break;
            default:
                relu_fwd_vb(y, x, n);
                t1 = llfc_now();
                relu_bwd_vb(g, y, n);
                break;
            }
            t2 = llfc_now();
            if (i >= 0) tf[i] = (t1 - t0) * 1e3, tb[i] = (t2 - t1) * 1e3;
        }
        qsort(tf, reps, sizeof(double), cmp);
        qsort(tb, reps, sizeof(double), cmp);
        printf("%s fwd_ms=%.3f bwd_ms=%.3f\n", names[k], tf[reps / 2], tb[reps / 2]);
    }
    free(x); free(y); free(g); free(dx); free(w); free(b); free(dw); free(db);
    free(mean); free(rstd); free(rm); free(rv); free(idx); free(tf); free(tb);
    return 0;
}
