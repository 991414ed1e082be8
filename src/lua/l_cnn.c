/* l_cnn.c - Lua binding of the conv net builders (nn_cnn.h): nn.vgg{...},
 * nn.resnet20{...} and the module listing of tostring(net) for conv nets
 * (registers into the nn module). */
#include "lbind.h"
#include "nn/nn_cnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        char ws[32], cfg[256];
        snprintf(ws, sizeof ws, "%g", width);
        if (strtod(ws, NULL) != width) snprintf(ws, sizeof ws, "%.17g", width);
        snprintf(cfg, sizeof cfg, "vgg depth=%d width=%s norm=%s head=%s classes=%lld input=%d,%d,%d", (int)depth, ws,
                 norm == LLFC_NORM_BN ? "bn" : norm == LLFC_NORM_LN ? "ln" : "none", hs, (long long)classes, in[0],
                 in[1], in[2]);
        net = llfc_cnn_build(cfg, (uint64_t)seed);
    } else {
        for (int i = 0; i < ns; i++)
            if (spec[i] != M_POOL) {
                double c = floor(spec[i] * width + 0.5);
                spec[i] = c < 1 ? 1 : (int)c;
            }
        net = llfc_cnn_vgg(in[0], in[1], in[2], ns, spec, norm, head, classes, (uint64_t)seed);
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
    llfc_net *net = llfc_cnn_resnet20(in[0], in[1], in[2], (int)width, norm, classes, (uint64_t)seed);
    if (!net) return lb_error(L, fn);
    lb_pushnet(L, net);
    return 1;
}

/* ---- tostring ---------------------------------------------------------------- */

static int64_t numel_or0(const llfc_net *net, int p) { return p >= 0 ? llfc_tensor_numel(net->param[p]) : 0; }

/* "conv3x3/2 16 -> 32" etc. */
static void describe(const llfc_net *net, const llfc_op *o, char *buf, size_t n)
{
    switch (o->kind) {
    case LLFC_OP_CONV: {
        char st[16] = "";
        if (o->stride > 1) snprintf(st, sizeof st, "/%d", o->stride);
        snprintf(buf, n, "conv%dx%d%s %d -> %d", o->R, o->R, st, o->C, o->K);
        break;
    }
    case LLFC_OP_BN: snprintf(buf, n, "batchnorm %d", o->C); break;
    case LLFC_OP_LN: snprintf(buf, n, "layernorm %d (channels)", o->C); break;
    case LLFC_OP_RELU: snprintf(buf, n, "relu%s", o->feat >= 0 ? " (feature)" : ""); break;
    case LLFC_OP_MAXPOOL: snprintf(buf, n, "maxpool%dx%d", o->R, o->R); break;
    case LLFC_OP_GAP: snprintf(buf, n, "global avgpool"); break;
    case LLFC_OP_ADD: {
        const char *a = o->in > 0 ? net->cnn->ops[o->in - 1].name : "input";
        const char *b = o->in2 > 0 ? net->cnn->ops[o->in2 - 1].name : "input";
        snprintf(buf, n, "add %s + %s", a, b);
        break;
    }
    case LLFC_OP_LINEAR: snprintf(buf, n, "linear %d -> %d", o->C * o->H * o->W, o->K); break;
    default: snprintf(buf, n, "op %d", o->kind); break;
    }
}

/* tostring(net) of a conv net: the config, then one line per op */
int lnn_cnn_tostring(lua_State *L, const llfc_net *net)
{
    const llfc_cnn *c = net->cnn;
    int64_t ntrain = 0, nbuf = 0;
    for (int p = 0; p < net->nparams; p++) {
        if (!net->ptrain || net->ptrain[p]) ntrain += llfc_tensor_numel(net->param[p]);
        else nbuf += llfc_tensor_numel(net->param[p]);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char line[320];
    snprintf(line, sizeof line, "llfc.Net cnn: %s\n", c->config);
    luaL_addstring(&b, line);
    snprintf(line, sizeof line, "  %lld parameters%s", (long long)ntrain, nbuf ? "" : "\n");
    luaL_addstring(&b, line);
    if (nbuf) {
        snprintf(line, sizeof line, " (+ %lld values in BatchNorm buffers)\n", (long long)nbuf);
        luaL_addstring(&b, line);
    }
    snprintf(line, sizeof line, "  %-26s %-44s %-12s %9s\n", "name", "module", "output", "params");
    luaL_addstring(&b, line);
    for (int i = 0; i < c->nops; i++) {
        const llfc_op *o = &c->ops[i];
        char mod[128], out[32], par[24] = "";
        describe(net, o, mod, sizeof mod);
        if (o->kind == LLFC_OP_LINEAR) snprintf(out, sizeof out, "%d", o->K);
        else snprintf(out, sizeof out, "%dx%dx%d", o->K, o->P, o->Q);
        int64_t np = numel_or0(net, o->pw) + numel_or0(net, o->pb);
        if (np) snprintf(par, sizeof par, "%lld", (long long)np);
        snprintf(line, sizeof line, "  %-26s %-44s %-12s %9s\n", o->name, mod, out, par);
        luaL_addstring(&b, line);
    }
    lb_pushresult_chomp(&b);
    return 1;
}

const luaL_Reg lnn_cnn_funcs[] = {
    {"vgg", nn_vgg},
    {"resnet20", nn_resnet20},
    {NULL, NULL},
};
