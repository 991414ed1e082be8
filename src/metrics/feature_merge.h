/* feature_merge.h - the feature-averaging merge: the network whose
 * pre-activations are, layer by layer, the weighted average of the members'
 * pre-activations, fitted by ridge least squares on the merged network's own
 * inputs; and the LLFC cosine of any network against the members' average.
 *
 * LLFC says that where merging works, the merged network's features are (up
 * to scale) the average of the endpoints' features.  The merge turns that
 * into a method: instead of averaging weights and hoping the features
 * average, it fits each layer so that they do.
 *
 * The merged net Z starts as the weighted average of the (aligned) members'
 * parameters.  Then, in op order, each fit replaces some of Z's weights:
 *
 *   inputs   the input value of each fitted weight op computed by Z itself
 *            (its layers fitted so far), on the first n samples;
 *   target   the weighted average of the members' values at the fit's
 *            target (each member's own forward pass);
 *   solve    ridge least squares per output unit in double precision.
 *
 * Fits come from the op list alone.  Each activation's input (the
 * pre-activation) and the logits are targets; a target is expanded through
 * residual sums (ADD) and BatchNorm into the weight ops (CONV, LINEAR) that
 * make it and the values Z already has (an identity shortcut: the residual
 * stream's value in Z), which are subtracted.  The weight ops of one target
 * are fitted jointly on their concatenated inputs, so a block's conv2 and its
 * projection shortcut share one fit and the residual stream's average is the
 * target at every block output.  A conv is fitted over im2col patches: every
 * output position of every sample is one row (its C*R*R patch).
 *
 * BatchNorm (eval mode) is a per-channel affine map, so it is folded into the
 * conv before it for the fit: the fit gives the whole affine map (weights and
 * one bias per channel).  After the fit the conv's weight is the fitted
 * weight and the BatchNorm's statistics are recomputed: running_mean and
 * running_var become the mean and the (population) variance of the conv's
 * output over the fitting rows, weight = sqrt(running_var + eps) and bias =
 * running_mean + the fitted bias, so eval mode computes exactly the fitted
 * map and the statistics are the true ones of the fitting data (a later
 * reset of the statistics on the same data changes little).
 *
 * LayerNorm normalises each position over the channels, which is not
 * affine, so it cannot be folded: the weight op before it is fitted on its
 * own, to the weighted average of the members' normalised values (the
 * LayerNorm's input, centred and divided by sqrt(var + eps) at each
 * position) times the weighted average of their scales sqrt(var + eps) at
 * that position; the LayerNorm keeps the weight-averaged scale and bias.
 * For identical members the target is the member's centred input, a linear
 * map of the patches that the LayerNorm turns into the member's output, so
 * the member comes back exactly; for different members the scale factor
 * keeps a member with larger raw values from dominating the average.  A
 * residual sum with LayerNorm branches subtracts Z's values of those
 * branches (after their fits) from its target.
 *
 * Least squares.  Over the N rows (samples x positions) with inputs phi and
 * target y, and the fit's intercept (a bias or a BatchNorm's shift; without
 * one the moments below are not centred): the input covariance S, the cross
 * covariance X = cov(phi, y), the weight average's map W0 (its composite
 * weights for BatchNorm), lambda = ridge * trace(S) / F (F inputs), and
 *   (S + lambda I) (W - W0)^T = X - S W0^T        (init: W0 as given)
 *   (S + lambda I) W^T = X                        (no init: W0 = 0)
 * then b = mean(y) - W mean(phi).  ridge is relative to the layer's input
 * scale.  With init the ridge pulls towards the weight average (only the
 * correction is fitted); without, towards zero.  ridge > 0: Cholesky
 * (dpotrf, dpotrs) of the positive definite S + lambda I, the cheapest
 * stable factorisation of the F x F system.  ridge = 0: the normal
 * equations are often singular (dead ReLU units are zero columns; a layer
 * wider than its input gives rank-deficient inputs), so S is diagonalised
 * (dsyevd) and the eigenvalues below 1e-11 times the largest are dropped:
 * the minimum-norm solution of the correction, the limit of ridge -> 0.
 * QR (dgels) of the N x F design matrix would be better conditioned but
 * needs every row in memory; the moments are summed in double in batches,
 * so memory depends on the layer width, not on n (a fit of more than 8192
 * inputs per unit is an error).  Without ridge, a fit with fewer rows than
 * inputs (plus the intercept) is an error.
 */
#ifndef LLFC_FEATURE_MERGE_H
#define LLFC_FEATURE_MERGE_H

#include "nn/nn.h"
#include "perm/perm.h"

/* Alignment of members 2..k to member 1 before merging. */
enum { LLFC_FM_ALIGN_NONE = 0, LLFC_FM_ALIGN_WEIGHT, LLFC_FM_ALIGN_ACT, LLFC_FM_ALIGN_CORR };

typedef struct {
    const double *weights;  /* k weights >= 0 summing to 1 (within 1e-6), or NULL: 1/k each */
    double ridge;           /* >= 0, relative to the input scale (above) */
    int init;               /* 1: the ridge (and the null space) keep the weight average; 0: zero */
    int align;              /* LLFC_FM_ALIGN_*: weight matching, activation matching (inner
                             * product, correlation) of every member to the first */
    const llfc_perm *const *perms; /* or NULL; else k entries: perms[j] aligns member j to member 0
                                    * (applied as given, align is ignored; NULL entries: identity) */
    int64_t batch;          /* samples per forward pass; < 1: sized to hold about 64 MB */
    llfc_progress_fn progress; /* after each batch: "merge_features: fit 3 of 20 (h3)" */
    void *progress_ud;
} llfc_fm_opts;

/* One least-squares fit. */
typedef struct {
    char name[48];      /* the value fitted: the feature fed by the target ("h1", "layer1.0",
                         * "logits"), or a LayerNorm's name */
    char ops[96];       /* the weight ops fitted, joined by '+' */
    int norm;           /* LLFC_OP_BN, LLFC_OP_LN or 0 */
    int64_t inputs;     /* inputs per output unit (the sum of the ops' fan-ins) */
    int64_t outputs;    /* output units (channels) */
    int bias;           /* fitted with an intercept */
    int64_t rows;       /* samples x positions */
    double target_var;  /* mean over output units of the target's variance */
    double mse_avg;     /* mean squared error per value of the weight average's map on Z's inputs
                         * (NaN for LayerNorm fits, whose target is normalised) */
    double mse_fit;     /* the same for the fitted map */
    double lambda;      /* the ridge added to the covariance's diagonal */
    int rank;           /* ridge 0: eigenvalues kept; else the inputs */
    double seconds;
} llfc_fm_fit;

typedef struct {
    int nfit, total;    /* fits done, fits in the net */
    llfc_fm_fit *fits;  /* [total], the first nfit filled */
    int k;
    llfc_perm **perms;  /* with alignment: [k], perms[0] NULL; else NULL */
    int interrupted;    /* Ctrl-C: the first nfit fits are in the net, the rest is the weight average */
    int64_t n;
    double seconds;
} llfc_fm_stats;

void llfc_fm_stats_free(llfc_fm_stats *st);

/* The merge of members[0..k) (same layout, k >= 1) on x [n, in] (n >= 1).
 * Returns a new network of the members' layout, or NULL with a message.  On
 * Ctrl-C (llfc_interrupted(), left set for the caller) between batches it
 * returns the network with the fits done so far and stats->interrupted = 1
 * (an interrupt while aligning fails with "interrupted"); a progress function
 * asking to stop fails.  stats may be NULL; else free it with
 * llfc_fm_stats_free. */
llfc_net *llfc_feature_merge(const llfc_net *const *members, int k, const float *x, int64_t n,
                             const llfc_fm_opts *opts, llfc_fm_stats *stats);

/* ---- LLFC against the members' average -----------------------------------------
 * For every feature layer l of net and each of the n samples x [n, in]:
 * mix = sum_j weights[j] f_l(member j), and 1 - cos(f_l(net), mix) and the
 * scale coefficient c = <f_l(net), mix> / |f_l(net)|^2, as metrics.llfc with
 * net in place of theta_alpha.  pre: pre-activations (the logits either
 * way).  A sample with either vector zero is skipped and counted. */
typedef struct {
    char name[32];
    int64_t dim;
    double mean, std;            /* of 1 - cos (population std) */
    double coef_mean, coef_std;
    int64_t count, skipped;
} llfc_fm_cos;

/* out has nfeat entries.  batch < 1: sized to hold about 64 MB.  Ctrl-C or
 * a progress function asking to stop fail with "interrupted". */
int llfc_feature_llfc(const llfc_net *net, const llfc_net *const *members, int k, const double *weights,
                      const float *x, int64_t n, int64_t batch, int pre, llfc_fm_cos *out,
                      llfc_progress_fn progress, void *ud);

#endif
