/*
** json_fuzz.c: libFuzzer harness of the JSON codec. Any input must decode
** or fail with a message; what decodes must encode, and decoding that
** text again must give the same text once more (a stable round trip).
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lua.h"

static void check_roundtrip (lua_State *L, const char *what) {
  size_t n1, n2;
  const char *t1, *t2;
  /* STACK: module, value */
  lua_pushvalue(L, -1);
  if (!fuzz_call(L, "encode", 1)) {
    /* decode only makes what encode takes */
    fprintf(stderr, "%s: encode failed: %s\n", what, lua_tostring(L, -1));
    abort();
  }
  t1 = lua_tolstring(L, -1, &n1);
  lua_pushvalue(L, -1);
  if (!fuzz_call(L, "decode", 1)) {
    fprintf(stderr, "%s: decode of encoded text failed: %s\n", what,
            lua_tostring(L, -1));
    abort();
  }
  /* STACK: module, ..., value, text, value again */
  lua_pushvalue(L, -1);
  lua_pushvalue(L, -4);
  if (!fuzz_call(L, "equal", 2) || !lua_toboolean(L, -1)) {
    fprintf(stderr, "%s: the value read back is not equal\n", what);
    abort();
  }
  lua_pop(L, 1);
  if (!fuzz_call(L, "encode", 1)) abort();
  t2 = lua_tolstring(L, -1, &n2);
  if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
    fprintf(stderr, "%s: round trip differs:\n%.*s\n%.*s\n", what, (int)n1, t1,
            (int)n2, t2);
    abort();
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state();
  lua_pushlstring(L, (const char *)data, size);
  if (fuzz_call(L, "decode", 1)) {
    check_roundtrip(L, "sorted");
    lua_settop(L, 2);
    /* the pretty form reads back to the same value too */
    lua_pushvalue(L, 2);
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "pretty");
    if (!fuzz_call(L, "encode", 2)) abort();
    if (!fuzz_call(L, "decode", 1)) abort();
    check_roundtrip(L, "pretty");
  }
  else if (lua_type(L, -1) != LUA_TSTRING ||
           strncmp(lua_tostring(L, -1), "json: ", 6) != 0) {
    fprintf(stderr, "decode raised a non-json error: %s\n",
            luaL_tolstring(L, -1, NULL));
    abort();
  }
  fuzz_collect(L);
  return 0;
}
