/* build.c - the builders (build.h): MLPs, VGG (torchvision configurations
 * A, B, D or a custom list) and the CIFAR ResNet-20, with PyTorch
 * state_dict names, initialisation, feature layers, permutation specs and
 * the configuration text that rebuilds them; what model files need from a
 * builder.
 *
 * Conv net names (what scripts/torch_cnn.py's modules give in state_dict()):
 *   VGG     features.<i>.weight|bias  for the i-th module of one Sequential
 *           [Conv2d 3x3 pad 1 (bias), (BatchNorm2d | LayerNorm2d), ReLU,
 *           (MaxPool2d 2)] ...; classifier.weight|bias.  A max pool on a map
 *           smaller than 2x2 is left out (and takes no index).
 *   ResNet  conv1, bn1|ln1, layer<s>.<b>.conv1|bn1|conv2|bn2,
 *           layer<s>.<b>.shortcut.0 (conv 1x1) and .shortcut.1 (its norm)
 *           where the shape changes, linear.  Convs have a bias only without
 *           a norm.
 * Conv net initialisation (as torchvision's VGG and ResNet): conv weights
 * kaiming_normal_(mode="fan_out", nonlinearity="relu"), i.e. N(0, 2/(K*R*R)),
 * conv biases 0; norm weights 1, biases 0; running_mean 0, running_var 1,
 * num_batches_tracked 0; the classifier as PyTorch's nn.Linear default
 * (kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the
 * same bound).  Random numbers come from llfc_rng seeded by the seed, drawn
 * op by op in op order (weight before bias).
 */
#include "nn/build.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXCHAN (1 << 20)
#define MAXSIDE (1 << 16)
#define MAXVALUES ((int64_t)1 << 31) /* parameter values of one net (8 GB) */

/* torchvision's VGG configurations (channels, -1 = max pool) */
static const int cfg_a[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};
static const int cfg_b[] = {64, 64, -1, 128, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};
static const int cfg_d[] = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1};

static char *xstrdup(const char *s)
{
    char *d = llfc_malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static const char *norm_name(int norm)
{
    return norm == LLFC_NORM_BN ? "bn" : norm == LLFC_NORM_LN ? "ln" : "none";
}

/* ---- the builder: growing op, parameter, feature and group lists ---------- */

typedef struct {
    llfc_net *net;
    const char *fn;           /* the family, for messages */
    int capops, capp, capf, capg;
    int (*axis)[LLFC_MAXDIM]; /* per param, as llfc_permspec */
    int64_t *featdim;
    int *featop;
    int ngroups;
    char (*gname)[32];
    int64_t *gsize;
    int *gfeat;
    int64_t total; /* parameter values so far */
    int failed;
} bld;

static void *grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return p;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q) { llfc_seterr("out of memory"); return NULL; }
    *cap = nc;
    return q;
}

static int bld_init(bld *b, const char *fn, int c, int h, int w)
{
    memset(b, 0, sizeof *b);
    b->fn = fn;
    if (!(b->net = llfc_calloc(1, sizeof *b->net))) return -1;
    b->net->c = c, b->net->h = h, b->net->w = w;
    b->net->bn_eps = 1e-5f, b->net->bn_momentum = 0.1f, b->net->ln_eps = 1e-5f;
    b->net->nslots = 1;
    return 0;
}

static void bld_free(bld *b)
{
    free(b->axis), free(b->featdim), free(b->featop), free(b->gname), free(b->gsize), free(b->gfeat);
    llfc_net_free(b->net);
    b->net = NULL;
}

static void slot_geom(const bld *b, int s, int *C, int *H, int *W)
{
    if (s == 0) { *C = b->net->c, *H = b->net->h, *W = b->net->w; return; }
    const llfc_op *o = &b->net->ops[s - 1];
    *C = o->K, *H = o->P, *W = o->Q;
}

static int add_group(bld *b, const char *name, int64_t size)
{
    if (b->failed) return -1;
    int g = b->ngroups;
    int cap = b->capg, c2 = b->capg, c3 = b->capg;
    char(*gn)[32] = grow(b->gname, &cap, g + 1, sizeof *b->gname);
    if (gn) b->gname = gn;
    int64_t *gs = gn ? grow(b->gsize, &c2, g + 1, sizeof *b->gsize) : NULL;
    if (gs) b->gsize = gs;
    int *gf = gs ? grow(b->gfeat, &c3, g + 1, sizeof *b->gfeat) : NULL;
    if (!gf) { b->failed = 1; return -1; }
    b->gfeat = gf;
    b->capg = cap;
    snprintf(b->gname[g], sizeof b->gname[g], "%s", name);
    b->gsize[g] = size;
    b->gfeat[g] = -1;
    b->ngroups++;
    return g;
}

/* a new zero tensor named "<mod>.<what>"; returns its index or -1 */
static int add_param(bld *b, const char *mod, const char *what, int ndim, const int64_t *size, int train)
{
    if (b->failed) return -1;
    llfc_net *net = b->net;
    int p = net->nparams;
    if (p + 1 > b->capp) {
        int cap = b->capp, c2 = b->capp, c3 = b->capp, c4 = b->capp;
        char **pn = grow(net->pname, &cap, p + 1, sizeof *net->pname);
        if (pn) net->pname = pn;
        llfc_tensor **pt = pn ? grow(net->param, &c2, p + 1, sizeof *net->param) : NULL;
        if (pt) net->param = pt;
        unsigned char *tr = pt ? grow(net->ptrain, &c3, p + 1, sizeof *net->ptrain) : NULL;
        if (tr) net->ptrain = tr;
        int(*ax)[LLFC_MAXDIM] = tr ? grow(b->axis, &c4, p + 1, sizeof *b->axis) : NULL;
        if (!ax) { b->failed = 1; return -1; }
        b->axis = ax;
        b->capp = cap;
    }
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= size[d]; /* sizes <= 2^24, ndim <= 4: no overflow */
    if ((b->total += numel) > MAXVALUES) {
        llfc_seterr("%s: more than 2^31 parameter values (%s.%s has %lld)", b->fn, mod, what, (long long)numel);
        b->failed = 1;
        return -1;
    }
    char name[96];
    snprintf(name, sizeof name, "%s.%s", mod, what);
    net->pname[p] = xstrdup(name);
    net->param[p] = net->pname[p] ? llfc_tensor_new(ndim, size) : NULL;
    if (!net->param[p]) {
        free(net->pname[p]);
        b->failed = 1;
        return -1;
    }
    net->ptrain[p] = (unsigned char)train;
    for (int d = 0; d < LLFC_MAXDIM; d++) b->axis[p][d] = -1;
    net->nparams++;
    return p;
}

/* a new op reading slot in; geometry of the input filled, output = input */
static llfc_op *add_op(bld *b, int kind, const char *name, int in)
{
    if (b->failed) return NULL;
    llfc_net *net = b->net;
    llfc_op *ops = grow(net->ops, &b->capops, net->nops + 1, sizeof *net->ops);
    if (!ops) { b->failed = 1; return NULL; }
    net->ops = ops;
    llfc_op *o = &ops[net->nops];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->in = in, o->in2 = -1, o->out = net->nops + 1;
    slot_geom(b, in, &o->C, &o->H, &o->W);
    o->K = o->C, o->P = o->H, o->Q = o->W;
    o->pw = o->pb = o->prm = o->prv = o->pnbt = -1;
    o->feat = -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    net->nops++;
    net->nslots = net->nops + 1;
    return o;
}

static int last_slot(const bld *b) { return b->net->nops; }

/* the output of the last op is the next feature layer, named fname */
static int add_feat(bld *b, const char *fname)
{
    if (b->failed) return -1;
    int nf = b->net->nfeat, cap = b->capf;
    int64_t *f = grow(b->featdim, &cap, nf + 1, sizeof *b->featdim);
    if (f) b->featdim = f;
    int *fo = f ? grow(b->featop, &b->capf, nf + 1, sizeof *b->featop) : NULL;
    if (!fo) { b->failed = 1; return -1; }
    b->featop = fo;
    llfc_op *o = &b->net->ops[b->net->nops - 1];
    f[nf] = (int64_t)o->K * o->P * o->Q;
    fo[nf] = b->net->nops - 1;
    o->feat = nf;
    snprintf(o->fname, sizeof o->fname, "%s", fname);
    return b->net->nfeat++;
}

/* conv R x R: K outputs; output channels in group gout, input in gin */
static int op_conv(bld *b, const char *name, int in, int K, int R, int stride, int pad, int bias, int gout, int gin)
{
    llfc_op *o = add_op(b, LLFC_OP_CONV, name, in);
    if (!o) return -1;
    o->K = K, o->R = R, o->stride = stride, o->pad = pad;
    o->P = (o->H + 2 * pad - R) / stride + 1;
    o->Q = (o->W + 2 * pad - R) / stride + 1;
    int64_t ws[4] = {K, o->C, R, R}, bs[1] = {K};
    int pw = add_param(b, name, "weight", 4, ws, 1);
    int pb = bias ? add_param(b, name, "bias", 1, bs, 1) : -1;
    if (b->failed) return -1;
    o = &b->net->ops[b->net->nops - 1];
    o->pw = pw, o->pb = pb;
    b->axis[pw][0] = gout, b->axis[pw][1] = gin;
    if (pb >= 0) b->axis[pb][0] = gout;
    return 0;
}

static int op_norm(bld *b, int norm, const char *name, int in, int g)
{
    llfc_op *o = add_op(b, norm == LLFC_NORM_BN ? LLFC_OP_BN : LLFC_OP_LN, name, in);
    if (!o) return -1;
    int64_t cs[1] = {o->C}, one[1] = {1};
    int pw = add_param(b, name, "weight", 1, cs, 1);
    int pb = add_param(b, name, "bias", 1, cs, 1);
    int prm = -1, prv = -1, pnbt = -1;
    if (norm == LLFC_NORM_BN) {
        prm = add_param(b, name, "running_mean", 1, cs, 0);
        prv = add_param(b, name, "running_var", 1, cs, 0);
        pnbt = add_param(b, name, "num_batches_tracked", 1, one, 0);
    }
    if (b->failed) return -1;
    o = &b->net->ops[b->net->nops - 1];
    o->pw = pw, o->pb = pb, o->prm = prm, o->prv = prv, o->pnbt = pnbt;
    b->axis[pw][0] = b->axis[pb][0] = g;
    if (prm >= 0) b->axis[prm][0] = b->axis[prv][0] = g;
    return 0;
}

/* an activation (LLFC_OP_RELU, TANH, IDENTITY) named mod whose output is
 * the feature layer fname; returns the feature index */
static int op_act(bld *b, int kind, const char *mod, const char *fname, int in)
{
    if (!add_op(b, kind, mod, in)) return -1;
    return add_feat(b, fname);
}

static int op_relu(bld *b, const char *name, int in) { return op_act(b, LLFC_OP_RELU, name, name, in); }

static int op_simple(bld *b, int kind, const char *name, int in)
{
    llfc_op *o = add_op(b, kind, name, in);
    if (!o) return -1;
    if (kind == LLFC_OP_MAXPOOL) o->R = 2, o->stride = 2, o->P = o->H / 2, o->Q = o->W / 2;
    if (kind == LLFC_OP_GAP) o->P = o->Q = 1;
    return 0;
}

static int op_add(bld *b, const char *name, int in, int in2)
{
    int C, H, W;
    slot_geom(b, in2, &C, &H, &W);
    llfc_op *o = add_op(b, LLFC_OP_ADD, name, in);
    if (!o) return -1;
    if (C != o->C || H != o->H || W != o->W) {
        b->failed = 1;
        return llfc_seterr("%s: residual sum of %dx%dx%d and %dx%dx%d", name, o->C, o->H, o->W, C, H, W);
    }
    o->in2 = in2;
    return 0;
}

/* a linear layer of K outputs; its output channels in group gout, its
 * inputs (all of them: C*H*W values) in gin */
static int op_linear(bld *b, const char *name, int in, int64_t K, int gout, int gin)
{
    llfc_op *o = add_op(b, LLFC_OP_LINEAR, name, in);
    if (!o) return -1;
    int64_t F = (int64_t)o->C * o->H * o->W;
    o->K = (int)K, o->P = o->Q = 1;
    int64_t ws[2] = {K, F}, bs[1] = {K};
    int pw = add_param(b, name, "weight", 2, ws, 1);
    int pb = add_param(b, name, "bias", 1, bs, 1);
    if (b->failed) return -1;
    o = &b->net->ops[b->net->nops - 1];
    o->pw = pw, o->pb = pb;
    b->axis[pw][0] = b->axis[pb][0] = gout;
    b->axis[pw][1] = gin;
    return 0;
}

/* ---- initialisation ------------------------------------------------------ */

static void fill(llfc_tensor *t, float v)
{
    float *d = llfc_tensor_data(t);
    for (int64_t i = 0, n = llfc_tensor_numel(t); i < n; i++) d[i] = v;
}

/* nn.Linear's default for weight and bias of a linear op */
static void init_linear_torch(llfc_net *net, const llfc_op *o, llfc_rng *rng)
{
    const llfc_tensor *W = net->param[o->pw];
    double bound = 1.0 / sqrt((double)W->size[1]);
    float *w = llfc_tensor_data(net->param[o->pw]), *bb = llfc_tensor_data(net->param[o->pb]);
    for (int64_t j = 0, n = llfc_tensor_numel(W); j < n; j++) w[j] = (float)((2.0 * llfc_rng_double(rng) - 1.0) * bound);
    for (int64_t j = 0; j < W->size[0]; j++) bb[j] = (float)((2.0 * llfc_rng_double(rng) - 1.0) * bound);
}

static void cnn_init(llfc_net *net, int unused, llfc_rng *rng)
{
    (void)unused;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        switch (o->kind) {
        case LLFC_OP_CONV: {
            /* kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            double sd = sqrt(2.0 / ((double)o->K * o->R * o->R));
            float *w = llfc_tensor_data(net->param[o->pw]);
            for (int64_t j = 0, n = llfc_tensor_numel(net->param[o->pw]); j < n; j++)
                w[j] = (float)(sd * llfc_rng_normal(rng));
            if (o->pb >= 0) fill(net->param[o->pb], 0.0f);
            break;
        }
        case LLFC_OP_BN:
        case LLFC_OP_LN:
            fill(net->param[o->pw], 1.0f);
            fill(net->param[o->pb], 0.0f);
            if (o->prm >= 0) fill(net->param[o->prm], 0.0f);
            if (o->prv >= 0) fill(net->param[o->prv], 1.0f);
            if (o->pnbt >= 0) fill(net->param[o->pnbt], 0.0f);
            break;
        case LLFC_OP_LINEAR:
            init_linear_torch(net, o, rng);
            break;
        default:
            break;
        }
    }
}

static void mlp_init(llfc_net *net, int init, llfc_rng *rng)
{
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if (o->kind != LLFC_OP_LINEAR) continue;
        if (init == LLFC_INIT_TORCH) {
            init_linear_torch(net, o, rng);
        } else {
            /* He normal: N(0, 2/fan_in), zero bias */
            const llfc_tensor *W = net->param[o->pw];
            double sd = sqrt(2.0 / (double)W->size[1]);
            float *w = llfc_tensor_data(net->param[o->pw]);
            for (int64_t j = 0, n = llfc_tensor_numel(W); j < n; j++) w[j] = (float)(sd * llfc_rng_normal(rng));
            fill(net->param[o->pb], 0.0f);
        }
    }
}

typedef void (*init_fn)(llfc_net *net, int how, llfc_rng *rng);

/* Move the builder's lists into the net (widths, features, permspec), set
 * the config text and initialise from seed. */
static llfc_net *bld_finish(bld *b, const char *config, init_fn init, int how, uint64_t seed)
{
    if (b->failed) { bld_free(b); return NULL; }
    llfc_net *net = b->net;
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if ((int64_t)o->K * o->P * o->Q > INT32_MAX) {
            llfc_seterr("%s: %s gives %dx%dx%d values per sample (more than 2^31)", b->fn, o->name, o->K, o->P, o->Q);
            goto fail;
        }
    }
    if (strlen(config) >= sizeof net->config) {
        llfc_seterr("%s: the description does not fit in %d characters", b->fn, (int)sizeof net->config - 1);
        goto fail;
    }
    strcpy(net->config, config);
    if (!(net->widths = llfc_mallocarray((size_t)net->nfeat + 1, sizeof *net->widths))) goto fail;
    net->widths[0] = (int64_t)net->c * net->h * net->w;
    memcpy(net->widths + 1, b->featdim, (size_t)net->nfeat * sizeof *b->featdim);
    net->featop = b->featop;
    b->featop = NULL;
    llfc_permspec *s = llfc_permspec_new(b->ngroups, net->nparams);
    if (!s) goto fail;
    net->spec = s;
    for (int g = 0; g < b->ngroups; g++) {
        if (!(s->gname[g] = xstrdup(b->gname[g]))) goto fail;
        s->gsize[g] = b->gsize[g];
        s->gfeat[g] = b->gfeat[g];
    }
    memcpy(s->axis, b->axis, (size_t)net->nparams * sizeof *s->axis);
    if (llfc_net_check(net)) goto fail;
    llfc_rng rng;
    llfc_rng_seed(&rng, seed);
    init(net, how, &rng);
    b->net = NULL;
    bld_free(b);
    return net;
fail:
    bld_free(b);
    return NULL;
}

static int check_input(const char *fn, int c, int h, int w, int64_t classes)
{
    if (c < 1 || h < 1 || w < 1 || c > MAXCHAN || h > MAXSIDE || w > MAXSIDE)
        return llfc_seterr("%s: input must be positive (channels <= %d, sides <= %d), got %dx%dx%d", fn, MAXCHAN,
                           MAXSIDE, c, h, w);
    if (classes < 1 || classes > MAXCHAN)
        return llfc_seterr("%s: classes must be in [1, %d], got %lld", fn, MAXCHAN, (long long)classes);
    return 0;
}

/* ---- MLP ------------------------------------------------------------------ */

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

#define MLP_MAXWIDTH (1 << 24)

llfc_net *llfc_mlp_new(int nwidths, const int64_t *widths, int act, int init, uint64_t seed)
{
    if (nwidths < 2) return llfc_seterr("an MLP needs at least 2 widths (input and output), got %d", nwidths), NULL;
    for (int i = 0; i < nwidths; i++)
        if (widths[i] < 1 || widths[i] > MLP_MAXWIDTH)
            return llfc_seterr("width %d must be between 1 and %d, got %lld", i + 1, MLP_MAXWIDTH, (long long)widths[i]),
                   NULL;
    if (act != LLFC_ACT_RELU && act != LLFC_ACT_IDENTITY && act != LLFC_ACT_TANH)
        return llfc_seterr("unknown activation %d", act), NULL;
    if (init != LLFC_INIT_TORCH && init != LLFC_INIT_KAIMING) return llfc_seterr("unknown init %d", init), NULL;
    char cfg[sizeof ((llfc_net *)0)->config];
    int len = snprintf(cfg, sizeof cfg, "mlp widths=");
    for (int i = 0; i < nwidths && len < (int)sizeof cfg; i++)
        len += snprintf(cfg + len, sizeof cfg - len, i ? ",%lld" : "%lld", (long long)widths[i]);
    if (len < (int)sizeof cfg)
        len += snprintf(cfg + len, sizeof cfg - len, " act=%s init=%s", llfc_act_name(act),
                        init == LLFC_INIT_TORCH ? "torch" : "kaiming");
    if (len >= (int)sizeof cfg)
        return llfc_seterr("mlp: %d widths do not fit the %d characters of a description", nwidths,
                           (int)sizeof cfg - 1), NULL;
    bld b;
    if (bld_init(&b, "mlp", (int)widths[0], 1, 1)) return NULL;
    int kind = act == LLFC_ACT_RELU ? LLFC_OP_RELU : act == LLFC_ACT_TANH ? LLFC_OP_TANH : LLFC_OP_IDENTITY;
    int L = nwidths - 1, gprev = -1;
    for (int l = 0; l < L && !b.failed; l++) {
        char mod[16], fname[16];
        snprintf(mod, sizeof mod, "%d", 2 * l);
        int g = -1;
        if (l < L - 1) {
            snprintf(fname, sizeof fname, "P%d", l + 1);
            g = add_group(&b, fname, widths[l + 1]);
        }
        op_linear(&b, mod, last_slot(&b), widths[l + 1], g, gprev);
        if (l < L - 1) {
            snprintf(mod, sizeof mod, "%d", 2 * l + 1);
            snprintf(fname, sizeof fname, "h%d", l + 1);
            int f = op_act(&b, kind, mod, fname, last_slot(&b));
            if (g >= 0) b.gfeat[g] = f;
        } else {
            add_feat(&b, "logits");
        }
        gprev = g;
    }
    return bld_finish(&b, cfg, mlp_init, init, seed);
}

/* ---- VGG ------------------------------------------------------------------ */

/* VGG from a layer list; depth_cfg: the config text of a depth-form net
 * (NULL: the layer list form) */
static llfc_net *vgg_make(int c, int h, int w, int nspec, const int *spec, int norm, int head, int64_t classes,
                          uint64_t seed, const char *depth_cfg)
{
    const char *fn = "vgg";
    if (check_input(fn, c, h, w, classes)) return NULL;
    if (norm != LLFC_NORM_NONE && norm != LLFC_NORM_BN && norm != LLFC_NORM_LN)
        return llfc_seterr("%s: unknown norm %d", fn, norm), NULL;
    if (head != LLFC_VGG_GAP && head != LLFC_VGG_FLATTEN) return llfc_seterr("%s: unknown head %d", fn, head), NULL;
    if (nspec < 1 || !spec) return llfc_seterr("%s: no layers", fn), NULL;
    for (int i = 0; i < nspec; i++) {
        if (spec[i] == -1) {
            if (i == 0 || spec[i - 1] == -1)
                return llfc_seterr("%s: layers[%d]: a max pool must follow a conv layer", fn, i + 1), NULL;
        } else if (spec[i] < 1 || spec[i] > MAXCHAN) {
            return llfc_seterr("%s: layers[%d]: %d channels (1 to %d, or -1 for a max pool)", fn, i + 1, spec[i],
                               MAXCHAN), NULL;
        }
    }
    /* the configuration text first: it must fit */
    char cfg[sizeof ((llfc_net *)0)->config];
    int len = snprintf(cfg, sizeof cfg, "vgg layers=");
    for (int i = 0; i < nspec && len < (int)sizeof cfg; i++) {
        if (spec[i] == -1) len += snprintf(cfg + len, sizeof cfg - len, i ? ",M" : "M");
        else len += snprintf(cfg + len, sizeof cfg - len, i ? ",%d" : "%d", spec[i]);
    }
    if (len < (int)sizeof cfg)
        len += snprintf(cfg + len, sizeof cfg - len, " norm=%s head=%s classes=%lld input=%d,%d,%d", norm_name(norm),
                        head == LLFC_VGG_GAP ? "gap" : "flatten", (long long)classes, c, h, w);
    if (len >= (int)sizeof cfg)
        return llfc_seterr("%s: %d layers do not fit the %d characters of a configuration", fn, nspec,
                           (int)sizeof cfg - 1), NULL;
    if (depth_cfg) snprintf(cfg, sizeof cfg, "%s", depth_cfg);

    bld b;
    if (bld_init(&b, fn, c, h, w)) return NULL;
    int idx = 0, k = 0, gprev = -1;
    char mod[48];
    for (int i = 0; i < nspec && !b.failed; i++) {
        int in = last_slot(&b);
        if (spec[i] == -1) {
            int C, H, W;
            slot_geom(&b, in, &C, &H, &W);
            if (H < 2 || W < 2) continue; /* the map is already too small: no pool */
            snprintf(mod, sizeof mod, "features.%d", idx++);
            op_simple(&b, LLFC_OP_MAXPOOL, mod, in);
            continue;
        }
        char gname[16], fname[16];
        k++;
        snprintf(gname, sizeof gname, "P%d", k);
        int g = add_group(&b, gname, spec[i]);
        snprintf(mod, sizeof mod, "features.%d", idx++);
        op_conv(&b, mod, in, spec[i], 3, 1, 1, 1, g, gprev);
        if (norm != LLFC_NORM_NONE) {
            snprintf(mod, sizeof mod, "features.%d", idx++);
            op_norm(&b, norm, mod, last_slot(&b), g);
        }
        snprintf(fname, sizeof fname, "h%d", k);
        int f = op_relu(&b, fname, last_slot(&b));
        idx++;
        if (g >= 0) b.gfeat[g] = f;
        gprev = g;
    }
    if (b.failed) { bld_free(&b); return NULL; }
    int in = last_slot(&b), C, H, W;
    slot_geom(&b, in, &C, &H, &W);
    if (head == LLFC_VGG_GAP) {
        op_simple(&b, LLFC_OP_GAP, "avgpool", in);
        in = last_slot(&b);
    } else if (H * W != 1 && gprev >= 0) {
        /* the classifier reads channels and positions mixed: the last
         * conv layer's channels cannot be permuted alone */
        int g = gprev;
        for (int p = 0; p < b.net->nparams; p++)
            for (int d = 0; d < LLFC_MAXDIM; d++)
                if (b.axis[p][d] == g) b.axis[p][d] = -1;
        b.ngroups--;
        gprev = -1;
    }
    op_linear(&b, "classifier", in, classes, -1, gprev);
    add_feat(&b, "logits");
    return bld_finish(&b, cfg, cnn_init, 0, seed);
}

static int vgg_depth_spec(int depth, double width, int *spec, int *nspec)
{
    const int *cfg;
    int n;
    if (depth == 11) cfg = cfg_a, n = (int)(sizeof cfg_a / sizeof *cfg_a);
    else if (depth == 13) cfg = cfg_b, n = (int)(sizeof cfg_b / sizeof *cfg_b);
    else if (depth == 16) cfg = cfg_d, n = (int)(sizeof cfg_d / sizeof *cfg_d);
    else return llfc_seterr("vgg: depth must be 11, 13 or 16, got %d", depth);
    if (!(width > 0) || width > 64) return llfc_seterr("vgg: width must be in (0, 64], got %g", width);
    for (int i = 0; i < n; i++) {
        if (cfg[i] < 0) { spec[i] = -1; continue; }
        double v = floor(cfg[i] * width + 0.5);
        spec[i] = v < 1 ? 1 : (int)v;
    }
    *nspec = n;
    return 0;
}

llfc_net *llfc_vgg_new(int c, int h, int w, int nspec, const int *spec, int norm, int head, int64_t classes,
                       uint64_t seed)
{
    return vgg_make(c, h, w, nspec, spec, norm, head, classes, seed, NULL);
}

llfc_net *llfc_vgg_depth_new(int c, int h, int w, int depth, double width, int norm, int head, int64_t classes,
                             uint64_t seed)
{
    int spec[32], nspec = 0;
    if (vgg_depth_spec(depth, width, spec, &nspec)) return NULL;
    char ws[32], cfg[sizeof ((llfc_net *)0)->config];
    snprintf(ws, sizeof ws, "%g", width);
    if (strtod(ws, NULL) != width) snprintf(ws, sizeof ws, "%.17g", width);
    snprintf(cfg, sizeof cfg, "vgg depth=%d width=%s norm=%s head=%s classes=%lld input=%d,%d,%d", depth, ws,
             norm_name(norm), head == LLFC_VGG_GAP ? "gap" : "flatten", (long long)classes, c, h, w);
    return vgg_make(c, h, w, nspec, spec, norm, head, classes, seed, cfg);
}

/* ---- ResNet-20 ------------------------------------------------------------ */

llfc_net *llfc_resnet20_new(int c, int h, int w, int width, int norm, int64_t classes, uint64_t seed)
{
    const char *fn = "resnet20";
    if (check_input(fn, c, h, w, classes)) return NULL;
    if (width < 1 || width > 64) return llfc_seterr("%s: width must be in [1, 64], got %d", fn, width), NULL;
    if (norm != LLFC_NORM_NONE && norm != LLFC_NORM_BN && norm != LLFC_NORM_LN)
        return llfc_seterr("%s: unknown norm %d", fn, norm), NULL;
    bld b;
    if (bld_init(&b, fn, c, h, w)) return NULL;
    char cfg[sizeof ((llfc_net *)0)->config];
    snprintf(cfg, sizeof cfg, "resnet20 width=%d norm=%s classes=%lld input=%d,%d,%d", width,
             norm_name(norm), (long long)classes, c, h, w);
    const char *nm = norm == LLFC_NORM_LN ? "ln" : "bn";
    int bias = norm == LLFC_NORM_NONE;
    char mod[48], mod2[48];
    int stream = add_group(&b, "S1", 16 * width);
    op_conv(&b, "conv1", 0, 16 * width, 3, 1, 1, bias, stream, -1);
    if (norm) snprintf(mod, sizeof mod, "%s1", nm), op_norm(&b, norm, mod, last_slot(&b), stream);
    op_relu(&b, "conv1", last_slot(&b));
    int planes_in = 16 * width;
    for (int s = 1; s <= 3; s++) {
        int planes = (16 << (s - 1)) * width;
        int instream = stream; /* the stream entering the stage */
        if (s > 1) {
            char sn[8];
            snprintf(sn, sizeof sn, "S%d", s);
            stream = add_group(&b, sn, planes);
        }
        for (int k = 0; k < 3 && !b.failed; k++) {
            int stride = s > 1 && k == 0 ? 2 : 1;
            int gin = k == 0 ? instream : stream;
            int x = last_slot(&b);
            char blk[24];
            snprintf(blk, sizeof blk, "layer%d.%d", s, k);
            int inner = add_group(&b, blk, planes);
            snprintf(mod, sizeof mod, "%s.conv1", blk);
            op_conv(&b, mod, x, planes, 3, stride, 1, bias, inner, gin);
            if (norm) snprintf(mod, sizeof mod, "%s.%s1", blk, nm), op_norm(&b, norm, mod, last_slot(&b), inner);
            snprintf(mod, sizeof mod, "%s.relu1", blk);
            int f = op_relu(&b, mod, last_slot(&b));
            if (inner >= 0) b.gfeat[inner] = f;
            snprintf(mod, sizeof mod, "%s.conv2", blk);
            op_conv(&b, mod, last_slot(&b), planes, 3, 1, 1, bias, stream, inner);
            if (norm) snprintf(mod, sizeof mod, "%s.%s2", blk, nm), op_norm(&b, norm, mod, last_slot(&b), stream);
            int main_out = last_slot(&b), sc = x;
            if (stride != 1 || planes_in != planes) {
                snprintf(mod, sizeof mod, "%s.shortcut.0", blk);
                op_conv(&b, mod, x, planes, 1, stride, 0, bias, stream, gin);
                if (norm) snprintf(mod2, sizeof mod2, "%s.shortcut.1", blk), op_norm(&b, norm, mod2, last_slot(&b), stream);
                sc = last_slot(&b);
            }
            snprintf(mod, sizeof mod, "%s.add", blk);
            op_add(&b, mod, main_out, sc);
            f = op_relu(&b, blk, last_slot(&b));
            if (stream >= 0 && k == 2) b.gfeat[stream] = f;
            planes_in = planes;
        }
    }
    if (!b.failed) op_simple(&b, LLFC_OP_GAP, "avgpool", last_slot(&b));
    if (!b.failed) op_linear(&b, "linear", last_slot(&b), classes, -1, stream);
    add_feat(&b, "logits");
    return bld_finish(&b, cfg, cnn_init, 0, seed);
}

/* ---- configuration text --------------------------------------------------- */

static int parse_int(const char *v, long lo, long hi, const char *key, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return llfc_seterr("config: %s=%s: want an integer in [%ld, %ld]", key, v, lo, hi);
    *out = x;
    return 0;
}

static int parse_norm(const char *v, int *norm)
{
    if (!strcmp(v, "bn")) *norm = LLFC_NORM_BN;
    else if (!strcmp(v, "ln")) *norm = LLFC_NORM_LN;
    else if (!strcmp(v, "none")) *norm = LLFC_NORM_NONE;
    else return llfc_seterr("config: norm=%s: want bn, ln or none", v);
    return 0;
}

/* "3,32,32" */
static int parse_input(const char *v, int in[3])
{
    char buf[64];
    if (strlen(v) >= sizeof buf) return llfc_seterr("config: input=%.20s...: too long", v);
    strcpy(buf, v);
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL)) return llfc_seterr("config: input=%s: want c,h,w", v);
        if (comma) *comma = 0;
        long x;
        if (parse_int(p, 1, i ? MAXSIDE : MAXCHAN, "input", &x)) return -1;
        in[i] = (int)x;
        p = comma ? comma + 1 : p;
    }
    return 0;
}

/* "64,M,128" -> spec */
static int parse_layers(const char *v, int *spec, int max, int *n)
{
    *n = 0;
    const char *p = v;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char tok[16];
        if (len == 0 || len >= sizeof tok) return llfc_seterr("config: layers=%s: bad entry %d", v, *n + 1);
        memcpy(tok, p, len);
        tok[len] = 0;
        if (*n >= max) return llfc_seterr("config: layers=%s: more than %d entries", v, max);
        if (!strcmp(tok, "M")) spec[(*n)++] = -1;
        else {
            long x;
            if (parse_int(tok, 1, MAXCHAN, "layers", &x)) return -1;
            spec[(*n)++] = (int)x;
        }
        if (!e) break;
        p = e + 1;
        if (!*p) return llfc_seterr("config: layers=%s: trailing comma", v);
    }
    if (*n == 0) return llfc_seterr("config: layers is empty");
    return 0;
}

/* "784,512,10" -> widths; returns the count or -1 */
static int parse_widths(const char *v, int64_t *w, int max)
{
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 1 || x > MLP_MAXWIDTH || n >= max || (*end && *end != ','))
            return llfc_seterr("widths=%.64s: want up to %d integers in [1, %d] separated by commas", v, max,
                               MLP_MAXWIDTH);
        w[n++] = x;
        if (!*end) break;
        p = end + 1;
        if (!*p) return llfc_seterr("widths=%.64s: trailing comma", v);
    }
    if (n < 2) return llfc_seterr("widths=%.64s: an MLP needs at least 2 widths", v);
    return n;
}

llfc_net *llfc_net_build(const char *config, uint64_t seed)
{
    if (!config) return llfc_seterr("config: none"), NULL;
    char buf[sizeof ((llfc_net *)0)->config];
    if (strlen(config) >= sizeof buf)
        return llfc_seterr("config: longer than %d characters", (int)sizeof buf - 1), NULL;
    strcpy(buf, config);
    char *save = NULL;
    char *fam = strtok_r(buf, " ", &save);
    if (!fam) return llfc_seterr("config: empty"), NULL;
    int vgg = !strcmp(fam, "vgg"), res = !strcmp(fam, "resnet20"), mlp = !strcmp(fam, "mlp");
    if (!vgg && !res && !mlp)
        return llfc_seterr("config: unknown family '%.32s' (mlp, vgg or resnet20)", fam), NULL;
    /* values; seen flags catch repeated keys */
    long depth = 0, classes = 10, rwidth = 1;
    double width = 1.0;
    int norm = res ? LLFC_NORM_BN : LLFC_NORM_NONE, head = LLFC_VGG_GAP, in[3] = {3, 32, 32};
    int spec[128], nspec = 0, act = LLFC_ACT_RELU, init = LLFC_INIT_TORCH, nw = 0;
    int64_t widths[1025];
    int seen_depth = 0, seen_layers = 0, seen_width = 0, seen_norm = 0, seen_head = 0, seen_classes = 0,
        seen_input = 0, seen_widths = 0, seen_act = 0, seen_init = 0;
    char *tok;
    while ((tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) return llfc_seterr("config: '%.32s' is not key=value", tok), NULL;
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        int *seen = NULL;
        if (mlp && !strcmp(k, "widths")) seen = &seen_widths;
        else if (mlp && !strcmp(k, "act")) seen = &seen_act;
        else if (mlp && !strcmp(k, "init")) seen = &seen_init;
        else if (!mlp && !strcmp(k, "norm")) seen = &seen_norm;
        else if (!mlp && !strcmp(k, "classes")) seen = &seen_classes;
        else if (!mlp && !strcmp(k, "input")) seen = &seen_input;
        else if (!mlp && !strcmp(k, "width")) seen = &seen_width;
        else if (vgg && !strcmp(k, "depth")) seen = &seen_depth;
        else if (vgg && !strcmp(k, "layers")) seen = &seen_layers;
        else if (vgg && !strcmp(k, "head")) seen = &seen_head;
        else return llfc_seterr("config: unknown key '%.32s' for %s", k, fam), NULL;
        if (*seen) return llfc_seterr("config: %s given twice", k), NULL;
        *seen = 1;
        long x;
        if (seen == &seen_widths) {
            if ((nw = parse_widths(v, widths, 1025)) < 0) return NULL;
        } else if (seen == &seen_act) {
            if ((act = llfc_act_from_name(v)) < 0)
                return llfc_seterr("config: act=%.32s: want relu, tanh or identity", v), NULL;
        } else if (seen == &seen_init) {
            if (!strcmp(v, "torch")) init = LLFC_INIT_TORCH;
            else if (!strcmp(v, "kaiming")) init = LLFC_INIT_KAIMING;
            else return llfc_seterr("config: init=%.32s: want torch or kaiming", v), NULL;
        } else if (seen == &seen_norm) {
            if (parse_norm(v, &norm)) return NULL;
        } else if (seen == &seen_classes) {
            if (parse_int(v, 1, MAXCHAN, k, &x)) return NULL;
            classes = x;
        } else if (seen == &seen_input) {
            if (parse_input(v, in)) return NULL;
        } else if (seen == &seen_width) {
            if (res) {
                if (parse_int(v, 1, 64, k, &rwidth)) return NULL;
            } else {
                char *end;
                width = strtod(v, &end);
                if (end == v || *end || !(width > 0) || width > 64)
                    return llfc_seterr("config: width=%.32s: want a number in (0, 64]", v), NULL;
            }
        } else if (seen == &seen_depth) {
            if (parse_int(v, 11, 16, k, &depth)) return NULL;
        } else if (seen == &seen_layers) {
            if (parse_layers(v, spec, (int)(sizeof spec / sizeof *spec), &nspec)) return NULL;
        } else if (seen == &seen_head) {
            if (!strcmp(v, "gap")) head = LLFC_VGG_GAP;
            else if (!strcmp(v, "flatten")) head = LLFC_VGG_FLATTEN;
            else return llfc_seterr("config: head=%.32s: want gap or flatten", v), NULL;
        }
    }
    if (mlp) {
        if (!seen_widths) return llfc_seterr("config: mlp needs widths"), NULL;
        return llfc_mlp_new(nw, widths, act, init, seed);
    }
    if (res) return llfc_resnet20_new(in[0], in[1], in[2], (int)rwidth, norm, classes, seed);
    if (seen_depth == seen_layers) return llfc_seterr("config: vgg needs depth or layers (one of them)"), NULL;
    if (seen_layers && seen_width) return llfc_seterr("config: vgg: width goes with depth, not layers"), NULL;
    if (seen_depth) return llfc_vgg_depth_new(in[0], in[1], in[2], (int)depth, width, norm, head, classes, seed);
    return llfc_vgg_new(in[0], in[1], in[2], nspec, spec, norm, head, classes, seed);
}

llfc_net *llfc_net_like(const llfc_net *tmpl, uint64_t seed) { return llfc_net_build(tmpl->config, seed); }

const char *llfc_net_family(const llfc_net *net, char *buf, size_t n)
{
    size_t k = strcspn(net->config, " ");
    snprintf(buf, n, "%.*s", (int)k, net->config);
    return buf;
}

const char *llfc_net_arch(const llfc_net *net) { return strncmp(net->config, "mlp ", 4) ? "cnn" : "mlp"; }

static int act_of_op(int kind)
{
    return kind == LLFC_OP_TANH ? LLFC_ACT_TANH : kind == LLFC_OP_IDENTITY ? LLFC_ACT_IDENTITY : LLFC_ACT_RELU;
}

const char *llfc_net_act(const llfc_net *net)
{
    if (net->nfeat > 1) return llfc_act_name(act_of_op(net->ops[net->featop[0]].kind));
    /* no hidden layer: the activation the config names */
    const char *a = strstr(net->config, " act=");
    char word[16] = "relu";
    if (a) snprintf(word, sizeof word, "%.*s", (int)strcspn(a + 5, " "), a + 5);
    return llfc_act_name(llfc_act_from_name(word) < 0 ? LLFC_ACT_RELU : llfc_act_from_name(word));
}

const char *llfc_net_title(const llfc_net *net, char *buf, size_t n)
{
    if (strcmp(llfc_net_arch(net), "mlp")) {
        snprintf(buf, n, "cnn: %s", net->config);
        return buf;
    }
    size_t len = (size_t)snprintf(buf, n, "mlp ");
    for (int l = 0; l <= net->nfeat && len < n; l++)
        len += (size_t)snprintf(buf + len, n - len, l ? "-%lld" : "%lld", (long long)net->widths[l]);
    if (len < n) snprintf(buf + len, n - len, " (%s)", llfc_net_act(net));
    return buf;
}

/* ---- what model files need -------------------------------------------------- */

int llfc_net_file_meta(const llfc_net *net, const char **keys, const char **vals, char *buf, size_t nbuf, int max)
{
    int n = 0;
    if (max < 3) return 0;
    if (strcmp(llfc_net_arch(net), "mlp")) {
        keys[n] = "arch", vals[n++] = "cnn";
        return n;
    }
    /* an MLP: the keys every version of llfc reads */
    size_t len = 0;
    buf[0] = 0;
    for (int l = 0; l <= net->nfeat && len < nbuf; l++)
        len += (size_t)snprintf(buf + len, nbuf - len, l ? ",%lld" : "%lld", (long long)net->widths[l]);
    if (len >= nbuf) return llfc_seterr("too many layers to describe"), -1;
    keys[n] = "arch", vals[n++] = "mlp";
    keys[n] = "widths", vals[n++] = buf;
    keys[n] = "act", vals[n++] = llfc_net_act(net);
    return n;
}

int llfc_net_file_config(const char *(*meta)(void *ud, const char *key),
                         const llfc_tensor *(*shape)(void *ud, const char *name), void *ud, char *config, size_t n)
{
    const char *arch = meta(ud, "arch"), *cfg = meta(ud, "config");
    if (arch && strcmp(arch, "mlp") && strcmp(arch, "cnn"))
        return llfc_seterr("architecture '%.32s' is not supported (mlp, cnn)", arch);
    if (cfg) {
        if (strlen(cfg) >= n) return llfc_seterr("the config in the metadata is longer than %d characters", (int)n - 1);
        strcpy(config, cfg);
        return 0;
    }
    if (arch && !strcmp(arch, "cnn")) return llfc_seterr("a cnn file needs a config in the metadata");
    const char *acts = meta(ud, "act");
    int act = acts ? llfc_act_from_name(acts) : LLFC_ACT_RELU;
    if (act < 0) return llfc_seterr("unknown activation '%.32s' in the metadata", acts);
    /* layers from the tensor names 0.weight, 0.bias, 2.weight, ... */
    int L = 0;
    int64_t widths[1025];
    for (;;) {
        char wn[32], bn[32], sh[64];
        snprintf(wn, sizeof wn, "%d.weight", 2 * L);
        snprintf(bn, sizeof bn, "%d.bias", 2 * L);
        const llfc_tensor *W = shape(ud, wn), *B = shape(ud, bn);
        if (!W && !B) break;
        if (!W || !B) return llfc_seterr("'%s' without '%s'", W ? wn : bn, W ? bn : wn);
        if (W->ndim != 2) return llfc_seterr("'%s' must be 2-d [out, in], got %s", wn, llfc_tensor_shape_str(W, sh, sizeof sh));
        if (B->ndim != 1 || B->size[0] != W->size[0])
            return llfc_seterr("'%s' must be [%lld] to match '%s', got %s", bn, (long long)W->size[0], wn,
                               llfc_tensor_shape_str(B, sh, sizeof sh));
        if (L == 0) widths[0] = W->size[1];
        else if (W->size[1] != widths[L])
            return llfc_seterr("'%s' takes %lld inputs but the previous layer has %lld outputs", wn,
                               (long long)W->size[1], (long long)widths[L]);
        widths[L + 1] = W->size[0];
        if (++L >= 1024) return llfc_seterr("too many layers");
    }
    if (L == 0) return llfc_seterr("no '0.weight' tensor: not an MLP state_dict");
    const char *ws = meta(ud, "widths");
    if (ws) {
        int64_t mw[1025];
        int nm = parse_widths(ws, mw, 1025);
        if (nm < 0) return llfc_seterr("bad widths '%.64s' in the metadata", ws);
        if (nm != L + 1) return llfc_seterr("the metadata says widths %.64s but the tensors have %d layers", ws, L);
        for (int i = 0; i < nm; i++)
            if (mw[i] != widths[i])
                return llfc_seterr("the metadata says widths %.64s but width %d is %lld in the tensors", ws, i + 1,
                                   (long long)widths[i]);
    }
    size_t len = (size_t)snprintf(config, n, "mlp widths=");
    for (int i = 0; i <= L && len < n; i++)
        len += (size_t)snprintf(config + len, n - len, i ? ",%lld" : "%lld", (long long)widths[i]);
    if (len < n) len += (size_t)snprintf(config + len, n - len, " act=%s init=torch", llfc_act_name(act));
    if (len >= n) return llfc_seterr("too many layers (%d) to describe", L);
    return 0;
}
