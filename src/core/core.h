/* core.h - conventions shared by every part of the llfc core.
 *
 * The core never includes Lua headers.  A core function that can fail returns
 * an int: 0 on success, -1 on failure, after recording a message with
 * llfc_seterr().  Bindings fetch it with llfc_errmsg() and raise it as a Lua
 * error.  Nothing in the core calls abort(), exit() or assert() on user input.
 *
 * Long loops call llfc_interrupted() between batches/iterations; when it is
 * true they stop, record "interrupted" and return -1 (leaving their objects in
 * a usable state).  The REPL's SIGINT handler sets the flag.
 */
#ifndef LLFC_CORE_H
#define LLFC_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>

#define LLFC_VERSION_STRING "0.1.0"

/* ---- errors ------------------------------------------------------------ */
#if defined(__GNUC__)
#define LLFC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LLFC_PRINTF(a, b)
#endif

/* Record an error message (printf-style); always returns -1 so callers can
 * write `return llfc_seterr("bad shape %d", n);`. */
int llfc_seterr(const char *fmt, ...) LLFC_PRINTF(1, 2);
/* The last recorded message ("" if none). */
const char *llfc_errmsg(void);
/* Prefix the current message: "ctx: old message". Returns -1. */
int llfc_adderr(const char *fmt, ...) LLFC_PRINTF(1, 2);

/* Checked allocation helpers: on failure they record "out of memory (N bytes)"
 * and return NULL.  Sizes are checked for overflow, and one allocation may
 * not exceed llfc_alloc_cap(): the physical memory, or LLFC_MAX_ALLOC bytes
 * (K, M, G, T suffixes) when that is set. */
void *llfc_malloc(size_t n);
void *llfc_calloc(size_t count, size_t size);
void *llfc_mallocarray(size_t count, size_t size);
void *llfc_realloc(void *p, size_t n); /* p is kept on failure */
void llfc_free(void *p);
size_t llfc_alloc_cap(void);

/* ---- interruption (Ctrl-C) ----------------------------------------------- */
extern volatile sig_atomic_t llfc_interrupt_flag;
static inline int llfc_interrupted(void) { return llfc_interrupt_flag != 0; }
void llfc_interrupt_clear(void);
/* llfc_progress_stop without a callback: if interrupted, record
 * "interrupted" and return -1, else 0. */
int llfc_check_interrupt(void);

/* ---- progress reporting ---------------------------------------------------
 * Long computations take an optional progress callback.  `done` of `total`
 * units finished; `what` says what is computing.  The callback returns 0 to go
 * on, LLFC_PROGRESS_STOP to ask the computation to stop, or
 * LLFC_PROGRESS_FAILED after recording its own error with llfc_seterr(). */
typedef int (*llfc_progress_fn)(void *ud, double done, double total, const char *what);
enum { LLFC_PROGRESS_FAILED = -1, LLFC_PROGRESS_STOP = 1 };
/* The one way a long computation polls between units of work: Ctrl-C first,
 * then the callback (fn may be NULL).  Returns 0 to go on, or -1 with the
 * reason recorded: "interrupted" for Ctrl-C or a callback asking to stop, the
 * callback's own message when it failed.  A computation that keeps a partial
 * result on Ctrl-C tells that case apart with llfc_interrupted(). */
int llfc_progress_stop(llfc_progress_fn fn, void *ud, double done, double total, const char *what);

/* ---- the one BLAS shim (llfc_gemm), its backends and threads: gemm.h ---- */
#include "core/gemm.h"

/* ---- parallel for (threads.c) -------------------------------------------------
 * Split [0, n) into equal parts, one per thread of llfc's pool (the calling
 * thread runs the first), when llfc's thread count (llfc_threads) is >= 2 and
 * n >= 2 * min_per_thread; each part has at least min_per_thread items.
 * Otherwise, inside another job's part, or if no worker can be created, call
 * fn(ud, 0, n) once.  fn must touch disjoint data for disjoint ranges and must
 * not call llfc_seterr (the message buffer is per thread).  Returns the number
 * of parts run (0 if n <= 0).  llfc_parallel_parts says how many parts a call
 * with these arguments would use now. */
int llfc_parallel_for(int64_t n, int64_t min_per_thread,
                      void (*fn)(void *ud, int64_t lo, int64_t hi), void *ud);
int llfc_parallel_parts(int64_t n, int64_t min_per_thread);
/* llfc's thread count: the pool's size, and the BLAS's (llfc_blas_set_threads). */
int llfc_threads(void);

/* ---- element-wise loops at the CPU's vector width ------------------------------
 * LLFC_VECTOR_CLONES before a function with hot element-wise loops makes GCC
 * compile it twice, for AVX2 and for the x86-64 baseline (SSE2), and pick the
 * copy when the program loads (ifunc): the same operations in wider vectors.
 * C11 mode never contracts a*b+c into an FMA, so both copies round alike and
 * give the same bits.  Elsewhere (other compilers or CPUs) it is empty. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LLFC_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef LLFC_VECTOR_CLONES
#define LLFC_VECTOR_CLONES
#endif
/* LLFC_VECTORIZE: GCC's -O2 does not vectorise loops of unknown length (its
 * cost model is "very cheap"); a function with such hot loops asks for it. */
#if defined(__GNUC__) && !defined(__clang__)
#define LLFC_VECTORIZE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define LLFC_VECTORIZE
#endif

/* ---- a documented, portable PRNG ----------------------------------------------
 * xoshiro256** seeded through splitmix64: the same numbers on every machine. */
typedef struct { uint64_t s[4]; } llfc_rng;
void llfc_rng_seed(llfc_rng *r, uint64_t seed);
uint64_t llfc_rng_next(llfc_rng *r);
/* Uniform in [0, 1) with 24 bits (float) / 53 bits (double). */
float llfc_rng_float(llfc_rng *r);
double llfc_rng_double(llfc_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t llfc_rng_below(llfc_rng *r, uint64_t n);
/* Standard normal (Box-Muller, deterministic: no cached second value). */
double llfc_rng_normal(llfc_rng *r);
/* Fisher-Yates shuffle of an int64 array. */
void llfc_rng_shuffle(llfc_rng *r, int64_t *a, int64_t n);

/* ---- atomic file writing (file.c) --------------------------------------------
 * Every file llfc writes goes to a temporary file PATH.tmp.PID.XXXXXX in the
 * same directory, is flushed to the disk (fsync) and renamed over the target
 * only when everything was written (then the directory is synced), so a
 * failure, an interruption, a killed process or a power cut never leaves a
 * truncated file behind:
 *     llfc_afile a;
 *     FILE *f = llfc_afile_open(&a, path);      // NULL + error
 *     ok = fwrite(...) == n && ...;
 *     return llfc_afile_commit(&a, ok);         // flush, sync, close, rename or remove
 * The new file gets the usual 0666 & ~umask permissions.  A successful commit
 * also removes the temporary files of earlier saves of the same path whose
 * process no longer runs (llfc_afile_clean). */
#include <stdio.h>
typedef struct { FILE *f; char *tmp; const char *path; } llfc_afile;
FILE *llfc_afile_open(llfc_afile *a, const char *path);
/* ok = 0 discards the temporary file (the error already recorded is kept, or
 * "PATH: write failed" is recorded).  Returns 0 or -1. */
int llfc_afile_commit(llfc_afile *a, int ok);
/* Write len bytes atomically. */
int llfc_write_file_atomic(const char *path, const char *data, size_t len);
/* Remove PATH.tmp.PID.XXXXXX files left next to path by killed saves: only
 * those whose PID is not a running process (not ours either) and that have
 * not changed for a minute (a writer in another PID namespace). */
void llfc_afile_clean(const char *path);

/* Open a file for reading ("rb").  NULL + "PATH: cannot open: REASON", or
 * "PATH: is a directory, not a file", so that no reader mistakes a directory
 * for an empty or endless file.  errno tells which (EISDIR for a directory). */
FILE *llfc_fopen_read(const char *path);

/* Monotonic seconds. */
double llfc_now(void);

#endif
