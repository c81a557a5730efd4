/*
** fuzz_lua.h: the Lua state the JSON and JSONPath harnesses share: one per
** process (libFuzzer calls the harness in a loop), with stepflow.core.json
** loaded, and a protected call that reports whether Lua raised.
*/
#ifndef STEPFLOW_FUZZ_LUA_H
#define STEPFLOW_FUZZ_LUA_H

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int luaopen_stepflow_core_json (lua_State *L);

/* The harness's state, with the module table at stack index 1. */
static lua_State *fuzz_state (void) {
  static lua_State *L = NULL;
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "stepflow.core.json", luaopen_stepflow_core_json, 0);
  }
  lua_settop(L, 1);
  return L;
}

/* Calls module function `name` with the n values on the stack top, one
** result: 1 when it returned, 0 when it raised (the message is left). */
static int fuzz_call (lua_State *L, const char *name, int n) {
  lua_getfield(L, 1, name);
  lua_insert(L, -n - 1);
  return lua_pcall(L, n, 1, 0) == LUA_OK;
}

/* A full collection now and then keeps the state small across runs. */
static void fuzz_collect (lua_State *L) {
  static unsigned runs = 0;
  if (++runs % 1000 == 0) lua_gc(L, LUA_GCCOLLECT);
}

#endif
