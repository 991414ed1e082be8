/* test_metrics.c - the metrics pass against hand values and a naive
 * per-sample reference written here in double (no code under test): MLPs
 * against an explicit lerp and forward pass, and every architecture (MLP,
 * VGG, ResNet-20) against explicit convolution loops in double on the values
 * of the executor's slots, the full W_A H_B + W_B H_A products (not the
 * difference trick of the code under test), and planted permutations for
 * activation matching. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "data/data.h"
#include "metrics/metrics.h"
#include "nn/nn.h"
#include "perm/perm.h"
#include "nn/build.h"

static llfc_net *mlp(const int64_t *w, int nw, int act, uint64_t seed)
{
    return llfc_mlp_new(nw, w, act, LLFC_INIT_TORCH, seed);
}

static llfc_dataset *randset(int64_t n, int64_t dim, int C, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, dim, C);
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * dim; i++) ds->x[i] = (float)llfc_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) ds->y[i] = (int32_t)llfc_rng_below(&r, (uint64_t)C);
    return ds;
}

/* ---- the naive reference: one sample at a time, double, explicit lerp ---- */
#define MAXW 16
#define MAXL 6
typedef struct { int L; int64_t w[MAXL + 1]; double W[MAXL][MAXW][MAXW], b[MAXL][MAXW]; int act; } dnet;

static void to_dnet(const llfc_net *n, dnet *d)
{
    d->L = n->nfeat;
    d->act = llfc_act_from_name(llfc_net_act(n));
    for (int l = 0; l <= d->L; l++) d->w[l] = n->widths[l];
    for (int l = 0; l < d->L; l++) {
        const float *W = llfc_tensor_data(n->param[2 * l]), *b = llfc_tensor_data(n->param[2 * l + 1]);
        for (int o = 0; o < d->w[l + 1]; o++) {
            d->b[l][o] = b[o];
            for (int i = 0; i < d->w[l]; i++) d->W[l][o][i] = W[o * d->w[l] + i];
        }
    }
}

static void dlerp(const dnet *a, const dnet *b, double al, dnet *o)
{
    *o = *a;
    for (int l = 0; l < a->L; l++)
        for (int r = 0; r < MAXW; r++) {
            o->b[l][r] = al * a->b[l][r] + (1 - al) * b->b[l][r];
            for (int c = 0; c < MAXW; c++) o->W[l][r][c] = al * a->W[l][r][c] + (1 - al) * b->W[l][r][c];
        }
}

static double dact(int act, double v) { return act == LLFC_ACT_RELU ? (v > 0 ? v : 0) : act == LLFC_ACT_TANH ? tanh(v) : v; }

/* pre[l][j], post[l][j] for one sample */
static void dforward(const dnet *d, const float *x, double pre[MAXL][MAXW], double post[MAXL][MAXW])
{
    double in[MAXW];
    for (int i = 0; i < d->w[0]; i++) in[i] = x[i];
    for (int l = 0; l < d->L; l++) {
        for (int o = 0; o < d->w[l + 1]; o++) {
            double s = d->b[l][o];
            for (int i = 0; i < d->w[l]; i++) s += d->W[l][o][i] * in[i];
            pre[l][o] = s;
            post[l][o] = l < d->L - 1 ? dact(d->act, s) : s;
        }
        for (int o = 0; o < d->w[l + 1]; o++) in[o] = post[l][o];
    }
}

static double one_minus_cos(const double *u, const double *v, int n, int *zero)
{
    double uv = 0, uu = 0, vv = 0;
    for (int j = 0; j < n; j++) { uv += u[j] * v[j]; uu += u[j] * u[j]; vv += v[j] * v[j]; }
    *zero = uu == 0 || vv == 0;
    return *zero ? 0 : 1 - uv / sqrt(uu * vv);
}

static void meanstd(const double *v, int n, double *m, double *s)
{
    double a = 0, q = 0;
    for (int i = 0; i < n; i++) a += v[i];
    a /= n;
    for (int i = 0; i < n; i++) q += (v[i] - a) * (v[i] - a);
    *m = a;
    *s = sqrt(q / n);
}

static void test_against_naive(int act, int64_t batch)
{
    int64_t widths[] = {5, 7, 6, 4};
    llfc_net *a = mlp(widths, 4, act, 11), *b = mlp(widths, 4, act, 12);
    int N = 37;
    llfc_dataset *ds = randset(N, 5, 4, 3);
    double ial[] = {0.6, 0, 0.3, 1, 0.25};   /* unsorted on purpose */
    double lal[] = {0.25, 0.5, 0.9};
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.alphas = ial, o.nalphas = 5;
    o.llfc_alphas = lal, o.nllfc_alphas = 3;
    o.batch = batch;
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r != NULL, "run (act %d, batch %lld): %s", act, (long long)batch, r ? "" : llfc_errmsg());
    if (!r) return;
    CHECK(r->n == N && r->complete, "all %d samples processed", N);
    CHECK(r->interp.nalpha == 5 && r->interp.alpha[0] == 0 && r->interp.alpha[1] == 0.25 &&
              r->interp.alpha[4] == 1, "interpolation alphas sorted ascending");
    dnet A, B, T;
    to_dnet(a, &A);
    to_dnet(b, &B);
    static double pa[MAXL][MAXW], ha[MAXL][MAXW], pb[MAXL][MAXW], hb[MAXL][MAXW], pt[MAXL][MAXW], ht[MAXL][MAXW];
    int L = A.L, C = 4;
    /* interpolation */
    double maxdiff = 0, berr = -1e9, ea = 0, eb = 0;
    for (int k = 0; k < 5; k++) {
        double al = r->interp.alpha[k];
        dlerp(&A, &B, al, &T);
        int nerr = 0;
        double loss = 0;
        for (int i = 0; i < N; i++) {
            dforward(&T, ds->x + i * 5, pt, ht);
            int best = 0;
            double mx = ht[L - 1][0], s = 0;
            for (int j = 1; j < C; j++) if (ht[L - 1][j] > mx) mx = ht[L - 1][j], best = j;
            for (int j = 0; j < C; j++) s += exp(ht[L - 1][j] - mx);
            loss += mx + log(s) - ht[L - 1][ds->y[i]];
            nerr += best != ds->y[i];
        }
        CHECK_NEAR(r->interp.err[k], (double)nerr / N, 1e-12, "err(%g) = %d/%d", al, nerr, N);
        if (fabs(r->interp.loss[k] - loss / N) > maxdiff) maxdiff = fabs(r->interp.loss[k] - loss / N);
        if (al == 0) eb = (double)nerr / N;
        if (al == 1) ea = (double)nerr / N;
    }
    CHECK(maxdiff < 1e-5, "loss(alpha) matches the naive loop (max diff %.2g)", maxdiff);
    for (int k = 0; k < 5; k++) {
        double al = r->interp.alpha[k], v = r->interp.err[k] - (al * ea + (1 - al) * eb);
        if (v > berr) berr = v;
    }
    CHECK_NEAR(r->interp.barrier_err, berr, 1e-12, "error barrier");
    CHECK(r->interp.err_a == ea && r->interp.err_b == eb, "endpoint errors");
    CHECK(r->interp.barrier_err >= 0, "barrier >= 0 when the grid holds both endpoints");

    /* llfc, weak additivity, commutativity */
    double cosv[64], coefv[64];
    double lmax = 0, wmax = 0;
    for (int li = 0; li < r->llfc.nlayer; li++) {
        int l = r->llfc.layer[li].feat, d = (int)widths[l + 1], z;
        int n = 0;
        for (int i = 0; i < N; i++) {
            dforward(&A, ds->x + i * 5, pa, ha);
            dforward(&B, ds->x + i * 5, pb, hb);
            double c = one_minus_cos(ha[l], hb[l], d, &z);
            if (!z) cosv[n++] = c;
        }
        double m, s;
        meanstd(cosv, n, &m, &s);
        if (fabs(m - r->llfc.layer[li].ab_mean) > lmax) lmax = fabs(m - r->llfc.layer[li].ab_mean);
        if (fabs(s - r->llfc.layer[li].ab_std) > lmax) lmax = fabs(s - r->llfc.layer[li].ab_std);
        for (int k = 0; k < 3; k++) {
            double al = lal[k];
            dlerp(&A, &B, al, &T);
            n = 0;
            for (int i = 0; i < N; i++) {
                dforward(&A, ds->x + i * 5, pa, ha);
                dforward(&B, ds->x + i * 5, pb, hb);
                dforward(&T, ds->x + i * 5, pt, ht);
                double mix[MAXW], tm = 0, tt = 0;
                for (int j = 0; j < d; j++) mix[j] = al * ha[l][j] + (1 - al) * hb[l][j];
                double c = one_minus_cos(ht[l], mix, d, &z);
                if (z) continue;
                for (int j = 0; j < d; j++) tm += ht[l][j] * mix[j], tt += ht[l][j] * ht[l][j];
                cosv[n] = c;
                coefv[n++] = tm / tt;
            }
            const llfc_llfc_at *at = &r->llfc.layer[li].at[k];
            meanstd(cosv, n, &m, &s);
            lmax = fmax(lmax, fmax(fabs(m - at->mean), fabs(s - at->std)));
            meanstd(coefv, n, &m, &s);
            lmax = fmax(lmax, fmax(fabs(m - at->coef_mean), fabs(s - at->coef_std)));
            CHECK(at->skipped == N - n, "%s alpha %g: skipped %lld == %d", r->llfc.layer[li].name, al,
                  (long long)at->skipped, N - n);
        }
    }
    CHECK(lmax < 1e-5, "llfc cosines and coefficients match the naive loop (max diff %.2g)", lmax);
    CHECK(r->weak.nlayer == L - 1, "weak additivity on the %d hidden layers", L - 1);
    for (int li = 0; li < r->weak.nlayer; li++) {
        int l = r->weak.layer[li].feat, d = (int)widths[l + 1], z;
        for (int k = 0; k < r->weak.nalpha; k++) {
            double al = r->weak.alpha[k];
            int n = 0;
            for (int i = 0; i < N; i++) {
                dforward(&A, ds->x + i * 5, pa, ha);
                dforward(&B, ds->x + i * 5, pb, hb);
                double u[MAXW], v[MAXW];
                for (int j = 0; j < d; j++) {
                    u[j] = dact(act, al * pa[l][j] + (1 - al) * pb[l][j]);
                    v[j] = al * ha[l][j] + (1 - al) * hb[l][j];
                }
                double c = one_minus_cos(u, v, d, &z);
                if (!z) cosv[n++] = c;
            }
            double m, s;
            meanstd(cosv, n, &m, &s);
            wmax = fmax(wmax, fmax(fabs(m - r->weak.layer[li].at[k].mean), fabs(s - r->weak.layer[li].at[k].std)));
        }
    }
    CHECK(wmax < 1e-5, "weak additivity matches the naive loop (max diff %.2g)", wmax);
    double cmax = 0;
    for (int l = 0; l < L; l++) {
        double num = 0, x2 = 0, y2 = 0, ha2 = 0, hb2 = 0, dh2 = 0, wa2 = 0, wb2 = 0, dw2 = 0;
        int in = (int)widths[l], out = (int)widths[l + 1];
        for (int i = 0; i < N; i++) {
            dforward(&A, ds->x + i * 5, pa, ha);
            dforward(&B, ds->x + i * 5, pb, hb);
            double HA[MAXW], HB[MAXW];
            for (int j = 0; j < in; j++) {
                HA[j] = l ? ha[l - 1][j] : ds->x[i * 5 + j];
                HB[j] = l ? hb[l - 1][j] : ds->x[i * 5 + j];
                ha2 += HA[j] * HA[j], hb2 += HB[j] * HB[j], dh2 += (HA[j] - HB[j]) * (HA[j] - HB[j]);
            }
            for (int o2 = 0; o2 < out; o2++) {
                double X = 0, Y = 0, D = 0;
                for (int j = 0; j < in; j++) {
                    X += A.W[l][o2][j] * HA[j] + B.W[l][o2][j] * HB[j];
                    Y += A.W[l][o2][j] * HB[j] + B.W[l][o2][j] * HA[j];
                    D += (A.W[l][o2][j] - B.W[l][o2][j]) * (HA[j] - HB[j]);
                }
                num += D * D, x2 += X * X, y2 += Y * Y;
            }
        }
        for (int o2 = 0; o2 < out; o2++)
            for (int j = 0; j < in; j++) {
                double p = A.W[l][o2][j], q = B.W[l][o2][j];
                wa2 += p * p, wb2 += q * q, dw2 += (p - q) * (p - q);
            }
        const llfc_comm_layer *c = &r->comm.layer[l];
        double dc = l ? num / sqrt(x2 * y2) : 0, dwv = dw2 / sqrt(wa2 * wb2), dhv = l ? dh2 / sqrt(ha2 * hb2) : 0;
        cmax = fmax(cmax, fabs(c->dist_com - dc) / fmax(1, dc));
        cmax = fmax(cmax, fabs(c->dist_w - dwv) / fmax(1, dwv));
        cmax = fmax(cmax, fabs(c->dist_h - dhv) / fmax(1, dhv));
        CHECK(c->layer == l + 1, "commutativity layer numbered %d", l + 1);
    }
    CHECK(strcmp(r->comm.layer[0].input, "x") == 0 && strcmp(r->comm.layer[1].input, "h1") == 0,
          "commutativity inputs named x, h1");
    CHECK(cmax < 1e-5, "commutativity matches the naive loop (max rel diff %.2g)", cmax);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

static void test_identical(void)
{
    int64_t widths[] = {6, 8, 8, 3};
    llfc_net *a = mlp(widths, 4, LLFC_ACT_RELU, 5), *b = llfc_net_clone(a);
    llfc_dataset *ds = randset(50, 6, 3, 9);
    llfc_report *r = llfc_metrics_run(a, b, ds, NULL);
    CHECK(r != NULL, "identical nets: run");
    if (!r) return;
    CHECK(r->interp.nalpha == 21 && r->interp.alpha[20] == 1.0, "default grid has 21 points");
    CHECK(fabs(r->interp.barrier_err) < 1e-12 && fabs(r->interp.barrier_loss) < 1e-6, "barrier 0 (%g, %g)",
          r->interp.barrier_err, r->interp.barrier_loss);
    CHECK(r->interp.holds, "lemma holds");
    double mx = 0;
    for (int i = 0; i < r->llfc.nlayer; i++) {
        mx = fmax(mx, fabs(r->llfc.layer[i].ab_mean));
        for (int k = 0; k < r->llfc.nalpha; k++) {
            mx = fmax(mx, fabs(r->llfc.layer[i].at[k].mean));
            mx = fmax(mx, fabs(r->llfc.layer[i].at[k].coef_mean - 1));
        }
    }
    CHECK(mx < 1e-6, "1 - cos_alpha = 0 and c = 1 (max %.2g)", mx);
    for (int l = 0; l < r->comm.nlayer; l++)
        CHECK(r->comm.layer[l].dist_com == 0 && r->comm.layer[l].dist_w == 0 && r->comm.layer[l].dist_h == 0,
              "layer %d: Dist_com = Dist_W = Dist_H = 0", l + 1);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

/* Permute the hidden units of layer g (0-based hidden layer) by perm. */
static void permute_hidden(llfc_net *n, int g, const int *perm)
{
    int64_t w = n->widths[g + 1], in = n->widths[g], out = n->widths[g + 2];
    float *W = llfc_tensor_data(n->param[2 * g]), *b = llfc_tensor_data(n->param[2 * g + 1]);
    float *W2 = llfc_tensor_data(n->param[2 * g + 2]);
    float *tW = malloc(sizeof(float) * w * in), *tb = malloc(sizeof(float) * w), *tW2 = malloc(sizeof(float) * out * w);
    memcpy(tW, W, sizeof(float) * w * in);
    memcpy(tb, b, sizeof(float) * w);
    memcpy(tW2, W2, sizeof(float) * out * w);
    for (int64_t i = 0; i < w; i++) {
        memcpy(W + i * in, tW + perm[i] * in, sizeof(float) * in);
        b[i] = tb[perm[i]];
        for (int64_t o = 0; o < out; o++) W2[o * w + i] = tW2[o * w + perm[i]];
    }
    free(tW); free(tb); free(tW2);
}

static void test_permuted(void)
{
    int64_t widths[] = {4, 6, 5, 3};
    llfc_net *a = mlp(widths, 4, LLFC_ACT_RELU, 21), *b = llfc_net_clone(a);
    int p1[] = {3, 0, 5, 1, 4, 2}, p2[] = {4, 2, 0, 1, 3};
    int q1[6], q2[5];
    for (int i = 0; i < 6; i++) q1[p1[i]] = i;
    for (int i = 0; i < 5; i++) q2[p2[i]] = i;
    permute_hidden(b, 0, p1);
    permute_hidden(b, 1, p2);
    llfc_dataset *ds = randset(40, 4, 3, 2);
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.what = LLFC_M_LLFC | LLFC_M_INTERP;
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r && r->llfc.layer[0].ab_mean > 1e-3 && r->llfc.layer[1].ab_mean > 1e-3,
          "permuted copy: 1 - cos_AB > 0 on hidden layers (%g, %g)", r ? r->llfc.layer[0].ab_mean : 0,
          r ? r->llfc.layer[1].ab_mean : 0);
    CHECK(r && fabs(r->llfc.layer[2].ab_mean) < 1e-6, "permuted copy: same logits (1 - cos_AB = %g)",
          r ? r->llfc.layer[2].ab_mean : 0);
    CHECK(r && fabs(r->interp.err_a - r->interp.err_b) < 1e-12, "permuted copy: same endpoint error");
    llfc_report_free(r);
    permute_hidden(b, 0, q1);
    permute_hidden(b, 1, q2);
    r = llfc_metrics_run(a, b, ds, &o);
    double mx = 0;
    for (int i = 0; r && i < r->llfc.nlayer; i++)
        for (int k = 0; k < r->llfc.nalpha; k++) mx = fmax(mx, fabs(r->llfc.layer[i].at[k].mean));
    CHECK(r && mx < 1e-6 && r->interp.barrier_err == 0, "inverse permutation: 1 - cos_alpha = 0, barrier 0 (%g)", mx);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

static void test_linear_weak(void)
{
    int64_t widths[] = {5, 9, 7, 3};
    llfc_net *a = mlp(widths, 4, LLFC_ACT_IDENTITY, 1), *b = mlp(widths, 4, LLFC_ACT_IDENTITY, 2);
    llfc_dataset *ds = randset(30, 5, 3, 4);
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.what = LLFC_M_WEAK;
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    double mx = 0;
    for (int i = 0; r && i < r->weak.nlayer; i++)
        for (int k = 0; k < r->weak.nalpha; k++) mx = fmax(mx, fabs(r->weak.layer[i].at[k].mean));
    CHECK(r && r->weak.nlayer == 2 && mx < 1e-12, "linear network: weak additivity exact (max %.2g)", mx);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    a = mlp(widths, 4, LLFC_ACT_RELU, 1), b = mlp(widths, 4, LLFC_ACT_RELU, 2);
    r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r && r->weak.layer[0].at[1].mean > 1e-4, "ReLU network: weak additivity not exact (%g)",
          r ? r->weak.layer[0].at[1].mean : 0);
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

static void setw(llfc_net *n, int l, const float *W, const float *b)
{
    memcpy(llfc_tensor_data(n->param[2 * l]), W, sizeof(float) * llfc_tensor_numel(n->param[2 * l]));
    memcpy(llfc_tensor_data(n->param[2 * l + 1]), b, sizeof(float) * llfc_tensor_numel(n->param[2 * l + 1]));
}

/* A 2-2-2 pair computed by hand (see the numbers in the comments). */
static void test_comm_2x2(void)
{
    int64_t widths[] = {2, 2, 2};
    llfc_net *a = mlp(widths, 3, LLFC_ACT_RELU, 1), *b = mlp(widths, 3, LLFC_ACT_RELU, 2);
    float I[] = {1, 0, 0, 1}, P[] = {0, 1, 1, 0}, z[] = {0, 0};
    float WA2[] = {1, 2, 3, 4}, bA2[] = {1, 1}, bB2[] = {-1, 2};
    setw(a, 0, I, z);
    setw(b, 0, P, z);
    setw(a, 1, WA2, bA2);   /* biases are excluded: they must not matter */
    setw(b, 1, P, bB2);
    llfc_dataset *ds = llfc_dataset_new(2, 2, 2);
    ds->x[0] = 1, ds->x[1] = 0, ds->x[2] = 0, ds->x[3] = 1;
    ds->y[0] = 0, ds->y[1] = 1;
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.what = LLFC_M_COMM;
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r != NULL, "2x2 commutativity runs");
    if (r) {
        /* layer 1: H = x for both: Dist_H = 0, Dist_com = 0; Dist_W = |I-P|^2/(|I||P|) = 4/2 */
        CHECK(r->comm.layer[0].dist_h == 0 && r->comm.layer[0].dist_com == 0, "layer 1: Dist_H = Dist_com = 0");
        CHECK_NEAR(r->comm.layer[0].dist_w, 2.0, 1e-12, "layer 1: Dist_W = 2");
        /* layer 2: H_A = I, H_B = P; X = W_A + I = [2 2; 3 5], Y = W_A P + P = [2 2; 5 3]:
         * |X-Y|^2 = 8, |X|^2 = |Y|^2 = 42 -> 8/42; Dist_W = 22/sqrt(30*2); Dist_H = 4/2 */
        CHECK_NEAR(r->comm.layer[1].dist_com, 8.0 / 42.0, 1e-7, "layer 2: Dist_com = 8/42");
        CHECK_NEAR(r->comm.layer[1].num, 8.0, 1e-6, "layer 2: |(W_A-W_B)(H_A-H_B)|^2 = 8");
        CHECK_NEAR(r->comm.layer[1].dist_w, 22.0 / sqrt(60.0), 1e-7, "layer 2: Dist_W = 22/sqrt(60)");
        CHECK_NEAR(r->comm.layer[1].dist_h, 2.0, 1e-12, "layer 2: Dist_H = 2");
    }
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

/* Linear 1-1-1 nets: A = (1, 1), B = (3, 0), no biases.  At alpha = .5 the
 * logits are f = 2*.5*x = x while mix = .5*(x + 0) = x/2: c = 0.5 exactly;
 * h1 = 2x = mix(x, 3x): c = 1.  x = 0 is skipped everywhere; f_B's logits are
 * 0 so every baseline sample of the logits is skipped. */
static void test_coef_and_skips(void)
{
    int64_t widths[] = {1, 1, 1};
    llfc_net *a = mlp(widths, 3, LLFC_ACT_IDENTITY, 1), *b = mlp(widths, 3, LLFC_ACT_IDENTITY, 2);
    float one[] = {1}, three[] = {3}, zero[] = {0};
    setw(a, 0, one, zero); setw(a, 1, one, zero);
    setw(b, 0, three, zero); setw(b, 1, zero, zero);
    llfc_dataset *ds = llfc_dataset_new(4, 1, 1);
    ds->x[0] = 1, ds->x[1] = -2, ds->x[2] = 0, ds->x[3] = 3;
    double half = 0.5;
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.what = LLFC_M_LLFC;
    o.llfc_alphas = &half, o.nllfc_alphas = 1;
    /* no range: each layer's histogram is a small window around its constant c */
    llfc_report *r = llfc_metrics_run(a, b, ds, &o);
    if (r) {
        const llfc_llfc_at *h = &r->llfc.layer[0].at[0], *g = &r->llfc.layer[1].at[0];
        int64_t nh = 0, ng = 0;
        for (int k = 0; k < h->nbins; k++) nh += h->hist[k];
        for (int k = 0; k < g->nbins; k++) ng += g->hist[k];
        CHECK(h->hist_lo < 1 && h->hist_hi > 1 && h->hist_hi - h->hist_lo < 0.01 && nh == 3 && h->below + h->above == 0 &&
                  g->hist_lo < 0.5 && g->hist_hi > 0.5 && g->hist_hi - g->hist_lo < 0.01 && ng == 3,
              "no range: each (layer, alpha) bins around its own coefficients ([%g, %g] and [%g, %g])", h->hist_lo,
              h->hist_hi, g->hist_lo, g->hist_hi);
    }
    llfc_report_free(r);
    o.hist_lo = 0, o.hist_hi = 2; /* the fixed range: 20 bins of 0.1 */
    r = llfc_metrics_run(a, b, ds, &o);
    CHECK(r != NULL, "coefficient case runs");
    if (r) {
        const llfc_llfc_layer *h1 = &r->llfc.layer[0], *lg = &r->llfc.layer[1];
        CHECK(strcmp(h1->name, "h1") == 0 && strcmp(lg->name, "logits") == 0, "feature names h1, logits");
        CHECK(h1->at[0].coef_mean == 1.0 && h1->at[0].coef_std == 0, "h1: c = 1 exactly");
        CHECK(lg->at[0].coef_mean == 0.5 && lg->at[0].coef_std == 0, "logits: c = 0.5 exactly (%.17g)",
              lg->at[0].coef_mean);
        CHECK(fabs(lg->at[0].mean) < 1e-15, "logits: 1 - cos = 0");
        CHECK(lg->at[0].skipped == 1 && h1->at[0].skipped == 1, "zero sample skipped at alpha and counted");
        CHECK(h1->skipped == 1 && lg->skipped == 4, "baseline skips: h1 1, logits 4 (f_B = 0)");
        CHECK(lg->at[0].hist[5] == 3 && h1->at[0].hist[10] == 3, "histogram bins: c=0.5 in [0.5,0.6), c=1 in [1,1.1)");
        CHECK(isnan(lg->ab_mean), "no baseline sample left: mean is NaN");
    }
    llfc_report_free(r);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
}

static int stop_after(void *ud, double done, double total, const char *what)
{
    (void)total; (void)what;
    return done >= *(double *)ud;
}
static int stop_batch(void *ud, const llfc_report *p) { (*(int *)ud)++; return p->n >= 20; }

static void test_errors(void)
{
    int64_t w1[] = {4, 5, 3}, w2[] = {4, 6, 3}, w3[] = {5, 5, 3};
    llfc_net *a = mlp(w1, 3, LLFC_ACT_RELU, 1), *b = mlp(w2, 3, LLFC_ACT_RELU, 2), *c = mlp(w3, 3, LLFC_ACT_RELU, 3);
    llfc_net *a2 = mlp(w1, 3, LLFC_ACT_RELU, 4);
    llfc_dataset *ds = randset(30, 4, 3, 1), *empty = llfc_dataset_new(0, 4, 3);
    llfc_report *r = llfc_metrics_run(a, b, ds, NULL);
    CHECK(!r && strstr(llfc_errmsg(), "do not match") && strstr(llfc_errmsg(), "0.weight"),
          "mismatched architectures: %s", llfc_errmsg());
    r = llfc_metrics_run(c, c, ds, NULL);
    CHECK(!r && strstr(llfc_errmsg(), "5 inputs") && strstr(llfc_errmsg(), "4 features"), "input dim: %s", llfc_errmsg());
    r = llfc_metrics_run(a, a2, empty, NULL);
    CHECK(!r && strstr(llfc_errmsg(), "empty"), "empty dataset: %s", llfc_errmsg());
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    double bad[] = {0.5, 1.5}, nan1[] = {NAN};
    o.alphas = bad, o.nalphas = 2;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strstr(llfc_errmsg(), "1.5"), "alpha outside [0,1]: %s", llfc_errmsg());
    o.alphas = nan1, o.nalphas = 1;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strstr(llfc_errmsg(), "nan"), "NaN alpha: %s", llfc_errmsg());
    double dup[] = {0.5, 0.25, 0.5};
    o.alphas = dup, o.nalphas = 3;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(r && r->interp.nalpha == 2 && r->interp.alpha[0] == 0.25, "duplicates dropped, sorted");
    llfc_report_free(r);
    llfc_metrics_opts_init(&o);
    int lay = 7;
    o.layers = &lay, o.nlayers = 1;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strstr(llfc_errmsg(), "layer 8"), "bad layer: %s", llfc_errmsg());
    llfc_metrics_opts_init(&o);
    ds->y[3] = 9;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strstr(llfc_errmsg(), "label 9 of sample 4"), "bad label: %s", llfc_errmsg());
    ds->y[3] = 1;
    double after = 2;
    o.batch = 7;
    o.progress = stop_after, o.progress_ud = &after;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strcmp(llfc_errmsg(), "interrupted") == 0, "progress returning non-zero interrupts");
    o.progress = NULL;
    llfc_interrupt_flag = 1;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(!r && strcmp(llfc_errmsg(), "interrupted") == 0, "Ctrl-C flag interrupts");
    llfc_interrupt_clear();
    int calls = 0;
    o.on_batch = stop_batch, o.batch_ud = &calls;
    r = llfc_metrics_run(a, a2, ds, &o);
    CHECK(r && !r->complete && r->n == 21 && calls == 3, "on_batch stop: partial result of %lld samples",
          r ? (long long)r->n : -1LL);
    llfc_report_free(r);
    llfc_net_free(a); llfc_net_free(b); llfc_net_free(c); llfc_net_free(a2);
    llfc_dataset_release(ds);
    llfc_dataset_release(empty);
}

/* The same report with different batch sizes. */
static void test_batch_invariance(void)
{
    int64_t widths[] = {6, 10, 8, 4};
    llfc_net *a = mlp(widths, 4, LLFC_ACT_RELU, 31), *b = mlp(widths, 4, LLFC_ACT_RELU, 32);
    llfc_dataset *ds = randset(101, 6, 4, 7);
    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.batch = 13;
    llfc_report *r1 = llfc_metrics_run(a, b, ds, &o);
    o.batch = 0;
    llfc_report *r2 = llfc_metrics_run(a, b, ds, &o);
    double mx = 0;
    for (int k = 0; k < 21; k++) mx = fmax(mx, fabs(r1->interp.loss[k] - r2->interp.loss[k]));
    for (int i = 0; i < r1->llfc.nlayer; i++)
        for (int k = 0; k < 3; k++) mx = fmax(mx, fabs(r1->llfc.layer[i].at[k].mean - r2->llfc.layer[i].at[k].mean));
    for (int l = 0; l < 3; l++) mx = fmax(mx, fabs(r1->comm.layer[l].dist_com - r2->comm.layer[l].dist_com));
    CHECK(mx < 1e-6, "batch 13 and batch 1000 agree (max diff %.2g)", mx);
    llfc_report_free(r1);
    llfc_report_free(r2);
    llfc_net_free(a);
    llfc_net_free(b);
    llfc_dataset_release(ds);
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

/* the pass on every architecture: MLPs, VGG (no norm, BatchNorm, LayerNorm,
 * both heads), ResNet-20 (BatchNorm, LayerNorm) */
static void test_architectures(void)
{
    /* MLP: linear 32->7, relu, linear 7->5, relu, linear 5->3 */
    {
        int64_t w[] = {32, 7, 5, 3};
        llfc_dataset *mds = randset(13, 32, 3, 1), *mbig = randset(60, 32, 3, 2);
        llfc_net *ma = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
        llfc_net *mb = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2);
        test_net_pair("mlp", ma, mb, mds);
        test_planted("mlp", ma, mbig);
        llfc_net_free(ma);
        llfc_net_free(mb);
        llfc_dataset_release(mds);
        llfc_dataset_release(mbig);
    }
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
}

int main(void)
{
    test_against_naive(LLFC_ACT_RELU, 8);
    test_against_naive(LLFC_ACT_TANH, 1000);
    test_identical();
    test_permuted();
    test_linear_weak();
    test_comm_2x2();
    test_coef_and_skips();
    test_errors();
    test_batch_invariance();
    test_architectures();
    return check_summary();
}
