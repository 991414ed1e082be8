/* repl.h - the interactive loop and script runner of the llfc binary. */
#ifndef LLFC_REPL_H
#define LLFC_REPL_H

#include <lua.h>

/* Create a state with the standard libraries and llfc's modules as globals. */
lua_State *llfc_repl_newstate(void);
/* Run a chunk under a traceback handler; print the error to stderr. 0 = ok. */
int llfc_repl_dostring(lua_State *L, const char *code, const char *chunkname);
int llfc_repl_dofile(lua_State *L, const char *path, int argc, char **argv, int argstart);
/* The interactive loop; returns when the user types Ctrl-D. */
void llfc_repl_loop(lua_State *L);

#endif
