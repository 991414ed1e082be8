/* l_data.c - Lua binding of the data module. */
#include "lbind.h"

int llfc_open_data(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
