/* l_perm.c - Lua binding of the perm module. */
#include "lbind.h"

int llfc_open_perm(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
