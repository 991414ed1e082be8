/* l_repair.c - Lua binding of BatchNorm reset and REPAIR (repair.h):
 * nn.reset_bn(net, ds [, opts]) and nn.repair(a, b, alpha, ds [, opts]).
 * Registered into the nn module by llfc_open_repair (l_init.c). */
#include "lbind.h"
#include "metrics/repair.h"

#include <string.h>

/* The options {batch =, n =, progress =} at idx (or none) and the dataset's
 * match with net; *pidx is the progress function's index or 0. */
static void check_opts(lua_State *L, int idx, const llfc_net *net, const llfc_dataset *ds, const char *fname,
                       lua_Integer *batch, lua_Integer *n, int *pidx)
{
    static const char *const names[] = {"batch", "n", "progress", NULL};
    if (!lua_isnoneornil(L, idx)) {
        luaL_checktype(L, idx, LUA_TTABLE);
        lb_checktypos(L, idx, names, fname);
    }
    *batch = lb_optinteger(L, idx, "batch", 256, fname);
    *n = lb_optinteger(L, idx, "n", 5000, fname);
    if (*batch < 1) luaL_error(L, "%s: option 'batch' must be at least 1, got %d", fname, (int)*batch);
    if (*n < 1) luaL_error(L, "%s: option 'n' must be at least 1, got %d", fname, (int)*n);
    if (*n > ds->n) *n = ds->n;
    if (ds->n < 1) luaL_error(L, "%s: the dataset is empty", fname);
    if (ds->dim != llfc_net_input_dim(net))
        luaL_error(L, "%s: the dataset has %d features per sample, the network takes %d", fname, (int)ds->dim,
                   (int)llfc_net_input_dim(net));
    *pidx = lb_optprogress(L, idx, fname);
}

/* nn.reset_bn(net, ds [, {batch = 256, n = 5000}]) -> net (running statistics re-estimated in place) */
static int nn_reset_bn(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    if (!llfc_net_count_ops(net, LLFC_OP_BN))
        return luaL_error(L, "nn.reset_bn: bad argument #1: the network has no BatchNorm layers (%s)", net->config);
    lua_Integer batch, n;
    int pidx;
    check_opts(L, 3, net, ds, "nn.reset_bn", &batch, &n, &pidx);
    lb_progress prog = {L, pidx};
    /* an interrupted reset restores the buffers (llfc_net_reset_bn) */
    if (llfc_net_reset_bn(net, ds->x, n, batch, lb_progress_fn, &prog)) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, "nn.reset_bn");
    }
    lua_settop(L, 1);
    return 1;
}

/* nn.repair(a, b, alpha, ds [, {batch = 256, n = 5000, progress = fn}]) -> new net */
static int nn_repair(lua_State *L)
{
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    lua_Number alpha = luaL_checknumber(L, 3);
    llfc_dataset *ds = lb_checkdataset(L, 4);
    luaL_argcheck(L, alpha >= 0.0 && alpha <= 1.0, 3, "alpha must be in [0, 1]");
    if (llfc_net_same_arch(a, b))
        return luaL_error(L, "nn.repair: bad argument #2: not the layout of argument #1 (%s)", llfc_errmsg());
    lua_Integer batch, n;
    int pidx;
    check_opts(L, 5, a, ds, "nn.repair", &batch, &n, &pidx);
    lb_progress prog = {L, pidx};
    llfc_net *out = llfc_repair(a, b, alpha, ds->x, n, batch, lb_progress_fn, &prog);
    if (!out) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, "nn.repair");
    }
    lb_pushnet(L, out);
    return 1;
}

static const luaL_Reg repair_funcs[] = {
    {"reset_bn", nn_reset_bn},
    {"repair", nn_repair},
    {NULL, NULL},
};

/* Add the functions to the nn module table at idx. */
void llfc_open_repair(lua_State *L, int idx)
{
    lua_pushvalue(L, idx);
    luaL_setfuncs(L, repair_funcs, 0);
    lua_pop(L, 1);
}
