/* nn_cnn_build.c - builders of conv and residual networks (nn_cnn.h): VGG
 * (torchvision configurations A, B, D or a custom list) and the CIFAR
 * ResNet-20, with PyTorch state_dict names, initialisation, feature layers,
 * permutation specs and the configuration text that rebuilds them.
 *
 * Names (what scripts/torch_cnn.py's modules give in state_dict()):
 *   VGG     features.<i>.weight|bias  for the i-th module of one Sequential
 *           [Conv2d 3x3 pad 1 (bias), (BatchNorm2d | LayerNorm2d), ReLU,
 *           (MaxPool2d 2)] ...; classifier.weight|bias.  A max pool on a map
 *           smaller than 2x2 is left out (and takes no index).
 *   ResNet  conv1, bn1|ln1, layer<s>.<b>.conv1|bn1|conv2|bn2,
 *           layer<s>.<b>.shortcut.0 (conv 1x1) and .shortcut.1 (its norm)
 *           where the shape changes, linear.  Convs have a bias only without
 *           a norm.
 * Initialisation (as torchvision's VGG and ResNet): conv weights
 * kaiming_normal_(mode="fan_out", nonlinearity="relu"), i.e. N(0, 2/(K*R*R)),
 * conv biases 0; norm weights 1, biases 0; running_mean 0, running_var 1,
 * num_batches_tracked 0; the classifier as PyTorch's nn.Linear default
 * (kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the
 * same bound).  Random numbers come from llfc_rng seeded by the seed, drawn
 * op by op in op order (weight before bias).
 *
 * Configuration text (llfc_cnn.config), space-separated key=value after the
 * family:
 *   vgg layers=64,M,128,M norm=bn head=gap classes=10 input=3,32,32
 *   vgg depth=11 width=0.5 norm=ln head=gap classes=10 input=1,28,28
 *   resnet20 width=4 norm=bn classes=10 input=3,32,32
 */
#include "nn/nn_cnn.h"

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
    llfc_cnn *cnn;
    int capops, capp, capf, capg;
    int (*axis)[LLFC_MAXDIM]; /* per param, as llfc_permspec */
    int nfeat;
    int64_t *featdim;
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

static int bld_init(bld *b, int family, int norm, int c, int h, int w)
{
    memset(b, 0, sizeof *b);
    b->net = llfc_calloc(1, sizeof *b->net);
    b->cnn = llfc_calloc(1, sizeof *b->cnn);
    if (!b->net || !b->cnn) { free(b->net), free(b->cnn); return -1; }
    b->net->arch = LLFC_ARCH_CNN;
    b->net->act = LLFC_ACT_RELU;
    b->net->cnn = b->cnn;
    b->cnn->family = family;
    b->cnn->norm = norm;
    b->cnn->c = c, b->cnn->h = h, b->cnn->w = w;
    b->cnn->bn_eps = 1e-5f, b->cnn->bn_momentum = 0.1f, b->cnn->ln_eps = 1e-5f;
    return 0;
}

/* Free everything, whether or not llfc_net_free knows about net->cnn. */
static void free_cnn_net(llfc_net *net)
{
    if (!net) return;
    if (net->cnn) free(net->cnn->ops);
    free(net->cnn);
    free(net->ptrain);
    net->cnn = NULL, net->ptrain = NULL;
    llfc_net_free(net);
}

static void bld_free(bld *b)
{
    free(b->axis), free(b->featdim), free(b->gname), free(b->gsize), free(b->gfeat);
    if (b->net) free_cnn_net(b->net);
    b->net = NULL;
}

static void slot_geom(const bld *b, int s, int *C, int *H, int *W)
{
    if (s == 0) { *C = b->cnn->c, *H = b->cnn->h, *W = b->cnn->w; return; }
    const llfc_op *o = &b->cnn->ops[s - 1];
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
    for (int d = 0; d < ndim; d++) numel *= size[d]; /* sizes <= 2^20, ndim <= 4: no overflow */
    if ((b->total += numel) > MAXVALUES) {
        llfc_seterr("%s: more than 2^31 parameter values (%s.%s has %lld)", b->cnn->family == LLFC_CNN_VGG ? "vgg" : "resnet20",
                    mod, what, (long long)numel);
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
    llfc_cnn *cnn = b->cnn;
    llfc_op *ops = grow(cnn->ops, &b->capops, cnn->nops + 1, sizeof *cnn->ops);
    if (!ops) { b->failed = 1; return NULL; }
    cnn->ops = ops;
    llfc_op *o = &ops[cnn->nops];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->in = in, o->in2 = -1, o->out = cnn->nops + 1;
    slot_geom(b, in, &o->C, &o->H, &o->W);
    o->K = o->C, o->P = o->H, o->Q = o->W;
    o->pw = o->pb = o->prm = o->prv = o->pnbt = -1;
    o->feat = -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    cnn->nops++;
    cnn->nslots = cnn->nops + 1;
    return o;
}

static int last_slot(const bld *b) { return b->cnn->nops; }

static int add_feat(bld *b, int64_t dim)
{
    if (b->failed) return -1;
    int64_t *f = grow(b->featdim, &b->capf, b->nfeat + 1, sizeof *b->featdim);
    if (!f) { b->failed = 1; return -1; }
    b->featdim = f;
    f[b->nfeat] = dim;
    return b->nfeat++;
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
    o = &b->cnn->ops[b->cnn->nops - 1]; /* (add_param does not move ops, but keep it plain) */
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
    o = &b->cnn->ops[b->cnn->nops - 1];
    o->pw = pw, o->pb = pb, o->prm = prm, o->prv = prv, o->pnbt = pnbt;
    b->axis[pw][0] = b->axis[pb][0] = g;
    if (prm >= 0) b->axis[prm][0] = b->axis[prv][0] = g;
    return 0;
}

/* a ReLU whose output is feature layer `name`; returns the feature index */
static int op_relu(bld *b, const char *name, int in)
{
    llfc_op *o = add_op(b, LLFC_OP_RELU, name, in);
    if (!o) return -1;
    int64_t dim = (int64_t)o->C * o->H * o->W;
    int f = add_feat(b, dim);
    if (f < 0) return -1;
    b->cnn->ops[b->cnn->nops - 1].feat = f;
    return f;
}

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

static int op_linear(bld *b, const char *name, int in, int64_t classes, int gin)
{
    llfc_op *o = add_op(b, LLFC_OP_LINEAR, name, in);
    if (!o) return -1;
    int64_t F = (int64_t)o->C * o->H * o->W;
    o->K = (int)classes, o->P = o->Q = 1;
    int64_t ws[2] = {classes, F}, bs[1] = {classes};
    int pw = add_param(b, name, "weight", 2, ws, 1);
    int pb = add_param(b, name, "bias", 1, bs, 1);
    int f = add_feat(b, classes);
    if (b->failed || f < 0) return -1;
    o = &b->cnn->ops[b->cnn->nops - 1];
    o->pw = pw, o->pb = pb, o->feat = f;
    b->axis[pw][1] = gin;
    return 0;
}

/* ---- initialisation ------------------------------------------------------ */

static void fill(llfc_tensor *t, float v)
{
    float *d = llfc_tensor_data(t);
    for (int64_t i = 0, n = llfc_tensor_numel(t); i < n; i++) d[i] = v;
}

static void cnn_init(llfc_net *net, uint64_t seed)
{
    llfc_rng rng;
    llfc_rng_seed(&rng, seed);
    const llfc_cnn *cnn = net->cnn;
    for (int i = 0; i < cnn->nops; i++) {
        const llfc_op *o = &cnn->ops[i];
        switch (o->kind) {
        case LLFC_OP_CONV: {
            /* kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            double sd = sqrt(2.0 / ((double)o->K * o->R * o->R));
            float *w = llfc_tensor_data(net->param[o->pw]);
            for (int64_t j = 0, n = llfc_tensor_numel(net->param[o->pw]); j < n; j++)
                w[j] = (float)(sd * llfc_rng_normal(&rng));
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
        case LLFC_OP_LINEAR: {
            const llfc_tensor *W = net->param[o->pw];
            double bound = 1.0 / sqrt((double)W->size[1]);
            float *w = llfc_tensor_data(net->param[o->pw]), *bb = llfc_tensor_data(net->param[o->pb]);
            for (int64_t j = 0, n = llfc_tensor_numel(W); j < n; j++)
                w[j] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
            for (int64_t j = 0; j < W->size[0]; j++) bb[j] = (float)((2.0 * llfc_rng_double(&rng) - 1.0) * bound);
            break;
        }
        default:
            break;
        }
    }
}

/* Move the builder's lists into the net: widths, nlayers, permspec, init. */
static llfc_net *bld_finish(bld *b, uint64_t seed)
{
    if (b->failed) { bld_free(b); return NULL; }
    llfc_net *net = b->net;
    for (int i = 0; i < b->cnn->nops; i++) {
        const llfc_op *o = &b->cnn->ops[i];
        if ((int64_t)o->K * o->P * o->Q > INT32_MAX) {
            llfc_seterr("%s: %s gives %dx%dx%d values per sample (more than 2^31)",
                        b->cnn->family == LLFC_CNN_VGG ? "vgg" : "resnet20", o->name, o->K, o->P, o->Q);
            goto fail;
        }
    }
    net->nlayers = b->nfeat;
    if (!(net->widths = llfc_mallocarray((size_t)b->nfeat + 1, sizeof *net->widths))) goto fail;
    net->widths[0] = (int64_t)b->cnn->c * b->cnn->h * b->cnn->w;
    memcpy(net->widths + 1, b->featdim, (size_t)b->nfeat * sizeof *b->featdim);
    llfc_permspec *s = llfc_permspec_new(b->ngroups, net->nparams);
    if (!s) goto fail;
    net->spec = s;
    for (int g = 0; g < b->ngroups; g++) {
        if (!(s->gname[g] = xstrdup(b->gname[g]))) goto fail;
        s->gsize[g] = b->gsize[g];
        s->gfeat[g] = b->gfeat[g];
    }
    memcpy(s->axis, b->axis, (size_t)net->nparams * sizeof *s->axis);
    cnn_init(net, seed);
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

/* ---- VGG ------------------------------------------------------------------ */

llfc_net *llfc_cnn_vgg(int c, int h, int w, int nspec, const int *spec, int norm, int head, int64_t classes,
                       uint64_t seed)
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
    char cfg[sizeof ((llfc_cnn *)0)->config];
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

    bld b;
    if (bld_init(&b, LLFC_CNN_VGG, norm, c, h, w)) return NULL;
    memcpy(b.cnn->config, cfg, sizeof cfg);
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
    op_linear(&b, "classifier", in, classes, gprev);
    return bld_finish(&b, seed);
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

/* ---- ResNet-20 ------------------------------------------------------------ */

llfc_net *llfc_cnn_resnet20(int c, int h, int w, int width, int norm, int64_t classes, uint64_t seed)
{
    const char *fn = "resnet20";
    if (check_input(fn, c, h, w, classes)) return NULL;
    if (width < 1 || width > 64) return llfc_seterr("%s: width must be in [1, 64], got %d", fn, width), NULL;
    if (norm != LLFC_NORM_NONE && norm != LLFC_NORM_BN && norm != LLFC_NORM_LN)
        return llfc_seterr("%s: unknown norm %d", fn, norm), NULL;
    bld b;
    if (bld_init(&b, LLFC_CNN_RESNET, norm, c, h, w)) return NULL;
    snprintf(b.cnn->config, sizeof b.cnn->config, "resnet20 width=%d norm=%s classes=%lld input=%d,%d,%d", width,
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
    if (!b.failed) op_linear(&b, "linear", last_slot(&b), classes, stream);
    return bld_finish(&b, seed);
}

/* ---- configuration text --------------------------------------------------- */

static int parse_int(const char *v, long lo, long hi, const char *key, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return llfc_seterr("cnn config: %s=%s: want an integer in [%ld, %ld]", key, v, lo, hi);
    *out = x;
    return 0;
}

static int parse_norm(const char *v, int *norm)
{
    if (!strcmp(v, "bn")) *norm = LLFC_NORM_BN;
    else if (!strcmp(v, "ln")) *norm = LLFC_NORM_LN;
    else if (!strcmp(v, "none")) *norm = LLFC_NORM_NONE;
    else return llfc_seterr("cnn config: norm=%s: want bn, ln or none", v);
    return 0;
}

/* "3,32,32" */
static int parse_input(const char *v, int in[3])
{
    char buf[64];
    if (strlen(v) >= sizeof buf) return llfc_seterr("cnn config: input=%.20s...: too long", v);
    strcpy(buf, v);
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL)) return llfc_seterr("cnn config: input=%s: want c,h,w", v);
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
        if (len == 0 || len >= sizeof tok) return llfc_seterr("cnn config: layers=%s: bad entry %d", v, *n + 1);
        memcpy(tok, p, len);
        tok[len] = 0;
        if (*n >= max) return llfc_seterr("cnn config: layers=%s: more than %d entries", v, max);
        if (!strcmp(tok, "M")) spec[(*n)++] = -1;
        else {
            long x;
            if (parse_int(tok, 1, MAXCHAN, "layers", &x)) return -1;
            spec[(*n)++] = (int)x;
        }
        if (!e) break;
        p = e + 1;
        if (!*p) return llfc_seterr("cnn config: layers=%s: trailing comma", v);
    }
    if (*n == 0) return llfc_seterr("cnn config: layers is empty");
    return 0;
}

llfc_net *llfc_cnn_build(const char *config, uint64_t seed)
{
    if (!config) return llfc_seterr("cnn config: none"), NULL;
    char buf[sizeof ((llfc_cnn *)0)->config];
    if (strlen(config) >= sizeof buf)
        return llfc_seterr("cnn config: longer than %d characters", (int)sizeof buf - 1), NULL;
    strcpy(buf, config);
    char *save = NULL;
    char *fam = strtok_r(buf, " ", &save);
    if (!fam) return llfc_seterr("cnn config: empty"), NULL;
    int vgg = !strcmp(fam, "vgg"), res = !strcmp(fam, "resnet20");
    if (!vgg && !res) return llfc_seterr("cnn config: unknown family '%.32s' (vgg or resnet20)", fam), NULL;
    /* values; seen flags catch repeated keys */
    long depth = 0, classes = 10, rwidth = 1;
    double width = 1.0;
    int norm = res ? LLFC_NORM_BN : LLFC_NORM_NONE, head = LLFC_VGG_GAP, in[3] = {3, 32, 32};
    int spec[128], nspec = 0;
    int seen_depth = 0, seen_layers = 0, seen_width = 0, seen_norm = 0, seen_head = 0, seen_classes = 0,
        seen_input = 0;
    char *tok;
    while ((tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) return llfc_seterr("cnn config: '%.32s' is not key=value", tok), NULL;
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        int *seen = NULL;
        if (!strcmp(k, "norm")) seen = &seen_norm;
        else if (!strcmp(k, "classes")) seen = &seen_classes;
        else if (!strcmp(k, "input")) seen = &seen_input;
        else if (!strcmp(k, "width")) seen = &seen_width;
        else if (vgg && !strcmp(k, "depth")) seen = &seen_depth;
        else if (vgg && !strcmp(k, "layers")) seen = &seen_layers;
        else if (vgg && !strcmp(k, "head")) seen = &seen_head;
        else return llfc_seterr("cnn config: unknown key '%.32s' for %s", k, fam), NULL;
        if (*seen) return llfc_seterr("cnn config: %s given twice", k), NULL;
        *seen = 1;
        long x;
        if (seen == &seen_norm) {
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
                    return llfc_seterr("cnn config: width=%.32s: want a number in (0, 64]", v), NULL;
            }
        } else if (seen == &seen_depth) {
            if (parse_int(v, 11, 16, k, &depth)) return NULL;
        } else if (seen == &seen_layers) {
            if (parse_layers(v, spec, (int)(sizeof spec / sizeof *spec), &nspec)) return NULL;
        } else if (seen == &seen_head) {
            if (!strcmp(v, "gap")) head = LLFC_VGG_GAP;
            else if (!strcmp(v, "flatten")) head = LLFC_VGG_FLATTEN;
            else return llfc_seterr("cnn config: head=%.32s: want gap or flatten", v), NULL;
        }
    }
    if (res) return llfc_cnn_resnet20(in[0], in[1], in[2], (int)rwidth, norm, classes, seed);
    if (seen_depth == seen_layers) return llfc_seterr("cnn config: vgg needs depth or layers (one of them)"), NULL;
    if (seen_layers && seen_width) return llfc_seterr("cnn config: vgg: width goes with depth, not layers"), NULL;
    if (seen_depth && vgg_depth_spec((int)depth, width, spec, &nspec)) return NULL;
    llfc_net *net = llfc_cnn_vgg(in[0], in[1], in[2], nspec, spec, norm, head, classes, seed);
    if (net && seen_depth) {
        char ws[32];
        snprintf(ws, sizeof ws, "%g", width);
        if (strtod(ws, NULL) != width) snprintf(ws, sizeof ws, "%.17g", width);
        snprintf(net->cnn->config, sizeof net->cnn->config,
                 "vgg depth=%ld width=%s norm=%s head=%s classes=%ld input=%d,%d,%d", depth, ws, norm_name(norm),
                 head == LLFC_VGG_GAP ? "gap" : "flatten", classes, in[0], in[1], in[2]);
    }
    return net;
}

llfc_net *llfc_cnn_from_config(const char *config) { return llfc_cnn_build(config, 1); }

llfc_net *llfc_cnn_like(const llfc_net *tmpl, uint64_t seed)
{
    if (!tmpl || tmpl->arch != LLFC_ARCH_CNN || !tmpl->cnn) return llfc_seterr("cnn_like: not a conv net"), NULL;
    return llfc_cnn_build(tmpl->cnn->config, seed);
}
