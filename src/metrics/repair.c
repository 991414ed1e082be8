/* repair.c - REPAIR: per-channel statistics of an interpolated network set to
 * the interpolation of the endpoints' statistics (see repair.h). */
#include "metrics/repair.h"

#include "core/core.h"
#include "nn/combine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values kept per forward pass are capped at this many floats: a batch is
 * split so that its kept slots fit (the A and B passes keep every site). */
#define KEEP_FLOATS ((int64_t)1 << 24)

int llfc_repair_sites(const llfc_net *net, llfc_repair_site **sites)
{
    *sites = NULL;
    int nnorm = llfc_net_count_ops(net, LLFC_OP_BN) + llfc_net_count_ops(net, LLFC_OP_LN);
    int logits = llfc_net_feat_op(net, net->nfeat - 1);
    llfc_repair_site *s = llfc_calloc((size_t)net->nops + 1, sizeof *s);
    if (!s) return -1;
    int ns = 0;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *op = &net->ops[i];
        int hit = nnorm ? (op->kind == LLFC_OP_BN || op->kind == LLFC_OP_LN) : llfc_op_has_weight(op) && i != logits;
        if (!hit) continue;
        if (op->pw < 0 || op->pb < 0) {
            free(s);
            return llfc_seterr("op %d (%s) has no %s to correct", i + 1, op->name, op->pw < 0 ? "weight" : "bias");
        }
        llfc_repair_site *t = &s[ns++];
        t->op = i;
        t->slot = op->out;
        t->C = op->K;
        t->HW = (int64_t)op->P * op->Q;
        t->pw = op->pw;
        t->pb = op->pb;
        snprintf(t->name, sizeof t->name, "%s", op->name);
    }
    *sites = s;
    return ns;
}

/* Floats per sample of a site's value. */
static int64_t site_dim(const llfc_repair_site *s) { return s->C * s->HW; }

/* Accumulate per-channel sums of v [nb, C*HW] into sum[C], sq[C]. */
static void accumulate(const float *v, int64_t nb, int64_t C, int64_t HW, double *sum, double *sq)
{
    for (int64_t i = 0; i < nb; i++) {
        const float *r = v + i * C * HW;
        for (int64_t c = 0; c < C; c++) {
            double s = 0.0, q = 0.0;
            const float *p = r + c * HW;
            for (int64_t j = 0; j < HW; j++) { s += p[j]; q += (double)p[j] * p[j]; }
            sum[c] += s;
            sq[c] += q;
        }
    }
}

int llfc_repair_stats(const llfc_net *net, const llfc_repair_site *sites, int nsites, const float *x, int64_t n,
                      int64_t batch, double *mean, double *std)
{
    if (n < 1) return llfc_seterr("no samples (n = %lld)", (long long)n);
    if (batch < 1) return llfc_seterr("batch must be at least 1, got %lld", (long long)batch);
    if (nsites < 1) return 0;
    int64_t per = 0, total = 0;
    for (int s = 0; s < nsites; s++) {
        per += site_dim(&sites[s]);
        total += sites[s].C;
    }
    int64_t nb = batch;
    if (nb * per > KEEP_FLOATS) nb = KEEP_FLOATS / per > 0 ? KEEP_FLOATS / per : 1;
    if (nb > n) nb = n;
    int nkeep = net->nslots, upto = 0; /* the pass stops after the last site */
    float **keep = llfc_calloc((size_t)nkeep, sizeof *keep);
    float *buf = llfc_mallocarray((size_t)(nb * per), sizeof(float));
    double *sum = llfc_calloc((size_t)(2 * total), sizeof(double));
    int rc = -1;
    if (!keep || !buf || !sum) goto done;
    double *sq = sum + total;
    {
        float *p = buf;
        for (int s = 0; s < nsites; s++) {
            int k = sites[s].slot;
            if (k < 1 || k >= nkeep) { llfc_seterr("site %d is out of range", s); goto done; }
            keep[k] = p;
            if (k > upto) upto = k;
            p += nb * site_dim(&sites[s]);
        }
    }
    int64_t in = llfc_net_input_dim(net);
    for (int64_t i0 = 0; i0 < n; i0 += nb) {
        if (llfc_check_interrupt()) goto done;
        int64_t m = n - i0 < nb ? n - i0 : nb;
        if (llfc_net_forward_range(net, 0, upto, x + i0 * in, NULL, m, keep)) goto done;
        int64_t off = 0;
        for (int s = 0; s < nsites; s++) {
            int k = sites[s].slot;
            accumulate(keep[k], m, sites[s].C, sites[s].HW, sum + off, sq + off);
            off += sites[s].C;
        }
    }
    {
        int64_t off = 0;
        for (int s = 0; s < nsites; s++) {
            double cnt = (double)n * (double)sites[s].HW;
            for (int64_t c = 0; c < sites[s].C; c++) {
                double m = sum[off + c] / cnt, v = sq[off + c] / cnt - m * m;
                mean[off + c] = m;
                std[off + c] = v > 0.0 ? sqrt(v) : 0.0;
            }
            off += sites[s].C;
        }
    }
    rc = 0;
done:
    free(keep);
    free(buf);
    free(sum);
    return rc;
}

/* Fold y -> sc*(y - m) + g per channel into the site's parameters. */
static void fold(llfc_net *net, const llfc_repair_site *s, const double *cur_m, const double *cur_s,
                 const double *goal_m, const double *goal_s)
{
    float *w = llfc_tensor_data(net->param[s->pw]), *b = llfc_tensor_data(net->param[s->pb]);
    int64_t row = llfc_tensor_numel(net->param[s->pw]) / s->C;
    for (int64_t c = 0; c < s->C; c++) {
        double sc = cur_s[c] > 1e-12 ? goal_s[c] / cur_s[c] : 1.0;
        for (int64_t j = 0; j < row; j++) w[c * row + j] = (float)(sc * w[c * row + j]);
        b[c] = (float)(sc * ((double)b[c] - cur_m[c]) + goal_m[c]);
    }
}

llfc_net *llfc_repair_many(const llfc_net *const *nets, int K, const double *w, const float *x, int64_t n,
                           int64_t batch, llfc_progress_fn progress, void *ud)
{
    if (K < 1) { llfc_seterr("no networks"); return NULL; }
    if (n < 1) { llfc_seterr("no samples (n = %lld)", (long long)n); return NULL; }
    if (batch < 1) { llfc_seterr("batch must be at least 1, got %lld", (long long)batch); return NULL; }
    for (int k = 1; k < K; k++)
        if (llfc_net_same_arch(nets[0], nets[k])) return NULL;
    llfc_repair_site *sites;
    int ns = llfc_repair_sites(nets[0], &sites);
    if (ns < 0) return NULL;
    llfc_net *out = llfc_net_combine(nets, K, w);
    int64_t total = 0, maxc = 1;
    for (int s = 0; s < ns; s++) {
        total += sites[s].C;
        if (sites[s].C > maxc) maxc = sites[s].C;
    }
    /* mean and std of every site of every network, then the current site's */
    double *st = llfc_calloc((size_t)(2 * K * total + 4 * maxc) + 1, sizeof(double));
    if (!out || !st) goto fail;
    double *cm = st + 2 * K * total, *cs = cm + maxc, *gm = cs + maxc, *gs = gm + maxc;
    double steps = ns + K;
    for (int k = 0; k < K; k++) {
        if (llfc_progress_stop(progress, ud, k, steps, "repair: endpoint statistics")) goto fail;
        if (llfc_repair_stats(nets[k], sites, ns, x, n, batch, st + 2 * k * total, st + (2 * k + 1) * total))
            goto fail;
    }
    int64_t off = 0;
    for (int s = 0; s < ns; s++) {
        if (llfc_progress_stop(progress, ud, K + s, steps, "repair: sites")) goto fail;
        if (llfc_repair_stats(out, &sites[s], 1, x, n, batch, cm, cs)) goto fail;
        for (int64_t c = 0; c < sites[s].C; c++) {
            gm[c] = gs[c] = 0.0;
            for (int k = 0; k < K; k++) {
                gm[c] += w[k] * st[2 * k * total + off + c];
                gs[c] += w[k] * st[(2 * k + 1) * total + off + c];
            }
        }
        fold(out, &sites[s], cm, cs, gm, gs);
        off += sites[s].C;
    }
    if (llfc_progress_stop(progress, ud, steps, steps, "repair: done")) goto fail;
    free(st);
    free(sites);
    return out;
fail:
    free(st);
    free(sites);
    llfc_net_free(out);
    return NULL;
}

llfc_net *llfc_repair(const llfc_net *a, const llfc_net *b, double alpha, const float *x, int64_t n,
                      int64_t batch, llfc_progress_fn progress, void *ud)
{
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
        llfc_seterr("alpha must be in [0, 1], got %g", alpha);
        return NULL;
    }
    const llfc_net *nets[2] = {a, b};
    double w[2] = {alpha, 1.0 - alpha};
    return llfc_repair_many(nets, 2, w, x, n, batch, progress, ud);
}
