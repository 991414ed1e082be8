/* test_repair.c - REPAIR and BatchNorm reset: site statistics against naive
 * loops over a whole-batch forward, every site of a repaired net at its goal
 * statistics (MLP, VGG and ResNet-20 with each norm), the endpoints kept at
 * alpha = 0 and 1, reset_bn against cumulative batch statistics computed
 * here, interruption and errors. */
#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "metrics/repair.h"

#include <stdlib.h>
#include <string.h>

static float frand(llfc_rng *r) { return (float)(2.0 * llfc_rng_double(r) - 1.0); }

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

/* Give norm layers non-trivial affine params and running statistics and
 * shift every bias, so the endpoints' channels have different statistics. */
static void perturb(llfc_net *net, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int p = 0; p < net->nparams; p++) {
        const char *nm = net->pname[p];
        float *d = llfc_tensor_data(net->param[p]);
        int64_t n = llfc_tensor_numel(net->param[p]);
        if (ends_with(nm, "num_batches_tracked")) continue;
        if (ends_with(nm, "running_var")) { for (int64_t i = 0; i < n; i++) d[i] = 0.5f + (float)llfc_rng_double(&r); }
        else if (ends_with(nm, "running_mean")) { for (int64_t i = 0; i < n; i++) d[i] = 0.2f * frand(&r); }
        else if (ends_with(nm, "bias")) { for (int64_t i = 0; i < n; i++) d[i] += 0.2f * frand(&r); }
        else if (net->param[p]->ndim == 1) /* norm weights */ { for (int64_t i = 0; i < n; i++) d[i] = 1.0f + 0.4f * frand(&r); }
    }
}

static float *random_x(int64_t n, int64_t d, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)llfc_rng_double(&r);
    return x;
}

/* Naive per-channel mean and std of every site over the whole of x in one
 * forward pass (all slots kept), written here independently of repair.c. */
static void naive_stats(const llfc_net *net, const llfc_repair_site *s, int ns, const float *x, int64_t n,
                        double *mean, double *std)
{
    int64_t off = 0;
    int nsl = net->nslots;
    float **sl = calloc((size_t)nsl, sizeof *sl);
    for (int k = 1; k < nsl; k++) sl[k] = malloc((size_t)(n * llfc_net_slot_dim(net, k)) * sizeof(float));
    llfc_net_forward_slots(net, x, n, sl);
    for (int i = 0; i < ns; i++) {
        const llfc_op *op = &net->ops[s[i].op];
        int64_t C = op->K, HW = (int64_t)op->P * op->Q;
        const float *v = sl[op->out];
        for (int64_t c = 0; c < C; c++) {
            double m = 0, q = 0;
            for (int64_t k = 0; k < n; k++)
                for (int64_t j = 0; j < HW; j++) m += v[(k * C + c) * HW + j];
            m /= (double)(n * HW);
            for (int64_t k = 0; k < n; k++)
                for (int64_t j = 0; j < HW; j++) { double e = v[(k * C + c) * HW + j] - m; q += e * e; }
            mean[off + c] = m;
            std[off + c] = sqrt(q / (double)(n * HW));
        }
        off += C;
    }
    for (int k = 1; k < nsl; k++) free(sl[k]);
    free(sl);
}

static int64_t nchan(const llfc_repair_site *s, int ns)
{
    int64_t t = 0;
    for (int i = 0; i < ns; i++) t += s[i].C;
    return t;
}

/* max over channels of |m - gm| / (|gm| + gs) and |s - gs| / gs */
static double goal_err(const double *m, const double *s, const double *gm, const double *gs, int64_t n)
{
    double e = 0;
    for (int64_t c = 0; c < n; c++) {
        double scale = fabs(gm[c]) + gs[c] + 1e-12;
        double em = fabs(m[c] - gm[c]) / scale, es = fabs(s[c] - gs[c]) / (gs[c] + 1e-12);
        if (gs[c] < 1e-9) es = fabs(s[c] - gs[c]); /* a constant channel stays constant */
        if (em > e) e = em;
        if (es > e) e = es;
    }
    return e;
}

static double logits_diff(const llfc_net *p, const llfc_net *q, const float *x, int64_t n)
{
    int64_t k = llfc_net_num_classes(p);
    float *lp = malloc((size_t)(n * k) * sizeof(float)), *lq = malloc((size_t)(n * k) * sizeof(float));
    llfc_net_forward(p, x, n, lp);
    llfc_net_forward(q, x, n, lq);
    double d = 0, mx = 1e-12;
    for (int64_t i = 0; i < n * k; i++) {
        if (fabs(lp[i] - lq[i]) > d) d = fabs(lp[i] - lq[i]);
        if (fabs(lq[i]) > mx) mx = fabs(lq[i]);
    }
    free(lp);
    free(lq);
    return d / mx;
}

/* Repair a perturbed pair of nets made by mk(seed); check every site. */
static void check_repair(const char *what, llfc_net *a, llfc_net *b, int64_t n)
{
    perturb(a, 11);
    perturb(b, 12);
    int64_t in = llfc_net_input_dim(a);
    float *x = random_x(n, in, 5);
    llfc_repair_site *s;
    int ns = llfc_repair_sites(a, &s);
    CHECK(ns > 0, "%s: %d sites", what, ns);
    int64_t tc = nchan(s, ns);
    double *st = calloc((size_t)(8 * tc), sizeof(double));
    double *ma = st, *sa = ma + tc, *mb = sa + tc, *sb = mb + tc, *gm = sb + tc, *gs = gm + tc, *m = gs + tc,
           *sd = m + tc;
    naive_stats(a, s, ns, x, n, ma, sa);
    naive_stats(b, s, ns, x, n, mb, sb);
    double alpha = 0.3;
    for (int64_t c = 0; c < tc; c++) {
        gm[c] = alpha * ma[c] + (1 - alpha) * mb[c];
        gs[c] = alpha * sa[c] + (1 - alpha) * sb[c];
    }
    /* the plain interpolation is off its goal (else the test proves nothing) */
    llfc_net *lerp = llfc_net_lerp(a, b, alpha);
    naive_stats(lerp, s, ns, x, n, m, sd);
    double e0 = goal_err(m, sd, gm, gs, tc);
    CHECK(e0 > 1e-2, "%s: plain interpolation misses the goal statistics (max rel. err %.3g)", what, e0);
    /* stats through repair.c's batched forwards agree with the naive ones */
    double *m2 = calloc((size_t)(2 * tc), sizeof(double)), *s2 = m2 + tc;
    int rc = llfc_repair_stats(lerp, s, ns, x, n, 7, m2, s2);
    double es = goal_err(m2, s2, m, sd, tc);
    CHECK(rc == 0 && es < 1e-4, "%s: llfc_repair_stats (batches of 7) = naive stats (max rel. err %.3g)", what, es);
    int last = ns - 1;
    rc = llfc_repair_stats(lerp, &s[last], 1, x, n, 64, m2, s2);
    es = goal_err(m2, s2, m + (tc - s[last].C), sd + (tc - s[last].C), s[last].C);
    CHECK(rc == 0 && es < 1e-4, "%s: stats of the last site alone agree (max rel. err %.3g)", what, es);
    free(m2);
    llfc_net_free(lerp);

    llfc_net *r = llfc_repair(a, b, alpha, x, n, 16, NULL, NULL);
    CHECK(r != NULL, "%s: llfc_repair at alpha 0.3 (%s)", what, r ? "" : llfc_errmsg());
    if (r) {
        naive_stats(r, s, ns, x, n, m, sd);
        double e = goal_err(m, sd, gm, gs, tc);
        CHECK(e < 1e-3, "%s: every site at its goal mean and std after repair (max rel. err %.3g)", what, e);
        llfc_net_free(r);
    }
    /* the endpoints: same function */
    llfc_net *r1 = llfc_repair(a, b, 1.0, x, n, 16, NULL, NULL), *r0 = llfc_repair(a, b, 0.0, x, n, 16, NULL, NULL);
    CHECK(r1 && r0, "%s: repair at alpha 1 and 0", what);
    if (r1 && r0) {
        double d1 = logits_diff(r1, a, x, n), d0 = logits_diff(r0, b, x, n);
        CHECK(d1 < 1e-3 && d0 < 1e-3, "%s: repair at alpha 1 computes a, at 0 computes b (rel. diff %.2g, %.2g)",
              what, d1, d0);
    }
    llfc_net_free(r1);
    llfc_net_free(r0);
    free(st);
    free(s);
    free(x);
    llfc_net_free(a);
    llfc_net_free(b);
}

static void test_sites(void)
{
    int64_t w[] = {6, 5, 4, 3};
    llfc_net *m = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_repair_site *s;
    int ns = llfc_repair_sites(m, &s);
    CHECK(ns == 2 && s[0].C == 5 && s[1].C == 4 && s[1].pw == 2 && s[1].pb == 3 && s[0].HW == 1,
          "MLP sites: the hidden pre-activations (weight rows, bias)");
    free(s);
    llfc_net_free(m);

    int spec[] = {4, -1, 6};
    llfc_net *v = llfc_vgg_new(2, 6, 6, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, 1);
    ns = llfc_repair_sites(v, &s);
    int good = ns == 2;
    for (int i = 0; good && i < ns; i++) {
        const llfc_op *op = &v->ops[s[i].op];
        good = op->kind == LLFC_OP_BN && s[i].pw == op->pw && s[i].pb == op->pb && s[i].slot == op->out;
    }
    CHECK(good && s[0].C == 4 && s[0].HW == 36 && s[1].C == 6 && s[1].HW == 9,
          "VGG bn sites: the BatchNorm outputs (%d)", ns);
    free(s);
    llfc_net_free(v);
    v = llfc_vgg_new(2, 6, 6, 3, spec, LLFC_NORM_NONE, LLFC_VGG_GAP, 3, 1);
    ns = llfc_repair_sites(v, &s);
    CHECK(ns == 2 && v->ops[s[0].op].kind == LLFC_OP_CONV && v->ops[s[1].op].kind == LLFC_OP_CONV,
          "VGG without norm: the conv outputs");
    free(s);
    llfc_net_free(v);
    llfc_net *r = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 1);
    ns = llfc_repair_sites(r, &s);
    CHECK(ns == 21, "ResNet-20 bn: 21 norm sites (19 convs + 2 shortcuts), got %d", ns);
    free(s);
    llfc_net_free(r);
    r = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_NONE, 3, 1);
    ns = llfc_repair_sites(r, &s);
    CHECK(ns == 21, "ResNet-20 without norm: 21 conv sites, got %d", ns);
    free(s);
    llfc_net_free(r);
}

/* reset_bn: the first BatchNorm's running statistics are the mean over
 * batches of the batch mean and unbiased variance of its input (the conv
 * output, which does not depend on any BatchNorm). */
static void test_reset_bn(void)
{
    int spec[] = {5, -1, 4};
    llfc_net *v = llfc_vgg_new(2, 6, 6, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, 7);
    perturb(v, 3);
    llfc_net *orig = llfc_net_clone(v);
    int64_t n = 37, bs = 10, in = llfc_net_input_dim(v);
    float *x = random_x(n, in, 9);
    const llfc_op *bn = NULL;
    for (int i = 0; i < v->nops && !bn; i++)
        if (v->ops[i].kind == LLFC_OP_BN) bn = &v->ops[i];
    int C = bn->C, HW = bn->H * bn->W;
    double *rm = calloc((size_t)(2 * C), sizeof(double)), *rv = rm + C;
    int nb = 0;
    int nsl = v->nslots;
    float **sl = calloc((size_t)nsl, sizeof *sl);
    sl[bn->in] = malloc((size_t)(bs * llfc_net_slot_dim(v, bn->in)) * sizeof(float));
    for (int64_t i0 = 0; i0 < n; i0 += bs, nb++) {
        int64_t m = n - i0 < bs ? n - i0 : bs;
        llfc_net_forward_slots(v, x + i0 * in, m, sl);
        for (int c = 0; c < C; c++) {
            double s = 0, q = 0, cnt = (double)(m * HW);
            for (int64_t k = 0; k < m; k++)
                for (int j = 0; j < HW; j++) s += sl[bn->in][(k * C + c) * HW + j];
            double mu = s / cnt;
            for (int64_t k = 0; k < m; k++)
                for (int j = 0; j < HW; j++) { double e = sl[bn->in][(k * C + c) * HW + j] - mu; q += e * e; }
            rm[c] += mu;
            rv[c] += q / (cnt - 1);
        }
    }
    int rc = llfc_net_reset_bn(v, x, n, bs, NULL, NULL);
    CHECK(rc == 0, "llfc_net_reset_bn runs (%s)", rc ? llfc_errmsg() : "");
    const float *gm = llfc_tensor_data(v->param[bn->prm]), *gv = llfc_tensor_data(v->param[bn->prv]);
    double e = 0;
    for (int c = 0; c < C; c++) {
        e = fmax(e, fabs(gm[c] - rm[c] / nb) / (1 + fabs(rm[c] / nb)));
        e = fmax(e, fabs(gv[c] - rv[c] / nb) / (rv[c] / nb));
    }
    CHECK(e < 1e-4, "reset_bn: running mean and var = average over %d batches of the batch statistics (%.2g)", nb, e);
    CHECK(bn->pnbt < 0 || fabs(llfc_tensor_data(v->param[bn->pnbt])[0] - nb) < 1e-6,
          "reset_bn: num_batches_tracked counts the batches");
    int same = 1;
    for (int p = 0; p < v->nparams; p++)
        if (!v->ptrain || v->ptrain[p])
            same &= !memcmp(llfc_tensor_data(v->param[p]), llfc_tensor_data(orig->param[p]),
                            (size_t)llfc_tensor_numel(v->param[p]) * sizeof(float));
    CHECK(same, "reset_bn: trainable parameters unchanged");
    /* every BN layer's mean is reset too: the last BN's running mean moved */
    const llfc_op *last = NULL;
    for (int i = 0; i < v->nops; i++)
        if (v->ops[i].kind == LLFC_OP_BN) last = &v->ops[i];
    CHECK(last != bn && memcmp(llfc_tensor_data(v->param[last->prm]), llfc_tensor_data(orig->param[last->prm]),
                               (size_t)last->C * sizeof(float)),
          "reset_bn: later BatchNorm layers re-estimated too");
    free(sl[bn->in]);
    free(sl);
    free(rm);
    free(x);
    llfc_net_free(v);
    llfc_net_free(orig);
}

static void test_errors(void)
{
    int spec[] = {4, -1, 6};
    llfc_net *a = llfc_vgg_new(1, 6, 6, 3, spec, LLFC_NORM_LN, LLFC_VGG_GAP, 3, 1);
    llfc_net *b = llfc_vgg_new(1, 6, 6, 3, spec, LLFC_NORM_LN, LLFC_VGG_GAP, 3, 2);
    llfc_net *c = llfc_resnet20_new(1, 6, 6, 1, LLFC_NORM_LN, 3, 1);
    float *x = random_x(20, 36, 1);
    llfc_net *r = llfc_repair(a, b, 1.5, x, 20, 8, NULL, NULL);
    CHECK(!r && strstr(llfc_errmsg(), "alpha"), "alpha outside [0, 1] is an error: %s", llfc_errmsg());
    r = llfc_repair(a, c, 0.5, x, 20, 8, NULL, NULL);
    CHECK(!r, "different layouts are an error: %s", llfc_errmsg());
    r = llfc_repair(a, b, 0.5, x, 0, 8, NULL, NULL);
    CHECK(!r && strstr(llfc_errmsg(), "n = 0"), "no samples is an error: %s", llfc_errmsg());
    llfc_net *a0 = llfc_net_clone(a);
    llfc_interrupt_flag = 1;
    r = llfc_repair(a, b, 0.5, x, 20, 8, NULL, NULL);
    CHECK(!r && !strcmp(llfc_errmsg(), "interrupted"), "Ctrl-C: repair fails with 'interrupted'");
    llfc_interrupt_clear();
    int same = 1;
    for (int p = 0; p < a->nparams; p++)
        same &= !memcmp(llfc_tensor_data(a->param[p]), llfc_tensor_data(a0->param[p]),
                        (size_t)llfc_tensor_numel(a->param[p]) * sizeof(float));
    CHECK(same, "the endpoint is unchanged after an interrupted repair");
    r = llfc_repair(a, b, 0.5, x, 20, 8, NULL, NULL);
    CHECK(r != NULL, "repair works again after the interrupt is cleared");
    llfc_net_free(r);
    llfc_net_free(a0);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_net_free(c);
    free(x);
}

int main(void)
{
    test_sites();
    int64_t w[] = {6, 16, 12, 3};
    check_repair("MLP", llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1),
                 llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2), 50);
    int spec[] = {4, -1, 6, -1, 5};
    const char *nn[] = {"none", "bn", "ln"};
    for (int k = 0; k < 3; k++) {
        char what[32];
        snprintf(what, sizeof what, "VGG %s", nn[k]);
        check_repair(what, llfc_vgg_new(2, 8, 8, 5, spec, k, LLFC_VGG_GAP, 3, 1),
                     llfc_vgg_new(2, 8, 8, 5, spec, k, LLFC_VGG_GAP, 3, 2), 40);
        snprintf(what, sizeof what, "ResNet-20 %s", nn[k]);
        check_repair(what, llfc_resnet20_new(1, 8, 8, 1, k, 3, 1), llfc_resnet20_new(1, 8, 8, 1, k, 3, 2), 24);
    }
    test_reset_bn();
    test_errors();
    return check_summary();
}
