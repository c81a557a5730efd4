/*
** http_parse.c: HTTP/1.1 request heads and chunked bodies (RFC 9112),
** strict where leniency lets requests be read two ways (smuggling).
** No libevent, no Lua: fuzz/http_request_fuzz.c drives it alone.
*/
#include <string.h>

#include "http_parse.h"

/* Longest trailer section of a chunked body. */
#define MAX_TRAILER 16384


static int is_tchar (unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


/* A field value byte: visible ASCII, obs-text, space or tab. */
static int is_vchar (unsigned char c) {
  return (c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t';
}


static int lower (int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


int stepflow_http_name_is (const char *buf, stepflow_http_span s,
                           const char *name) {
  uint32_t i;
  for (i = 0; i < s.len; i++) {
    if (name[i] == '\0' || lower((unsigned char)buf[s.off + i]) != name[i])
      return 0;
  }
  return name[i] == '\0';
}


/* Whether the value at s, as a comma-separated list, has token tok
   (lower case), ignoring case and spaces around items. */
static int has_token (const char *buf, stepflow_http_span s,
                      const char *tok) {
  uint32_t i = 0;
  while (i < s.len) {
    stepflow_http_span item;
    while (i < s.len && (buf[s.off + i] == ' ' || buf[s.off + i] == '\t' ||
           buf[s.off + i] == ','))
      i++;
    item.off = s.off + i;
    while (i < s.len && buf[s.off + i] != ',')
      i++;
    item.len = s.off + i - item.off;
    while (item.len > 0 && (buf[item.off + item.len - 1] == ' ' ||
           buf[item.off + item.len - 1] == '\t'))
      item.len--;
    if (item.len > 0 && stepflow_http_name_is(buf, item, tok))
      return 1;
  }
  return 0;
}


static int refuse (stepflow_http_head *h, int status, const char *why) {
  h->error = why;
  return status;
}


/* The end of the head: the offset just past its blank line, or 0. */
static size_t find_end (const char *buf, size_t start, size_t len) {
  size_t i;
  for (i = start; i < len; i++) {
    if (buf[i] != '\n')
      continue;
    if (i + 1 < len && buf[i + 1] == '\n')
      return i + 2;
    if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}


/* The line starting at *pos (ending in LF or CRLF, before end): its span
   without the line end; *pos moves past it. A CR elsewhere is refused
   by the callers' character checks. */
static stepflow_http_span next_line (const char *buf, size_t *pos,
                                     size_t end) {
  stepflow_http_span s;
  size_t i = *pos;
  while (i < end && buf[i] != '\n')
    i++;
  s.off = (uint32_t)*pos;
  s.len = (uint32_t)(i - *pos);
  if (s.len > 0 && buf[s.off + s.len - 1] == '\r')
    s.len--;
  *pos = i + 1;
  return s;
}


static int parse_request_line (const char *buf, stepflow_http_span line,
                               stepflow_http_head *h) {
  uint32_t i = line.off, end = line.off + line.len;
  h->method.off = i;
  while (i < end && is_tchar((unsigned char)buf[i]))
    i++;
  h->method.len = i - h->method.off;
  if (h->method.len == 0 || i >= end || buf[i] != ' ')
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "malformed request line");
  h->target.off = ++i;
  while (i < end && (unsigned char)buf[i] > 0x20 &&
         (unsigned char)buf[i] < 0x7f)
    i++;
  h->target.len = i - h->target.off;
  if (h->target.len == 0 || i >= end || buf[i] != ' ')
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "malformed request line");
  i++;
  if (end - i != 8 || memcmp(buf + i, "HTTP/", 5) != 0 ||
      buf[i + 5] < '0' || buf[i + 5] > '9' || buf[i + 6] != '.' ||
      buf[i + 7] < '0' || buf[i + 7] > '9')
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "malformed request line");
  if (buf[i + 5] != '1')
    return refuse(h, STEPFLOW_HTTP_BAD_VERSION, "HTTP version not supported");
  h->minor = buf[i + 7] == '0' ? 0 : 1;
  return 1;
}


static int parse_content_length (const char *buf, stepflow_http_span v,
                                 stepflow_http_head *h) {
  int64_t n = 0;
  uint32_t i;
  if (v.len == 0)
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "invalid Content-Length");
  for (i = 0; i < v.len; i++) {
    char c = buf[v.off + i];
    if (c < '0' || c > '9')
      return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "invalid Content-Length");
    if (n < ((int64_t)1 << 56))
      n = n * 10 + (c - '0');  /* larger: too large anyway */
  }
  if (h->content_length >= 0 && h->content_length != n)
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST,
                  "conflicting Content-Length fields");
  h->content_length = n;
  return 1;
}


/* Interprets the fields the server acts on. */
static int field (const char *buf, stepflow_http_header *f,
                  stepflow_http_head *h, int *hosts, int *te) {
  if (stepflow_http_name_is(buf, f->name, "content-length"))
    return parse_content_length(buf, f->value, h);
  if (stepflow_http_name_is(buf, f->name, "transfer-encoding")) {
    (*te)++;
    if (*te > 1 || !stepflow_http_name_is(buf, f->value, "chunked"))
      return refuse(h, STEPFLOW_HTTP_NOT_IMPLEMENTED,
                    "unsupported Transfer-Encoding");
    h->chunked = 1;
  }
  else if (stepflow_http_name_is(buf, f->name, "host"))
    (*hosts)++;
  else if (stepflow_http_name_is(buf, f->name, "connection")) {
    if (has_token(buf, f->value, "close"))
      h->keep_alive = 0;
    else if (has_token(buf, f->value, "keep-alive"))
      h->keep_alive = 1;
  }
  else if (stepflow_http_name_is(buf, f->name, "expect")) {
    if (stepflow_http_name_is(buf, f->value, "100-continue"))
      h->expect_continue = 1;
  }
  return 1;
}


static int parse_field (const char *buf, stepflow_http_span line,
                        stepflow_http_header *f, stepflow_http_head *h) {
  uint32_t i = line.off, end = line.off + line.len, vend;
  if (buf[i] == ' ' || buf[i] == '\t')
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "obsolete line folding");
  f->name.off = i;
  while (i < end && is_tchar((unsigned char)buf[i]))
    i++;
  f->name.len = i - f->name.off;
  if (f->name.len == 0 || i >= end || buf[i] != ':')
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST, "malformed header field");
  i++;
  while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
    i++;
  vend = end;
  while (vend > i && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
    vend--;
  f->value.off = i;
  f->value.len = vend - i;
  for (; i < vend; i++) {
    if (!is_vchar((unsigned char)buf[i]))
      return refuse(h, STEPFLOW_HTTP_BAD_REQUEST,
                    "invalid character in a header field");
  }
  return 1;
}


int stepflow_http_parse_head (const char *buf, size_t len, size_t max_head,
                              stepflow_http_head *h) {
  size_t start = 0, end, pos;
  int hosts = 0, te = 0, r;
  memset(h, 0, sizeof(*h));
  h->content_length = -1;
  /* Empty lines before a request line are ignored (RFC 9112 2.2). */
  while (start < len && start < max_head &&
         (buf[start] == '\r' || buf[start] == '\n'))
    start++;
  if (len > max_head)
    len = max_head;
  if (len > UINT32_MAX)
    len = UINT32_MAX;
  end = find_end(buf, start, len);
  if (end == 0) {
    if (len >= max_head)
      return refuse(h, STEPFLOW_HTTP_HEAD_TOO_LARGE,
                    "request head too large");
    return 0;
  }
  pos = start;
  r = parse_request_line(buf, next_line(buf, &pos, end), h);
  if (r < 0)
    return r;
  h->keep_alive = h->minor == 1;
  for (;;) {
    stepflow_http_span line = next_line(buf, &pos, end);
    if (line.len == 0)
      break;  /* the blank line */
    if (h->nheaders == STEPFLOW_HTTP_MAX_HEADERS)
      return refuse(h, STEPFLOW_HTTP_HEAD_TOO_LARGE, "too many header fields");
    r = parse_field(buf, line, &h->headers[h->nheaders], h);
    if (r < 0)
      return r;
    r = field(buf, &h->headers[h->nheaders], h, &hosts, &te);
    if (r < 0)
      return r;
    h->nheaders++;
  }
  if (h->chunked && h->content_length >= 0)
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST,
                  "both Content-Length and Transfer-Encoding");
  if (h->chunked && h->minor == 0)
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST,
                  "Transfer-Encoding in an HTTP/1.0 request");
  if (hosts > 1 || (hosts == 0 && h->minor == 1))
    return refuse(h, STEPFLOW_HTTP_BAD_REQUEST,
                  "an HTTP/1.1 request needs one Host field");
  h->head_len = end;
  return 1;
}


/*
** ---------------------------------------------------------------------
** chunked bodies
** ---------------------------------------------------------------------
*/

enum {
  C_SIZE, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF,
  C_TRAILER, C_TRAILER_LINE, C_END_LF, C_DONE
};


void stepflow_http_chunked_init (stepflow_http_chunked *c) {
  memset(c, 0, sizeof(*c));
  c->state = C_SIZE;
}


static int hexval (char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}


static int chunk_fail (stepflow_http_chunked *c, int status,
                       const char *why) {
  c->error = why;
  return status;
}


/* The size line ended: a chunk of c->size bytes follows, or the last. */
static int size_line_done (stepflow_http_chunked *c, uint64_t max_body) {
  if (c->digits == 0)
    return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST, "malformed chunk size");
  if (c->size == 0) {
    c->state = C_TRAILER;
    return 0;
  }
  if (c->size > max_body - c->total)
    return chunk_fail(c, STEPFLOW_HTTP_TOO_LARGE, "request body too large");
  c->state = C_DATA;
  return 0;
}


int stepflow_http_chunked_feed (stepflow_http_chunked *c, const char *p,
                                size_t n, uint64_t max_body, size_t *used,
                                size_t *data_off, size_t *data_len) {
  size_t i = 0;
  int r;
  *used = 0;
  *data_len = 0;
  *data_off = 0;
  while (i < n && c->state != C_DONE) {
    char ch = p[i];
    switch (c->state) {
      case C_SIZE: {
        int v = hexval(ch);
        if (v >= 0) {
          if (++c->digits > 15)
            return chunk_fail(c, STEPFLOW_HTTP_TOO_LARGE,
                              "request body too large");
          c->size = c->size * 16 + (uint64_t)v;
        }
        else if (ch == ';' || ch == ' ' || ch == '\t')
          c->state = C_EXT;
        else if (ch == '\r')
          c->state = C_SIZE_LF;
        else if (ch == '\n') {
          if ((r = size_line_done(c, max_body)) < 0)
            return r;
        }
        else
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "malformed chunk size");
        i++;
        break;
      }
      case C_EXT:  /* chunk extensions are ignored */
        if (ch == '\r')
          c->state = C_SIZE_LF;
        else if (ch == '\n') {
          if ((r = size_line_done(c, max_body)) < 0)
            return r;
        }
        else if ((unsigned char)ch < 0x20 && ch != '\t')
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "malformed chunk extension");
        i++;
        break;
      case C_SIZE_LF:
        if (ch != '\n')
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "malformed chunk size");
        i++;
        if ((r = size_line_done(c, max_body)) < 0)
          return r;
        break;
      case C_DATA: {
        size_t take = n - i;
        if ((uint64_t)take > c->size)
          take = (size_t)c->size;
        *data_off = i;
        *data_len = take;
        c->size -= take;
        c->total += take;
        i += take;
        if (c->size == 0)
          c->state = C_DATA_CR;
        *used = i;
        return 0;  /* one piece of data per call */
      }
      case C_DATA_CR:
        if (ch == '\r')
          c->state = C_DATA_LF;
        else if (ch == '\n') {
          c->state = C_SIZE;
          c->digits = 0;
        }
        else
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "chunk data longer than its size");
        i++;
        break;
      case C_DATA_LF:
        if (ch != '\n')
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "chunk data longer than its size");
        c->state = C_SIZE;
        c->digits = 0;
        i++;
        break;
      case C_TRAILER:  /* at the start of a trailer line (size counts
                          the trailer's bytes, from 0) */
        if (ch == '\r')
          c->state = C_END_LF;
        else if (ch == '\n')
          c->state = C_DONE;
        else
          c->state = C_TRAILER_LINE;
        i++;
        break;
      case C_TRAILER_LINE:  /* trailer fields are ignored */
        if (++c->size > MAX_TRAILER)
          return chunk_fail(c, STEPFLOW_HTTP_HEAD_TOO_LARGE,
                            "trailer section too large");
        if (ch == '\n')
          c->state = C_TRAILER;
        i++;
        break;
      case C_END_LF:
        if (ch != '\n')
          return chunk_fail(c, STEPFLOW_HTTP_BAD_REQUEST,
                            "malformed end of chunked body");
        c->state = C_DONE;
        i++;
        break;
      default:
        break;
    }
  }
  *used = i;
  return c->state == C_DONE ? 1 : 0;
}
