/*
** lmod_codec.c: stepflow.core.codec, the byte-level helpers of Distributed
** Map that plain Lua does too slowly: CSV line splitting, JSON value
** boundaries, MD5 ETags, CRC32 checksums and gzip inflation (zlib).
*/

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "lua.h"
#include "lauxlib.h"

#include "stepflow_core.h"
#include "md5.h"

#define INFLATER_MT "stepflow.Inflater"
#define FILE_CHUNK 65536

static void push_hex (lua_State *L, const unsigned char *d, int n) {
  static const char digits[] = "0123456789abcdef";
  char out[64];
  int i;
  for (i = 0; i < n; i++) {
    out[i * 2] = digits[d[i] >> 4];
    out[i * 2 + 1] = digits[d[i] & 15];
  }
  lua_pushlstring(L, out, (size_t)n * 2);
}

/* md5(s) -> lowercase hex digest  [-0, +1, m] */
static int codec_md5 (lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  stepflow_md5 m;
  unsigned char d[16];
  stepflow_md5_init(&m);
  stepflow_md5_update(&m, s, len);
  stepflow_md5_final(&m, d);
  push_hex(L, d, 16);
  return 1;
}

/* md5_file(path) -> hex digest, size | nil, message  [-0, +2, m] */
static int codec_md5_file (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  unsigned char buf[FILE_CHUNK], d[16];
  stepflow_md5 m;
  size_t n;
  lua_Integer size = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return luaL_fileresult(L, 0, path);
  stepflow_md5_init(&m);
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    stepflow_md5_update(&m, buf, n);
    size += (lua_Integer)n;
  }
  if (ferror(f)) {
    int en = errno;
    fclose(f);
    errno = en;
    return luaL_fileresult(L, 0, path);
  }
  fclose(f);
  stepflow_md5_final(&m, d);
  push_hex(L, d, 16);
  lua_pushinteger(L, size);
  return 2;
}

/* crc32(s[, crc]) -> the CRC-32 of s (continuing crc)  [-0, +1, -] */
static int codec_crc32 (lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uLong crc = (uLong)luaL_optinteger(L, 2, 0);
  /* zlib takes uInt lengths: feed huge strings in slices */
  while (len > 0) {
    uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
    crc = crc32(crc, (const Bytef *)s, n);
    s += n;
    len -= n;
  }
  lua_pushinteger(L, (lua_Integer)crc);
  return 1;
}

/*
** csv_line(buf, pos, delim, headers, template) -> item, next | false | nil
** The fast path of the CSV reader: the next non-empty line of buf from
** pos, when it holds no quote and no backslash, split at delim into a
** new table keyed by headers (fields a short line lacks are "", extra
** ones dropped). false: the line needs the full parser (it has quotes or
** backslashes); nil: no whole line left in buf.  [-0, +(1|2), m]
*/
static int codec_csv_line (lua_State *L) {
  size_t len;
  const char *buf = luaL_checklstring(L, 1, &len);
  lua_Integer pos = luaL_checkinteger(L, 2);
  size_t dlen;
  const char *dstr = luaL_checklstring(L, 3, &dlen);
  lua_Integer nh, i;
  char delim;
  luaL_argcheck(L, dlen == 1, 3, "delimiter must be one byte");
  luaL_checktype(L, 4, LUA_TTABLE);
  delim = dstr[0];
  nh = (lua_Integer)lua_rawlen(L, 4);
  luaL_argcheck(L, pos >= 1, 2, "position must be >= 1");
  for (;;) {
    const char *start, *nl, *stop, *p;
    if ((size_t)(pos - 1) >= len) {
      lua_pushnil(L);
      return 1;
    }
    start = buf + pos - 1;
    nl = memchr(start, '\n', len - (size_t)(pos - 1));
    if (nl == NULL) {
      lua_pushnil(L);
      return 1;
    }
    stop = nl;
    if (stop > start && stop[-1] == '\r') stop--;
    if (stop == start) {  /* an empty line: skipped */
      pos = (lua_Integer)(nl - buf) + 2;
      continue;
    }
    if (memchr(start, '"', (size_t)(stop - start)) != NULL ||
        memchr(start, '\\', (size_t)(stop - start)) != NULL) {
      lua_pushboolean(L, 0);
      return 1;
    }
    lua_createtable(L, 0, (int)nh);
    p = start;
    for (i = 1; i <= nh; i++) {
      const char *e;
      lua_rawgeti(L, 4, i);  /* STACK: item, header */
      if (p > stop) {
        lua_pushliteral(L, "");
      } else {
        e = memchr(p, delim, (size_t)(stop - p));
        if (e == NULL) e = stop;
        lua_pushlstring(L, p, (size_t)(e - p));
        p = e + 1;
      }
      lua_rawset(L, -3);
    }
    lua_pushinteger(L, (lua_Integer)(nl - buf) + 2);
    return 2;
  }
}

/* Skips a JSON string whose opening quote is at s[i]; returns the index
** after its closing quote, or -1 when buf ends first. */
static long skip_string (const char *s, long i, long n) {
  for (i = i + 1; i < n; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i + 1;
  }
  return -1;
}

/*
** json_value_end(buf, pos, eof) -> last | nil
** The 1-based index of the last byte of the JSON value that starts at pos
** (an object, array, string or scalar), found by bracket depth and string
** skipping only: decoding the value's text checks the rest. nil: buf ends
** before the value does (read more; with eof, a scalar ends at the end of
** buf).  [-0, +1, -]
*/
static int codec_json_value_end (lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  long i = (long)luaL_checkinteger(L, 2) - 1, n = (long)len, depth = 0;
  int eof = lua_toboolean(L, 3);
  if (i < 0 || i >= n) {
    lua_pushnil(L);
    return 1;
  }
  if (s[i] == '"') {
    long e = skip_string(s, i, n);
    if (e < 0) lua_pushnil(L);
    else lua_pushinteger(L, e);
    return 1;
  }
  if (s[i] != '[' && s[i] != '{') {  /* a number, true, false or null */
    for (; i < n; i++) {
      char c = s[i];
      if (c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' ||
          c == '\r' || c == '\n') {
        lua_pushinteger(L, i);
        return 1;
      }
    }
    if (eof) lua_pushinteger(L, n);
    else lua_pushnil(L);
    return 1;
  }
  for (; i < n; i++) {
    char c = s[i];
    if (c == '"') {
      i = skip_string(s, i, n);
      if (i < 0) break;
      i--;
    } else if (c == '[' || c == '{') {
      depth++;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) {
        lua_pushinteger(L, i + 1);
        return 1;
      }
    }
  }
  lua_pushnil(L);
  return 1;
}

/* An inflater: a zlib stream that takes gzip or zlib data (windowBits
** 15 + 32 detects the header) and restarts for each gzip member, as
** gunzip does with concatenated files. */
typedef struct Inflater {
  z_stream z;
  int open;    /* inflateInit2 succeeded and inflateEnd is due */
  int done;    /* the last member ended and no input followed */
} Inflater;

static Inflater *check_inflater (lua_State *L) {
  Inflater *f = (Inflater *)luaL_checkudata(L, 1, INFLATER_MT);
  if (!f->open) luaL_error(L, "attempt to use a closed inflater");
  return f;
}

/* inflater() -> Inflater  [-0, +1, m] */
static int codec_inflater (lua_State *L) {
  Inflater *f = (Inflater *)lua_newuserdatauv(L, sizeof(Inflater), 0);
  memset(f, 0, sizeof(*f));  /* closed first: __gc is safe from here on */
  luaL_setmetatable(L, INFLATER_MT);
  if (inflateInit2(&f->z, 15 + 32) != Z_OK)
    return luaL_error(L, "zlib: %s", f->z.msg ? f->z.msg : "cannot start inflating");
  f->open = 1;
  return 1;
}

/* inflater:write(chunk) -> inflated bytes | nil, message  [-0, +(1|2), m] */
static int inflater_write (lua_State *L) {
  Inflater *f = check_inflater(L);
  size_t len;
  const char *in = luaL_checklstring(L, 2, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (f->done && len > 0) {  /* a member ended with the last chunk */
    inflateReset(&f->z);
    f->done = 0;
  }
  f->z.next_in = (Bytef *)in;
  f->z.avail_in = (uInt)len;
  while (f->z.avail_in > 0) {
    int rc;
    char *out = luaL_prepbuffsize(&b, FILE_CHUNK);
    f->z.next_out = (Bytef *)out;
    f->z.avail_out = FILE_CHUNK;
    rc = inflate(&f->z, Z_NO_FLUSH);
    luaL_addsize(&b, FILE_CHUNK - f->z.avail_out);
    if (rc == Z_STREAM_END) {
      if (f->z.avail_in == 0) {
        f->done = 1;
        break;
      }
      inflateReset(&f->z);  /* another gzip member follows */
    } else if (rc == Z_BUF_ERROR) {
      if (f->z.avail_out != 0) break;  /* needs more input */
    } else if (rc != Z_OK) {
      lua_pushnil(L);
      lua_pushstring(L, f->z.msg ? f->z.msg : "invalid compressed data");
      return 2;
    }
    f->done = 0;
  }
  /* input consumed, but zlib may hold output for lack of room */
  while (!f->done) {
    int rc;
    char *out = luaL_prepbuffsize(&b, FILE_CHUNK);
    f->z.next_out = (Bytef *)out;
    f->z.avail_out = FILE_CHUNK;
    rc = inflate(&f->z, Z_NO_FLUSH);
    luaL_addsize(&b, FILE_CHUNK - f->z.avail_out);
    if (rc == Z_STREAM_END) { f->done = 1; break; }
    if (rc != Z_OK || f->z.avail_out != 0) break;
  }
  luaL_pushresult(&b);
  return 1;
}

/* inflater:finished() -> true when the data ended cleanly  [-0, +1, -] */
static int inflater_finished (lua_State *L) {
  Inflater *f = check_inflater(L);
  lua_pushboolean(L, f->done);
  return 1;
}

/* __gc, __close and close(): idempotent  [-0, +0, -] */
static int inflater_close (lua_State *L) {
  Inflater *f = (Inflater *)luaL_checkudata(L, 1, INFLATER_MT);
  if (f->open) {
    inflateEnd(&f->z);
    f->open = 0;
  }
  return 0;
}

static const luaL_Reg inflater_methods[] = {
  {"write", inflater_write},
  {"finished", inflater_finished},
  {"close", inflater_close},
  {NULL, NULL}
};

static const luaL_Reg codec_funcs[] = {
  {"md5", codec_md5},
  {"md5_file", codec_md5_file},
  {"crc32", codec_crc32},
  {"csv_line", codec_csv_line},
  {"json_value_end", codec_json_value_end},
  {"inflater", codec_inflater},
  {NULL, NULL}
};

STEPFLOW_EXPORT int luaopen_stepflow_core_codec (lua_State *L) {
  luaL_newmetatable(L, INFLATER_MT);
  lua_createtable(L, 0, 3);
  luaL_setfuncs(L, inflater_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, inflater_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, inflater_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newlib(L, codec_funcs);
  return 1;
}
