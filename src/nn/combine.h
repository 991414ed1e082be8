/* combine.h - weighted combinations of networks of one layout.
 *
 * theta = sum_k w[k] theta_k, tensor by tensor (BatchNorm's running
 * statistics too; num_batches_tracked, a count, is the first network's).
 * The sum is taken in float in the order k = 0, 1, ...: for two networks
 * and w = (alpha, 1 - alpha) it gives the same floats as llfc_net_lerp.
 * Every point of the plane through three networks, of a curve between two
 * and the average of N is such a combination.
 */
#ifndef LLFC_COMBINE_H
#define LLFC_COMBINE_H

#include "nn/nn.h"

/* out = sum_k w[k] nets[k]; every net (out included) of one layout, out
 * none of nets.  0 or -1 with a message naming the first mismatch. */
int llfc_net_combine_into(llfc_net *out, const llfc_net *const *nets, int K, const double *w);
/* The same into a new network (a clone of nets[0]). */
llfc_net *llfc_net_combine(const llfc_net *const *nets, int K, const double *w);
/* The weighted average: weights w (NULL: all equal), finite and >= 0 with
 * a positive sum, divided by their sum. */
llfc_net *llfc_net_average(const llfc_net *const *nets, int K, const double *w);
/* Check weights for llfc_net_average and write the normalised ones to
 * out[K] (w NULL: 1/K each); -1 with a message naming the bad weight. */
int llfc_average_weights(int K, const double *w, double *out);

#endif
