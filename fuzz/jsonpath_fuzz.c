/*
** jsonpath_fuzz.c: libFuzzer harness of JSONPath compile and evaluate.
** The input is a path, a newline, then a JSON document. The path must
** compile or fail with "invalid JSONPath ..."; a compiled path must
** evaluate on the document without a memory error, and its result must
** encode as JSON.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  lua_State *L = fuzz_state();
  const char *s = (const char *)data, *nl = memchr(s, '\n', size);
  size_t plen = nl ? (size_t)(nl - s) : size;
  lua_pushlstring(L, s, plen);
  if (!fuzz_call(L, "path_compile", 1)) {
    fprintf(stderr, "path_compile raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  if (lua_isnil(L, -1)) goto done;   /* refused: path_compile gave nil, msg */
  /* STACK: module, path */
  if (nl) lua_pushlstring(L, nl + 1, size - plen - 1);
  else lua_pushliteral(L, "{\"a\":[1,{\"b\":\"x\"}],\"c\":{\"d\":null}}");
  if (!fuzz_call(L, "decode", 1)) goto done;
  /* STACK: module, path, document */
  lua_getfield(L, 2, "get");
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    /* only the documented evaluation limits may raise */
    if (msg == NULL || strncmp(msg, "JSONPath: ", 10) != 0) {
      fprintf(stderr, "get raised: %s\n", msg ? msg : "(not a string)");
      abort();
    }
    goto done;
  }
  if (!lua_isnil(L, -1) && !fuzz_call(L, "encode", 1)) {
    fprintf(stderr, "result does not encode: %s\n", lua_tostring(L, -1));
    abort();
  }
done:
  fuzz_collect(L);
  return 0;
}
