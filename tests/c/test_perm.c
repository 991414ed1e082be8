/* test_perm.c - Perm algebra and application against naive loops, function
 * preservation, planted-permutation recovery by every matcher; commutativity
 * matching's J against a naive double-precision J, its local minimality and
 * its output-side assignment by brute force; STE's and Sinkhorn's gradients
 * against central differences; Perm files. */
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "check.h"
#include "cnn_naive.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "perm/lap.h"
#include "perm/perm.h"

static llfc_net *mlp(int nw, const int64_t *w, uint64_t seed)
{
    llfc_net *n = llfc_mlp_new(nw, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, seed);
    if (!n) { printf("not ok - mlp: %s\n", llfc_errmsg()); exit(1); }
    return n;
}

static int same_params(const llfc_net *a, const llfc_net *b)
{
    for (int k = 0; k < a->nparams; k++) {
        int64_t n = llfc_tensor_numel(a->param[k]);
        if (memcmp(llfc_tensor_data(a->param[k]), llfc_tensor_data(b->param[k]), (size_t)n * sizeof(float))) return 0;
    }
    return 1;
}

static float *gaussian(int64_t n, int64_t d, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *x = malloc(sizeof *x * n * d);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)llfc_rng_normal(&r);
    return x;
}

/* apply checked against the definition written out for an MLP */
static void test_apply_naive(void)
{
    int64_t w[] = {5, 7, 6, 3};
    llfc_net *net = mlp(4, w, 1);
    llfc_perm *p = llfc_perm_random(net->spec, 9);
    llfc_net *q = llfc_perm_apply(p, net);
    int ok = q != NULL;
    for (int l = 0; l < 3 && ok; l++) {
        const int64_t *po = l < 2 ? p->idx[l] : NULL, *pi = l > 0 ? p->idx[l - 1] : NULL;
        int64_t out = w[l + 1], in = w[l];
        const float *W = llfc_tensor_data(net->param[2 * l]), *Wq = llfc_tensor_data(q->param[2 * l]);
        const float *b = llfc_tensor_data(net->param[2 * l + 1]), *bq = llfc_tensor_data(q->param[2 * l + 1]);
        for (int64_t i = 0; i < out; i++) {
            int64_t si = po ? po[i] : i;
            if (bq[i] != b[si]) ok = 0;
            for (int64_t k = 0; k < in; k++)
                if (Wq[i * in + k] != W[si * in + (pi ? pi[k] : k)]) ok = 0;
        }
    }
    CHECK(ok, "apply matches W'[i,k] = W[p_out[i], p_in[k]] on a 5-7-6-3 MLP");
    llfc_perm *id = llfc_perm_identity(net->spec);
    llfc_net *qi = llfc_perm_apply(id, net);
    CHECK(qi && same_params(qi, net) && llfc_perm_is_identity(id), "identity apply leaves every parameter unchanged");
    llfc_perm *inv = llfc_perm_inverse(p);
    llfc_net *back = llfc_perm_apply(inv, q);
    CHECK(back && same_params(back, net), "inverse undoes apply exactly");
    llfc_perm *p2 = llfc_perm_random(net->spec, 10);
    llfc_perm *r = llfc_perm_compose(p, p2);
    llfc_net *t1 = llfc_perm_apply(p2, net), *t2 = llfc_perm_apply(p, t1), *t3 = llfc_perm_apply(r, net);
    CHECK(r && t2 && t3 && same_params(t2, t3), "compose(p, q) applies q first: r(net) == p(q(net))");
    llfc_perm *pi = llfc_perm_compose(p, inv);
    CHECK(pi && llfc_perm_is_identity(pi), "compose(p, inverse(p)) is the identity");
    llfc_perm_free(pi);
    llfc_perm_free(p2); llfc_perm_free(r);
    llfc_net_free(t1); llfc_net_free(t2); llfc_net_free(t3);
    llfc_perm_free(inv); llfc_net_free(back);
    llfc_perm_free(id); llfc_net_free(qi);
    llfc_perm_free(p); llfc_net_free(q); llfc_net_free(net);
}

/* the generic gather against nested loops on a 4-d tensor */
static void test_gather(void)
{
    int64_t sz[4] = {3, 4, 2, 5};
    llfc_tensor *s = llfc_tensor_new(4, sz), *d = llfc_tensor_new(4, sz);
    float *sd = llfc_tensor_data(s);
    for (int i = 0; i < 120; i++) sd[i] = (float)i;
    int64_t p0[3] = {2, 0, 1}, p1[4] = {3, 1, 0, 2}, p3[5] = {4, 2, 0, 1, 3};
    for (int variant = 0; variant < 3; variant++) {
        const int64_t *ap[LLFC_MAXDIM] = {0};
        if (variant == 0) { ap[0] = p0; ap[3] = p3; }
        if (variant == 1) { ap[1] = p1; }
        if (variant == 2) { ap[0] = p0; ap[1] = p1; ap[3] = p3; }
        llfc_perm_gather(s, d, ap);
        const float *dd = llfc_tensor_data(d);
        int ok = 1;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 2; c++)
                    for (int e = 0; e < 5; e++) {
                        int sa = ap[0] ? (int)ap[0][a] : a, sb = ap[1] ? (int)ap[1][b] : b,
                            se = ap[3] ? (int)ap[3][e] : e;
                        if (dd[((a * 4 + b) * 2 + c) * 5 + e] != sd[((sa * 4 + sb) * 2 + c) * 5 + se]) ok = 0;
                    }
        CHECK(ok, "gather on a 3x4x2x5 tensor equals nested loops (variant %d)", variant);
    }
    llfc_tensor_free(s);
    llfc_tensor_free(d);
}

static void test_validation(void)
{
    int64_t w[] = {4, 3, 2};
    llfc_net *net = mlp(3, w, 2);
    llfc_perm *p = llfc_perm_identity(net->spec);
    int64_t bad1[3] = {0, 0, 2}, bad2[3] = {0, 3, 1}, good[3] = {2, 0, 1};
    CHECK(llfc_perm_set(p, 0, bad1) == -1 && strstr(llfc_errmsg(), "1 appears twice"), "set rejects a repeat: %s",
          llfc_errmsg());
    CHECK(llfc_perm_set(p, 0, bad2) == -1 && strstr(llfc_errmsg(), "outside 1..3"), "set rejects out of range: %s",
          llfc_errmsg());
    CHECK(llfc_perm_set(p, 0, good) == 0 && p->idx[0][0] == 2, "set accepts a bijection");
    int64_t w2[] = {4, 5, 2};
    llfc_net *other = mlp(3, w2, 2);
    CHECK(llfc_perm_apply(p, other) == NULL && strstr(llfc_errmsg(), "group P1 has 3 units in the permutation and 5"),
          "apply to a net of another width fails: %s", llfc_errmsg());
    llfc_perm_free(p);
    llfc_net_free(net);
    llfc_net_free(other);
}

static void test_function_preserved(void)
{
    int64_t w[] = {12, 33, 17, 25, 4};
    llfc_net *net = mlp(5, w, 5);
    float *x = gaussian(64, 12, 6);
    double worst = 0;
    for (int s = 0; s < 5; s++) {
        llfc_perm *p = llfc_perm_random(net->spec, 100 + s);
        double m = -1;
        if (llfc_perm_check(net, p, x, 64, &m) || m > worst) worst = m < 0 ? 1e9 : m;
        llfc_perm_free(p);
    }
    CHECK(worst < 1e-5, "random perms keep the function (max |diff| %.3g)", worst);
    free(x);
    llfc_net_free(net);
}

/* r equals p except on units of a that are dead (all zero) on x, which tie;
 * *nties counts those units */
static int equal_up_to_dead(const llfc_perm *r, const llfc_perm *p, const llfc_net *a, const float *x, int64_t n,
                            int *nties)
{
    if (!r) return 0;
    int F = llfc_net_nfeat(a), ok = 1;
    float **post = calloc(F, sizeof *post);
    for (int l = 0; l < F; l++) post[l] = malloc(sizeof(float) * n * llfc_net_featdim(a, l));
    llfc_net_forward_features(a, x, n, NULL, post);
    *nties = 0;
    for (int g = 0; g < a->spec->ngroups; g++) {
        int64_t d = a->spec->gsize[g];
        const float *h = post[a->spec->gfeat[g]];
        for (int64_t i = 0; i < d; i++) {
            if (r->idx[g][i] == p->idx[g][i]) continue;
            int dead = 1;
            for (int64_t k = 0; k < n && dead; k++) dead = h[k * d + i] == 0.0f;
            if (dead) (*nties)++;
            else ok = 0;
        }
    }
    for (int l = 0; l < F; l++) free(post[l]);
    free(post);
    return ok;
}

static void test_planted(void)
{
    const int64_t widths[][5] = {{10, 16, 16, 3, 0}, {20, 64, 48, 64, 5}, {784, 128, 128, 10, 0}};
    const int nw[] = {4, 5, 4};
    for (int t = 0; t < 3; t++) {
        llfc_net *a = mlp(nw[t], widths[t], 40 + t);
        llfc_perm *p = llfc_perm_random(a->spec, 77 + t);
        llfc_perm *pinv = llfc_perm_inverse(p);
        llfc_net *b = llfc_perm_apply(pinv, a); /* p(b) == a */
        llfc_perm_free(pinv);
        llfc_wm_stats st;
        llfc_wm_opts o = {.max_iter = 100, .seed = 3};
        llfc_perm *q = llfc_weight_match(a, b, &o, &st);
        int mono = q != NULL;
        for (int i = 1; q && i < st.iterations; i++) mono &= st.objective[i] >= st.objective[i - 1] - 1e-6 * fabs(st.objective[i]);
        CHECK(q && llfc_perm_equal(q, p), "weight matching recovers a planted permutation (widths %lld-%lld-..., %d sweeps)",
              (long long)widths[t][0], (long long)widths[t][1], q ? st.iterations : -1);
        CHECK(mono, "weight matching objective never decreases over %d sweeps", st.iterations);
        free(st.objective);
        int64_t din = widths[t][0];
        float *x = gaussian(700, din, 8 + t);
        for (int meth = 0; meth < 4; meth++) {
            /* batches of 256 (float64 sums), or all 700 samples in one (its product) */
            llfc_am_opts ao = {.method = meth & 1, .batch = meth < 2 ? 256 : 700};
            llfc_perm *r = llfc_activation_match(a, b, x, 700, &ao, NULL);
            int nties = 0;
            CHECK(equal_up_to_dead(r, p, a, x, 700, &nties),
                  "activation matching (%s, batch %d) recovers a planted permutation (in %lld; %d dead units tie)",
                  meth & 1 ? "corr" : "inner", (int)ao.batch, (long long)din, nties);
            llfc_perm_free(r);
        }
        free(x);
        llfc_perm_free(q);
        llfc_perm_free(p);
        llfc_net_free(a);
        llfc_net_free(b);
    }
}

/* a group without a feature layer (gfeat -1) keeps the identity; the others
 * are still matched */
static void test_am_identity_group(void)
{
    const int64_t w[] = {6, 12, 10, 3};
    llfc_net *a = mlp(4, w, 6); /* no dead unit in h2 (a dead pair would tie) */
    llfc_perm *p = llfc_perm_random(a->spec, 21);
    llfc_perm *pinv = llfc_perm_inverse(p);
    llfc_net *b = llfc_perm_apply(pinv, a); /* p(b) == a */
    a->spec->gfeat[0] = -1;
    b->spec->gfeat[0] = -1;
    float *x = gaussian(400, 6, 3);
    llfc_am_opts ao = {.method = LLFC_AM_INNER, .batch = 0}; /* batch 0: the default */
    llfc_am_stats st;
    llfc_perm *r = llfc_activation_match(a, b, x, 400, &ao, &st);
    int id = r != NULL, same = r != NULL;
    for (int64_t i = 0; r && i < a->spec->gsize[0]; i++) id &= r->idx[0][i] == i;
    for (int64_t i = 0; r && i < a->spec->gsize[1]; i++) same &= r->idx[1][i] == p->idx[1][i];
    CHECK(id && st.nidentity == 1, "a group without a feature layer keeps the identity (%d noted)", r ? st.nidentity : -1);
    CHECK(same && st.n == 400, "the other group is still recovered, on all %lld samples", r ? (long long)st.n : -1LL);
    llfc_perm_free(r);
    a->spec->gfeat[1] = b->spec->gfeat[1] = -1;
    r = llfc_activation_match(a, b, x, 400, &ao, &st);
    CHECK(r && llfc_perm_is_identity(r) && st.nidentity == 2 && st.n == 0,
          "no group with a feature layer: the identity, no samples used");
    llfc_perm_free(r);
    a->spec->gfeat[1] = b->spec->gfeat[1] = 0; /* 10 units on a layer of 12 */
    r = llfc_activation_match(a, b, x, 400, &ao, &st);
    CHECK(!r && strstr(llfc_errmsg(), "not a multiple"), "a feature layer of the wrong size is an error: %s", llfc_errmsg());
    free(x);
    llfc_perm_free(p);
    llfc_perm_free(pinv);
    llfc_net_free(a);
    llfc_net_free(b);
}

/* init = the answer: one sweep, nothing to improve */
static void test_wm_init_and_dead(void)
{
    int64_t w[] = {8, 20, 20, 3};
    llfc_net *a = mlp(4, w, 1), *b = mlp(4, w, 2);
    llfc_wm_stats st;
    llfc_wm_opts o = {.max_iter = 100, .seed = 0};
    llfc_perm *q = llfc_weight_match(a, b, &o, &st);
    free(st.objective);
    o.init = q;
    llfc_perm *q2 = llfc_weight_match(a, b, &o, &st);
    CHECK(q2 && llfc_perm_equal(q, q2) && st.iterations == 1, "weight matching from its own answer stops after 1 sweep (%d)",
          st.iterations);
    free(st.objective);
    o.max_iter = 0;
    CHECK(llfc_weight_match(a, b, &o, &st) == NULL && strstr(llfc_errmsg(), "max_iter"), "max_iter 0 is refused: %s",
          llfc_errmsg());
    /* dead units: kill units 0..4 of h1 in both nets (zero weights, negative bias) */
    for (int k = 0; k < 5; k++) {
        llfc_net *n2[2] = {a, b};
        for (int m = 0; m < 2; m++) {
            float *W = llfc_tensor_data(n2[m]->param[0]), *bias = llfc_tensor_data(n2[m]->param[1]);
            memset(W + k * 8, 0, 8 * sizeof *W);
            bias[k] = -1.0f;
        }
    }
    float *x = gaussian(300, 8, 4);
    llfc_am_opts ao = {.method = LLFC_AM_CORR, .batch = 64};
    llfc_am_stats ast;
    llfc_perm *r = llfc_activation_match(a, b, x, 300, &ao, &ast);
    llfc_perm *id = llfc_perm_identity(a->spec);
    CHECK(r && llfc_perm_set(id, 0, r->idx[0]) == 0, "activation matching (corr) with dead units gives a permutation");
    free(x);
    llfc_perm_free(r); llfc_perm_free(id);
    llfc_perm_free(q); llfc_perm_free(q2);
    llfc_net_free(a); llfc_net_free(b);
}

/* Ctrl-C (the flag set as the SIGINT handler does, from a progress callback):
 * the permutation so far, flagged, the flag left for the caller to clear */
static int intr_at_sweep1(void *ud, double done, double total, const char *what)
{
    (void)ud; (void)total; (void)what;
    if (done >= 1) llfc_interrupt_flag = 1;
    return 0;
}

static int intr_after_2_batches(void *ud, double done, double total, const char *what)
{
    (void)total; (void)what;
    if (done >= *(double *)ud) llfc_interrupt_flag = 1;
    return 0;
}

static void test_interrupt(void)
{
    int64_t w[] = {8, 24, 24, 3};
    llfc_net *a = mlp(4, w, 5), *b = mlp(4, w, 6);
    llfc_wm_stats st, st1;
    llfc_wm_opts o = {.max_iter = 100, .seed = 2, .progress = intr_at_sweep1};
    llfc_perm *q = llfc_weight_match(a, b, &o, &st);
    int flag = llfc_interrupted();
    llfc_interrupt_clear();
    llfc_wm_opts o1 = {.max_iter = 1, .seed = 2};
    llfc_perm *q1 = llfc_weight_match(a, b, &o1, &st1);
    CHECK(q && st.interrupted && st.iterations == 1 && flag, "weight matching interrupted after sweep 1 returns a perm "
          "(interrupted %d, %d sweeps, flag %d)", q ? st.interrupted : -1, q ? st.iterations : -1, flag);
    CHECK(q && q1 && llfc_perm_equal(q, q1) && !st1.interrupted, "the interrupted perm equals a 1-sweep run");
    if (q) free(st.objective);
    if (q1) free(st1.objective);
    llfc_perm_free(q); llfc_perm_free(q1);

    float *x = gaussian(300, 8, 9);
    double stop_at = 128;
    llfc_am_opts ao = {.method = LLFC_AM_CORR, .batch = 64, .progress = intr_after_2_batches, .progress_ud = &stop_at};
    llfc_am_stats as, as2;
    llfc_perm *r = llfc_activation_match(a, b, x, 300, &ao, &as);
    flag = llfc_interrupted();
    llfc_interrupt_clear();
    llfc_am_opts ao2 = {.method = LLFC_AM_CORR, .batch = 64};
    llfc_perm *r2 = llfc_activation_match(a, b, x, 128, &ao2, &as2);
    CHECK(r && as.interrupted && as.n == 128 && flag, "activation matching interrupted after 2 batches uses 128 samples (%lld%s%s)",
          r ? (long long)as.n : -1LL, r ? "" : ": ", r ? "" : llfc_errmsg());
    CHECK(r && r2 && llfc_perm_equal(r, r2) && !as2.interrupted && as2.n == 128,
          "the interrupted match equals a match on the first 128 samples");
    llfc_perm_free(r); llfc_perm_free(r2);
    llfc_interrupt_flag = 1; /* before the first batch: nothing to match on */
    r = llfc_activation_match(a, b, x, 300, &ao2, &as);
    llfc_interrupt_clear();
    CHECK(!r && strstr(llfc_errmsg(), "interrupted"), "interrupted before any batch fails: %s", llfc_errmsg());
    llfc_perm_free(r);
    free(x);
    llfc_net_free(a); llfc_net_free(b);
}

/* ==== STE, Sinkhorn and commutativity matching, Perm files ===================== */

/* the nets every matcher runs on: an MLP, VGG (none / bn / ln) and
 * ResNet-20 (bn / ln), width 1 on 1x8x8 inputs; BatchNorm buffers and norm
 * affine parameters moved off their initial values */
static void stir_norms(llfc_net *net, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        if (o->kind != LLFC_OP_BN && o->kind != LLFC_OP_LN) continue;
        for (int ch = 0; ch < o->C; ch++) {
            llfc_tensor_data(net->param[o->pw])[ch] = (float)(1 + 0.3 * llfc_rng_normal(&r));
            llfc_tensor_data(net->param[o->pb])[ch] = (float)(0.2 * llfc_rng_normal(&r));
            if (o->kind != LLFC_OP_BN) continue;
            llfc_tensor_data(net->param[o->prm])[ch] = (float)(0.2 * llfc_rng_normal(&r));
            llfc_tensor_data(net->param[o->prv])[ch] = (float)(0.5 + llfc_rng_double(&r));
        }
    }
}

enum { ARCH_MLP, ARCH_VGG, ARCH_VGG_BN, ARCH_VGG_LN, ARCH_RES_BN, ARCH_RES_LN, NARCH };
static const char *arch_name[NARCH] = {"mlp", "vgg", "vgg bn", "vgg ln", "resnet20 bn", "resnet20 ln"};

static llfc_net *arch_net(int arch, uint64_t seed)
{
    static const int64_t w[] = {12, 9, 8, 7, 4};
    static const int spec[] = {5, -1, 6};
    llfc_net *n = NULL;
    switch (arch) {
    case ARCH_MLP: n = llfc_mlp_new(5, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, seed); break;
    case ARCH_VGG: case ARCH_VGG_BN: case ARCH_VGG_LN:
        n = llfc_vgg_new(1, 8, 8, 3, spec, arch - ARCH_VGG, LLFC_VGG_GAP, 4, seed);
        break;
    default: n = llfc_resnet20_new(1, 8, 8, 1, arch == ARCH_RES_BN ? LLFC_NORM_BN : LLFC_NORM_LN, 4, seed); break;
    }
    if (!n) { printf("not ok - %s: %s\n", arch_name[arch], llfc_errmsg()); exit(1); }
    stir_norms(n, seed + 100);
    return n;
}

/* y [dout] += w applied to h (one sample), all in double: the naive
 * convolution or matrix product of op o, no bias */
static void dbl_apply(const llfc_op *o, const double *w, const double *h, double *y)
{
    int R = o->kind == LLFC_OP_CONV ? o->R : 1, st = o->kind == LLFC_OP_CONV ? o->stride : 1;
    int pad = o->kind == LLFC_OP_CONV ? o->pad : 0, C = o->C, H = o->H, W = o->W;
    if (o->kind == LLFC_OP_LINEAR) C = C * H * W, H = W = 1;
    int P = o->kind == LLFC_OP_CONV ? o->P : 1, Q = o->kind == LLFC_OP_CONV ? o->Q : 1;
    for (int k = 0; k < o->K; k++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                double acc = 0;
                for (int c = 0; c < C; c++)
                    for (int u = 0; u < R; u++)
                        for (int v = 0; v < R; v++) {
                            int yy = p * st - pad + u, xx = q * st - pad + v;
                            if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                acc += w[((k * C + c) * R + u) * R + v] * h[(c * H + yy) * W + xx];
                        }
                y[(k * P + p) * Q + q] += acc;
            }
}

/* J of p(b) against a on x, in double with the naive executor; terms[op]
 * (optional) per weight op */
static double naive_J(const llfc_net *a, const llfc_net *b, const llfc_perm *p, const float *x, int n, double *terms)
{
    llfc_net *bp = llfc_perm_apply(p, b);
    double **pa = tn_params(a), **pb = tn_params(bp);
    tn_run ra, rb;
    tn_forward(a, pa, x, n, 0, &ra);
    tn_forward(bp, pb, x, n, 0, &rb);
    double J = 0;
    for (int i = 0; i < a->nops; i++) {
        const llfc_op *o = &a->ops[i];
        if (terms) terms[i] = 0;
        if (!llfc_op_has_weight(o) || o->in == 0) continue;
        int64_t din = tn_dim(a, o->in), dout = tn_dim(a, o->out), nw = llfc_tensor_numel(a->param[o->pw]);
        double *dw = malloc(sizeof *dw * nw), *e = malloc(sizeof *e * din), *y = malloc(sizeof *y * dout), t = 0;
        for (int64_t k = 0; k < nw; k++) dw[k] = pa[o->pw][k] - pb[o->pw][k];
        for (int s = 0; s < n; s++) {
            for (int64_t k = 0; k < din; k++) e[k] = ra.v[o->in][s * din + k] - rb.v[o->in][s * din + k];
            memset(y, 0, sizeof *y * dout);
            dbl_apply(o, dw, e, y);
            for (int64_t k = 0; k < dout; k++) t += y[k] * y[k];
        }
        if (terms) terms[i] = t;
        J += t;
        free(dw), free(e), free(y);
    }
    tn_run_free(&ra), tn_run_free(&rb);
    tn_params_free(a, pa), tn_params_free(bp, pb);
    llfc_net_free(bp);
    return J;
}

static int rel_ok(double got, double want, double tol) { return fabs(got - want) <= tol * (fabs(want) > 1e-12 ? fabs(want) : 1e-12); }

/* J and the search on every architecture: J = the naive double J, per
 * sweep non-increasing, never above the start, the answer's J = the naive
 * one, the same answer for the same seed */
static void test_comm_archs(void)
{
    for (int arch = 0; arch < NARCH; arch++) {
        const char *nm = arch_name[arch];
        llfc_net *a = arch_net(arch, 1), *b = arch_net(arch, 2);
        int n = arch >= ARCH_RES_BN ? 5 : 10;
        float *x = gaussian(n, llfc_net_input_dim(a), 5);
        llfc_perm *p = llfc_perm_random(a->spec, 3);
        double J = -1, *terms = calloc(a->nops, sizeof *terms), *nterms = calloc(a->nops, sizeof *nterms);
        int rc = llfc_comm_objective(a, b, p, x, n, &J, terms);
        double want = naive_J(a, b, p, x, n, nterms), worst = 0;
        for (int i = 0; i < a->nops; i++) worst = fmax(worst, fabs(terms[i] - nterms[i]) / (nterms[i] > 0 ? nterms[i] : 1));
        CHECK(rc == 0 && rel_ok(J, want, 1e-5) && worst < 1e-5,
              "%s: J of a random perm = the naive double J (%.9g vs %.9g; worst term rel %.2g)", nm, J, want, worst);
        /* (ResNets: 3 sweeps and the swap search, to stay fast) */
        llfc_comm_opts o = {.max_iter = arch >= ARCH_RES_BN ? 3 : 100, .seed = 4,
                            .from = arch == ARCH_MLP ? LLFC_FROM_IDENTITY : LLFC_FROM_WEIGHT};
        llfc_comm_stats st, st2;
        llfc_perm *q = llfc_comm_match(a, b, x, n, &o, &st);
        int mono = q != NULL;
        for (int i = 1; q && i < st.iterations; i++) mono &= st.J[i] <= st.J[i - 1];
        if (q && st.iterations) mono &= st.J[0] <= st.J_init && st.J_final <= st.J[st.iterations - 1];
        CHECK(mono && st.J_final <= st.J_init, "%s: J never increases (start %.6g, %d sweeps, %lld swaps, end %.6g)%s%s",
              nm, q ? st.J_init : -1, q ? st.iterations : -1, q ? (long long)st.swaps : -1LL, q ? st.J_final : -1,
              q ? "" : ": ", q ? "" : llfc_errmsg());
        double jq = q ? naive_J(a, b, q, x, n, NULL) : -1;
        CHECK(q && rel_ok(st.J_final, jq, 1e-5), "%s: the reported J = the naive J of the answer (%.9g vs %.9g)", nm,
              q ? st.J_final : -1, jq);
        llfc_perm *q2 = arch == ARCH_RES_LN ? NULL : llfc_comm_match(a, b, x, n, &o, &st2);
        if (arch != ARCH_RES_LN)
            CHECK(q && q2 && llfc_perm_equal(q, q2) && st2.J_final == st.J_final && st2.iterations == st.iterations,
                  "%s: the same seed gives the same answer", nm);
        if (q) free(st.J);
        if (q2) free(st2.J);
        llfc_perm_free(q), llfc_perm_free(q2), llfc_perm_free(p);
        free(terms), free(nterms), free(x);
        llfc_net_free(a), llfc_net_free(b);
    }
}

/* p with units i and j of group g swapped */
static llfc_perm *swapped(const llfc_perm *p, int g, int64_t i, int64_t j)
{
    llfc_perm *r = llfc_perm_clone(p);
    int64_t t = r->idx[g][i];
    r->idx[g][i] = r->idx[g][j], r->idx[g][j] = t;
    return r;
}

/* a small pair: an MLP of widths w (t = 0) or VGG spec on 1-2 x 4 x 4 inputs
 * with BatchNorm (t = 1), seeds s and s + 1 */
static void small_pair(int t, int nw, const int64_t *w, int c, const int *spec, uint64_t s, llfc_net **a, llfc_net **b)
{
    if (t == 0) {
        *a = llfc_mlp_new(nw, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, s), *b = llfc_mlp_new(nw, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, s + 1);
        return;
    }
    *a = llfc_vgg_new(c, 4, 4, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, s);
    *b = llfc_vgg_new(c, 4, 4, 3, spec, LLFC_NORM_BN, LLFC_VGG_GAP, 3, s + 1);
    stir_norms(*a, s + 10), stir_norms(*b, s + 11);
}

/* tiny nets (groups of at most 6 units): the answer is a local minimum
 * under every swap of two units of one group, by brute force */
static void test_comm_local_min(void)
{
    for (int t = 0; t < 2; t++) {
        static const int64_t w[] = {5, 6, 5, 4, 3};
        static const int spec[] = {4, -1, 5};
        llfc_net *a, *b;
        small_pair(t, 5, w, 2, spec, 7, &a, &b);
        int n = 40;
        float *x = gaussian(n, llfc_net_input_dim(a), 9);
        llfc_comm_opts o = {.max_iter = 100, .seed = 1, .from = LLFC_FROM_IDENTITY};
        llfc_comm_stats st;
        llfc_perm *q = llfc_comm_match(a, b, x, n, &o, &st);
        double J = q ? naive_J(a, b, q, x, n, NULL) : 0, worst = 0;
        int nswaps = 0, below = 0;
        for (int g = 0; q && g < a->spec->ngroups; g++)
            for (int64_t i = 0; i < a->spec->gsize[g]; i++)
                for (int64_t j = i + 1; j < a->spec->gsize[g]; j++) {
                    llfc_perm *r = swapped(q, g, i, j);
                    double Js = naive_J(a, b, r, x, n, NULL);
                    nswaps++;
                    if (Js < J * (1 - 1e-6)) below++;
                    worst = fmin(worst, (Js - J) / J);
                    llfc_perm_free(r);
                }
        CHECK(q && nswaps > 10 && below == 0,
              "%s: no swap of two units lowers J (%d swaps by brute force, %d lower, worst rel %.2g; %lld taken)",
              t ? "vgg bn" : "mlp 5-6-5-4-3", nswaps, below, worst, q ? (long long)st.swaps : -1LL);
        if (q) free(st.J);
        llfc_perm_free(q);
        free(x);
        llfc_net_free(a), llfc_net_free(b);
    }
}

/* next permutation of a[0..n) in lexicographic order; 0 after the last */
static int next_perm(int64_t *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (a[j] <= a[i]) j--;
    int64_t t = a[i]; a[i] = a[j]; a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) t = a[l], a[l] = a[r], a[r] = t;
    return 1;
}

/* the last hidden group with the others fixed: the assignment of the
 * output-side cost = the best of all its permutations (the term of the op
 * writing the group, naive); the cost is that term exactly, up to a constant */
static void test_comm_output_side(void)
{
    for (int t = 0; t < 2; t++) {
        static const int64_t w[] = {4, 6, 6, 3};
        static const int spec[] = {3, -1, 5};
        llfc_net *a, *b;
        small_pair(t, 4, w, 1, spec, 3, &a, &b);
        int n = 30, g = a->spec->ngroups - 1, op = -1;
        int64_t ng = a->spec->gsize[g];
        for (int i = 0; i < a->nops; i++)
            if (llfc_op_has_weight(&a->ops[i]) && a->spec->axis[a->ops[i].pw][0] == g) op = i;
        float *x = gaussian(n, llfc_net_input_dim(a), 12);
        llfc_perm *p = llfc_perm_random(a->spec, 5);
        double *C = malloc(sizeof *C * ng * ng), *terms = calloc(a->nops, sizeof *terms), tot;
        int64_t *assign = malloc(sizeof *assign * ng), q[8];
        int rc = llfc_comm_group_cost(a, b, p, x, n, g, LLFC_COMM_OUT, C);
        rc = rc || llfc_lap_solve(ng, ng, C, 0, assign, &tot);
        for (int64_t i = 0; i < ng; i++) q[i] = i;
        llfc_perm *qp = llfc_perm_identity(a->spec);
        double best = INFINITY, base = 0, lin_err = 0, at_lap = -1;
        int64_t bestq[8];
        int count = 0;
        do { /* p moved by q: p'[i] = p[q[i]] */
            memcpy(qp->idx[g], q, sizeof *q * ng);
            llfc_perm *r = llfc_perm_compose(qp, p);
            naive_J(a, b, r, x, n, terms);
            double lin = 0;
            for (int64_t i = 0; i < ng; i++) lin += C[i * ng + q[i]];
            if (count == 0) base = terms[op] - lin; /* q = identity first */
            lin_err = fmax(lin_err, fabs(terms[op] - (base + lin)) / terms[op]);
            if (terms[op] < best) best = terms[op], memcpy(bestq, q, sizeof *q * ng);
            if (!memcmp(q, assign, sizeof *q * ng)) at_lap = terms[op];
            llfc_perm_free(r);
            count++;
        } while (next_perm(q, (int)ng));
        CHECK(rc == 0 && count == (ng == 6 ? 720 : 120) && lin_err < 1e-6,
              "%s: the output-side cost is the exact term of %s over all %d permutations of %s (rel %.2g)",
              t ? "vgg bn" : "mlp", a->ops[op].name, count, a->spec->gname[g], lin_err);
        CHECK(rc == 0 && rel_ok(at_lap, best, 1e-9), "%s: its assignment = the brute-force best (%.9g vs %.9g)",
              t ? "vgg bn" : "mlp", at_lap, best);
        llfc_perm_free(qp), llfc_perm_free(p);
        free(C), free(terms), free(assign), free(x);
        llfc_net_free(a), llfc_net_free(b);
    }
}

/* labels for gaussian inputs: a fixed random linear classifier of the input */
static int32_t *labels_for(const float *x, int64_t n, int64_t d, int k)
{
    int32_t *y = malloc(sizeof *y * n);
    for (int64_t i = 0; i < n; i++) {
        double best = -INFINITY;
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += x[i * d + j] * sin(1.0 + 3.7 * c + 1.3 * j);
            if (s > best) best = s, y[i] = c;
        }
    }
    return y;
}

static llfc_dataset *gauss_set(int64_t n, int64_t d, int k, uint64_t seed)
{
    llfc_dataset *ds = llfc_dataset_new(n, d, k);
    float *x = gaussian(n, d, seed);
    int32_t *y = labels_for(x, n, d, k);
    memcpy(ds->x, x, sizeof *x * n * d);
    memcpy(ds->y, y, sizeof *y * n);
    free(x), free(y);
    return ds;
}

/* planted permutations: each method finds p exactly on the units that fire */
static void test_planted_new(void)
{
    for (int arch = 0; arch < 3; arch++) {
        llfc_net *a;
        if (arch == 0) { int64_t w[] = {10, 16, 16, 3}; a = mlp(4, w, 41); }
        else if (arch == 1) { int64_t w[] = {20, 48, 64, 5}; a = mlp(4, w, 42); }
        else a = arch_net(ARCH_VGG_BN, 43);
        const char *nm = arch == 2 ? "vgg bn" : arch ? "mlp 20-48-64-5" : "mlp 10-16-16-3";
        llfc_perm *p = llfc_perm_random(a->spec, 77 + arch), *pinv = llfc_perm_inverse(p);
        llfc_net *b = llfc_perm_apply(pinv, a); /* p(b) == a */
        int64_t din = llfc_net_input_dim(a), n = 300;
        llfc_dataset *ds = gauss_set(n, din, (int)llfc_net_num_classes(a), 8 + arch);
        int ties = 0;
        /* from weight or activation matching (which find p): kept exactly;
         * from the identity the local search gets most of the way, but can
         * stop at a local minimum above 0 */
        const int froms[] = {LLFC_FROM_WEIGHT, LLFC_FROM_ACTIVATION, LLFC_FROM_IDENTITY};
        const char *fname[] = {"weight matching", "activation matching", "the identity"};
        for (int f = 0; f < 3; f++) {
            llfc_comm_opts co = {.max_iter = 100, .seed = 1, .from = froms[f]};
            llfc_comm_stats cs;
            llfc_perm *r = llfc_comm_match(a, b, ds->x, n, &co, &cs);
            if (f < 2)
                CHECK(equal_up_to_dead(r, p, a, ds->x, n, &ties) && cs.J_final == 0,
                      "%s: commutativity matching from %s keeps a planted permutation (J %.3g; %d dead tie)", nm, fname[f],
                      r ? cs.J_final : -1, ties);
            else
                CHECK(r && cs.J_final < 0.01 * cs.J_init, "%s: from the identity it lowers J by more than 99%% (%.4g -> %.4g)",
                      nm, r ? cs.J_init : -1, r ? cs.J_final : -1);
            if (r) free(cs.J);
            llfc_perm_free(r);
        }
        llfc_perm *r;
        llfc_sinkhorn_opts so = {.tau = 1, .iters = 20, .lr = 0.1, .steps = 150};
        llfc_sinkhorn_stats ss;
        r = llfc_sinkhorn_match(a, b, NULL, &so, &ss, NULL);
        CHECK(equal_up_to_dead(r, p, a, ds->x, n, &ties), "%s: Sinkhorn (weight objective, from M = I) recovers it (%d tie)",
              nm, ties);
        if (r) free(ss.objective);
        llfc_perm_free(r);
        llfc_ste_opts to = {.epochs = 2, .lr = 1e-3, .batch = 100, .alpha = 0.5, .from = LLFC_FROM_WEIGHT, .max_iter = 100};
        llfc_ste_stats ts;
        r = llfc_ste_match(a, b, ds, &to, &ts);
        CHECK(equal_up_to_dead(r, p, a, ds->x, n, &ties), "%s: STE recovers it (%lld steps, %d tie)", nm,
              r ? (long long)ts.steps : -1LL, ties);
        if (r) free(ts.loss);
        llfc_perm_free(r);
        llfc_dataset_release(ds);
        llfc_perm_free(p), llfc_perm_free(pinv);
        llfc_net_free(a), llfc_net_free(b);
    }
}

/* STE's gradient at a fixed projection = central differences of the loss
 * of alpha*a + (1-alpha)*(P(b) + eps e_k) in double (naive executor, BatchNorm
 * with batch statistics) */
static void test_ste_grad(void)
{
    const int archs[] = {ARCH_MLP, ARCH_VGG_BN, ARCH_RES_LN};
    for (int t = 0; t < 3; t++) {
        llfc_net *a = arch_net(archs[t], 11), *b = arch_net(archs[t], 12);
        llfc_perm *p = llfc_perm_random(a->spec, 13);
        llfc_net *pb = llfc_perm_apply(p, b);
        int n = 6;
        double alpha = 0.3;
        float *x = gaussian(n, llfc_net_input_dim(a), 14);
        int32_t *y = labels_for(x, n, llfc_net_input_dim(a), (int)llfc_net_num_classes(a));
        float **g = calloc(a->nparams, sizeof *g);
        for (int k = 0; k < a->nparams; k++) g[k] = malloc(sizeof(float) * llfc_tensor_numel(a->param[k]));
        double loss = 0;
        int rc = llfc_ste_grad(a, pb, alpha, x, y, n, g, &loss);
        double **pa = tn_params(a), **pp = tn_params(pb), **th = tn_params(a);
        llfc_rng r;
        llfc_rng_seed(&r, 15);
        double worst = 0, scale = 0, h = 1e-5;
        int checked = 0;
        for (int s = 0; s < 16; s++) { /* 16 entries of random trainable tensors */
            int k = (int)llfc_rng_below(&r, (uint64_t)a->nparams);
            if (!a->ptrain[k]) { s--; continue; }
            int64_t m = llfc_tensor_numel(a->param[k]);
            int64_t i = (int64_t)llfc_rng_below(&r, (uint64_t)m);
            double L[2];
            for (int sg = 0; sg < 2; sg++) {
                for (int kk = 0; kk < a->nparams; kk++)
                    for (int64_t j = 0; j < llfc_tensor_numel(a->param[kk]); j++)
                        th[kk][j] = alpha * pa[kk][j] + (1 - alpha) * pp[kk][j];
                th[k][i] += (1 - alpha) * (sg ? -h : h);
                tn_run run;
                tn_forward(a, th, x, n, 1, &run);
                L[sg] = tn_loss(a, &run, y, n);
                tn_run_free(&run);
            }
            double fd = (L[0] - L[1]) / (2 * h);
            worst = fmax(worst, fabs(fd - g[k][i]));
            scale = fmax(scale, fabs(fd));
            checked++;
        }
        CHECK(rc == 0 && checked > 6 && worst <= 2e-3 * scale + 1e-5,
              "%s: STE gradient (projection fixed) = central differences in double (%d entries, max err %.2g of %.2g)",
              arch_name[archs[t]], checked, worst, scale);
        for (int k = 0; k < a->nparams; k++) free(g[k]);
        free(g), free(x), free(y);
        tn_params_free(a, pa), tn_params_free(a, pp), tn_params_free(a, th);
        llfc_perm_free(p);
        llfc_net_free(a), llfc_net_free(b), llfc_net_free(pb);
    }
}

static double ds_err(const double *S, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double rs = 0, cs = 0;
        for (int64_t j = 0; j < n; j++) rs += S[i * n + j], cs += S[j * n + i];
        e = fmax(e, fmax(fabs(rs - 1), fabs(cs - 1)));
    }
    return e;
}

/* sum dS * sinkhorn(M) */
static double sk_dot(const double *M, int64_t n, double tau, const double *dS)
{
    double *S = malloc(sizeof *S * n * n), s = 0;
    llfc_sinkhorn(M, n, tau, 20, S);
    for (int64_t i = 0; i < n * n; i++) s += dS[i] * S[i];
    free(S);
    return s;
}

static void test_sinkhorn_core(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 21);
    for (int t = 0; t < 3; t++) {
        int64_t n = t == 0 ? 5 : t == 1 ? 7 : 30;
        double *M = malloc(sizeof *M * n * n), *S = malloc(sizeof *S * n * n), *dS = malloc(sizeof *dS * n * n);
        double *dM = malloc(sizeof *dM * n * n);
        for (int64_t i = 0; i < n * n; i++) M[i] = 2 * llfc_rng_normal(&r), dS[i] = llfc_rng_normal(&r);
        if (t == 1) /* a column far below the rest: the log-domain rounds */
            for (int64_t i = 0; i < n; i++) M[i * n] = -1000 + M[i * n];
        int rc = llfc_sinkhorn(M, n, 1.0, 20, S);
        if (t != 1) /* (a column e^1000 below the rest converges more slowly) */
            CHECK(rc == 0 && ds_err(S, n) < 1e-5, "sinkhorn %lldx%lld: doubly stochastic to 1e-5 after 20 rounds (%.2g)",
                  (long long)n, (long long)n, ds_err(S, n));
        rc = llfc_sinkhorn_backward(M, n, 1.0, 20, dS, dM);
        double worst = 0, scale = 0, h = 1e-6;
        for (int64_t i = 0; i < n * n; i += (n > 7 ? 7 : 1)) {
            double keep = M[i];
            M[i] = keep + h;
            double fp = sk_dot(M, n, 1.0, dS);
            M[i] = keep - h;
            double fm = sk_dot(M, n, 1.0, dS);
            M[i] = keep;
            double fd = (fp - fm) / (2 * h);
            worst = fmax(worst, fabs(fd - dM[i]));
            scale = fmax(scale, fabs(fd));
        }
        CHECK(rc == 0 && worst <= 1e-6 * scale + 1e-9,
              "sinkhorn %lldx%lld%s: the gradient through 20 rounds at tau 1 = central differences (err %.2g of %.2g)",
              (long long)n, (long long)n, t == 1 ? " (log domain)" : "", worst, scale);
        free(M), free(S), free(dS), free(dM);
    }
    double M1[1] = {3}, S1[1];
    CHECK(llfc_sinkhorn(M1, 1, 1.0, 20, S1) == 0 && S1[0] == 1, "sinkhorn of a 1x1 matrix is 1");
    CHECK(llfc_sinkhorn(M1, 1, 0.0, 20, S1) == -1 && strstr(llfc_errmsg(), "tau"), "tau 0 is refused: %s",
          llfc_errmsg());
    CHECK(llfc_sinkhorn(M1, 1, 1.0, 0, S1) == -1 && strstr(llfc_errmsg(), "iters"), "0 rounds are refused: %s",
          llfc_errmsg());
}

/* out = in (shape of param k) with axis d multiplied by S [n, n], in double */
static void dbl_axis(const llfc_tensor *shape, int d, const double *S, const double *in, double *out)
{
    int64_t n = shape->size[d], pre = 1, post = 1;
    for (int k = 0; k < d; k++) pre *= shape->size[k];
    for (int k = d + 1; k < shape->ndim; k++) post *= shape->size[k];
    for (int64_t p = 0; p < pre; p++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t q = 0; q < post; q++) {
                double acc = 0;
                for (int64_t j = 0; j < n; j++) acc += S[i * n + j] * in[(p * n + j) * post + q];
                out[(p * n + i) * post + q] = acc;
            }
}

/* the relaxed objective at M in double: S = sinkhorn(M) per group, S(b)
 * applied axis by axis, then |a - S(b)|^2 or the naive training-mode loss of
 * alpha*a + (1-alpha)*S(b) */
static double dbl_objective(const llfc_net *a, const llfc_net *b, double **M, int obj, double alpha, const float *x,
                            const int32_t *y, int n)
{
    const llfc_permspec *s = a->spec;
    double **S = calloc(s->ngroups, sizeof *S), **pa = tn_params(a), **pb = tn_params(b), v = 0;
    for (int g = 0; g < s->ngroups; g++) {
        S[g] = malloc(sizeof **S * s->gsize[g] * s->gsize[g]);
        llfc_sinkhorn(M[g], s->gsize[g], 1.0, 20, S[g]);
    }
    for (int k = 0; k < a->nparams; k++) {
        int64_t m = llfc_tensor_numel(a->param[k]);
        double *t = malloc(sizeof *t * m);
        int any = 0;
        for (int d = 0; d < a->param[k]->ndim; d++) {
            int g = s->axis[k][d];
            if (g < 0) continue;
            dbl_axis(a->param[k], d, S[g], pb[k], t);
            memcpy(pb[k], t, sizeof *t * m);
            any = 1;
        }
        for (int64_t i = 0; i < m; i++) {
            if (obj == LLFC_SK_WEIGHT && any) v += (pa[k][i] - pb[k][i]) * (pa[k][i] - pb[k][i]);
            if (!llfc_net_param_is_count(a, k)) pa[k][i] = alpha * pa[k][i] + (1 - alpha) * pb[k][i];
        }
        free(t);
    }
    if (obj == LLFC_SK_LOSS) {
        tn_run r;
        tn_forward(a, pa, x, n, 1, &r);
        v = tn_loss(a, &r, y, n);
        tn_run_free(&r);
    }
    for (int g = 0; g < s->ngroups; g++) free(S[g]);
    free(S);
    tn_params_free(a, pa), tn_params_free(b, pb);
    return v;
}

/* the relaxed objective's gradient in the logits = central differences of
 * the same objective computed in double (soft matrices applied by loops,
 * the naive executor), both objectives, an MLP and conv nets */
static void test_sinkhorn_objective(void)
{
    const int archs[] = {ARCH_MLP, ARCH_VGG_BN, ARCH_RES_BN};
    for (int t = 0; t < 3; t++) {
        llfc_net *a = arch_net(archs[t], 31), *b = arch_net(archs[t], 32);
        const llfc_permspec *s = a->spec;
        int G = s->ngroups, n = 8;
        float *x = gaussian(n, llfc_net_input_dim(a), 33);
        int32_t *y = labels_for(x, n, llfc_net_input_dim(a), (int)llfc_net_num_classes(a));
        double **M = calloc(G, sizeof *M), **dM = calloc(G, sizeof *dM);
        llfc_rng r;
        llfc_rng_seed(&r, 34);
        for (int g = 0; g < G; g++) {
            int64_t m = s->gsize[g] * s->gsize[g];
            M[g] = malloc(sizeof **M * m), dM[g] = malloc(sizeof **dM * m);
            for (int64_t i = 0; i < m; i++) M[g][i] = llfc_rng_normal(&r);
        }
        for (int obj = 0; obj < 2; obj++) {
            double v, h = 1e-4;
            int rc = llfc_sinkhorn_objective(a, b, (const double *const *)M, 1.0, 20, obj, 0.5, x, y, n, &v, dM);
            double want = dbl_objective(a, b, M, obj, 0.5, x, y, n);
            CHECK(rc == 0 && rel_ok(v, want, 1e-4), "%s: the %s objective = its double-precision value (%.9g vs %.9g)",
                  arch_name[archs[t]], obj ? "loss" : "weight", v, want);
            double worst = 0, scale = 0;
            int checked = 0;
            for (int k = 0; k < 8 && !rc; k++) { /* 8 entries of random groups */
                int g = (int)llfc_rng_below(&r, (uint64_t)G);
                int64_t i = (int64_t)llfc_rng_below(&r, (uint64_t)(s->gsize[g] * s->gsize[g]));
                double keep = M[g][i];
                M[g][i] = keep + h;
                double vp = dbl_objective(a, b, M, obj, 0.5, x, y, n);
                M[g][i] = keep - h;
                double vm = dbl_objective(a, b, M, obj, 0.5, x, y, n);
                M[g][i] = keep;
                double fd = (vp - vm) / (2 * h);
                worst = fmax(worst, fabs(fd - dM[g][i]));
                scale = fmax(scale, fabs(fd));
                checked++;
            }
            CHECK(rc == 0 && checked >= 4 && worst <= 2e-3 * scale + 1e-7,
                  "%s: the %s objective's gradient in the logits = central differences in double (%d entries, err %.2g of %.2g)",
                  arch_name[archs[t]], obj ? "loss" : "weight", checked, worst, scale);
        }
        for (int g = 0; g < G; g++) free(M[g]), free(dM[g]);
        free(M), free(dM), free(x), free(y);
        llfc_net_free(a), llfc_net_free(b);
    }
}

/* every method on every architecture: a Perm that fits, the soft matrices
 * doubly stochastic, the same answer for the same seed */
static void test_methods_archs(void)
{
    for (int arch = 0; arch < NARCH; arch++) {
        const char *nm = arch_name[arch];
        llfc_net *a = arch_net(arch, 51), *b = arch_net(arch, 52);
        llfc_dataset *ds = gauss_set(40, llfc_net_input_dim(a), (int)llfc_net_num_classes(a), 53);
        llfc_ste_opts to = {.epochs = 2, .lr = 1e-2, .batch = 16, .seed = 3, .alpha = 0.5, .from = LLFC_FROM_IDENTITY,
                            .max_iter = 100};
        llfc_ste_stats t1, t2;
        llfc_perm *p1 = llfc_ste_match(a, b, ds, &to, &t1), *p2 = llfc_ste_match(a, b, ds, &to, &t2);
        CHECK(p1 && p2 && llfc_perm_equal(p1, p2) && t1.steps == 6 && t1.nloss == 2 && t1.loss[1] == t2.loss[1],
              "%s: STE runs (%lld steps, %lld changes) and is deterministic for a seed%s%s", nm,
              p1 ? (long long)t1.steps : -1LL, p1 ? (long long)t1.changes : -1LL, p1 ? "" : ": ", p1 ? "" : llfc_errmsg());
        if (p1) free(t1.loss);
        if (p2) free(t2.loss);
        llfc_perm_free(p1), llfc_perm_free(p2);
        int G = a->spec->ngroups;
        llfc_tensor **soft = calloc(G, sizeof *soft);
        llfc_sinkhorn_opts so = {.objective = LLFC_SK_LOSS, .tau = 1, .iters = 20, .lr = 0.1, .epochs = 1, .batch = 16,
                                 .seed = 2, .alpha = 0.5, .from = LLFC_FROM_WEIGHT};
        llfc_sinkhorn_stats s1, s2;
        p1 = llfc_sinkhorn_match(a, b, ds, &so, &s1, soft);
        p2 = llfc_sinkhorn_match(a, b, ds, &so, &s2, NULL);
        double dse = 0;
        for (int g = 0; p1 && g < G; g++) {
            int64_t m = a->spec->gsize[g];
            double *S = malloc(sizeof *S * m * m);
            for (int64_t i = 0; i < m * m; i++) S[i] = llfc_tensor_data(soft[g])[i];
            dse = fmax(dse, ds_err(S, m));
            free(S);
            llfc_tensor_free(soft[g]);
        }
        CHECK(p1 && p2 && llfc_perm_equal(p1, p2) && s1.steps == 3 && s1.objective[2] == s2.objective[2],
              "%s: Sinkhorn (loss objective) runs (%lld steps) and is deterministic for a seed%s%s", nm,
              p1 ? (long long)s1.steps : -1LL, p1 ? "" : ": ", p1 ? "" : llfc_errmsg());
        CHECK(p1 && dse < 1e-5, "%s: its soft matrices are doubly stochastic to 1e-5 (%.2g)", nm, dse);
        if (p1) free(s1.objective);
        if (p2) free(s2.objective);
        llfc_perm_free(p1), llfc_perm_free(p2);
        free(soft);
        llfc_dataset_release(ds);
        llfc_net_free(a), llfc_net_free(b);
    }
}

static int stop_now(void *ud, double done, double total, const char *what)
{
    (void)total; (void)what;
    if (done >= *(double *)ud) llfc_interrupt_flag = 1;
    return 0;
}

static int refuse(void *ud, double done, double total, const char *what)
{
    (void)ud; (void)done; (void)total; (void)what;
    return 1;
}

static void test_new_errors_and_interrupts(void)
{
    int64_t w[] = {6, 10, 8, 3}, w2[] = {6, 11, 8, 3};
    llfc_net *a = mlp(4, w, 61), *b = mlp(4, w, 62), *c = mlp(4, w2, 63);
    llfc_dataset *ds = gauss_set(60, 6, 3, 64);
    llfc_comm_stats cs;
    llfc_ste_stats ts;
    llfc_sinkhorn_stats ss;
    llfc_comm_opts co = {.max_iter = 100};
    llfc_ste_opts to = {.epochs = 1, .lr = 1e-3, .batch = 20, .alpha = 0.5, .max_iter = 100};
    llfc_sinkhorn_opts so = {.tau = 1, .iters = 20, .lr = 0.1, .steps = 5, .epochs = 1, .batch = 20, .alpha = 0.5};
    CHECK(!llfc_comm_match(a, c, ds->x, 60, &co, &cs) && strstr(llfc_errmsg(), "0.weight"),
          "commutativity matching of mismatched nets names the parameter: %s", llfc_errmsg());
    CHECK(!llfc_ste_match(a, c, ds, &to, &ts) && strstr(llfc_errmsg(), "0.weight"), "STE of mismatched nets: %s",
          llfc_errmsg());
    CHECK(!llfc_sinkhorn_match(a, c, NULL, &so, &ss, NULL) && strstr(llfc_errmsg(), "0.weight"),
          "Sinkhorn of mismatched nets: %s", llfc_errmsg());
    co.max_iter = 0;
    CHECK(!llfc_comm_match(a, b, ds->x, 60, &co, &cs) && strstr(llfc_errmsg(), "max_iter"), "max_iter 0: %s", llfc_errmsg());
    co.max_iter = 100;
    to.alpha = 1;
    CHECK(!llfc_ste_match(a, b, ds, &to, &ts) && strstr(llfc_errmsg(), "alpha"), "STE alpha 1: %s", llfc_errmsg());
    to.alpha = 0.5, to.lr = 0;
    CHECK(!llfc_ste_match(a, b, ds, &to, &ts) && strstr(llfc_errmsg(), "lr"), "STE lr 0: %s", llfc_errmsg());
    to.lr = 1e-3;
    so.objective = LLFC_SK_LOSS;
    CHECK(!llfc_sinkhorn_match(a, b, NULL, &so, &ss, NULL) && strstr(llfc_errmsg(), "needs a dataset"),
          "Sinkhorn's loss objective without data: %s", llfc_errmsg());
    so.objective = LLFC_SK_WEIGHT, so.tau = -1;
    CHECK(!llfc_sinkhorn_match(a, b, NULL, &so, &ss, NULL) && strstr(llfc_errmsg(), "tau"), "Sinkhorn tau -1: %s",
          llfc_errmsg());
    so.tau = 1;
    llfc_perm *other = llfc_perm_identity(c->spec);
    co.from = LLFC_FROM_PERM, co.init = other;
    CHECK(!llfc_comm_match(a, b, ds->x, 60, &co, &cs) && strstr(llfc_errmsg(), "init"), "an init of another net: %s",
          llfc_errmsg());
    co.from = LLFC_FROM_WEIGHT, co.init = NULL;
    llfc_perm_free(other);
    llfc_dataset *wide = gauss_set(10, 7, 3, 65);
    CHECK(!llfc_ste_match(a, b, wide, &to, &ts) && strstr(llfc_errmsg(), "7 features"), "STE on data of another width: %s",
          llfc_errmsg());
    llfc_dataset_release(wide);

    /* Ctrl-C (the flag set from the progress callback): the answer so far, flagged */
    double at = 1;
    co.progress = stop_now, co.progress_ud = &at, co.from = LLFC_FROM_IDENTITY;
    llfc_perm *p = llfc_comm_match(a, b, ds->x, 60, &co, &cs);
    int flag = llfc_interrupted();
    llfc_interrupt_clear();
    CHECK(p && cs.interrupted && flag && llfc_perm_fits(p, a->spec) == 0,
          "commutativity matching interrupted after a group step returns a Perm (interrupted %d)", p ? cs.interrupted : -1);
    if (p) free(cs.J);
    llfc_perm_free(p);
    to.progress = stop_now, to.progress_ud = &at;
    p = llfc_ste_match(a, b, ds, &to, &ts);
    flag = llfc_interrupted();
    llfc_interrupt_clear();
    CHECK(p && ts.interrupted && ts.steps == 1 && flag, "STE interrupted after step 1 returns its projection (%lld steps)",
          p ? (long long)ts.steps : -1LL);
    if (p) free(ts.loss);
    llfc_perm_free(p);
    at = 2;
    so.progress = stop_now, so.progress_ud = &at;
    p = llfc_sinkhorn_match(a, b, NULL, &so, &ss, NULL);
    flag = llfc_interrupted();
    llfc_interrupt_clear();
    CHECK(p && ss.interrupted && ss.steps == 2 && flag, "Sinkhorn interrupted after step 2 projects its matrices (%lld steps)",
          p ? (long long)ss.steps : -1LL);
    if (p) free(ss.objective);
    llfc_perm_free(p);
    so.progress = refuse;
    CHECK(!llfc_sinkhorn_match(a, b, NULL, &so, &ss, NULL) && strstr(llfc_errmsg(), "interrupted"),
          "a progress callback asking to stop fails: %s", llfc_errmsg());
    llfc_dataset_release(ds);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(c);
}

static void test_perm_files(void)
{
    int64_t w[] = {6, 10, 8, 3}, w2[] = {6, 11, 8, 3};
    llfc_net *a = mlp(4, w, 71), *c = mlp(4, w2, 72);
    llfc_perm *p = llfc_perm_random(a->spec, 5);
    char path[] = "/tmp/llfc_perm_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    int rc = llfc_perm_save(p, path);
    llfc_perm *q = llfc_perm_load(path, a->spec), *r = llfc_perm_load(path, NULL);
    CHECK(rc == 0 && q && llfc_perm_equal(p, q), "a saved Perm loads back equal (with the net's spec)");
    CHECK(r && r->spec->ngroups == 2 && !strcmp(r->spec->gname[1], "P2") && r->idx[1][3] == p->idx[1][3] &&
          llfc_perm_fits(r, a->spec) == 0, "and without a spec (the file's groups)");
    llfc_net *x1 = r ? llfc_perm_apply(r, a) : NULL, *x2 = llfc_perm_apply(p, a);
    CHECK(x1 && same_params(x1, x2), "the loaded Perm applies like the saved one");
    llfc_net_free(x1), llfc_net_free(x2);
    CHECK(!llfc_perm_load(path, c->spec) && strstr(llfc_errmsg(), "P1 has 10 entries but the group has 11"),
          "loading for a net of another width fails: %s", llfc_errmsg());
    llfc_perm_free(q), llfc_perm_free(r);
    /* a file whose P2 repeats an index */
    p->idx[1][0] = p->idx[1][1];
    llfc_perm_save(p, path);
    CHECK(!llfc_perm_load(path, a->spec) && strstr(llfc_errmsg(), "appears twice"), "a repeated index is refused: %s",
          llfc_errmsg());
    CHECK(!llfc_perm_load("/nonexistent/x.safetensors", NULL) && strstr(llfc_errmsg(), "/nonexistent/x.safetensors"),
          "a missing file names the path: %s", llfc_errmsg());
    CHECK(llfc_net_save(a, path) == 0 && !llfc_perm_load(path, NULL) && strstr(llfc_errmsg(), "not a permutation file"),
          "a model file is not a Perm: %s", llfc_errmsg());
    remove(path);
    llfc_perm_free(p);
    llfc_net_free(a), llfc_net_free(c);
}

int main(void)
{
    test_apply_naive();
    test_gather();
    test_validation();
    test_function_preserved();
    test_planted();
    test_wm_init_and_dead();
    test_am_identity_group();
    test_interrupt();
    test_comm_archs();
    test_comm_local_min();
    test_comm_output_side();
    test_planted_new();
    test_ste_grad();
    test_sinkhorn_core();
    test_sinkhorn_objective();
    test_methods_archs();
    test_new_errors_and_interrupts();
    test_perm_files();
    return check_summary();
}
