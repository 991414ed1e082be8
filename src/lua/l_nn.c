/* l_nn.c - Lua binding of the nn module. */
#include "lbind.h"

int llfc_open_nn(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
