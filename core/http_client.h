/*
** http_client.h: the HTTP/1.1 client of stepflow.core.engine (the HTTP
** Task's), on the loop's own event_base with libevent's evhttp, https by
** OpenSSL; free of Lua: lmod_http_client.c binds it.
*/
#ifndef STEPFLOW_HTTP_CLIENT_H
#define STEPFLOW_HTTP_CLIENT_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

struct event_base;
struct evkeyvalq;
typedef struct stepflow_httpc stepflow_httpc;
typedef struct stepflow_httpc_req stepflow_httpc_req;

/* Why a request failed (stepflow_httpc_result.error). */
enum {
  STEPFLOW_HTTPC_OK = 0,
  STEPFLOW_HTTPC_SOCKET,    /* connecting, sending or reading failed */
  STEPFLOW_HTTPC_TIMEOUT,   /* no whole response within the timeout */
  STEPFLOW_HTTPC_TLS,       /* the TLS handshake or certificate check failed */
  STEPFLOW_HTTPC_TOO_LARGE  /* the response exceeds the size limits */
};

/* A request's outcome, valid only during the done callback. */
typedef struct stepflow_httpc_result {
  int error;                          /* STEPFLOW_HTTPC_* */
  const char *message;                /* what failed (error != 0) */
  int status;                         /* the response's status code */
  const char *reason;                 /* its reason phrase */
  const struct evkeyvalq *headers;    /* its headers, in order */
  const char *body;                   /* its body (not 0-terminated) */
  size_t body_len;
} stepflow_httpc_result;

/* Called once per request, unless it is cancelled first. */
typedef void (*stepflow_httpc_done) (void *ud, const stepflow_httpc_result *res);

typedef struct stepflow_httpc_header {
  const char *name, *value;
} stepflow_httpc_header;

typedef struct stepflow_httpc_opts {
  const char *method;                 /* GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS */
  const char *url;                    /* http:// or https:// */
  const stepflow_httpc_header *headers;
  size_t nheaders;
  const char *body;                   /* NULL: none */
  size_t body_len;
  int timeout_ms;                     /* the whole request, > 0 */
} stepflow_httpc_opts;

/*
  Makes a client on base. ca_file (NULL: the system's CAs) is the PEM file
  https servers' certificates are checked against.

  @return the client, or NULL with a message in err
 */
stepflow_httpc *stepflow_httpc_new (struct event_base *base,
                                    const char *ca_file, char *err,
                                    size_t errlen);

/*
  Frees the client: the requests in flight are cancelled (no callbacks).
 */
void stepflow_httpc_free (stepflow_httpc *c);

/*
  Starts a request; done(ud, result) is called once from a libevent
  callback when it ends (a response, a failure or the timeout).

  @return the request, or NULL with a message in err (a bad URL or
    method, or no memory): done is then never called
 */
stepflow_httpc_req *stepflow_httpc_request (stepflow_httpc *c,
    const stepflow_httpc_opts *o, stepflow_httpc_done done, void *ud,
    char *err, size_t errlen);

/*
  Cancels a request whose done has not been called: it never will be.
 */
void stepflow_httpc_cancel (stepflow_httpc_req *r);

#pragma GCC visibility pop

#endif
