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

llfc_tensor *lb_totensor(lua_State *L, int idx)
{
    llfc_tensor **box = luaL_testudata(L, idx, LLFC_TENSOR_MT);
    return box ? *box : NULL;
}

llfc_tensor *lb_checktensor(lua_State *L, int idx)
{
    llfc_tensor **box = luaL_checkudata(L, idx, LLFC_TENSOR_MT);
    if (!*box) luaL_argerror(L, idx, "tensor has been freed");
    return *box;
}

static int tensor_gc(lua_State *L)
{
    llfc_tensor **box = luaL_checkudata(L, 1, LLFC_TENSOR_MT);
    llfc_tensor_free(*box);
    *box = NULL;
    return 0;
}

void lb_pushtensor(lua_State *L, llfc_tensor *t)
{
    llfc_tensor **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = t;
    if (luaL_newmetatable(L, LLFC_TENSOR_MT)) {
        /* minimal metatable; l_tensor.c fills in the methods */
        lua_pushcfunction(L, tensor_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
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

void lb_setfuncs(lua_State *L, const luaL_Reg *l) { luaL_setfuncs(L, l, 0); }

int lb_progress_fn(void *ud, double done, double total, const char *what)
{
    lb_progress *p = ud;
    if (llfc_interrupted()) return 1;
    if (!p || !p->fidx) return 0;
    lua_State *L = p->L;
    lua_pushvalue(L, p->fidx);
    lua_pushnumber(L, done);
    lua_pushnumber(L, total);
    lua_pushstring(L, what ? what : "");
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        llfc_seterr("progress callback: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    int stop = lua_toboolean(L, -1) && lua_type(L, -1) == LUA_TBOOLEAN ? 0 : 0;
    /* a callback returning false asks to stop */
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) stop = 1;
    lua_pop(L, 1);
    return stop;
}
