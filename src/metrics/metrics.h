/* metrics.h - connectivity metrics of a network pair over a dataset.
 *
 * Convention: theta_alpha = alpha*theta_A + (1-alpha)*theta_B (alpha = 1 is A,
 * alpha = 0 is B).  One streaming pass over the dataset in batches computes
 * every asked-for metric: the endpoint features of A and B are computed once
 * per batch and reused by every alpha and metric; per-sample quantities are
 * accumulated in double.  Memory is bounded by the batch size.
 *
 *   interpolate     err(alpha), loss(alpha), barriers, lemma check
 *   llfc            E[1 - cos(f_l(theta_alpha), alpha f_l(A) + (1-alpha) f_l(B))],
 *                   baseline E[1 - cos(f_l(A), f_l(B))], scale coefficient c
 *   weak additivity E[1 - cos(s(alpha Ht_A + (1-alpha) Ht_B), alpha s(Ht_A) + (1-alpha) s(Ht_B))]
 *                   on hidden layers, s = the hidden activation (ReLU)
 *   commutativity   Dist_com, Dist_W, Dist_H per weight layer (biases excluded)
 *
 * Features are the feature layers of nn.h (activation outputs and the
 * logits, flattened per sample: C*H*W values in NCHW order for conv maps),
 * pre-activations the activations' inputs; commutativity has one entry per
 * weight op (CONV and LINEAR ops in order, shortcut convs included) with H
 * the op's input slot.  Without an explicit batch, the pass runs in batches
 * of 1000 samples, fewer when the kept values would pass about 128 MB.
 *
 * Means and stds are over samples (population std, divide by the count).
 * A sample whose vector (either side of a cosine) is exactly zero is skipped
 * and counted.
 */
#ifndef LLFC_METRICS_H
#define LLFC_METRICS_H

#include "data/data.h"
#include "nn/nn.h"

enum { LLFC_M_INTERP = 1, LLFC_M_LLFC = 2, LLFC_M_WEAK = 4, LLFC_M_COMM = 8, LLFC_M_ALL = 15 };
enum { LLFC_FEAT_POST = 0, LLFC_FEAT_PRE = 1 };

/* Running sums of one per-sample quantity. */
typedef struct { double sum, sumsq; int64_t count; } llfc_acc;

/* ---- interpolation ---- */
typedef struct {
    int nalpha;
    double *alpha;                   /* ascending */
    int64_t *nerr;                   /* misclassified samples per alpha */
    double *losssum;                 /* summed cross-entropy per alpha */
    int64_t nerr_a, nerr_b;
    double losssum_a, losssum_b;
    /* derived by llfc_report_finalize */
    double *err, *loss;
    double err_a, err_b, loss_a, loss_b;
    double barrier_err, barrier_err_alpha, barrier_loss, barrier_loss_alpha;
    double eps, max_err;
    int holds;
} llfc_interp_res;

/* ---- LLFC cosine and scale coefficient ---- */
typedef struct {
    double alpha;
    llfc_acc cos, coef;              /* 1 - cos_alpha; c = <f_alpha, mix>/|f_alpha|^2 */
    int64_t skipped;                 /* f_alpha or mix zero */
    int64_t *hist;                   /* nbins counts of c over [hist_lo, hist_hi) */
    int nbins;                       /* 0 until the range is set (from the first batch) */
    double hist_lo, hist_hi;
    int64_t below, above;            /* c outside [lo, hi) */
    double mean, std, coef_mean, coef_std;
} llfc_llfc_at;

typedef struct {
    int feat;                        /* feature layer, 0-based */
    char name[32];
    int64_t dim;
    llfc_acc ab;                     /* 1 - cos(f_A, f_B) */
    int64_t skipped;                 /* f_A or f_B zero */
    double ab_mean, ab_std;
    llfc_llfc_at *at;                /* nalpha */
} llfc_llfc_layer;

typedef struct {
    int nalpha;
    double *alpha;
    int nlayer;
    llfc_llfc_layer *layer;
    int features;                    /* LLFC_FEAT_* */
    int nbins;                       /* the bins asked for, or 0: each (layer, alpha) chooses */
    double hist_lo, hist_hi;         /* the range asked for (lo == hi: each chooses) */
} llfc_llfc_res;

/* ---- weak additivity ---- */
typedef struct { double alpha; llfc_acc acc; int64_t skipped; double mean, std; } llfc_weak_at;
typedef struct { int feat; char name[32]; int64_t dim; llfc_weak_at *at; } llfc_weak_layer;
typedef struct { int nalpha; double *alpha; int nlayer; llfc_weak_layer *layer; } llfc_weak_res;

/* ---- commutativity ---- */
typedef struct {
    int layer;                       /* 1-based number among the weight ops */
    int op;                          /* index of the weight op in the op list */
    char name[48];                   /* module of the weight: "0", "2", ...; "features.0", "linear" */
    char input[48];                  /* "x", "h1", ...: the feature layer or op producing the input */
    double num;                      /* |(W_A-W_B)(H_A-H_B)|_F^2 */
    double x2, y2;                   /* |W_A H_A + W_B H_B|_F^2, |W_A H_B + W_B H_A|_F^2 */
    double ha2, hb2, dh2;            /* |H_A|^2, |H_B|^2, |H_A-H_B|^2 */
    double wa2, wb2, dw2;            /* |W_A|^2, |W_B|^2, |W_A-W_B|^2 */
    double dist_com, dist_w, dist_h;
} llfc_comm_layer;
typedef struct { int nlayer; llfc_comm_layer *layer; } llfc_comm_res;

typedef struct llfc_report {
    int what;                        /* LLFC_M_* bits computed */
    int64_t n;                       /* samples processed */
    int64_t ntotal;                  /* dataset size */
    int complete;                    /* 1 when every sample was processed */
    double seconds;                  /* wall time of the pass so far */
    llfc_interp_res interp;
    llfc_llfc_res llfc;
    llfc_weak_res weak;
    llfc_comm_res comm;
} llfc_report;

typedef struct llfc_metrics_opts {
    int what;                        /* LLFC_M_* bits */
    const double *alphas;            /* interpolation grid; NULL: 21 points 0, .05, ..., 1 */
    int nalphas;
    const double *llfc_alphas;       /* NULL: .25, .5, .75 */
    int nllfc_alphas;
    const double *weak_alphas;       /* NULL: the llfc alphas */
    int nweak_alphas;
    const int *layers;               /* feature layers (0-based) for llfc and weak; NULL: all */
    int nlayers;
    int features;                    /* LLFC_FEAT_POST (default) or LLFC_FEAT_PRE, for llfc */
    int hist_bins;                   /* 0: the Freedman-Diaconis rule (with no range: 20 over [lo, hi]) */
    double hist_lo, hist_hi;         /* lo == hi: each layer and alpha takes the robust range of its first
                                      * batch's coefficients (llfc_hist_rule, core/stats.h) */
    int64_t batch;                   /* 0: 1000, fewer when memory asks */
    llfc_progress_fn progress;       /* per batch, through llfc_progress_stop */
    void *progress_ud;
    /* per batch with the partial (finalized) report; non-zero return stops
     * early and returns the partial report (complete = 0). */
    int (*on_batch)(void *ud, const llfc_report *partial);
    void *batch_ud;
} llfc_metrics_opts;

void llfc_metrics_opts_init(llfc_metrics_opts *o);
/* Sort ascending and drop duplicates in place; -1 (with a message) if a value
 * is NaN or outside [0, 1].  Returns the new count in *n. */
int llfc_metrics_check_alphas(double *alphas, int *n, const char *what);
/* Run the asked-for metrics in one pass.  NULL + message on failure
 * (mismatched networks, input width vs dataset dim, empty dataset, bad
 * alphas or layers, labels out of range, interrupted). */
llfc_report *llfc_metrics_run(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                              const llfc_metrics_opts *o);
/* Recompute the derived fields (means, stds, barriers, distances) from the sums. */
void llfc_report_finalize(llfc_report *r);
void llfc_report_free(llfc_report *r);

/* Dist(X, Y) = |X - Y|_F^2 / (|X|_F |Y|_F) from the three squared norms
 * (0 when the numerator is 0, NaN when a norm is 0 and the numerator is not). */
double llfc_metrics_dist(double diff2, double x2, double y2);

#endif
