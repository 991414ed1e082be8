/* lap.c - exact linear assignment: Jonker-Volgenant shortest augmenting path.
 *
 * Minimisation of sum_i C[i, x[i]] over injective x: rows -> columns for an
 * nr x nc matrix with nr <= nc (the caller transposes otherwise).  The method
 * keeps column prices v and the invariant
 *
 *     every assigned row i takes a column of least reduced cost C[i,j] - v[j]
 *
 * (so u[i] = C[i, x[i]] - v[x[i]] and v are dual feasible and complementary
 * slack).  Each free row is then added by a Dijkstra search over columns for
 * the cheapest augmenting path in reduced costs, and the prices of the columns
 * fixed by the search are updated so that the invariant still holds.
 *
 * For square matrices the search is preceded by the cheap initialisation of
 * Jonker & Volgenant (1987): column reduction, reduction transfer and two
 * rounds of augmenting row reduction (each capped at 2n steps: an auction
 * that long costs more than the searches it saves), which leave only a few
 * rows for the expensive phase on dense random costs.  Each step keeps the
 * invariant, so the result is exact all the same.  When column reduction
 * leaves more than half the rows free (a few rows hold most column minima,
 * as in similarity matrices of features), the searches start from zero
 * prices instead, which measured faster on such matrices.  For rectangular matrices the prices start
 * at 0 and unassigned columns keep price 0, which is the extra optimality
 * condition of the rectangular problem; the initialisation is skipped there.
 *
 * Memory: O(nr + nc) work arrays allocated once; the cost is read row by row.
 */
#include "perm/lap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LAP_X86 1
#endif

typedef struct {
    int nr, nc;
    const double *cd; /* [nr, nc] the costs in float64, or NULL: */
    const float *cf;  /* [nr, nc] float32 costs, times sign */
    double sign;      /* 1 or -1 (maximisation of cf) */
    double *row;      /* [nc] one row of cf in float64 (crow) */
    int *x;           /* [nr] column of each row, -1 if free */
    int *y;           /* [nc] row of each column, -1 if free */
    double *v;        /* [nc] column prices */
    double *d;        /* [nc] path lengths of the current search; +inf once fixed */
    double *vm;       /* [nc] v during a search, -inf once fixed */
    double *dfix;     /* [nc] path length of each fixed column */
    int *pred;        /* [nc] row preceding each column on its path */
    int *cols;        /* [nc] columns in the order the search fixed them */
    int *freerows;    /* [nr] */
    int avx2;         /* the search loops run in AVX2 */
} lap_work;

/* Row i of the working costs in float64 (the float32 ones are converted on
 * the way: one pass, instead of a float64 copy of the whole matrix). */
static const double *crow(lap_work *w, int i)
{
    int n = w->nc;
    if (w->cd) return w->cd + (size_t)i * n;
    const float *src = w->cf + (size_t)i * n;
    for (int j = 0; j < n; j++) w->row[j] = w->sign * (double)src[j];
    return w->row;
}

static double cat(const lap_work *w, int i, int j)
{
    size_t k = (size_t)i * w->nc + j;
    return w->cd ? w->cd[k] : w->sign * (double)w->cf[k];
}

/* ---- initialisation (square only) ------------------------------------- */

/* Column reduction and reduction transfer; returns the number of free rows
 * (stored in w->freerows).  v[j] = min_i C[i,j]; each column goes to its
 * argmin row if that row has none yet; a row that got exactly one column
 * then transfers its slack to that column's price. */
static int column_reduction(lap_work *w)
{
    int n = w->nc;
    int *x = w->x, *y = w->y;
    double *v = w->v;
    for (int j = 0; j < n; j++) { v[j] = INFINITY; y[j] = -1; }
    for (int i = 0; i < n; i++) {
        const double *ci = crow(w, i);
        x[i] = -1;
        for (int j = 0; j < n; j++)
            if (ci[j] < v[j]) { v[j] = ci[j]; y[j] = i; }
    }
    /* unique[i]: row i is the argmin of exactly one column (reuse freerows) */
    char *unique = (char *)w->pred; /* nc ints >= n chars, unused until the search */
    for (int i = 0; i < n; i++) unique[i] = 1;
    for (int j = n - 1; j >= 0; j--) {
        int i = y[j];
        if (x[i] < 0) x[i] = j;
        else { unique[i] = 0; y[j] = -1; }
    }
    int nfree = 0;
    for (int i = 0; i < n; i++) {
        if (x[i] < 0) { w->freerows[nfree++] = i; continue; }
        if (!unique[i]) continue;
        /* reduction transfer: lower v[x[i]] by the row's second best slack */
        int j = x[i];
        const double *ci = crow(w, i);
        double m = INFINITY;
        for (int k = 0; k < n; k++)
            if (k != j && ci[k] - v[k] < m) m = ci[k] - v[k];
        if (m < INFINITY) v[j] -= m;
    }
    return nfree;
}

/* Augmenting row reduction: each free row takes its cheapest column,
 * lowering that column's price to the row's second best reduced cost, and
 * the column's former row becomes free.  Returns the new number of free rows. */
static int augmenting_row_reduction(lap_work *w, int nfree)
{
    int n = w->nc;
    int *x = w->x, *y = w->y, *fr = w->freerows;
    double *v = w->v;
    int current = 0, newfree = 0;
    int64_t count = 0, cap = 2 * (int64_t)n; /* beyond ~2n steps the search phase is cheaper */
    while (current < nfree) {
        count++;
        int i = fr[current++];
        const double *ci = crow(w, i);
        /* the two smallest reduced costs of row i */
        int j1 = 0, j2 = -1;
        double u1 = ci[0] - v[0], u2 = INFINITY;
        for (int j = 1; j < n; j++) {
            double h = ci[j] - v[j];
            if (h < u2) {
                if (h >= u1) { u2 = h; j2 = j; }
                else { u2 = u1; u1 = h; j2 = j1; j1 = j; }
            }
        }
        if (j2 < 0) u2 = u1; /* a single column: nothing to transfer */
        int i0 = y[j1];
        double v1new = v[j1] - (u2 - u1);
        int lowers = v1new < v[j1];
        if (count < (int64_t)current * n && count < cap) {
            if (lowers) v[j1] = v1new;
            else if (i0 >= 0 && j2 >= 0) { j1 = j2; i0 = y[j2]; }
            if (i0 >= 0) {
                if (lowers) fr[--current] = i0;
                else fr[newfree++] = i0;
            }
        } else if (i0 >= 0) {
            fr[newfree++] = i0;
        }
        x[i] = j1;
        y[j1] = i;
        if (i0 >= 0) x[i0] = -1;
    }
    return newfree;
}

/* ---- the augmenting phase ------------------------------------------------ */

/* The search's two loops, over all nc columns in index order (a fixed
 * column has vm = -inf and d = +inf, so it neither relaxes nor wins):
 *
 *   relax: d[j] = min(d[j], C[i,j] - vm[j] - h), pred[j] = i where it
 *          lowered; returns min_j d[j];
 *   pick:  the first free column j with d[j] == m, else the first j with
 *          d[j] == m.
 *
 * Each runs as plain C and, on a CPU with AVX2, in 4-wide float64 vectors.
 * Both do the same float64 operations (exact conversions, subtractions and
 * comparisons, no contraction), so both find the same path. */
static double relax_c(const lap_work *w, int i, double h)
{
    int n = w->nc, *pred = w->pred;
    double *d = w->d, mn = INFINITY;
    const double *vm = w->vm;
    if (w->cd) {
        const double *ci = w->cd + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double r = ci[j] - vm[j] - h;
            if (r < d[j]) { d[j] = r; pred[j] = i; }
            if (d[j] < mn) mn = d[j];
        }
    } else {
        const float *ci = w->cf + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double r = w->sign * (double)ci[j] - vm[j] - h;
            if (r < d[j]) { d[j] = r; pred[j] = i; }
            if (d[j] < mn) mn = d[j];
        }
    }
    return mn;
}

/* min_j C[i,j] - v[j]: whether row i's column is still of least reduced cost */
static double rowmin_c(const lap_work *w, int i)
{
    int n = w->nc;
    double mn = INFINITY;
    if (w->cd) {
        const double *ci = w->cd + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double h = ci[j] - w->v[j];
            if (h < mn) mn = h;
        }
    } else {
        const float *ci = w->cf + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double h = w->sign * (double)ci[j] - w->v[j];
            if (h < mn) mn = h;
        }
    }
    return mn;
}

static int pick_c(const lap_work *w, double m)
{
    int first = -1;
    for (int j = 0; j < w->nc; j++)
        if (w->d[j] == m) {
            if (w->y[j] < 0) return j;
            if (first < 0) first = j;
        }
    return first;
}

#ifdef LAP_X86
__attribute__((target("avx2"))) static double relax_avx2(const lap_work *w, int i, double h)
{
    int n = w->nc, *pred = w->pred, j = 0;
    double *d = w->d;
    const double *vm = w->vm;
    const __m256d vh = _mm256_set1_pd(h), vs = _mm256_set1_pd(w->sign);
    const __m128i vi = _mm_set1_epi32(i);
    const __m256i lo32 = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    __m256d mn = _mm256_set1_pd(INFINITY);
    const double *cd = w->cd ? w->cd + (size_t)i * n : NULL;
    const float *cf = w->cf ? w->cf + (size_t)i * n : NULL;
    for (; j + 4 <= n; j += 4) {
        __m256d c = cd ? _mm256_loadu_pd(cd + j) : _mm256_mul_pd(vs, _mm256_cvtps_pd(_mm_loadu_ps(cf + j)));
        __m256d r = _mm256_sub_pd(_mm256_sub_pd(c, _mm256_loadu_pd(vm + j)), vh);
        __m256d dj = _mm256_loadu_pd(d + j);
        __m256d lt = _mm256_cmp_pd(r, dj, _CMP_LT_OQ);
        dj = _mm256_blendv_pd(dj, r, lt);
        _mm256_storeu_pd(d + j, dj);
        mn = _mm256_min_pd(mn, dj);
        if (_mm256_movemask_pd(lt)) {
            __m128i m32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(lt), lo32));
            __m128i p = _mm_loadu_si128((const __m128i *)(pred + j));
            _mm_storeu_si128((__m128i *)(pred + j), _mm_blendv_epi8(p, vi, m32));
        }
    }
    __m128d m2 = _mm_min_pd(_mm256_castpd256_pd128(mn), _mm256_extractf128_pd(mn, 1));
    m2 = _mm_min_sd(m2, _mm_unpackhi_pd(m2, m2));
    double best = _mm_cvtsd_f64(m2);
    for (; j < n; j++) {
        double c = cd ? cd[j] : w->sign * (double)cf[j];
        double r = c - vm[j] - h;
        if (r < d[j]) { d[j] = r; pred[j] = i; }
        if (d[j] < best) best = d[j];
    }
    return best;
}

__attribute__((target("avx2"))) static int pick_avx2(const lap_work *w, double m)
{
    int n = w->nc, first = -1, j = 0;
    const double *d = w->d;
    const __m256d vm = _mm256_set1_pd(m);
    for (; j + 16 <= n; j += 16) { /* 16 columns a test: hits are rare */
        __m256d e0 = _mm256_cmp_pd(_mm256_loadu_pd(d + j), vm, _CMP_EQ_OQ);
        __m256d e1 = _mm256_cmp_pd(_mm256_loadu_pd(d + j + 4), vm, _CMP_EQ_OQ);
        __m256d e2 = _mm256_cmp_pd(_mm256_loadu_pd(d + j + 8), vm, _CMP_EQ_OQ);
        __m256d e3 = _mm256_cmp_pd(_mm256_loadu_pd(d + j + 12), vm, _CMP_EQ_OQ);
        if (!_mm256_movemask_pd(_mm256_or_pd(_mm256_or_pd(e0, e1), _mm256_or_pd(e2, e3)))) continue;
        unsigned k = (unsigned)_mm256_movemask_pd(e0) | (unsigned)_mm256_movemask_pd(e1) << 4 |
                     (unsigned)_mm256_movemask_pd(e2) << 8 | (unsigned)_mm256_movemask_pd(e3) << 12;
        while (k) {
            int jj = j + __builtin_ctz(k);
            if (w->y[jj] < 0) return jj;
            if (first < 0) first = jj;
            k &= k - 1;
        }
    }
    for (; j < n; j++)
        if (d[j] == m) {
            if (w->y[j] < 0) return j;
            if (first < 0) first = j;
        }
    return first;
}

__attribute__((target("avx2"))) static double rowmin_avx2(const lap_work *w, int i)
{
    int n = w->nc, j = 0;
    const double *cd = w->cd ? w->cd + (size_t)i * n : NULL;
    const float *cf = w->cf ? w->cf + (size_t)i * n : NULL;
    const __m256d vs = _mm256_set1_pd(w->sign);
    __m256d mn = _mm256_set1_pd(INFINITY);
    for (; j + 4 <= n; j += 4) {
        __m256d c = cd ? _mm256_loadu_pd(cd + j) : _mm256_mul_pd(vs, _mm256_cvtps_pd(_mm_loadu_ps(cf + j)));
        mn = _mm256_min_pd(mn, _mm256_sub_pd(c, _mm256_loadu_pd(w->v + j)));
    }
    __m128d m2 = _mm_min_pd(_mm256_castpd256_pd128(mn), _mm256_extractf128_pd(mn, 1));
    m2 = _mm_min_sd(m2, _mm_unpackhi_pd(m2, m2));
    double best = _mm_cvtsd_f64(m2);
    for (; j < n; j++) {
        double h = (cd ? cd[j] : w->sign * (double)cf[j]) - w->v[j];
        if (h < best) best = h;
    }
    return best;
}

static int have_avx2(void) { return __builtin_cpu_supports("avx2"); }
#else
static double relax_avx2(const lap_work *w, int i, double h) { return relax_c(w, i, h); }
static int pick_avx2(const lap_work *w, double m) { return pick_c(w, m); }
static double rowmin_avx2(const lap_work *w, int i) { return rowmin_c(w, i); }
static int have_avx2(void) { return 0; }
#endif

static int portable_only; /* llfc_lap_portable() */

int llfc_lap_portable(int on)
{
    int old = portable_only;
    if (on >= 0) portable_only = on != 0;
    return old;
}

/* Dijkstra from free row i0 over the columns, in reduced costs
 * C[i,j] - v[j] - u_i (u_i = the reduced cost of row i's own column).  Each
 * step fixes the nearest remaining column (preferring a free one among
 * equals), stops if it is free, else relaxes the remaining columns through
 * its row and finds the next nearest in the same pass.  Returns the free
 * column ending the shortest augmenting path (pred[] holds the path) after
 * updating the prices of the fixed columns. */
static int find_path(lap_work *w, int i0)
{
    int n = w->nc, *cols = w->cols, *y = w->y;
    double *d = w->d, *v = w->v, *vm = w->vm, *dfix = w->dfix;
    memcpy(vm, v, (size_t)n * sizeof *vm);
    for (int j = 0; j < n; j++) d[j] = INFINITY;
    double m = w->avx2 ? relax_avx2(w, i0, 0.0) : relax_c(w, i0, 0.0);
    int done = 0, last;
    for (;;) {
        int j = w->avx2 ? pick_avx2(w, m) : pick_c(w, m);
        cols[done++] = j;
        if (y[j] < 0) { last = j; break; }
        int i = y[j];
        double h = cat(w, i, j) - v[j] - m;
        dfix[j] = m;
        vm[j] = -INFINITY;
        d[j] = INFINITY;
        m = w->avx2 ? relax_avx2(w, i, h) : relax_c(w, i, h);
    }
    for (int k = 0; k < done - 1; k++) {
        int j = cols[k];
        v[j] += dfix[j] - m;
    }
    return last;
}

static int augment(lap_work *w, int nfree)
{
    int *x = w->x, *y = w->y;
    for (int f = 0; f < nfree; f++) {
        if ((f & 15) == 0 && llfc_check_interrupt()) return -1;
        int i0 = w->freerows[f];
        int j = find_path(w, i0), i;
        do { /* flip the path back to i0 */
            i = w->pred[j];
            y[j] = i;
            int t = x[i];
            x[i] = j;
            j = t;
        } while (i != i0);
    }
    return 0;
}

/* Solve the nr x nc (nr <= nc) minimisation in c; x[nr] receives columns. */
/* Warm start (square): x0[] a previous assignment, v0[] its prices.  Rows
 * whose column is no longer of least reduced cost are freed; the others keep
 * it, which is all the invariant asks.  Returns the number of free rows. */
static int warm_start(lap_work *w, const int *x0, const double *v0)
{
    int n = w->nc, nfree = 0;
    memcpy(w->v, v0, (size_t)n * sizeof *w->v);
    for (int j = 0; j < n; j++) w->y[j] = -1;
    for (int i = 0; i < n; i++) w->y[x0[i]] = i;
    for (int i = 0; i < n; i++) {
        double m = w->avx2 ? rowmin_avx2(w, i) : rowmin_c(w, i);
        int j = x0[i];
        if (cat(w, i, j) - w->v[j] <= m) w->x[i] = j;
        else { w->x[i] = -1; w->y[j] = -1; w->freerows[nfree++] = i; }
    }
    return nfree;
}

static int solve_min(int nr, int nc, const double *cd, const float *cf, double sign, int *xout, const int *x0,
                     double *v0)
{
    lap_work w = {.nr = nr, .nc = nc, .cd = cd, .cf = cf, .sign = sign};
    w.avx2 = !portable_only && have_avx2();
    size_t ni = (size_t)nc * 4 + (size_t)nr * 2;
    int *ib = llfc_mallocarray(ni, sizeof(int));
    double *db = llfc_mallocarray((size_t)nc * 5, sizeof(double));
    if (!ib || !db) { free(ib); free(db); return -1; }
    w.y = ib;
    w.pred = ib + nc;
    w.cols = ib + 2 * (size_t)nc;
    w.x = ib + 4 * (size_t)nc;  /* (one spare nc-block for alignment) */
    w.freerows = w.x + nr;
    w.v = db;
    w.d = db + nc;
    w.vm = db + 2 * (size_t)nc;
    w.dfix = db + 3 * (size_t)nc;
    w.row = db + 4 * (size_t)nc;
    int nfree;
    if (x0 && nr == nc) nfree = warm_start(&w, x0, v0);
    else nfree = nr == nc ? column_reduction(&w) : nr;
    if (x0 && nr == nc) {
        /* warm: nothing more to prepare */
    } else if (nr == nc && 2 * nfree <= nr) {
        for (int round = 0; round < 2 && nfree > 0; round++)
            nfree = augmenting_row_reduction(&w, nfree);
    } else {
        /* rectangular, or a few rows take most column minima (a dominant
         * structure: inner products of features, i*j): searching from zero
         * prices is faster there than from the reduced ones */
        for (int j = 0; j < nc; j++) { w.v[j] = 0.0; w.y[j] = -1; }
        for (int i = 0; i < nr; i++) { w.x[i] = -1; w.freerows[i] = i; }
        nfree = nr;
    }
    int rc = augment(&w, nfree);
    if (rc == 0) memcpy(xout, w.x, (size_t)nr * sizeof *xout);
    if (rc == 0 && v0) memcpy(v0, w.v, (size_t)nc * sizeof *v0);
    free(ib);
    free(db);
    return rc;
}

/* ---- public entry points ----------------------------------------------------- */

static int check_dims(int64_t nr, int64_t nc)
{
    if (nr < 0 || nc < 0) return llfc_seterr("bad cost matrix size %lldx%lld", (long long)nr, (long long)nc);
    if (nr > (1 << 28) || nc > (1 << 28) || (double)nr * (double)nc > 4e18)
        return llfc_seterr("cost matrix %lldx%lld is too large", (long long)nr, (long long)nc);
    return 0;
}


/* No entry is inf or NaN (all exponent bits set); branch-free, so that the
 * compiler vectorises it. */
LLFC_VECTOR_CLONES LLFC_VECTORIZE static int all_finite(const void *src, int f32, size_t n)
{
    const unsigned char *p = src;
    if (f32) {
        uint32_t bad = 0;
        for (size_t k = 0; k < n; k++) {
            uint32_t b;
            memcpy(&b, p + 4 * k, 4);
            bad |= (b & 0x7f800000u) == 0x7f800000u;
        }
        return !bad;
    }
    uint64_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t b;
        memcpy(&b, p + 8 * k, 8);
        bad |= (b & 0x7ff0000000000000u) == 0x7ff0000000000000u;
    }
    return !bad;
}

/* Common path: src is either float or double (f32 != 0), validated, then
 * solved in place (float32, or float64 when minimising) or from a float64
 * copy (transposed when nr > nc, negated when maximising). */
static int solve_any(int64_t nr, int64_t nc, const void *src, int f32, int maximize,
                     int64_t *assign, double *total, double *vwarm)
{
    if (check_dims(nr, nc)) return -1;
    *total = 0.0;
    int *x0 = NULL; /* a warm start: assign[] on entry, if it is a permutation */
    if (vwarm && nr == nc && nr > 0) {
        char *seen = llfc_calloc((size_t)nr, 1);
        x0 = llfc_mallocarray((size_t)nr, sizeof *x0);
        if (!seen || !x0) { free(seen); free(x0); return -1; }
        for (int64_t i = 0; i < nr && x0; i++) {
            if (assign[i] < 0 || assign[i] >= nr || seen[assign[i]]) { free(x0); x0 = NULL; break; }
            seen[assign[i]] = 1;
            x0[i] = (int)assign[i];
        }
        free(seen);
    }
    for (int64_t i = 0; i < nr; i++) assign[i] = -1;
    if (nr == 0 || nc == 0) return 0;
    const float *sf = src;
    const double *sd = src;
    int tr = nr > nc;
    int64_t n = tr ? nc : nr, m = tr ? nr : nc; /* working matrix n x m, n <= m */
    double sign = maximize ? -1.0 : 1.0;
    const double *c = NULL;
    const float *cf = NULL;
    double *buf = NULL;
    /* validate: a fast pass over the exponent bits, then the first bad entry */
    if (!all_finite(src, f32, (size_t)nr * (size_t)nc)) {
        for (int64_t i = 0; i < nr; i++)
            for (int64_t j = 0; j < nc; j++) {
                double e = f32 ? (double)sf[i * nc + j] : sd[i * nc + j];
                if (!isfinite(e)) {
                    free(x0);
                    return llfc_seterr("cost[%lld][%lld] is %s: costs must be finite", (long long)i + 1,
                                       (long long)j + 1, isnan(e) ? "nan" : e > 0 ? "inf" : "-inf");
                }
            }
    }
    if (!f32 && !tr && !maximize) {
        c = sd;
    } else if (f32 && !tr) {
        cf = sf; /* read as sign * (double)cf[k] */
    } else {
        buf = llfc_mallocarray((size_t)n * (size_t)m, sizeof *buf);
        if (!buf) { free(x0); return -1; }
        if (!tr) {
            for (int64_t k = 0; k < n * m; k++) buf[k] = sign * (f32 ? (double)sf[k] : sd[k]);
        } else { /* buf[j][i] = src[i][j]: blocked for cache */
            for (int64_t i0 = 0; i0 < nr; i0 += 64)
                for (int64_t j0 = 0; j0 < nc; j0 += 64)
                    for (int64_t i = i0; i < i0 + 64 && i < nr; i++)
                        for (int64_t j = j0; j < j0 + 64 && j < nc; j++)
                            buf[j * nr + i] = sign * (f32 ? (double)sf[i * nc + j] : sd[i * nc + j]);
        }
        c = buf;
    }
    int *x = llfc_mallocarray((size_t)n, sizeof *x);
    if (!x) { free(buf); free(x0); return -1; }
    int rc = solve_min((int)n, (int)m, c, cf, cf ? sign : 1.0, x, x0, vwarm); /* vwarm gets the final prices */
    if (rc == 0) {
        double t = 0.0;
        for (int64_t i = 0; i < n; i++) {
            int64_t r = tr ? x[i] : i, col = tr ? i : x[i];
            assign[r] = col;
            t += f32 ? (double)sf[r * nc + col] : sd[r * nc + col];
        }
        *total = t;
    }
    free(x);
    free(x0);
    free(buf);
    return rc;
}

int llfc_lap_solve(int64_t nr, int64_t nc, const double *cost, int maximize, int64_t *assign, double *total)
{
    return solve_any(nr, nc, cost, 0, maximize, assign, total, NULL);
}

int llfc_lap_solve_f32(int64_t nr, int64_t nc, const float *cost, int maximize, int64_t *assign, double *total)
{
    return solve_any(nr, nc, cost, 1, maximize, assign, total, NULL);
}

int llfc_lap_solve_warm_f32(int64_t n, const float *cost, int maximize, int64_t *assign, double *v, double *total)
{
    return solve_any(n, n, cost, 1, maximize, assign, total, v);
}
