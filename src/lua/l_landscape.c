/* l_landscape.c - Lua bindings of the functions that look at several
 * networks at once or beyond the straight line: nn.average (combine.h,
 * repair.h).  Registered into the modules by llfc_open_landscape (l_init.c). */
#include "lbind.h"
#include "metrics/repair.h"
#include "nn/combine.h"
#include "metrics/metrics.h"
#include "metrics/plane.h"
#include "nn/curve.h"
#include "nn/stitch.h"
#include "metrics/span.h"
#include "metrics/subspace.h"
#include "perm/align.h"

#include <math.h>

#include <stdlib.h>

#include <string.h>

/* Scratch memory that a Lua error cannot leak: a userdata on the stack. */
static void *scratch(lua_State *L, size_t n) { return lua_newuserdatauv(L, n ? n : 1, 0); }

/* The list of networks at idx (at least `least`): an array of K pointers in
 * a scratch userdata left on the stack. */
static const llfc_net **checknets(lua_State *L, int idx, int least, const char *fname, int *K)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        luaL_error(L, "bad argument #%d to '%s' (list of networks expected, got %s)", idx, fname, luaL_typename(L, idx));
    lua_Integer n = luaL_len(L, idx);
    if (n < least || n > 4096)
        luaL_error(L, "%s: bad argument #%d: need at least %d networks, got %d", fname, idx, least, (int)n);
    const llfc_net **nets = scratch(L, (size_t)n * sizeof *nets);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        nets[i - 1] = lb_tonet(L, -1);
        if (!nets[i - 1])
            luaL_error(L, "%s: bad argument #%d: entry %d is %s, not a network", fname, idx, (int)i,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
        if (i > 1 && llfc_net_same_arch(nets[0], nets[i - 1]))
            luaL_error(L, "%s: bad argument #%d: network %d does not have the layout of network 1 (%s)", fname, idx,
                       (int)i, llfc_errmsg());
    }
    *K = (int)n;
    return nets;
}

/* A list of K numbers at idx (nil: NULL) in a scratch userdata. */
static double *optweights(lua_State *L, int idx, int K, const char *fname)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    if (!lua_istable(L, idx))
        luaL_error(L, "bad argument #%d to '%s' (list of weights expected, got %s)", idx, fname, luaL_typename(L, idx));
    if (luaL_len(L, idx) != K)
        luaL_error(L, "%s: bad argument #%d: %d weights for %d networks", fname, idx, (int)luaL_len(L, idx), K);
    double *w = scratch(L, (size_t)K * sizeof *w);
    for (int k = 0; k < K; k++) {
        lua_rawgeti(L, idx, k + 1);
        int ok;
        w[k] = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: weight %d must be a number, got %s", fname, k + 1, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return w;
}

/* The dataset in option field of the table at idx, or NULL. */
static llfc_dataset *optdataset(lua_State *L, int idx, const char *field, const char *fname)
{
    if (!lua_istable(L, idx)) return NULL;
    lua_getfield(L, idx, field);
    llfc_dataset *ds = NULL;
    if (!lua_isnil(L, -1) && !(ds = lb_todataset(L, -1)))
        luaL_error(L, "%s: option '%s' must be a dataset, got %s", fname, field, luaL_typename(L, -1));
    lua_pop(L, 1); /* anchored by the options table */
    return ds;
}

/* opts.progress (a function or nil) -> p */
static void optprogress(lua_State *L, int idx, lb_progress *p, const char *fname)
{
    p->L = L;
    p->fidx = lb_optprogress(L, idx, fname);
}

static void check_data(lua_State *L, const llfc_net *net, const llfc_dataset *ds, const char *fname)
{
    if (ds->n < 1) luaL_error(L, "%s: the dataset is empty", fname);
    if (ds->dim != llfc_net_input_dim(net))
        luaL_error(L, "%s: the dataset has %d features per sample, the networks take %d", fname, (int)ds->dim,
                   (int)llfc_net_input_dim(net));
}

/* ---- nn.average ------------------------------------------------------------------------- */

/* nn.average(nets [, weights [, {reset_bn = ds | repair = ds, n = 5000, batch = 256, progress}]]) -> net */
static int nn_average(lua_State *L)
{
    const char *fname = "nn.average";
    static const char *const names[] = {"reset_bn", "repair", "n", "batch", "progress", NULL};
    lua_settop(L, 3);
    int K;
    const llfc_net **nets = checknets(L, 1, 1, fname, &K);
    double *w = optweights(L, 2, K, fname);
    int oidx = 3;
    if (!lua_isnoneornil(L, oidx)) { luaL_checktype(L, oidx, LUA_TTABLE); lb_checktypos(L, oidx, names, fname); }
    llfc_dataset *bn = optdataset(L, oidx, "reset_bn", fname), *rp = optdataset(L, oidx, "repair", fname);
    if (bn && rp) return luaL_error(L, "%s: give reset_bn or repair, not both", fname);
    lua_Integer n = lb_optinteger(L, oidx, "n", 5000, fname), batch = lb_optinteger(L, oidx, "batch", 256, fname);
    if (n < 1) return luaL_error(L, "%s: option 'n' must be at least 1, got %d", fname, (int)n);
    if (batch < 1) return luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fname, (int)batch);
    if (bn && !llfc_net_count_ops(nets[0], LLFC_OP_BN))
        return luaL_error(L, "%s: option 'reset_bn': the networks have no BatchNorm layers (%s)", fname,
                          nets[0]->config);
    lb_progress prog;
    optprogress(L, oidx, &prog, fname);
    double *v = scratch(L, (size_t)K * sizeof *v);
    if (llfc_average_weights(K, w, v)) return lb_error(L, fname);
    llfc_dataset *ds = bn ? bn : rp;
    if (ds) {
        check_data(L, nets[0], ds, fname);
        if (n > ds->n) n = ds->n;
    }
    llfc_net *out;
    if (rp) {
        out = llfc_repair_many(nets, K, v, rp->x, n, batch, lb_progress_fn, &prog);
    } else {
        out = llfc_net_combine(nets, K, v);
        if (out && bn && llfc_net_reset_bn(out, bn->x, n, batch, lb_progress_fn, &prog)) {
            llfc_net_free(out);
            out = NULL;
        }
    }
    if (!out) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, fname);
    }
    lb_pushnet(L, out);
    return 1;
}

/* ---- perm.align_many ------------------------------------------------------------------- */

static void setnum(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void setint(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, (lua_Integer)v); lua_setfield(L, -2, k); }
static void setstr(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }
static void setbool(lua_State *L, const char *k, int v) { lua_pushboolean(L, v); lua_setfield(L, -2, k); }

/* perm.align_many(nets [, {method = "average", max_iter = 100, sweeps = 100, seed = 0, init = "first",
 * progress}]) -> perms, stats */
static int perm_align_many(lua_State *L)
{
    const char *fname = "perm.align_many";
    static const char *const names[] = {"method", "max_iter", "sweeps", "seed", "init", "progress", NULL};
    lua_settop(L, 2);
    int N;
    const llfc_net **nets = checknets(L, 1, 2, fname, &N);
    if (!nets[0]->spec) return luaL_error(L, "%s: the networks have no permutation spec", fname);
    if (!lua_isnil(L, 2)) { luaL_checktype(L, 2, LUA_TTABLE); lb_checktypos(L, 2, names, fname); }
    llfc_align_opts o = {0};
    const char *method = lb_optstring(L, 2, "method", "average", fname);
    if (!strcmp(method, "average")) o.method = LLFC_ALIGN_AVERAGE;
    else if (!strcmp(method, "universe")) o.method = LLFC_ALIGN_UNIVERSE;
    else return luaL_error(L, "%s: option 'method' must be \"average\" or \"universe\", got \"%s\"", fname, method);
    lua_Integer mi = lb_optinteger(L, 2, "max_iter", 100, fname), sw = lb_optinteger(L, 2, "sweeps", 100, fname);
    if (mi < 1 || mi > 1000000) return luaL_error(L, "%s: option 'max_iter' must be between 1 and 1000000, got %d", fname, (int)mi);
    if (sw < 1 || sw > 1000000) return luaL_error(L, "%s: option 'sweeps' must be between 1 and 1000000, got %d", fname, (int)sw);
    o.max_iter = (int)mi, o.wm_iter = (int)sw;
    o.seed = (uint64_t)lb_optinteger(L, 2, "seed", 0, fname);
    const char *init = lb_optstring(L, 2, "init", "first", fname);
    if (!strcmp(init, "identity")) o.from_identity = 1;
    else if (strcmp(init, "first")) return luaL_error(L, "%s: option 'init' must be \"first\" or \"identity\", got \"%s\"", fname, init);
    lb_progress prog;
    optprogress(L, 2, &prog, fname);
    o.progress = lb_progress_fn;
    o.progress_ud = &prog;
    /* the Perms' box: freed by a Lua error before they are pushed */
    llfc_perm **perms = scratch(L, (size_t)N * sizeof *perms);
    llfc_align_stats st;
    if (llfc_align_many(nets, N, &o, perms, &st)) return lb_error(L, fname);
    if (st.interrupted) llfc_interrupt_clear(); /* consumed: the Perms so far are the answer */
    lua_createtable(L, N, 0);
    for (int i = 0; i < N; i++) {
        lb_pushperm(L, perms[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_createtable(L, 0, 10);
    setstr(L, "kind", "align_many");
    setstr(L, "method", method);
    setstr(L, "frame", st.frame ? "universe" : "first");
    setint(L, "n", N);
    setint(L, "iterations", st.iterations);
    lua_createtable(L, st.iterations, 0);
    for (int i = 0; i < st.iterations; i++) {
        lua_pushnumber(L, st.objective[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "objective");
    free(st.objective);
    setnum(L, "start", st.start);
    setnum(L, "final", st.final);
    setnum(L, "seconds", st.seconds);
    setbool(L, "interrupted", st.interrupted);
    return 2;
}


/* ---- points of the span: the runner shared by merge, plane and curves ----------------------- */

#define SPAN_BOX_MT "llfc.span.values"

typedef struct { llfc_span_value *v; int np; } span_box;

static int span_box_gc(lua_State *L)
{
    span_box *b = luaL_checkudata(L, 1, SPAN_BOX_MT);
    llfc_span_values_free(b->v, b->np);
    free(b->v);
    b->v = NULL;
    return 0;
}

/* A box for np values on the stack (freed by __gc, also after a Lua error). */
static span_box *span_newbox(lua_State *L, int np)
{
    span_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->v = NULL, b->np = 0;
    if (luaL_newmetatable(L, SPAN_BOX_MT)) {
        lua_pushcfunction(L, span_box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    if (!(b->v = llfc_calloc((size_t)np + 1, sizeof *b->v))) luaL_error(L, "%s", llfc_errmsg());
    b->np = np;
    return b;
}

typedef struct span_run {
    lua_State *L;
    const llfc_span_value *vals;
    int np;                 /* points */
    int view;               /* live view on */
    double tlast;           /* last view update */
    int failed;             /* the view raised */
    /* push the result table of points [0, ndone) */
    void (*push)(lua_State *L, struct span_run *r, int ndone, int complete);
    const void *ud;         /* the caller's description of the points */
    const llfc_net *net;    /* names of the feature layers */
    const int *layers;      /* LLFC layers (0-based), nlayers of them */
    int nlayers;
    int64_t nsamples, total;
    double t0;
} span_run;

/* The metatable of the result at the top (llfc.results: printing, its kind for the view). */
static void attach(lua_State *L)
{
    int t = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "llfc.results");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_getfield(L, -1, "attach") == LUA_TFUNCTION) {
        lua_pushvalue(L, t);
        lua_pcall(L, 1, 0, 0);
    }
    lua_settop(L, t);
}

static int span_view_step(lua_State *L)
{
    span_run *r = lua_touserdata(L, 1);
    int nd = (int)lua_tointeger(L, 2);
    r->push(L, r, nd, 0);
    attach(L);
    lua_pushboolean(L, lb_view_update(L, -1));
    return 1;
}

static int span_on_point(void *ud, int p, const llfc_span_value *v)
{
    span_run *r = ud;
    if (!r->view) return 0;
    double now = llfc_now();
    if (p + 1 < r->np && now - r->tlast < 0.1) return 0; /* the view redraws at most ten times a second */
    r->tlast = now;
    lua_State *L = r->L;
    lua_pushcfunction(L, span_view_step);
    lua_pushlightuserdata(L, r);
    lua_pushinteger(L, p + 1);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        llfc_seterr("view: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        r->failed = 1;
        return 1;
    }
    int stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

/* The common fields of a span result on the table at the top. */
static void span_header(lua_State *L, const span_run *r, const char *kind, int complete)
{
    setstr(L, "kind", kind);
    setint(L, "n", r->nsamples);
    setint(L, "total", r->total);
    setbool(L, "complete", complete);
    setnum(L, "seconds", llfc_now() - r->t0);
}

/* a new table {name =, dim =} of LLFC layer i */
static void span_layer_head(lua_State *L, const span_run *r, int i)
{
    char name[32];
    lua_createtable(L, 0, 7);
    setstr(L, "name", llfc_net_featname(r->net, r->layers[i], name, sizeof name));
    setint(L, "dim", llfc_net_featdim(r->net, r->layers[i]));
}

/* {name, dim, mean, std, coef_mean, coef_std, skipped} of LLFC layer i at value v */
static void span_push_layer(lua_State *L, const span_run *r, int i, const llfc_span_value *v)
{
    span_layer_head(L, r, i);
    setnum(L, "mean", v->mean[i]);
    setnum(L, "std", v->std[i]);
    setnum(L, "coef_mean", v->coef_mean[i]);
    setnum(L, "coef_std", v->coef_std[i]);
    setint(L, "skipped", v->skipped[i]);
}

/* Run the points with the options' progress and view; leaves the result
 * (complete, or partial after Ctrl-C or q) on the stack. */
static int span_run_points(lua_State *L, span_run *r, const llfc_net *const *nodes, int K, const llfc_span_point *pts,
                           const llfc_dataset *ds, llfc_span_opts *o, const char *kind, const char *title,
                           const char *fname)
{
    span_box *box = span_newbox(L, r->np);
    r->L = L;
    r->vals = box->v;
    r->t0 = llfc_now();
    r->total = ds->n;
    r->nsamples = ds->n;
    o->on_point = span_on_point;
    o->point_ud = r;
    if (r->view) lb_view_begin(L, kind, title);
    int done = llfc_span_eval(nodes, K, pts, r->np, ds, o, box->v);
    int intr = done >= 0 && done < r->np && llfc_interrupted();
    if (intr) llfc_interrupt_clear(); /* consumed: the points done are the answer */
    if (done < 0 || (intr && done == 0) || r->failed) {
        const char *msg = done < 0 || r->failed ? llfc_errmsg() : "interrupted";
        if (r->view) {
            lua_newtable(L);
            lb_view_finish(L, -1, msg);
        }
        if (done >= 0 && !r->failed) llfc_seterr("interrupted");
        return lb_error(L, fname);
    }
    r->push(L, r, done, done == r->np);
    if (intr) setbool(L, "interrupted", 1);
    attach(L);
    if (r->view) lb_view_finish(L, -1, done == r->np ? NULL : intr ? "interrupted" : "stopped");
    return 1;
}

/* Options shared by the span functions: layers (names or 1-based numbers), features, batch, progress. */
static const int *span_layers(lua_State *L, int oidx, const llfc_net *net, int *n, const char *fname)
{
    int nf = llfc_net_nfeat(net);
    int *ls;
    if (!lua_istable(L, oidx) || lua_getfield(L, oidx, "layers") == LUA_TNIL) {
        if (lua_istable(L, oidx)) lua_pop(L, 1);
        ls = scratch(L, (size_t)nf * sizeof *ls);
        for (int l = 0; l < nf; l++) ls[l] = l;
        *n = nf;
        return ls;
    }
    int t = lua_gettop(L);
    if (!lua_istable(L, t)) luaL_error(L, "%s: option 'layers' must be a table, got %s", fname, luaL_typename(L, t));
    int k = (int)luaL_len(L, t);
    if (k < 1 || k > nf) luaL_error(L, "%s: option 'layers' must list between 1 and %d layers", fname, nf);
    ls = scratch(L, (size_t)k * sizeof *ls);
    for (int i = 0; i < k; i++) {
        lua_rawgeti(L, t, i + 1);
        ls[i] = -1;
        if (lua_isinteger(L, -1)) {
            lua_Integer v = lua_tointeger(L, -1);
            if (v >= 1 && v <= nf) ls[i] = (int)v - 1;
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            char nm[32];
            for (int l = 0; l < nf && ls[i] < 0; l++)
                if (!strcmp(lua_tostring(L, -1), llfc_net_featname(net, l, nm, sizeof nm))) ls[i] = l;
        }
        if (ls[i] < 0)
            luaL_error(L, "%s: layers[%d] is %s: not a feature layer (a name such as '%s' or a number 1..%d)", fname,
                       i + 1, luaL_tolstring(L, -1, NULL), llfc_net_featname(net, 0, (char[32]){0}, 32), nf);
        lua_pop(L, 1);
    }
    lua_remove(L, t);
    *n = k;
    return ls;
}

/* The options the span functions share: layers, features, batch, progress and, with bn_opts,
 * reset_bn (a dataset), n and bn_batch. */
static void span_opts(lua_State *L, int oidx, const llfc_net *net, int bn_opts, llfc_span_opts *o, lb_progress *prog,
                      const char *fname)
{
    memset(o, 0, sizeof *o);
    const char *f = lb_optstring(L, oidx, "features", "post", fname);
    if (!strcmp(f, "post")) o->features = 0;
    else if (!strcmp(f, "pre")) o->features = 1;
    else luaL_error(L, "%s: option 'features' must be \"post\" or \"pre\", got \"%s\"", fname, f);
    o->batch = lb_optinteger(L, oidx, "batch", 0, fname);
    if (o->batch < 0) luaL_error(L, "%s: option 'batch' must be positive", fname);
    o->layers = span_layers(L, oidx, net, &o->nlayers, fname);
    optprogress(L, oidx, prog, fname);
    o->progress = lb_progress_fn;
    o->progress_ud = prog;
    llfc_dataset *bn = bn_opts ? optdataset(L, oidx, "reset_bn", fname) : NULL;
    if (!bn) return;
    if (!llfc_net_count_ops(net, LLFC_OP_BN))
        luaL_error(L, "%s: option 'reset_bn': the networks have no BatchNorm layers", fname);
    check_data(L, net, bn, fname);
    lua_Integer n = lb_optinteger(L, oidx, "n", 5000, fname), bb = lb_optinteger(L, oidx, "bn_batch", 256, fname);
    if (n < 1 || bb < 1) luaL_error(L, "%s: options 'n' and 'bn_batch' must be at least 1", fname);
    o->bn_x = bn->x, o->bn_n = n < bn->n ? n : bn->n, o->bn_batch = bb;
}

/* ---- metrics.merge ------------------------------------------------------------------------- */

typedef struct { int K; const double *w; } merge_desc;

static void push_merge(lua_State *L, span_run *r, int ndone, int complete)
{
    const merge_desc *d = r->ud;
    int K = d->K;
    lua_newtable(L);
    span_header(L, r, "merge", complete);
    lua_createtable(L, K, 0);
    double se = 0, sl = 0;
    int nm = ndone < K ? ndone : K;
    for (int k = 0; k < nm; k++) {
        lua_createtable(L, 0, 2);
        setnum(L, "err", r->vals[k].err);
        setnum(L, "loss", r->vals[k].loss);
        lua_rawseti(L, -2, k + 1);
        se += r->vals[k].err, sl += r->vals[k].loss;
    }
    lua_setfield(L, -2, "members");
    lua_createtable(L, K, 0);
    for (int k = 0; k < K; k++) {
        lua_pushnumber(L, d->w[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "weights");
    if (nm > 0) {
        setnum(L, "members_err", se / nm);
        setnum(L, "members_loss", sl / nm);
    }
    if (ndone > K) {
        const llfc_span_value *v = &r->vals[K];
        setnum(L, "err", v->err);
        setnum(L, "loss", v->loss);
        setnum(L, "gap", v->err - se / K);
        setnum(L, "loss_gap", v->loss - sl / K);
        lua_createtable(L, v->nlayer, 0);
        for (int i = 0; i < v->nlayer; i++) {
            span_push_layer(L, r, i, v);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "layers");
    }
}

/* metrics.merge(merged, nets, ds [, {weights, layers, features, batch, progress, view}]) */
static int m_merge(lua_State *L)
{
    const char *fname = "metrics.merge";
    static const char *const names[] = {"weights", "layers", "features", "batch", "progress", "view", "title", NULL};
    lua_settop(L, 4);
    const llfc_net *merged = lb_checknet(L, 1);
    int K;
    const llfc_net **nets = checknets(L, 2, 1, fname, &K);
    llfc_dataset *ds = lb_checkdataset(L, 3);
    if (llfc_net_same_arch(nets[0], merged))
        return luaL_error(L, "%s: bad argument #1: the merged network does not have the members' layout (%s)", fname,
                          llfc_errmsg());
    if (!lua_isnil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fname); }
    check_data(L, merged, ds, fname);
    double *w = NULL;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "weights");
        w = optweights(L, lua_gettop(L), K, fname);
    }
    double *v = scratch(L, (size_t)K * sizeof *v);
    if (llfc_average_weights(K, w, v)) return lb_error(L, fname);
    llfc_span_opts o;
    lb_progress prog;
    span_opts(L, 4, merged, 0, &o, &prog, fname);
    /* the members (error only), then the merge against the weighted mix of their features */
    llfc_span_point *pts = scratch(L, (size_t)(K + 1) * sizeof *pts);
    double *onehot = scratch(L, (size_t)(K * K) * sizeof *onehot);
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < K; j++) onehot[k * K + j] = j == k;
        pts[k] = (llfc_span_point){.net = nets[k], .v = onehot + k * K};
    }
    pts[K] = (llfc_span_point){.net = merged, .v = v, .llfc = 1};
    merge_desc d = {K, v};
    span_run r = {.np = K + 1, .view = lb_optboolean(L, 4, "view", 0, fname), .push = push_merge, .ud = &d,
                  .net = merged, .layers = o.layers, .nlayers = o.nlayers};
    return span_run_points(L, &r, nets, K, pts, ds, &o, "merge", lb_optstring(L, 4, "title", "merge", fname), fname);
}

/* ---- metrics.plane ------------------------------------------------------------------------- */

typedef struct { int G; const double *xs, *ys; llfc_plane pl; int llfc; double contour; } plane_desc;

/* rows of G values, one per y, of field f of the grid values (NaN where not done) */
static void push_grid(lua_State *L, const span_run *r, const plane_desc *d, int ndone, int layer)
{
    int G = d->G;
    lua_createtable(L, G, 0);
    for (int j = 0; j < G; j++) {
        lua_createtable(L, G, 0);
        for (int i = 0; i < G; i++) {
            int p = 3 + j * G + i;
            double x = NAN;
            if (p < ndone) {
                const llfc_span_value *v = &r->vals[p];
                x = layer == -1 ? v->err : layer == -2 ? v->loss : v->nlayer > layer ? v->mean[layer] : NAN;
            }
            lua_pushnumber(L, x);
            lua_rawseti(L, -2, i + 1);
        }
        lua_rawseti(L, -2, j + 1);
    }
}

static void push_plane(lua_State *L, span_run *r, int ndone, int complete)
{
    const plane_desc *d = r->ud;
    static const char *pn[3] = {"a", "b", "c"};
    double px[3] = {0, d->pl.bx, d->pl.cx}, py[3] = {0, 0, d->pl.cy};
    lua_newtable(L);
    span_header(L, r, "plane", complete);
    setint(L, "grid", d->G);
    if (d->contour == d->contour) setnum(L, "contour", d->contour);
    setint(L, "done", ndone);
    setint(L, "points_total", r->np);
    lua_createtable(L, d->G, 0);
    for (int i = 0; i < d->G; i++) { lua_pushnumber(L, d->xs[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "x");
    lua_createtable(L, d->G, 0);
    for (int i = 0; i < d->G; i++) { lua_pushnumber(L, d->ys[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "y");
    push_grid(L, r, d, ndone, -1);
    lua_setfield(L, -2, "err");
    push_grid(L, r, d, ndone, -2);
    lua_setfield(L, -2, "loss");
    if (d->llfc) {
        lua_createtable(L, r->nlayers, 0);
        for (int l = 0; l < r->nlayers; l++) {
            span_layer_head(L, r, l);
            push_grid(L, r, d, ndone, l);
            lua_setfield(L, -2, "mean");
            lua_rawseti(L, -2, l + 1);
        }
        lua_setfield(L, -2, "llfc");
    }
    lua_createtable(L, 3, 0);
    for (int k = 0; k < 3; k++) {
        lua_createtable(L, 0, 5);
        setstr(L, "label", pn[k]);
        setnum(L, "x", px[k]);
        setnum(L, "y", py[k]);
        if (k < ndone) {
            setnum(L, "err", r->vals[k].err);
            setnum(L, "loss", r->vals[k].loss);
        }
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "points");
    lua_createtable(L, 0, 3);
    setnum(L, "ab", d->pl.ab);
    setnum(L, "ac", d->pl.ac);
    setnum(L, "bc", d->pl.bc);
    lua_setfield(L, -2, "dist");
}

/* metrics.plane(a, b, c, ds [, {grid = 21, margin = 0.2, what = {"err", "loss"}, layers, features,
 * reset_bn = ds, n, bn_batch, batch, progress, view, title}]) */
static int m_plane(lua_State *L)
{
    const char *fname = "metrics.plane";
    static const char *const names[] = {"grid", "margin", "what", "layers", "features", "reset_bn", "n", "bn_batch",
                                        "batch", "progress", "view", "title", "contour", NULL};
    lua_settop(L, 5);
    const llfc_net *nodes[3] = {lb_checknet(L, 1), lb_checknet(L, 2), lb_checknet(L, 3)};
    llfc_dataset *ds = lb_checkdataset(L, 4);
    for (int k = 1; k < 3; k++)
        if (llfc_net_same_arch(nodes[0], nodes[k]))
            return luaL_error(L, "%s: bad argument #%d: not the layout of argument #1 (%s)", fname, k + 1, llfc_errmsg());
    if (!lua_isnil(L, 5)) { luaL_checktype(L, 5, LUA_TTABLE); lb_checktypos(L, 5, names, fname); }
    check_data(L, nodes[0], ds, fname);
    lua_Integer G = lb_optinteger(L, 5, "grid", 21, fname);
    if (G < 2 || G > 1001) return luaL_error(L, "%s: option 'grid' must be between 2 and 1001, got %d", fname, (int)G);
    double margin = lb_optnumber(L, 5, "margin", 0.2, fname);
    if (!(margin >= 0 && margin <= 10)) return luaL_error(L, "%s: option 'margin' must be in [0, 10], got %g", fname, margin);
    int want_llfc = 0;
    if (lua_istable(L, 5) && lua_getfield(L, 5, "what") != LUA_TNIL) {
        if (!lua_istable(L, -1)) return luaL_error(L, "%s: option 'what' must be a list of \"err\", \"loss\", \"llfc\"", fname);
        for (int i = 1; i <= (int)luaL_len(L, -1); i++) {
            lua_rawgeti(L, -1, i);
            const char *s = lua_tostring(L, -1);
            if (!s || (strcmp(s, "err") && strcmp(s, "loss") && strcmp(s, "llfc")))
                return luaL_error(L, "%s: what[%d] must be \"err\", \"loss\" or \"llfc\"", fname, i);
            want_llfc |= !strcmp(s, "llfc");
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 5);
    llfc_span_opts o;
    lb_progress prog;
    span_opts(L, 5, nodes[0], 1, &o, &prog, fname);
    plane_desc d = {.G = (int)G, .llfc = want_llfc, .contour = lb_optnumber(L, 5, "contour", NAN, fname)};
    if (llfc_plane_basis(nodes[0], nodes[1], nodes[2], &d.pl)) return lb_error(L, fname);
    /* the grid: the three points' box widened by margin of its extent on each side */
    double x0 = fmin(0, d.pl.cx), x1 = fmax(d.pl.bx, d.pl.cx), y0 = 0, y1 = d.pl.cy;
    double mx = margin * (x1 - x0), my = margin * (y1 - y0);
    double *xs = scratch(L, (size_t)G * sizeof *xs), *ys = scratch(L, (size_t)G * sizeof *ys);
    for (int i = 0; i < G; i++) {
        xs[i] = x0 - mx + (x1 - x0 + 2 * mx) * i / (double)(G - 1);
        ys[i] = y0 - my + (y1 - y0 + 2 * my) * i / (double)(G - 1);
    }
    d.xs = xs, d.ys = ys;
    int np = 3 + (int)(G * G);
    llfc_span_point *pts = scratch(L, (size_t)np * sizeof *pts);
    double *w = scratch(L, (size_t)np * 3 * sizeof *w);
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 3; j++) w[3 * k + j] = j == k;
        pts[k] = (llfc_span_point){.w = w + 3 * k, .llfc = want_llfc};
    }
    for (int j = 0; j < G; j++)
        for (int i = 0; i < G; i++) {
            int p = 3 + j * (int)G + i;
            llfc_plane_weights(&d.pl, xs[i], ys[j], w + 3 * p);
            pts[p] = (llfc_span_point){.w = w + 3 * p, .llfc = want_llfc};
        }
    span_run r = {.np = np, .view = lb_optboolean(L, 5, "view", 0, fname), .push = push_plane, .ud = &d,
                  .net = nodes[0], .layers = o.layers, .nlayers = o.nlayers};
    return span_run_points(L, &r, nodes, 3, pts, ds, &o, "plane",
                           lb_optstring(L, 5, "title", "the plane through a, b, c", fname), fname);
}


/* ---- metrics.interpolate and metrics.llfc of a curve ------------------------------------------ */

typedef struct { int nt; const double *ts; int llfc, features; } curve_desc;

/* interpolate: points are the t's; llfc: point 0 is the baseline (a against b), then the t's */
static void push_curve(lua_State *L, span_run *r, int ndone, int complete)
{
    const curve_desc *d = r->ud;
    int off = d->llfc, nt = ndone - off > 0 ? ndone - off : 0;
    lua_newtable(L);
    span_header(L, r, d->llfc ? "llfc" : "interpolate", complete);
    setstr(L, "path", "curve");
    lua_createtable(L, nt, 0);
    for (int i = 0; i < nt; i++) { lua_pushnumber(L, d->ts[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "alphas");
    if (!d->llfc) {
        const llfc_span_value *v = r->vals;
        lua_createtable(L, nt, 0);
        for (int i = 0; i < nt; i++) { lua_pushnumber(L, v[i].err); lua_rawseti(L, -2, i + 1); }
        lua_setfield(L, -2, "err");
        lua_createtable(L, nt, 0);
        for (int i = 0; i < nt; i++) { lua_pushnumber(L, v[i].loss); lua_rawseti(L, -2, i + 1); }
        lua_setfield(L, -2, "loss");
        if (!complete) return;
        /* the ends are t = 1 (a) and t = 0 (b), always on the grid */
        double ea = v[nt - 1].err, eb = v[0].err, la = v[nt - 1].loss, lb = v[0].loss;
        double be = -INFINITY, bl = -INFINITY, bea = NAN, bla = NAN, mx = ea > eb ? ea : eb, eps = mx;
        int nanloss = isnan(la) || isnan(lb);
        for (int i = 0; i < nt; i++) {
            double t = d->ts[i];
            double e = (v[i].err - eb) - t * (ea - eb), l = (v[i].loss - lb) - t * (la - lb);
            if (e > be) be = e, bea = t;
            if (l > bl) bl = l, bla = t;
            if (v[i].err > mx) mx = v[i].err;
            nanloss |= isnan(l);
        }
        if (nanloss) bl = bla = NAN;
        setnum(L, "err_a", ea), setnum(L, "err_b", eb), setnum(L, "loss_a", la), setnum(L, "loss_b", lb);
        lua_createtable(L, 0, 4);
        setnum(L, "err", be), setnum(L, "err_alpha", bea), setnum(L, "loss", bl), setnum(L, "loss_alpha", bla);
        lua_setfield(L, -2, "barrier");
        lua_createtable(L, 0, 3);
        setnum(L, "eps", eps), setnum(L, "max_err", mx), setbool(L, "holds", !nanloss && mx <= 2 * eps);
        lua_setfield(L, -2, "lemma");
        return;
    }
    setstr(L, "features", d->features ? "pre" : "post");
    lua_createtable(L, r->nlayers, 0);
    for (int l = 0; l < r->nlayers; l++) {
        span_layer_head(L, r, l);
        if (ndone > 0) {
            const llfc_span_value *b = &r->vals[0];
            setint(L, "skipped", b->skipped[l]);
            lua_createtable(L, 0, 2);
            setnum(L, "mean", b->mean[l]), setnum(L, "std", b->std[l]);
            lua_setfield(L, -2, "ab");
        }
        lua_createtable(L, nt, 0);
        for (int i = 0; i < nt; i++) {
            const llfc_span_value *v = &r->vals[1 + i];
            lua_createtable(L, 0, 6);
            setnum(L, "alpha", d->ts[i]);
            setnum(L, "mean", v->mean[l]), setnum(L, "std", v->std[l]);
            setnum(L, "coef_mean", v->coef_mean[l]), setnum(L, "coef_std", v->coef_std[l]);
            setint(L, "skipped", v->skipped[l]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "at");
        lua_rawseti(L, -2, l + 1);
    }
    lua_setfield(L, -2, "layers");
}

/* opts[field]: k >= 2 evenly spaced points of [0, 1] or a list; def otherwise (sorted, no duplicates) */
static double *opt_ts(lua_State *L, int oidx, const char *field, const double *def, int ndef, int *n, const char *fname)
{
    double *ts = NULL;
    int k = ndef;
    if (lua_istable(L, oidx) && lua_getfield(L, oidx, field) != LUA_TNIL) {
        int t = lua_gettop(L);
        if (lua_isinteger(L, t)) {
            lua_Integer m = lua_tointeger(L, t);
            if (m < 2 || m > 100000) luaL_error(L, "%s: option '%s' = %d: need between 2 and 100000 points", fname, field, (int)m);
            k = (int)m;
            ts = scratch(L, (size_t)k * sizeof *ts);
            for (int i = 0; i < k; i++) ts[i] = (double)i / (k - 1);
        } else if (lua_istable(L, t)) {
            k = (int)luaL_len(L, t);
            if (k < 1 || k > 100000) luaL_error(L, "%s: option '%s' must hold between 1 and 100000 values", fname, field);
            ts = scratch(L, (size_t)k * sizeof *ts);
            for (int i = 0; i < k; i++) {
                lua_rawgeti(L, t, i + 1);
                int ok;
                ts[i] = lua_tonumberx(L, -1, &ok);
                if (!ok) luaL_error(L, "%s: %s[%d] must be a number, got %s", fname, field, i + 1, luaL_typename(L, -1));
                lua_pop(L, 1);
            }
        } else {
            luaL_error(L, "%s: option '%s' must be a number of points or a list of t values, got %s", fname, field,
                       luaL_typename(L, t));
        }
        lua_remove(L, t);
    } else {
        if (lua_istable(L, oidx)) lua_pop(L, 1);
        ts = scratch(L, (size_t)k * sizeof *ts);
        memcpy(ts, def, (size_t)k * sizeof *ts);
    }
    if (llfc_metrics_check_alphas(ts, &k, field)) lb_error(L, fname);
    *n = k;
    return ts;
}

int lb_curve_metric(lua_State *L, int llfc)
{
    const char *fname = llfc ? "metrics.llfc" : "metrics.interpolate";
    static const char *const names[] = {"alphas", "layers", "features", "batch", "progress", "view", "title",
                                        "reset_bn", "n", "bn_batch", NULL};
    lua_settop(L, 3);
    llfc_curve *c = lb_checkcurve(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    if (!lua_isnil(L, 3)) { luaL_checktype(L, 3, LUA_TTABLE); lb_checktypos(L, 3, names, fname); }
    const llfc_net *const *nodes = (const llfc_net *const *)c->node;
    int K = c->nnodes;
    check_data(L, nodes[0], ds, fname);
    double grid[21], mids[3] = {0.25, 0.5, 0.75};
    for (int i = 0; i < 21; i++) grid[i] = i / 20.0;
    int nt;
    double *ts = opt_ts(L, 3, "alphas", llfc ? mids : grid, llfc ? 3 : 21, &nt, fname);
    if (!llfc && (ts[0] != 0.0 || ts[nt - 1] != 1.0))
        return luaL_error(L, "%s: the t values of a curve's interpolation must include 0 and 1 (its ends)", fname);
    llfc_span_opts o;
    lb_progress prog;
    span_opts(L, 3, nodes[0], 1, &o, &prog, fname);
    int np = nt + llfc;
    llfc_span_point *pts = scratch(L, (size_t)np * sizeof *pts);
    double *w = scratch(L, (size_t)(np + 1) * K * sizeof *w);
    if (llfc) { /* the baseline: a against b */
        double *e = w + (size_t)np * K;
        for (int k = 0; k < K; k++) e[k] = k == 0;
        pts[0] = (llfc_span_point){.net = nodes[K - 1], .v = e, .llfc = 1};
    }
    for (int i = 0; i < nt; i++) {
        llfc_curve_weights(c, ts[i], w + (size_t)(i + llfc) * K);
        pts[i + llfc] = (llfc_span_point){.w = w + (size_t)(i + llfc) * K, .llfc = llfc};
    }
    curve_desc d = {nt, ts, llfc, o.features};
    span_run r = {.np = np, .view = lb_optboolean(L, 3, "view", 0, fname), .push = push_curve, .ud = &d,
                  .net = nodes[0], .layers = o.layers, .nlayers = o.nlayers};
    char title[96];
    snprintf(title, sizeof title, "along a %s curve (t = 1 is a, t = 0 is b)", llfc_curve_kind_name(c->kind));
    return span_run_points(L, &r, nodes, K, pts, ds, &o, llfc ? "llfc" : "interpolate",
                           lb_optstring(L, 3, "title", title, fname), fname);
}


/* ---- metrics.principal_angles ------------------------------------------------------------------ */

static void pushvec(lua_State *L, const double *v, int n, int acos_of)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, acos_of ? acos(v[i]) : v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* metrics.principal_angles(a, b, ds [, {k = 10, n = 1000, layers, features, batch, progress}]) */
static int m_principal_angles(lua_State *L)
{
    const char *fname = "metrics.principal_angles";
    static const char *const names[] = {"k", "n", "layers", "features", "batch", "progress", NULL};
    lua_settop(L, 4);
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    llfc_dataset *ds = lb_checkdataset(L, 3);
    if (llfc_net_same_arch(a, b))
        return luaL_error(L, "%s: bad argument #2: not the layout of argument #1 (%s)", fname, llfc_errmsg());
    if (!lua_isnil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fname); }
    check_data(L, a, ds, fname);
    lua_Integer k = lb_optinteger(L, 4, "k", 10, fname), n = lb_optinteger(L, 4, "n", 1000, fname);
    if (k < 1 || k > 64) return luaL_error(L, "%s: option 'k' must be between 1 and 64, got %d", fname, (int)k);
    if (n < 2) return luaL_error(L, "%s: option 'n' must be at least 2, got %d", fname, (int)n);
    if (n > ds->n) n = ds->n;
    if (n < 2) return luaL_error(L, "%s: the dataset has fewer than 2 samples", fname);
    llfc_span_opts so;
    lb_progress prog;
    span_opts(L, 4, a, 0, &so, &prog, fname);
    llfc_pa_opts o = {.k = (int)k, .layers = so.layers, .nlayers = so.nlayers, .features = so.features, .batch = so.batch,
                      .progress = lb_progress_fn, .progress_ud = &prog};
    llfc_pa_layer *res;
    int nout;
    double t0 = llfc_now();
    if (llfc_principal_angles(a, b, ds->x, n, &o, &res, &nout)) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, fname);
    }
    lua_createtable(L, 0, 6);
    setstr(L, "kind", "principal_angles");
    setint(L, "k", k);
    setint(L, "n", n);
    setstr(L, "features", so.features ? "pre" : "post");
    lua_createtable(L, nout, 0);
    for (int i = 0; i < nout; i++) {
        const llfc_pa_layer *r = &res[i];
        char nm[32];
        double mean = 0;
        for (int j = 0; j < r->k; j++) mean += r->cos[j];
        lua_createtable(L, 0, 9);
        setstr(L, "name", llfc_net_featname(a, r->feat, nm, sizeof nm));
        setint(L, "dim", r->dim);
        setint(L, "k", r->k);
        pushvec(L, r->cos, r->k, 0);
        lua_setfield(L, -2, "cos");
        pushvec(L, r->cos, r->k, 1);
        lua_setfield(L, -2, "angles");
        setnum(L, "mean_cos", r->k ? mean / r->k : NAN);
        setnum(L, "min_cos", r->k ? r->cos[r->k - 1] : NAN);
        pushvec(L, r->sv_a, r->k, 0);
        lua_setfield(L, -2, "sv_a");
        pushvec(L, r->sv_b, r->k, 0);
        lua_setfield(L, -2, "sv_b");
        lua_rawseti(L, -2, i + 1);
    }
    free(res);
    lua_setfield(L, -2, "layers");
    setnum(L, "seconds", llfc_now() - t0);
    attach(L);
    return 1;
}

static const luaL_Reg metrics_funcs[] = {
    {"merge", m_merge},
    {"plane", m_plane},
    {"principal_angles", m_principal_angles},
    {NULL, NULL},
};

static const luaL_Reg perm_funcs[] = {
    {"align_many", perm_align_many},
    {NULL, NULL},
};


/* ---- nn.stitch ---------------------------------------------------------------------------------- */

/* The cut at idx: 0 (the input), a feature layer number 1..nfeat or name; returns it 0-based (-1: input). */
static int check_cut(lua_State *L, int idx, const llfc_net *net, const char *fname)
{
    int nf = llfc_net_nfeat(net);
    char nm[32];
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v < 0 || v > nf)
            luaL_error(L, "%s: bad argument #%d: layer %d is outside 0 (the input) .. %d (the logits)", fname, idx, (int)v, nf);
        return (int)v - 1;
    }
    const char *s = luaL_checkstring(L, idx);
    if (!strcmp(s, "x")) return -1;
    for (int l = 0; l < nf; l++)
        if (!strcmp(s, llfc_net_featname(net, l, nm, sizeof nm))) return l;
    luaL_error(L, "%s: bad argument #%d: no feature layer named '%s'", fname, idx, s);
    return -2;
}

/* the float data of the tensor option field with n values, or NULL */
static const float *opt_values(lua_State *L, int oidx, const char *field, int64_t n, const char *fname)
{
    if (!lua_istable(L, oidx) || lua_getfield(L, oidx, field) == LUA_TNIL) {
        if (lua_istable(L, oidx)) lua_pop(L, 1);
        return NULL;
    }
    llfc_tensor *t = lb_totensor(L, -1);
    if (!t) luaL_error(L, "%s: option '%s' must be a tensor, got %s", fname, field, luaL_typename(L, -1));
    if (llfc_tensor_numel(t) != n)
        luaL_error(L, "%s: option '%s' has %d values, the stitching layer needs %d", fname, field,
                   (int)llfc_tensor_numel(t), (int)n);
    lua_pop(L, 1); /* anchored by the options table */
    if (llfc_tensor_is_contiguous(t)) return llfc_tensor_data(t);
    float *c = scratch(L, (size_t)n * sizeof *c);
    llfc_tensor *cc = llfc_tensor_clone(t);
    if (!cc) lb_error(L, fname);
    memcpy(c, llfc_tensor_data(cc), (size_t)n * sizeof *c);
    llfc_tensor_free(cc);
    return c;
}

/* nn.stitch(a, b, layer [, {weight = T, bias = T}]) -> net, {layer =, name =, width =} */
static int nn_stitch(lua_State *L)
{
    const char *fname = "nn.stitch";
    static const char *const names[] = {"weight", "bias", NULL};
    lua_settop(L, 4);
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    if (llfc_net_same_arch(a, b))
        return luaL_error(L, "%s: bad argument #2: not the layout of argument #1 (%s)", fname, llfc_errmsg());
    int l = check_cut(L, 3, a, fname);
    if (!lua_isnil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fname); }
    if (llfc_net_stitch_check(a, l)) return lb_error(L, fname);
    int64_t C = llfc_net_stitch_width(a, l);
    const float *w = opt_values(L, 4, "weight", C * C, fname), *bias = opt_values(L, 4, "bias", C, fname);
    llfc_net *s = llfc_net_stitch(a, b, l, w, bias);
    if (!s) return lb_error(L, fname);
    lb_pushnet(L, s);
    char nm[32];
    lua_createtable(L, 0, 3);
    setint(L, "layer", l + 1);
    setstr(L, "name", l < 0 ? "x" : llfc_net_featname(a, l, nm, sizeof nm));
    setint(L, "width", C);
    return 2;
}

static const luaL_Reg nn_funcs[] = {
    {"average", nn_average},
    {"stitch", nn_stitch},
    {NULL, NULL},
};

/* Add the functions to the modules of the llfc table at idx. */
void llfc_open_landscape(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "nn");
    luaL_setfuncs(L, nn_funcs, 0);
    lua_pop(L, 1);
    lua_getfield(L, idx, "perm");
    luaL_setfuncs(L, perm_funcs, 0);
    lua_pop(L, 1);
    lua_getfield(L, idx, "metrics");
    luaL_setfuncs(L, metrics_funcs, 0);
    lua_pop(L, 1);
}
