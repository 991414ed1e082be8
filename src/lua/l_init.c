/* l_init.c - open every llfc module and install the embedded Lua sources. */
#include "lbind.h"
#include "nn/kernels/layers.h"

#include <stdio.h>
#include <string.h>

struct llfc_embedded { const char *name; const char *text; };
extern const struct llfc_embedded llfc_embedded_lua[];
void llfc_help_install(lua_State *L, int idx); /* l_help.c */
void llfc_open_repair(lua_State *L, int idx);  /* l_repair.c: nn.reset_bn, nn.repair */
void lnn_push_checkarg(lua_State *L);           /* l_train.c: argument checks for lua/llfc/train.lua */

static int load_embedded(lua_State *L)
{
    const struct llfc_embedded *e = lua_touserdata(L, lua_upvalueindex(1));
    const char *modname = luaL_checkstring(L, 1);
    if (luaL_loadbuffer(L, e->text, strlen(e->text), lua_pushfstring(L, "=[llfc] %s", modname)) != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, modname);
    lua_call(L, 1, 1);
    return 1;
}

/* llfc.blas([threads]) -> {threads =, core =, config =, conv =} */
static int l_blas(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be between 1 and 1024");
        llfc_blas_set_threads((int)n);
        llfc_conv2d_set_threads((int)n);
    }
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, llfc_blas_get_threads());
    lua_setfield(L, -2, "threads");
    lua_pushstring(L, llfc_blas_corename());
    lua_setfield(L, -2, "core");
    lua_pushstring(L, llfc_blas_config());
    lua_setfield(L, -2, "config");
    const char *dnnl = llfc_conv2d_dnnl_info();
    if (llfc_conv2d_get_backend() != LLFC_CONV_IM2COL && dnnl && strncmp(dnnl, "oneDNN ", 7) == 0
        && !strstr(dnnl, "not loaded"))
        lua_pushstring(L, dnnl);
    else if (dnnl)
        lua_pushfstring(L, "im2col + OpenBLAS (%s)", llfc_conv2d_get_backend() == LLFC_CONV_IM2COL
                                                         ? "oneDNN not used" : dnnl);
    else
        lua_pushstring(L, "im2col + OpenBLAS (built without oneDNN)");
    lua_setfield(L, -2, "conv");
    return 1;
}

/* llfc.demo([{wait =, ascii =}]): the guided tour, require("llfc.demo").run(opts) */
static int l_demo(lua_State *L)
{
    lua_settop(L, 1);
    lua_getglobal(L, "require");
    if (!lua_isfunction(L, -1)) return luaL_error(L, "llfc.demo: needs require (the package library)");
    lua_pushliteral(L, "llfc.demo");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "run");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 0);
    return 0;
}

int llfc_open_all(lua_State *L)
{
    /* package.preload entries for the embedded Lua modules */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const struct llfc_embedded *e = llfc_embedded_lua; e->name; e++) {
        lua_pushlightuserdata(L, (void *)e);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, e->name);
    }
    lua_pop(L, 1);

    lua_newtable(L);
    static const struct { const char *name; lua_CFunction open; } mods[] = {
        {"tensor", llfc_open_tensor}, {"data", llfc_open_data}, {"nn", llfc_open_nn},
        {"perm", llfc_open_perm},     {"metrics", llfc_open_metrics}, {"view", llfc_open_view},
        {"sweep", llfc_open_sweep},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        lua_pushcfunction(L, mods[i].open);
        lua_call(L, 0, 1);
        char key[64];
        snprintf(key, sizeof key, "llfc.%s", mods[i].name);
        lua_pushvalue(L, -1); /* registry["llfc.<name>"] = module, for C-side lookups */
        lua_setfield(L, LUA_REGISTRYINDEX, key);
        /* package.loaded["llfc.<name>"] too: require finds it, and an error in a function called
         * without a name (pcall(tensor.zeros, "x"), a callback) says 'llfc.tensor.zeros', not '?' */
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, key);
        if (lua_isnil(L, -1)) { lua_pushvalue(L, -3); lua_setfield(L, -3, key); }
        lua_pop(L, 2);
        lua_setfield(L, -2, mods[i].name);
    }
    lua_getfield(L, -1, "nn");
    llfc_open_repair(L, -1);
    lua_pop(L, 1);
    lua_pushstring(L, LLFC_VERSION_STRING);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, l_blas);
    lua_setfield(L, -2, "blas");
    lua_pushcfunction(L, l_demo);
    lua_setfield(L, -2, "demo");
    /* the workflows written in Lua: net:train, nn.spawn, nn.pair */
    int top = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_getfield(L, -1, "llfc.train");
    lua_pushliteral(L, "llfc.train");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "install");
    lua_pushvalue(L, top);
    luaL_getmetatable(L, LLFC_NET_MT);
    lnn_push_checkarg(L);
    lua_call(L, 3, 0);
    lua_settop(L, top);
    llfc_help_install(L, -1); /* llfc.help, llfc.doc */
    return 1;
}
