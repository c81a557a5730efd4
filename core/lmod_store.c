/*
** lmod_store.c: placeholder binding of stepflow.core.store.
*/
#include "lua.h"
#include "lauxlib.h"
#include "stepflow_core.h"

STEPFLOW_EXPORT int luaopen_stepflow_core_store (lua_State *L) {
  lua_newtable(L);
  return 1;
}
