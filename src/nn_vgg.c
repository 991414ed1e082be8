/* nn_vgg.c - plain convolutional networks (VGG-style): construction, forward
 * with features, training passes.  Kernels from layers.h; see nn_vgg.h. */
#include "nn_vgg.h"
#include "layers.h"

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

/* Groups: one per conv layer whose output feeds a conv or, through global
 * average pooling (or a flatten of a 1x1 map), the classifier.  With a
 * flatten of a larger map the classifier's input axis mixes channels and
 * positions, so the last conv layer gets no group. */
static llfc_permspec *vgg_spec(const llfc_net *net)
{
    const llfc_vgg *v = net->vgg;
    int nc = v->nconv;
    int last = v->head == LLFC_VGG_GAP || v->headdim == v->conv[nc - 1].K;
    int ng = last ? nc : nc - 1;
    llfc_permspec *s = llfc_permspec_new(ng, net->nparams);
    if (!s) return NULL;
    for (int g = 0; g < ng; g++) {
        char name[32];
        snprintf(name, sizeof name, "P%d", g + 1);
        if (!(s->gname[g] = xstrdup(name))) { llfc_permspec_free(s); return NULL; }
        s->gsize[g] = v->conv[g].K;
        s->gfeat[g] = g;
        s->axis[2 * g][0] = g;
        s->axis[2 * g + 1][0] = g;
        s->axis[2 * (g + 1)][1] = g;
    }
    return s;
}

llfc_net *llfc_vgg_new(int c, int h, int w, int nconv, const int *chan, const int *pool, int head,
                       int64_t classes, uint64_t seed)
{
    if (c < 1 || h < 1 || w < 1)
        return llfc_seterr("vgg: input must be positive, got %dx%dx%d", c, h, w), NULL;
    if (nconv < 1 || nconv > LLFC_VGG_MAXCONV)
        return llfc_seterr("vgg: %d conv layers, need 1 to %d", nconv, LLFC_VGG_MAXCONV), NULL;
    if (classes < 1) return llfc_seterr("vgg: %lld classes", (long long)classes), NULL;
    if (head != LLFC_VGG_GAP && head != LLFC_VGG_FLATTEN) return llfc_seterr("vgg: unknown head %d", head), NULL;
    llfc_vgg *v = llfc_calloc(1, sizeof *v);
    if (!v) return NULL;
    v->c = c, v->h = h, v->w = w, v->head = head, v->nconv = nconv;
    int C = c, H = h, W = w;
    for (int i = 0; i < nconv; i++) {
        if (chan[i] < 1) { free(v); return llfc_seterr("vgg: conv layer %d has %d channels", i + 1, chan[i]), NULL; }
        v->conv[i].C = C, v->conv[i].H = H, v->conv[i].W = W, v->conv[i].K = chan[i];
        v->conv[i].pool = pool[i] != 0;
        C = chan[i];
        if (pool[i]) {
            if (H < 2 || W < 2) {
                free(v);
                return llfc_seterr("vgg: max pool after conv layer %d on a %dx%d map", i + 1, H, W), NULL;
            }
            H /= 2, W /= 2;
        }
    }
    v->headdim = head == LLFC_VGG_GAP ? C : (int64_t)C * H * W;

    int L = nconv + 1;
    llfc_net *net = llfc_calloc(1, sizeof *net);
    if (!net) { free(v); return NULL; }
    net->arch = LLFC_ARCH_VGG;
    net->act = LLFC_ACT_RELU;
    net->nlayers = L;
    net->vgg = v;
    net->nparams = 2 * L;
    net->pname = llfc_calloc((size_t)net->nparams + 1, sizeof *net->pname);
    net->param = llfc_calloc((size_t)net->nparams + 1, sizeof *net->param);
    net->widths = llfc_mallocarray((size_t)L + 1, sizeof *net->widths);
    if (!net->pname || !net->param || !net->widths) goto fail;
    net->widths[0] = (int64_t)c * h * w;
    for (int i = 0; i < nconv; i++) net->widths[i + 1] = (int64_t)v->conv[i].K * v->conv[i].H * v->conv[i].W;
    net->widths[L] = classes;

    llfc_rng rng;
    llfc_rng_seed(&rng, seed);
    int mod = 0; /* index in the Sequential */
    for (int l = 0; l < L; l++) {
        char nm[48];
        int conv = l < nconv;
        int64_t K = conv ? v->conv[l].K : classes;
        int64_t fan = conv ? (int64_t)v->conv[l].C * 9 : v->headdim;
        int64_t wsz[4] = {K, conv ? v->conv[l].C : v->headdim, 3, 3};
        if (!conv) mod += head == LLFC_VGG_GAP ? 2 : 1;
        snprintf(nm, sizeof nm, "%d.weight", mod);
        if (!(net->pname[2 * l] = xstrdup(nm))) goto fail;
        snprintf(nm, sizeof nm, "%d.bias", mod);
        if (!(net->pname[2 * l + 1] = xstrdup(nm))) goto fail;
        if (!(net->param[2 * l] = llfc_tensor_new(conv ? 4 : 2, wsz))) goto fail;
        if (!(net->param[2 * l + 1] = llfc_tensor_new(1, &K))) goto fail;
        float *Wd = llfc_tensor_data(net->param[2 * l]), *bd = llfc_tensor_data(net->param[2 * l + 1]);
        int64_t nw = llfc_tensor_numel(net->param[2 * l]);
        if (conv) {
            double sd = sqrt(2.0 / (double)fan);
            for (int64_t i = 0; i < nw; i++) Wd[i] = (float)(sd * llfc_rng_normal(&rng));
            memset(bd, 0, (size_t)K * sizeof *bd);
            mod += v->conv[l].pool ? 3 : 2;
        } else {
            double bound = 1.0 / sqrt((double)fan);
            for (int64_t i = 0; i < nw; i++) Wd[i] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
            for (int64_t i = 0; i < K; i++) bd[i] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
        }
    }
    if (!(net->spec = vgg_spec(net))) goto fail;
    return net;
fail:
    llfc_net_free(net);
    return NULL;
}

llfc_net *llfc_vgg_like(const llfc_net *tmpl, uint64_t seed)
{
    const llfc_vgg *v = tmpl->vgg;
    if (tmpl->arch != LLFC_ARCH_VGG || !v) return llfc_seterr("vgg_like: not a conv net"), NULL;
    int chan[LLFC_VGG_MAXCONV], pool[LLFC_VGG_MAXCONV];
    for (int i = 0; i < v->nconv; i++) chan[i] = v->conv[i].K, pool[i] = v->conv[i].pool;
    return llfc_vgg_new(v->c, v->h, v->w, v->nconv, chan, pool, v->head, tmpl->widths[tmpl->nlayers], seed);
}

/* ---- forward ------------------------------------------------------------- */

/* Buffers of one pass over n samples: per conv layer its post-ReLU output
 * a[l] and (if pooled) the pooled map pl[l] with argmax idx[l]; the head
 * output; the logits; conv scratch. */
struct llfc_vgg_work {
    int64_t maxbatch;
    int nconv;
    float **a, **pl;
    int32_t **idx;
    float *head, *logits;
    float *g, *g2;     /* gradient buffers [maxbatch, largest map] */
    float *cwork;
};

static int64_t pooled_size(const llfc_vgg *v, int l)
{
    return (int64_t)v->conv[l].K * (v->conv[l].H / 2) * (v->conv[l].W / 2);
}

void llfc_vgg_work_free(llfc_vgg_work *w)
{
    if (!w) return;
    for (int l = 0; l < w->nconv; l++) {
        if (w->a) free(w->a[l]);
        if (w->pl) free(w->pl[l]);
        if (w->idx) free(w->idx[l]);
    }
    free(w->a), free(w->pl), free(w->idx);
    free(w->head), free(w->logits), free(w->g), free(w->g2), free(w->cwork);
    free(w);
}

/* train: also the gradient buffers */
static llfc_vgg_work *work_new(const llfc_net *net, int64_t maxbatch, int train)
{
    const llfc_vgg *v = net->vgg;
    if (maxbatch < 1) { llfc_seterr("batch size must be positive, got %lld", (long long)maxbatch); return NULL; }
    llfc_vgg_work *w = llfc_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->maxbatch = maxbatch;
    w->nconv = v->nconv;
    int64_t maxa = net->widths[0], classes = net->widths[net->nlayers];
    size_t cw = 0;
    if (!(w->a = llfc_calloc((size_t)v->nconv, sizeof *w->a))) goto fail;
    if (!(w->pl = llfc_calloc((size_t)v->nconv, sizeof *w->pl))) goto fail;
    if (!(w->idx = llfc_calloc((size_t)v->nconv, sizeof *w->idx))) goto fail;
    for (int l = 0; l < v->nconv; l++) {
        int64_t m = net->widths[l + 1];
        if (m > maxa) maxa = m;
        if (!(w->a[l] = llfc_mallocarray((size_t)(maxbatch * m), sizeof(float)))) goto fail;
        if (v->conv[l].pool) {
            int64_t p = pooled_size(v, l);
            if (!(w->pl[l] = llfc_mallocarray((size_t)(maxbatch * p), sizeof(float)))) goto fail;
            if (!(w->idx[l] = llfc_mallocarray((size_t)(maxbatch * p), sizeof(int32_t)))) goto fail;
        }
        size_t s = llfc_conv2d_worksize((int)maxbatch, v->conv[l].C, v->conv[l].H, v->conv[l].W, v->conv[l].K, 3, 3, 1, 1);
        if (s > cw) cw = s;
    }
    if (v->headdim > maxa) maxa = v->headdim;
    if (classes > maxa) maxa = classes;
    if (!(w->head = llfc_mallocarray((size_t)(maxbatch * v->headdim), sizeof(float)))) goto fail;
    if (!(w->logits = llfc_mallocarray((size_t)(maxbatch * classes), sizeof(float)))) goto fail;
    if (train && !(w->g = llfc_mallocarray((size_t)(maxbatch * maxa), sizeof(float)))) goto fail;
    if (train && !(w->g2 = llfc_mallocarray((size_t)(maxbatch * maxa), sizeof(float)))) goto fail;
    if (!(w->cwork = llfc_mallocarray(cw + 1, sizeof(float)))) goto fail;
    return w;
fail:
    llfc_vgg_work_free(w);
    return NULL;
}

llfc_vgg_work *llfc_vgg_work_new(const llfc_net *net, int64_t maxbatch) { return work_new(net, maxbatch, 1); }

float *llfc_vgg_logits(llfc_vgg_work *w) { return w->logits; }
float *llfc_vgg_dlogits(llfc_vgg_work *w) { return w->g; }

/* The full pass into w; pre/post as llfc_net_forward_features (may be NULL). */
static int vgg_run(const llfc_net *net, llfc_vgg_work *w, const float *x, int64_t n, float **pre, float **post)
{
    const llfc_vgg *v = net->vgg;
    const float *in = x;
    for (int l = 0; l < v->nconv; l++) {
        int C = v->conv[l].C, H = v->conv[l].H, W = v->conv[l].W, K = v->conv[l].K;
        int64_t m = n * K * H * W;
        float *a = w->a[l];
        if (llfc_conv2d_forward(a, in, llfc_tensor_data(net->param[2 * l]), llfc_tensor_data(net->param[2 * l + 1]),
                                (int)n, C, H, W, K, 3, 3, 1, 1, w->cwork))
            return -1;
        if (pre && pre[l]) memcpy(pre[l], a, (size_t)m * sizeof *a);
        for (int64_t i = 0; i < m; i++) a[i] = a[i] < 0.0f ? 0.0f : a[i];
        if (post && post[l]) memcpy(post[l], a, (size_t)m * sizeof *a);
        in = a;
        if (v->conv[l].pool) {
            if (llfc_maxpool2d_forward(w->pl[l], w->idx[l], a, (int)n, K, H, W, 2, 2)) return -1;
            in = w->pl[l];
        }
    }
    int l = v->nconv - 1;
    int K = v->conv[l].K, H = v->conv[l].H, W = v->conv[l].W;
    if (v->conv[l].pool) H /= 2, W /= 2;
    if (v->head == LLFC_VGG_GAP) {
        if (llfc_gavgpool_forward(w->head, in, (int)n, K, H, W)) return -1;
    } else {
        memcpy(w->head, in, (size_t)(n * v->headdim) * sizeof(float));
    }
    /* classifier: logits [n, k] = head [n, F] @ W^T + b */
    const llfc_tensor *Wt = net->param[2 * v->nconv];
    const float *b = llfc_tensor_data(net->param[2 * v->nconv + 1]);
    int64_t k = Wt->size[0], F = Wt->size[1];
    for (int64_t r = 0; r < n; r++) memcpy(w->logits + r * k, b, (size_t)k * sizeof(float));
    llfc_gemm(0, 1, (int)n, (int)k, (int)F, 1.0f, w->head, (int)F, llfc_tensor_data(Wt), (int)F, 1.0f, w->logits,
              (int)k);
    int L = net->nlayers;
    if (pre && pre[L - 1]) memcpy(pre[L - 1], w->logits, (size_t)(n * k) * sizeof(float));
    if (post && post[L - 1]) memcpy(post[L - 1], w->logits, (size_t)(n * k) * sizeof(float));
    return 0;
}

int llfc_vgg_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post)
{
    llfc_vgg_work *w = work_new(net, n, 0);
    if (!w) return -1;
    int rc = vgg_run(net, w, x, n, pre, post);
    llfc_vgg_work_free(w);
    return rc;
}

int llfc_vgg_forward_train(const llfc_net *net, llfc_vgg_work *w, const float *x, int64_t n)
{
    return vgg_run(net, w, x, n, NULL, NULL);
}

/* ---- backward -------------------------------------------------------------- */

/* w->g holds dL/d(output of weight layer l) (pre-activation); write dW, db and
 * move the gradient to the pre-activation of weight layer l-1. */
int llfc_vgg_backward_layer(const llfc_net *net, llfc_vgg_work *w, const float *x, int l, int64_t n,
                            float *dW, float *db)
{
    const llfc_vgg *v = net->vgg;
    float *dIn = w->g2; /* gradient w.r.t. the input of layer l */
    if (l == v->nconv) {
        const llfc_tensor *Wt = net->param[2 * l];
        int64_t k = Wt->size[0], F = Wt->size[1];
        const float *G = w->g;
        if (dW) llfc_gemm(1, 0, (int)k, (int)F, (int)n, 1.0f, G, (int)k, w->head, (int)F, 0.0f, dW, (int)F);
        if (db) {
            memset(db, 0, (size_t)k * sizeof *db);
            for (int64_t r = 0; r < n; r++)
                for (int64_t j = 0; j < k; j++) db[j] += G[r * k + j];
        }
        /* dHead [n, F] = G @ W, then back through the head */
        int c = v->nconv - 1;
        int K = v->conv[c].K, H = v->conv[c].H, W = v->conv[c].W;
        if (v->conv[c].pool) H /= 2, W /= 2;
        if (v->head == LLFC_VGG_GAP) {
            float *tmp = llfc_mallocarray((size_t)(n * F), sizeof(float));
            if (!tmp) return -1;
            llfc_gemm(0, 0, (int)n, (int)F, (int)k, 1.0f, G, (int)k, llfc_tensor_data(Wt), (int)F, 0.0f, tmp, (int)F);
            int rc = llfc_gavgpool_backward(dIn, tmp, (int)n, K, H, W);
            free(tmp);
            if (rc) return -1;
        } else {
            llfc_gemm(0, 0, (int)n, (int)F, (int)k, 1.0f, G, (int)k, llfc_tensor_data(Wt), (int)F, 0.0f, dIn, (int)F);
        }
    } else {
        int C = v->conv[l].C, H = v->conv[l].H, W = v->conv[l].W, K = v->conv[l].K;
        const float *in = x;
        if (l > 0) in = v->conv[l - 1].pool ? w->pl[l - 1] : w->a[l - 1];
        if (dW) memset(dW, 0, (size_t)K * C * 9 * sizeof *dW);
        if (db) memset(db, 0, (size_t)K * sizeof *db);
        if (llfc_conv2d_backward(l ? dIn : NULL, dW, db, w->g, in, llfc_tensor_data(net->param[2 * l]), (int)n, C, H,
                                 W, K, 3, 3, 1, 1, w->cwork))
            return -1;
        if (l == 0) return 0;
    }
    /* dIn is the gradient w.r.t. the (pooled) output of conv layer p = l-1 */
    int p = l - 1;
    int K = v->conv[p].K, H = v->conv[p].H, W = v->conv[p].W;
    float *da = dIn;
    if (v->conv[p].pool) {
        da = w->g; /* w->g is no longer needed */
        if (llfc_maxpool2d_backward(da, dIn, w->idx[p], (int)n, K, H, W, 2, 2)) return -1;
    }
    const float *a = w->a[p];
    int64_t m = n * K * H * W;
    for (int64_t i = 0; i < m; i++) da[i] = a[i] > 0.0f ? da[i] : 0.0f;
    if (da != w->g) { w->g2 = w->g; w->g = da; }
    return 0;
}
