/* perm.h - permutations of a network's hidden units, and how to find them.
 *
 * A Perm holds, for each group of a permutation spec (see permspec.h), a
 * permutation of the group's units.  Convention (as torch.index_select):
 * applying p to a network gives the network whose unit i of group g is unit
 * p->idx[g][i] of the original, on every parameter axis the spec assigns to
 * g.  So for W' = p(W) of an MLP layer, W'[i, k] = W[p1[i], p0[k]].
 *
 * Composition: llfc_perm_compose(p, q) is r with r(net) = p(q(net)) (q first,
 * as for functions p o q); r->idx[g][i] = q->idx[g][p->idx[g][i]].
 *
 * Matching (match.c) returns the p that aligns network b to network a:
 * p(b) is close to a.
 */
#ifndef LLFC_PERM_H
#define LLFC_PERM_H

#include "data/data.h"
#include "nn/nn.h"

typedef struct llfc_perm {
    llfc_permspec *spec;  /* own copy: group names and sizes */
    int64_t **idx;        /* idx[g][0 .. gsize[g]) */
} llfc_perm;

llfc_perm *llfc_perm_identity(const llfc_permspec *spec);
/* Uniformly random permutations (Fisher-Yates per group, groups in order). */
llfc_perm *llfc_perm_random(const llfc_permspec *spec, uint64_t seed);
llfc_perm *llfc_perm_clone(const llfc_perm *p);
void llfc_perm_free(llfc_perm *p);
/* Replace group g's permutation by idx[0..gsize) (0-based); -1 with a
 * message if it is not a bijection of 0..gsize-1. */
int llfc_perm_set(llfc_perm *p, int g, const int64_t *idx);
/* 0 if p fits the spec (same groups, same sizes), else -1 with a message. */
int llfc_perm_fits(const llfc_perm *p, const llfc_permspec *spec);
int llfc_perm_is_identity(const llfc_perm *p);
int llfc_perm_equal(const llfc_perm *p, const llfc_perm *q);

llfc_perm *llfc_perm_inverse(const llfc_perm *p);
llfc_perm *llfc_perm_compose(const llfc_perm *p, const llfc_perm *q);
/* A new network p(net). */
llfc_net *llfc_perm_apply(const llfc_perm *p, const llfc_net *net);

/* dst = src with axis d gathered by axisperm[d] (NULL = unchanged):
 * dst[.., i_d, ..] = src[.., axisperm[d][i_d], ..].  src contiguous; dst a
 * contiguous tensor of the same shape, not aliasing src. */
void llfc_perm_gather(const llfc_tensor *src, llfc_tensor *dst, const int64_t *const *axisperm);

/* Largest |f(x) - f_p(x)| over the outputs of net and p(net) on x [n, in]. */
int llfc_perm_check(const llfc_net *net, const llfc_perm *p, const float *x, int64_t n, double *maxdiff);

/* ---- matching (match.c) ------------------------------------------------ */
typedef struct {
    int max_iter;          /* weight matching sweeps (default 100) */
    uint64_t seed;         /* group order */
    const llfc_perm *init; /* starting point or NULL (identity) */
    llfc_progress_fn progress; /* called after each sweep / batch; may be NULL */
    void *progress_ud;
} llfc_wm_opts;

typedef struct {
    int iterations;        /* completed sweeps */
    double *objective;     /* [iterations]: sum_p <W_A, p(W_B)> after each sweep (malloc'd) */
    double seconds;
    int interrupted;       /* Ctrl-C: stopped after a whole group; p is the one so far */
} llfc_wm_stats;

/* The permutation p maximising sum over parameters of <W_A, p(W_B)>, by
 * coordinate descent over groups (Ainsworth et al., Git Re-Basin).  On an
 * interrupt (llfc_interrupted(), left set for the caller to clear) it stops
 * after the current group and returns the permutation so far with
 * stats->interrupted = 1; a progress callback asking to stop fails. */
llfc_perm *llfc_weight_match(const llfc_net *a, const llfc_net *b, const llfc_wm_opts *opts,
                             llfc_wm_stats *stats);

enum { LLFC_AM_INNER = 0, LLFC_AM_CORR = 1 };
typedef struct {
    int method;            /* LLFC_AM_INNER or LLFC_AM_CORR */
    int64_t batch;         /* samples per forward pass (default 500) */
    llfc_progress_fn progress;
    void *progress_ud;
} llfc_am_opts;

typedef struct {
    double seconds;
    int64_t n;             /* samples used (fewer than asked when interrupted) */
    int interrupted;
    int nidentity;         /* groups without a feature layer, kept identity */
} llfc_am_stats;

/* One assignment per group on the cross inner product / Pearson correlation
 * of the post-activation features of a and b over x [n, in] (a conv map of
 * C channels: over every sample and position, the [n*H*W, C] view; a group
 * whose gfeat is -1 keeps the identity).  opts->batch < 1: 500 samples, fewer
 * for conv nets (memory near 128 MB).  On an interrupt
 * (flag left set for the caller) after at least one whole batch it matches on
 * the batches done and sets stats->interrupted = 1; stats may be NULL. */
llfc_perm *llfc_activation_match(const llfc_net *a, const llfc_net *b, const float *x, int64_t n,
                                 const llfc_am_opts *opts, llfc_am_stats *stats);

/* ---- pieces the matchers share (match.c, ste.c) ------------------------- */
/* 0 if b can be matched to a (same layout, a spec, contiguous parameters),
 * else -1 with a message naming the difference. */
int llfc_match_check_pair(const llfc_net *a, const llfc_net *b);
/* The cost term of weight matching: C[n, n] += moveaxis(A, d, 0) @
 * moveaxis(B, d, 0)^T for two tensors of the shape of `shape` (contiguous
 * data A and B; n = shape->size[d]); scratch holds 2 * numel floats.
 * C[i, j] is the inner product of unit i of A with unit j of B over the
 * other axes. */
void llfc_axis_gram(const llfc_tensor *shape, int d, const float *A, const float *B, float *C, float *scratch);
/* One Adam step (Kingma & Ba: beta1 0.9, beta2 0.999, eps 1e-8, bias
 * corrected) at 1-based step t on w[n] with gradient g; m and v are the
 * moment buffers, zero before step 1. */
void llfc_adam_step(double *w, const double *g, double *m, double *v, int64_t n, double lr, int64_t t);
/* Training-mode loss of theta = alpha*a + (1-alpha)*t on a batch x [n, in],
 * labels y: theta is lerped into tnet (a net of the same layout), run
 * through llfc_net_forward_train with the workspace w (made for tnet, at
 * least n samples), and grad[p] (laid out like param p; NULL entries
 * skipped) receives the gradient of the mean cross-entropy with respect to
 * every trainable tensor of theta; *loss the mean loss. */
int llfc_midpoint_grad(llfc_net *tnet, llfc_nn_work *w, const llfc_net *a, const llfc_net *t, double alpha,
                       const float *x, const int32_t *y, int64_t n, float **grad, double *loss);

/* Where a search starts: the identity, weight matching, activation matching
 * or a given Perm. */
enum { LLFC_FROM_IDENTITY = 0, LLFC_FROM_WEIGHT = 1, LLFC_FROM_ACTIVATION = 2, LLFC_FROM_PERM = 3 };

/* ---- straight-through estimator (ste.c) -----------------------------------
 * Git Re-Basin's STE matching (Ainsworth et al. 2023): free weights F (all
 * trainable tensors, in a's unit order); each step projects F to the
 * nearest permutation of b by weight matching, P = argmax_P <F, P(b)>
 * (warm-started from the last projection), takes the mean cross-entropy of
 * theta = alpha*a + (1-alpha)*P(b) on a training batch (BatchNorm in
 * training mode) and moves F by Adam with the gradient passed straight
 * through the projection: dL/dF = (1-alpha) dL/dtheta.  The answer is the
 * projection of the final F. */
typedef struct {
    int epochs;            /* passes over the data when steps is 0 (default 1) */
    int64_t steps;         /* optimisation steps; 0: epochs * ceil(n / batch) */
    double lr;             /* Adam learning rate (default 1e-3) */
    int64_t batch;         /* samples per step (default 500) */
    uint64_t seed;         /* data order; the projections' group order */
    double alpha;          /* in [0, 1) (default 0.5) */
    int from;              /* F starts as a (LLFC_FROM_WEIGHT: the first projection is weight
                            * matching), b (LLFC_FROM_IDENTITY) or init(b) (LLFC_FROM_PERM) */
    const llfc_perm *init;
    int max_iter;          /* sweeps of each projection (default 100) */
    llfc_progress_fn progress; /* after every step (done = steps); may be NULL */
    void *progress_ud;
} llfc_ste_opts;

typedef struct {
    int64_t steps;         /* completed steps */
    int nloss;
    double *loss;          /* [nloss] mean midpoint loss over each epoch's steps (malloc'd) */
    int64_t changes;       /* steps whose projection differed from the one before */
    double seconds;
    int interrupted;       /* Ctrl-C: the last whole step's projection is returned */
} llfc_ste_stats;

/* The Perm aligning b to a (p(b) ~ a) from the labelled samples of ds.  On
 * an interrupt (flag left set for the caller) after at least one step it
 * returns the projection of the last step with stats->interrupted = 1. */
llfc_perm *llfc_ste_match(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds, const llfc_ste_opts *opts,
                          llfc_ste_stats *stats);
/* STE's gradient at a fixed projection pb = P(b): grad[p] = (1-alpha)
 * dL/dtheta_p at theta = alpha*a + (1-alpha)*pb on x [n, in], y; *loss the
 * mean loss (BatchNorm in training mode). */
int llfc_ste_grad(const llfc_net *a, const llfc_net *pb, double alpha, const float *x, const int32_t *y, int64_t n,
                  float **grad, double *loss);

/* ---- Sinkhorn matching (sinkhorn.c) ------------------------------------------
 * Soft matching (Pena et al., CVPR 2023): each group g of n units gets free
 * logits M_g [n, n] and the doubly stochastic S_g = sinkhorn(M_g / tau): T
 * rounds, in the log domain, of subtracting every row's log-sum-exp, then
 * every column's, and S = exp of the result.  S acts like a permutation
 * matrix: S(W) multiplies every parameter axis in group g by S_g
 * (W'[i, ..] = sum_j S_g[i, j] W[j, ..]; a permutation p has S[i, p[i]] = 1),
 * and the logits follow Adam on the gradient through the T unrolled rounds
 * of one of two objectives:
 *   weight: sum over parameters with a group axis of |a_k - S(b_k)|^2;
 *   loss:   the mean cross-entropy of alpha*a + (1-alpha)*S(b) on a batch
 *           (BatchNorm in training mode).
 * The answer projects each S_g to the permutation maximising sum_i S[i, p[i]]
 * (the assignment solver). */
enum { LLFC_SK_WEIGHT = 0, LLFC_SK_LOSS = 1 };

/* S [n, n] = sinkhorn(M / tau) with iters rounds (M, S double, row-major). */
int llfc_sinkhorn(const double *M, int64_t n, double tau, int iters, double *S);
/* dM [n, n] = the gradient of sum_ij dS[i, j] * S[i, j] with respect to M,
 * through the same iters rounds. */
int llfc_sinkhorn_backward(const double *M, int64_t n, double tau, int iters, const double *dS, double *dM);
/* The objective at logits M[g] (one [n_g, n_g] array per group) and, when
 * dM is not NULL, its gradient dM[g].  The loss objective needs x [n, in],
 * y, n >= 1 (one batch); the weight objective ignores them. */
int llfc_sinkhorn_objective(const llfc_net *a, const llfc_net *b, const double *const *M, double tau, int iters,
                            int objective, double alpha, const float *x, const int32_t *y, int64_t n,
                            double *value, double **dM);

typedef struct {
    int objective;         /* LLFC_SK_WEIGHT (default) or LLFC_SK_LOSS */
    double tau;            /* temperature (default 1) */
    double tau_end;        /* > 0: tau moves geometrically to tau_end over the steps; 0: fixed */
    int iters;             /* Sinkhorn rounds (default 20) */
    int64_t steps;         /* 0: weight 200; loss epochs * ceil(n / batch) */
    int epochs;            /* loss objective (default 1) */
    double lr;             /* Adam on the logits (default 0.1) */
    int64_t batch;         /* loss objective (default 500) */
    uint64_t seed;         /* data order */
    double alpha;          /* loss objective, in [0, 1) (default 0.5) */
    int from;              /* LLFC_FROM_IDENTITY: M = I (default); LLFC_FROM_WEIGHT / LLFC_FROM_PERM:
                            * M = log(n - 1) on the permutation's entries, 0 elsewhere (S = 1/2 there) */
    const llfc_perm *init;
    llfc_progress_fn progress; /* after every step; may be NULL */
    void *progress_ud;
} llfc_sinkhorn_opts;

typedef struct {
    int64_t steps;
    double *objective;     /* [steps] the objective at each step, before its update (malloc'd) */
    double tau;            /* the temperature at the end */
    double ds_error;       /* largest |row or column sum - 1| of the final S_g */
    double seconds;
    int interrupted;       /* Ctrl-C: stopped after a whole step */
} llfc_sinkhorn_stats;

/* ds is needed by the loss objective only (NULL otherwise).  soft, if not
 * NULL, is an array of ngroups pointers that receive the final S_g as new
 * [n_g, n_g] tensors (rows: units of a, columns: units of b). */
llfc_perm *llfc_sinkhorn_match(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                               const llfc_sinkhorn_opts *opts, llfc_sinkhorn_stats *stats, llfc_tensor **soft);

/* ---- commutativity matching (comm_match.c) -----------------------------------
 * Minimises over the permutations of b's hidden units, jointly,
 *
 *     J = sum over weight ops l of |(W_A^l - W_B'^l) (H_A^l - H_B'^l)|_F^2
 *
 * with B' = p(b), H^l the input of op l over the n samples (eval mode; the
 * product a convolution for conv ops; biases excluded): the sum over layers
 * of the numerator of metrics' Dist_com.  An op reading the network input
 * adds 0 (H_A = H_B).  For one group g with the others fixed, the terms of
 * the ops whose outputs g permutes are linear in g's permutation Q
 * (|X - Q Y|^2 with ||QY|| fixed), those whose inputs g permutes are
 * quadratic: D(Q) = W_A H_A + W_B' H_B' - W_A (Q H_B') - (W_B' Q^T) H_A,
 * exact on permutations.  Each group step minimises the linearisation
 *     C[i, j] = -2 <X_i, Y_j>  (outputs)  - 2 (<R_A[i], H_B'[j]> + <H_A[i], R_B[j]>)  (inputs)
 * (R = W^T D the adjoint of each weight applied to the current residual)
 * by one assignment; the step is taken only if J decreases, else the
 * largest subset of its cycles (by predicted gain: all, half, ..., one) that
 * decreases J.  Groups are swept in a seeded random order until a sweep
 * improves none (or max_iter sweeps).  A final search over swaps of two
 * units within a group computes every swap's exact change of J (the linear
 * part from C, the quadratic part from Gram matrices of the ops' kernels and
 * input patches) and takes improving swaps until none lowers J (a group
 * whose Gram would pass 512 MB is left out and counted). */
enum { LLFC_COMM_OUT = 1, LLFC_COMM_IN = 2 };

typedef struct {
    int max_iter;          /* sweeps (default 100) */
    uint64_t seed;         /* group order (also of weight matching for the start) */
    int from;              /* LLFC_FROM_WEIGHT (default), _ACTIVATION, _IDENTITY, _PERM */
    const llfc_perm *init;
    int no_swaps;          /* skip the final swap search */
    int64_t nmax;          /* samples used: 0 = up to 2000, fewer when the kept features of
                            * both networks would pass 512 MB */
    int64_t batch;         /* samples per pass (0: sized to memory) */
    llfc_progress_fn progress; /* after every group step; may be NULL */
    void *progress_ud;
} llfc_comm_opts;

typedef struct {
    int64_t n;             /* samples used */
    int iterations;        /* whole sweeps */
    double *J;             /* [iterations] J after each sweep (malloc'd) */
    double J_init;         /* J of the starting permutation */
    double J_final;        /* J of the answer (after the swap search) */
    int64_t swaps;         /* swaps taken by the final search */
    int swap_skipped;      /* groups the search left out: an input-side op's patch Gram
                            * (2 C R^2 on a side) would pass 8192 (512 MB) */
    int full, partial, rejected; /* group steps: the whole assignment taken, a subset, none */
    double seconds;
    int interrupted;       /* Ctrl-C: stopped between group steps; p is the one so far */
} llfc_comm_stats;

/* The Perm aligning b to a on x [n, in] (see above); stats may not be NULL. */
llfc_perm *llfc_comm_match(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, const llfc_comm_opts *opts,
                           llfc_comm_stats *stats);
/* J of p(b) against a on x [n, in]; terms (may be NULL) receives each
 * weight op's term, in op order (one entry per op of net->ops, 0 for ops
 * without a weight or reading the input). */
int llfc_comm_objective(const llfc_net *a, const llfc_net *b, const llfc_perm *p, const float *x, int64_t n,
                        double *J, double *terms);
/* The cost group g's step uses at p: C [n_g, n_g], C[i, j] for taking unit
 * j of p(b)'s group g to position i (the step's Q: p becomes
 * llfc_perm_compose(q, p)); parts: LLFC_COMM_OUT (the exact output-side
 * terms), LLFC_COMM_IN (the linearised input-side terms) or both. */
int llfc_comm_group_cost(const llfc_net *a, const llfc_net *b, const llfc_perm *p, const float *x, int64_t n, int g,
                         int parts, double *C);

/* ---- Perm files (permfile.c) ------------------------------------------------
 * safetensors with one I64 tensor per group, named by the group, holding its
 * 0-based index array (as torch.index_select takes it), groups in order,
 * __metadata__ {"format": "llfc.perm"}; written atomically.  Loading checks
 * every array like llfc_perm_set; with a spec, the groups must be the
 * spec's (an unknown name or a wrong size is an error, a group left out is
 * the identity); without one, the file's groups make the Perm's spec. */
int llfc_perm_save(const llfc_perm *p, const char *path);
llfc_perm *llfc_perm_load(const char *path, const llfc_permspec *spec);

#endif
