/* sinkhorn.c - Sinkhorn (soft) matching (perm.h): doubly stochastic
 * relaxations of every group's permutation, optimised through the unrolled
 * Sinkhorn rounds, then projected to permutations by the assignment solver.
 *
 * The rounds, in the log domain from L_0 = M / tau:
 *     A_t = L_{t-1} - logsumexp over each row,  L_t = A_t - logsumexp over each column,
 * and S = exp(L_T).  Their backward pass, for G = dJ/dL_t:
 *     dJ/dA_t[i, j] = G[i, j] - exp(L_t[i, j]) sum_i' G[i', j]
 *     dJ/dL_{t-1}[i, j] = G_A[i, j] - exp(A_t[i, j]) sum_j' G_A[i, j']
 * They run as matrix scaling (one exp per entry, then matrix-vector
 * products), in the log domain when the logits are too far apart for that.
 */
#include "perm/perm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm/lap.h"

static int check_sk(int64_t n, double tau, int iters)
{
    if (n < 1) return llfc_seterr("sinkhorn: a matrix of %lld rows", (long long)n);
    if (!(tau > 0.0) || !isfinite(tau)) return llfc_seterr("tau must be positive, got %g", tau);
    if (iters < 1) return llfc_seterr("iters must be at least 1, got %d", iters);
    return 0;
}

/* L [n, n] -= logsumexp of each row (rows = 1) or column (rows = 0) */
static void lse_normalise(double *L, int64_t n, int rows)
{
    for (int64_t k = 0; k < n; k++) {
        int64_t st = rows ? 1 : n, base = rows ? k * n : k;
        double mx = -INFINITY, s = 0.0;
        for (int64_t i = 0; i < n; i++) if (L[base + i * st] > mx) mx = L[base + i * st];
        for (int64_t i = 0; i < n; i++) s += exp(L[base + i * st] - mx);
        double lse = mx + log(s);
        for (int64_t i = 0; i < n; i++) L[base + i * st] -= lse;
    }
}

/* ---- the log-domain rounds (the reference, and the fallback for logits
 * whose range the scaling form below cannot hold) */

static void sk_forward_log(const double *M, int64_t n, double tau, int iters, double *S)
{
    int64_t nn = n * n;
    for (int64_t i = 0; i < nn; i++) S[i] = M[i] / tau;
    for (int t = 0; t < iters; t++) {
        lse_normalise(S, n, 1);
        lse_normalise(S, n, 0);
    }
    for (int64_t i = 0; i < nn; i++) S[i] = exp(S[i]);
}

static int sk_backward_log(const double *M, int64_t n, double tau, int iters, const double *dS, double *G)
{
    int64_t nn = n * n;
    double *Ls = llfc_mallocarray((size_t)((iters + 1) * nn), sizeof *Ls);
    double *A = llfc_mallocarray((size_t)nn, sizeof *A), *sum = llfc_mallocarray((size_t)n, sizeof *sum);
    if (!Ls || !A || !sum) { free(Ls), free(A), free(sum); return -1; }
    for (int64_t i = 0; i < nn; i++) Ls[i] = M[i] / tau;
    for (int t = 1; t <= iters; t++) {
        double *L = Ls + t * nn;
        memcpy(L, L - nn, (size_t)nn * sizeof *L);
        lse_normalise(L, n, 1);
        lse_normalise(L, n, 0);
    }
    const double *LT = Ls + iters * nn;
    for (int64_t i = 0; i < nn; i++) G[i] = dS[i] * exp(LT[i]);
    for (int t = iters; t >= 1; t--) {
        const double *L = Ls + t * nn, *Lp = Ls + (t - 1) * nn;
        for (int64_t j = 0; j < n; j++) sum[j] = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) sum[j] += G[i * n + j];
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) G[i * n + j] -= exp(L[i * n + j]) * sum[j];
        memcpy(A, Lp, (size_t)nn * sizeof *A);
        lse_normalise(A, n, 1);
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < n; j++) s += G[i * n + j];
            for (int64_t j = 0; j < n; j++) G[i * n + j] -= exp(A[i * n + j]) * s;
        }
    }
    for (int64_t i = 0; i < nn; i++) G[i] /= tau;
    free(Ls), free(A), free(sum);
    return 0;
}

/* ---- the same rounds as matrix scaling: with K = exp(M / tau - row max),
 * exp(L_t) = diag(r_t) K diag(c_t) and exp(A_t) = diag(r_t) K diag(c_{t-1}),
 * r_t = 1 / (K c_{t-1}), c_t = 1 / (K^T r_t), c_0 = 1: one exp per entry and
 * matrix-vector products per round.  rc [2 (iters + 1), n] keeps r_t, c_t.
 * Returns 1 when a scale is not a positive finite number (logits too far
 * apart for double: the caller goes to the log domain). */
static int sk_scale(const double *M, int64_t n, double tau, int iters, double *K, double *rc)
{
    for (int64_t i = 0; i < n; i++) {
        const double *m = M + i * n;
        double mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) if (m[j] > mx) mx = m[j];
        for (int64_t j = 0; j < n; j++) K[i * n + j] = exp((m[j] - mx) / tau);
    }
    double *c0 = rc + n;
    for (int64_t j = 0; j < n; j++) c0[j] = 1.0;
    for (int t = 1; t <= iters; t++) {
        double *r = rc + 2 * t * n, *c = r + n;
        const double *cp = r - n;
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < n; j++) s += K[i * n + j] * cp[j];
            r[i] = 1.0 / s;
            if (!(r[i] > 0.0 && r[i] < HUGE_VAL)) return 1;
        }
        for (int64_t j = 0; j < n; j++) c[j] = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) c[j] += K[i * n + j] * r[i];
        for (int64_t j = 0; j < n; j++) {
            c[j] = 1.0 / c[j];
            if (!(c[j] > 0.0 && c[j] < HUGE_VAL)) return 1;
        }
    }
    return 0;
}

int llfc_sinkhorn(const double *M, int64_t n, double tau, int iters, double *S)
{
    if (check_sk(n, tau, iters)) return -1;
    double *rc = llfc_mallocarray((size_t)(2 * (iters + 1) * n), sizeof *rc);
    if (!rc) return -1;
    if (sk_scale(M, n, tau, iters, S, rc)) {
        sk_forward_log(M, n, tau, iters, S);
    } else {
        const double *r = rc + 2 * iters * n, *c = r + n;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) S[i * n + j] *= r[i] * c[j];
    }
    free(rc);
    return 0;
}

/* Backward in the scaling form, with a_t = log r_t, b_t = log c_t and
 * L_T = M / tau - rowmax + a_T (rows) + b_T (columns):
 *     b_t[j] = -log sum_i exp(L0[i, j] + a_t[i]):  dL0 -= P_t * gb (by column), ga -= P_t gb
 *     a_t[i] = -log sum_j exp(L0[i, j] + b_{t-1}[j]):  dL0 -= Q_t * ga (by row), gb -= Q_t^T ga
 * with P_t = exp(L_t), Q_t = exp(A_t) rebuilt from K and the scales. */
int llfc_sinkhorn_backward(const double *M, int64_t n, double tau, int iters, const double *dS, double *dM)
{
    if (check_sk(n, tau, iters)) return -1;
    int64_t nn = n * n;
    double *K = llfc_mallocarray((size_t)nn, sizeof *K);
    double *rc = llfc_mallocarray((size_t)(2 * (iters + 1) * n), sizeof *rc);
    double *ga = llfc_mallocarray((size_t)n, sizeof *ga), *gb = llfc_mallocarray((size_t)n, sizeof *gb);
    int rc_ = -1;
    if (!K || !rc || !ga || !gb) goto done;
    if (sk_scale(M, n, tau, iters, K, rc)) {
        rc_ = sk_backward_log(M, n, tau, iters, dS, dM);
        goto done;
    }
    /* G = dJ/dL_T = dS * S; it is also the direct part of dJ/dL0 */
    const double *rT = rc + 2 * iters * n, *cT = rT + n;
    for (int64_t j = 0; j < n; j++) gb[j] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) {
            double g = dS[i * n + j] * K[i * n + j] * rT[i] * cT[j];
            dM[i * n + j] = g;
            s += g;
            gb[j] += g;
        }
        ga[i] = s;
    }
    for (int t = iters; t >= 1; t--) {
        const double *r = rc + 2 * t * n, *c = r + n, *cp = r - n;
        /* the column step: b_t */
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < n; j++) {
                double pg = K[i * n + j] * r[i] * c[j] * gb[j];
                dM[i * n + j] -= pg;
                s += pg;
            }
            ga[i] -= s;
        }
        /* the row step: a_t; gb becomes the gradient of b_{t-1} */
        for (int64_t j = 0; j < n; j++) gb[j] = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double qg = K[i * n + j] * r[i] * cp[j] * ga[i];
                dM[i * n + j] -= qg;
                gb[j] -= qg;
            }
        for (int64_t i = 0; i < n; i++) ga[i] = 0.0;
    }
    /* b_0 = 0 is a constant; the row maxima shift L0 by a per-row constant,
     * which the row steps cancel */
    for (int64_t i = 0; i < nn; i++) dM[i] /= tau;
    rc_ = 0;
done:
    free(K), free(rc), free(ga), free(gb);
    return rc_;
}

/* ---- the relaxed objective ------------------------------------------------------ */

typedef struct {
    const llfc_net *a, *b;
    llfc_net *sb;          /* S(b) */
    int G;
    double **S;            /* per group [n, n] */
    float **Sf;            /* the same in float */
    float **dS;            /* per group [n, n]: dJ/dS */
    double *dSd;           /* [maxg^2] */
    float *t1, *t2, *scratch, *gk; /* [maxnumel], [maxnumel], [2 maxnumel], [maxnumel] */
    /* loss objective */
    llfc_net *tnet;
    llfc_nn_work *w;
    float **grad;
    int64_t wbatch;
} sk_ctx;

static void sk_free(sk_ctx *c)
{
    for (int g = 0; g < c->G; g++) {
        if (c->S) free(c->S[g]);
        if (c->Sf) free(c->Sf[g]);
        if (c->dS) free(c->dS[g]);
    }
    free(c->S), free(c->Sf), free(c->dS), free(c->dSd);
    free(c->t1), free(c->t2), free(c->scratch), free(c->gk);
    if (c->grad && c->a)
        for (int p = 0; p < c->a->nparams; p++) free(c->grad[p]);
    free(c->grad);
    llfc_net_free(c->sb), llfc_net_free(c->tnet);
    llfc_nn_work_free(c->w);
    memset(c, 0, sizeof *c);
}

static int sk_init(sk_ctx *c, const llfc_net *a, const llfc_net *b, int objective, int64_t batch)
{
    memset(c, 0, sizeof *c);
    if (llfc_match_check_pair(a, b)) return -1;
    const llfc_permspec *s = a->spec;
    c->a = a, c->b = b, c->G = s->ngroups;
    int64_t maxg = 1, maxnumel = 1;
    for (int g = 0; g < c->G; g++) if (s->gsize[g] > maxg) maxg = s->gsize[g];
    for (int k = 0; k < a->nparams; k++)
        if (llfc_tensor_numel(a->param[k]) > maxnumel) maxnumel = llfc_tensor_numel(a->param[k]);
    if (!(c->S = llfc_calloc((size_t)c->G + 1, sizeof *c->S)) || !(c->Sf = llfc_calloc((size_t)c->G + 1, sizeof *c->Sf)) ||
        !(c->dS = llfc_calloc((size_t)c->G + 1, sizeof *c->dS)) ||
        !(c->dSd = llfc_mallocarray((size_t)(maxg * maxg), sizeof *c->dSd)) ||
        !(c->t1 = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(c->t2 = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(c->gk = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(c->scratch = llfc_mallocarray((size_t)(2 * maxnumel), sizeof(float))) || !(c->sb = llfc_net_clone(b)))
        return -1;
    for (int g = 0; g < c->G; g++) {
        size_t nn = (size_t)(s->gsize[g] * s->gsize[g]);
        if (!(c->S[g] = llfc_mallocarray(nn, sizeof(double))) || !(c->Sf[g] = llfc_mallocarray(nn, sizeof(float))) ||
            !(c->dS[g] = llfc_mallocarray(nn, sizeof(float))))
            return -1;
    }
    if (objective == LLFC_SK_LOSS) {
        c->wbatch = batch;
        if (!(c->tnet = llfc_net_clone(a)) || !(c->w = llfc_nn_work_new(c->tnet, batch)) ||
            !(c->grad = llfc_calloc((size_t)a->nparams + 1, sizeof *c->grad)))
            return -1;
        for (int p = 0; p < a->nparams; p++)
            if (a->ptrain[p] && !(c->grad[p] = llfc_mallocarray((size_t)llfc_tensor_numel(a->param[p]), sizeof(float))))
                return -1;
    }
    return 0;
}

/* out = W with axis d multiplied by S [n, n]: out[.., i, ..] = sum_j S[i, j] W[.., j, ..] */
static void axis_apply(const float *S, const llfc_tensor *shape, int d, const float *W, float *out)
{
    int64_t n = shape->size[d], pre = 1, post = 1;
    for (int k = 0; k < d; k++) pre *= shape->size[k];
    for (int k = d + 1; k < shape->ndim; k++) post *= shape->size[k];
    if (pre == 1) {
        llfc_gemm(0, 0, (int)n, (int)post, (int)n, 1.0f, S, (int)n, W, (int)post, 0.0f, out, (int)post);
    } else if (post == 1) {
        llfc_gemm(0, 1, (int)pre, (int)n, (int)n, 1.0f, W, (int)n, S, (int)n, 0.0f, out, (int)n);
    } else {
        for (int64_t p = 0; p < pre; p++)
            llfc_gemm(0, 0, (int)n, (int)post, (int)n, 1.0f, S, (int)n, W + p * n * post, (int)post, 0.0f,
                      out + p * n * post, (int)post);
    }
}

/* out = param k of b with every group axis but `skip` (-1: none) multiplied by its S */
static void soft_param(sk_ctx *c, int k, int skip, float *out)
{
    const llfc_permspec *s = c->a->spec;
    const llfc_tensor *W = c->b->param[k];
    int64_t numel = llfc_tensor_numel(W);
    const float *cur = llfc_tensor_data(W);
    float *bufs[2] = {c->t1, c->t2};
    int nb = 0;
    for (int d = 0; d < W->ndim; d++) {
        int g = s->axis[k][d];
        if (g < 0 || d == skip) continue;
        axis_apply(c->Sf[g], W, d, cur, bufs[nb]);
        cur = bufs[nb];
        nb ^= 1;
    }
    memcpy(out, cur, (size_t)numel * sizeof *out);
}

static int has_group_axis(const llfc_permspec *s, const llfc_tensor *W, int k)
{
    for (int d = 0; d < W->ndim; d++)
        if (s->axis[k][d] >= 0) return 1;
    return 0;
}

/* value and (dM non-NULL) gradient at M, tau (see llfc_sinkhorn_objective) */
static int sk_eval(sk_ctx *c, const double *const *M, double tau, int iters, int objective, double alpha,
                   const float *x, const int32_t *y, int64_t n, double *value, double **dM)
{
    const llfc_net *a = c->a, *b = c->b;
    const llfc_permspec *s = a->spec;
    for (int g = 0; g < c->G; g++) {
        int64_t ng = s->gsize[g];
        if (llfc_sinkhorn(M[g], ng, tau, iters, c->S[g])) return -1;
        for (int64_t i = 0; i < ng * ng; i++) c->Sf[g][i] = (float)c->S[g][i];
        memset(c->dS[g], 0, (size_t)(ng * ng) * sizeof(float));
    }
    for (int k = 0; k < b->nparams; k++)
        if (has_group_axis(s, b->param[k], k)) soft_param(c, k, -1, llfc_tensor_data(c->sb->param[k]));
    double val = 0.0;
    if (objective == LLFC_SK_WEIGHT) {
        for (int k = 0; k < a->nparams; k++) {
            if (!has_group_axis(s, a->param[k], k)) continue;
            const float *wa = llfc_tensor_data(a->param[k]), *sw = llfc_tensor_data(c->sb->param[k]);
            for (int64_t i = 0, m = llfc_tensor_numel(a->param[k]); i < m; i++) {
                double r = (double)sw[i] - (double)wa[i];
                val += r * r;
                c->gk[i] = (float)(2.0 * r);
            }
            if (!dM) continue;
            const llfc_tensor *W = a->param[k];
            for (int d = 0; d < W->ndim; d++) {
                int g = s->axis[k][d];
                if (g < 0) continue;
                soft_param(c, k, d, c->t1);
                llfc_axis_gram(W, d, c->gk, c->t1, c->dS[g], c->scratch);
            }
        }
    } else {
        if (n < 1 || n > c->wbatch) return llfc_seterr("loss objective: a batch of %lld samples", (long long)n);
        if (llfc_midpoint_grad(c->tnet, c->w, a, c->sb, alpha, x, y, n, dM ? c->grad : NULL, &val)) return -1;
        if (dM)
            for (int k = 0; k < a->nparams; k++) {
                const llfc_tensor *W = a->param[k];
                if (!a->ptrain[k] || !has_group_axis(s, W, k)) continue;
                for (int64_t i = 0, m = llfc_tensor_numel(W); i < m; i++)
                    c->gk[i] = (float)((1.0 - alpha) * c->grad[k][i]);
                for (int d = 0; d < W->ndim; d++) {
                    int g = s->axis[k][d];
                    if (g < 0) continue;
                    soft_param(c, k, d, c->t1);
                    llfc_axis_gram(W, d, c->gk, c->t1, c->dS[g], c->scratch);
                }
            }
    }
    *value = val;
    if (dM)
        for (int g = 0; g < c->G; g++) {
            int64_t ng = s->gsize[g];
            for (int64_t i = 0; i < ng * ng; i++) c->dSd[i] = c->dS[g][i];
            if (llfc_sinkhorn_backward(M[g], ng, tau, iters, c->dSd, dM[g])) return -1;
        }
    return 0;
}

int llfc_sinkhorn_objective(const llfc_net *a, const llfc_net *b, const double *const *M, double tau, int iters,
                            int objective, double alpha, const float *x, const int32_t *y, int64_t n, double *value,
                            double **dM)
{
    if (objective != LLFC_SK_WEIGHT && objective != LLFC_SK_LOSS) return llfc_seterr("unknown objective %d", objective);
    if (objective == LLFC_SK_LOSS && !(alpha >= 0.0 && alpha < 1.0))
        return llfc_seterr("alpha must be in [0, 1), got %g", alpha);
    sk_ctx c;
    int rc = sk_init(&c, a, b, objective, n > 0 ? n : 1);
    if (!rc) rc = sk_eval(&c, M, tau, iters, objective, alpha, x, y, n, value, dM);
    sk_free(&c);
    return rc;
}

/* ---- the search ---------------------------------------------------------------- */

/* M of group g: I, or log(n - 1) tau on p's entries (S = 1/2 there) */
static void init_logits(double *M, int64_t n, const int64_t *p, double tau)
{
    memset(M, 0, (size_t)(n * n) * sizeof *M);
    double v = p ? (n > 2 ? log((double)(n - 1)) * tau : 0.0) : 1.0;
    for (int64_t i = 0; i < n; i++) M[i * n + (p ? p[i] : i)] = v;
}

llfc_perm *llfc_sinkhorn_match(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                               const llfc_sinkhorn_opts *opts, llfc_sinkhorn_stats *st, llfc_tensor **soft)
{
    double t0 = llfc_now();
    llfc_sinkhorn_opts o = {.tau = 1.0, .iters = 20, .epochs = 1, .lr = 0.1, .batch = 500, .alpha = 0.5};
    if (opts) o = *opts;
    memset(st, 0, sizeof *st);
    if (o.objective != LLFC_SK_WEIGHT && o.objective != LLFC_SK_LOSS)
        return llfc_seterr("unknown objective %d", o.objective), NULL;
    if (!(o.tau > 0.0) || !isfinite(o.tau)) return llfc_seterr("tau must be positive, got %g", o.tau), NULL;
    if (!(o.tau_end >= 0.0) || !isfinite(o.tau_end))
        return llfc_seterr("tau_end must be positive (or 0: no annealing), got %g", o.tau_end), NULL;
    if (o.iters < 1) return llfc_seterr("iters must be at least 1, got %d", o.iters), NULL;
    if (!(o.lr > 0.0) || !isfinite(o.lr)) return llfc_seterr("lr must be positive, got %g", o.lr), NULL;
    if (o.steps < 0) return llfc_seterr("steps must be at least 1, got %lld", (long long)o.steps), NULL;
    if (llfc_match_check_pair(a, b)) return NULL;
    int64_t bs = 1, per_epoch = 1;
    if (o.objective == LLFC_SK_LOSS) {
        if (!ds || ds->n < 1) return llfc_seterr("the loss objective needs a dataset"), NULL;
        if (ds->dim != llfc_net_input_dim(a))
            return llfc_seterr("the dataset has %lld features per sample, the network takes %lld", (long long)ds->dim,
                               (long long)llfc_net_input_dim(a)), NULL;
        if (o.batch < 1) return llfc_seterr("batch must be at least 1, got %lld", (long long)o.batch), NULL;
        if (o.steps == 0 && o.epochs < 1) return llfc_seterr("epochs must be at least 1, got %d", o.epochs), NULL;
        if (!(o.alpha >= 0.0 && o.alpha < 1.0)) return llfc_seterr("alpha must be in [0, 1), got %g", o.alpha), NULL;
        bs = o.batch < ds->n ? o.batch : ds->n;
        per_epoch = (ds->n + bs - 1) / bs;
    }
    int64_t steps = o.steps > 0 ? o.steps : o.objective == LLFC_SK_LOSS ? per_epoch * o.epochs : 200;
    const llfc_permspec *s = a->spec;
    int G = s->ngroups;
    sk_ctx c = {0};
    llfc_perm *p0 = NULL, *res = NULL;
    double **M = llfc_calloc((size_t)G + 1, sizeof *M), **dM = llfc_calloc((size_t)G + 1, sizeof *dM);
    double *Mall = NULL, *gall = NULL, *m1 = NULL, *m2 = NULL;
    int64_t *idx = NULL, *assign = NULL, tot = 0, maxg = 1;
    float *xb = NULL;
    int32_t *yb = NULL;
    if (soft)
        for (int g = 0; g < G; g++) soft[g] = NULL;
    if (!M || !dM) goto done;
    if (o.from == LLFC_FROM_WEIGHT) {
        llfc_wm_opts wo = {.max_iter = 100, .seed = o.seed};
        llfc_wm_stats ws;
        if (!(p0 = llfc_weight_match(a, b, &wo, &ws))) { llfc_adderr("init (weight matching)"); goto done; }
        free(ws.objective);
        if (ws.interrupted) { llfc_seterr("interrupted"); goto done; }
    } else if (o.from == LLFC_FROM_PERM) {
        if (!o.init) { llfc_seterr("init: no permutation given"); goto done; }
        if (llfc_perm_fits(o.init, s)) { llfc_adderr("init"); goto done; }
        if (!(p0 = llfc_perm_clone(o.init))) goto done;
    } else if (o.from != LLFC_FROM_IDENTITY) {
        llfc_seterr("init: unknown start %d", o.from);
        goto done;
    }
    for (int g = 0; g < G; g++) {
        tot += s->gsize[g] * s->gsize[g];
        if (s->gsize[g] > maxg) maxg = s->gsize[g];
    }
    if (!(Mall = llfc_mallocarray((size_t)tot + 1, sizeof *Mall)) || !(gall = llfc_mallocarray((size_t)tot + 1, sizeof *gall)) ||
        !(m1 = llfc_calloc((size_t)tot + 1, sizeof *m1)) || !(m2 = llfc_calloc((size_t)tot + 1, sizeof *m2)) ||
        !(assign = llfc_mallocarray((size_t)maxg, sizeof *assign)) ||
        !(st->objective = llfc_mallocarray((size_t)steps, sizeof *st->objective)))
        goto done;
    for (int g = 0, off = 0; g < G; g++) {
        M[g] = Mall + off, dM[g] = gall + off;
        init_logits(M[g], s->gsize[g], p0 ? p0->idx[g] : NULL, o.tau);
        off += (int)(s->gsize[g] * s->gsize[g]);
    }
    if (sk_init(&c, a, b, o.objective, bs)) goto done;
    if (o.objective == LLFC_SK_LOSS &&
        (!(idx = llfc_mallocarray((size_t)ds->n, sizeof *idx)) ||
         !(xb = llfc_mallocarray((size_t)(bs * ds->dim), sizeof *xb)) || !(yb = llfc_mallocarray((size_t)bs, sizeof *yb))))
        goto done;
    double tau = o.tau;
    for (int64_t t = 0; t < steps; t++) {
        if (llfc_interrupted()) { st->interrupted = 1; break; }
        tau = o.tau_end > 0.0 && steps > 1 ? o.tau * pow(o.tau_end / o.tau, (double)t / (double)(steps - 1)) : o.tau;
        int64_t mb = 0;
        if (o.objective == LLFC_SK_LOSS) {
            int64_t e = t / per_epoch, b0 = (t % per_epoch) * bs;
            if (b0 == 0) llfc_dataset_order(ds, o.seed * 1000003u + (uint64_t)e, idx);
            mb = ds->n - b0 < bs ? ds->n - b0 : bs;
            llfc_dataset_gather(ds, idx + b0, mb, xb, yb);
        }
        double val;
        if (sk_eval(&c, (const double *const *)M, tau, o.iters, o.objective, o.alpha, xb, yb, mb, &val, dM)) goto done;
        st->objective[t] = val;
        llfc_adam_step(Mall, gall, m1, m2, tot, o.lr, t + 1);
        st->steps = t + 1;
        if (o.progress) {
            char msg[128];
            snprintf(msg, sizeof msg, "sinkhorn_match step %lld/%lld: %s %.9g (tau %.4g)", (long long)(t + 1),
                     (long long)steps, o.objective == LLFC_SK_LOSS ? "midpoint loss" : "weight distance", val, tau);
            if (llfc_progress_stop(o.progress, o.progress_ud, (double)(t + 1), (double)steps, msg)) {
                if (llfc_interrupted()) { st->interrupted = 1; break; }
                goto done;
            }
        }
    }
    st->tau = tau;
    /* the projection runs also after Ctrl-C (the flag is set again after it) */
    if (st->interrupted) llfc_interrupt_clear();
    if (!(res = llfc_perm_identity(s))) goto done;
    for (int g = 0; g < G; g++) {
        int64_t ng = s->gsize[g];
        double total;
        if (llfc_sinkhorn(M[g], ng, tau, o.iters, c.S[g]) || llfc_lap_solve(ng, ng, c.S[g], 1, assign, &total) ||
            llfc_perm_set(res, g, assign))
            goto fail;
        for (int64_t i = 0; i < ng; i++) {
            double rs = 0.0, cs = 0.0;
            for (int64_t j = 0; j < ng; j++) rs += c.S[g][i * ng + j], cs += c.S[g][j * ng + i];
            st->ds_error = fmax(st->ds_error, fmax(fabs(rs - 1.0), fabs(cs - 1.0)));
        }
        if (soft) {
            int64_t sz[2] = {ng, ng};
            if (!(soft[g] = llfc_tensor_new(2, sz))) goto fail;
            float *d = llfc_tensor_data(soft[g]);
            for (int64_t i = 0; i < ng * ng; i++) d[i] = (float)c.S[g][i];
        }
    }
    goto done;
fail:
    llfc_perm_free(res);
    res = NULL;
    if (soft)
        for (int g = 0; g < G; g++) llfc_tensor_free(soft[g]), soft[g] = NULL;
done:
    if (st->interrupted) llfc_interrupt_flag = 1;
    if (!res) {
        free(st->objective);
        st->objective = NULL;
    }
    st->seconds = llfc_now() - t0;
    sk_free(&c);
    llfc_perm_free(p0);
    free(M), free(dM), free(Mall), free(gall), free(m1), free(m2), free(idx), free(assign), free(xb), free(yb);
    return res;
}
