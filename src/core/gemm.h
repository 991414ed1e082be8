/* gemm.h - the one BLAS shim, its two backends, and the loading of oneDNN.
 *
 * Every matrix product in llfc goes through llfc_gemm, which calls one of two
 * libraries, the same one for every call of the process:
 *   openblas  OpenBLAS's cblas_sgemm (linked);
 *   dnnl      oneDNN's dnnl_sgemm (libdnnl, opened with dlopen on first use;
 *             the convolutions of src/nn/kernels/conv_dnnl.c share the
 *             loading below).
 * The automatic choice is a rule on the CPU and the libraries, so it is the
 * same on every run of a machine and build (llfc_gemm_rule):  OpenBLAS,
 * unless the kernel family OpenBLAS picked for this CPU uses a narrower vector
 * unit than the CPU has (OpenBLAS 0.3.21 takes CPUs it does not know for a
 * Prescott and runs SSE3 kernels on AVX-512 machines) and oneDNN's kernels,
 * JIT-compiled for the CPU it finds, use a wider one.  OPENBLAS_CORETYPE, when
 * set, is the user's choice of OpenBLAS kernels: llfc never changes it, and
 * the rule then keeps OpenBLAS.  Either library can be forced: the
 * environment variable LLFC_BLAS (auto, openblas or dnnl) or
 * llfc_gemm_set_backend.
 *
 * On one backend with one thread count a product gives the same bits on every
 * run; the two backends round differently (they agree to float precision).
 * oneDNN runs products of at most LLFC_GEMM_SERIAL_MNK multiply-adds
 * (M*N*K) on the calling thread: waking its OpenMP threads costs more than
 * such a product (docs/BENCH.md, "GEMM backends").
 */
#ifndef LLFC_GEMM_H
#define LLFC_GEMM_H

#include <stddef.h>

/* Row-major C = alpha * op(A) @ op(B) + beta * C, with op(X) = X or X^T.
 * op(A) is M x K, op(B) is K x N, C is M x N; lda, ldb, ldc are the row
 * strides of A, B and C as stored.  beta = 0 overwrites C (NaNs in C do not
 * propagate). */
void llfc_gemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta,
               float *C, int ldc);

enum { LLFC_GEMM_AUTO = 0, LLFC_GEMM_OPENBLAS = 1, LLFC_GEMM_DNNL = 2 };
#define LLFC_GEMM_SERIAL_MNK (1L << 20)

/* "auto", "openblas", "dnnl" -> LLFC_GEMM_*; -1 + "unknown BLAS backend 'x'
 * (expected auto, openblas or dnnl)". */
int llfc_gemm_parse(const char *name);
const char *llfc_gemm_name(int backend);
/* Use `backend` from now on (LLFC_GEMM_AUTO: the rule).  -1 + message, and no
 * change, when oneDNN is asked for and cannot be used. */
int llfc_gemm_set_backend(int backend);
/* Apply LLFC_BLAS from the environment (llfc's Lua module calls it when it
 * opens).  Unset or empty: nothing.  -1 + message for an unknown name or an
 * unusable oneDNN; the automatic choice then stays. */
int llfc_gemm_init_env(void);
/* The backend in use, LLFC_GEMM_OPENBLAS or LLFC_GEMM_DNNL (the first call
 * makes the automatic choice, loading oneDNN when the rule needs to know its
 * instruction set). */
int llfc_gemm_backend(void);
/* What computes the products, to record beside results:
 * "OpenBLAS 0.3.21 (Zen kernels, 2 threads)", "oneDNN 2.6.3 (avx2, 2 threads)". */
const char *llfc_gemm_describe(void);
/* Why: "LLFC_BLAS=dnnl", "set by the program", or the rule's reasoning, e.g.
 * "auto: OpenBLAS's Zen kernels use the CPU's widest vector unit (avx2)". */
const char *llfc_gemm_reason(void);
/* The automatic choice, as a function of its inputs (so that it can be
 * checked for other CPUs): cpu = llfc_cpu_isa(), core = OpenBLAS's kernel
 * family, coretype = OPENBLAS_CORETYPE (NULL or "" when unset: when set, the
 * user chose OpenBLAS's kernels and they are kept); dnnl_isa is called only
 * when the choice depends on oneDNN and returns its instruction set ("avx2",
 * "avx512_core", ...), or NULL with *err saying why it is not available.
 * Returns LLFC_GEMM_OPENBLAS or LLFC_GEMM_DNNL, the reasoning in why. */
int llfc_gemm_rule(const char *cpu, const char *core, const char *coretype,
                   const char *(*dnnl_isa)(void *ud, const char **err), void *ud, char *why, size_t n);
/* The instruction set of the backend's kernels: "avx2", "avx512_core", "sse3", ... */
const char *llfc_gemm_isa(void);
/* The CPU's widest vector unit as llfc detects it: "avx512" (F, BW, DQ, VL,
 * enabled by the OS), "avx2" (with FMA), "avx", "sse", or "unknown" (not x86). */
const char *llfc_cpu_isa(void);

/* GFLOP/s of C[M,N] = A[M,K] @ op(B) (B stored [N,K] when transB) through
 * llfc_gemm with the current backend and threads: one warm-up call, then
 * calls for about `seconds`, the best call counts.  -1 + message when memory
 * is short. */
double llfc_gemm_rate(int M, int N, int K, int transB, double seconds);

/* Threads of both libraries: OpenBLAS's and oneDNN's (OpenMP) thread counts
 * become n (n <= 0: no change).  get: the count of the backend in use. */
void llfc_blas_set_threads(int n);
int llfc_blas_get_threads(void);
/* OpenBLAS's kernel family for this CPU ("Haswell", "Zen", "SkylakeX", ...;
 * "Prescott" is its slow fallback for x86 CPUs it does not know) and its
 * build string. */
const char *llfc_blas_corename(void);
const char *llfc_blas_config(void);

/* ---- oneDNN (libdnnl), opened once for the process --------------------------
 * llfc_dnnl_load opens libdnnl.so on first use (0, or -1 with the reason in
 * llfc_dnnl_info; always -1 when built without oneDNN).  Its OpenMP threads
 * sleep when idle (OMP_WAIT_POLICY=passive for the moment of the dlopen)
 * unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT or libgomp is already
 * loaded.  llfc_dnnl_sym returns a symbol of the loaded library. */
int llfc_dnnl_load(void);
void *llfc_dnnl_sym(const char *name);
/* "oneDNN 2.6.3 (avx2, OpenMP wait policy passive)", "oneDNN not loaded:
 * REASON", or NULL when built without oneDNN. */
const char *llfc_dnnl_info(void);
/* oneDNN's instruction set ("avx2", "avx512_core", ...; "?" if not loaded). */
const char *llfc_dnnl_isa(void);
/* oneDNN's thread count: n > 0, or 0 for the default (the BLAS thread count,
 * or OMP_NUM_THREADS when the user set it). */
void llfc_dnnl_set_threads(int n);
/* The count oneDNN uses (0 when it is not loaded and cannot be). */
int llfc_dnnl_get_threads(void);
/* Before a oneDNN call on this thread: make its OpenMP thread count oneDNN's
 * and return it (OpenMP keeps the count per thread). */
int llfc_dnnl_enter(void);
/* For tests: open `soname` instead of libdnnl.so.N (NULL: the default).
 * Only before oneDNN was loaded; a failed load is forgotten.  -1 if loaded. */
int llfc_dnnl_set_library(const char *soname);

/* llfc_gemm in double precision (always OpenBLAS), and the upper triangle of the symmetric
 * C = alpha * A @ A^T + beta * C (A is N x K; the lower triangle of C is not
 * touched): the moment matrices of least-squares fits, which need double
 * (metrics/feature_merge.c). */
void llfc_dgemm(int transA, int transB, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb, double beta,
                double *C, int ldc);
void llfc_dsyrk(int N, int K, double alpha, const double *A, int lda, double beta, double *C, int ldc);

/* ---- LAPACK (OpenBLAS ships it) ---------------------------------------------
 * Symmetric n x n matrices, row-major (A is symmetric, so row- and
 * column-major are the same matrix; both triangles must be filled).
 * llfc_chol_solve: A X = B for positive definite A through a Cholesky
 * factorisation (dpotrf, dpotrs); B holds nrhs right-hand sides of n values
 * each, one after the other (row k of a [nrhs, n] array), and receives the
 * solutions; A is overwritten by the factor.  Returns 0, or k >= 1 when the
 * leading k x k minor is not positive definite (nothing solved), or -1 with
 * a message on bad sizes or no memory.
 * llfc_sym_eig: the eigenvalues of A in ascending order into w[n] and the
 * eigenvectors into A (row i of A is the eigenvector of w[i]) through dsyevd.
 * Returns 0, or -1 with a message (no convergence, bad sizes, no memory). */
int llfc_chol_solve(int n, int nrhs, double *A, double *B);
int llfc_sym_eig(int n, double *A, double *w);

#endif
