/*
** json_number.c: floats printed as JavaScript prints them, the shortest
** digits that read back exactly (what JSON.stringify writes).
*/

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_impl.h"
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

/* shortest_ld cannot use a long double that keeps only 53 bits. */
int stepflow_json_ld_works (void) {
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

/* See json_impl.h. */
char *stepflow_json_put_double (char *o, double x, int ld_ok) {
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
