/* curve.h - curves between two networks (Garipov et al. 2018, "Loss
 * Surfaces, Mode Connectivity, and Fast Ensembling of DNNs").
 *
 * Nodes theta_0 = b, theta_1 .. theta_K (the bends), theta_{K+1} = a of one
 * layout; the point at t in [0, 1] is theta(t) = sum_k w_k(t) theta_k, so
 * that, as alpha on the straight line, theta(1) = a and theta(0) = b:
 *   bezier     w_k(t) = C(K+1, k) t^k (1 - t)^(K+1-k), the Bernstein
 *              polynomials of degree K + 1 (one bend: a quadratic Bezier
 *              curve (1-t)^2 b + 2t(1-t) theta_1 + t^2 a);
 *   polychain  the nodes at t_k = k/(K+1), joined by straight segments
 *              (hat functions: on [t_k, t_{k+1}] only w_k and w_{k+1} are
 *              non-zero).
 * At t = 0 and 1 the weights are exactly one-hot, so the endpoints are
 * exactly b and a.  A new curve has its bends on the straight line
 * (theta_k = lerp at t_k = k/(K+1)), which for both kinds is the straight
 * line itself (the Bernstein polynomials reproduce t).
 *
 * Training: llfc_curve_attach gives a trainer (train.h) hooks that, for
 * every batch, draw t uniformly in [0, 1), write theta(t) into the trainer's
 * network (the batch runs there) and update every bend's trainable tensors
 * with the gradient w_k(t) dL/dtheta(t) by the trainer's SGD rule, schedule
 * and momentum (a buffer per bend); the endpoints and the bends' buffers
 * (BatchNorm statistics) stay as they are.
 *
 * A curve is reference counted: the trainer it is attached to holds one.
 */
#ifndef LLFC_CURVE_H
#define LLFC_CURVE_H

#include "nn/nn.h"
#include "nn/train.h"

enum { LLFC_CURVE_BEZIER = 0, LLFC_CURVE_POLYCHAIN = 1 };

typedef struct llfc_curve {
    int kind;                /* LLFC_CURVE_* */
    int nbends, nnodes;      /* nnodes = nbends + 2 */
    llfc_net **node;         /* node[0] = b (t = 0), node[nnodes - 1] = a (t = 1) */
    int refs;
    /* training (llfc_curve_attach) */
    llfc_train_opts opts;    /* the trainer's SGD rule */
    float ***buf;            /* [nbends][nparams] momentum buffers (NULL for buffers) */
    float *scaled;           /* scratch: w_k(t) * gradient of one tensor */
    llfc_rng rng;            /* the draws of t */
    double t_last;           /* the t of the last batch */
    int64_t steps;           /* updates made */
} llfc_curve;

/* A curve from b (t = 0) to a (t = 1) with nbends >= 1 bends on the
 * straight line; kind LLFC_CURVE_*.  The curve holds copies of a and b. */
llfc_curve *llfc_curve_new(const llfc_net *a, const llfc_net *b, int kind, int nbends);
void llfc_curve_retain(llfc_curve *c);
void llfc_curve_release(llfc_curve *c);   /* frees the curve at the last reference */
/* The kind as a word ("bezier", "polychain") and back (-1 if unknown). */
const char *llfc_curve_kind_name(int kind);
int llfc_curve_kind_from_name(const char *name);

/* w[0 .. nnodes) = the weights of the nodes at t (t outside [0, 1] is an
 * error). */
int llfc_curve_weights(const llfc_curve *c, double t, double *w);
/* theta(t) into out (a network of the layout), and as a new network. */
int llfc_curve_at_into(const llfc_curve *c, double t, llfc_net *out);
llfc_net *llfc_curve_at(const llfc_curve *c, double t);

/* Train the bends through trainer tr (see above): tr's network must have
 * the curve's layout (it becomes the point of each batch); t is drawn from
 * a generator seeded with seed.  The trainer holds a reference. */
int llfc_curve_attach(llfc_curve *c, llfc_trainer *tr, uint64_t seed);
/* The gradient of the mean loss of x [n, in], labels y, at theta(t) with
 * respect to bend k's tensors (1 <= k <= nbends): w_k(t) dL/dtheta(t), into
 * grad[p] (like the network's param[p]; NULL entries skipped, buffers not
 * written).  The loss runs as training does (BatchNorm in training mode);
 * *loss receives it. */
int llfc_curve_grad(const llfc_curve *c, double t, const float *x, const int32_t *y, int64_t n, int k, float **grad,
                    double *loss);

/* Curve files: safetensors with every node's tensors under "b.", "bend1.",
 * ..., "a." and __metadata__ {curve = kind, bends = K, config = the
 * network's config}; written atomically.  llfc_curve_file says whether a
 * file's metadata names a curve (1), not (0), or it cannot be read (-1). */
int llfc_curve_save(const llfc_curve *c, const char *path);
llfc_curve *llfc_curve_load(const char *path);
int llfc_curve_file(const char *path);

#endif
