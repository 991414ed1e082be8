/* exec.c - the executor (nn.h): the eval-mode forward over any range of
 * ops, one weight applied alone, the training passes (BatchNorm in
 * training mode, the backward pass to every parameter), the loss,
 * evaluation and the re-estimation of BatchNorm statistics.  The kernels are
 * kernels/layers.h's; linear layers are one llfc_gemm each. */
#include "nn/nn.h"
#include "nn/kernels/layers.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *pdata(const llfc_net *net, int p) { return p >= 0 ? llfc_tensor_data(net->param[p]) : NULL; }

/* ---- element-wise loops ------------------------------------------------------------
 * Written as fixed-size blocks of VB so that -O2 vectorizes them;
 * an in-place call goes to the single-pointer form. */
#define VB 16
/* inlined into the AVX2 and baseline copies of their callers (LLFC_VECTOR_CLONES) */
#define EW_INLINE inline __attribute__((always_inline))

/* x = relu(x); NaN stays NaN (as in torch) */
static EW_INLINE void relu_inplace(float *x, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) x[k + j] = x[k + j] < 0.0f ? 0.0f : x[k + j];
    for (; k < m; k++) x[k] = x[k] < 0.0f ? 0.0f : x[k];
}

static EW_INLINE void relu_copy(const float *restrict in, float *restrict out, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) out[k + j] = in[k + j] < 0.0f ? 0.0f : in[k + j];
    for (; k < m; k++) out[k] = in[k] < 0.0f ? 0.0f : in[k];
}

/* d += g */
static EW_INLINE void add_to(float *restrict d, const float *restrict g, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) d[k + j] += g[k + j];
    for (; k < m; k++) d[k] += g[k];
}

/* out = a + b (out distinct from both; a and b may be the same) */
static EW_INLINE void add_copy(const float *a, const float *b, float *restrict out, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) out[k + j] = a[k + j] + b[k + j];
    for (; k < m; k++) out[k] = a[k] + b[k];
}

/* d = relu(d + g) */
static EW_INLINE void add_to_relu(float *restrict d, const float *restrict g, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) {
            float v = d[k + j] + g[k + j];
            d[k + j] = v < 0.0f ? 0.0f : v;
        }
    for (; k < m; k++) d[k] = d[k] + g[k] < 0.0f ? 0.0f : d[k] + g[k];
}

/* out = relu(a + b) */
static EW_INLINE void add_copy_relu(const float *a, const float *b, float *restrict out, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) {
            float v = a[k + j] + b[k + j];
            out[k + j] = v < 0.0f ? 0.0f : v;
        }
    for (; k < m; k++) out[k] = a[k] + b[k] < 0.0f ? 0.0f : a[k] + b[k];
}

/* d = h > 0 ? g : 0 (the ReLU's derivative, h its output) */
static EW_INLINE void relu_back(float *restrict d, const float *restrict g, const float *restrict h, int64_t m)
{
    int64_t k = 0;
    for (; k + VB <= m; k += VB)
        for (int j = 0; j < VB; j++) {
            float gv = g[k + j], hv = h[k + j]; /* both loaded: the select vectorizes */
            d[k + j] = hv > 0.0f ? gv : 0.0f;
        }
    for (; k < m; k++) d[k] = h[k] > 0.0f ? g[k] : 0.0f;
}

/* d = tanh(a) (d may be a) */
static EW_INLINE void tanh_copy(const float *a, float *d, int64_t m)
{
    for (int64_t k = 0; k < m; k++) d[k] = tanhf(a[k]);
}

/* d = g * (1 - h^2) (the derivative of tanh, h its output) */
static EW_INLINE void tanh_back(float *restrict d, const float *restrict g, const float *restrict h, int64_t m)
{
    for (int64_t k = 0; k < m; k++) d[k] = g[k] * (1.0f - h[k] * h[k]);
}

/* The same loops split between two threads (llfc_parallel_for) when the
 * thread count allows and m is large: in blocks of EW_BLOCK elements, at
 * least EW_MIN_BLOCKS of them per thread.  Element-wise, so the result does
 * not depend on the split. */
enum { EW_RELU, EW_RELU_COPY, EW_ADD_TO, EW_ADD_COPY, EW_ADD_TO_RELU, EW_ADD_COPY_RELU, EW_RELU_BACK, EW_TANH,
       EW_TANH_BACK };
enum { EW_BLOCK = 1024, EW_MIN_BLOCKS = 32 };

struct ew_args { int kind; float *d; const float *a, *b; int64_t m; };

LLFC_VECTOR_CLONES
static void ew_part(void *ud, int64_t lo, int64_t hi)
{
    const struct ew_args *e = ud;
    int64_t k0 = lo * EW_BLOCK, k1 = hi * EW_BLOCK < e->m ? hi * EW_BLOCK : e->m, m = k1 - k0;
    float *d = e->d + k0;
    const float *a = e->a ? e->a + k0 : NULL, *b = e->b ? e->b + k0 : NULL;
    switch (e->kind) {
    case EW_RELU: relu_inplace(d, m); break;
    case EW_RELU_COPY: relu_copy(a, d, m); break;
    case EW_ADD_TO: add_to(d, a, m); break;
    case EW_ADD_COPY: add_copy(a, b, d, m); break;
    case EW_ADD_TO_RELU: add_to_relu(d, a, m); break;
    case EW_ADD_COPY_RELU: add_copy_relu(a, b, d, m); break;
    case EW_RELU_BACK: relu_back(d, a, b, m); break;
    case EW_TANH: tanh_copy(a, d, m); break;
    case EW_TANH_BACK: tanh_back(d, a, b, m); break;
    }
}

/* d = op(a, b) over m elements (see the kinds above) */
static void ew(int kind, float *d, const float *a, const float *b, int64_t m)
{
    struct ew_args e = {kind, d, a, b, m};
    llfc_parallel_for((m + EW_BLOCK - 1) / EW_BLOCK, EW_MIN_BLOCKS, ew_part, &e);
}

/* db [K] = the column sums of G [n, K], row after row */
LLFC_VECTOR_CLONES
static void bias_grad(float *restrict db, const float *restrict G, int n, int K)
{
    memset(db, 0, (size_t)K * sizeof *db);
    for (int r = 0; r < n; r++) add_to(db, G + (int64_t)r * K, K);
}

/* ---- one op, forward ----------------------------------------------------------- */

typedef struct {
    int train;          /* BatchNorm with batch statistics */
    int relu;           /* a BN or sum: apply the ReLU that follows to the output */
    float momentum;     /* running statistics update (train) */
    float *mean, *rstd; /* BN [C] or LN [n*H*W] (saved in training, scratch otherwise) */
    int32_t *idx;       /* max pool argmax, or NULL */
    float *cwork;       /* conv scratch */
    int in_blk, out_blk; /* eval forward: the input's and output's channel blocks (0: plain NCHW) */
} op_ctx;

static int op_forward(const llfc_net *net, const llfc_op *o, const float *in, const float *in2, float *out,
                      int64_t n64, op_ctx *cx)
{
    int n = (int)n64, C = o->C, H = o->H, W = o->W;
    int64_t m = n64 * C * H * W;
    switch (o->kind) {
    case LLFC_OP_CONV:
        if (cx->in_blk || cx->out_blk)
            return llfc_conv2d_forward_blk(out, in, pdata(net, o->pw), pdata(net, o->pb), n, C, H, W, o->K, o->R,
                                           o->R, o->stride, o->pad, cx->in_blk, cx->out_blk, cx->cwork);
        return llfc_conv2d_forward(out, in, pdata(net, o->pw), pdata(net, o->pb), n, C, H, W, o->K, o->R, o->R,
                                   o->stride, o->pad, cx->cwork);
    case LLFC_OP_BN:
        if (!cx->train && cx->in_blk)
            return llfc_batchnorm2d_forward_eval_blk(out, in, pdata(net, o->pw), pdata(net, o->pb),
                                                     pdata(net, o->prm), pdata(net, o->prv), n, C, H, W,
                                                     net->bn_eps, cx->relu, cx->in_blk);
        if (!cx->train)
            return (cx->relu ? llfc_batchnorm2d_forward_eval_relu : llfc_batchnorm2d_forward_eval)(
                out, in, pdata(net, o->pw), pdata(net, o->pb), pdata(net, o->prm), pdata(net, o->prv), n, C, H, W,
                net->bn_eps);
        if (cx->in_blk ? llfc_batchnorm2d_forward_train_blk(out, cx->mean, cx->rstd, pdata(net, o->prm),
                                                            pdata(net, o->prv), in, pdata(net, o->pw),
                                                            pdata(net, o->pb), n, C, H, W, cx->momentum,
                                                            net->bn_eps, cx->relu, cx->in_blk)
                       : (cx->relu ? llfc_batchnorm2d_forward_train_relu : llfc_batchnorm2d_forward_train)(
                             out, cx->mean, cx->rstd, pdata(net, o->prm), pdata(net, o->prv), in, pdata(net, o->pw),
                             pdata(net, o->pb), n, C, H, W, cx->momentum, net->bn_eps))
            return -1;
        if (o->pnbt >= 0) pdata(net, o->pnbt)[0] += 1.0f;
        return 0;
    case LLFC_OP_LN:
        return llfc_layernorm_c_forward(out, cx->mean, cx->rstd, in, pdata(net, o->pw), pdata(net, o->pb), n, C, H, W,
                                        net->ln_eps);
    case LLFC_OP_RELU:
        if (out == in) ew(EW_RELU, out, NULL, NULL, m);
        else ew(EW_RELU_COPY, out, in, NULL, m);
        return 0;
    case LLFC_OP_TANH:
        ew(EW_TANH, out, in, NULL, m);
        return 0;
    case LLFC_OP_IDENTITY:
        if (out != in) memcpy(out, in, (size_t)m * sizeof *out);
        return 0;
    case LLFC_OP_MAXPOOL:
        return llfc_maxpool2d_forward(out, cx->idx, in, n, C, H, W, o->R, o->stride);
    case LLFC_OP_GAP:
        return cx->in_blk ? llfc_gavgpool_forward_blk(out, in, n, C, H, W, cx->in_blk)
                          : llfc_gavgpool_forward(out, in, n, C, H, W);
    case LLFC_OP_ADD:
        if (cx->relu) {
            if (out == in) ew(EW_ADD_TO_RELU, out, in2, NULL, m);
            else if (out == in2) ew(EW_ADD_TO_RELU, out, in, NULL, m);
            else ew(EW_ADD_COPY_RELU, out, in, in2, m);
        } else if (out == in) ew(EW_ADD_TO, out, in2, NULL, m);
        else if (out == in2) ew(EW_ADD_TO, out, in, NULL, m);
        else ew(EW_ADD_COPY, out, in, in2, m);
        return 0;
    case LLFC_OP_LINEAR: {
        /* out [n, K] = in [n, F] @ W^T + b */
        int K = o->K, F = C * H * W;
        const float *b = pdata(net, o->pb);
        for (int r = 0; r < n; r++) {
            if (b) memcpy(out + (int64_t)r * K, b, (size_t)K * sizeof *out);
            else memset(out + (int64_t)r * K, 0, (size_t)K * sizeof *out);
        }
        llfc_gemm(0, 1, n, K, F, 1.0f, in, F, pdata(net, o->pw), F, 1.0f, out, K);
        return 0;
    }
    default:
        return llfc_seterr("unknown op kind %d", o->kind);
    }
}

/* Op i is a BatchNorm or a sum whose output goes into the ReLU of op i + 1:
 * the executor may apply that ReLU in op i's own pass over the data, when
 * nothing else needs op i's output (the caller decides). */
static int relu_follows(const llfc_net *net, int i)
{
    const llfc_op *o = &net->ops[i];
    return (o->kind == LLFC_OP_BN || o->kind == LLFC_OP_ADD) && i + 1 < net->nops &&
           net->ops[i + 1].kind == LLFC_OP_RELU && net->ops[i + 1].in == o->out;
}

/* Scratch sizes over the ops for batches of n: conv work, LN statistics. */
static void scratch_sizes(const llfc_net *net, int64_t n, size_t *cw, int64_t *ln)
{
    *cw = 0, *ln = 0;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if (o->kind == LLFC_OP_CONV) {
            size_t s = llfc_conv2d_worksize((int)n, o->C, o->H, o->W, o->K, o->R, o->R, o->stride, o->pad);
            if (s > *cw) *cw = s;
        } else if (o->kind == LLFC_OP_LN && n * o->H * o->W > *ln) {
            *ln = n * o->H * o->W;
        } else if (o->kind == LLFC_OP_BN && o->C > *ln) {
            *ln = o->C;
        }
    }
}

static int check_batch(const char *fn, int64_t n)
{
    if (n < 1 || n > INT_MAX) return llfc_seterr("%s: batch of %lld samples", fn, (long long)n);
    return 0;
}

/* ---- eval-mode forward ------------------------------------------------------- */

/* Value buffers of one eval pass: a buffer freed after its slot's last
 * reader is reused by a later slot that fits (no allocation per op). */
typedef struct {
    float **buf;
    int64_t *cap;
    int n;
} bufpool;

static float *pool_take(bufpool *bp, int64_t need, int64_t *cap)
{
    int best = -1;
    for (int k = 0; k < bp->n; k++)
        if (bp->cap[k] >= need && (best < 0 || bp->cap[k] < bp->cap[best])) best = k;
    *cap = need;
    if (best < 0) return llfc_mallocarray((size_t)need, sizeof(float));
    float *b = bp->buf[best];
    *cap = bp->cap[best];
    bp->n--;
    bp->buf[best] = bp->buf[bp->n], bp->cap[best] = bp->cap[bp->n];
    return b;
}

static int is_act(int kind) { return kind == LLFC_OP_RELU || kind == LLFC_OP_TANH || kind == LLFC_OP_IDENTITY; }

/* BatchNorm, ReLU, identity, sum: they take channel-blocked values and give
 * them in the same blocks. */
static int elementwise(int kind)
{
    return kind == LLFC_OP_BN || kind == LLFC_OP_RELU || kind == LLFC_OP_IDENTITY || kind == LLFC_OP_ADD;
}

/* Ops whose forward takes channel-blocked values (layers.h, conv2d) and, but
 * for the pooling, gives them. */
static int takes_blocked(int kind)
{
    return elementwise(kind) || kind == LLFC_OP_CONV || kind == LLFC_OP_GAP;
}

/* Slot t's value, read by op o, into plain NCHW (a buffer from the pool; the
 * blocked one goes back to it). */
static int to_plain(bufpool *bp, float **v, int64_t *own, int *lay, int t, const llfc_op *o, int64_t n, int64_t dim)
{
    int64_t cap;
    float *p = pool_take(bp, n * dim, &cap);
    if (!p || llfc_act_to_plain(p, v[t], (int)n, o->C, o->H, o->W, lay[t])) {
        free(p);
        return -1;
    }
    bp->buf[bp->n] = v[t], bp->cap[bp->n++] = own[t];
    v[t] = p, own[t] = cap, lay[t] = 0;
    return 0;
}

int llfc_net_forward_range(const llfc_net *net, int first, int last, const float *x, const float *const *vals,
                           int64_t n, float **keep)
{
    if (llfc_net_check(net) || check_batch("forward", n)) return -1;
    if (first < 0 || last > net->nops || first > last)
        return llfc_seterr("forward: ops %d to %d of %d", first + 1, last, net->nops);
    int ns = net->nslots;
    int rc = -1;
    size_t cwn;
    int64_t lnn;
    scratch_sizes(net, n, &cwn, &lnn);
    float **v = llfc_calloc((size_t)ns, sizeof *v);
    int64_t *own = llfc_calloc((size_t)ns, sizeof *own); /* floats of a buffer owned by slot s, or 0 */
    int *lastr = llfc_mallocarray((size_t)ns, sizeof *lastr);
    float *cwork = llfc_mallocarray(cwn + 1, sizeof(float));
    float *st = llfc_mallocarray((size_t)(2 * lnn + 1), sizeof(float));
    /* two more pool places: a value made plain returns its blocked buffer */
    bufpool bp = {llfc_calloc((size_t)ns + 2, sizeof(float *)), llfc_calloc((size_t)ns + 2, sizeof(int64_t)), 0};
    /* Values between convolutions stay in the convolutions' channel blocks
     * (lay[s] = B) unless the caller keeps them or an op needs them plain. */
    int *lay = llfc_calloc((size_t)ns, sizeof *lay);
    const int B = llfc_conv2d_act_block();
    if (!v || !own || !lastr || !cwork || !st || !bp.buf || !bp.cap || !lay) goto done;
    /* a value the caller does not keep lives until its last reader */
    for (int s = 0; s < ns; s++) lastr[s] = -1;
    for (int i = first; i < last; i++) {
        lastr[net->ops[i].in] = i;
        if (net->ops[i].kind == LLFC_OP_ADD) lastr[net->ops[i].in2] = i;
    }
    for (int s = 0; s <= first; s++) {
        if (lastr[s] < 0) continue;
        v[s] = s == 0 ? (float *)x : vals ? (float *)vals[s] : NULL;
        if (!v[s]) {
            llfc_seterr("forward from op %d: no value for slot %d, which op %d reads", first + 1, s, lastr[s] + 1);
            goto done;
        }
    }
    op_ctx cx = {0, 0, 0.0f, st, st + lnn, NULL, cwork, 0, 0};
    for (int i = first; i < last; i++) {
        const llfc_op *o = &net->ops[i];
        /* a BN or sum that only the next op's ReLU reads writes the ReLU's
         * output directly (its own slot is never made) */
        cx.relu = relu_follows(net, i) && i + 1 < last && !(keep && keep[o->out]) && lastr[o->out] == i + 1;
        int s = cx.relu ? net->ops[i + 1].out : o->out;
        int kept = keep && keep[s], add = o->kind == LLFC_OP_ADD;
        /* blocked output: a conv (or an op of a blocked input) whose value the caller does not keep */
        int blk = B && takes_blocked(o->kind) && (o->kind == LLFC_OP_CONV ? o->K % B == 0 : o->C % B == 0) &&
                  (o->kind == LLFC_OP_GAP || !kept) && (!add || lay[o->in] == lay[o->in2]);
        for (int k = 0; k < 1 + add; k++) {
            int t = k ? o->in2 : o->in;
            if (lay[t] && !blk && o->kind != LLFC_OP_CONV && to_plain(&bp, v, own, lay, t, o, n, llfc_net_slot_dim(net, t))) goto done;
        }
        cx.in_blk = lay[o->in];
        cx.out_blk = o->kind == LLFC_OP_CONV ? (blk ? B : 0) : o->kind == LLFC_OP_GAP ? 0 : cx.in_blk;
        if (kept) v[s] = keep[s];
        else if (is_act(o->kind) && own[o->in] && lastr[o->in] == i) {
            /* an activation of a value nothing else reads: in place */
            v[s] = v[o->in], own[s] = own[o->in], own[o->in] = 0;
        } else if (!(v[s] = pool_take(&bp, n * llfc_net_slot_dim(net, s), &own[s]))) {
            goto done;
        }
        lay[s] = cx.out_blk;
        if (op_forward(net, o, v[o->in], o->kind == LLFC_OP_ADD ? v[o->in2] : NULL, v[s], n, &cx)) {
            llfc_adderr("%s (op %d, %s)", o->name, i + 1, llfc_op_kind_name(o->kind));
            goto done;
        }
        if (cx.relu) i++;
        for (int t = 1; t <= s; t++)
            if (own[t] && lastr[t] <= i) {
                bp.buf[bp.n] = v[t], bp.cap[bp.n++] = own[t];
                v[t] = NULL, own[t] = 0;
            }
    }
    rc = 0;
done:
    if (v)
        for (int s = 0; s < ns; s++)
            if (own && own[s]) free(v[s]);
    for (int k = 0; k < bp.n; k++) free(bp.buf[k]);
    free(bp.buf), free(bp.cap), free(lay);
    free(v), free(own), free(lastr), free(cwork), free(st);
    return rc;
}

int llfc_net_forward_slots(const llfc_net *net, const float *x, int64_t n, float **keep)
{
    return llfc_net_forward_range(net, 0, net->nops, x, NULL, n, keep);
}

int llfc_net_forward(const llfc_net *net, const float *x, int64_t n, float *logits)
{
    float **keep = llfc_calloc((size_t)net->nslots, sizeof *keep);
    if (!keep) return -1;
    keep[llfc_net_feat_slot(net, net->nfeat - 1, 0)] = logits;
    int rc = llfc_net_forward_slots(net, x, n, keep);
    free(keep);
    return rc;
}

int llfc_net_forward_features(const llfc_net *net, const float *x, int64_t n, float **pre, float **post)
{
    int ns = net->nslots, nf = net->nfeat;
    /* each requested buffer receives a slot; a slot asked for twice is copied */
    float **slots = llfc_calloc((size_t)ns, sizeof *slots);
    int *cs = llfc_mallocarray((size_t)(2 * nf + 1), sizeof *cs);
    float **cd = llfc_mallocarray((size_t)(2 * nf + 1), sizeof *cd);
    int nc = 0, rc = -1;
    if (!slots || !cs || !cd) goto done;
    for (int l = 0; l < nf; l++) {
        int s[2] = {llfc_net_feat_slot(net, l, 1), llfc_net_feat_slot(net, l, 0)};
        float *d[2] = {pre ? pre[l] : NULL, post ? post[l] : NULL};
        for (int k = 0; k < 2; k++) {
            if (!d[k]) continue;
            if (!slots[s[k]]) slots[s[k]] = d[k];
            else cs[nc] = s[k], cd[nc++] = d[k];
        }
    }
    if (llfc_net_forward_slots(net, x, n, slots)) goto done;
    for (int k = 0; k < nc; k++)
        memcpy(cd[k], slots[cs[k]], (size_t)(n * llfc_net_slot_dim(net, cs[k])) * sizeof(float));
    rc = 0;
done:
    free(slots), free(cs), free(cd);
    return rc;
}

int llfc_net_apply_weight(const llfc_net *net, int op, const float *in, int64_t n, float *out)
{
    if (llfc_net_check(net) || check_batch("apply_weight", n)) return -1;
    if (op < 0 || op >= net->nops) return llfc_seterr("apply_weight: no op %d (the net has %d)", op + 1, net->nops);
    const llfc_op *o = &net->ops[op];
    if (o->kind == LLFC_OP_CONV)
        return llfc_conv2d_forward(out, in, pdata(net, o->pw), NULL, (int)n, o->C, o->H, o->W, o->K, o->R, o->R,
                                   o->stride, o->pad, NULL);
    if (o->kind == LLFC_OP_LINEAR) {
        int F = o->C * o->H * o->W;
        llfc_gemm(0, 1, (int)n, o->K, F, 1.0f, in, F, pdata(net, o->pw), F, 0.0f, out, o->K);
        return 0;
    }
    return llfc_seterr("apply_weight: op %d (%s) is a %s, not a conv or linear", op + 1, o->name, llfc_op_kind_name(o->kind));
}

int llfc_net_apply_weight_t(const llfc_net *net, int op, const float *g, int64_t n, float *out)
{
    if (llfc_net_check(net) || check_batch("apply_weight_t", n)) return -1;
    if (op < 0 || op >= net->nops) return llfc_seterr("apply_weight_t: no op %d (the net has %d)", op + 1, net->nops);
    const llfc_op *o = &net->ops[op];
    if (o->kind == LLFC_OP_CONV)
        return llfc_conv2d_backward(out, NULL, NULL, g, NULL, pdata(net, o->pw), (int)n, o->C, o->H, o->W, o->K, o->R,
                                    o->R, o->stride, o->pad, NULL);
    if (o->kind == LLFC_OP_LINEAR) {
        int F = o->C * o->H * o->W;
        llfc_gemm(0, 0, (int)n, F, o->K, 1.0f, g, o->K, pdata(net, o->pw), F, 0.0f, out, F);
        return 0;
    }
    return llfc_seterr("apply_weight_t: op %d (%s) is a %s, not a conv or linear", op + 1, o->name,
                       llfc_op_kind_name(o->kind));
}

/* ---- training passes ---------------------------------------------------------- */

struct llfc_nn_work {
    int64_t maxbatch, n;  /* n: batch of the last forward_train (0: none) */
    int nops, lslot;      /* lslot: the logits' slot */
    float **v;            /* [nops + 1] slot values; v[0] is the caller's batch */
    float **own;          /* buffers owned per slot (NULL where a slot reuses its input's) */
    float **mean, **rstd; /* per op: BN [C], LN [maxbatch*H*W] */
    int32_t **idx;        /* per op: max-pool argmax [maxbatch*K*P*Q] */
    float **g;            /* per slot: gradient during backward (a pool buffer) or NULL */
    float **pool;         /* free gradient buffers */
    int npool;
    float **gall;         /* every gradient buffer, for freeing */
    int ngall;
    int64_t gsize;        /* floats per gradient buffer: maxbatch * largest slot */
    float *tmp;           /* [gsize] a gradient to add into an existing one */
    float *cwork;         /* conv scratch */
    char *fused;          /* per op: a BN or sum computing the ReLU of the next op (which writes over it) */
    char *accp;           /* per param: its kernel adds into the gradient (zeroed first); 0 for linear layers */
    int *lay;             /* per slot: its values (and gradient) in channel blocks of lay[s], or 0: plain NCHW */
};

void llfc_nn_work_free(llfc_nn_work *w)
{
    if (!w) return;
    for (int i = 0; i < w->nops; i++) {
        if (w->own) free(w->own[i + 1]);
        if (w->mean) free(w->mean[i]);
        if (w->rstd) free(w->rstd[i]);
        if (w->idx) free(w->idx[i]);
    }
    for (int k = 0; k < w->ngall; k++) free(w->gall[k]);
    free(w->v), free(w->own), free(w->mean), free(w->rstd), free(w->idx), free(w->g), free(w->pool), free(w->gall);
    free(w->tmp), free(w->cwork), free(w->fused), free(w->accp), free(w->lay);
    free(w);
}

int64_t llfc_nn_work_maxbatch(const llfc_nn_work *w) { return w->maxbatch; }

/* The training passes keep a slot's values and gradient in the
 * convolutions' channel blocks (layers.h, conv2d) when it is a conv's
 * output or an element-wise op's (BatchNorm, ReLU, identity, sum) of blocked
 * inputs, and every reader takes blocked values: a conv, an element-wise op
 * whose other slots are blocked too, global average pooling.  Everything
 * else is plain, the network input and the logits included. */
static void work_layouts(const llfc_net *net, int *lay)
{
    int B = llfc_conv2d_act_block();
    if (!B) return;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if ((o->kind == LLFC_OP_CONV && o->K % B == 0) || (elementwise(o->kind) && o->C % B == 0)) lay[o->out] = B;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < net->nops; i++) {
            const llfc_op *o = &net->ops[i];
            int add = o->kind == LLFC_OP_ADD;
            if (elementwise(o->kind)) {
                int all = lay[o->out] && lay[o->in] && (!add || lay[o->in2]);
                int any = lay[o->out] || lay[o->in] || (add && lay[o->in2]);
                if (any && !all) {
                    lay[o->out] = lay[o->in] = 0;
                    if (add) lay[o->in2] = 0;
                    changed = 1;
                }
            } else if (!takes_blocked(o->kind) && lay[o->in]) {
                lay[o->in] = 0;
                changed = 1;
            }
        }
    }
}

llfc_nn_work *llfc_nn_work_new(const llfc_net *net, int64_t maxbatch)
{
    if (llfc_net_check(net) || check_batch("work", maxbatch)) return NULL;
    int ns = net->nslots;
    llfc_nn_work *w = llfc_calloc(1, sizeof *w);
    int *nread = llfc_calloc((size_t)ns, sizeof *nread);
    if (!w || !nread) goto fail;
    w->maxbatch = maxbatch;
    w->nops = net->nops;
    w->lslot = net->ops[llfc_net_feat_op(net, net->nfeat - 1)].out;
    if (!(w->v = llfc_calloc((size_t)ns, sizeof *w->v)) || !(w->own = llfc_calloc((size_t)ns, sizeof *w->own)) ||
        !(w->mean = llfc_calloc((size_t)net->nops, sizeof *w->mean)) ||
        !(w->rstd = llfc_calloc((size_t)net->nops, sizeof *w->rstd)) ||
        !(w->idx = llfc_calloc((size_t)net->nops, sizeof *w->idx)) || !(w->g = llfc_calloc((size_t)ns, sizeof *w->g)) ||
        !(w->pool = llfc_calloc((size_t)ns, sizeof *w->pool)) || !(w->gall = llfc_calloc((size_t)ns, sizeof *w->gall)) ||
        !(w->fused = llfc_calloc((size_t)net->nops, 1)) || !(w->accp = llfc_malloc((size_t)net->nparams + 1)) ||
        !(w->lay = llfc_calloc((size_t)ns, sizeof *w->lay)))
        goto fail;
    work_layouts(net, w->lay);
    memset(w->accp, 1, (size_t)net->nparams);
    for (int i = 0; i < net->nops; i++)
        if (net->ops[i].kind == LLFC_OP_LINEAR) {
            if (net->ops[i].pw >= 0) w->accp[net->ops[i].pw] = 0;
            if (net->ops[i].pb >= 0) w->accp[net->ops[i].pb] = 0;
        }
    for (int i = 0; i < net->nops; i++) {
        nread[net->ops[i].in]++;
        if (net->ops[i].kind == LLFC_OP_ADD) nread[net->ops[i].in2]++;
    }
    int64_t maxd = 1;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        int s = o->out;
        int64_t d = llfc_net_slot_dim(net, s), hw = (int64_t)o->H * o->W;
        if (d > maxd) maxd = d;
        /* An activation or a sum writes over an input that nothing else
         * reads and whose value no backward step needs (of all ops, only
         * ReLU and tanh need their own output). */
        int alias = -1;
        if (is_act(o->kind) || o->kind == LLFC_OP_ADD) {
            int cand[2] = {o->in, o->kind == LLFC_OP_ADD ? o->in2 : -1};
            for (int k = 0; k < 2 && alias < 0; k++)
                if (cand[k] > 0 && nread[cand[k]] == 1 && net->ops[cand[k] - 1].kind != LLFC_OP_RELU &&
                    net->ops[cand[k] - 1].kind != LLFC_OP_TANH)
                    alias = cand[k];
        }
        if (alias > 0) w->v[s] = w->v[alias];
        else if (!(w->v[s] = w->own[s] = llfc_mallocarray((size_t)(maxbatch * d), sizeof(float)))) goto fail;
        if (o->kind == LLFC_OP_BN) {
            if (!(w->mean[i] = llfc_mallocarray((size_t)o->C, sizeof(float))) ||
                !(w->rstd[i] = llfc_mallocarray((size_t)o->C, sizeof(float))))
                goto fail;
        } else if (o->kind == LLFC_OP_LN) {
            if (!(w->mean[i] = llfc_mallocarray((size_t)(maxbatch * hw), sizeof(float))) ||
                !(w->rstd[i] = llfc_mallocarray((size_t)(maxbatch * hw), sizeof(float))))
                goto fail;
        } else if (o->kind == LLFC_OP_MAXPOOL) {
            if (!(w->idx[i] = llfc_mallocarray((size_t)(maxbatch * d), sizeof(int32_t)))) goto fail;
        }
    }
    for (int i = 0; i < net->nops; i++)
        w->fused[i] = (char)(relu_follows(net, i) && w->v[net->ops[i + 1].out] == w->v[net->ops[i].out]);
    size_t cw;
    int64_t ln;
    scratch_sizes(net, maxbatch, &cw, &ln);
    w->gsize = maxbatch * maxd;
    if (!(w->cwork = llfc_mallocarray(cw + 1, sizeof(float))) ||
        !(w->tmp = llfc_mallocarray((size_t)w->gsize, sizeof(float))))
        goto fail;
    free(nread);
    return w;
fail:
    free(nread);
    llfc_nn_work_free(w);
    return NULL;
}

static float *grad_get(llfc_nn_work *w)
{
    if (w->npool > 0) return w->pool[--w->npool];
    float *b = llfc_mallocarray((size_t)w->gsize, sizeof(float));
    if (b) w->gall[w->ngall++] = b;
    return b;
}

static void grad_put(llfc_nn_work *w, int s)
{
    if (w->g[s]) w->pool[w->npool++] = w->g[s];
    w->g[s] = NULL;
}

/* Training-mode forward through ops [0, upto); momentum < 0: the net's. */
static int train_run(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n, float momentum, int upto)
{
    if (net->nops != w->nops) return llfc_seterr("workspace made for another network");
    if (n < 1 || n > w->maxbatch)
        return llfc_seterr("batch of %lld samples, workspace holds 1 to %lld", (long long)n, (long long)w->maxbatch);
    for (int s = 0; s <= net->nops; s++) grad_put(w, s);
    w->n = 0;
    w->v[0] = (float *)x;
    for (int i = 0; i < upto; i++) {
        const llfc_op *o = &net->ops[i];
        op_ctx cx = {1, w->fused[i], momentum < 0 ? net->bn_momentum : momentum, w->mean[i], w->rstd[i], w->idx[i],
                     w->cwork, w->lay[o->in], w->lay[o->out]};
        if (op_forward(net, o, w->v[o->in], o->kind == LLFC_OP_ADD ? w->v[o->in2] : NULL, w->v[o->out], n, &cx))
            return llfc_adderr("%s (op %d, %s)", o->name, i + 1, llfc_op_kind_name(o->kind));
        if (cx.relu) i++; /* the ReLU's output (the same buffer) is written */
    }
    w->n = n;
    return 0;
}

int llfc_net_forward_train(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n)
{
    return train_run(net, w, x, n, -1.0f, net->nops);
}

int llfc_net_loss_start(const llfc_net *net, llfc_nn_work *w, const int32_t *y, int64_t n, double *loss_sum,
                        int64_t *nerr)
{
    if (net->nops != w->nops) return llfc_seterr("workspace made for another network");
    if (w->n != n) return llfc_seterr("loss: no forward_train of %lld samples before it", (long long)n);
    if (!w->g[w->lslot] && !(w->g[w->lslot] = grad_get(w))) return -1;
    return llfc_xent(w->v[w->lslot], y, n, llfc_net_num_classes(net), 1.0f / (float)n, loss_sum, nerr,
                     w->g[w->lslot]);
}

static float *pgrad(const llfc_net *net, float **grad, int p)
{
    if (p < 0 || !grad || (net->ptrain && !net->ptrain[p])) return NULL;
    return grad[p];
}

/* Where the gradient of input slot s goes: its own buffer when this is the
 * first contribution (*acc = 0), else w->tmp to be added (*acc = 1); NULL
 * for the network input. */
static float *din_for(llfc_nn_work *w, int s, int *acc)
{
    *acc = 0;
    if (s == 0) return NULL;
    if (w->g[s]) { *acc = 1; return w->tmp; }
    return w->g[s] = grad_get(w);
}

int llfc_net_backward(const llfc_net *net, llfc_nn_work *w, const float *x, int64_t n64, float **grad)
{
    if (net->nops != w->nops) return llfc_seterr("backward: workspace made for another network");
    if (w->n != n64 || !w->g[w->lslot])
        return llfc_seterr("backward: no forward_train and loss of %lld samples before it", (long long)n64);
    /* the conv and norm kernels add into their gradients; linear layers write theirs */
    for (int p = 0; p < net->nparams; p++) {
        float *gp = pgrad(net, grad, p);
        if (gp && w->accp[p]) memset(gp, 0, (size_t)llfc_tensor_numel(net->param[p]) * sizeof *gp);
    }
    int n = (int)n64;
    for (int i = net->nops - 1; i >= 0; i--) {
        const llfc_op *o = &net->ops[i];
        const float *G = w->g[o->out];
        if (!G) { /* does not reach the loss */
            float *gp[2] = {o->kind == LLFC_OP_LINEAR ? pgrad(net, grad, o->pw) : NULL,
                            o->kind == LLFC_OP_LINEAR ? pgrad(net, grad, o->pb) : NULL};
            for (int k = 0; k < 2; k++)
                if (gp[k]) memset(gp[k], 0, (size_t)llfc_tensor_numel(net->param[k ? o->pb : o->pw]) * sizeof(float));
            continue;
        }
        if (o->kind == LLFC_OP_RELU && i > 0 && w->fused[i - 1] && net->ops[i - 1].kind == LLFC_OP_BN &&
            !w->g[o->in]) {
            /* the fused BatchNorm's backward applies the ReLU's mask itself */
            w->g[o->in] = w->g[o->out];
            w->g[o->out] = NULL;
            continue;
        }
        if (o->kind == LLFC_OP_IDENTITY && o->in > 0 && !w->g[o->in]) {
            w->g[o->in] = w->g[o->out]; /* the gradient passes unchanged */
            w->g[o->out] = NULL;
            continue;
        }
        if (o->kind == LLFC_OP_ADD) {
            /* the gradient passes to both inputs: the first input without a
             * gradient yet takes this buffer, others get a copy or a sum */
            int64_t m = n64 * o->C * o->H * o->W;
            float *own = w->g[o->out];
            w->g[o->out] = NULL;
            int ins[2] = {o->in, o->in2};
            for (int k = 0; k < 2; k++) {
                int s = ins[k];
                if (s == 0) continue;
                if (w->g[s] == G) { /* x + x: this buffer is G itself */
                    float *d = w->g[s];
                    for (int64_t j = 0; j < m; j++) d[j] *= 2.0f;
                } else if (w->g[s]) ew(EW_ADD_TO, w->g[s], G, NULL, m);
                else if (own) w->g[s] = own, own = NULL;
                else if (!(w->g[s] = grad_get(w))) return -1;
                else memcpy(w->g[s], G, (size_t)m * sizeof *G);
            }
            if (own) w->pool[w->npool++] = own;
            continue;
        }
        int C = o->C, H = o->H, W = o->W, K = o->K, acc, rc = 0;
        int64_t m = n64 * C * H * W;
        float *din = din_for(w, o->in, &acc);
        if (o->in && !din) return -1;
        float *dw = pgrad(net, grad, o->pw), *db = pgrad(net, grad, o->pb);
        const float *in = w->v[o->in];
        switch (o->kind) {
        case LLFC_OP_CONV:
            if (din || dw || db)
                rc = llfc_conv2d_backward_blk(din, dw, db, G, in, pdata(net, o->pw), n, C, H, W, K, o->R, o->R,
                                              o->stride, o->pad, w->lay[o->in], w->lay[o->out], w->cwork);
            break;
        case LLFC_OP_BN:
            if ((din || dw || db) && w->lay[o->in]) /* G at the ReLU's output w->v[o->out] when fused */
                rc = llfc_batchnorm2d_backward_train_blk(din, dw, db, G, w->fused[i] ? w->v[o->out] : NULL, in,
                                                         pdata(net, o->pw), w->mean[i], w->rstd[i], n, C, H, W,
                                                         w->lay[o->in]);
            else if ((din || dw || db) && w->fused[i]) /* G is at the ReLU's output w->v[o->out] */
                rc = llfc_batchnorm2d_backward_train_relu(din, dw, db, G, w->v[o->out], in, pdata(net, o->pw),
                                                          w->mean[i], w->rstd[i], n, C, H, W);
            else if (din || dw || db)
                rc = llfc_batchnorm2d_backward_train(din, dw, db, G, in, pdata(net, o->pw), w->mean[i], w->rstd[i], n,
                                                     C, H, W);
            break;
        case LLFC_OP_LN:
            if (din || dw || db)
                rc = llfc_layernorm_c_backward(din, dw, db, G, in, pdata(net, o->pw), w->mean[i], w->rstd[i], n, C, H,
                                               W);
            break;
        case LLFC_OP_RELU:
            if (din) ew(EW_RELU_BACK, din, G, w->v[o->out], m);
            break;
        case LLFC_OP_TANH:
            if (din) ew(EW_TANH_BACK, din, G, w->v[o->out], m);
            break;
        case LLFC_OP_IDENTITY:
            if (din) memcpy(din, G, (size_t)m * sizeof *din);
            break;
        case LLFC_OP_MAXPOOL:
            if (din) rc = llfc_maxpool2d_backward(din, G, w->idx[i], n, C, H, W, o->R, o->stride);
            break;
        case LLFC_OP_GAP:
            if (din) rc = llfc_gavgpool_backward_blk(din, G, n, C, H, W, w->lay[o->in]);
            break;
        case LLFC_OP_LINEAR: {
            int F = C * H * W;
            /* dW [K, F] = G^T [K, n] @ in [n, F]; db = column sums; din [n, F] = G [n, K] @ W [K, F] */
            if (dw) llfc_gemm(1, 0, K, F, n, 1.0f, G, K, in, F, 0.0f, dw, F);
            if (db) bias_grad(db, G, n, K);
            if (din) llfc_gemm(0, 0, n, F, K, 1.0f, G, K, pdata(net, o->pw), F, 0.0f, din, F);
            break;
        }
        }
        if (rc) return llfc_adderr("backward: %s (op %d, %s)", o->name, i + 1, llfc_op_kind_name(o->kind));
        if (din && acc) ew(EW_ADD_TO, w->g[o->in], din, NULL, m);
        grad_put(w, o->out);
    }
    for (int s = 0; s <= net->nops; s++) grad_put(w, s);
    w->n = 0;
    return 0;
}

/* ---- loss and evaluation ----------------------------------------------------- */
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

int llfc_net_loss_grad(const llfc_net *net, const float *x, const int32_t *y, int64_t n,
                       float **grad, double *loss, int64_t *nerr)
{
    llfc_nn_work *w = llfc_nn_work_new(net, n);
    if (!w) return -1;
    double ls = 0.0;
    int rc = -1;
    if (llfc_net_forward_train(net, w, x, n)) goto done;
    if (llfc_net_loss_start(net, w, y, n, &ls, nerr)) goto done;
    if (llfc_net_backward(net, w, x, n, grad)) goto done;
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
    int64_t in = llfc_net_input_dim(net), k = llfc_net_num_classes(net);
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

/* ---- BatchNorm statistics ------------------------------------------------------- */

int llfc_net_reset_bn(llfc_net *net, const float *x, int64_t n, int64_t batch, llfc_progress_fn progress, void *ud)
{
    if (llfc_net_check(net)) return -1;
    if (n < 1) return llfc_seterr("reset_bn: no samples");
    if (batch < 1) return llfc_seterr("reset_bn: batch must be positive, got %lld", (long long)batch);
    if (batch > n) batch = n;
    int last = -1, nbn = 0;
    for (int i = 0; i < net->nops; i++)
        if (net->ops[i].kind == LLFC_OP_BN) last = i, nbn++;
    if (last < 0) return llfc_seterr("reset_bn: the network has no BatchNorm layers");
    /* the buffers as they were, restored on failure or interruption */
    float **saved = llfc_calloc((size_t)net->nparams, sizeof *saved);
    llfc_nn_work *w = llfc_nn_work_new(net, batch);
    int rc = -1;
    if (!saved || !w) goto done;
    for (int i = 0; i <= last; i++) {
        const llfc_op *o = &net->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        int ps[3] = {o->prm, o->prv, o->pnbt};
        float init[3] = {0.0f, 1.0f, 0.0f};
        for (int k = 0; k < 3; k++) {
            if (ps[k] < 0) continue;
            int64_t m = llfc_tensor_numel(net->param[ps[k]]);
            float *d = llfc_tensor_data(net->param[ps[k]]);
            if (!saved[ps[k]] && !(saved[ps[k]] = llfc_mallocarray((size_t)m, sizeof(float)))) goto restore;
            memcpy(saved[ps[k]], d, (size_t)m * sizeof *d);
            for (int64_t j = 0; j < m; j++) d[j] = init[k];
        }
    }
    int64_t in = llfc_net_slot_dim(net, 0), t = 0;
    for (int64_t s = 0; s < n; s += batch, t++) {
        int64_t m = n - s < batch ? n - s : batch;
        /* momentum 1/(t+1): the running values are the mean over batches so far */
        if (train_run(net, w, x + s * in, m, 1.0f / (float)(t + 1), last + 1)) {
            llfc_adderr("reset_bn: batch %lld", (long long)t + 1);
            goto restore;
        }
        if (llfc_progress_stop(progress, ud, (double)(s + m), (double)n, "reset_bn")) goto restore;
    }
    rc = 0;
    goto done;
restore:
    for (int p = 0; p < net->nparams; p++)
        if (saved[p]) memcpy(llfc_tensor_data(net->param[p]), saved[p], (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
done:
    if (saved)
        for (int p = 0; p < net->nparams; p++) free(saved[p]);
    free(saved);
    llfc_nn_work_free(w);
    return rc;
}
