/*
** json_impl.h: what the files of the JSON codec share (decode, encode,
** numbers): byte classes, UTF-8 lengths, digits. Not part of any API.
*/
#ifndef STEPFLOW_JSON_IMPL_H
#define STEPFLOW_JSON_IMPL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

#define isdig(c) ((unsigned)((c) - '0') < 10u)

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
static inline int utf8_len (const unsigned char *p, int surrogates) {
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


/* Powers of ten exact in a double (the decoder's fast path, the printer). */
static const double pow10tab[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* Writes u in decimal at o; returns the end. */
static inline char *put_uint (char *o, uint64_t u) {
  char tmp[24];
  char *t = tmp + sizeof(tmp);
  size_t n;
  do { *--t = (char)('0' + u % 10); u /= 10; } while (u);
  n = (size_t)(tmp + sizeof(tmp) - t);
  memcpy(o, t, n);
  return o + n;
}

/*
** Whether long double arithmetic really keeps 64 mantissa bits (some
** emulators, valgrind among them, compute it with 53). Read once per
** encode and passed to stepflow_json_put_double.
*/
int stepflow_json_ld_works (void);

/*
** Writes x as JavaScript's Number::toString would (ECMA-262 6.1.6.1.20),
** which is what JSON.stringify prints: integral values without a
** fraction below 1e21 ("3", "1e+21"), exponent form below 1e-6 ("1e-7").
** o must have room for 32 bytes; returns the end. x is finite.
*/
char *stepflow_json_put_double (char *o, double x, int ld_ok);

#endif
