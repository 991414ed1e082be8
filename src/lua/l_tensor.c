/* l_tensor.c - Lua binding of the tensor module: constructors, the
 * llfc.Tensor methods and metamethods.
 *
 * Thin: check arguments, convert 1-based Lua indices to the core's 0-based
 * ones, call the core, push the result.  A new tensor is pushed (and so owned
 * by the Lua GC) before anything that can raise touches it, so errors never
 * leak memory.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbind.h"
#include "io/npy.h"

#define check(L, i) lb_checktensor(L, i)

/* luaL_error with C printf formats (%lld, %g ...). */
static int errorf(lua_State *L, const char *fmt, ...) LLFC_PRINTF(2, 3);
static int errorf(lua_State *L, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, buf);
    lua_concat(L, 2);
    return lua_error(L);
}

static char *shape_of(const llfc_tensor *t, char *buf) { return llfc_tensor_shape_str(t, buf, 96); }

/* Push r, or raise the core's error as "fname: message". */
static int push(lua_State *L, llfc_tensor *r, const char *fname)
{
    if (!r) return lb_error(L, fname);
    lb_pushtensor(L, r);
    return 1;
}

/* An integer argument, with an error naming the function and what it is. */
static lua_Integer int_arg(lua_State *L, int idx, const char *fname, const char *what)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) {
        if (lua_type(L, idx) == LUA_TNUMBER)
            errorf(L, "%s: %s must be an integer, got %s", fname, what, lua_tolstring(L, idx, NULL));
        else
            errorf(L, "%s: %s must be an integer, got %s", fname, what, luaL_typename(L, idx));
    }
    return v;
}

static float num_arg(lua_State *L, int idx, const char *fname, const char *what)
{
    int ok;
    lua_Number v = lua_tonumberx(L, idx, &ok);
    if (!ok) errorf(L, "%s: %s must be a number, got %s", fname, what, luaL_typename(L, idx));
    return (float)v;
}

/* Sizes from arguments first..last (integers) or from one table at first.
 * Returns the number of dimensions. */
static int get_sizes_x(lua_State *L, int first, int last, int64_t *size, const char *fname, int allow_neg)
{
    int n = 0;
    if (lua_istable(L, first)) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, first);
        if (len > LLFC_MAXDIM) errorf(L, "%s: %d dimensions, at most %d are supported", fname, (int)len, LLFC_MAXDIM);
        for (n = 0; n < len; n++) {
            lua_rawgeti(L, first, n + 1);
            char what[32];
            snprintf(what, sizeof what, "size %d", n + 1);
            size[n] = int_arg(L, -1, fname, what);
            lua_pop(L, 1);
        }
    } else {
        if (last - first + 1 > LLFC_MAXDIM)
            errorf(L, "%s: %d dimensions, at most %d are supported", fname, last - first + 1, LLFC_MAXDIM);
        for (int i = first; i <= last; i++) {
            char what[32];
            snprintf(what, sizeof what, "size %d", n + 1);
            size[n++] = int_arg(L, i, fname, what);
        }
    }
    for (int d = 0; d < n && !allow_neg; d++)
        if (size[d] < 0) errorf(L, "%s: negative size %lld for dimension %d", fname, (long long)size[d], d + 1);
    return n;
}

static int get_sizes(lua_State *L, int first, int last, int64_t *size, const char *fname)
{
    return get_sizes_x(L, first, last, size, fname, 0);
}

/* A 1-based dimension argument -> 0-based. */
static int dim_arg(lua_State *L, int idx, const llfc_tensor *t, const char *fname)
{
    lua_Integer d = int_arg(L, idx, fname, "dimension");
    if (d < 1 || d > t->ndim) {
        char s[96];
        errorf(L, "%s: dimension %lld out of range for a %d-d tensor (%s)", fname, (long long)d, t->ndim,
                   shape_of(t, s));
    }
    return (int)d - 1;
}

/* ---- constructors ------------------------------------------------------------- */

/* Find the shape of a nested table by following first elements. */
static int nested_shape(lua_State *L, int idx, int64_t *size)
{
    int ndim = 0;
    lua_pushvalue(L, idx);
    for (;;) {
        if (ndim >= LLFC_MAXDIM) errorf(L, "new: nesting deeper than %d levels", LLFC_MAXDIM);
        size[ndim++] = (int64_t)lua_rawlen(L, -1);
        if (size[ndim - 1] == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
        if (!lua_istable(L, -1)) break;
    }
    lua_pop(L, 1);
    return ndim;
}

static void nested_where(char *buf, size_t n, const int64_t *path, int depth)
{
    size_t u = 0;
    buf[0] = 0;
    for (int d = 0; d < depth && u < n; d++) u += snprintf(buf + u, n - u, "[%lld]", (long long)path[d] + 1);
}

static void nested_fill(lua_State *L, int level, int ndim, const int64_t *size, float **out, int64_t *path)
{
    char where[128];
    for (int64_t i = 0; i < size[level]; i++) {
        path[level] = i;
        lua_rawgeti(L, -1, i + 1);
        if (level + 1 < ndim) {
            nested_where(where, sizeof where, path, level + 1);
            if (!lua_istable(L, -1))
                errorf(L, "new: element %s is a %s, expected a table of %lld (ragged nesting)", where,
                           luaL_typename(L, -1), (long long)size[level + 1]);
            if ((int64_t)lua_rawlen(L, -1) != size[level + 1])
                errorf(L, "new: element %s has %lld entries, expected %lld (ragged nesting)", where,
                           (long long)lua_rawlen(L, -1), (long long)size[level + 1]);
            nested_fill(L, level + 1, ndim, size, out, path);
        } else {
            int ok;
            lua_Number v = lua_tonumberx(L, -1, &ok);
            if (!ok || lua_type(L, -1) != LUA_TNUMBER) {
                nested_where(where, sizeof where, path, level + 1);
                errorf(L, "new: element %s is a %s, expected a number", where, luaL_typename(L, -1));
            }
            *(*out)++ = (float)v;
        }
        lua_pop(L, 1);
    }
}

static int t_new(lua_State *L)
{
    llfc_tensor *src = lb_totensor(L, 1);
    if (src) return push(L, llfc_tensor_clone(src), "new");
    if (lua_type(L, 1) == LUA_TNUMBER) return push(L, llfc_tensor_full(0, NULL, (float)lua_tonumber(L, 1)), "new");
    if (!lua_istable(L, 1))
        return errorf(L, "new: expected a (nested) table of numbers, got %s", luaL_typename(L, 1));
    int64_t size[LLFC_MAXDIM], path[LLFC_MAXDIM];
    int ndim = nested_shape(L, 1, size);
    llfc_tensor *t = llfc_tensor_new(ndim, size);
    if (!t) return lb_error(L, "new");
    lb_pushtensor(L, t); /* owned by Lua from here on */
    float *out = llfc_tensor_data(t);
    lua_pushvalue(L, 1);
    nested_fill(L, 0, ndim, size, &out, path);
    lua_pop(L, 1);
    return 1;
}

static int t_zeros(lua_State *L)
{
    int64_t size[LLFC_MAXDIM];
    int n = get_sizes(L, 1, lua_gettop(L), size, "zeros");
    return push(L, llfc_tensor_new(n, size), "zeros");
}

static int t_ones(lua_State *L)
{
    int64_t size[LLFC_MAXDIM];
    int n = get_sizes(L, 1, lua_gettop(L), size, "ones");
    return push(L, llfc_tensor_full(n, size, 1.0f), "ones");
}

static int t_full(lua_State *L)
{
    int top = lua_gettop(L);
    if (top < 1) return errorf(L, "full: expected sizes and a value");
    float v = num_arg(L, top, "full", "the fill value (last argument)");
    int64_t size[LLFC_MAXDIM];
    int n = top > 1 ? get_sizes(L, 1, top - 1, size, "full") : 0;
    return push(L, llfc_tensor_full(n, size, v), "full");
}

static int t_arange(lua_State *L)
{
    double start = 0, stop, step = 1;
    if (lua_gettop(L) <= 1) stop = luaL_checknumber(L, 1);
    else {
        start = luaL_checknumber(L, 1);
        stop = luaL_checknumber(L, 2);
        step = luaL_optnumber(L, 3, 1);
    }
    return push(L, llfc_tensor_arange(start, stop, step), "arange");
}

static int t_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    lua_Integer n = lua_isnoneornil(L, 3) ? 100 : int_arg(L, 3, "linspace", "the number of points");
    return push(L, llfc_tensor_linspace(a, b, n), "linspace");
}

/* rand(d1, ..., [{seed = s}]) or rand({d1, ...}, [seed]) */
static int random_ctor(lua_State *L, int normal)
{
    const char *fname = normal ? "randn" : "rand";
    int top = lua_gettop(L), last = top;
    lua_Integer seed = 0;
    int64_t size[LLFC_MAXDIM];
    if (top >= 2 && lua_istable(L, top)) {
        seed = lb_optinteger(L, top, "seed", 0, fname);
        last = top - 1;
    } else if (top >= 2 && lua_istable(L, 1)) {
        seed = int_arg(L, 2, fname, "the seed");
        last = 1;
    }
    int n = get_sizes(L, 1, last, size, fname);
    return push(L, (normal ? llfc_tensor_randn : llfc_tensor_rand)(n, size, (uint64_t)seed), fname);
}
static int t_rand(lua_State *L) { return random_ctor(L, 0); }
static int t_randn(lua_State *L) { return random_ctor(L, 1); }

static int t_load(lua_State *L)
{
    const char *path = lb_checkpath(L, 1);
    llfc_tensor *t = llfc_npy_load(path);
    if (!t) return lb_fail(L, "load");
    lb_pushtensor(L, t);
    return 1;
}

static int t_is(lua_State *L)
{
    lua_pushboolean(L, lb_totensor(L, 1) != NULL);
    return 1;
}

/* ---- shape and element access ------------------------------------------------------ */

static int m_size(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_createtable(L, t->ndim, 0);
        for (int d = 0; d < t->ndim; d++) {
            lua_pushinteger(L, t->size[d]);
            lua_rawseti(L, -2, d + 1);
        }
        return 1;
    }
    lua_pushinteger(L, t->size[dim_arg(L, 2, t, "size")]);
    return 1;
}

static int m_shape(lua_State *L)
{
    lua_settop(L, 1);
    return m_size(L);
}

static int m_dim(lua_State *L) { lua_pushinteger(L, check(L, 1)->ndim); return 1; }
static int m_numel(lua_State *L) { lua_pushinteger(L, llfc_tensor_numel(check(L, 1))); return 1; }
static int m_iscontiguous(lua_State *L) { lua_pushboolean(L, llfc_tensor_is_contiguous(check(L, 1))); return 1; }

static int mm_len(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    if (t->ndim == 0) return errorf(L, "#: a 0-d tensor has no length (use numel)");
    lua_pushinteger(L, t->size[0]);
    return 1;
}

/* Element pointer from 1-based index arguments first..first+ndim-1. */
static float *element(lua_State *L, llfc_tensor *t, int first, int nidx, const char *fname)
{
    char s[96];
    if (nidx != t->ndim)
        errorf(L, "%s: %d %s for a %d-d tensor (%s)", fname, nidx, nidx == 1 ? "index" : "indices", t->ndim,
                   shape_of(t, s));
    int64_t idx[LLFC_MAXDIM];
    for (int d = 0; d < t->ndim; d++) {
        char what[32];
        snprintf(what, sizeof what, "index %d", d + 1);
        lua_Integer i = int_arg(L, first + d, fname, what);
        if (i < 1 || i > t->size[d])
            errorf(L, "%s: index %lld out of range for dimension %d of size %lld (tensor %s)", fname,
                       (long long)i, d + 1, (long long)t->size[d], shape_of(t, s));
        idx[d] = i - 1;
    }
    return llfc_tensor_ptr(t, idx);
}

static int m_get(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    lua_pushnumber(L, *element(L, t, 2, lua_gettop(L) - 1, "get"));
    return 1;
}

static int m_set(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    int top = lua_gettop(L);
    if (top < 2) return errorf(L, "set: expected indices and a value");
    float v = num_arg(L, top, "set", "the value (last argument)");
    *element(L, t, 2, top - 2, "set") = v;
    lua_settop(L, 1);
    return 1;
}

/* ---- views -------------------------------------------------------------------------- */

static int m_narrow(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    int d = dim_arg(L, 2, t, "narrow");
    lua_Integer start = int_arg(L, 3, "narrow", "start"), len = int_arg(L, 4, "narrow", "length");
    if (start < 1 || len < 0 || start - 1 > t->size[d] || len > t->size[d] - (start - 1)) {
        char s[96];
        return errorf(L, "narrow: start %lld, length %lld out of range for dimension %d of size %lld (tensor %s)",
                          (long long)start, (long long)len, d + 1, (long long)t->size[d], shape_of(t, s));
    }
    return push(L, llfc_tensor_narrow(t, d, start - 1, len), "narrow");
}

static int m_select(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    int d = dim_arg(L, 2, t, "select");
    lua_Integer i = int_arg(L, 3, "select", "index");
    if (i < 1 || i > t->size[d]) {
        char s[96];
        return errorf(L, "select: index %lld out of range for dimension %d of size %lld (tensor %s)",
                          (long long)i, d + 1, (long long)t->size[d], shape_of(t, s));
    }
    return push(L, llfc_tensor_select(t, d, i - 1), "select");
}

static int m_transpose(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    if (lua_isnoneornil(L, 2) && t->ndim != 2) {
        char s[96];
        return errorf(L, "transpose: give two dimensions for a %d-d tensor (%s)", t->ndim, shape_of(t, s));
    }
    int d1 = lua_isnoneornil(L, 2) ? 0 : dim_arg(L, 2, t, "transpose");
    int d2 = lua_isnoneornil(L, 3) ? 1 : dim_arg(L, 3, t, "transpose");
    return push(L, llfc_tensor_transpose(t, d1, d2), "transpose");
}

static int m_t(lua_State *L) { return push(L, llfc_tensor_t(check(L, 1)), "t"); }

static int reshape_common(lua_State *L, int copy)
{
    const char *fname = copy ? "reshape" : "view";
    llfc_tensor *t = check(L, 1);
    int64_t size[LLFC_MAXDIM];
    int top = lua_gettop(L);
    int n = top < 2 ? 0 : get_sizes_x(L, 2, top, size, fname, 1);
    return push(L, (copy ? llfc_tensor_reshape : llfc_tensor_view)(t, n, size), fname);
}

static int m_view(lua_State *L) { return reshape_common(L, 0); }
static int m_reshape(lua_State *L) { return reshape_common(L, 1); }
static int m_contiguous(lua_State *L) { return push(L, llfc_tensor_contiguous(check(L, 1)), "contiguous"); }
static int m_clone(lua_State *L) { return push(L, llfc_tensor_clone(check(L, 1)), "clone"); }

static int m_copy(lua_State *L)
{
    llfc_tensor *t = check(L, 1), *src = check(L, 2);
    if (llfc_tensor_copy(t, src)) return lb_error(L, "copy");
    lua_settop(L, 1);
    return 1;
}

static int m_fill(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    if (llfc_tensor_fill(t, num_arg(L, 2, "fill", "the value"))) return lb_error(L, "fill");
    lua_settop(L, 1);
    return 1;
}

/* ---- arithmetic -------------------------------------------------------------------------- */

static const char *const opnames[] = {"add", "sub", "mul", "div"};

/* a op b with a tensor on at least one side (metamethods). */
static int arith(lua_State *L, int op)
{
    llfc_tensor *a = lb_totensor(L, 1), *b = lb_totensor(L, 2);
    const char *fname = opnames[op];
    for (int i = 1; i <= 2; i++) {
        void **box = luaL_testudata(L, i, LLFC_TENSOR_MT);
        if (box && !*box) return errorf(L, "%s: operand %d is a freed tensor", fname, i);
    }
    if (a && b) return push(L, llfc_tensor_binop(op, a, b), fname);
    /* called directly (getmetatable(t).__mul(2, 3)), neither operand may be a tensor */
    if (!a && !b) return errorf(L, "%s: neither operand is a tensor (%s and %s)", fname, luaL_typename(L, 1), luaL_typename(L, 2));
    int ti = a ? 1 : 2, ni = a ? 2 : 1;
    if (lua_type(L, ni) != LUA_TNUMBER)
        return errorf(L, "%s: cannot combine a tensor with a %s", fname, luaL_typename(L, ni));
    return push(L, llfc_tensor_binop_scalar(op, a ? a : b, (float)lua_tonumber(L, ni), ti == 2), fname);
}
static int mm_add(lua_State *L) { return arith(L, LLFC_BINOP_ADD); }
static int mm_sub(lua_State *L) { return arith(L, LLFC_BINOP_SUB); }
static int mm_mul(lua_State *L) { return arith(L, LLFC_BINOP_MUL); }
static int mm_div(lua_State *L) { return arith(L, LLFC_BINOP_DIV); }
static int mm_unm(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_NEG, check(L, 1)), "unm"); }

/* t:add(u [, alpha]) / t:add(number): in place, returns t. */
static int inplace(lua_State *L, int op)
{
    const char *fname = opnames[op];
    llfc_tensor *t = check(L, 1);
    int rc;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        rc = llfc_tensor_binop_scalar_(op, t, (float)lua_tonumber(L, 2));
    } else {
        llfc_tensor *u = lb_totensor(L, 2);
        if (!u) {
            if (luaL_testudata(L, 2, LLFC_TENSOR_MT)) return errorf(L, "%s: argument 1 is a freed tensor", fname);
            return errorf(L, "%s: expected a tensor or a number, got %s", fname, luaL_typename(L, 2));
        }
        float alpha = 1.0f;
        if (!lua_isnoneornil(L, 3)) {
            if (op == LLFC_BINOP_MUL || op == LLFC_BINOP_DIV)
                return errorf(L, "%s: takes no scale factor (alpha is for add and sub)", fname);
            alpha = num_arg(L, 3, fname, "alpha");
        }
        rc = llfc_tensor_binop_(op, t, u, alpha);
    }
    if (rc) return lb_error(L, fname);
    lua_settop(L, 1);
    return 1;
}
static int m_add(lua_State *L) { return inplace(L, LLFC_BINOP_ADD); }
static int m_sub(lua_State *L) { return inplace(L, LLFC_BINOP_SUB); }
static int m_mul(lua_State *L) { return inplace(L, LLFC_BINOP_MUL); }
static int m_div(lua_State *L) { return inplace(L, LLFC_BINOP_DIV); }

static int m_neg(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_NEG, check(L, 1)), "neg"); }
static int m_exp(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_EXP, check(L, 1)), "exp"); }
static int m_log(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_LOG, check(L, 1)), "log"); }
static int m_relu(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_RELU, check(L, 1)), "relu"); }
static int m_abs(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_ABS, check(L, 1)), "abs"); }
static int m_sqrt(lua_State *L) { return push(L, llfc_tensor_unary(LLFC_UNOP_SQRT, check(L, 1)), "sqrt"); }

static int compare(lua_State *L, int op)
{
    static const char *const names[] = {"eq", "lt", "gt", "le", "ge"};
    llfc_tensor *t = check(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) return push(L, llfc_tensor_cmp_scalar(op, t, (float)lua_tonumber(L, 2)), names[op]);
    llfc_tensor *u = lb_totensor(L, 2);
    if (!u) return errorf(L, "%s: expected a tensor or a number, got %s", names[op], luaL_typename(L, 2));
    return push(L, llfc_tensor_cmp(op, t, u), names[op]);
}
static int m_eq(lua_State *L) { return compare(L, LLFC_CMP_EQ); }
static int m_lt(lua_State *L) { return compare(L, LLFC_CMP_LT); }
static int m_gt(lua_State *L) { return compare(L, LLFC_CMP_GT); }
static int m_le(lua_State *L) { return compare(L, LLFC_CMP_LE); }
static int m_ge(lua_State *L) { return compare(L, LLFC_CMP_GE); }

/* ---- reductions ------------------------------------------------------------------------- */

/* t:sum([dim]) etc.  want: 0 value(s) only, 1 values and 1-based indices,
 * 2 indices only. */
static int reduce(lua_State *L, int op, const char *fname, int want)
{
    llfc_tensor *t = check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        double v;
        int64_t idx = 0;
        if (llfc_tensor_reduce_all(op, t, &v, &idx)) return lb_error(L, fname);
        if (want == 2) { lua_pushinteger(L, idx + 1); return 1; }
        lua_pushnumber(L, v);
        if (want == 1) { lua_pushinteger(L, idx + 1); return 2; }
        return 1;
    }
    int d = dim_arg(L, 2, t, fname);
    llfc_tensor *ix = NULL;
    llfc_tensor *r = llfc_tensor_reduce_dim(op, t, d, want ? &ix : NULL);
    if (!r) return lb_error(L, fname);
    if (ix) llfc_tensor_binop_scalar_(LLFC_BINOP_ADD, ix, 1.0f); /* 1-based */
    if (want == 2) {
        llfc_tensor_free(r);
        return push(L, ix, fname);
    }
    lb_pushtensor(L, r);
    if (want == 1) { lb_pushtensor(L, ix); return 2; }
    return 1;
}
static int m_sum(lua_State *L) { return reduce(L, LLFC_RED_SUM, "sum", 0); }
static int m_mean(lua_State *L) { return reduce(L, LLFC_RED_MEAN, "mean", 0); }
static int m_norm(lua_State *L) { return reduce(L, LLFC_RED_NORM, "norm", 0); }
static int m_max(lua_State *L) { return reduce(L, LLFC_RED_MAX, "max", 1); }
static int m_min(lua_State *L) { return reduce(L, LLFC_RED_MIN, "min", 1); }
static int m_argmax(lua_State *L) { return reduce(L, LLFC_RED_MAX, "argmax", 2); }
static int m_argmin(lua_State *L) { return reduce(L, LLFC_RED_MIN, "argmin", 2); }

static int m_dot(lua_State *L)
{
    double v;
    if (llfc_tensor_dot(check(L, 1), check(L, 2), &v)) return lb_error(L, "dot");
    lua_pushnumber(L, v);
    return 1;
}

static int m_mm(lua_State *L) { return push(L, llfc_tensor_mm(check(L, 1), check(L, 2)), "mm"); }

/* ---- conversion, files, printing ----------------------------------------------------------- */

static void totable_rec(lua_State *L, const llfc_tensor *t, int level, int64_t *idx)
{
    lua_createtable(L, (int)(t->size[level] < INT32_MAX ? t->size[level] : 0), 0);
    for (int64_t i = 0; i < t->size[level]; i++) {
        idx[level] = i;
        if (level + 1 < t->ndim) totable_rec(L, t, level + 1, idx);
        else lua_pushnumber(L, *llfc_tensor_ptr(t, idx));
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_totable(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    int64_t idx[LLFC_MAXDIM] = {0};
    if (t->ndim == 0) { lua_pushnumber(L, *llfc_tensor_data(t)); return 1; }
    luaL_checkstack(L, t->ndim + 4, "totable");
    totable_rec(L, t, 0, idx);
    return 1;
}

static int m_save(lua_State *L)
{
    llfc_tensor *t = check(L, 1);
    const char *path = lb_checkpath(L, 2);
    if (llfc_npy_save(path, t)) return lb_fail(L, "save");
    lua_pushboolean(L, 1);
    return 1;
}

static int m_print(lua_State *L)
{
    char *s = llfc_tensor_format(check(L, 1));
    if (!s) return lb_error(L, "print");
    lua_writestring(s, strlen(s));
    fflush(stdout);
    free(s);
    return 0;
}

static int mm_tostring(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, LLFC_TENSOR_MT);
    if (!*box) { lua_pushliteral(L, "Tensor (freed)"); return 1; }
    char buf[512];
    lua_pushstring(L, llfc_tensor_summary(*box, buf, sizeof buf));
    return 1;
}

int llfc_open_tensor(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"size", m_size},         {"shape", m_shape},       {"dim", m_dim},
        {"numel", m_numel},       {"is_contiguous", m_iscontiguous},
        {"get", m_get},           {"set", m_set},           {"narrow", m_narrow},
        {"select", m_select},     {"transpose", m_transpose}, {"t", m_t},
        {"view", m_view},         {"reshape", m_reshape},   {"contiguous", m_contiguous},
        {"clone", m_clone},       {"copy", m_copy},         {"fill", m_fill},
        {"add", m_add},           {"sub", m_sub},           {"mul", m_mul},
        {"div", m_div},           {"neg", m_neg},           {"exp", m_exp},
        {"log", m_log},           {"relu", m_relu},         {"abs", m_abs},
        {"sqrt", m_sqrt},         {"eq", m_eq},             {"lt", m_lt},
        {"gt", m_gt},             {"le", m_le},             {"ge", m_ge},
        {"sum", m_sum},           {"mean", m_mean},         {"max", m_max},
        {"min", m_min},           {"argmax", m_argmax},     {"argmin", m_argmin},
        {"norm", m_norm},         {"dot", m_dot},           {"mm", m_mm},
        {"totable", m_totable},   {"save", m_save},         {"print", m_print},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__add", mm_add}, {"__sub", mm_sub}, {"__mul", mm_mul}, {"__div", mm_div},
        {"__unm", mm_unm}, {"__len", mm_len}, {"__tostring", mm_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"new", t_new},       {"zeros", t_zeros}, {"ones", t_ones},   {"full", t_full},
        {"arange", t_arange}, {"linspace", t_linspace}, {"rand", t_rand}, {"randn", t_randn},
        {"load", t_load},     {"is", t_is},
        {NULL, NULL},
    };
    lb_newtype(L, LLFC_TENSOR_MT, methods, metamethods);
    luaL_newlib(L, funcs);
    return 1;
}
