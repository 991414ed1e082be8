/* l_init.c - open every llfc module and install the embedded Lua sources. */
#include "lbind.h"
#include "nn/kernels/layers.h"

#include <stdio.h>
#include <string.h>

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

/* llfc.blas([threads | {threads =, backend =, measure =}]) -> {backend =, gemm =, isa =, cpu =,
 * reason =, threads =, core =, config =, conv = [, gflops = {["MxNxK"] = ...}]} */
static int l_blas(lua_State *L)
{
    double measure = 0;
    if (lua_istable(L, 1)) {
        static const char *const known[] = {"threads", "backend", "measure", NULL};
        lb_checktypos(L, 1, known, "llfc.blas");
        const char *be = lb_optstring(L, 1, "backend", NULL, "llfc.blas");
        lua_getfield(L, 1, "threads");
        int given = !lua_isnil(L, -1);
        lua_pop(L, 1);
        lua_Integer n = lb_optinteger(L, 1, "threads", 0, "llfc.blas");
        luaL_argcheck(L, !given || (n >= 1 && n <= 1024), 1, "thread count must be between 1 and 1024");
        lua_getfield(L, 1, "measure");
        if (lua_isboolean(L, -1)) measure = lua_toboolean(L, -1) ? 0.5 : 0;
        else if (lua_isnumber(L, -1)) measure = lua_tonumber(L, -1);
        else if (!lua_isnil(L, -1)) return luaL_error(L, "llfc.blas: option 'measure' must be a boolean or seconds");
        luaL_argcheck(L, measure >= 0 && measure <= 60, 1, "measure must be between 0 and 60 seconds");
        lua_pop(L, 1);
        int b = be ? llfc_gemm_parse(be) : 0;
        if (b < 0 || (be && llfc_gemm_set_backend(b) < 0)) return lb_error(L, "llfc.blas");
        if (n) llfc_blas_set_threads((int)n);
    } else if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be between 1 and 1024");
        llfc_blas_set_threads((int)n);
    }
    lua_createtable(L, 0, 10);
    lua_pushstring(L, llfc_gemm_name(llfc_gemm_backend()));
    lua_setfield(L, -2, "backend");
    lua_pushstring(L, llfc_gemm_describe());
    lua_setfield(L, -2, "gemm");
    lua_pushstring(L, llfc_gemm_isa());
    lua_setfield(L, -2, "isa");
    lua_pushstring(L, llfc_cpu_isa());
    lua_setfield(L, -2, "cpu");
    lua_pushstring(L, llfc_gemm_reason());
    lua_setfield(L, -2, "reason");
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
        lua_pushfstring(L, "im2col + %s (%s)", llfc_gemm_backend() == LLFC_GEMM_DNNL ? "oneDNN sgemm" : "OpenBLAS",
                        llfc_conv2d_get_backend() == LLFC_CONV_IM2COL ? "oneDNN convolutions not used" : dnnl);
    else
        lua_pushstring(L, "im2col + OpenBLAS (built without oneDNN)");
    lua_setfield(L, -2, "conv");
    if (measure > 0) {
        /* the sgemm peak and two layers of the 784-512-512-512-10 MLP at batch 128 (X @ W^T) */
        static const int shapes[][4] = {{2048, 2048, 2048, 0}, {128, 512, 784, 1}, {128, 512, 512, 1}};
        lua_createtable(L, 0, 3);
        for (int i = 0; i < 3; i++) {
            double g = llfc_gemm_rate(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], measure);
            if (g < 0) return lb_error(L, "llfc.blas");
            char key[48];
            snprintf(key, sizeof key, "%dx%dx%d", shapes[i][0], shapes[i][1], shapes[i][2]);
            lua_pushnumber(L, g);
            lua_setfield(L, -2, key);
        }
        lua_setfield(L, -2, "gflops");
    }
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

/* require(name).install(llfc [, Net metatable], checkarg) with the llfc table on top */
static void install_lua(lua_State *L, const char *name, int with_net_mt)
{
    int top = lua_gettop(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_getfield(L, -1, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "install");
    lua_pushvalue(L, top);
    if (with_net_mt) luaL_getmetatable(L, LLFC_NET_MT);
    lnn_push_checkarg(L);
    lua_call(L, 2 + with_net_mt, 0);
    lua_settop(L, top);
}

int llfc_open_all(lua_State *L)
{
    if (llfc_gemm_init_env() < 0) return luaL_error(L, "%s", llfc_errmsg()); /* LLFC_BLAS */
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
    llfc_open_merge(L, -1);
    llfc_open_landscape(L, -1);
    llfc_open_curve(L);
    lua_pushstring(L, LLFC_VERSION_STRING);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, l_blas);
    lua_setfield(L, -2, "blas");
    lua_pushcfunction(L, l_demo);
    lua_setfield(L, -2, "demo");
    llfc_open_file(L, -1);
    /* package.loaded.llfc: `require "llfc"` gives this table in the binary too */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "llfc");
    lua_pop(L, 1);
    /* the workflows written in Lua: net:train, nn.spawn, nn.pair; nn.curve (on the Trainer too) and metrics.stitch */
    install_lua(L, "llfc.train", 1);
    install_lua(L, "llfc.landscape", 0);
    llfc_help_install(L, -1); /* llfc.help, llfc.doc */
    return 1;
}
