/* span.h - metrics at points of the span of K networks (the nodes).
 *
 * A point is a network theta: a combination sum_k w[k] theta_k of the nodes
 * (combine.h: the average of N models, a point of the plane through three,
 * a point of a curve between two) or a network given as it is (a merge
 * after REPAIR).  For each point one pass over a dataset in batches gives its
 * error rate and mean cross-entropy and, when asked, for each feature layer
 * l the LLFC of the point against a mix of the nodes' features: with
 * f = f_l(theta; x) and mix = sum_k v[k] f_l(theta_k; x) (v = w unless given),
 * E[1 - cos(f, mix)] and the scale coefficient c = <f, mix>/|f|^2, means and
 * population stds over samples; a sample where f or mix is exactly zero is
 * skipped and counted.  For two nodes and v = (alpha, 1 - alpha) this is
 * metrics.h's LLFC; for a curve v are its Bernstein weights at t.
 *
 * Points are evaluated one after the other, so a live view fills in as they
 * come.  The nodes' features are computed again for every point that
 * measures LLFC (a node whose v[k] is 0 is not run): that point costs one
 * forward pass more per such node.  Combined points can have their
 * BatchNorm statistics re-estimated (llfc_net_reset_bn) before they are
 * evaluated; given networks are evaluated as they are.
 */
#ifndef LLFC_SPAN_H
#define LLFC_SPAN_H

#include "data/data.h"
#include "nn/nn.h"

typedef struct {
    const double *w;       /* [K]: theta = sum_k w[k] nodes[k]; NULL when net is given */
    const llfc_net *net;   /* the point as it is, or NULL */
    const double *v;       /* [K]: the mix of the nodes' features for LLFC (NULL: w) */
    int llfc;              /* measure LLFC at this point */
} llfc_span_point;

typedef struct {
    int64_t n;             /* samples */
    double err, loss;      /* error rate (a fraction), mean cross-entropy */
    int nlayer;            /* LLFC layers (0 when not measured) */
    double *mean, *std;    /* [nlayer] 1 - cos(f, mix) */
    double *coef_mean, *coef_std;
    int64_t *skipped;
} llfc_span_value;

typedef struct {
    const int *layers;     /* feature layers (0-based) for LLFC; NULL: all */
    int nlayers;
    int features;          /* LLFC_FEAT_POST (0) or LLFC_FEAT_PRE (1), as metrics.h */
    int64_t batch;         /* 0: 1000, fewer when the kept values would pass about 128 MB */
    const float *bn_x;     /* re-estimate the BatchNorm statistics of combined points on bn_x [bn_n, in] */
    int64_t bn_n, bn_batch;
    llfc_progress_fn progress; /* after each point (done = points); non-zero: fail "interrupted" */
    void *progress_ud;
    int (*on_point)(void *ud, int p, const llfc_span_value *v); /* after each point; non-zero stops */
    void *point_ud;
} llfc_span_opts;

/* Evaluate pts[0..np) on ds into vals[0..np) (zeroed by the call; free
 * them with llfc_span_values_free).  Returns the number of points evaluated:
 * np, or fewer when on_point asked to stop or Ctrl-C came (between batches:
 * the point under way is dropped and llfc_interrupted() stays set); -1 with
 * a message on bad input (nodes of two layouts, a dataset of another input
 * size, labels out of range, bad layers, weights missing). */
int llfc_span_eval(const llfc_net *const *nodes, int K, const llfc_span_point *pts, int np, const llfc_dataset *ds,
                   const llfc_span_opts *o, llfc_span_value *vals);
void llfc_span_values_free(llfc_span_value *vals, int np);

#endif
