/* l_view.c - Lua binding of the view module. */
#include "lbind.h"

int llfc_open_view(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
