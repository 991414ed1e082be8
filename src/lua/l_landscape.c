/* l_landscape.c - Lua bindings of the functions that look at several
 * networks at once or beyond the straight line: nn.average (combine.h,
 * repair.h).  Registered into the modules by llfc_open_landscape (l_init.c). */
#include "lbind.h"
#include "metrics/repair.h"
#include "nn/combine.h"
#include "perm/align.h"

#include <stdio.h>
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
    p->fidx = 0;
    if (!lua_istable(L, idx)) return;
    lua_getfield(L, idx, "progress");
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
    if (!lua_isfunction(L, -1))
        luaL_error(L, "%s: option 'progress' must be a function, got %s", fname, luaL_typename(L, -1));
    p->fidx = lua_gettop(L); /* stays on the stack for the call */
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

/* verbose printing, then the Lua progress function */
typedef struct { int verbose; lb_progress lp; } align_prog;

static int align_progress(void *ud, double done, double total, const char *what)
{
    align_prog *ap = ud;
    if (ap->verbose && what) { printf("%s\n", what); fflush(stdout); }
    return lb_progress_fn(&ap->lp, done, total, what);
}

static void setnum(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void setint(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, (lua_Integer)v); lua_setfield(L, -2, k); }
static void setstr(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }
static void setbool(lua_State *L, const char *k, int v) { lua_pushboolean(L, v); lua_setfield(L, -2, k); }

/* perm.align_many(nets [, {method = "average", max_iter = 100, sweeps = 100, seed = 0, init = "first",
 * verbose, progress}]) -> perms, stats */
static int perm_align_many(lua_State *L)
{
    const char *fname = "perm.align_many";
    static const char *const names[] = {"method", "max_iter", "sweeps", "seed", "init", "verbose", "progress", NULL};
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
    align_prog ap = {lb_optboolean(L, 2, "verbose", 0, fname), {L, 0}};
    optprogress(L, 2, &ap.lp, fname);
    o.progress = align_progress;
    o.progress_ud = &ap;
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

static const luaL_Reg perm_funcs[] = {
    {"align_many", perm_align_many},
    {NULL, NULL},
};

static const luaL_Reg nn_funcs[] = {
    {"average", nn_average},
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
}
