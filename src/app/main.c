/* main.c - the llfc command line: options, script, REPL (as lua(1) does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/core.h"
#include "app/repl.h"

static void usage(FILE *f)
{
    fputs("usage: llfc [options] [script.lua [args]]\n"
          "Options:\n"
          "  -e CODE     run CODE (may be given several times)\n"
          "  -l NAME     require library NAME into global NAME\n"
          "  -i          stay interactive after running the script or -e\n"
          "  -           run the script read from standard input\n"
          "  --          stop handling options\n"
          "  -h, --help  show this help\n"
          "  -v, --version  show the version\n"
          "With no script and no -e, llfc starts an interactive Lua 5.4 REPL\n"
          "(type help() there).  See llfc(1).\n",
          f);
}

/* Options as lua(1): -e and -l run in order after `arg` is set; the first
 * argument that is not an option is the script (or "-" for stdin). */
int main(int argc, char **argv)
{
    int interactive = 0, has_e = 0, script = argc, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) { script = i; break; }
        if (!strcmp(a, "--")) { script = i + 1; break; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("llfc %s (%s)\n", LLFC_VERSION_STRING, LUA_RELEASE);
            return 0;
        }
        if (!strcmp(a, "-i")) { interactive = 1; continue; }
        if (a[1] == 'e' || a[1] == 'l') {
            if (a[2] == '\0' && i + 1 >= argc) {
                fprintf(stderr, "llfc: '%s' needs an argument\n", a);
                usage(stderr);
                return 2;
            }
            if (a[1] == 'e') has_e = 1;
            if (a[2] == '\0') i++;
            continue;
        }
        fprintf(stderr, "llfc: unknown option '%s'\n", a);
        usage(stderr);
        return 2;
    }

    lua_State *L = llfc_repl_newstate();
    if (!L) return 1; /* the reason is printed */
    llfc_repl_signals(L, 1);
    llfc_repl_setargs(L, argc, argv, script);

    int status = 0;
    /* -e and -l, in the order given */
    for (i = 1; i < script && i < argc && !status; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) continue;
        const char *val = a[2] ? a + 2 : argv[++i];
        if (a[1] == 'e') status = llfc_repl_dostring(L, val, "=(command line)");
        else status = llfc_repl_require(L, val);
    }
    if (!status && script < argc) {
        const char *path = strcmp(argv[script], "-") ? argv[script] : NULL;
        if (!path && !strcmp(argv[script - 1], "--")) path = argv[script]; /* -- - : a file */
        status = llfc_repl_dofile(L, path);
    }
    if (interactive || (script >= argc && !has_e)) {
        /* -i stays interactive even after an error, to inspect what is left */
        int st = llfc_repl_loop(L);
        status = st;
    }
    lua_close(L);
    return status ? (status == 130 ? 130 : 1) : 0;
}
