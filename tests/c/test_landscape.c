/* test_landscape.c - several networks at once and paths beyond the straight
 * line, on an MLP, a VGG and a ResNet-20 with BatchNorm: weighted averages
 * against sums in double, N-model alignment (exact cycle consistency,
 * planted permutations recovered), the plane's basis against vectors built
 * here in double, error, loss and LLFC at points of the span against whole
 * batch forward passes and cosines in double, curves (exact endpoints,
 * Bernstein weights by hand, the straight line to start, the bend gradient
 * against central differences of the naive double executor, one training
 * step against the gradient, files), stitching (none and all of A's layers,
 * a permutation stitch between a network and its permuted copy), principal
 * angles against a one-sided Jacobi SVD in double written here. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
/* the naive double executor; its builders are not used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cnn_naive.h"
#pragma GCC diagnostic pop
#include "nn/build.h"
#include "nn/combine.h"
#include "nn/curve.h"
#include "nn/stitch.h"
#include "nn/train.h"
#include "nn/nn.h"
#include "metrics/plane.h"
#include "metrics/span.h"
#include "metrics/subspace.h"
#include "perm/align.h"

static const char *configs[] = {
    "mlp widths=10,16,12,3 act=relu init=torch",
    "vgg layers=4,M,6 norm=bn head=gap classes=3 input=1,8,8",
    "resnet20 width=1 norm=bn classes=3 input=1,8,8",
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

static llfc_net *build(const char *config, uint64_t seed)
{
    llfc_net *n = llfc_net_build(config, seed);
    if (!n) { printf("not ok - build %s: %s\n", config, llfc_errmsg()); exit(1); }
    /* give BatchNorm buffers values other than 0 and 1, so they take part */
    llfc_rng r;
    llfc_rng_seed(&r, seed + 100);
    for (int i = 0; i < n->nops; i++) {
        const llfc_op *o = &n->ops[i];
        if (o->kind != LLFC_OP_BN) continue;
        float *m = llfc_tensor_data(n->param[o->prm]), *v = llfc_tensor_data(n->param[o->prv]);
        for (int c = 0; c < o->C; c++) {
            m[c] = (float)(0.2 * llfc_rng_normal(&r));
            v[c] = (float)(0.5 + llfc_rng_double(&r));
        }
    }
    return n;
}

static const char *family(const llfc_net *net)
{
    static char buf[32];
    return llfc_net_family(net, buf, sizeof buf);
}

/* largest |a - b| over every parameter */
static double maxdiff(const llfc_net *a, const llfc_net *b)
{
    double m = 0.0;
    for (int k = 0; k < a->nparams; k++) {
        const float *x = llfc_tensor_data(a->param[k]), *y = llfc_tensor_data(b->param[k]);
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[k]); i++) {
            double d = fabs((double)x[i] - (double)y[i]);
            if (!(d <= m)) m = d;
        }
    }
    return m;
}

/* ---- weighted averages ------------------------------------------------------------------ */
static void test_average(const char *config)
{
    llfc_net *a = build(config, 1), *b = build(config, 2), *c = build(config, 3);
    const char *f = family(a);
    const llfc_net *two[2] = {a, a}, *three[3] = {a, a, a}, *abc[3] = {a, b, c};
    llfc_net *m2 = llfc_net_average(two, 2, NULL), *m3 = llfc_net_average(three, 3, NULL);
    CHECK(m2 && maxdiff(m2, a) == 0.0, "%s: the average of two copies is the model, bit for bit", f);
    /* 1/3 is not a float: three thirds of x are x within a few ulps */
    double scale = 0.0;
    for (int k = 0; k < a->nparams; k++)
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[k]); i++) {
            double v = fabs(llfc_tensor_data(a->param[k])[i]);
            if (v > scale) scale = v;
        }
    CHECK(m3 && maxdiff(m3, a) <= 4e-7 * scale, "%s: the average of three copies is the model (%.3g)", f,
          m3 ? maxdiff(m3, a) : -1.0);
    double w[3] = {1.0, 2.0, 5.0};
    llfc_net *m = llfc_net_average(abc, 3, w);
    int ok = m != NULL;
    double worst = 0.0;
    for (int k = 0; ok && k < a->nparams; k++) {
        int count = llfc_net_param_is_count(a, k);
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[k]); i++) {
            double want = count ? llfc_tensor_data(a->param[k])[i]
                                : (1.0 * llfc_tensor_data(a->param[k])[i] + 2.0 * llfc_tensor_data(b->param[k])[i] +
                                   5.0 * llfc_tensor_data(c->param[k])[i]) / 8.0;
            double d = fabs(llfc_tensor_data(m->param[k])[i] - want);
            if (d > worst) worst = d;
        }
    }
    CHECK(ok && worst <= 1e-6 * (scale > 1 ? scale : 1), "%s: weights 1, 2, 5 give (a + 2b + 5c)/8 (%.3g)", f, worst);
    double bad[3] = {1.0, -1.0, 1.0};
    llfc_net *e = llfc_net_average(abc, 3, bad);
    CHECK(!e && strstr(llfc_errmsg(), "weight 2"), "%s: a negative weight is an error naming it (%s)", f, llfc_errmsg());
    llfc_net *d = llfc_net_build("mlp widths=10,7,3 act=relu init=torch", 1);
    const llfc_net *mixed[2] = {a, d};
    e = llfc_net_average(mixed, 2, NULL);
    CHECK(!e, "%s: networks of two layouts are an error (%s)", f, llfc_errmsg());
    llfc_net_free(d);
    llfc_net_free(m), llfc_net_free(m2), llfc_net_free(m3);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(c);
}

/* ---- N-model alignment ------------------------------------------------------------------- */

/* the map from network i to network j: p_j^-1 o p_i */
static llfc_perm *map(llfc_perm **p, int i, int j)
{
    llfc_perm *inv = llfc_perm_inverse(p[j]);
    llfc_perm *r = llfc_perm_compose(inv, p[i]);
    llfc_perm_free(inv);
    return r;
}

static void test_align(const char *config, int method)
{
    enum { N = 4 };
    const char *mname = method == LLFC_ALIGN_AVERAGE ? "average" : "universe";
    llfc_net *base = build(config, 7), *nets[N], *ind[N];
    const char *f = family(base);
    /* planted: N randomly permuted copies of one network */
    for (int i = 0; i < N; i++) {
        llfc_perm *q = llfc_perm_random(base->spec, 40 + (uint64_t)i);
        nets[i] = llfc_perm_apply(q, base);
        llfc_perm_free(q);
        ind[i] = build(config, 20 + (uint64_t)i);
    }
    llfc_perm *p[N];
    llfc_align_stats st;
    llfc_align_opts o = {.method = method, .seed = 1};
    int rc = llfc_align_many((const llfc_net *const *)nets, N, &o, p, &st);
    CHECK(rc == 0, "%s %s: align_many on %d permuted copies (%s)", f, mname, N, rc ? llfc_errmsg() : "ok");
    if (rc) return;
    llfc_net *first = llfc_perm_apply(p[0], nets[0]);
    double worst = 0.0;
    for (int i = 1; i < N; i++) {
        llfc_net *x = llfc_perm_apply(p[i], nets[i]);
        double d = maxdiff(x, first);
        if (d > worst) worst = d;
        llfc_net_free(x);
    }
    CHECK(worst == 0.0, "%s %s: every copy aligned back to one network, every parameter equal", f, mname);
    if (method == LLFC_ALIGN_AVERAGE)
        CHECK(llfc_perm_is_identity(p[0]) && st.frame == 0,
              "%s %s: the frame is the first network's (its Perm the identity)", f, mname);
    else
        CHECK(st.frame == 1, "%s %s: the frame is the universe", f, mname);
    double best;
    llfc_align_objective((const llfc_net *const *)nets, N, p, &best);
    CHECK(best == st.final && st.final >= st.start, "%s %s: stats.final is the objective of the Perms (%.6g >= %.6g)",
          f, mname, st.final, st.start);
    llfc_net_free(first);
    for (int i = 0; i < N; i++) llfc_perm_free(p[i]);
    free(st.objective);

    /* independent networks: the maps compose exactly, i -> j -> k = i -> k */
    rc = llfc_align_many((const llfc_net *const *)ind, N, &o, p, &st);
    CHECK(rc == 0, "%s %s: align_many on %d independent networks", f, mname, N);
    if (rc) return;
    int consistent = 1, triples = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++) {
                llfc_perm *ij = map(p, i, j), *jk = map(p, j, k), *ik = map(p, i, k);
                llfc_perm *ijk = llfc_perm_compose(jk, ij); /* ij first, then jk */
                consistent &= llfc_perm_equal(ijk, ik);
                if (i == k) consistent &= llfc_perm_is_identity(ik);
                triples++;
                llfc_perm_free(ij), llfc_perm_free(jk), llfc_perm_free(ik), llfc_perm_free(ijk);
            }
    CHECK(consistent, "%s %s: cycle consistency exact over all %d triples (i -> j -> k == i -> k, i -> i = id)", f,
          mname, triples);
    /* applied maps agree too: (i -> j)(net i) is network i in j's coordinates; p_j of it is p_i(net i) */
    llfc_perm *m01 = map(p, 0, 1);
    llfc_net *x = llfc_perm_apply(m01, ind[0]), *y = llfc_perm_apply(p[1], x), *z = llfc_perm_apply(p[0], ind[0]);
    CHECK(maxdiff(y, z) == 0.0, "%s %s: p_2((1 -> 2)(net 1)) == p_1(net 1)", f, mname);
    CHECK(st.final > st.start || st.iterations >= 1, "%s %s: the objective of the frame (%.6g from %.6g)", f, mname,
          st.final, st.start);
    llfc_perm_free(m01);
    llfc_net_free(x), llfc_net_free(y), llfc_net_free(z);
    for (int i = 0; i < N; i++) llfc_perm_free(p[i]);
    free(st.objective);
    for (int i = 0; i < N; i++) llfc_net_free(nets[i]), llfc_net_free(ind[i]);
    llfc_net_free(base);
}


/* ---- the plane's basis ------------------------------------------------------------------- */
static void test_plane(const char *config)
{
    llfc_net *a = build(config, 1), *b = build(config, 2), *c = build(config, 3);
    const char *f = family(a);
    llfc_plane pl;
    int rc = llfc_plane_basis(a, b, c, &pl);
    CHECK(rc == 0, "%s: the plane through three networks", f);
    if (rc) return;
    /* u, v in double over every value but counts */
    int64_t tot = 0;
    for (int k = 0; k < a->nparams; k++)
        if (!llfc_net_param_is_count(a, k)) tot += llfc_tensor_numel(a->param[k]);
    double *u = malloc((size_t)tot * sizeof *u), *v = malloc((size_t)tot * sizeof *v), *o = malloc((size_t)tot * sizeof *o);
    double uu = 0, uv = 0;
    for (int k = 0, e = 0; k < a->nparams; k++) {
        if (llfc_net_param_is_count(a, k)) continue;
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[k]); i++, e++) {
            o[e] = llfc_tensor_data(a->param[k])[i];
            u[e] = llfc_tensor_data(b->param[k])[i] - o[e];
            v[e] = llfc_tensor_data(c->param[k])[i] - o[e];
            uu += u[e] * u[e];
        }
    }
    double nu = sqrt(uu);
    for (int64_t e = 0; e < tot; e++) { u[e] /= nu; uv += u[e] * v[e]; }
    double vv = 0;
    for (int64_t e = 0; e < tot; e++) { v[e] -= uv * u[e]; vv += v[e] * v[e]; }
    double nv = sqrt(vv);
    for (int64_t e = 0; e < tot; e++) v[e] /= nv;
    CHECK_NEAR(pl.bx, nu, 1e-12, "%s: b at (|b - a|, 0)", f);
    CHECK(fabs(pl.cx - uv) <= 1e-9 * nu && fabs(pl.cy - nv) <= 1e-9 * nu, "%s: c at (<c - a, u>, |v|)", f);
    double w[3];
    llfc_plane_weights(&pl, pl.bx, 0, w);
    CHECK(fabs(w[0]) < 1e-12 && fabs(w[1] - 1) < 1e-12 && fabs(w[2]) < 1e-12, "%s: the weights of b's point are (0, 1, 0)", f);
    llfc_plane_weights(&pl, pl.cx, pl.cy, w);
    CHECK(fabs(w[0]) < 1e-12 && fabs(w[1]) < 1e-12 && fabs(w[2] - 1) < 1e-12, "%s: the weights of c's point are (0, 0, 1)", f);
    /* a point outside the triangle: its combination is a + x u + y v */
    double x = -0.3 * pl.bx, y = 1.4 * pl.cy;
    llfc_plane_weights(&pl, x, y, w);
    const llfc_net *abc[3] = {a, b, c};
    llfc_net *t = llfc_net_combine(abc, 3, w);
    double worst = 0, scale = 0;
    for (int k = 0, e = 0; k < a->nparams; k++) {
        if (llfc_net_param_is_count(a, k)) continue;
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[k]); i++, e++) {
            double want = o[e] + x * u[e] + y * v[e], d = fabs(llfc_tensor_data(t->param[k])[i] - want);
            if (d > worst) worst = d;
            if (fabs(want) > scale) scale = fabs(want);
        }
    }
    CHECK(w[0] + w[1] + w[2] > 1 - 1e-12 && w[0] + w[1] + w[2] < 1 + 1e-12 && (w[0] < 0 || w[1] < 0),
          "%s: weights sum to 1, one negative outside the triangle (%.3g %.3g %.3g)", f, w[0], w[1], w[2]);
    CHECK(worst <= 1e-6 * scale, "%s: the point (x, y) = w_a a + w_b b + w_c c is a + x u + y v (%.3g)", f, worst);
    const llfc_net *line[3] = {a, b, b};
    llfc_net *mid = llfc_net_combine(line, 2, (double[]){0.5, 0.5});
    line[2] = mid;
    CHECK(llfc_plane_basis(a, b, mid, &pl) && strstr(llfc_errmsg(), "line"), "%s: three points on a line have no plane (%s)",
          f, llfc_errmsg());
    llfc_net_free(mid), llfc_net_free(t);
    free(u), free(v), free(o);
    llfc_net_free(a), llfc_net_free(b), llfc_net_free(c);
}

/* ---- points of the span -------------------------------------------------------------------- */
static float *random_x(int64_t n, int64_t d, uint64_t seed)
{
    llfc_rng r;
    llfc_rng_seed(&r, seed);
    float *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)llfc_rng_double(&r);
    return x;
}

static void test_span(const char *config)
{
    enum { K = 3, NS = 23 };
    llfc_net *nodes[K];
    for (int k = 0; k < K; k++) nodes[k] = build(config, 30 + (uint64_t)k);
    const char *f = family(nodes[0]);
    int64_t din = llfc_net_input_dim(nodes[0]), C = llfc_net_num_classes(nodes[0]);
    llfc_dataset ds = {0};
    ds.n = NS, ds.dim = din, ds.nclasses = (int)C;
    ds.x = random_x(NS, din, 5);
    int32_t *y = malloc(NS * sizeof *y);
    for (int i = 0; i < NS; i++) y[i] = i % (int)C;
    ds.y = y;
    double w[K] = {0.2, 0.5, 0.3}, v[K] = {0.6, 0.0, 0.4};
    llfc_span_point pts[2] = {{.w = w, .llfc = 1}, {.w = w, .v = v, .llfc = 1}};
    llfc_span_value vals[2];
    llfc_span_opts o = {.batch = 7};
    int done = llfc_span_eval((const llfc_net *const *)nodes, K, pts, 2, &ds, &o, vals);
    CHECK(done == 2, "%s: two points of the span evaluated (%s)", f, done == 2 ? "ok" : llfc_errmsg());
    if (done != 2) return;
    /* the reference: the combination, every network's features on the whole batch, cosines in double */
    llfc_net *t = llfc_net_combine((const llfc_net *const *)nodes, K, w);
    llfc_eval_result ev;
    llfc_net_eval(t, ds.x, y, NS, NS, &ev, NULL, NULL);
    CHECK(vals[0].err == ev.err && fabs(vals[0].loss - ev.loss) < 1e-9, "%s: err and loss of the point (%g %g)", f,
          vals[0].err, vals[0].loss);
    int L = t->nfeat;
    float **ft = calloc((size_t)L, sizeof *ft), **fk[K];
    for (int l = 0; l < L; l++) ft[l] = malloc((size_t)(NS * llfc_net_featdim(t, l)) * sizeof(float));
    llfc_net_forward_features(t, ds.x, NS, NULL, ft);
    for (int k = 0; k < K; k++) {
        fk[k] = calloc((size_t)L, sizeof **fk);
        for (int l = 0; l < L; l++) fk[k][l] = malloc((size_t)(NS * llfc_net_featdim(t, l)) * sizeof(float));
        llfc_net_forward_features(nodes[k], ds.x, NS, NULL, fk[k]);
    }
    for (int q = 0; q < 2; q++) {
        const double *mv = q ? v : w;
        double worst = 0, worstc = 0;
        for (int l = 0; l < L; l++) {
            int64_t d = llfc_net_featdim(t, l);
            double s = 0, sc = 0;
            int cnt = 0;
            for (int i = 0; i < NS; i++) {
                double fm = 0, ff = 0, mm = 0;
                for (int64_t j = 0; j < d; j++) {
                    double mix = 0;
                    for (int k = 0; k < K; k++) mix += mv[k] * fk[k][l][i * d + j];
                    double x = ft[l][i * d + j];
                    fm += x * mix, ff += x * x, mm += mix * mix;
                }
                if (ff == 0 || mm == 0) continue;
                s += 1 - fm / sqrt(ff * mm), sc += fm / ff, cnt++;
            }
            double dm = fabs(vals[q].mean[l] - s / cnt), dc = fabs(vals[q].coef_mean[l] - sc / cnt);
            if (dm > worst) worst = dm;
            if (dc > worstc) worstc = dc;
        }
        CHECK(vals[q].nlayer == L && worst < 1e-6 && worstc < 1e-5,
              "%s: LLFC against %s mix of the nodes' features matches a whole-batch double computation (%.2g, %.2g)", f,
              q ? "another" : "the point's", worst, worstc);
    }
    /* a given network and a stop after the first point */
    llfc_span_point gp[2] = {{.net = nodes[1]}, {.net = nodes[2]}};
    llfc_span_values_free(vals, 2);
    done = llfc_span_eval((const llfc_net *const *)nodes, K, gp, 2, &ds, &o, vals);
    llfc_net_eval(nodes[2], ds.x, y, NS, NS, &ev, NULL, NULL);
    CHECK(done == 2 && vals[1].err == ev.err && vals[1].nlayer == 0, "%s: a given network is evaluated as it is", f);
    llfc_span_values_free(vals, 2);
    y[3] = (int32_t)C;
    done = llfc_span_eval((const llfc_net *const *)nodes, K, pts, 1, &ds, &o, vals);
    CHECK(done < 0 && strstr(llfc_errmsg(), "label"), "%s: a label out of range is an error (%s)", f, llfc_errmsg());
    for (int l = 0; l < L; l++) {
        free(ft[l]);
        for (int k = 0; k < K; k++) free(fk[k][l]);
    }
    free(ft);
    for (int k = 0; k < K; k++) free(fk[k]), llfc_net_free(nodes[k]);
    llfc_net_free(t);
    free(ds.x), free(y);
}


/* ---- curves ------------------------------------------------------------------------------------ */
static void test_curve(const char *config)
{
    llfc_net *a = build(config, 1), *b = build(config, 2);
    const char *f = family(a);
    for (int kind = 0; kind < 2; kind++) {
        const char *kn = llfc_curve_kind_name(kind);
        llfc_curve *c = llfc_curve_new(a, b, kind, kind ? 2 : 1);
        CHECK(c != NULL, "%s %s: a curve", f, kn);
        if (!c) continue;
        llfc_net *p0 = llfc_curve_at(c, 0.0), *p1 = llfc_curve_at(c, 1.0);
        CHECK(maxdiff(p0, b) == 0.0 && maxdiff(p1, a) == 0.0, "%s %s: at(0) is b and at(1) is a, bit for bit", f, kn);
        llfc_net *pt = llfc_curve_at(c, 0.3), *ln = llfc_net_lerp(a, b, 0.3);
        CHECK(maxdiff(pt, ln) < 1e-6, "%s %s: a new curve is the straight line (at(0.3) = lerp 0.3, %.2g)", f, kn,
              maxdiff(pt, ln));
        double w[8], t = 0.3;
        llfc_curve_weights(c, t, w);
        if (kind == LLFC_CURVE_BEZIER)
            CHECK(fabs(w[0] - 0.49) < 1e-15 && fabs(w[1] - 0.42) < 1e-15 && fabs(w[2] - 0.09) < 1e-15,
                  "%s bezier: weights (1-t)^2, 2t(1-t), t^2 at t = 0.3", f);
        else
            CHECK(fabs(w[0] - 0.1) < 1e-15 && fabs(w[1] - 0.9) < 1e-15 && w[2] == 0 && w[3] == 0,
                  "%s polychain: hat weights at t = 0.3 (nodes at 0, 1/3, 2/3, 1)", f);
        CHECK(llfc_curve_weights(c, 1.5, w) && strstr(llfc_errmsg(), "outside"), "%s %s: t outside [0, 1] is an error", f,
              kn);
        llfc_net_free(p0), llfc_net_free(p1), llfc_net_free(pt), llfc_net_free(ln);
        llfc_curve_release(c);
    }
    llfc_net_free(a), llfc_net_free(b);
}

/* the bend gradient against central differences of the loss at theta(t), in double */
static void test_curve_grad(const char *config, int nbends)
{
    llfc_net *a = build(config, 1), *b = build(config, 2);
    const char *f = family(a);
    llfc_curve *c = llfc_curve_new(a, b, LLFC_CURVE_BEZIER, nbends);
    /* move the bends off the line */
    llfc_rng r;
    llfc_rng_seed(&r, 3);
    for (int k = 1; k <= nbends; k++)
        for (int p = 0; p < c->node[k]->nparams; p++)
            if (c->node[k]->ptrain[p])
                for (int64_t i = 0; i < llfc_tensor_numel(c->node[k]->param[p]); i++)
                    llfc_tensor_data(c->node[k]->param[p])[i] += (float)(0.1 * llfc_rng_normal(&r));
    enum { N = 6 };
    int64_t din = llfc_net_input_dim(a);
    float *x = random_x(N, din, 8);
    int32_t y[N];
    for (int i = 0; i < N; i++) y[i] = (int32_t)(i % llfc_net_num_classes(a));
    double t = 0.35, w[8];
    llfc_curve_weights(c, t, w);
    int k = nbends; /* the last bend */
    float **g = calloc((size_t)a->nparams, sizeof *g);
    for (int p = 0; p < a->nparams; p++) g[p] = calloc((size_t)llfc_tensor_numel(a->param[p]), sizeof(float));
    double loss;
    int rc = llfc_curve_grad(c, t, x, y, N, k, g, &loss);
    CHECK(rc == 0, "%s: the gradient of bend %d of %d", f, k, nbends);
    llfc_net *pt = llfc_curve_at(c, t);
    double **par = tn_params(pt), h = 1e-4;
    int okall = 1, nchecked = 0;
    for (int p = 0; p < a->nparams; p++) {
        if (!a->ptrain[p]) continue;
        int64_t m = llfc_tensor_numel(a->param[p]), step = m > 24 ? m / 24 : 1;
        double err = 0, scale = 0;
        for (int64_t i = 0; i < m; i += step) {
            /* bend k's entry moves by +-h: theta(t) moves by +-w_k h */
            double keep = par[p][i];
            tn_run rr;
            par[p][i] = keep + w[k] * h;
            tn_forward(pt, par, x, N, 1, &rr);
            double Lp = tn_loss(pt, &rr, y, N);
            tn_run_free(&rr);
            par[p][i] = keep - w[k] * h;
            tn_forward(pt, par, x, N, 1, &rr);
            double Lm = tn_loss(pt, &rr, y, N);
            tn_run_free(&rr);
            par[p][i] = keep;
            double fd = (Lp - Lm) / (2 * h);
            if (fabs(fd) > scale) scale = fabs(fd);
            if (fabs(fd - g[p][i]) > err) err = fabs(fd - g[p][i]);
        }
        okall &= err <= 2e-3 * scale + 2e-5;
        nchecked++;
    }
    CHECK(okall && nchecked >= 2, "%s: bend %d's gradient = central differences along the bend (double, %d tensors)", f,
          k, nchecked);
    tn_params_free(pt, par);
    llfc_net_free(pt);
    /* one training step with momentum 0 on the whole set: the bend moves by -lr w_k(t) g(t) */
    llfc_dataset ds = {0};
    ds.n = N, ds.dim = din, ds.nclasses = (int)llfc_net_num_classes(a), ds.x = x, ds.y = y, ds.refcount = 1;
    llfc_net *point = llfc_curve_at(c, 0.5);
    llfc_train_opts o;
    llfc_train_opts_default(&o);
    o.lr = 0.1, o.momentum = 0, o.batch = N, o.total_steps = 1;
    llfc_trainer *tr = llfc_trainer_new(point, &ds, &o, 1);
    llfc_net *before = llfc_net_clone(c->node[k]), *ea = llfc_net_clone(c->node[c->nnodes - 1]);
    rc = tr ? llfc_curve_attach(c, tr, 5) : -1;
    llfc_step_info info;
    if (!rc) rc = llfc_trainer_step(tr, &info);
    CHECK(rc == 0 && c->refs == 2, "%s: a training step through the trainer's hooks (%s)", f, rc ? llfc_errmsg() : "ok");
    double tl = c->t_last;
    llfc_curve_grad(c, tl, x, y, N, k, g, &loss); /* the bends moved by a step: close enough for the check below */
    double worst = 0, scale = 0;
    for (int p = 0; p < a->nparams; p++) {
        if (!a->ptrain[p]) continue;
        for (int64_t i = 0; i < llfc_tensor_numel(a->param[p]); i++) {
            double d = llfc_tensor_data(c->node[k]->param[p])[i] - llfc_tensor_data(before->param[p])[i];
            double want = -0.1 * g[p][i];
            if (fabs(d - want) > worst) worst = fabs(d - want);
            if (fabs(want) > scale) scale = fabs(want);
        }
    }
    CHECK(scale > 0 && worst <= 0.05 * scale, "%s: the step moved bend %d by -lr w_k(t) dL/dtheta(t) at the drawn t = %.3f "
          "(%.2g of %.2g)", f, k, tl, worst, scale);
    CHECK(maxdiff(c->node[c->nnodes - 1], ea) == 0, "%s: the endpoints do not move", f);
    llfc_trainer_free(tr);
    CHECK(c->refs == 1, "%s: freeing the trainer releases the curve", f);
    llfc_net_free(before), llfc_net_free(ea), llfc_net_free(point);
    for (int p = 0; p < a->nparams; p++) free(g[p]);
    free(g), free(x);
    llfc_curve_release(c);
    llfc_net_free(a), llfc_net_free(b);
}

static void test_curve_file(void)
{
    llfc_net *a = build(configs[1], 1), *b = build(configs[1], 2);
    llfc_curve *c = llfc_curve_new(a, b, LLFC_CURVE_POLYCHAIN, 2);
    llfc_tensor_data(c->node[1]->param[0])[0] = 0.25f;
    char path[] = "/tmp/llfc-test-curve-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int rc = llfc_curve_save(c, path);
    llfc_curve *d = rc ? NULL : llfc_curve_load(path);
    int same = d && d->kind == c->kind && d->nbends == 2;
    for (int k = 0; same && k < c->nnodes; k++) same &= maxdiff(c->node[k], d->node[k]) == 0;
    CHECK(same, "a polychain of 2 bends saves and loads bit for bit (%s)", same ? "ok" : llfc_errmsg());
    CHECK(llfc_curve_file(path) == 1, "a curve file says it is one");
    llfc_net_save(a, path);
    CHECK(llfc_curve_file(path) == 0 && !llfc_curve_load(path) && strstr(llfc_errmsg(), "not a curve"),
          "a network file is not a curve (%s)", llfc_errmsg());
    remove(path);
    llfc_curve_release(c);
    llfc_curve_release(d);
    llfc_net_free(a), llfc_net_free(b);
}


/* ---- stitching -------------------------------------------------------------------------------- */
static double maxout(const llfc_net *p, const llfc_net *q, const float *x, int64_t n)
{
    int64_t k = llfc_net_num_classes(p);
    float *u = malloc((size_t)(n * k) * sizeof *u), *v = malloc((size_t)(n * k) * sizeof *v);
    double m = -1;
    if (!llfc_net_forward(p, x, n, u) && !llfc_net_forward(q, x, n, v)) {
        m = 0;
        for (int64_t i = 0; i < n * k; i++) {
            double d = fabs((double)u[i] - v[i]);
            if (!(d <= m)) m = d;
        }
    }
    free(u), free(v);
    return m;
}

static void test_stitch(const char *config)
{
    llfc_net *a = build(config, 1), *b = build(config, 2);
    const char *f = family(a);
    enum { N = 9 };
    float *x = random_x(N, llfc_net_input_dim(a), 4);
    llfc_net *s0 = llfc_net_stitch(a, b, -1, NULL, NULL), *sL = llfc_net_stitch(a, b, a->nfeat - 1, NULL, NULL);
    CHECK(s0 && maxout(s0, b, x, N) == 0.0, "%s: none of A's layers (an identity stitch on the input) is B", f);
    CHECK(sL && maxout(sL, a, x, N) == 0.0, "%s: all of A's layers (an identity stitch on the logits) is A", f);
    int ntested = 0, okall = 1, ninvalid = 0;
    llfc_perm *p = llfc_perm_random(a->spec, 9);
    llfc_net *pa = llfc_perm_apply(p, a);
    for (int l = 0; l < a->nfeat - 1; l++) {
        if (llfc_net_stitch_check(a, l)) { ninvalid++; continue; }
        llfc_net *m = llfc_net_stitch(a, b, l, NULL, NULL);
        if (!m) { okall = 0; continue; }
        llfc_net_free(m);
        int g = -1;
        for (int q = 0; q < a->spec->ngroups; q++)
            if (a->spec->gfeat[q] == l) g = q;
        if (g < 0) continue;
        /* B = p(A): unit i of B is unit p[i] of A, so W[i, p[i]] = 1 maps A's units to B's */
        int64_t C = llfc_net_stitch_width(a, l);
        float *W = calloc((size_t)(C * C), sizeof *W);
        for (int64_t i = 0; i < C; i++) W[i * C + p->idx[g][i]] = 1.0f;
        llfc_net *st = llfc_net_stitch(a, pa, l, W, NULL);
        double d = st ? maxout(st, a, x, N) : -1;
        okall &= d >= 0 && d <= 1e-5;
        ntested++;
        llfc_net_free(st);
        free(W);
    }
    CHECK(okall && ntested >= 1, "%s: a stitch set to the permutation between a net and its permuted copy computes the "
          "net (%d cuts)", f, ntested);
    if (ninvalid) {
        int l = 0;
        while (!llfc_net_stitch_check(a, l)) l++;
        llfc_net *bad = llfc_net_stitch(a, b, l, NULL, NULL);
        CHECK(!bad && strstr(llfc_errmsg(), "residual"), "%s: a cut inside a residual block is refused (%s)", f,
              llfc_errmsg());
    }
    CHECK(!llfc_net_stitch(a, b, a->nfeat, NULL, NULL), "%s: a layer past the logits is an error (%s)", f, llfc_errmsg());
    llfc_perm_free(p);
    llfc_net_free(pa), llfc_net_free(s0), llfc_net_free(sL);
    free(x);
    llfc_net_free(a), llfc_net_free(b);
}


/* ---- principal angles ----------------------------------------------------------------------------- */

/* The top-k left singular vectors of A [n, d] (double, row-major) by one-sided
 * Jacobi (Hestenes): columns rotated until orthogonal; U [n, k], sv[k]. */
static void jacobi_left(const double *A, int n, int d, int k, double *U, double *sv)
{
    double *a = malloc((size_t)n * d * sizeof *a);
    memcpy(a, A, (size_t)n * d * sizeof *a);
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) {
                double al = 0, be = 0, ga = 0;
                for (int i = 0; i < n; i++) {
                    al += a[i * d + p] * a[i * d + p], be += a[i * d + q] * a[i * d + q], ga += a[i * d + p] * a[i * d + q];
                }
                if (fabs(ga) <= 1e-15 * sqrt(al * be) || ga == 0) continue;
                off = fmax(off, fabs(ga) / sqrt(al * be));
                double z = (be - al) / (2 * ga), t = (z >= 0 ? 1 : -1) / (fabs(z) + sqrt(1 + z * z));
                double c = 1 / sqrt(1 + t * t), s = c * t;
                for (int i = 0; i < n; i++) {
                    double x = a[i * d + p], y = a[i * d + q];
                    a[i * d + p] = c * x - s * y, a[i * d + q] = s * x + c * y;
                }
            }
        if (off < 1e-14) break;
    }
    char *used = calloc((size_t)d, 1);
    for (int j = 0; j < k && j < d; j++) {
        int best = 0;
        double bn = -1;
        for (int c = 0; c < d; c++) {
            if (used[c]) continue;
            double nn = 0;
            for (int i = 0; i < n; i++) nn += a[i * d + c] * a[i * d + c];
            if (nn > bn) bn = nn, best = c;
        }
        used[best] = 1;
        sv[j] = sqrt(bn);
        for (int i = 0; i < n; i++) U[i * k + j] = a[i * d + best] / sv[j];
    }
    free(used), free(a);
}

/* cosines of the principal angles between span(UA) and span(UB) by Jacobi on UA^T UB */
static void ref_cosines(const double *UA, const double *UB, int n, int k, double *cos)
{
    double *M = calloc((size_t)k * k, sizeof *M), *u = malloc((size_t)k * k * sizeof *u);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < k; p++)
            for (int q = 0; q < k; q++) M[p * k + q] += UA[i * k + p] * UB[i * k + q];
    jacobi_left(M, k, k, k, u, cos);
    free(M), free(u);
}

static void test_subspace_random(int n, int d, int k)
{
    llfc_rng r;
    llfc_rng_seed(&r, (uint64_t)(n * 131 + d));
    float *FA = malloc((size_t)n * d * sizeof *FA), *FB = malloc((size_t)n * d * sizeof *FB);
    double *A = malloc((size_t)n * d * sizeof *A), *B = malloc((size_t)n * d * sizeof *B);
    /* a decaying spectrum, so the top-k subspaces are well defined */
    for (int i = 0; i < n; i++)
        for (int c = 0; c < d; c++) {
            double sc = 1.0 / (1 + c);
            FA[i * d + c] = (float)(sc * llfc_rng_normal(&r));
            FB[i * d + c] = (float)(0.7 * FA[i * d + c] + 0.3 * sc * llfc_rng_normal(&r));
            A[i * d + c] = FA[i * d + c], B[i * d + c] = FB[i * d + c];
        }
    double *UA = malloc((size_t)n * k * sizeof *UA), *UB = malloc((size_t)n * k * sizeof *UB), sva[64], svb[64];
    double *RA = malloc((size_t)n * k * sizeof *RA), *RB = malloc((size_t)n * k * sizeof *RB), rsa[64], rsb[64];
    int rc = llfc_top_left_singular(FA, n, d, k, UA, sva) | llfc_top_left_singular(FB, n, d, k, UB, svb);
    jacobi_left(A, n, d, k, RA, rsa);
    jacobi_left(B, n, d, k, RB, rsb);
    double esv = 0, eproj = 0;
    for (int j = 0; j < k; j++) {
        esv = fmax(esv, fabs(sva[j] - rsa[j]) / rsa[0]);
        /* column j of UA lies in span(RA): its projection has norm 1 */
        double pn = 0;
        for (int q = 0; q < k; q++) {
            double dot = 0;
            for (int i = 0; i < n; i++) dot += UA[i * k + j] * RA[i * k + q];
            pn += dot * dot;
        }
        eproj = fmax(eproj, fabs(1 - pn));
    }
    CHECK(rc == 0 && esv < 1e-5 && eproj < 1e-4, "subspace %dx%d (%s Gram): top-%d singular values and vectors against "
          "Jacobi in double (%.2g, %.2g)", n, d, d <= n ? "F^T F" : "F F^T", k, esv, eproj);
    double cos[64], rcos[64];
    llfc_subspace_cosines(UA, UB, n, k, cos);
    ref_cosines(RA, RB, n, k, rcos);
    double ec = 0;
    for (int j = 0; j < k; j++) ec = fmax(ec, fabs(cos[j] - rcos[j]));
    CHECK(ec < 1e-4 && cos[0] <= 1 && cos[k - 1] >= 0 && cos[0] >= cos[k - 1],
          "subspace %dx%d: the principal angles' cosines against Jacobi in double (%.2g)", n, d, ec);
    free(FA), free(FB), free(A), free(B), free(UA), free(UB), free(RA), free(RB);
}

static void test_principal_angles(const char *config)
{
    llfc_net *a = build(config, 1), *b = build(config, 2);
    const char *f = family(a);
    enum { N = 24, K = 4 };
    float *x = random_x(N, llfc_net_input_dim(a), 6);
    llfc_pa_opts o = {.k = K, .batch = 10};
    llfc_pa_layer *res;
    int nl;
    int rc = llfc_principal_angles(a, b, x, N, &o, &res, &nl);
    CHECK(rc == 0 && nl == a->nfeat, "%s: principal angles of every layer (%s)", f, rc ? llfc_errmsg() : "ok");
    if (rc) return;
    /* the reference: every layer's features in double, Jacobi SVDs */
    int L = a->nfeat, worst_l = -1;
    float **fa = calloc((size_t)L, sizeof *fa), **fb = calloc((size_t)L, sizeof *fb);
    for (int l = 0; l < L; l++) {
        fa[l] = malloc((size_t)(N * llfc_net_featdim(a, l)) * sizeof(float));
        fb[l] = malloc((size_t)(N * llfc_net_featdim(a, l)) * sizeof(float));
    }
    llfc_net_forward_features(a, x, N, NULL, fa);
    llfc_net_forward_features(b, x, N, NULL, fb);
    double worst = 0;
    int compared = 0;
    for (int l = 0; l < L; l++) {
        int d = (int)llfc_net_featdim(a, l), k = res[l].k;
        if (k < 1) continue;
        double *A = malloc((size_t)N * d * sizeof *A), *B = malloc((size_t)N * d * sizeof *B);
        for (int i = 0; i < N * d; i++) A[i] = fa[l][i], B[i] = fb[l][i];
        double *RA = malloc((size_t)N * k * sizeof *RA), *RB = malloc((size_t)N * k * sizeof *RB), sa[64], sb[64], rc2[64];
        if (d <= N) {
            jacobi_left(A, N, d, k, RA, sa);
            jacobi_left(B, N, d, k, RB, sb);
        } else { /* wide: the left singular vectors of F are those of F F^T, built here in double */
            double *KA = calloc((size_t)N * N, sizeof *KA), *KB = calloc((size_t)N * N, sizeof *KB);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++)
                    for (int c = 0; c < d; c++) KA[i * N + j] += A[i * d + c] * A[j * d + c], KB[i * N + j] += B[i * d + c] * B[j * d + c];
            jacobi_left(KA, N, N, k, RA, sa);
            jacobi_left(KB, N, N, k, RB, sb);
            free(KA), free(KB);
        }
        ref_cosines(RA, RB, N, k, rc2);
        for (int j = 0; j < k; j++)
            if (fabs(rc2[j] - res[l].cos[j]) > worst) worst = fabs(rc2[j] - res[l].cos[j]), worst_l = l;
        compared++;
        free(A), free(B), free(RA), free(RB);
    }
    CHECK(compared >= 2 && worst < 2e-3, "%s: cosines of %d layers against Jacobi SVDs in double (%.2g at layer %d)", f,
          compared, worst, worst_l + 1);
    free(res);
    /* a permuted copy: the same subspaces, every angle 0 */
    llfc_perm *p = llfc_perm_random(a->spec, 3);
    llfc_net *pa = llfc_perm_apply(p, a);
    rc = llfc_principal_angles(a, pa, x, N, &o, &res, &nl);
    double low = 1;
    for (int l = 0; rc == 0 && l < nl; l++)
        for (int j = 0; j < res[l].k; j++) low = fmin(low, res[l].cos[j]);
    CHECK(rc == 0 && low > 1 - 1e-4, "%s: a permuted copy spans the same subspaces (smallest cos %.6f)", f, low);
    if (!rc) free(res);
    for (int l = 0; l < L; l++) free(fa[l]), free(fb[l]);
    free(fa), free(fb), free(x);
    llfc_perm_free(p);
    llfc_net_free(pa), llfc_net_free(a), llfc_net_free(b);
}

static void test_align_errors(void)
{
    llfc_net *a = build(configs[0], 1), *b = build("mlp widths=10,7,3 act=relu init=torch", 2);
    const llfc_net *nets[2] = {a, b};
    llfc_perm *p[2];
    llfc_align_stats st;
    CHECK(llfc_align_many(nets, 2, NULL, p, &st) && !p[0] && !p[1], "align_many: two layouts are an error (%s)",
          llfc_errmsg());
    CHECK(llfc_align_many(nets, 1, NULL, p, &st) && strstr(llfc_errmsg(), "at least 2"),
          "align_many: one network is an error (%s)", llfc_errmsg());
    llfc_net_free(a), llfc_net_free(b);
}

int main(void)
{
    for (int c = 0; c < NCONFIGS; c++) {
        test_average(configs[c]);
        test_align(configs[c], LLFC_ALIGN_AVERAGE);
        test_align(configs[c], LLFC_ALIGN_UNIVERSE);
        test_plane(configs[c]);
        test_span(configs[c]);
        test_curve(configs[c]);
        test_stitch(configs[c]);
        test_principal_angles(configs[c]);
    }
    test_subspace_random(40, 12, 5);
    test_subspace_random(25, 60, 6);
    test_curve_grad(configs[0], 1);
    test_curve_grad(configs[0], 2);
    test_curve_grad(configs[1], 1);
    test_curve_file();
    test_align_errors();
    return check_summary();
}
