/* align.c - N networks in one frame (see align.h).
 *
 * The average method is rounds of llfc_weight_match against the average
 * of the other aligned networks (llfc_net_combine).  The universe method
 * keeps, for network i and group g, a doubly stochastic matrix M[i][g]
 * [n, n] (row U: a unit of the universe, column u: a unit of network i; a
 * permutation p is the matrix with M[U, p[U]] = 1, as perm.h's convention).
 * X_i,k = M_i applied on every permuted axis of parameter k; the relaxed
 * objective is F = sum_k sum_{i<j} <X_i,k, X_j,k> = sum_k (|S_k|^2 -
 * sum_i |X_i,k|^2) / 2 with S_k = sum_i X_i,k, and its gradient in M[i][g]
 * is, over the axes d of the parameters that g permutes, the cost term of
 * weight matching (llfc_axis_gram) of S_k - X_i,k against W_i,k with
 * network i's matrices applied on its other axes.  Along a Frank-Wolfe
 * segment every matrix is affine in the step, so F is a polynomial of
 * degree 2m (m: the most permuted axes of one parameter): it is
 * interpolated from 2m evaluations and maximised on a fine grid.
 */
#include "perm/align.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/combine.h"
#include "perm/lap.h"

/* sum_{i<j} <x_i, x_j> over every tensor of nets x[0..N), in double */
static double pair_objective(const llfc_net *const *x, int N)
{
    double tot = 0.0;
    for (int k = 0; k < x[0]->nparams; k++) {
        int64_t n = llfc_tensor_numel(x[0]->param[k]);
        for (int64_t e = 0; e < n; e++) {
            double s = 0.0, q = 0.0;
            for (int i = 0; i < N; i++) {
                double v = llfc_tensor_data(x[i]->param[k])[e];
                s += v;
                q += v * v;
            }
            tot += 0.5 * (s * s - q);
        }
    }
    return tot;
}

int llfc_align_objective(const llfc_net *const *nets, int N, llfc_perm *const *perms, double *obj)
{
    llfc_net **al = llfc_calloc((size_t)N + 1, sizeof *al);
    int rc = -1;
    if (!al) return -1;
    for (int i = 0; i < N; i++)
        if (!(al[i] = perms && perms[i] ? llfc_perm_apply(perms[i], nets[i]) : llfc_net_clone(nets[i]))) goto done;
    *obj = pair_objective((const llfc_net *const *)al, N);
    rc = 0;
done:
    for (int i = 0; i < N; i++) llfc_net_free(al[i]);
    free(al);
    return rc;
}

/* The progress callback after a round or step: 0 go on, 1 Ctrl-C (stop with
 * the Perms so far), -1 the callback asked to stop (its message, else
 * "interrupted"). */
static int report(const llfc_align_opts *o, double done, double total, const char *msg)
{
    if (!o->progress || !llfc_progress_stop(o->progress, o->progress_ud, done, total, msg)) return 0;
    return llfc_interrupted() ? 1 : -1;
}

/* The start: identity, or every network matched to the first. */
static int start_perms(const llfc_net *const *nets, int N, const llfc_align_opts *o, llfc_perm **p, int *intr)
{
    for (int i = 0; i < N; i++) {
        if (i == 0 || o->from_identity || *intr) {
            if (!(p[i] = llfc_perm_identity(nets[0]->spec))) return -1;
            continue;
        }
        llfc_wm_opts wo = {.max_iter = o->wm_iter, .seed = o->seed + (uint64_t)i};
        llfc_wm_stats ws;
        p[i] = llfc_weight_match(nets[0], nets[i], &wo, &ws);
        free(ws.objective);
        if (!p[i]) return -1;
        if (ws.interrupted) *intr = 1;
        char msg[96];
        snprintf(msg, sizeof msg, "align_many: start, network %d matched to network 1", i + 1);
        int r = report(o, i, N - 1, msg);
        if (r < 0) return -1;
        if (r > 0) *intr = 1;
    }
    return 0;
}

/* ---- the average method ---------------------------------------------------------------- */

static int align_average(const llfc_net *const *nets, int N, const llfc_align_opts *o, llfc_perm **p,
                         llfc_align_stats *st)
{
    llfc_net **al = llfc_calloc((size_t)N, sizeof *al), *avg = llfc_net_clone(nets[0]);
    const llfc_net **others = llfc_calloc((size_t)N, sizeof *others);
    double *w = llfc_mallocarray((size_t)N, sizeof *w);
    int64_t *order = llfc_mallocarray((size_t)N, sizeof *order);
    int rc = -1, intr = 0;
    if (!al || !avg || !others || !w || !order) goto done;
    if (start_perms(nets, N, o, p, &intr)) goto done;
    for (int i = 0; i < N; i++)
        if (!(al[i] = llfc_perm_apply(p[i], nets[i]))) goto done;
    st->start = pair_objective((const llfc_net *const *)al, N);
    for (int i = 0; i < N - 1; i++) w[i] = 1.0 / (N - 1);
    llfc_rng rng;
    llfc_rng_seed(&rng, o->seed);
    for (int it = 0; it < o->max_iter && !intr; it++) {
        int changed = 0;
        for (int i = 0; i < N; i++) order[i] = i;
        llfc_rng_shuffle(&rng, order, N);
        for (int oi = 0; oi < N; oi++) {
            if (llfc_interrupted()) { intr = 1; break; }
            int i = (int)order[oi], m = 0;
            for (int j = 0; j < N; j++)
                if (j != i) others[m++] = al[j];
            if (llfc_net_combine_into(avg, others, m, w)) goto done;
            llfc_wm_opts wo = {.max_iter = o->wm_iter, .seed = o->seed + 1 + (uint64_t)it * N + i, .init = p[i]};
            llfc_wm_stats ws;
            llfc_perm *q = llfc_weight_match(avg, nets[i], &wo, &ws);
            free(ws.objective);
            if (!q) goto done;
            if (ws.interrupted) intr = 1;
            if (llfc_perm_equal(q, p[i])) { llfc_perm_free(q); continue; }
            changed = 1;
            llfc_perm_free(p[i]);
            p[i] = q;
            llfc_net_free(al[i]);
            if (!(al[i] = llfc_perm_apply(p[i], nets[i]))) goto done;
        }
        if (intr) break; /* a partial round: not counted */
        st->objective[it] = pair_objective((const llfc_net *const *)al, N);
        st->iterations = it + 1;
        char msg[128];
        snprintf(msg, sizeof msg, "align_many round %d: objective %.9g%s", it + 1, st->objective[it],
                 changed ? "" : " (no change, done)");
        int r = report(o, it + 1, o->max_iter, msg);
        if (r < 0) goto done;
        if (r > 0) { intr = 1; break; }
        if (!changed) break;
    }
    /* into the frame of the first network: q_i = p_1^-1 o p_i */
    {
        llfc_perm *inv = llfc_perm_inverse(p[0]);
        if (!inv) goto done;
        for (int i = 0; i < N; i++) {
            llfc_perm *q = llfc_perm_compose(inv, p[i]);
            if (!q) { llfc_perm_free(inv); goto done; }
            llfc_perm_free(p[i]);
            p[i] = q;
        }
        llfc_perm_free(inv);
    }
    st->frame = 0;
    st->interrupted = intr;
    rc = 0;
done:
    if (al)
        for (int i = 0; i < N; i++) llfc_net_free(al[i]);
    free(al);
    llfc_net_free(avg);
    free(others);
    free(w);
    free(order);
    return rc;
}

/* ---- the universe method (Frank-Wolfe) ------------------------------------------------- */

typedef struct {
    int N, G, P;
    const llfc_net *const *nets;
    const llfc_permspec *s;
    float ***M, ***V, ***T;  /* [N][G] [n, n]: matrices, the step's vertex, a trial point */
    float ***grad;           /* [N][G] [n, n] */
    float ***X;              /* [N][P] network i's parameters in the universe */
    float **S;               /* [P] sum_i X[i] */
    float *a, *b, *tmp, *scratch; /* [maxnumel], scratch [2 maxnumel] */
    int64_t *assign;
    int deg;                 /* degree of F along a segment */
} fw_work;

/* Y = P x_d X for X of the shape of `shape` (P [n, n] on axis d). */
static void apply_axis(const llfc_tensor *shape, int d, const float *P, const float *X, float *Y)
{
    int64_t n = shape->size[d], pre = 1, post = 1;
    for (int e = 0; e < d; e++) pre *= shape->size[e];
    for (int e = d + 1; e < shape->ndim; e++) post *= shape->size[e];
    if (pre == 1) {
        llfc_gemm(0, 0, (int)n, (int)post, (int)n, 1.0f, P, (int)n, X, (int)post, 0.0f, Y, (int)post);
    } else if (post == 1) {
        llfc_gemm(0, 1, (int)pre, (int)n, (int)n, 1.0f, X, (int)n, P, (int)n, 0.0f, Y, (int)n);
    } else {
        for (int64_t q = 0; q < pre; q++)
            llfc_gemm(0, 0, (int)n, (int)post, (int)n, 1.0f, P, (int)n, X + q * n * post, (int)post, 0.0f,
                      Y + q * n * post, (int)post);
    }
}

/* dst = W_i,k with network i's matrices mats[g] applied on every permuted
 * axis of parameter k but `skip` (-1: none). */
static void apply_param(fw_work *w, float **mats, int i, int k, int skip, float *dst)
{
    const llfc_tensor *t = w->nets[i]->param[k];
    const float *src = llfc_tensor_data(t);
    int m = 0;
    for (int d = 0; d < t->ndim; d++) m += d != skip && w->s->axis[k][d] >= 0;
    int64_t n = llfc_tensor_numel(t);
    if (m == 0) { memcpy(dst, src, (size_t)n * sizeof *dst); return; }
    /* alternate between dst and tmp so that the last product lands in dst */
    float *out = m % 2 ? dst : w->tmp;
    const float *cur = src;
    for (int d = 0; d < t->ndim; d++) {
        int g = w->s->axis[k][d];
        if (d == skip || g < 0) continue;
        apply_axis(t, d, mats[g], cur, out);
        cur = out;
        out = out == dst ? w->tmp : dst;
    }
}

/* X[i] and S for the matrices mats[i]; returns F. */
static double fw_eval(fw_work *w, float ***mats)
{
    double tot = 0.0;
    for (int i = 0; i < w->N; i++)
        for (int k = 0; k < w->P; k++) apply_param(w, mats[i], i, k, -1, w->X[i][k]);
    for (int k = 0; k < w->P; k++) {
        int64_t n = llfc_tensor_numel(w->nets[0]->param[k]);
        double q = 0.0, ss = 0.0;
        for (int64_t e = 0; e < n; e++) {
            double s = 0.0;
            for (int i = 0; i < w->N; i++) {
                double v = w->X[i][k][e];
                s += v;
                q += v * v;
            }
            w->S[k][e] = (float)s;
            ss += s * s;
        }
        tot += 0.5 * (ss - q);
    }
    return tot;
}

/* grad[i][g] at the matrices M (X and S of M current). */
static void fw_grad(fw_work *w, int i)
{
    const llfc_permspec *s = w->s;
    for (int g = 0; g < w->G; g++) memset(w->grad[i][g], 0, (size_t)(s->gsize[g] * s->gsize[g]) * sizeof(float));
    for (int k = 0; k < w->P; k++) {
        const llfc_tensor *t = w->nets[i]->param[k];
        int64_t n = llfc_tensor_numel(t);
        int any = 0;
        for (int d = 0; d < t->ndim; d++) any |= s->axis[k][d] >= 0;
        if (!any) continue;
        for (int64_t e = 0; e < n; e++) w->a[e] = w->S[k][e] - w->X[i][k][e];
        for (int d = 0; d < t->ndim; d++) {
            int g = s->axis[k][d];
            if (g < 0) continue;
            apply_param(w, w->M[i], i, k, d, w->b);
            llfc_axis_gram(t, d, w->a, w->b, w->grad[i][g], w->scratch);
        }
    }
}

/* Lagrange interpolation through (x[j], y[j]), j = 0..m, at t. */
static double lagrange(const double *x, const double *y, int m, double t)
{
    double v = 0.0;
    for (int j = 0; j <= m; j++) {
        double l = 1.0;
        for (int q = 0; q <= m; q++)
            if (q != j) l *= (t - x[q]) / (x[j] - x[q]);
        v += y[j] * l;
    }
    return v;
}

static void fw_free(fw_work *w)
{
    float ****mm[4] = {&w->M, &w->V, &w->T, &w->grad};
    for (int q = 0; q < 4; q++) {
        float ***m = *mm[q];
        if (!m) continue;
        for (int i = 0; i < w->N; i++) {
            if (m[i])
                for (int g = 0; g < w->G; g++) free(m[i][g]);
            free(m[i]);
        }
        free(m);
    }
    if (w->X)
        for (int i = 0; i < w->N; i++) {
            if (w->X[i])
                for (int k = 0; k < w->P; k++) free(w->X[i][k]);
            free(w->X[i]);
        }
    free(w->X);
    if (w->S)
        for (int k = 0; k < w->P; k++) free(w->S[k]);
    free(w->S);
    free(w->a), free(w->b), free(w->tmp), free(w->scratch), free(w->assign);
}

static float ***alloc_mats(const fw_work *w)
{
    float ***m = llfc_calloc((size_t)w->N, sizeof *m);
    if (!m) return NULL;
    for (int i = 0; i < w->N; i++) {
        if (!(m[i] = llfc_calloc((size_t)w->G + 1, sizeof **m))) return m;
        for (int g = 0; g < w->G; g++)
            if (!(m[i][g] = llfc_calloc((size_t)(w->s->gsize[g] * w->s->gsize[g]) + 1, sizeof(float)))) return m;
    }
    return m;
}

static int mats_ok(const fw_work *w, float ***m)
{
    if (!m) return 0;
    for (int i = 0; i < w->N; i++) {
        if (!m[i]) return 0;
        for (int g = 0; g < w->G; g++)
            if (!m[i][g]) return 0;
    }
    return 1;
}

static int fw_setup(fw_work *w, const llfc_net *const *nets, int N)
{
    w->N = N, w->nets = nets, w->s = nets[0]->spec, w->G = w->s->ngroups, w->P = nets[0]->nparams;
    int64_t maxnumel = 1, maxg = 1;
    int maxaxes = 1;
    for (int k = 0; k < w->P; k++) {
        int64_t n = llfc_tensor_numel(nets[0]->param[k]);
        if (n > maxnumel) maxnumel = n;
        int m = 0;
        for (int d = 0; d < nets[0]->param[k]->ndim; d++) m += w->s->axis[k][d] >= 0;
        if (m > maxaxes) maxaxes = m;
    }
    for (int g = 0; g < w->G; g++)
        if (w->s->gsize[g] > maxg) maxg = w->s->gsize[g];
    w->deg = 2 * maxaxes;
    w->M = alloc_mats(w), w->V = alloc_mats(w), w->T = alloc_mats(w), w->grad = alloc_mats(w);
    if (!mats_ok(w, w->M) || !mats_ok(w, w->V) || !mats_ok(w, w->T) || !mats_ok(w, w->grad)) return -1;
    if (!(w->X = llfc_calloc((size_t)N, sizeof *w->X)) || !(w->S = llfc_calloc((size_t)w->P + 1, sizeof *w->S)))
        return -1;
    for (int i = 0; i < N; i++) {
        if (!(w->X[i] = llfc_calloc((size_t)w->P + 1, sizeof **w->X))) return -1;
        for (int k = 0; k < w->P; k++)
            if (!(w->X[i][k] = llfc_mallocarray((size_t)llfc_tensor_numel(nets[0]->param[k]) + 1, sizeof(float))))
                return -1;
    }
    for (int k = 0; k < w->P; k++)
        if (!(w->S[k] = llfc_mallocarray((size_t)llfc_tensor_numel(nets[0]->param[k]) + 1, sizeof(float)))) return -1;
    if (!(w->a = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(w->b = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(w->tmp = llfc_mallocarray((size_t)maxnumel, sizeof(float))) ||
        !(w->scratch = llfc_mallocarray((size_t)(2 * maxnumel), sizeof(float))) ||
        !(w->assign = llfc_mallocarray((size_t)maxg, sizeof(int64_t))))
        return -1;
    return 0;
}

/* The permutation matrix of p into m[g]. */
static void perm_to_mats(const fw_work *w, const llfc_perm *p, float **m)
{
    for (int g = 0; g < w->G; g++) {
        int64_t n = w->s->gsize[g];
        memset(m[g], 0, (size_t)(n * n) * sizeof(float));
        for (int64_t U = 0; U < n; U++) m[g][U * n + p->idx[g][U]] = 1.0f;
    }
}

/* The nearest permutation of every matrix (the assignment maximising <M, P>) into p. */
static int project(fw_work *w, llfc_perm **p)
{
    for (int i = 0; i < w->N; i++)
        for (int g = 0; g < w->G; g++) {
            double total;
            int64_t n = w->s->gsize[g];
            if (llfc_lap_solve_f32(n, n, w->M[i][g], 1, w->assign, &total)) return -1;
            memcpy(p[i]->idx[g], w->assign, (size_t)n * sizeof *w->assign);
        }
    return 0;
}

static int align_universe(const llfc_net *const *nets, int N, const llfc_align_opts *o, llfc_perm **p,
                          llfc_align_stats *st)
{
    fw_work w;
    memset(&w, 0, sizeof w);
    int rc = -1, intr = 0;
    if (fw_setup(&w, nets, N)) goto done;
    if (start_perms(nets, N, o, p, &intr)) goto done;
    for (int i = 0; i < N; i++) perm_to_mats(&w, p[i], w.M[i]);
    double F = fw_eval(&w, w.M);
    if (llfc_align_objective(nets, N, p, &st->start)) goto done;
    double gx[17], gy[17];
    for (int it = 0; it < o->max_iter && !intr; it++) {
        /* the gradient and its best vertex for every network and group */
        for (int i = 0; i < N && !intr; i++) {
            if (llfc_interrupted()) { intr = 1; break; }
            fw_grad(&w, i);
            for (int g = 0; g < w.G; g++) {
                int64_t n = w.s->gsize[g];
                double total;
                if (llfc_lap_solve_f32(n, n, w.grad[i][g], 1, w.assign, &total)) {
                    if (llfc_interrupted()) { intr = 1; break; }
                    goto done;
                }
                memset(w.V[i][g], 0, (size_t)(n * n) * sizeof(float));
                for (int64_t U = 0; U < n; U++) w.V[i][g][U * n + w.assign[U]] = 1.0f;
            }
        }
        if (intr) break;
        /* F on the segment M + t (V - M): a polynomial of degree deg through deg + 1 points */
        gx[0] = 0.0, gy[0] = F;
        for (int j = 1; j <= w.deg; j++) {
            if (llfc_interrupted()) { intr = 1; break; }
            double t = (double)j / w.deg;
            for (int i = 0; i < N; i++)
                for (int g = 0; g < w.G; g++) {
                    int64_t nn = w.s->gsize[g] * w.s->gsize[g];
                    for (int64_t e = 0; e < nn; e++)
                        w.T[i][g][e] = (float)((1.0 - t) * w.M[i][g][e] + t * w.V[i][g][e]);
                }
            gx[j] = t;
            gy[j] = fw_eval(&w, w.T);
        }
        if (intr) break;
        double best = 0.0, fbest = F;
        for (int q = 1; q <= 1000; q++) {
            double t = q / 1000.0, f = lagrange(gx, gy, w.deg, t);
            if (f > fbest) fbest = f, best = t;
        }
        int gain = best > 0.0 && fbest - F > 1e-5 * (fabs(F) > 1.0 ? fabs(F) : 1.0);
        if (gain)
            for (int i = 0; i < N; i++)
                for (int g = 0; g < w.G; g++) {
                    int64_t nn = w.s->gsize[g] * w.s->gsize[g];
                    for (int64_t e = 0; e < nn; e++)
                        w.M[i][g][e] = (float)((1.0 - best) * w.M[i][g][e] + best * w.V[i][g][e]);
                }
        F = fw_eval(&w, w.M);
        st->objective[it] = F;
        st->iterations = it + 1;
        char msg[128];
        snprintf(msg, sizeof msg, "align_many step %d: objective %.9g, step %.3g%s", it + 1, F, best,
                 gain ? "" : " (no gain, done)");
        int r = report(o, it + 1, o->max_iter, msg);
        if (r < 0) goto done;
        if (r > 0) { intr = 1; break; }
        if (!gain) break;
    }
    /* the projection runs when interrupted too: the flag is set again after it */
    if (intr) llfc_interrupt_clear();
    if (project(&w, p)) goto done;
    if (intr) llfc_interrupt_flag = 1;
    st->frame = 1;
    st->interrupted = intr;
    rc = 0;
done:
    fw_free(&w);
    return rc;
}

int llfc_align_many(const llfc_net *const *nets, int N, const llfc_align_opts *opts, llfc_perm **perms,
                    llfc_align_stats *st)
{
    double t0 = llfc_now();
    llfc_align_opts o = {0};
    if (opts) o = *opts;
    if (o.max_iter < 1) o.max_iter = 100;
    if (o.wm_iter < 1) o.wm_iter = 100;
    memset(st, 0, sizeof *st);
    for (int i = 0; i < N; i++) perms[i] = NULL;
    if (N < 2) return llfc_seterr("align_many: need at least 2 networks, got %d", N);
    if (o.method != LLFC_ALIGN_AVERAGE && o.method != LLFC_ALIGN_UNIVERSE)
        return llfc_seterr("align_many: unknown method %d", o.method);
    for (int i = 0; i < N; i++) {
        if (!nets[i]->spec) return llfc_seterr("align_many: network %d has no permutation spec", i + 1);
        if (i > 0 && llfc_net_same_arch(nets[0], nets[i])) return llfc_adderr("align_many: network %d", i + 1);
        for (int k = 0; k < nets[i]->nparams; k++)
            if (!llfc_tensor_is_contiguous(nets[i]->param[k]))
                return llfc_seterr("align_many: parameter '%s' of network %d is not contiguous", nets[i]->pname[k], i + 1);
    }
    if (!(st->objective = llfc_mallocarray((size_t)o.max_iter, sizeof *st->objective))) return -1;
    int rc = o.method == LLFC_ALIGN_AVERAGE ? align_average(nets, N, &o, perms, st)
                                            : align_universe(nets, N, &o, perms, st);
    if (!rc) {
        /* the interrupt flag must not stop the final objective */
        int intr = llfc_interrupted();
        if (intr) llfc_interrupt_clear();
        rc = llfc_align_objective(nets, N, perms, &st->final);
        if (intr) llfc_interrupt_flag = 1;
    }
    if (rc) {
        for (int i = 0; i < N; i++) { llfc_perm_free(perms[i]); perms[i] = NULL; }
        free(st->objective);
        st->objective = NULL;
        return -1;
    }
    st->seconds = llfc_now() - t0;
    return 0;
}
