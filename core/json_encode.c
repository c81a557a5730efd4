/*
** json_encode.c: Lua values to JSON text (keys sorted bytewise or in table
** order, shortest floats), the array test and the size bound, for
** stepflow.core.json.
*/

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "json_impl.h"

/* ---------------------------------------------------------------- */
/* Encoder                                                           */
/* ---------------------------------------------------------------- */

#define BUFFER_MT "stepflow.json.buffer"

/* An object key waiting to be written: its text and its stack slot. */
typedef struct Key {
  const char *s;
  size_t len;
  int slot;
} Key;

/*
** The output buffer and the key stack: a full userdata whose __gc frees
** both, so an error thrown halfway leaks nothing.
*/
typedef struct Buf {
  char *b;
  size_t n, cap;
  Key *keys;
  size_t nkeys, kcap;
  lua_Alloc alloc;
  void *ud;
} Buf;

/* Keep at most this much memory in the cached buffer between calls. */
#define KEEP_BYTES ((size_t)1 << 20)

/* The step from a value to one of its members, for error messages. */
typedef struct Path {
  const struct Path *up;
  const char *key;        /* NULL for an array element */
  size_t klen;
  lua_Integer index;      /* 0-based, as JSONPath counts */
} Path;

typedef struct Enc {
  lua_State *L;
  Buf *B;
  int flags;
  int arraymt;
  int ld_ok;      /* long double really has 64 mantissa bits */
} Enc;

static int buf_gc (lua_State *L) {
  Buf *B = (Buf *)luaL_checkudata(L, 1, BUFFER_MT);
  if (B->b) B->alloc(B->ud, B->b, B->cap, 0);
  if (B->keys) B->alloc(B->ud, B->keys, B->kcap * sizeof(Key), 0);
  B->b = NULL; B->n = B->cap = 0;
  B->keys = NULL; B->nkeys = B->kcap = 0;
  return 0;
}

/* Pushes a new empty buffer.  [-0, +1, m] */
static Buf *buf_new (lua_State *L) {
  Buf *B = (Buf *)lua_newuserdatauv(L, sizeof(Buf), 0);
  memset(B, 0, sizeof(*B));
  B->alloc = lua_getallocf(L, &B->ud);
  if (luaL_newmetatable(L, BUFFER_MT)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  return B;
}

static void buf_grow (lua_State *L, Buf *B, size_t extra) {
  size_t cap = B->cap ? B->cap : 256;
  char *nb;
  if (extra > (size_t)-1 / 2 - B->n) luaL_error(L, "json: text too long");
  while (cap - B->n < extra) cap *= 2;
  nb = (char *)B->alloc(B->ud, B->b, B->cap, cap);
  if (nb == NULL) luaL_error(L, "json: not enough memory");
  B->b = nb;
  B->cap = cap;
}

#define reserve(E, k) \
  ((E)->B->cap - (E)->B->n < (size_t)(k) ? buf_grow((E)->L, (E)->B, (k)) \
                                         : (void)0)

static void add (Enc *E, const char *s, size_t n) {
  reserve(E, n);
  memcpy(E->B->b + E->B->n, s, n);
  E->B->n += n;
}

#define addlit(E, s) add(E, "" s, sizeof(s) - 1)

static void addchar (Enc *E, char c) {
  reserve(E, 1);
  E->B->b[E->B->n++] = c;
}

static void newline (Enc *E, int level) {
  size_t n = 1 + 2 * (size_t)level;
  reserve(E, n);
  E->B->b[E->B->n] = '\n';
  memset(E->B->b + E->B->n + 1, ' ', n - 1);
  E->B->n += n;
}

static int is_ident (const char *s, size_t n) {
  size_t i;
  if (n == 0 || isdig(s[0])) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c == '_' || isdig(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
      return 0;
  }
  return 1;
}

static void add_path (luaL_Buffer *b, const Path *path) {
  if (path->up == NULL) { luaL_addchar(b, '$'); return; }
  add_path(b, path->up);
  if (path->key == NULL) {
    char num[32];
    snprintf(num, sizeof(num), "[%lld]", (long long)path->index);
    luaL_addstring(b, num);
  }
  else if (is_ident(path->key, path->klen)) {
    luaL_addchar(b, '.');
    luaL_addlstring(b, path->key, path->klen);
  }
  else {
    luaL_addstring(b, "['");
    luaL_addlstring(b, path->key, path->klen);
    luaL_addstring(b, "']");
  }
}

/* Raises "json: <what> at <path>", the path cut to ~200 bytes. */
J_NORETURN static void enc_fail (Enc *E, const Path *path, const char *what) {
  lua_State *L = E->L;
  luaL_Buffer b;
  size_t n;
  const char *s;
  luaL_checkstack(L, 8, "json: error message");
  luaL_buffinit(L, &b);
  add_path(&b, path);
  luaL_pushresult(&b);
  s = lua_tolstring(L, -1, &n);
  if (n > 200) {
    lua_pushfstring(L, "%s...", lua_pushlstring(L, s, 200));
    s = lua_tostring(L, -1);
  }
  lua_pushfstring(L, "json: %s at %s", what, s);
  lua_error(L);
  J_UNREACHABLE();
}

static const char hexdig[] = "0123456789abcdef";

/* Writes the escape of the byte c (a control character, '"' or '\\'). */
static void add_escape (Enc *E, unsigned c) {
  char esc[6];
  switch (c) {
    case '"': addlit(E, "\\\""); return;
    case '\\': addlit(E, "\\\\"); return;
    case '\b': addlit(E, "\\b"); return;
    case '\f': addlit(E, "\\f"); return;
    case '\n': addlit(E, "\\n"); return;
    case '\r': addlit(E, "\\r"); return;
    case '\t': addlit(E, "\\t"); return;
    default:
      esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
      esc[4] = hexdig[c >> 4]; esc[5] = hexdig[c & 15];
      add(E, esc, 6);
  }
}

/* Writes s[0..len) quoted; s[len] is '\0' (a Lua string). */
static void enc_string (Enc *E, const char *s, size_t len,
                        const Path *path) {
  const unsigned char *p = (const unsigned char *)s;
  const unsigned char *e = p + len;
  addchar(E, '"');
  while (p < e) {
    const unsigned char *q = p;
    for (;;) {  /* a run of bytes to copy as they are */
      while (strclass[*q] == SC_PLAIN) q++;
      if (strclass[*q] == SC_UTF8) {
        int n = utf8_len(q, 0);
        if (n == 0) break;
        q += n;
      }
      else break;
    }
    add(E, (const char *)p, (size_t)(q - p));
    if (q >= e) break;
    if (strclass[*q] == SC_UTF8) {
      /* a lone surrogate (WTF-8, as decode makes it) goes back to \uXXXX,
         as JSON.stringify writes it */
      char esc[6];
      unsigned cp;
      if (utf8_len(q, 1) != 3) enc_fail(E, path, "cannot encode invalid UTF-8");
      cp = ((unsigned)(q[0] & 0x0F) << 12) | ((unsigned)(q[1] & 0x3F) << 6) |
           (unsigned)(q[2] & 0x3F);
      esc[0] = '\\'; esc[1] = 'u';
      esc[2] = hexdig[cp >> 12]; esc[3] = hexdig[(cp >> 8) & 15];
      esc[4] = hexdig[(cp >> 4) & 15]; esc[5] = hexdig[cp & 15];
      add(E, esc, 6);
      p = q + 3;
    }
    else {
      add_escape(E, *q);
      p = q + 1;
    }
  }
  addchar(E, '"');
}

static void enc_value (Enc *E, int idx, const Path *path, int depth);

static void enc_array (Enc *E, int t, lua_Integer n, const Path *path,
                       int depth) {
  lua_State *L = E->L;
  int pretty = E->flags & STEPFLOW_JSON_PRETTY;
  lua_Integer i;
  Path child;
  if (n == 0) { addlit(E, "[]"); return; }
  child.up = path; child.key = NULL; child.klen = 0;
  addchar(E, '[');
  for (i = 1; i <= n; i++) {
    if (i > 1) addchar(E, ',');
    if (pretty) newline(E, depth);
    child.index = i - 1;
    if (lua_rawgeti(L, t, i) == LUA_TNIL)
      enc_fail(E, &child, "cannot encode nil (an array with holes)");
    enc_value(E, lua_gettop(L), &child, depth);
    lua_pop(L, 1);
  }
  if (pretty) newline(E, depth - 1);
  addchar(E, ']');
}

static int key_cmp (const Key *a, const Key *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  if (c != 0) return c;
  return (a->len > b->len) - (a->len < b->len);
}

static int key_qcmp (const void *a, const void *b) {
  return key_cmp((const Key *)a, (const Key *)b);
}

static void sort_keys (Key *k, size_t n) {
  if (n > 16) { qsort(k, n, sizeof(Key), key_qcmp); return; }
  {
    size_t i, j;
    for (i = 1; i < n; i++) {
      Key x = k[i];
      for (j = i; j > 0 && key_cmp(&k[j - 1], &x) > 0; j--) k[j] = k[j - 1];
      k[j] = x;
    }
  }
}

static void push_key (Enc *E, const char *s, size_t len, int slot) {
  Buf *B = E->B;
  Key *k;
  if (B->nkeys == B->kcap) {
    size_t cap = B->kcap ? B->kcap * 2 : 64;
    Key *nk = (Key *)B->alloc(B->ud, B->keys, B->kcap * sizeof(Key),
                              cap * sizeof(Key));
    if (nk == NULL) luaL_error(E->L, "json: not enough memory");
    B->keys = nk;
    B->kcap = cap;
  }
  k = &B->keys[B->nkeys++];
  k->s = s; k->len = len; k->slot = slot;
}

/*
** An object: its pairs stay on the stack (k1, v1, k2, v2, ...) so that
** the key pointers stay valid; the keys are sorted on the key stack.
*/
static void enc_object (Enc *E, int t, const Path *path, int depth) {
  lua_State *L = E->L;
  int pretty = E->flags & STEPFLOW_JSON_PRETTY;
  int top = lua_gettop(L) - 2;       /* STACK: ..., k1, v1 */
  size_t base = E->B->nkeys, n = 0, i;
  Path child;
  child.up = path; child.index = 0;
  do {
    const char *s;
    size_t len;
    int kt = lua_type(L, -2);
    if (kt != LUA_TSTRING) {
      enc_fail(E, path, kt == LUA_TNUMBER
               ? "cannot encode table with mixed keys"
               : "cannot encode table with non-string keys");
    }
    /* each pair keeps 2 slots: make room for the next 16 pairs */
    if ((n++ & 15) == 0) luaL_checkstack(L, 40, "json: object too large");
    s = lua_tolstring(L, -2, &len);
    push_key(E, s, len, lua_gettop(L) - 1);
    lua_pushvalue(L, -2);  /* STACK: ..., k, v, k */
  } while (lua_next(L, t));
  if (!(E->flags & STEPFLOW_JSON_UNSORTED))
    sort_keys(E->B->keys + base, n);
  addchar(E, '{');
  for (i = 0; i < n; i++) {
    Key k = E->B->keys[base + i];  /* a copy: the key stack may move */
    if (i > 0) addchar(E, ',');
    if (pretty) newline(E, depth);
    child.key = k.s; child.klen = k.len;
    enc_string(E, k.s, k.len, &child);
    if (pretty) addlit(E, ": ");
    else addchar(E, ':');
    enc_value(E, k.slot + 1, &child, depth);
  }
  if (pretty) newline(E, depth - 1);
  addchar(E, '}');
  E->B->nkeys = base;
  lua_settop(L, top);
}

/*
** An object in table order (STEPFLOW_JSON_UNSORTED, not pretty): each
** pair is written as lua_next yields it, so the stack holds one pair at a
** time and no key list is kept.
*/
static void enc_object_unsorted (Enc *E, int t, const Path *path,
                                 int depth) {
  lua_State *L = E->L;
  Path child;
  int first = 1;
  child.up = path; child.index = 0;
  addchar(E, '{');
  do {  /* STACK: ..., k, v */
    const char *s;
    size_t len;
    int kt = lua_type(L, -2);
    if (kt != LUA_TSTRING) {
      enc_fail(E, path, kt == LUA_TNUMBER
               ? "cannot encode table with mixed keys"
               : "cannot encode table with non-string keys");
    }
    if (!first) addchar(E, ',');
    first = 0;
    s = lua_tolstring(L, -2, &len);
    child.key = s; child.klen = len;
    enc_string(E, s, len, &child);
    addchar(E, ':');
    enc_value(E, lua_gettop(L), &child, depth);
    lua_pop(L, 1);
  } while (lua_next(L, t));
  addchar(E, '}');
}

static void enc_table (Enc *E, int t, const Path *path, int depth) {
  lua_State *L = E->L;
  lua_Integer count = 0, max = 0;
  if (depth > MAXDEPTH)
    enc_fail(E, path, DEEPER);
  luaL_checkstack(L, 8, "json: nesting");
  if (lua_getmetatable(L, t)) {
    int isarr = lua_rawequal(L, -1, E->arraymt);
    lua_pop(L, 1);
    if (isarr) {
      enc_array(E, t, (lua_Integer)lua_rawlen(L, t), path, depth);
      return;
    }
  }
  lua_pushnil(L);
  if (!lua_next(L, t)) { addlit(E, "{}"); return; }
  if (lua_type(L, -2) != LUA_TNUMBER) {
    if ((E->flags & (STEPFLOW_JSON_UNSORTED | STEPFLOW_JSON_PRETTY)) ==
        STEPFLOW_JSON_UNSORTED)
      enc_object_unsorted(E, t, path, depth);
    else
      enc_object(E, t, path, depth);
    return;
  }
  do {  /* STACK: ..., k, v: a sequence has keys 1..n exactly */
    lua_Integer k;
    if (!lua_isinteger(L, -2)) {
      enc_fail(E, path, lua_type(L, -2) == LUA_TSTRING
               ? "cannot encode table with mixed keys"
               : "cannot encode table with non-string keys");
    }
    k = lua_tointeger(L, -2);
    if (k < 1) enc_fail(E, path, "cannot encode table with sparse keys");
    count++;
    if (k > max) max = k;
    lua_pop(L, 1);
  } while (lua_next(L, t));
  if (max != count) enc_fail(E, path, "cannot encode table with sparse keys");
  enc_array(E, t, count, path, depth);
}

static void enc_value (Enc *E, int idx, const Path *path, int depth) {
  lua_State *L = E->L;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      enc_string(E, s, len, path);
      break;
    }
    case LUA_TNUMBER:
      reserve(E, 32);
      if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        char *o = E->B->b + E->B->n;
        if (i < 0) *o++ = '-';
        o = put_uint(o, i < 0 ? 0u - (uint64_t)i : (uint64_t)i);
        E->B->n = (size_t)(o - E->B->b);
      }
      else {
        double d = lua_tonumber(L, idx);
        if (isnan(d)) enc_fail(E, path, "cannot encode NaN");
        if (isinf(d))
          enc_fail(E, path, d > 0 ? "cannot encode inf" : "cannot encode -inf");
        E->B->n = (size_t)(stepflow_json_put_double(E->B->b + E->B->n, d,
                                                    E->ld_ok) - E->B->b);
      }
      break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) addlit(E, "true");
      else addlit(E, "false");
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL)
        enc_fail(E, path, "cannot encode lightuserdata other than null");
      addlit(E, "null");
      break;
    case LUA_TTABLE:
      enc_table(E, idx, path, depth + 1);
      break;
    default: {
      lua_pushfstring(L, "cannot encode %s", luaL_typename(L, idx));
      enc_fail(E, path, lua_tostring(L, -1));
    }
  }
}

void stepflow_json_encode (lua_State *L, int idx, int flags, int arraymt,
                           int cache) {
  Enc E;
  Path root;
  int bslot;
  idx = lua_absindex(L, idx);
  arraymt = lua_absindex(L, arraymt);
  cache = lua_absindex(L, cache);
  luaL_checkstack(L, 24, "json: encode");
  /* take the cached buffer out of its slot while we use it */
  E.B = (Buf *)luaL_testudata(L, cache, BUFFER_MT);
  if (E.B != NULL) {
    lua_pushvalue(L, cache);
    lua_pushnil(L);
    lua_replace(L, cache);
  }
  else E.B = buf_new(L);
  bslot = lua_gettop(L);
  E.B->n = 0;
  E.B->nkeys = 0;
  E.L = L;
  E.flags = flags;
  E.arraymt = arraymt;
  E.ld_ok = stepflow_json_ld_works();
  root.up = NULL; root.key = NULL; root.klen = 0; root.index = 0;
  if (lua_isnoneornil(L, idx)) enc_fail(&E, &root, "cannot encode nil");
  enc_value(&E, idx, &root, 0);
  lua_pushlstring(L, E.B->b, E.B->n);
  if (E.B->cap > KEEP_BYTES) {  /* do not keep a huge buffer around */
    E.B->alloc(E.B->ud, E.B->b, E.B->cap, 0);
    E.B->b = NULL; E.B->cap = 0;
  }
  E.B->n = 0;
  lua_pushvalue(L, bslot);
  lua_replace(L, cache);
  lua_remove(L, bslot);
}

int stepflow_json_isarray (lua_State *L, int idx, int arraymt) {
  lua_Integer count = 0, max = 0;
  int ok = 1;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  if (lua_getmetatable(L, idx)) {
    int isarr = lua_rawequal(L, -1, arraymt);
    lua_pop(L, 1);
    if (isarr) return 1;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
      ok = 0;
      lua_pop(L, 1);
      break;
    }
    count++;
    if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
  }
  return ok && count > 0 && count == max;
}


/*
** An upper bound of the encoded size of the value at idx, counted until it
** passes `limit` (then limit + 1): each string byte as 6 (the longest
** escape), each number as 25 characters (the longest shortest-round-trip
** spelling is 24), structure included; integer keys (array indices) as
** nothing. A value that encode would refuse (a function, a thread, NaN or
** an infinity, a key that is neither a string nor a positive integer, a
** table mixing the two) counts as over the limit: the caller then
** encodes, and learns what is wrong.
*/
static size_t bound (lua_State *L, int idx, size_t limit, int depth) {
  size_t n;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      (void)lua_tolstring(L, idx, &len);
      return len > (limit - 2) / 6 ? limit + 1 : 2 + 6 * len;
    }
    case LUA_TNUMBER:
      if (depth < 0) {  /* a key: an array index */
        return lua_isinteger(L, idx) && lua_tointeger(L, idx) > 0 ? 0 : limit + 1;
      }
      if (!lua_isinteger(L, idx) && !isfinite(lua_tonumber(L, idx)))
        return limit + 1;
      return 25;
    case LUA_TBOOLEAN: return depth < 0 ? limit + 1 : 5;
    case LUA_TTABLE: {
      int keys = 0;  /* 1: string keys seen, 2: index keys seen */
      lua_Integer count = 0, max = 0;  /* index keys: a sequence? */
      if (depth < 0 || depth > MAXDEPTH || !lua_checkstack(L, 3))
        return limit + 1;
      n = 2;
      lua_pushnil(L);
      while (lua_next(L, idx)) {  /* STACK: k, v */
        if (lua_type(L, -2) == LUA_TSTRING) keys |= 1;
        else {
          keys |= 2;
          count++;
          if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > max)
            max = lua_tointeger(L, -2);
        }
        /* depth -1: a key (a number key is an index, not written) */
        n += 2 + bound(L, lua_gettop(L) - 1, limit, -1) +
             bound(L, lua_gettop(L), limit, depth + 1);
        lua_pop(L, 1);
        if (n > limit || keys == 3) {
          lua_pop(L, 1);
          return limit + 1;
        }
      }
      return count == max ? n : limit + 1;  /* holes: encode decides */
    }
    case LUA_TLIGHTUSERDATA:  /* null only */
      return depth < 0 || lua_touserdata(L, idx) != NULL ? limit + 1 : 4;
    default: return limit + 1;  /* encode refuses it */
  }
}

int stepflow_json_size_within (lua_State *L, int idx, size_t limit) {
  idx = lua_absindex(L, idx);
  return limit >= 34 && bound(L, idx, limit, 0) <= limit;
}
