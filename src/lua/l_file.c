/* l_file.c - text formats and files from Lua: llfc.csv (the core's CSV
 * writer).  view.lua exports through the same functions. */
#include "lbind.h"

#include "core/csv.h"

/* llfc.csv(rows) -> text.  rows = {{cell, ...}, ...}; a row has rows[i].n
 * cells (table.pack), else #rows[i], and at least as many as the first row
 * (nil cells are empty). */
int lb_csv(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    llfc_strbuf *b = lb_newstrbuf(L);
    llfc_csv c = {b, 0};
    lua_Integer nrows = luaL_len(L, 1), width = 0;
    for (lua_Integer i = 1; i <= nrows; i++) {
        if (lua_geti(L, 1, i) != LUA_TTABLE)
            return luaL_error(L, "llfc.csv: row %d must be a table, got %s", (int)i, luaL_typename(L, -1));
        lua_Integer n;
        if (lua_getfield(L, -1, "n") == LUA_TNUMBER && lua_isinteger(L, -1)) n = lua_tointeger(L, -1);
        else n = luaL_len(L, -2);
        lua_pop(L, 1);
        if (i == 1) width = n;
        if (n < width) n = width;
        for (lua_Integer j = 1; j <= n; j++) {
            int t = lua_geti(L, -1, j);
            size_t len;
            const char *s;
            if (t == LUA_TNIL) llfc_csv_empty(&c);
            else if (lua_isinteger(L, -1)) llfc_csv_integer(&c, (long long)lua_tointeger(L, -1));
            else if (t == LUA_TNUMBER) llfc_csv_number(&c, lua_tonumber(L, -1));
            else if (t == LUA_TBOOLEAN) llfc_csv_text(&c, lua_toboolean(L, -1) ? "true" : "false", lua_toboolean(L, -1) ? 4 : 5);
            else if (t == LUA_TSTRING) { s = lua_tolstring(L, -1, &len); llfc_csv_text(&c, s, len); }
            else return luaL_error(L, "llfc.csv: row %d, cell %d: cannot write a %s", (int)i, (int)j, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        llfc_csv_endrow(&c);
        lua_pop(L, 1);
    }
    lb_pushstrbuf(L, b, 0);
    return 1;
}

/* Install llfc.csv into the llfc table at idx. */
void llfc_open_file(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, lb_csv);
    lua_setfield(L, idx, "csv");
}
