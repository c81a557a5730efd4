/*
** http_parse.h: the HTTP/1.1 request parser of the server (http_server.c),
** free of libevent and Lua, so that a fuzzer can drive it alone.
*/
#ifndef STEPFLOW_HTTP_PARSE_H
#define STEPFLOW_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define STEPFLOW_HTTP_MAX_HEADERS 100

/* Results of the parsers: > 0 done, 0 more bytes needed, < 0 refused with
   the HTTP status to answer (negated). */
#define STEPFLOW_HTTP_BAD_REQUEST       (-400)
#define STEPFLOW_HTTP_TOO_LARGE         (-413)
#define STEPFLOW_HTTP_HEAD_TOO_LARGE    (-431)
#define STEPFLOW_HTTP_NOT_IMPLEMENTED   (-501)
#define STEPFLOW_HTTP_BAD_VERSION       (-505)

/* Offsets into the buffer given to stepflow_http_parse_head. */
typedef struct stepflow_http_span {
  uint32_t off, len;
} stepflow_http_span;

typedef struct stepflow_http_header {
  stepflow_http_span name, value;
} stepflow_http_header;

typedef struct stepflow_http_head {
  stepflow_http_span method, target;
  int minor;                 /* HTTP/1.minor: 0 or 1 */
  int nheaders;
  stepflow_http_header headers[STEPFLOW_HTTP_MAX_HEADERS];
  int64_t content_length;    /* -1 when absent */
  int chunked;               /* Transfer-Encoding: chunked */
  int keep_alive;            /* the connection may serve another request */
  int expect_continue;       /* Expect: 100-continue */
  size_t head_len;           /* bytes of the head, blank line included */
  const char *error;         /* why it was refused (static text) */
} stepflow_http_head;

/*
  Parses a request head (request line and header fields up to the blank
  line) at the start of buf. Lines end in CRLF or a bare LF; obsolete line
  folding, a space before a field's colon, conflicting or malformed
  Content-Length, Transfer-Encoding beside Content-Length, and HTTP/1.1
  without Host are refused (RFC 9112), as is a head longer than max_head
  bytes or with more than STEPFLOW_HTTP_MAX_HEADERS fields.

  @param buf the bytes received so far (need not be NUL-terminated)
  @param len their number
  @param max_head the longest head accepted
  @param h filled in; its spans point into buf
  @return 1 with h->head_len set when the head is complete, 0 when more
    bytes are needed, or a negated status (h->error says why)
 */
int stepflow_http_parse_head (const char *buf, size_t len, size_t max_head,
                              stepflow_http_head *h);

/*
  Whether the header field name at span s of buf equals name, ignoring
  ASCII case (name is lower case, NUL-terminated).
 */
int stepflow_http_name_is (const char *buf, stepflow_http_span s,
                           const char *name);

/* The incremental decoder of a chunked body. */
typedef struct stepflow_http_chunked {
  int state;
  uint64_t size;       /* chunk size being read, or bytes left in a chunk */
  uint64_t total;      /* data bytes so far */
  int digits;          /* hex digits of the size line */
  const char *error;
} stepflow_http_chunked;

/*
  Starts decoding a chunked body.
 */
void stepflow_http_chunked_init (stepflow_http_chunked *c);

/*
  Feeds bytes of a chunked body. It consumes bytes up to the end of the
  first piece of data found (its place in p is returned), or to the end of
  the body, or all of p.

  @param c the decoder
  @param p, n the bytes
  @param max_body the most data bytes accepted in all
  @param used set to the bytes consumed
  @param data_off, data_len set to a piece of data inside p (len 0: none)
  @return 1 when the body (and its trailer) ended, 0 when more bytes are
    needed, or a negated status (c->error says why)
 */
int stepflow_http_chunked_feed (stepflow_http_chunked *c, const char *p,
                                size_t n, uint64_t max_body, size_t *used,
                                size_t *data_off, size_t *data_len);

#pragma GCC visibility pop

#endif
