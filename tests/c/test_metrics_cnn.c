/* test_metrics_cnn.c - the metrics pass and activation matching on conv and
 * residual nets (nn_cnn.h) against a naive reference written here: explicit
 * convolution loops in double on the values of the executor's slots, the
 * full W_A H_B + W_B H_A products (not the difference trick of the code under
 * test), and planted permutations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "data/data.h"
#include "metrics/metrics.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "perm/perm.h"

static llfc_dataset *randset(int64_t n, int64_t dim, int C, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, dim, C);
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * dim; i++) ds->x[i] = (float)llfc_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) ds->y[i] = (int32_t)llfc_rng_below(&r, (uint64_t)C);
    return ds;
}

/* every slot of a forward pass: s[k] [n, slot_dim(k)] (s[0] = NULL) */
static float **all_slots(const llfc_net *net, const float *x, int64_t n)
{
    int S = net->nslots;
    float **s = calloc((size_t)S, sizeof *s);
    for (int k = 1; k < S; k++) s[k] = malloc(sizeof(float) * (size_t)(n * llfc_net_slot_dim(net, k)));
    if (llfc_net_forward_slots(net, x, n, s)) { CHECK(0, "forward_slots: %s", llfc_errmsg()); }
    return s;
}

static void free_slots(const llfc_net *net, float **s)
{
    for (int k = 0; k < net->nslots; k++) free(s[k]);
    free(s);
}

/* y [K*P*Q] += W h for one sample of op o (naive conv or linear, no bias) */
static void naive_apply(const llfc_op *o, const float *w, const float *h, double *y)
{
    if (o->kind == LLFC_OP_LINEAR) {
        int64_t D = (int64_t)o->C * o->H * o->W;
        for (int k = 0; k < o->K; k++) {
            double s = 0;
            for (int64_t j = 0; j < D; j++) s += (double)w[k * D + j] * h[j];
            y[k] += s;
        }
        return;
    }
    int R = o->R;
    for (int k = 0; k < o->K; k++)
        for (int p = 0; p < o->P; p++)
            for (int q = 0; q < o->Q; q++) {
                double s = 0;
                for (int c = 0; c < o->C; c++)
                    for (int i = 0; i < R; i++) {
                        int yy = p * o->stride - o->pad + i;
                        if (yy < 0 || yy >= o->H) continue;
                        for (int j = 0; j < R; j++) {
                            int xx = q * o->stride - o->pad + j;
                            if (xx < 0 || xx >= o->W) continue;
                            s += (double)w[((k * o->C + c) * R + i) * R + j] * h[(c * o->H + yy) * o->W + xx];
                        }
                    }
                y[(k * o->P + p) * o->Q + q] += s;
            }
}

static double ddist(double d2, double x2, double y2) { return d2 == 0 ? 0 : d2 / sqrt(x2 * y2); }

/* Commutativity of every weight op, naively; checks r's entries. */
static void check_comm(const char *what, const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                       const llfc_report *r)
{
    float **sa = all_slots(a, ds->x, ds->n), **sb = all_slots(b, ds->x, ds->n);
    int k = 0, nbad = 0;
    double worst = 0;
    for (int i = 0; i < a->nops; i++) {
        const llfc_op *o = &a->ops[i];
        if (o->kind != LLFC_OP_CONV && o->kind != LLFC_OP_LINEAR) continue;
        if (k >= r->comm.nlayer) { nbad++; break; }
        const llfc_comm_layer *c = &r->comm.layer[k++];
        if (c->op != i || strcmp(c->name, o->name)) nbad++;
        int64_t din = llfc_net_slot_dim(a, o->in), dout = llfc_net_slot_dim(a, o->out);
        const float *wa = llfc_tensor_data(a->param[o->pw]), *wb = llfc_tensor_data(b->param[o->pw]);
        double *y1 = malloc(sizeof(double) * (size_t)dout), *y2 = malloc(sizeof(double) * (size_t)dout);
        double num = 0, x2 = 0, yy2 = 0, ha2 = 0, hb2 = 0, dh2 = 0, wa2 = 0, wb2 = 0, dw2 = 0;
        for (int64_t s = 0; s < ds->n; s++) {
            const float *ha = o->in ? sa[o->in] + s * din : ds->x + s * din;
            const float *hb = o->in ? sb[o->in] + s * din : ds->x + s * din;
            memset(y1, 0, sizeof(double) * (size_t)dout);
            memset(y2, 0, sizeof(double) * (size_t)dout);
            naive_apply(o, wa, ha, y1);
            naive_apply(o, wb, hb, y1);
            naive_apply(o, wa, hb, y2);
            naive_apply(o, wb, ha, y2);
            for (int64_t j = 0; j < dout; j++) {
                num += (y1[j] - y2[j]) * (y1[j] - y2[j]);
                x2 += y1[j] * y1[j];
                yy2 += y2[j] * y2[j];
            }
            for (int64_t j = 0; j < din; j++) {
                ha2 += (double)ha[j] * ha[j];
                hb2 += (double)hb[j] * hb[j];
                dh2 += ((double)ha[j] - hb[j]) * ((double)ha[j] - hb[j]);
            }
        }
        int64_t nw = llfc_tensor_numel(a->param[o->pw]);
        for (int64_t j = 0; j < nw; j++) {
            wa2 += (double)wa[j] * wa[j];
            wb2 += (double)wb[j] * wb[j];
            dw2 += ((double)wa[j] - wb[j]) * ((double)wa[j] - wb[j]);
        }
        double e[3] = {ddist(num, x2, yy2), ddist(dw2, wa2, wb2), ddist(dh2, ha2, hb2)};
        double g[3] = {c->dist_com, c->dist_w, c->dist_h};
        for (int t = 0; t < 3; t++) {
            double d = fabs(g[t] - e[t]) / (fabs(e[t]) > 1e-3 ? fabs(e[t]) : 1e-3);
            if (d > worst) worst = d;
        }
        free(y1);
        free(y2);
    }
    CHECK(nbad == 0 && k == r->comm.nlayer, "%s: one commutativity entry per weight op, in op order (%d)", what, k);
    CHECK(worst < 1e-4, "%s: Dist_com, Dist_W, Dist_H of every weight op = naive convolutions (rel %.2g)", what, worst);
    free_slots(a, sa);
    free_slots(b, sb);
}

/* Weak additivity at alpha of every relu feature, naively from the slots. */
static void check_weak(const char *what, const llfc_net *a, const llfc_net *b, const llfc_dataset *ds,
                       const llfc_report *r)
{
    float **sa = all_slots(a, ds->x, ds->n), **sb = all_slots(b, ds->x, ds->n);
    double worst = 0;
    int nrelu = 0;
    for (int i = 0; i < a->nops; i++) {
        const llfc_op *o = &a->ops[i];
        if (o->kind != LLFC_OP_RELU || o->feat < 0) continue;
        nrelu++;
        const llfc_weak_layer *ly = NULL;
        for (int k = 0; k < r->weak.nlayer; k++)
            if (r->weak.layer[k].feat == o->feat) ly = &r->weak.layer[k];
        if (!ly) { worst = INFINITY; continue; }
        int64_t d = llfc_net_slot_dim(a, o->in);
        for (int q = 0; q < r->weak.nalpha; q++) {
            double al = ly->at[q].alpha, sum = 0;
            int64_t cnt = 0;
            for (int64_t s = 0; s < ds->n; s++) {
                double uv = 0, uu = 0, vv = 0;
                for (int64_t j = 0; j < d; j++) {
                    double pa = sa[o->in][s * d + j], pb = sb[o->in][s * d + j];
                    double u = al * pa + (1 - al) * pb;
                    u = u > 0 ? u : 0;
                    double v = al * (pa > 0 ? pa : 0) + (1 - al) * (pb > 0 ? pb : 0);
                    uv += u * v, uu += u * u, vv += v * v;
                }
                if (uu > 0 && vv > 0) sum += 1 - uv / sqrt(uu * vv), cnt++;
            }
            double dd = fabs(ly->at[q].mean - sum / (double)cnt);
            if (dd > worst) worst = dd;
        }
    }
    CHECK(r->weak.nlayer == nrelu && worst < 1e-5, "%s: weak additivity of %d relus = naive (max diff %.2g)", what, nrelu,
          worst);
    free_slots(a, sa);
    free_slots(b, sb);
}

static void test_net_pair(const char *what, llfc_net *a, llfc_net *b, llfc_dataset *ds)
{
    CHECK(a && b, "%s: built (%s)", what, a && b ? "" : llfc_errmsg());
    if (!a || !b) return;
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    double wal[] = {0.3, 0.5};
    o.weak_alphas = wal, o.nweak_alphas = 2;
    o.batch = 5; /* several batches, the last short */
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r && r->complete && r->n == ds->n, "%s: the report runs (%s)", what, r ? "" : llfc_errmsg());
    if (!r) return;
    check_comm(what, a, b, ds, r);
    check_weak(what, a, b, ds, r);
    /* default batch (sized by memory): the same numbers */
    o.batch = 0;
    llfc_report *r2 = llfc_metrics_run(a, b, ds, &o);
    int same = r2 != NULL;
    for (int l = 0; same && l < r->comm.nlayer; l++)
        same = fabs(r->comm.layer[l].dist_com - r2->comm.layer[l].dist_com) <= 1e-6 * fabs(r->comm.layer[l].dist_com) &&
               strcmp(r->comm.layer[l].input, r2->comm.layer[l].input) == 0;
    for (int k = 0; same && k < r->interp.nalpha; k++) same = r->interp.nerr[k] == r2->interp.nerr[k];
    CHECK(same, "%s: default batch gives the same report", what);
    /* identical nets: every commutativity distance is exactly 0 */
    llfc_report *r3 = llfc_metrics_run(a, a, ds, &o);
    int zero = r3 != NULL;
    for (int l = 0; zero && l < r3->comm.nlayer; l++)
        zero = r3->comm.layer[l].dist_com == 0 && r3->comm.layer[l].dist_w == 0 && r3->comm.layer[l].dist_h == 0;
    CHECK(zero, "%s: a net against itself: Dist_com = Dist_W = Dist_H = 0", what);
    /* interpolation endpoints: the nets' own eval */
    llfc_eval_result ea;
    llfc_net_eval(a, ds->x, ds->y, ds->n, 7, &ea, NULL, NULL);
    CHECK(fabs(r->interp.err_a - ea.err) < 1e-12 && fabs(r->interp.loss_a - ea.loss) < 1e-5,
          "%s: err_a, loss_a = the net's eval (%g, %g)", what, r->interp.err_a, r->interp.loss_a);
    llfc_report_free(r);
    llfc_report_free(r2);
    llfc_report_free(r3);
}

/* r == p except on channels of a group that are zero at every sample and
 * position of its feature layer in a (dead: they tie in the cost) */
static int equal_up_to_dead(const llfc_perm *r, const llfc_perm *p, const llfc_net *a, const llfc_dataset *ds,
                            int *nties)
{
    if (!r) return 0;
    int F = llfc_net_nfeat(a), ok = 1;
    float **post = calloc((size_t)F, sizeof *post);
    for (int l = 0; l < F; l++) post[l] = malloc(sizeof(float) * (size_t)(ds->n * llfc_net_featdim(a, l)));
    llfc_net_forward_features(a, ds->x, ds->n, NULL, post);
    *nties = 0;
    for (int g = 0; g < a->spec->ngroups; g++) {
        int64_t d = a->spec->gsize[g], fd = llfc_net_featdim(a, a->spec->gfeat[g]), hw = fd / d;
        const float *h = post[a->spec->gfeat[g]];
        for (int64_t c = 0; c < d; c++) {
            if (r->idx[g][c] == p->idx[g][c]) continue;
            int dead = 1;
            for (int64_t s = 0; s < ds->n && dead; s++)
                for (int64_t k = 0; k < hw && dead; k++) dead = h[s * fd + c * hw + k] == 0.0f;
            if (dead) (*nties)++;
            else ok = 0;
        }
    }
    for (int l = 0; l < F; l++) free(post[l]);
    free(post);
    return ok;
}

static void test_planted(const char *what, llfc_net *a, const llfc_dataset *ds)
{
    if (!a) return;
    llfc_perm *p = llfc_perm_random(a->spec, 5);
    llfc_perm *pinv = llfc_perm_inverse(p);
    llfc_net *b = llfc_perm_apply(pinv, a); /* p(b) == a */
    for (int meth = 0; meth < 2; meth++) {
        llfc_am_opts ao = {.method = meth, .batch = meth ? 0 : 7};
        llfc_am_stats st;
        llfc_perm *r = llfc_activation_match(a, b, ds->x, ds->n, &ao, &st);
        int nties = 0;
        CHECK(equal_up_to_dead(r, p, a, ds, &nties) && st.nidentity == 0 && st.n == ds->n,
              "%s: activation matching (%s) recovers a planted permutation (%d dead channels tie) %s", what,
              meth ? "corr" : "inner", nties, r ? "" : llfc_errmsg());
        llfc_perm_free(r);
    }
    llfc_perm_free(p);
    llfc_perm_free(pinv);
    llfc_net_free(b);
}

int main(void)
{
    /* VGG: conv 2->3, relu, pool, conv 3->4, relu, gap, linear */
    const int spec[] = {3, -1, 4};
    llfc_dataset *ds = randset(13, 2 * 4 * 4, 3, 1);
    const char *norms[] = {"vgg", "vgg bn", "vgg ln"};
    for (int nm = 0; nm < 3; nm++) {
        llfc_net *a = llfc_vgg_new(2, 4, 4, 3, spec, nm, LLFC_VGG_GAP, 3, 1);
        llfc_net *b = llfc_vgg_new(2, 4, 4, 3, spec, nm, LLFC_VGG_GAP, 3, 2);
        test_net_pair(norms[nm], a, b, ds);
        llfc_net_free(a);
        llfc_net_free(b);
    }
    llfc_net *a = llfc_vgg_new(2, 4, 4, 3, spec, LLFC_NORM_NONE, LLFC_VGG_FLATTEN, 3, 1);
    llfc_net *b = llfc_vgg_new(2, 4, 4, 3, spec, LLFC_NORM_NONE, LLFC_VGG_FLATTEN, 3, 2);
    test_net_pair("vgg flatten head", a, b, ds);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset *big = randset(60, 2 * 4 * 4, 3, 2);
    a = llfc_vgg_new(2, 4, 4, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, 3);
    test_planted("vgg bn", a, big);
    llfc_net_free(a);

    /* ResNet-20, width 1, 1x8x8 inputs: 22 weight ops (19 convs, 2 shortcuts, the linear) */
    llfc_dataset *rds = randset(6, 64, 3, 3);
    a = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 1);
    b = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 2);
    test_net_pair("resnet20 bn", a, b, rds);
    llfc_report *r = a && b ? llfc_metrics_run(a, b, rds, NULL) : NULL;
    int found = 0;
    for (int l = 0; r && l < r->comm.nlayer; l++) {
        const llfc_comm_layer *c = &r->comm.layer[l];
        if (!strcmp(c->name, "layer1.0.conv2")) found += !strcmp(c->input, "layer1.0.relu1");
        if (!strcmp(c->name, "layer2.0.shortcut.0")) found += !strcmp(c->input, "layer1.2");
        if (!strcmp(c->name, "conv1")) found += !strcmp(c->input, "x");
    }
    CHECK(r && r->comm.nlayer == 22 && found == 3, "resnet20: 22 weight ops, inputs named by the slot's feature (%d)",
          r ? r->comm.nlayer : -1);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    a = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_LN, 3, 1);
    b = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_LN, 3, 2);
    test_net_pair("resnet20 ln", a, b, rds);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset *rbig = randset(40, 64, 3, 4);
    a = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 4);
    test_planted("resnet20 bn", a, rbig);
    llfc_net_free(a);

    llfc_dataset_release(ds);
    llfc_dataset_release(big);
    llfc_dataset_release(rds);
    llfc_dataset_release(rbig);
    return check_summary();
}
