/* repl.c - the llfc REPL (minimal for now). */
#include "repl.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "lua/lbind.h"

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int st = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return st;
}

static int report(lua_State *L, int st)
{
    if (st != LUA_OK) {
        fprintf(stderr, "llfc: %s\n", lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return st;
}

lua_State *llfc_repl_newstate(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    llfc_open_all(L);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "llfc");
    static const char *mods[] = {"tensor", "data", "nn", "perm", "metrics", "view", NULL};
    for (int i = 0; mods[i]; i++) {
        lua_getfield(L, -1, mods[i]);
        lua_setglobal(L, mods[i]);
    }
    lua_pop(L, 1);
    return L;
}

int llfc_repl_dostring(lua_State *L, const char *code, const char *chunkname)
{
    int st = luaL_loadbuffer(L, code, strlen(code), chunkname);
    if (st == LUA_OK) st = docall(L, 0, 0);
    return report(L, st);
}

int llfc_repl_dofile(lua_State *L, const char *path, int argc, char **argv, int argstart)
{
    lua_createtable(L, argc - argstart, argstart + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - argstart);
    }
    lua_setglobal(L, "arg");
    int st = luaL_loadfile(L, path);
    if (st == LUA_OK) {
        int n = argc - argstart - 1;
        luaL_checkstack(L, n + 1, "too many arguments");
        for (int i = argstart + 1; i < argc; i++) lua_pushstring(L, argv[i]);
        st = docall(L, n, 0);
    }
    return report(L, st);
}

void llfc_repl_loop(lua_State *L)
{
    char line[4096];
    while (fputs("> ", stdout), fflush(stdout), fgets(line, sizeof line, stdin))
        llfc_repl_dostring(L, line, "=stdin");
}
