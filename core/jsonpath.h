/*
** jsonpath.h: JSONPath compiled once, evaluated directly on Lua tables.
** Part of the stepflow.core.json module (see docs/INTERNALS.md).
*/
#ifndef STEPFLOW_JSONPATH_H
#define STEPFLOW_JSONPATH_H

#include "lua.h"

/*
** Adds the JSONPath functions (`path_compile`) to the table at the top of
** the stack and registers the "stepflow.JSONPath" metatable. Leaves the
** stack as it found it. Called by luaopen_stepflow_core_json.
**
** L: the state whose stack top holds the module table.
** Returns 0.
*/
int stepflow_jsonpath_open (lua_State *L);

#endif
