/* repl.h - the interactive loop and script runner of the llfc binary. */
#ifndef LLFC_REPL_H
#define LLFC_REPL_H

#include <lua.h>

/* Create a state with the standard libraries, llfc's modules as globals
 * (tensor, data, nn, perm, metrics, view, sweep, llfc) and the global help. */
lua_State *llfc_repl_newstate(void); /* NULL after printing why */

/* Install the SIGINT handler.  batch != 0: a first Ctrl-C interrupts the
 * running chunk, a second one ends the program.  batch == 0 (interactive):
 * Ctrl-C interrupts the running command and returns to the prompt. */
void llfc_repl_signals(lua_State *L, int batch);

/* Run a chunk under a traceback handler; print the error to stderr.
 * 0 = ok, non-zero = error (already reported). */
int llfc_repl_dostring(lua_State *L, const char *code, const char *chunkname);
/* Run the script `path` (NULL = standard input) with the values of arg[1..]
 * as its `...`; the global `arg` must already be set. */
int llfc_repl_dofile(lua_State *L, const char *path);
/* name = require(name) as a global (option -l). */
int llfc_repl_require(lua_State *L, const char *name);
/* Build the global `arg` as lua(1) does: arg[0] = argv[script], earlier
 * words at negative indices, script arguments at 1, 2, ... */
void llfc_repl_setargs(lua_State *L, int argc, char **argv, int script);

/* The interactive loop.  Uses readline when standard input is a terminal,
 * plain line reading otherwise.  Returns the exit status: 0, or 1 when
 * input was not a terminal and some statement failed. */
int llfc_repl_loop(lua_State *L);

#endif
