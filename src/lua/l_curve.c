/* l_curve.c - Lua binding of curves (curve.h): the Curve type (Curve:at,
 * Curve:weights, Curve:nodes, Curve:save; nn.load returns a curve for a curve
 * file) and the private primitives of lua/llfc/landscape.lua, which writes
 * nn.curve on the Trainer: package.loaded["llfc.curve.c"] = {new, attach}.
 * metrics.interpolate and metrics.llfc of a curve are in l_landscape.c. */
#include "lbind.h"
#include "nn/curve.h"
#include "nn/train.h"

#include <string.h>

#define CURVE_MT "llfc.Curve"

llfc_curve *lb_tocurve(lua_State *L, int idx)
{
    llfc_curve **box = luaL_testudata(L, idx, CURVE_MT);
    return box ? *box : NULL;
}

llfc_curve *lb_checkcurve(lua_State *L, int idx)
{
    llfc_curve **box = luaL_checkudata(L, idx, CURVE_MT);
    if (!*box) luaL_argerror(L, idx, "curve has been freed");
    return *box;
}

void lb_pushcurve(lua_State *L, llfc_curve *c)
{
    llfc_curve **box = lua_newuserdatauv(L, sizeof *box, 1);
    *box = c;
    luaL_setmetatable(L, CURVE_MT);
}

static int curve_gc(lua_State *L)
{
    llfc_curve **box = luaL_checkudata(L, 1, CURVE_MT);
    llfc_curve_release(*box);
    *box = NULL;
    return 0;
}

static double check_t(lua_State *L, int idx)
{
    lua_Number t = luaL_checknumber(L, idx);
    luaL_argcheck(L, t >= 0 && t <= 1, idx, "t must be in [0, 1] (1 is a, 0 is b)");
    return t;
}

/* Curve:at(t [, {reset_bn = ds, n = 5000, batch = 256}]) -> a new network theta(t) */
static int m_at(lua_State *L)
{
    const char *fname = "Curve:at";
    llfc_curve *c = lb_checkcurve(L, 1);
    double t = check_t(L, 2);
    static const char *const names[] = {"reset_bn", "n", "batch", NULL};
    if (!lua_isnoneornil(L, 3)) { luaL_checktype(L, 3, LUA_TTABLE); lb_checktypos(L, 3, names, fname); }
    llfc_dataset *ds = NULL;
    if (lua_istable(L, 3) && lua_getfield(L, 3, "reset_bn") != LUA_TNIL) {
        if (!(ds = lb_todataset(L, -1)))
            return luaL_error(L, "%s: option 'reset_bn' must be a dataset, got %s", fname, luaL_typename(L, -1));
        if (!llfc_net_count_ops(c->node[0], LLFC_OP_BN))
            return luaL_error(L, "%s: option 'reset_bn': the curve's networks have no BatchNorm layers", fname);
        if (ds->n < 1 || ds->dim != llfc_net_input_dim(c->node[0]))
            return luaL_error(L, "%s: option 'reset_bn': the dataset has %d features per sample, the networks take %d",
                              fname, (int)ds->dim, (int)llfc_net_input_dim(c->node[0]));
    }
    lua_Integer n = lb_optinteger(L, 3, "n", 5000, fname), batch = lb_optinteger(L, 3, "batch", 256, fname);
    if (n < 1 || batch < 1) return luaL_error(L, "%s: options 'n' and 'batch' must be at least 1", fname);
    llfc_net *net = llfc_curve_at(c, t);
    if (!net) return lb_error(L, fname);
    lb_pushnet(L, net); /* owned by Lua from here on */
    if (ds && llfc_net_reset_bn(net, ds->x, n < ds->n ? n : ds->n, batch, NULL, NULL)) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, fname);
    }
    return 1;
}

/* Curve:weights(t) -> {w_b, w_bend1, ..., w_a}: the weights of the nodes at t */
static int m_weights(lua_State *L)
{
    llfc_curve *c = lb_checkcurve(L, 1);
    double t = check_t(L, 2), w[66];
    llfc_curve_weights(c, t, w);
    lua_createtable(L, c->nnodes, 0);
    for (int k = 0; k < c->nnodes; k++) {
        lua_pushnumber(L, w[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* Curve:nodes() -> {b, bend1, ..., a}: copies of the nodes */
static int m_nodes(lua_State *L)
{
    llfc_curve *c = lb_checkcurve(L, 1);
    lua_createtable(L, c->nnodes, 0);
    for (int k = 0; k < c->nnodes; k++) {
        llfc_net *n = llfc_net_clone(c->node[k]);
        if (!n) return lb_error(L, "Curve:nodes");
        lb_pushnet(L, n);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* Curve:save(path) -> true, or nil, message */
static int m_save(lua_State *L)
{
    llfc_curve *c = lb_checkcurve(L, 1);
    const char *path = lb_checkpath(L, 2);
    if (llfc_curve_save(c, path)) return lb_fail(L, "Curve:save");
    lua_pushboolean(L, 1);
    return 1;
}

static int mm_tostring(lua_State *L)
{
    llfc_curve **box = luaL_checkudata(L, 1, CURVE_MT);
    if (!*box) { lua_pushliteral(L, "llfc.Curve (freed)"); return 1; }
    llfc_curve *c = *box;
    lua_pushfstring(L, "llfc.Curve: %s with %d bend%s from b (t = 0) to a (t = 1), %d steps of training; %s",
                    llfc_curve_kind_name(c->kind), c->nbends, c->nbends == 1 ? "" : "s", (int)c->steps,
                    c->node[0]->config);
    return 1;
}

/* fields kind, bends, steps, config; else a method */
static int mm_index(lua_State *L)
{
    llfc_curve *c = lb_checkcurve(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "kind")) lua_pushstring(L, llfc_curve_kind_name(c->kind));
    else if (!strcmp(k, "bends")) lua_pushinteger(L, c->nbends);
    else if (!strcmp(k, "steps")) lua_pushinteger(L, (lua_Integer)c->steps);
    else if (!strcmp(k, "config")) lua_pushstring(L, c->node[0]->config);
    else {
        luaL_getmetatable(L, CURVE_MT);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

/* ---- the primitives of lua/llfc/landscape.lua ---------------------------------------------------- */

/* new(a, b, kind, bends) -> curve on the straight line */
static int p_new(lua_State *L)
{
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    const char *kind = luaL_checkstring(L, 3);
    lua_Integer nb = luaL_checkinteger(L, 4);
    int k = llfc_curve_kind_from_name(kind);
    if (k < 0) return luaL_error(L, "nn.curve: option 'kind' must be \"bezier\" or \"polychain\", got \"%s\"", kind);
    if (nb < 1 || nb > 64) return luaL_error(L, "nn.curve: option 'bends' must be between 1 and 64, got %d", (int)nb);
    if (llfc_net_same_arch(a, b)) return luaL_error(L, "nn.curve: bad argument #2: not the layout of argument #1 (%s)",
                                                    llfc_errmsg());
    llfc_curve *c = llfc_curve_new(a, b, k, (int)nb);
    if (!c) return lb_error(L, "nn.curve");
    lb_pushcurve(L, c);
    return 1;
}

/* attach(curve, trainer, seed): the trainer trains the curve's bends */
static int p_attach(lua_State *L)
{
    llfc_curve *c = lb_checkcurve(L, 1);
    struct llfc_trainer *t = lb_checktrainer(L, 2);
    lua_Integer seed = luaL_checkinteger(L, 3);
    if (llfc_curve_attach(c, t, (uint64_t)seed)) return lb_error(L, "nn.curve");
    return 0;
}

void llfc_open_curve(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"at", m_at}, {"weights", m_weights}, {"nodes", m_nodes}, {"save", m_save}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", curve_gc}, {"__close", curve_gc}, {"__tostring", mm_tostring}, {NULL, NULL}};
    lb_newtype(L, CURVE_MT, methods, meta);
    luaL_getmetatable(L, CURVE_MT);
    lua_pushcfunction(L, mm_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg prims[] = {{"new", p_new}, {"attach", p_attach}, {NULL, NULL}};
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_newtable(L);
    luaL_setfuncs(L, prims, 0);
    lua_setfield(L, -2, "llfc.curve.c");
    lua_pop(L, 1);
}

/* nn.load's second chance: 1 and the curve pushed for a curve file, -1 for a
 * curve file that does not load (its message recorded), 0 for any other file
 * (the message recorded before is kept). */
int lb_load_curve(lua_State *L, const char *path)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, llfc_errmsg());
    luaL_pushresult(&b);
    int is = llfc_curve_file(path);
    llfc_seterr("%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (is != 1) return 0;
    llfc_curve *c = llfc_curve_load(path);
    if (!c) return -1;
    lb_pushcurve(L, c);
    return 1;
}
