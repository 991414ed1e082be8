/* l_metrics.c - Lua binding of the metrics module. */
#include "lbind.h"

int llfc_open_metrics(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
