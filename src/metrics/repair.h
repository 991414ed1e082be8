/* repair.h - REPAIR (Jordan et al. 2022, "REPAIR: REnormalizing Permuted
 * Activations for Interpolation Repair"): the channels of an interpolated
 * network are rescaled so that their statistics are the interpolation of the
 * endpoints' statistics.
 *
 * A site is a value whose channels REPAIR corrects, with the affine
 * parameters that set it:
 *  - nets with normalisation: the output of every BatchNorm / LayerNorm op
 *    (its weight and bias, [C]);
 *  - nets without: the output of every weight op but the classifier (a conv
 *    or linear layer feeding an activation or a residual sum: an MLP's
 *    pre-activations; its weight [K, ...] row by row and its bias [K]).
 * Statistics are per channel over samples and positions: mean and population
 * std.  With theta_alpha = alpha*A + (1-alpha)*B the goal of channel c is
 *   mean_goal = alpha*mean_A + (1-alpha)*mean_B,  std_goal = alpha*std_A + (1-alpha)*std_B
 * and the site's parameters are changed so that its output y becomes
 *   s*(y - mean_cur) + mean_goal,   s = std_goal / std_cur
 * (s = 1 for a channel that is constant).  Sites are corrected in op order,
 * each measured after the previous ones are fixed, so after llfc_repair every
 * site has its goal statistics on the data it was given.
 *
 * BatchNorm in eval mode is a per-channel affine map of its input, so the
 * repaired network does not depend on the running statistics it starts with
 * (the correction sets the whole map); no reset is needed first.
 */
#ifndef LLFC_REPAIR_H
#define LLFC_REPAIR_H

#include "nn/nn.h"

typedef struct llfc_repair_site {
    int op;          /* the op whose output is corrected */
    int slot;        /* its value slot (op + 1) */
    int64_t C, HW;   /* channels and positions per channel */
    int pw, pb;      /* the parameters scaled (axis 0) and shifted */
    char name[48];   /* module name ("layer1.0.bn1", "features.0", "0") */
} llfc_repair_site;

/* The sites of net in op order (see above): *sites is malloc'd (free it);
 * returns their count, or -1 (a site whose op has no weight or no bias). */
int llfc_repair_sites(const llfc_net *net, llfc_repair_site **sites);

/* Per-channel mean and std of the given sites of net (eval mode) on x [n, in],
 * forwarded in batches of up to `batch` rows: mean and std receive the
 * channels of every site one after the other (sum of sites[i].C values each). */
int llfc_repair_stats(const llfc_net *net, const llfc_repair_site *sites, int nsites, const float *x, int64_t n,
                      int64_t batch, double *mean, double *std);

/* The repaired interpolation of a and b (same layout) at alpha in [0, 1],
 * statistics measured on x [n, in] in batches of `batch`.  progress may be
 * NULL; Ctrl-C or a progress function asking to stop fail with
 * "interrupted" (a and b are never changed). */
llfc_net *llfc_repair(const llfc_net *a, const llfc_net *b, double alpha, const float *x, int64_t n,
                      int64_t batch, llfc_progress_fn progress, void *ud);

/* The same for a combination of K networks of one layout: the repaired
 * sum_k w[k] nets[k], each site's goal the same combination of the
 * networks' statistics (the weights of an average: >= 0, summing to 1). */
llfc_net *llfc_repair_many(const llfc_net *const *nets, int K, const double *w, const float *x, int64_t n,
                           int64_t batch, llfc_progress_fn progress, void *ud);

#endif
