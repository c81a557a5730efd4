/*
** json_decode.c: JSON text straight to Lua values (integers kept, arrays
** marked, lone surrogates as WTF-8), for stepflow.core.json.
*/

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "json_impl.h"

/* ---------------------------------------------------------------- */
/* Decoder                                                           */
/* ---------------------------------------------------------------- */

typedef struct Dec {
  lua_State *L;
  const char *s;     /* start of the text */
  const char *end;   /* s + len; *end == '\0' */
  int arraymt;
} Dec;

J_NORETURN static void dec_fail (Dec *D, const char *p, const char *fmt,
                                 const char *what) {
  lua_pushfstring(D->L, fmt, what);
  lua_pushfstring(D->L, "json: %s at byte %I", lua_tostring(D->L, -1),
                  (lua_Integer)(p - D->s + 1));
  lua_error(D->L);
  J_UNREACHABLE();
}

J_NORETURN static void dec_expected (Dec *D, const char *p,
                                     const char *what) {
  dec_fail(D, p, "expected %s", what);
}

static const char *skip_ws (const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}

static int hexval (int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p, or -1. Stops at the first non-hex byte. */
static long hex4 (const unsigned char *p) {
  long v = 0;
  int k;
  for (k = 0; k < 4; k++) {
    int h = hexval(p[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Writes code point cp (surrogates included, as WTF-8) at o. */
static char *put_utf8 (char *o, unsigned long cp) {
  if (cp < 0x80) *o++ = (char)cp;
  else if (cp < 0x800) {
    *o++ = (char)(0xC0 | (cp >> 6));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | (cp >> 12));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  else {
    *o++ = (char)(0xF0 | (cp >> 18));
    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/*
** The slow path of a string: q is its first backslash, start its first
** byte. A first scan finds the closing quote; the decoded text is never
** longer than the source, so one buffer of that size is enough.
*/
static const char *dec_escaped (Dec *D, const char *start, const char *q0) {
  lua_State *L = D->L;
  const unsigned char *q = (const unsigned char *)q0;
  const unsigned char *r = q;
  luaL_Buffer b;
  char *out, *o;
  for (;;) {  /* find the closing quote */
    while (strclass[*r] == SC_PLAIN || strclass[*r] == SC_UTF8) r++;
    if (*r == '"') break;
    if ((const char *)r >= D->end ||
        (*r == '\\' && (const char *)r + 1 >= D->end))
      dec_expected(D, D->end, "'\"' to end the string");
    r += (*r == '\\') ? 2 : 1;
  }
  out = luaL_buffinitsize(L, &b, (size_t)((const char *)r - start));
  memcpy(out, start, (size_t)(q0 - start));
  o = out + (q0 - start);
  while (q < r) {
    unsigned c = *q;
    switch (strclass[c]) {
      case SC_PLAIN: *o++ = (char)c; q++; break;
      case SC_UTF8: {
        int n = utf8_len(q, 0);
        if (n == 0) dec_fail(D, (const char *)q, "invalid UTF-8%s", "");
        memcpy(o, q, (size_t)n);
        o += n; q += n;
        break;
      }
      case SC_CONTROL:
        dec_expected(D, (const char *)q,
                     "an escape, not a raw control character, in a string");
      default: {  /* backslash: r marks no quote before it */
        long cp;
        switch (q[1]) {
          case '"': *o++ = '"'; break;
          case '\\': *o++ = '\\'; break;
          case '/': *o++ = '/'; break;
          case 'b': *o++ = '\b'; break;
          case 'f': *o++ = '\f'; break;
          case 'n': *o++ = '\n'; break;
          case 'r': *o++ = '\r'; break;
          case 't': *o++ = '\t'; break;
          case 'u':
            cp = hex4(q + 2);
            if (cp < 0)
              dec_expected(D, (const char *)q + 2, "4 hex digits after \\u");
            if (cp >= 0xD800 && cp < 0xDC00 && q[6] == '\\' && q[7] == 'u') {
              long lo = hex4(q + 8);
              if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
              }
            }
            /* a lone surrogate decodes to its 3 WTF-8 bytes (ED A0 80) */
            o = put_utf8(o, (unsigned long)cp);
            q += 4;
            break;
          default:
            dec_expected(D, (const char *)q + 1,
                         "one of \" \\ / b f n r t u after a backslash");
        }
        q += 2;
      }
    }
  }
  luaL_pushresultsize(&b, (size_t)(o - out));
  return (const char *)r + 1;
}

/* Pushes the string whose opening quote is at p; returns the byte after. */
static const char *dec_string (Dec *D, const char *p) {
  const unsigned char *start = (const unsigned char *)p + 1;
  const unsigned char *q = start;
  for (;;) {
    while (strclass[*q] == SC_PLAIN) q++;
    switch (strclass[*q]) {
      case SC_QUOTE:
        lua_pushlstring(D->L, (const char *)start, (size_t)(q - start));
        return (const char *)q + 1;
      case SC_UTF8: {
        int n = utf8_len(q, 0);
        if (n == 0) dec_fail(D, (const char *)q, "invalid UTF-8%s", "");
        q += n;
        break;
      }
      case SC_BACKSLASH:
        return dec_escaped(D, (const char *)start, (const char *)q);
      default:
        if ((const char *)q >= D->end)
          dec_expected(D, (const char *)q, "'\"' to end the string");
        dec_expected(D, (const char *)q,
                     "an escape, not a raw control character, in a string");
    }
  }
}


/* Pushes the float spelled by p[0..n) (already checked to be JSON). */
static void push_float (Dec *D, const char *p, size_t n) {
  lua_State *L = D->L;
  char buf[64];
  const char *text = buf;
  char *endp;
  double d;
  if (n < sizeof(buf)) {
    memcpy(buf, p, n);
    buf[n] = '\0';
  }
  else text = lua_pushlstring(L, p, n);
  d = strtod(text, &endp);
  /* a double cannot hold it, and inf has no JSON spelling to give back */
  if (isinf(d)) dec_fail(D, p, "number %s", "out of range");
  if (J_LIKELY(endp == text + n)) lua_pushnumber(L, d);
  else {  /* a locale with another decimal point: let Lua cope with it */
    if (lua_stringtonumber(L, text) == 0)
      dec_expected(D, p, "a number");
    if (isinf(lua_tonumber(L, -1))) dec_fail(D, p, "number %s", "out of range");
    lua_pushnumber(L, lua_tonumber(L, -1));
    lua_remove(L, -2);
  }
  if (text != buf) lua_remove(L, -2);
}

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define EXACT_DOUBLE_OPS 1  /* no excess precision: one rounding per op */
#else
#define EXACT_DOUBLE_OPS 0
#endif

/*
** Pushes the number that starts at p; returns the byte after it. Digits
** go into u (up to 19 of them). Integers that fit stay integers. A float
** whose digits fit in 53 bits, with a power of ten up to 22 (exact in a
** double), is one correctly rounded multiplication or division (Clinger's
** fast path); other floats go to strtod.
*/
static const char *dec_number (Dec *D, const char *p) {
  const char *q = p;
  uint64_t u = 0;
  int neg = 0, nd = 0, frac = 0, isfloat = 0;
  long ex = 0;
  if (*q == '-') { neg = 1; q++; }
  if (*q == '0') q++;
  else if (*q >= '1' && *q <= '9') {
    do {
      if (nd < 19) u = u * 10 + (uint64_t)(*q - '0');
      nd++; q++;
    } while (isdig(*q));
  }
  else dec_expected(D, q, "a digit");
  if (*q == '.') {
    isfloat = 1;
    q++;
    if (!isdig(*q)) dec_expected(D, q, "a digit after '.'");
    do {
      if (nd < 19) { u = u * 10 + (uint64_t)(*q - '0'); frac++; }
      nd++; q++;
    } while (isdig(*q));
  }
  if (*q == 'e' || *q == 'E') {
    int eneg = 0;
    isfloat = 1;
    q++;
    if (*q == '+' || *q == '-') { eneg = (*q == '-'); q++; }
    if (!isdig(*q)) dec_expected(D, q, "a digit in the exponent");
    do {
      if (ex < 100000) ex = ex * 10 + (*q - '0');
      q++;
    } while (isdig(*q));
    if (eneg) ex = -ex;
  }
  if (!isfloat) {
    if (nd < 19 || (nd == 19 && u <= (uint64_t)INT64_MAX + (uint64_t)neg)) {
      /* two's complement negation in unsigned arithmetic, as Lua does */
      lua_pushinteger(D->L, (lua_Integer)(neg ? 0u - u : u));
      return q;
    }
  }
  else if (EXACT_DOUBLE_OPS && nd <= 19 && u <= ((uint64_t)1 << 53)) {
    long e10 = ex - frac;
    if (e10 >= -22 && e10 <= 22) {
      double d = (double)u;
      d = (e10 < 0) ? d / pow10tab[-e10] : d * pow10tab[e10];
      lua_pushnumber(D->L, neg ? -d : d);
      return q;
    }
  }
  push_float(D, p, (size_t)(q - p));  /* too long, too big or too small */
  return q;
}

static const char *dec_value (Dec *D, const char *p, int depth);

static const char *dec_array (Dec *D, const char *p, int depth) {
  lua_State *L = D->L;
  lua_Integer i = 0;
  lua_createtable(L, 0, 0);
  lua_pushvalue(L, D->arraymt);
  lua_setmetatable(L, -2);
  p = skip_ws(p + 1);
  if (*p == ']') return p + 1;
  for (;;) {
    p = dec_value(D, p, depth);
    lua_rawseti(L, -2, ++i);
    p = skip_ws(p);
    if (*p == ',') p = skip_ws(p + 1);
    else if (*p == ']') return p + 1;
    else dec_expected(D, p, "',' or ']'");
  }
}

static const char *dec_object (Dec *D, const char *p, int depth) {
  lua_State *L = D->L;
  lua_createtable(L, 0, 0);
  p = skip_ws(p + 1);
  if (*p == '}') return p + 1;
  if (*p != '"') dec_expected(D, p, "a string key or '}'");
  for (;;) {
    p = skip_ws(dec_string(D, p));
    if (*p != ':') dec_expected(D, p, "':'");
    p = dec_value(D, skip_ws(p + 1), depth);
    lua_rawset(L, -3);
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      if (*p != '"') dec_expected(D, p, "a string key");
    }
    else if (*p == '}') return p + 1;
    else dec_expected(D, p, "',' or '}'");
  }
}

static int literal (Dec *D, const char *p, const char *word, size_t n) {
  return (size_t)(D->end - p) >= n && memcmp(p, word, n) == 0;
}

/* Pushes the value that starts at p (no blank); returns the byte after. */
static const char *dec_value (Dec *D, const char *p, int depth) {
  switch (*p) {
    case '"': return dec_string(D, p);
    case '{': case '[':
      if (depth >= MAXDEPTH)
        dec_fail(D, p, DEEPER "%s", "");
      luaL_checkstack(D->L, 8, "json: nesting");
      return (*p == '{') ? dec_object(D, p, depth + 1)
                         : dec_array(D, p, depth + 1);
    case 't':
      if (!literal(D, p, "true", 4)) dec_expected(D, p, "'true'");
      lua_pushboolean(D->L, 1);
      return p + 4;
    case 'f':
      if (!literal(D, p, "false", 5)) dec_expected(D, p, "'false'");
      lua_pushboolean(D->L, 0);
      return p + 5;
    case 'n':
      if (!literal(D, p, "null", 4)) dec_expected(D, p, "'null'");
      lua_pushlightuserdata(D->L, NULL);
      return p + 4;
    default:
      if (*p == '-' || isdig(*p)) return dec_number(D, p);
      dec_expected(D, p, "a value");
  }
}

void stepflow_json_decode (lua_State *L, const char *s, size_t len,
                           int arraymt) {
  Dec D;
  const char *p;
  D.L = L;
  D.s = s;
  D.end = s + len;
  D.arraymt = lua_absindex(L, arraymt);
  p = skip_ws(dec_value(&D, skip_ws(s), 0));
  if (p != D.end) {
    lua_pop(L, 1);
    dec_expected(&D, p, "end of input");
  }
}

