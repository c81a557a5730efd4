/*
** http_request_fuzz.c: libFuzzer harness of the HTTP request parser
** (core/http_parse.c): request heads, then the rest as a chunked body,
** each fed in pieces of sizes the input itself chooses.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http_parse.h"

#define MAX_HEAD 16384
#define MAX_BODY 65536


/* Feeds p[0..n) to a chunked decoder in pieces of `step` bytes, checking
   what the decoder promises: data inside the piece, totals bounded. */
static void chunked (const char *p, size_t n, size_t step) {
  stepflow_http_chunked c;
  size_t pos = 0;
  stepflow_http_chunked_init(&c);
  while (pos < n) {
    size_t len = n - pos < step ? n - pos : step, used, off, dlen;
    int r = stepflow_http_chunked_feed(&c, p + pos, len, MAX_BODY, &used,
                                       &off, &dlen);
    if (r < 0)
      return;
    if (used > len || (dlen > 0 && off + dlen > used) || c.total > MAX_BODY)
      __builtin_trap();
    if (r != 0)
      return;
    if (used == 0 && dlen == 0)
      __builtin_trap();  /* no progress */
    pos += used;
  }
}


int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  stepflow_http_head h;
  const char *p = (const char *)data;
  size_t step, n;
  int r, i;
  if (size < 1)
    return 0;
  step = (size_t)data[0] % 31 + 1;
  p++;
  size--;
  /* Growing prefixes, as bytes arrive: a complete head never becomes
     incomplete again. */
  for (n = step < size ? step : size; ; n += step) {
    if (n > size)
      n = size;
    r = stepflow_http_parse_head(p, n, MAX_HEAD, &h);
    if (r != 0 || n == size)
      break;
  }
  if (r > 0) {
    if (h.head_len > n || h.nheaders > STEPFLOW_HTTP_MAX_HEADERS)
      __builtin_trap();
    for (i = 0; i < h.nheaders; i++) {
      if (h.headers[i].name.off + h.headers[i].name.len > h.head_len ||
          h.headers[i].value.off + h.headers[i].value.len > h.head_len)
        __builtin_trap();
    }
    if (stepflow_http_parse_head(p, size, MAX_HEAD, &h) != 1)
      __builtin_trap();
    chunked(p + h.head_len, size - h.head_len, step);
  }
  else {
    chunked(p, size, step);
  }
  return 0;
}
