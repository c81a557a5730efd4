/*
** http_server.h: the HTTP/1.1 server of stepflow.core.engine, on the
** loop's own event_base (bufferevents), free of Lua: lmod_http.c binds it.
*/
#ifndef STEPFLOW_HTTP_SERVER_H
#define STEPFLOW_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

#pragma GCC visibility push(hidden)

struct event_base;
typedef struct stepflow_http_server stepflow_http_server;
typedef struct stepflow_http_conn stepflow_http_conn;

typedef struct stepflow_http_limits {
  size_t max_head;      /* longest request head (bytes) */
  uint64_t max_body;    /* longest request body (bytes) */
  int idle_ms;          /* a kept-alive connection waits this long */
  int request_ms;       /* a request must arrive whole within this */
  int write_ms;         /* a response write may stall this long */
} stepflow_http_limits;

typedef struct stepflow_http_hooks {
  /* A request arrived whole (stepflow_http_conn_head, _body). The hook
     takes it and answers later with stepflow_http_respond, returning 0;
     -1: the server answers 500 itself. Called from a libevent callback. */
  int (*on_request) (void *ud, stepflow_http_conn *c);
  /* The connection of a request in flight closes (the client left, a
     timeout, the server freed): req (given to stepflow_http_conn_set_req)
     must forget c, which is freed after this returns. */
  void (*on_abandon) (void *ud, stepflow_http_conn *c, void *req);
} stepflow_http_hooks;

/*
  Listens on host:port (a numeric address or "localhost"; port 0 picks a
  free one) on base.

  @return the server, or NULL with a message in err
 */
stepflow_http_server *stepflow_http_listen (struct event_base *base,
    const char *host, int port, const stepflow_http_limits *limits,
    const stepflow_http_hooks *hooks, void *ud, char *err, size_t errlen);

/*
  The address listened on: writes the numeric host into buf and returns
  the port.
 */
int stepflow_http_address (stepflow_http_server *s, char *buf, size_t len);

/*
  Stops accepting: closes the listener and every connection that has no
  request in flight; the others close once their response is written.
 */
void stepflow_http_shutdown (stepflow_http_server *s);

/*
  Number of open connections.
 */
size_t stepflow_http_connections (stepflow_http_server *s);

/*
  Closes everything at once (requests in flight are abandoned through
  on_abandon) and frees the server.
 */
void stepflow_http_free (stepflow_http_server *s);

/*
  The parsed head of the request in flight and the buffer its spans point
  into.
 */
const char *stepflow_http_conn_head (stepflow_http_conn *c,
                                     const stepflow_http_head **h);

/*
  The body of the request in flight, contiguous (NULL when out of
  memory); len is set to its length.
 */
const char *stepflow_http_conn_body (stepflow_http_conn *c, size_t *len);

/*
  Ties the binding's request object to c (see on_abandon).
 */
void stepflow_http_conn_set_req (stepflow_http_conn *c, void *req);

/*
  Answers the request in flight on c: status, extra header lines (each
  "Name: value\r\n", already checked), body. Adds Content-Length and
  Connection. Afterwards c belongs to the server again.

  @return 0, or -1 when out of memory (c is then closed)
 */
int stepflow_http_respond (stepflow_http_conn *c, int status,
                           const char *headers, size_t hlen,
                           const char *body, size_t blen, int close);

/*
  A random version 4 UUID (36 characters and a NUL) for request ids.
 */
void stepflow_http_uuid (char out[37]);

#pragma GCC visibility pop

#endif
