/* conv_impl.h - private to conv.c and conv_dnnl.c: the oneDNN backend.
 *
 * forward returns 0, or -1 when oneDNN is missing or failed (conv.c then
 * computes the same result through im2col; no message is recorded); backward
 * says which parts it did.  Shapes were validated by conv.c. */
#ifndef LLFC_CONV_IMPL_H
#define LLFC_CONV_IMPL_H

int llfc_conv_dnnl_forward(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int K, int R, int S, int stride, int pad);
/* The same with the activations in channel blocks of in_blk / out_blk (0:
 * plain NCHW; 8 or 16: [N, C/blk, H, W, blk], C a multiple of blk). */
int llfc_conv_dnnl_forward_blk(float *out, const float *in, const float *weight, const float *bias,
                               int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                               int in_blk, int out_blk);
/* The channel block (8 or 16) of the activations' layout that the blocked
 * primitives choose, so that a caller holding them that way needs no
 * reorder; 0 with the plain layout or when oneDNN is missing. */
int llfc_conv_dnnl_block(void);
/* din (overwritten) and dweight, dbias (+=), each NULL to skip.  Returns
 * which were done: bit 0 din, bit 1 dweight and dbias. */
int llfc_conv_dnnl_backward(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, int N, int C, int H, int W,
                            int K, int R, int S, int stride, int pad);
/* The same with in, din in blocks of in_blk and dout in blocks of out_blk. */
int llfc_conv_dnnl_backward_blk(float *din, float *dweight, float *dbias, const float *dout,
                                const float *in, const float *weight, int N, int C, int H, int W,
                                int K, int R, int S, int stride, int pad, int in_blk, int out_blk);
/* 0 if oneDNN is built in and loads (libdnnl.so is opened on first use), else -1. */
int llfc_conv_dnnl_available(void);
/* Select the memory layout (LLFC_CONV_DNNL or LLFC_CONV_DNNL_BLOCKED); drops the cache. */
int llfc_conv_dnnl_layout(int which);
/* oneDNN's OpenMP thread count: set (0 = OpenMP's default; drops the
 * cache), get (0 without oneDNN). */
void llfc_conv_dnnl_set_threads(int n);
int llfc_conv_dnnl_get_threads(void);
/* Drop every cached primitive. */
void llfc_conv_dnnl_release(void);
/* "oneDNN 2.6.3 (avx512_core_amx, OpenMP ...)", "oneDNN not loaded: REASON",
 * or NULL when built without oneDNN. */
const char *llfc_conv_dnnl_info(void);

#endif
