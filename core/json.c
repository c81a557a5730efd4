/*
** json.c: the faithful JSON codec of stepflow.core.json: text straight to
** Lua values and back (integers kept, arrays marked, shortest floats).
*/

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "json.h"

#if defined(__GNUC__)
#define J_NORETURN __attribute__((noreturn))
#define J_UNREACHABLE() __builtin_unreachable()
#define J_LIKELY(x) __builtin_expect(!!(x), 1)
#define J_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define J_NORETURN
#define J_UNREACHABLE() abort()
#define J_LIKELY(x) (x)
#define J_UNLIKELY(x) (x)
#endif

#define MAXDEPTH STEPFLOW_JSON_MAXDEPTH
#define J_STR_(x) #x
#define J_STR(x) J_STR_(x)
#define DEEPER "nesting deeper than " J_STR(STEPFLOW_JSON_MAXDEPTH)


/* ---------------------------------------------------------------- */
/* Shared tables                                                     */
/* ---------------------------------------------------------------- */

/*
** Byte classes. The decoder's string scanner stops on anything but
** SC_PLAIN; the encoder copies SC_PLAIN and SC_UTF8 runs and escapes the
** rest. Since '\0' is SC_CONTROL, the '\0' after every Lua string ends
** each scan without a bounds check.
*/
enum { SC_PLAIN = 0, SC_QUOTE, SC_BACKSLASH, SC_CONTROL, SC_UTF8 };

#define R8(x)  x, x, x, x, x, x, x, x
#define R16(x) R8(x), R8(x)
static const unsigned char strclass[256] = {
  R16(SC_CONTROL), R16(SC_CONTROL),                          /* 00-1f */
  0, 0, SC_QUOTE, 0, 0, 0, 0, 0, R8(0),                      /* 20-2f */
  R16(0), R16(0),                                            /* 30-4f */
  R8(0), 0, 0, 0, 0, SC_BACKSLASH, 0, 0, 0,                  /* 50-5f */
  R16(0), R16(0),                                            /* 60-7f */
  R16(SC_UTF8), R16(SC_UTF8), R16(SC_UTF8), R16(SC_UTF8),    /* 80-bf */
  R16(SC_UTF8), R16(SC_UTF8), R16(SC_UTF8), R16(SC_UTF8)     /* c0-ff */
};

/*
** Length of the UTF-8 sequence at p (p[0] >= 0x80), 0 if it is invalid.
** With surrogates set, ED A0..BF xx (a UTF-16 surrogate, WTF-8) counts as
** valid. Reads stop at the first bad byte, so a '\0' sentinel is enough.
*/
static int utf8_len (const unsigned char *p, int surrogates) {
  unsigned c = p[0];
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    unsigned lo = (c == 0xE0) ? 0xA0 : 0x80;
    unsigned hi = (c == 0xED && !surrogates) ? 0x9F : 0xBF;
    return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) ? 3 : 0;
  }
  if (c < 0xF5) {
    unsigned lo = (c == 0xF0) ? 0x90 : 0x80;
    unsigned hi = (c == 0xF4) ? 0x8F : 0xBF;
    return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
            (p[3] & 0xC0) == 0x80) ? 4 : 0;
  }
  return 0;
}


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

#define isdig(c) ((unsigned)((c) - '0') < 10u)

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

static const double pow10tab[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

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


/* ---------------------------------------------------------------- */
/* Number formatting                                                 */
/* ---------------------------------------------------------------- */

/* Writes u in decimal at o; returns the end. */
static char *put_uint (char *o, uint64_t u) {
  char tmp[24];
  char *t = tmp + sizeof(tmp);
  size_t n;
  do { *--t = (char)('0' + u % 10); u /= 10; } while (u);
  n = (size_t)(tmp + sizeof(tmp) - t);
  memcpy(o, t, n);
  return o + n;
}

/* Writes the digits of u at digits without trailing zeros: their count;
** *n10 gets the exponent of ax = 0.DIGITS x 10^n10 given ax = u x 10^e. */
static int digits_of (uint64_t u, int e, char *digits, int *n10) {
  int nd = (int)(put_uint(digits, u) - digits);
  *n10 = nd + e;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  return nd;
}

#if LDBL_MANT_DIG >= 64
static const long double ldpow10[] = {
  1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
  1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
  1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L
};

/*
** Shortest digits with x87-style long double (64-bit mantissa), for
** 1e-11 <= ax < 1e17: Y = ax x 10^k lies in [1e16, 1e17) with an error
** below 2^-8 (10^k is exact up to 10^27). For p = 15, 16, 17 digits the
** nearest candidate C (a multiple of 10^(17-p)) reads back as ax when
** |C - Y| is inside the rounding interval of ax, whose half-width
** 10^k x 2^E / 2 is exact; within 0.01 of the edge, strtod decides.
** 17 digits always fit (the half-width is at least 0.55). Near a tie
** between two candidates the nearest is not certain: snprintf, which
** rounds exactly, takes over. Returns 0 when it does not handle ax.
*/
static int shortest_ld (double ax, char *digits, int *n10) {
  int e2, k, p;
  double m = frexp(ax, &e2);
  int low_edge = (m == 0.5);  /* mantissa 2^52: the interval below is half */
  long double y, ulp, unit, d, diff, lim, ad;
  if (!(ax >= 1e-11 && ax < 1e17)) return 0;
  k = 16 - (int)floor(log10(ax));
  if (k < 0 || k > 27) return 0;
  y = (long double)ax * ldpow10[k];
  if (y >= 1e17L) { if (--k < 0) return 0; y = (long double)ax * ldpow10[k]; }
  else if (y < 1e16L) {
    if (++k > 27) return 0;
    y = (long double)ax * ldpow10[k];
  }
  ulp = ldexpl(ldpow10[k], e2 - 53);
  for (p = 15; p <= 17; p++) {
    int tries;
    long double q;
    unit = ldpow10[17 - p];
    q = y / unit;
    d = floorl(q + 0.5L);
    if (fabsl(d - q) > 0.49L) return 0;  /* nearly a tie: let snprintf round */
    for (tries = 0; tries < 2; tries++) {
      diff = d * unit - y;
      lim = (diff < 0 && low_edge) ? ulp / 4 : ulp / 2;
      ad = fabsl(diff);
      if (p == 17 || ad < lim - 0.01L) goto found;
      if (ad <= lim + 0.01L) {  /* too close to call: ask strtod */
        char text[48], *o = put_uint(text, (uint64_t)d);
        int ex = (17 - p) - k;
        *o++ = 'e';
        if (ex < 0) { *o++ = '-'; ex = -ex; }
        o = put_uint(o, (uint64_t)ex);
        *o = '\0';
        if (strtod(text, NULL) == ax) goto found;
      }
      /* at a power of two the interval is lopsided: the candidate just
         above may fit where the nearest one, below, does not */
      if (!(low_edge && diff < 0)) break;
      d += 1;
    }
  }
  return 0;
found:
  return digits_of((uint64_t)d, (17 - p) - k, digits, n10);
}
#endif

/*
** Whether long double arithmetic really keeps 64 mantissa bits: some
** emulators (valgrind) compute it with 53, which shortest_ld cannot use.
*/
static int ld_works (void) {
  volatile long double one = 1.0L, tiny = 1.0L / 1152921504606846976.0L;
  return one + tiny != one;  /* tiny = 2^-60 */
}

/*
** The shortest decimal digits (no leading or trailing zeros) that read
** back as ax > 0, and the exponent n with ax = 0.DIGITS x 10^n: the
** digits JavaScript prints. Floats with a few decimals take a quick path:
** ax x 10^k rounded to an integer d, accepted when d / 10^k gives ax back
** (IEEE division rounds correctly, so the decimal d e-k reads back as
** ax); below 2^50 that rounding finds the nearest k-decimal number, so the
** first k that works is the shortest. Then shortest_ld; the rest try
** %.15e, %.16e, %.17e with strtod (subnormals from %.1e up), which find
** the nearest candidate of each length.
*/
static int shortest_digits (double ax, char *digits, int *n10, int ld_ok) {
  int k;
  if (ax >= 1e-5 && ax < 1e15) {
    for (k = 1; k <= 6; k++) {
      double y = ax * pow10tab[k], r;
      if (y >= 1125899906842624.0) break;  /* 2^50 */
      r = floor(y + 0.5);
      if (r / pow10tab[k] == ax && r > 0)
        return digits_of((uint64_t)r, -k, digits, n10);
    }
  }
#if LDBL_MANT_DIG >= 64
  if (ld_ok && (k = shortest_ld(ax, digits, n10)) > 0) return k;
#else
  (void)ld_ok;
#endif
  {
    int prec, e2;
    int low_edge = (frexp(ax, &e2) == 0.5);
    /* subnormals have fewer significant digits than DBL_DIG */
    for (prec = (ax < DBL_MIN) ? 1 : 15; ; prec++) {
      char buf[48], *o;
      const char *p;
      uint64_t d = 0;
      int ex;
      snprintf(buf, sizeof(buf), "%.*e", prec - 1, ax);
      /* buf is d[.ddd]e[+-]x, the point in the locale's spelling */
      for (p = buf; *p != 'e'; p++)
        if (isdig(*p)) d = d * 10 + (uint64_t)(*p - '0');
      ex = atoi(p + 1) - (prec - 1);  /* ax ~ d x 10^ex */
      if (prec == 17 || strtod(buf, NULL) == ax)
        return digits_of(d, ex, digits, n10);
      if (low_edge) {  /* see shortest_ld: try the candidate above */
        o = put_uint(buf, d + 1);
        *o++ = 'e';
        snprintf(o, sizeof(buf) - (size_t)(o - buf), "%d", ex);
        if (strtod(buf, NULL) == ax) return digits_of(d + 1, ex, digits, n10);
      }
    }
  }
}

/*
** Writes x as JavaScript's Number::toString would (ECMA-262 6.1.6.1.20),
** which is what JSON.stringify prints: integral values without a
** fraction below 1e21 ("3", "1e+21"), exponent form below 1e-6 ("1e-7").
** o must have room for 32 bytes; returns the end. x is finite.
*/
static char *put_double (char *o, double x, int ld_ok) {
  char digits[24];
  int nd, n, i;
  if (x == 0) { *o++ = '0'; return o; }  /* -0 too, as JS prints it */
  if (x < 0) { *o++ = '-'; x = -x; }
  if (x < 9007199254740992.0 && x == floor(x))  /* 2^53: exact integer */
    return put_uint(o, (uint64_t)x);
  nd = shortest_digits(x, digits, &n, ld_ok);
  if (nd <= n && n <= 21) {
    memcpy(o, digits, (size_t)nd); o += nd;
    for (i = nd; i < n; i++) *o++ = '0';
  }
  else if (0 < n && n <= 21) {
    memcpy(o, digits, (size_t)n); o += n;
    *o++ = '.';
    memcpy(o, digits + n, (size_t)(nd - n)); o += nd - n;
  }
  else if (-6 < n && n <= 0) {
    *o++ = '0'; *o++ = '.';
    for (i = n; i < 0; i++) *o++ = '0';
    memcpy(o, digits, (size_t)nd); o += nd;
  }
  else {
    int e = n - 1;
    *o++ = digits[0];
    if (nd > 1) {
      *o++ = '.';
      memcpy(o, digits + 1, (size_t)(nd - 1)); o += nd - 1;
    }
    *o++ = 'e';
    *o++ = (e < 0) ? '-' : '+';
    o = put_uint(o, (uint64_t)(e < 0 ? -e : e));
  }
  return o;
}


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
        E->B->n = (size_t)(put_double(E->B->b + E->B->n, d, E->ld_ok) -
                           E->B->b);
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
  E.ld_ok = ld_works();
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
