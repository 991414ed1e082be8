/* nn_vgg.h - plain convolutional networks (VGG-style), the second architecture
 * of nn.h; internal to the nn module (nn.c dispatches here).
 *
 * Layout (channels-first, as torch.nn.Sequential):
 *   [Conv2d(C, K, 3, padding=1), ReLU, (MaxPool2d(2))] x nconv,
 *   then AdaptiveAvgPool2d(1), Flatten  (head "gap")  or  Flatten  (head "flatten"),
 *   then Linear(F, classes).
 * Weight layer l < nconv is conv l ("<i>.weight" [K, C, 3, 3], "<i>.bias" [K]),
 * weight layer nconv the classifier.  Feature layer l < nconv is conv l's
 * post-ReLU output (before pooling), [n, K*H*W] flattened per sample in NCHW
 * order; the last feature layer is the logits.  net->widths holds the input
 * size C*H*W, the feature sizes, and the classes, so input_dim, featdim and
 * num_classes work unchanged.
 */
#ifndef LLFC_NN_VGG_H
#define LLFC_NN_VGG_H

#include "nn.h"

typedef struct llfc_vgg_work llfc_vgg_work;

int llfc_vgg_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post);
llfc_vgg_work *llfc_vgg_work_new(const llfc_net *net, int64_t maxbatch);
void llfc_vgg_work_free(llfc_vgg_work *w);
int llfc_vgg_forward_train(const llfc_net *net, llfc_vgg_work *w, const float *x, int64_t n);
float *llfc_vgg_logits(llfc_vgg_work *w);
float *llfc_vgg_dlogits(llfc_vgg_work *w);
int llfc_vgg_backward_layer(const llfc_net *net, llfc_vgg_work *w, const float *x, int l, int64_t n,
                            float *dW, float *db);

#endif
