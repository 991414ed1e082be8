/* nn.h - networks: one representation for every architecture, and the
 * executor that runs it.
 *
 * A network is a list of named parameter tensors (PyTorch state_dict names,
 * each contiguous; net->ptrain[p] is 1 for trainable tensors, 0 for buffers
 * such as BatchNorm's running statistics) and a straight list of operations
 * executed in order.  Values live in numbered slots: slot 0 is the network
 * input, op i reads slot ops[i].in (and ops[i].in2 for LLFC_OP_ADD) and
 * writes slot ops[i].out = i + 1 (every op writes its own slot, so the
 * backward pass has every value it needs).  A slot has a geometry (C, H, W)
 * and holds [n, C*H*W] floats, flattened per sample in NCHW order
 * (torch.flatten(x, 1)); the input of an MLP is (dim, 1, 1).
 *
 * Builders (build.h) make the op lists: an MLP is LINEAR, activation,
 * LINEAR, ..., LINEAR; VGG and ResNet-20 add CONV, norms, pools and residual
 * sums.  Nothing outside the builders asks which architecture a net has:
 * every module works from the op list, the parameters and the permutation
 * spec alone.
 *
 * Feature layers (the input of every metric) are numbered 0 .. nfeat-1: the
 * outputs of the activation ops (RELU, TANH, IDENTITY) marked with
 * feat >= 0, in op order, then the logits (the output of the last LINEAR,
 * feat = nfeat-1).  A feature's pre-activation is its activation op's input
 * slot; for the logits pre == post.  net->widths holds nfeat + 1 sizes: the
 * input size C*H*W, then the size of every feature layer (the last is the
 * class count).
 *
 * Inference (forward, features, eval, metrics) runs BatchNorm in eval mode
 * (running statistics); the training passes run it in training mode.
 */
#ifndef LLFC_NN_H
#define LLFC_NN_H

#include "perm/permspec.h"
#include "core/tensor.h"

enum {
    LLFC_OP_CONV = 1, /* out = conv(in, w) + b; w [K, C, R, R], b [K] or pb = -1 */
    LLFC_OP_BN,       /* BatchNorm2d(C): pw, pb (affine), prm, prv, pnbt (buffers) */
    LLFC_OP_LN,       /* LayerNorm over channels per position (kernels/layers.h), pw, pb */
    LLFC_OP_RELU,     /* activations: element-wise, same geometry */
    LLFC_OP_MAXPOOL,  /* window R, stride */
    LLFC_OP_GAP,      /* global average pool: [C, H, W] -> [C, 1, 1] */
    LLFC_OP_ADD,      /* out = in + in2 (same geometry): the residual sum */
    LLFC_OP_LINEAR,   /* out [K] = w [K, C*H*W] @ flatten(in) + b (pb may be -1) */
    LLFC_OP_TANH,
    LLFC_OP_IDENTITY, /* an activation that changes nothing (a linear MLP's feature layers) */
};

typedef struct llfc_op {
    int kind;            /* LLFC_OP_* */
    int in, in2, out;    /* slots; in2 only for LLFC_OP_ADD (else -1) */
    int C, H, W;         /* geometry of the input slot */
    int K, P, Q;         /* geometry of the output slot */
    int R, stride, pad;  /* conv kernel / pool window */
    int pw, pb;          /* weight and bias params, or -1 */
    int prm, prv, pnbt;  /* BatchNorm buffers, or -1 */
    int feat;            /* activation or final LINEAR: feature layer of the output, or -1 */
    char name[48];       /* module path: "0", "features.0", "layer1.0.conv1", "linear" */
    char fname[32];      /* feat >= 0: the feature layer's name ("h1", "layer1.0", "logits") */
} llfc_op;

typedef struct llfc_net {
    int nparams;
    char **pname;          /* state_dict names */
    llfc_tensor **param;   /* contiguous tensors */
    unsigned char *ptrain; /* nparams flags: 1 trainable, 0 buffer */
    llfc_permspec *spec;
    int c, h, w;           /* input geometry */
    int nops, nslots;      /* nslots = nops + 1 */
    llfc_op *ops;
    int nfeat;             /* feature layers */
    int *featop;           /* [nfeat] the op whose output each feature layer is */
    int64_t *widths;       /* [nfeat + 1] input size, then feature sizes */
    float bn_eps, bn_momentum; /* 1e-5, 0.1 as PyTorch */
    float ln_eps;          /* 1e-5 */
    char config[256];      /* the builder's description, which rebuilds the net (build.h) */
    char gemm[128];        /* what computed the products of its training: llfc_gemm_describe() at the last
                            * training step, or the model file's "gemm"; "" when unknown */
} llfc_net;

void llfc_net_free(llfc_net *net);
llfc_net *llfc_net_clone(const llfc_net *net);
int64_t llfc_net_nparams_total(const llfc_net *net);    /* values in all tensors, buffers included */
int64_t llfc_net_nbuffer_values(const llfc_net *net);   /* values in buffers */
int64_t llfc_net_input_dim(const llfc_net *net);
int64_t llfc_net_num_classes(const llfc_net *net);
/* Is parameter p a BatchNorm's num_batches_tracked (a count: not
 * interpolated, written as I64 in model files)? */
int llfc_net_param_is_count(const llfc_net *net, int p);
/* 0 if a and b have the same op list and parameter shapes; else -1 with a
 * message naming the first difference. */
int llfc_net_same_arch(const llfc_net *a, const llfc_net *b);
/* out = alpha*a + (1-alpha)*b, parameter by parameter (counts: a's); out
 * must match. */
int llfc_net_lerp_into(llfc_net *out, const llfc_net *a, const llfc_net *b, double alpha);
llfc_net *llfc_net_lerp(const llfc_net *a, const llfc_net *b, double alpha);
/* Check the op list (slots, geometry, parameter shapes, features): 0 or -1. */
int llfc_net_check(const llfc_net *net);

/* ---- feature layers and slots ------------------------------------------------ */
int llfc_net_nfeat(const llfc_net *net);
int64_t llfc_net_featdim(const llfc_net *net, int l);
const char *llfc_net_featname(const llfc_net *net, int l, char *buf, size_t n);
/* The op of feature layer l, and the slots of its pre- and post-activation. */
int llfc_net_feat_op(const llfc_net *net, int l);
int llfc_net_feat_slot(const llfc_net *net, int l, int pre);
/* Does feature layer l have a nonlinearity (RELU or TANH)? */
int llfc_net_feat_has_act(const llfc_net *net, int l);
/* Floats per sample of a slot (-1 with a message if there is no such slot). */
int64_t llfc_net_slot_dim(const llfc_net *net, int slot);
/* A slot's name: "x" for the input, a feature layer's name for its output,
 * else the module path of the op writing it. */
const char *llfc_net_slot_name(const llfc_net *net, int slot, char *buf, size_t n);
/* A weight op (CONV or LINEAR)? */
int llfc_op_has_weight(const llfc_op *op);
/* The op kind as a word ("conv", "relu", ...). */
const char *llfc_op_kind_name(int kind);

/* ---- eval-mode execution ------------------------------------------------------
 * Forward x [n, in] through ops [first, last): vals[s] holds the value of
 * every slot s <= first that an op of the range reads (vals[0] is the input;
 * vals may be NULL when first = 0, with x the input); keep[s], a caller
 * buffer of [n, slot_dim(s)] or NULL, receives slot s when an op of the
 * range writes it.  Buffers for the other values are reused as soon as their
 * last reader has run. */
int llfc_net_forward_range(const llfc_net *net, int first, int last, const float *x, const float *const *vals,
                           int64_t n, float **keep);
/* All ops from the input: keep[s] as above. */
int llfc_net_forward_slots(const llfc_net *net, const float *x, int64_t n, float **keep);
/* Forward a batch x [n, in] to logits [n, classes]. */
int llfc_net_forward(const llfc_net *net, const float *x, int64_t n, float *logits);
/* Forward keeping every feature layer: pre[l], post[l] are caller buffers of
 * [n, featdim(l)] (either array, or an entry, may be NULL to skip). */
int llfc_net_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post);
/* Apply op's weight alone (no bias) to in [n, slot_dim(op.in)]:
 * out [n, slot_dim(op.out)] = conv(in, w) or in @ w^T.  Weight ops only.
 * The weight may be another net's of the same layout: pass that net. */
int llfc_net_apply_weight(const llfc_net *net, int op, const float *in, int64_t n, float *out);
/* Its adjoint (the backward pass to the input, no bias): out [n,
 * slot_dim(op.in)] = W^T applied to g [n, slot_dim(op.out)], so that
 * <g, W in> = <W^T g, in> for every in. */
int llfc_net_apply_weight_t(const llfc_net *net, int op, const float *g, int64_t n, float *out);

/* ---- loss, gradients and evaluation ----------------------------------------
 * Softmax cross-entropy of logits [n, k] against labels y [n] (0-based).
 * Adds the summed loss to *loss_sum and the number of argmax errors to *nerr
 * (either may be NULL).  If dlogits is non-NULL it receives
 * scale * (softmax(logits) - onehot(y)), [n, k] (dlogits may alias logits).
 * Fails on a label outside [0, k). */
int llfc_xent(const float *logits, const int32_t *y, int64_t n, int64_t k, float scale,
              double *loss_sum, int64_t *nerr, float *dlogits);

/* Workspace for training passes on batches of up to maxbatch samples: the
 * value of every slot the backward pass needs (an activation or a residual
 * sum writes over an input that nothing else reads and whose value no
 * backward step needs; a BatchNorm or sum whose output only feeds a ReLU
 * then computes the ReLU itself, and the BatchNorm's backward applies the
 * ReLU's mask), BatchNorm's and LayerNorm's saved mean and rstd, max-pool
 * argmaxes, slot gradients from a small pool of reused buffers and a
 * persistent conv scratch buffer. */
typedef struct llfc_nn_work llfc_nn_work;
llfc_nn_work *llfc_nn_work_new(const llfc_net *net, int64_t maxbatch);
void llfc_nn_work_free(llfc_nn_work *w);
int64_t llfc_nn_work_maxbatch(const llfc_nn_work *w);
/* Training-mode forward of x [n, in] (n <= maxbatch): BatchNorm normalises
 * with the batch statistics and updates the running ones (bn_momentum,
 * num_batches_tracked += 1), as a PyTorch forward in train().  x must stay
 * unchanged until the backward pass. */
int llfc_net_forward_train(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n);
/* After forward_train: mean cross-entropy over the n rows; adds the summed
 * loss and error count like llfc_xent and seeds the backward pass with
 * d(mean loss)/d(logits). */
int llfc_net_loss_start(const llfc_net *net, llfc_nn_work *w, const int32_t *y, int64_t n,
                        double *loss_sum, int64_t *nerr);
/* The backward pass (after loss_start): grad[p], laid out like
 * net->param[p], receives the gradient of the mean loss for every trainable
 * parameter (an entry may be NULL to skip it; buffers are never written). */
int llfc_net_backward(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n, float **grad);
/* Convenience: mean loss and every parameter's gradient for one batch. */
int llfc_net_loss_grad(const llfc_net *net, const float *x, const int32_t *y, int64_t n,
                       float **grad, double *loss, int64_t *nerr);

/* Evaluate on n samples x [n, in], labels y, in batches: error rate (a
 * fraction) and mean cross-entropy.  progress may be NULL. */
typedef struct llfc_eval_result { int64_t n; double err; double loss; } llfc_eval_result;
int llfc_net_eval(const llfc_net *net, const float *x, const int32_t *y, int64_t n, int64_t batch,
                  llfc_eval_result *res, llfc_progress_fn progress, void *ud);

/* Re-estimate BatchNorm running statistics: forward x [n, in] in training
 * mode in batches of batch, with PyTorch's momentum=None (cumulative average
 * over the batches); affine params unchanged.  Fails on a net without
 * BatchNorm; an interrupted reset restores the buffers. */
int llfc_net_reset_bn(llfc_net *net, const float *x, int64_t n, int64_t batch, llfc_progress_fn progress, void *ud);
/* Number of BatchNorm ops. */
int llfc_net_count_ops(const llfc_net *net, int kind);

/* ---- model files (modelfile.c) ------------------------------------------------
 * safetensors with the PyTorch state_dict names and __metadata__ holding
 * the net's config (build.h) and the builder's own keys (an MLP: {"arch":
 * "mlp", "widths": "784,512,10", "act": "relu"}; conv nets: {"arch": "cnn"});
 * written atomically.  Loading rebuilds the net from the config (or, for a
 * file without one, from what the builder infers from the metadata and the
 * tensor shapes: a PyTorch MLP state_dict needs no metadata) and needs
 * exactly its tensors with its shapes.  BatchNorm's num_batches_tracked is
 * written as an I64 scalar (shape []), as PyTorch does, and read from any
 * dtype as shape [] or [1]. */
int llfc_net_save(const llfc_net *net, const char *path);
llfc_net *llfc_net_load(const char *path);
/* The same with options: names renames tensors (on save, from the net's names
 * to the file's; on load, from the file's to the net's; names not listed stay);
 * a loaded parameter holding NaN or an infinity is an error unless
 * allow_nonfinite. */
typedef struct llfc_names { int n; const char *const *from, *const *to; } llfc_names;
/* 0, or -1 when a name is empty, renamed twice or two names become one. */
int llfc_names_check(const llfc_names *names);
int llfc_net_save_named(const llfc_net *net, const char *path, const llfc_names *names);
llfc_net *llfc_net_load_opts(const char *path, const llfc_names *names, int allow_nonfinite);

#endif
