/*
** md5.c: MD5 as RFC 1321 specifies it (four rounds of sixteen steps on
** 64-byte blocks, little-endian words), kept incremental for files.
*/

#include <string.h>

#include "md5.h"

/* The per-step additive constants: floor(abs(sin(i + 1)) * 2^32). */
static const uint32_t K[64] = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
  0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
  0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
  0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
  0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
  0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
  0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391
};

/* The per-step rotation amounts, four per round. */
static const unsigned char S[64] = {
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21
};

static uint32_t rol (uint32_t x, unsigned n) {
  return (x << n) | (x >> (32 - n));
}

static void transform (uint32_t h[4], const unsigned char *b) {
  uint32_t w[16], a = h[0], bb = h[1], c = h[2], d = h[3];
  int i;
  for (i = 0; i < 16; i++)  /* words are little-endian whatever the host */
    w[i] = (uint32_t)b[i * 4] | ((uint32_t)b[i * 4 + 1] << 8) |
           ((uint32_t)b[i * 4 + 2] << 16) | ((uint32_t)b[i * 4 + 3] << 24);
  for (i = 0; i < 64; i++) {
    uint32_t f, t;
    int g;
    if (i < 16) { f = (bb & c) | (~bb & d); g = i; }
    else if (i < 32) { f = (d & bb) | (~d & c); g = (5 * i + 1) % 16; }
    else if (i < 48) { f = bb ^ c ^ d; g = (3 * i + 5) % 16; }
    else { f = c ^ (bb | ~d); g = (7 * i) % 16; }
    t = d;
    d = c;
    c = bb;
    bb = bb + rol(a + f + K[i] + w[g], S[i]);
    a = t;
  }
  h[0] += a; h[1] += bb; h[2] += c; h[3] += d;
}

void stepflow_md5_init (stepflow_md5 *m) {
  m->h[0] = 0x67452301; m->h[1] = 0xefcdab89;
  m->h[2] = 0x98badcfe; m->h[3] = 0x10325476;
  m->length = 0;
}

void stepflow_md5_update (stepflow_md5 *m, const void *p, size_t len) {
  const unsigned char *s = (const unsigned char *)p;
  size_t have = (size_t)(m->length % 64);
  m->length += len;
  if (have > 0) {  /* complete the waiting block first */
    size_t need = 64 - have;
    if (len < need) {
      memcpy(m->block + have, s, len);
      return;
    }
    memcpy(m->block + have, s, need);
    transform(m->h, m->block);
    s += need;
    len -= need;
  }
  while (len >= 64) {
    transform(m->h, s);
    s += 64;
    len -= 64;
  }
  if (len > 0) memcpy(m->block, s, len);
}

void stepflow_md5_final (stepflow_md5 *m, unsigned char out[16]) {
  unsigned char pad[72];
  uint64_t bits = m->length * 8;
  size_t have = (size_t)(m->length % 64);
  size_t padlen = (have < 56) ? 56 - have : 120 - have;
  int i;
  memset(pad, 0, sizeof(pad));
  pad[0] = 0x80;
  for (i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (8 * i));
  stepflow_md5_update(m, pad, padlen + 8);
  for (i = 0; i < 4; i++) {
    out[i * 4] = (unsigned char)m->h[i];
    out[i * 4 + 1] = (unsigned char)(m->h[i] >> 8);
    out[i * 4 + 2] = (unsigned char)(m->h[i] >> 16);
    out[i * 4 + 3] = (unsigned char)(m->h[i] >> 24);
  }
}
