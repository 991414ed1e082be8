/* l_file.c - text formats and files from Lua: llfc.write (the core's
 * atomic file), llfc.csv (the core's CSV writer) and llfc.json (cJSON).
 * view.lua exports through them too. */
#include "lbind.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"

/* llfc.write(path, text) -> path | nil, "PATH: reason" */
static int l_write(lua_State *L)
{
    const char *path = lb_checkpath(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    if (llfc_write_file_atomic(path, text, len) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, llfc_errmsg());
        return 2;
    }
    lua_settop(L, 1);
    return 1;
}

/* llfc.csv(rows) -> text.  rows = {{cell, ...}, ...}; a row has rows[i].n
 * cells (table.pack), else #rows[i], and at least as many as the first row
 * (nil cells are empty). */
static int l_csv(lua_State *L)
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

/* ---- JSON ------------------------------------------------------------------------ */
#define JSON_MAXDEPTH 100

static int cmp_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Add the value at idx to `parent` (an array, or an object under `key`).
 * Containers are linked into their parent before they are filled, so a
 * raised error leaves nothing outside the tree that the caller frees.
 * Returns 0, or -1 when cJSON runs out of memory.  Raises on a value JSON
 * cannot hold; `path` names where ("options.seeds[2]"). */
static int add_json(lua_State *L, int idx, int depth, llfc_strbuf *path, cJSON *parent, const char *key)
{
    idx = lua_absindex(L, idx);
    const char *where = path->len ? path->s : "the value";
    cJSON *item = NULL;
    int t = lua_type(L, idx);
    if (t == LUA_TBOOLEAN) item = cJSON_CreateBool(lua_toboolean(L, idx));
    else if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (strlen(s) != n) luaL_error(L, "llfc.json: %s: a string with a zero byte", where);
        item = cJSON_CreateString(s);
    } else if (t == LUA_TNUMBER) {
        double v = lua_tonumber(L, idx);
        item = v == v && v - v == 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull(); /* JSON has no nan, inf */
    } else if (t != LUA_TTABLE) {
        luaL_error(L, "llfc.json: %s: cannot encode a %s", where, luaL_typename(L, idx));
    }
    if (t != LUA_TTABLE) {
        if (!item) return -1;
        if (!(key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item))) {
            cJSON_Delete(item);
            return -1;
        }
        return 0;
    }
    if (depth >= JSON_MAXDEPTH) luaL_error(L, "llfc.json: %s: tables nested more than %d deep (a cycle?)", where, JSON_MAXDEPTH);
    luaL_checkstack(L, 8, "llfc.json");
    /* a list (keys 1..n, or no keys: []) or an object (string keys, written sorted) */
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), nkeys = 0, nstr = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        nkeys++;
        nstr += lua_type(L, -2) == LUA_TSTRING;
    }
    int list = nkeys == n;
    if (!list && nstr != nkeys)
        luaL_error(L, "llfc.json: %s: a table with %s keys (a list has keys 1..n, an object string keys)", where,
                   n > 0 ? "both list and other" : "non-string");
    item = list ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!item) return -1;
    if (!(key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item))) {
        cJSON_Delete(item);
        return -1;
    }
    size_t mark = path->len;
    if (list) {
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            llfc_strbuf_printf(path, "[%lld]", (long long)i);
            int rc = add_json(L, -1, depth + 1, path, item, NULL);
            path->len = mark;
            if (path->s) path->s[mark] = '\0';
            lua_pop(L, 1);
            if (rc) return -1;
        }
        return 0;
    }
    const char **keys = lua_newuserdatauv(L, (size_t)nkeys * sizeof *keys, 0); /* freed by the GC */
    lua_Integer k = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) keys[k++] = lua_tostring(L, -2); /* anchored by the table */
    qsort(keys, (size_t)nkeys, sizeof *keys, cmp_key);
    for (k = 0; k < nkeys; k++) {
        lua_getfield(L, idx, keys[k]);
        llfc_strbuf_printf(path, "%s%s", mark ? "." : "", keys[k]);
        int rc = add_json(L, -1, depth + 1, path, item, keys[k]);
        path->len = mark;
        if (path->s) path->s[mark] = '\0';
        lua_pop(L, 1);
        if (rc) { lua_pop(L, 1); return -1; }
    }
    lua_pop(L, 1);
    return 0;
}

/* The tree under construction, owned by a userdata: an error raised while
 * it grows frees it. */
static int json_gc(lua_State *L)
{
    cJSON **box = luaL_checkudata(L, 1, "llfc.json.tree");
    cJSON_Delete(*box);
    *box = NULL;
    return 0;
}

/* llfc.json(value) -> text */
static int l_json(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, "llfc.json.tree")) {
        lua_pushcfunction(L, json_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    llfc_strbuf *path = lb_newstrbuf(L);
    if (!(*box = cJSON_CreateArray())) return luaL_error(L, "llfc.json: out of memory"); /* holds the value */
    char *text = NULL;
    if (add_json(L, 1, 0, path, *box, NULL) == 0) text = cJSON_Print(cJSON_GetArrayItem(*box, 0));
    if (!text) return luaL_error(L, "llfc.json: out of memory");
    lua_pushstring(L, text);
    cJSON_free(text);
    return 1;
}

/* Install llfc.write, llfc.csv and llfc.json into the llfc table at idx. */
void llfc_open_file(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, l_write);
    lua_setfield(L, idx, "write");
    lua_pushcfunction(L, l_csv);
    lua_setfield(L, idx, "csv");
    lua_pushcfunction(L, l_json);
    lua_setfield(L, idx, "json");
}
