/* bench_conv.c - time llfc's conv2d forward and backward on one layer shape.
 *
 * Built and driven by scripts/bench_conv.py (links against the build's
 * libllfc_core).  Usage:
 *   bench_conv N C H W K R S stride pad reps threads chunk_floats [backend [bias]]
 * chunk_floats < 0 keeps the library default; backend is 0 (im2col), 1 (oneDNN,
 * plain layouts) or 2 (oneDNN, blocked layouts), < 0 or absent the library's;
 * bias 1 adds a bias (and its gradient).  Prints one line:
 *   fwd_ms=<median> bwd_ms=<median> fwd_cpu_ms=<median> bwd_cpu_ms=<median>
 * (wall and process CPU time; backward = dinput + dweight).  On a loaded
 * machine the CPU times of 1-thread runs compare kernels more reliably.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/core.h"
#include "nn/kernels/layers.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 13 || argc > 15) {
        fprintf(stderr, "usage: bench_conv N C H W K R S stride pad reps threads chunk [backend [bias]]\n");
        return 2;
    }
    int a[11];
    for (int i = 0; i < 11; i++) a[i] = atoi(argv[i + 1]);
    int N = a[0], C = a[1], H = a[2], W = a[3], K = a[4], R = a[5], S = a[6];
    int stride = a[7], pad = a[8], reps = a[9], threads = a[10];
    long chunk = atol(argv[12]);
    if (threads > 0) llfc_blas_set_threads(threads);
    if (chunk >= 0) llfc_conv2d_set_chunk((size_t)chunk);
    int hasbias = argc == 15 && atoi(argv[14]) != 0;
    if (argc >= 14 && atoi(argv[13]) >= 0 && llfc_conv2d_set_backend(atoi(argv[13])) < 0) {
        fprintf(stderr, "bench_conv: %s\n", llfc_errmsg());
        return 1;
    }
    int P = llfc_conv2d_outsize(H, R, stride, pad), Q = llfc_conv2d_outsize(W, S, stride, pad);
    if (P < 0 || Q < 0) { fprintf(stderr, "bench_conv: %s\n", llfc_errmsg()); return 1; }
    size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * R * S, nout = (size_t)N * K * P * Q;
    size_t nwork = llfc_conv2d_worksize(N, C, H, W, K, R, S, stride, pad);
    float *in = malloc(sizeof(float) * nin), *w = malloc(sizeof(float) * nw);
    float *out = malloc(sizeof(float) * nout), *g = malloc(sizeof(float) * nout);
    float *din = malloc(sizeof(float) * nin), *dw = calloc(nw, sizeof(float));
    float *b = hasbias ? calloc((size_t)K, sizeof(float)) : NULL;
    float *db = hasbias ? calloc((size_t)K, sizeof(float)) : NULL;
    float *work = malloc(sizeof(float) * (nwork ? nwork : 1));
    double *tf = malloc(sizeof(double) * reps), *tb = malloc(sizeof(double) * reps);
    double *cf = malloc(sizeof(double) * reps), *cb = malloc(sizeof(double) * reps);
    llfc_rng r;
    llfc_rng_seed(&r, 1);
    for (size_t i = 0; i < nin; i++) in[i] = (float)llfc_rng_normal(&r);
    for (size_t i = 0; i < nw; i++) w[i] = (float)llfc_rng_normal(&r) * 0.1f;
    for (size_t i = 0; i < nout; i++) g[i] = (float)llfc_rng_normal(&r);
    /* warm-up */
    if (llfc_conv2d_forward(out, in, w, b, N, C, H, W, K, R, S, stride, pad, work) < 0
        || llfc_conv2d_backward(din, dw, db, g, in, w, N, C, H, W, K, R, S, stride, pad, work) < 0) {
        fprintf(stderr, "bench_conv: %s\n", llfc_errmsg());
        return 1;
    }
    for (int i = 0; i < reps; i++) {
        double c0 = cpu_now(), t0 = llfc_now();
        llfc_conv2d_forward(out, in, w, b, N, C, H, W, K, R, S, stride, pad, work);
        double c1 = cpu_now(), t1 = llfc_now();
        llfc_conv2d_backward(din, dw, db, g, in, w, N, C, H, W, K, R, S, stride, pad, work);
        double c2 = cpu_now(), t2 = llfc_now();
        tf[i] = (t1 - t0) * 1e3, tb[i] = (t2 - t1) * 1e3;
        cf[i] = (c1 - c0) * 1e3, cb[i] = (c2 - c1) * 1e3;
    }
    qsort(tf, reps, sizeof(double), cmp);
    qsort(tb, reps, sizeof(double), cmp);
    qsort(cf, reps, sizeof(double), cmp);
    qsort(cb, reps, sizeof(double), cmp);
    printf("fwd_ms=%.3f bwd_ms=%.3f fwd_cpu_ms=%.3f bwd_cpu_ms=%.3f fallbacks=%ld\n", tf[reps / 2],
           tb[reps / 2], cf[reps / 2], cb[reps / 2], llfc_conv2d_fallbacks());
    free(in); free(w); free(out); free(g); free(din); free(dw); free(work); free(b); free(db);
    free(tf); free(tb); free(cf); free(cb);
    return 0;
}
