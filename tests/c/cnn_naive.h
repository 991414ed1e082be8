/* cnn_naive.h - networks built op by op for the tests, and a naive
 * double-precision executor of them (plain loops, no kernels, no BLAS) as the
 * independent reference of the executor (src/nn/exec.c). */
#ifndef LLFC_CNN_NAIVE_H
#define LLFC_CNN_NAIVE_H

#include "nn/build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ------------------------------------------------------------- */

#define TN_MAXOPS 64
#define TN_MAXPARAMS 128

static llfc_rng tn_rng;

static inline llfc_net *tn_new(int c, int h, int w, uint64_t seed)
{
    llfc_net *net = llfc_calloc(1, sizeof *net);
    net->pname = llfc_calloc(TN_MAXPARAMS, sizeof *net->pname);
    net->param = llfc_calloc(TN_MAXPARAMS, sizeof *net->param);
    net->ptrain = llfc_calloc(TN_MAXPARAMS, 1);
    net->ops = llfc_calloc(TN_MAXOPS, sizeof(llfc_op));
    net->featop = llfc_calloc(TN_MAXOPS, sizeof *net->featop);
    net->c = c, net->h = h, net->w = w;
    net->bn_eps = 1e-5f, net->bn_momentum = 0.1f, net->ln_eps = 1e-5f;
    snprintf(net->config, sizeof net->config, "test");
    llfc_rng_seed(&tn_rng, seed);
    return net;
}

/* kinds of initial values */
enum { TN_NORMAL, TN_ONEISH, TN_SMALL, TN_POS, TN_ZERO };

static inline int tn_param(llfc_net *net, const char *op, const char *what, int ndim, const int64_t *size, int train,
                    int init, double sd)
{
    int p = net->nparams++;
    char nm[96];
    snprintf(nm, sizeof nm, "%s.%s", op, what);
    net->pname[p] = malloc(strlen(nm) + 1);
    strcpy(net->pname[p], nm);
    net->param[p] = llfc_tensor_new(ndim, size);
    net->ptrain[p] = (unsigned char)train;
    float *d = llfc_tensor_data(net->param[p]);
    for (int64_t i = 0; i < llfc_tensor_numel(net->param[p]); i++) {
        double u = llfc_rng_normal(&tn_rng);
        switch (init) {
        case TN_NORMAL: d[i] = (float)(sd * u); break;
        case TN_ONEISH: d[i] = (float)(1.0 + 0.3 * u); break;
        case TN_SMALL: d[i] = (float)(0.2 * u); break;
        case TN_POS: d[i] = (float)(0.5 + llfc_rng_double(&tn_rng)); break;
        default: d[i] = 0.0f;
        }
    }
    return p;
}

static inline llfc_op *tn_op(llfc_net *net, int kind, int in, const char *name)
{
    llfc_net *c = net;
    llfc_op *o = &c->ops[c->nops];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->in = in, o->in2 = -1, o->out = ++c->nops;
    o->pw = o->pb = o->prm = o->prv = o->pnbt = -1;
    o->feat = -1;
    if (in == 0) o->C = c->c, o->H = c->h, o->W = c->w;
    else o->C = c->ops[in - 1].K, o->H = c->ops[in - 1].P, o->W = c->ops[in - 1].Q;
    o->K = o->C, o->P = o->H, o->Q = o->W;
    snprintf(o->name, sizeof o->name, "%s", name);
    return o;
}

static inline int tn_conv(llfc_net *net, int in, const char *name, int K, int R, int stride, int pad, int bias)
{
    llfc_op *o = tn_op(net, LLFC_OP_CONV, in, name);
    o->K = K, o->R = R, o->stride = stride, o->pad = pad;
    o->P = (o->H + 2 * pad - R) / stride + 1, o->Q = (o->W + 2 * pad - R) / stride + 1;
    int64_t ws[4] = {K, o->C, R, R}, bs[1] = {K};
    o->pw = tn_param(net, name, "weight", 4, ws, 1, TN_NORMAL, sqrt(2.0 / (o->C * R * R)));
    if (bias) o->pb = tn_param(net, name, "bias", 1, bs, 1, TN_SMALL, 0);
    return o->out;
}

static inline int tn_bn(llfc_net *net, int in, const char *name)
{
    llfc_op *o = tn_op(net, LLFC_OP_BN, in, name);
    int64_t cs[1] = {o->C}, one[1] = {1};
    o->pw = tn_param(net, name, "weight", 1, cs, 1, TN_ONEISH, 0);
    o->pb = tn_param(net, name, "bias", 1, cs, 1, TN_SMALL, 0);
    o->prm = tn_param(net, name, "running_mean", 1, cs, 0, TN_SMALL, 0);
    o->prv = tn_param(net, name, "running_var", 1, cs, 0, TN_POS, 0);
    o->pnbt = tn_param(net, name, "num_batches_tracked", 1, one, 0, TN_ZERO, 0);
    return o->out;
}

static inline int tn_ln(llfc_net *net, int in, const char *name)
{
    llfc_op *o = tn_op(net, LLFC_OP_LN, in, name);
    int64_t cs[1] = {o->C};
    o->pw = tn_param(net, name, "weight", 1, cs, 1, TN_ONEISH, 0);
    o->pb = tn_param(net, name, "bias", 1, cs, 1, TN_SMALL, 0);
    return o->out;
}

static inline int tn_relu(llfc_net *net, int in, const char *feat)
{
    llfc_op *o = tn_op(net, LLFC_OP_RELU, in, feat);
    snprintf(o->fname, sizeof o->fname, "%s", feat);
    net->featop[net->nfeat] = o->out - 1;
    o->feat = net->nfeat++;
    return o->out;
}

static inline int tn_maxpool(llfc_net *net, int in, int R, int stride)
{
    llfc_op *o = tn_op(net, LLFC_OP_MAXPOOL, in, "pool");
    o->R = R, o->stride = stride;
    o->P = (o->H - R) / stride + 1, o->Q = (o->W - R) / stride + 1;
    return o->out;
}

static inline int tn_gap(llfc_net *net, int in)
{
    llfc_op *o = tn_op(net, LLFC_OP_GAP, in, "gap");
    o->P = o->Q = 1;
    return o->out;
}

static inline int tn_add(llfc_net *net, int a, int b)
{
    llfc_op *o = tn_op(net, LLFC_OP_ADD, a, "add");
    o->in2 = b;
    return o->out;
}

/* the classifier; finishes the net (feature layers, widths) */
static inline int tn_linear(llfc_net *net, int in, const char *name, int K)
{
    llfc_op *o = tn_op(net, LLFC_OP_LINEAR, in, name);
    int64_t F = (int64_t)o->C * o->H * o->W;
    o->K = K, o->P = o->Q = 1;
    int64_t ws[2] = {K, F}, bs[1] = {K};
    o->pw = tn_param(net, name, "weight", 2, ws, 1, TN_NORMAL, 1.0 / sqrt((double)F));
    o->pb = tn_param(net, name, "bias", 1, bs, 1, TN_SMALL, 0);
    snprintf(o->fname, sizeof o->fname, "logits");
    net->featop[net->nfeat] = o->out - 1;
    o->feat = net->nfeat++;
    llfc_net *c = net;
    c->nslots = c->nops + 1;
    net->widths = llfc_calloc((size_t)net->nfeat + 1, sizeof *net->widths);
    net->widths[0] = (int64_t)c->c * c->h * c->w;
    for (int i = 0; i < c->nops; i++)
        if (c->ops[i].feat >= 0) net->widths[c->ops[i].feat + 1] = (int64_t)c->ops[i].K * c->ops[i].P * c->ops[i].Q;
    return o->out;
}

/* ---- the naive executor ----------------------------------------------------- */

typedef struct {
    int ns;
    double **v;          /* slot values (v[0] the input) */
    double **bmean, **bvar; /* per op: a BN's batch mean and biased variance (train) */
} tn_run;

static inline double **tn_params(const llfc_net *net)
{
    double **par = calloc((size_t)net->nparams, sizeof *par);
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        par[p] = malloc((size_t)m * sizeof(double));
        for (int64_t i = 0; i < m; i++) par[p][i] = llfc_tensor_data(net->param[p])[i];
    }
    return par;
}

static inline void tn_params_free(const llfc_net *net, double **par)
{
    for (int p = 0; p < net->nparams; p++) free(par[p]);
    free(par);
}

static inline void tn_run_free(tn_run *r)
{
    for (int s = 0; s < r->ns; s++) free(r->v[s]);
    for (int s = 0; s < r->ns - 1; s++) free(r->bmean[s]), free(r->bvar[s]);
    free(r->v), free(r->bmean), free(r->bvar);
}

static inline int64_t tn_dim(const llfc_net *net, int s)
{
    const llfc_net *c = net;
    if (s == 0) return (int64_t)c->c * c->h * c->w;
    return (int64_t)c->ops[s - 1].K * c->ops[s - 1].P * c->ops[s - 1].Q;
}

/* Runs the net on x [n, in]; train: BN with batch statistics (no running update). */
static inline void tn_forward(const llfc_net *net, double **par, const float *x, int n, int train, tn_run *r)
{
    const llfc_net *c = net;
    r->ns = c->nops + 1;
    r->v = calloc((size_t)r->ns, sizeof *r->v);
    r->bmean = calloc((size_t)c->nops, sizeof *r->bmean);
    r->bvar = calloc((size_t)c->nops, sizeof *r->bvar);
    int64_t d0 = tn_dim(net, 0);
    r->v[0] = malloc((size_t)(n * d0) * sizeof(double));
    for (int64_t i = 0; i < n * d0; i++) r->v[0][i] = x[i];
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        int C = o->C, H = o->H, W = o->W, K = o->K, P = o->P, Q = o->Q;
        const double *in = r->v[o->in];
        double *out = r->v[o->out] = calloc((size_t)(n * tn_dim(net, o->out)), sizeof(double));
        double eps = o->kind == LLFC_OP_BN ? c->bn_eps : c->ln_eps;
        switch (o->kind) {
        case LLFC_OP_CONV:
            for (int b = 0; b < n; b++)
                for (int k = 0; k < K; k++)
                    for (int p = 0; p < P; p++)
                        for (int q = 0; q < Q; q++) {
                            double s = o->pb >= 0 ? par[o->pb][k] : 0.0;
                            for (int ch = 0; ch < C; ch++)
                                for (int u = 0; u < o->R; u++)
                                    for (int t = 0; t < o->R; t++) {
                                        int hh = p * o->stride - o->pad + u, ww = q * o->stride - o->pad + t;
                                        if (hh < 0 || hh >= H || ww < 0 || ww >= W) continue;
                                        s += par[o->pw][((k * C + ch) * o->R + u) * o->R + t] *
                                             in[((b * C + ch) * H + hh) * W + ww];
                                    }
                            out[((b * K + k) * P + p) * Q + q] = s;
                        }
            break;
        case LLFC_OP_BN:
            r->bmean[i] = calloc((size_t)C, sizeof(double));
            r->bvar[i] = calloc((size_t)C, sizeof(double));
            for (int ch = 0; ch < C; ch++) {
                double m = 0, v = 0, M = (double)n * H * W;
                for (int b = 0; b < n; b++)
                    for (int j = 0; j < H * W; j++) m += in[(b * C + ch) * H * W + j];
                m /= M;
                for (int b = 0; b < n; b++)
                    for (int j = 0; j < H * W; j++) v += pow(in[(b * C + ch) * H * W + j] - m, 2);
                v /= M;
                r->bmean[i][ch] = m, r->bvar[i][ch] = v;
                double mu = train ? m : par[o->prm][ch], var = train ? v : par[o->prv][ch];
                for (int b = 0; b < n; b++)
                    for (int j = 0; j < H * W; j++) {
                        int64_t at = (b * C + ch) * H * W + j;
                        out[at] = (in[at] - mu) / sqrt(var + eps) * par[o->pw][ch] + par[o->pb][ch];
                    }
            }
            break;
        case LLFC_OP_LN:
            for (int b = 0; b < n; b++)
                for (int j = 0; j < H * W; j++) {
                    double m = 0, v = 0;
                    for (int ch = 0; ch < C; ch++) m += in[(b * C + ch) * H * W + j];
                    m /= C;
                    for (int ch = 0; ch < C; ch++) v += pow(in[(b * C + ch) * H * W + j] - m, 2);
                    v /= C;
                    for (int ch = 0; ch < C; ch++) {
                        int64_t at = (b * C + ch) * H * W + j;
                        out[at] = (in[at] - m) / sqrt(v + eps) * par[o->pw][ch] + par[o->pb][ch];
                    }
                }
            break;
        case LLFC_OP_RELU:
            for (int64_t j = 0; j < n * tn_dim(net, o->out); j++) out[j] = in[j] > 0 ? in[j] : 0;
            break;
        case LLFC_OP_TANH:
            for (int64_t j = 0; j < n * tn_dim(net, o->out); j++) out[j] = tanh(in[j]);
            break;
        case LLFC_OP_IDENTITY:
            for (int64_t j = 0; j < n * tn_dim(net, o->out); j++) out[j] = in[j];
            break;
        case LLFC_OP_MAXPOOL:
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < C; ch++)
                    for (int p = 0; p < P; p++)
                        for (int q = 0; q < Q; q++) {
                            double m = -INFINITY;
                            for (int u = 0; u < o->R; u++)
                                for (int t = 0; t < o->R; t++) {
                                    double val = in[((b * C + ch) * H + p * o->stride + u) * W + q * o->stride + t];
                                    if (val > m) m = val;
                                }
                            out[((b * C + ch) * P + p) * Q + q] = m;
                        }
            break;
        case LLFC_OP_GAP:
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < C; ch++) {
                    double s = 0;
                    for (int j = 0; j < H * W; j++) s += in[(b * C + ch) * H * W + j];
                    out[b * C + ch] = s / (H * W);
                }
            break;
        case LLFC_OP_ADD:
            for (int64_t j = 0; j < n * tn_dim(net, o->out); j++) out[j] = in[j] + r->v[o->in2][j];
            break;
        case LLFC_OP_LINEAR: {
            int F = C * H * W;
            for (int b = 0; b < n; b++)
                for (int k = 0; k < K; k++) {
                    double s = par[o->pb][k];
                    for (int f = 0; f < F; f++) s += par[o->pw][k * F + f] * in[b * F + f];
                    out[b * K + k] = s;
                }
            break;
        }
        }
    }
}

/* mean cross-entropy of the last slot's logits */
static inline double tn_loss(const llfc_net *net, const tn_run *r, const int32_t *y, int n)
{
    int k = (int)tn_dim(net, r->ns - 1);
    const double *z = r->v[r->ns - 1];
    double L = 0;
    for (int b = 0; b < n; b++) {
        double m = z[b * k];
        for (int j = 1; j < k; j++) if (z[b * k + j] > m) m = z[b * k + j];
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(z[b * k + j] - m);
        L += m + log(s) - z[b * k + y[b]];
    }
    return L / n;
}

#endif
