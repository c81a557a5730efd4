/*
** lmod_engine.c: placeholder binding of stepflow.core.engine.
*/
#include "lua.h"
#include "lauxlib.h"
#include "stepflow_core.h"

STEPFLOW_EXPORT int luaopen_stepflow_core_engine (lua_State *L) {
  lua_newtable(L);
  return 1;
}
