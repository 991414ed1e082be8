/* test_exec.c - the executor (src/nn/exec.c) on every architecture: MLPs
 * (relu, tanh, identity) from the builder and hand-built conv and residual op
 * lists, against the naive double-precision executor of cnn_naive.h and a
 * naive MLP written here: eval forward of every op kind, features, one weight
 * alone; cross-entropy; training passes (gradients against central finite
 * differences of the training-mode loss, BatchNorm statistics); model files
 * (MLP state_dicts with and without metadata, conv nets); training. */
#include "check.h"
#include "cnn_naive.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "io/safetensors.h"
#include "nn/train.h"
#include "core/core.h"
#include "nn/kernels/layers.h"

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

/* no norm, unpadded conv, overlapping 3x3 stride-2 pool, a slot added to
 * itself, flatten head */
static llfc_net *net_flat(uint64_t seed)
{
    llfc_net *net = tn_new(1, 7, 7, seed);
    int s = tn_conv(net, 0, "features.0", 3, 3, 1, 0, 1);
    s = tn_relu(net, s, "h1");
    s = tn_maxpool(net, s, 3, 2);
    s = tn_add(net, s, s);
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

static int progress_count(void *ud, double done, double total, const char *what)
{
    int *k = ud;
    return ++*k > 100;
}

/* ---- (c) eval forward, features, apply_weight ------------------------------- */
static void test_eval(const char *what, llfc_net *net)
{
    CHECK(llfc_net_check(net) == 0, "%s: the hand-built op list checks (%s)", what, llfc_errmsg());
    const llfc_net *c = net;
    int n = 3, ns = c->nops + 1;
    float *x = rand_x(n * llfc_net_input_dim(net), 7);
    float **slots = calloc((size_t)ns, sizeof *slots);
    for (int s = 1; s < ns; s++) slots[s] = malloc((size_t)(n * llfc_net_slot_dim(net, s)) * sizeof(float));
    int rc = llfc_net_forward_slots(net, x, n, slots);
    CHECK(rc == 0, "%s: forward_slots (%s)", what, llfc_errmsg());
    double **par = tn_params(net);
    tn_run r;
    tn_forward(net, par, x, n, 0, &r);
    double worst = 0;
    int bad = -1;
    for (int s = 1; s < ns; s++) {
        double e = rel_err_fd(slots[s], r.v[s], n * llfc_net_slot_dim(net, s));
        if (e > worst) worst = e, bad = s;
        if (e > 1e-4) printf("# %s: slot %d (%s) rel err %g\n", what, s, c->ops[s - 1].name, e);
    }
    CHECK(worst < 1e-4, "%s: every slot of the eval forward equals the naive loops (worst %.2g at slot %d)", what,
          worst, bad);
    CHECK(llfc_net_slot_dim(net, 0) == llfc_net_input_dim(net) && llfc_net_slot_dim(net, ns) < 0 &&
              strstr(llfc_errmsg(), "no slot"),
          "%s: slot_dim of the input; out of range fails", what);

    /* apply_weight = conv / linear without the bias */
    int nconv = 0, okw = 1;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_CONV && o->kind != LLFC_OP_LINEAR) {
            if (i == 1) CHECK(llfc_net_apply_weight(net, i, slots[o->in] ? slots[o->in] : x, n, slots[o->out]) < 0 &&
                                  strstr(llfc_errmsg(), "not a conv or linear"),
                              "%s: apply_weight refuses a %s op", what, o->name);
            continue;
        }
        int64_t d = llfc_net_slot_dim(net, o->out), hw = (int64_t)o->P * o->Q;
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
        okw &= llfc_net_apply_weight(net, i, in, n, out) == 0 && rel_err_fd(out, ref, n * d) < 1e-4;
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
        if (o->kind != LLFC_OP_RELU && o->kind != LLFC_OP_TANH && o->kind != LLFC_OP_IDENTITY) continue;
        char buf[64];
        okn &= !strcmp(llfc_net_featname(net, l, buf, sizeof buf), o->fname) && o->feat == l;
        okf &= llfc_net_featdim(net, l) == llfc_net_slot_dim(net, o->out) &&
               !memcmp(pre[l], slots[o->in], (size_t)(n * llfc_net_featdim(net, l)) * sizeof(float)) &&
               !memcmp(post[l], slots[o->out], (size_t)(n * llfc_net_featdim(net, l)) * sizeof(float));
        okf &= llfc_net_feat_has_act(net, l) == (o->kind != LLFC_OP_IDENTITY);
        l++;
    }
    char buf[64];
    int64_t k = llfc_net_num_classes(net);
    okn &= l == nf - 1 && !strcmp(llfc_net_featname(net, nf - 1, buf, sizeof buf), "logits");
    okf &= !llfc_net_feat_has_act(net, nf - 1) &&
           !memcmp(pre[nf - 1], slots[ns - 1], (size_t)(n * k) * sizeof(float)) &&
           !memcmp(post[nf - 1], slots[ns - 1], (size_t)(n * k) * sizeof(float));
    CHECK(okf, "%s: features are the activations' input/output slots, then the logits (pre == post)", what);
    CHECK(okn, "%s: feature names are the activation ops' feature names, then 'logits'", what);
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
    net->ops[4].C = 5;
    CHECK(llfc_net_check(net) < 0 && strstr(llfc_errmsg(), "features.4") && strstr(llfc_errmsg(), "expects 5x3x3"),
          "check: a geometry mismatch names the op (%s)", llfc_errmsg());
    net->ops[4].C = 3;
    net->ops[2].out = 7;
    float x[72] = {0}, out[5];
    CHECK(llfc_net_forward(net, x, 1, out) < 0 && strstr(llfc_errmsg(), "writes slot 7"),
          "check: forward refuses a broken op list (%s)", llfc_errmsg());
    net->ops[2].out = 3;
    int64_t sz[4] = {3, 2, 2, 2};
    llfc_tensor_free(net->param[0]);
    net->param[0] = llfc_tensor_new(4, sz);
    CHECK(llfc_net_check(net) < 0 && strstr(llfc_errmsg(), "features.0.weight") && strstr(llfc_errmsg(), "3x2x3x3"),
          "check: a weight of the wrong shape (%s)", llfc_errmsg());
    llfc_net_free(net);
}

static void test_arch(void)
{
    llfc_net *a = net_res(1), *b = net_res(2), *v = net_vgg(1);
    CHECK(llfc_net_same_arch(a, b) == 0, "same_arch: two ResNet-like nets");
    CHECK(llfc_net_same_arch(a, v) < 0, "same_arch: different op lists differ (%s)", llfc_errmsg());
    /* the layout is the op list and the parameter shapes: descriptions
     * that differ in nothing else (an MLP's init) are the same layout */
    snprintf(b->config, sizeof b->config, "other");
    CHECK(llfc_net_same_arch(a, b) == 0, "same_arch: the same ops under another description");
    snprintf(b->config, sizeof b->config, "test");
    b->ops[3].stride = 2;
    CHECK(llfc_net_same_arch(a, b) < 0 && strstr(llfc_errmsg(), "op 4"), "same_arch: an op differs (%s)",
          llfc_errmsg());
    b->ops[3].stride = 1;
    /* counts: a's */
    int nbt = a->ops[1].pnbt;
    llfc_tensor_data(a->param[nbt])[0] = 7, llfc_tensor_data(b->param[nbt])[0] = 100;
    llfc_net *m = llfc_net_lerp(a, b, 0.25);
    int ok = m != NULL;
    unsigned char count[TN_MAXPARAMS] = {0};
    for (int i = 0; i < a->nops; i++)
        if (a->ops[i].kind == LLFC_OP_BN) count[a->ops[i].pnbt] = 1;
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
    ok = cl && llfc_net_same_arch(a, cl) == 0 && cl->ptrain != a->ptrain && cl->ops != a->ops &&
         !memcmp(cl->ptrain, a->ptrain, (size_t)a->nparams) && llfc_net_forward(a, x, 2, la) == 0 &&
         llfc_net_forward(cl, x, 2, lc) == 0 && !memcmp(la, lc, sizeof la);
    CHECK(ok, "clone: own op list and flags, same logits");
    llfc_net_free(cl);
    llfc_net_free(m);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(v);
}


/* ---- (a) gradients against finite differences of the training-mode loss ---- */
static float **grads_new(const llfc_net *net)
{
    float **g = calloc((size_t)net->nparams, sizeof *g);
    for (int p = 0; p < net->nparams; p++) g[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
    return g;
}

static void grads_free(const llfc_net *net, float **g)
{
    for (int p = 0; p < net->nparams; p++) free(g[p]);
    free(g);
}

static void test_grad(const char *what, llfc_net *net, int n)
{
    float *x = rand_x(n * llfc_net_input_dim(net), 11);
    int32_t y[8];
    for (int i = 0; i < n; i++) y[i] = (int32_t)((i * 7 + 1) % llfc_net_num_classes(net));
    double **par = tn_params(net);
    float **g = grads_new(net);
    /* buffers must stay untouched: mark them */
    for (int p = 0; p < net->nparams; p++)
        if (!net->ptrain[p]) g[p][0] = 12345.0f;
    double loss = 0;
    int64_t nerr = 0;
    int rc = llfc_net_loss_grad(net, x, y, n, g, &loss, &nerr);
    CHECK(rc == 0, "%s: loss_grad (%s)", what, rc ? llfc_errmsg() : "");
    tn_run r;
    tn_forward(net, par, x, n, 1, &r);
    double L0 = tn_loss(net, &r, y, n);
    tn_run_free(&r);
    CHECK_NEAR(loss, L0, 1e-5, "%s: training-mode loss %.6f = the naive loss with batch statistics", what, loss);
    double h = 1e-5;
    int nchecked = 0, okall = 1, okbuf = 1;
    for (int p = 0; p < net->nparams; p++) {
        if (!net->ptrain[p]) { okbuf &= g[p][0] == 12345.0f; continue; }
        int64_t m = llfc_tensor_numel(net->param[p]);
        double *fd = malloc((size_t)m * sizeof *fd), scale = 0, err = 0;
        for (int64_t i = 0; i < m; i++) {
            double keep = par[p][i];
            par[p][i] = keep + h;
            tn_forward(net, par, x, n, 1, &r);
            double Lp = tn_loss(net, &r, y, n);
            tn_run_free(&r);
            par[p][i] = keep - h;
            tn_forward(net, par, x, n, 1, &r);
            double Lm = tn_loss(net, &r, y, n);
            tn_run_free(&r);
            par[p][i] = keep;
            fd[i] = (Lp - Lm) / (2 * h);
            if (fabs(fd[i]) > scale) scale = fabs(fd[i]);
        }
        for (int64_t i = 0; i < m; i++)
            if (fabs(g[p][i] - fd[i]) > err) err = fabs(g[p][i] - fd[i]);
        int ok = err <= 2e-3 * scale + 2e-5;
        if (!ok) printf("# %s: %s max err %g, max |grad| %g\n", what, net->pname[p], err, scale);
        okall &= ok;
        nchecked++;
        free(fd);
    }
    CHECK(okall && nchecked >= 4, "%s: gradients of all %d trainable tensors = central differences (double)", what,
          nchecked);
    CHECK(okbuf, "%s: buffers get no gradient", what);
    grads_free(net, g);
    tn_params_free(net, par);
    free(x);
}

/* ---- (b) BatchNorm: running statistics, eval vs train, reset_bn ------------- */
static void test_bn(void)
{
    llfc_net *net = net_res(21);
    const llfc_net *c = net;
    int n = 5;
    float *x = rand_x(n * llfc_net_input_dim(net), 3);
    for (int i = 0; i < c->nops; i++)
        if (c->ops[i].kind == LLFC_OP_BN) llfc_tensor_data(net->param[c->ops[i].pnbt])[0] = 2;
    double **par = tn_params(net);
    tn_run r;
    tn_forward(net, par, x, n, 1, &r);
    llfc_nn_work *w = llfc_nn_work_new(net, 8);
    CHECK(w && llfc_net_forward_train(net, w, x, n) == 0, "bn: forward_train");
    int ok = 1, nbn = 0;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        nbn++;
        double M = (double)n * o->H * o->W;
        const float *rm = llfc_tensor_data(net->param[o->prm]), *rv = llfc_tensor_data(net->param[o->prv]);
        for (int ch = 0; ch < o->C; ch++) {
            double em = 0.9 * par[o->prm][ch] + 0.1 * r.bmean[i][ch];
            double ev = 0.9 * par[o->prv][ch] + 0.1 * r.bvar[i][ch] * M / (M - 1);
            ok &= fabs(rm[ch] - em) < 1e-5 * (1 + fabs(em)) && fabs(rv[ch] - ev) < 1e-5 * (1 + fabs(ev));
            if (!ok) printf("# %s %d: %g %g  %g %g\n", o->name, ch, rm[ch], em, rv[ch], ev);
        }
        ok &= llfc_tensor_data(net->param[o->pnbt])[0] == 3;
    }
    CHECK(ok && nbn == 6, "bn: running mean/var (unbiased, momentum 0.1) and num_batches_tracked after a training batch");

    /* eval mode with the running statistics set to this batch's (biased) ones = training mode */
    int64_t k = llfc_net_num_classes(net);
    float lg[8 * 3];
    CHECK(llfc_net_forward(net, x, n, lg) == 0 && rel_err_fd(lg, r.v[r.ns - 1], n * k) > 1e-3,
          "bn: eval mode (running statistics) differs from training mode");
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        for (int ch = 0; ch < o->C; ch++) {
            llfc_tensor_data(net->param[o->prm])[ch] = (float)r.bmean[i][ch];
            llfc_tensor_data(net->param[o->prv])[ch] = (float)r.bvar[i][ch];
        }
    }
    CHECK(llfc_net_forward(net, x, n, lg) == 0 && rel_err_fd(lg, r.v[r.ns - 1], n * k) < 1e-4,
          "bn: eval mode with the batch's statistics = training mode");
    tn_run_free(&r);

    /* reset_bn: 11 samples in batches of 4, 4, 3; cumulative mean of the batch
     * means and unbiased variances (momentum=None) */
    int N = 11, B = 4;
    float *xs = rand_x(N * llfc_net_input_dim(net), 5);
    double **sm = calloc((size_t)c->nops, sizeof *sm), **sv = calloc((size_t)c->nops, sizeof *sv);
    int nb = 0;
    for (int s = 0; s < N; s += B, nb++) {
        int m = N - s < B ? N - s : B;
        tn_forward(net, par, xs + s * llfc_net_input_dim(net), m, 1, &r);
        for (int i = 0; i < c->nops; i++) {
            const llfc_op *o = &c->ops[i];
            if (o->kind != LLFC_OP_BN) continue;
            if (!sm[i]) sm[i] = calloc((size_t)o->C, sizeof(double)), sv[i] = calloc((size_t)o->C, sizeof(double));
            double M = (double)m * o->H * o->W;
            for (int ch = 0; ch < o->C; ch++) sm[i][ch] += r.bmean[i][ch], sv[i][ch] += r.bvar[i][ch] * M / (M - 1);
        }
        tn_run_free(&r);
    }
    llfc_net *keep = llfc_net_clone(net);
    llfc_interrupt_flag = 1;
    int rc = llfc_net_reset_bn(net, xs, N, B, NULL, NULL);
    llfc_interrupt_clear();
    int same = 1;
    for (int p = 0; p < net->nparams; p++)
        same &= !memcmp(llfc_tensor_data(net->param[p]), llfc_tensor_data(keep->param[p]),
                        (size_t)llfc_tensor_numel(net->param[p]) * 4);
    CHECK(rc < 0 && strstr(llfc_errmsg(), "interrupted") && same, "reset_bn: interrupted, the statistics are restored");
    int calls = 0;
    rc = llfc_net_reset_bn(net, xs, N, B, progress_count, &calls);
    CHECK(rc == 0 && calls == 3, "reset_bn: %d batches, progress called per batch (%s)", calls, rc ? llfc_errmsg() : "");
    ok = 1;
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        const float *rm = llfc_tensor_data(net->param[o->prm]), *rv = llfc_tensor_data(net->param[o->prv]);
        for (int ch = 0; ch < o->C; ch++)
            ok &= fabs(rm[ch] - sm[i][ch] / nb) < 1e-4 * (1 + fabs(sm[i][ch] / nb)) &&
                  fabs(rv[ch] - sv[i][ch] / nb) < 1e-4 * (1 + fabs(sv[i][ch] / nb));
        ok &= llfc_tensor_data(net->param[o->pnbt])[0] == nb;
    }
    CHECK(ok, "reset_bn: running mean/var = mean over the batches of batch means / unbiased variances; "
              "num_batches_tracked = %d", nb);
    same = 1;
    for (int p = 0; p < net->nparams; p++)
        if (net->ptrain[p])
            same &= !memcmp(llfc_tensor_data(net->param[p]), llfc_tensor_data(keep->param[p]),
                            (size_t)llfc_tensor_numel(net->param[p]) * 4);
    CHECK(same, "reset_bn: trainable parameters unchanged");
    calls = 100;
    CHECK(llfc_net_reset_bn(net, xs, N, B, progress_count, &calls) < 0 && strstr(llfc_errmsg(), "interrupted"),
          "reset_bn: a progress callback asking to stop interrupts");
    CHECK(llfc_net_reset_bn(net, xs, N, 0, NULL, NULL) < 0 && strstr(llfc_errmsg(), "batch"),
          "reset_bn: batch 0 is an error (%s)", llfc_errmsg());
    llfc_net *f = net_flat(1);
    CHECK(llfc_net_reset_bn(f, xs, 2, 2, NULL, NULL) < 0 && strstr(llfc_errmsg(), "no BatchNorm"),
          "reset_bn: a net without BatchNorm is an error (%s)", llfc_errmsg());
    llfc_nn_work *fw = llfc_nn_work_new(f, 2);
    CHECK(fw && llfc_net_forward_train(f, fw, xs, 2) == 0 && llfc_net_backward(f, fw, xs, 2, NULL) < 0 && strstr(llfc_errmsg(), "no forward_train and loss"),
          "backward_all before loss_start fails (%s)", llfc_errmsg());
    llfc_nn_work_free(fw);
    llfc_net_free(f);
    for (int i = 0; i < c->nops; i++) free(sm[i]), free(sv[i]);
    free(sm), free(sv), free(xs);
    llfc_net_free(keep);
    llfc_nn_work_free(w);
    tn_params_free(net, par);
    free(x);
    llfc_net_free(net);
}

/* ---- (e) training -------------------------------------------------------------- */

/* 3 classes of 3x6x6 images: channel k carries a bright 2x2 patch at a
 * class-specific place, plus noise */
static llfc_dataset *blob_images(int64_t n, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, 108, 3);
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i % 3);
        ds->y[i] = k;
        float *x = ds->x + i * 108;
        for (int j = 0; j < 108; j++) x[j] = (float)(0.5 * llfc_rng_normal(&r));
        for (int u = 0; u < 2; u++)
            for (int v = 0; v < 2; v++) x[k * 36 + (1 + 2 * k / 2 + u) * 6 + 1 + k + v] += 2.0f;
    }
    return ds;
}

static int params_equal(const llfc_net *a, const llfc_net *b)
{
    for (int p = 0; p < a->nparams; p++)
        if (memcmp(llfc_tensor_data(a->param[p]), llfc_tensor_data(b->param[p]),
                   (size_t)llfc_tensor_numel(a->param[p]) * 4))
            return 0;
    return 1;
}

static void test_train(void)
{
    llfc_dataset *ds = blob_images(96, 9);
    llfc_net *a = net_res(31), *b = net_res(31);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 0.05, o.batch = 16, o.weight_decay = 5e-4, o.nesterov = 1;
    llfc_eval_result e0, e1;
    llfc_net_eval_ds(a, ds, 32, &e0, NULL, NULL);
    llfc_trainer *ta = llfc_trainer_new(a, ds, &o, 5), *tb = llfc_trainer_new(b, ds, &o, 5);
    CHECK(ta && tb, "train: trainers for conv nets (%s)", ta ? "" : llfc_errmsg());
    int64_t done;
    int intr;
    double first = 0, last = 0;
    llfc_step_info info;
    for (int s = 0; s < 60; s++) {
        llfc_trainer_step(ta, &info);
        if (s < 6) first += info.loss / 6;
        if (s >= 54) last += info.loss / 6;
    }
    CHECK(llfc_trainer_run(tb, 30, NULL, NULL, &done, &intr) == 0 && done == 30, "train: run 30 steps");
    llfc_net *c = llfc_net_clone(b);
    llfc_trainer *tc = llfc_trainer_clone(tb, c);
    CHECK(tc != NULL, "train: trainer_clone of a conv net");
    llfc_trainer_run(tb, 30, NULL, NULL, &done, &intr);
    llfc_trainer_run(tc, 30, NULL, NULL, &done, &intr);
    llfc_net_eval_ds(a, ds, 32, &e1, NULL, NULL);
    CHECK(last < 0.5 * first, "train: the batch loss falls (%.3f over the first 6 steps, %.3f over the last 6)", first,
          last);
    CHECK(e1.loss < 0.5 * e0.loss && e1.err < e0.err, "train: eval loss %.3f -> %.3f, error %.2f -> %.2f", e0.loss,
          e1.loss, e0.err, e1.err);
    CHECK(params_equal(a, b), "train: the same seed gives bit-identical parameters and buffers");
    CHECK(params_equal(b, c), "train: a cloned trainer continues bit-identically");
    int nbt = a->ops[1].pnbt;
    CHECK(llfc_tensor_data(a->param[nbt])[0] == 60, "train: num_batches_tracked counts the steps");
    llfc_trainer_free(ta), llfc_trainer_free(tb), llfc_trainer_free(tc);

    /* one plain SGD step = the parameters minus lr * the gradient; buffers move only by the forward pass */
    llfc_net *d = net_res(32), *e = net_res(32);
    o.momentum = 0, o.nesterov = 0, o.weight_decay = 0, o.batch = 96, o.lr = 0.1;
    llfc_trainer *td = llfc_trainer_new(d, ds, &o, 1);
    float **g = grads_new(e);
    CHECK(llfc_net_loss_grad(e, ds->x, ds->y, 96, g, NULL, NULL) == 0, "train: loss_grad on the whole set");
    llfc_trainer_step(td, &info);
    int ok = 1;
    for (int p = 0; p < d->nparams; p++) {
        const float *pd = llfc_tensor_data(d->param[p]), *pe = llfc_tensor_data(e->param[p]);
        for (int64_t i = 0; i < llfc_tensor_numel(d->param[p]); i++) {
            float want = d->ptrain[p] ? pe[i] - 0.1f * g[p][i] : pe[i]; /* e's buffers: one forward_train too */
            ok &= fabsf(pd[i] - want) <= 1e-4f * (1 + fabsf(want));
        }
    }
    CHECK(ok, "train: one SGD step on a conv net = w - lr * grad; buffers = one training-mode forward");
    /* a diverged step (NaN loss) leaves parameters and buffers as they were */
    llfc_tensor_data(d->param[0])[0] = NAN;
    llfc_net *before = llfc_net_clone(d);
    int rc = llfc_trainer_step(td, &info);
    int same = 1;
    for (int p = 1; p < d->nparams; p++)
        same &= !memcmp(llfc_tensor_data(d->param[p]), llfc_tensor_data(before->param[p]),
                        (size_t)llfc_tensor_numel(d->param[p]) * 4);
    CHECK(rc < 0 && strstr(llfc_errmsg(), "diverged") && same,
          "train: a NaN loss fails and leaves the parameters and BatchNorm buffers unchanged (%s)", llfc_errmsg());
    llfc_net_free(before);
    grads_free(e, g);
    llfc_trainer_free(td);
    llfc_net_free(d), llfc_net_free(e);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(c);
    llfc_dataset_release(ds);
}

/* ---- (d) model files ----------------------------------------------------------- */
static void randomize_buffers(llfc_net *net, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        for (int ch = 0; ch < o->C; ch++) {
            llfc_tensor_data(net->param[o->prm])[ch] = (float)(0.1 * llfc_rng_normal(&r));
            llfc_tensor_data(net->param[o->prv])[ch] = (float)(0.5 + llfc_rng_double(&r));
            llfc_tensor_data(net->param[o->pw])[ch] = (float)(1 + 0.2 * llfc_rng_normal(&r));
        }
        llfc_tensor_data(net->param[o->pnbt])[0] = (float)(40 + i);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *b = calloc(1, 1 << 22);
    *len = fread(b, 1, (1 << 22) - 1, fp);
    fclose(fp);
    return b;
}

/* a file with net's tensors, minus `drop`, plus `extra`, with metadata arch/config */
static int write_variant(const llfc_net *net, const char *path, const char *arch, const char *config,
                         const char *drop, const char *extra, const char *reshape)
{
    llfc_st_file *f = llfc_st_new();
    llfc_tensor *t2 = llfc_tensor_new1(3);
    int rc = 0;
    for (int p = 0; p < net->nparams; p++) {
        if (drop && !strcmp(net->pname[p], drop)) continue;
        rc |= llfc_st_add(f, net->pname[p], reshape && !strcmp(net->pname[p], reshape) ? t2 : net->param[p]);
    }
    if (extra) rc |= llfc_st_add(f, extra, t2);
    if (arch) rc |= llfc_st_set_meta(f, "arch", arch);
    if (config) rc |= llfc_st_set_meta(f, "config", config);
    rc |= llfc_st_write(path, f);
    llfc_st_free(f);
    llfc_tensor_free(t2);
    return rc;
}

static void test_io(void)
{
    char dir[] = "/tmp/llfc_test_cnn_XXXXXX", path[256];
    if (!mkdtemp(dir)) { CHECK(0, "io: mkdtemp"); return; }
    snprintf(path, sizeof path, "%s/net.safetensors", dir);
    static const int spec[] = {4, -1, 6};
    llfc_net *nets[3] = {llfc_resnet20_new(3, 8, 8, 1, LLFC_NORM_BN, 10, 3),
                         llfc_vgg_new(1, 8, 8, 3, spec, LLFC_NORM_BN, LLFC_VGG_FLATTEN, 4, 2),
                         llfc_resnet20_new(3, 8, 8, 1, LLFC_NORM_LN, 5, 4)};
    for (int k = 0; k < 3; k++) {
        llfc_net *net = nets[k];
        if (!net) { CHECK(0, "io: build net %d (%s)", k, llfc_errmsg()); continue; }
        randomize_buffers(net, 7 + k);
        int n = 4;
        int64_t K = llfc_net_num_classes(net);
        float *x = rand_x(n * llfc_net_input_dim(net), 5), *la = malloc((size_t)(n * K) * 4),
              *lb = malloc((size_t)(n * K) * 4);
        int rc = llfc_net_save(net, path);
        CHECK(rc == 0, "io %s: save (%s)", net->config, rc ? llfc_errmsg() : "");
        llfc_net *back = llfc_net_load(path);
        CHECK(back != NULL, "io %s: load (%s)", net->config, back ? "" : llfc_errmsg());
        if (!back) { free(x), free(la), free(lb); continue; }
        CHECK(!strcmp(back->config, net->config) && llfc_net_same_arch(net, back) == 0 && params_equal(net, back) &&
                  !memcmp(back->ptrain, net->ptrain, (size_t)net->nparams),
              "io %s: same layout, every parameter and buffer back bit for bit", net->config);
        CHECK(llfc_net_forward(net, x, n, la) == 0 && llfc_net_forward(back, x, n, lb) == 0 &&
                  !memcmp(la, lb, (size_t)(n * K) * 4),
              "io %s: identical logits after the round trip", net->config);
        size_t len;
        char *txt = slurp(path, &len);
        int nbn = 0, ni64 = 0;
        for (int i = 0; i < net->nops; i++) {
            const llfc_op *o = &net->ops[i];
            if (o->kind != LLFC_OP_BN) continue;
            char want[160];
            snprintf(want, sizeof want, "\"%s\":{\"dtype\":\"I64\",\"shape\":[]", net->pname[o->pnbt]);
            nbn++;
            ni64 += txt && strstr(txt + 8, want) != NULL;
        }
        if (k < 2) CHECK(nbn > 0 && ni64 == nbn, "io %s: the %d num_batches_tracked are I64 scalars", net->config, nbn);
        free(txt);
        llfc_net_free(back);
        free(x), free(la), free(lb);
    }

    /* malformed files */
    llfc_net *net = nets[0];
    const char *cfg = net->config;
    struct { const char *arch, *config, *drop, *extra, *reshape, *want; } bad[] = {
        {"cnn", NULL, NULL, NULL, NULL, "needs a config"},
        {"cnn", "vgg depth=12", NULL, NULL, NULL, "config 'vgg depth=12'"},
        {"cnn", "resnet20 width=x", NULL, NULL, NULL, "config"},
        {"cnn", cfg, "layer2.0.bn1.running_var", NULL, NULL, "missing tensor 'layer2.0.bn1.running_var'"},
        {"cnn", cfg, NULL, "layer9.weight", NULL, "unexpected tensor 'layer9.weight'"},
        {"cnn", cfg, NULL, NULL, "linear.weight", "'linear.weight' is 3, the config"},
        {"cnn", cfg, NULL, NULL, "bn1.num_batches_tracked", "'bn1.num_batches_tracked' is 3"},
        {"resnet", cfg, NULL, NULL, NULL, "architecture 'resnet' is not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = write_variant(net, path, bad[i].arch, bad[i].config, bad[i].drop, bad[i].extra, bad[i].reshape);
        llfc_net *b = rc ? NULL : llfc_net_load(path);
        CHECK(rc == 0 && !b && strstr(llfc_errmsg(), bad[i].want) && strstr(llfc_errmsg(), path),
              "io: malformed file %zu refused (%s)", i + 1, llfc_errmsg());
        llfc_net_free(b);
    }
    /* a PyTorch-style F32 [1] count and F32 everything loads */
    CHECK(write_variant(net, path, "cnn", cfg, NULL, NULL, NULL) == 0, "io: write an all-F32 file");
    llfc_net *b = llfc_net_load(path);
    CHECK(b && params_equal(b, net), "io: num_batches_tracked as F32 [1] loads too (%s)", b ? "" : llfc_errmsg());
    llfc_net_free(b);
    for (int k = 0; k < 3; k++) llfc_net_free(nets[k]);
    unlink(path);
    rmdir(dir);
}


/* Reference forward in double: loss (mean xent) of the MLP with parameters
 * given as double arrays P[p] (same layout as net->param[p]). */
static double ref_loss(const llfc_net *net, double **P, const float *x, const int32_t *y, int n, double *logits_out,
                       int *nerr)
{
    int L = net->nfeat, act = llfc_act_from_name(llfc_net_act(net));
    double loss = 0;
    int errs = 0;
    for (int r = 0; r < n; r++) {
        double a[64], z[64];
        int in = (int)net->widths[0];
        for (int i = 0; i < in; i++) a[i] = x[r * in + i];
        for (int l = 0; l < L; l++) {
            int o = (int)net->widths[l + 1], i0 = (int)net->widths[l];
            for (int j = 0; j < o; j++) {
                double s = P[2 * l + 1][j];
                for (int i = 0; i < i0; i++) s += P[2 * l][j * i0 + i] * a[i];
                z[j] = s;
            }
            for (int j = 0; j < o; j++) {
                if (l == L - 1) a[j] = z[j];
                else if (act == LLFC_ACT_RELU) a[j] = z[j] > 0 ? z[j] : 0;
                else if (act == LLFC_ACT_TANH) a[j] = tanh(z[j]);
                else a[j] = z[j];
            }
        }
        int k = (int)net->widths[L];
        double m = a[0];
        int am = 0;
        for (int j = 1; j < k; j++) if (a[j] > m) { m = a[j]; am = j; }
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(a[j] - m);
        loss += m + log(s) - a[y[r]];
        errs += am != y[r];
        if (logits_out) for (int j = 0; j < k; j++) logits_out[r * k + j] = a[j];
    }
    if (nerr) *nerr = errs;
    return loss / n;
}

static void test_gradcheck(int act, const char *actname)
{
    int64_t widths[] = {5, 7, 6, 3};
    llfc_net *net = llfc_mlp_new(4, widths, act, LLFC_INIT_TORCH, 11);
    CHECK(net != NULL, "%s: mlp_new", actname);
    if (!net) return;
    enum { N = 6 };
    float x[N * 5];
    int32_t y[N];
    llfc_rng rng;
    llfc_rng_seed(&rng, 5);
    for (int i = 0; i < N * 5; i++) x[i] = (float)llfc_rng_normal(&rng);
    for (int i = 0; i < N; i++) y[i] = (int32_t)llfc_rng_below(&rng, 3);
    /* make the logits layer larger so the loss is not flat */
    float *grad[8];
    double *P[8];
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        float *w = llfc_tensor_data(net->param[p]);
        for (int64_t i = 0; i < m; i++) w[i] *= 2.0f;
        size_t mz = m > 0 ? (size_t)m : 1;
        grad[p] = calloc(mz, sizeof(float));
        P[p] = calloc(mz, sizeof(double));
        for (int64_t i = 0; i < m; i++) P[p][i] = w[i];
    }
    double loss = 0;
    int64_t nerr = 0;
    CHECK(llfc_net_loss_grad(net, x, y, N, grad, &loss, &nerr) == 0, "%s: loss_grad runs", actname);
    int rerr;
    double rl = ref_loss(net, P, x, y, N, NULL, &rerr);
    CHECK_NEAR(loss, rl, 1e-5, "%s: loss matches the double reference (%g)", actname, rl);
    CHECK(nerr == rerr, "%s: error count matches the reference (%lld vs %d)", actname, (long long)nerr, rerr);
    double maxdiff = 0, maxg = 0;
    for (int p = 0; p < net->nparams; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        for (int64_t i = 0; i < m; i++) {
            double h = 1e-6, w0 = P[p][i];
            P[p][i] = w0 + h;
            double lp = ref_loss(net, P, x, y, N, NULL, NULL);
            P[p][i] = w0 - h;
            double lm = ref_loss(net, P, x, y, N, NULL, NULL);
            P[p][i] = w0;
            double fd = (lp - lm) / (2 * h);
            double d = fabs(fd - grad[p][i]);
            if (d > maxdiff) maxdiff = d;
            if (fabs(fd) > maxg) maxg = fabs(fd);
        }
    }
    CHECK(maxg > 1e-2, "%s: gradients are not trivially zero (max %g)", actname, maxg);
    CHECK(maxdiff < 1e-4 * (maxg > 1 ? maxg : 1), "%s: backward matches finite differences (max diff %g)", actname,
          maxdiff);
    for (int p = 0; p < net->nparams; p++) { free(grad[p]); free(P[p]); }
    llfc_net_free(net);
}

static void test_xent(void)
{
    float z[6] = {1, 2, 3, 0, 0, 0};
    int32_t y[2] = {2, 1};
    double loss = 0;
    int64_t nerr = 0;
    float d[6];
    CHECK(llfc_xent(z, y, 2, 3, 0.5f, &loss, &nerr, d) == 0, "xent runs");
    double l0 = log(exp(1) + exp(2) + exp(3)) - 3, l1 = log(3.0);
    CHECK_NEAR(loss, l0 + l1, 1e-6, "xent: summed loss by hand");
    /* row 2 is a three-way tie: argmax is class 0, label 1 -> an error */
    CHECK(nerr == 1, "xent: error count (tie counts against)");
    CHECK_NEAR(d[2], 0.5 * (exp(3) / (exp(1) + exp(2) + exp(3)) - 1), 1e-6, "xent: gradient at the label");
    CHECK_NEAR(d[3], 0.5 / 3, 1e-6, "xent: gradient off the label");
    int32_t bad[2] = {0, 3};
    CHECK(llfc_xent(z, bad, 2, 3, 1, NULL, NULL, NULL) == -1 && strstr(llfc_errmsg(), "label 3"),
          "xent: label out of range is an error (%s)", llfc_errmsg());
    float big[2] = {1e4f, -1e4f};
    int32_t y1[1] = {1};
    loss = 0;
    llfc_xent(big, y1, 1, 2, 1, &loss, NULL, NULL);
    CHECK_NEAR(loss, 2e4, 1e-6, "xent: stable for large logits");
}

static void test_eval_mlp(void)
{
    int64_t widths[] = {4, 8, 3};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_RELU, LLFC_INIT_KAIMING, 3);
    enum { N = 37 };
    float x[N * 4];
    int32_t y[N];
    llfc_rng rng;
    llfc_rng_seed(&rng, 9);
    for (int i = 0; i < N * 4; i++) x[i] = (float)llfc_rng_normal(&rng);
    for (int i = 0; i < N; i++) y[i] = (int32_t)llfc_rng_below(&rng, 3);
    double *P[4];
    for (int p = 0; p < 4; p++) {
        int64_t m = llfc_tensor_numel(net->param[p]);
        P[p] = malloc((size_t)m * sizeof(double));
        for (int64_t i = 0; i < m; i++) P[p][i] = llfc_tensor_data(net->param[p])[i];
    }
    int rerr;
    double rl = ref_loss(net, P, x, y, N, NULL, &rerr);
    llfc_eval_result r;
    CHECK(llfc_net_eval(net, x, y, N, 5, &r, NULL, NULL) == 0, "eval runs with a batch that does not divide n");
    CHECK(r.n == N, "eval: n");
    CHECK_NEAR(r.loss, rl, 1e-5, "eval: mean loss matches the reference");
    CHECK_NEAR(r.err, (double)rerr / N, 1e-12, "eval: error rate matches the reference");
    CHECK(llfc_net_eval(net, x, y, N, 0, &r, NULL, NULL) == -1, "eval: batch 0 is an error");
    for (int p = 0; p < 4; p++) free(P[p]);
    llfc_net_free(net);
}

static void test_backward_twice(void)
{
    /* the backward pass reads the weights and the kept values only: two
     * passes after one forward give the same gradients as loss_grad */
    int64_t widths[] = {3, 5, 4, 2};
    llfc_net *net = llfc_mlp_new(4, widths, LLFC_ACT_TANH, LLFC_INIT_TORCH, 2);
    float x[3 * 3] = {1, -2, .5f, .3f, .1f, -1, 2, 2, -.7f};
    int32_t y[3] = {0, 1, 1};
    float *grad[6], *g2[6];
    for (int p = 0; p < 6; p++) {
        grad[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
        g2[p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
    }
    llfc_net_loss_grad(net, x, y, 3, grad, NULL, NULL);
    llfc_nn_work *w = llfc_nn_work_new(net, 4);
    double ls = 0;
    int ok = llfc_net_forward_train(net, w, x, 3) == 0 && llfc_net_loss_start(net, w, y, 3, &ls, NULL) == 0 &&
             llfc_net_backward(net, w, x, 3, g2) == 0;
    for (int p = 0; ok && p < 6; p++)
        ok = !memcmp(grad[p], g2[p], (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
    CHECK(ok, "backward after forward_train and loss_start equals loss_grad bit for bit");
    CHECK(llfc_net_backward(net, w, x, 3, g2) == -1, "a second backward without a forward is an error (%s)",
          llfc_errmsg());
    CHECK(llfc_net_forward_train(net, w, x, 9) == -1, "workspace: batch larger than allocated is an error");
    llfc_nn_work_free(w);
    for (int p = 0; p < 6; p++) free(grad[p]), free(g2[p]);
    llfc_net_free(net);
}

/* write a file holding tensors name_i of the given shapes (and metadata) */
static int write_st(const char *path, int n, const char **names, const int64_t (*shapes)[2], const int *ndims,
                    const char *widths_meta)
{
    llfc_st_file *f = llfc_st_new();
    for (int i = 0; i < n; i++) {
        llfc_tensor *t = llfc_tensor_new(ndims[i], shapes[i]);
        float *d = llfc_tensor_data(t);
        for (int64_t k = 0; k < llfc_tensor_numel(t); k++) d[k] = 0.01f * (float)k;
        llfc_st_add(f, names[i], t);
        llfc_tensor_free(t);
    }
    if (widths_meta) llfc_st_set_meta(f, "widths", widths_meta);
    int rc = llfc_st_write(path, f);
    llfc_st_free(f);
    return rc;
}

static void test_files(void)
{
    char path[] = "/tmp/llfc_test_nn_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    int64_t widths[] = {3, 4, 2};
    llfc_net *net = llfc_mlp_new(3, widths, LLFC_ACT_TANH, LLFC_INIT_TORCH, 1);
    CHECK(llfc_net_save(net, path) == 0, "save");
    llfc_net *back = llfc_net_load(path);
    CHECK(back && llfc_net_same_arch(net, back) == 0 && !strcmp(llfc_net_act(back), "tanh"), "load: same architecture");
    int same = back != NULL;
    for (int p = 0; same && p < net->nparams; p++)
        same = !memcmp(llfc_tensor_data(net->param[p]), llfc_tensor_data(back->param[p]),
                       (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float));
    CHECK(same, "load: same values");
    llfc_net_free(back);
    llfc_st_file *f = llfc_st_read(path);
    CHECK(f && !strcmp(llfc_st_get_meta(f, "widths"), "3,4,2") && !strcmp(llfc_st_get_meta(f, "arch"), "mlp") &&
              llfc_st_get(f, "2.weight") && llfc_st_get(f, "2.weight")->size[0] == 2,
          "metadata and state_dict names");
    llfc_st_free(f);

    const char *n1[] = {"0.weight", "0.bias", "2.weight"};
    const int64_t s1[][2] = {{4, 3}, {4, 0}, {2, 4}};
    const int d1[] = {2, 1, 2};
    int64_t s1b[3][2];
    memcpy(s1b, s1, sizeof s1b);
    s1b[1][0] = 4;
    write_st(path, 3, n1, (const int64_t(*)[2])s1b, d1, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "'2.weight' without '2.bias'"),
          "a weight without its bias (%s)", llfc_errmsg());
    const char *n2[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    const int64_t s2[][2] = {{4, 3}, {4, 0}, {2, 5}, {2, 0}};
    const int d2[] = {2, 1, 2, 1};
    write_st(path, 4, n2, s2, d2, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "takes 5 inputs"),
          "layers that do not chain (%s)", llfc_errmsg());
    const int64_t s3[][2] = {{4, 3}, {4, 0}, {2, 4}, {2, 0}};
    write_st(path, 4, n2, s3, d2, NULL);
    llfc_net *ok = llfc_net_load(path);
    CHECK(ok && ok->nfeat == 2 && ok->widths[0] == 3 && !strcmp(llfc_net_act(ok), "relu"),
          "no metadata: widths from the shapes, relu");
    llfc_net_free(ok);
    write_st(path, 4, n2, s3, d2, "3,5,2");
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "metadata says widths 3,5,2"),
          "metadata that disagrees with the shapes (%s)", llfc_errmsg());
    const char *n4[] = {"0.weight", "0.bias", "2.weight", "2.bias", "extra"};
    const int64_t s4[][2] = {{4, 3}, {4, 0}, {2, 4}, {2, 0}, {1, 0}};
    const int d4[] = {2, 1, 2, 1, 1};
    write_st(path, 5, n4, s4, d4, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "unexpected tensor 'extra'"),
          "an unexpected tensor (%s)", llfc_errmsg());
    const int64_t s5[][2] = {{4, 3}, {3, 0}, {2, 4}, {2, 0}};
    write_st(path, 4, n2, s5, d2, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "'0.bias' must be [4]"),
          "a bias of the wrong size (%s)", llfc_errmsg());
    const char *n6[] = {"layer.weight"};
    const int64_t s6[][2] = {{4, 3}};
    const int d6[] = {2};
    write_st(path, 1, n6, s6, d6, NULL);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), "not an MLP state_dict"),
          "a file without 0.weight (%s)", llfc_errmsg());
    unlink(path);
    CHECK(llfc_net_load(path) == NULL && strstr(llfc_errmsg(), path), "a missing file names it (%s)", llfc_errmsg());
    llfc_net_free(net);
}

/* The eval forward keeps values between convolutions in oneDNN's channel
 * blocks when nothing asks for them (layers.h, conv2d): its logits are those
 * of the forward that keeps every slot (all plain NCHW), bit for bit, with
 * BatchNorm statistics away from their defaults. */
static void test_blocked_forward(void)
{
    int B = llfc_conv2d_act_block();
    for (int width = 1; width <= 2; width++) {
        llfc_net *net = llfc_resnet20_new(3, 8, 8, width, LLFC_NORM_BN, 10, 11);
        if (!net) { CHECK(0, "resnet20 (%s)", llfc_errmsg()); return; }
        for (int i = 0; i < net->nops; i++) {
            const llfc_op *o = &net->ops[i];
            if (o->kind != LLFC_OP_BN) continue;
            float *rm = llfc_tensor_data(net->param[o->prm]), *rv = llfc_tensor_data(net->param[o->prv]);
            float *bw = llfc_tensor_data(net->param[o->pb]);
            for (int c = 0; c < o->C; c++)
                rm[c] = 0.1f * (float)((c * 7 + i) % 5) - 0.2f, rv[c] = 0.5f + 0.1f * (float)((c + i) % 7),
                bw[c] = 0.05f * (float)((c * 3 + i) % 4) - 0.05f;
        }
        /* training: loss, every gradient and the running statistics with
         * blocked values, then with every value plain */
        int nb = 4;
        float *xt = rand_x(nb * llfc_net_input_dim(net), 17);
        int32_t yt[4] = {1, 7, 3, 0};
        float **gr[2];
        double lt[2];
        int64_t ne[2] = {0, 0};
        size_t bytes = 0;
        llfc_net *cl[2] = {llfc_net_clone(net), llfc_net_clone(net)};
        int rt = !cl[0] || !cl[1];
        for (int pass = 0; pass < 2 && !rt; pass++) {
            llfc_conv2d_set_act_blocks(pass == 0);
            gr[pass] = calloc((size_t)net->nparams, sizeof *gr[pass]);
            for (int p = 0; p < net->nparams; p++)
                gr[pass][p] = calloc((size_t)llfc_tensor_numel(net->param[p]), sizeof(float));
            rt |= llfc_net_loss_grad(cl[pass], xt, yt, nb, gr[pass], &lt[pass], &ne[pass]);
        }
        llfc_conv2d_set_act_blocks(1);
        int same = !rt && lt[0] == lt[1] && ne[0] == ne[1], nz = 0;
        for (int p = 0; p < net->nparams && !rt; p++) {
            size_t m = (size_t)llfc_tensor_numel(net->param[p]) * sizeof(float);
            same &= !memcmp(gr[0][p], gr[1][p], m) &&
                    !memcmp(llfc_tensor_data(cl[0]->param[p]), llfc_tensor_data(cl[1]->param[p]), m);
            nz += gr[0][p][0] != 0.0f;
            bytes += m;
        }
        CHECK(same && nz >= net->nparams / 2,
              "resnet20 width %d, BN: training pass with blocked values (block %d) = with plain values, bit for bit "
              "(loss %.6g, %d of %d gradients nonzero, running statistics)", width, B, rt ? 0.0 : lt[0], nz,
              net->nparams);
        for (int pass = 0; pass < 2 && !rt; pass++) {
            for (int p = 0; p < net->nparams; p++) free(gr[pass][p]);
            free(gr[pass]);
        }
        llfc_net_free(cl[0]), llfc_net_free(cl[1]);
        free(xt);
        (void)bytes;

        int n = 5, ns = net->nops + 1;
        int64_t k = llfc_net_num_classes(net);
        float *x = rand_x(n * llfc_net_input_dim(net), 13);
        float **slots = calloc((size_t)ns, sizeof *slots), *lg = malloc((size_t)(n * k) * sizeof *lg);
        for (int s = 1; s < ns; s++) slots[s] = malloc((size_t)(n * llfc_net_slot_dim(net, s)) * sizeof(float));
        int rc = llfc_net_forward_slots(net, x, n, slots) | llfc_net_forward(net, x, n, lg);
        double e = 0;
        for (int64_t j = 0; j < n * k; j++) e = fmax(e, fabs(lg[j]));
        CHECK(rc == 0 && e > 1e-3 && !memcmp(lg, slots[ns - 1], (size_t)(n * k) * sizeof *lg),
              "resnet20 width %d, BN: logits with blocked values between convolutions (block %d) = all slots kept "
              "plain (max |logit| %.3g)", width, B, e);
        for (int s = 1; s < ns; s++) free(slots[s]);
        free(slots), free(lg), free(x);
        llfc_net_free(net);
    }
}

int main(void)
{
    /* MLPs from the builder */
    test_xent();
    test_gradcheck(LLFC_ACT_RELU, "relu");
    test_gradcheck(LLFC_ACT_TANH, "tanh");
    test_gradcheck(LLFC_ACT_IDENTITY, "identity");
    test_eval_mlp();
    test_backward_twice();
    test_files();
    static const int acts[] = {LLFC_ACT_RELU, LLFC_ACT_TANH, LLFC_ACT_IDENTITY};
    static const char *names[] = {"mlp relu", "mlp tanh", "mlp identity"};
    int64_t mw[] = {5, 6, 4, 3};
    for (int k = 0; k < 3; k++) {
        llfc_net *m = llfc_mlp_new(4, mw, acts[k], LLFC_INIT_TORCH, 6 + k);
        test_eval(names[k], m);
        test_grad(names[k], m, 4);
        llfc_net_free(m);
    }
    /* conv and residual op lists */
    llfc_net *v = net_vgg(3), *r = net_res(4), *f = net_flat(5);
    test_eval("vgg", v);
    test_eval("res", r);
    test_eval("flat", f);
    test_check_errors();
    test_arch();
    test_grad("vgg", v, 4);
    test_grad("res", r, 4);
    test_grad("flat", f, 3);
    test_bn();
    test_blocked_forward();
    test_train();
    test_io();
    llfc_net_free(v), llfc_net_free(r), llfc_net_free(f);
    return check_summary();
}
