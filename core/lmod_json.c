/*
** lmod_json.c: placeholder binding of stepflow.core.json.
*/
#include "lua.h"
#include "lauxlib.h"
#include "stepflow_core.h"

STEPFLOW_EXPORT int luaopen_stepflow_core_json (lua_State *L) {
  lua_newtable(L);
  return 1;
}
