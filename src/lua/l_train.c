/* l_train.c - Lua binding of training, spawning and model files (nn module). */
#include "lbind.h"
#include "train.h"

const luaL_Reg lnn_train_methods[] = {{NULL, NULL}};
const luaL_Reg lnn_train_funcs[] = {{NULL, NULL}};
