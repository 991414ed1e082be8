/* net.c - networks as data: copies, comparison, interpolation, feature
 * layers, slot names, and the check of an op list (see nn.h). */
#include "nn/nn.h"
#include "nn/kernels/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llfc_net_free(llfc_net *net)
{
    if (!net) return;
    for (int p = 0; p < net->nparams; p++) {
        if (net->pname) free(net->pname[p]);
        if (net->param) llfc_tensor_free(net->param[p]);
    }
    free(net->pname);
    free(net->param);
    free(net->ptrain);
    free(net->widths);
    free(net->featop);
    free(net->ops);
    llfc_permspec_free(net->spec);
    free(net);
}

static void *dup_array(const void *src, size_t count, size_t elem)
{
    void *d = llfc_mallocarray(count + 1, elem);
    if (d && count) memcpy(d, src, count * elem);
    return d;
}

llfc_net *llfc_net_clone(const llfc_net *src)
{
    llfc_net *net = llfc_calloc(1, sizeof *net);
    if (!net) return NULL;
    *net = *src;
    net->pname = NULL, net->param = NULL, net->ptrain = NULL, net->spec = NULL;
    net->ops = NULL, net->featop = NULL, net->widths = NULL;
    net->nparams = 0;
    if (!(net->pname = llfc_calloc((size_t)src->nparams + 1, sizeof *net->pname)) ||
        !(net->param = llfc_calloc((size_t)src->nparams + 1, sizeof *net->param)) ||
        !(net->ptrain = dup_array(src->ptrain, (size_t)src->nparams, 1)) ||
        !(net->ops = dup_array(src->ops, (size_t)src->nops, sizeof *src->ops)) ||
        !(net->featop = dup_array(src->featop, (size_t)src->nfeat, sizeof *src->featop)) ||
        !(net->widths = dup_array(src->widths, (size_t)src->nfeat + 1, sizeof *src->widths)))
        goto fail;
    for (int p = 0; p < src->nparams; p++) {
        net->nparams = p + 1;
        size_t len = strlen(src->pname[p]) + 1;
        if (!(net->pname[p] = dup_array(src->pname[p], len, 1))) goto fail;
        if (!(net->param[p] = llfc_tensor_clone(src->param[p]))) goto fail;
    }
    if (src->spec && !(net->spec = llfc_permspec_clone(src->spec))) goto fail;
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

int64_t llfc_net_nbuffer_values(const llfc_net *net)
{
    int64_t n = 0;
    for (int p = 0; p < net->nparams; p++)
        if (!net->ptrain[p]) n += llfc_tensor_numel(net->param[p]);
    return n;
}

int64_t llfc_net_input_dim(const llfc_net *net) { return net->widths[0]; }
int64_t llfc_net_num_classes(const llfc_net *net) { return net->widths[net->nfeat]; }

int llfc_net_param_is_count(const llfc_net *net, int p)
{
    for (int i = 0; i < net->nops; i++)
        if (net->ops[i].kind == LLFC_OP_BN && net->ops[i].pnbt == p) return 1;
    return 0;
}

int llfc_net_count_ops(const llfc_net *net, int kind)
{
    int n = 0;
    for (int i = 0; i < net->nops; i++) n += net->ops[i].kind == kind;
    return n;
}

int llfc_op_has_weight(const llfc_op *op) { return op->kind == LLFC_OP_CONV || op->kind == LLFC_OP_LINEAR; }

const char *llfc_op_kind_name(int kind)
{
    static const char *names[] = {"?",       "conv",   "batchnorm", "layernorm", "relu",
                                  "maxpool", "avgpool", "add",      "linear",    "tanh", "identity"};
    return kind >= 1 && kind <= LLFC_OP_IDENTITY ? names[kind] : "?";
}

static int is_act_kind(int kind) { return kind == LLFC_OP_RELU || kind == LLFC_OP_TANH || kind == LLFC_OP_IDENTITY; }

int llfc_net_same_arch(const llfc_net *a, const llfc_net *b)
{
    if (a->nparams != b->nparams || a->nops != b->nops)
        return llfc_seterr("the networks have different layouts (%s; %s)", a->config, b->config);
    for (int p = 0; p < a->nparams; p++) {
        if (!llfc_tensor_same_shape(a->param[p], b->param[p])) {
            char sa[64], sb[64];
            return llfc_seterr("parameter '%s' is %s in the first network and %s in the second", a->pname[p],
                               llfc_tensor_shape_str(a->param[p], sa, sizeof sa),
                               llfc_tensor_shape_str(b->param[p], sb, sizeof sb));
        }
    }
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return llfc_seterr("the networks take %dx%dx%d and %dx%dx%d inputs", a->c, a->h, a->w, b->c, b->h, b->w);
    for (int i = 0; i < a->nops; i++) {
        llfc_op x = a->ops[i], y = b->ops[i];
        if (x.kind != y.kind && is_act_kind(x.kind) && is_act_kind(y.kind))
            return llfc_seterr("the networks have different activations (op %d, '%s': %s and %s)", i + 1, x.name,
                               llfc_op_kind_name(x.kind), llfc_op_kind_name(y.kind));
        memset(x.name, 0, sizeof x.name), memset(x.fname, 0, sizeof x.fname);
        memset(y.name, 0, sizeof y.name), memset(y.fname, 0, sizeof y.fname);
        if (memcmp(&x, &y, sizeof x))
            return llfc_seterr("op %d differs between the networks ('%s' and '%s'; %s and %s)", i + 1, a->ops[i].name,
                               b->ops[i].name, a->config, b->config);
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
        if (llfc_net_param_is_count(a, p)) { /* num_batches_tracked: a's */
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

/* ---- feature layers and slots ------------------------------------------------ */

int llfc_net_nfeat(const llfc_net *net) { return net->nfeat; }

int64_t llfc_net_featdim(const llfc_net *net, int l) { return net->widths[l + 1]; }

const char *llfc_net_featname(const llfc_net *net, int l, char *buf, size_t n)
{
    snprintf(buf, n, "%s", net->ops[net->featop[l]].fname);
    return buf;
}

int llfc_net_feat_op(const llfc_net *net, int l)
{
    return l >= 0 && l < net->nfeat ? net->featop[l] : -1;
}

int llfc_net_feat_slot(const llfc_net *net, int l, int pre)
{
    const llfc_op *o = &net->ops[net->featop[l]];
    return pre && o->kind != LLFC_OP_LINEAR ? o->in : o->out;
}

int llfc_net_feat_has_act(const llfc_net *net, int l)
{
    int k = net->ops[net->featop[l]].kind;
    return k == LLFC_OP_RELU || k == LLFC_OP_TANH;
}

/* Geometry (C, H, W) of slot s. */
static void slot_geom(const llfc_net *net, int s, int *C, int *H, int *W)
{
    if (s == 0) *C = net->c, *H = net->h, *W = net->w;
    else *C = net->ops[s - 1].K, *H = net->ops[s - 1].P, *W = net->ops[s - 1].Q;
}

int64_t llfc_net_slot_dim(const llfc_net *net, int slot)
{
    if (slot < 0 || slot > net->nops) return llfc_seterr("no slot %d (the net has 0 to %d)", slot, net->nops);
    int C, H, W;
    slot_geom(net, slot, &C, &H, &W);
    return (int64_t)C * H * W;
}

const char *llfc_net_slot_name(const llfc_net *net, int slot, char *buf, size_t n)
{
    if (slot <= 0 || slot > net->nops) snprintf(buf, n, "x");
    else {
        const llfc_op *p = &net->ops[slot - 1];
        snprintf(buf, n, "%s", p->feat >= 0 ? p->fname : p->name);
    }
    return buf;
}

/* ---- checking the op list -------------------------------------------------- */

/* Param p of op i exists, contiguous, with shape d[0..nd-1]. */
static int param_ok(const llfc_net *net, int i, const char *what, int p, int nd, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3)
{
    if (p < 0 || p >= net->nparams)
        return llfc_seterr("op %d (%s): %s is parameter %d, the net has %d", i + 1, net->ops[i].name, what, p + 1,
                           net->nparams);
    const llfc_tensor *t = net->param[p];
    int64_t want[4] = {d0, d1, d2, d3};
    int ok = t->ndim == nd && llfc_tensor_is_contiguous(t);
    for (int d = 0; ok && d < nd; d++) ok = t->size[d] == want[d];
    if (!ok) {
        char sh[64], ex[96];
        size_t len = 0;
        for (int d = 0; d < nd; d++) len += (size_t)snprintf(ex + len, sizeof ex - len, d ? "x%lld" : "%lld", (long long)want[d]);
        return llfc_seterr("op %d (%s): %s '%s' is %s, expected %s (contiguous)", i + 1, net->ops[i].name, what,
                           net->pname[p], llfc_tensor_shape_str(t, sh, sizeof sh), ex);
    }
    return 0;
}

int llfc_net_check(const llfc_net *net)
{
    if (net->nops < 1 || !net->ops) return llfc_seterr("the network has no ops");
    if (net->nslots != net->nops + 1) return llfc_seterr("the network has %d slots for %d ops", net->nslots, net->nops);
    if (net->c < 1 || net->h < 1 || net->w < 1) return llfc_seterr("the network's input is %dx%dx%d", net->c, net->h, net->w);
    if (!net->ptrain) return llfc_seterr("the network has no trainable flags");
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        const char *nm = o->name;
        if (o->out != i + 1) return llfc_seterr("op %d (%s) writes slot %d, not %d", i + 1, nm, o->out, i + 1);
        if (o->in < 0 || o->in > i) return llfc_seterr("op %d (%s) reads slot %d, not yet written", i + 1, nm, o->in);
        int C, H, W;
        slot_geom(net, o->in, &C, &H, &W);
        if (o->C != C || o->H != H || o->W != W)
            return llfc_seterr("op %d (%s) expects %dx%dx%d, slot %d is %dx%dx%d", i + 1, nm, o->C, o->H, o->W, o->in,
                               C, H, W);
        int same = o->K == C && o->P == H && o->Q == W, P;
        if (o->feat >= 0 && (o->feat >= net->nfeat || net->featop[o->feat] != i))
            return llfc_seterr("op %d (%s) is marked as feature layer %d, which it is not", i + 1, nm, o->feat + 1);
        if (o->feat >= 0 && !is_act_kind(o->kind) && !(o->kind == LLFC_OP_LINEAR && o->feat == net->nfeat - 1))
            return llfc_seterr("op %d (%s): a %s is no feature layer", i + 1, nm, llfc_op_kind_name(o->kind));
        switch (o->kind) {
        case LLFC_OP_CONV:
            if (o->K < 1 || o->R < 1 || o->stride < 1 || o->pad < 0)
                return llfc_seterr("op %d (%s): conv with %d outputs, kernel %d, stride %d, pad %d", i + 1, nm, o->K,
                                   o->R, o->stride, o->pad);
            if ((P = llfc_conv2d_outsize(H, o->R, o->stride, o->pad)) < 0) return llfc_adderr("op %d (%s)", i + 1, nm);
            if (o->P != P || o->Q != llfc_conv2d_outsize(W, o->R, o->stride, o->pad))
                return llfc_seterr("op %d (%s): conv output %dx%d, expected %dx%d", i + 1, nm, o->P, o->Q, P,
                                   llfc_conv2d_outsize(W, o->R, o->stride, o->pad));
            if (param_ok(net, i, "weight", o->pw, 4, o->K, C, o->R, o->R)) return -1;
            if (o->pb >= 0 && param_ok(net, i, "bias", o->pb, 1, o->K, 0, 0, 0)) return -1;
            break;
        case LLFC_OP_BN:
        case LLFC_OP_LN:
            if (!same) return llfc_seterr("op %d (%s): a norm keeps the geometry", i + 1, nm);
            if (o->pw >= 0 && param_ok(net, i, "weight", o->pw, 1, C, 0, 0, 0)) return -1;
            if (o->pb >= 0 && param_ok(net, i, "bias", o->pb, 1, C, 0, 0, 0)) return -1;
            if (o->kind == LLFC_OP_BN) {
                if (param_ok(net, i, "running_mean", o->prm, 1, C, 0, 0, 0)) return -1;
                if (param_ok(net, i, "running_var", o->prv, 1, C, 0, 0, 0)) return -1;
                if (o->pnbt >= 0 && (o->pnbt >= net->nparams || llfc_tensor_numel(net->param[o->pnbt]) != 1 ||
                                     !llfc_tensor_is_contiguous(net->param[o->pnbt])))
                    return llfc_seterr("op %d (%s): num_batches_tracked must be one number", i + 1, nm);
            }
            break;
        case LLFC_OP_RELU:
        case LLFC_OP_TANH:
        case LLFC_OP_IDENTITY:
            if (!same) return llfc_seterr("op %d (%s): %s keeps the geometry", i + 1, nm, llfc_op_kind_name(o->kind));
            break;
        case LLFC_OP_MAXPOOL:
            if (o->R < 1 || o->stride < 1 || o->R > H || o->R > W)
                return llfc_seterr("op %d (%s): max pool %d stride %d on a %dx%d map", i + 1, nm, o->R, o->stride, H, W);
            if (o->K != C || o->P != llfc_pool2d_outsize(H, o->R, o->stride) ||
                o->Q != llfc_pool2d_outsize(W, o->R, o->stride))
                return llfc_seterr("op %d (%s): max pool output %dx%dx%d does not fit", i + 1, nm, o->K, o->P, o->Q);
            break;
        case LLFC_OP_GAP:
            if (o->K != C || o->P != 1 || o->Q != 1)
                return llfc_seterr("op %d (%s): global pool output must be %dx1x1", i + 1, nm, C);
            break;
        case LLFC_OP_ADD: {
            if (o->in2 < 0 || o->in2 > i) return llfc_seterr("op %d (%s) reads slot %d, not yet written", i + 1, nm, o->in2);
            int C2, H2, W2;
            slot_geom(net, o->in2, &C2, &H2, &W2);
            if (C2 != C || H2 != H || W2 != W || !same)
                return llfc_seterr("op %d (%s): adds %dx%dx%d (slot %d) and %dx%dx%d (slot %d)", i + 1, nm, C, H, W,
                                   o->in, C2, H2, W2, o->in2);
            break;
        }
        case LLFC_OP_LINEAR:
            if (o->K < 1 || o->P != 1 || o->Q != 1) return llfc_seterr("op %d (%s): linear output must be Kx1x1", i + 1, nm);
            if (param_ok(net, i, "weight", o->pw, 2, o->K, (int64_t)C * H * W, 0, 0)) return -1;
            if (o->pb >= 0 && param_ok(net, i, "bias", o->pb, 1, o->K, 0, 0, 0)) return -1;
            break;
        default:
            return llfc_seterr("op %d (%s): unknown kind %d", i + 1, nm, o->kind);
        }
    }
    if (net->nfeat < 1 || !net->featop || !net->widths) return llfc_seterr("the network has no feature layers");
    for (int l = 0; l < net->nfeat; l++) {
        int i = net->featop[l];
        if (i < 0 || i >= net->nops || net->ops[i].feat != l)
            return llfc_seterr("feature layer %d has no op", l + 1);
        if (net->widths[l + 1] != llfc_net_slot_dim(net, net->ops[i].out))
            return llfc_seterr("feature layer %d has %lld values, its op gives %lld", l + 1,
                               (long long)net->widths[l + 1], (long long)llfc_net_slot_dim(net, net->ops[i].out));
    }
    const llfc_op *last = &net->ops[net->featop[net->nfeat - 1]];
    if (last->kind != LLFC_OP_LINEAR) return llfc_seterr("the network has no linear classifier");
    if (net->widths[0] != (int64_t)net->c * net->h * net->w) return llfc_seterr("the input size does not match");
    return 0;
}
