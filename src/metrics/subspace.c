/* subspace.c - principal angles between feature subspaces (see subspace.h).
 * The SVDs are LAPACK's dgesdd from OpenBLAS, declared here (Debian ships
 * no LAPACK header with libopenblas-dev); the Fortran string length of jobz
 * is passed as gfortran expects. */
#include "metrics/subspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
                    const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
                    size_t jobz_len);

/* The SVD of the column-major m x n matrix a (destroyed): s[min], u [m, min]
 * column-major (jobz 'S'; vt not wanted is still written to vt [min, n]). */
static int svd(int m, int n, double *a, double *s, double *u, double *vt)
{
    int mn = m < n ? m : n, lwork = -1, info = 0;
    double q;
    int *iwork = llfc_mallocarray((size_t)(8 * mn), sizeof *iwork);
    if (!iwork) return -1;
    dgesdd_("S", &m, &n, a, &m, s, u, &m, vt, &mn, &q, &lwork, iwork, &info, 1);
    if (info == 0) {
        lwork = (int)q + 1;
        double *work = llfc_mallocarray((size_t)lwork, sizeof *work);
        if (!work) { free(iwork); return -1; }
        dgesdd_("S", &m, &n, a, &m, s, u, &m, vt, &mn, work, &lwork, iwork, &info, 1);
        free(work);
    }
    free(iwork);
    if (info < 0) return llfc_seterr("dgesdd: argument %d is wrong", -info);
    if (info > 0) return llfc_seterr("dgesdd did not converge (%d)", info);
    return 0;
}

int llfc_top_left_singular(const float *F, int64_t n, int64_t d, int k, double *U, double *sv)
{
    if (k < 1 || k > n || k > d)
        return llfc_seterr("k = %d: need 1 <= k <= min(samples %lld, width %lld)", k, (long long)n, (long long)d);
    if (n > 46340 || d > 46340 * 4) return llfc_seterr("%lld x %lld features are too many", (long long)n, (long long)d);
    int64_t m = d <= n ? d : n; /* the Gram matrix is m x m */
    float *G = llfc_mallocarray((size_t)(m * m), sizeof *G);
    double *g = llfc_mallocarray((size_t)(m * m), sizeof *g), *s = llfc_mallocarray((size_t)m, sizeof *s);
    double *u = llfc_mallocarray((size_t)(m * m), sizeof *u), *vt = llfc_mallocarray((size_t)(m * m), sizeof *vt);
    int rc = -1;
    if (!G || !g || !s || !u || !vt) goto done;
    if (d <= n) llfc_gemm(1, 0, (int)d, (int)d, (int)n, 1.0f, F, (int)d, F, (int)d, 0.0f, G, (int)d); /* F^T F */
    else llfc_gemm(0, 1, (int)n, (int)n, (int)d, 1.0f, F, (int)d, F, (int)d, 0.0f, G, (int)n);      /* F F^T */
    for (int64_t i = 0; i < m * m; i++) g[i] = G[i]; /* symmetric: row- and column-major alike */
    if (svd((int)m, (int)m, g, s, u, vt)) goto done;
    for (int j = 0; j < k; j++) sv[j] = sqrt(s[j] > 0 ? s[j] : 0);
    if (d > n) {
        /* the singular vectors of F F^T are U itself: column j of u */
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < k; j++) U[i * k + j] = u[(int64_t)j * m + i];
    } else {
        /* U = F V S^-1, V the vectors of F^T F (columns of u) */
        for (int64_t i = 0; i < n; i++) {
            const float *f = F + i * d;
            for (int j = 0; j < k; j++) {
                const double *v = u + (int64_t)j * m;
                double acc = 0;
                for (int64_t c = 0; c < d; c++) acc += (double)f[c] * v[c];
                U[i * k + j] = sv[j] > 0 ? acc / sv[j] : 0.0;
            }
        }
    }
    rc = 0;
done:
    free(G), free(g), free(s), free(u), free(vt);
    return rc;
}

int llfc_subspace_cosines(const double *UA, const double *UB, int64_t n, int k, double *cos)
{
    double *M = llfc_calloc((size_t)(k * k), sizeof *M), *u = llfc_mallocarray((size_t)(k * k), sizeof *u);
    double *vt = llfc_mallocarray((size_t)(k * k), sizeof *vt);
    int rc = -1;
    if (!M || !u || !vt) goto done;
    for (int64_t i = 0; i < n; i++)
        for (int p = 0; p < k; p++)
            for (int q = 0; q < k; q++) M[q * k + p] += UA[i * k + p] * UB[i * k + q]; /* column-major */
    if (svd(k, k, M, cos, u, vt)) goto done;
    for (int i = 0; i < k; i++) cos[i] = cos[i] > 1 ? 1 : cos[i] < 0 ? 0 : cos[i];
    rc = 0;
done:
    free(M), free(u), free(vt);
    return rc;
}

/* ---- the layers of two networks --------------------------------------------------------------- */

/* the singular values above this fraction of the largest are trusted (the Gram matrix is in float) */
#define SV_FLOOR 1e-3

static int measure(const float *FA, const float *FB, int64_t n, int64_t d, int k, llfc_pa_layer *out)
{
    double *UA = llfc_mallocarray((size_t)(n * k), sizeof *UA), *UB = llfc_mallocarray((size_t)(n * k), sizeof *UB);
    int rc = -1;
    if (!UA || !UB) goto done;
    if (llfc_top_left_singular(FA, n, d, k, UA, out->sv_a) || llfc_top_left_singular(FB, n, d, k, UB, out->sv_b))
        goto done;
    /* a network whose features have a lower rank: only the trusted directions */
    int ku = k;
    for (int j = 0; j < k; j++)
        if (!(out->sv_a[j] > SV_FLOOR * out->sv_a[0]) || !(out->sv_b[j] > SV_FLOOR * out->sv_b[0])) { ku = j; break; }
    out->k = ku;
    if (ku == 0) { rc = 0; goto done; }
    if (ku < k) { /* the first ku columns, packed */
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < ku; j++) UA[i * ku + j] = UA[i * k + j], UB[i * ku + j] = UB[i * k + j];
    }
    rc = llfc_subspace_cosines(UA, UB, n, ku, out->cos);
done:
    free(UA), free(UB);
    return rc;
}

int llfc_principal_angles(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, const llfc_pa_opts *opts,
                          llfc_pa_layer **out, int *nout)
{
    llfc_pa_opts o = {0};
    if (opts) o = *opts;
    *out = NULL, *nout = 0;
    if (llfc_net_same_arch(a, b)) return -1;
    if (n < 2) return llfc_seterr("need at least 2 samples, got %lld", (long long)n);
    int k = o.k < 1 ? 10 : o.k;
    if (k > 64) return llfc_seterr("k = %d: at most 64", k);
    int64_t bs = o.batch < 1 ? 500 : o.batch;
    int L = o.layers ? o.nlayers : a->nfeat;
    for (int i = 0; o.layers && i < L; i++)
        if (o.layers[i] < 0 || o.layers[i] >= a->nfeat)
            return llfc_seterr("layer %d out of range 1..%d", o.layers[i] + 1, a->nfeat);
    llfc_pa_layer *res = llfc_calloc((size_t)L + 1, sizeof *res);
    float **ka = llfc_calloc((size_t)a->nslots, sizeof *ka), **kb = llfc_calloc((size_t)a->nslots, sizeof *kb);
    float **FA = llfc_calloc((size_t)L + 1, sizeof *FA), **FB = llfc_calloc((size_t)L + 1, sizeof *FB);
    int rc = -1;
    if (!res || !ka || !kb || !FA || !FB) goto done;
    int64_t din = llfc_net_input_dim(a), budget = INT64_C(64) << 20; /* floats of kept features: 256 MB */
    for (int i = 0; i < L; i++) {
        res[i].feat = o.layers ? o.layers[i] : i;
        res[i].dim = llfc_net_featdim(a, res[i].feat);
        if (2 * n * res[i].dim > budget)
            { llfc_seterr("layer %d: %lld samples of %lld values are too many (about 256 MB); take fewer samples",
                          res[i].feat + 1, (long long)n, (long long)res[i].dim); goto done; }
    }
    for (int first = 0; first < L;) {
        /* the layers of this pass: as many as fit in the budget */
        int last = first;
        int64_t used = 0;
        while (last < L && used + 2 * n * res[last].dim <= budget) used += 2 * n * res[last++].dim;
        for (int i = first; i < last; i++)
            if (!(FA[i] = llfc_mallocarray((size_t)(n * res[i].dim), sizeof(float))) ||
                !(FB[i] = llfc_mallocarray((size_t)(n * res[i].dim), sizeof(float))))
                goto done;
        for (int64_t i0 = 0; i0 < n; i0 += bs) {
            if (llfc_check_interrupt()) goto done;
            int64_t m = n - i0 < bs ? n - i0 : bs;
            memset(ka, 0, (size_t)a->nslots * sizeof *ka), memset(kb, 0, (size_t)a->nslots * sizeof *kb);
            for (int i = first; i < last; i++) {
                int s = llfc_net_feat_slot(a, res[i].feat, o.features);
                ka[s] = FA[i] + i0 * res[i].dim, kb[s] = FB[i] + i0 * res[i].dim;
            }
            if (llfc_net_forward_slots(a, x + i0 * din, m, ka) || llfc_net_forward_slots(b, x + i0 * din, m, kb)) goto done;
        }
        for (int i = first; i < last; i++) {
            if (llfc_check_interrupt()) goto done;
            int64_t d = res[i].dim;
            int ki = (int64_t)k < d ? k : (int)d;
            if (ki > n) ki = (int)n;
            if (measure(FA[i], FB[i], n, d, ki, &res[i])) { llfc_adderr("layer %d", res[i].feat + 1); goto done; }
            free(FA[i]), free(FB[i]);
            FA[i] = FB[i] = NULL;
            if (o.progress && llfc_progress_stop(o.progress, o.progress_ud, i + 1, L, "principal_angles")) goto done;
        }
        first = last;
    }
    *out = res, *nout = L;
    res = NULL;
    rc = 0;
done:
    for (int i = 0; i < L; i++) {
        if (FA) free(FA[i]);
        if (FB) free(FB[i]);
    }
    free(FA), free(FB), free(ka), free(kb), free(res);
    return rc;
}
