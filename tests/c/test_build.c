/* test_build.c - the builders (MLP, VGG, ResNet-20): PyTorch names, shapes
 * and parameter counts (checked against totals computed here by hand),
 * op lists, feature layers, permutation specs, initialisation, the
 * configuration text and its parser. */
#include "check.h"
#include "nn/build.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void net_free(llfc_net *net)
{
    llfc_net_free(net); /* frees net->cnn and net->ptrain */
}

static int find(const llfc_net *net, const char *name)
{
    for (int p = 0; p < net->nparams; p++)
        if (!strcmp(net->pname[p], name)) return p;
    return -1;
}

static int64_t trainable(const llfc_net *net)
{
    int64_t n = 0;
    for (int p = 0; p < net->nparams; p++)
        if (net->ptrain[p]) n += llfc_tensor_numel(net->param[p]);
    return n;
}

/* shape of a named parameter as "a,b,c,d" ("" if missing) */
static const char *shape(const llfc_net *net, const char *name)
{
    static char buf[64];
    buf[0] = 0;
    int p = find(net, name);
    if (p < 0) return "(missing)";
    int len = 0;
    for (int d = 0; d < net->param[p]->ndim; d++)
        len += snprintf(buf + len, sizeof buf - len, d ? ",%lld" : "%lld", (long long)net->param[p]->size[d]);
    return buf;
}

/* op list structure: slots chain, geometry of each input matches its slot */
static int ops_consistent(const llfc_net *net, char *why, size_t n)
{
    const llfc_net *c = net;
    if (c->nslots != c->nops + 1) return snprintf(why, n, "nslots %d nops %d", c->nslots, c->nops), 0;
    int feats = 0;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->out != i + 1 || o->in < 0 || o->in > i) return snprintf(why, n, "op %d slots", i), 0;
        if ((o->kind == LLFC_OP_ADD) != (o->in2 >= 0) || o->in2 > i) return snprintf(why, n, "op %d in2", i), 0;
        int C = c->c, H = c->h, W = c->w;
        if (o->in > 0) C = c->ops[o->in - 1].K, H = c->ops[o->in - 1].P, W = c->ops[o->in - 1].Q;
        if (o->C != C || o->H != H || o->W != W) return snprintf(why, n, "op %d (%s) input geometry", i, o->name), 0;
        if (o->in2 > 0) {
            const llfc_op *s = &c->ops[o->in2 - 1];
            if (s->K != C || s->P != H || s->Q != W) return snprintf(why, n, "op %d add geometry", i), 0;
        }
        if (o->kind == LLFC_OP_CONV) {
            const llfc_tensor *w = net->param[o->pw];
            if (w->size[0] != o->K || w->size[1] != o->C || w->size[2] != o->R || w->size[3] != o->R)
                return snprintf(why, n, "op %d weight shape", i), 0;
            if (o->P != (o->H + 2 * o->pad - o->R) / o->stride + 1) return snprintf(why, n, "op %d conv P", i), 0;
        }
        if (o->kind == LLFC_OP_RELU || o->kind == LLFC_OP_LINEAR) {
            if (o->feat != feats) return snprintf(why, n, "op %d feat %d, want %d", i, o->feat, feats), 0;
            if (net->widths[feats + 1] != (int64_t)o->K * o->P * o->Q) return snprintf(why, n, "op %d width", i), 0;
            feats++;
        } else if (o->feat != -1) return snprintf(why, n, "op %d has feat", i), 0;
    }
    if (feats != net->nfeat) return snprintf(why, n, "%d features, nlayers %d", feats, net->nfeat), 0;
    if (c->ops[c->nops - 1].kind != LLFC_OP_LINEAR) return snprintf(why, n, "last op not linear"), 0;
    return 1;
}

/* every axis with a group has the group's size; every group permutes some
 * output axis (0) and some input axis (1) (or feeds nothing: the logits);
 * gfeat names a feature whose op has gsize channels */
static int spec_consistent(const llfc_net *net, char *why, size_t n)
{
    const llfc_permspec *s = net->spec;
    if (s->nparams != net->nparams) return snprintf(why, n, "spec nparams"), 0;
    for (int g = 0; g < s->ngroups; g++) {
        int out = 0, in = 0;
        for (int p = 0; p < net->nparams; p++)
            for (int d = 0; d < LLFC_MAXDIM; d++) {
                if (s->axis[p][d] != g) continue;
                if (d >= net->param[p]->ndim || net->param[p]->size[d] != s->gsize[g])
                    return snprintf(why, n, "%s axis %d vs group %s", net->pname[p], d, s->gname[g]), 0;
                if (d == 0) out++;
                if (d == 1) in++;
            }
        if (!out || !in) return snprintf(why, n, "group %s unused (out %d in %d)", s->gname[g], out, in), 0;
        int f = s->gfeat[g], found = 0;
        for (int i = 0; i < net->nops; i++)
            if (net->ops[i].kind == LLFC_OP_RELU && net->ops[i].feat == f && f >= 0)
                found = net->ops[i].K == s->gsize[g];
        if (!found) return snprintf(why, n, "group %s gfeat %d", s->gname[g], f), 0;
    }
    return 1;
}

static const char *group_of(const llfc_net *net, const char *pname, int d)
{
    int p = find(net, pname);
    if (p < 0) return "(missing)";
    int g = net->spec->axis[p][d];
    return g < 0 ? "-" : net->spec->gname[g];
}

static int op_named(const llfc_net *net, const char *name)
{
    for (int i = 0; i < net->nops; i++)
        if (!strcmp(net->ops[i].name, name)) return i;
    return -1;
}

/* ---- ResNet-20 --------------------------------------------------------------- */

/* trainable parameter count written out stage by stage */
static int64_t resnet_count(int64_t k, int norm, int64_t cin, int64_t classes)
{
    int64_t w[3] = {16 * k, 32 * k, 64 * k};
    int64_t nrm = norm ? 2 : 0, bias = norm ? 0 : 1;
    int64_t n = w[0] * cin * 9 + bias * w[0] + nrm * w[0]; /* stem */
    int64_t prev = w[0];
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < 3; b++) {
            int64_t in = b ? w[s] : prev;
            n += w[s] * in * 9 + bias * w[s] + nrm * w[s];   /* conv1, norm1 */
            n += w[s] * w[s] * 9 + bias * w[s] + nrm * w[s]; /* conv2, norm2 */
            if (in != w[s]) n += w[s] * in + bias * w[s] + nrm * w[s]; /* shortcut */
            prev = w[s];
        }
    return n + classes * w[2] + classes;
}

static void test_resnet(void)
{
    llfc_net *net = llfc_resnet20_new(3, 32, 32, 1, LLFC_NORM_BN, 10, 1);
    CHECK(net != NULL, "resnet20 width 1 bn builds");
    if (!net) return;
    char why[160] = "";
    char fam[16];
    CHECK(!strcmp(llfc_net_arch(net), "cnn") && !strcmp(llfc_net_family(net, fam, sizeof fam), "resnet20") &&
              strstr(net->config, " norm=bn") && llfc_net_count_ops(net, LLFC_OP_BN) == 21,
          "resnet20: arch cnn, family resnet20, norm bn (21 BatchNorm ops)");
    CHECK(trainable(net) == 272474, "resnet20 bn: 272,474 trainable parameters as PyTorch's parameters() (got %lld)",
          (long long)trainable(net));
    CHECK(resnet_count(1, 1, 3, 10) == 272474, "the hand count agrees with PyTorch's 272,474");
    /* state_dict: conv1, bn1 (5), 9 blocks x (2 convs + 2 x 5), 2 shortcuts x (1 + 5), linear (2) */
    CHECK(net->nparams == 1 + 5 + 9 * 12 + 2 * 6 + 2, "resnet20 bn: 128 state_dict tensors (got %d)", net->nparams);
    CHECK(!strcmp(net->pname[0], "conv1.weight") && !strcmp(shape(net, "conv1.weight"), "16,3,3,3"),
          "conv1.weight [16, 3, 3, 3] first");
    CHECK(!strcmp(net->pname[1], "bn1.weight") && !strcmp(net->pname[3], "bn1.running_mean") &&
              !strcmp(net->pname[5], "bn1.num_batches_tracked"),
          "bn1 tensors in state_dict order");
    CHECK(!strcmp(shape(net, "layer1.0.conv1.weight"), "16,16,3,3") && find(net, "layer1.0.conv1.bias") < 0,
          "layer1.0.conv1.weight [16, 16, 3, 3], no bias with a norm");
    CHECK(!strcmp(shape(net, "layer2.0.conv1.weight"), "32,16,3,3"), "layer2.0.conv1.weight [32, 16, 3, 3]");
    CHECK(!strcmp(shape(net, "layer2.0.shortcut.0.weight"), "32,16,1,1"), "layer2.0.shortcut.0.weight [32, 16, 1, 1]");
    CHECK(!strcmp(shape(net, "layer3.0.shortcut.1.running_var"), "64"), "layer3.0.shortcut.1.running_var [64]");
    CHECK(find(net, "layer1.0.shortcut.0.weight") < 0 && find(net, "layer2.1.shortcut.0.weight") < 0,
          "identity shortcuts have no parameters");
    CHECK(!strcmp(shape(net, "layer3.2.bn2.weight"), "64"), "layer3.2.bn2.weight [64]");
    CHECK(!strcmp(shape(net, "linear.weight"), "10,64") && !strcmp(net->pname[net->nparams - 1], "linear.bias"),
          "linear.weight [10, 64], linear.bias last");
    int bufs = 0, bad = 0;
    for (int p = 0; p < net->nparams; p++) {
        int isbuf = strstr(net->pname[p], "running_") || strstr(net->pname[p], "num_batches");
        bufs += isbuf;
        bad += net->ptrain[p] == isbuf;
    }
    CHECK(bufs == 3 * 21 && bad == 0, "ptrain is 0 exactly for the 63 BatchNorm buffers (%d, %d wrong)", bufs, bad);
    CHECK(ops_consistent(net, why, sizeof why), "resnet20 op list consistent %s", why);
    /* features: conv1, then relu1 and the output of each of 9 blocks, logits */
    CHECK(net->nfeat == 20 && net->widths[0] == 3 * 32 * 32, "resnet20: 20 feature layers, input 3072");
    CHECK(net->widths[1] == 16 * 32 * 32 && net->widths[4] == 16 * 32 * 32 && net->widths[8] == 32 * 16 * 16 &&
              net->widths[19] == 64 * 8 * 8 && net->widths[20] == 10,
          "resnet20 feature sizes 16x32x32 ... 64x8x8, 10");
    int f1 = op_named(net, "conv1"), f2 = op_named(net, "layer1.0.relu1"), f3 = op_named(net, "layer3.2");
    CHECK(f1 >= 0 && net->ops[f1].kind == LLFC_OP_CONV, "op 'conv1' is the stem conv (module path)");
    /* the stem relu is also called conv1: find the RELU */
    int relu_stem = -1;
    for (int i = 0; i < net->nops; i++)
        if (net->ops[i].kind == LLFC_OP_RELU && !strcmp(net->ops[i].name, "conv1")) relu_stem = i;
    CHECK(relu_stem >= 0 && net->ops[relu_stem].feat == 0, "feature 0 is the stem ReLU named conv1");
    CHECK(f2 >= 0 && net->ops[f2].feat == 1, "feature 1 is layer1.0.relu1");
    CHECK(f3 >= 0 && net->ops[f3].kind == LLFC_OP_RELU && net->ops[f3].feat == 18,
          "feature 18 is layer3.2 (block output)");
    int add = op_named(net, "layer2.0.add"), sc = op_named(net, "layer2.0.shortcut.1");
    CHECK(add >= 0 && sc >= 0 && net->ops[add].in2 == sc + 1 && net->ops[add].P == 16,
          "layer2.0: the sum reads the projection shortcut's norm, 16x16");
    int add1 = op_named(net, "layer1.1.add"), out0 = op_named(net, "layer1.0");
    CHECK(add1 >= 0 && net->ops[add1].in2 == out0 + 1, "layer1.1: identity shortcut from layer1.0's output");
    /* permspec */
    CHECK(spec_consistent(net, why, sizeof why), "resnet20 permspec consistent %s", why);
    CHECK(net->spec->ngroups == 12, "resnet20: 3 stream groups + 9 inner groups (got %d)", net->spec->ngroups);
    int S1 = llfc_permspec_group(net->spec, "S1"), S3 = llfc_permspec_group(net->spec, "S3");
    CHECK(S1 >= 0 && net->spec->gsize[S1] == 16 && S3 >= 0 && net->spec->gsize[S3] == 64, "S1 16 and S3 64 channels");
    CHECK(!strcmp(group_of(net, "conv1.weight", 0), "S1") && !strcmp(group_of(net, "bn1.running_mean", 0), "S1") &&
              !strcmp(group_of(net, "layer1.2.conv2.weight", 0), "S1") &&
              !strcmp(group_of(net, "layer1.1.conv1.weight", 1), "S1") &&
              !strcmp(group_of(net, "layer2.0.conv1.weight", 1), "S1") &&
              !strcmp(group_of(net, "layer2.0.shortcut.0.weight", 1), "S1"),
          "S1: stem, stage 1 conv2s, their inputs, stage 2's first conv1 and shortcut input");
    CHECK(!strcmp(group_of(net, "layer2.0.shortcut.0.weight", 0), "S2") &&
              !strcmp(group_of(net, "layer2.0.shortcut.1.weight", 0), "S2") &&
              !strcmp(group_of(net, "layer2.0.bn2.bias", 0), "S2") &&
              !strcmp(group_of(net, "layer3.0.shortcut.0.weight", 1), "S2"),
          "S2: shortcut projection and norm, conv2 norms, stage 3 inputs");
    CHECK(!strcmp(group_of(net, "linear.weight", 1), "S3") && !strcmp(group_of(net, "linear.weight", 0), "-"),
          "S3 feeds the linear's input axis; classes are not permuted");
    CHECK(!strcmp(group_of(net, "layer2.1.conv1.weight", 0), "layer2.1") &&
              !strcmp(group_of(net, "layer2.1.bn1.running_var", 0), "layer2.1") &&
              !strcmp(group_of(net, "layer2.1.conv2.weight", 1), "layer2.1") &&
              !strcmp(group_of(net, "layer2.1.bn1.num_batches_tracked", 0), "-"),
          "inner group layer2.1: conv1 out + bn1, conv2 in; num_batches_tracked unpermuted");
    int g = llfc_permspec_group(net->spec, "S2"), gi = llfc_permspec_group(net->spec, "layer1.0");
    CHECK(g >= 0 && net->spec->gfeat[g] == 12 && gi >= 0 && net->spec->gfeat[gi] == 1,
          "gfeat: S2 -> layer2.2 (feature 12), layer1.0 -> layer1.0.relu1 (feature 1)");
    CHECK(!strcmp(net->config, "resnet20 width=1 norm=bn classes=10 input=3,32,32"), "config text '%s'",
          net->config);
    /* init: BN 1/0 and running stats, linear bound, conv std */
    const float *rv = llfc_tensor_data(net->param[find(net, "layer3.1.bn1.running_var")]);
    const float *bw = llfc_tensor_data(net->param[find(net, "layer3.1.bn1.weight")]);
    const float *bb = llfc_tensor_data(net->param[find(net, "layer3.1.bn1.bias")]);
    CHECK(rv[0] == 1 && rv[63] == 1 && bw[5] == 1 && bb[5] == 0, "BN init: weight 1, bias 0, running_var 1");
    const llfc_tensor *lw = net->param[find(net, "linear.weight")];
    float mx = 0;
    for (int64_t i = 0; i < llfc_tensor_numel(lw); i++) mx = fmaxf(mx, fabsf(llfc_tensor_data(lw)[i]));
    CHECK(mx <= 1.0f / 8 && mx > 0.9f / 8, "linear weights in U(-1/sqrt(64), 1/sqrt(64)) (max %g)", mx);
    net_free(net);

    /* LayerNorm, none, wide, odd input */
    net = llfc_resnet20_new(3, 32, 32, 1, LLFC_NORM_LN, 10, 1);
    CHECK(net && trainable(net) == 272474 && net->nparams == 1 + 2 + 9 * 6 + 2 * 3 + 2 && find(net, "ln1.weight") == 1 &&
              find(net, "layer2.0.ln2.bias") >= 0 && find(net, "layer2.0.shortcut.1.weight") >= 0 &&
              net->ops[1].kind == LLFC_OP_LN,
          "resnet20 ln: 272,474 parameters, 65 tensors named ln1, ln2, shortcut.1");
    int nobuf = 1;
    for (int p = 0; net && p < net->nparams; p++) nobuf &= net->ptrain[p];
    CHECK(nobuf, "resnet20 ln: no buffers");
    if (net) CHECK(spec_consistent(net, why, sizeof why), "resnet20 ln permspec consistent %s", why);
    net_free(net);
    net = llfc_resnet20_new(1, 28, 28, 2, LLFC_NORM_NONE, 7, 3);
    CHECK(net && trainable(net) == resnet_count(2, 0, 1, 7) && find(net, "conv1.bias") >= 0 &&
              find(net, "layer3.0.shortcut.0.bias") >= 0 && find(net, "layer3.0.shortcut.1.weight") < 0,
          "resnet20 none width 2 on 1x28x28: convs with biases, count %lld", (long long)resnet_count(2, 0, 1, 7));
    if (net) {
        CHECK(ops_consistent(net, why, sizeof why) && spec_consistent(net, why, sizeof why),
              "resnet20 none: ops and permspec consistent %s", why);
        CHECK(net->widths[19] == 128 * 7 * 7 && net->widths[8] == 64 * 14 * 14,
              "28x28: stages at 28, 14, 7");
        CHECK(!strcmp(group_of(net, "layer1.0.conv2.bias", 0), "S1"), "conv biases follow their group");
    }
    net_free(net);
    net = llfc_resnet20_new(3, 32, 32, 4, LLFC_NORM_BN, 10, 1);
    CHECK(net && trainable(net) == resnet_count(4, 1, 3, 10), "resnet20 width 4: %lld parameters",
          (long long)resnet_count(4, 1, 3, 10));
    net_free(net);
    net = llfc_resnet20_new(3, 5, 3, 1, LLFC_NORM_BN, 2, 1);
    CHECK(net && ops_consistent(net, why, sizeof why) && net->widths[19] == 64 * 2 * 1,
          "resnet20 on 5x3: odd sides halve to 3x2 and 2x1 %s", why);
    net_free(net);
    CHECK(!llfc_resnet20_new(3, 32, 32, 0, LLFC_NORM_BN, 10, 1) && strstr(llfc_errmsg(), "width"),
          "resnet20 width 0 is an error: %s", llfc_errmsg());
    CHECK(!llfc_resnet20_new(3, 32, 32, 1, 7, 10, 1) && strstr(llfc_errmsg(), "norm"), "unknown norm is an error");
    CHECK(!llfc_resnet20_new(0, 32, 32, 1, 1, 10, 1) && strstr(llfc_errmsg(), "input"), "input 0 is an error");
    CHECK(!llfc_resnet20_new(3, 32, 32, 1, 1, 0, 1) && strstr(llfc_errmsg(), "classes"), "0 classes is an error");
}

/* ---- VGG ------------------------------------------------------------------------ */

static const int vgg11[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1};

static void test_vgg(void)
{
    char why[160] = "";
    llfc_net *net = llfc_vgg_new(3, 32, 32, 13, vgg11, LLFC_NORM_NONE, LLFC_VGG_GAP, 10, 1);
    CHECK(net != NULL, "vgg11 builds");
    if (!net) return;
    /* by hand: (C*9 + 1) * K per conv, 512*10 + 10 classifier */
    int64_t hand = (3 * 9 + 1) * 64 + (64 * 9 + 1) * 128 + (128 * 9 + 1) * 256 + (256 * 9 + 1) * 256 +
                   (256 * 9 + 1) * 512 + 3 * (512 * 9 + 1) * 512 + 512 * 10 + 10;
    CHECK(hand == 9225610 && trainable(net) == hand && llfc_net_nparams_total(net) == hand,
          "vgg11: 9,225,610 parameters (got %lld)", (long long)trainable(net));
    CHECK(net->nparams == 18, "vgg11: 18 tensors");
    /* torchvision vgg11 features: convs at 0 3 6 8 11 13 16 18, pools 2 5 10 15 20 */
    static const char *const conv_names[] = {"features.0.weight",  "features.3.weight",  "features.6.weight",
                                             "features.8.weight",  "features.11.weight", "features.13.weight",
                                             "features.16.weight", "features.18.weight"};
    int ok = 1;
    for (int i = 0; i < 8; i++) ok &= find(net, conv_names[i]) == 2 * i;
    CHECK(ok, "vgg11 conv names follow torchvision's features indices");
    CHECK(!strcmp(shape(net, "features.8.weight"), "256,256,3,3") && !strcmp(shape(net, "classifier.weight"), "10,512"),
          "features.8.weight [256, 256, 3, 3], classifier.weight [10, 512]");
    CHECK(op_named(net, "features.20") >= 0 && net->ops[op_named(net, "features.20")].kind == LLFC_OP_MAXPOOL &&
              op_named(net, "avgpool") >= 0,
          "5th max pool is features.20, then avgpool");
    CHECK(net->nfeat == 9 && net->widths[1] == 64 * 32 * 32 && net->widths[2] == 128 * 16 * 16 &&
              net->widths[8] == 512 * 2 * 2 && net->widths[9] == 10,
          "vgg11 features h1 64x32x32 ... h8 512x2x2, logits");
    CHECK(op_named(net, "h1") >= 0 && net->ops[op_named(net, "h1")].kind == LLFC_OP_RELU &&
              net->ops[op_named(net, "h8")].feat == 7,
          "ReLU ops are named h1 .. h8");
    CHECK(ops_consistent(net, why, sizeof why), "vgg11 ops consistent %s", why);
    CHECK(spec_consistent(net, why, sizeof why), "vgg11 permspec consistent %s", why);
    CHECK(net->spec->ngroups == 8 && !strcmp(net->spec->gname[7], "P8") && net->spec->gsize[7] == 512 &&
              !strcmp(group_of(net, "classifier.weight", 1), "P8") && !strcmp(group_of(net, "features.3.weight", 1), "P1") &&
              !strcmp(group_of(net, "features.3.bias", 0), "P2") && net->spec->gfeat[2] == 2,
          "vgg11 groups P1..P8: conv outputs, next inputs, classifier input");
    CHECK(!strcmp(net->config, "vgg layers=64,M,128,M,256,256,M,512,512,M,512,512,M norm=none head=gap "
                                    "classes=10 input=3,32,32"),
          "vgg config text '%s'", net->config);
    /* conv init: N(0, 2 / fan_out) */
    const llfc_tensor *w = net->param[find(net, "features.16.weight")];
    double s2 = 0, s1 = 0;
    int64_t n = llfc_tensor_numel(w);
    for (int64_t i = 0; i < n; i++) s1 += llfc_tensor_data(w)[i], s2 += (double)llfc_tensor_data(w)[i] * llfc_tensor_data(w)[i];
    double sd = sqrt(s2 / n - (s1 / n) * (s1 / n));
    CHECK_NEAR(sd, sqrt(2.0 / (512 * 9)), 0.01 / sqrt(512 * 9), "conv init std is sqrt(2/fan_out) (%g)", sd);
    CHECK(llfc_tensor_data(net->param[find(net, "features.16.bias")])[3] == 0, "conv bias init 0");
    net_free(net);

    /* BatchNorm and 28x28: the 5th pool goes */
    net = llfc_vgg_new(1, 28, 28, 13, vgg11, LLFC_NORM_BN, LLFC_VGG_GAP, 10, 1);
    CHECK(net != NULL, "vgg11 bn on 1x28x28 builds");
    if (!net) return;
    int pools = 0;
    for (int i = 0; i < net->nops; i++) pools += net->ops[i].kind == LLFC_OP_MAXPOOL;
    CHECK(pools == 4 && net->widths[8] == 512 * 1 * 1, "28x28: 4 max pools (the 5th on a 1x1 map is left out)");
    int64_t hand_bn = (1 * 9 + 1) * 64 + (64 * 9 + 1) * 128 + (128 * 9 + 1) * 256 + (256 * 9 + 1) * 256 +
                      (256 * 9 + 1) * 512 + 3 * (512 * 9 + 1) * 512 + 5130 + 2 * (64 + 128 + 2 * 256 + 4 * 512);
    CHECK(trainable(net) == hand_bn, "vgg11 bn: %lld trainable parameters", (long long)hand_bn);
    CHECK(find(net, "features.1.running_mean") == 4 && find(net, "features.4.weight") >= 0 &&
              !strcmp(shape(net, "features.25.weight"), "512,512,3,3") && find(net, "features.26.num_batches_tracked") >= 0,
          "vgg11 bn names: conv 0, bn 1, relu 2, pool 3, conv 4 ... conv 25, bn 26");
    CHECK(!strcmp(group_of(net, "features.1.running_var", 0), "P1") && !strcmp(group_of(net, "features.26.bias", 0), "P8"),
          "norm params and buffers follow their conv's group");
    CHECK(spec_consistent(net, why, sizeof why) && ops_consistent(net, why, sizeof why), "vgg11 bn consistent %s", why);
    net_free(net);

    /* LayerNorm, flatten heads */
    static const int small[] = {4, -1, 8};
    net = llfc_vgg_new(1, 8, 8, 3, small, LLFC_NORM_LN, LLFC_VGG_FLATTEN, 3, 2);
    CHECK(net && !strcmp(shape(net, "classifier.weight"), "3,128") && find(net, "features.1.weight") == 2 &&
              find(net, "features.5.bias") >= 0 && net->spec->ngroups == 1 && !strcmp(group_of(net, "features.4.weight", 1), "P1") &&
              !strcmp(group_of(net, "features.4.weight", 0), "-"),
          "flatten head on a 4x4 map: classifier [3, 128], the last conv has no group");
    if (net) CHECK(spec_consistent(net, why, sizeof why), "vgg ln flatten permspec consistent %s", why);
    net_free(net);
    static const int tiny[] = {4, -1, 6, -1};
    net = llfc_vgg_new(2, 4, 4, 4, tiny, LLFC_NORM_NONE, LLFC_VGG_FLATTEN, 5, 2);
    CHECK(net && !strcmp(shape(net, "classifier.weight"), "5,6") && net->spec->ngroups == 2 &&
              !strcmp(group_of(net, "classifier.weight", 1), "P2"),
          "flatten head on a 1x1 map keeps the last group");
    net_free(net);
    /* errors */
    static const int bad1[] = {-1, 4}, bad2[] = {4, -1, -1}, bad3[] = {4, 0};
    CHECK(!llfc_vgg_new(3, 8, 8, 2, bad1, 0, 0, 10, 1) && strstr(llfc_errmsg(), "layers[1]"), "pool first: %s",
          llfc_errmsg());
    CHECK(!llfc_vgg_new(3, 8, 8, 3, bad2, 0, 0, 10, 1) && strstr(llfc_errmsg(), "layers[3]"), "two pools: %s",
          llfc_errmsg());
    CHECK(!llfc_vgg_new(3, 8, 8, 2, bad3, 0, 0, 10, 1) && strstr(llfc_errmsg(), "0 channels"), "0 channels: %s",
          llfc_errmsg());
    CHECK(!llfc_vgg_new(3, 8, 8, 1, small, 3, 0, 10, 1) && strstr(llfc_errmsg(), "norm"), "bad norm");
    CHECK(!llfc_vgg_new(3, 8, 8, 1, small, 0, 5, 10, 1) && strstr(llfc_errmsg(), "head"), "bad head");
    CHECK(!llfc_vgg_new(3, 8, 8, 0, small, 0, 0, 10, 1), "no layers");
    static const int huge[] = {1 << 20, 1 << 20};
    CHECK(!llfc_vgg_new(1, 1, 1, 2, huge, 0, 0, 10, 1) && strstr(llfc_errmsg(), "2^31"),
          "a net of more than 2^31 values is refused before allocating: %s", llfc_errmsg());
    int many[200];
    for (int i = 0; i < 200; i++) many[i] = 100;
    CHECK(!llfc_vgg_new(3, 8, 8, 200, many, 0, 0, 10, 1) && strstr(llfc_errmsg(), "do not fit"),
          "too many layers for the configuration text: %s", llfc_errmsg());
}

/* ---- configuration text ------------------------------------------------------------ */

static int same_net(const llfc_net *a, const llfc_net *b, int values)
{
    if (a->nparams != b->nparams || a->nfeat != b->nfeat || a->nops != b->nops) return 0;
    if (strcmp(a->config, b->config)) return 0;
    if (memcmp(a->ops, b->ops, (size_t)a->nops * sizeof *a->ops)) return 0;
    if (memcmp(a->widths, b->widths, (size_t)(a->nfeat + 1) * sizeof *a->widths)) return 0;
    if (a->spec->ngroups != b->spec->ngroups || memcmp(a->spec->axis, b->spec->axis, (size_t)a->nparams * sizeof *a->spec->axis))
        return 0;
    for (int p = 0; p < a->nparams; p++) {
        if (strcmp(a->pname[p], b->pname[p]) || a->ptrain[p] != b->ptrain[p]) return 0;
        if (llfc_tensor_numel(a->param[p]) != llfc_tensor_numel(b->param[p])) return 0;
        if (values && memcmp(llfc_tensor_data(a->param[p]), llfc_tensor_data(b->param[p]),
                             (size_t)llfc_tensor_numel(a->param[p]) * sizeof(float)))
            return 0;
    }
    return 1;
}

static void test_config(void)
{
    static const int small[] = {4, -1, 8, 8, -1, 6};
    llfc_net *nets[] = {
        llfc_vgg_new(3, 12, 10, 6, small, LLFC_NORM_BN, LLFC_VGG_GAP, 7, 1),
        llfc_vgg_new(1, 8, 8, 6, small, LLFC_NORM_LN, LLFC_VGG_FLATTEN, 3, 1),
        llfc_resnet20_new(2, 9, 9, 1, LLFC_NORM_LN, 4, 1),
        llfc_resnet20_new(3, 8, 8, 2, LLFC_NORM_NONE, 4, 1),
    };
    for (int i = 0; i < 4; i++) {
        llfc_net *b = nets[i] ? llfc_net_build(nets[i]->config, 1) : NULL;
        CHECK(b && same_net(nets[i], b, 1), "from_config round trip (seed 1): %s", nets[i] ? nets[i]->config : "?");
        llfc_net *c = nets[i] ? llfc_net_like(nets[i], 9) : NULL;
        CHECK(c && same_net(nets[i], c, 0) && !same_net(nets[i], c, 1), "cnn_like: same layout, other weights");
        int norm = strstr(nets[i]->config, "norm=bn") ? LLFC_NORM_BN
                   : strstr(nets[i]->config, "norm=ln") ? LLFC_NORM_LN
                                                        : LLFC_NORM_NONE;
        llfc_net *d = i < 2 ? llfc_vgg_new(nets[i]->c, nets[i]->h, nets[i]->w, 6, small, norm,
                                           i ? LLFC_VGG_FLATTEN : LLFC_VGG_GAP, i ? 3 : 7, 9)
                            : llfc_resnet20_new(nets[i]->c, nets[i]->h, nets[i]->w, i - 1, norm, 4, 9);
        CHECK(c && d && same_net(c, d, 1), "cnn_like(net, 9) equals the builder with seed 9");
        net_free(b), net_free(c), net_free(d);
    }
    for (int i = 0; i < 4; i++) net_free(nets[i]);
    /* MLPs: the config rebuilds the same net, init included */
    int64_t mw[] = {5, 7, 3};
    llfc_net *m = llfc_mlp_new(3, mw, LLFC_ACT_TANH, LLFC_INIT_KAIMING, 4);
    llfc_net *m2 = m ? llfc_net_build(m->config, 4) : NULL;
    CHECK(m && !strcmp(m->config, "mlp widths=5,7,3 act=tanh init=kaiming") && m2 && same_net(m, m2, 1),
          "mlp: config '%s' rebuilds the net, weights included", m ? m->config : llfc_errmsg());
    llfc_net *m3 = m ? llfc_net_like(m, 5) : NULL;
    CHECK(m3 && same_net(m, m3, 0) && !same_net(m, m3, 1) && m->nops == 3 && m->ops[1].kind == LLFC_OP_TANH &&
              !strcmp(m->ops[1].fname, "h1") && !strcmp(m->ops[2].fname, "logits") && m->spec->ngroups == 1,
          "mlp: linear, tanh (h1), linear (logits); one group; like() keeps the layout");
    net_free(m), net_free(m2), net_free(m3);
    llfc_net *v = llfc_net_build("vgg depth=16 width=0.125 norm=bn head=gap classes=10 input=1,28,28", 1);
    CHECK(v && !strcmp(v->config, "vgg depth=16 width=0.125 norm=bn head=gap classes=10 input=1,28,28") &&
              v->spec->ngroups == 13 && !strcmp(shape(v, "features.40.weight"), "64,64,3,3") &&
              !strcmp(shape(v, "classifier.weight"), "10,64"),
          "vgg depth=16 width=1/8: 13 convs, features.40 is the last conv, config kept: %s", v ? v->config : llfc_errmsg());
    llfc_net *v2 = v ? llfc_net_build(v->config, 1) : NULL;
    CHECK(v2 && same_net(v, v2, 1), "depth form round trip");
    net_free(v), net_free(v2);
    v = llfc_net_build("vgg depth=13 width=0.1 input=3,32,32", 1);
    CHECK(v && v->spec->ngroups == 10 && v->spec->gsize[0] == 6 && v->spec->gsize[9] == 51 &&
              strstr(v->config, "width=0.1 "),
          "vgg depth=13 width=0.1: 10 convs of round(c/10) channels; width kept: %s",
          v ? v->config : llfc_errmsg());
    v2 = v ? llfc_net_build(v->config, 1) : NULL;
    CHECK(v2 && same_net(v, v2, 1), "depth 13 round trip");
    net_free(v), net_free(v2);
    v = llfc_net_build("  resnet20   width=1  ", 1);
    CHECK(v && !strcmp(v->config, "resnet20 width=1 norm=bn classes=10 input=3,32,32"),
          "defaults: norm bn, 10 classes, 3x32x32; extra spaces ignored");
    net_free(v);

    static const char *const bad[] = {
        "", "   ", "vgg", "mlp widths=1", "vgg depth=12", "vgg depth=11 layers=4", "vgg layers=", "vgg layers=4,,8",
        "vgg layers=M,4", "vgg layers=4,M,M", "vgg layers=4,", "vgg layers=4 norm=xx", "vgg layers=4 head=avg",
        "vgg layers=4 classes=0", "vgg layers=4 classes=abc", "vgg layers=4 classes=10x", "vgg layers=4 input=3,32",
        "vgg layers=4 input=3,32,32,1", "vgg layers=4 input=0,32,32", "vgg layers=4 input=3,-1,32",
        "vgg layers=4 input=,,", "vgg layers=4 width=2", "vgg depth=11 width=0", "vgg depth=11 width=nan",
        "vgg depth=11 width=inf", "vgg depth=11 width=", "resnet20 width=0", "resnet20 width=1.5", "resnet20 depth=11",
        "resnet20 layers=4", "resnet20 head=gap", "resnet20 norm=bn norm=ln", "vgg layers=4 =3", "vgg layers=4 foo",
        "vgg layers=4 foo=1", "resnet20 width=99999999999999999999", "resnet20 width=65", "vgg layers=4 layers=4",
        "vgg layers=99999999", "vgg layers=4 input=3,99999999,2", "vgg layers=4 input=3,32,32x",
        "vgg layers=4 input=33333333333333333333333333333333333333333333333333333333333333333333,1,1",
        "resnet20\twidth=1", "vgg layers=-1", "vgg layers=1048576,1048576 input=1,1,1",
        "mlp", "mlp widths=", "mlp widths=4", "mlp widths=4,,2", "mlp widths=4,0,2", "mlp widths=4,2,",
        "mlp widths=4,2 act=sigmoid", "mlp widths=4,2 init=xavier", "mlp widths=4,2 norm=bn", "mlp act=relu",
        "mlp widths=4,2 widths=4,2", "mlp widths=99999999999,2", "mlp widths=4x,2",
    };
    int nbad = (int)(sizeof bad / sizeof *bad), all = 1;
    for (int i = 0; i < nbad; i++) {
        llfc_seterr("none");
        llfc_net *n = llfc_net_build(bad[i], 1);
        if (n || !strcmp(llfc_errmsg(), "none") || !*llfc_errmsg()) {
            all = 0;
            printf("# accepted or no message: '%s'\n", bad[i]);
        }
        net_free(n);
    }
    CHECK(all, "%d malformed configurations are errors with a message", nbad);
    CHECK(!llfc_net_build(NULL, 1), "NULL config is an error");
    char longcfg[400];
    memset(longcfg, 'x', sizeof longcfg - 1);
    longcfg[sizeof longcfg - 1] = 0;
    CHECK(!llfc_net_build(longcfg, 1) && strstr(llfc_errmsg(), "longer"), "an over-long text is an error");
    llfc_seterr("none");
    llfc_net *e = llfc_net_build("vgg layers=4 classes=0", 1);
    CHECK(!e && strstr(llfc_errmsg(), "classes=0"), "the message names the bad key: %s", llfc_errmsg());

    /* mutations of small valid texts: errors or nets, never a crash */
    static const char *const base[] = {
        "vgg layers=4,M,6 norm=bn head=gap classes=3 input=1,8,8",
        "vgg depth=11 width=0.03 norm=ln head=flatten classes=3 input=1,8,8",
        "resnet20 width=1 norm=ln classes=3 input=1,6,6",
    };
    static const char repl[] = " =,Mx-0.\t";
    llfc_rng rng;
    llfc_rng_seed(&rng, 5);
    int built = 0, failed = 0;
    for (int t = 0; t < 600; t++) {
        char s[300];
        strcpy(s, base[t % 3]);
        int nmut = 1 + (int)llfc_rng_below(&rng, 3);
        for (int m = 0; m < nmut; m++) {
            size_t len = strlen(s);
            if (!len) break;
            size_t at = (size_t)llfc_rng_below(&rng, len);
            int kind = (int)llfc_rng_below(&rng, 3);
            if (kind == 0) memmove(s + at, s + at + 1, len - at);                   /* delete */
            else if (kind == 1) s[at] = repl[llfc_rng_below(&rng, sizeof repl - 1)]; /* replace */
            else s[at] = 0;                                                         /* truncate */
        }
        llfc_net *n = llfc_net_build(s, 1);
        if (n) built++, net_free(n);
        else failed++;
    }
    CHECK(built + failed == 600 && failed > 300, "600 mutated texts: %d built, %d refused, no crash", built, failed);
}

int main(void)
{
    test_resnet();
    test_vgg();
    test_config();
    return check_summary();
}
