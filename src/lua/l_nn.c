/* l_nn.c - Lua binding of the nn module: the Net type (running networks,
 * features, copies, parameters, printing), interpolation, evaluation.  The
 * builders are in l_build.c, the Trainer and model files in l_train.c (they
 * register into the same module and Net type); net:train, nn.spawn and
 * nn.pair are Lua (lua/llfc/train.lua). */
#include "lbind.h"
#include "nn/build.h"
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int net_forward(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    int64_t n;
    llfc_tensor *own;
    const float *x = lb_checkinput(L, 2, llfc_net_input_dim(net), "forward", &n, &own);
    int oned = lb_checktensor(L, 2)->ndim == 1;
    int64_t k = llfc_net_num_classes(net);
    llfc_tensor *out = oned ? llfc_tensor_new1(k) : llfc_tensor_new2(n, k);
    if (!out) { llfc_tensor_free(own); return lb_error(L, "forward"); }
    int rc = llfc_net_forward(net, x, n, llfc_tensor_data(out));
    llfc_tensor_free(own);
    if (rc) { llfc_tensor_free(out); return lb_error(L, "forward"); }
    lb_pushtensor(L, out);
    return 1;
}

/* net:features(x) -> { {name = "h1", pre = T, post = T}, ..., {name = "logits", ...} } */
static int net_features(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    int64_t n;
    llfc_tensor *own;
    const float *x = lb_checkinput(L, 2, llfc_net_input_dim(net), "features", &n, &own);
    int nf = llfc_net_nfeat(net);
    lua_createtable(L, nf, 0);
    int tidx = lua_gettop(L);
    float **pre = llfc_calloc((size_t)nf, sizeof *pre), **post = llfc_calloc((size_t)nf, sizeof *post);
    if (!pre || !post) { free(pre); free(post); llfc_tensor_free(own); return lb_error(L, "features"); }
    for (int l = 0; l < nf; l++) {
        char name[32];
        lua_createtable(L, 0, 3);
        lua_pushstring(L, llfc_net_featname(net, l, name, sizeof name));
        lua_setfield(L, -2, "name");
        llfc_tensor *tp = llfc_tensor_new2(n, llfc_net_featdim(net, l));
        if (!tp) goto oom;
        lb_pushtensor(L, tp); /* owned by Lua from here, anchored in the table */
        lua_setfield(L, -2, "pre");
        pre[l] = llfc_tensor_data(tp);
        if (l == nf - 1) {
            lua_getfield(L, -1, "pre");
        } else {
            llfc_tensor *tq = llfc_tensor_new2(n, llfc_net_featdim(net, l));
            if (!tq) goto oom;
            lb_pushtensor(L, tq);
            post[l] = llfc_tensor_data(tq);
        }
        lua_setfield(L, -2, "post");
        lua_rawseti(L, tidx, l + 1);
    }
    {
        int rc = llfc_net_forward_features(net, x, n, pre, post);
        free(pre);
        free(post);
        llfc_tensor_free(own);
        if (rc) return lb_error(L, "features");
    }
    lua_settop(L, tidx);
    return 1;
oom:
    free(pre);
    free(post);
    llfc_tensor_free(own);
    return lb_error(L, "features");
}

/* net:like([seed = 1]) -> a new net of net's layout, initialised from seed */
static int net_like(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_net *c = llfc_net_like(net, (uint64_t)luaL_optinteger(L, 2, 1));
    if (!c) return lb_error(L, "like");
    lb_pushnet(L, c);
    return 1;
}

static int net_clone(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_net *c = llfc_net_clone(net);
    if (!c) return lb_error(L, "clone");
    lb_pushnet(L, c);
    return 1;
}

/* net:params() -> { {name = "0.weight", tensor = T}, ..., ["0.weight"] = T, ... }
 * The tensors share memory with the network. */
static int net_params(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    lua_createtable(L, net->nparams, net->nparams);
    for (int p = 0; p < net->nparams; p++) {
        llfc_tensor *t = llfc_tensor_share(net->param[p]);
        if (!t) return lb_error(L, "params");
        lua_createtable(L, 0, 2);
        lua_pushstring(L, net->pname[p]);
        lua_setfield(L, -2, "name");
        lb_pushtensor(L, t);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, net->pname[p]);
        lua_setfield(L, -2, "tensor");
        lua_rawseti(L, -2, p + 1);
    }
    return 1;
}

/* trainable values, as sum(p.numel() for p in model.parameters()): BatchNorm
 * buffers are not counted */
static int net_nparams(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    lua_pushinteger(L, (lua_Integer)(llfc_net_nparams_total(net) - llfc_net_nbuffer_values(net)));
    return 1;
}

/* net:widths() -> {784, 512, ..., 10} */
static int net_widths(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    lua_createtable(L, net->nfeat + 1, 0);
    for (int l = 0; l <= net->nfeat; l++) {
        lua_pushinteger(L, (lua_Integer)net->widths[l]);
        lua_rawseti(L, -2, l + 1);
    }
    return 1;
}

/* net:info() -> {arch = "mlp" | "cnn", config = "...", widths = {...}, act = "relu", nparams = N, layers = N} */
static int net_info(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, llfc_net_arch(net));
    lua_setfield(L, -2, "arch");
    lua_pushstring(L, net->config);
    lua_setfield(L, -2, "config");
    net_widths(L);
    lua_setfield(L, -2, "widths");
    lua_pushstring(L, llfc_net_act(net));
    lua_setfield(L, -2, "act");
    lua_pushinteger(L, (lua_Integer)(llfc_net_nparams_total(net) - llfc_net_nbuffer_values(net)));
    lua_setfield(L, -2, "nparams");
    lua_pushinteger(L, net->nfeat);
    lua_setfield(L, -2, "layers");
    return 1;
}

/* "conv3x3/2 16 -> 32", "linear 784 -> 512", "relu (h1)" ... */
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
    case LLFC_OP_MAXPOOL: snprintf(buf, n, "maxpool%dx%d", o->R, o->R); break;
    case LLFC_OP_GAP: snprintf(buf, n, "global avgpool"); break;
    case LLFC_OP_ADD:
        snprintf(buf, n, "add %s + %s", o->in > 0 ? net->ops[o->in - 1].name : "input",
                 o->in2 > 0 ? net->ops[o->in2 - 1].name : "input");
        break;
    case LLFC_OP_LINEAR: snprintf(buf, n, "linear %d -> %d", o->C * o->H * o->W, o->K); break;
    default: snprintf(buf, n, "%s", llfc_op_kind_name(o->kind)); break;
    }
    size_t len = strlen(buf);
    if (o->feat >= 0 && len < n) snprintf(buf + len, n - len, " (feature %s)", o->fname);
}

static int64_t numel_or0(const llfc_net *net, int p) { return p >= 0 ? llfc_tensor_numel(net->param[p]) : 0; }

/* tostring(net): the title, the parameter count, then one line per op */
static int net_tostring(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, LLFC_NET_MT);
    llfc_net *net = *box;
    if (!net) { lua_pushstring(L, "llfc.Net (freed)"); return 1; }
    int64_t nbuf = llfc_net_nbuffer_values(net), ntrain = llfc_net_nparams_total(net) - nbuf;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char line[400], title[300];
    snprintf(line, sizeof line, "llfc.Net %s\n  %lld parameters", llfc_net_title(net, title, sizeof title),
             (long long)ntrain);
    luaL_addstring(&b, line);
    if (nbuf) {
        snprintf(line, sizeof line, " (+ %lld values in BatchNorm buffers)", (long long)nbuf);
        luaL_addstring(&b, line);
    }
    snprintf(line, sizeof line, "\n  %-26s %-44s %-12s %9s\n", "name", "module", "output", "params");
    luaL_addstring(&b, line);
    for (int i = 0; i < net->nops; i++) {
        const llfc_op *o = &net->ops[i];
        char mod[128], out[32], par[24] = "";
        describe(net, o, mod, sizeof mod);
        if (o->P == 1 && o->Q == 1) snprintf(out, sizeof out, "%d", o->K);
        else snprintf(out, sizeof out, "%dx%dx%d", o->K, o->P, o->Q);
        int64_t np = numel_or0(net, o->pw) + numel_or0(net, o->pb);
        if (np) snprintf(par, sizeof par, "%lld", (long long)np);
        snprintf(line, sizeof line, "  %-26s %-44s %-12s %9s\n", o->name, mod, out, par);
        luaL_addstring(&b, line);
    }
    lb_pushresult_chomp(&b);
    return 1;
}

/* __index: the read-only fields net.arch ("mlp" or "cnn") and net.config
 * (the builder's description), else a method */
static int net_index(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    const char *k = lua_tostring(L, 2);
    if (k && !strcmp(k, "arch")) { lua_pushstring(L, llfc_net_arch(net)); return 1; }
    if (k && !strcmp(k, "config")) { lua_pushstring(L, net->config); return 1; }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int net_eq(lua_State *L)
{
    lua_pushboolean(L, lb_tonet(L, 1) == lb_tonet(L, 2));
    return 1;
}

/* nn.lerp(a, b, alpha) = alpha*a + (1-alpha)*b (alpha = 1 is a). */
static int nn_lerp(lua_State *L)
{
    llfc_net *a = lb_checknet(L, 1), *b = lb_checknet(L, 2);
    lua_Number alpha = luaL_checknumber(L, 3);
    luaL_argcheck(L, isfinite(alpha), 3, "alpha must be a finite number");
    llfc_net *out = llfc_net_lerp(a, b, alpha);
    if (!out) return lb_error(L, "nn.lerp");
    lb_pushnet(L, out);
    return 1;
}

/* ---- evaluation ------------------------------------------------------------------ */
static int eval_tostring(lua_State *L)
{
    lua_getfield(L, 1, "err");
    lua_getfield(L, 1, "loss");
    lua_getfield(L, 1, "n");
    char buf[160];
    snprintf(buf, sizeof buf, "eval: error %.2f%% (err = %.4f), loss %.4f, n = %lld", 100.0 * lua_tonumber(L, -3),
             lua_tonumber(L, -3), lua_tonumber(L, -2), (long long)lua_tointeger(L, -1));
    lua_pushstring(L, buf);
    return 1;
}

static void lnn_push_eval(lua_State *L, const llfc_eval_result *r)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, "eval");
    lua_setfield(L, -2, "kind");
    lua_pushnumber(L, r->err);
    lua_setfield(L, -2, "err");
    lua_pushnumber(L, 1.0 - r->err);
    lua_setfield(L, -2, "acc");
    lua_pushnumber(L, r->loss);
    lua_setfield(L, -2, "loss");
    lua_pushinteger(L, (lua_Integer)r->n);
    lua_setfield(L, -2, "n");
    if (luaL_newmetatable(L, "llfc.EvalResult")) {
        lua_pushcfunction(L, eval_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

/* net:eval(ds [, {batch = 1000, n = N}]) -> {err =, loss =, n =, acc =} */
static int net_eval(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    static const char *const names[] = {"batch", "n", NULL};
    lb_checktypos(L, 3, names, "eval");
    lua_Integer batch = lb_optinteger(L, 3, "batch", 1000, "eval");
    lua_Integer n = lb_optinteger(L, 3, "n", ds->n, "eval");
    if (n > ds->n) n = ds->n;
    if (ds->dim != llfc_net_input_dim(net))
        return luaL_error(L, "eval: the dataset has %d features per sample, the network takes %d", (int)ds->dim,
                          (int)llfc_net_input_dim(net));
    if (ds->nclasses > llfc_net_num_classes(net))
        return luaL_error(L, "eval: the dataset has %d classes, the network outputs %d", ds->nclasses,
                          (int)llfc_net_num_classes(net));
    llfc_eval_result r;
    double t0 = llfc_now();
    if (llfc_net_eval(net, ds->x, ds->y, n, batch, &r, lb_progress_fn, NULL)) {
        if (llfc_interrupted()) llfc_interrupt_clear();
        return lb_error(L, "eval");
    }
    lnn_push_eval(L, &r);
    lua_pushnumber(L, llfc_now() - t0);
    lua_setfield(L, -2, "seconds");
    return 1;
}

/* nn.gemm_rate([n = 1024 [, reps = 3]]) -> GFLOP/s of an n x n x n product
 * through llfc_gemm (the machine's sgemm rate with the current threads). */
static int nn_gemm_rate(lua_State *L)
{
    lua_Integer n = luaL_optinteger(L, 1, 1024), reps = luaL_optinteger(L, 2, 3);
    luaL_argcheck(L, n >= 16 && n <= 8192, 1, "n must be in [16, 8192]");
    luaL_argcheck(L, reps >= 1 && reps <= 1000, 2, "reps must be in [1, 1000]");
    float *a = llfc_mallocarray((size_t)(3 * n * n), sizeof(float));
    if (!a) return lb_error(L, "nn.gemm_rate");
    for (lua_Integer i = 0; i < 3 * n * n; i++) a[i] = (float)(i % 7) * 0.25f;
    float *b = a + n * n, *c = b + n * n;
    llfc_gemm(0, 0, (int)n, (int)n, (int)n, 1.0f, a, (int)n, b, (int)n, 0.0f, c, (int)n); /* warm up */
    double t0 = llfc_now();
    for (lua_Integer r = 0; r < reps; r++)
        llfc_gemm(0, 0, (int)n, (int)n, (int)n, 1.0f, a, (int)n, b, (int)n, 0.0f, c, (int)n);
    double dt = llfc_now() - t0;
    free(a);
    lua_pushnumber(L, 2.0 * (double)n * (double)n * (double)n * (double)reps / dt / 1e9);
    return 1;
}

/* ---- module ---------------------------------------------------------------------- */
static const luaL_Reg net_methods[] = {
    {"forward", net_forward}, {"features", net_features}, {"clone", net_clone}, {"like", net_like},
    {"params", net_params},   {"nparams", net_nparams},   {"widths", net_widths},
    {"info", net_info},       {"eval", net_eval},         {NULL, NULL},
};

static const luaL_Reg net_meta[] = {
    {"__tostring", net_tostring},
    {"__eq", net_eq},
    {NULL, NULL},
};

static const luaL_Reg nn_funcs[] = {
    {"lerp", nn_lerp},
    {"gemm_rate", nn_gemm_rate},
    {NULL, NULL},
};


int llfc_open_nn(lua_State *L)
{
    lb_newtype(L, LLFC_NET_MT, net_methods, net_meta);
    luaL_getmetatable(L, LLFC_NET_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, lnn_train_methods, 0);
    /* __index becomes a function serving net.arch and net.config; the
     * methods stay in mt.methods (lb_newtype adds later ones there) */
    lua_pushcclosure(L, net_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, nn_funcs, 0);
    luaL_setfuncs(L, lnn_train_funcs, 0);
    luaL_setfuncs(L, lnn_build_funcs, 0);
    lnn_open_trainer(L);
    return 1;
}
