/* l_vgg.c - Lua binding of plain convolutional networks: nn.vgg{...} and the
 * layer listing of tostring(net) for them (registers into the nn module). */
#include "lbind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_POOL (-1)

/* the convolutional part of VGG-11 (Simonyan & Zisserman, configuration A) */
static const int vgg11[] = {64, M_POOL, 128, M_POOL, 256, 256, M_POOL, 512, 512, M_POOL, 512, 512, M_POOL};

/* nn.vgg{depth = 11 | layers = {16, "M", 32, "M"}, width = 1, classes = 10,
 *        input = {3, 32, 32}, head = "gap" | "flatten", seed = 1} */
static int nn_vgg(lua_State *L)
{
    const char *fn = "nn.vgg";
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = {"depth", "layers", "width", "classes", "input", "head", "seed", NULL};
    lb_checktypos(L, 1, known, fn);
    int spec[2 * LLFC_VGG_MAXCONV], ns = 0;
    lua_getfield(L, 1, "layers");
    int has_layers = !lua_isnil(L, -1);
    if (has_layers) {
        if (!lua_istable(L, -1)) return luaL_error(L, "%s: layers must be a table, got %s", fn, luaL_typename(L, -1));
        lua_Integer n = luaL_len(L, -1);
        if (n < 1 || n > 2 * LLFC_VGG_MAXCONV) return luaL_error(L, "%s: give 1 to %d layers, got %d", fn, 2 * LLFC_VGG_MAXCONV, (int)n);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, -1, i);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "M")) spec[ns++] = M_POOL;
            else if (ok && v >= 1 && v <= 1 << 20) spec[ns++] = (int)v;
            else return luaL_error(L, "%s: layers[%d] must be a channel count or \"M\", got %s", fn, (int)i,
                                   luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "depth");
    if (!lua_isnil(L, -1)) {
        if (has_layers) return luaL_error(L, "%s: give depth or layers, not both", fn);
        int ok;
        lua_Integer d = lua_tointegerx(L, -1, &ok);
        if (!ok || d != 11) return luaL_error(L, "%s: depth must be 11, got %s", fn, luaL_tolstring(L, -1, NULL));
    } else if (!has_layers) return luaL_error(L, "%s: give depth = 11 or layers = {16, \"M\", ...}", fn);
    lua_pop(L, 1);
    if (!has_layers) {
        ns = (int)(sizeof vgg11 / sizeof *vgg11);
        memcpy(spec, vgg11, sizeof vgg11);
    }
    double width = lb_optnumber(L, 1, "width", 1.0, fn);
    if (!(width > 0) || width > 64) return luaL_error(L, "%s: width must be in (0, 64], got %g", fn, width);
    lua_Integer classes = lb_optinteger(L, 1, "classes", 10, fn);
    if (classes < 1 || classes > 1 << 20) return luaL_error(L, "%s: classes must be positive, got %d", fn, (int)classes);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    const char *hs = lb_optstring(L, 1, "head", "gap", fn);
    int head;
    if (!strcmp(hs, "gap")) head = LLFC_VGG_GAP;
    else if (!strcmp(hs, "flatten")) head = LLFC_VGG_FLATTEN;
    else return luaL_error(L, "%s: unknown head '%s' (gap or flatten)", fn, hs);
    int in[3] = {3, 32, 32};
    lua_getfield(L, 1, "input");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            return luaL_error(L, "%s: input must be {channels, height, width}", fn);
        for (int i = 0; i < 3; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < 1 || v > 1 << 16)
                return luaL_error(L, "%s: input[%d] must be a positive integer, got %s", fn, i + 1,
                                  luaL_tolstring(L, -1, NULL));
            in[i] = (int)v;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    int chan[LLFC_VGG_MAXCONV], pool[LLFC_VGG_MAXCONV], nc = 0;
    for (int i = 0; i < ns; i++) {
        if (spec[i] == M_POOL) {
            if (nc == 0 || pool[nc - 1])
                return luaL_error(L, "%s: layers[%d]: \"M\" must follow a conv layer", fn, i + 1);
            pool[nc - 1] = 1;
        } else {
            if (nc == LLFC_VGG_MAXCONV) return luaL_error(L, "%s: more than %d conv layers", fn, LLFC_VGG_MAXCONV);
            double c = floor(spec[i] * width + 0.5);
            chan[nc] = c < 1 ? 1 : (int)c;
            pool[nc++] = 0;
        }
    }
    if (nc == 0) return luaL_error(L, "%s: no conv layer", fn);
    llfc_net *net = llfc_vgg_new(in[0], in[1], in[2], nc, chan, pool, head, classes, (uint64_t)seed);
    if (!net) return lb_error(L, fn);
    lb_pushnet(L, net);
    return 1;
}

/* tostring(net) of a conv net: one line per module */
int lnn_vgg_tostring(lua_State *L, const llfc_net *net)
{
    const llfc_vgg *v = net->vgg;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char line[256];
    snprintf(line, sizeof line, "llfc.Net vgg %dx%dx%d -> %lld (%d conv, %s head), %lld parameters\n", v->c, v->h,
             v->w, (long long)net->widths[net->nlayers], v->nconv, v->head == LLFC_VGG_GAP ? "gap" : "flatten",
             (long long)llfc_net_nparams_total(net));
    luaL_addstring(&b, line);
    snprintf(line, sizeof line, "  %-5s %-30s %-34s %9s\n", "layer", "module", "parameters", "count");
    luaL_addstring(&b, line);
    for (int l = 0; l < net->nlayers; l++) {
        char mod[96], par[128];
        const llfc_tensor *W = net->param[2 * l];
        if (l < v->nconv) {
            int H = v->conv[l].H, Wd = v->conv[l].W;
            snprintf(mod, sizeof mod, "conv3x3 %d -> %d @%dx%d, relu", v->conv[l].C, v->conv[l].K, H, Wd);
            snprintf(par, sizeof par, "%s %dx%dx3x3, %s %d", net->pname[2 * l], v->conv[l].K, v->conv[l].C,
                     net->pname[2 * l + 1], v->conv[l].K);
        } else {
            snprintf(mod, sizeof mod, "%slinear %lld -> %lld", v->head == LLFC_VGG_GAP ? "gap, " : "flatten, ",
                     (long long)W->size[1], (long long)W->size[0]);
            snprintf(par, sizeof par, "%s %lldx%lld, %s %lld", net->pname[2 * l], (long long)W->size[0],
                     (long long)W->size[1], net->pname[2 * l + 1], (long long)W->size[0]);
        }
        snprintf(line, sizeof line, "  %-5d %-30s %-34s %9lld\n", l + 1, mod, par,
                 (long long)(llfc_tensor_numel(W) + llfc_tensor_numel(net->param[2 * l + 1])));
        luaL_addstring(&b, line);
        if (l < v->nconv && v->conv[l].pool) {
            snprintf(line, sizeof line, "  %-5s maxpool2x2 -> %dx%d\n", "", v->conv[l].H / 2, v->conv[l].W / 2);
            luaL_addstring(&b, line);
        }
    }
    lb_pushresult_chomp(&b);
    return 1;
}

const luaL_Reg lnn_vgg_funcs[] = {
    {"vgg", nn_vgg},
    {NULL, NULL},
};
