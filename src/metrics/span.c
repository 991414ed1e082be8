/* span.c - error, loss and LLFC at points of the span of K networks (see
 * span.h).
 *
 * Per point: the network (a combination written into a work copy of the
 * first node, or the given one; BatchNorm statistics re-estimated when
 * asked), then per batch of m samples one forward pass keeping the logits
 * and the LLFC layers' slots, cross-entropy and errors by llfc_xent, and
 * for LLFC one forward pass of every node the mix uses, keeping the same
 * slots; the mix and the cosines are summed in double per sample.
 */
#include "metrics/span.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "nn/combine.h"

void llfc_span_values_free(llfc_span_value *vals, int np)
{
    if (!vals) return;
    for (int p = 0; p < np; p++) {
        free(vals[p].mean), free(vals[p].std), free(vals[p].coef_mean), free(vals[p].coef_std);
        free(vals[p].skipped);
        memset(&vals[p], 0, sizeof vals[p]);
    }
}

typedef struct {
    int K, L, S;                 /* nodes, LLFC layers, slots */
    int *feat;                   /* [L] feature layers */
    int *fslot;                  /* [L] their slots */
    float **kt;                  /* [S] kept slots of the point */
    float ***kn;                 /* [K][S] kept slots of the nodes */
    llfc_net *work;              /* combined points */
    double *sum, *sq, *csum, *csq; /* [L] per point */
    int64_t *cnt, *skip;
} span_work;

static void work_free(span_work *w)
{
    for (int s = 0; s < w->S; s++) {
        if (w->kt) free(w->kt[s]);
        for (int k = 0; k < w->K; k++)
            if (w->kn && w->kn[k]) free(w->kn[k][s]);
    }
    if (w->kn)
        for (int k = 0; k < w->K; k++) free(w->kn[k]);
    free(w->kn), free(w->kt), free(w->feat), free(w->fslot);
    free(w->sum), free(w->sq), free(w->csum), free(w->csq), free(w->cnt), free(w->skip);
    llfc_net_free(w->work);
}

static int check(const llfc_net *const *nodes, int K, const llfc_span_point *pts, int np, const llfc_dataset *ds,
                 const llfc_span_opts *o)
{
    if (K < 1) return llfc_seterr("no networks");
    for (int k = 1; k < K; k++)
        if (llfc_net_same_arch(nodes[0], nodes[k])) return llfc_adderr("network %d", k + 1);
    if (ds->n < 1) return llfc_seterr("the dataset is empty");
    if (ds->dim != llfc_net_input_dim(nodes[0]))
        return llfc_seterr("the networks take %lld inputs but the dataset has %lld features",
                           (long long)llfc_net_input_dim(nodes[0]), (long long)ds->dim);
    if (ds->nclasses > llfc_net_num_classes(nodes[0]))
        return llfc_seterr("the dataset has %d classes but the networks output %lld", ds->nclasses,
                           (long long)llfc_net_num_classes(nodes[0]));
    if (o->features != 0 && o->features != 1) return llfc_seterr("features must be post or pre");
    if (o->batch < 0) return llfc_seterr("batch must be positive, got %lld", (long long)o->batch);
    if (o->bn_x && (o->bn_n < 1 || o->bn_batch < 1)) return llfc_seterr("reset_bn: no samples or batch");
    for (int l = 0; o->layers && l < o->nlayers; l++)
        if (o->layers[l] < 0 || o->layers[l] >= nodes[0]->nfeat)
            return llfc_seterr("layer %d out of range 1..%d", o->layers[l] + 1, nodes[0]->nfeat);
    for (int p = 0; p < np; p++) {
        if (!pts[p].w && !pts[p].net) return llfc_seterr("point %d has neither weights nor a network", p + 1);
        if (pts[p].net && llfc_net_same_arch(nodes[0], pts[p].net)) return llfc_adderr("point %d", p + 1);
        if (pts[p].llfc && !pts[p].w && !pts[p].v) return llfc_seterr("point %d: LLFC needs the mix weights", p + 1);
        const double *ws[2] = {pts[p].w, pts[p].v};
        for (int q = 0; q < 2; q++)
            for (int k = 0; ws[q] && k < K; k++)
                if (!isfinite(ws[q][k])) return llfc_seterr("point %d: weight %d is %g", p + 1, k + 1, ws[q][k]);
    }
    return 0;
}

static int setup(span_work *w, const llfc_net *const *nodes, int K, const llfc_span_point *pts, int np,
                 const llfc_dataset *ds, const llfc_span_opts *o, int64_t *bs)
{
    const llfc_net *a = nodes[0];
    int anyllfc = 0, anycomb = 0;
    for (int p = 0; p < np; p++) anyllfc |= pts[p].llfc, anycomb |= pts[p].net == NULL;
    w->K = K, w->S = a->nslots;
    w->L = anyllfc ? (o->layers ? o->nlayers : a->nfeat) : 0;
    if (!(w->feat = llfc_calloc((size_t)w->L + 1, sizeof *w->feat)) ||
        !(w->fslot = llfc_calloc((size_t)w->L + 1, sizeof *w->fslot)))
        return -1;
    for (int l = 0; l < w->L; l++) {
        w->feat[l] = o->layers ? o->layers[l] : l;
        w->fslot[l] = llfc_net_feat_slot(a, w->feat[l], o->features);
    }
    char *keep = llfc_calloc((size_t)w->S, 1);
    if (!keep) return -1;
    keep[llfc_net_feat_slot(a, a->nfeat - 1, 0)] = 1;
    for (int l = 0; l < w->L; l++) keep[w->fslot[l]] = 1;
    /* floats per sample: the kept slots of the point and of the nodes, one of every slot for the executor */
    int64_t per = 0;
    for (int s = 1; s < w->S; s++) per += llfc_net_slot_dim(a, s) * (1 + keep[s] * (1 + (anyllfc ? K : 0)));
    *bs = o->batch > 0 ? o->batch : 1000;
    if (o->batch <= 0) {
        int64_t cap = (INT64_C(32) << 20) / (per > 0 ? per : 1);
        if (*bs > cap) *bs = cap < 1 ? 1 : cap;
    }
    if (*bs > ds->n) *bs = ds->n;
    int rc = -1;
    if (!(w->kt = llfc_calloc((size_t)w->S, sizeof *w->kt))) goto done;
    if (anyllfc && !(w->kn = llfc_calloc((size_t)K, sizeof *w->kn))) goto done;
    for (int k = 0; anyllfc && k < K; k++)
        if (!(w->kn[k] = llfc_calloc((size_t)w->S, sizeof **w->kn))) goto done;
    for (int s = 1; s < w->S; s++) {
        if (!keep[s]) continue;
        size_t n = (size_t)(*bs * llfc_net_slot_dim(a, s));
        if (!(w->kt[s] = llfc_mallocarray(n, sizeof(float)))) goto done;
        /* the nodes keep only the LLFC slots */
        int used = 0;
        for (int l = 0; l < w->L; l++) used |= w->fslot[l] == s;
        for (int k = 0; anyllfc && used && k < K; k++)
            if (!(w->kn[k][s] = llfc_mallocarray(n, sizeof(float)))) goto done;
    }
    size_t L1 = (size_t)w->L + 1;
    if (!(w->sum = llfc_calloc(L1, sizeof(double))) || !(w->sq = llfc_calloc(L1, sizeof(double))) ||
        !(w->csum = llfc_calloc(L1, sizeof(double))) || !(w->csq = llfc_calloc(L1, sizeof(double))) ||
        !(w->cnt = llfc_calloc(L1, sizeof(int64_t))) || !(w->skip = llfc_calloc(L1, sizeof(int64_t))))
        goto done;
    if (anycomb && !(w->work = llfc_net_clone(a))) goto done;
    rc = 0;
done:
    free(keep);
    return rc;
}

/* 1 - cos(f, mix) and c = <f, mix>/|f|^2 per row of layer l, mix = sum_k v[k] f_k. */
static void llfc_rows(span_work *w, int l, const double *v, int64_t m, int64_t d)
{
    int s = w->fslot[l];
    for (int64_t i = 0; i < m; i++) {
        const float *f = w->kt[s] + i * d;
        double fm = 0, ff = 0, mm = 0;
        for (int64_t j = 0; j < d; j++) {
            double mix = 0;
            for (int k = 0; k < w->K; k++)
                if (v[k] != 0.0) mix += v[k] * (double)w->kn[k][s][i * d + j];
            double x = f[j];
            fm += x * mix; ff += x * x; mm += mix * mix;
        }
        if (ff == 0 || mm == 0) { w->skip[l]++; continue; }
        double one = 1.0 - fm / sqrt(ff * mm), c = fm / ff;
        w->sum[l] += one, w->sq[l] += one * one;
        w->csum[l] += c, w->csq[l] += c * c;
        w->cnt[l]++;
    }
}

static void stat(double s, double q, int64_t n, double *mean, double *std)
{
    if (n == 0) { *mean = *std = NAN; return; }
    double mu = s / (double)n, var = q / (double)n - mu * mu;
    *mean = mu;
    *std = sqrt(var > 0 ? var : 0);
}

/* One point over the dataset; 1 when Ctrl-C stopped it. */
static int eval_point(span_work *w, const llfc_net *const *nodes, const llfc_span_point *pt, const llfc_dataset *ds,
                      const llfc_span_opts *o, int64_t bs, llfc_span_value *val)
{
    const llfc_net *a = nodes[0], *net = pt->net;
    if (!net) {
        if (llfc_net_combine_into(w->work, nodes, w->K, pt->w)) return -1;
        if (o->bn_x && llfc_net_count_ops(w->work, LLFC_OP_BN) &&
            llfc_net_reset_bn(w->work, o->bn_x, o->bn_n, o->bn_batch, NULL, NULL))
            return llfc_interrupted() ? 1 : -1;
        net = w->work;
    }
    const double *v = pt->v ? pt->v : pt->w;
    int L = pt->llfc ? w->L : 0;
    for (int l = 0; l < w->L; l++) w->sum[l] = w->sq[l] = w->csum[l] = w->csq[l] = 0, w->cnt[l] = w->skip[l] = 0;
    int64_t C = llfc_net_num_classes(a), in = ds->dim, nerr = 0;
    int lslot = llfc_net_feat_slot(a, a->nfeat - 1, 0);
    double loss = 0.0;
    for (int64_t i0 = 0; i0 < ds->n; i0 += bs) {
        if (llfc_interrupted()) return 1;
        int64_t m = ds->n - i0 < bs ? ds->n - i0 : bs;
        const float *x = ds->x + i0 * in;
        if (llfc_net_forward_slots(net, x, m, w->kt)) return -1;
        if (llfc_xent(w->kt[lslot], ds->y + i0, m, C, 1.0f, &loss, &nerr, NULL))
            return llfc_adderr("samples %lld..%lld", (long long)i0 + 1, (long long)(i0 + m));
        if (!L) continue;
        for (int k = 0; k < w->K; k++) {
            if (v[k] == 0.0) continue;
            if (llfc_interrupted()) return 1;
            if (llfc_net_forward_slots(nodes[k], x, m, w->kn[k])) return -1;
        }
        for (int l = 0; l < L; l++) llfc_rows(w, l, v, m, llfc_net_slot_dim(a, w->fslot[l]));
    }
    val->n = ds->n;
    val->err = (double)nerr / (double)ds->n;
    val->loss = loss / (double)ds->n;
    val->nlayer = L;
    if (L) {
        if (!(val->mean = llfc_calloc((size_t)L, sizeof(double))) || !(val->std = llfc_calloc((size_t)L, sizeof(double))) ||
            !(val->coef_mean = llfc_calloc((size_t)L, sizeof(double))) ||
            !(val->coef_std = llfc_calloc((size_t)L, sizeof(double))) ||
            !(val->skipped = llfc_calloc((size_t)L, sizeof(int64_t))))
            return -1;
        for (int l = 0; l < L; l++) {
            stat(w->sum[l], w->sq[l], w->cnt[l], &val->mean[l], &val->std[l]);
            stat(w->csum[l], w->csq[l], w->cnt[l], &val->coef_mean[l], &val->coef_std[l]);
            val->skipped[l] = w->skip[l];
        }
    }
    return 0;
}

int llfc_span_eval(const llfc_net *const *nodes, int K, const llfc_span_point *pts, int np, const llfc_dataset *ds,
                   const llfc_span_opts *opts, llfc_span_value *vals)
{
    llfc_span_opts o = {0};
    if (opts) o = *opts;
    memset(vals, 0, (size_t)np * sizeof *vals);
    if (check(nodes, K, pts, np, ds, &o)) return -1;
    span_work w;
    memset(&w, 0, sizeof w);
    int64_t bs;
    int done = -1;
    if (setup(&w, nodes, K, pts, np, ds, &o, &bs)) goto out;
    for (int p = 0; p < np; p++) {
        int r = eval_point(&w, nodes, &pts[p], ds, &o, bs, &vals[p]);
        if (r < 0) { llfc_span_values_free(vals, np); goto out; }
        if (r > 0) { llfc_span_values_free(vals + p, 1); done = p; goto out; }
        if (o.on_point && o.on_point(o.point_ud, p, &vals[p])) { done = p + 1; goto out; }
        if (o.progress && llfc_progress_stop(o.progress, o.progress_ud, p + 1, np, "points")) {
            if (llfc_interrupted()) { done = p + 1; goto out; }
            llfc_span_values_free(vals, np);
            goto out;
        }
    }
    done = np;
out:
    work_free(&w);
    return done;
}
