/* nn_cnn.h - convolutional and residual networks as a list of operations.
 *
 * A conv net (net->arch == LLFC_ARCH_CNN, net->cnn != NULL) is a straight list
 * of ops executed in order.  Values live in numbered slots: slot 0 is the
 * network input [n, C, H, W]; op i reads slot ops[i].in (and ops[i].in2 for
 * LLFC_OP_ADD) and writes the new slot ops[i].out (= i + 1: every op writes
 * its own slot, so the backward pass has every value it needs).  All values
 * are NCHW, contiguous per batch; a slot of geometry (C, H, W) holds
 * [n, C*H*W] floats, flattened per sample in torch.flatten(x, 1) order.
 *
 * Parameters are net->param[] with PyTorch state_dict names (net->pname[]);
 * net->ptrain[p] is 1 for trainable tensors and 0 for buffers (BatchNorm's
 * running_mean, running_var and num_batches_tracked; the last is a [1]
 * tensor holding a count, written as I64 in model files).
 *
 * Feature layers (nn.h: the input of every metric) are the outputs of the
 * LLFC_OP_RELU ops with feat >= 0, in op order, then the logits (the output of
 * the final LLFC_OP_LINEAR).  The pre-activation of a ReLU feature is the
 * ReLU's input slot.  net->widths holds nfeat + 1 sizes: the input size
 * C*H*W, then featdim of each feature layer (the last is the class count), so
 * llfc_net_input_dim, featdim and num_classes work unchanged; net->nlayers is
 * nfeat (the number of feature layers).
 *
 * Inference (llfc_net_forward, features, eval, metrics) runs BatchNorm in eval
 * mode (running statistics); training passes run it in training mode.
 */
#ifndef LLFC_NN_CNN_H
#define LLFC_NN_CNN_H

#include "nn/nn.h"

enum {
    LLFC_OP_CONV = 1, /* out = conv(in, w) + b; w [K, C, R, R], b [K] or pb = -1 */
    LLFC_OP_BN,       /* BatchNorm2d(C): pw, pb (affine), prm, prv, pnbt (buffers) */
    LLFC_OP_LN,       /* LayerNorm over channels per pixel (layers.h), pw, pb */
    LLFC_OP_RELU,
    LLFC_OP_MAXPOOL,  /* window R, stride */
    LLFC_OP_GAP,      /* global average pool: [C, H, W] -> [C, 1, 1] */
    LLFC_OP_ADD,      /* out = in + in2 (same geometry): the residual sum */
    LLFC_OP_LINEAR,   /* out [K] = w [K, C*H*W] @ flatten(in) + b: the classifier */
};

typedef struct llfc_op {
    int kind;            /* LLFC_OP_* */
    int in, in2, out;    /* slots; in2 only for LLFC_OP_ADD (else -1) */
    int C, H, W;         /* geometry of the input slot */
    int K, P, Q;         /* geometry of the output slot */
    int R, stride, pad;  /* conv kernel / pool window */
    int pw, pb;          /* weight and bias params, or -1 */
    int prm, prv, pnbt;  /* BatchNorm buffers, or -1 */
    int feat;            /* RELU/LINEAR: feature layer of the output, or -1 */
    char name[48];       /* module path for printing: "features.0", "layer1.0.conv1", "linear" */
} llfc_op;

enum { LLFC_CNN_VGG = 1, LLFC_CNN_RESNET = 2 };
enum { LLFC_NORM_NONE = 0, LLFC_NORM_BN = 1, LLFC_NORM_LN = 2 };

typedef struct llfc_cnn {
    int family;          /* LLFC_CNN_* (printing, model files) */
    int norm;            /* LLFC_NORM_* */
    int c, h, w;         /* input */
    int nops;
    llfc_op *ops;
    int nslots;          /* nops + 1 */
    float bn_eps, bn_momentum; /* 1e-5, 0.1 as PyTorch */
    float ln_eps;        /* 1e-5 */
    char config[256];    /* builder arguments as text, for model files and printing
                          * e.g. "vgg depth=11 norm=bn width=1 classes=10 input=3,32,32 head=gap" */
} llfc_cnn;

/* ---- builders (nn_cnn_build.c) ---------------------------------------------
 * VGG: torchvision's configurations (depth 11, 13, 16) or a custom list of
 * channel counts and pools; Sequential names "features.<i>" ... see the man
 * page.  chan[i] > 0 is a conv 3x3 (padding 1) with chan[i] outputs, -1 a
 * 2x2 max pool.  norm: LLFC_NORM_*.  head: LLFC_VGG_GAP or LLFC_VGG_FLATTEN. */
llfc_net *llfc_cnn_vgg(int c, int h, int w, int nspec, const int *spec, int norm, int head,
                       int64_t classes, uint64_t seed);
/* ResNet-20 (He et al. CIFAR form, 3 stages of 3 basic blocks, widths
 * 16k, 32k, 64k), norm BN or LN (NONE allowed), projection shortcuts
 * (conv1x1 + norm) where the shape changes. */
llfc_net *llfc_cnn_resnet20(int c, int h, int w, int width, int norm, int64_t classes, uint64_t seed);
/* Same layout as tmpl, fresh weights from seed (buffers reset). */
llfc_net *llfc_cnn_like(const llfc_net *tmpl, uint64_t seed);
/* Rebuild from the config text written by llfc_cnn->config (model files). */
llfc_net *llfc_cnn_from_config(const char *config);
/* The same with fresh weights from seed (from_config uses seed 1).  Also
 * accepts "vgg depth=11|13|16 width=W ..." (torchvision's configurations
 * scaled by W), which it keeps as the net's config text. */
llfc_net *llfc_cnn_build(const char *config, uint64_t seed);

/* ---- execution (nn_cnn.c) ---------------------------------------------------
 * Sizes in floats per sample of a slot. */
int64_t llfc_cnn_slot_dim(const llfc_net *net, int slot);
/* Eval-mode forward keeping values: slots[s] (caller buffers of
 * [n, slot_dim(s)], an entry may be NULL to skip keeping it) */
int llfc_cnn_forward_slots(const llfc_net *net, const float *x, int64_t n, float **slots);
/* Apply op i's weight alone (no bias) to in [n, slot_dim(op.in)]:
 * out [n, slot_dim(op.out)] = conv(in, w) or in @ w^T.  CONV and LINEAR only.
 * The weight may be another net's (same layout): pass that net. */
int llfc_cnn_apply_weight(const llfc_net *net, int op, const float *in, int64_t n, float *out);
/* Re-estimate BatchNorm running statistics: forward x [n, in] in training
 * mode in batches of batch, with PyTorch's momentum=None (cumulative
 * average over the batches); affine params unchanged. */
int llfc_cnn_reset_bn(llfc_net *net, const float *x, int64_t n, int64_t batch,
                      llfc_progress_fn progress, void *ud);

#endif
