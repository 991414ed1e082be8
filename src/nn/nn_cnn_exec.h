/* nn_cnn_exec.h - the conv net executor's training passes, internal to the
 * nn module: nn.c dispatches llfc_net_forward_features, the llfc_nn_work
 * passes and llfc_net_backward_all here for LLFC_ARCH_CNN nets (nn_cnn.h).
 *
 * A work struct keeps, for batches of up to maxbatch samples, the value of
 * every slot needed by the backward pass (a ReLU or a residual sum writes
 * over its input when nothing else reads that input; a BatchNorm or sum
 * whose output only feeds such a ReLU then computes the ReLU itself, and the
 * BatchNorm's backward applies the ReLU's mask), BatchNorm's and
 * LayerNorm's saved mean and rstd, max-pool argmaxes, slot gradients from a
 * small pool of reused buffers and a persistent conv scratch buffer.
 */
#ifndef LLFC_NN_CNN_EXEC_H
#define LLFC_NN_CNN_EXEC_H

#include "nn/nn_cnn.h"

typedef struct llfc_cnn_work llfc_cnn_work;

/* Checks the op list (slots, geometry, parameter shapes): 0 or -1. */
int llfc_cnn_check(const llfc_net *net);
/* Op index of feature layer l < nfeat - 1 (its RELU), or of the logits
 * (the last LINEAR) for l = nfeat - 1; -1 if none. */
int llfc_cnn_feat_op(const llfc_net *net, int l);
/* Eval-mode forward keeping the features (as llfc_net_forward_features). */
int llfc_cnn_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post);

llfc_cnn_work *llfc_cnn_work_new(const llfc_net *net, int64_t maxbatch);
void llfc_cnn_work_free(llfc_cnn_work *w);
int64_t llfc_cnn_work_maxbatch(const llfc_cnn_work *w);
/* Training-mode forward of x [n, in]: BatchNorm normalises with the batch
 * statistics and updates the running ones (bn_momentum, num_batches_tracked
 * += 1).  x must stay unchanged until the backward pass. */
int llfc_cnn_forward_train(const llfc_net *net, llfc_cnn_work *w, const float *x, int64_t n);
/* After forward_train: the logits [n, classes] and the buffer receiving
 * d(loss)/d(logits) for the backward pass. */
float *llfc_cnn_work_logits(llfc_cnn_work *w);
float *llfc_cnn_work_dlogits(llfc_cnn_work *w);
/* Backward from the gradient in dlogits: grad[p] (laid out like
 * net->param[p]) receives the gradient of every trainable parameter; an
 * entry may be NULL to skip it (buffers are always skipped). */
int llfc_cnn_backward(const llfc_net *net, llfc_cnn_work *w, const float *x, int64_t n, float **grad);

#endif
