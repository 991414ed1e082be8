/* test_cnn_exec.c - the conv net executor (nn_cnn.c) against the naive
 * double-precision executor of cnn_naive.h: eval forward of every op kind,
 * features, one weight alone; training passes (gradients against central
 * finite differences of the training-mode loss, BatchNorm statistics);
 * model files; training. */
#include "check.h"
#include "cnn_naive.h"
#include "nn.h"
#include "nn_cnn.h"
#include "nn_cnn_exec.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* VGG-like: conv+bias, BN, relu, max pool, conv without bias, LN, relu, GAP, linear */
static llfc_net *net_vgg(uint64_t seed)
{
    llfc_net *net = tn_new(2, 6, 6, seed);
    int s = tn_conv(net, 0, "features.0", 3, 3, 1, 1, 1);
    s = tn_bn(net, s, "features.1");
    s = tn_relu(net, s, "h1");
    s = tn_maxpool(net, s, 2, 2);
    s = tn_conv(net, s, "features.4", 4, 3, 1, 1, 0);
    s = tn_ln(net, s, "features.5");
    s = tn_relu(net, s, "h2");
    s = tn_gap(net, s);
    tn_linear(net, s, "classifier", 5);
    return net;
}

/* ResNet-like: stem, a block with an identity shortcut, a block with a
 * projection shortcut (1x1 conv stride 2 + BN) */
static llfc_net *net_res(uint64_t seed)
{
    llfc_net *net = tn_new(3, 6, 6, seed);
    int s = tn_conv(net, 0, "conv1", 4, 3, 1, 1, 0);
    s = tn_bn(net, s, "bn1");
    int x = tn_relu(net, s, "conv1");
    s = tn_conv(net, x, "layer1.0.conv1", 4, 3, 1, 1, 0);
    s = tn_bn(net, s, "layer1.0.bn1");
    s = tn_relu(net, s, "layer1.0.relu1");
    s = tn_conv(net, s, "layer1.0.conv2", 4, 3, 1, 1, 0);
    s = tn_bn(net, s, "layer1.0.bn2");
    s = tn_add(net, s, x);
    x = tn_relu(net, s, "layer1.0");
    s = tn_conv(net, x, "layer2.0.conv1", 6, 3, 2, 1, 0);
    s = tn_bn(net, s, "layer2.0.bn1");
    s = tn_relu(net, s, "layer2.0.relu1");
    s = tn_conv(net, s, "layer2.0.conv2", 6, 3, 1, 1, 0);
    int m = tn_bn(net, s, "layer2.0.bn2");
    s = tn_conv(net, x, "layer2.0.shortcut.0", 6, 1, 2, 0, 0);
    s = tn_bn(net, s, "layer2.0.shortcut.1");
    s = tn_add(net, m, s);
    s = tn_relu(net, s, "layer2.0");
    s = tn_gap(net, s);
    tn_linear(net, s, "linear", 3);
    return net;
}

/* no norm, unpadded conv, overlapping 3x3 stride-2 pool, flatten head */
static llfc_net *net_flat(uint64_t seed)
{
    llfc_net *net = tn_new(1, 7, 7, seed);
    int s = tn_conv(net, 0, "features.0", 3, 3, 1, 0, 1);
    s = tn_relu(net, s, "h1");
    s = tn_maxpool(net, s, 3, 2);
    tn_linear(net, s, "classifier", 4);
    return net;
}

static float *rand_x(int64_t m, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *x = malloc((size_t)m * sizeof *x);
    for (int64_t i = 0; i < m; i++) x[i] = (float)llfc_rng_normal(&r);
    return x;
}

/* max |a - b| / max(1, max |b|) */
static double rel_err_fd(const float *a, const double *b, int64_t m)
{
    double e = 0, s = 1;
    for (int64_t i = 0; i < m; i++) {
        if (fabs(a[i] - b[i]) > e) e = fabs(a[i] - b[i]);
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return e / s;
}

/* ---- (c) eval forward, features, apply_weight ------------------------------- */
static void test_eval(const char *what, llfc_net *net)
{
    CHECK(llfc_cnn_check(net) == 0, "%s: the hand-built op list checks (%s)", what, llfc_errmsg());
    const llfc_cnn *c = net->cnn;
    int n = 3, ns = c->nops + 1;
    float *x = rand_x(n * llfc_net_input_dim(net), 7);
    float **slots = calloc((size_t)ns, sizeof *slots);
    for (int s = 1; s < ns; s++) slots[s] = malloc((size_t)(n * llfc_cnn_slot_dim(net, s)) * sizeof(float));
    int rc = llfc_cnn_forward_slots(net, x, n, slots);
    CHECK(rc == 0, "%s: forward_slots (%s)", what, llfc_errmsg());
    double **par = tn_params(net);
    tn_run r;
    tn_forward(net, par, x, n, 0, &r);
    double worst = 0;
    int bad = -1;
    for (int s = 1; s < ns; s++) {
        double e = rel_err_fd(slots[s], r.v[s], n * llfc_cnn_slot_dim(net, s));
        if (e > worst) worst = e, bad = s;
        if (e > 1e-4) printf("# %s: slot %d (%s) rel err %g\n", what, s, c->ops[s - 1].name, e);
    }
    CHECK(worst < 1e-4, "%s: every slot of the eval forward equals the naive loops (worst %.2g at slot %d)", what,
          worst, bad);
    CHECK(llfc_cnn_slot_dim(net, 0) == llfc_net_input_dim(net) && llfc_cnn_slot_dim(net, ns) < 0 &&
              strstr(llfc_errmsg(), "no slot"),
          "%s: slot_dim of the input; out of range fails", what);

    /* apply_weight = conv / linear without the bias */
    int nconv = 0, okw = 1;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_CONV && o->kind != LLFC_OP_LINEAR) {
            if (i == 1) CHECK(llfc_cnn_apply_weight(net, i, slots[o->in] ? slots[o->in] : x, n, slots[o->out]) < 0 &&
                                  strstr(llfc_errmsg(), "not a conv or linear"),
                              "%s: apply_weight refuses a %s op", what, o->name);
            continue;
        }
        int64_t d = llfc_cnn_slot_dim(net, o->out), hw = (int64_t)o->P * o->Q;
        float *out = malloc((size_t)(n * d) * sizeof *out);
        const float *in = o->in ? slots[o->in] : x;
        /* the naive value of this op with the network's own input slot, minus the bias */
        tn_run r2;
        double *ref = malloc((size_t)(n * d) * sizeof *ref);
        memcpy(ref, r.v[o->out], (size_t)(n * d) * sizeof *ref);
        for (int64_t b = 0; b < n; b++)
            for (int k = 0; k < o->K; k++)
                for (int64_t j = 0; j < hw; j++) ref[(b * o->K + k) * hw + j] -= o->pb >= 0 ? par[o->pb][k] : 0.0;
        (void)r2;
        okw &= llfc_cnn_apply_weight(net, i, in, n, out) == 0 && rel_err_fd(out, ref, n * d) < 1e-4;
        nconv++;
        free(out), free(ref);
    }
    CHECK(okw && nconv >= 2, "%s: apply_weight of %d conv/linear ops = the op without its bias", what, nconv);

    /* features: pre = the relu's input slot, post = its output; logits pre == post */
    int nf = llfc_net_nfeat(net), okf = 1, okn = 1;
    float **pre = calloc((size_t)nf, sizeof *pre), **post = calloc((size_t)nf, sizeof *post);
    for (int l = 0; l < nf; l++) {
        pre[l] = malloc((size_t)(n * llfc_net_featdim(net, l)) * sizeof(float));
        post[l] = malloc((size_t)(n * llfc_net_featdim(net, l)) * sizeof(float));
    }
    CHECK(llfc_net_forward_features(net, x, n, pre, post) == 0, "%s: forward_features (%s)", what, llfc_errmsg());
    int l = 0;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_RELU) continue;
        char buf[64];
        okn &= !strcmp(llfc_net_featname(net, l, buf, sizeof buf), o->name);
        okf &= llfc_net_featdim(net, l) == llfc_cnn_slot_dim(net, o->out) &&
               !memcmp(pre[l], slots[o->in], (size_t)(n * llfc_net_featdim(net, l)) * sizeof(float)) &&
               !memcmp(post[l], slots[o->out], (size_t)(n * llfc_net_featdim(net, l)) * sizeof(float));
        okf &= llfc_net_feat_has_act(net, l);
        l++;
    }
    char buf[64];
    int64_t k = llfc_net_num_classes(net);
    okn &= l == nf - 1 && !strcmp(llfc_net_featname(net, nf - 1, buf, sizeof buf), "logits");
    okf &= !llfc_net_feat_has_act(net, nf - 1) &&
           !memcmp(pre[nf - 1], slots[ns - 1], (size_t)(n * k) * sizeof(float)) &&
           !memcmp(post[nf - 1], slots[ns - 1], (size_t)(n * k) * sizeof(float));
    CHECK(okf, "%s: features are the relus' input/output slots, then the logits (pre == post)", what);
    CHECK(okn, "%s: feature names are the relu op names, then 'logits'", what);
    /* only some buffers, the same slot asked twice (logits pre and post) */
    float *lg = malloc((size_t)(n * k) * sizeof *lg), *lg2 = malloc((size_t)(n * k) * sizeof *lg2);
    float **pre2 = calloc((size_t)nf, sizeof *pre2), **post2 = calloc((size_t)nf, sizeof *post2);
    pre2[nf - 1] = lg2, post2[nf - 1] = lg;
    CHECK(llfc_net_forward_features(net, x, n, pre2, post2) == 0 && !memcmp(lg, slots[ns - 1], (size_t)(n * k) * 4) &&
              !memcmp(lg2, lg, (size_t)(n * k) * 4),
          "%s: logits asked as pre and post both arrive", what);
    memset(lg, 0, (size_t)(n * k) * 4);
    CHECK(llfc_net_forward(net, x, n, lg) == 0 && !memcmp(lg, slots[ns - 1], (size_t)(n * k) * 4),
          "%s: llfc_net_forward gives the last slot", what);
    llfc_eval_result er;
    int32_t y[3] = {0, 1, 2};
    CHECK(llfc_net_eval(net, x, y, n, 2, &er, NULL, NULL) == 0 && er.n == 3, "%s: llfc_net_eval runs", what);

    for (int q = 0; q < nf; q++) free(pre[q]), free(post[q]);
    free(pre), free(post), free(pre2), free(post2), free(lg), free(lg2);
    tn_run_free(&r);
    tn_params_free(net, par);
    for (int s = 1; s < ns; s++) free(slots[s]);
    free(slots);
    free(x);
}

static void test_check_errors(void)
{
    llfc_net *net = net_vgg(1);
    net->cnn->ops[4].C = 5;
    CHECK(llfc_cnn_check(net) < 0 && strstr(llfc_errmsg(), "features.4") && strstr(llfc_errmsg(), "expects 5x3x3"),
          "check: a geometry mismatch names the op (%s)", llfc_errmsg());
    net->cnn->ops[4].C = 3;
    net->cnn->ops[2].out = 7;
    float x[72] = {0}, out[5];
    CHECK(llfc_net_forward(net, x, 1, out) < 0 && strstr(llfc_errmsg(), "writes slot 7"),
          "check: forward refuses a broken op list (%s)", llfc_errmsg());
    net->cnn->ops[2].out = 3;
    int64_t sz[4] = {3, 2, 2, 2};
    llfc_tensor_free(net->param[0]);
    net->param[0] = llfc_tensor_new(4, sz);
    CHECK(llfc_cnn_check(net) < 0 && strstr(llfc_errmsg(), "features.0.weight") && strstr(llfc_errmsg(), "3x2x3x3"),
          "check: a weight of the wrong shape (%s)", llfc_errmsg());
    llfc_net_free(net);
}

static void test_arch(void)
{
    llfc_net *a = net_res(1), *b = net_res(2), *v = net_vgg(1);
    CHECK(llfc_net_same_arch(a, b) == 0, "same_arch: two ResNet-like nets");
    CHECK(llfc_net_same_arch(a, v) < 0, "same_arch: different op lists differ (%s)", llfc_errmsg());
    snprintf(b->cnn->config, sizeof b->cnn->config, "other");
    CHECK(llfc_net_same_arch(a, b) < 0 && strstr(llfc_errmsg(), "other"), "same_arch: configs differ (%s)",
          llfc_errmsg());
    snprintf(b->cnn->config, sizeof b->cnn->config, "test");
    b->cnn->ops[3].stride = 2;
    CHECK(llfc_net_same_arch(a, b) < 0 && strstr(llfc_errmsg(), "op 4"), "same_arch: an op differs (%s)",
          llfc_errmsg());
    b->cnn->ops[3].stride = 1;
    /* counts: a's */
    int nbt = a->cnn->ops[1].pnbt;
    llfc_tensor_data(a->param[nbt])[0] = 7, llfc_tensor_data(b->param[nbt])[0] = 100;
    llfc_net *m = llfc_net_lerp(a, b, 0.25);
    int ok = m != NULL;
    unsigned char count[TN_MAXPARAMS] = {0};
    for (int i = 0; i < a->cnn->nops; i++)
        if (a->cnn->ops[i].kind == LLFC_OP_BN) count[a->cnn->ops[i].pnbt] = 1;
    for (int p = 0; ok && p < a->nparams; p++) {
        const float *pa = llfc_tensor_data(a->param[p]), *pb = llfc_tensor_data(b->param[p]),
                    *pm = llfc_tensor_data(m->param[p]);
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[p]); i++)
            ok &= count[p] ? pm[i] == pa[i]
                  : fabsf(pm[i] - (0.25f * pa[i] + 0.75f * pb[i])) <= 1e-6f * (1 + fabsf(pb[i]));
    }
    ok &= llfc_tensor_data(m->param[nbt])[0] == 7;
    CHECK(ok, "lerp: every param and buffer interpolated, num_batches_tracked is a's");
    llfc_net *cl = llfc_net_clone(a);
    float x[2 * 108], la[6], lc[6];
    for (int i = 0; i < 216; i++) x[i] = (float)((i * 37 % 17) - 8) / 8.0f;
    ok = cl && llfc_net_same_arch(a, cl) == 0 && cl->ptrain != a->ptrain && cl->cnn->ops != a->cnn->ops &&
         !memcmp(cl->ptrain, a->ptrain, (size_t)a->nparams) && llfc_net_forward(a, x, 2, la) == 0 &&
         llfc_net_forward(cl, x, 2, lc) == 0 && !memcmp(la, lc, sizeof la);
    CHECK(ok, "clone: own op list and flags, same logits");
    llfc_net_free(cl);
    llfc_net_free(m);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(v);
}

int main(void)
{
    llfc_net *v = net_vgg(3), *r = net_res(4), *f = net_flat(5);
    test_eval("vgg", v);
    test_eval("res", r);
    test_eval("flat", f);
    test_check_errors();
    test_arch();
    llfc_net_free(v), llfc_net_free(r), llfc_net_free(f);
    return check_summary();
}
