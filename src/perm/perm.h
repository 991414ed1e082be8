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

/* The cost term of weight matching: C[n, n] += moveaxis(A, d, 0) @
 * moveaxis(B, d, 0)^T for two tensors of the shape of `shape` (contiguous
 * data A and B; n = shape->size[d]); scratch holds 2 * numel floats.
 * C[i, j] is the inner product of unit i of A with unit j of B over the
 * other axes. */
void llfc_axis_gram(const llfc_tensor *shape, int d, const float *A, const float *B, float *C, float *scratch);

#endif
