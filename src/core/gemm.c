/* gemm.c - llfc_gemm and its backends (OpenBLAS, oneDNN), the BLAS threads,
 * and the loading of oneDNN shared with the convolutions.  See gemm.h. */
#include "core/gemm.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

#ifdef LLFC_HAVE_DNNL
#include <dlfcn.h>
#include <dnnl.h>
#endif

/* OpenBLAS exports these (not in cblas.h). */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_parallel(void);

/* ---- llfc's thread count ----------------------------------------------------
 * One count for llfc's pool (threads.c), OpenBLAS and oneDNN.  It starts as
 * OpenBLAS's own (OPENBLAS_NUM_THREADS, or one per core).  With OpenBLAS's
 * pthreads build (the Debian default) llfc runs OpenBLAS single-threaded and
 * splits products between its own threads (pool_split = 1), so that one set
 * of threads does all of llfc's work; other OpenBLAS builds keep their own
 * threads. */
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int nthreads = 1;
static int pool_split;

static void threads_init(void)
{
    int n = openblas_get_num_threads();
    nthreads = n > 0 ? n : 1;
    if (openblas_get_parallel() == 1) {
        pool_split = 1;
        openblas_set_num_threads(1);
    }
}

int llfc_threads(void)
{
    pthread_once(&threads_once, threads_init);
    return __atomic_load_n(&nthreads, __ATOMIC_RELAXED);
}

/* Guards the loading of oneDNN and the backend state. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- oneDNN: loading and threads -------------------------------------------
 * libdnnl is opened with dlopen() on first use, not linked.  It runs its
 * threads through OpenMP (libgomp), whose workers by default keep spinning for
 * a while after each parallel region (GOMP_SPINCOUNT 300000); on a busy 2-core
 * machine that made a convolution 3x slower than with OMP_WAIT_POLICY=passive
 * (docs/BENCH.md, "oneDNN convolutions").  libgomp reads its environment once,
 * when it is loaded, so a program linked against libdnnl cannot choose for its
 * user; loading it here lets us set OMP_WAIT_POLICY=passive for the moment of
 * the dlopen (unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, or
 * libgomp is already in the process), and spares programs that never need it
 * loading libdnnl at all.
 *
 * OpenMP keeps the thread count per thread (the one omp_set_num_threads set
 * on the main thread does not reach a pthread created later), so every call
 * into oneDNN sets the calling thread's count first (llfc_dnnl_enter). */
static int dnnl_state;            /* 0 untried, 1 loaded, -1 failed */
static int dnnl_passive;          /* we chose OMP_WAIT_POLICY=passive */
static int dnnl_want;             /* llfc_dnnl_set_threads; 0 = the default */
static int dnnl_omp_default;      /* OpenMP's count when loaded */
static int dnnl_omp_env;          /* OMP_NUM_THREADS was set when loaded */
static char dnnl_err[256];
static const char *dnnl_soname;   /* test hook; NULL = the default */
static int active;                /* the backend: 0 until chosen, then LLFC_GEMM_OPENBLAS or _DNNL */
static void *dnnl_handle;
static void (*p_omp_set_num_threads)(int);
static int (*p_omp_get_max_threads)(void);

#ifdef LLFC_HAVE_DNNL
#define STR_(x) #x
#define STR(x) STR_(x)
#define LIBDNNL "libdnnl.so." STR(DNNL_VERSION_MAJOR)
static __typeof__(dnnl_sgemm) *p_dnnl_sgemm;
static __typeof__(dnnl_version) *p_dnnl_version;
static __typeof__(dnnl_get_effective_cpu_isa) *p_dnnl_get_effective_cpu_isa;

static int dnnl_load_locked(void)
{
    if (dnnl_state) return dnnl_state > 0 ? 0 : -1;
    dnnl_state = -1;
    const char *name = dnnl_soname ? dnnl_soname : LIBDNNL;
    void *gomp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);   /* already loaded? */
    int setwait = !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && !gomp;
    if (gomp) dlclose(gomp);
    if (setwait) setenv("OMP_WAIT_POLICY", "passive", 1);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (setwait) unsetenv("OMP_WAIT_POLICY");
    if (!h) {
        const char *e = dlerror();
        snprintf(dnnl_err, sizeof dnnl_err, "%s", e ? e : name);
        return -1;
    }
    *(void **)&p_dnnl_sgemm = dlsym(h, "dnnl_sgemm");
    *(void **)&p_dnnl_version = dlsym(h, "dnnl_version");
    *(void **)&p_dnnl_get_effective_cpu_isa = dlsym(h, "dnnl_get_effective_cpu_isa");
    /* libgomp, loaded with libdnnl: the thread count of its parallel regions */
    *(void **)&p_omp_set_num_threads = dlsym(h, "omp_set_num_threads");
    *(void **)&p_omp_get_max_threads = dlsym(h, "omp_get_max_threads");
    if (!p_dnnl_sgemm || !p_dnnl_version || !p_dnnl_get_effective_cpu_isa) {
        snprintf(dnnl_err, sizeof dnnl_err, "%s: no symbol dnnl_sgemm, dnnl_version or "
                 "dnnl_get_effective_cpu_isa", name);
        dlclose(h);
        return -1;
    }
    dnnl_omp_default = p_omp_get_max_threads ? p_omp_get_max_threads() : 0;
    dnnl_omp_env = getenv("OMP_NUM_THREADS") != NULL;
    dnnl_passive = setwait;
    dnnl_handle = h;
    dnnl_state = 1;
    return 0;
}
#else
static int dnnl_load_locked(void)
{
    snprintf(dnnl_err, sizeof dnnl_err, "llfc was built without oneDNN (libdnnl)");
    return -1;
}
#endif

int llfc_dnnl_load(void)
{
    pthread_mutex_lock(&lock);
    int rc = dnnl_load_locked();
    pthread_mutex_unlock(&lock);
    return rc;
}

void *llfc_dnnl_sym(const char *name)
{
#ifdef LLFC_HAVE_DNNL
    return llfc_dnnl_load() == 0 ? dlsym(dnnl_handle, name) : NULL;
#else
    return NULL;
#endif
}

int llfc_dnnl_set_library(const char *soname)
{
    pthread_mutex_lock(&lock);
    int rc = dnnl_state > 0 ? -1 : 0;
    if (rc == 0) {
        dnnl_soname = soname, dnnl_state = 0;
        __atomic_store_n(&active, 0, __ATOMIC_RELEASE);   /* choose again */
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* oneDNN's thread count (loaded): the one set, else OMP_NUM_THREADS if the
 * user gave it, else OpenBLAS's (OPENBLAS_NUM_THREADS or one per core). */
static int dnnl_threads(void)
{
    if (dnnl_want > 0) return dnnl_want;
    if (dnnl_omp_env && dnnl_omp_default > 0) return dnnl_omp_default;
    return llfc_threads();
}

void llfc_dnnl_set_threads(int n) { dnnl_want = n > 0 ? n : 0; }

int llfc_dnnl_get_threads(void) { return llfc_dnnl_load() == 0 ? dnnl_threads() : 0; }

int llfc_dnnl_enter(void)
{
    int n = dnnl_threads();
    if (p_omp_set_num_threads && p_omp_get_max_threads && p_omp_get_max_threads() != n)
        p_omp_set_num_threads(n);
    return n;
}

/* oneDNN's instruction set; loaded */
static const char *isa_loaded(void)
{
#ifdef LLFC_HAVE_DNNL
    switch (p_dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "?";
    }
#else
    return "?";
#endif
}

const char *llfc_dnnl_isa(void) { return llfc_dnnl_load() < 0 ? "?" : isa_loaded(); }

const char *llfc_dnnl_info(void)
{
#ifdef LLFC_HAVE_DNNL
    static char buf[320];
    if (llfc_dnnl_load() < 0) {
        snprintf(buf, sizeof buf, "oneDNN not loaded: %s", dnnl_err);
        return buf;
    }
    const dnnl_version_t *v = p_dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (%s, OpenMP %s)", v->major, v->minor, v->patch,
             llfc_dnnl_isa(), dnnl_passive ? "wait policy passive" : "wait policy from the environment");
    return buf;
#else
    return NULL;
#endif
}

/* ---- the CPU and OpenBLAS's kernels ----------------------------------------- */
static int cpu_level(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    /* __builtin_cpu_supports also checks that the OS saves the registers */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
    return 0;
#else
    return -1;
#endif
}

static const char *const level_isa[] = {"sse", "avx", "avx2", "avx512"};

const char *llfc_cpu_isa(void)
{
    int l = cpu_level();
    return l < 0 ? "unknown" : level_isa[l];
}

/* OpenBLAS 0.3.21's x86-64 kernel families (driver/others/dynamic.c) and the
 * vector unit their sgemm kernels use. */
static const struct { const char *name; int level; const char *isa; } families[] = {
    {"Katmai", 0, "sse"}, {"Coppermine", 0, "sse"}, {"Northwood", 0, "sse2"},
    {"Prescott", 0, "sse3"}, {"Banias", 0, "sse2"}, {"Atom", 0, "ssse3"}, {"Core2", 0, "ssse3"},
    {"Penryn", 0, "sse4.1"}, {"Dunnington", 0, "sse4.1"}, {"Nehalem", 0, "sse4.2"},
    {"Athlon", 0, "sse2"}, {"Opteron", 0, "sse2"}, {"Opteron_SSE3", 0, "sse3"},
    {"Barcelona", 0, "sse4a"}, {"Nano", 0, "sse3"}, {"Bobcat", 0, "sse4a"},
    {"Sandybridge", 1, "avx"}, {"Bulldozer", 1, "avx"}, {"Piledriver", 1, "avx"},
    {"Steamroller", 1, "avx"}, {"Haswell", 2, "avx2"}, {"Zen", 2, "avx2"}, {"Excavator", 2, "avx2"},
    {"SkylakeX", 3, "avx512"}, {"Cooperlake", 3, "avx512"}, {"SapphireRapids", 3, "avx512"},
};

static int openblas_family(void)
{
    const char *c = openblas_get_corename();
    for (size_t i = 0; c && i < sizeof families / sizeof *families; i++)
        if (!strcasecmp(c, families[i].name)) return (int)i;
    return -1;
}

const char *llfc_blas_corename(void) { return openblas_get_corename(); }
const char *llfc_blas_config(void) { return openblas_get_config(); }

/* ---- the backend --------------------------------------------------------------- */
/* The choice is made on the first product (or query) and kept.  LLFC_BLAS is
 * read then too, so that every program on the core honours it; llfc's Lua
 * module reads it when it opens (llfc_gemm_init_env) to report a bad value. */
static int forced;                /* LLFC_GEMM_* asked for; AUTO = the rule */
static int env_done;              /* LLFC_BLAS was applied (or overridden) */
static char asked[64];            /* who asked for `forced`: "LLFC_BLAS=dnnl", ... */
static char reason[640];

static const char *const names[] = {"auto", "openblas", "dnnl"};

static int parse(const char *name)
{
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

static int isa_level(const char *isa)
{
    if (!isa) return -1;
    if (!strncmp(isa, "avx512", 6)) return 3;
    if (!strncmp(isa, "avx2", 4)) return 2;
    if (!strcmp(isa, "avx")) return 1;
    if (!strncmp(isa, "sse", 3)) return 0;
    return -1;
}

int llfc_gemm_rule(const char *cpu, const char *core, const char *coretype,
                   const char *(*dnnl_isa)(void *ud, const char **err), void *ud, char *why, size_t n)
{
    int lc = isa_level(cpu), fam = -1;
    for (size_t i = 0; core && i < sizeof families / sizeof *families; i++)
        if (!strcasecmp(core, families[i].name)) fam = (int)i;
    if (coretype && *coretype) {
        snprintf(why, n, "auto: OPENBLAS_CORETYPE=%s is set: OpenBLAS's %s kernels", coretype, core);
        return LLFC_GEMM_OPENBLAS;
    }
    if (lc < 0 || fam < 0) {
        snprintf(why, n, "auto: OpenBLAS's %s kernels (llfc does not rank them)", core);
        return LLFC_GEMM_OPENBLAS;
    }
    if (families[fam].level >= lc) {
        snprintf(why, n, "auto: OpenBLAS's %s kernels use the CPU's widest vector unit (%s)", core, cpu);
        return LLFC_GEMM_OPENBLAS;
    }
    const char *err = NULL, *d = dnnl_isa(ud, &err);
    if (!d) {
        snprintf(why, n, "auto: OpenBLAS's %s kernels (%s) are narrower than the CPU (%s), "
                 "and oneDNN is not available: %s", core, families[fam].isa, cpu, err ? err : "?");
        return LLFC_GEMM_OPENBLAS;
    }
    if (isa_level(d) > families[fam].level) {
        snprintf(why, n, "auto: OpenBLAS's %s kernels (%s) are narrower than the CPU (%s); oneDNN's are %s",
                 core, families[fam].isa, cpu, d);
        return LLFC_GEMM_DNNL;
    }
    snprintf(why, n, "auto: OpenBLAS's %s kernels (%s) are as wide as oneDNN's (%s)", core, families[fam].isa, d);
    return LLFC_GEMM_OPENBLAS;
}

/* oneDNN's ISA for the rule, loading it (the lock is held) */
static const char *rule_dnnl_isa(void *ud, const char **err)
{
    if (dnnl_load_locked() < 0) {
        *err = dnnl_err;
        return NULL;
    }
    return isa_loaded();
}

static void rule_locked(const char *pre)
{
    char r[480];
    int backend = llfc_gemm_rule(llfc_cpu_isa(), openblas_get_corename(), getenv("OPENBLAS_CORETYPE"),
                                 rule_dnnl_isa, NULL, r, sizeof r);
    snprintf(reason, sizeof reason, "%s%s", pre, r);
    __atomic_store_n(&active, backend, __ATOMIC_RELEASE);
}

static void choose_locked(void)
{
    char pre[384] = "";
    if (!env_done) {
        env_done = 1;
        const char *e = getenv("LLFC_BLAS");
        int b = e && *e ? parse(e) : 0;
        if (b < 0)
            snprintf(pre, sizeof pre, "LLFC_BLAS=%.40s ignored (expected auto, openblas or dnnl); ", e);
        else if (b > 0)
            forced = b, snprintf(asked, sizeof asked, "LLFC_BLAS=%s", e);
    }
    if (forced == LLFC_GEMM_OPENBLAS || (forced == LLFC_GEMM_DNNL && dnnl_load_locked() == 0)) {
        snprintf(reason, sizeof reason, "%s", asked);
        __atomic_store_n(&active, forced, __ATOMIC_RELEASE);
        return;
    }
    if (forced == LLFC_GEMM_DNNL)
        snprintf(pre, sizeof pre, "%s ignored: oneDNN is not available: %.200s; ", asked, dnnl_err);
    rule_locked(pre);
}

int llfc_gemm_backend(void)
{
    int b = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (b) return b;
    pthread_mutex_lock(&lock);
    if (!active) choose_locked();
    b = active;
    pthread_mutex_unlock(&lock);
    return b;
}

int llfc_gemm_parse(const char *name)
{
    int b = parse(name);
    if (b < 0)
        return llfc_seterr("unknown BLAS backend '%s' (expected auto, openblas or dnnl)", name ? name : "(null)");
    return b;
}

const char *llfc_gemm_name(int backend)
{
    return backend == LLFC_GEMM_DNNL ? "dnnl" : backend == LLFC_GEMM_OPENBLAS ? "openblas" : "auto";
}

static int set_backend(int b, const char *who)
{
    if (b != LLFC_GEMM_AUTO && b != LLFC_GEMM_OPENBLAS && b != LLFC_GEMM_DNNL)
        return llfc_seterr("unknown BLAS backend %d", b);
    pthread_mutex_lock(&lock);
    if (b == LLFC_GEMM_DNNL && dnnl_load_locked() < 0) {
        pthread_mutex_unlock(&lock);
        return llfc_seterr("oneDNN is not available: %s", dnnl_err);
    }
    env_done = 1;
    forced = b;
    snprintf(asked, sizeof asked, "%s", who);
    choose_locked();
    pthread_mutex_unlock(&lock);
    return 0;
}

int llfc_gemm_set_backend(int backend) { return set_backend(backend, "set by the program"); }

int llfc_gemm_init_env(void)
{
    const char *e = getenv("LLFC_BLAS");
    if (!e || !*e) return 0;
    int b = llfc_gemm_parse(e);
    if (b < 0) return llfc_adderr("LLFC_BLAS");
    char who[64];
    snprintf(who, sizeof who, "LLFC_BLAS=%s", e);
    if (set_backend(b, who) < 0) return llfc_adderr("LLFC_BLAS=%s", e);
    return 0;
}

const char *llfc_gemm_reason(void)
{
    llfc_gemm_backend();
    return reason;
}

const char *llfc_gemm_isa(void)
{
    if (llfc_gemm_backend() == LLFC_GEMM_DNNL) return llfc_dnnl_isa();
    int fam = openblas_family();
    return fam < 0 ? "?" : families[fam].isa;
}

const char *llfc_gemm_describe(void)
{
    static _Thread_local char buf[160];
    int b = llfc_gemm_backend(), n = llfc_blas_get_threads();
    if (b == LLFC_GEMM_DNNL) {
#ifdef LLFC_HAVE_DNNL
        const dnnl_version_t *v = p_dnnl_version();
        snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (%s, %d thread%s)", v->major, v->minor, v->patch,
                 isa_loaded(), n, n == 1 ? "" : "s");
#endif
    } else {
        /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21" */
        const char *cfg = openblas_get_config();
        int len = 0, words = 0;
        while (cfg && cfg[len] && !(cfg[len] == ' ' && ++words == 2)) len++;
        snprintf(buf, sizeof buf, "%.*s (%s kernels, %d thread%s)", len, cfg ? cfg : "OpenBLAS",
                 openblas_get_corename(), n, n == 1 ? "" : "s");
    }
    return buf;
}

/* ---- threads ------------------------------------------------------------------ */
void llfc_blas_set_threads(int n)
{
    if (n <= 0) return;
    pthread_once(&threads_once, threads_init);
    if (!pool_split) {
        openblas_set_num_threads(n);
        n = openblas_get_num_threads();   /* a serial OpenBLAS build stays at 1 */
    }
    __atomic_store_n(&nthreads, n, __ATOMIC_RELAXED);
    llfc_dnnl_set_threads(n);
}

int llfc_blas_get_threads(void)
{
    if (llfc_gemm_backend() == LLFC_GEMM_DNNL) return dnnl_threads();
    return llfc_threads();
}

/* Around OpenBLAS calls that are not split (double precision, LAPACK): give
 * OpenBLAS llfc's thread count for the call, unless this thread runs a part
 * of a parallel job. */
static int blas_enter(void)
{
    if (!pool_split || llfc_parallel_parts(2, 1) < 2) return 0;   /* one thread, or inside a job */
    openblas_set_num_threads(llfc_threads());
    return 1;
}

static void blas_leave(int entered)
{
    if (entered) openblas_set_num_threads(1);
}

/* ---- products split between llfc's threads ------------------------------------
 * C's columns (or rows, when it has more rows than columns) in blocks of
 * SPLIT_BLOCK, one range of blocks per thread, each a single-threaded
 * cblas_sgemm over the whole K. */
#define SPLIT_BLOCK 16
#define SPLIT_MIN_MNK (1L << 19)

struct split_job {
    int ta, tb, M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    int by_cols;
};

static void split_part(void *ud, int64_t lo, int64_t hi)
{
    const struct split_job *j = ud;
    int dim = j->by_cols ? j->N : j->M;
    int r0 = (int)(lo * SPLIT_BLOCK), r1 = (int)(hi * SPLIT_BLOCK);
    if (r1 > dim) r1 = dim;
    if (r0 >= r1) return;
    const float *A = j->A, *B = j->B;
    float *C = j->C;
    int M = j->M, N = j->N;
    if (j->by_cols) {
        B += j->tb ? (size_t)r0 * j->ldb : (size_t)r0;
        C += r0;
        N = r1 - r0;
    } else {
        A += j->ta ? (size_t)r0 : (size_t)r0 * j->lda;
        C += (size_t)r0 * j->ldc;
        M = r1 - r0;
    }
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, M, N,
                j->K, j->alpha, A, j->lda, B, j->ldb, j->beta, C, j->ldc);
}

/* 1 if the product was computed split, 0 if the caller computes it. */
static int split_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc)
{
    if (!pool_split || (long long)M * N * K < SPLIT_MIN_MNK) return 0;
    struct split_job j = {transA, transB, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc, N >= M};
    int64_t blocks = ((j.by_cols ? N : M) + SPLIT_BLOCK - 1) / SPLIT_BLOCK;
    if (llfc_parallel_parts(blocks, 2) < 2) return 0;
    llfc_parallel_for(blocks, 2, split_part, &j);
    return 1;
}

/* ---- the shim ------------------------------------------------------------------ */
void llfc_gemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta,
               float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta*C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef LLFC_HAVE_DNNL
    if (llfc_gemm_backend() == LLFC_GEMM_DNNL) {
        int n = llfc_dnnl_enter();
        int serial = (long long)M * N * K <= LLFC_GEMM_SERIAL_MNK && n > 1;
        if (serial) p_omp_set_num_threads(1);
        dnnl_status_t st = p_dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
                                        beta, C, ldc);
        if (serial) p_omp_set_num_threads(n);
        if (st == dnnl_success) return;
        /* only bad arguments fail; let OpenBLAS report them */
    }
#endif
    if (split_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
}

double llfc_gemm_rate(int M, int N, int K, int transB, double seconds)
{
    if (M < 1 || N < 1 || K < 1) return llfc_seterr("gemm_rate: sizes must be positive, got %d x %d x %d", M, N, K);
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *a = llfc_mallocarray(na + nb + nc, sizeof(float));
    if (!a) return -1;
    float *b = a + na, *c = b + nb;
    for (size_t i = 0; i < na + nb; i++) a[i] = (float)(i % 7) * 0.25f - 0.75f;
    memset(c, 0, nc * sizeof *c);
    int ldb = transB ? K : N;
    llfc_gemm(0, transB, M, N, K, 1.0f, a, K, b, ldb, 0.0f, c, N);   /* warm up */
    double best = INFINITY, t0 = llfc_now(), t1 = t0;
    for (int r = 0; r < 3 || t1 - t0 < seconds; r++) {
        double s = llfc_now();
        llfc_gemm(0, transB, M, N, K, 1.0f, a, K, b, ldb, 0.0f, c, N);
        t1 = llfc_now();
        if (t1 - s < best) best = t1 - s;
    }
    llfc_free(a);
    return 2.0 * M * N * (double)K / (best > 0 ? best : 1e-9) / 1e9;
}

/* ---- double precision: OpenBLAS only (oneDNN has no dgemm) ---------------------- */

void llfc_dgemm(int transA, int transB, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb, double beta,
                double *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    int e = blas_enter();
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
    blas_leave(e);
}

void llfc_dsyrk(int N, int K, double alpha, const double *A, int lda, double beta, double *C, int ldc)
{
    if (N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < N; i++)
            for (int j = i; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    int e = blas_enter();
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, N, K, alpha, A, lda, beta, C, ldc);
    blas_leave(e);
}

/* LAPACK's Fortran entry points, which libopenblas exports (Debian ships no
 * LAPACK header with libopenblas-dev): every argument by reference. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
                    double *b, const int *ldb, int *info);
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

int llfc_chol_solve(int n, int nrhs, double *A, double *B)
{
    if (n < 1 || nrhs < 0) return llfc_seterr("chol_solve: %d x %d system with %d right-hand sides", n, n, nrhs);
    int info = 0;
    /* column-major 'L' of the symmetric A is the row-major upper triangle: either is A */
    int e = blas_enter();
    dpotrf_("L", &n, A, &n, &info);
    blas_leave(e);
    if (info < 0) return llfc_seterr("chol_solve: dpotrf argument %d is bad", -info);
    if (info > 0) return info;
    if (nrhs == 0) return 0;
    e = blas_enter();
    dpotrs_("L", &n, &nrhs, A, &n, B, &n, &info);
    blas_leave(e);
    if (info != 0) return llfc_seterr("chol_solve: dpotrs argument %d is bad", -info);
    return 0;
}

int llfc_sym_eig(int n, double *A, double *w)
{
    if (n < 1) return llfc_seterr("sym_eig: %d x %d matrix", n, n);
    int info = 0, lwork = -1, liwork = -1, iq = 0;
    double q = 0;
    dsyevd_("V", "L", &n, A, &n, w, &q, &lwork, &iq, &liwork, &info); /* workspace query */
    if (info != 0) return llfc_seterr("sym_eig: dsyevd workspace query failed (%d)", info);
    lwork = (int)q + 1, liwork = iq + 1;
    double *work = llfc_mallocarray((size_t)lwork, sizeof *work);
    int *iwork = llfc_mallocarray((size_t)liwork, sizeof *iwork);
    if (!work || !iwork) { free(work), free(iwork); return -1; }
    /* column-major eigenvectors (columns) are row-major rows */
    int e = blas_enter();
    dsyevd_("V", "L", &n, A, &n, w, work, &lwork, iwork, &liwork, &info);
    blas_leave(e);
    free(work), free(iwork);
    if (info < 0) return llfc_seterr("sym_eig: dsyevd argument %d is bad", -info);
    if (info > 0) return llfc_seterr("sym_eig: the eigenvalue iteration did not converge (%d)", info);
    return 0;
}
