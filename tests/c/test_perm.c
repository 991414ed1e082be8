/* test_perm.c - Perm algebra and application against naive loops, function
 * preservation, and planted-permutation recovery by weight matching and
 * activation matching. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/nn.h"
#include "nn/build.h"
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
        for (int meth = 0; meth < 2; meth++) {
            llfc_am_opts ao = {.method = meth, .batch = 256};
            llfc_perm *r = llfc_activation_match(a, b, x, 700, &ao, NULL);
            int nties = 0;
            CHECK(equal_up_to_dead(r, p, a, x, 700, &nties),
                  "activation matching (%s) recovers a planted permutation (in %lld; %d dead units tie)",
                  meth ? "corr" : "inner", (long long)din, nties);
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
    return check_summary();
}
