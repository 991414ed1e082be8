/* metrics.c - one streaming pass computing interpolation, LLFC, weak
 * additivity and commutativity metrics of a network pair.
 *
 * Per batch of m samples:
 *   1. forward A and B once through the executor (llfc_net_forward_slots),
 *      keeping only the slots some metric reads: the endpoint features,
 *      reused by every alpha and every metric;
 *   2. for each alpha of the union of the interpolation and LLFC grids,
 *      forward theta_alpha.  When the first op is a weight op on the input
 *      (a linear or conv layer: every builder's nets), its output is
 *      exactly alpha*out_A + (1-alpha)*out_B (linear in the parameters for a
 *      fixed input), so only the parameters of the later ops are lerped and
 *      the pass starts at the second op; alpha = 0 and 1 reuse B's and A's
 *      features;
 *   3. accumulate per-sample sums in double.
 * Commutativity visits the weight ops (CONV, LINEAR) with H = the op's input
 * slot: W_A H_A + W_B H_B is read from the two output slots minus the
 * biases, and (W_A - W_B)(H_A - H_B) is one llfc_net_apply_weight of a copy
 * of A holding W_A - W_B on the difference of the inputs.
 */
#include "metrics/metrics.h"
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void llfc_metrics_opts_init(llfc_metrics_opts *o)
{
    memset(o, 0, sizeof *o);
    o->what = LLFC_M_ALL;
    o->features = LLFC_FEAT_POST;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int llfc_metrics_check_alphas(double *al, int *n, const char *what)
{
    if (*n < 1) return llfc_seterr("%s: no alphas given", what);
    for (int i = 0; i < *n; i++)
        if (!(al[i] >= 0.0 && al[i] <= 1.0))
            return llfc_seterr("%s: alpha %d is %g, must be in [0, 1]", what, i + 1, al[i]);
    qsort(al, (size_t)*n, sizeof *al, cmp_double);
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (k == 0 || al[i] != al[k - 1]) al[k++] = al[i];
    *n = k;
    return 0;
}

double llfc_metrics_dist(double diff2, double x2, double y2)
{
    if (diff2 == 0.0) return 0.0;
    return diff2 / sqrt(x2 * y2);
}

/* ---- result structures --------------------------------------------------- */

void llfc_report_free(llfc_report *r)
{
    if (!r) return;
    free(r->interp.alpha);
    free(r->interp.nerr);
    free(r->interp.losssum);
    free(r->interp.err);
    free(r->interp.loss);
    for (int i = 0; i < r->llfc.nlayer; i++) {
        llfc_llfc_layer *ly = &r->llfc.layer[i];
        if (ly->at)
            for (int k = 0; k < r->llfc.nalpha; k++) free(ly->at[k].hist);
        free(ly->at);
    }
    free(r->llfc.layer);
    free(r->llfc.alpha);
    for (int i = 0; i < r->weak.nlayer; i++) free(r->weak.layer[i].at);
    free(r->weak.layer);
    free(r->weak.alpha);
    free(r->comm.layer);
    free(r);
}

static double *dup_alphas(const double *src, int n, const double *def, int ndef, int *nout, const char *what)
{
    if (!src) { src = def; n = ndef; }
    double *a = llfc_mallocarray((size_t)(n > 0 ? n : 1), sizeof *a);
    if (!a) return NULL;
    if (n > 0) memcpy(a, src, (size_t)n * sizeof *a);
    if (llfc_metrics_check_alphas(a, &n, what)) { free(a); return NULL; }
    *nout = n;
    return a;
}

static void acc_add(llfc_acc *a, double v)
{
    a->sum += v;
    a->sumsq += v * v;
    a->count++;
}

static void acc_stat(const llfc_acc *a, double *mean, double *std)
{
    if (a->count == 0) { *mean = *std = NAN; return; }
    double m = a->sum / (double)a->count, v = a->sumsq / (double)a->count - m * m;
    *mean = m;
    *std = sqrt(v > 0 ? v : 0);
}

void llfc_report_finalize(llfc_report *r)
{
    double n = (double)r->n;
    if (r->what & LLFC_M_INTERP) {
        llfc_interp_res *ip = &r->interp;
        ip->err_a = r->n ? ip->nerr_a / n : NAN;
        ip->err_b = r->n ? ip->nerr_b / n : NAN;
        ip->loss_a = r->n ? ip->losssum_a / n : NAN;
        ip->loss_b = r->n ? ip->losssum_b / n : NAN;
        ip->barrier_err = ip->barrier_loss = -INFINITY;
        ip->barrier_err_alpha = ip->barrier_loss_alpha = NAN;
        ip->eps = ip->err_a > ip->err_b ? ip->err_a : ip->err_b;
        ip->max_err = ip->eps;
        /* a NaN loss means some network output NaN (or inf): no barrier or lemma can be claimed */
        int nan_loss = isnan(ip->loss_a) || isnan(ip->loss_b);
        for (int k = 0; k < ip->nalpha; k++) {
            double al = ip->alpha[k];
            ip->err[k] = r->n ? ip->nerr[k] / n : NAN;
            ip->loss[k] = r->n ? ip->losssum[k] / n : NAN;
            /* E(al) - (al*E(1) + (1-al)*E(0)), written to be exactly 0 when E is constant */
            double be = (ip->err[k] - ip->err_b) - al * (ip->err_a - ip->err_b);
            double bl = (ip->loss[k] - ip->loss_b) - al * (ip->loss_a - ip->loss_b);
            if (be > ip->barrier_err) { ip->barrier_err = be; ip->barrier_err_alpha = al; }
            if (bl > ip->barrier_loss) { ip->barrier_loss = bl; ip->barrier_loss_alpha = al; }
            if (ip->err[k] > ip->max_err) ip->max_err = ip->err[k];
            if (isnan(bl)) nan_loss = 1;
        }
        if (!r->n) ip->barrier_err = ip->barrier_loss = NAN;
        if (nan_loss) ip->barrier_loss = ip->barrier_loss_alpha = NAN;
        ip->holds = !nan_loss && ip->max_err <= 2 * ip->eps;
    }
    if (r->what & LLFC_M_LLFC)
        for (int i = 0; i < r->llfc.nlayer; i++) {
            llfc_llfc_layer *ly = &r->llfc.layer[i];
            acc_stat(&ly->ab, &ly->ab_mean, &ly->ab_std);
            for (int k = 0; k < r->llfc.nalpha; k++) {
                llfc_llfc_at *at = &ly->at[k];
                acc_stat(&at->cos, &at->mean, &at->std);
                acc_stat(&at->coef, &at->coef_mean, &at->coef_std);
            }
        }
    if (r->what & LLFC_M_WEAK)
        for (int i = 0; i < r->weak.nlayer; i++)
            for (int k = 0; k < r->weak.nalpha; k++) {
                llfc_weak_at *at = &r->weak.layer[i].at[k];
                acc_stat(&at->acc, &at->mean, &at->std);
            }
    if (r->what & LLFC_M_COMM)
        for (int l = 0; l < r->comm.nlayer; l++) {
            llfc_comm_layer *c = &r->comm.layer[l];
            c->dist_com = llfc_metrics_dist(c->num, c->x2, c->y2);
            c->dist_w = llfc_metrics_dist(c->dw2, c->wa2, c->wb2);
            c->dist_h = llfc_metrics_dist(c->dh2, c->ha2, c->hb2);
        }
}

/* ---- per-sample kernels (rows of a batch; reductions in double) ---------- */

/* the activation of a feature op (LLFC_OP_RELU, TANH, IDENTITY) in double */
static double act1(int kind, double v)
{
    switch (kind) {
    case LLFC_OP_RELU: return v < 0 ? 0 : v; /* NaN propagates */
    case LLFC_OP_TANH: return tanh(v);
    default: return v;
    }
}

/* Cross-entropy and misclassification of logits z [m, C] against y. */
static void interp_rows(const float *z, const int32_t *y, int64_t m, int64_t C, int64_t *nerr, double *losssum)
{
    for (int64_t i = 0; i < m; i++) {
        const float *zi = z + i * C;
        int64_t best = 0;
        double mx = zi[0];
        for (int64_t j = 1; j < C; j++) if (zi[j] > mx) { mx = zi[j]; best = j; }
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += exp((double)zi[j] - mx);
        *losssum += mx + log(s) - (double)zi[y[i]];
        if (best != y[i] || zi[best] != zi[best]) (*nerr)++;
    }
}

/* 1 - cos(f_A, f_B) per row of [m, d]. */
static void ab_rows(const float *fa, const float *fb, int64_t m, int64_t d, llfc_llfc_layer *ly)
{
    for (int64_t i = 0; i < m; i++) {
        const float *a = fa + i * d, *b = fb + i * d;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = 0; j < d; j++) {
            double x = a[j], w = b[j];
            ab += x * w; aa += x * x; bb += w * w;
        }
        if (aa == 0 || bb == 0) { ly->skipped++; continue; }
        acc_add(&ly->ab, 1.0 - ab / sqrt(aa * bb));
    }
}

/* 1 - cos(f_t, mix) and c = <f_t, mix>/|f_t|^2 with mix = al*f_A + (1-al)*f_B;
 * cs [m] is scratch for the batch's coefficients.  The first batch sets the
 * histogram's range and bins where the caller asked for none. */
static void llfc_rows(const float *ft, const float *fa, const float *fb, int64_t m, int64_t d, double al,
                      llfc_llfc_at *at, const llfc_llfc_res *lr, double *cs)
{
    double bl = 1.0 - al;
    int nc = 0;
    for (int64_t i = 0; i < m; i++) {
        const float *t = ft + i * d, *a = fa + i * d, *b = fb + i * d;
        double tm = 0, tt = 0, mm = 0;
        for (int64_t j = 0; j < d; j++) {
            double x = t[j], w = al * (double)a[j] + bl * (double)b[j];
            tm += x * w; tt += x * x; mm += w * w;
        }
        if (tt == 0 || mm == 0) { at->skipped++; continue; }
        acc_add(&at->cos, 1.0 - tm / sqrt(tt * mm));
        double c = tm / tt;
        acc_add(&at->coef, c);
        cs[nc++] = c;
    }
    if (!at->nbins && nc > 0) {
        int bins;
        if (llfc_hist_rule(cs, nc, &at->hist_lo, &at->hist_hi, &bins) <= 0) /* no finite value yet */
            at->hist_lo = at->hist_hi = 0, bins = 0;
        at->nbins = lr->nbins > 0 ? lr->nbins : bins;
    }
    double lo = at->hist_lo, hi = at->hist_hi;
    int nbins = at->nbins;
    for (int i = 0; i < nc && nbins > 0; i++) {
        double c = cs[i];
        if (c < lo) at->below++;
        else if (c >= hi || c != c) at->above++;
        else {
            int bin = (int)((c - lo) / (hi - lo) * nbins);
            if (bin >= nbins) bin = nbins - 1;
            at->hist[bin]++;
        }
    }
}

/* 1 - cos(s(al*Ht_A + (1-al)*Ht_B), al*s(Ht_A) + (1-al)*s(Ht_B)). */
static void weak_rows(int kind, const float *pa, const float *pb, const float *ha, const float *hb, int64_t m,
                      int64_t d, double al, llfc_weak_at *at)
{
    double bl = 1.0 - al;
    for (int64_t i = 0; i < m; i++) {
        const float *xa = pa + i * d, *xb = pb + i * d, *ya = ha + i * d, *yb = hb + i * d;
        double uv = 0, uu = 0, vv = 0;
        for (int64_t j = 0; j < d; j++) {
            double u = act1(kind, al * (double)xa[j] + bl * (double)xb[j]);
            double v = al * (double)ya[j] + bl * (double)yb[j];
            uv += u * v; uu += u * u; vv += v * v;
        }
        if (uu == 0 || vv == 0) { at->skipped++; continue; }
        acc_add(&at->acc, 1.0 - uv / sqrt(uu * vv));
    }
}

static double sumsq_f(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* ---- the pass ------------------------------------------------------------ */

typedef struct {
    int L;                                    /* feature layers */
    int nslots;
    float **sa, **sb, **st;                   /* kept values by slot ([bs, slot_dim] or NULL) of A, B, theta_alpha */
    float **pa, **ha, **pb, **hb, **pt, **ht; /* [L] pre- and post-activations: pointers into them */
    int op0;                                  /* the first op, a weight op on the input (the shortcut), or -1 */
    llfc_net *tnet;                           /* theta_alpha */
    int nu;                                   /* union of forward alphas */
    double *ua;
    int *u_ip, *u_ll;                         /* index into interp / llfc grids, or -1 */
    float *dh, *dz;                           /* commutativity: [bs, largest input or output] */
    double *cs;                               /* llfc: [bs] one batch's scale coefficients */
    llfc_net *dnet;                           /* A with W_A - W_B in its weight ops */
} pass_work;

static void work_free(pass_work *w)
{
    for (int s = 0; s < w->nslots; s++) {
        if (w->sa) free(w->sa[s]);
        if (w->sb) free(w->sb[s]);
        if (w->st) free(w->st[s]);
    }
    free(w->sa), free(w->sb), free(w->st);
    free(w->pa), free(w->ha), free(w->pb), free(w->hb), free(w->pt), free(w->ht);
    free(w->dh), free(w->dz), free(w->cs);
    free(w->ua), free(w->u_ip), free(w->u_ll);
    llfc_net_free(w->tnet);
    llfc_net_free(w->dnet);
}

/* Lerp the parameters of a and b into w->tnet, those of the first op
 * excepted when the shortcut gives its output (the same float formula as
 * llfc_net_lerp_into; counts are a's). */
static void lerp_params(pass_work *w, const llfc_net *a, const llfc_net *b, double al)
{
    float fa = (float)al, fb = (float)(1.0 - al);
    int skip_w = w->op0 >= 0 ? a->ops[w->op0].pw : -1, skip_b = w->op0 >= 0 ? a->ops[w->op0].pb : -1;
    for (int p = 0; p < a->nparams; p++) {
        if (p == skip_w || p == skip_b) continue;
        const float *x = llfc_tensor_data(a->param[p]), *y = llfc_tensor_data(b->param[p]);
        float *o = llfc_tensor_data(w->tnet->param[p]);
        int64_t n = llfc_tensor_numel(a->param[p]);
        if (llfc_net_param_is_count(a, p)) memcpy(o, x, (size_t)n * sizeof *o);
        else
            for (int64_t i = 0; i < n; i++) o[i] = fa * x[i] + fb * y[i];
    }
}

/* Forward theta_alpha on m rows into w->st.  The first op is linear in its
 * parameters for a fixed input, so with the shortcut its output is exactly
 * al*out_A + (1-al)*out_B and the pass starts at the second op. */
static int forward_alpha(pass_work *w, const llfc_net *a, const llfc_net *b, const float *x, int64_t m, double al)
{
    lerp_params(w, a, b, al);
    if (w->op0 < 0) return llfc_net_forward_slots(w->tnet, x, m, w->st);
    int s = a->ops[w->op0].out;
    float fa = (float)al, fb = (float)(1.0 - al);
    const float *za = w->sa[s], *zb = w->sb[s];
    float *z = w->st[s];
    for (int64_t i = 0, n = m * llfc_net_slot_dim(a, s); i < n; i++) z[i] = fa * za[i] + fb * zb[i];
    return llfc_net_forward_range(w->tnet, w->op0 + 1, a->nops, x, (const float *const *)w->st, m, w->st);
}

/* Mark the slots the asked-for metrics read, size the batch (unless given)
 * so the kept values stay near 128 MB, allocate them and point pa .. ht into
 * them; the weight-difference net for commutativity. */
static int setup_work(pass_work *w, const llfc_report *r, const llfc_net *a, const llfc_net *b, int64_t given,
                      int64_t *bs)
{
    int F = w->L, S = w->nslots = a->nslots;
    char *nab = llfc_calloc((size_t)S, 1), *nt = llfc_calloc((size_t)S, 1);
    int rc = -1;
    if (!nab || !nt) goto done;
    w->op0 = llfc_op_has_weight(&a->ops[0]) && a->ops[0].in == 0 ? 0 : -1;
    int logits = llfc_net_feat_slot(a, F - 1, 0);
    nab[logits] = 1;
    if (w->nu > 0) nt[logits] = 1;
    if (r->what & LLFC_M_LLFC)
        for (int i = 0; i < r->llfc.nlayer; i++) {
            int s = llfc_net_feat_slot(a, r->llfc.layer[i].feat, r->llfc.features == LLFC_FEAT_PRE);
            nab[s] = 1;
            if (w->nu > 0) nt[s] = 1;
        }
    if (w->nu > 0 && w->op0 >= 0) nab[a->ops[w->op0].out] = nt[a->ops[w->op0].out] = 1;
    if (r->what & LLFC_M_WEAK)
        for (int i = 0; i < r->weak.nlayer; i++) {
            int l = r->weak.layer[i].feat;
            nab[llfc_net_feat_slot(a, l, 1)] = nab[llfc_net_feat_slot(a, l, 0)] = 1;
        }
    int64_t maxc = 0;
    if (r->what & LLFC_M_COMM)
        for (int k = 0; k < r->comm.nlayer; k++) {
            const llfc_op *op = &a->ops[r->comm.layer[k].op];
            nab[op->in] = nab[op->out] = 1;
            int64_t di = llfc_net_slot_dim(a, op->in), dout = llfc_net_slot_dim(a, op->out);
            if (di > maxc) maxc = di;
            if (dout > maxc) maxc = dout;
        }
    nab[0] = nt[0] = 0; /* the input is the batch itself */
    /* floats per sample: kept slots of A, B and theta_alpha, the
     * commutativity scratch, and one of every slot for the executor */
    int64_t per = 2 * maxc;
    for (int s = 0; s < S; s++) per += llfc_net_slot_dim(a, s) * (1 + 2 * nab[s] + nt[s]);
    if (given <= 0) {
        int64_t cap = (INT64_C(32) << 20) / (per > 0 ? per : 1);
        if (cap < 1) cap = 1;
        if (*bs > cap) *bs = cap;
    }
    if (!(w->sa = llfc_calloc((size_t)S, sizeof *w->sa)) || !(w->sb = llfc_calloc((size_t)S, sizeof *w->sb)) ||
        !(w->st = llfc_calloc((size_t)S, sizeof *w->st)))
        goto done;
    for (int s = 1; s < S; s++) {
        size_t n = (size_t)(*bs * llfc_net_slot_dim(a, s));
        if (nab[s] && (!(w->sa[s] = llfc_mallocarray(n, sizeof(float))) ||
                       !(w->sb[s] = llfc_mallocarray(n, sizeof(float)))))
            goto done;
        if (nt[s] && !(w->st[s] = llfc_mallocarray(n, sizeof(float)))) goto done;
    }
    if (!(w->pa = llfc_calloc((size_t)F, sizeof *w->pa)) || !(w->ha = llfc_calloc((size_t)F, sizeof *w->ha)) ||
        !(w->pb = llfc_calloc((size_t)F, sizeof *w->pb)) || !(w->hb = llfc_calloc((size_t)F, sizeof *w->hb)) ||
        !(w->pt = llfc_calloc((size_t)F, sizeof *w->pt)) || !(w->ht = llfc_calloc((size_t)F, sizeof *w->ht)))
        goto done;
    for (int l = 0; l < F; l++) {
        int pre = llfc_net_feat_slot(a, l, 1), post = llfc_net_feat_slot(a, l, 0);
        w->pa[l] = w->sa[pre], w->ha[l] = w->sa[post];
        w->pb[l] = w->sb[pre], w->hb[l] = w->sb[post];
        w->pt[l] = w->st[pre], w->ht[l] = w->st[post];
    }
    if (w->nu > 0 && !(w->tnet = llfc_net_clone(a))) goto done;
    if ((r->what & LLFC_M_LLFC) && !(w->cs = llfc_mallocarray((size_t)*bs, sizeof *w->cs))) goto done;
    if (r->what & LLFC_M_COMM) {
        if (!(w->dnet = llfc_net_clone(a))) goto done;
        for (int k = 0; k < r->comm.nlayer; k++) {
            int p = a->ops[r->comm.layer[k].op].pw;
            const float *x = llfc_tensor_data(a->param[p]), *y = llfc_tensor_data(b->param[p]);
            float *d = llfc_tensor_data(w->dnet->param[p]);
            int64_t n = llfc_tensor_numel(a->param[p]);
            for (int64_t i = 0; i < n; i++) d[i] = x[i] - y[i];
        }
        if (!(w->dh = llfc_mallocarray((size_t)(*bs * maxc), sizeof(float))) ||
            !(w->dz = llfc_mallocarray((size_t)(*bs * maxc), sizeof(float))))
            goto done;
    }
    rc = 0;
done:
    free(nab);
    free(nt);
    return rc;
}

/* Commutativity of every weight op on one batch of m rows (x the input). */
static int comm_batch(pass_work *w, llfc_report *r, const llfc_net *a, const llfc_net *b, const float *x, int64_t m)
{
    for (int k = 0; k < r->comm.nlayer; k++) {
        llfc_comm_layer *c = &r->comm.layer[k];
        const llfc_op *op = &a->ops[c->op];
        int64_t din = llfc_net_slot_dim(a, op->in), dout = llfc_net_slot_dim(a, op->out);
        const float *HA = op->in > 0 ? w->sa[op->in] : x, *HB = op->in > 0 ? w->sb[op->in] : x;
        if (llfc_check_interrupt()) return -1;
        /* D [m, dout] = (W_A - W_B) applied to H_A - H_B; zero on the input */
        if (op->in > 0) {
            double s = 0;
            for (int64_t i = 0; i < m * din; i++) {
                w->dh[i] = HA[i] - HB[i];
                s += (double)w->dh[i] * w->dh[i];
            }
            c->dh2 += s;
            c->ha2 += sumsq_f(HA, m * din);
            c->hb2 += sumsq_f(HB, m * din);
            if (llfc_net_apply_weight(w->dnet, c->op, w->dh, m, w->dz)) return -1;
        } else {
            double s = sumsq_f(x, m * din);
            c->ha2 += s;
            c->hb2 += s;
        }
        /* X = W_A H_A + W_B H_B = (out_A - b_A) + (out_B - b_B), the bias
         * per output channel (hw positions each);  Y = X - D */
        const float *OA = w->sa[op->out], *OB = w->sb[op->out];
        const float *bA = op->pb >= 0 ? llfc_tensor_data(a->param[op->pb]) : NULL;
        const float *bB = op->pb >= 0 ? llfc_tensor_data(b->param[op->pb]) : NULL;
        int64_t K = op->K > 0 && dout % op->K == 0 ? op->K : dout, hw = dout / K;
        double num = 0, x2 = 0, y2 = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < dout; j++) {
                int64_t q = i * dout + j, ch = j / hw;
                double X = (double)OA[q] + (double)OB[q];
                if (bA) X -= (double)bA[ch] + (double)bB[ch];
                double D = op->in > 0 ? w->dz[q] : 0.0;
                num += D * D; x2 += X * X; y2 += (X - D) * (X - D);
            }
        c->num += num; c->x2 += x2; c->y2 += y2;
    }
    return 0;
}

static int setup_results(llfc_report *r, const llfc_net *a, const llfc_net *b, const llfc_metrics_opts *o)
{
    static const double def_llfc[] = {0.25, 0.5, 0.75};
    int L = a->nfeat;
    int sel[256], nsel = 0;
    if (L > 256) return llfc_seterr("metrics: too many layers (%d)", L);
    if (o->layers) {
        int seen[256] = {0};
        for (int i = 0; i < o->nlayers; i++) {
            int l = o->layers[i];
            if (l < 0 || l >= L) return llfc_seterr("metrics: layer %d out of range 1..%d", l + 1, L);
            seen[l] = 1;
        }
        for (int l = 0; l < L; l++) if (seen[l]) sel[nsel++] = l;
        if (nsel == 0) return llfc_seterr("metrics: no layers selected");
    } else {
        for (int l = 0; l < L; l++) sel[nsel++] = l;
    }

    if (r->what & LLFC_M_INTERP) {
        llfc_interp_res *ip = &r->interp;
        double grid[21];
        for (int i = 0; i < 21; i++) grid[i] = i / 20.0;
        if (!(ip->alpha = dup_alphas(o->alphas, o->nalphas, grid, 21, &ip->nalpha, "interpolate"))) return -1;
        int n = ip->nalpha;
        if (!(ip->nerr = llfc_calloc((size_t)n, sizeof *ip->nerr)) ||
            !(ip->losssum = llfc_calloc((size_t)n, sizeof *ip->losssum)) ||
            !(ip->err = llfc_calloc((size_t)n, sizeof *ip->err)) ||
            !(ip->loss = llfc_calloc((size_t)n, sizeof *ip->loss)))
            return -1;
    }
    if (r->what & LLFC_M_LLFC) {
        llfc_llfc_res *lr = &r->llfc;
        if (!(lr->alpha = dup_alphas(o->llfc_alphas, o->nllfc_alphas, def_llfc, 3, &lr->nalpha, "llfc"))) return -1;
        lr->features = o->features;
        lr->hist_lo = o->hist_lo, lr->hist_hi = o->hist_hi;
        int fixed = lr->hist_lo < lr->hist_hi;
        if (!fixed && (lr->hist_lo > lr->hist_hi || lr->hist_lo != lr->hist_lo || lr->hist_hi != lr->hist_hi))
            return llfc_seterr("llfc: histogram range [%g, %g] is empty", lr->hist_lo, lr->hist_hi);
        lr->nbins = o->hist_bins > 0 ? o->hist_bins : fixed ? 20 : 0;
        if (lr->nbins > 100000) return llfc_seterr("llfc: %d histogram bins is too many", lr->nbins);
        if (!(lr->layer = llfc_calloc((size_t)nsel, sizeof *lr->layer))) return -1;
        lr->nlayer = nsel;
        for (int i = 0; i < nsel; i++) {
            llfc_llfc_layer *ly = &lr->layer[i];
            ly->feat = sel[i];
            llfc_net_featname(a, sel[i], ly->name, sizeof ly->name);
            ly->dim = llfc_net_featdim(a, sel[i]);
            if (!(ly->at = llfc_calloc((size_t)lr->nalpha, sizeof *ly->at))) return -1;
            for (int k = 0; k < lr->nalpha; k++) {
                llfc_llfc_at *at = &ly->at[k];
                at->alpha = lr->alpha[k];
                if (fixed) at->nbins = lr->nbins, at->hist_lo = lr->hist_lo, at->hist_hi = lr->hist_hi;
                int cap = lr->nbins > 0 ? lr->nbins : LLFC_HIST_MAXBINS;
                if (!(at->hist = llfc_calloc((size_t)cap, sizeof *at->hist))) return -1;
            }
        }
    }
    if (r->what & LLFC_M_WEAK) {
        llfc_weak_res *wr = &r->weak;
        const double *def = (r->what & LLFC_M_LLFC) ? r->llfc.alpha : def_llfc;
        int ndef = (r->what & LLFC_M_LLFC) ? r->llfc.nalpha : 3;
        if (!(wr->alpha = dup_alphas(o->weak_alphas, o->nweak_alphas, def, ndef, &wr->nalpha, "weak_additivity")))
            return -1;
        int nh = 0;
        for (int i = 0; i < nsel; i++) if (sel[i] < L - 1) nh++;
        if (nh == 0 && r->what == LLFC_M_WEAK)
            return llfc_seterr("weak_additivity: no hidden layer selected (the network has %d)", L - 1);
        if (!(wr->layer = llfc_calloc((size_t)(nh ? nh : 1), sizeof *wr->layer))) return -1;
        wr->nlayer = nh;
        for (int i = 0, j = 0; i < nsel; i++) {
            if (sel[i] >= L - 1) continue;
            llfc_weak_layer *ly = &wr->layer[j++];
            ly->feat = sel[i];
            llfc_net_featname(a, sel[i], ly->name, sizeof ly->name);
            ly->dim = llfc_net_featdim(a, sel[i]);
            if (!(ly->at = llfc_calloc((size_t)wr->nalpha, sizeof *ly->at))) return -1;
            for (int k = 0; k < wr->nalpha; k++) ly->at[k].alpha = wr->alpha[k];
        }
    }
    if (r->what & LLFC_M_COMM) {
        llfc_comm_res *cr = &r->comm;
        int nw = 0;
        for (int i = 0; i < a->nops; i++) nw += llfc_op_has_weight(&a->ops[i]);
        if (!(cr->layer = llfc_calloc((size_t)(nw ? nw : 1), sizeof *cr->layer))) return -1;
        cr->nlayer = nw;
        for (int i = 0, l = 0; i < a->nops; i++) {
            const llfc_op *op = &a->ops[i];
            if (!llfc_op_has_weight(op)) continue;
            llfc_comm_layer *c = &cr->layer[l++];
            c->layer = l;
            c->op = i;
            snprintf(c->name, sizeof c->name, "%s", op->name);
            llfc_net_slot_name(a, op->in, c->input, sizeof c->input);
            const float *wa = llfc_tensor_data(a->param[op->pw]), *wb = llfc_tensor_data(b->param[op->pw]);
            int64_t n = llfc_tensor_numel(a->param[op->pw]);
            for (int64_t j = 0; j < n; j++) {
                double x = wa[j], y = wb[j];
                c->wa2 += x * x; c->wb2 += y * y; c->dw2 += (x - y) * (x - y);
            }
        }
    }
    return 0;
}

/* The union of the interpolation and LLFC grids, each entry mapped back. */
static int setup_union(pass_work *w, const llfc_report *r)
{
    int ni = (r->what & LLFC_M_INTERP) ? r->interp.nalpha : 0;
    int nl = (r->what & LLFC_M_LLFC) ? r->llfc.nalpha : 0;
    int cap = ni + nl + 1;
    if (!(w->ua = llfc_mallocarray((size_t)cap, sizeof *w->ua)) ||
        !(w->u_ip = llfc_mallocarray((size_t)cap, sizeof *w->u_ip)) ||
        !(w->u_ll = llfc_mallocarray((size_t)cap, sizeof *w->u_ll)))
        return -1;
    int i = 0, j = 0, n = 0;
    while (i < ni || j < nl) {
        double x = i < ni ? r->interp.alpha[i] : INFINITY, y = j < nl ? r->llfc.alpha[j] : INFINITY;
        double v = x < y ? x : y;
        w->ua[n] = v;
        w->u_ip[n] = (x == v) ? i++ : -1;
        w->u_ll[n] = (y == v) ? j++ : -1;
        n++;
    }
    w->nu = n;
    return 0;
}

static int check_inputs(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds, const llfc_metrics_opts *o)
{
    if (!a || !b || !ds) return llfc_seterr("metrics: missing network or dataset");
    if (llfc_net_same_arch(a, b)) return llfc_adderr("the networks do not match");
    if (ds->n < 1) return llfc_seterr("the dataset is empty");
    if (ds->dim != llfc_net_input_dim(a))
        return llfc_seterr("the networks take %lld inputs but the dataset has %lld features",
                           (long long)llfc_net_input_dim(a), (long long)ds->dim);
    if (ds->nclasses > llfc_net_num_classes(a))
        return llfc_seterr("the dataset has %d classes but the networks output %lld", ds->nclasses,
                           (long long)llfc_net_num_classes(a));
    if (!(o->what & LLFC_M_ALL)) return llfc_seterr("no metric asked for");
    if (o->features != LLFC_FEAT_POST && o->features != LLFC_FEAT_PRE)
        return llfc_seterr("features must be post or pre");
    if (o->batch < 0) return llfc_seterr("batch must be positive, got %lld", (long long)o->batch);
    return 0;
}

/* One batch of m rows starting at x, y. */
static int run_batch(pass_work *w, llfc_report *r, const llfc_net *a, const llfc_net *b, const float *x,
                     const int32_t *y, int64_t m)
{
    int L = w->L;
    int64_t C = llfc_net_num_classes(a);
    for (int64_t i = 0; i < m; i++)
        if (y[i] < 0 || y[i] >= C)
            return llfc_seterr("label %d of sample %lld is out of range for %lld classes", (int)y[i],
                               (long long)(r->n + i + 1), (long long)C);
    if (llfc_net_forward_slots(a, x, m, w->sa) || llfc_net_forward_slots(b, x, m, w->sb)) return -1;

    if (r->what & LLFC_M_INTERP) {
        interp_rows(w->ha[L - 1], y, m, C, &r->interp.nerr_a, &r->interp.losssum_a);
        interp_rows(w->hb[L - 1], y, m, C, &r->interp.nerr_b, &r->interp.losssum_b);
    }
    llfc_llfc_res *lr = &r->llfc;
    float **fa = lr->features == LLFC_FEAT_PRE ? w->pa : w->ha;
    float **fb = lr->features == LLFC_FEAT_PRE ? w->pb : w->hb;
    if (r->what & LLFC_M_LLFC)
        for (int i = 0; i < lr->nlayer; i++) {
            int l = lr->layer[i].feat;
            ab_rows(fa[l], fb[l], m, llfc_net_featdim(a, l), &lr->layer[i]);
        }

    for (int u = 0; u < w->nu; u++) {
        double al = w->ua[u];
        float **pt, **ht;
        if (llfc_check_interrupt()) return -1; /* one forward pass per alpha: stop between them */
        if (al == 1.0) pt = w->pa, ht = w->ha;
        else if (al == 0.0) pt = w->pb, ht = w->hb;
        else {
            if (forward_alpha(w, a, b, x, m, al)) return -1;
            pt = w->pt, ht = w->ht;
        }
        if (w->u_ip[u] >= 0) {
            int k = w->u_ip[u];
            interp_rows(ht[L - 1], y, m, C, &r->interp.nerr[k], &r->interp.losssum[k]);
        }
        if (w->u_ll[u] >= 0) {
            int k = w->u_ll[u];
            float **ft = lr->features == LLFC_FEAT_PRE ? pt : ht;
            for (int i = 0; i < lr->nlayer; i++) {
                int l = lr->layer[i].feat;
                llfc_rows(ft[l], fa[l], fb[l], m, llfc_net_featdim(a, l), al, &lr->layer[i].at[k], lr, w->cs);
            }
        }
    }

    if (r->what & LLFC_M_WEAK)
        for (int i = 0; i < r->weak.nlayer; i++) {
            llfc_weak_layer *ly = &r->weak.layer[i];
            int l = ly->feat, kind = a->ops[llfc_net_feat_op(a, l)].kind;
            for (int k = 0; k < r->weak.nalpha; k++)
                weak_rows(kind, w->pa[l], w->pb[l], w->ha[l], w->hb[l], m, ly->dim, ly->at[k].alpha, &ly->at[k]);
        }

    if (r->what & LLFC_M_COMM) return comm_batch(w, r, a, b, x, m);
    return 0;
}

llfc_report *llfc_metrics_run(const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                              const llfc_metrics_opts *o)
{
    llfc_metrics_opts defo;
    if (!o) { llfc_metrics_opts_init(&defo); o = &defo; }
    if (check_inputs(a, b, ds, o)) return NULL;
    llfc_report *r = llfc_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->what = o->what & LLFC_M_ALL;
    r->ntotal = ds->n;
    double t0 = llfc_now();
    pass_work w;
    memset(&w, 0, sizeof w);
    w.L = a->nfeat;
    int64_t bs = o->batch > 0 ? o->batch : 1000;
    if (bs > ds->n) bs = ds->n;
    if (setup_results(r, a, b, o) || setup_union(&w, r) || setup_work(&w, r, a, b, o->batch, &bs)) goto fail;

    int64_t nb = (ds->n + bs - 1) / bs;
    for (int64_t bi = 0; bi < nb; bi++) {
        if (llfc_check_interrupt()) goto fail;
        int64_t i0 = bi * bs, m = ds->n - i0 < bs ? ds->n - i0 : bs;
        if (run_batch(&w, r, a, b, ds->x + i0 * ds->dim, ds->y + i0, m)) goto fail;
        r->n += m;
        r->seconds = llfc_now() - t0;
        if (o->progress && llfc_progress_stop(o->progress, o->progress_ud, (double)(bi + 1), (double)nb, "metrics"))
            goto fail;
        if (o->on_batch && bi + 1 < nb) {
            llfc_report_finalize(r);
            if (o->on_batch(o->batch_ud, r)) break;
        }
    }
    r->complete = r->n == ds->n;
    llfc_report_finalize(r);
    work_free(&w);
    return r;
fail:
    work_free(&w);
    llfc_report_free(r);
    return NULL;
}
