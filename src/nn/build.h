/* build.h - the builders: the only code that knows architectures.  Each
 * makes a net's op list, parameters (PyTorch state_dict names),
 * initialisation, feature layers and permutation spec, and writes its
 * config text, from which llfc_net_build makes the same layout again.
 *
 * Config text: the family, then space-separated key=value:
 *   mlp widths=784,512,512,10 act=relu init=torch
 *   vgg layers=64,M,128,M norm=bn head=gap classes=10 input=3,32,32
 *   vgg depth=11 width=0.5 norm=ln head=gap classes=10 input=1,28,28
 *   resnet20 width=4 norm=bn classes=10 input=3,32,32
 *
 * MLP: torch.nn.Sequential(Linear, act, ..., Linear): parameter 2l is layer
 * l's weight "<2l>.weight" [out, in], 2l+1 its bias "<2l>.bias"; feature
 * layers "h1" ... "h<L-1>", "logits"; group P<l> permutes the outputs of
 * layer l and the inputs of layer l+1.  Init "torch" is nn.Linear's default
 * (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights then biases, layer by
 * layer), "kaiming" He normal N(0, 2/fan_in) with zero biases.
 *
 * Conv nets: see build.c for names and initialisation (torchvision's).
 */
#ifndef LLFC_BUILD_H
#define LLFC_BUILD_H

#include "nn/nn.h"

enum { LLFC_ACT_RELU = 0, LLFC_ACT_IDENTITY = 1, LLFC_ACT_TANH = 2 };
enum { LLFC_INIT_KAIMING = 0, LLFC_INIT_TORCH = 1 };
enum { LLFC_NORM_NONE = 0, LLFC_NORM_BN = 1, LLFC_NORM_LN = 2 };
/* The head of a VGG net: AdaptiveAvgPool2d(1) + Flatten, or Flatten. */
enum { LLFC_VGG_GAP = 0, LLFC_VGG_FLATTEN = 1 };

/* Activation names <-> LLFC_ACT_* ("relu", "tanh", "identity"); -1 if unknown. */
int llfc_act_from_name(const char *name);
const char *llfc_act_name(int act);

/* MLP with the given L+1 widths; act LLFC_ACT_*, init LLFC_INIT_*. */
llfc_net *llfc_mlp_new(int nwidths, const int64_t *widths, int act, int init, uint64_t seed);
/* VGG: a list of channel counts (spec[i] > 0: conv 3x3 padding 1 with
 * spec[i] outputs; -1: 2x2 max pool) on c x h x w inputs; norm LLFC_NORM_*;
 * head LLFC_VGG_*. */
llfc_net *llfc_vgg_new(int c, int h, int w, int nspec, const int *spec, int norm, int head, int64_t classes,
                       uint64_t seed);
/* torchvision's configurations (depth 11, 13, 16) with every width scaled by
 * width (rounded, at least 1). */
llfc_net *llfc_vgg_depth_new(int c, int h, int w, int depth, double width, int norm, int head, int64_t classes,
                             uint64_t seed);
/* ResNet-20 (He et al. CIFAR form, 3 stages of 3 basic blocks, widths
 * 16k, 32k, 64k), norm BN, LN or none, projection shortcuts (conv1x1 +
 * norm) where the shape changes. */
llfc_net *llfc_resnet20_new(int c, int h, int w, int width, int norm, int64_t classes, uint64_t seed);

/* The net a config text describes, initialised from seed. */
llfc_net *llfc_net_build(const char *config, uint64_t seed);
/* The same layout as tmpl with fresh parameters from seed. */
llfc_net *llfc_net_like(const llfc_net *tmpl, uint64_t seed);
/* The family word of net's config: "mlp", "vgg", "resnet20". */
const char *llfc_net_family(const llfc_net *net, char *buf, size_t n);
/* What net.arch says: "mlp" for an MLP, "cnn" for a conv net. */
const char *llfc_net_arch(const llfc_net *net);
/* The activation of the hidden layers as a word ("relu", "tanh", "identity"). */
const char *llfc_net_act(const llfc_net *net);
/* A one-line title: "mlp 784-512-10 (relu)", "cnn: resnet20 width=1 ...". */
const char *llfc_net_title(const llfc_net *net, char *buf, size_t n);

/* Model files.  The metadata a builder writes besides "config" (key/value
 * pairs, at most max; returns the count), and the config of a file from its
 * metadata (meta(ud, key) -> value or NULL) and tensor shapes (shape(ud,
 * name) -> tensor or NULL): its "config" entry, or for a file without one
 * (an MLP state_dict as PyTorch writes it) the MLP its tensors describe.
 * -1 with a message when the file is no network llfc can build. */
int llfc_net_file_meta(const llfc_net *net, const char **keys, const char **vals, char *buf, size_t nbuf, int max);
int llfc_net_file_config(const char *(*meta)(void *ud, const char *key),
                         const llfc_tensor *(*shape)(void *ud, const char *name), void *ud, char *config, size_t n);

#endif
