/* test_lap.c - the assignment solver against brute force (every injection,
 * all sizes up to 8) and against an independent Hungarian method written
 * here (Kuhn-Munkres with row potentials) on larger matrices. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "perm/lap.h"

/* ---- brute force over every injection rows -> columns (nr <= nc) -------- */
static double bf_best;
static void bf_rec(int nr, int nc, const double *c, int i, int *used, double acc, int maximize)
{
    if (i == nr) {
        if (maximize ? acc > bf_best : acc < bf_best) bf_best = acc;
        return;
    }
    for (int j = 0; j < nc; j++) {
        if (used[j]) continue;
        used[j] = 1;
        bf_rec(nr, nc, c, i + 1, used, acc + c[i * nc + j], maximize);
        used[j] = 0;
    }
}

/* brute force optimum for any nr, nc (transposes when nr > nc) */
static double brute(int nr, int nc, const double *c, int maximize)
{
    double *t = NULL;
    if (nr > nc) {
        t = malloc(sizeof *t * nr * nc);
        for (int i = 0; i < nr; i++)
            for (int j = 0; j < nc; j++) t[j * nr + i] = c[i * nc + j];
        int k = nr; nr = nc; nc = k;
        c = t;
    }
    int used[16] = {0};
    bf_best = maximize ? -DBL_MAX : DBL_MAX;
    bf_rec(nr, nc, c, 0, used, 0.0, maximize);
    free(t);
    return bf_best;
}

/* ---- an independent Hungarian method (n <= m), minimisation --------------- */
static double hungarian(int n, int m, const double *a, int *rowcol)
{
    double *u = calloc(n + 1, sizeof *u), *v = calloc(m + 1, sizeof *v), *minv = malloc((m + 1) * sizeof *minv);
    int *p = calloc(m + 1, sizeof *p), *way = calloc(m + 1, sizeof *way);
    char *used = malloc(m + 1);
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= m; j++) minv[j] = DBL_MAX;
        memset(used, 0, m + 1);
        do {
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = DBL_MAX;
            for (int j = 1; j <= m; j++)
                if (!used[j]) {
                    double cur = a[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                    if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
                    if (minv[j] < delta) { delta = minv[j]; j1 = j; }
                }
            for (int j = 0; j <= m; j++)
                if (used[j]) { u[p[j]] += delta; v[j] -= delta; }
                else minv[j] -= delta;
            j0 = j1;
        } while (p[j0] != 0);
        do { int j1 = way[j0]; p[j0] = p[j1]; j0 = j1; } while (j0);
    }
    double tot = 0;
    for (int j = 1; j <= m; j++)
        if (p[j]) { rowcol[p[j] - 1] = j - 1; tot += a[(p[j] - 1) * m + j - 1]; }
    free(u); free(v); free(minv); free(p); free(way); free(used);
    return tot;
}

/* the assignment is an injection and its total is the reported one */
static int valid(int nr, int nc, const double *c, const int64_t *as, double total, double *sum)
{
    char used[4096] = {0};
    int k = 0;
    double s = 0;
    for (int i = 0; i < nr; i++) {
        if (as[i] < 0) continue;
        if (as[i] >= nc || used[as[i]]) return 0;
        used[as[i]] = 1;
        s += c[i * nc + as[i]];
        k++;
    }
    *sum = s;
    return k == (nr < nc ? nr : nc) && fabs(s - total) <= 1e-9 * (1 + fabs(s));
}

enum { K_UNIFORM, K_TIES, K_NEG, K_HUGE, K_NKINDS };
static const char *kname[] = {"uniform", "integer ties", "negative", "huge"};

static void fill(llfc_rng *r, int kind, double *c, int n)
{
    for (int k = 0; k < n; k++) {
        switch (kind) {
        case K_UNIFORM: c[k] = llfc_rng_double(r); break;
        case K_TIES: c[k] = (double)llfc_rng_below(r, 4); break;
        case K_NEG: c[k] = -1000.0 * llfc_rng_double(r) + 3.0 * (double)llfc_rng_below(r, 3); break;
        default: c[k] = 1e12 * (double)llfc_rng_below(r, 50) + llfc_rng_double(r) * 1e3; break;
        }
    }
}

static void brute_suite(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 42);
    double c[64];
    int64_t as[8];
    for (int kind = 0; kind < K_NKINDS; kind++)
        for (int mx = 0; mx < 2; mx++)
            for (int nr = 1; nr <= 8; nr++)
                for (int nc = 1; nc <= 8; nc++) {
                    int trials = (nr >= 7 && nc >= 7) ? 4 : (nr * nc > 30 ? 10 : 30);
                    int bad = 0;
                    double relerr = 0;
                    for (int t = 0; t < trials && !bad; t++) {
                        fill(&r, kind, c, nr * nc);
                        double total, sum;
                        if (llfc_lap_solve(nr, nc, c, mx, as, &total)) { bad = 1; break; }
                        if (!valid(nr, nc, c, as, total, &sum)) { bad = 2; break; }
                        double best = brute(nr, nc, c, mx);
                        double tol = kind == K_HUGE ? 1e-12 * fabs(best) + 1e-3 : 1e-9;
                        if (fabs(best - total) > tol) { bad = 3; relerr = total - best; }
                    }
                    if (bad || (nr == nc && (nr == 1 || nr == 8)) || (nr == 3 && nc == 8) || (nr == 8 && nc == 3))
                        CHECK(!bad, "lap %s %dx%d %s: brute force optimum over %d matrices (code %d, diff %g)",
                              mx ? "max" : "min", nr, nc, kname[kind], trials, bad, relerr);
                    else check_count++;
                }
}

static void hungarian_suite(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 7);
    const int sizes[][2] = {{50, 50}, {200, 200}, {301, 301}, {500, 500}, {100, 250}, {250, 100}, {1, 400}, {400, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int kind = 0; kind < K_NKINDS; kind++) {
            int nr = sizes[s][0], nc = sizes[s][1];
            double *c = malloc(sizeof *c * nr * nc), *ct = malloc(sizeof *ct * nr * nc);
            int64_t *as = malloc(sizeof *as * nr);
            int *hc = malloc(sizeof *hc * (nr > nc ? nr : nc));
            fill(&r, kind, c, nr * nc);
            double total, sum, ref;
            int rc = llfc_lap_solve(nr, nc, c, 0, as, &total);
            if (nr <= nc) ref = hungarian(nr, nc, c, hc);
            else {
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < nc; j++) ct[j * nr + i] = c[i * nc + j];
                ref = hungarian(nc, nr, ct, hc);
            }
            double tol = kind == K_HUGE ? 1e-12 * fabs(ref) + 1e-2 : 1e-8 * (1 + fabs(ref));
            CHECK(rc == 0 && valid(nr, nc, c, as, total, &sum) && fabs(total - ref) <= tol,
                  "lap %dx%d %s equals the Hungarian optimum (%.10g vs %.10g)", nr, nc, kname[kind], total, ref);
            free(c); free(ct); free(as); free(hc);
        }
    }
}

/* many medium matrices: the search phase runs after a partial initialisation */
static void medium_suite(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 11);
    for (int kind = 0; kind < K_NKINDS; kind++) {
        int bad = 0, trials = 0;
        for (int n = 9; n <= 120 && !bad; n += 3)
            for (int t = 0; t < 4 && !bad; t++, trials++) {
                int nc = n + (t & 1) * (int)llfc_rng_below(&r, 5);
                double *c = malloc(sizeof *c * n * nc);
                int64_t *as = malloc(sizeof *as * n);
                int *hc = malloc(sizeof *hc * nc);
                fill(&r, kind, c, n * nc);
                double total, sum, ref = hungarian(n, nc, c, hc);
                double tol = kind == K_HUGE ? 1e-12 * fabs(ref) + 1e-2 : 1e-8 * (1 + fabs(ref));
                if (llfc_lap_solve(n, nc, c, t >> 1, as, &total) || !valid(n, nc, c, as, total, &sum)) bad = 1;
                else if (!(t >> 1) && fabs(total - ref) > tol) bad = 2;
                else if (t >> 1) { /* maximise: compare with the Hungarian on -C */
                    for (int k = 0; k < n * nc; k++) c[k] = -c[k];
                    ref = -hungarian(n, nc, c, hc);
                    if (fabs(total - ref) > tol) bad = 3;
                }
                free(c); free(as); free(hc);
            }
        CHECK(!bad, "lap %s: %d matrices from 9x9 to 120x124 equal the Hungarian optimum (code %d)", kname[kind], trials, bad);
    }
}

/* warm starts: exact whatever the starting assignment and prices */
static void warm_suite(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 21);
    int bad = 0, trials = 0;
    for (int n = 5; n <= 150 && !bad; n += 29)
        for (int kind = 0; kind < K_NKINDS && !bad; kind++, trials++) {
            double *c = malloc(sizeof *c * n * n), *v = calloc(n, sizeof *v);
            float *cf = malloc(sizeof *cf * n * n);
            int64_t *as = malloc(sizeof *as * n);
            int *hc = malloc(sizeof *hc * n);
            fill(&r, kind, c, n * n);
            for (int k = 0; k < n * n; k++) cf[k] = (float)c[k];
            for (int i = 0; i < n; i++) as[i] = -1; /* not a permutation: cold */
            double total, ref;
            for (int step = 0; step < 4 && !bad; step++) {
                int mx = step & 1;
                if (llfc_lap_solve_warm_f32(n, cf, mx, as, v, &total)) { bad = 1; break; }
                for (int k = 0; k < n * n; k++) c[k] = mx ? -(double)cf[k] : (double)cf[k];
                ref = hungarian(n, n, c, hc);
                if (mx) ref = -ref;
                double sum = 0;
                for (int i = 0; i < n; i++) sum += cf[i * n + as[i]];
                double tol = kind == K_HUGE ? 1e-12 * fabs(ref) + 1e-2 : 1e-6 * (1 + fabs(ref));
                if (fabs(total - ref) > tol || fabs(sum - total) > tol) bad = 2 + step;
                /* perturb a few entries, as between weight matching sweeps */
                for (int k = 0; k < n; k++) cf[llfc_rng_below(&r, n * n)] += (float)(llfc_rng_double(&r) - 0.5);
                if (step == 2) llfc_rng_shuffle(&r, as, n); /* a stale permutation */
            }
            free(c); free(v); free(cf); free(as); free(hc);
        }
    CHECK(!bad, "lap warm starts (stale assignments and prices, min and max) equal the Hungarian optimum on %d matrices (code %d)",
          trials, bad);
}

static void misc_suite(void)
{
    double c[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
    int64_t as[8];
    double total;
    /* hand-computed: rows -> cols 1, 0, 2: 1 + 2 + 2 = 5 */
    CHECK(llfc_lap_solve(3, 3, c, 0, as, &total) == 0 && total == 5.0 && as[0] == 1 && as[1] == 0 && as[2] == 2,
          "lap 3x3 hand example: assignment 1 0 2, total 5");
    CHECK(llfc_lap_solve(3, 3, c, 1, as, &total) == 0 && total == 11.0, "lap 3x3 hand example maximised: 11");
    float cf[6] = {1.5f, 0.25f, 9.0f, 2.0f, 3.0f, 0.5f};
    CHECK(llfc_lap_solve_f32(2, 3, cf, 0, as, &total) == 0 && total == 0.75 && as[0] == 1 && as[1] == 2,
          "lap float32 2x3: total 0.75");
    CHECK(llfc_lap_solve_f32(3, 2, cf, 0, as, &total) == 0 && total == 2.0,
          "lap float32 3x2: total 2");
    CHECK(as[0] == 0 && as[1] == -1 && as[2] == 1, "lap 3x2 leaves one row unassigned (-1): %lld %lld %lld",
          (long long)as[0], (long long)as[1], (long long)as[2]);
    double bad[4] = {1, 2, NAN, 4};
    CHECK(llfc_lap_solve(2, 2, bad, 0, as, &total) == -1 && strstr(llfc_errmsg(), "cost[2][1] is nan"),
          "lap rejects NaN: %s", llfc_errmsg());
    bad[2] = -INFINITY;
    CHECK(llfc_lap_solve(2, 2, bad, 1, as, &total) == -1 && strstr(llfc_errmsg(), "-inf"), "lap rejects -inf: %s",
          llfc_errmsg());
    float badf[4] = {1, INFINITY, 0, 4};
    CHECK(llfc_lap_solve_f32(2, 2, badf, 0, as, &total) == -1 && strstr(llfc_errmsg(), "cost[1][2] is inf"),
          "lap rejects +inf (float32): %s", llfc_errmsg());
    CHECK(llfc_lap_solve(0, 3, c, 0, as, &total) == 0 && total == 0.0, "lap 0x3 is empty, total 0");
    /* all-equal costs: any permutation is optimal; it must still be one */
    double z[25] = {0};
    double sum;
    CHECK(llfc_lap_solve(5, 5, z, 0, as, &total) == 0 && valid(5, 5, z, as, total, &sum), "lap all-zero 5x5 is a permutation");
    /* a planted permutation in a similarity matrix is recovered exactly */
    enum { N = 300 };
    double *s = malloc(sizeof *s * N * N);
    int64_t *pa = malloc(sizeof *pa * N), *perm = malloc(sizeof *perm * N);
    llfc_rng r;
    llfc_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) perm[i] = i;
    llfc_rng_shuffle(&r, perm, N);
    for (int i = 0; i < N * N; i++) s[i] = llfc_rng_double(&r);
    for (int i = 0; i < N; i++) s[i * N + perm[i]] = 2.0;
    int ok = llfc_lap_solve(N, N, s, 1, pa, &total) == 0 && total == 2.0 * N;
    for (int i = 0; i < N && ok; i++) ok = pa[i] == perm[i];
    CHECK(ok, "lap maximize recovers a planted 300-permutation");
    free(s); free(pa); free(perm);
}

/* The search's portable and AVX2 loops give the same assignment and prices
 * (float32 and float64 costs, min and max, ties, rectangular both ways, warm
 * starts from stale assignments and prices, widths that are no multiple of 4). */
static void kernel_suite(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 5);
    const int sizes[][2] = {{7, 7}, {37, 37}, {130, 130}, {13, 50}, {50, 13}, {1, 9}, {9, 1}, {64, 67}};
    int bad = 0, trials = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] && !bad; s++)
        for (int kind = 0; kind < K_NKINDS && !bad; kind++)
            for (int mx = 0; mx < 2 && !bad; mx++, trials++) {
                int nr = sizes[s][0], nc = sizes[s][1], nmax = nr > nc ? nr : nc;
                double *c = malloc(sizeof *c * nr * nc), *v[2];
                float *cf = malloc(sizeof *cf * nr * nc);
                int64_t *as[2][3];
                fill(&r, kind, c, nr * nc);
                for (int k = 0; k < nr * nc; k++) cf[k] = (float)c[k];
                double tot[2][3];
                for (int ker = 0; ker < 2; ker++) {
                    llfc_lap_portable(ker == 0);
                    for (int t = 0; t < 3; t++) as[ker][t] = malloc(sizeof(int64_t) * nmax);
                    v[ker] = calloc(nmax, sizeof(double));
                    if (llfc_lap_solve(nr, nc, c, mx, as[ker][0], &tot[ker][0]) ||
                        llfc_lap_solve_f32(nr, nc, cf, mx, as[ker][1], &tot[ker][1]))
                        bad = 1;
                    if (nr == nc) { /* cold, then warm from a stale answer and perturbed costs */
                        for (int i = 0; i < nr; i++) as[ker][2][i] = -1;
                        if (llfc_lap_solve_warm_f32(nr, cf, mx, as[ker][2], v[ker], &tot[ker][2])) bad = 1;
                        llfc_rng_seed(&r, 100 + trials); /* the same perturbation for both kernels */
                        for (int k = 0; k < nr; k++) cf[llfc_rng_below(&r, nr * nr)] += (float)(llfc_rng_double(&r) - 0.5);
                        if (llfc_lap_solve_warm_f32(nr, cf, mx, as[ker][2], v[ker], &tot[ker][2])) bad = 1;
                        for (int k = 0; k < nr * nc; k++) cf[k] = (float)c[k];
                    }
                }
                llfc_lap_portable(0);
                for (int t = 0; t < (nr == nc ? 3 : 2) && !bad; t++) {
                    if (tot[0][t] != tot[1][t]) bad = 2;
                    for (int i = 0; i < nr && !bad; i++)
                        if (as[0][t][i] != as[1][t][i]) bad = 3;
                }
                if (nr == nc)
                    for (int j = 0; j < nc && !bad; j++)
                        if (v[0][j] != v[1][j]) bad = 4;
                /* and the answer is optimal: the Hungarian method on the float64 matrix */
                if (!bad && nr <= nc) {
                    int *hc = malloc(sizeof *hc * nc);
                    if (mx) for (int k = 0; k < nr * nc; k++) c[k] = -c[k];
                    double ref = hungarian(nr, nc, c, hc);
                    if (mx) ref = -ref;
                    double tol = kind == K_HUGE ? 1e-12 * fabs(ref) + 1e-2 : 1e-8 * (1 + fabs(ref));
                    if (fabs(tot[0][0] - ref) > tol) bad = 5;
                    free(hc);
                }
                for (int ker = 0; ker < 2; ker++) {
                    for (int t = 0; t < 3; t++) free(as[ker][t]);
                    free(v[ker]);
                }
                free(c); free(cf);
            }
    CHECK(!bad, "lap portable and AVX2 search loops: the same assignments, totals and warm prices on %d matrices, "
          "optimal (code %d)", trials, bad);
}

int main(void)
{
    /* every suite with the portable search loops, then with AVX2 where the CPU has it */
    for (int portable = 1; portable >= 0; portable--) {
        llfc_lap_portable(portable);
        brute_suite();
        hungarian_suite();
        medium_suite();
        warm_suite();
        misc_suite();
    }
    kernel_suite();
    return check_summary();
}
