/* norm.c - BatchNorm2d and the two LayerNorms of conv nets on NCHW buffers (see layers.h).
 *
 * All three normalise a set of M values x_i with their mean and biased
 * variance, xhat_i = (x_i - mean) * rstd, rstd = 1/sqrt(var + eps), then apply
 * a per-channel affine map.  The backward pass through the statistics is,
 * with g_i = dout_i * weight[c(i)],
 *   din_i = rstd * (g_i - mean_j(g_j) - xhat_i * mean_j(g_j * xhat_j)).
 * Sums run in 16 float lanes over one row (a channel plane), added up in
 * double across rows (BatchNorm: in 16 double lanes, totalled once per
 * channel): vectorizable without reassociating a single sum.
 */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "nn/kernels/layers.h"


enum { LANES = 16 };

/* sum x */
LLFC_VECTORIZE static double row_sum(const float *restrict x, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    double s = 0;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* sum (x - m)^2 */
LLFC_VECTORIZE static double row_sumsq(const float *restrict x, size_t n, float m)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) { float d = x[i + j] - m; acc[j] += d * d; }
    double s = 0;
    for (; i < n; i++) { double d = x[i] - m; s += d * d; }
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* sum g * (x - m) */
LLFC_VECTORIZE static double row_dot(const float *restrict g, const float *restrict x, size_t n, float m)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += g[i + j] * (x[i + j] - m);
    double s = 0;
    for (; i < n; i++) s += (double)g[i] * (x[i] - m);
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* sum g * (x - m[i]) * r[i] (per-pixel statistics) */
LLFC_VECTORIZE static double row_dot_stats(const float *restrict g, const float *restrict x,
                                      const float *restrict m, const float *restrict r, size_t n)
{
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += g[i + j] * ((x[i + j] - m[i + j]) * r[i + j]);
    double s = 0;
    for (; i < n; i++) s += (double)g[i] * ((x[i] - m[i]) * r[i]);
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* o = (x - m) * a + b */
LLFC_VECTORIZE static void row_affine(float *restrict o, const float *restrict x, size_t n,
                                 float m, float a, float b)
{
    for (size_t i = 0; i < n; i++) o[i] = (x[i] - m) * a + b;
}

/* d = a * (g - mg - (x - m) * r * mgx) */
LLFC_VECTORIZE static void row_dnorm(float *restrict d, const float *restrict g, const float *restrict x,
                                size_t n, float a, float mg, float m, float r, float mgx)
{
    for (size_t i = 0; i < n; i++) d[i] = a * (g[i] - mg - (x[i] - m) * r * mgx);
}

static int norm_check(const char *fname, int N, int C, int H, int W)
{
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("%s: sizes must be >= 1, got %dx%dx%dx%d", fname, N, C, H, W);
    return 0;
}

static int eps_check(const char *fname, float eps)
{
    if (!(eps >= 0.0f)) return llfc_seterr("%s: eps must be >= 0, got %g", fname, (double)eps);
    return 0;
}

/* ---- BatchNorm2d ------------------------------------------------------------
 * One channel's values are N rows of HW floats, C*HW apart.  The row
 * kernels below add into 16 float lanes, flushed into 16 double lanes
 * (a vectorized conversion, no serial chain of scalar adds) after each 1024
 * values of the channel, and the double lanes are totalled once per
 * channel.  A channel of a CIFAR batch (128 x 32x32 floats, 512 KB) stays
 * in L2 between the passes over it.  The _relu variants fuse a
 * following ReLU: the forward writes relu(out); the backward takes dout at
 * the ReLU's output h and lets through only where h > 0. */

/* acc[j] += lane sums of x; t += the tail (n % LANES values) */
LLFC_VECTORIZE static void lane_sum(float *restrict acc, double *restrict t, const float *restrict x, size_t n)
{
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    for (; i < n; i++) *t += x[i];
}

/* acc[j] += lane sums of (x - m)^2; t += the tail's */
LLFC_VECTORIZE static void lane_sumsq(float *restrict acc, double *restrict t, const float *restrict x, size_t n, float m)
{
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) { float v = x[i + j] - m; acc[j] += v * v; }
    for (; i < n; i++) { double v = x[i] - m; *t += v * v; }
}

/* a[j] += lane sums of g', b[j] += lane sums of g' * (x - m), with g' = g,
 * or g where h > 0 and 0 elsewhere if h (a ReLU's output) is given; ta, tb
 * the tail's */
LLFC_VECTORIZE static void lane_sum_dot(float *restrict a, float *restrict b, double *restrict ta, double *restrict tb,
                                   const float *restrict g, const float *restrict h, const float *restrict x,
                                   size_t n, float m)
{
    size_t i = 0;
    if (h) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) {
                float gv = g[i + j], hv = h[i + j];
                gv = hv > 0.0f ? gv : 0.0f;
                a[j] += gv, b[j] += gv * (x[i + j] - m);
            }
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) a[j] += g[i + j], b[j] += g[i + j] * (x[i + j] - m);
    }
    for (; i < n; i++) {
        float gv = h && !(h[i] > 0.0f) ? 0.0f : g[i];
        *ta += gv, *tb += (double)gv * (x[i] - m);
    }
}

/* d[j] += acc[j], acc[j] = 0: float lanes are flushed into double lanes
 * every ROWS_PER(hw) rows, so that a lane adds up at most 64 values */
LLFC_VECTORIZE static void flush(double *restrict d, float *restrict acc)
{
    for (int j = 0; j < LANES; j++) d[j] += acc[j], acc[j] = 0.0f;
}
#define ROWS_PER(hw) ((hw) >= 64 * LANES ? 1 : (int)(64 * LANES / (hw)))

static double lanes_total(const double *d)
{
    double s = 0;
    for (int j = 0; j < LANES; j++) s += d[j];
    return s;
}

/* o = relu((x - m) * a + b) (NaN stays NaN) */
LLFC_VECTORIZE static void row_affine_relu(float *restrict o, const float *restrict x, size_t n,
                                      float m, float a, float b)
{
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] - m) * a + b;
        o[i] = v < 0.0f ? 0.0f : v;
    }
}

/* d = a * (g' - mg - (x - m) * r * mgx), g' as in lane_sum_dot */
LLFC_VECTORIZE static void row_dnorm_mask(float *restrict d, const float *restrict g, const float *restrict h,
                                     const float *restrict x, size_t n, float a, float mg, float m, float r,
                                     float mgx)
{
    for (size_t i = 0; i < n; i++) {
        float gv = g[i], hv = h[i];
        gv = hv > 0.0f ? gv : 0.0f;
        d[i] = a * (gv - mg - (x[i] - m) * r * mgx);
    }
}

/* The BatchNorm kernels run over channels, each channel's arithmetic the same
 * whichever thread does it, so results do not depend on the thread count.
 * A thread takes at least BN_MIN_VALUES values (whole channels). */
enum { BN_MIN_VALUES = 1 << 15 };

static int64_t bn_min_channels(size_t M)
{
    return M >= BN_MIN_VALUES ? 1 : (int64_t)((BN_MIN_VALUES + M - 1) / M);
}

struct bn_args {
    float *out, *mean, *rstd, *running_mean, *running_var, *din, *dweight, *dbias;
    const float *in, *weight, *bias, *dout, *h, *cmean, *crstd, *rmean, *rvar;
    int N, C, relu;
    size_t hw;
    float momentum, eps;
};

/* channels [lo, hi) of bn_forward_train */
LLFC_VECTORIZE static void bn_forward_train_part(void *ud, int64_t lo, int64_t hi)
{
    const struct bn_args *A = ud;
    const int N = A->N, relu = A->relu;
    const size_t hw = A->hw, M = (size_t)N * hw, cs = (size_t)A->C * hw;
    const int rpf = ROWS_PER(hw);
    const float *in = A->in, *weight = A->weight, *bias = A->bias;
    float *out = A->out, *mean = A->mean, *rstd = A->rstd;
    float *running_mean = A->running_mean, *running_var = A->running_var;
    const float momentum = A->momentum, eps = A->eps;
    for (int c = (int)lo; c < (int)hi; c++) {
        const float *xc = in + (size_t)c * hw;
        double d[LANES] = {0};
        float acc[LANES] = {0};
        for (int n = 0; n < N; n++) {
            lane_sum(acc, d, xc + n * cs, hw);
            if ((n + 1) % rpf == 0 || n == N - 1) flush(d, acc);
        }
        double mu = lanes_total(d) / (double)M;
        memset(d, 0, sizeof d);
        for (int n = 0; n < N; n++) {
            lane_sumsq(acc, d, xc + n * cs, hw, (float)mu);
            if ((n + 1) % rpf == 0 || n == N - 1) flush(d, acc);
        }
        double ss = lanes_total(d), var = ss / (double)M;
        float rs = (float)(1.0 / sqrt(var + (double)eps));
        float w = weight ? weight[c] : 1.0f, b = bias ? bias[c] : 0.0f;
        float a = w * rs, m = (float)mu;
        if (out) {
            float *oc = out + (size_t)c * hw;
            for (int n = 0; n < N; n++) {
                if (relu) row_affine_relu(oc + n * cs, xc + n * cs, hw, m, a, b);
                else row_affine(oc + n * cs, xc + n * cs, hw, m, a, b);
            }
        }
        if (mean) mean[c] = m;
        if (rstd) rstd[c] = rs;
        if (running_mean)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
        if (running_var)
            running_var[c] = (float)((1.0 - momentum) * running_var[c]
                                     + momentum * ss / (double)(M - 1));
    }
}

static int bn_forward_train(float *out, float *mean, float *rstd, float *running_mean, float *running_var,
                            const float *in, const float *weight, const float *bias,
                            int N, int C, int H, int W, float momentum, float eps, int relu)
{
    const char *fn = relu ? "batchnorm2d_forward_train_relu" : "batchnorm2d_forward_train";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!in) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W, M = (size_t)N * hw;
    if (M < 2)
        return llfc_seterr("%s: expected more than 1 value per channel when training, "
                           "got input %dx%dx%dx%d", fn, N, C, H, W);
    if ((running_mean || running_var) && !(momentum >= 0.0f && momentum <= 1.0f))
        return llfc_seterr("%s: momentum must be in [0, 1], got %g", fn, (double)momentum);
    struct bn_args A = {.out = out, .mean = mean, .rstd = rstd, .running_mean = running_mean,
                        .running_var = running_var, .in = in, .weight = weight, .bias = bias,
                        .N = N, .C = C, .relu = relu, .hw = hw, .momentum = momentum, .eps = eps};
    llfc_parallel_for(C, bn_min_channels(M), bn_forward_train_part, &A);
    return 0;
}

int llfc_batchnorm2d_forward_train(float *out, float *mean, float *rstd,
                                   float *running_mean, float *running_var,
                                   const float *in, const float *weight, const float *bias,
                                   int N, int C, int H, int W, float momentum, float eps)
{
    return bn_forward_train(out, mean, rstd, running_mean, running_var, in, weight, bias, N, C, H, W, momentum,
                            eps, 0);
}

int llfc_batchnorm2d_forward_train_relu(float *out, float *mean, float *rstd,
                                        float *running_mean, float *running_var,
                                        const float *in, const float *weight, const float *bias,
                                        int N, int C, int H, int W, float momentum, float eps)
{
    if (!out) return llfc_seterr("batchnorm2d_forward_train_relu: NULL buffer");
    return bn_forward_train(out, mean, rstd, running_mean, running_var, in, weight, bias, N, C, H, W, momentum,
                            eps, 1);
}

/* channels [lo, hi) of bn_forward_eval */
static void bn_forward_eval_part(void *ud, int64_t lo, int64_t hi)
{
    const struct bn_args *A = ud;
    const int N = A->N, C = A->C;
    const size_t hw = A->hw;
    for (int c = (int)lo; c < (int)hi; c++) {
        float rs = (float)(1.0 / sqrt((double)A->rvar[c] + (double)A->eps));
        float a = (A->weight ? A->weight[c] : 1.0f) * rs, b = A->bias ? A->bias[c] : 0.0f;
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * C + c) * hw;
            if (A->relu) row_affine_relu(A->out + at, A->in + at, hw, A->rmean[c], a, b);
            else row_affine(A->out + at, A->in + at, hw, A->rmean[c], a, b);
        }
    }
}

static int bn_forward_eval(float *out, const float *in, const float *weight, const float *bias,
                           const float *running_mean, const float *running_var,
                           int N, int C, int H, int W, float eps, int relu)
{
    const char *fn = relu ? "batchnorm2d_forward_eval_relu" : "batchnorm2d_forward_eval";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!out || !in || !running_mean || !running_var) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W;
    struct bn_args A = {.out = out, .in = in, .weight = weight, .bias = bias, .rmean = running_mean,
                        .rvar = running_var, .N = N, .C = C, .relu = relu, .hw = hw, .eps = eps};
    llfc_parallel_for(C, bn_min_channels((size_t)N * hw), bn_forward_eval_part, &A);
    return 0;
}

int llfc_batchnorm2d_forward_eval(float *out, const float *in,
                                  const float *weight, const float *bias,
                                  const float *running_mean, const float *running_var,
                                  int N, int C, int H, int W, float eps)
{
    return bn_forward_eval(out, in, weight, bias, running_mean, running_var, N, C, H, W, eps, 0);
}

int llfc_batchnorm2d_forward_eval_relu(float *out, const float *in,
                                       const float *weight, const float *bias,
                                       const float *running_mean, const float *running_var,
                                       int N, int C, int H, int W, float eps)
{
    return bn_forward_eval(out, in, weight, bias, running_mean, running_var, N, C, H, W, eps, 1);
}

/* One block of BK channels of blocked eval BatchNorm: rows of hw pixels of
 * BK lanes, each lane the plain kernel's arithmetic for its channel. */
#define BN_EVAL_BLK(BK)                                                                      \
    static void bn_eval_blk##BK(float *restrict o, const float *restrict x, size_t hw,        \
                                const float *m, const float *a, const float *b, int relu)    \
    {                                                                                        \
        float mm[BK], aa[BK], bb[BK];                                                        \
        for (int j = 0; j < BK; j++) mm[j] = m[j], aa[j] = a[j], bb[j] = b[j];               \
        if (relu)                                                                            \
            for (size_t i = 0; i < hw; i++)                                                  \
                for (int j = 0; j < BK; j++) {                                               \
                    float v = (x[i * BK + j] - mm[j]) * aa[j] + bb[j];                       \
                    o[i * BK + j] = v < 0.0f ? 0.0f : v;                                     \
                }                                                                            \
        else                                                                                 \
            for (size_t i = 0; i < hw; i++)                                                  \
                for (int j = 0; j < BK; j++) o[i * BK + j] = (x[i * BK + j] - mm[j]) * aa[j] + bb[j]; \
    }
LLFC_VECTOR_CLONES LLFC_VECTORIZE BN_EVAL_BLK(8)
LLFC_VECTOR_CLONES LLFC_VECTORIZE BN_EVAL_BLK(16)

struct bn_blk_args {
    float *out;
    const float *in, *weight, *bias, *rmean, *rvar;
    int N, C, B, relu;
    size_t hw;
    float eps;
};

/* channel blocks [lo, hi) of llfc_batchnorm2d_forward_eval_blk */
static void bn_forward_eval_blk_part(void *ud, int64_t lo, int64_t hi)
{
    const struct bn_blk_args *A = ud;
    const int B = A->B;
    const size_t hw = A->hw, cs = (size_t)A->C * hw;
    float m[16], a[16], b[16];
    for (int cb = (int)lo; cb < (int)hi; cb++) {
        for (int j = 0; j < B; j++) {
            int c = cb * B + j;
            float rs = (float)(1.0 / sqrt((double)A->rvar[c] + (double)A->eps));
            a[j] = (A->weight ? A->weight[c] : 1.0f) * rs, b[j] = A->bias ? A->bias[c] : 0.0f;
            m[j] = A->rmean[c];
        }
        for (int n = 0; n < A->N; n++) {
            size_t at = n * cs + (size_t)cb * hw * B;
            if (B == 8) bn_eval_blk8(A->out + at, A->in + at, hw, m, a, b, A->relu);
            else bn_eval_blk16(A->out + at, A->in + at, hw, m, a, b, A->relu);
        }
    }
}

int llfc_batchnorm2d_forward_eval_blk(float *out, const float *in, const float *weight, const float *bias,
                                      const float *running_mean, const float *running_var,
                                      int N, int C, int H, int W, float eps, int relu, int B)
{
    const char *fn = "batchnorm2d_forward_eval_blk";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!out || !in || !running_mean || !running_var) return llfc_seterr("%s: NULL buffer", fn);
    if (B == 0) return bn_forward_eval(out, in, weight, bias, running_mean, running_var, N, C, H, W, eps, relu);
    if ((B != 8 && B != 16) || C % B) return llfc_seterr("%s: %d channels in blocks of %d", fn, C, B);
    const size_t hw = (size_t)H * W;
    struct bn_blk_args A = {out, in, weight, bias, running_mean, running_var, N, C, B, relu != 0, hw, eps};
    llfc_parallel_for(C / B, bn_min_channels((size_t)N * hw * B), bn_forward_eval_blk_part, &A);
    return 0;
}

/* Training BatchNorm of blocked values.  Lane l of channel c adds the
 * values at pixels i = l (mod LANES) of each row in order, the tail of a row
 * (hw % LANES pixels) goes into double lane 0 and the float lanes are
 * flushed every ROWS_PER(hw) rows: the plain kernels' order, with the B
 * channels of a block side by side (acc[l][j], channel cb*B + j). */
static inline __attribute__((always_inline)) void bnt_blk_body(const struct bn_args *A, int64_t lo, int64_t hi,
                                                               const int BK)
{
    const int N = A->N, relu = A->relu, C = A->C;
    const size_t hw = A->hw, M = (size_t)N * hw, cs = (size_t)C * hw, full = hw / LANES * LANES;
    const int rpf = ROWS_PER(hw);
    for (int cb = (int)lo; cb < (int)hi; cb++) {
        const float *xb = A->in + (size_t)cb * hw * BK;
        float acc[LANES][16];
        double d[LANES][16];
        double mu[16], ss[16];
        float m[16], a[16], b[16], rs[16];
        for (int pass = 0; pass < 2; pass++) {
            memset(acc, 0, sizeof acc), memset(d, 0, sizeof d);
            for (int n = 0; n < N; n++) {
                const float *x = xb + n * cs;
                if (pass == 0) {
                    for (size_t i = 0; i < full; i += LANES)
                        for (int l = 0; l < LANES; l++)
                            for (int j = 0; j < BK; j++) acc[l][j] += x[(i + l) * BK + j];
                    for (size_t i = full; i < hw; i++)
                        for (int j = 0; j < BK; j++) d[0][j] += x[i * BK + j];
                } else {
                    for (size_t i = 0; i < full; i += LANES)
                        for (int l = 0; l < LANES; l++)
                            for (int j = 0; j < BK; j++) {
                                float v = x[(i + l) * BK + j] - m[j];
                                acc[l][j] += v * v;
                            }
                    for (size_t i = full; i < hw; i++)
                        for (int j = 0; j < BK; j++) {
                            double v = x[i * BK + j] - m[j];
                            d[0][j] += v * v;
                        }
                }
                if ((n + 1) % rpf == 0 || n == N - 1)
                    for (int l = 0; l < LANES; l++)
                        for (int j = 0; j < BK; j++) d[l][j] += acc[l][j], acc[l][j] = 0.0f;
            }
            for (int j = 0; j < BK; j++) {
                double t = 0;
                for (int l = 0; l < LANES; l++) t += d[l][j];
                if (pass == 0) mu[j] = t / (double)M, m[j] = (float)mu[j];
                else ss[j] = t;
            }
        }
        for (int j = 0; j < BK; j++) {
            int c = cb * BK + j;
            double var = ss[j] / (double)M;
            rs[j] = (float)(1.0 / sqrt(var + (double)A->eps));
            float w = A->weight ? A->weight[c] : 1.0f;
            b[j] = A->bias ? A->bias[c] : 0.0f;
            a[j] = w * rs[j];
            if (A->mean) A->mean[c] = m[j];
            if (A->rstd) A->rstd[c] = rs[j];
            if (A->running_mean)
                A->running_mean[c] = (float)((1.0 - A->momentum) * A->running_mean[c] + A->momentum * mu[j]);
            if (A->running_var)
                A->running_var[c] = (float)((1.0 - A->momentum) * A->running_var[c]
                                            + A->momentum * ss[j] / (double)(M - 1));
        }
        if (!A->out) continue;
        for (int n = 0; n < N; n++) {
            const float *x = xb + n * cs;
            float *o = A->out + (size_t)cb * hw * BK + n * cs;
            if (relu)
                for (size_t i = 0; i < hw; i++)
                    for (int j = 0; j < BK; j++) {
                        float v = (x[i * BK + j] - m[j]) * a[j] + b[j];
                        o[i * BK + j] = v < 0.0f ? 0.0f : v;
                    }
            else
                for (size_t i = 0; i < hw; i++)
                    for (int j = 0; j < BK; j++) o[i * BK + j] = (x[i * BK + j] - m[j]) * a[j] + b[j];
        }
    }
}

static inline __attribute__((always_inline)) void bnb_blk_body(const struct bn_args *A, int64_t lo, int64_t hi,
                                                               const int BK)
{
    const int N = A->N, C = A->C;
    const size_t hw = A->hw, M = (size_t)N * hw, cs = (size_t)C * hw, full = hw / LANES * LANES;
    const int rpf = ROWS_PER(hw);
    const float *h = A->h;
    for (int cb = (int)lo; cb < (int)hi; cb++) {
        const size_t c0 = (size_t)cb * hw * BK;
        float a1[LANES][16], a2[LANES][16], m[16], r[16], a[16], mg[16], mgx[16];
        double ds[LANES][16], dx[LANES][16];
        memset(a1, 0, sizeof a1), memset(a2, 0, sizeof a2), memset(ds, 0, sizeof ds), memset(dx, 0, sizeof dx);
        for (int j = 0; j < BK; j++) m[j] = A->cmean[cb * BK + j], r[j] = A->crstd[cb * BK + j];
        for (int n = 0; n < N; n++) {
            const float *g = A->dout + c0 + n * cs, *x = A->in + c0 + n * cs, *hh = h ? h + c0 + n * cs : NULL;
            if (hh)
                for (size_t i = 0; i < full; i += LANES)
                    for (int l = 0; l < LANES; l++)
                        for (int j = 0; j < BK; j++) {
                            size_t at = (i + l) * BK + j;
                            float gv = g[at], hv = hh[at];
                            gv = hv > 0.0f ? gv : 0.0f;
                            a1[l][j] += gv, a2[l][j] += gv * (x[at] - m[j]);
                        }
            else
                for (size_t i = 0; i < full; i += LANES)
                    for (int l = 0; l < LANES; l++)
                        for (int j = 0; j < BK; j++) {
                            size_t at = (i + l) * BK + j;
                            a1[l][j] += g[at], a2[l][j] += g[at] * (x[at] - m[j]);
                        }
            for (size_t i = full; i < hw; i++)
                for (int j = 0; j < BK; j++) {
                    size_t at = i * BK + j;
                    float gv = hh && !(hh[at] > 0.0f) ? 0.0f : g[at];
                    ds[0][j] += gv, dx[0][j] += (double)gv * (x[at] - m[j]);
                }
            if ((n + 1) % rpf == 0 || n == N - 1)
                for (int l = 0; l < LANES; l++)
                    for (int j = 0; j < BK; j++)
                        ds[l][j] += a1[l][j], a1[l][j] = 0.0f, dx[l][j] += a2[l][j], a2[l][j] = 0.0f;
        }
        for (int j = 0; j < BK; j++) {
            int c = cb * BK + j;
            double sg = 0, t = 0;
            for (int l = 0; l < LANES; l++) sg += ds[l][j];
            for (int l = 0; l < LANES; l++) t += dx[l][j];
            double sgx = t * r[j];
            if (A->dbias) A->dbias[c] += (float)sg;
            if (A->dweight) A->dweight[c] += (float)sgx;
            float w = A->weight ? A->weight[c] : 1.0f;
            a[j] = w * r[j], mg[j] = (float)(sg / (double)M), mgx[j] = (float)(sgx / (double)M);
        }
        if (!A->din) continue;
        for (int n = 0; n < N; n++) {
            const size_t o = c0 + n * cs;
            const float *g = A->dout + o, *x = A->in + o, *hh = h ? h + o : NULL;
            float *dd = A->din + o;
            if (hh)
                for (size_t i = 0; i < hw; i++)
                    for (int j = 0; j < BK; j++) {
                        size_t at = i * BK + j;
                        float gv = g[at], hv = hh[at];
                        gv = hv > 0.0f ? gv : 0.0f;
                        dd[at] = a[j] * (gv - mg[j] - (x[at] - m[j]) * r[j] * mgx[j]);
                    }
            else
                for (size_t i = 0; i < hw; i++)
                    for (int j = 0; j < BK; j++) {
                        size_t at = i * BK + j;
                        dd[at] = a[j] * (g[at] - mg[j] - (x[at] - m[j]) * r[j] * mgx[j]);
                    }
        }
    }
}

LLFC_VECTOR_CLONES LLFC_VECTORIZE static void bnt_blk8(void *ud, int64_t lo, int64_t hi) { bnt_blk_body(ud, lo, hi, 8); }
LLFC_VECTOR_CLONES LLFC_VECTORIZE static void bnt_blk16(void *ud, int64_t lo, int64_t hi) { bnt_blk_body(ud, lo, hi, 16); }
LLFC_VECTOR_CLONES LLFC_VECTORIZE static void bnb_blk8(void *ud, int64_t lo, int64_t hi) { bnb_blk_body(ud, lo, hi, 8); }
LLFC_VECTOR_CLONES LLFC_VECTORIZE static void bnb_blk16(void *ud, int64_t lo, int64_t hi) { bnb_blk_body(ud, lo, hi, 16); }

int llfc_batchnorm2d_forward_train_blk(float *out, float *mean, float *rstd, float *running_mean, float *running_var,
                                       const float *in, const float *weight, const float *bias, int N, int C, int H,
                                       int W, float momentum, float eps, int relu, int B)
{
    if (B == 0)
        return bn_forward_train(out, mean, rstd, running_mean, running_var, in, weight, bias, N, C, H, W, momentum,
                                eps, relu);
    const char *fn = "batchnorm2d_forward_train_blk";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!in || (relu && !out)) return llfc_seterr("%s: NULL buffer", fn);
    if ((B != 8 && B != 16) || C % B) return llfc_seterr("%s: %d channels in blocks of %d", fn, C, B);
    const size_t hw = (size_t)H * W, M = (size_t)N * hw;
    if (M < 2)
        return llfc_seterr("%s: expected more than 1 value per channel when training, got input %dx%dx%dx%d", fn, N,
                           C, H, W);
    if ((running_mean || running_var) && !(momentum >= 0.0f && momentum <= 1.0f))
        return llfc_seterr("%s: momentum must be in [0, 1], got %g", fn, (double)momentum);
    struct bn_args A = {.out = out, .mean = mean, .rstd = rstd, .running_mean = running_mean,
                        .running_var = running_var, .in = in, .weight = weight, .bias = bias,
                        .N = N, .C = C, .relu = relu != 0, .hw = hw, .momentum = momentum, .eps = eps};
    llfc_parallel_for(C / B, bn_min_channels(M * B), B == 8 ? bnt_blk8 : bnt_blk16, &A);
    return 0;
}

int llfc_batchnorm2d_backward_train_blk(float *din, float *dweight, float *dbias, const float *dout, const float *h,
                                        const float *in, const float *weight, const float *mean, const float *rstd,
                                        int N, int C, int H, int W, int B)
{
    if (B == 0)
        return h ? llfc_batchnorm2d_backward_train_relu(din, dweight, dbias, dout, h, in, weight, mean, rstd, N, C, H, W)
                 : llfc_batchnorm2d_backward_train(din, dweight, dbias, dout, in, weight, mean, rstd, N, C, H, W);
    const char *fn = "batchnorm2d_backward_train_blk";
    if (norm_check(fn, N, C, H, W) < 0) return -1;
    if (!dout || !in || !mean || !rstd) return llfc_seterr("%s: NULL buffer", fn);
    if ((B != 8 && B != 16) || C % B) return llfc_seterr("%s: %d channels in blocks of %d", fn, C, B);
    const size_t hw = (size_t)H * W;
    struct bn_args A = {.din = din, .dweight = dweight, .dbias = dbias, .dout = dout, .h = h, .in = in,
                        .weight = weight, .cmean = mean, .crstd = rstd, .N = N, .C = C, .hw = hw};
    llfc_parallel_for(C / B, bn_min_channels((size_t)N * hw * B), B == 8 ? bnb_blk8 : bnb_blk16, &A);
    return 0;
}

/* channels [lo, hi) of bn_backward_train */
LLFC_VECTORIZE static void bn_backward_train_part(void *ud, int64_t lo, int64_t hi)
{
    const struct bn_args *A = ud;
    const int N = A->N;
    const size_t hw = A->hw, M = (size_t)N * hw, cs = (size_t)A->C * hw;
    const int rpf = ROWS_PER(hw);
    const float *dout = A->dout, *h = A->h, *in = A->in, *weight = A->weight;
    const float *mean = A->cmean, *rstd = A->crstd;
    float *din = A->din, *dweight = A->dweight, *dbias = A->dbias;
    for (int c = (int)lo; c < (int)hi; c++) {
        const float m = mean[c], rs = rstd[c];
        const size_t c0 = (size_t)c * hw;
        double ds[LANES] = {0}, dx[LANES] = {0};   /* sum dout, sum dout * (x - mean) */
        float a1[LANES] = {0}, a2[LANES] = {0};
        for (int n = 0; n < N; n++) {
            lane_sum_dot(a1, a2, ds, dx, dout + c0 + n * cs, h ? h + c0 + n * cs : NULL, in + c0 + n * cs, hw, m);
            if ((n + 1) % rpf == 0 || n == N - 1) flush(ds, a1), flush(dx, a2);
        }
        double sg = lanes_total(ds), sgx = lanes_total(dx) * rs;
        if (dbias) dbias[c] += (float)sg;
        if (dweight) dweight[c] += (float)sgx;
        if (!din) continue;
        float w = weight ? weight[c] : 1.0f;
        float a = w * rs, mg = (float)(sg / (double)M), mgx = (float)(sgx / (double)M);
        for (int n = 0; n < N; n++) {
            size_t at = c0 + n * cs;
            if (h) row_dnorm_mask(din + at, dout + at, h + at, in + at, hw, a, mg, m, rs, mgx);
            else row_dnorm(din + at, dout + at, in + at, hw, a, mg, m, rs, mgx);
        }
    }
}

static int bn_backward_train(float *din, float *dweight, float *dbias, const float *dout, const float *h,
                             const float *in, const float *weight, const float *mean, const float *rstd,
                             int N, int C, int H, int W, const char *fn)
{
    if (norm_check(fn, N, C, H, W) < 0) return -1;
    if (!dout || !in || !mean || !rstd) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W;
    struct bn_args A = {.din = din, .dweight = dweight, .dbias = dbias, .dout = dout, .h = h, .in = in,
                        .weight = weight, .cmean = mean, .crstd = rstd, .N = N, .C = C, .hw = hw};
    llfc_parallel_for(C, bn_min_channels((size_t)N * hw), bn_backward_train_part, &A);
    return 0;
}

int llfc_batchnorm2d_backward_train(float *din, float *dweight, float *dbias,
                                    const float *dout, const float *in, const float *weight,
                                    const float *mean, const float *rstd,
                                    int N, int C, int H, int W)
{
    return bn_backward_train(din, dweight, dbias, dout, NULL, in, weight, mean, rstd, N, C, H, W,
                             "batchnorm2d_backward_train");
}

int llfc_batchnorm2d_backward_train_relu(float *din, float *dweight, float *dbias,
                                         const float *dout, const float *h, const float *in,
                                         const float *weight, const float *mean, const float *rstd,
                                         int N, int C, int H, int W)
{
    if (!h) return llfc_seterr("batchnorm2d_backward_train_relu: NULL buffer");
    return bn_backward_train(din, dweight, dbias, dout, h, in, weight, mean, rstd, N, C, H, W,
                             "batchnorm2d_backward_train_relu");
}

int llfc_batchnorm2d_backward_eval(float *din, float *dweight, float *dbias,
                                   const float *dout, const float *in, const float *weight,
                                   const float *running_mean, const float *running_var,
                                   int N, int C, int H, int W, float eps)
{
    const char *fn = "batchnorm2d_backward_eval";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!dout || !running_mean || !running_var || (dweight && !in))
        return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        float rs = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        float m = running_mean[c];
        double sg = 0, sgx = 0;
        for (int n = 0; n < N; n++) {
            const float *g = dout + ((size_t)n * C + c) * hw;
            sg += row_sum(g, hw);
            if (in) sgx += row_dot(g, in + ((size_t)n * C + c) * hw, hw, m);
        }
        sgx *= rs;
        if (dbias) dbias[c] += (float)sg;
        if (dweight) dweight[c] += (float)sgx;
        if (!din) continue;
        float a = (weight ? weight[c] : 1.0f) * rs;
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * C + c) * hw;
            row_affine(din + at, dout + at, hw, 0.0f, a, 0.0f);
        }
    }
    return 0;
}

/* ---- LayerNorm over channels, per (n, h, w) ---------------------------------
 * The C values of one pixel are HW apart; loops run over channels outside and
 * pixels inside, accumulating per-pixel sums in [HW] arrays. */

LLFC_VECTORIZE int llfc_layernorm_c_forward(float *out, float *mean, float *rstd,
                             const float *in, const float *weight, const float *bias,
                             int N, int C, int H, int W, float eps)
{
    const char *fn = "layernorm_c_forward";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!out || !in || !mean || !rstd) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W;
    const float invC = 1.0f / (float)C;
    for (int n = 0; n < N; n++) {
        const float *xs = in + (size_t)n * C * hw;
        float *os = out + (size_t)n * C * hw;
        float *mu = mean + (size_t)n * hw, *rs = rstd + (size_t)n * hw;
        memset(mu, 0, sizeof(float) * hw);
        memset(rs, 0, sizeof(float) * hw);
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw;
            for (size_t i = 0; i < hw; i++) mu[i] += x[i];
        }
        for (size_t i = 0; i < hw; i++) mu[i] *= invC;
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw;
            for (size_t i = 0; i < hw; i++) { float d = x[i] - mu[i]; rs[i] += d * d; }
        }
        for (size_t i = 0; i < hw; i++) rs[i] = 1.0f / sqrtf(rs[i] * invC + eps);
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw;
            float *o = os + (size_t)c * hw;
            float w = weight ? weight[c] : 1.0f, b = bias ? bias[c] : 0.0f;
            for (size_t i = 0; i < hw; i++) o[i] = (x[i] - mu[i]) * rs[i] * w + b;
        }
    }
    return 0;
}

LLFC_VECTORIZE int llfc_layernorm_c_backward(float *din, float *dweight, float *dbias,
                              const float *dout, const float *in, const float *weight,
                              const float *mean, const float *rstd,
                              int N, int C, int H, int W)
{
    const char *fn = "layernorm_c_backward";
    if (norm_check(fn, N, C, H, W) < 0) return -1;
    if (!dout || !in || !mean || !rstd) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W;
    float *sg = NULL;
    if (din) {
        sg = llfc_mallocarray(2 * hw, sizeof(float));   /* sum g, sum g*xhat per pixel */
        if (!sg) return llfc_adderr("%s", fn);
    }
    const float invC = 1.0f / (float)C;
    for (int n = 0; n < N; n++) {
        const float *xs = in + (size_t)n * C * hw, *gs = dout + (size_t)n * C * hw;
        const float *mu = mean + (size_t)n * hw, *rs = rstd + (size_t)n * hw;
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw, *g = gs + (size_t)c * hw;
            if (dweight) dweight[c] += (float)row_dot_stats(g, x, mu, rs, hw);
            if (dbias) dbias[c] += (float)row_sum(g, hw);
        }
        if (!din) continue;
        float *a = sg, *b = sg + hw;
        memset(sg, 0, sizeof(float) * 2 * hw);
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw, *g = gs + (size_t)c * hw;
            float w = weight ? weight[c] : 1.0f;
            for (size_t i = 0; i < hw; i++) {
                float gw = g[i] * w;
                a[i] += gw;
                b[i] += gw * (x[i] - mu[i]) * rs[i];
            }
        }
        for (size_t i = 0; i < hw; i++) a[i] *= invC, b[i] *= invC;
        for (int c = 0; c < C; c++) {
            const float *x = xs + (size_t)c * hw, *g = gs + (size_t)c * hw;
            float *d = din + (size_t)n * C * hw + (size_t)c * hw;
            float w = weight ? weight[c] : 1.0f;
            for (size_t i = 0; i < hw; i++)
                d[i] = rs[i] * (g[i] * w - a[i] - (x[i] - mu[i]) * rs[i] * b[i]);
        }
    }
    llfc_free(sg);
    return 0;
}

/* ---- LayerNorm over (C, H, W), per sample ------------------------------------ */

int llfc_layernorm_chw_forward(float *out, float *mean, float *rstd,
                               const float *in, const float *weight, const float *bias,
                               int N, int C, int H, int W, float eps)
{
    const char *fn = "layernorm_chw_forward";
    if (norm_check(fn, N, C, H, W) < 0 || eps_check(fn, eps) < 0) return -1;
    if (!out || !in) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W, M = (size_t)C * hw;
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * M;
        float *o = out + (size_t)n * M;
        double s = 0, ss = 0;
        for (int c = 0; c < C; c++) s += row_sum(x + c * hw, hw);
        double mu = s / (double)M;
        for (int c = 0; c < C; c++) ss += row_sumsq(x + c * hw, hw, (float)mu);
        float rs = (float)(1.0 / sqrt(ss / (double)M + (double)eps)), m = (float)mu;
        for (int c = 0; c < C; c++) {
            float a = (weight ? weight[c] : 1.0f) * rs, b = bias ? bias[c] : 0.0f;
            row_affine(o + c * hw, x + c * hw, hw, m, a, b);
        }
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = rs;
    }
    return 0;
}

LLFC_VECTORIZE int llfc_layernorm_chw_backward(float *din, float *dweight, float *dbias,
                                const float *dout, const float *in, const float *weight,
                                const float *mean, const float *rstd,
                                int N, int C, int H, int W)
{
    const char *fn = "layernorm_chw_backward";
    if (norm_check(fn, N, C, H, W) < 0) return -1;
    if (!dout || !in || !mean || !rstd) return llfc_seterr("%s: NULL buffer", fn);
    const size_t hw = (size_t)H * W, M = (size_t)C * hw;
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * M, *g = dout + (size_t)n * M;
        const float m = mean[n], rs = rstd[n];
        double a = 0, b = 0;   /* sum g*w, sum g*w*xhat over the sample */
        for (int c = 0; c < C; c++) {
            float w = weight ? weight[c] : 1.0f;
            double sb = row_sum(g + c * hw, hw), sw = rs * row_dot(g + c * hw, x + c * hw, hw, m);
            if (dweight) dweight[c] += (float)sw;
            if (dbias) dbias[c] += (float)sb;
            a += w * sb;
            b += w * sw;
        }
        if (!din) continue;
        float ma = (float)(a / (double)M), mb = (float)(b / (double)M);
        float *d = din + (size_t)n * M;
        for (int c = 0; c < C; c++) {
            float w = weight ? weight[c] : 1.0f;
            const float *gc = g + c * hw, *xc = x + c * hw;
            float *dc = d + c * hw;
            for (size_t i = 0; i < hw; i++) dc[i] = rs * (gc[i] * w - ma - (xc[i] - m) * rs * mb);
        }
    }
    return 0;
}
