/* align.h - aligning N networks of one layout into a shared frame.
 *
 * Each network i gets one Perm p_i (perm.h); p_i(net_i) are the networks in
 * the shared frame and the map from network i to network j is
 * p_j^-1 o p_i (compose(inverse(p_j), p_i)), so the maps are
 * cycle-consistent by construction: i -> j -> k equals i -> k.
 *
 * The objective of both methods is Git Re-Basin's weight-matching objective
 * summed over pairs: sum_{i<j} sum_k <p_i(W_i,k), p_j(W_j,k)> over every
 * parameter tensor k (the spec says which axes a group permutes).  Both start
 * from the weight matching of every network to the first (p_1 = identity),
 * or from the identity.
 *
 *   LLFC_ALIGN_AVERAGE   weight matching of each network to the average of
 *                        the others in the frame (Git Re-Basin's MergeMany):
 *                        rounds over the networks in a seeded random order,
 *                        each solved by llfc_weight_match started from its
 *                        current Perm, until a round changes nothing.  The
 *                        Perms are returned in the frame of the first network
 *                        (p_1 is the identity).
 *   LLFC_ALIGN_UNIVERSE  one soft permutation per network and group into a
 *                        universe frame, all optimised jointly by Frank-Wolfe
 *                        over doubly stochastic matrices (Crisostomi et al.
 *                        2024, C2M3): the gradient of the relaxed objective
 *                        at every network's matrices, its best permutation
 *                        (an assignment per group), an exact line search on
 *                        the segment (the objective is a polynomial in the
 *                        step), until a step gains nothing; then each matrix
 *                        is projected on its nearest permutation (an
 *                        assignment).  The Perms map into the universe frame.
 */
#ifndef LLFC_ALIGN_H
#define LLFC_ALIGN_H

#include "perm/perm.h"

enum { LLFC_ALIGN_AVERAGE = 0, LLFC_ALIGN_UNIVERSE = 1 };

typedef struct {
    int method;            /* LLFC_ALIGN_* */
    int max_iter;          /* rounds (average) or Frank-Wolfe steps (universe); < 1: 100 */
    int wm_iter;           /* weight matching sweeps per solve (average); < 1: 100 */
    uint64_t seed;         /* order of networks and groups */
    int from_identity;     /* start from the identity instead of matching every network to the first */
    llfc_progress_fn progress; /* after each round / step; may be NULL */
    void *progress_ud;
} llfc_align_opts;

typedef struct {
    int iterations;        /* completed rounds / steps */
    double start;          /* objective of the start */
    double *objective;     /* [iterations] after each (malloc'd); universe: of the soft matrices */
    double final;          /* objective of the Perms returned */
    int frame;             /* 0: the first network's frame, 1: the universe frame */
    double seconds;
    int interrupted;       /* Ctrl-C: stopped early with the Perms so far (flag left set) */
} llfc_align_stats;

/* Align nets[0..N) (N >= 2, one layout with a permutation spec): perms[i]
 * receives network i's Perm (free them with llfc_perm_free).  0, or -1 with
 * a message (perms then all NULL); a progress callback asking to stop
 * fails with "interrupted". */
int llfc_align_many(const llfc_net *const *nets, int N, const llfc_align_opts *o, llfc_perm **perms,
                    llfc_align_stats *st);

/* The objective sum_{i<j} sum_k <p_i(W_i,k), p_j(W_j,k)> in double (perms
 * may be NULL: the identity). */
int llfc_align_objective(const llfc_net *const *nets, int N, llfc_perm *const *perms, double *obj);

#endif
