/* conv.c - conv2d forward and backward through im2col/col2im and llfc_gemm.
 *
 * Layout (see layers.h): in [N, C, H, W], weight [K, C, R, S] = a [K, CRS]
 * matrix, out [N, K, P, Q].  A chunk of B samples is unfolded into
 * col [CRS, B*PQ] (row (c*R + r)*S + s, column b*PQ + p*Q + q), so that
 *   forward:  tmp [K, B*PQ]   = weight [K, CRS] @ col [CRS, B*PQ]
 *   dweight:  dW  [K, CRS]   += doutT [K, B*PQ] @ col^T
 *   dinput:   dcol [CRS, B*PQ] = weight^T [CRS, K] @ doutT, then col2im
 * where tmp/doutT are the chunk's outputs with the sample axis moved inside
 * the channel axis.  With B = 1 (the default: measured fastest, see
 * layers.h) the output plane of one sample is already [K, PQ] and no
 * transposition is needed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels/conv_impl.h"
#include "core/core.h"
#include "nn/kernels/layers.h"

/* The row loops below are the only non-BLAS work of a convolution: they are
 * LLFC_VECTORIZE. */

LLFC_VECTORIZE static void row_copy(float *restrict d, const float *restrict s, int n)
{
    for (int i = 0; i < n; i++) d[i] = s[i];
}

LLFC_VECTORIZE static void row_add(float *restrict d, const float *restrict s, int n)
{
    for (int i = 0; i < n; i++) d[i] += s[i];
}

#ifdef LLFC_HAVE_DNNL
static int backend = LLFC_CONV_DNNL_BLOCKED;
#else
static int backend = LLFC_CONV_IM2COL;
#endif
static long fallbacks;

int llfc_conv2d_set_backend(int b)
{
    if (b != LLFC_CONV_IM2COL && b != LLFC_CONV_DNNL && b != LLFC_CONV_DNNL_BLOCKED)
        return llfc_seterr("conv2d_set_backend: unknown backend %d", b);
    if (b != LLFC_CONV_IM2COL) {
        if (!llfc_conv_dnnl_info())
            return llfc_seterr("conv2d_set_backend: llfc was built without oneDNN (libdnnl)");
        if (llfc_conv_dnnl_available() < 0)
            return llfc_seterr("conv2d_set_backend: %s", llfc_conv_dnnl_info());
        llfc_conv_dnnl_layout(b);
    }
    backend = b;
    return 0;
}

int llfc_conv2d_get_backend(void) { return backend; }
void llfc_conv2d_release(void) { llfc_conv_dnnl_release(); }
void llfc_conv2d_set_threads(int n) { llfc_conv_dnnl_set_threads(n > 0 ? n : 0); }
int llfc_conv2d_get_threads(void) { return llfc_conv_dnnl_get_threads(); }
long llfc_conv2d_fallbacks(void) { return fallbacks; }
const char *llfc_conv2d_dnnl_info(void) { return llfc_conv_dnnl_info(); }

/* Target size of one chunk's scratch, in floats; 0 = one sample per gemm. */
static size_t chunk_floats = 0;

void llfc_conv2d_set_chunk(size_t floats) { chunk_floats = floats; }

int llfc_conv2d_outsize(int H, int R, int stride, int pad)
{
    if (stride < 1) return llfc_seterr("stride must be >= 1, got %d", stride);
    if (pad < 0) return llfc_seterr("padding must be >= 0, got %d", pad);
    if (R < 1) return llfc_seterr("kernel size must be >= 1, got %d", R);
    if (H < 1) return llfc_seterr("input size must be >= 1, got %d", H);
    long long padded = (long long)H + 2LL * pad;
    if (padded > INT_MAX / 2)
        return llfc_seterr("padded input %lld too large (input %d, padding %d)", padded, H, pad);
    if (R > padded)
        return llfc_seterr("kernel size %d larger than padded input %lld (input %d, padding %d)",
                           R, padded, H, pad);
    return (int)((padded - R) / stride + 1);
}

/* Validate a conv shape; fills P, Q.  Messages are prefixed by fname. */
static int conv_check(const char *fname, int N, int C, int H, int W, int K, int R, int S,
                      int stride, int pad, int *P, int *Q)
{
    if (N < 1 || C < 1 || K < 1)
        return llfc_seterr("%s: sizes must be >= 1, got N=%d C=%d K=%d", fname, N, C, K);
    int p = llfc_conv2d_outsize(H, R, stride, pad);
    if (p < 0) return llfc_adderr("%s: height", fname);
    int q = llfc_conv2d_outsize(W, S, stride, pad);
    if (q < 0) return llfc_adderr("%s: width", fname);
    /* gemm dimensions are ints */
    if ((size_t)p * q > INT_MAX || (size_t)H * W > INT_MAX || (size_t)C * R * S > INT_MAX
        || (size_t)K * R * S > INT_MAX)
        return llfc_seterr("%s: layer too large (%dx%dx%d input, %dx%dx%dx%d kernel)", fname, C, H, W,
                           K, C, R, S);
    *P = p, *Q = q;
    return 0;
}

static int is_pointwise(int R, int S, int stride, int pad)
{
    return R == 1 && S == 1 && stride == 1 && pad == 0;
}

/* Backward to the input as a forward convolution of dout with the flipped,
 * transposed kernel (stride 1, square kernel, pad <= R-1, padding R-1-pad):
 *   din[n,c,h,w] = sum_{k,r,s} weight[k,c,R-1-r,S-1-s] * dout[n,k,h-(R-1-pad)+r,w-(S-1-pad)+s]
 * im2col of dout then writes its columns once instead of a gemm writing
 * [CRS, PQ] columns that col2im then adds up. */
static int use_flip(int R, int S, int stride, int pad)
{
    return stride == 1 && R == S && pad <= R - 1 && !is_pointwise(R, S, stride, pad);
}

/* Samples per chunk. */
static int conv_chunk(int N, int C, int K, int R, int S, int P, int Q)
{
    size_t per = ((size_t)C * R * S + (size_t)K) * (size_t)P * Q;
    size_t b = per ? chunk_floats / per : 1;
    if (b < 1) b = 1;
    if (b > (size_t)N) b = (size_t)N;
    if (b > INT_MAX / ((size_t)P * Q)) b = INT_MAX / ((size_t)P * Q);   /* B*PQ is a gemm dimension */
    return (int)b;
}

size_t llfc_conv2d_worksize(int N, int C, int H, int W, int K, int R, int S, int stride, int pad)
{
    int P = 0, Q = 0;
    if (conv_check("conv2d", N, C, H, W, K, R, S, stride, pad, &P, &Q) < 0) return 0;
    int B = conv_chunk(N, C, K, R, S, P, Q);
    size_t pq = (size_t)P * Q, crs = (size_t)C * R * S;
    if (B > 1) return (crs + (size_t)K) * (size_t)B * pq;
    if (is_pointwise(R, S, stride, pad)) return 1;
    size_t need = crs * pq;
    if (use_flip(R, S, stride, pad)) {
        size_t krs_hw = (size_t)K * R * S * H * W;
        need = (need > krs_hw ? need : krs_hw) + (size_t)C * K * R * S;
    }
    return need;
}

/* Valid output columns of kernel column s: qlo <= q < qhi <=> 0 <= q*stride - pad + s < W;
 * valid output rows of kernel row r likewise. */
static void valid_range(int n, int size, int k, int stride, int pad, int *lo, int *hi)
{
    int a = 0, b = n;
    while (a < n && a * stride - pad + k < 0) a++;
    while (b > a && (b - 1) * stride - pad + k >= size) b--;
    *lo = a, *hi = b;
}

/* Unfold one sample x [C, H, W] into columns [off, off + PQ) of col (row length ld).
 * Row (c, r, s) of col holds x[c, p*stride - pad + r, q*stride - pad + s] (0 outside). */
static void im2col(float *col, size_t ld, size_t off, const float *x, int C, int H, int W,
                   int R, int S, int stride, int pad, int P, int Q)
{
    const size_t hw = (size_t)H * W;
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++) {
            int plo, phi;
            valid_range(P, H, r, stride, pad, &plo, &phi);
            for (int s = 0; s < S; s++) {
                float *dst = col + ((size_t)(c * R + r) * S + s) * ld + off;
                int qlo, qhi;
                valid_range(Q, W, s, stride, pad, &qlo, &qhi);
                if (phi <= plo || qhi <= qlo) { memset(dst, 0, sizeof(float) * P * Q); continue; }
                memset(dst, 0, sizeof(float) * (size_t)plo * Q);
                memset(dst + (size_t)phi * Q, 0, sizeof(float) * (size_t)(P - phi) * Q);
                if (stride == 1 && Q == W) {
                    /* output row pitch = input row pitch: one copy of the shifted
                     * plane, then zero the columns that wrapped around */
                    size_t a = (size_t)plo * Q + qlo, b = (size_t)(phi - 1) * Q + qhi;
                    const float *src = x + c * hw + (size_t)(plo - pad + r) * W + (qlo - pad + s);
                    memcpy(dst + a, src, sizeof(float) * (b - a));
                    for (int p = plo; p < phi; p++) {
                        for (int q = 0; q < qlo; q++) dst[(size_t)p * Q + q] = 0.0f;
                        for (int q = qhi; q < Q; q++) dst[(size_t)p * Q + q] = 0.0f;
                    }
                    continue;
                }
                for (int p = plo; p < phi; p++) {
                    float *d = dst + (size_t)p * Q;
                    const float *src = x + c * hw + (size_t)(p * stride - pad + r) * W
                                       + (qlo * stride - pad + s);
                    for (int q = 0; q < qlo; q++) d[q] = 0.0f;
                    if (stride == 1)
                        row_copy(d + qlo, src, qhi - qlo);
                    else
                        for (int q = qlo; q < qhi; q++) d[q] = src[(size_t)(q - qlo) * stride];
                    for (int q = qhi; q < Q; q++) d[q] = 0.0f;
                }
            }
        }
}

void llfc_im2col(float *col, size_t ld, size_t off, const float *x, int C, int H, int W, int R, int S, int stride,
                 int pad, int P, int Q)
{
    im2col(col, ld, off, x, C, H, W, R, S, stride, pad, P, Q);
}

/* Fold columns [off, off + PQ) of col back into dx [C, H, W] (dx zeroed here).
 * col is scratch: its entries that fall outside the input may be zeroed. */
static void col2im(float *dx, float *col, size_t ld, size_t off, int C, int H, int W,
                   int R, int S, int stride, int pad, int P, int Q)
{
    const size_t hw = (size_t)H * W;
    memset(dx, 0, sizeof(float) * C * hw);
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++) {
            int plo, phi;
            valid_range(P, H, r, stride, pad, &plo, &phi);
            for (int s = 0; s < S; s++) {
                float *src = col + ((size_t)(c * R + r) * S + s) * ld + off;
                int qlo, qhi;
                valid_range(Q, W, s, stride, pad, &qlo, &qhi);
                if (phi <= plo || qhi <= qlo) continue;
                if (stride == 1 && Q == W) {
                    /* zero the wrapped columns, then one add of the shifted plane */
                    for (int p = plo; p < phi; p++) {
                        for (int q = 0; q < qlo; q++) src[(size_t)p * Q + q] = 0.0f;
                        for (int q = qhi; q < Q; q++) src[(size_t)p * Q + q] = 0.0f;
                    }
                    size_t a = (size_t)plo * Q + qlo, b = (size_t)(phi - 1) * Q + qhi;
                    row_add(dx + c * hw + (size_t)(plo - pad + r) * W + (qlo - pad + s), src + a,
                            (int)(b - a));
                    continue;
                }
                for (int p = plo; p < phi; p++) {
                    float *d = dx + c * hw + (size_t)(p * stride - pad + r) * W + (qlo * stride - pad + s);
                    const float *g = src + (size_t)p * Q;
                    if (stride == 1)
                        row_add(d, g + qlo, qhi - qlo);
                    else
                        for (int q = qlo; q < qhi; q++) d[(size_t)(q - qlo) * stride] += g[q];
                }
            }
        }
}

int llfc_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                        int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                        float *work)
{
    int P = 0, Q = 0;
    if (conv_check("conv2d_forward", N, C, H, W, K, R, S, stride, pad, &P, &Q) < 0) return -1;
    if (!out || !in || !weight) return llfc_seterr("conv2d_forward: NULL buffer");
    if (backend != LLFC_CONV_IM2COL) {
        if (llfc_conv_dnnl_forward(out, in, weight, bias, N, C, H, W, K, R, S, stride, pad) == 0)
            return 0;
        fallbacks++;
    }
    const int B = conv_chunk(N, C, K, R, S, P, Q);
    const size_t pq = (size_t)P * Q, crs = (size_t)C * R * S, chw = (size_t)C * H * W;
    const int pointwise = is_pointwise(R, S, stride, pad);
    float *own = NULL;
    if (!work) {
        own = llfc_mallocarray(llfc_conv2d_worksize(N, C, H, W, K, R, S, stride, pad), sizeof(float));
        if (!own) return llfc_adderr("conv2d_forward");
        work = own;
    }
    for (int n0 = 0; n0 < N; n0 += B) {
        int nb = N - n0 < B ? N - n0 : B;
        if (nb == 1 && B == 1) {
            float *o = out + (size_t)n0 * K * pq;
            const float *col = in + (size_t)n0 * chw;
            if (!pointwise) {
                im2col(work, pq, 0, col, C, H, W, R, S, stride, pad, P, Q);
                col = work;
            }
            if (bias)
                for (int k = 0; k < K; k++)
                    for (size_t i = 0; i < pq; i++) o[k * pq + i] = bias[k];
            llfc_gemm(0, 0, K, (int)pq, (int)crs, 1.0f, weight, (int)crs, col, (int)pq,
                      bias ? 1.0f : 0.0f, o, (int)pq);
            continue;
        }
        size_t ld = (size_t)nb * pq;
        float *col = work, *tmp = work + crs * (size_t)B * pq;
        for (int b = 0; b < nb; b++)
            im2col(col, ld, (size_t)b * pq, in + (size_t)(n0 + b) * chw, C, H, W, R, S,
                   stride, pad, P, Q);
        llfc_gemm(0, 0, K, (int)ld, (int)crs, 1.0f, weight, (int)crs, col, (int)ld, 0.0f,
                  tmp, (int)ld);
        for (int b = 0; b < nb; b++)
            for (int k = 0; k < K; k++) {
                float *o = out + ((size_t)(n0 + b) * K + k) * pq;
                const float *t = tmp + (size_t)k * ld + (size_t)b * pq;
                float bk = bias ? bias[k] : 0.0f;
                for (size_t i = 0; i < pq; i++) o[i] = t[i] + bk;
            }
    }
    llfc_free(own);
    return 0;
}

static int act_blocks = 1;

void llfc_conv2d_set_act_blocks(int on) { act_blocks = on != 0; }

int llfc_conv2d_act_block(void)
{
    return act_blocks && backend == LLFC_CONV_DNNL_BLOCKED ? llfc_conv_dnnl_block() : 0;
}

static int blk_check(const char *fn, int C, int B)
{
    if (B != 0 && B != 8 && B != 16) return llfc_seterr("%s: channel block %d (0, 8 or 16)", fn, B);
    if (B && C % B) return llfc_seterr("%s: %d channels in blocks of %d", fn, C, B);
    return 0;
}

struct relayout { float *out; const float *in; int C, hw, B, to_plain; };

/* samples [lo, hi) of a layout change */
static void relayout_part(void *ud, int64_t lo, int64_t hi)
{
    const struct relayout *A = ud;
    const int C = A->C, hw = A->hw, B = A->B;
    for (int64_t n = lo; n < hi; n++) {
        const size_t base = (size_t)n * C * hw;
        for (int cb = 0; cb < C / B; cb++) {
            float *blk = (float *)(A->to_plain ? A->in : A->out) + base + (size_t)cb * hw * B;
            float *pl = (float *)(A->to_plain ? A->out : A->in) + base + (size_t)cb * B * hw;
            if (A->to_plain)
                for (int j = 0; j < B; j++)
                    for (int i = 0; i < hw; i++) pl[(size_t)j * hw + i] = blk[(size_t)i * B + j];
            else
                for (int i = 0; i < hw; i++)
                    for (int j = 0; j < B; j++) blk[(size_t)i * B + j] = pl[(size_t)j * hw + i];
        }
    }
}

static int relayout(float *out, const float *in, int N, int C, int H, int W, int B, int to_plain)
{
    const char *fn = to_plain ? "act_to_plain" : "act_to_blocked";
    if (N < 1 || C < 1 || H < 1 || W < 1)
        return llfc_seterr("%s: sizes must be >= 1, got %dx%dx%dx%d", fn, N, C, H, W);
    if (!out || !in) return llfc_seterr("%s: NULL buffer", fn);
    if (blk_check(fn, C, B) < 0) return -1;
    if (!B) {
        memcpy(out, in, (size_t)N * C * H * W * sizeof *out);
        return 0;
    }
    struct relayout A = {out, in, C, H * W, B, to_plain};
    int64_t per = (int64_t)C * H * W;
    llfc_parallel_for(N, per >= 65536 ? 1 : (65536 + per - 1) / per, relayout_part, &A);
    return 0;
}

int llfc_act_to_plain(float *out, const float *in, int N, int C, int H, int W, int B)
{
    return relayout(out, in, N, C, H, W, B, 1);
}

int llfc_act_to_blocked(float *out, const float *in, int N, int C, int H, int W, int B)
{
    return relayout(out, in, N, C, H, W, B, 0);
}

int llfc_conv2d_forward_blk(float *out, const float *in, const float *weight, const float *bias,
                            int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                            int in_blk, int out_blk, float *work)
{
    int P = 0, Q = 0;
    if (conv_check("conv2d_forward", N, C, H, W, K, R, S, stride, pad, &P, &Q) < 0) return -1;
    if (!out || !in || !weight) return llfc_seterr("conv2d_forward: NULL buffer");
    if (blk_check("conv2d_forward", C, in_blk) < 0 || blk_check("conv2d_forward", K, out_blk) < 0) return -1;
    if (!in_blk && !out_blk) return llfc_conv2d_forward(out, in, weight, bias, N, C, H, W, K, R, S, stride, pad, work);
    if (backend != LLFC_CONV_IM2COL &&
        llfc_conv_dnnl_forward_blk(out, in, weight, bias, N, C, H, W, K, R, S, stride, pad, in_blk, out_blk) == 0)
        return 0;
    /* through plain buffers */
    float *pin = in_blk ? llfc_mallocarray((size_t)N * C * H * W, sizeof(float)) : (float *)in;
    float *pout = out_blk ? llfc_mallocarray((size_t)N * K * P * Q, sizeof(float)) : out;
    int rc = -1;
    if (pin && pout && (!in_blk || llfc_act_to_plain(pin, in, N, C, H, W, in_blk) == 0) &&
        llfc_conv2d_forward(pout, pin, weight, bias, N, C, H, W, K, R, S, stride, pad, work) == 0 &&
        (!out_blk || llfc_act_to_blocked(out, pout, N, K, P, Q, out_blk) == 0))
        rc = 0;
    if (in_blk) free(pin);
    if (out_blk) free(pout);
    return rc ? llfc_adderr("conv2d_forward") : 0;
}

int llfc_conv2d_backward_blk(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                             const float *weight, int N, int C, int H, int W, int K, int R, int S, int stride,
                             int pad, int in_blk, int out_blk, float *work)
{
    int P = 0, Q = 0;
    if (conv_check("conv2d_backward", N, C, H, W, K, R, S, stride, pad, &P, &Q) < 0) return -1;
    if (blk_check("conv2d_backward", C, in_blk) < 0 || blk_check("conv2d_backward", K, out_blk) < 0) return -1;
    if (!in_blk && !out_blk)
        return llfc_conv2d_backward(din, dweight, dbias, dout, in, weight, N, C, H, W, K, R, S, stride, pad, work);
    if (!dout || (dweight && !in) || (din && !weight)) return llfc_seterr("conv2d_backward: NULL buffer");
    if (backend != LLFC_CONV_IM2COL) {
        int done = llfc_conv_dnnl_backward_blk(din, dweight, dbias, dout, in, weight, N, C, H, W, K, R, S, stride,
                                               pad, in_blk, out_blk);
        if (done & 1) din = NULL;
        if (done & 2) dweight = dbias = NULL;
        if (!din && !dweight && !dbias) return 0;
    }
    /* the rest through plain buffers */
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * P * Q;
    int need_in = dweight && in_blk;
    float *pdout = out_blk ? llfc_mallocarray(nout, sizeof(float)) : (float *)dout;
    float *pin = need_in ? llfc_mallocarray(nin, sizeof(float)) : (float *)in;
    float *pdin = din && in_blk ? llfc_mallocarray(nin, sizeof(float)) : din;
    int rc = -1;
    if (pdout && pin && (pdin || !din) && (!out_blk || llfc_act_to_plain(pdout, dout, N, K, P, Q, out_blk) == 0) &&
        (!need_in || llfc_act_to_plain(pin, in, N, C, H, W, in_blk) == 0) &&
        llfc_conv2d_backward(pdin, dweight, dbias, pdout, pin, weight, N, C, H, W, K, R, S, stride, pad, work) == 0 &&
        (!din || !in_blk || llfc_act_to_blocked(din, pdin, N, C, H, W, in_blk) == 0))
        rc = 0;
    if (out_blk) free(pdout);
    if (need_in) free(pin);
    if (din && in_blk) free(pdin);
    return rc ? llfc_adderr("conv2d_backward") : 0;
}

int llfc_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight,
                         int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                         float *work)
{
    int P = 0, Q = 0;
    if (conv_check("conv2d_backward", N, C, H, W, K, R, S, stride, pad, &P, &Q) < 0) return -1;
    if (!dout || (dweight && !in) || (din && !weight))
        return llfc_seterr("conv2d_backward: NULL buffer");
    if (backend != LLFC_CONV_IM2COL) {
        /* each part falls back on its own; dweight/dbias are only added to on success */
        int done = llfc_conv_dnnl_backward(din, dweight, dbias, dout, in, weight, N, C, H, W, K,
                                           R, S, stride, pad);
        if (done & 1) din = NULL;
        if (done & 2) dweight = NULL, dbias = NULL;
        if (din || dweight) fallbacks++;
        if (!din && !dweight && !dbias) return 0;
    }
    const int B = conv_chunk(N, C, K, R, S, P, Q);
    const size_t pq = (size_t)P * Q, crs = (size_t)C * R * S, chw = (size_t)C * H * W;
    const int pointwise = is_pointwise(R, S, stride, pad);

    float *own = NULL;
    if (!work && (dweight || din)) {   /* before any write: a failure leaves the outputs alone */
        own = llfc_mallocarray(llfc_conv2d_worksize(N, C, H, W, K, R, S, stride, pad), sizeof(float));
        if (!own) return llfc_adderr("conv2d_backward");
        work = own;
    }
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                const float *g = dout + ((size_t)n * K + k) * pq;
                double acc = 0;
                for (size_t i = 0; i < pq; i++) acc += g[i];
                dbias[k] += (float)acc;
            }
    if (!dweight && !din) return 0;

    const int flip = B == 1 && use_flip(R, S, stride, pad);
    float *wf = NULL;   /* flipped kernel [C, K, R, S] after the column area */
    if (din && flip) {
        size_t krs_hw = (size_t)K * R * S * H * W, area = crs * pq > krs_hw ? crs * pq : krs_hw;
        wf = work + area;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++)
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < S; t++)
                        wf[(((size_t)c * K + k) * R + r) * S + t] =
                            weight[(((size_t)k * C + c) * R + (R - 1 - r)) * S + (S - 1 - t)];
    }
    for (int n0 = 0; n0 < N; n0 += B) {
        int nb = N - n0 < B ? N - n0 : B;
        size_t ld = (size_t)nb * pq;
        const float *g;          /* doutT [K, ld] */
        if (nb == 1 && B == 1) {
            g = dout + (size_t)n0 * K * pq;
        } else {
            float *t = work + crs * (size_t)B * pq;
            for (int b = 0; b < nb; b++)
                for (int k = 0; k < K; k++)
                    memcpy(t + (size_t)k * ld + (size_t)b * pq,
                           dout + ((size_t)(n0 + b) * K + k) * pq, sizeof(float) * pq);
            g = t;
        }
        const int direct = pointwise && nb == 1 && B == 1;  /* col is the input itself */
        if (dweight) {
            const float *col = in + (size_t)n0 * chw;
            if (!direct) {
                for (int b = 0; b < nb; b++)
                    im2col(work, ld, (size_t)b * pq, in + (size_t)(n0 + b) * chw, C, H, W, R, S,
                           stride, pad, P, Q);
                col = work;
            }
            llfc_gemm(0, 1, K, (int)crs, (int)ld, 1.0f, g, (int)ld, col, (int)ld, 1.0f,
                      dweight, (int)crs);
        }
        if (din && flip) {
            size_t hw = (size_t)H * W, krs = (size_t)K * R * S;
            im2col(work, hw, 0, g, K, P, Q, R, S, 1, R - 1 - pad, H, W);
            llfc_gemm(0, 0, C, (int)hw, (int)krs, 1.0f, wf, (int)krs, work, (int)hw, 0.0f,
                      din + (size_t)n0 * chw, (int)hw);
        } else if (din) {
            if (direct) {
                llfc_gemm(1, 0, (int)crs, (int)ld, K, 1.0f, weight, (int)crs, g, (int)ld, 0.0f,
                          din + (size_t)n0 * chw, (int)ld);
                continue;
            }
            llfc_gemm(1, 0, (int)crs, (int)ld, K, 1.0f, weight, (int)crs, g, (int)ld, 0.0f,
                      work, (int)ld);
            for (int b = 0; b < nb; b++)
                col2im(din + (size_t)(n0 + b) * chw, work, ld, (size_t)b * pq, C, H, W, R, S,
                       stride, pad, P, Q);
        }
    }
    llfc_free(own);
    return 0;
}
