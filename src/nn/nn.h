/* nn.h - networks: parameters, forward passes with features, interpolation.
 *
 * A network is a list of named parameter tensors (PyTorch state_dict names,
 * each contiguous) plus an architecture that knows how to run them.  The MLP
 * is torch.nn.Sequential(Linear, ReLU, ..., Linear): parameter 2l is layer
 * l's weight "<2l>.weight" [out, in], parameter 2l+1 its bias "<2l>.bias".
 * Conv nets (LLFC_ARCH_CNN: VGG, ResNet-20) are lists of operations with
 * trainable parameters and buffers, executed by nn_cnn.c: see nn_cnn.h.
 *
 * Feature layers (the input of every metric) are numbered 0 .. nfeat-1 and
 * named "h1" ... "h<L-1>", "logits" (conv nets: their ReLU ops' names, then
 * "logits").  For layer l, pre-activations Ht_l and
 * post-activations H_l are [n, featdim(l)] row-major; for the logits pre ==
 * post.
 */
#ifndef LLFC_NN_H
#define LLFC_NN_H

#include "perm/permspec.h"
#include "core/tensor.h"

enum { LLFC_ARCH_MLP = 1, LLFC_ARCH_CNN = 3 };
enum { LLFC_ACT_RELU = 0, LLFC_ACT_IDENTITY = 1, LLFC_ACT_TANH = 2 };

typedef struct llfc_net {
    int arch;              /* LLFC_ARCH_* */
    int act;               /* hidden activation, LLFC_ACT_* */
    int nlayers;           /* L weight layers */
    int64_t *widths;       /* L + 1 widths: input, hidden ..., classes */
    int nparams;
    char **pname;          /* state_dict names */
    llfc_tensor **param;   /* contiguous tensors */
    llfc_permspec *spec;
    struct llfc_cnn *cnn;  /* LLFC_ARCH_CNN: the op list (nn_cnn.h), NULL otherwise */
    unsigned char *ptrain; /* nparams flags: 1 trainable, 0 buffer; NULL = all trainable */
} llfc_net;

/* The head of a VGG net (llfc_cnn_vgg, nn_cnn.h): AdaptiveAvgPool2d(1) +
 * Flatten, or Flatten. */
enum { LLFC_VGG_GAP = 0, LLFC_VGG_FLATTEN = 1 };

/* MLP with the given L+1 widths.  init: LLFC_INIT_* below; seed for the PRNG. */
enum { LLFC_INIT_KAIMING = 0, LLFC_INIT_TORCH = 1 };
llfc_net *llfc_mlp_new(int nwidths, const int64_t *widths, int act, int init, uint64_t seed);
void llfc_net_free(llfc_net *net);
llfc_net *llfc_net_clone(const llfc_net *net);
int64_t llfc_net_nparams_total(const llfc_net *net);
int64_t llfc_net_input_dim(const llfc_net *net);
int64_t llfc_net_num_classes(const llfc_net *net);
/* 0 if a and b have the same architecture and parameter shapes; else -1 with
 * a message naming the first difference. */
int llfc_net_same_arch(const llfc_net *a, const llfc_net *b);
/* out = alpha*a + (1-alpha)*b, parameter by parameter; out must match. */
int llfc_net_lerp_into(llfc_net *out, const llfc_net *a, const llfc_net *b, double alpha);
llfc_net *llfc_net_lerp(const llfc_net *a, const llfc_net *b, double alpha);

/* Feature layers. */
int llfc_net_nfeat(const llfc_net *net);
int64_t llfc_net_featdim(const llfc_net *net, int l);
const char *llfc_net_featname(const llfc_net *net, int l, char *buf, size_t n);
/* Does feature layer l have an activation (ReLU for the default MLP)? */
int llfc_net_feat_has_act(const llfc_net *net, int l);

/* Forward a batch x [n, in] to logits [n, classes]. */
int llfc_net_forward(const llfc_net *net, const float *x, int64_t n, float *logits);
/* Forward keeping every feature layer: pre[l], post[l] are caller buffers of
 * [n, featdim(l)] (either array, or an entry, may be NULL to skip). */
int llfc_net_forward_features(const llfc_net *net, const float *x, int64_t n,
                              float **pre, float **post);

/* ---- loss, gradients and evaluation ----------------------------------------
 * Softmax cross-entropy of logits [n, k] against labels y [n] (0-based).
 * Adds the summed loss to *loss_sum and the number of argmax errors to *nerr
 * (either may be NULL).  If dlogits is non-NULL it receives
 * scale * (softmax(logits) - onehot(y)), [n, k] (dlogits may alias logits).
 * Fails on a label outside [0, k). */
int llfc_xent(const float *logits, const int32_t *y, int64_t n, int64_t k, float scale,
              double *loss_sum, int64_t *nerr, float *dlogits);

/* Workspace for training passes on batches of up to maxbatch rows: it keeps
 * each layer's output of the last llfc_net_forward_train() and the gradient
 * flowing backwards. */
typedef struct llfc_nn_work llfc_nn_work;
llfc_nn_work *llfc_nn_work_new(const llfc_net *net, int64_t maxbatch);
void llfc_nn_work_free(llfc_nn_work *w);
/* Forward x [n, in] (n <= maxbatch) keeping the activations.  Conv nets run
 * BatchNorm in training mode: batch statistics, and the running statistics
 * and num_batches_tracked are updated (as a PyTorch forward in train()); so
 * does llfc_net_loss_grad below. */
int llfc_net_forward_train(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n);
/* After forward_train: mean cross-entropy over the n rows; adds the summed loss
 * and error count like llfc_xent and seeds the backward pass with
 * d(mean loss)/d(logits). */
int llfc_net_loss_start(const llfc_net *net, llfc_nn_work *w, const int32_t *y, int64_t n,
                        double *loss_sum, int64_t *nerr);
/* Backward through weight layer l (call for l = L-1 down to 0, after
 * loss_start): writes dW [out, in] and db [out] of the mean loss, then moves
 * the gradient to the layer's input using the layer's current weights, so a
 * caller may update layer l's parameters as soon as this returns. x is the
 * batch given to forward_train. */
int llfc_net_backward_layer(const llfc_net *net, llfc_nn_work *w, const float *x, int l, int64_t n,
                            float *dW, float *db);
/* The whole backward pass (after loss_start): grad[p], laid out like
 * net->param[p], receives the gradient of the mean loss for every trainable
 * parameter (an entry may be NULL to skip it; buffers, net->ptrain[p] == 0,
 * are never written).  Works for every architecture; conv nets (LLFC_ARCH_CNN)
 * have only this one. */
int llfc_net_backward_all(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n, float **grad);
/* Convenience: mean loss and every parameter's gradient (grad[p] laid out
 * like net->param[p]) for one batch. */
int llfc_net_loss_grad(const llfc_net *net, const float *x, const int32_t *y, int64_t n,
                       float **grad, double *loss, int64_t *nerr);

/* Evaluate on n samples x [n, in], labels y, in batches: error rate (a
 * fraction) and mean cross-entropy.  progress may be NULL. */
typedef struct llfc_eval_result { int64_t n; double err; double loss; } llfc_eval_result;
int llfc_net_eval(const llfc_net *net, const float *x, const int32_t *y, int64_t n, int64_t batch,
                  llfc_eval_result *res, llfc_progress_fn progress, void *ud);

/* Activation names <-> LLFC_ACT_* ("relu", "tanh", "identity"); -1 if unknown. */
int llfc_act_from_name(const char *name);
const char *llfc_act_name(int act);

/* ---- model files (nn_io.c) -------------------------------------------------
 * safetensors with the PyTorch state_dict names ("0.weight" [out, in],
 * "0.bias", "2.weight", ...) and __metadata__ {"arch": "mlp", "widths":
 * "784,512,10", "act": "relu"}; written atomically.  Loading needs only the
 * tensors (widths come from the shapes; act defaults to relu); metadata that
 * disagrees with the tensors, missing or unexpected tensors are errors.
 * Conv nets (nn_cnn.h): __metadata__ {"arch": "cnn", "config": net->cnn->config};
 * loading rebuilds the net from the config (llfc_cnn_from_config) and needs
 * exactly its tensors with its shapes; BatchNorm's num_batches_tracked is
 * written as an I64 scalar (shape []), as PyTorch does, and read from any
 * dtype as shape [] or [1]. */
int llfc_net_save(const llfc_net *net, const char *path);
llfc_net *llfc_net_load(const char *path);

#endif
