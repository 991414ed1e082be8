/* test_merge.c - the feature-averaging merge: identical members come back
 * (every architecture and norm), a linear network merges to the exact
 * average of its members' outputs, per-layer solutions against normal
 * equations solved here in double (MLP layers with and without ridge and
 * init, a conv layer with BatchNorm over patches unfolded here), the fit
 * lowering the pre-activation error of the weight average on conv nets,
 * streaming in any batch size, alignment, Ctrl-C, errors, and the LLFC
 * cosine against the members' average against a direct computation. */
#include "check.h"
#include "core/core.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "perm/perm.h"
#include "metrics/feature_merge.h"
#include "nn/kernels/layers.h"

#include <stdlib.h>
#include <string.h>

static float *random_x(int64_t n, int64_t d, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(2.0 * llfc_rng_double(&r) - 1.0);
    return x;
}

/* Move every parameter off its initial value: norm scales and running
 * variances stay positive, biases and shifts become non-zero. */
static void jitter(llfc_net *net, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        int ps[4] = {o->pb, o->prm, o->kind == LLFC_OP_BN || o->kind == LLFC_OP_LN ? o->pw : -1, o->prv};
        for (int k = 0; k < 4; k++) {
            if (ps[k] < 0) continue;
            float *d = llfc_tensor_data(net->param[ps[k]]);
            for (int64_t e = 0; e < llfc_tensor_numel(net->param[ps[k]]); e++) {
                double u = llfc_rng_double(&r);
                d[e] = k >= 2 ? (float)(0.6 + 0.8 * u) : (float)(0.4 * (u - 0.5));
            }
        }
    }
}

/* max |f_p - f_q| / max |f_q| over the logits of x */
static double logits_diff(const llfc_net *p, const llfc_net *q, const float *x, int64_t n)
{
    int64_t k = llfc_net_num_classes(p);
    float *lp = malloc((size_t)(n * k) * sizeof(float)), *lq = malloc((size_t)(n * k) * sizeof(float));
    llfc_net_forward(p, x, n, lp);
    llfc_net_forward(q, x, n, lq);
    double d = 0, mx = 1e-12;
    for (int64_t i = 0; i < n * k; i++) {
        d = fmax(d, fabs(lp[i] - lq[i]));
        mx = fmax(mx, fabs(lq[i]));
    }
    free(lp), free(lq);
    return d / mx;
}

static llfc_net *merge2(const llfc_net *a, const llfc_net *b, const float *x, int64_t n, double ridge, int init,
                        llfc_fm_stats *st)
{
    const llfc_net *m[2] = {a, b};
    llfc_fm_opts o = {.ridge = ridge, .init = init};
    return llfc_feature_merge(m, 2, x, n, &o, st);
}

/* ---- identical members ------------------------------------------------------------ */

/* ridges: bit 0 of which 1e-4, bit 1 zero */
static void check_identical(const char *what, llfc_net *a, int64_t n, int which)
{
    jitter(a, 3);
    int64_t in = llfc_net_input_dim(a);
    float *x = random_x(n, in, 1), *x2 = random_x(50, in, 2);
    double ridges[2] = {1e-4, 0.0};
    for (int r = 0; r < 2; r++) {
        if (!(which >> r & 1)) continue;
        llfc_fm_stats st;
        llfc_net *z = merge2(a, a, x, n, ridges[r], 1, &st);
        CHECK(z != NULL, "%s, ridge %g: merge of two copies (%s)", what, ridges[r], z ? "" : llfc_errmsg());
        if (!z) continue;
        double d1 = logits_diff(z, a, x, n), d2 = logits_diff(z, a, x2, 50);
        CHECK(d1 < 2e-4 && d2 < 2e-4, "%s, ridge %g: two copies merge to the member (rel. diff %.2g fitting data, "
              "%.2g other data; %d fits)", what, ridges[r], d1, d2, st.nfit);
        llfc_fm_stats_free(&st);
        llfc_net_free(z);
    }
    free(x), free(x2);
    llfc_net_free(a);
}

static void test_identical(void)
{
    int64_t w[] = {6, 12, 10, 3};
    check_identical("MLP", llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1), 40, 3);
    int64_t wt[] = {6, 8, 3};
    check_identical("MLP tanh", llfc_mlp_new(3, wt, LLFC_ACT_TANH, LLFC_INIT_TORCH, 1), 40, 3);
    int spec[] = {4, -1, 6, -1, 5};
    const char *nm[] = {"none", "bn", "ln"};
    for (int k = 0; k < 3; k++) {
        char what[32];
        snprintf(what, sizeof what, "VGG %s", nm[k]);
        check_identical(what, llfc_vgg_new(2, 8, 8, 5, spec, k, LLFC_VGG_GAP, 3, 1), 30, 3);
        snprintf(what, sizeof what, "ResNet-20 %s", nm[k]);
        check_identical(what, llfc_resnet20_new(1, 8, 8, 1, k, 3, 1), 24, 1);
    }
    int fl[] = {3, -1, 4};
    check_identical("VGG bn, flatten head", llfc_vgg_new(1, 6, 6, 3, fl, LLFC_NORM_BN, LLFC_VGG_FLATTEN, 2, 4), 40, 3);
}

/* ---- a linear network -------------------------------------------------------------- */

static void test_linear(void)
{
    /* identity activations, hidden widths >= the input width: every layer's
     * target is an affine map of the input, which the merged network's
     * hidden values determine, so the fit is exact */
    int64_t w[] = {4, 6, 8, 3};
    const llfc_net *m[3];
    for (int j = 0; j < 3; j++) m[j] = llfc_mlp_new(4, w, LLFC_ACT_IDENTITY, LLFC_INIT_TORCH, (uint64_t)j + 1);
    int64_t n = 100;
    float *x = random_x(n, 4, 7);
    double wt[3] = {0.5, 0.3, 0.2};
    for (int init = 0; init < 2; init++) {
        llfc_fm_opts o = {.weights = wt, .ridge = 0, .init = init};
        llfc_fm_stats st;
        llfc_net *z = llfc_feature_merge(m, 3, x, n, &o, &st);
        CHECK(z != NULL, "linear MLP, init %d: merge of three (%s)", init, z ? "" : llfc_errmsg());
        if (!z) continue;
        float *lz = malloc((size_t)(n * 3) * sizeof(float)), *lj = malloc((size_t)(n * 3) * sizeof(float));
        double *avg = calloc((size_t)(n * 3), sizeof(double));
        llfc_net_forward(z, x, n, lz);
        for (int j = 0; j < 3; j++) {
            llfc_net_forward(m[j], x, n, lj);
            for (int64_t i = 0; i < n * 3; i++) avg[i] += wt[j] * lj[i];
        }
        double d = 0, mx = 0;
        for (int64_t i = 0; i < n * 3; i++) d = fmax(d, fabs(lz[i] - avg[i])), mx = fmax(mx, fabs(avg[i]));
        CHECK(d / mx < 1e-5, "linear MLP, init %d: the merge's outputs are the weighted average of the members' "
              "(rel. diff %.2g)", init, d / mx);
        CHECK(st.fits[1].rank == 4, "linear MLP: the hidden layer's inputs have rank 4 (the input width), got %d",
              st.fits[1].rank);
        free(lz), free(lj), free(avg);
        llfc_fm_stats_free(&st);
        llfc_net_free(z);
    }
    free(x);
    for (int j = 0; j < 3; j++) llfc_net_free((llfc_net *)m[j]);
}

/* ---- per-layer solutions against normal equations solved here ----------------------- */

/* Solve A x = b (n x n, row-major, m right-hand sides as rows of B) by
 * Gaussian elimination with partial pivoting, in place. */
static void gauss(int n, double *A, int m, double *B)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        for (int j = 0; j < n; j++) { double t = A[c * n + j]; A[c * n + j] = A[p * n + j]; A[p * n + j] = t; }
        for (int k = 0; k < m; k++) { double t = B[k * n + c]; B[k * n + c] = B[k * n + p]; B[k * n + p] = t; }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
            for (int k = 0; k < m; k++) B[k * n + r] -= f * B[k * n + c];
        }
    }
    for (int k = 0; k < m; k++)
        for (int r = n - 1; r >= 0; r--) {
            double s = B[k * n + r];
            for (int j = r + 1; j < n; j++) s -= A[r * n + j] * B[k * n + j];
            B[k * n + r] = s / A[r * n + r];
        }
}

/* The ridge fit of rows phi [N, F] to y [N, K] with an intercept, from the
 * centred normal equations: W [K, F], b [K]; W0 the start (init) or NULL. */
static void naive_fit(int64_t N, int F, int K, const double *phi, const double *y, double ridge, const double *W0,
                      double *W, double *b)
{
    double *m = calloc((size_t)F, sizeof *m), *yb = calloc((size_t)K, sizeof *yb);
    double *S = calloc((size_t)F * F, sizeof *S), *X = calloc((size_t)K * F, sizeof *X);
    for (int64_t r = 0; r < N; r++) {
        for (int f = 0; f < F; f++) m[f] += phi[r * F + f] / N;
        for (int k = 0; k < K; k++) yb[k] += y[r * K + k] / N;
    }
    for (int64_t r = 0; r < N; r++)
        for (int f = 0; f < F; f++) {
            double u = phi[r * F + f] - m[f];
            for (int g = 0; g < F; g++) S[f * F + g] += u * (phi[r * F + g] - m[g]) / N;
            for (int k = 0; k < K; k++) X[k * F + f] += u * (y[r * K + k] - yb[k]) / N;
        }
    double tr = 0;
    for (int f = 0; f < F; f++) tr += S[f * F + f];
    double lam = ridge * tr / F;
    /* (S + lam I) (W - W0)^T = X - S W0^T */
    for (int k = 0; k < K; k++)
        for (int f = 0; f < F; f++)
            for (int g = 0; g < F && W0; g++) X[k * F + f] -= S[f * F + g] * W0[k * F + g];
    for (int f = 0; f < F; f++) S[f * F + f] += lam;
    gauss(F, S, K, X);
    for (int k = 0; k < K; k++) {
        b[k] = yb[k];
        for (int f = 0; f < F; f++) {
            W[k * F + f] = X[k * F + f] + (W0 ? W0[k * F + f] : 0.0);
            b[k] -= W[k * F + f] * m[f];
        }
    }
    free(m), free(yb), free(S), free(X);
}

static double rel_err(const double *a, const float *b, int64_t n)
{
    double d = 0, mx = 1e-12;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i])), mx = fmax(mx, fabs(a[i]));
    return d / mx;
}

/* MLP layers 2 and 3: inputs the merged net's h1, h2 (its fitted layers),
 * targets the average of the members' pre-activations. */
static void test_naive_mlp(void)
{
    int64_t w[] = {3, 5, 4, 2};
    llfc_net *a = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_net *b = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2);
    int64_t n = 40;
    float *x = random_x(n, 3, 3);
    struct { double ridge; int init; } cases[] = {{0, 1}, {0.1, 1}, {0.1, 0}, {2.0, 1}};
    for (int c = 0; c < 4; c++) {
        llfc_fm_stats st;
        llfc_net *z = merge2(a, b, x, n, cases[c].ridge, cases[c].init, &st);
        CHECK(z != NULL, "naive MLP case %d: merged (%s)", c, z ? "" : llfc_errmsg());
        if (!z) continue;
        const llfc_net *nets[3] = {z, a, b};
        float *pre[3][3] = {{0}}, *post[3][3] = {{0}};
        for (int j = 0; j < 3; j++) {
            for (int l = 0; l < 3; l++) {
                pre[j][l] = malloc((size_t)(n * w[l + 1]) * sizeof(float));
                post[j][l] = malloc((size_t)(n * w[l + 1]) * sizeof(float));
            }
            llfc_net_forward_features(nets[j], x, n, pre[j], post[j]);
        }
        for (int l = 1; l < 3; l++) {
            int F = (int)w[l], K = (int)w[l + 1];
            double *phi = malloc((size_t)(n * F) * sizeof *phi), *y = malloc((size_t)(n * K) * sizeof *y);
            double *W0 = malloc((size_t)K * F * sizeof *W0), *W = malloc((size_t)K * F * sizeof *W);
            double bb[8];
            for (int64_t i = 0; i < n * F; i++) phi[i] = post[0][l - 1][i];
            for (int64_t i = 0; i < n * K; i++) y[i] = 0.5 * pre[1][l][i] + 0.5 * pre[2][l][i];
            const float *wa = llfc_tensor_data(a->param[2 * l]), *wb = llfc_tensor_data(b->param[2 * l]);
            for (int i = 0; i < K * F; i++) W0[i] = 0.5 * wa[i] + 0.5 * wb[i];
            naive_fit(n, F, K, phi, y, cases[c].ridge, cases[c].init ? W0 : NULL, W, bb);
            double ew = rel_err(W, llfc_tensor_data(z->param[2 * l]), K * F);
            double eb = rel_err(bb, llfc_tensor_data(z->param[2 * l + 1]), K);
            CHECK(ew < 1e-4 && eb < 1e-4, "MLP layer %d, ridge %g, init %d: weights and bias = the normal equations "
                  "solved here (rel. err %.2g, %.2g)", l + 1, cases[c].ridge, cases[c].init, ew, eb);
            free(phi), free(y), free(W0), free(W);
        }
        for (int j = 0; j < 3; j++)
            for (int l = 0; l < 3; l++) free(pre[j][l]), free(post[j][l]);
        llfc_fm_stats_free(&st);
        llfc_net_free(z);
    }
    free(x);
    llfc_net_free(a);
    llfc_net_free(b);
}

/* A VGG with BatchNorm: the second conv (after a max pool) over 3x3 patches
 * with zero padding unfolded here; its composite map (conv + BatchNorm in
 * eval mode) against the normal equations, and the BatchNorm's running
 * statistics = mean and variance of the conv's output. */
static void test_naive_conv(void)
{
    int spec[] = {3, -1, 4};
    llfc_net *a = llfc_vgg_new(2, 6, 6, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 2, 1);
    llfc_net *b = llfc_vgg_new(2, 6, 6, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 2, 2);
    jitter(a, 5), jitter(b, 6);
    int64_t n = 30;
    float *x = random_x(n, 72, 4);
    double ridge = 0.01;
    llfc_fm_stats st;
    llfc_net *z = merge2(a, b, x, n, ridge, 1, &st);
    CHECK(z != NULL && st.nfit == 3, "VGG bn: merged in 3 fits (%s)", z ? "" : llfc_errmsg());
    if (!z) { free(x), llfc_net_free(a), llfc_net_free(b); return; }
    int conv = -1, bn = -1, pool = -1;
    for (int i = 0; i < z->nops; i++) {
        if (z->ops[i].kind == LLFC_OP_MAXPOOL) pool = i;
        if (pool >= 0 && conv < 0 && z->ops[i].kind == LLFC_OP_CONV) conv = i, bn = i + 1;
    }
    const llfc_op *oc = &z->ops[conv], *ob = &z->ops[bn];
    CHECK(ob->kind == LLFC_OP_BN && oc->in == pool + 1, "the second conv reads the max pool, a BatchNorm follows");
    int C = oc->C, H = oc->H, W = oc->W, K = oc->K, F = C * 9, HW = H * W;
    int64_t N = n * HW;
    /* Z's pooled map and the members' BatchNorm outputs */
    int ns = z->nslots;
    float **kz = calloc((size_t)ns, sizeof *kz), **ka = calloc((size_t)ns, sizeof *ka),
          **kb = calloc((size_t)ns, sizeof *kb);
    kz[oc->in] = malloc((size_t)(n * C * HW) * sizeof(float));
    ka[ob->out] = malloc((size_t)(n * K * HW) * sizeof(float));
    kb[ob->out] = malloc((size_t)(n * K * HW) * sizeof(float));
    llfc_net_forward_slots(z, x, n, kz);
    llfc_net_forward_slots(a, x, n, ka);
    llfc_net_forward_slots(b, x, n, kb);
    double *phi = calloc((size_t)(N * F), sizeof *phi), *y = malloc((size_t)(N * K) * sizeof *y);
    for (int64_t s = 0; s < n; s++)
        for (int p = 0; p < H; p++)
            for (int q = 0; q < W; q++) {
                int64_t r = (s * H + p) * W + q;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++) {
                            int h = p + i - 1, v = q + j - 1;
                            if (h >= 0 && h < H && v >= 0 && v < W)
                                phi[r * F + (c * 3 + i) * 3 + j] = kz[oc->in][((s * C + c) * H + h) * W + v];
                        }
                for (int k = 0; k < K; k++)
                    y[r * K + k] = 0.5 * ka[ob->out][((s * K + k) * H + p) * W + q] +
                                   0.5 * kb[ob->out][((s * K + k) * H + p) * W + q];
            }
    /* the weight average's composite map, the start of the fit */
    double *W0 = malloc((size_t)K * F * sizeof *W0), *Wn = malloc((size_t)K * F * sizeof *Wn);
    double *we = malloc((size_t)K * F * sizeof *we), bn_[8], be[8];
    {
        llfc_net *wa = llfc_net_lerp(a, b, 0.5);
        const float *cw = llfc_tensor_data(wa->param[oc->pw]), *g = llfc_tensor_data(wa->param[ob->pw]),
                    *rv = llfc_tensor_data(wa->param[ob->prv]);
        for (int k = 0; k < K; k++) {
            double s = g[k] / sqrt((double)rv[k] + wa->bn_eps);
            for (int f = 0; f < F; f++) W0[k * F + f] = s * cw[k * F + f];
        }
        llfc_net_free(wa);
    }
    naive_fit(N, F, K, phi, y, ridge, W0, Wn, bn_);
    /* Z's composite map */
    const float *cw = llfc_tensor_data(z->param[oc->pw]), *cb = llfc_tensor_data(z->param[oc->pb]);
    const float *g = llfc_tensor_data(z->param[ob->pw]), *bb = llfc_tensor_data(z->param[ob->pb]),
                *rm = llfc_tensor_data(z->param[ob->prm]), *rv = llfc_tensor_data(z->param[ob->prv]);
    for (int k = 0; k < K; k++) {
        double s = g[k] / sqrt((double)rv[k] + z->bn_eps);
        for (int f = 0; f < F; f++) we[k * F + f] = s * cw[k * F + f];
        be[k] = s * (cb[k] - rm[k]) + bb[k];
    }
    double ew = 0, eb = 0, mw = 1e-12, mb = 1e-12;
    for (int i = 0; i < K * F; i++) ew = fmax(ew, fabs(we[i] - Wn[i])), mw = fmax(mw, fabs(Wn[i]));
    for (int k = 0; k < K; k++) eb = fmax(eb, fabs(be[k] - bn_[k])), mb = fmax(mb, fabs(bn_[k]));
    CHECK(ew / mw < 1e-4 && eb / mb < 1e-4, "VGG bn conv 2: the composite conv+BatchNorm map = the normal equations "
          "over patches unfolded here, ridge %g (rel. err %.2g, %.2g)", ridge, ew / mw, eb / mb);
    /* running statistics: the conv's output over the fitting rows */
    double es = 0;
    for (int k = 0; k < K; k++) {
        double mu = 0, q = 0;
        for (int64_t r = 0; r < N; r++) {
            double u = 0;
            for (int f = 0; f < F; f++) u += cw[k * F + f] * phi[r * F + f];
            mu += u, q += u * u;
        }
        mu /= N, q = q / N - mu * mu;
        es = fmax(es, fabs(rm[k] - mu) / (1 + fabs(mu)));
        es = fmax(es, fabs(rv[k] - q) / (1e-6 + q));
    }
    CHECK(es < 1e-4, "VGG bn: running mean and var = the conv output's mean and variance on the fitting rows (%.2g)", es);
    free(phi), free(y), free(W0), free(Wn), free(we);
    free(kz[oc->in]), free(ka[ob->out]), free(kb[ob->out]), free(kz), free(ka), free(kb);
    llfc_fm_stats_free(&st);
    llfc_net_free(z);
    free(x);
    llfc_net_free(a);
    llfc_net_free(b);
}

/* ---- conv nets: the fit lowers the pre-activation error -------------------------------- */

/* per feature layer: mean squared distance of net's pre-activations to the
 * average of a's and b's on x */
static void pre_mse(const llfc_net *net, const llfc_net *a, const llfc_net *b, const float *x, int64_t n, double *out)
{
    int nf = net->nfeat;
    const llfc_net *nets[3] = {net, a, b};
    float **f[3];
    for (int j = 0; j < 3; j++) {
        f[j] = calloc((size_t)nf, sizeof(float *));
        for (int l = 0; l < nf; l++) f[j][l] = malloc((size_t)(n * llfc_net_featdim(net, l)) * sizeof(float));
        llfc_net_forward_features(nets[j], x, n, f[j], NULL);
    }
    for (int l = 0; l < nf; l++) {
        int64_t d = n * llfc_net_featdim(net, l);
        double s = 0;
        for (int64_t i = 0; i < d; i++) {
            double e = f[0][l][i] - 0.5 * (f[1][l][i] + f[2][l][i]);
            s += e * e;
        }
        out[l] = s / d;
    }
    for (int j = 0; j < 3; j++) {
        for (int l = 0; l < nf; l++) free(f[j][l]);
        free(f[j]);
    }
}

static void check_reduces(const char *what, llfc_net *a, llfc_net *b, int64_t n)
{
    jitter(a, 21), jitter(b, 22);
    float *x = random_x(n, llfc_net_input_dim(a), 8);
    llfc_fm_stats st;
    llfc_net *z = merge2(a, b, x, n, 1e-4, 1, &st);
    CHECK(z != NULL, "%s: merged (%s)", what, z ? "" : llfc_errmsg());
    if (z) {
        llfc_net *wa = llfc_net_lerp(a, b, 0.5);
        int nf = z->nfeat, lower = 0;
        double *ez = calloc((size_t)nf, sizeof *ez), *ew = calloc((size_t)nf, sizeof *ew), sz = 0, sw = 0;
        pre_mse(z, a, b, x, n, ez);
        pre_mse(wa, a, b, x, n, ew);
        for (int l = 0; l < nf; l++) lower += ez[l] < ew[l], sz += ez[l] / (ew[l] + 1e-30), sw += 1;
        CHECK(lower == nf, "%s: the merge's pre-activations are nearer the members' average than the weight "
              "average's at every feature layer (%d of %d; mean ratio %.3g, last layer %.3g vs %.3g)", what, lower,
              nf, sz / sw, ez[nf - 1], ew[nf - 1]);
        int mfit = 1;
        for (int f = 0; f < st.nfit; f++) mfit &= st.fits[f].mse_fit <= st.fits[f].mse_avg * (1 + 1e-9) + 1e-12;
        CHECK(mfit && st.nfit == st.total, "%s: every fit's error on its inputs is at most the weight average "
              "map's (%d fits)", what, st.nfit);
        free(ez), free(ew);
        llfc_net_free(wa);
        llfc_net_free(z);
        llfc_fm_stats_free(&st);
    }
    free(x);
    llfc_net_free(a);
    llfc_net_free(b);
}

static void test_reduces(void)
{
    int spec[] = {4, -1, 6, -1, 5};
    check_reduces("VGG bn", llfc_vgg_new(2, 8, 8, 5, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, 1),
                  llfc_vgg_new(2, 8, 8, 5, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, 2), 48);
    check_reduces("ResNet-20 bn", llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 1),
                  llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 2), 48);
    int64_t w[] = {6, 16, 12, 3};
    check_reduces("MLP", llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1),
                  llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2), 60);
}

/* ---- plans: which ops a fit takes ------------------------------------------------------- */

static void test_plans(void)
{
    llfc_net *a = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 1), *b = llfc_resnet20_new(1, 8, 8, 1, LLFC_NORM_BN, 3, 2);
    float *x = random_x(20, 64, 1);
    llfc_fm_stats st;
    llfc_net *z = merge2(a, b, x, 20, 1e-3, 1, &st);
    CHECK(z && st.total == 20, "ResNet-20: 20 fits (stem, 9 blocks x 2, linear), got %d", z ? st.total : -1);
    int joint = -1, ident = -1;
    for (int f = 0; z && f < st.nfit; f++) {
        if (!strcmp(st.fits[f].name, "layer2.0")) joint = f;
        if (!strcmp(st.fits[f].name, "layer1.1")) ident = f;
    }
    CHECK(joint >= 0 && !strcmp(st.fits[joint].ops, "layer2.0.conv2+layer2.0.shortcut.0") &&
              st.fits[joint].inputs == 32 * 9 + 16 && st.fits[joint].norm == LLFC_OP_BN,
          "layer2.0: conv2 and the projection shortcut fitted jointly (%s, %lld inputs)",
          joint >= 0 ? st.fits[joint].ops : "?", joint >= 0 ? (long long)st.fits[joint].inputs : -1LL);
    CHECK(ident >= 0 && !strcmp(st.fits[ident].ops, "layer1.1.conv2") && st.fits[ident].rows == 20 * 64,
          "layer1.1: conv2 alone (the identity shortcut is Z's stream), one row per sample and position");
    llfc_fm_stats_free(&st);
    llfc_net_free(z);
    llfc_net_free(a), llfc_net_free(b);
    free(x);
}

/* ---- streaming ----------------------------------------------------------------------- */

static double param_diff(const llfc_net *p, const llfc_net *q)
{
    double d = 0;
    for (int k = 0; k < p->nparams; k++) {
        const float *u = llfc_tensor_data(p->param[k]), *v = llfc_tensor_data(q->param[k]);
        double mx = 1e-6, e = 0;
        for (int64_t i = 0; i < llfc_tensor_numel(p->param[k]); i++)
            e = fmax(e, fabs(u[i] - v[i])), mx = fmax(mx, fabs(v[i]));
        d = fmax(d, e / mx);
    }
    return d;
}

static void test_batches(void)
{
    int spec[] = {4, -1, 5};
    llfc_net *nets[2][2] = {{NULL}};
    int64_t w[] = {5, 9, 7, 3};
    for (int j = 0; j < 2; j++) {
        nets[0][j] = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, (uint64_t)j + 1);
        nets[1][j] = llfc_vgg_new(1, 6, 6, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, (uint64_t)j + 1);
        jitter(nets[1][j], (uint64_t)j + 9);
    }
    const char *nm[2] = {"MLP", "VGG bn"};
    for (int t = 0; t < 2; t++) {
        int64_t n = 45, in = llfc_net_input_dim(nets[t][0]);
        float *x = random_x(n, in, 12);
        const llfc_net *m[2] = {nets[t][0], nets[t][1]};
        llfc_fm_opts o1 = {.ridge = 1e-3, .init = 1}, o2 = o1;
        o2.batch = 7;
        llfc_net *z1 = llfc_feature_merge(m, 2, x, n, &o1, NULL), *z2 = llfc_feature_merge(m, 2, x, n, &o2, NULL);
        CHECK(z1 && z2, "%s: merged in one batch and in batches of 7", nm[t]);
        if (z1 && z2) {
            double d = param_diff(z2, z1);
            CHECK(d < 1e-4, "%s: batches of 7 give the parameters of one batch (rel. diff %.2g)", nm[t], d);
        }
        llfc_net_free(z1), llfc_net_free(z2);
        free(x);
        llfc_net_free(nets[t][0]), llfc_net_free(nets[t][1]);
    }
}

/* ---- alignment -------------------------------------------------------------------------- */

static void test_align(void)
{
    int64_t w[] = {5, 12, 10, 3};
    llfc_net *a = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    llfc_perm *p = llfc_perm_random(a->spec, 5);
    llfc_net *b = llfc_perm_apply(p, a);
    int64_t n = 40;
    float *x = random_x(n, 5, 2);
    const llfc_net *m[2] = {a, b};
    llfc_fm_opts o = {.ridge = 1e-4, .init = 1};
    llfc_net *z0 = llfc_feature_merge(m, 2, x, n, &o, NULL);
    double d0 = z0 ? logits_diff(z0, a, x, n) : -1;
    CHECK(z0 && d0 > 1e-2, "a network and its permuted copy without alignment: not the network (rel. diff %.2g)", d0);
    const int al[3] = {LLFC_FM_ALIGN_WEIGHT, LLFC_FM_ALIGN_ACT, LLFC_FM_ALIGN_CORR};
    const char *an[3] = {"weight", "activation", "corr"};
    for (int k = 0; k < 3; k++) {
        o.align = al[k];
        llfc_fm_stats st;
        llfc_net *z = llfc_feature_merge(m, 2, x, n, &o, &st);
        double d = z ? logits_diff(z, a, x, n) : -1;
        CHECK(z && d < 1e-4, "align %s: the permuted copy merges back to the network (rel. diff %.2g)", an[k], d);
        llfc_net *pb = z && st.perms && st.perms[1] ? llfc_perm_apply(st.perms[1], b) : NULL;
        CHECK(pb && param_diff(pb, a) == 0, "align %s: the Perm returned maps the copy onto the network", an[k]);
        llfc_net_free(pb);
        llfc_fm_stats_free(&st);
        llfc_net_free(z);
    }
    /* given Perms */
    llfc_perm *inv = llfc_perm_inverse(p);
    const llfc_perm *given[2] = {NULL, inv};
    llfc_fm_opts og = {.ridge = 1e-4, .init = 1, .perms = given};
    llfc_net *zg = llfc_feature_merge(m, 2, x, n, &og, NULL);
    CHECK(zg && logits_diff(zg, a, x, n) < 1e-4, "a given Perm aligns the copy (the inverse of the shuffle)");
    llfc_net_free(zg);
    llfc_perm_free(inv);
    llfc_perm_free(p);
    llfc_net_free(z0);
    llfc_net_free(a), llfc_net_free(b);
    free(x);
}

/* ---- Ctrl-C and errors --------------------------------------------------------------------- */

static int stop_after_first(void *ud, double done, double total, const char *what)
{
    (void)done, (void)total;
    if (strstr(what, "fitted (1 of")) {
        if (ud) llfc_interrupt_flag = 1;
        else return 1;
    }
    return 0;
}

static void test_interrupt(void)
{
    int64_t w[] = {5, 9, 7, 3};
    llfc_net *a = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1), *b = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2);
    float *x = random_x(30, 5, 2);
    const llfc_net *m[2] = {a, b};
    int flag = 1;
    llfc_fm_opts o = {.ridge = 1e-4, .init = 1, .progress = stop_after_first, .progress_ud = &flag};
    llfc_fm_stats st;
    llfc_net *z = llfc_feature_merge(m, 2, x, 30, &o, &st);
    CHECK(z && st.interrupted && st.nfit == 1 && st.total == 3 && llfc_interrupted(),
          "Ctrl-C after the first fit: the network with 1 of 3 fits, interrupted set, the flag left for the caller");
    llfc_interrupt_clear();
    if (z) {
        llfc_net *wa = llfc_net_lerp(a, b, 0.5);
        int same = 1;
        for (int p = 2; p < 6; p++)
            same &= !memcmp(llfc_tensor_data(z->param[p]), llfc_tensor_data(wa->param[p]),
                            (size_t)llfc_tensor_numel(z->param[p]) * sizeof(float));
        CHECK(same, "the layers not fitted are the weight average");
        llfc_net_free(wa);
    }
    llfc_fm_stats_free(&st);
    llfc_net_free(z);
    o.progress_ud = NULL;
    z = llfc_feature_merge(m, 2, x, 30, &o, NULL);
    CHECK(!z && !strcmp(llfc_errmsg(), "interrupted"), "a progress function asking to stop: 'interrupted' (%s)",
          llfc_errmsg());
    llfc_interrupt_flag = 1;
    o.progress = NULL;
    o.align = LLFC_FM_ALIGN_WEIGHT;
    z = llfc_feature_merge(m, 2, x, 30, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "interrupted"), "Ctrl-C while aligning fails (%s)", llfc_errmsg());
    llfc_interrupt_clear();
    llfc_net_free(a), llfc_net_free(b);
    free(x);
}

static void test_errors(void)
{
    int64_t w[] = {20, 8, 3}, w2[] = {20, 9, 3};
    llfc_net *a = llfc_mlp_new(3, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1), *b = llfc_mlp_new(3, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 2);
    llfc_net *c = llfc_mlp_new(3, w2, LLFC_ACT_RELU, LLFC_INIT_TORCH, 3);
    float *x = random_x(100, 20, 1);
    const llfc_net *m[3] = {a, b, c};
    llfc_fm_opts o = {.ridge = 0, .init = 1};
    llfc_net *z = llfc_feature_merge(m, 3, x, 100, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "network 3") && strstr(llfc_errmsg(), "layout"),
          "members of different layouts: %s", llfc_errmsg());
    z = llfc_feature_merge(m, 2, x, 0, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "no samples"), "no samples: %s", llfc_errmsg());
    z = llfc_feature_merge(m, 0, x, 10, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "no networks"), "no networks: %s", llfc_errmsg());
    z = llfc_feature_merge(m, 2, x, 15, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "h1") && strstr(llfc_errmsg(), "15 rows") && strstr(llfc_errmsg(), "ridge"),
          "n smaller than the fan-in without ridge: %s", llfc_errmsg());
    o.ridge = 1e-3;
    z = llfc_feature_merge(m, 2, x, 15, &o, NULL);
    CHECK(z != NULL, "the same with ridge > 0 fits (%s)", z ? "" : llfc_errmsg());
    llfc_net_free(z);
    double bad[2] = {0.7, 0.7}, neg[2] = {1.5, -0.5};
    o.weights = bad;
    z = llfc_feature_merge(m, 2, x, 100, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "sum"), "weights not summing to 1: %s", llfc_errmsg());
    o.weights = neg;
    z = llfc_feature_merge(m, 2, x, 100, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), ">= 0"), "a negative weight: %s", llfc_errmsg());
    o.weights = NULL;
    o.ridge = -1;
    z = llfc_feature_merge(m, 2, x, 100, &o, NULL);
    CHECK(!z && strstr(llfc_errmsg(), "ridge"), "a negative ridge: %s", llfc_errmsg());
    /* one member: a refit of itself */
    o.ridge = 0;
    z = llfc_feature_merge(m, 1, x, 100, &o, NULL);
    CHECK(z && logits_diff(z, a, x, 100) < 1e-4, "one network merges to itself");
    llfc_net_free(z);
    llfc_fm_cos out[3];
    CHECK(llfc_feature_llfc(c, m, 2, NULL, x, 100, 0, 0, out, NULL, NULL) < 0 && strstr(llfc_errmsg(), "layout"),
          "feature_llfc: a network of another layout: %s", llfc_errmsg());
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(c);
    free(x);
}

/* ---- the LLFC cosine against the members' average ------------------------------------------------ */

static void test_feature_llfc(void)
{
    int64_t w[] = {4, 7, 6, 3};
    const llfc_net *m[3];
    for (int j = 0; j < 3; j++) m[j] = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, (uint64_t)j + 1);
    llfc_net *net = llfc_mlp_new(4, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 9);
    int64_t n = 33;
    float *x = random_x(n, 4, 6);
    double wt[3] = {0.2, 0.3, 0.5};
    for (int pre = 0; pre < 2; pre++) {
        llfc_fm_cos out[3];
        int rc = llfc_feature_llfc(net, m, 3, wt, x, n, 5, pre, out, NULL, NULL);
        CHECK(rc == 0, "feature_llfc %s runs", pre ? "pre" : "post");
        double err = 0;
        for (int l = 0; l < 3 && rc == 0; l++) {
            int64_t d = w[l + 1];
            float *f[4];
            const llfc_net *nets[4] = {net, m[0], m[1], m[2]};
            for (int j = 0; j < 4; j++) {
                float *pr[3] = {0}, *po[3] = {0};
                f[j] = malloc((size_t)(n * d) * sizeof(float));
                (pre ? pr : po)[l] = f[j];
                llfc_net_forward_features(nets[j], x, n, pr, po);
            }
            double s = 0, c = 0;
            int64_t cnt = 0;
            for (int64_t i = 0; i < n; i++) {
                double tm = 0, tt = 0, mm = 0;
                for (int64_t e = 0; e < d; e++) {
                    double mix = wt[0] * f[1][i * d + e] + wt[1] * f[2][i * d + e] + wt[2] * f[3][i * d + e];
                    tm += f[0][i * d + e] * mix, tt += (double)f[0][i * d + e] * f[0][i * d + e], mm += mix * mix;
                }
                if (tt == 0 || mm == 0) continue;
                s += 1 - tm / sqrt(tt * mm), c += tm / tt, cnt++;
            }
            err = fmax(err, fabs(out[l].mean - s / cnt) + fabs(out[l].coef_mean - c / cnt));
            err = fmax(err, (double)llabs(out[l].count - cnt));
            for (int j = 0; j < 4; j++) free(f[j]);
        }
        CHECK(rc == 0 && err < 1e-9, "feature_llfc %s: mean 1 - cos and coefficient = direct loops here (%.2g)",
              pre ? "pre" : "post", err);
    }
    llfc_fm_cos out[3];
    const llfc_net *same[2] = {m[0], m[0]};
    int rc = llfc_feature_llfc(m[0], same, 2, NULL, x, n, 0, 0, out, NULL, NULL);
    CHECK(rc == 0 && fabs(out[1].mean) < 1e-7 && fabs(out[1].coef_mean - 1) < 1e-7,
          "a network against the average of two copies of itself: 1 - cos = 0, coefficient 1");
    free(x);
    llfc_net_free(net);
    for (int j = 0; j < 3; j++) llfc_net_free((llfc_net *)m[j]);
}

int main(void)
{
    /* tiny matrices: thread start-up would cost more than it saves */
    llfc_blas_set_threads(1);
    llfc_conv2d_set_threads(1);
    test_identical();
    test_linear();
    test_naive_mlp();
    test_naive_conv();
    test_reduces();
    test_plans();
    test_batches();
    test_align();
    test_interrupt();
    test_errors();
    test_feature_llfc();
    return check_summary();
}
