/* l_merge.c - Lua binding of the feature-averaging merge
 * (metrics/feature_merge.h): nn.merge_features(members, ds [, opts]) and
 * metrics.feature_llfc(net, members, ds [, opts]).  Registered into the nn
 * and metrics tables by llfc_open_merge (l_init.c). */
#include "lbind.h"
#include "metrics/feature_merge.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The list of networks at idx: k >= 1 nets of one layout, in a userdata
 * array (freed by Lua on an error). */
static const llfc_net **check_members(lua_State *L, int idx, const char *fn, int *k)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n < 1) luaL_error(L, "%s: bad argument #%d: a list of networks is needed, got an empty table", fn, idx);
    if (n > 1024) luaL_error(L, "%s: bad argument #%d: %d networks (at most 1024)", fn, idx, (int)n);
    const llfc_net **m = lua_newuserdatauv(L, (size_t)n * sizeof *m, 0);
    for (lua_Integer j = 1; j <= n; j++) {
        lua_rawgeti(L, idx, j);
        m[j - 1] = lb_tonet(L, -1);
        if (!m[j - 1])
            luaL_error(L, "%s: bad argument #%d: entry %d is a %s, not a network", fn, idx, (int)j, luaL_typename(L, -1));
        lua_pop(L, 1);
        if (j > 1 && llfc_net_same_arch(m[0], m[j - 1]))
            luaL_error(L, "%s: bad argument #%d: network %d is not the layout of network 1 (%s)", fn, idx, (int)j,
                       llfc_errmsg());
    }
    *k = (int)n;
    return m;
}

/* a number as text for an error message (lua_pushfstring has no %g) */
static const char *num(double v)
{
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

/* opts.weights (k numbers) or opts.alpha (two networks) into w[k]; 0 if neither */
static int opt_weights(lua_State *L, int oidx, int k, double *w, const char *fn)
{
    if (!lua_istable(L, oidx)) return 0;
    int tw = lua_getfield(L, oidx, "weights"), ta = lua_getfield(L, oidx, "alpha");
    if (tw != LUA_TNIL && ta != LUA_TNIL) luaL_error(L, "%s: give option 'weights' or 'alpha', not both", fn);
    if (ta != LUA_TNIL) {
        if (!lua_isnumber(L, -1)) luaL_error(L, "%s: option 'alpha' must be a number, got %s", fn, luaL_typename(L, -1));
        if (k != 2) luaL_error(L, "%s: option 'alpha' needs two networks, got %d (use 'weights')", fn, k);
        double a = lua_tonumber(L, -1);
        if (!(a >= 0 && a <= 1)) luaL_error(L, "%s: option 'alpha' must be in [0, 1], got %s", fn, num(a));
        w[0] = a, w[1] = 1 - a;
        lua_pop(L, 2);
        return 1;
    }
    lua_pop(L, 1);
    if (tw == LUA_TNIL) { lua_pop(L, 1); return 0; }
    if (tw != LUA_TTABLE) luaL_error(L, "%s: option 'weights' must be a list of numbers, got %s", fn, luaL_typename(L, -1));
    if ((int)lua_rawlen(L, -1) != k)
        luaL_error(L, "%s: option 'weights' has %d entries for %d networks", fn, (int)lua_rawlen(L, -1), k);
    double s = 0;
    for (int j = 0; j < k; j++) {
        lua_rawgeti(L, -1, j + 1);
        if (!lua_isnumber(L, -1)) luaL_error(L, "%s: option 'weights': entry %d is not a number", fn, j + 1);
        w[j] = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!(w[j] >= 0) || !isfinite(w[j])) luaL_error(L, "%s: option 'weights': entry %d is %s (must be >= 0)", fn, j + 1, num(w[j]));
        s += w[j];
    }
    if (fabs(s - 1) > 1e-6) luaL_error(L, "%s: option 'weights' sums to %s, not 1", fn, num(s));
    lua_pop(L, 1);
    return 1;
}

static void check_dataset(lua_State *L, const llfc_dataset *ds, const llfc_net *net, const char *fn)
{
    if (ds->n < 1) luaL_error(L, "%s: the dataset is empty", fn);
    if (ds->dim != llfc_net_input_dim(net))
        luaL_error(L, "%s: the dataset has %d features per sample, the networks take %d", fn, (int)ds->dim,
                   (int)llfc_net_input_dim(net));
}

/* verbose: each finished fit printed (its progress message says "fitted"),
 * then the Lua progress function */
typedef struct { int verbose; lb_progress lp; } mprog;

static int merge_progress(void *ud, double done, double total, const char *what)
{
    mprog *mp = ud;
    if (mp->verbose && what && strstr(what, " fitted (")) { printf("%s\n", what); fflush(stdout); }
    return lb_progress_fn(&mp->lp, done, total, what);
}

static void setnum(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static double getnum(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
    lua_pop(L, 1);
    return v;
}

static const char *getstr(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1); /* anchored in the table */
    return v;
}

/* Text of a result table, built in an llfc_strbuf box above the tables it
 * reads.  info tables print as one line per fit */
static int merge_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "init");
    int init = lua_toboolean(L, -1);
    lua_getfield(L, 1, "fits");
    int fits = lua_gettop(L);
    llfc_strbuf *d = lb_newstrbuf(L);
    llfc_strbuf_printf(d, "merge_features: %d networks, n = %.0f, ridge %g%s, align %s: %.0f of %.0f fits "
                       "in %.1f s", (int)getnum(L, 1, "k"), getnum(L, 1, "n"), getnum(L, 1, "ridge"),
                       init ? " towards the weight average" : "", getstr(L, 1, "align"), getnum(L, 1, "fitted"),
                       getnum(L, 1, "total"), getnum(L, 1, "seconds"));
    llfc_strbuf_printf(d, "\n  %-18s %6s %7s %10s %12s %12s %12s", "fit", "units", "inputs", "rows",
                       "target var", "mse w.avg", "mse fit");
    lua_Integer n = lua_istable(L, fits) ? (lua_Integer)lua_rawlen(L, fits) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, fits, i);
        int t = lua_gettop(L);
        llfc_strbuf_printf(d, "\n  %-18s %6.0f %7.0f %10.0f %12.4g %12.4g %12.4g", getstr(L, t, "name"),
                           getnum(L, t, "outputs"), getnum(L, t, "inputs"), getnum(L, t, "rows"), getnum(L, t, "target_var"),
                           getnum(L, t, "mse_avg"), getnum(L, t, "mse_fit"));
        lua_pop(L, 1);
    }
    const char *note = getstr(L, 1, "note");
    if (*note) llfc_strbuf_printf(d, "\n  %s", note);
    lb_pushstrbuf(L, d, 0);
    return 1;
}

static void push_perm(lua_State *L, llfc_perm *p)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 1);
    *box = p;
    luaL_setmetatable(L, LLFC_PERM_MT);
}

/* nn.merge_features(members, ds [, {weights | alpha, ridge = 1e-4, init = true, align = "none", n = 10000,
 *                   batch, progress, verbose}]) -> net, info */
static int nn_merge_features(lua_State *L)
{
    const char *fn = "nn.merge_features";
    static const char *const names[] = {"weights", "alpha", "ridge", "init", "align", "n", "batch", "progress",
                                        "verbose", NULL};
    int k;
    lua_settop(L, 3);
    const llfc_net **m = check_members(L, 1, fn, &k);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lb_checktypos(L, 3, names, fn);
    }
    check_dataset(L, ds, m[0], fn);
    double *w = lua_newuserdatauv(L, (size_t)k * sizeof *w, 0);
    int hasw = opt_weights(L, 3, k, w, fn);
    llfc_fm_opts o = {.weights = hasw ? w : NULL, .init = 1};
    o.ridge = lb_optnumber(L, 3, "ridge", 1e-4, fn);
    if (!(o.ridge >= 0) || !isfinite(o.ridge)) return luaL_error(L, "%s: option 'ridge' must be >= 0, got %s", fn, num(o.ridge));
    o.init = lb_optboolean(L, 3, "init", 1, fn);
    lua_Integer n = lb_optinteger(L, 3, "n", 10000, fn);
    if (n < 1) return luaL_error(L, "%s: option 'n' must be at least 1, got %d", fn, (int)n);
    if (n > ds->n) n = ds->n;
    lua_Integer batch = lb_optinteger(L, 3, "batch", 0, fn);
    if (lua_istable(L, 3) && batch < 1) {
        lua_getfield(L, 3, "batch");
        if (!lua_isnil(L, -1)) return luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fn, (int)batch);
        lua_pop(L, 1);
    }
    o.batch = batch;
    /* align: a method's name or one Perm per network after the first */
    const char *align = "none";
    const llfc_perm **perms = NULL;
    if (lua_istable(L, 3)) {
        int t = lua_getfield(L, 3, "align");
        if (t == LUA_TSTRING) {
            align = lua_tostring(L, -1);
            if (!strcmp(align, "none")) o.align = LLFC_FM_ALIGN_NONE;
            else if (!strcmp(align, "weight")) o.align = LLFC_FM_ALIGN_WEIGHT;
            else if (!strcmp(align, "activation")) o.align = LLFC_FM_ALIGN_ACT;
            else if (!strcmp(align, "corr")) o.align = LLFC_FM_ALIGN_CORR;
            else
                return luaL_error(L, "%s: option 'align' must be \"none\", \"weight\", \"activation\", \"corr\" or a "
                                  "list of Perms, got \"%s\"", fn, align);
        } else if (t == LUA_TTABLE) {
            int ti = lua_gettop(L);
            if (!m[0]->spec) return luaL_error(L, "%s: option 'align': the networks have no permutation spec", fn);
            if ((int)lua_rawlen(L, ti) != k - 1)
                return luaL_error(L, "%s: option 'align' lists %d Perms for %d networks after the first", fn,
                                  (int)lua_rawlen(L, ti), k - 1);
            perms = lua_newuserdatauv(L, (size_t)k * sizeof *perms, 0);
            perms[0] = NULL;
            for (int j = 1; j < k; j++) {
                lua_rawgeti(L, ti, j);
                void **box = luaL_testudata(L, -1, LLFC_PERM_MT);
                if (!box || !*box)
                    return luaL_error(L, "%s: option 'align': entry %d is a %s, not a Perm", fn, j, luaL_typename(L, -1));
                perms[j] = *box;
                if (llfc_perm_fits(perms[j], m[j]->spec))
                    return luaL_error(L, "%s: option 'align': entry %d does not fit network %d (%s)", fn, j, j + 1,
                                      llfc_errmsg());
                lua_pop(L, 1);
            }
            align = "given";
            o.perms = perms;
        } else if (t != LUA_TNIL) {
            return luaL_error(L, "%s: option 'align' must be a string or a list of Perms, got %s", fn,
                              luaL_typename(L, -1));
        }
        /* the string or list stays on the stack (anchored) */
    }
    mprog mp = {lb_optboolean(L, 3, "verbose", 0, fn), {L, lb_optprogress(L, 3, fn)}};
    o.progress = merge_progress;
    o.progress_ud = &mp;
    llfc_fm_stats st;
    llfc_net *z = llfc_feature_merge(m, k, ds->x, n, &o, &st);
    if (!z) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, fn);
    }
    if (st.interrupted) llfc_interrupt_clear(); /* consumed: the fits so far are the answer */
    lb_pushnet(L, z);
    lua_createtable(L, 0, 14);
    lua_pushstring(L, "merge_features");
    lua_setfield(L, -2, "kind");
    setint(L, "k", k);
    setint(L, "n", st.n);
    setnum(L, "ridge", o.ridge);
    lua_pushboolean(L, o.init);
    lua_setfield(L, -2, "init");
    lua_pushstring(L, align);
    lua_setfield(L, -2, "align");
    lua_createtable(L, k, 0);
    for (int j = 0; j < k; j++) {
        lua_pushnumber(L, o.weights ? o.weights[j] : 1.0 / k);
        lua_rawseti(L, -2, j + 1);
    }
    lua_setfield(L, -2, "weights");
    setint(L, "fitted", st.nfit);
    setint(L, "total", st.total);
    setnum(L, "seconds", st.seconds);
    lua_pushboolean(L, st.interrupted);
    lua_setfield(L, -2, "interrupted");
    if (st.interrupted) {
        lua_pushfstring(L, "interrupted: %d of %d fits done, the rest of the network is the weight average",
                        st.nfit, st.total);
        lua_setfield(L, -2, "note");
    }
    lua_createtable(L, st.nfit, 0);
    for (int f = 0; f < st.nfit; f++) {
        const llfc_fm_fit *ft = &st.fits[f];
        lua_createtable(L, 0, 14);
        lua_pushstring(L, ft->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, ft->ops);
        lua_setfield(L, -2, "ops");
        if (ft->norm) {
            lua_pushstring(L, ft->norm == LLFC_OP_BN ? "bn" : "ln");
            lua_setfield(L, -2, "norm");
        }
        setint(L, "inputs", ft->inputs);
        setint(L, "outputs", ft->outputs);
        lua_pushboolean(L, ft->bias);
        lua_setfield(L, -2, "bias");
        setint(L, "rows", ft->rows);
        setnum(L, "target_var", ft->target_var);
        setnum(L, "mse_avg", ft->mse_avg);
        setnum(L, "mse_fit", ft->mse_fit);
        setnum(L, "lambda", ft->lambda);
        setint(L, "rank", ft->rank);
        setnum(L, "seconds", ft->seconds);
        lua_rawseti(L, -2, f + 1);
    }
    lua_setfield(L, -2, "fits");
    if (st.perms) {
        lua_createtable(L, k, 0);
        for (int j = 0; j < k; j++) {
            llfc_perm *p = j ? st.perms[j] : llfc_perm_identity(m[0]->spec);
            st.perms[j] = NULL;
            if (!p) { llfc_fm_stats_free(&st); return lb_error(L, fn); }
            push_perm(L, p);
            lua_rawseti(L, -2, j + 1);
        }
        lua_setfield(L, -2, "perms");
    }
    llfc_fm_stats_free(&st);
    if (luaL_newmetatable(L, "llfc.merge.info")) {
        lua_pushcfunction(L, merge_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    return 2;
}

/* results print as one line per layer */
static int cos_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "layers");
    int lay = lua_gettop(L);
    llfc_strbuf *d = lb_newstrbuf(L);
    llfc_strbuf_printf(d, "feature_llfc (%s-activations, n = %.0f): 1 - cos(f(net), average of f(members))",
                       getstr(L, 1, "features"), getnum(L, 1, "n"));
    llfc_strbuf_printf(d, "\n  %-18s %8s %12s %12s %10s %8s", "layer", "dim", "1-cos mean", "std", "coef",
                       "skipped");
    lua_Integer n = lua_istable(L, lay) ? (lua_Integer)lua_rawlen(L, lay) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, lay, i);
        int t = lua_gettop(L);
        llfc_strbuf_printf(d, "\n  %-18s %8.0f %12.4g %12.4g %10.4f %8.0f", getstr(L, t, "name"),
                           getnum(L, t, "dim"), getnum(L, t, "mean"), getnum(L, t, "std"), getnum(L, t, "coef_mean"),
                           getnum(L, t, "skipped"));
        lua_pop(L, 1);
    }
    lb_pushstrbuf(L, d, 0);
    return 1;
}

/* metrics.feature_llfc(net, members, ds [, {weights | alpha, features = "post", batch, progress}]) */
static int m_feature_llfc(lua_State *L)
{
    const char *fn = "metrics.feature_llfc";
    static const char *const names[] = {"weights", "alpha", "features", "batch", "progress", NULL};
    llfc_net *net = lb_checknet(L, 1);
    int k;
    lua_settop(L, 4);
    const llfc_net **m = check_members(L, 2, fn, &k);
    llfc_dataset *ds = lb_checkdataset(L, 3);
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lb_checktypos(L, 4, names, fn);
    }
    if (llfc_net_same_arch(net, m[0]))
        return luaL_error(L, "%s: bad argument #2: the networks are not the layout of argument #1 (%s)", fn,
                          llfc_errmsg());
    check_dataset(L, ds, net, fn);
    double *w = lua_newuserdatauv(L, (size_t)k * sizeof *w, 0);
    int hasw = opt_weights(L, 4, k, w, fn);
    const char *feat = lb_optstring(L, 4, "features", "post", fn);
    if (strcmp(feat, "pre") && strcmp(feat, "post"))
        return luaL_error(L, "%s: option 'features' must be \"pre\" or \"post\", got \"%s\"", fn, feat);
    lua_Integer batch = lb_optinteger(L, 4, "batch", 0, fn);
    if (batch < 0) return luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fn, (int)batch);
    lb_progress lp = {L, lb_optprogress(L, 4, fn)};
    int nf = llfc_net_nfeat(net);
    llfc_fm_cos *out = lua_newuserdatauv(L, (size_t)nf * sizeof *out, 0);
    double t0 = llfc_now();
    if (llfc_feature_llfc(net, m, k, hasw ? w : NULL, ds->x, ds->n, batch, !strcmp(feat, "pre"), out, lb_progress_fn,
                          &lp)) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, fn);
    }
    lua_createtable(L, 0, 6);
    lua_pushstring(L, "feature_llfc");
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, feat);
    lua_setfield(L, -2, "features");
    setint(L, "n", ds->n);
    setnum(L, "seconds", llfc_now() - t0);
    lua_createtable(L, nf, 0);
    for (int l = 0; l < nf; l++) {
        const llfc_fm_cos *r = &out[l];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, r->name);
        lua_setfield(L, -2, "name");
        setint(L, "dim", r->dim);
        setnum(L, "mean", r->mean);
        setnum(L, "std", r->std);
        setnum(L, "coef_mean", r->coef_mean);
        setnum(L, "coef_std", r->coef_std);
        setint(L, "skipped", r->skipped);
        lua_rawseti(L, -2, l + 1);
    }
    lua_setfield(L, -2, "layers");
    if (luaL_newmetatable(L, "llfc.merge.cos")) {
        lua_pushcfunction(L, cos_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    return 1;
}

/* Add nn.merge_features and metrics.feature_llfc to the llfc table at idx. */
void llfc_open_merge(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "nn");
    lua_pushcfunction(L, nn_merge_features);
    lua_setfield(L, -2, "merge_features");
    lua_pop(L, 1);
    lua_getfield(L, idx, "metrics");
    lua_pushcfunction(L, m_feature_llfc);
    lua_setfield(L, -2, "feature_llfc");
    lua_pop(L, 1);
}
