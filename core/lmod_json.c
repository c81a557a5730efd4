/*
** lmod_json.c: the Lua binding of stepflow.core.json (codec + JSONPath),
** wrapped by lua/stepflow/json.lua and lua/stepflow/jsonpath.lua.
*/

#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "stepflow_core.h"
#include "json.h"
#include "jsonpath.h"

/* Upvalues shared by the functions below. */
#define ARRAY_MT  lua_upvalueindex(1)   /* the "stepflow.array" metatable */
#define CACHE     lua_upvalueindex(2)   /* encode's reusable buffer, or nil */
#define DECODE    lua_upvalueindex(2)   /* try_decode: the decode function */

/* decode(text) -> value  [-0, +1, e] */
static int json_decode (lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  stepflow_json_decode(L, s, len, ARRAY_MT);
  return 1;
}

/* try_decode(text) -> value | nil, message  [-0, +(1|2), e] */
static int json_try_decode (lua_State *L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_pushvalue(L, DECODE);
  lua_insert(L, 1);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* Reads encode's options table at index 2 into flags. */
static int encode_flags (lua_State *L) {
  int flags = 0;
  if (lua_isnoneornil(L, 2)) return 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "pretty") == 0) {
      if (lua_toboolean(L, -1)) flags |= STEPFLOW_JSON_PRETTY;
    }
    else if (strcmp(k, "sort") == 0) {
      if (!lua_toboolean(L, -1)) flags |= STEPFLOW_JSON_UNSORTED;
    }
    else {
      lua_pushvalue(L, -2);
      return luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s'",
                                                 luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
  }
  return flags;
}

/* encode(value[, {pretty = bool, sort = bool}]) -> text  [-0, +1, e] */
static int json_encode (lua_State *L) {
  int flags = encode_flags(L);
  lua_settop(L, 1);
  stepflow_json_encode(L, 1, flags, ARRAY_MT, CACHE);
  return 1;
}

/* array(t) -> t, with the array metatable  [-0, +1, e] */
static int json_array (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getmetatable(L, 1)) {
    luaL_argcheck(L, lua_rawequal(L, -1, ARRAY_MT), 1,
                  "table already has another metatable");
    lua_pop(L, 1);
    return 1;
  }
  lua_pushvalue(L, ARRAY_MT);
  lua_setmetatable(L, 1);
  return 1;
}

/* is_array(v) -> boolean  [-0, +1, -] */
static int json_is_array (lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, stepflow_json_isarray(L, 1, ARRAY_MT));
  return 1;
}

STEPFLOW_EXPORT int luaopen_stepflow_core_json (lua_State *L) {
  int mod;
  luaL_newmetatable(L, STEPFLOW_JSON_ARRAY_MT);
  lua_createtable(L, 0, 12);
  mod = lua_gettop(L);  /* STACK: mt, M */
  lua_pushvalue(L, -2);
  lua_setfield(L, mod, "array_mt");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, mod, "null");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_decode, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, mod, "decode");      /* STACK: mt, M, decode */
  lua_pushvalue(L, mod - 1);
  lua_insert(L, -2);
  lua_pushcclosure(L, json_try_decode, 2);
  lua_setfield(L, mod, "try_decode");
  lua_pushvalue(L, mod - 1);
  lua_pushnil(L);
  lua_pushcclosure(L, json_encode, 2);
  lua_setfield(L, mod, "encode");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_array, 1);
  lua_setfield(L, mod, "array");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_is_array, 1);
  lua_setfield(L, mod, "is_array");
  stepflow_jsonpath_open(L);
  lua_settop(L, mod);
  return 1;
}
