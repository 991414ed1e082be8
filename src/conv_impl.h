/* conv_impl.h - private to conv.c and conv_dnnl.c: the oneDNN backend.
 *
 * Each function returns 0, or -1 when oneDNN is missing or failed (conv.c
 * then computes the same result through im2col; no message is recorded).
 * Shapes were validated by conv.c.  Backward weights accumulates into dweight
 * and dbias (dbias may be NULL) as layers.h says; backward data overwrites din. */
#ifndef LLFC_CONV_IMPL_H
#define LLFC_CONV_IMPL_H

int llfc_conv_dnnl_forward(float *out, const float *in, const float *weight, const float *bias,
                           int N, int C, int H, int W, int K, int R, int S, int stride, int pad);
int llfc_conv_dnnl_backward_data(float *din, const float *dout, const float *weight,
                                 int N, int C, int H, int W, int K, int R, int S, int stride,
                                 int pad);
int llfc_conv_dnnl_backward_weights(float *dweight, float *dbias, const float *dout,
                                    const float *in, int N, int C, int H, int W, int K, int R,
                                    int S, int stride, int pad);
/* 0 if oneDNN is built in and loads (libdnnl.so is opened on first use), else -1. */
int llfc_conv_dnnl_available(void);
/* Select the memory layout (LLFC_CONV_DNNL or LLFC_CONV_DNNL_BLOCKED); drops the cache. */
int llfc_conv_dnnl_layout(int which);
/* Drop every cached primitive. */
void llfc_conv_dnnl_release(void);
/* "oneDNN 2.6.3 (avx512_core_amx, OpenMP ...)", "oneDNN not loaded: REASON",
 * or NULL when built without oneDNN. */
const char *llfc_conv_dnnl_info(void);

#endif
