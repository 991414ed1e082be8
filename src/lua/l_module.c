/* l_module.c - `require "llfc"` from plain lua5.4. */
#include "lbind.h"

LUALIB_API int luaopen_llfc(lua_State *L) { return llfc_open_all(L); }
