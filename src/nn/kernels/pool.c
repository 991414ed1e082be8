/* pool.c - max, average and global average pooling on NCHW buffers (see layers.h). */
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/core.h"
#include "nn/kernels/layers.h"

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

/* Whether v replaces the window's maximum so far m (the general loop):
 * larger, or the first NaN (after which nothing replaces it). */
#define TAKES(v, m) (((v) > (m)) | (((v) != (v)) & ((m) == (m))))

/* One output row of 2x2 windows at stride 2 from input rows r0, r1; ix
 * (may be NULL) gets the argmax, at0 being the plane index of r0[0].  The
 * maximum is a chain of v > m ? v : m (maxss), the argmax the first window
 * position equal to it: selects, no branches per window.  Returns 0 if a
 * NaN was seen (the row is then redone by the general loop). */
static int maxpool_row2(float *restrict o, int32_t *restrict ix, const float *restrict r0,
                        const float *restrict r1, int Q, int32_t at0, int W)
{
    int nan = 0, q = 0;
#ifdef __SSE2__
    /* four windows at a time: even and odd columns split by shuffles;
     * _mm_max_ps(v, m) is v > m ? v : m */
    __m128i step = _mm_set1_epi32(8), i0 = _mm_setr_epi32(at0, at0 + 2, at0 + 4, at0 + 6);
    __m128i one = _mm_set1_epi32(1), w = _mm_set1_epi32(W), w1 = _mm_set1_epi32(W + 1);
    __m128 un = _mm_setzero_ps();
    for (; q + 4 <= Q; q += 4, i0 = _mm_add_epi32(i0, step)) {
        __m128 x0 = _mm_loadu_ps(r0 + 2 * q), x1 = _mm_loadu_ps(r0 + 2 * q + 4);
        __m128 y0 = _mm_loadu_ps(r1 + 2 * q), y1 = _mm_loadu_ps(r1 + 2 * q + 4);
        __m128 a = _mm_shuffle_ps(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(x0, x1, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 c = _mm_shuffle_ps(y0, y1, _MM_SHUFFLE(2, 0, 2, 0)), d = _mm_shuffle_ps(y0, y1, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 m = _mm_max_ps(d, _mm_max_ps(c, _mm_max_ps(b, a)));
        un = _mm_or_ps(un, _mm_or_ps(_mm_cmpunord_ps(a, b), _mm_cmpunord_ps(c, d)));
        _mm_storeu_ps(o + q, m);
        if (ix) {
            /* the first of a, b, c, d equal to m: select from d back to a */
            __m128i i = _mm_add_epi32(i0, w1), e;
            e = _mm_castps_si128(_mm_cmpeq_ps(c, m));
            i = _mm_or_si128(_mm_and_si128(e, _mm_add_epi32(i0, w)), _mm_andnot_si128(e, i));
            e = _mm_castps_si128(_mm_cmpeq_ps(b, m));
            i = _mm_or_si128(_mm_and_si128(e, _mm_add_epi32(i0, one)), _mm_andnot_si128(e, i));
            e = _mm_castps_si128(_mm_cmpeq_ps(a, m));
            i = _mm_or_si128(_mm_and_si128(e, i0), _mm_andnot_si128(e, i));
            _mm_storeu_si128((__m128i *)(ix + q), i);
        }
    }
    nan = _mm_movemask_ps(un) != 0;
#endif
    for (; q < Q; q++) {
        float a = r0[2 * q], b = r0[2 * q + 1], c = r1[2 * q], d = r1[2 * q + 1];
        float m = a;
        m = b > m ? b : m;
        m = c > m ? c : m;
        m = d > m ? d : m;
        nan |= (a != a) | (b != b) | (c != c) | (d != d);
        o[q] = m;
        if (ix) {
            int32_t i = at0 + 2 * q;
            ix[q] = a == m ? i : b == m ? i + 1 : c == m ? i + W : i + W + 1;
        }
    }
    return !nan;
}

/* Max pooling runs over (n, c) planes, split between two threads when the
 * thread count allows (llfc_parallel_for); a plane's result does not depend
 * on which thread computes it.  A thread takes at least POOL_MIN_VALUES input
 * values (whole planes). */
enum { POOL_MIN_VALUES = 1 << 15 };

struct maxpool_args {
    float *out, *din;
    int32_t *idx;
    const float *in, *dout;
    const int32_t *cidx;
    int H, W, k, stride, P, Q;
};

/* planes [lo, hi) of llfc_maxpool2d_forward */
static void maxpool_forward_part(void *ud, int64_t lo, int64_t hi)
{
    const struct maxpool_args *A = ud;
    const int H = A->H, W = A->W, k = A->k, stride = A->stride, P = A->P, Q = A->Q;
    for (size_t nc = (size_t)lo; nc < (size_t)hi; nc++) {
        const float *x = A->in + nc * H * W;
        float *o = A->out + nc * P * Q;
        int32_t *ix = A->idx ? A->idx + nc * P * Q : NULL;
        for (int p = 0; p < P; p++) {
            if (k == 2 && stride == 2 &&
                maxpool_row2(o + p * Q, ix ? ix + p * Q : NULL, x + 2 * p * W, x + (2 * p + 1) * W, Q, 2 * p * W, W))
                continue;
            for (int q = 0; q < Q; q++) {
                int h0 = p * stride, w0 = q * stride;
                int best = h0 * W + w0;
                float bv = x[best];
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int at = (h0 + i) * W + w0 + j;
                        float v = x[at];
                        int t = TAKES(v, bv);
                        bv = t ? v : bv, best = t ? at : best;
                    }
                o[p * Q + q] = bv;
                if (ix) ix[p * Q + q] = best;
            }
        }
    }
}

static int64_t pool_min_planes(int H, int W)
{
    size_t hw = (size_t)H * W;
    return hw >= POOL_MIN_VALUES ? 1 : (int64_t)((POOL_MIN_VALUES + hw - 1) / hw);
}

int llfc_maxpool2d_forward(float *out, int32_t *idx, const float *in,
                           int N, int C, int H, int W, int k, int stride)
{
    int P = 0, Q = 0;
    if (pool_check("maxpool2d_forward", N, C, H, W, k, stride, &P, &Q) < 0) return -1;
    if (!out || !in) return llfc_seterr("maxpool2d_forward: NULL buffer");
    struct maxpool_args A = {.out = out, .idx = idx, .in = in, .H = H, .W = W, .k = k, .stride = stride,
                             .P = P, .Q = Q};
    llfc_parallel_for((int64_t)N * C, pool_min_planes(H, W), maxpool_forward_part, &A);
    return 0;
}

/* planes [lo, hi) of llfc_maxpool2d_backward */
static void maxpool_backward_part(void *ud, int64_t lo, int64_t hi)
{
    const struct maxpool_args *A = ud;
    const size_t hw = (size_t)A->H * A->W, pq = (size_t)A->P * A->Q;
    for (size_t nc = (size_t)lo; nc < (size_t)hi; nc++) {
        float *d = A->din + nc * hw;
        const float *g = A->dout + nc * pq;
        const int32_t *ix = A->cidx + nc * pq;
        memset(d, 0, sizeof(float) * hw);
        for (size_t i = 0; i < pq; i++) d[ix[i]] += g[i];
    }
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
    struct maxpool_args A = {.din = din, .dout = dout, .cidx = idx, .H = H, .W = W, .k = k, .stride = stride,
                             .P = P, .Q = Q};
    llfc_parallel_for((int64_t)N * C, pool_min_planes(H, W), maxpool_backward_part, &A);
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

int llfc_gavgpool_forward_blk(float *out, const float *in, int N, int C, int H, int W, int B)
{
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("gavgpool_forward: sizes must be >= 1, got %dx%dx%dx%d", N, C, H, W);
    if (!out || !in) return llfc_seterr("gavgpool_forward: NULL buffer");
    if (B == 0) return llfc_gavgpool_forward(out, in, N, C, H, W);
    if ((B != 8 && B != 16) || C % B) return llfc_seterr("gavgpool_forward: %d channels in blocks of %d", C, B);
    size_t hw = (size_t)H * W;
    for (size_t nb = 0; nb < (size_t)N * (C / B); nb++) {
        const float *x = in + nb * hw * B;
        double acc[16] = {0};
        /* each lane sums its channel in the plain kernel's order */
        for (size_t i = 0; i < hw; i++)
            for (int j = 0; j < B; j++) acc[j] += x[i * B + j];
        for (int j = 0; j < B; j++) out[nb * B + j] = (float)(acc[j] / (double)hw);
    }
    return 0;
}

int llfc_gavgpool_backward_blk(float *din, const float *dout, int N, int C, int H, int W, int B)
{
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("gavgpool_backward: sizes must be >= 1, got %dx%dx%dx%d", N, C, H, W);
    if (!din || !dout) return llfc_seterr("gavgpool_backward: NULL buffer");
    if (B == 0) return llfc_gavgpool_backward(din, dout, N, C, H, W);
    if ((B != 8 && B != 16) || C % B) return llfc_seterr("gavgpool_backward: %d channels in blocks of %d", C, B);
    size_t hw = (size_t)H * W;
    for (size_t nb = 0; nb < (size_t)N * (C / B); nb++) {
        float v[16];
        for (int j = 0; j < B; j++) v[j] = dout[nb * B + j] / (float)hw;
        float *d = din + nb * hw * B;
        for (size_t i = 0; i < hw; i++)
            for (int j = 0; j < B; j++) d[i * B + j] = v[j];
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
