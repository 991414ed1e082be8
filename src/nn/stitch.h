/* stitch.h - stitching two networks (Lenc and Vedaldi 2015; Bansal et al.
 * 2021): A's ops up to a cut, a linear stitching layer, B's ops after it.
 *
 * The cut is after feature layer l (0-based; its output slot s), or at the
 * input (l = -1, s = 0: none of A's layers).  It must cut the op list: no op
 * of B's part may read a value before s (a cut inside a residual block,
 * whose sum reads the block's input, is not one).  The stitching layer maps
 * the C channels of slot s (C x H x W) to C channels: a 1x1 convolution on
 * a map (H*W > 1), a linear layer on a vector, weight [C, C] (out, in; conv
 * [C, C, 1, 1]) named "stitch.weight" and bias "stitch.bias"; by default the
 * identity and 0, so the stitched network computes A's function when the cut
 * is after the logits and B's when it is at the input.
 *
 * The stitched network holds copies of A's and B's tensors, frozen (marked
 * as buffers: training changes only the stitching layer; BatchNorm running
 * statistics still move in training-mode passes), the feature layers of the
 * layout and no permutation spec; it has no config (it cannot be saved).
 */
#ifndef LLFC_STITCH_H
#define LLFC_STITCH_H

#include "nn/nn.h"

/* 0 if the op list can be cut after feature layer l (-1: the input), else
 * -1 with a message saying why. */
int llfc_net_stitch_check(const llfc_net *net, int l);
/* The stitched network of a and b (one layout) at cut l; w [C * C] and
 * bias [C] (either may be NULL: identity, zero). */
llfc_net *llfc_net_stitch(const llfc_net *a, const llfc_net *b, int l, const float *w, const float *bias);
/* The channels C of the stitching layer at cut l (-1 on a bad l). */
int64_t llfc_net_stitch_width(const llfc_net *net, int l);

#endif
