/* lbind.c - helpers shared by the Lua bindings. */
#include "lbind.h"

#include <string.h>

int lb_error(lua_State *L, const char *fname)
{
    return luaL_error(L, "%s: %s", fname, llfc_errmsg());
}

int lb_fail(lua_State *L, const char *fname)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", fname, llfc_errmsg());
    return 2;
}

static int box_gc(lua_State *L)
{
    void **box = lua_touserdata(L, 1);
    if (!box || !*box) return 0;
    if (luaL_testudata(L, 1, LLFC_TENSOR_MT)) llfc_tensor_free(*box);
    else if (luaL_testudata(L, 1, LLFC_NET_MT)) llfc_net_free(*box);
    else if (luaL_testudata(L, 1, LLFC_DATASET_MT)) llfc_dataset_release(*box);
    *box = NULL;
    return 0;
}

void lb_newtype(lua_State *L, const char *mtname, const luaL_Reg *methods, const luaL_Reg *metamethods)
{
    luaL_newmetatable(L, mtname);
    if (metamethods) luaL_setfuncs(L, metamethods, 0);
    lua_getfield(L, -1, "__gc");
    if (lua_isnil(L, -1)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -3, "__gc");
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "__close");
    if (lua_isnil(L, -1)) {
        lua_getfield(L, -2, "__gc");
        lua_setfield(L, -3, "__close");
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "__index");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__index");
    }
    if (methods && lua_istable(L, -1)) luaL_setfuncs(L, methods, 0);
    else if (methods && lua_getfield(L, -2, "methods") == LUA_TTABLE) {
        /* __index is a function serving fields: methods go to mt.methods */
        luaL_setfuncs(L, methods, 0);
        lua_pop(L, 1);
    } else if (methods) lua_pop(L, 1);
    /* mt.methods is the method table even when a module later replaces
     * __index by a function (help() and completion read it) */
    if (lua_istable(L, -1) && lua_getfield(L, -2, "methods") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods");
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

static void *checkbox(lua_State *L, int idx, const char *mt, const char *what)
{
    void **box = luaL_checkudata(L, idx, mt);
    if (!*box) luaL_argerror(L, idx, lua_pushfstring(L, "%s has been freed", what));
    return *box;
}

static void *tobox(lua_State *L, int idx, const char *mt)
{
    void **box = luaL_testudata(L, idx, mt);
    return box ? *box : NULL;
}

static void pushbox(lua_State *L, void *p, const char *mt)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 1);
    *box = p;
    if (luaL_getmetatable(L, mt) == LUA_TNIL) { /* module not opened: minimal type */
        lua_pop(L, 1);
        lb_newtype(L, mt, NULL, NULL);
        luaL_getmetatable(L, mt);
    }
    lua_setmetatable(L, -2);
}

llfc_tensor *lb_totensor(lua_State *L, int idx) { return tobox(L, idx, LLFC_TENSOR_MT); }
llfc_tensor *lb_checktensor(lua_State *L, int idx) { return checkbox(L, idx, LLFC_TENSOR_MT, "tensor"); }
void lb_pushtensor(lua_State *L, llfc_tensor *t) { pushbox(L, t, LLFC_TENSOR_MT); }
llfc_net *lb_tonet(lua_State *L, int idx) { return tobox(L, idx, LLFC_NET_MT); }
llfc_net *lb_checknet(lua_State *L, int idx) { return checkbox(L, idx, LLFC_NET_MT, "network"); }
void lb_pushnet(lua_State *L, llfc_net *net) { pushbox(L, net, LLFC_NET_MT); }
llfc_dataset *lb_todataset(lua_State *L, int idx) { return tobox(L, idx, LLFC_DATASET_MT); }
llfc_dataset *lb_checkdataset(lua_State *L, int idx) { return checkbox(L, idx, LLFC_DATASET_MT, "dataset"); }
void lb_pushdataset(lua_State *L, llfc_dataset *ds) { pushbox(L, ds, LLFC_DATASET_MT); }
struct llfc_perm *lb_checkperm(lua_State *L, int idx) { return checkbox(L, idx, LLFC_PERM_MT, "permutation"); }
void lb_pushperm(lua_State *L, struct llfc_perm *p) { pushbox(L, p, LLFC_PERM_MT); }

/* ---- live view hooks ------------------------------------------------------ */
static int get_view_fn(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "llfc.view");
    if (!lua_istable(L, -1)) { lua_pop(L, 1); return 0; }
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) { lua_pop(L, 1); return 0; }
    return 1;
}

void lb_view_begin(lua_State *L, const char *kind, const char *title)
{
    if (!get_view_fn(L, "begin")) return;
    lua_pushstring(L, kind);
    lua_pushstring(L, title ? title : kind);
    lua_call(L, 2, 0);
}

int lb_view_update(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!get_view_fn(L, "update")) return 0;
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

void lb_view_finish(lua_State *L, int idx, const char *status)
{
    idx = lua_absindex(L, idx);
    if (!get_view_fn(L, "finish")) return;
    lua_pushvalue(L, idx);
    if (status) lua_pushstring(L, status); else lua_pushnil(L);
    lua_call(L, 2, 0);
}

const char *lb_checkpath(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING) luaL_typeerror(L, idx, "file name");
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    luaL_argcheck(L, n > 0, idx, "empty file name");
    luaL_argcheck(L, strlen(s) == n, idx, "file name with a zero byte");
    return s;
}

static int opt_field(lua_State *L, int idx, const char *field)
{
    if (idx == 0 || lua_isnoneornil(L, idx)) return 0;
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
    return 1;
}

lua_Number lb_optnumber(lua_State *L, int idx, const char *field, lua_Number def, const char *fname)
{
    if (!opt_field(L, idx, field)) return def;
    int ok;
    lua_Number v = lua_tonumberx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: option '%s' must be a number, got %s", fname, field, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

lua_Integer lb_optinteger(lua_State *L, int idx, const char *field, lua_Integer def, const char *fname)
{
    if (!opt_field(L, idx, field)) return def;
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: option '%s' must be an integer, got %s", fname, field,
                        lua_type(L, -1) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

int lb_optboolean(lua_State *L, int idx, const char *field, int def, const char *fname)
{
    if (!opt_field(L, idx, field)) return def;
    if (!lua_isboolean(L, -1)) luaL_error(L, "%s: option '%s' must be a boolean, got %s", fname, field, luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *lb_optstring(lua_State *L, int idx, const char *field, const char *def, const char *fname)
{
    if (!opt_field(L, idx, field)) return def;
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: option '%s' must be a string, got %s", fname, field, luaL_typename(L, -1));
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* still anchored by the options table */
    return s;
}

static int strbuf_gc(lua_State *L)
{
    llfc_strbuf_free(luaL_checkudata(L, 1, "llfc.strbuf"));
    return 0;
}

llfc_strbuf *lb_newstrbuf(lua_State *L)
{
    llfc_strbuf *b = lua_newuserdatauv(L, sizeof *b, 0);
    *b = (llfc_strbuf)LLFC_STRBUF_INIT;
    if (luaL_newmetatable(L, "llfc.strbuf")) {
        lua_pushcfunction(L, strbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

void lb_pushstrbuf(lua_State *L, llfc_strbuf *b, int chomp)
{
    if (b->oom) {
        llfc_strbuf_free(b);
        luaL_error(L, "out of memory");
    }
    size_t n = b->len;
    if (chomp && n && b->s[n - 1] == '\n') n--;
    lua_pushlstring(L, b->s ? b->s : "", n);
    llfc_strbuf_free(b);
}

void lb_pushresult_chomp(luaL_Buffer *b)
{
    lua_State *L = b->L;
    luaL_pushresult(b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len && s[len - 1] == '\n') {
        lua_pushlstring(L, s, len - 1);
        lua_remove(L, -2);
    }
}

void lb_setfuncs(lua_State *L, const luaL_Reg *l) { luaL_setfuncs(L, l, 0); }

int lb_progress_fn(void *ud, double done, double total, const char *what)
{
    lb_progress *p = ud;
    if (llfc_interrupted()) return LLFC_PROGRESS_STOP;
    if (!p || !p->fidx) return 0;
    lua_State *L = p->L;
    lua_pushvalue(L, p->fidx);
    lua_pushnumber(L, done);
    lua_pushnumber(L, total);
    lua_pushstring(L, what ? what : "");
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        llfc_seterr("progress callback: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return LLFC_PROGRESS_FAILED;
    }
    /* a callback returning false asks to stop */
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop ? LLFC_PROGRESS_STOP : 0;
}

int lb_optprogress(lua_State *L, int idx, const char *fname)
{
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, "progress");
    if (lua_isfunction(L, -1)) return lua_gettop(L);
    if (!lua_isnil(L, -1)) luaL_error(L, "%s: option 'progress' must be a function, got %s", fname, luaL_typename(L, -1));
    lua_pop(L, 1);
    return 0;
}

/* edit distance (with swaps) between a and b, ignoring case, capped at 3 (enough to tell a typo) */
static int near_dist(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 3;
    if ((la > lb ? la - lb : lb - la) > 2) return 3;
    int d[33][33];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
            if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
            int v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1; /* a swapped pair */
            d[i][j] = v;
        }
    return d[la][lb] < 3 ? d[la][lb] : 3;
}

void lb_checktypos(lua_State *L, int idx, const char *const *known, const char *fname)
{
    if (!lua_istable(L, idx)) return;
    idx = lua_absindex(L, idx);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING) continue;
        const char *k = lua_tostring(L, -2), *best = NULL;
        int bestd = 3, exact = 0;
        for (const char *const *p = known; *p && !exact; p++) {
            if (!strcmp(k, *p)) exact = 1;
            else {
                int dd = near_dist(k, *p);
                /* short names (k, n, lr) are too close to everything for distance 2 */
                if (dd < bestd && (dd == 0 || dd < (int)strlen(*p) / 2)) { bestd = dd; best = *p; }
            }
        }
        if (!exact && best) luaL_error(L, "%s: unknown option '%s' (did you mean '%s'?)", fname, k, best);
    }
}

/* A contiguous [n, in] view of the tensor at idx (1-d [in] counts as one row,
 * an image batch [n, c, h, w] with c*h*w = in as n rows in NCHW order).
 * *owned is set when a copy had to be made (free it after use). */
const float *lb_checkinput(lua_State *L, int idx, int64_t in, const char *fname, int64_t *n, llfc_tensor **owned)
{
    llfc_tensor *x = lb_checktensor(L, idx);
    *owned = NULL;
    char sh[64];
    if (x->ndim == 1 && x->size[0] == in) *n = 1;
    else if (x->ndim == 2 && x->size[1] == in) *n = x->size[0];
    else if (x->ndim == 4 && x->size[1] * x->size[2] * x->size[3] == in) *n = x->size[0]; /* images [n, c, h, w] */
    else
        luaL_error(L, "%s: input must be [n, %d] (or [%d], or images [n, c, h, w] with c*h*w = %d), got %s", fname,
                   (int)in, (int)in, (int)in, llfc_tensor_shape_str(x, sh, sizeof sh));
    if (*n < 1) luaL_error(L, "%s: empty input", fname);
    if (llfc_tensor_is_contiguous(x)) return llfc_tensor_data(x);
    if (!(*owned = llfc_tensor_clone(x))) lb_error(L, fname);
    return llfc_tensor_data(*owned);
}
