/* layers.h - kernels for convolutional networks: conv2d, pooling, normalisation.
 *
 * Free functions on raw float buffers, in PyTorch's channels-first layout:
 * activations are NCHW (n, c, h, w) contiguous, conv weights are [K, C, R, S]
 * (out channels, in channels, kernel rows, kernel columns).  Shapes are given
 * as ints; every kernel checks them and returns 0, or -1 with a message from
 * llfc_seterr() naming the kernel and the bad numbers (nothing is written to
 * the outputs then).  No kernel aborts or asserts on its arguments.
 *
 * Gradient conventions (as in llm.c): a backward kernel OVERWRITES the input
 * gradient (din) and ACCUMULATES (+=) into parameter gradients (dweight,
 * dbias), so a caller zeroes parameter gradients once per step.  The gradient
 * pointers of conv and normalisation kernels may be NULL to skip that gradient
 * (pooling has only din, which is required).  Optional parameters (a bias, an
 * affine weight) are NULL when absent.
 *
 * Output and gradient buffers must not overlap the inputs (no in-place
 * calls).
 *
 * Kernels are short (one layer on one batch) and do not check
 * llfc_interrupted(); callers check it between batches.
 *
 * Not here: the activations and the residual addition (element-wise loops
 * of the executor, nn/exec.c; a sum's backward passes dout to both
 * branches), dropout.  Flatten is a no-op on a
 * contiguous NCHW buffer: [N, C, H, W] is already [N, C*H*W] row-major, in the
 * same order as torch.flatten(x, 1).
 */
#ifndef LLFC_LAYERS_H
#define LLFC_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- conv2d (src/conv.c) --------------------------------------------------
 * Cross-correlation as torch.nn.Conv2d (dilation 1, groups 1), same stride and
 * zero padding on both axes:
 *   out[n,k,p,q] = bias[k] + sum_{c,r,s} weight[k,c,r,s] * in[n,c,p*stride-pad+r,q*stride-pad+s]
 * with P = (H + 2 pad - R) / stride + 1, Q = (W + 2 pad - S) / stride + 1.
 * Requires N, C, H, W, K, R, S >= 1, stride >= 1, pad >= 0 and a kernel that
 * fits the padded input (R <= H + 2 pad, S <= W + 2 pad).
 *
 * Implementation: im2col of one sample into a [C*R*S, P*Q] matrix and one
 * llfc_gemm per sample (1x1 stride-1 unpadded convolutions skip im2col).
 * Batching B samples into one [C*R*S, B*P*Q] gemm is available through
 * llfc_conv2d_set_chunk() but measured slower on ResNet-20 layers with
 * OpenBLAS (docs/BENCH.md, "Conv kernels"): one sample's columns stay in L2.
 *
 * When configure found oneDNN (libdnnl, the library PyTorch computes CPU
 * convolutions with; LLFC_HAVE_DNNL), forward, backward data and backward
 * weights run through its primitives instead, made once per shape and cached
 * (src/conv_dnnl.c); measured several times faster (docs/BENCH.md, "oneDNN
 * convolutions").  im2col is the fallback whenever oneDNN fails, and the
 * reference the tests compare against.
 *
 * work: scratch of at least llfc_conv2d_worksize(...) floats, or NULL to let
 * the kernel allocate (and free) it on each call.  Training loops should pass
 * a buffer they keep.  The oneDNN path does not use it. */

/* Backends of conv2d. */
enum {
    LLFC_CONV_IM2COL = 0,         /* im2col + llfc_gemm */
    LLFC_CONV_DNNL = 1,           /* oneDNN on the NCHW / KCRS buffers (its gemm-based kernels) */
    LLFC_CONV_DNNL_BLOCKED = 2    /* oneDNN in its blocked layouts (direct JIT kernels), with
                                   * reorders from and to the buffers: the default when built in */
};
/* Choose the backend for later calls; -1 (with a message) if oneDNN is not
 * built in.  Changing it drops cached oneDNN primitives. */
int llfc_conv2d_set_backend(int backend);
int llfc_conv2d_get_backend(void);
/* oneDNN's thread count (OpenMP threads): n >= 1 sets it, 0 goes back to
 * OpenMP's default (OMP_NUM_THREADS, else one per core).  get returns the
 * count in use, 0 without oneDNN.  llfc.blas(n) sets it with OpenBLAS's. */
void llfc_conv2d_set_threads(int n);
int llfc_conv2d_get_threads(void);
/* Free oneDNN's cached primitives and the scratch they share (it grows to the
 * largest call, e.g. after evaluating a big batch); later calls make them
 * again.  A no-op without oneDNN. */
void llfc_conv2d_release(void);
/* Calls that wanted oneDNN but fell back to im2col since the start (a
 * primitive that could not be made for a shape, or failed to run). */
long llfc_conv2d_fallbacks(void);
/* oneDNN's version, instruction set and OpenMP wait policy ("oneDNN 2.6.3
 * (avx512_core_amx, OpenMP wait policy passive)"), "oneDNN not loaded:
 * REASON" when libdnnl.so cannot be opened (conv2d then uses im2col), or NULL
 * when llfc was built without it.  libdnnl is opened on first use (see
 * src/conv_dnnl.c for why). */
const char *llfc_conv2d_dnnl_info(void);

/* Tuning knob (benchmarks, tests): the target scratch size of one chunk of
 * samples, in floats; 0 (the default) means one sample per gemm.  Query
 * llfc_conv2d_worksize() after changing it. */
void llfc_conv2d_set_chunk(size_t floats);

/* Output size along one axis, or -1 (with a message) if the kernel does not fit. */
int llfc_conv2d_outsize(int H, int R, int stride, int pad);

/* The im2col unfolding itself (for fits over conv patches): one sample
 * x [C, H, W] into columns [off, off + P*Q) of col (rows of ld floats),
 * row (c*R + r)*S + s holding x[c, p*stride - pad + r, q*stride - pad + s]
 * at column off + p*Q + q (0 outside the image), so that the conv's output
 * at (p, q) is weight [K, C*R*S] @ that column.  P, Q must be the output
 * size llfc_conv2d_outsize gives (not checked). */
void llfc_im2col(float *col, size_t ld, size_t off, const float *x, int C, int H, int W, int R, int S, int stride,
                 int pad, int P, int Q);

/* Scratch floats needed by forward and backward for this shape (0 if the
 * shape is invalid). */
size_t llfc_conv2d_worksize(int N, int C, int H, int W, int K, int R, int S,
                            int stride, int pad);

/* out [N, K, P, Q] <- conv(in [N, C, H, W], weight [K, C, R, S]) + bias [K] (bias may be NULL). */
int llfc_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                        int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                        float *work);

/* Channel-blocked activations.  With the blocked oneDNN backend the
 * convolutions compute on [N, C/B, H, W, B] (B channels innermost: nChw8c
 * for AVX2, nChw16c for AVX-512); an executor that keeps its activations
 * that way between convolutions saves two reorders per convolution.
 * llfc_conv2d_act_block() is that B, or 0 when the backend does not block
 * (im2col, plain oneDNN, no oneDNN).  Blocked buffers need C % B == 0. */
int llfc_conv2d_act_block(void);
/* Off (0): llfc_conv2d_act_block() says 0, so executors keep every value
 * plain (the tests' and benchmarks' comparison); on (1, the default). */
void llfc_conv2d_set_act_blocks(int on);
/* llfc_conv2d_forward with in in blocks of in_blk channels and out in blocks
 * of out_blk (0: plain NCHW; otherwise llfc_conv2d_act_block()'s B).  Same
 * values as the plain call, bit for bit: the same oneDNN primitive runs,
 * only the reorders around it differ. */
int llfc_conv2d_forward_blk(float *out, const float *in, const float *weight, const float *bias,
                            int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                            int in_blk, int out_blk, float *work);
/* Between the layouts: blocked [N, C/B, H, W, B] and plain [N, C, H, W]
 * (distinct buffers, C % B == 0, the copy split over samples between
 * threads). */
int llfc_act_to_plain(float *out, const float *in, int N, int C, int H, int W, int B);
int llfc_act_to_blocked(float *out, const float *in, int N, int C, int H, int W, int B);

/* Given dout [N, K, P, Q]:
 *   din     [N, C, H, W]  = dL/din        (overwritten; NULL to skip)
 *   dweight [K, C, R, S] += dL/dweight    (NULL to skip)
 *   dbias   [K]          += dL/dbias      (NULL to skip)
 * in is needed for dweight (may be NULL if dweight is NULL); weight for din. */
int llfc_conv2d_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight,
                         int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                         float *work);

/* llfc_conv2d_backward with in, din in blocks of in_blk channels and dout
 * in blocks of out_blk (0: plain); bit for bit the plain call's values. */
int llfc_conv2d_backward_blk(float *din, float *dweight, float *dbias, const float *dout, const float *in,
                             const float *weight, int N, int C, int H, int W, int K, int R, int S, int stride,
                             int pad, int in_blk, int out_blk, float *work);

/* ---- pooling (src/pool.c) -------------------------------------------------
 * Windows k x k with the given stride, no padding, floor mode (as
 * torch.nn.MaxPool2d(k, stride) / AvgPool2d(k, stride)):
 * P = (H - k) / stride + 1, Q = (W - k) / stride + 1; needs k <= H, k <= W. */

/* Output size along one axis, or -1 (with a message). */
int llfc_pool2d_outsize(int H, int k, int stride);

/* out [N, C, P, Q] = window max of in [N, C, H, W]; idx [N, C, P, Q] gets the
 * argmax as h*W + w inside its (n, c) plane (PyTorch's return_indices; the
 * first maximum wins ties; a NaN in the window is the maximum, as PyTorch).
 * idx may be NULL at inference.  2x2 windows at stride 2 run four at a
 * time in SSE2 on x86-64. */
int llfc_maxpool2d_forward(float *out, int32_t *idx, const float *in,
                           int N, int C, int H, int W, int k, int stride);
/* din [N, C, H, W] = dout routed to the argmax positions (overlapping windows add). */
int llfc_maxpool2d_backward(float *din, const float *dout, const int32_t *idx,
                            int N, int C, int H, int W, int k, int stride);

/* out [N, C, P, Q] = window mean (divisor k*k). */
int llfc_avgpool2d_forward(float *out, const float *in,
                           int N, int C, int H, int W, int k, int stride);
int llfc_avgpool2d_backward(float *din, const float *dout,
                            int N, int C, int H, int W, int k, int stride);

/* Global average pooling: out [N, C] = mean over H, W of in [N, C, H, W]
 * (torch: x.mean((2, 3)), or AdaptiveAvgPool2d(1) then flatten). */
int llfc_gavgpool_forward(float *out, const float *in, int N, int C, int H, int W);
int llfc_gavgpool_backward(float *din, const float *dout, int N, int C, int H, int W);
/* The same of blocked in [N, C/B, H, W, B] (layers.h, conv2d); out [N, C] as
 * above, bit for bit the plain call's values. */
int llfc_gavgpool_forward_blk(float *out, const float *in, int N, int C, int H, int W, int B);
int llfc_gavgpool_backward_blk(float *din, const float *dout, int N, int C, int H, int W, int B);

/* ---- BatchNorm2d (src/norm.c) ----------------------------------------------
 * As torch.nn.BatchNorm2d(C, eps, momentum): per channel c over the M = N*H*W
 * values of (n, h, w),
 *   out = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c]
 * weight and bias may be NULL (affine=False: weight 1, bias 0).
 *
 * Training mode normalises with the batch mean and the biased variance
 * (divide by M), saves mean [C] and rstd = 1/sqrt(var + eps) [C] for the
 * backward pass, and if running_mean/running_var are not NULL updates them
 *   running_mean = (1 - momentum) running_mean + momentum mean
 *   running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)
 * (unbiased variance, as PyTorch).  momentum = 1/(t+1) on the t-th batch
 * (t = 0, 1, ...) gives the cumulative average of PyTorch's momentum=None,
 * used to re-estimate statistics.  out may be NULL to compute only the
 * statistics (mean, rstd, running update).  Needs M >= 2 (PyTorch: "Expected more than
 * 1 value per channel when training").
 *
 * Eval mode normalises with running_mean and running_var. */
int llfc_batchnorm2d_forward_train(float *out, float *mean, float *rstd,
                                   float *running_mean, float *running_var,
                                   const float *in, const float *weight, const float *bias,
                                   int N, int C, int H, int W, float momentum, float eps);
int llfc_batchnorm2d_forward_eval(float *out, const float *in,
                                  const float *weight, const float *bias,
                                  const float *running_mean, const float *running_var,
                                  int N, int C, int H, int W, float eps);
/* Backward of the training-mode forward (gradient flows through the batch
 * statistics); mean, rstd as saved by forward_train. */
int llfc_batchnorm2d_backward_train(float *din, float *dweight, float *dbias,
                                    const float *dout, const float *in, const float *weight,
                                    const float *mean, const float *rstd,
                                    int N, int C, int H, int W);
/* BatchNorm followed by a ReLU in one pass over the data (the conv net
 * executor fuses them): the _relu forwards are the ones above with
 * out = relu(out) (a NaN stays NaN; out is required), and backward_train_relu
 * is backward_train given dout at the ReLU's output h (the fused forward's
 * out): it uses dout where h > 0 and 0 elsewhere, as the ReLU's backward
 * followed by backward_train. */
int llfc_batchnorm2d_forward_train_relu(float *out, float *mean, float *rstd,
                                        float *running_mean, float *running_var,
                                        const float *in, const float *weight, const float *bias,
                                        int N, int C, int H, int W, float momentum, float eps);
int llfc_batchnorm2d_forward_eval_relu(float *out, const float *in,
                                       const float *weight, const float *bias,
                                       const float *running_mean, const float *running_var,
                                       int N, int C, int H, int W, float eps);
int llfc_batchnorm2d_backward_train_relu(float *din, float *dweight, float *dbias,
                                         const float *dout, const float *h, const float *in,
                                         const float *weight, const float *mean, const float *rstd,
                                         int N, int C, int H, int W);
/* forward_eval (relu 0) or forward_eval_relu (relu 1) of blocked in and out
 * [N, C/B, H, W, B] (see conv2d above): bit for bit the plain call's values
 * in the blocked places. */
int llfc_batchnorm2d_forward_eval_blk(float *out, const float *in,
                                      const float *weight, const float *bias,
                                      const float *running_mean, const float *running_var,
                                      int N, int C, int H, int W, float eps, int relu, int B);
/* forward_train (relu 0) / forward_train_relu (relu 1) and backward_train
 * (h NULL) / backward_train_relu (h the fused forward's output) of blocked
 * values [N, C/B, H, W, B]: each channel's sums in the plain kernels'
 * order, so bit for bit their values (statistics and gradients included). */
int llfc_batchnorm2d_forward_train_blk(float *out, float *mean, float *rstd,
                                       float *running_mean, float *running_var,
                                       const float *in, const float *weight, const float *bias,
                                       int N, int C, int H, int W, float momentum, float eps, int relu, int B);
int llfc_batchnorm2d_backward_train_blk(float *din, float *dweight, float *dbias,
                                        const float *dout, const float *h, const float *in,
                                        const float *weight, const float *mean, const float *rstd,
                                        int N, int C, int H, int W, int B);
/* Backward of the eval-mode forward (statistics are constants). */
int llfc_batchnorm2d_backward_eval(float *din, float *dweight, float *dbias,
                                   const float *dout, const float *in, const float *weight,
                                   const float *running_mean, const float *running_var,
                                   int N, int C, int H, int W, float eps);

/* ---- LayerNorm over channels (src/norm.c) ---------------------------------
 * Git Re-Basin's ResNet-20 and VGG (samuela/git-re-basin, src/resnet20.py and
 * src/cifar10_vgg_run.py) put flax.linen.LayerNorm() after every conv.  Their activations are NHWC
 * and flax normalises over the last axis, so each pixel's channel vector is
 * normalised on its own, with a per-channel scale and bias:
 * for each (n, h, w), over the C values x[n, :, h, w],
 *   out[n,c,h,w] = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]
 * (biased variance; flax's default eps is 1e-6, PyTorch's LayerNorm 1e-5).
 * In PyTorch this is LayerNorm(C) applied to x.permute(0, 2, 3, 1).
 * mean, rstd [N, H, W] are saved for backward.  weight/bias may be NULL. */
int llfc_layernorm_c_forward(float *out, float *mean, float *rstd,
                             const float *in, const float *weight, const float *bias,
                             int N, int C, int H, int W, float eps);
int llfc_layernorm_c_backward(float *din, float *dweight, float *dbias,
                              const float *dout, const float *in, const float *weight,
                              const float *mean, const float *rstd,
                              int N, int C, int H, int W);

/* ---- LayerNorm over (C, H, W) (src/norm.c) ---------------------------------
 * The PyTorch ports of those networks (e.g. a LayerNorm2d module wrapping
 * torch.nn.GroupNorm(1, C)) normalise each sample over all its C*H*W values
 * instead, still with a per-channel scale and bias:
 * for each n, over x[n, :, :, :],
 *   out[n,c,h,w] = (x - mean_n) / sqrt(var_n + eps) * weight[c] + bias[c]
 * mean, rstd [N] are saved for backward.  weight/bias may be NULL. */
int llfc_layernorm_chw_forward(float *out, float *mean, float *rstd,
                               const float *in, const float *weight, const float *bias,
                               int N, int C, int H, int W, float eps);
int llfc_layernorm_chw_backward(float *din, float *dweight, float *dbias,
                                const float *dout, const float *in, const float *weight,
                                const float *mean, const float *rstd,
                                int N, int C, int H, int W);

#endif
