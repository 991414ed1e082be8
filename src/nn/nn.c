/* nn.c - networks: construction, copies, interpolation, forward passes. */
#include "nn/nn.h"
#include "nn/nn_cnn_exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *xstrdup(const char *s)
{
    char *d = llfc_malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static llfc_net *net_alloc(int nparams)
{
    llfc_net *net = llfc_calloc(1, sizeof *net);
    if (!net) return NULL;
    net->nparams = nparams;
    net->pname = llfc_calloc((size_t)nparams + 1, sizeof *net->pname);
    net->param = llfc_calloc((size_t)nparams + 1, sizeof *net->param);
    if (!net->pname || !net->param) { llfc_net_free(net); return NULL; }
    return net;
}

void llfc_net_free(llfc_net *net)
{
    if (!net) return;
    for (int p = 0; p < net->nparams; p++) {
        if (net->pname) free(net->pname[p]);
        if (net->param) llfc_tensor_free(net->param[p]);
    }
    free(net->pname);
    free(net->param);
    free(net->widths);
    if (net->cnn) free(net->cnn->ops);
    free(net->cnn);
    free(net->ptrain);
    llfc_permspec_free(net->spec);
    free(net);
}

/* The MLP's permutation spec: group P<l> permutes the outputs of layer l
 * (weight axis 0, bias axis 0) and the inputs of layer l+1 (weight axis 1). */
static llfc_permspec *mlp_spec(const llfc_net *net)
{
    int L = net->nlayers;
    llfc_permspec *s = llfc_permspec_new(L - 1, net->nparams);
    if (!s) return NULL;
    for (int g = 0; g < L - 1; g++) {
        char name[32];
        snprintf(name, sizeof name, "P%d", g + 1);
        if (!(s->gname[g] = xstrdup(name))) { llfc_permspec_free(s); return NULL; }
        s->gsize[g] = net->widths[g + 1];
        s->gfeat[g] = g;
        s->axis[2 * g][0] = g;       /* W_{g+1} rows */
        s->axis[2 * g + 1][0] = g;   /* b_{g+1} */
        s->axis[2 * (g + 1)][1] = g; /* W_{g+2} columns */
    }
    return s;
}

llfc_net *llfc_mlp_new(int nwidths, const int64_t *widths, int act, int init, uint64_t seed)
{
    if (nwidths < 2) { llfc_seterr("an MLP needs at least 2 widths (input and output), got %d", nwidths); return NULL; }
    for (int i = 0; i < nwidths; i++)
        if (widths[i] < 1 || widths[i] > (1 << 24)) {
            llfc_seterr("width %d must be between 1 and %d, got %lld", i + 1, 1 << 24, (long long)widths[i]);
            return NULL;
        }
    if (act != LLFC_ACT_RELU && act != LLFC_ACT_IDENTITY && act != LLFC_ACT_TANH) {
        llfc_seterr("unknown activation %d", act);
        return NULL;
    }
    int L = nwidths - 1;
    llfc_net *net = net_alloc(2 * L);
    if (!net) return NULL;
    net->arch = LLFC_ARCH_MLP;
    net->act = act;
    net->nlayers = L;
    net->widths = llfc_mallocarray((size_t)nwidths, sizeof *net->widths);
    if (!net->widths) goto fail;
    memcpy(net->widths, widths, (size_t)nwidths * sizeof *widths);
    llfc_rng rng;
    llfc_rng_seed(&rng, seed);
    for (int l = 0; l < L; l++) {
        char name[64];
        int64_t in = widths[l], out = widths[l + 1];
        snprintf(name, sizeof name, "%d.weight", 2 * l);
        if (!(net->pname[2 * l] = xstrdup(name))) goto fail;
        snprintf(name, sizeof name, "%d.bias", 2 * l);
        if (!(net->pname[2 * l + 1] = xstrdup(name))) goto fail;
        if (!(net->param[2 * l] = llfc_tensor_new2(out, in))) goto fail;
        if (!(net->param[2 * l + 1] = llfc_tensor_new1(out))) goto fail;
        float *W = llfc_tensor_data(net->param[2 * l]);
        float *b = llfc_tensor_data(net->param[2 * l + 1]);
        if (init == LLFC_INIT_KAIMING) {
            /* He normal: N(0, 2/fan_in), zero bias */
            double sd = sqrt(2.0 / (double)in);
            for (int64_t i = 0; i < out * in; i++) W[i] = (float)(sd * llfc_rng_normal(&rng));
        } else {
            /* PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both */
            double bound = 1.0 / sqrt((double)in);
            for (int64_t i = 0; i < out * in; i++) W[i] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
            for (int64_t i = 0; i < out; i++) b[i] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
        }
    }
    if (!(net->spec = mlp_spec(net))) goto fail;
    return net;
fail:
    llfc_net_free(net);
    return NULL;
}

llfc_net *llfc_net_clone(const llfc_net *src)
{
    llfc_net *net = net_alloc(src->nparams);
    if (!net) return NULL;
    net->arch = src->arch;
    net->act = src->act;
    net->nlayers = src->nlayers;
    if (src->widths) {
        net->widths = llfc_mallocarray((size_t)src->nlayers + 1, sizeof *net->widths);
        if (!net->widths) goto fail;
        memcpy(net->widths, src->widths, ((size_t)src->nlayers + 1) * sizeof *net->widths);
    }
    for (int p = 0; p < src->nparams; p++) {
        if (!(net->pname[p] = xstrdup(src->pname[p]))) goto fail;
        if (!(net->param[p] = llfc_tensor_clone(src->param[p]))) goto fail;
    }
    if (src->spec && !(net->spec = llfc_permspec_clone(src->spec))) goto fail;
    if (src->cnn) {
        if (!(net->cnn = llfc_malloc(sizeof *net->cnn))) goto fail;
        *net->cnn = *src->cnn;
        net->cnn->ops = NULL;
        if (!(net->cnn->ops = llfc_mallocarray((size_t)src->cnn->nops + 1, sizeof *net->cnn->ops))) goto fail;
        memcpy(net->cnn->ops, src->cnn->ops, (size_t)src->cnn->nops * sizeof *net->cnn->ops);
    }
    if (src->ptrain) {
        if (!(net->ptrain = llfc_malloc((size_t)src->nparams + 1))) goto fail;
        memcpy(net->ptrain, src->ptrain, (size_t)src->nparams);
    }
    return net;
fail:
    llfc_net_free(net);
    return NULL;
}

int64_t llfc_net_nparams_total(const llfc_net *net)
{
    int64_t n = 0;
    for (int p = 0; p < net->nparams; p++) n += llfc_tensor_numel(net->param[p]);
    return n;
}

int64_t llfc_net_input_dim(const llfc_net *net) { return net->widths[0]; }
int64_t llfc_net_num_classes(const llfc_net *net) { return net->widths[net->nlayers]; }

/* Same op lists (names aside) and configuration? */
static int cnn_same(const llfc_cnn *a, const llfc_cnn *b)
{
    if (strcmp(a->config, b->config))
        return llfc_seterr("the networks have different layouts (%s; %s)", a->config, b->config);
    if (a->nops != b->nops) return llfc_seterr("the networks have %d and %d ops", a->nops, b->nops);
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return llfc_seterr("the networks take %dx%dx%d and %dx%dx%d inputs", a->c, a->h, a->w, b->c, b->h, b->w);
    for (int i = 0; i < a->nops; i++) {
        llfc_op x = a->ops[i], y = b->ops[i];
        memset(x.name, 0, sizeof x.name);
        memset(y.name, 0, sizeof y.name);
        if (memcmp(&x, &y, sizeof x))
            return llfc_seterr("op %d differs between the networks ('%s' and '%s')", i + 1, a->ops[i].name,
                               b->ops[i].name);
    }
    return 0;
}

/* Is parameter p a BatchNorm's num_batches_tracked (a count, not interpolated)? */
static int is_count(const llfc_net *net, int p)
{
    if (!net->cnn) return 0;
    for (int i = 0; i < net->cnn->nops; i++)
        if (net->cnn->ops[i].kind == LLFC_OP_BN && net->cnn->ops[i].pnbt == p) return 1;
    return 0;
}

int llfc_net_same_arch(const llfc_net *a, const llfc_net *b)
{
    if (a->arch != b->arch) return llfc_seterr("the networks have different architectures");
    if (a->act != b->act) return llfc_seterr("the networks have different activations");
    if (a->cnn && b->cnn && cnn_same(a->cnn, b->cnn)) return -1;
    if (a->nparams != b->nparams)
        return llfc_seterr("the networks have %d and %d parameter tensors", a->nparams, b->nparams);
    for (int p = 0; p < a->nparams; p++) {
        if (!llfc_tensor_same_shape(a->param[p], b->param[p])) {
            char sa[64], sb[64];
            return llfc_seterr("parameter '%s' is %s in the first network and %s in the second", a->pname[p],
                               llfc_tensor_shape_str(a->param[p], sa, sizeof sa),
                               llfc_tensor_shape_str(b->param[p], sb, sizeof sb));
        }
    }
    return 0;
}

int llfc_net_lerp_into(llfc_net *out, const llfc_net *a, const llfc_net *b, double alpha)
{
    if (llfc_net_same_arch(a, b) || llfc_net_same_arch(out, a)) return -1;
    float fa = (float)alpha, fb = (float)(1.0 - alpha);
    for (int p = 0; p < a->nparams; p++) {
        const float *pa = llfc_tensor_data(a->param[p]), *pb = llfc_tensor_data(b->param[p]);
        float *po = llfc_tensor_data(out->param[p]);
        int64_t n = llfc_tensor_numel(a->param[p]);
        if (is_count(a, p)) { /* num_batches_tracked: a's */
            if (po != pa) memcpy(po, pa, (size_t)n * sizeof *po);
            continue;
        }
        for (int64_t i = 0; i < n; i++) po[i] = fa * pa[i] + fb * pb[i];
    }
    return 0;
}

llfc_net *llfc_net_lerp(const llfc_net *a, const llfc_net *b, double alpha)
{
    if (llfc_net_same_arch(a, b)) return NULL;
    llfc_net *out = llfc_net_clone(a);
    if (!out) return NULL;
    if (llfc_net_lerp_into(out, a, b, alpha)) { llfc_net_free(out); return NULL; }
    return out;
}

int llfc_net_nfeat(const llfc_net *net) { return net->nlayers; }

int64_t llfc_net_featdim(const llfc_net *net, int l) { return net->widths[l + 1]; }

const char *llfc_net_featname(const llfc_net *net, int l, char *buf, size_t n)
{
    if (net->cnn && l < net->nlayers - 1) {
        /* the builders name each feature's ReLU op after the feature */
        int i = llfc_cnn_feat_op(net, l);
        if (i >= 0) snprintf(buf, n, "%s", net->cnn->ops[i].name);
        else snprintf(buf, n, "h%d", l + 1);
    } else if (l == net->nlayers - 1) snprintf(buf, n, "logits");
    else snprintf(buf, n, "h%d", l + 1);
    return buf;
}

int llfc_net_feat_has_act(const llfc_net *net, int l)
{
    return l < net->nlayers - 1 && (net->cnn || net->act != LLFC_ACT_IDENTITY);
}

/* Elementwise loops are written as fixed-size blocks of VB so that -O2
 * vectorizes them (the tails run scalar). */
#define VB 16

/* out = relu(in); NaN stays NaN (as in torch), so a broken network shows as NaN, not as plausible numbers */
static void relu_into(const float *in, float *out, int64_t n)
{
    int64_t i = 0;
    if (in == out) {
        float *restrict x = out;
        for (; i + VB <= n; i += VB)
            for (int j = 0; j < VB; j++) x[i + j] = x[i + j] < 0.0f ? 0.0f : x[i + j];
    }
    for (; i < n; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

/* d[k] = h[k] > 0 ? d[k] : 0 (the ReLU's derivative, h its output) */
static void relu_mask(float *restrict d, const float *restrict h, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) d[k + j] = h[k + j] > 0.0f ? d[k + j] : 0.0f;
    for (; k < m; k++) d[k] = h[k] > 0.0f ? d[k] : 0.0f;
}

/* d[j] += g[j] */
static void add_into(float *restrict d, const float *restrict g, int64_t o)
{
    int64_t j = 0;
    for (; j + VB <= o; j += VB)
        for (int k = 0; k < VB; k++) d[j + k] += g[j + k];
    for (; j < o; j++) d[j] += g[j];
}

static void activate(int act, const float *in, float *out, int64_t n)
{
    switch (act) {
    case LLFC_ACT_RELU:
        relu_into(in, out, n);
        break;
    case LLFC_ACT_TANH:
        for (int64_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
        break;
    default:
        if (out != in) memcpy(out, in, (size_t)n * sizeof *out);
    }
}

/* One linear layer: out[n, o] = in[n, i] @ W^T + b. */
static void linear(const float *in, int64_t n, const llfc_tensor *W, const llfc_tensor *bias, float *out)
{
    int64_t o = W->size[0], i = W->size[1];
    const float *b = llfc_tensor_data(bias);
    for (int64_t r = 0; r < n; r++) memcpy(out + r * o, b, (size_t)o * sizeof *out);
    llfc_gemm(0, 1, (int)n, (int)o, (int)i, 1.0f, in, (int)i, llfc_tensor_data(W), (int)i, 1.0f, out, (int)o);
}

int llfc_net_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post)
{
    if (net->arch == LLFC_ARCH_CNN) return llfc_cnn_forward_features(net, x, n, pre, post);
    if (net->arch != LLFC_ARCH_MLP) return llfc_seterr("forward: unsupported architecture");
    int L = net->nlayers;
    int64_t maxw = 0;
    for (int l = 1; l <= L; l++) if (net->widths[l] > maxw) maxw = net->widths[l];
    float *buf = llfc_mallocarray((size_t)(2 * n * maxw + 1), sizeof(float));
    if (!buf) return -1;
    /* two buffers alternate: layer l reads `in` and writes the other one */
    const float *in = x;
    for (int l = 0; l < L; l++) {
        int64_t o = net->widths[l + 1];
        float *z = (in == buf) ? buf + n * maxw : buf;
        linear(in, n, net->param[2 * l], net->param[2 * l + 1], z);
        if (pre && pre[l]) memcpy(pre[l], z, (size_t)(n * o) * sizeof *z);
        if (l < L - 1) activate(net->act, z, z, n * o);
        if (post && post[l]) memcpy(post[l], z, (size_t)(n * o) * sizeof *z);
        in = z;
    }
    free(buf);
    return 0;
}

int llfc_net_forward(const llfc_net *net, const float *x, int64_t n, float *logits)
{
    float **post = llfc_calloc((size_t)net->nlayers, sizeof *post);
    if (!post) return -1;
    post[net->nlayers - 1] = logits;
    int rc = llfc_net_forward_features(net, x, n, NULL, post);
    free(post);
    return rc;
}

/* ---- names ---------------------------------------------------------------- */
int llfc_act_from_name(const char *name)
{
    if (!strcmp(name, "relu")) return LLFC_ACT_RELU;
    if (!strcmp(name, "tanh")) return LLFC_ACT_TANH;
    if (!strcmp(name, "identity") || !strcmp(name, "linear")) return LLFC_ACT_IDENTITY;
    return -1;
}

const char *llfc_act_name(int act)
{
    switch (act) {
    case LLFC_ACT_RELU: return "relu";
    case LLFC_ACT_TANH: return "tanh";
    case LLFC_ACT_IDENTITY: return "identity";
    default: return "?";
    }
}

/* ---- softmax cross-entropy ------------------------------------------------- */
int llfc_xent(const float *logits, const int32_t *y, int64_t n, int64_t k, float scale,
              double *loss_sum, int64_t *nerr, float *dlogits)
{
    double loss = 0.0;
    int64_t errs = 0;
    for (int64_t r = 0; r < n; r++) {
        const float *z = logits + r * k;
        int32_t t = y[r];
        if (t < 0 || t >= k)
            return llfc_seterr("label %d of row %lld is outside [0, %lld)", (int)t, (long long)r + 1, (long long)k);
        int64_t am = 0;
        float m = z[0];
        for (int64_t j = 1; j < k; j++) if (z[j] > m) { m = z[j]; am = j; }
        if (am != t || z[t] != z[t]) errs++;
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) s += exp((double)(z[j] - m));
        double lse = (double)m + log(s);
        loss += lse - (double)z[t];
        if (dlogits) {
            float *d = dlogits + r * k;
            float inv = (float)(1.0 / s);
            for (int64_t j = 0; j < k; j++) d[j] = scale * (expf(z[j] - m) * inv);
            d[t] -= scale;
        }
    }
    if (loss_sum) *loss_sum += loss;
    if (nerr) *nerr += errs;
    return 0;
}

/* ---- training passes ------------------------------------------------------- */
struct llfc_nn_work {
    int L;
    int64_t maxbatch, maxw;
    float **h;      /* h[l]: layer l's output [maxbatch, widths[l+1]] (post-activation; logits last) */
    float *g, *g2;  /* gradient w.r.t. the current layer's pre-activation, and scratch [maxbatch, maxw] */
    llfc_cnn_work *cw; /* LLFC_ARCH_CNN: everything lives here */
};

void llfc_nn_work_free(llfc_nn_work *w)
{
    if (!w) return;
    if (w->h) for (int l = 0; l < w->L; l++) free(w->h[l]);
    free(w->h);
    free(w->g);
    free(w->g2);
    llfc_cnn_work_free(w->cw);
    free(w);
}

llfc_nn_work *llfc_nn_work_new(const llfc_net *net, int64_t maxbatch)
{
    if (net->arch != LLFC_ARCH_MLP && net->arch != LLFC_ARCH_CNN) {
        llfc_seterr("unsupported architecture");
        return NULL;
    }
    if (maxbatch < 1) { llfc_seterr("batch size must be positive, got %lld", (long long)maxbatch); return NULL; }
    llfc_nn_work *w = llfc_calloc(1, sizeof *w);
    if (!w) return NULL;
    if (net->arch == LLFC_ARCH_CNN) {
        w->L = net->nlayers;
        w->maxbatch = maxbatch;
        if (!(w->cw = llfc_cnn_work_new(net, maxbatch))) goto fail;
        return w;
    }
    w->L = net->nlayers;
    w->maxbatch = maxbatch;
    for (int l = 0; l <= net->nlayers; l++) if (net->widths[l] > w->maxw) w->maxw = net->widths[l];
    if (!(w->h = llfc_calloc((size_t)w->L, sizeof *w->h))) goto fail;
    for (int l = 0; l < w->L; l++)
        if (!(w->h[l] = llfc_mallocarray((size_t)(maxbatch * net->widths[l + 1]), sizeof(float)))) goto fail;
    if (!(w->g = llfc_mallocarray((size_t)(maxbatch * w->maxw), sizeof(float)))) goto fail;
    if (!(w->g2 = llfc_mallocarray((size_t)(maxbatch * w->maxw), sizeof(float)))) goto fail;
    return w;
fail:
    llfc_nn_work_free(w);
    return NULL;
}

static int work_check(const llfc_net *net, const llfc_nn_work *w, int64_t n)
{
    if (w->L != net->nlayers) return llfc_seterr("workspace made for another network");
    if (n < 1 || n > w->maxbatch)
        return llfc_seterr("batch of %lld rows, workspace holds 1 to %lld", (long long)n, (long long)w->maxbatch);
    return 0;
}

int llfc_net_forward_train(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n)
{
    if (work_check(net, w, n)) return -1;
    if (w->cw) return llfc_cnn_forward_train(net, w->cw, x, n);
    const float *in = x;
    for (int l = 0; l < net->nlayers; l++) {
        int64_t o = net->widths[l + 1];
        linear(in, n, net->param[2 * l], net->param[2 * l + 1], w->h[l]);
        if (l < net->nlayers - 1) activate(net->act, w->h[l], w->h[l], n * o);
        in = w->h[l];
    }
    return 0;
}

int llfc_net_loss_start(const llfc_net *net, llfc_nn_work *w, const int32_t *y, int64_t n,
                        double *loss_sum, int64_t *nerr)
{
    if (work_check(net, w, n)) return -1;
    int L = net->nlayers;
    if (w->cw) {
        float *d = llfc_cnn_work_dlogits(w->cw);
        if (!d) return -1;
        return llfc_xent(llfc_cnn_work_logits(w->cw), y, n, net->widths[L], 1.0f / (float)n, loss_sum, nerr, d);
    }
    return llfc_xent(w->h[L - 1], y, n, net->widths[L], 1.0f / (float)n, loss_sum, nerr, w->g);
}

int llfc_net_backward_layer(const llfc_net *net, llfc_nn_work *w, const float *x, int l, int64_t n,
                            float *dW, float *db)
{
    if (work_check(net, w, n)) return -1;
    if (l < 0 || l >= net->nlayers) return llfc_seterr("no weight layer %d", l + 1);
    if (w->cw) return llfc_seterr("backward_layer: a conv net's backward pass is llfc_net_backward_all");
    int64_t o = net->widths[l + 1], i = net->widths[l];
    const float *in = l ? w->h[l - 1] : x;
    const float *G = w->g; /* [n, o] */
    /* dW [o, i] = G^T [o, n] @ in [n, i] */
    if (dW) llfc_gemm(1, 0, (int)o, (int)i, (int)n, 1.0f, G, (int)o, in, (int)i, 0.0f, dW, (int)i);
    if (db) {
        memset(db, 0, (size_t)o * sizeof *db);
        for (int64_t r = 0; r < n; r++) add_into(db, G + r * o, o);
    }
    if (l == 0) return 0;
    /* dH [n, i] = G [n, o] @ W [o, i]; then through the activation of layer l-1 */
    float *dH = w->g2;
    llfc_gemm(0, 0, (int)n, (int)i, (int)o, 1.0f, G, (int)o, llfc_tensor_data(net->param[2 * l]), (int)i,
              0.0f, dH, (int)i);
    const float *h = w->h[l - 1];
    int64_t m = n * i;
    switch (net->act) {
    case LLFC_ACT_RELU:
        relu_mask(dH, h, m);
        break;
    case LLFC_ACT_TANH:
        for (int64_t k = 0; k < m; k++) dH[k] *= 1.0f - h[k] * h[k];
        break;
    default:
        break;
    }
    w->g2 = w->g;
    w->g = dH;
    return 0;
}

int llfc_net_backward_all(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n, float **grad)
{
    if (work_check(net, w, n)) return -1;
    if (w->cw) return llfc_cnn_backward(net, w->cw, x, n, grad);
    for (int l = net->nlayers - 1; l >= 0; l--)
        if (llfc_net_backward_layer(net, w, x, l, n, grad ? grad[2 * l] : NULL, grad ? grad[2 * l + 1] : NULL)) return -1;
    return 0;
}

int llfc_net_loss_grad(const llfc_net *net, const float *x, const int32_t *y, int64_t n,
                       float **grad, double *loss, int64_t *nerr)
{
    llfc_nn_work *w = llfc_nn_work_new(net, n);
    if (!w) return -1;
    double ls = 0.0;
    int rc = -1;
    if (llfc_net_forward_train(net, w, x, n)) goto done;
    if (llfc_net_loss_start(net, w, y, n, &ls, nerr)) goto done;
    if (llfc_net_backward_all(net, w, x, n, grad)) goto done;
    if (loss) *loss = ls / (double)n;
    rc = 0;
done:
    llfc_nn_work_free(w);
    return rc;
}

/* ---- evaluation -------------------------------------------------------------- */
int llfc_net_eval(const llfc_net *net, const float *x, const int32_t *y, int64_t n, int64_t batch,
                  llfc_eval_result *res, llfc_progress_fn progress, void *ud)
{
    if (batch < 1) return llfc_seterr("batch size must be positive, got %lld", (long long)batch);
    if (n < 1) return llfc_seterr("no samples to evaluate");
    if (batch > n) batch = n;
    int64_t in = net->widths[0], k = net->widths[net->nlayers];
    float *logits = llfc_mallocarray((size_t)(batch * k), sizeof(float));
    if (!logits) return -1;
    double loss = 0.0;
    int64_t errs = 0;
    for (int64_t s = 0; s < n; s += batch) {
        int64_t m = n - s < batch ? n - s : batch;
        if (llfc_net_forward(net, x + s * in, m, logits) ||
            llfc_xent(logits, y + s, m, k, 1.0f, &loss, &errs, NULL)) {
            free(logits);
            return -1;
        }
        if (llfc_progress_stop(progress, ud, (double)(s + m), (double)n, "eval")) {
            free(logits);
            return -1;
        }
    }
    free(logits);
    res->n = n;
    res->err = (double)errs / (double)n;
    res->loss = loss / (double)n;
    return 0;
}
