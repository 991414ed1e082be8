/* test_gemm.c - llfc_gemm on each backend present (OpenBLAS, oneDNN) against
 * a double-precision product; the choice of backend (rule, LLFC_BLAS,
 * llfc_gemm_set_backend, a oneDNN that cannot be loaded); the threads. */
#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

static int contains(const char *s, const char *sub) { return s && sub && strstr(s, sub) != NULL; }

/* ---- numbers: C = alpha op(A) op(B) + beta C, against doubles ---------------- */
static float frand(llfc_rng *r) { return 2.0f * llfc_rng_float(r) - 1.0f; }

/* One product with padded leading dimensions; checks every element against
 * the double product within the float error bound
 *   |C - ref| <= (K + 2) u (|alpha| sum_k |a_ik b_kj| + |beta c_ij|),  u = 2^-24 rounding,
 * that the padding of C is untouched, and that a repeated call gives the same
 * bits.  Returns the largest error relative to that bound. */
static double check_product(llfc_rng *r, int ta, int tb, int M, int N, int K, int pad, float alpha,
                            float beta, int *ok_pad, int *ok_repeat)
{
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * ar * lda), *B = malloc(sizeof(float) * br * ldb);
    float *C = malloc(sizeof(float) * M * ldc), *C0 = malloc(sizeof(float) * M * ldc);
    float *C2 = malloc(sizeof(float) * M * ldc);
    for (int i = 0; i < ar * lda; i++) A[i] = frand(r);
    for (int i = 0; i < br * ldb; i++) B[i] = frand(r);
    for (int i = 0; i < M * ldc; i++) C0[i] = frand(r);
    if (beta == 0.0f)   /* beta = 0 must overwrite, NaNs included */
        for (int i = 0; i < M; i++) C0[(size_t)i * ldc] = NAN;
    memcpy(C, C0, sizeof(float) * M * ldc);
    memcpy(C2, C0, sizeof(float) * M * ldc);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    llfc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    double worst = 0;
    *ok_pad = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                ref += a * b, mag += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : C0[(size_t)i * ldc + j];
            ref = alpha * ref + (double)beta * c0;
            double bound = (K + 2) * (double)FLT_EPSILON / 2 * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
            double e = fabs(C[(size_t)i * ldc + j] - ref) / bound;
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
        for (int j = N; j < ldc; j++)
            if (memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float))) *ok_pad = 0;
    }
    *ok_repeat = memcmp(C, C2, sizeof(float) * M * ldc) == 0;
    free(A), free(B), free(C), free(C0), free(C2);
    return worst;
}

static void check_numbers(const char *name)
{
    llfc_rng r;
    llfc_rng_seed(&r, 13);
    /* small and odd sizes, sizes around oneDNN's one-thread limit (2^20
     * multiply-adds), an MLP layer; every transposition, padded strides,
     * beta 0 / 1 / other */
    static const int sizes[][3] = {{1, 1, 1},    {1, 7, 3},     {5, 1, 9},      {3, 4, 1},     {16, 16, 16},
                                   {33, 17, 65}, {64, 3, 64},   {32, 64, 2},    {100, 130, 7}, {128, 128, 64},
                                   {128, 96, 129}, {130, 100, 90}, {128, 512, 40}};
    int n = 0, bad = 0, badpad = 0, badrep = 0;
    double worst = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int t = 0; t < 4; t++) {
            int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], ta = t & 1, tb = t >> 1;
            float alpha = (s + t) % 3 == 2 ? -0.5f : 1.0f;
            float beta = (s + t) % 3 == 0 ? 0.0f : (s + t) % 3 == 1 ? 1.0f : 0.75f;
            int pad = (s + t) % 2 ? 3 : 0, okp, okr;
            double e = check_product(&r, ta, tb, M, N, K, pad, alpha, beta, &okp, &okr);
            n++;
            if (!(e <= 1.0)) {
                bad++;
                printf("# %s: %dx%dx%d trans %d%d pad %d alpha %g beta %g: error %.3g x the bound\n", name, M, N,
                       K, ta, tb, pad, alpha, beta, e);
            }
            if (e > worst) worst = e;
            badpad += !okp, badrep += !okr;
        }
    CHECK(bad == 0, "%s: %d products (13 shapes x 4 transpositions, padded strides, beta 0/1/0.75) within the "
          "float error bound of a double product (worst %.3g of the bound)", name, n, worst);
    CHECK(badpad == 0, "%s: the padding of C (ldc > N) is never written (%d products wrote it)", name, badpad);
    CHECK(badrep == 0, "%s: the same product twice gives the same bits (%d differed)", name, badrep);

    /* K = 0: C = beta C; M = 0 or N = 0: nothing */
    float c[6] = {1, 2, 3, 4, 5, 6}, a = 7, b = 8;
    llfc_gemm(0, 0, 2, 2, 0, 1.0f, &a, 1, &b, 2, 0.5f, c, 3);
    CHECK(c[0] == 0.5f && c[1] == 1.0f && c[2] == 3 && c[3] == 2.0f && c[4] == 2.5f && c[5] == 6,
          "%s: K = 0 scales C by beta and leaves the padding", name);
    llfc_gemm(0, 0, 0, 2, 2, 1.0f, &a, 2, &b, 2, 0.0f, c, 3);
    llfc_gemm(0, 0, 2, 0, 2, 1.0f, &a, 2, &b, 2, 0.0f, c, 3);
    CHECK(c[0] == 0.5f && c[4] == 2.5f, "%s: M = 0 or N = 0 leaves C alone", name);

    double g = llfc_gemm_rate(64, 64, 64, 1, 0.01);
    CHECK(g > 0 && isfinite(g), "%s: llfc_gemm_rate(64^3) = %.1f GFLOP/s", name, g);
}

/* ---- threads ---------------------------------------------------------------- */
struct omp_probe { int (*get)(void); int seen; };

static void *probe(void *arg)
{
    struct omp_probe *p = arg;
    float a[4] = {1, 2, 3, 4}, c[4];
    llfc_gemm(0, 0, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, c, 2);
    p->seen = p->get();
    return NULL;
}

static void check_threads(int have_dnnl)
{
    int saved = llfc_blas_get_threads();
    for (int n = 1; n <= 2; n++) {
        llfc_blas_set_threads(n);
        int got = llfc_blas_get_threads();
        /* a single-threaded OpenBLAS build stays at 1 */
        int want = n == 2 && llfc_gemm_backend() == LLFC_GEMM_OPENBLAS && got == 1 ? 1 : n;
        CHECK(got == want, "llfc_blas_set_threads(%d): the backend (%s) uses %d",
              n, llfc_gemm_name(llfc_gemm_backend()), got);
        if (have_dnnl)
            CHECK(llfc_dnnl_get_threads() == n, "llfc_blas_set_threads(%d): oneDNN's count is %d too", n,
                  llfc_dnnl_get_threads());
        char want_s[32];
        snprintf(want_s, sizeof want_s, want == 1 ? "%d thread)" : "%d threads)", want);
        CHECK(contains(llfc_gemm_describe(), want_s), "the description names the thread count: %s",
              llfc_gemm_describe());
    }
    if (have_dnnl && llfc_gemm_backend() == LLFC_GEMM_DNNL) {
        /* OpenMP keeps the thread count per thread: a product on another
         * pthread must still use llfc's count, not OpenMP's default */
        struct omp_probe p = {NULL, -1};
        *(void **)&p.get = llfc_dnnl_sym("omp_get_max_threads");
        if (p.get) {
            llfc_blas_set_threads(1);
            pthread_t t;
            if (pthread_create(&t, NULL, probe, &p) == 0) pthread_join(t, NULL);
            CHECK(p.seen == 1, "oneDNN on a new thread runs with llfc's thread count 1 (OpenMP says %d)", p.seen);
        }
        llfc_dnnl_set_threads(0);
        CHECK(llfc_dnnl_get_threads() >= 1, "llfc_dnnl_set_threads(0): back to the default (%d)",
              llfc_dnnl_get_threads());
    }
    llfc_blas_set_threads(saved);
}

/* ---- choosing the backend ------------------------------------------------------ */
static void check_names(void)
{
    CHECK(llfc_gemm_parse("auto") == LLFC_GEMM_AUTO && llfc_gemm_parse("openblas") == LLFC_GEMM_OPENBLAS
          && llfc_gemm_parse("dnnl") == LLFC_GEMM_DNNL, "backend names parse");
    CHECK(llfc_gemm_parse("mkl") < 0 && contains(llfc_errmsg(), "unknown BLAS backend 'mkl'")
          && contains(llfc_errmsg(), "expected auto, openblas or dnnl"), "an unknown name is an error: %s",
          llfc_errmsg());
    CHECK(llfc_gemm_parse("OpenBLAS") < 0, "names are lower case");
    CHECK(llfc_gemm_set_backend(7) < 0, "an unknown backend number is an error");
    const char *isa = llfc_cpu_isa();
    CHECK(!strcmp(isa, "avx512") || !strcmp(isa, "avx2") || !strcmp(isa, "avx") || !strcmp(isa, "sse")
          || !strcmp(isa, "unknown"), "llfc_cpu_isa() = %s", isa);
}

/* The rule on other machines' values: the CPU llfc detects, OpenBLAS's
 * kernel family, OPENBLAS_CORETYPE, oneDNN's instruction set (NULL: not
 * available).  oneDNN must be asked only when the choice depends on it. */
struct stub { const char *isa; int calls; };

static const char *stub_isa(void *ud, const char **err)
{
    struct stub *s = ud;
    s->calls++;
    if (!s->isa) *err = "libdnnl.so.2: cannot open shared object file";
    return s->isa;
}

static void check_rule(void)
{
    static const struct {
        const char *cpu, *core, *coretype, *dnnl;
        int want, asks;          /* the backend; whether oneDNN is consulted */
        const char *why;
    } cases[] = {
        /* an AVX-512 CPU that OpenBLAS 0.3.21 does not know (Sapphire Rapids) */
        {"avx512", "Prescott", NULL, "avx512_core_amx", LLFC_GEMM_DNNL, 1,
         "Prescott kernels (sse3) are narrower than the CPU (avx512); oneDNN's are avx512_core_amx"},
        {"avx512", "Prescott", NULL, NULL, LLFC_GEMM_OPENBLAS, 1, "oneDNN is not available: libdnnl.so.2"},
        {"avx512", "Prescott", "", "avx512_core", LLFC_GEMM_DNNL, 1, "oneDNN's are avx512_core"},
        /* the user chose OpenBLAS's kernels */
        {"avx512", "SkylakeX", "SkylakeX", "avx512_core", LLFC_GEMM_OPENBLAS, 0, "OPENBLAS_CORETYPE=SkylakeX is set"},
        {"avx512", "Prescott", "Prescott", "avx512_core", LLFC_GEMM_OPENBLAS, 0, "OPENBLAS_CORETYPE=Prescott is set"},
        /* OpenBLAS knows the CPU */
        {"avx512", "SkylakeX", NULL, "avx512_core", LLFC_GEMM_OPENBLAS, 0, "SkylakeX kernels use the CPU's widest"},
        {"avx512", "Cooperlake", NULL, "avx512_core_bf16", LLFC_GEMM_OPENBLAS, 0, "widest vector unit (avx512)"},
        {"avx2", "Zen", NULL, "avx2", LLFC_GEMM_OPENBLAS, 0, "Zen kernels use the CPU's widest vector unit (avx2)"},
        {"avx2", "Haswell", NULL, NULL, LLFC_GEMM_OPENBLAS, 0, "Haswell kernels use"},
        {"avx", "Sandybridge", NULL, "avx", LLFC_GEMM_OPENBLAS, 0, "Sandybridge kernels use"},
        {"sse", "Nehalem", NULL, "sse41", LLFC_GEMM_OPENBLAS, 0, "Nehalem kernels use"},
        /* AVX-512 Zen 4, which 0.3.21 runs with its AVX2 Zen kernels */
        {"avx512", "Zen", NULL, "avx512_core_bf16", LLFC_GEMM_DNNL, 1, "Zen kernels (avx2) are narrower"},
        {"avx512", "Haswell", NULL, "avx2", LLFC_GEMM_OPENBLAS, 1, "are as wide as oneDNN's (avx2)"},
        {"avx2", "Sandybridge", NULL, "avx2", LLFC_GEMM_DNNL, 1, "Sandybridge kernels (avx) are narrower"},
        {"avx2", "zen", NULL, NULL, LLFC_GEMM_OPENBLAS, 0, "use the CPU's widest"},
        /* families or CPUs llfc does not know (other architectures, newer OpenBLAS) */
        {"unknown", "armv8", NULL, "?", LLFC_GEMM_OPENBLAS, 0, "llfc does not rank them"},
        {"avx512", "Zen5", NULL, "avx512_core", LLFC_GEMM_OPENBLAS, 0, "llfc does not rank them"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct stub st = {cases[i].dnnl, 0};
        char why[400];
        int got = llfc_gemm_rule(cases[i].cpu, cases[i].core, cases[i].coretype, stub_isa, &st, why, sizeof why);
        int ok = got == cases[i].want && (st.calls > 0) == cases[i].asks && contains(why, cases[i].why)
                 && !strncmp(why, "auto: ", 6);
        if (!ok)
            printf("# rule cpu %s, OpenBLAS %s, OPENBLAS_CORETYPE %s, oneDNN %s: got %s (%d calls), \"%s\"\n",
                   cases[i].cpu, cases[i].core, cases[i].coretype ? cases[i].coretype : "unset",
                   cases[i].dnnl ? cases[i].dnnl : "missing", llfc_gemm_name(got), st.calls, why);
        bad += !ok;
    }
    CHECK(bad == 0, "the rule on %d machines (AVX-512 CPUs OpenBLAS does not know, OPENBLAS_CORETYPE set, "
          "known CPUs, no oneDNN, unknown families): %d wrong", (int)(sizeof cases / sizeof *cases), bad);
}

/* Without oneDNN (a library name that does not exist): forcing it fails with
 * the reason, LLFC_BLAS=dnnl fails or is ignored with the reason, and the
 * products run on OpenBLAS. */
static void check_missing_dnnl(void)
{
    CHECK(llfc_dnnl_set_library("libllfc-test-no-such-dnnl.so.9") == 0, "oneDNN replaced by a missing library");
    CHECK(llfc_dnnl_load() < 0 && contains(llfc_dnnl_info(), "not loaded")
          && contains(llfc_dnnl_info(), "libllfc-test-no-such-dnnl"), "llfc_dnnl_info says why: %s",
          llfc_dnnl_info() ? llfc_dnnl_info() : "(built without oneDNN)");
    CHECK(llfc_dnnl_get_threads() == 0, "no oneDNN: 0 threads");
    CHECK(llfc_gemm_set_backend(LLFC_GEMM_DNNL) < 0 && contains(llfc_errmsg(), "oneDNN is not available"),
          "forcing oneDNN fails: %s", llfc_errmsg());
    CHECK(llfc_gemm_backend() == LLFC_GEMM_OPENBLAS, "the automatic choice falls back to OpenBLAS: %s",
          llfc_gemm_reason());
    setenv("LLFC_BLAS", "dnnl", 1);
    CHECK(llfc_gemm_init_env() < 0 && contains(llfc_errmsg(), "LLFC_BLAS=dnnl: oneDNN is not available"),
          "LLFC_BLAS=dnnl without oneDNN is an error: %s", llfc_errmsg());
    CHECK(llfc_gemm_backend() == LLFC_GEMM_OPENBLAS, "and the products stay on OpenBLAS");
    check_numbers("OpenBLAS (no oneDNN)");
    unsetenv("LLFC_BLAS");
    CHECK(llfc_dnnl_set_library(NULL) == 0, "oneDNN restored");
}

static void check_env(int have_dnnl)
{
    setenv("LLFC_BLAS", "bogus", 1);
    CHECK(llfc_gemm_init_env() < 0 && contains(llfc_errmsg(), "LLFC_BLAS: unknown BLAS backend 'bogus'"),
          "LLFC_BLAS=bogus is an error naming the variable: %s", llfc_errmsg());
    setenv("LLFC_BLAS", "openblas", 1);
    CHECK(llfc_gemm_init_env() == 0 && llfc_gemm_backend() == LLFC_GEMM_OPENBLAS
          && !strcmp(llfc_gemm_reason(), "LLFC_BLAS=openblas") && contains(llfc_gemm_describe(), "OpenBLAS"),
          "LLFC_BLAS=openblas: %s, %s", llfc_gemm_reason(), llfc_gemm_describe());
    if (have_dnnl) {
        setenv("LLFC_BLAS", "dnnl", 1);
        CHECK(llfc_gemm_init_env() == 0 && llfc_gemm_backend() == LLFC_GEMM_DNNL
              && !strcmp(llfc_gemm_reason(), "LLFC_BLAS=dnnl") && contains(llfc_gemm_describe(), "oneDNN"),
              "LLFC_BLAS=dnnl: %s, %s", llfc_gemm_reason(), llfc_gemm_describe());
    }
    setenv("LLFC_BLAS", "", 1);
    int before = llfc_gemm_backend();
    CHECK(llfc_gemm_init_env() == 0 && llfc_gemm_backend() == before, "an empty LLFC_BLAS changes nothing");
    unsetenv("LLFC_BLAS");
    CHECK(llfc_gemm_set_backend(LLFC_GEMM_AUTO) == 0 && !strncmp(llfc_gemm_reason(), "auto: ", 6),
          "auto: %s -> %s", llfc_gemm_reason(), llfc_gemm_name(llfc_gemm_backend()));
    CHECK(contains(llfc_gemm_reason(), llfc_blas_corename()), "the rule names OpenBLAS's kernels (%s)",
          llfc_blas_corename());
}

int main(void)
{
    /* first, before anything loads oneDNN */
    check_missing_dnnl();
    check_names();
    check_rule();
    int have_dnnl = llfc_dnnl_load() == 0;
    if (!have_dnnl) printf("skip - oneDNN: %s\n", llfc_dnnl_info() ? llfc_dnnl_info() : "built without it");
    check_env(have_dnnl);
    int auto_backend = llfc_gemm_backend();

    CHECK(llfc_gemm_set_backend(LLFC_GEMM_OPENBLAS) == 0 && llfc_gemm_backend() == LLFC_GEMM_OPENBLAS
          && !strcmp(llfc_gemm_name(llfc_gemm_backend()), "openblas"), "OpenBLAS forced: %s", llfc_gemm_describe());
    check_numbers("OpenBLAS");
    check_threads(have_dnnl);
    if (have_dnnl) {
        CHECK(llfc_gemm_set_backend(LLFC_GEMM_DNNL) == 0 && llfc_gemm_backend() == LLFC_GEMM_DNNL
              && !strcmp(llfc_gemm_name(llfc_gemm_backend()), "dnnl") && !strcmp(llfc_gemm_isa(), llfc_dnnl_isa()),
              "oneDNN forced: %s", llfc_gemm_describe());
        CHECK(!strcmp(llfc_gemm_reason(), "set by the program"), "the reason says who chose: %s",
              llfc_gemm_reason());
        check_numbers("oneDNN");
        llfc_blas_set_threads(1);
        check_numbers("oneDNN, 1 thread");
        check_threads(have_dnnl);
    }
    CHECK(llfc_gemm_set_backend(LLFC_GEMM_AUTO) == 0 && llfc_gemm_backend() == auto_backend,
          "back to the automatic choice: %s", llfc_gemm_name(llfc_gemm_backend()));
    return check_summary();
}
