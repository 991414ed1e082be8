/* match.c - weight matching and activation matching (Git Re-Basin).
 *
 * Both return the Perm p that aligns network b to network a (p(b) ~ a) and
 * work from the permutation spec alone.
 *
 * Weight matching maximises sum_k <W_A[k], p(W_B[k])> by coordinate descent:
 * each sweep visits the groups in a seeded random order; for group g of n
 * units the cost is
 *
 *     C[n, n] = sum over (param k, axis d) in g of
 *               moveaxis(W_A[k], d, 0).reshape(n, -1) @
 *               moveaxis(p_{-d}(W_B[k]), d, 0).reshape(n, -1)^T
 *
 * where p_{-d} applies the current permutations of every other axis, and
 * p[g] becomes the maximising assignment of C.  A sweep that improves no
 * group (by more than 1e-12) ends the search.
 *
 * Activation matching: for each group, the post-activation features of its
 * feature layer over n samples, streamed in batches; C = H_A^T H_B (inner) or
 * the Pearson correlation matrix (corr; a unit with zero variance correlates 0
 * with everything), and p[g] = argmax assignment of C.  A conv feature
 * [n, C*H*W] (NCHW) of a group of C channels is viewed as [n*H*W, C]: every
 * sample and position is one observation of the channels.  A group without
 * a feature layer keeps the identity.
 */
#include "perm/perm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm/lap.h"
#include "nn/nn.h"

/* out[i, p, q] = in[p, i, q] for in viewed as [pre, n, post]. */
static void move_to_front(const float *in, float *out, int64_t pre, int64_t n, int64_t post)
{
    for (int64_t p = 0; p < pre; p++)
        for (int64_t i = 0; i < n; i++)
            memcpy(out + (i * pre + p) * post, in + (p * n + i) * post, (size_t)post * sizeof *out);
}

/* C[n, n] += moveaxis(A, d, 0) @ moveaxis(B, d, 0)^T (perm.h) */
void llfc_axis_gram(const llfc_tensor *shape, int d, const float *A, const float *B, float *C, float *scratch)
{
    int nd = shape->ndim;
    int64_t n = shape->size[d], numel = llfc_tensor_numel(shape), rest = numel / n;
    int64_t pre = 1, post = 1;
    for (int k = 0; k < d; k++) pre *= shape->size[k];
    for (int k = d + 1; k < nd; k++) post *= shape->size[k];
    if (pre == 1) { /* [n, rest]: C += A B^T */
        llfc_gemm(0, 1, (int)n, (int)n, (int)rest, 1.0f, A, (int)rest, B, (int)rest, 1.0f, C, (int)n);
    } else if (post == 1) { /* [rest, n]: C += A^T B */
        llfc_gemm(1, 0, (int)n, (int)n, (int)rest, 1.0f, A, (int)n, B, (int)n, 1.0f, C, (int)n);
    } else {
        float *a2 = scratch, *b2 = scratch + numel;
        move_to_front(A, a2, pre, n, post);
        move_to_front(B, b2, pre, n, post);
        llfc_gemm(0, 1, (int)n, (int)n, (int)rest, 1.0f, a2, (int)rest, b2, (int)rest, 1.0f, C, (int)n);
    }
}

int llfc_match_check_pair(const llfc_net *a, const llfc_net *b)
{
    if (llfc_net_same_arch(a, b)) return -1;
    if (!a->spec || !b->spec) return llfc_seterr("the networks have no permutation spec");
    if (a->spec->ngroups != b->spec->ngroups) return llfc_seterr("the networks have different permutation specs");
    for (int k = 0; k < a->nparams; k++)
        if (!llfc_tensor_is_contiguous(a->param[k]) || !llfc_tensor_is_contiguous(b->param[k]))
            return llfc_seterr("parameter '%s' is not contiguous", a->pname[k]);
    return 0;
}


/* c[k] += t[k]: the same sums at any vector width */
LLFC_VECTOR_CLONES LLFC_VECTORIZE static void add_into(float *restrict c, const float *restrict t, int64_t n)
{
    for (int64_t k = 0; k < n; k++) c[k] += t[k];
}

/* sum_k x[k] y[k] in float64, in four interleaved partial sums (k mod 4),
 * added in a fixed order: the same bits from either copy of the function */
LLFC_VECTOR_CLONES LLFC_VECTORIZE static double dot64(const float *restrict x, const float *restrict y, int64_t n)
{
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        a0 += (double)x[k] * (double)y[k];
        a1 += (double)x[k + 1] * (double)y[k + 1];
        a2 += (double)x[k + 2] * (double)y[k + 2];
        a3 += (double)x[k + 3] * (double)y[k + 3];
    }
    for (; k < n; k++) a0 += (double)x[k] * (double)y[k];
    return (a0 + a1) + (a2 + a3);
}

/* sum_k <A_k, p(B_k)> with scratch tensors tmp[k] */
static double wm_objective(const llfc_net *a, const llfc_net *b, const llfc_perm *p, llfc_tensor **tmp)
{
    const llfc_permspec *s = a->spec;
    double tot = 0.0;
    for (int k = 0; k < a->nparams; k++) {
        const int64_t *ap[LLFC_MAXDIM] = {0};
        for (int d = 0; d < a->param[k]->ndim; d++)
            if (s->axis[k][d] >= 0) ap[d] = p->idx[s->axis[k][d]];
        llfc_perm_gather(b->param[k], tmp[k], ap);
        tot += dot64(llfc_tensor_data(a->param[k]), llfc_tensor_data(tmp[k]), llfc_tensor_numel(a->param[k]));
    }
    return tot;
}

/* One (parameter, axis) contribution to a group's cost, cached with the
 * permutations of the parameter's other axes it was computed with.  When
 * those change in a few positions only (late sweeps), a 2-d term is updated
 * by a rank-s product instead of recomputed:
 *   T += W_A[:, S] (W_B[:, new[S]] - W_B[:, old[S]])^T   (group on rows)
 * and likewise on columns. */
typedef struct {
    int k, d;                      /* parameter, axis */
    float *T;                      /* [n, n], NULL until computed */
    int64_t *seen[LLFC_MAXDIM];    /* other axes' permutations when computed */
} wm_term;

static int term_full(const llfc_net *a, const llfc_net *b, const llfc_perm *p, wm_term *t, int64_t n,
                     llfc_tensor *tmp, float *scratch)
{
    const llfc_permspec *s = a->spec;
    const llfc_tensor *Wb = b->param[t->k];
    const int64_t *ap[LLFC_MAXDIM] = {0};
    int other = 0;
    for (int e = 0; e < Wb->ndim; e++)
        if (e != t->d && s->axis[t->k][e] >= 0) {
            int h = s->axis[t->k][e];
            ap[e] = p->idx[h];
            other = 1;
            if (!t->seen[e] && !(t->seen[e] = llfc_mallocarray((size_t)s->gsize[h], sizeof(int64_t)))) return -1;
            memcpy(t->seen[e], p->idx[h], (size_t)s->gsize[h] * sizeof(int64_t));
        }
    if (!t->T && !(t->T = llfc_mallocarray((size_t)(n * n), sizeof(float)))) return -1;
    const float *B = llfc_tensor_data(Wb);
    if (other) { llfc_perm_gather(Wb, tmp, ap); B = llfc_tensor_data(tmp); }
    memset(t->T, 0, (size_t)(n * n) * sizeof(float));
    llfc_axis_gram(Wb, t->d, llfc_tensor_data(a->param[t->k]), B, t->T, scratch);
    return 0;
}

/* Bring term t up to date with p; *changed says whether T moved. */
static int term_refresh(const llfc_net *a, const llfc_net *b, const llfc_perm *p, wm_term *t, int64_t n,
                        llfc_tensor *tmp, float *scratch, int64_t *pos, int *changed)
{
    const llfc_permspec *s = a->spec;
    const llfc_tensor *Wb = b->param[t->k];
    *changed = 1;
    if (!t->T) return term_full(a, b, p, t, n, tmp, scratch);
    int ndiff_axes = 0, e1 = -1;
    int64_t ns = 0;
    for (int e = 0; e < Wb->ndim; e++) {
        int h = s->axis[t->k][e];
        if (e == t->d || h < 0) continue;
        int64_t m = s->gsize[h], c = 0;
        for (int64_t i = 0; i < m; i++) c += t->seen[e][i] != p->idx[h][i];
        if (c) { ndiff_axes++; e1 = e; ns = c; }
    }
    if (ndiff_axes == 0) { *changed = 0; return 0; }
    if (ndiff_axes > 1 || Wb->ndim != 2 || 2 * ns >= Wb->size[e1]) return term_full(a, b, p, t, n, tmp, scratch);
    /* rank-ns update along axis e1 (the other axis of a matrix) */
    int h = s->axis[t->k][e1];
    const int64_t *old = t->seen[e1], *cur = p->idx[h];
    int64_t m = s->gsize[h], k = 0;
    for (int64_t i = 0; i < m; i++)
        if (old[i] != cur[i]) pos[k++] = i;
    const float *Wa = llfc_tensor_data(a->param[t->k]), *B = llfc_tensor_data(Wb);
    float *As = scratch, *Ds = scratch + n * ns;
    if (t->d == 0) { /* W [n, m]: columns permuted */
        for (int64_t i = 0; i < n; i++)
            for (int64_t q = 0; q < ns; q++) {
                int64_t c = pos[q];
                As[i * ns + q] = Wa[i * m + c];
                Ds[i * ns + q] = B[i * m + cur[c]] - B[i * m + old[c]];
            }
        llfc_gemm(0, 1, (int)n, (int)n, (int)ns, 1.0f, As, (int)ns, Ds, (int)ns, 1.0f, t->T, (int)n);
    } else { /* W [m, n]: rows permuted */
        for (int64_t q = 0; q < ns; q++) {
            int64_t r = pos[q];
            memcpy(As + q * n, Wa + r * n, (size_t)n * sizeof(float));
            for (int64_t j = 0; j < n; j++) Ds[q * n + j] = B[cur[r] * n + j] - B[old[r] * n + j];
        }
        llfc_gemm(1, 0, (int)n, (int)n, (int)ns, 1.0f, As, (int)n, Ds, (int)n, 1.0f, t->T, (int)n);
    }
    memcpy(t->seen[e1], cur, (size_t)m * sizeof(int64_t));
    return 0;
}

llfc_perm *llfc_weight_match(const llfc_net *a, const llfc_net *b, const llfc_wm_opts *opts, llfc_wm_stats *stats)
{
    double t0 = llfc_now();
    llfc_wm_opts o = {.max_iter = 100};
    if (opts) o = *opts;
    if (o.max_iter < 1) { llfc_seterr("max_iter must be at least 1, got %d", o.max_iter); return NULL; }
    memset(stats, 0, sizeof *stats);
    if (llfc_match_check_pair(a, b)) return NULL;
    const llfc_permspec *s = a->spec;
    int G = s->ngroups, P = a->nparams, nterms = 0;
    for (int k = 0; k < P; k++)
        for (int d = 0; d < a->param[k]->ndim; d++) nterms += s->axis[k][d] >= 0;
    llfc_perm *p = NULL;
    llfc_tensor **tmp = llfc_calloc((size_t)P + 1, sizeof *tmp);
    int64_t *order = llfc_mallocarray((size_t)G + 1, sizeof *order);
    wm_term *terms = llfc_calloc((size_t)nterms + 1, sizeof *terms);
    char *solved = llfc_calloc((size_t)G + 1, 1);
    double **prices = llfc_calloc((size_t)G + 1, sizeof *prices); /* per group, for warm starts */
    int64_t *assign = NULL, *pos = NULL;
    float *C = NULL, *scratch = NULL;
    double *obj = llfc_mallocarray((size_t)o.max_iter, sizeof *obj);
    int64_t maxg = 1, maxnumel = 1, maxdim = 1;
    if (!tmp || !order || !obj || !terms || !solved || !prices) goto fail;
    for (int g = 0; g < G; g++) {
        if (s->gsize[g] > maxg) maxg = s->gsize[g];
        if (!(prices[g] = llfc_calloc((size_t)s->gsize[g] + 1, sizeof **prices))) goto fail;
    }
    for (int k = 0, t = 0; k < P; k++) {
        if (!(tmp[k] = llfc_tensor_clone(b->param[k]))) goto fail;
        int64_t ne = llfc_tensor_numel(b->param[k]);
        if (ne > maxnumel) maxnumel = ne;
        for (int d = 0; d < a->param[k]->ndim; d++) {
            if (a->param[k]->size[d] > maxdim) maxdim = a->param[k]->size[d];
            if (s->axis[k][d] >= 0) { terms[t].k = k; terms[t].d = d; t++; }
        }
    }
    if (!(C = llfc_mallocarray((size_t)(maxg * maxg), sizeof *C))) goto fail;
    if (!(scratch = llfc_mallocarray((size_t)(2 * maxnumel), sizeof *scratch))) goto fail;
    if (!(assign = llfc_mallocarray((size_t)maxg, sizeof *assign))) goto fail;
    if (!(pos = llfc_mallocarray((size_t)maxdim, sizeof *pos))) goto fail;
    if (o.init) {
        if (llfc_perm_fits(o.init, s)) { llfc_adderr("init"); goto fail; }
        p = llfc_perm_clone(o.init);
    } else {
        p = llfc_perm_identity(s);
    }
    if (!p) goto fail;

    llfc_rng rng;
    llfc_rng_seed(&rng, o.seed);
    int it;
    for (it = 0; it < o.max_iter; it++) {
        int progress = 0;
        for (int g = 0; g < G; g++) order[g] = g;
        llfc_rng_shuffle(&rng, order, G);
        for (int oi = 0; oi < G; oi++) {
            if (llfc_interrupted()) { stats->interrupted = 1; break; } /* p holds whole groups: valid */
            int g = (int)order[oi], first = 1, moved = 0;
            int64_t n = s->gsize[g];
            for (int t = 0; t < nterms; t++) {
                wm_term *tm = &terms[t];
                if (s->axis[tm->k][tm->d] != g) continue;
                int ch;
                if (term_refresh(a, b, p, tm, n, tmp[tm->k], scratch, pos, &ch)) goto fail;
                moved |= ch;
                if (first) memcpy(C, tm->T, (size_t)(n * n) * sizeof *C);
                else add_into(C, tm->T, n * n);
                first = 0;
            }
            /* the same cost as at this group's last solve: the same answer */
            if (!moved && solved[g]) continue;
            if (first) memset(C, 0, (size_t)(n * n) * sizeof *C);
            /* from the group's last answer and prices (cold the first time) */
            double total;
            if (solved[g]) memcpy(assign, p->idx[g], (size_t)n * sizeof *assign);
            else for (int64_t i = 0; i < n; i++) assign[i] = -1;
            if (llfc_lap_solve_warm_f32(n, C, 1, assign, prices[g], &total)) {
                /* interrupted inside the solve: p still holds whole groups */
                if (llfc_interrupted()) { stats->interrupted = 1; break; }
                goto fail;
            }
            double oldL = 0.0, newL = 0.0;
            for (int64_t i = 0; i < n; i++) {
                oldL += C[i * n + p->idx[g][i]];
                newL += C[i * n + assign[i]];
            }
            if (newL > oldL + 1e-12) progress = 1;
            memcpy(p->idx[g], assign, (size_t)n * sizeof *assign);
            solved[g] = 1;
        }
        if (stats->interrupted) break; /* a partial sweep: not counted */
        obj[it] = wm_objective(a, b, p, tmp);
        if (o.progress) {
            char msg[128];
            snprintf(msg, sizeof msg, "weight_match sweep %d: objective %.9g%s", it + 1, obj[it],
                     progress ? "" : " (no improvement, done)");
            if (llfc_progress_stop(o.progress, o.progress_ud, it + 1, o.max_iter, msg)) {
                if (llfc_interrupted()) { stats->interrupted = 1; it++; break; }
                goto fail;
            }
        }
        if (!progress) { it++; break; }
    }
    stats->iterations = it;
    stats->objective = obj;
    obj = NULL;
    stats->seconds = llfc_now() - t0;
    goto done;
fail:
    llfc_perm_free(p);
    p = NULL;
done:
    if (tmp)
        for (int k = 0; k < P; k++) llfc_tensor_free(tmp[k]);
    if (terms)
        for (int t = 0; t < nterms; t++) {
            free(terms[t].T);
            for (int e = 0; e < LLFC_MAXDIM; e++) free(terms[t].seen[e]);
        }
    free(terms);
    free(solved);
    if (prices)
        for (int g = 0; g < G; g++) free(prices[g]);
    free(prices);
    free(tmp);
    free(order);
    free(assign);
    free(pos);
    free(C);
    free(scratch);
    free(obj);
    return p;
}

/* ---- activation matching ------------------------------------------------- */

/* out [m, q, d] = in [m, d, q] (channels last: one row per sample and position) */
static void chan_last(const float *in, float *out, int64_t m, int64_t d, int64_t q)
{
    for (int64_t i = 0; i < m; i++) {
        const float *x = in + i * d * q;
        float *y = out + i * d * q;
        for (int64_t c = 0; c < d; c++)
            for (int64_t k = 0; k < q; k++) y[k * d + c] = x[c * q + k];
    }
}

/* Default batch: 500 samples, fewer when the executor's values (about one
 * of every slot) and the kept features with their transposes would pass
 * about 128 MB. */
static int64_t am_batch(const llfc_net *a, const llfc_permspec *s, const int64_t *hw)
{
    int64_t per = 0;
    for (int k = 0; k < a->nslots; k++) per += llfc_net_slot_dim(a, k);
    for (int g = 0; g < s->ngroups; g++)
        if (hw[g]) per += 4 * s->gsize[g] * hw[g];
    int64_t bs = (INT64_C(32) << 20) / (per > 0 ? per : 1);
    return bs < 1 ? 1 : bs > 500 ? 500 : bs;
}

llfc_perm *llfc_activation_match(const llfc_net *a, const llfc_net *b, const float *x, int64_t n,
                                 const llfc_am_opts *opts, llfc_am_stats *stats)
{
    double t0 = llfc_now();
    llfc_am_opts o = {.method = LLFC_AM_INNER, .batch = 500};
    if (opts) o = *opts;
    if (o.method != LLFC_AM_INNER && o.method != LLFC_AM_CORR) {
        llfc_seterr("unknown method %d", o.method);
        return NULL;
    }
    if (n < 1) { llfc_seterr("need at least one sample, got %lld", (long long)n); return NULL; }
    if (llfc_match_check_pair(a, b)) return NULL;
    const llfc_permspec *s = a->spec;
    int G = s->ngroups, F = llfc_net_nfeat(a), nmatch = 0;
    char fname[48];
    int64_t *hw = llfc_calloc((size_t)G + 1, sizeof *hw); /* positions per channel; 0: identity */
    if (!hw) return NULL;
    /* check every group before any work */
    for (int g = 0; g < G; g++) {
        int l = s->gfeat[g];
        if (l < 0) continue; /* no feature layer: kept identity */
        int64_t d = s->gsize[g], fd = l < F ? llfc_net_featdim(a, l) : 0;
        if (l >= F || d < 1 || fd % d != 0) {
            if (l >= F) llfc_seterr("group %s: feature layer %d out of range 1..%d", s->gname[g], l + 1, F);
            else llfc_seterr("group %s has %lld units but feature layer %s has %lld values, not a multiple",
                             s->gname[g], (long long)d, llfc_net_featname(a, l, fname, sizeof fname), (long long)fd);
            free(hw);
            return NULL;
        }
        hw[g] = fd / d;
        nmatch++;
    }
    int64_t din = llfc_net_input_dim(a), bs = o.batch;
    if (bs < 1) bs = am_batch(a, s, hw);
    if (bs > n) bs = n;
    llfc_perm *p = llfc_perm_identity(s);
    float **fa = llfc_calloc((size_t)F + 1, sizeof *fa), **fb = llfc_calloc((size_t)F + 1, sizeof *fb);
    double **S = llfc_calloc((size_t)G + 1, sizeof *S);  /* [d, d] sums of hA hB^T */
    float **P = llfc_calloc((size_t)G + 1, sizeof *P);     /* [d, d] hA hB^T of a single batch */
    double **mom = llfc_calloc((size_t)G + 1, sizeof *mom); /* [4, d]: sum a, sum b, sum a^2, sum b^2 */
    int single = bs >= n;
    float *tmp = NULL, *cost = NULL, *ta = NULL, *tb = NULL;
    int64_t *assign = NULL;
    int64_t maxd = 1, maxt = 0;
    int64_t ndone = 0; /* Ctrl-C after a whole batch: match on the samples done */
    int intr = 0;
    if (!p || !fa || !fb || !S || !P || !mom) goto fail;
    if (nmatch == 0) { n = 0; goto matched; } /* nothing to measure */
    for (int g = 0; g < G; g++) {
        if (!hw[g]) continue;
        int64_t d = s->gsize[g], fd = d * hw[g];
        int l = s->gfeat[g];
        if (d > maxd) maxd = d;
        if (hw[g] > 1 && fd > maxt) maxt = fd;
        if (!fa[l] && !(fa[l] = llfc_mallocarray((size_t)(bs * fd), sizeof(float)))) goto fail;
        if (!fb[l] && !(fb[l] = llfc_mallocarray((size_t)(bs * fd), sizeof(float)))) goto fail;
        /* one batch: the product itself (float32, as a single product gives
         * it); several: their sum in float64 */
        if (single ? !(P[g] = llfc_mallocarray((size_t)(d * d), sizeof(float)))
                   : !(S[g] = llfc_calloc((size_t)(d * d), sizeof(double))))
            goto fail;
        if (!(mom[g] = llfc_calloc((size_t)(4 * d), sizeof(double)))) goto fail;
    }
    if (!single && !(tmp = llfc_mallocarray((size_t)(maxd * maxd), sizeof *tmp))) goto fail;
    if (maxt && (!(ta = llfc_mallocarray((size_t)(bs * maxt), sizeof *ta)) ||
                 !(tb = llfc_mallocarray((size_t)(bs * maxt), sizeof *tb))))
        goto fail;
    for (int64_t i0 = 0; i0 < n; i0 += bs) {
        if (ndone > 0 && llfc_interrupted()) { intr = 1; break; }
        if (llfc_check_interrupt()) goto fail;
        int64_t m = n - i0 < bs ? n - i0 : bs;
        const float *xb = x + i0 * din;
        if (llfc_net_forward_features(a, xb, m, NULL, fa)) goto fail;
        if (ndone > 0 && llfc_interrupted()) { intr = 1; break; }
        if (llfc_check_interrupt() || llfc_net_forward_features(b, xb, m, NULL, fb)) goto fail;
        for (int g = 0; g < G; g++) {
            if (!hw[g]) continue;
            int64_t d = s->gsize[g], q = hw[g], rows = m * q;
            int l = s->gfeat[g];
            /* a wide group's product takes a while; once sums hold whole
             * batches, finish this one (S must not mix in half a batch) */
            if (ndone == 0 && llfc_check_interrupt()) goto fail;
            /* H [rows, d]: the features themselves, or a conv map [m, d, q]
             * turned into [m, q, d] (rows = m*q observations of d channels) */
            const float *HA = fa[l], *HB = fb[l];
            if (q > 1) {
                chan_last(fa[l], ta, m, d, q);
                chan_last(fb[l], tb, m, d, q);
                HA = ta, HB = tb;
            }
            /* H_A^T H_B [d, d] for this batch */
            llfc_gemm(1, 0, (int)d, (int)d, (int)rows, 1.0f, HA, (int)d, HB, (int)d, 0.0f, single ? P[g] : tmp,
                      (int)d);
            double *Sg = S[g], *mg = mom[g];
            if (!single)
                for (int64_t k = 0; k < d * d; k++) Sg[k] += tmp[k];
            if (o.method == LLFC_AM_INNER) continue; /* moments only for corr */
            for (int64_t r = 0; r < rows; r++) {
                const float *ha = HA + r * d, *hb = HB + r * d;
                for (int64_t k = 0; k < d; k++) {
                    mg[k] += ha[k];
                    mg[d + k] += hb[k];
                    mg[2 * d + k] += (double)ha[k] * ha[k];
                    mg[3 * d + k] += (double)hb[k] * hb[k];
                }
            }
        }
        ndone = i0 + m;
        if (o.progress && llfc_progress_stop(o.progress, o.progress_ud, (double)(i0 + m), (double)n, "activation_match")) {
            if (llfc_interrupted()) { intr = 1; break; }
            goto fail;
        }
    }
    n = ndone;
    /* interrupted: the assignments still run (one more Ctrl-C stops them);
     * the flag is set again for the caller */
    if (intr) llfc_interrupt_clear();
    if (!(cost = llfc_mallocarray((size_t)(maxd * maxd), sizeof *cost))) goto fail;
    if (!(assign = llfc_mallocarray((size_t)maxd, sizeof *assign))) goto fail;
    for (int g = 0; g < G; g++) {
        if (!hw[g]) continue;
        int64_t d = s->gsize[g];
        double *Sg = S[g], *mg = mom[g], nobs = (double)n * (double)hw[g];
        const float *Pg = P[g];
#define SUM_AB(k) (Pg ? (double)Pg[k] : Sg[k])
        if (o.method == LLFC_AM_INNER) {
            for (int64_t k = 0; k < d * d; k++) cost[k] = (float)(SUM_AB(k) / nobs);
        } else {
            /* corr[i, j] = (E[a_i b_j] - E a_i E b_j) / (sd a_i sd b_j); 0 for a dead unit */
            double *sa = mg + 2 * d, *sb = mg + 3 * d; /* reuse as std */
            for (int64_t k = 0; k < d; k++) {
                mg[k] /= nobs;
                mg[d + k] /= nobs;
                double va = sa[k] / nobs - mg[k] * mg[k], vb = sb[k] / nobs - mg[d + k] * mg[d + k];
                /* relative floor: variance lost in rounding counts as dead */
                sa[k] = va > 1e-12 * (1.0 + mg[k] * mg[k]) ? sqrt(va) : 0.0;
                sb[k] = vb > 1e-12 * (1.0 + mg[d + k] * mg[d + k]) ? sqrt(vb) : 0.0;
            }
            for (int64_t i = 0; i < d; i++)
                for (int64_t j = 0; j < d; j++) {
                    double den = sa[i] * sb[j];
                    double c = den > 0.0 ? (SUM_AB(i * d + j) / nobs - mg[i] * mg[d + j]) / den : 0.0;
                    cost[i * d + j] = (float)c;
                }
        }
#undef SUM_AB
        double total;
        if (llfc_lap_solve_f32(d, d, cost, 1, assign, &total)) goto fail;
        memcpy(p->idx[g], assign, (size_t)d * sizeof *assign);
    }
matched:
    if (intr) llfc_interrupt_flag = 1;
    if (stats) {
        stats->seconds = llfc_now() - t0;
        stats->n = n;
        stats->interrupted = intr;
        stats->nidentity = G - nmatch;
    }
    goto done;
fail:
    llfc_perm_free(p);
    p = NULL;
done:
    for (int l = 0; l < F; l++) {
        if (fa) free(fa[l]);
        if (fb) free(fb[l]);
    }
    free(fa);
    free(fb);
    for (int g = 0; g < G; g++) {
        if (S) free(S[g]);
        if (P) free(P[g]);
        if (mom) free(mom[g]);
    }
    free(S);
    free(P);
    free(mom);
    free(tmp);
    free(ta);
    free(tb);
    free(hw);
    free(cost);
    free(assign);
    return p;
}
