/* l_perm.c - Lua binding of the perm module: Perm userdata, the assignment
 * solver, weight matching, activation matching, net:permspec(). */
#include "lbind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm/lap.h"
#include "perm/perm.h"

static const char *fieldstr(lua_State *L, int idx, const char *k, const char *def)
{
    lua_getfield(L, idx, k);
    const char *v = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : def;
    lua_pop(L, 1); /* strings stay anchored in the table */
    return v;
}

/* ---- Perm userdata -------------------------------------------------------- */

static llfc_perm *checkperm(lua_State *L, int idx)
{
    void **box = luaL_checkudata(L, idx, LLFC_PERM_MT);
    if (!*box) luaL_argerror(L, idx, "permutation has been freed");
    return *box;
}

static void pushperm(lua_State *L, llfc_perm *p)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 1);
    *box = p;
    luaL_setmetatable(L, LLFC_PERM_MT);
}

static int perm_gc(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, LLFC_PERM_MT);
    llfc_perm_free(*box);
    *box = NULL;
    return 0;
}

/* a net's spec or a raised error */
static const llfc_permspec *netspec(lua_State *L, int idx, const char *fname)
{
    llfc_net *net = lb_checknet(L, idx);
    if (!net->spec) luaL_error(L, "%s: the network has no permutation spec", fname);
    return net->spec;
}

static int l_identity(lua_State *L)
{
    llfc_perm *p = llfc_perm_identity(netspec(L, 1, "perm.identity"));
    if (!p) return lb_error(L, "perm.identity");
    pushperm(L, p);
    return 1;
}

static int l_random(lua_State *L)
{
    const llfc_permspec *s = netspec(L, 1, "perm.random");
    lua_Integer seed = luaL_optinteger(L, 2, 0);
    llfc_perm *p = llfc_perm_random(s, (uint64_t)seed);
    if (!p) return lb_error(L, "perm.random");
    pushperm(L, p);
    return 1;
}

/* perm.from_table(net, {P1 = {...}, ...}): groups left out are the identity */
static int l_from_table(lua_State *L)
{
    const llfc_permspec *s = netspec(L, 1, "perm.from_table");
    luaL_checktype(L, 2, LUA_TTABLE);
    /* unknown names first */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING || llfc_permspec_group(s, lua_tostring(L, -2)) < 0) {
            const char *key = luaL_tolstring(L, -2, NULL);
            llfc_strbuf *names = lb_newstrbuf(L);
            for (int g = 0; g < s->ngroups; g++) llfc_strbuf_printf(names, "%s%s", g ? ", " : "", s->gname[g]);
            if (!s->ngroups) llfc_strbuf_puts(names, "none");
            lb_pushstrbuf(L, names, 0);
            return luaL_error(L, "perm.from_table: unknown group '%s' (the network's groups: %s)", key,
                              lua_tostring(L, -1));
        }
        lua_pop(L, 1);
    }
    llfc_perm *p = llfc_perm_identity(s);
    if (!p) return lb_error(L, "perm.from_table");
    pushperm(L, p); /* owns p from here on, even if we raise */
    for (int g = 0; g < s->ngroups; g++) {
        if (lua_getfield(L, 2, s->gname[g]) == LUA_TNIL) { lua_pop(L, 1); continue; }
        if (!lua_istable(L, -1))
            return luaL_error(L, "perm.from_table: %s must be a table of %d integers, got %s", s->gname[g],
                              (int)s->gsize[g], luaL_typename(L, -1));
        int64_t n = s->gsize[g], len = (int64_t)luaL_len(L, -1);
        if (len != n)
            return luaL_error(L, "perm.from_table: %s has %d entries but the group has %d units", s->gname[g],
                              (int)len, (int)n);
        int64_t *idx = lua_newuserdatauv(L, (size_t)n * sizeof *idx + 1, 0);
        for (int64_t i = 0; i < n; i++) {
            lua_geti(L, -2, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok)
                return luaL_error(L, "perm.from_table: %s[%d] must be an integer, got %s", s->gname[g], (int)i + 1,
                                  luaL_typename(L, -1));
            idx[i] = (int64_t)v - 1;
            lua_pop(L, 1);
        }
        if (llfc_perm_set(p, g, idx)) return lb_error(L, "perm.from_table");
        lua_pop(L, 2);
    }
    return 1;
}

static void push_group(lua_State *L, const llfc_perm *p, int g)
{
    int64_t n = p->spec->gsize[g];
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushinteger(L, p->idx[g][i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_get(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int g = llfc_permspec_group(p->spec, name);
    if (g < 0) return luaL_error(L, "Perm:get: no group '%s'", name);
    push_group(L, p, g);
    return 1;
}

static int m_groups(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    lua_createtable(L, p->spec->ngroups, 0);
    for (int g = 0; g < p->spec->ngroups; g++) {
        lua_pushstring(L, p->spec->gname[g]);
        lua_rawseti(L, -2, g + 1);
    }
    return 1;
}

static int m_totable(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    lua_createtable(L, 0, p->spec->ngroups);
    for (int g = 0; g < p->spec->ngroups; g++) {
        push_group(L, p, g);
        lua_setfield(L, -2, p->spec->gname[g]);
    }
    return 1;
}

static int m_apply(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    llfc_net *net = lb_checknet(L, 2);
    llfc_net *out = llfc_perm_apply(p, net);
    if (!out) return lb_error(L, "Perm:apply");
    lb_pushnet(L, out);
    return 1;
}

static int m_inverse(lua_State *L)
{
    llfc_perm *r = llfc_perm_inverse(checkperm(L, 1));
    if (!r) return lb_error(L, "Perm:inverse");
    pushperm(L, r);
    return 1;
}

static int m_compose(lua_State *L)
{
    llfc_perm *r = llfc_perm_compose(checkperm(L, 1), checkperm(L, 2));
    if (!r) return lb_error(L, "Perm:compose");
    pushperm(L, r);
    return 1;
}

static int m_is_identity(lua_State *L)
{
    lua_pushboolean(L, llfc_perm_is_identity(checkperm(L, 1)));
    return 1;
}

static int mm_eq(lua_State *L)
{
    lua_pushboolean(L, llfc_perm_equal(checkperm(L, 1), checkperm(L, 2)));
    return 1;
}

static int mm_tostring(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, LLFC_PERM_MT);
    if (!*box) { lua_pushstring(L, "llfc.Perm (freed)"); return 1; }
    llfc_perm *p = *box;
    llfc_strbuf *d = lb_newstrbuf(L);
    llfc_strbuf_printf(d, "llfc.Perm: %d group%s%s (1-based; unit i of p:apply(net) is unit p[g][i] of net)",
              p->spec->ngroups, p->spec->ngroups == 1 ? "" : "s", llfc_perm_is_identity(p) ? ", identity" : "");
    for (int g = 0; g < p->spec->ngroups; g++) {
        int64_t n = p->spec->gsize[g], fixed = 0;
        for (int64_t i = 0; i < n; i++) fixed += p->idx[g][i] == i;
        llfc_strbuf_printf(d, "\n  %-4s %5lld units, %5lld fixed: ", p->spec->gname[g], (long long)n, (long long)fixed);
        for (int64_t i = 0; i < n && i < 12; i++) llfc_strbuf_printf(d, "%s%lld", i ? " " : "", (long long)p->idx[g][i] + 1);
        if (n > 12) llfc_strbuf_printf(d, " ...");
    }
    lb_pushstrbuf(L, d, 0);
    return 1;
}

/* p[name] is group name's table; other keys are methods */
static int mm_index(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        int g = llfc_permspec_group(p->spec, lua_tostring(L, 2));
        if (g >= 0) { push_group(L, p, g); return 1; }
    }
    luaL_getmetatable(L, LLFC_PERM_MT);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* ---- inputs: a Dataset or a Tensor (as Net:forward takes) ------------------- */

typedef struct {
    const float *x;
    int64_t n;
    llfc_tensor *copy; /* a contiguous copy to free, or NULL */
} inputs;

static void checkinputs(lua_State *L, int idx, int64_t din, const char *fname, inputs *in)
{
    in->copy = NULL;
    llfc_dataset *ds = lb_todataset(L, idx);
    if (ds) {
        if (ds->dim != din)
            luaL_error(L, "%s: the dataset has %d features per sample, the network takes %d", fname, (int)ds->dim,
                       (int)din);
        in->x = ds->x;
        in->n = ds->n;
        return;
    }
    if (!lb_totensor(L, idx)) luaL_typeerror(L, idx, "llfc.Dataset or llfc.Tensor");
    in->x = lb_checkinput(L, idx, din, fname, &in->n, &in->copy);
}

static int l_check(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_perm *p = checkperm(L, 2);
    inputs in;
    checkinputs(L, 3, llfc_net_input_dim(net), "perm.check", &in);
    double worst = 0.0;
    int rc = 0;
    for (int64_t i0 = 0; i0 < in.n && rc == 0; i0 += 1000) {
        int64_t m = in.n - i0 < 1000 ? in.n - i0 : 1000;
        double d;
        rc = llfc_perm_check(net, p, in.x + i0 * llfc_net_input_dim(net), m, &d);
        if (rc == 0 && !(d <= worst)) worst = d;
    }
    llfc_tensor_free(in.copy);
    if (rc) return lb_error(L, "perm.check");
    lua_pushnumber(L, worst);
    return 1;
}

/* ---- perm.lap ---------------------------------------------------------------- */

static int l_lap(lua_State *L)
{
    static const char *const names[] = {"maximize", NULL};
    lb_checktypos(L, 2, names, "perm.lap");
    int maximize = lb_optboolean(L, 2, "maximize", 0, "perm.lap");
    int64_t nr, nc;
    int64_t *assign;
    double total;
    int rc;
    llfc_tensor *t = lb_totensor(L, 1);
    if (t) {
        if (t->ndim != 2) {
            char sh[64];
            return luaL_error(L, "perm.lap: the cost must be a matrix, got a tensor of shape %s",
                              llfc_tensor_shape_str(t, sh, sizeof sh));
        }
        nr = t->size[0];
        nc = t->size[1];
        llfc_tensor *c = llfc_tensor_is_contiguous(t) ? t : llfc_tensor_clone(t);
        if (!c) return lb_error(L, "perm.lap");
        assign = lua_newuserdatauv(L, (size_t)nr * sizeof *assign + 1, 0);
        rc = llfc_lap_solve_f32(nr, nc, llfc_tensor_data(c), maximize, assign, &total);
        if (c != t) llfc_tensor_free(c);
    } else {
        if (!lua_istable(L, 1)) return luaL_typeerror(L, 1, "llfc.Tensor or table of rows");
        nr = (int64_t)luaL_len(L, 1);
        nc = -1;
        for (int64_t i = 0; i < nr; i++) {
            if (lua_geti(L, 1, i + 1) != LUA_TTABLE)
                return luaL_error(L, "perm.lap: row %d must be a table of numbers, got %s", (int)i + 1,
                                  luaL_typename(L, -1));
            int64_t len = (int64_t)luaL_len(L, -1);
            if (nc < 0) nc = len;
            else if (len != nc)
                return luaL_error(L, "perm.lap: row %d has %d entries, row 1 has %d", (int)i + 1, (int)len, (int)nc);
            lua_pop(L, 1);
        }
        if (nc < 0) nc = 0;
        double *c = lua_newuserdatauv(L, (size_t)(nr * nc) * sizeof *c + 1, 0);
        for (int64_t i = 0; i < nr; i++) {
            lua_geti(L, 1, i + 1);
            for (int64_t j = 0; j < nc; j++) {
                lua_geti(L, -1, j + 1);
                int ok;
                c[i * nc + j] = lua_tonumberx(L, -1, &ok);
                if (!ok)
                    return luaL_error(L, "perm.lap: cost[%d][%d] must be a number, got %s", (int)i + 1, (int)j + 1,
                                      luaL_typename(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        assign = lua_newuserdatauv(L, (size_t)nr * sizeof *assign + 1, 0);
        rc = llfc_lap_solve(nr, nc, c, maximize, assign, &total);
    }
    if (rc) return lb_error(L, "perm.lap");
    lua_createtable(L, (int)nr, 0);
    for (int64_t i = 0; i < nr; i++) {
        if (assign[i] >= 0) lua_pushinteger(L, assign[i] + 1);
        else lua_pushboolean(L, 0);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushnumber(L, total);
    return 2;
}

/* ---- matching ---------------------------------------------------------------- */

/* verbose printing, then the Lua progress function (if any) as fn(done, total, what) */
typedef struct { int verbose; lb_progress lp; } matchprog;

static int match_progress(void *ud, double done, double total, const char *what)
{
    matchprog *mp = ud;
    if (mp->verbose && what) { printf("%s\n", what); fflush(stdout); }
    return lb_progress_fn(&mp->lp, done, total, what);
}

/* opts.progress at idx (a function or nil) -> mp->lp */
static void opt_progress(lua_State *L, int oidx, matchprog *mp, const char *fn)
{
    mp->lp.L = L;
    mp->lp.fidx = lb_optprogress(L, oidx, fn);
}

/* stats tables print as "key = value" lines */
static int stats_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    llfc_strbuf *d = lb_newstrbuf(L);
    llfc_strbuf_printf(d, "%s", fieldstr(L, 1, "kind", "stats"));
    static const char *keys[] = {"method", "n", "iterations", "seconds", "note", NULL};
    for (int k = 0; keys[k]; k++) {
        const char *v = fieldstr(L, 1, keys[k], NULL);
        if (v) llfc_strbuf_printf(d, "\n  %s = %s", keys[k], v);
    }
    if (lua_getfield(L, 1, "objective") == LUA_TTABLE) {
        llfc_strbuf_printf(d, "\n  objective per sweep (sum of <W_A, p(W_B)>):");
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            llfc_strbuf_printf(d, "\n    %3d  %.9g", (int)i, lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lb_pushstrbuf(L, d, 0);
    return 1;
}

/* give the table on top the metatable mt, made with __tostring = f the first time */
static void set_tostring_mt(lua_State *L, const char *mt, lua_CFunction f)
{
    if (luaL_newmetatable(L, mt)) {
        lua_pushcfunction(L, f);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

static void set_stats_mt(lua_State *L) { set_tostring_mt(L, "llfc.perm.stats", stats_tostring); }

static int l_weight_match(lua_State *L)
{
    const char *fn = "perm.weight_match";
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    static const char *const names[] = {"max_iter", "seed", "init", "verbose", "progress", NULL};
    if (!lua_isnoneornil(L, 3)) { luaL_checktype(L, 3, LUA_TTABLE); lb_checktypos(L, 3, names, fn); }
    lua_settop(L, 3);
    matchprog mp = {lb_optboolean(L, 3, "verbose", 0, fn), {L, 0}};
    llfc_wm_opts o = {.max_iter = (int)lb_optinteger(L, 3, "max_iter", 100, fn),
                      .seed = (uint64_t)lb_optinteger(L, 3, "seed", 0, fn),
                      .progress = match_progress,
                      .progress_ud = &mp};
    if (o.max_iter < 1) return luaL_error(L, "%s: option 'max_iter' must be at least 1, got %d", fn, o.max_iter);
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "init");
        if (!lua_isnil(L, -1)) {
            if (!luaL_testudata(L, -1, LLFC_PERM_MT))
                return luaL_error(L, "%s: option 'init' must be a llfc.Perm, got %s", fn, luaL_typename(L, -1));
            o.init = checkperm(L, lua_gettop(L));
        }
        lua_pop(L, 1);
    }
    opt_progress(L, 3, &mp, fn);
    llfc_wm_stats st;
    llfc_perm *p = llfc_weight_match(a, b, &o, &st);
    if (!p) return lb_error(L, fn);
    /* Ctrl-C: the perm so far is the answer; the interrupt is consumed */
    if (st.interrupted) llfc_interrupt_clear();
    pushperm(L, p);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, "weight_match");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, st.iterations);
    lua_setfield(L, -2, "iterations");
    lua_createtable(L, st.iterations, 0);
    for (int i = 0; i < st.iterations; i++) {
        lua_pushnumber(L, st.objective[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "objective");
    lua_pushnumber(L, st.seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushboolean(L, st.interrupted);
    lua_setfield(L, -2, "interrupted");
    free(st.objective);
    set_stats_mt(L);
    return 2;
}

static int l_activation_match(lua_State *L)
{
    const char *fn = "perm.activation_match";
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    inputs in;
    static const char *const names[] = {"method", "batch", "n", "verbose", "progress", NULL};
    if (!lua_isnoneornil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fn); }
    lua_settop(L, 4);
    const char *method = lb_optstring(L, 4, "method", "inner", fn);
    /* no batch: 500, fewer for conv nets (the core sizes it) */
    llfc_am_opts o = {.batch = lb_optinteger(L, 4, "batch", -1, fn)};
    if (!strcmp(method, "inner")) o.method = LLFC_AM_INNER;
    else if (!strcmp(method, "corr")) o.method = LLFC_AM_CORR;
    else return luaL_error(L, "%s: option 'method' must be \"inner\" or \"corr\", got \"%s\"", fn, method);
    if (o.batch == -1) o.batch = 0;
    else if (o.batch < 1) return luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fn, (int)o.batch);
    matchprog mp = {lb_optboolean(L, 4, "verbose", 0, fn), {L, 0}};
    opt_progress(L, 4, &mp, fn);
    o.progress = match_progress;
    o.progress_ud = &mp;
    lua_Integer nopt = lb_optinteger(L, 4, "n", 10000, fn);
    if (nopt < 1) return luaL_error(L, "%s: option 'n' must be at least 1, got %d", fn, (int)nopt);
    checkinputs(L, 3, llfc_net_input_dim(a), fn, &in);
    int64_t n = in.n < nopt ? in.n : nopt;
    llfc_am_stats st = {0};
    llfc_perm *p = llfc_activation_match(a, b, in.x, n, &o, &st);
    llfc_tensor_free(in.copy);
    if (!p) return lb_error(L, fn);
    if (st.interrupted) llfc_interrupt_clear(); /* consumed: the match on the samples done is the answer */
    pushperm(L, p);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, "activation_match");
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_pushinteger(L, st.n);
    lua_setfield(L, -2, "n");
    lua_pushnumber(L, st.seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushboolean(L, st.interrupted);
    lua_setfield(L, -2, "interrupted");
    /* groups without a feature layer to match on keep the identity */
    const llfc_permspec *sp = a->spec;
    lua_createtable(L, st.nidentity, 0);
    for (int g = 0, k = 0; g < sp->ngroups; g++)
        if (sp->gfeat[g] < 0) {
            lua_pushstring(L, sp->gname[g]);
            lua_rawseti(L, -2, ++k);
        }
    lua_setfield(L, -2, "identity");
    if (st.nidentity > 0) {
        lua_pushfstring(L, "%d group%s without a feature layer kept the identity", st.nidentity,
                        st.nidentity == 1 ? "" : "s");
        lua_setfield(L, -2, "note");
    }
    set_stats_mt(L);
    return 2;
}

/* ---- STE, Sinkhorn and commutativity matching, Perm files ------------------------- */

/* opts.init: one of names (starting as froms[k]) or a llfc.Perm (anchored by
 * the options table); def when absent */
static int opt_init(lua_State *L, int oidx, const char *fn, const char *const *names, const int *froms, int def,
                    const llfc_perm **init)
{
    *init = NULL;
    if (!lua_istable(L, oidx)) return def;
    int from = def;
    lua_getfield(L, oidx, "init");
    if (luaL_testudata(L, -1, LLFC_PERM_MT)) {
        *init = checkperm(L, lua_gettop(L));
        from = LLFC_FROM_PERM;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        const char *v = lua_tostring(L, -1);
        int k = 0;
        while (names[k] && strcmp(v, names[k])) k++;
        if (!names[k]) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int j = 0; names[j]; j++) {
                luaL_addstring(&b, j ? (names[j + 1] ? ", \"" : " or \"") : "\"");
                luaL_addstring(&b, names[j]);
                luaL_addstring(&b, "\"");
            }
            luaL_pushresult(&b);
            return luaL_error(L, "%s: option 'init' must be %s or a llfc.Perm, got \"%s\"", fn, lua_tostring(L, -1), v);
        }
        from = froms[k];
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "%s: option 'init' must be a string or a llfc.Perm, got %s", fn, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return from;
}

/* a positive number option */
static double opt_positive(lua_State *L, int idx, const char *k, double def, const char *fn)
{
    double v = lb_optnumber(L, idx, k, def, fn);
    if (!(v > 0.0) || v == HUGE_VAL) luaL_error(L, "%s: option '%s' must be a positive number, got %f", fn, k, (lua_Number)v);
    return v;
}

/* an integer option >= lo */
static lua_Integer opt_atleast(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo, const char *fn)
{
    lua_Integer v = lb_optinteger(L, idx, k, def, fn);
    if (v < lo) luaL_error(L, "%s: option '%s' must be at least %d, got %d", fn, k, (int)lo, (int)v);
    return v;
}

static double opt_alpha(lua_State *L, int idx, const char *fn)
{
    double v = lb_optnumber(L, idx, "alpha", 0.5, fn);
    if (!(v >= 0.0 && v < 1.0)) luaL_error(L, "%s: option 'alpha' must be in [0, 1), got %f", fn, (lua_Number)v);
    return v;
}

static void setfield_num(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }
static void setfield_int(lua_State *L, const char *k, int64_t v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }
static void setfield_bool(lua_State *L, const char *k, int v) { lua_pushboolean(L, v); lua_setfield(L, -2, k); }
static void setfield_str(lua_State *L, const char *k, const char *v) { lua_pushstring(L, v); lua_setfield(L, -2, k); }
static void setfield_list(lua_State *L, const char *k, const double *v, int64_t n)
{
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, k);
}

/* tostring of the stats of these matchers: the scalars, then the list
 * named by `series` with its caption */
static int mstats_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    llfc_strbuf *d = lb_newstrbuf(L);
    llfc_strbuf_printf(d, "%s", fieldstr(L, 1, "kind", "stats"));
    static const char *keys[] = {"objective_name", "n", "iterations", "steps", "J_init", "J_final", "swaps",
                                 "changes", "tau", "ds_error", "seconds", "interrupted", "note", NULL};
    for (int k = 0; keys[k]; k++) {
        lua_getfield(L, 1, keys[k]);
        if (lua_isnumber(L, -1)) llfc_strbuf_printf(d, "\n  %s = %.9g", keys[k], lua_tonumber(L, -1));
        else if (lua_isstring(L, -1)) llfc_strbuf_printf(d, "\n  %s = %s", keys[k], lua_tostring(L, -1));
        else if (lua_isboolean(L, -1)) llfc_strbuf_printf(d, "\n  %s = %s", keys[k], lua_toboolean(L, -1) ? "true" : "false");
        lua_pop(L, 1);
    }
    const char *series = fieldstr(L, 1, "series", NULL), *caption = fieldstr(L, 1, "caption", "");
    if (series && lua_getfield(L, 1, series) == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        llfc_strbuf_printf(d, "\n  %s %s:", series, caption);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            llfc_strbuf_printf(d, "\n    %3d  %.9g", (int)i, lua_tonumber(L, -1));
            lua_pop(L, 1);
            if (i == 20 && n > 40) { /* long lists: the start and the end */
                llfc_strbuf_printf(d, "\n    ... (%d more)", (int)(n - 40));
                i = n - 20;
            }
        }
    }
    if (series) lua_pop(L, 1);
    lb_pushstrbuf(L, d, 0);
    return 1;
}

static void set_mstats_mt(lua_State *L, const char *series, const char *caption)
{
    setfield_str(L, "series", series);
    setfield_str(L, "caption", caption);
    set_tostring_mt(L, "llfc.perm.matchstats", mstats_tostring);
}

static int l_ste_match(lua_State *L)
{
    const char *fn = "perm.ste_match";
    static const char *const names[] = {"epochs", "steps", "lr", "batch", "seed", "alpha", "init", "max_iter",
                                        "verbose", "progress", NULL};
    static const char *const inits[] = {"weight", "identity", NULL};
    static const int froms[] = {LLFC_FROM_WEIGHT, LLFC_FROM_IDENTITY};
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    llfc_dataset *ds = lb_checkdataset(L, 3);
    if (!lua_isnoneornil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fn); }
    lua_settop(L, 4);
    llfc_ste_opts o = {.epochs = (int)opt_atleast(L, 4, "epochs", 1, 1, fn),
                       .steps = opt_atleast(L, 4, "steps", 0, 0, fn),
                       .lr = opt_positive(L, 4, "lr", 1e-3, fn),
                       .batch = opt_atleast(L, 4, "batch", 500, 1, fn),
                       .seed = (uint64_t)lb_optinteger(L, 4, "seed", 0, fn),
                       .alpha = opt_alpha(L, 4, fn),
                       .max_iter = (int)opt_atleast(L, 4, "max_iter", 100, 1, fn)};
    o.from = opt_init(L, 4, fn, inits, froms, LLFC_FROM_WEIGHT, &o.init);
    matchprog mp = {lb_optboolean(L, 4, "verbose", 0, fn), {L, 0}};
    opt_progress(L, 4, &mp, fn);
    o.progress = match_progress;
    o.progress_ud = &mp;
    llfc_ste_stats st;
    llfc_perm *p = llfc_ste_match(a, b, ds, &o, &st);
    if (!p) return lb_error(L, fn);
    if (st.interrupted) llfc_interrupt_clear(); /* consumed: the last projection is the answer */
    pushperm(L, p);
    lua_createtable(L, 0, 8);
    setfield_str(L, "kind", "ste_match");
    setfield_int(L, "steps", st.steps);
    setfield_int(L, "iterations", st.steps);
    setfield_list(L, "loss", st.loss, st.nloss);
    setfield_int(L, "changes", st.changes);
    setfield_num(L, "seconds", st.seconds);
    setfield_bool(L, "interrupted", st.interrupted);
    free(st.loss);
    set_mstats_mt(L, "loss", "per epoch (mean midpoint loss)");
    return 2;
}

static int l_sinkhorn_match(lua_State *L)
{
    const char *fn = "perm.sinkhorn_match";
    static const char *const names[] = {"objective", "tau", "tau_end", "iters", "steps", "epochs", "lr", "batch",
                                        "seed", "alpha", "init", "soft", "verbose", "progress", NULL};
    static const char *const inits[] = {"identity", "weight", NULL};
    static const int froms[] = {LLFC_FROM_IDENTITY, LLFC_FROM_WEIGHT};
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    llfc_dataset *ds = lb_todataset(L, 3);
    int oi = ds ? 4 : 3; /* the dataset is optional */
    if (!ds && !lua_isnoneornil(L, 3) && !lua_istable(L, 3)) return luaL_typeerror(L, 3, "llfc.Dataset or options table");
    if (!lua_isnoneornil(L, oi)) { luaL_checktype(L, oi, LUA_TTABLE); lb_checktypos(L, oi, names, fn); }
    lua_settop(L, 4);
    const char *obj = lb_optstring(L, oi, "objective", "weight", fn);
    llfc_sinkhorn_opts o = {.tau = opt_positive(L, oi, "tau", 1.0, fn),
                            .iters = (int)opt_atleast(L, oi, "iters", 20, 1, fn),
                            .steps = opt_atleast(L, oi, "steps", 0, 0, fn),
                            .epochs = (int)opt_atleast(L, oi, "epochs", 1, 1, fn),
                            .lr = opt_positive(L, oi, "lr", 0.1, fn),
                            .batch = opt_atleast(L, oi, "batch", 500, 1, fn),
                            .seed = (uint64_t)lb_optinteger(L, oi, "seed", 0, fn),
                            .alpha = opt_alpha(L, oi, fn)};
    if (!strcmp(obj, "weight")) o.objective = LLFC_SK_WEIGHT;
    else if (!strcmp(obj, "loss")) o.objective = LLFC_SK_LOSS;
    else return luaL_error(L, "%s: option 'objective' must be \"weight\" or \"loss\", got \"%s\"", fn, obj);
    if (o.objective == LLFC_SK_LOSS && !ds)
        return luaL_error(L, "%s: the loss objective needs a dataset (perm.sinkhorn_match(a, b, ds, opts))", fn);
    if (lua_istable(L, oi)) {
        lua_getfield(L, oi, "tau_end");
        int has_end = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (has_end) o.tau_end = opt_positive(L, oi, "tau_end", 1.0, fn);
    }
    o.from = opt_init(L, oi, fn, inits, froms, LLFC_FROM_IDENTITY, &o.init);
    int want_soft = lb_optboolean(L, oi, "soft", 0, fn);
    matchprog mp = {lb_optboolean(L, oi, "verbose", 0, fn), {L, 0}};
    opt_progress(L, oi, &mp, fn);
    o.progress = match_progress;
    o.progress_ud = &mp;
    int G = a->spec ? a->spec->ngroups : 0;
    llfc_tensor **soft = want_soft ? lua_newuserdatauv(L, (size_t)(G + 1) * sizeof *soft, 0) : NULL;
    llfc_sinkhorn_stats st;
    llfc_perm *p = llfc_sinkhorn_match(a, b, ds, &o, &st, soft);
    if (!p) return lb_error(L, fn);
    if (st.interrupted) llfc_interrupt_clear();
    pushperm(L, p);
    lua_createtable(L, 0, 8);
    setfield_str(L, "kind", "sinkhorn_match");
    setfield_str(L, "objective_name", obj);
    setfield_int(L, "steps", st.steps);
    setfield_int(L, "iterations", st.steps);
    setfield_list(L, "objective", st.objective, st.steps);
    setfield_num(L, "tau", st.tau);
    setfield_num(L, "ds_error", st.ds_error);
    setfield_num(L, "seconds", st.seconds);
    setfield_bool(L, "interrupted", st.interrupted);
    free(st.objective);
    set_mstats_mt(L, "objective", o.objective == LLFC_SK_LOSS ? "per step (midpoint loss on the step's batch)"
                                                             : "per step (sum of |W_A - S(W_B)|^2)");
    if (!want_soft) return 2;
    lua_createtable(L, 0, G);
    for (int g = 0; g < G; g++) {
        lb_pushtensor(L, soft[g]);
        soft[g] = NULL;
        lua_setfield(L, -2, a->spec->gname[g]);
    }
    return 3;
}

static int l_commutativity_match(lua_State *L)
{
    const char *fn = "perm.commutativity_match";
    static const char *const names[] = {"n", "init", "seed", "max_iter", "swaps", "batch", "verbose", "progress", NULL};
    static const char *const inits[] = {"weight", "activation", "identity", NULL};
    static const int froms[] = {LLFC_FROM_WEIGHT, LLFC_FROM_ACTIVATION, LLFC_FROM_IDENTITY};
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    if (!lua_isnoneornil(L, 4)) { luaL_checktype(L, 4, LUA_TTABLE); lb_checktypos(L, 4, names, fn); }
    lua_settop(L, 4);
    llfc_comm_opts o = {.max_iter = (int)opt_atleast(L, 4, "max_iter", 100, 1, fn),
                        .seed = (uint64_t)lb_optinteger(L, 4, "seed", 0, fn),
                        .no_swaps = !lb_optboolean(L, 4, "swaps", 1, fn),
                        .nmax = opt_atleast(L, 4, "n", 0, 0, fn),
                        .batch = opt_atleast(L, 4, "batch", 0, 0, fn)};
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "n");
        int given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (given && o.nmax < 1) return luaL_error(L, "%s: option 'n' must be at least 1, got %d", fn, (int)o.nmax);
        lua_getfield(L, 4, "batch");
        given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (given && o.batch < 1) return luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fn, (int)o.batch);
    }
    o.from = opt_init(L, 4, fn, inits, froms, LLFC_FROM_WEIGHT, &o.init);
    matchprog mp = {lb_optboolean(L, 4, "verbose", 0, fn), {L, 0}};
    opt_progress(L, 4, &mp, fn);
    o.progress = match_progress;
    o.progress_ud = &mp;
    inputs in;
    checkinputs(L, 3, llfc_net_input_dim(a), fn, &in);
    llfc_comm_stats st;
    llfc_perm *p = llfc_comm_match(a, b, in.x, in.n, &o, &st);
    llfc_tensor_free(in.copy);
    if (!p) return lb_error(L, fn);
    if (st.interrupted) llfc_interrupt_clear(); /* consumed: the permutation so far is the answer */
    pushperm(L, p);
    lua_createtable(L, 0, 12);
    setfield_str(L, "kind", "commutativity_match");
    setfield_int(L, "n", st.n);
    setfield_int(L, "iterations", st.iterations);
    setfield_list(L, "J", st.J, st.iterations);
    setfield_num(L, "J_init", st.J_init);
    setfield_num(L, "J_final", st.J_final);
    setfield_int(L, "swaps", st.swaps);
    if (st.swap_skipped) {
        lua_pushfstring(L, "the swap search left out %d group%s (a patch Gram over 512 MB)", st.swap_skipped,
                        st.swap_skipped == 1 ? "" : "s");
        lua_setfield(L, -2, "note");
    }
    lua_createtable(L, 0, 3);
    setfield_int(L, "full", st.full);
    setfield_int(L, "partial", st.partial);
    setfield_int(L, "none", st.rejected);
    lua_setfield(L, -2, "steps");
    setfield_num(L, "seconds", st.seconds);
    setfield_bool(L, "interrupted", st.interrupted);
    free(st.J);
    set_mstats_mt(L, "J", "per sweep (sum over weight layers of |(W_A - W_B')(H_A - H_B')|^2)");
    return 2;
}

static int m_save(lua_State *L)
{
    llfc_perm *p = checkperm(L, 1);
    const char *path = lb_checkpath(L, 2);
    if (llfc_perm_save(p, path)) return lb_fail(L, "Perm:save");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_load(lua_State *L)
{
    const char *path = lb_checkpath(L, 1);
    const llfc_permspec *s = lua_isnoneornil(L, 2) ? NULL : netspec(L, 2, "perm.load");
    llfc_perm *p = llfc_perm_load(path, s);
    if (!p) return lb_fail(L, "perm.load");
    pushperm(L, p);
    return 1;
}

/* ---- net:permspec() ------------------------------------------------------------ */

static int spec_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    llfc_strbuf *d = lb_newstrbuf(L);
    lua_getfield(L, 1, "groups");
    int G = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    llfc_strbuf_printf(d, "permutation spec: %d group%s (the units of a group move together)", G, G == 1 ? "" : "s");
    for (int g = 1; g <= G; g++) {
        lua_rawgeti(L, -1, g);
        int gi = lua_gettop(L);
        llfc_strbuf_printf(d, "\n  %-4s %6s units  feature %-7s  moves:", fieldstr(L, gi, "name", "?"),
                  fieldstr(L, gi, "size", "?"), fieldstr(L, gi, "feature", "-"));
        lua_getfield(L, gi, "axes");
        int na = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
        for (int k = 1; k <= na; k++) {
            lua_rawgeti(L, -1, k);
            llfc_strbuf_printf(d, "%s %s axis %s", k > 1 ? "," : "", fieldstr(L, -1, "param", "?"), fieldstr(L, -1, "axis", "?"));
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "params");
    int P = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    llfc_strbuf_printf(d, "\n  %-16s %-12s %s", "parameter", "shape", "axes (group or -)");
    for (int k = 1; k <= P; k++) {
        lua_rawgeti(L, -1, k);
        int pi = lua_gettop(L);
        char shape[128] = "", axes[256] = "";
        lua_getfield(L, pi, "shape");
        lua_getfield(L, pi, "axes");
        int nd = lua_istable(L, -2) ? (int)lua_rawlen(L, -2) : 0;
        for (int e = 1; e <= nd; e++) {
            size_t l = strlen(shape);
            lua_rawgeti(L, -2, e);
            snprintf(shape + l, sizeof shape - l, "%s%d", e > 1 ? "x" : "", (int)lua_tointeger(L, -1));
            lua_pop(L, 1);
            l = strlen(axes);
            lua_rawgeti(L, -1, e);
            snprintf(axes + l, sizeof axes - l, "%s%s", e > 1 ? ", " : "", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
        }
        llfc_strbuf_printf(d, "\n    %-14s %-12s %s", fieldstr(L, pi, "name", "?"), shape, axes);
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    lb_pushstrbuf(L, d, 0);
    return 1;
}

/* { groups = { {name=, size=, feature=, axes = { {param=, axis=}, ...}}, ...},
 *   params = { {name=, shape = {...}, axes = {"P1" | "-", ...}}, ...} } */
static int net_permspec(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    const llfc_permspec *s = net->spec;
    if (!s) return luaL_error(L, "Net:permspec: the network has no permutation spec");
    lua_createtable(L, 0, 3);
    lua_pushstring(L, "permspec");
    lua_setfield(L, -2, "kind");
    lua_createtable(L, s->ngroups, 0);
    for (int g = 0; g < s->ngroups; g++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, s->gname[g]);
        lua_setfield(L, -2, "name");
        lua_pushinteger(L, s->gsize[g]);
        lua_setfield(L, -2, "size");
        if (s->gfeat[g] >= 0) {
            char fname[32];
            lua_pushstring(L, llfc_net_featname(net, s->gfeat[g], fname, sizeof fname));
            lua_setfield(L, -2, "feature");
        }
        lua_newtable(L);
        int na = 0;
        for (int k = 0; k < net->nparams; k++)
            for (int d = 0; d < net->param[k]->ndim; d++)
                if (s->axis[k][d] == g) {
                    lua_createtable(L, 0, 2);
                    lua_pushstring(L, net->pname[k]);
                    lua_setfield(L, -2, "param");
                    lua_pushinteger(L, d + 1);
                    lua_setfield(L, -2, "axis");
                    lua_rawseti(L, -2, ++na);
                }
        lua_setfield(L, -2, "axes");
        lua_rawseti(L, -2, g + 1);
    }
    lua_setfield(L, -2, "groups");
    lua_createtable(L, net->nparams, 0);
    for (int k = 0; k < net->nparams; k++) {
        const llfc_tensor *t = net->param[k];
        lua_createtable(L, 0, 3);
        lua_pushstring(L, net->pname[k]);
        lua_setfield(L, -2, "name");
        lua_createtable(L, t->ndim, 0);
        for (int d = 0; d < t->ndim; d++) {
            lua_pushinteger(L, t->size[d]);
            lua_rawseti(L, -2, d + 1);
        }
        lua_setfield(L, -2, "shape");
        lua_createtable(L, t->ndim, 0);
        for (int d = 0; d < t->ndim; d++) {
            int g = s->axis[k][d];
            lua_pushstring(L, g >= 0 ? s->gname[g] : "-");
            lua_rawseti(L, -2, d + 1);
        }
        lua_setfield(L, -2, "axes");
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "params");
    if (luaL_newmetatable(L, "llfc.permspec")) {
        lua_pushcfunction(L, spec_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    return 1;
}

int llfc_open_perm(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"apply", m_apply},       {"inverse", m_inverse}, {"compose", m_compose},
        {"get", m_get},           {"groups", m_groups},   {"totable", m_totable},
        {"is_identity", m_is_identity}, {"save", m_save}, {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", perm_gc}, {"__tostring", mm_tostring}, {"__eq", mm_eq}, {NULL, NULL}};
    lb_newtype(L, LLFC_PERM_MT, NULL, meta);
    /* __index is a function (p.P1 reads a group); methods live in mt.methods */
    luaL_getmetatable(L, LLFC_PERM_MT);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, mm_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    /* net:permspec() joins the Net methods (the nn module opened first) */
    static const luaL_Reg netmethods[] = {{"permspec", net_permspec}, {NULL, NULL}};
    lb_newtype(L, LLFC_NET_MT, netmethods, NULL);

    static const luaL_Reg funcs[] = {
        {"identity", l_identity},
        {"random", l_random},
        {"from_table", l_from_table},
        {"check", l_check},
        {"lap", l_lap},
        {"weight_match", l_weight_match},
        {"activation_match", l_activation_match},
        {"ste_match", l_ste_match},
        {"sinkhorn_match", l_sinkhorn_match},
        {"commutativity_match", l_commutativity_match},
        {"load", l_load},
        {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
