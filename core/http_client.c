/*
** http_client.c: the HTTP client of stepflow.core.engine, free of Lua.
** One evhttp connection per request (closed after it), on the loop's
** event_base; names are resolved by evdns, https goes through OpenSSL.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http_client.h"

/* Responses are read up to these sizes (the HTTP Task's result is at most
   256 KiB; the rest is room for headers and JSON escapes). */
#define MAX_HEADERS_SIZE (64 * 1024)
#define MAX_BODY_SIZE (4 * 1024 * 1024)

struct stepflow_httpc {
  struct event_base *base;
  struct evdns_base *dns;   /* made on the first request by name */
  SSL_CTX *ssl;             /* made on the first https request */
  char *ca_file;
  stepflow_httpc_req *reqs; /* in flight, to cancel when freed */
};

struct stepflow_httpc_req {
  stepflow_httpc *client;
  struct evhttp_connection *evcon;  /* ours: freed when the request ends */
  struct bufferevent *bev;          /* its bufferevent (TLS errors) */
  struct event *deadline;           /* the request's timeout */
  stepflow_httpc_done done;
  void *ud;
  int error;                        /* the evhttp error, -1 when none */
  int ended;                        /* done called, or cancelled */
  char where[280];                  /* host:port, for messages */
  stepflow_httpc_req *prev, *next;
};


static void set_err (char *err, size_t errlen, const char *what) {
  snprintf(err, errlen, "%s", what);
}


stepflow_httpc *stepflow_httpc_new (struct event_base *base,
                                    const char *ca_file, char *err,
                                    size_t errlen) {
  stepflow_httpc *c = (stepflow_httpc *)calloc(1, sizeof(*c));
  if (c == NULL) {
    set_err(err, errlen, "not enough memory");
    return NULL;
  }
  c->base = base;
  if (ca_file != NULL) {
    size_t n = strlen(ca_file) + 1;
    c->ca_file = (char *)malloc(n);
    if (c->ca_file != NULL)
      memcpy(c->ca_file, ca_file, n);
    if (c->ca_file == NULL) {
      free(c);
      set_err(err, errlen, "not enough memory");
      return NULL;
    }
  }
  return c;
}


/* Unlinks r from its client's list and frees it with its connection and
   timer. Never called from inside an evhttp callback of r (evhttp still
   holds the request there): done_cb defers it. */
static void release (stepflow_httpc_req *r) {
  stepflow_httpc *c = r->client;
  if (r->prev != NULL)
    r->prev->next = r->next;
  else if (c != NULL && c->reqs == r)
    c->reqs = r->next;
  if (r->next != NULL)
    r->next->prev = r->prev;
  if (r->deadline != NULL)
    event_free(r->deadline);
  if (r->evcon != NULL)
    evhttp_connection_free(r->evcon);  /* frees its request, no callback */
  free(r);
}


void stepflow_httpc_free (stepflow_httpc *c) {
  while (c->reqs != NULL)
    release(c->reqs);
  if (c->dns != NULL)
    evdns_base_free(c->dns, 0);
  if (c->ssl != NULL)
    SSL_CTX_free(c->ssl);
  free(c->ca_file);
  free(c);
}


void stepflow_httpc_cancel (stepflow_httpc_req *r) {
  r->ended = 1;
  release(r);
}


static void release_cb (evutil_socket_t fd, short what, void *arg) {
  (void)fd; (void)what;
  release((stepflow_httpc_req *)arg);
}


/* What an evhttp error or a TLS failure says, for a failed request. */
static int describe (stepflow_httpc_req *r, char *msg, size_t len) {
  unsigned long e = r->bev != NULL ? bufferevent_get_openssl_error(r->bev) : 0;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(msg, len, "TLS failed: %s", buf);
    return STEPFLOW_HTTPC_TLS;
  }
  switch (r->error) {
    case EVREQ_HTTP_TIMEOUT:
      snprintf(msg, len, "the connection timed out");
      return STEPFLOW_HTTPC_TIMEOUT;
    case EVREQ_HTTP_EOF:
      snprintf(msg, len, "%s closed the connection before a whole response", r->where);
      return STEPFLOW_HTTPC_SOCKET;
    case EVREQ_HTTP_INVALID_HEADER:
      snprintf(msg, len, "the response is not valid HTTP");
      return STEPFLOW_HTTPC_SOCKET;
    case EVREQ_HTTP_DATA_TOO_LONG:
      snprintf(msg, len, "the response is too large");
      return STEPFLOW_HTTPC_TOO_LARGE;
    default:
      /* (evhttp keeps no reason: refused, unreachable, reset, no name) */
      snprintf(msg, len, "cannot connect to %s, or the connection failed", r->where);
      return STEPFLOW_HTTPC_SOCKET;
  }
}


static void error_cb (enum evhttp_request_error error, void *arg) {
  ((stepflow_httpc_req *)arg)->error = (int)error;
}


/* The request ended (a response, or a failure: req NULL or status 0). */
static void done_cb (struct evhttp_request *req, void *arg) {
  stepflow_httpc_req *r = (stepflow_httpc_req *)arg;
  stepflow_httpc_result res;
  char msg[512];
  struct timeval now = { 0, 0 };
  if (r->ended)
    return;
  r->ended = 1;
  memset(&res, 0, sizeof(res));
  if (req == NULL || evhttp_request_get_response_code(req) == 0) {
    res.error = describe(r, msg, sizeof(msg));
    res.message = msg;
    r->done(r->ud, &res);
  }
  else {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    res.status = evhttp_request_get_response_code(req);
    res.reason = evhttp_request_get_response_code_line(req);
    res.headers = evhttp_request_get_input_headers(req);
    res.body_len = evbuffer_get_length(in);
    res.body = (const char *)evbuffer_pullup(in, -1);
    if (res.body == NULL)
      res.body = "";
    r->done(r->ud, &res);
  }
  /* evhttp frees req after this returns: the connection goes next turn,
     by the request's own timer (freeing the client frees it meanwhile) */
  event_del(r->deadline);
  if (event_assign(r->deadline, r->client->base, -1, 0, release_cb, r) != 0 ||
      event_add(r->deadline, &now) != 0)
    r->evcon = NULL;  /* leaked rather than freed under evhttp's feet */
}


static void deadline_cb (evutil_socket_t fd, short what, void *arg) {
  stepflow_httpc_req *r = (stepflow_httpc_req *)arg;
  stepflow_httpc_result res;
  (void)fd; (void)what;
  if (r->ended)
    return;
  r->ended = 1;
  memset(&res, 0, sizeof(res));
  res.error = STEPFLOW_HTTPC_TIMEOUT;
  res.message = "no response within the timeout";
  r->done(r->ud, &res);
  release(r);  /* a timer callback: evhttp is not on the stack */
}


static int command (const char *method, enum evhttp_cmd_type *cmd) {
  static const struct { const char *name; enum evhttp_cmd_type cmd; } m[] = {
    { "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST },
    { "PUT", EVHTTP_REQ_PUT }, { "DELETE", EVHTTP_REQ_DELETE },
    { "PATCH", EVHTTP_REQ_PATCH }, { "HEAD", EVHTTP_REQ_HEAD },
    { "OPTIONS", EVHTTP_REQ_OPTIONS }
  };
  size_t i;
  for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
    if (strcmp(method, m[i].name) == 0) {
      *cmd = m[i].cmd;
      return 0;
    }
  return -1;
}


/* The TLS context, made once: peers are checked against the CAs. */
static SSL_CTX *ssl_ctx (stepflow_httpc *c, char *err, size_t errlen) {
  if (c->ssl == NULL) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok;
    if (ctx == NULL) {
      set_err(err, errlen, "cannot make a TLS context");
      return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (c->ca_file != NULL)
      ok = SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL);
    else
      ok = SSL_CTX_set_default_verify_paths(ctx);
    if (!ok) {
      snprintf(err, errlen, "cannot load the CA certificates%s%s",
               c->ca_file != NULL ? " of " : "",
               c->ca_file != NULL ? c->ca_file : "");
      SSL_CTX_free(ctx);
      return NULL;
    }
    c->ssl = ctx;
  }
  return c->ssl;
}


/* An https connection's bufferevent: SNI and the host (a name or an IP
   address) checked against the certificate. */
static struct bufferevent *tls_bev (stepflow_httpc *c, const char *host,
                                    char *err, size_t errlen) {
  SSL_CTX *ctx = ssl_ctx(c, err, errlen);
  SSL *ssl;
  struct bufferevent *bev;
  unsigned char ip[16];
  int is_ip;
  if (ctx == NULL)
    return NULL;
  ssl = SSL_new(ctx);
  if (ssl == NULL) {
    set_err(err, errlen, "cannot make a TLS session");
    return NULL;
  }
  is_ip = evutil_inet_pton(AF_INET, host, ip) == 1 ||
          evutil_inet_pton(AF_INET6, host, ip) == 1;
  if (is_ip)
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
  else {
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
  }
  bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
          BUFFEREVENT_SSL_CONNECTING,
          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (bev == NULL) {
    SSL_free(ssl);
    set_err(err, errlen, "cannot make a TLS connection");
    return NULL;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}


/* The resolver, made on the first request by name. It keeps no event
   added while idle, so it never keeps the loop running by itself. */
static struct evdns_base *dns_of (stepflow_httpc *c, const char *host) {
  unsigned char ip[16];
  if (evutil_inet_pton(AF_INET, host, ip) == 1 ||
      evutil_inet_pton(AF_INET6, host, ip) == 1)
    return NULL;  /* an address needs no resolver */
  if (c->dns == NULL)
    c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                     EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  return c->dns;
}


/* Adds the request line's target (path and query) to buf. */
static int target (const struct evhttp_uri *uri, char *buf, size_t len) {
  const char *path = evhttp_uri_get_path(uri);
  const char *query = evhttp_uri_get_query(uri);
  int n = snprintf(buf, len, "%s%s%s", path != NULL && path[0] ? path : "/",
                   query != NULL ? "?" : "", query != NULL ? query : "");
  return n < 0 || (size_t)n >= len ? -1 : 0;
}


stepflow_httpc_req *stepflow_httpc_request (stepflow_httpc *c,
    const stepflow_httpc_opts *o, stepflow_httpc_done done, void *ud,
    char *err, size_t errlen) {
  struct evhttp_uri *uri = NULL;
  struct evhttp_request *req = NULL;
  stepflow_httpc_req *r = NULL;
  struct evkeyvalq *out;
  enum evhttp_cmd_type cmd;
  const char *scheme, *host;
  char *path = NULL;
  size_t path_len, i;
  int https, port, has_host = 0;
  struct timeval tv;
  if (command(o->method, &cmd) != 0) {
    snprintf(err, errlen, "unsupported method '%s'", o->method);
    return NULL;
  }
  uri = evhttp_uri_parse_with_flags(o->url, EVHTTP_URI_NONCONFORMANT);
  scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
  host = uri != NULL ? evhttp_uri_get_host(uri) : NULL;
  if (scheme == NULL || host == NULL || host[0] == '\0' ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    snprintf(err, errlen, "not an http:// or https:// URL: %s", o->url);
    goto failed;
  }
  https = strcmp(scheme, "https") == 0;
  port = evhttp_uri_get_port(uri);
  if (port < 0)
    port = https ? 443 : 80;
  path_len = strlen(o->url) + 2;
  path = (char *)malloc(path_len);
  r = (stepflow_httpc_req *)calloc(1, sizeof(*r));
  if (path == NULL || r == NULL || target(uri, path, path_len) != 0) {
    set_err(err, errlen, "not enough memory");
    goto failed;
  }
  r->client = c;
  snprintf(r->where, sizeof(r->where), "%s:%d", host, port);
  r->done = done;
  r->ud = ud;
  r->error = -1;
  if (https) {
    r->bev = tls_bev(c, host, err, errlen);
    if (r->bev == NULL)
      goto failed;
  }
  r->evcon = evhttp_connection_base_bufferevent_new(c->base, dns_of(c, host),
                                                    r->bev, host,
                                                    (unsigned short)port);
  if (r->evcon == NULL) {
    if (r->bev != NULL)
      bufferevent_free(r->bev);
    set_err(err, errlen, "cannot make an HTTP connection");
    goto failed;
  }
  evhttp_connection_set_retries(r->evcon, 0);
  evhttp_connection_set_max_headers_size(r->evcon, MAX_HEADERS_SIZE);
  evhttp_connection_set_max_body_size(r->evcon, MAX_BODY_SIZE);
  tv.tv_sec = o->timeout_ms / 1000;
  tv.tv_usec = (o->timeout_ms % 1000) * 1000;
  evhttp_connection_set_timeout_tv(r->evcon, &tv);
  r->deadline = evtimer_new(c->base, deadline_cb, r);
  req = evhttp_request_new(done_cb, r);
  if (r->deadline == NULL || req == NULL) {
    set_err(err, errlen, "not enough memory");
    goto failed;
  }
  evhttp_request_set_error_cb(req, error_cb);
  out = evhttp_request_get_output_headers(req);
  for (i = 0; i < o->nheaders; i++) {
    if (evutil_ascii_strcasecmp(o->headers[i].name, "Host") == 0)
      has_host = 1;
    if (evhttp_add_header(out, o->headers[i].name, o->headers[i].value) != 0) {
      snprintf(err, errlen, "the header '%s' is not valid HTTP", o->headers[i].name);
      goto failed;
    }
  }
  if (!has_host) {
    char hostport[300];
    int default_port = port == (https ? 443 : 80);
    snprintf(hostport, sizeof(hostport), default_port ? "%s" : "%s:%d", host, port);
    evhttp_add_header(out, "Host", hostport);
  }
  if (o->body != NULL && (o->body_len > 0 || cmd != EVHTTP_REQ_GET)) {
    if (evbuffer_add(evhttp_request_get_output_buffer(req), o->body, o->body_len) != 0) {
      set_err(err, errlen, "not enough memory");
      goto failed;
    }
  }
  /* from here on, evhttp owns req: it ends through done_cb */
  if (evhttp_make_request(r->evcon, req, cmd, path) != 0) {
    req = NULL;
    set_err(err, errlen, "cannot send the HTTP request");
    goto failed;
  }
  req = NULL;
  event_add(r->deadline, &tv);
  r->next = c->reqs;
  if (c->reqs != NULL)
    c->reqs->prev = r;
  c->reqs = r;
  free(path);
  evhttp_uri_free(uri);
  return r;
failed:
  if (req != NULL)
    evhttp_request_free(req);
  if (r != NULL) {
    r->client = NULL;  /* never linked */
    r->ended = 1;
    release(r);
  }
  free(path);
  if (uri != NULL)
    evhttp_uri_free(uri);
  return NULL;
}
