/* feature_merge.c - the feature-averaging merge and the LLFC cosine against
 * the members' average (see feature_merge.h for the method).
 *
 * It lives in metrics, next to REPAIR: like REPAIR it builds a network from
 * a pair's statistics, and it needs the modules below it, nn (the executor)
 * and perm (alignment), which nn itself may not call.
 *
 * A fit's plan comes from the op list: targets are expanded through residual
 * sums and norms into weight ops (terms) and values Z already has (fixed
 * slots).  Per batch, Z runs up to the terms' inputs (llfc_net_forward_range
 * keeping those slots), every member runs up to the target slot, and the
 * rows (samples x positions) go through im2col into a double-precision
 * design block of at most CHUNK values, whose moments are summed with
 * dsyrk and dgemm. */
#include "metrics/feature_merge.h"

#include "core/core.h"
#include "nn/kernels/layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 8                               /* terms or fixed values of one target */
#define KEEP_FLOATS ((int64_t)1 << 24)       /* values kept per forward batch (64 MB) */
#define CHUNK ((int64_t)1 << 21)             /* design values per moment update */
#define EIG_RCOND 1e-11                      /* ridge 0: eigenvalues kept above this * the largest */
#define MAXD 8192                            /* inputs of one fit (three D x D double matrices: 1.5 GB) */

static float *pdata(const llfc_net *net, int p) { return p >= 0 ? llfc_tensor_data(net->param[p]) : NULL; }
static int is_act(int kind) { return kind == LLFC_OP_RELU || kind == LLFC_OP_TANH || kind == LLFC_OP_IDENTITY; }

/* ---- plans ---------------------------------------------------------------------- */

typedef struct {
    int op;      /* the weight op */
    int norm;    /* the BatchNorm or LayerNorm reading its output, or -1 */
    int64_t F;   /* fan-in: C*R*R (conv) or C*H*W (linear) */
    int64_t off; /* first input of the term in the fit */
} fm_term;

typedef struct {
    int ln;                 /* a LayerNorm fit (one term, normalised target) */
    int nterm, nfix;
    fm_term term[MAXT];
    int fix[MAXT];          /* Z's slots subtracted from the target */
    int target;             /* the members' slot */
    int holder;             /* the term holding the intercept, or -1 */
    int K, P, Q;
    int64_t D;              /* inputs: sum of fan-ins */
    int key;                /* order: the group's first weight op */
    char name[48], ops[96];
} fm_plan;

typedef struct {
    const llfc_net *net;
    char *claimed;          /* per op */
    int *nread;             /* per slot */
    fm_plan *plans;
    int n, cap;
} planner;

static fm_plan *plan_add(planner *pl)
{
    if (pl->n == pl->cap) {
        int nc = pl->cap ? 2 * pl->cap : 16;
        fm_plan *q = realloc(pl->plans, (size_t)nc * sizeof *q);
        if (!q) { llfc_seterr("out of memory"); return NULL; }
        pl->plans = q, pl->cap = nc;
    }
    fm_plan *p = &pl->plans[pl->n++];
    memset(p, 0, sizeof *p);
    p->holder = -1;
    return p;
}

static int64_t fan_in(const llfc_op *o)
{
    return o->kind == LLFC_OP_CONV ? (int64_t)o->C * o->R * o->R : (int64_t)o->C * o->H * o->W;
}

static void add_opname(char *buf, size_t n, const char *name)
{
    size_t len = strlen(buf);
    if (len + 1 < n) snprintf(buf + len, n - len, "%s%s", len ? "+" : "", name);
}

static int add_term(fm_plan *g, const llfc_net *net, int op, int norm)
{
    if (g->nterm == MAXT)
        return llfc_seterr("op %d (%s): more than %d weight ops feed one value", op + 1, net->ops[op].name, MAXT);
    fm_term *t = &g->term[g->nterm++];
    t->op = op, t->norm = norm, t->F = fan_in(&net->ops[op]);
    add_opname(g->ops, sizeof g->ops, net->ops[op].name);
    return 0;
}

static int add_fix(fm_plan *g, const llfc_net *net, int s)
{
    if (g->nfix == MAXT) return llfc_seterr("more than %d values added into slot %d", MAXT, s);
    g->fix[g->nfix++] = s;
    return 0;
}

/* Expand slot s of target g: a weight op (with the BatchNorm or LayerNorm
 * that is its only reader) is a term, a residual sum is expanded, anything
 * else is a value of Z.  A LayerNorm term becomes a fit of its own whose
 * output Z then has. */
static int expand(planner *pl, int gi, int s, int depth)
{
    const llfc_net *net = pl->net;
    if (depth > 64) return llfc_seterr("slot %d: residual sums nested too deep", s);
    if (s == 0) return add_fix(&pl->plans[gi], net, 0);
    int i = s - 1;
    const llfc_op *o = &net->ops[i];
    if (llfc_op_has_weight(o) && !pl->claimed[i]) {
        pl->claimed[i] = 1;
        return add_term(&pl->plans[gi], net, i, -1);
    }
    if ((o->kind == LLFC_OP_BN || o->kind == LLFC_OP_LN) && o->in > 0 && llfc_op_has_weight(&net->ops[o->in - 1]) &&
        !pl->claimed[o->in - 1] && pl->nread[o->in] == 1) {
        int w = o->in - 1;
        if (o->kind == LLFC_OP_BN && (o->pw < 0 || o->pb < 0))
            return llfc_seterr("op %d (%s): a BatchNorm without affine parameters cannot hold a fitted map", i + 1,
                               o->name);
        pl->claimed[w] = 1;
        if (o->kind == LLFC_OP_BN) return add_term(&pl->plans[gi], net, w, i);
        /* LayerNorm: its own fit, before the target's */
        fm_plan *q = plan_add(pl);
        if (!q) return -1;
        q->ln = 1;
        q->target = o->in;
        snprintf(q->name, sizeof q->name, "%s", o->name);
        if (add_term(q, net, w, i)) return -1;
        return add_fix(&pl->plans[gi], net, s);
    }
    if (o->kind == LLFC_OP_ADD) {
        /* the group is addressed by index: expanding may grow the array */
        if (expand(pl, gi, o->in, depth + 1)) return -1;
        return expand(pl, gi, o->in2, depth + 1);
    }
    return add_fix(&pl->plans[gi], net, s);
}

/* A target: the group plan at the end of the list (LayerNorm fits it
 * creates come before it in the order). */
static int add_target(planner *pl, int s, const char *name)
{
    int start = pl->n;
    fm_plan *g = plan_add(pl);
    if (!g) return -1;
    g->target = s;
    snprintf(g->name, sizeof g->name, "%s", name);
    if (expand(pl, start, s, 0)) return -1;
    /* move the group after its LayerNorm fits */
    fm_plan grp = pl->plans[start];
    memmove(&pl->plans[start], &pl->plans[start + 1], (size_t)(pl->n - start - 1) * sizeof grp);
    pl->plans[pl->n - 1] = grp;
    int key = -1;
    for (int k = start; k < pl->n; k++)
        for (int t = 0; t < pl->plans[k].nterm; t++)
            if (key < 0 || pl->plans[k].term[t].op < key) key = pl->plans[k].term[t].op;
    for (int k = start; k < pl->n; k++) pl->plans[k].key = key;
    if (pl->plans[pl->n - 1].nterm == 0) pl->n--; /* only fixed values or LayerNorm branches */
    return 0;
}

/* Geometry, inputs and intercept of each plan; checks. */
static int plan_finish(const llfc_net *net, fm_plan *p)
{
    const llfc_op *ot = p->target > 0 ? &net->ops[p->target - 1] : NULL;
    if (!ot) return llfc_seterr("%s: the target is the input", p->name);
    p->K = ot->K, p->P = ot->P, p->Q = ot->Q;
    p->D = 0;
    for (int t = 0; t < p->nterm; t++) {
        fm_term *tm = &p->term[t];
        const llfc_op *o = &net->ops[tm->op];
        if (o->K != p->K || o->P != p->P || o->Q != p->Q)
            return llfc_seterr("%s: op %d (%s) gives %dx%dx%d, the target is %dx%dx%d", p->name, tm->op + 1, o->name,
                               o->K, o->P, o->Q, p->K, p->P, p->Q);
        if (o->kind == LLFC_OP_LINEAR && (p->P != 1 || p->Q != 1))
            return llfc_seterr("%s: linear op %d (%s) in a spatial target", p->name, tm->op + 1, o->name);
        tm->off = p->D;
        p->D += tm->F;
        int has = o->pb >= 0 || (tm->norm >= 0 && net->ops[tm->norm].kind == LLFC_OP_BN);
        if (p->holder < 0 && has) p->holder = t;
    }
    for (int f = 0; f < p->nfix; f++)
        if (llfc_net_slot_dim(net, p->fix[f]) != (int64_t)p->K * p->P * p->Q)
            return llfc_seterr("%s: slot %d added to the target has another size", p->name, p->fix[f]);
    if (p->D > MAXD)
        return llfc_seterr("%s: %lld inputs per unit are too many to fit (at most %d: the moment matrices are "
                           "inputs x inputs doubles)", p->name, (long long)p->D, MAXD);
    return 0;
}

static int make_plans(const llfc_net *net, fm_plan **out, int *nout)
{
    planner pl = {net, llfc_calloc((size_t)net->nops, 1), llfc_calloc((size_t)net->nslots, sizeof(int)), NULL, 0, 0};
    char *seen = llfc_calloc((size_t)net->nslots, 1);
    int rc = -1;
    if (!pl.claimed || !pl.nread || !seen) goto done;
    for (int i = 0; i < net->nops; i++) {
        pl.nread[net->ops[i].in]++;
        if (net->ops[i].kind == LLFC_OP_ADD) pl.nread[net->ops[i].in2]++;
    }
    int logits = llfc_net_feat_op(net, net->nfeat - 1);
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        int s = is_act(o->kind) ? o->in : i == logits ? o->out : -1;
        if (s < 1 || seen[s]) continue;
        seen[s] = 1;
        if (add_target(&pl, s, o->feat >= 0 ? o->fname : o->name)) goto done;
    }
    for (int i = 0; i < net->nops; i++) /* weight ops no target reached */
        if (llfc_op_has_weight(&net->ops[i]) && !pl.claimed[i] && add_target(&pl, i + 1, net->ops[i].name)) goto done;
    /* in the order of each group's first weight op (stable: a group's fits stay together) */
    for (int a = 1; a < pl.n; a++) {
        fm_plan t = pl.plans[a];
        int b = a;
        while (b > 0 && pl.plans[b - 1].key > t.key) { pl.plans[b] = pl.plans[b - 1]; b--; }
        pl.plans[b] = t;
    }
    for (int k = 0; k < pl.n; k++)
        if (plan_finish(net, &pl.plans[k])) goto done;
    if (pl.n == 0) { llfc_seterr("the network has no weight ops to fit"); goto done; }
    *out = pl.plans, *nout = pl.n;
    pl.plans = NULL;
    rc = 0;
done:
    free(pl.claimed), free(pl.nread), free(pl.plans), free(seen);
    return rc;
}

/* Does slot s depend on a weight op not yet fitted?  -1 with a message if so. */
static int check_ready(const llfc_net *net, int s, const char *done, char *visit, const fm_plan *p)
{
    if (s == 0 || visit[s]) return 0;
    visit[s] = 1;
    const llfc_op *o = &net->ops[s - 1];
    if (llfc_op_has_weight(o) && !done[s - 1])
        return llfc_seterr("%s: its inputs depend on op %d (%s), which is fitted later; the merge cannot order "
                           "this op list", p->name, s, o->name);
    if (check_ready(net, o->in, done, visit, p)) return -1;
    return o->kind == LLFC_OP_ADD ? check_ready(net, o->in2, done, visit, p) : 0;
}

/* ---- one fit ---------------------------------------------------------------------- */

typedef struct {
    llfc_net *z;
    const llfc_net *const *m;
    int k;
    const double *w;
    const float *x;
    int64_t n;
    const llfc_fm_opts *o;
    fm_plan *plans;
    int nplans;
    char *done;             /* weight ops fitted */
} fm_ctx;

/* out_k = Th_k^T G Th_k for the K rows of Th [K, F] (row stride ldt), G [F, F] (row stride ldg) */
static int quad_rows(int K, int F, const double *Th, int ldt, const double *G, int ldg, double *out)
{
    double *tmp = llfc_mallocarray((size_t)K * F + 1, sizeof *tmp);
    if (!tmp) return -1;
    llfc_dgemm(0, 0, K, F, F, 1.0, Th, ldt, G, ldg, 0.0, tmp, F);
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int f = 0; f < F; f++) s += tmp[(size_t)k * F + f] * Th[(size_t)k * ldt + f];
        out[k] = s;
    }
    free(tmp);
    return 0;
}

/* The weight average's map as the fit sees it: composite weights Th0 [K, D]
 * and intercept b0 [K] (a BatchNorm in eval mode folded into its conv). */
static void current_map(const llfc_net *z, const fm_plan *p, double *Th0, double *b0)
{
    int K = p->K;
    int64_t D = p->D;
    for (int k = 0; k < K; k++) b0[k] = 0;
    for (int t = 0; t < p->nterm; t++) {
        const fm_term *tm = &p->term[t];
        const llfc_op *o = &z->ops[tm->op];
        const float *W = pdata(z, o->pw), *cb = pdata(z, o->pb);
        const llfc_op *bn = tm->norm >= 0 && z->ops[tm->norm].kind == LLFC_OP_BN ? &z->ops[tm->norm] : NULL;
        for (int k = 0; k < K; k++) {
            double s = 1.0, shift = cb ? cb[k] : 0.0;
            if (bn) {
                const float *g = pdata(z, bn->pw), *be = pdata(z, bn->pb), *rm = pdata(z, bn->prm),
                            *rv = pdata(z, bn->prv);
                s = (double)g[k] / sqrt((double)rv[k] + (double)z->bn_eps);
                shift = s * (shift - rm[k]) + be[k];
            }
            for (int64_t f = 0; f < tm->F; f++) Th0[(size_t)k * D + tm->off + f] = s * W[(size_t)k * tm->F + f];
            b0[k] += shift;
        }
    }
}

/* E||y - Th phi - b||^2 / K from the uncentred moments. */
static double mse_of(int K, int64_t D, const double *Th, const double *b, const double *Gn, const double *Cn,
                     const double *m, const double *ybar, const double *Ey2, double *scratch)
{
    if (quad_rows(K, (int)D, Th, (int)D, Gn, (int)D, scratch)) return NAN;
    double tot = 0;
    for (int k = 0; k < K; k++) {
        const double *th = Th + (size_t)k * D, *c = Cn + (size_t)k * D;
        double tc = 0, tm = 0;
        for (int64_t d = 0; d < D; d++) tc += th[d] * c[d], tm += th[d] * m[d];
        double bk = b ? b[k] : 0.0;
        tot += Ey2[k] - 2 * tc - 2 * bk * ybar[k] + scratch[k] + 2 * bk * tm + bk * bk;
    }
    tot /= K;
    return tot > 0 ? tot : 0.0;
}

/* Solve the fit from the moments, write it into z, fill st. */
static int solve_fit(fm_ctx *c, fm_plan *p, double *G, const double *Sphi, const double *C, const double *Sy,
                     const double *Y2, int64_t N, llfc_fm_fit *st)
{
    int K = p->K, D = (int)p->D, bias = p->holder >= 0;
    double dn = (double)N;
    size_t dd = (size_t)D * D, kd = (size_t)K * D;
    double *A = llfc_mallocarray(dd, sizeof *A), *R = llfc_mallocarray(kd, sizeof *R);
    double *Th0 = llfc_mallocarray(kd, sizeof *Th0), *Th = llfc_mallocarray(kd, sizeof *Th);
    double *v = llfc_mallocarray((size_t)(6 * K + 2 * D) + 8, sizeof *v);
    int rc = -1;
    if (!A || !R || !Th0 || !Th || !v) goto done;
    /* mt: scratch of 2K */
    double *b0 = v, *b = b0 + K, *ybar = b + K, *Ey2 = ybar + K, *m = Ey2 + K, *w = m + D, *mt = w + D;
    /* uncentred moments: G becomes the full symmetric G/N, C/N into R for now */
    for (int i = 0; i < D; i++) {
        m[i] = Sphi[i] / dn;
        for (int j = i; j < D; j++) G[(size_t)j * D + i] = G[(size_t)i * D + j] /= dn;
    }
    for (int k = 0; k < K; k++) ybar[k] = Sy[k] / dn, Ey2[k] = Y2[k] / dn;
    st->target_var = 0;
    for (int k = 0; k < K; k++) st->target_var += Ey2[k] - ybar[k] * ybar[k];
    st->target_var = st->target_var > 0 ? st->target_var / K : 0;
    const double *Cn = C; /* C/N is formed where used */
    /* covariance S (centred with an intercept) and X - S Th0 */
    double tr = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) A[(size_t)i * D + j] = G[(size_t)i * D + j] - (bias ? m[i] * m[j] : 0.0);
    for (int i = 0; i < D; i++) tr += A[(size_t)i * D + i];
    for (int k = 0; k < K; k++)
        for (int d = 0; d < D; d++) R[(size_t)k * D + d] = Cn[(size_t)k * D + d] / dn - (bias ? ybar[k] * m[d] : 0.0);
    current_map(c->z, p, Th0, b0);
    if (c->o->init) llfc_dgemm(0, 0, K, D, D, -1.0, Th0, D, A, D, 1.0, R, D);
    double lambda = c->o->ridge > 0 && tr > 0 ? c->o->ridge * tr / D : 0.0;
    st->lambda = lambda;
    if (lambda > 0) {
        for (int i = 0; i < D; i++) A[(size_t)i * D + i] += lambda;
        int info = llfc_chol_solve(D, K, A, R);
        if (info < 0) goto done;
        if (info > 0) {
            llfc_seterr("%s: the input covariance plus ridge is not positive definite (minor %d of %d); use a larger "
                        "ridge", p->name, info, D);
            goto done;
        }
        st->rank = D;
    } else {
        /* minimum-norm solution through the eigenvectors (rows of A) */
        if (llfc_sym_eig(D, A, w)) { llfc_adderr("%s", p->name); goto done; }
        double wmax = w[D - 1] > 0 ? w[D - 1] : 0, tol = EIG_RCOND * wmax;
        double *P = Th; /* scratch: coefficients [K, D] */
        llfc_dgemm(0, 1, K, D, D, 1.0, R, D, A, D, 0.0, P, D);
        int rank = 0;
        for (int i = 0; i < D; i++) rank += wmax > 0 && w[i] > tol;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < D; i++) P[(size_t)k * D + i] = wmax > 0 && w[i] > tol ? P[(size_t)k * D + i] / w[i] : 0.0;
        llfc_dgemm(0, 0, K, D, D, 1.0, P, D, A, D, 0.0, R, D);
        st->rank = rank;
    }
    for (size_t i = 0; i < kd; i++) Th[i] = R[i] + (c->o->init ? Th0[i] : 0.0);
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += Th[(size_t)k * D + d] * m[d];
        b[k] = bias ? ybar[k] - s : 0.0;
    }
    /* errors of both maps on the uncentred moments (R is free: C/N into it) */
    for (size_t i = 0; i < kd; i++) R[i] = Cn[i] / dn;
    st->mse_fit = mse_of(K, D, Th, b, G, R, m, ybar, Ey2, mt);
    st->mse_avg = p->ln ? NAN : mse_of(K, D, Th0, b0, G, R, m, ybar, Ey2, mt);
    /* write the fitted map into z */
    llfc_net *z = c->z;
    for (int t = 0; t < p->nterm; t++) {
        const fm_term *tm = &p->term[t];
        const llfc_op *o = &z->ops[tm->op];
        float *W = pdata(z, o->pw), *cb = pdata(z, o->pb);
        for (int k = 0; k < K; k++)
            for (int64_t f = 0; f < tm->F; f++) W[(size_t)k * tm->F + f] = (float)Th[(size_t)k * D + tm->off + f];
        int own = t == p->holder;
        const llfc_op *bn = tm->norm >= 0 && z->ops[tm->norm].kind == LLFC_OP_BN ? &z->ops[tm->norm] : NULL;
        if (!bn) {
            if (cb)
                for (int k = 0; k < K; k++) cb[k] = own ? (float)b[k] : 0.0f;
            continue;
        }
        /* BatchNorm: the statistics of the conv's output u = W phi on the
         * fitting rows; eval mode then gives u + b exactly */
        double *mu = mt, *e2 = mt + K;
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int64_t f = 0; f < tm->F; f++) s += Th[(size_t)k * D + tm->off + f] * m[tm->off + f];
            mu[k] = s;
        }
        if (quad_rows(K, (int)tm->F, Th + tm->off, D, G + (size_t)tm->off * D + tm->off, D, e2)) goto done;
        float *g = pdata(z, bn->pw), *be = pdata(z, bn->pb), *rm = pdata(z, bn->prm), *rv = pdata(z, bn->prv);
        for (int k = 0; k < K; k++) {
            double var = e2[k] - mu[k] * mu[k];
            if (!(var > 0)) var = 0;
            rm[k] = (float)mu[k];
            rv[k] = (float)var;
            g[k] = (float)sqrt(var + (double)z->bn_eps);
            be[k] = (float)(mu[k] + (own ? b[k] : 0.0));
            if (cb) cb[k] = 0.0f;
        }
    }
    rc = 0;
done:
    free(A), free(R), free(Th0), free(Th), free(v);
    return rc;
}

/* Run fit fi: 0, 1 when interrupted (nothing written), -1 on error. */
static int run_fit(fm_ctx *c, int fi, llfc_fm_fit *st)
{
    fm_plan *p = &c->plans[fi];
    const llfc_net *z = c->z;
    double t0 = llfc_now();
    snprintf(st->name, sizeof st->name, "%s", p->name);
    snprintf(st->ops, sizeof st->ops, "%s", p->ops);
    st->norm = 0;
    for (int t = 0; t < p->nterm && !st->norm; t++)
        if (p->term[t].norm >= 0) st->norm = z->ops[p->term[t].norm].kind;
    st->inputs = p->D;
    st->outputs = p->K;
    st->bias = p->holder >= 0;
    int PQ = p->P * p->Q, K = p->K, D = (int)p->D;
    int64_t tdim = (int64_t)K * PQ;
    st->rows = c->n * PQ;
    if (c->o->ridge == 0 && st->rows < p->D + (p->holder >= 0))
        return llfc_seterr("%s: %lld samples give %lld rows for %lld inputs%s; least squares without ridge needs at "
                           "least as many rows (use ridge > 0 or more samples)", p->name, (long long)c->n,
                           (long long)st->rows, (long long)p->D, p->holder >= 0 ? " and the bias" : "");
    /* Z's slots: the terms' inputs and the fixed values */
    int zs[2 * MAXT], nz = 0, lastz = 0;
    for (int t = 0; t < p->nterm; t++) zs[nz++] = z->ops[p->term[t].op].in;
    for (int f = 0; f < p->nfix; f++) zs[nz++] = p->fix[f];
    char *visit = llfc_calloc((size_t)z->nslots, 1);
    if (!visit) return -1;
    for (int i = 0; i < nz; i++) {
        if (check_ready(z, zs[i], c->done, visit, p)) { free(visit); return -1; }
        if (zs[i] > lastz) lastz = zs[i];
    }
    free(visit);
    /* per sample: T in double, the member's value (and its normalised copy), Z's slots */
    int64_t per = 3 * tdim + (p->ln ? tdim + 4 * PQ : 0);
    for (int i = 0; i < nz; i++) per += llfc_net_slot_dim(z, zs[i]);
    int64_t nb = KEEP_FLOATS / per;
    if (c->o->batch >= 1) nb = c->o->batch;
    if (nb < 1) nb = 1;
    if (nb > c->n) nb = c->n;
    int64_t cs = CHUNK / ((int64_t)D * PQ); /* samples per moment update */
    if (cs < 1) cs = 1;
    if (cs > nb) cs = nb;
    int64_t crow = cs * PQ;

    int rc = -1;
    int ns = z->nslots;
    float **kz = llfc_calloc((size_t)ns, sizeof *kz), **km = llfc_calloc((size_t)ns, sizeof *km);
    float *mval = llfc_mallocarray((size_t)(nb * tdim), sizeof *mval);
    float *mnorm = p->ln ? llfc_mallocarray((size_t)(nb * tdim), sizeof *mnorm) : NULL;
    float *lnst = p->ln ? llfc_mallocarray((size_t)(2 * nb * PQ), sizeof *lnst) : NULL;
    double *T = llfc_mallocarray((size_t)(nb * tdim), sizeof *T);
    double *sig = p->ln ? llfc_mallocarray((size_t)(nb * PQ), sizeof *sig) : NULL; /* average LayerNorm scale */
    float *Pf = llfc_mallocarray((size_t)(D * crow), sizeof *Pf);
    double *Pd = llfc_mallocarray((size_t)(D * crow), sizeof *Pd), *Yt = llfc_mallocarray((size_t)(K * crow), sizeof *Yt);
    double *G = llfc_calloc((size_t)D * D, sizeof *G), *C = llfc_calloc((size_t)K * D, sizeof *C);
    double *Sphi = llfc_calloc((size_t)D, sizeof *Sphi), *Sy = llfc_calloc((size_t)K, sizeof *Sy);
    double *Y2 = llfc_calloc((size_t)K, sizeof *Y2);
    if (!kz || !km || !mval || (p->ln && (!mnorm || !lnst || !sig)) || !T || !Pf || !Pd || !Yt || !G || !C || !Sphi || !Sy ||
        !Y2)
        goto done;
    for (int i = 0; i < nz; i++)
        if (zs[i] > 0 && !kz[zs[i]] && !(kz[zs[i]] = llfc_mallocarray((size_t)(nb * llfc_net_slot_dim(z, zs[i])),
                                                                          sizeof(float))))
            goto done;
    km[p->target] = mval;
    int64_t in = llfc_net_input_dim(z);
    char what[160];
    snprintf(what, sizeof what, "merge_features: fit %d of %d (%s)", fi + 1, c->nplans, p->name);
    for (int64_t i0 = 0; i0 < c->n; i0 += nb) {
        int64_t mb = c->n - i0 < nb ? c->n - i0 : nb;
        const float *xb = c->x + i0 * in;
        if (lastz > 0 && llfc_net_forward_range(z, 0, lastz, xb, NULL, mb, kz)) goto done;
        memset(T, 0, (size_t)(mb * tdim) * sizeof *T);
        if (sig) memset(sig, 0, (size_t)(mb * PQ) * sizeof *sig);
        for (int j = 0; j < c->k; j++) {
            if (llfc_net_forward_range(c->m[j], 0, p->target, xb, NULL, mb, km)) {
                llfc_adderr("member %d", j + 1);
                goto done;
            }
            const float *v = mval;
            double wj = c->w[j];
            if (p->ln) {
                const float *rstd = lnst + mb * PQ;
                if (llfc_layernorm_c_forward(mnorm, lnst, lnst + mb * PQ, mval, NULL, NULL, (int)mb, K, p->P, p->Q,
                                             z->ln_eps))
                    goto done;
                v = mnorm;
                for (int64_t e = 0; e < mb * PQ; e++) sig[e] += wj / rstd[e];
            }
            for (int64_t e = 0; e < mb * tdim; e++) T[e] += wj * v[e];
        }
        if (sig) /* the average normalised value at the average scale */
            for (int64_t b = 0; b < mb; b++)
                for (int kk = 0; kk < K; kk++)
                    for (int q = 0; q < PQ; q++) T[(b * K + kk) * PQ + q] *= sig[b * PQ + q];
        for (int f = 0; f < p->nfix; f++) {
            const float *v = p->fix[f] ? kz[p->fix[f]] : xb;
            for (int64_t e = 0; e < mb * tdim; e++) T[e] -= v[e];
        }
        for (int64_t b0 = 0; b0 < mb; b0 += cs) {
            int64_t bc = mb - b0 < cs ? mb - b0 : cs, rows = bc * PQ;
            for (int t = 0; t < p->nterm; t++) {
                const fm_term *tm = &p->term[t];
                const llfc_op *o = &z->ops[tm->op];
                const float *src = o->in ? kz[o->in] : xb;
                int64_t sd = llfc_net_slot_dim(z, o->in);
                float *dst = Pf + tm->off * rows;
                for (int64_t b = 0; b < bc; b++) {
                    const float *xs = src + (b0 + b) * sd;
                    if (o->kind == LLFC_OP_CONV)
                        llfc_im2col(dst, (size_t)rows, (size_t)(b * PQ), xs, o->C, o->H, o->W, o->R, o->R, o->stride,
                                    o->pad, o->P, o->Q);
                    else
                        for (int64_t f = 0; f < tm->F; f++) dst[f * rows + b] = xs[f];
                }
            }
            for (int64_t e = 0; e < D * rows; e++) Pd[e] = Pf[e];
            for (int64_t b = 0; b < bc; b++)
                for (int k = 0; k < K; k++)
                    memcpy(Yt + k * rows + b * PQ, T + (b0 + b) * tdim + (int64_t)k * PQ, (size_t)PQ * sizeof *Yt);
            llfc_dsyrk(D, (int)rows, 1.0, Pd, (int)rows, 1.0, G, D);
            llfc_dgemm(0, 1, K, D, (int)rows, 1.0, Yt, (int)rows, Pd, (int)rows, 1.0, C, D);
            for (int d = 0; d < D; d++) {
                double s = 0;
                const double *r = Pd + (int64_t)d * rows;
                for (int64_t e = 0; e < rows; e++) s += r[e];
                Sphi[d] += s;
            }
            for (int k = 0; k < K; k++) {
                double s = 0, q = 0;
                const double *r = Yt + (int64_t)k * rows;
                for (int64_t e = 0; e < rows; e++) s += r[e], q += r[e] * r[e];
                Sy[k] += s, Y2[k] += q;
            }
        }
        if (llfc_interrupted()) { rc = 1; goto done; }
        if (c->o->progress && llfc_progress_stop(c->o->progress, c->o->progress_ud, (double)(fi * c->n + i0 + mb),
                                                 (double)(c->nplans * c->n), what)) {
            if (llfc_interrupted()) rc = 1;
            goto done;
        }
    }
    if (solve_fit(c, p, G, Sphi, C, Sy, Y2, st->rows, st)) goto done;
    for (int t = 0; t < p->nterm; t++) c->done[p->term[t].op] = 1;
    st->seconds = llfc_now() - t0;
    rc = 0;
done:
    if (kz)
        for (int s = 0; s < ns; s++) free(kz[s]);
    free(kz), free(km), free(mval), free(mnorm), free(lnst), free(T), free(sig), free(Pf), free(Pd), free(Yt);
    free(G), free(C), free(Sphi), free(Sy), free(Y2);
    return rc;
}

/* ---- the merge ---------------------------------------------------------------------- */

void llfc_fm_stats_free(llfc_fm_stats *st)
{
    if (!st) return;
    free(st->fits);
    if (st->perms)
        for (int j = 0; j < st->k; j++) llfc_perm_free(st->perms[j]);
    free(st->perms);
    memset(st, 0, sizeof *st);
}

/* Weights: given (checked) or uniform, into w[k]. */
static int member_weights(const double *given, int k, double *w)
{
    double s = 0;
    for (int j = 0; j < k; j++) {
        w[j] = given ? given[j] : 1.0 / k;
        if (!(w[j] >= 0) || !isfinite(w[j])) return llfc_seterr("weight %d is %g; weights must be >= 0", j + 1, w[j]);
        s += w[j];
    }
    if (fabs(s - 1.0) > 1e-6) return llfc_seterr("the weights sum to %.9g, not 1", s);
    return 0;
}

static int check_members(const llfc_net *const *m, int k)
{
    if (k < 1 || !m) return llfc_seterr("no networks to merge");
    for (int j = 0; j < k; j++) {
        if (!m[j]) return llfc_seterr("network %d is missing", j + 1);
        if (llfc_net_check(m[j])) return llfc_adderr("network %d", j + 1);
        if (j && llfc_net_same_arch(m[0], m[j])) return llfc_adderr("network %d is not the layout of network 1", j + 1);
    }
    return 0;
}

llfc_net *llfc_feature_merge(const llfc_net *const *members, int k, const float *x, int64_t n,
                             const llfc_fm_opts *opts, llfc_fm_stats *stats)
{
    llfc_fm_opts dflt = {0};
    const llfc_fm_opts *o = opts ? opts : &dflt;
    llfc_fm_stats local = {0};
    llfc_fm_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    st->k = k;
    double t0 = llfc_now();
    llfc_net *z = NULL;
    const llfc_net **al = NULL;
    fm_plan *plans = NULL;
    double *w = NULL;
    char *done = NULL;
    int nplans = 0;
    if (check_members(members, k)) goto fail;
    if (n < 1 || !x) { llfc_seterr("no samples to fit on (n = %lld)", (long long)n); goto fail; }
    if (!(o->ridge >= 0) || !isfinite(o->ridge)) { llfc_seterr("ridge must be >= 0, got %g", o->ridge); goto fail; }
    if (o->align < LLFC_FM_ALIGN_NONE || o->align > LLFC_FM_ALIGN_CORR) {
        llfc_seterr("unknown alignment %d", o->align);
        goto fail;
    }
    if (!(w = llfc_mallocarray((size_t)k, sizeof *w)) || member_weights(o->weights, k, w)) goto fail;
    if (!(al = llfc_calloc((size_t)k, sizeof *al))) goto fail;
    al[0] = members[0];
    /* alignment of members 2..k to member 1 */
    if (o->perms || o->align != LLFC_FM_ALIGN_NONE) {
        if (!members[0]->spec) { llfc_seterr("the networks have no permutation spec to align them with"); goto fail; }
        if (!(st->perms = llfc_calloc((size_t)k, sizeof *st->perms))) goto fail;
        for (int j = 1; j < k; j++) {
            llfc_perm *p = NULL;
            if (o->perms) {
                p = o->perms[j] ? llfc_perm_clone(o->perms[j]) : llfc_perm_identity(members[0]->spec);
            } else if (o->align == LLFC_FM_ALIGN_WEIGHT) {
                llfc_wm_opts wo = {.max_iter = 100};
                llfc_wm_stats ws = {0};
                p = llfc_weight_match(members[0], members[j], &wo, &ws);
                free(ws.objective);
            } else {
                llfc_am_opts ao = {.method = o->align == LLFC_FM_ALIGN_CORR ? LLFC_AM_CORR : LLFC_AM_INNER};
                p = llfc_activation_match(members[0], members[j], x, n, &ao, NULL);
            }
            if (!p) { llfc_adderr("aligning network %d", j + 1); goto fail; }
            st->perms[j] = p;
            if (llfc_interrupted()) { llfc_seterr("interrupted (while aligning the networks; nothing fitted)"); goto fail; }
            if (!(al[j] = llfc_perm_apply(p, members[j]))) { llfc_adderr("aligning network %d", j + 1); goto fail; }
            if (o->progress && llfc_progress_stop(o->progress, o->progress_ud, 0, 1, "merge_features: aligned")) goto fail;
        }
    } else {
        for (int j = 1; j < k; j++) al[j] = members[j];
    }
    /* the weight average of the aligned members (counts: the first's) */
    if (!(z = llfc_net_clone(al[0]))) goto fail;
    for (int p = 0; p < z->nparams; p++) {
        if (llfc_net_param_is_count(z, p)) continue;
        float *d = llfc_tensor_data(z->param[p]);
        int64_t ne = llfc_tensor_numel(z->param[p]);
        for (int64_t e = 0; e < ne; e++) {
            double s = 0;
            for (int j = 0; j < k; j++) s += w[j] * llfc_tensor_data(al[j]->param[p])[e];
            d[e] = (float)s;
        }
    }
    if (make_plans(z, &plans, &nplans)) goto fail;
    if (!(st->fits = llfc_calloc((size_t)nplans, sizeof *st->fits)) || !(done = llfc_calloc((size_t)z->nops, 1)))
        goto fail;
    st->total = nplans;
    st->n = n;
    fm_ctx c = {z, al, k, w, x, n, o, plans, nplans, done};
    for (int f = 0; f < nplans; f++) {
        int r = run_fit(&c, f, &st->fits[f]);
        if (r < 0) { llfc_adderr("merge_features"); goto fail; }
        if (r > 0) { st->interrupted = 1; break; }
        st->nfit = f + 1;
        if (o->progress) {
            char what[200];
            const llfc_fm_fit *ft = &st->fits[f];
            snprintf(what, sizeof what, "merge_features: %s fitted (%d of %d): mse %.4g -> %.4g (target variance %.4g)",
                     ft->name, f + 1, nplans, ft->mse_avg, ft->mse_fit, ft->target_var);
            if (llfc_progress_stop(o->progress, o->progress_ud, (double)(f + 1) * n, (double)nplans * n, what)) {
                if (llfc_interrupted()) { st->interrupted = f + 1 < nplans; break; }
                goto fail;
            }
        }
    }
    st->seconds = llfc_now() - t0;
    for (int j = 1; j < k; j++)
        if (al[j] != members[j]) llfc_net_free((llfc_net *)al[j]);
    free(al), free(plans), free(w), free(done);
    if (st == &local) llfc_fm_stats_free(&local);
    return z;
fail:
    if (al)
        for (int j = 1; j < k; j++)
            if (al[j] && al[j] != members[j]) llfc_net_free((llfc_net *)al[j]);
    free(al), free(plans), free(w), free(done);
    llfc_net_free(z);
    llfc_fm_stats_free(st);
    return NULL;
}

/* ---- LLFC against the members' average ------------------------------------------- */

int llfc_feature_llfc(const llfc_net *net, const llfc_net *const *members, int k, const double *weights,
                      const float *x, int64_t n, int64_t batch, int pre, llfc_fm_cos *out,
                      llfc_progress_fn progress, void *ud)
{
    if (check_members(members, k)) return -1;
    if (llfc_net_check(net)) return -1;
    if (llfc_net_same_arch(net, members[0])) return llfc_adderr("the network is not the layout of the members");
    if (n < 1 || !x) return llfc_seterr("no samples (n = %lld)", (long long)n);
    int nf = net->nfeat, kk = k + 1;
    double *w = llfc_mallocarray((size_t)k, sizeof *w);
    if (!w) return -1;
    if (member_weights(weights, k, w)) { free(w); return -1; }
    int64_t per = 0;
    for (int l = 0; l < nf; l++) per += llfc_net_featdim(net, l);
    int64_t nb = batch >= 1 ? batch : KEEP_FLOATS / (per * kk);
    if (nb < 1) nb = 1;
    if (nb > n) nb = n;
    float **f = llfc_calloc((size_t)(kk * nf), sizeof *f);
    double *acc = llfc_calloc((size_t)(4 * nf), sizeof *acc); /* sum, sumsq of 1-cos and of c */
    int64_t *cnt = llfc_calloc((size_t)(2 * nf), sizeof *cnt);
    int rc = -1;
    if (!f || !acc || !cnt) goto done;
    for (int j = 0; j < kk; j++)
        for (int l = 0; l < nf; l++)
            if (!(f[j * nf + l] = llfc_mallocarray((size_t)(nb * llfc_net_featdim(net, l)), sizeof(float)))) goto done;
    int64_t in = llfc_net_input_dim(net);
    for (int64_t i0 = 0; i0 < n; i0 += nb) {
        int64_t mb = n - i0 < nb ? n - i0 : nb;
        for (int j = 0; j < kk; j++) {
            const llfc_net *nt = j == 0 ? net : members[j - 1];
            if (llfc_net_forward_features(nt, x + i0 * in, mb, pre ? f + j * nf : NULL, pre ? NULL : f + j * nf))
                goto done;
        }
        for (int l = 0; l < nf; l++) {
            int64_t d = llfc_net_featdim(net, l);
            for (int64_t r = 0; r < mb; r++) {
                const float *t = f[l] + r * d;
                double tm = 0, tt = 0, mm = 0;
                for (int64_t e = 0; e < d; e++) {
                    double mix = 0;
                    for (int j = 0; j < k; j++) mix += w[j] * f[(j + 1) * nf + l][r * d + e];
                    tm += t[e] * mix, tt += (double)t[e] * t[e], mm += mix * mix;
                }
                if (tt == 0 || mm == 0) { cnt[2 * l + 1]++; continue; }
                double cs = 1.0 - tm / sqrt(tt * mm), cf = tm / tt;
                acc[4 * l] += cs, acc[4 * l + 1] += cs * cs, acc[4 * l + 2] += cf, acc[4 * l + 3] += cf * cf;
                cnt[2 * l]++;
            }
        }
        if (llfc_progress_stop(progress, ud, (double)(i0 + mb), (double)n, "feature_llfc")) goto done;
    }
    for (int l = 0; l < nf; l++) {
        llfc_fm_cos *r = &out[l];
        memset(r, 0, sizeof *r);
        llfc_net_featname(net, l, r->name, sizeof r->name);
        r->dim = llfc_net_featdim(net, l);
        r->count = cnt[2 * l], r->skipped = cnt[2 * l + 1];
        double c = r->count ? (double)r->count : NAN;
        r->mean = acc[4 * l] / c;
        r->coef_mean = acc[4 * l + 2] / c;
        double v1 = acc[4 * l + 1] / c - r->mean * r->mean, v2 = acc[4 * l + 3] / c - r->coef_mean * r->coef_mean;
        r->std = v1 > 0 ? sqrt(v1) : 0.0;
        r->coef_std = v2 > 0 ? sqrt(v2) : 0.0;
        if (!r->count) r->std = r->coef_std = NAN;
    }
    rc = 0;
done:
    if (f)
        for (int e = 0; e < kk * nf; e++) free(f[e]);
    free(f), free(acc), free(cnt), free(w);
    return rc;
}
