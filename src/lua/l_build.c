/* l_build.c - Lua binding of the builders (build.h): nn.mlp{...},
 * nn.vgg{...}, nn.resnet20{...} (registers into the nn module). */
#include "lbind.h"
#include "nn/build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nn.mlp{784, 512, 10, seed = 1, act = "relu", init = "torch"} ------------ */
static int nn_mlp(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer nw = luaL_len(L, 1);
    if (nw < 2) return luaL_error(L, "nn.mlp: give at least 2 widths (input and classes), got %d", (int)nw);
    if (nw > 1024) return luaL_error(L, "nn.mlp: %d widths is too many", (int)nw);
    int64_t widths[1025];
    for (lua_Integer i = 1; i <= nw; i++) {
        lua_geti(L, 1, i);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok)
            return luaL_error(L, "nn.mlp: width %d must be an integer, got %s", (int)i,
                              lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING
                                  ? luaL_tolstring(L, -1, NULL)
                                  : luaL_typename(L, -1));
        widths[i - 1] = v;
        lua_pop(L, 1);
    }
    static const char *const names[] = {"seed", "act", "init", NULL};
    lb_checktypos(L, 1, names, "nn.mlp");
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, "nn.mlp");
    const char *act = lb_optstring(L, 1, "act", "relu", "nn.mlp");
    const char *init = lb_optstring(L, 1, "init", "torch", "nn.mlp");
    int a = llfc_act_from_name(act);
    if (a < 0) return luaL_error(L, "nn.mlp: unknown act '%s' (relu, tanh or identity)", act);
    int in;
    if (!strcmp(init, "torch")) in = LLFC_INIT_TORCH;
    else if (!strcmp(init, "kaiming") || !strcmp(init, "he")) in = LLFC_INIT_KAIMING;
    else return luaL_error(L, "nn.mlp: unknown init '%s' (torch or kaiming)", init);
    llfc_net *net = llfc_mlp_new((int)nw, widths, a, in, (uint64_t)seed);
    if (!net) return lb_error(L, "nn.mlp");
    lb_pushnet(L, net);
    return 1;
}

#define M_POOL (-1)
#define MAXSPEC 128

/* input = {c, h, w} (default 3x32x32) */
static void read_input(lua_State *L, int idx, int in[3], const char *fn)
{
    in[0] = 3, in[1] = 32, in[2] = 32;
    lua_getfield(L, idx, "input");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            luaL_error(L, "%s: input must be {channels, height, width}, got %s", fn, luaL_tolstring(L, -1, NULL));
        for (int i = 0; i < 3; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < 1 || v > 1 << 16)
                luaL_error(L, "%s: input[%d] must be an integer in [1, 65536], got %s", fn, i + 1,
                           luaL_tolstring(L, -1, NULL));
            in[i] = (int)v;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static int read_norm(lua_State *L, int idx, const char *def, const char *fn)
{
    const char *s = lb_optstring(L, idx, "norm", def, fn);
    if (!strcmp(s, "bn")) return LLFC_NORM_BN;
    if (!strcmp(s, "ln")) return LLFC_NORM_LN;
    if (!strcmp(s, "none")) return LLFC_NORM_NONE;
    return luaL_error(L, "%s: unknown norm '%s' (bn, ln or none)", fn, s);
}

static lua_Integer read_classes(lua_State *L, int idx, const char *fn)
{
    lua_Integer classes = lb_optinteger(L, idx, "classes", 10, fn);
    if (classes < 1 || classes > 1 << 20) luaL_error(L, "%s: classes must be in [1, 2^20], got %d", fn, (int)classes);
    return classes;
}

/* nn.vgg{depth = 11 | 13 | 16 | layers = {16, "M", 32, "M"}, norm = "bn" | "ln" | nil,
 *        width = 1, classes = 10, input = {3, 32, 32}, head = "gap" | "flatten", seed = 1} */
static int nn_vgg(lua_State *L)
{
    const char *fn = "nn.vgg";
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = {"depth", "layers", "norm", "width", "classes", "input", "head", "seed", NULL};
    lb_checktypos(L, 1, known, fn);
    int spec[MAXSPEC], ns = 0;
    lua_getfield(L, 1, "layers");
    int has_layers = !lua_isnil(L, -1);
    if (has_layers) {
        if (!lua_istable(L, -1)) return luaL_error(L, "%s: layers must be a table, got %s", fn, luaL_typename(L, -1));
        lua_Integer n = luaL_len(L, -1);
        if (n < 1 || n > MAXSPEC) return luaL_error(L, "%s: give 1 to %d layers, got %d", fn, MAXSPEC, (int)n);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "M")) {
                if (ns == 0 || spec[ns - 1] == M_POOL)
                    return luaL_error(L, "%s: layers[%d]: \"M\" must follow a conv layer", fn, (int)i);
                spec[ns++] = M_POOL;
            } else if (ok && v >= 1 && v <= 1 << 20) spec[ns++] = (int)v;
            else return luaL_error(L, "%s: layers[%d] must be a channel count or \"M\", got %s", fn, (int)i,
                                   luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_Integer depth = 0;
    lua_getfield(L, 1, "depth");
    if (!lua_isnil(L, -1)) {
        if (has_layers) return luaL_error(L, "%s: give depth or layers, not both", fn);
        int ok;
        depth = lua_tointegerx(L, -1, &ok);
        if (!ok || (depth != 11 && depth != 13 && depth != 16))
            return luaL_error(L, "%s: depth must be 11, 13 or 16, got %s", fn, luaL_tolstring(L, -1, NULL));
    } else if (!has_layers) return luaL_error(L, "%s: give depth = 11, 13 or 16, or layers = {16, \"M\", ...}", fn);
    lua_pop(L, 1);
    double width = lb_optnumber(L, 1, "width", 1.0, fn);
    if (!(width > 0) || width > 64) {
        char w[32];
        snprintf(w, sizeof w, "%g", width);
        return luaL_error(L, "%s: width must be in (0, 64], got %s", fn, w);
    }
    lua_Integer classes = read_classes(L, 1, fn);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    int norm = read_norm(L, 1, "none", fn);
    const char *hs = lb_optstring(L, 1, "head", "gap", fn);
    int head;
    if (!strcmp(hs, "gap")) head = LLFC_VGG_GAP;
    else if (!strcmp(hs, "flatten")) head = LLFC_VGG_FLATTEN;
    else return luaL_error(L, "%s: unknown head '%s' (gap or flatten)", fn, hs);
    int in[3];
    read_input(L, 1, in, fn);
    llfc_net *net;
    if (depth) {
        net = llfc_vgg_depth_new(in[0], in[1], in[2], (int)depth, width, norm, head, classes, (uint64_t)seed);
    } else {
        for (int i = 0; i < ns; i++)
            if (spec[i] != M_POOL) {
                double c = floor(spec[i] * width + 0.5);
                spec[i] = c < 1 ? 1 : (int)c;
            }
        net = llfc_vgg_new(in[0], in[1], in[2], ns, spec, norm, head, classes, (uint64_t)seed);
    }
    if (!net) return lb_error(L, fn);
    lb_pushnet(L, net);
    return 1;
}

/* nn.resnet20{width = 1, norm = "bn" | "ln" | "none", classes = 10, input = {3, 32, 32}, seed = 1} */
static int nn_resnet20(lua_State *L)
{
    const char *fn = "nn.resnet20";
    if (lua_isnoneornil(L, 1)) lua_settop(L, 0), lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = {"width", "norm", "classes", "input", "seed", NULL};
    lb_checktypos(L, 1, known, fn);
    lua_getfield(L, 1, "width");
    int ok = 1;
    lua_Integer width = lua_isnil(L, -1) ? 1 : lua_tointegerx(L, -1, &ok);
    if (!ok || width < 1 || width > 64)
        return luaL_error(L, "%s: width must be an integer in [1, 64], got %s", fn, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    int norm = read_norm(L, 1, "bn", fn);
    lua_Integer classes = read_classes(L, 1, fn);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    int in[3];
    read_input(L, 1, in, fn);
    llfc_net *net = llfc_resnet20_new(in[0], in[1], in[2], (int)width, norm, classes, (uint64_t)seed);
    if (!net) return lb_error(L, fn);
    lb_pushnet(L, net);
    return 1;
}

const luaL_Reg lnn_build_funcs[] = {
    {"mlp", nn_mlp},
    {"vgg", nn_vgg},
    {"resnet20", nn_resnet20},
    {NULL, NULL},
};
