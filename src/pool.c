/* pool.c - max, average and global average pooling on NCHW buffers (see layers.h). */
#include <math.h>
#include <string.h>

#include "core.h"
#include "layers.h"

int llfc_pool2d_outsize(int H, int k, int stride)
{
    if (stride < 1) return llfc_seterr("stride must be >= 1, got %d", stride);
    if (k < 1) return llfc_seterr("kernel size must be >= 1, got %d", k);
    if (H < 1) return llfc_seterr("input size must be >= 1, got %d", H);
    if (k > H) return llfc_seterr("kernel size %d larger than input %d", k, H);
    return (H - k) / stride + 1;
}

static int pool_check(const char *fname, int N, int C, int H, int W, int k, int stride,
                      int *P, int *Q)
{
    if (N < 1 || C < 1) return llfc_seterr("%s: sizes must be >= 1, got N=%d C=%d", fname, N, C);
    int p = llfc_pool2d_outsize(H, k, stride);
    if (p < 0) return llfc_adderr("%s: height", fname);
    int q = llfc_pool2d_outsize(W, k, stride);
    if (q < 0) return llfc_adderr("%s: width", fname);
    if ((size_t)H * W > INT32_MAX)
        return llfc_seterr("%s: plane %dx%d too large for int32 indices", fname, H, W);
    *P = p, *Q = q;
    return 0;
}

int llfc_maxpool2d_forward(float *out, int32_t *idx, const float *in,
                           int N, int C, int H, int W, int k, int stride)
{
    int P = 0, Q = 0;
    if (pool_check("maxpool2d_forward", N, C, H, W, k, stride, &P, &Q) < 0) return -1;
    if (!out || !in) return llfc_seterr("maxpool2d_forward: NULL buffer");
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *o = out + nc * P * Q;
        int32_t *ix = idx ? idx + nc * P * Q : NULL;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                int h0 = p * stride, w0 = q * stride;
                int best = h0 * W + w0;
                float bv = x[best];
                for (int i = 0; i < k && !isnan(bv); i++)
                    for (int j = 0; j < k; j++) {
                        int at = (h0 + i) * W + w0 + j;
                        float v = x[at];
                        if (v > bv || isnan(v)) { bv = v, best = at; if (isnan(v)) break; }
                    }
                o[p * Q + q] = bv;
                if (ix) ix[p * Q + q] = best;
            }
    }
    return 0;
}

int llfc_maxpool2d_backward(float *din, const float *dout, const int32_t *idx,
                            int N, int C, int H, int W, int k, int stride)
{
    int P = 0, Q = 0;
    if (pool_check("maxpool2d_backward", N, C, H, W, k, stride, &P, &Q) < 0) return -1;
    if (!din || !dout || !idx) return llfc_seterr("maxpool2d_backward: NULL buffer");
    const size_t nidx = (size_t)N * C * P * Q;
    for (size_t i = 0; i < nidx; i++)
        if (idx[i] < 0 || idx[i] >= H * W)
            return llfc_seterr("maxpool2d_backward: index %d out of range [0, %d)",
                               (int)idx[i], H * W);
    memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float *d = din + nc * H * W;
        const float *g = dout + nc * P * Q;
        const int32_t *ix = idx + nc * P * Q;
        for (int i = 0; i < P * Q; i++) d[ix[i]] += g[i];
    }
    return 0;
}

int llfc_avgpool2d_forward(float *out, const float *in,
                           int N, int C, int H, int W, int k, int stride)
{
    int P = 0, Q = 0;
    if (pool_check("avgpool2d_forward", N, C, H, W, k, stride, &P, &Q) < 0) return -1;
    if (!out || !in) return llfc_seterr("avgpool2d_forward: NULL buffer");
    const float inv = 1.0f / (float)(k * k);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * H * W;
        float *o = out + nc * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float acc = 0.0f;
                for (int i = 0; i < k; i++) {
                    const float *row = x + (size_t)(p * stride + i) * W + q * stride;
                    for (int j = 0; j < k; j++) acc += row[j];
                }
                o[p * Q + q] = acc * inv;
            }
    }
    return 0;
}

int llfc_avgpool2d_backward(float *din, const float *dout,
                            int N, int C, int H, int W, int k, int stride)
{
    int P = 0, Q = 0;
    if (pool_check("avgpool2d_backward", N, C, H, W, k, stride, &P, &Q) < 0) return -1;
    if (!din || !dout) return llfc_seterr("avgpool2d_backward: NULL buffer");
    memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
    const float inv = 1.0f / (float)(k * k);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float *d = din + nc * H * W;
        const float *g = dout + nc * P * Q;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                float v = g[p * Q + q] * inv;
                for (int i = 0; i < k; i++) {
                    float *row = d + (size_t)(p * stride + i) * W + q * stride;
                    for (int j = 0; j < k; j++) row[j] += v;
                }
            }
    }
    return 0;
}

int llfc_gavgpool_forward(float *out, const float *in, int N, int C, int H, int W)
{
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("gavgpool_forward: sizes must be >= 1, got %dx%dx%dx%d", N, C, H, W);
    if (!out || !in) return llfc_seterr("gavgpool_forward: NULL buffer");
    size_t hw = (size_t)H * W;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *x = in + nc * hw;
        double acc = 0;
        for (size_t i = 0; i < hw; i++) acc += x[i];
        out[nc] = (float)(acc / (double)hw);
    }
    return 0;
}

int llfc_gavgpool_backward(float *din, const float *dout, int N, int C, int H, int W)
{
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("gavgpool_backward: sizes must be >= 1, got %dx%dx%dx%d", N, C, H, W);
    if (!din || !dout) return llfc_seterr("gavgpool_backward: NULL buffer");
    size_t hw = (size_t)H * W;
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float v = dout[nc] / (float)hw;
        float *d = din + nc * hw;
        for (size_t i = 0; i < hw; i++) d[i] = v;
    }
    return 0;
}
