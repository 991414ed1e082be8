/* main.c - the llfc command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core.h"
#include "repl.h"

static void usage(FILE *f)
{
    fputs("usage: llfc [options] [script.lua [args]]\n"
          "  -e CODE     run CODE\n"
          "  -i          stay interactive after running a script or -e\n"
          "  --help      show this help\n"
          "  --version   show the version\n"
          "With no script, llfc starts an interactive Lua 5.4 REPL.\n",
          f);
}

int main(int argc, char **argv)
{
    int interactive = 0, ran = 0, status = 0, i;
    lua_State *L = NULL;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
            printf("llfc %s (%s)\n", LLFC_VERSION_STRING, LUA_RELEASE);
            return 0;
        }
        if (!strcmp(argv[i], "-i")) { interactive = 1; continue; }
        if (!strcmp(argv[i], "-e")) {
            if (i + 1 >= argc) { fprintf(stderr, "llfc: -e needs an argument\n"); usage(stderr); return 2; }
            if (!L && !(L = llfc_repl_newstate())) { fprintf(stderr, "llfc: cannot create Lua state\n"); return 1; }
            if (llfc_repl_dostring(L, argv[++i], "=(command line)") != 0) { status = 1; goto done; }
            ran = 1;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "llfc: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
        break;
    }
    if (!L && !(L = llfc_repl_newstate())) { fprintf(stderr, "llfc: cannot create Lua state\n"); return 1; }
    if (i < argc) {
        if (llfc_repl_dofile(L, argv[i], argc, argv, i) != 0) { status = 1; goto done; }
        ran = 1;
    }
    if (!ran || interactive) llfc_repl_loop(L);
done:
    lua_close(L);
    return status;
}
