/* main.c - the llfc command line: options, script, REPL (as lua(1) does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/core.h"
#include "app/repl.h"
#include "dist/dist.h"

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
          "Sweeps (also accepted after the script name):\n"
          "  --task ID          run only the task ID of the script's sweep\n"
          "  --array-index [I]  run the I-th task (0-based) of its order\n"
          "                     (no I: $SLURM_ARRAY_TASK_ID)\n"
          "  --levels           print the sweep's tasks, levels and order\n"
          "With no script and no -e, llfc starts an interactive Lua 5.4 REPL\n"
          "(type help() there).  See llfc(1).\n",
          f);
}

/* The sweep options --task ID, --array-index [I] and --levels at argv[*i]:
 * 1 if it was one (its value consumed, *i moved past it), 0 if not, -1 on a
 * bad value (reported). */
static int sweep_option(int argc, char **argv, int *i)
{
    llfc_sweep_cli *c = llfc_sweep_cli_get();
    const char *a = argv[*i];
    if (!strcmp(a, "--levels")) { c->levels = 1; return 1; }
    if (!strncmp(a, "--task", 6) && (a[6] == '\0' || a[6] == '=')) {
        const char *v = a[6] == '=' ? a + 7 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v || !*v) { fprintf(stderr, "llfc: --task needs a task id\n"); return -1; }
        c->task = v;
        return 1;
    }
    if (!strncmp(a, "--array-index", 13) && (a[13] == '\0' || a[13] == '=')) {
        const char *v = NULL, *from = "--array-index";
        if (a[13] == '=') v = a + 14;
        else if (*i + 1 < argc && argv[*i + 1][0] != '-') v = argv[++*i];
        else { v = getenv("SLURM_ARRAY_TASK_ID"); from = "SLURM_ARRAY_TASK_ID"; }
        if (!v) {
            fprintf(stderr, "llfc: --array-index needs an index (or SLURM_ARRAY_TASK_ID in the environment)\n");
            return -1;
        }
        char *end;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || x < 0) {
            fprintf(stderr, "llfc: %s: expected a task index 0, 1, 2, ..., got '%s'\n", from, v);
            return -1;
        }
        c->array_index = x, c->has_array = 1;
        return 1;
    }
    return 0;
}

/* Options as lua(1): -e and -l run in order after `arg` is set; the first
 * argument that is not an option is the script (or "-" for stdin).  The
 * sweep options may also follow the script: they are taken out of its
 * arguments (up to a "--"). */
int main(int argc, char **argv)
{
    int interactive = 0, has_e = 0, script = argc, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int so = sweep_option(argc, argv, &i);
        if (so < 0) return 2;
        if (so > 0) continue;
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

    for (i = script + 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        int at = i, so = sweep_option(argc, argv, &i);
        if (so < 0) return 2;
        if (so > 0) { /* remove argv[at..i] from the script's arguments */
            int k = i - at + 1;
            memmove(argv + at, argv + i + 1, (size_t)(argc - i) * sizeof *argv); /* with the NULL */
            argc -= k;
            i = at - 1;
        }
    }
    llfc_sweep_cli *cli = llfc_sweep_cli_get();
    if (cli->task && cli->has_array) {
        fprintf(stderr, "llfc: --task and --array-index pick a task each: give one of them\n");
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
    if (!status && (cli->task || cli->has_array || cli->levels) && !cli->used) {
        fprintf(stderr, "llfc: --task, --array-index and --levels act on a sweep, and this script ran none\n");
        status = 1;
    }
    if (!status) llfc_dist_finalize();
    return status ? (status == 130 ? 130 : 1) : 0;
}
