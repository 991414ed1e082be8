/* subspace.h - principal angles between the feature subspaces of two
 * networks (the LLFC authors' companion analysis).
 *
 * For a feature layer, F_A and F_B are the n x d feature matrices of two
 * networks on the same n samples (a conv map flattened per sample, NCHW).
 * Their top-k principal subspaces in sample space are the spans of their
 * top-k left singular vectors U_A, U_B [n, k]; the principal angles
 * theta_1 <= ... <= theta_k between them have cos theta_i = sigma_i(U_A^T U_B)
 * (Bjorck and Golub).  U depends on F only through F F^T, so the angles do
 * not change when the units (columns) are permuted, or mixed by any
 * orthogonal map: two networks that differ by a permutation have angles 0.
 *
 * Computation: F in float from the executor, its Gram matrix by llfc_gemm
 * (F^T F [d, d] when d <= n, else F F^T [n, n]), converted to double and
 * decomposed with LAPACK's dgesdd (OpenBLAS); with F^T F = V S^2 V^T the
 * vectors are U = F V S^-1 (in double).  U_A^T U_B is decomposed with dgesdd
 * too.  The features of every layer are kept for all n samples of a pass,
 * so layers are measured in groups that fit in about 256 MB.
 */
#ifndef LLFC_SUBSPACE_H
#define LLFC_SUBSPACE_H

#include "nn/nn.h"

/* U [n, k] row-major (double) = the top-k left singular vectors of F [n, d]
 * (float, row-major), sv[k] their singular values, descending.  Fails when
 * k > min(n, d). */
int llfc_top_left_singular(const float *F, int64_t n, int64_t d, int k, double *U, double *sv);
/* cos[k] = the singular values of UA^T UB (UA, UB [n, k] with orthonormal
 * columns), descending, clamped to [0, 1]. */
int llfc_subspace_cosines(const double *UA, const double *UB, int64_t n, int k, double *cos);

typedef struct {
    int k;                 /* subspace dimension (< 1: 10), at most min(n, d) of each layer */
    const int *layers;     /* feature layers (0-based); NULL: all */
    int nlayers;
    int features;          /* 0 post-activations, 1 pre-activations */
    int64_t batch;         /* forward batch (< 1: 500) */
    llfc_progress_fn progress; /* after each layer; non-zero: fail "interrupted" */
    void *progress_ud;
} llfc_pa_opts;

typedef struct {
    int feat;              /* feature layer */
    int64_t dim;           /* d */
    int k;                 /* its subspace dimension: k, less when a network's features have rank below it */
    double cos[64];        /* cos theta_i, descending (theta ascending) */
    double sv_a[64], sv_b[64]; /* the singular values of the two subspaces */
} llfc_pa_layer;

/* The principal angles of every asked-for feature layer of a and b (one
 * layout) on x [n, in]: out[i] for layer i of the list (nout of them;
 * malloc'd).  k is capped at 64.  Ctrl-C fails with "interrupted". */
int llfc_principal_angles(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, const llfc_pa_opts *o,
                          llfc_pa_layer **out, int *nout);

#endif
