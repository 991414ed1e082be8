/* l_metrics.c - Lua binding of the metrics module: interpolate, llfc,
 * weak_additivity, commutativity, report.  Each returns a plain table (the
 * layouts of DESIGN.md "Result tables") with kind = "..." and the metatable
 * of lua/llfc/results.lua (__tostring). */
#include "lbind.h"
#include "metrics/metrics.h"

#include <math.h>
#include <string.h>

#define REPORT_BOX_MT "llfc.metrics.report"

/* ---- pushing results ------------------------------------------------------ */

static void setnum(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void setint(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, (lua_Integer)v); lua_setfield(L, -2, k); }
static void setstr(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }

static void pushnums(lua_State *L, const double *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) { lua_pushnumber(L, v[i]); lua_rawseti(L, -2, i + 1); }
}

static void setmeta(lua_State *L)
{
    /* require("llfc.results").attach(t); tolerate a missing module */
    int t = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "llfc.results");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) { lua_settop(L, t); return; }
    lua_getfield(L, -1, "attach");
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, t);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
    } else lua_pop(L, 1);
    lua_settop(L, t);
}

static void header(lua_State *L, const char *kind, const llfc_report *r)
{
    lua_newtable(L);
    setstr(L, "kind", kind);
    setint(L, "n", r->n);
    setint(L, "total", r->ntotal);
    lua_pushboolean(L, r->complete);
    lua_setfield(L, -2, "complete");
    setnum(L, "seconds", r->seconds);
}

static void push_interp(lua_State *L, const llfc_report *r)
{
    const llfc_interp_res *ip = &r->interp;
    header(L, "interpolate", r);
    pushnums(L, ip->alpha, ip->nalpha); lua_setfield(L, -2, "alphas");
    pushnums(L, ip->err, ip->nalpha); lua_setfield(L, -2, "err");
    pushnums(L, ip->loss, ip->nalpha); lua_setfield(L, -2, "loss");
    setnum(L, "err_a", ip->err_a); setnum(L, "err_b", ip->err_b);
    setnum(L, "loss_a", ip->loss_a); setnum(L, "loss_b", ip->loss_b);
    lua_newtable(L);
    setnum(L, "err", ip->barrier_err); setnum(L, "err_alpha", ip->barrier_err_alpha);
    setnum(L, "loss", ip->barrier_loss); setnum(L, "loss_alpha", ip->barrier_loss_alpha);
    lua_setfield(L, -2, "barrier");
    lua_newtable(L);
    setnum(L, "eps", ip->eps); setnum(L, "max_err", ip->max_err);
    lua_pushboolean(L, ip->holds); lua_setfield(L, -2, "holds");
    lua_setfield(L, -2, "lemma");
    setmeta(L);
}

static void meanstd(lua_State *L, const char *k, double m, double s)
{
    lua_createtable(L, 0, 2);
    setnum(L, "mean", m); setnum(L, "std", s);
    lua_setfield(L, -2, k);
}

static void push_llfc(lua_State *L, const llfc_report *r)
{
    const llfc_llfc_res *lr = &r->llfc;
    header(L, "llfc", r);
    pushnums(L, lr->alpha, lr->nalpha); lua_setfield(L, -2, "alphas");
    setstr(L, "features", lr->features == LLFC_FEAT_PRE ? "pre" : "post");
    lua_createtable(L, lr->nlayer, 0);
    for (int i = 0; i < lr->nlayer; i++) {
        const llfc_llfc_layer *ly = &lr->layer[i];
        lua_newtable(L);
        setstr(L, "name", ly->name);
        setint(L, "dim", ly->dim);
        setint(L, "skipped", ly->skipped);
        meanstd(L, "ab", ly->ab_mean, ly->ab_std);
        lua_createtable(L, lr->nalpha, 0);
        for (int k = 0; k < lr->nalpha; k++) {
            const llfc_llfc_at *at = &ly->at[k];
            lua_newtable(L);
            setnum(L, "alpha", at->alpha);
            setnum(L, "mean", at->mean); setnum(L, "std", at->std);
            setnum(L, "coef_mean", at->coef_mean); setnum(L, "coef_std", at->coef_std);
            setint(L, "skipped", at->skipped);
            lua_newtable(L);
            lua_createtable(L, at->nbins + 1, 0);
            for (int j = 0; j <= at->nbins && at->nbins > 0; j++) {
                lua_pushnumber(L, at->hist_lo + (at->hist_hi - at->hist_lo) * j / at->nbins);
                lua_rawseti(L, -2, j + 1);
            }
            lua_setfield(L, -2, "edges");
            lua_createtable(L, at->nbins, 0);
            for (int j = 0; j < at->nbins; j++) { lua_pushinteger(L, at->hist[j]); lua_rawseti(L, -2, j + 1); }
            lua_setfield(L, -2, "counts");
            setint(L, "below", at->below); setint(L, "above", at->above);
            lua_setfield(L, -2, "coef_hist");
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "at");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "layers");
    setmeta(L);
}

static void push_weak(lua_State *L, const llfc_report *r)
{
    const llfc_weak_res *wr = &r->weak;
    header(L, "weak_additivity", r);
    pushnums(L, wr->alpha, wr->nalpha); lua_setfield(L, -2, "alphas");
    lua_createtable(L, wr->nlayer, 0);
    for (int i = 0; i < wr->nlayer; i++) {
        const llfc_weak_layer *ly = &wr->layer[i];
        lua_newtable(L);
        setstr(L, "name", ly->name);
        setint(L, "dim", ly->dim);
        lua_createtable(L, wr->nalpha, 0);
        for (int k = 0; k < wr->nalpha; k++) {
            lua_newtable(L);
            setnum(L, "alpha", ly->at[k].alpha);
            setnum(L, "mean", ly->at[k].mean); setnum(L, "std", ly->at[k].std);
            setint(L, "skipped", ly->at[k].skipped);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "at");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "layers");
    setmeta(L);
}

static void push_comm(lua_State *L, const llfc_report *r)
{
    const llfc_comm_res *cr = &r->comm;
    header(L, "commutativity", r);
    lua_createtable(L, cr->nlayer, 0);
    for (int l = 0; l < cr->nlayer; l++) {
        const llfc_comm_layer *c = &cr->layer[l];
        lua_newtable(L);
        setint(L, "layer", c->layer);
        setstr(L, "name", c->name);
        setstr(L, "input", c->input);
        setnum(L, "dist_com", c->dist_com); setnum(L, "dist_w", c->dist_w); setnum(L, "dist_h", c->dist_h);
        setnum(L, "num", c->num);
        lua_rawseti(L, -2, l + 1);
    }
    lua_setfield(L, -2, "layers");
    setmeta(L);
}

static void push_result(lua_State *L, const llfc_report *r, const char *kind)
{
    if (strcmp(kind, "report") != 0) {
        if (r->what == LLFC_M_INTERP) push_interp(L, r);
        else if (r->what == LLFC_M_LLFC) push_llfc(L, r);
        else if (r->what == LLFC_M_WEAK) push_weak(L, r);
        else push_comm(L, r);
        return;
    }
    header(L, "report", r);
    push_interp(L, r); lua_setfield(L, -2, "interpolate");
    push_llfc(L, r); lua_setfield(L, -2, "llfc");
    push_weak(L, r); lua_setfield(L, -2, "weak_additivity");
    push_comm(L, r); lua_setfield(L, -2, "commutativity");
    setmeta(L);
}

/* ---- options -------------------------------------------------------------- */

/* Scratch memory that a Lua error cannot leak: a userdata on the stack. */
static void *scratch(lua_State *L, size_t n) { return lua_newuserdatauv(L, n ? n : 1, 0); }

/* opts[field]: nil -> *n = 0 (default); an integer k >= 2 -> k evenly spaced
 * points 0 .. 1; a table of numbers.  Leaves a scratch userdata on the stack. */
static double *opt_alphas(lua_State *L, int oidx, const char *field, int *n, const char *fname)
{
    *n = 0;
    if (!lua_istable(L, oidx)) return NULL;
    lua_getfield(L, oidx, field);
    int t = lua_gettop(L);
    double *a = NULL;
    if (lua_isnil(L, t)) {
        lua_pop(L, 1);
        return NULL;
    } else if (lua_isinteger(L, t)) {
        lua_Integer k = lua_tointeger(L, t);
        if (k < 2 || k > 100000) luaL_error(L, "%s: option '%s' = %d: need between 2 and 100000 points", fname, field, (int)k);
        a = scratch(L, (size_t)k * sizeof *a);
        for (lua_Integer i = 0; i < k; i++) a[i] = (double)i / (double)(k - 1);
        *n = (int)k;
    } else if (lua_istable(L, t)) {
        lua_Integer k = luaL_len(L, t);
        if (k < 1 || k > 100000) luaL_error(L, "%s: option '%s' must hold between 1 and 100000 alphas", fname, field);
        a = scratch(L, (size_t)k * sizeof *a);
        for (lua_Integer i = 1; i <= k; i++) {
            lua_rawgeti(L, t, i);
            int ok;
            a[i - 1] = lua_tonumberx(L, -1, &ok);
            if (!ok) luaL_error(L, "%s: %s[%d] must be a number, got %s", fname, field, (int)i, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        *n = (int)k;
    } else {
        luaL_error(L, "%s: option '%s' must be a number of points or a table of alphas, got %s", fname, field,
                   lua_type(L, t) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, t));
    }
    lua_remove(L, t); /* keep the scratch userdata */
    /* check now, so the error names the Lua function */
    int m = *n;
    if (llfc_metrics_check_alphas(a, &m, field)) lb_error(L, fname);
    *n = m;
    return a;
}

/* opts.layers: names ("h1", "logits") or 1-based feature layer numbers. */
static int *opt_layers(lua_State *L, int oidx, const llfc_net *net, int *n, const char *fname)
{
    *n = 0;
    if (!lua_istable(L, oidx)) return NULL;
    lua_getfield(L, oidx, "layers");
    int t = lua_gettop(L);
    if (lua_isnil(L, t)) { lua_pop(L, 1); return NULL; }
    if (!lua_istable(L, t)) luaL_error(L, "%s: option 'layers' must be a table, got %s", fname, luaL_typename(L, t));
    lua_Integer k = luaL_len(L, t);
    if (k < 1 || k > 4096) luaL_error(L, "%s: option 'layers' must list at least one layer", fname);
    int *ls = scratch(L, (size_t)k * sizeof *ls);
    int nf = llfc_net_nfeat(net);
    for (lua_Integer i = 1; i <= k; i++) {
        lua_rawgeti(L, t, i);
        if (lua_isinteger(L, -1)) {
            lua_Integer v = lua_tointeger(L, -1);
            if (v < 1 || v > nf) luaL_error(L, "%s: layer %d out of range 1..%d", fname, (int)v, nf);
            ls[i - 1] = (int)v - 1;
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            const char *s = lua_tostring(L, -1);
            int found = -1;
            char buf[32];
            for (int l = 0; l < nf; l++)
                if (strcmp(llfc_net_featname(net, l, buf, sizeof buf), s) == 0) found = l;
            if (found < 0) {
                char first[32];
                luaL_error(L, "%s: no feature layer named '%s' (%s .. %s, %d layers)", fname, s,
                           llfc_net_featname(net, 0, first, sizeof first), llfc_net_featname(net, nf - 1, buf, sizeof buf), nf);
            }
            ls[i - 1] = found;
        } else {
            luaL_error(L, "%s: layers[%d] must be a name or a layer number, got %s", fname, (int)i, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    lua_remove(L, t);
    *n = (int)k;
    return ls;
}

/* ---- running with the live view ------------------------------------------- */

typedef struct {
    lua_State *L;
    const char *kind;
    int last;        /* stack slot holding the last partial table */
    int view;
    int failed;      /* the view or table building raised */
    double tlast;    /* when the last snapshot was taken */
} batch_ctx;

static int partial_step(lua_State *L)
{
    batch_ctx *c = lua_touserdata(L, 1);
    const llfc_report *r = lua_touserdata(L, 2);
    push_result(L, r, c->kind);
    int stop = c->view ? lb_view_update(L, -1) : 0;
    lua_pushboolean(L, stop);
    return 2;
}

static int on_batch(void *ud, const llfc_report *r)
{
    batch_ctx *c = ud;
    lua_State *L = c->L;
    /* without the view a snapshot (for Ctrl-C) every 50 ms is enough: building
     * the table after every small batch would cost more than the batch */
    int intr = llfc_interrupted();
    if (!c->view && !intr && !lua_isnil(L, c->last) && llfc_now() - c->tlast < 0.05) return 0;
    c->tlast = llfc_now();
    lua_pushcfunction(L, partial_step);
    lua_pushlightuserdata(L, c);
    lua_pushlightuserdata(L, (void *)r);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        llfc_seterr("view: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        c->failed = 1;
        return 1;
    }
    int stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_replace(L, c->last);
    /* Ctrl-C: stop after this batch with the partial report */
    return stop || llfc_interrupted();
}

static int box_gc(lua_State *L)
{
    llfc_report **box = luaL_checkudata(L, 1, REPORT_BOX_MT);
    llfc_report_free(*box);
    *box = NULL;
    return 0;
}

static int run(lua_State *L, int what, const char *kind, const char *fname)
{
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    llfc_dataset *ds = lb_checkdataset(L, 3);
    int oidx = 4;
    static const char *const names[] = {"alphas", "llfc_alphas", "weak_alphas", "layers", "features", "bins",
                                        "range", "batch", "progress", "view", "n", "title", NULL};
    if (!lua_isnoneornil(L, oidx)) { luaL_checktype(L, oidx, LUA_TTABLE); lb_checktypos(L, oidx, names, fname); }
    else { lua_settop(L, 3); lua_newtable(L); }
    lua_settop(L, 4);

    llfc_metrics_opts o;
    llfc_metrics_opts_init(&o);
    o.what = what;
    o.batch = lb_optinteger(L, oidx, "batch", 0, fname);
    luaL_argcheck(L, o.batch >= 0, oidx, "option 'batch' must be positive");
    int view = lb_optboolean(L, oidx, "view", 0, fname);
    if (what == LLFC_M_INTERP) {
        o.alphas = opt_alphas(L, oidx, "alphas", &o.nalphas, fname);
    } else if (what == LLFC_M_LLFC) {
        o.llfc_alphas = opt_alphas(L, oidx, "alphas", &o.nllfc_alphas, fname);
    } else if (what == LLFC_M_WEAK) {
        o.weak_alphas = opt_alphas(L, oidx, "alphas", &o.nweak_alphas, fname);
    } else if (what == LLFC_M_ALL) {
        o.alphas = opt_alphas(L, oidx, "alphas", &o.nalphas, fname);
        o.llfc_alphas = opt_alphas(L, oidx, "llfc_alphas", &o.nllfc_alphas, fname);
        o.weak_alphas = opt_alphas(L, oidx, "weak_alphas", &o.nweak_alphas, fname);
    }
    if (what & (LLFC_M_LLFC | LLFC_M_WEAK)) o.layers = opt_layers(L, oidx, a, &o.nlayers, fname);
    if (what & LLFC_M_LLFC) {
        const char *f = lb_optstring(L, oidx, "features", "post", fname);
        if (strcmp(f, "post") == 0) o.features = LLFC_FEAT_POST;
        else if (strcmp(f, "pre") == 0) o.features = LLFC_FEAT_PRE;
        else luaL_error(L, "%s: option 'features' must be \"post\" or \"pre\", got \"%s\"", fname, f);
        lua_Integer bins = lb_optinteger(L, oidx, "bins", 0, fname);
        if (bins < 0 || bins > 100000) luaL_error(L, "%s: option 'bins' must be between 1 and 100000", fname);
        o.hist_bins = (int)bins;
        lua_getfield(L, oidx, "range");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1)) luaL_error(L, "%s: option 'range' must be a table {lo, hi}", fname);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1) || !(lua_tonumber(L, -2) < lua_tonumber(L, -1)))
                luaL_error(L, "%s: option 'range' must be {lo, hi} with lo < hi", fname);
            o.hist_lo = lua_tonumber(L, -2), o.hist_hi = lua_tonumber(L, -1);
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    lb_progress prog = {L, lb_optprogress(L, oidx, fname)};
    o.progress = lb_progress_fn;
    o.progress_ud = &prog;

    lua_pushnil(L); /* the last partial table */
    batch_ctx ctx = {L, kind, lua_gettop(L), view, 0, 0.0};
    if (view) lb_view_begin(L, kind, "theta_alpha = alpha*A + (1-alpha)*B");
    /* every batch leaves a snapshot: Ctrl-C returns the last one */
    o.on_batch = on_batch;
    o.batch_ud = &ctx;
    llfc_report **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, REPORT_BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    *box = llfc_metrics_run(a, b, ds, &o);
    if (!*box) {
        /* Ctrl-C stops like q: the last partial result (a consistent snapshot
         * after a whole batch) is returned; nothing done yet: "interrupted" */
        int partial = llfc_interrupted() && !ctx.failed && !lua_isnil(L, ctx.last);
        /* consumed: the REPL's hook must not fire inside view.finish or later */
        if (partial) llfc_interrupt_clear();
        if (view) {
            if (lua_isnil(L, ctx.last)) { lua_newtable(L); lua_replace(L, ctx.last); }
            lb_view_finish(L, ctx.last, partial ? "interrupted" : llfc_errmsg());
        }
        if (partial) {
            lua_pushboolean(L, 1);
            lua_setfield(L, ctx.last, "interrupted");
            lua_pushvalue(L, ctx.last);
            return 1;
        }
        return lb_error(L, fname);
    }
    int intr = !(*box)->complete && llfc_interrupted();
    if (intr) llfc_interrupt_clear();
    push_result(L, *box, kind);
    if (intr) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "interrupted");
    }
    if (view) lb_view_finish(L, -1, (*box)->complete ? NULL : intr ? "interrupted" : "stopped");
    llfc_report_free(*box);
    *box = NULL;
    return 1;
}

/* a curve in place of the pair: l_landscape.c */
static int m_interpolate(lua_State *L)
{
    if (lb_tocurve(L, 1)) return lb_curve_metric(L, 0);
    return run(L, LLFC_M_INTERP, "interpolate", "metrics.interpolate");
}
static int m_llfc(lua_State *L)
{
    if (lb_tocurve(L, 1)) return lb_curve_metric(L, 1);
    return run(L, LLFC_M_LLFC, "llfc", "metrics.llfc");
}
static int m_weak(lua_State *L) { return run(L, LLFC_M_WEAK, "weak_additivity", "metrics.weak_additivity"); }
static int m_comm(lua_State *L) { return run(L, LLFC_M_COMM, "commutativity", "metrics.commutativity"); }
static int m_report(lua_State *L) { return run(L, LLFC_M_ALL, "report", "metrics.report"); }

int llfc_open_metrics(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"interpolate", m_interpolate}, {"llfc", m_llfc}, {"weak_additivity", m_weak},
        {"commutativity", m_comm},      {"report", m_report}, {NULL, NULL},
    };
    luaL_newmetatable(L, REPORT_BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    lb_setfuncs(L, funcs);
    return 1;
}
