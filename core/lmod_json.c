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

/* Reads an options table (at idx) into encode flags. */
static int encode_flags (lua_State *L, int idx) {
  int flags = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "pretty") == 0) {
      if (lua_toboolean(L, -1)) flags |= STEPFLOW_JSON_PRETTY;
    }
    else if (strcmp(k, "sort") == 0) {
      if (!lua_toboolean(L, -1)) flags |= STEPFLOW_JSON_UNSORTED;
    }
    else {
      lua_pushvalue(L, -2);
      return luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'",
                                                 luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
  }
  return flags;
}

/* encode(value[, {pretty = bool, sort = bool}]) -> text  [-0, +1, e] */
static int json_encode (lua_State *L) {
  int flags = encode_flags(L, 2);
  lua_settop(L, 1);
  stepflow_json_encode(L, 1, flags, ARRAY_MT, CACHE);
  return 1;
}

/* An encoder made by encoder(opts): its flags in upvalue 3. */
static int json_encode_with (lua_State *L) {
  lua_settop(L, 1);
  stepflow_json_encode(L, 1, (int)lua_tointeger(L, lua_upvalueindex(3)),
                       ARRAY_MT, CACHE);
  return 1;
}

/* encoder({pretty = bool, sort = bool}) -> function(value) -> text: the
** options read once, for callers that encode often.  [-0, +1, e] */
static int json_encoder (lua_State *L) {
  int flags = encode_flags(L, 1);
  lua_pushvalue(L, ARRAY_MT);
  lua_pushnil(L);  /* its own buffer cache */
  lua_pushinteger(L, flags);
  lua_pushcclosure(L, json_encode_with, 3);
  return 1;
}

/* size_within(value, limit) -> boolean: certainly encodes in at most
** limit bytes (false: it may not; encode to know)  [-0, +1, -] */
static int json_size_within (lua_State *L) {
  lua_Integer limit = luaL_checkinteger(L, 2);
  luaL_checkany(L, 1);
  lua_pushboolean(L, limit > 0 &&
                  stepflow_json_size_within(L, 1, (size_t)limit));
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

/*
** Copies the table at index `src` into a new table sized for all its
** entries at once (a table grown key by key rehashes at every power of
** two, which costs more than the copy itself). Keeps the metatable.
*/
static void copy_table (lua_State *L, int src) {
  int nrec = 0;
  lua_Integer narr = (lua_Integer)lua_rawlen(L, src);
  lua_pushnil(L);
  while (lua_next(L, src)) {
    nrec++;
    lua_pop(L, 1);
  }
  if (narr > nrec) narr = nrec;
  lua_createtable(L, (int)narr, nrec - (int)narr);
  lua_pushnil(L);
  while (lua_next(L, src)) {  /* STACK: copy, key, value */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  if (lua_getmetatable(L, src)) lua_setmetatable(L, -2);
}

/*
** One pass copy into a table sized for `hint` entries (a caller that copies
** tables of one shape passes the size of its last copy). Returns the
** number of entries copied.
*/
static int copy_table_hinted (lua_State *L, int src, int hint) {
  int n = 0;
  lua_createtable(L, 0, hint);
  lua_pushnil(L);
  while (lua_next(L, src)) {  /* STACK: copy, key, value */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
    n++;
  }
  if (lua_getmetatable(L, src)) lua_setmetatable(L, -2);
  return n;
}

/*
** copy(t[, key, value[, hint]]) -> a shallow copy of t with t[key] = value,
** and with a hint (the expected number of entries) also the number of
** entries copied  [-0, +1|2, m]
*/
static int json_copy (lua_State *L) {
  int set = !lua_isnoneornil(L, 2);
  int hint = (int)luaL_optinteger(L, 4, -1);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 4);
  if (hint >= 0) {
    int n = copy_table_hinted(L, 1, hint + (set ? 1 : 0));
    if (set) {
      lua_pushvalue(L, 2);
      lua_pushvalue(L, 3);
      lua_rawset(L, -3);
    }
    lua_pushinteger(L, n);
    return 2;
  }
  copy_table(L, 1);
  if (set) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
  }
  return 1;
}

#define DEEP_COPY_MAX_DEPTH 1000

static void deep_copy (lua_State *L, int src, int depth) {
  int dst;
  if (depth > DEEP_COPY_MAX_DEPTH)
    luaL_error(L, "json: nesting deeper than %d in copy", DEEP_COPY_MAX_DEPTH);
  luaL_checkstack(L, 4, "json: copy");
  copy_table(L, src);
  dst = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, dst)) {  /* STACK: copy, key, value */
    if (lua_type(L, -1) == LUA_TTABLE) {
      deep_copy(L, lua_gettop(L), depth + 1);  /* STACK: copy, key, value, vcopy */
      lua_remove(L, -2);
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, dst);
    }
    else lua_pop(L, 1);
  }
}

/* deep_copy(v) -> a copy of v with every nested table copied  [-0, +1, m] */
static int json_deep_copy (lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  if (lua_type(L, 1) == LUA_TTABLE) deep_copy(L, 1, 1);
  return 1;
}

#define EQUAL_MAX_DEPTH 1000

/*
** Deep equality of the JSON values at a and b: numbers as JSON's doubles
** (an integer equals a float when it converts to that float: 2^60 read as
** an integer equals 2^60 read as a float), arrays element by element
** (json.is_array decides which tables are arrays), objects by their key
** sets. A table with a metatable other than the array metatable is opaque
** and equals only itself.
*/
static int equal (lua_State *L, int a, int b, int depth) {
  int arr;
  if (lua_rawequal(L, a, b)) return 1;
  if (lua_type(L, a) == LUA_TNUMBER && lua_type(L, b) == LUA_TNUMBER)
    return lua_tonumber(L, a) == lua_tonumber(L, b);
  if (lua_type(L, a) != LUA_TTABLE || lua_type(L, b) != LUA_TTABLE) return 0;
  if (depth > EQUAL_MAX_DEPTH)
    luaL_error(L, "json: nesting deeper than %d in equal", EQUAL_MAX_DEPTH);
  luaL_checkstack(L, 6, "json: equal");
  if (lua_getmetatable(L, a)) {
    int opaque = !lua_rawequal(L, -1, ARRAY_MT);
    lua_pop(L, 1);
    if (opaque) return 0;
  }
  if (lua_getmetatable(L, b)) {
    int opaque = !lua_rawequal(L, -1, ARRAY_MT);
    lua_pop(L, 1);
    if (opaque) return 0;
  }
  arr = stepflow_json_isarray(L, a, ARRAY_MT);
  if (arr != stepflow_json_isarray(L, b, ARRAY_MT)) return 0;
  if (arr) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, a), i;
    if ((lua_Integer)lua_rawlen(L, b) != n) return 0;
    for (i = 1; i <= n; i++) {
      int eq;
      lua_rawgeti(L, a, i);
      lua_rawgeti(L, b, i);
      eq = equal(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
      lua_pop(L, 2);
      if (!eq) return 0;
    }
    return 1;
  }
  {
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, a)) {     /* STACK: key, value */
      int eq;
      n++;
      lua_pushvalue(L, -2);
      eq = lua_rawget(L, b) != LUA_TNIL &&
           equal(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
      lua_pop(L, 2);
      if (!eq) { lua_pop(L, 1); return 0; }
    }
    lua_pushnil(L);
    while (lua_next(L, b)) { n--; lua_pop(L, 1); }
    return n == 0;
  }
}

/* equal(a, b) -> boolean: deep equality of JSON values  [-0, +1, e] */
static int json_equal (lua_State *L) {
  lua_settop(L, 2);
  lua_pushboolean(L, equal(L, 1, 2, 0));
  return 1;
}

STEPFLOW_EXPORT int luaopen_stepflow_core_json (lua_State *L) {
  int mod;
  luaL_newmetatable(L, STEPFLOW_JSON_ARRAY_MT);
  lua_createtable(L, 0, 16);
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
  lua_pushcclosure(L, json_encoder, 1);
  lua_setfield(L, mod, "encoder");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_array, 1);
  lua_setfield(L, mod, "array");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_is_array, 1);
  lua_setfield(L, mod, "is_array");
  lua_pushvalue(L, mod - 1);
  lua_pushcclosure(L, json_equal, 1);
  lua_setfield(L, mod, "equal");
  lua_pushcfunction(L, json_copy);
  lua_setfield(L, mod, "copy");
  lua_pushcfunction(L, json_size_within);
  lua_setfield(L, mod, "size_within");
  lua_pushcfunction(L, json_deep_copy);
  lua_setfield(L, mod, "deep_copy");
  stepflow_jsonpath_open(L);
  lua_settop(L, mod);
  return 1;
}
