/*
** http_server.c: HTTP/1.1 connections on the loop's event_base: keep-alive,
** one request at a time per connection (pipelined ones wait), limits on
** heads and bodies, deadlines for slow or silent clients. No Lua here.
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "http_server.h"

/* Input is read ahead at most this far while a request is in flight. */
#define READ_AHEAD (256 * 1024)

/* After an early answer (a body too large), so much of the rest of the
   body is read and dropped, so that the client reads the answer instead
   of a reset. */
#define MAX_DRAIN ((uint64_t)64 * 1024 * 1024)

/* Accepting pauses this long when the process runs out of descriptors. */
#define ACCEPT_PAUSE_MS 100

enum { S_HEAD, S_BODY, S_CHUNKED, S_BUSY, S_WRITE, S_DRAIN };

struct stepflow_http_conn {
  stepflow_http_server *srv;
  stepflow_http_conn *prev, *next;
  struct bufferevent *bev;
  struct event *timer;        /* idle or request deadline */
  int state;
  int reading;                /* the request deadline is armed */
  int keep_alive;             /* serve another request after this one */
  int closing;                /* close once the output is written */
  stepflow_http_head head;
  char *headbuf;              /* the head's bytes (head's spans) */
  size_t headcap;
  struct evbuffer *body;
  stepflow_http_chunked chunk;
  uint64_t left;              /* body bytes to read, or to drop */
  void *req;                  /* the binding's request in flight */
};

struct stepflow_http_server {
  struct event_base *base;
  struct evconnlistener *listener;
  struct event *resume;       /* re-enables accepting after EMFILE */
  stepflow_http_conn *conns;
  size_t nconns;
  stepflow_http_limits limits;
  stepflow_http_hooks hooks;
  void *ud;
  int shutting_down;
};


static void process (stepflow_http_conn *c);


/*
** ---------------------------------------------------------------------
** responses
** ---------------------------------------------------------------------
*/

static const char *reason (int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}


void stepflow_http_uuid (char out[37]) {
  unsigned char b[16];
  evutil_secure_rng_get_bytes(b, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
           b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}


static void arm (stepflow_http_conn *c, int ms) {
  struct timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  event_add(c->timer, &tv);
}


static void conn_free (stepflow_http_conn *c) {
  stepflow_http_server *s = c->srv;
  if (c->req != NULL && s->hooks.on_abandon != NULL)
    s->hooks.on_abandon(s->ud, c, c->req);
  c->req = NULL;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  s->nconns--;
  /* Safe inside this connection's own callbacks: libevent defers the
     actual free of a bufferevent until they return. */
  bufferevent_free(c->bev);
  event_free(c->timer);
  evbuffer_free(c->body);
  free(c->headbuf);
  free(c);
}


int stepflow_http_respond (stepflow_http_conn *c, int status,
                           const char *headers, size_t hlen,
                           const char *body, size_t blen, int close) {
  struct evbuffer *out = bufferevent_get_output(c->bev);
  int r;
  c->req = NULL;
  if (close || c->srv->shutting_down)
    c->keep_alive = 0;
  r = evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s",
        status, reason(status), blen,
        !c->keep_alive ? "Connection: close\r\n" :
        c->head.minor == 0 ? "Connection: keep-alive\r\n" : "");
  if (r < 0 || evbuffer_add(out, headers, hlen) != 0 ||
      evbuffer_add(out, "\r\n", 2) != 0 || evbuffer_add(out, body, blen) != 0) {
    /* Freed soon by its timer: callers may still be using c. */
    c->keep_alive = 0;
    c->closing = 1;
    c->reading = 0;
    c->state = S_WRITE;
    arm(c, 0);
    return -1;
  }
  if (c->state != S_DRAIN)
    c->state = S_WRITE;
  if (!c->keep_alive)
    c->closing = 1;
  bufferevent_enable(c->bev, EV_WRITE);
  return 0;
}


/* An answer of the server itself, AWS-shaped: {"__type", "message"}, and
   the connection closes after it. */
static void refuse (stepflow_http_conn *c, int status, const char *type,
                    const char *message) {
  char id[37], hdr[128], body[256];
  int hl, bl;
  stepflow_http_uuid(id);
  hl = snprintf(hdr, sizeof(hdr), "x-amzn-RequestId: %s\r\n"
                "Content-Type: application/x-amz-json-1.0\r\n", id);
  bl = snprintf(body, sizeof(body), "{\"__type\":\"%s\",\"message\":\"%s\"}",
                type, message);
  event_del(c->timer);
  c->reading = 0;
  stepflow_http_respond(c, status, hdr, (size_t)hl, body, (size_t)bl, 1);
}


static void refuse_parse (stepflow_http_conn *c, int status,
                          const char *why) {
  status = -status;
  refuse(c, status, status == 413 || status == 431 ? "ValidationException"
         : "SerializationException", why);
}


/*
** ---------------------------------------------------------------------
** reading requests
** ---------------------------------------------------------------------
*/

static void deliver (stepflow_http_conn *c) {
  stepflow_http_server *s = c->srv;
  event_del(c->timer);
  c->reading = 0;
  c->state = S_BUSY;
  if (s->hooks.on_request(s->ud, c) != 0)
    refuse(c, 500, "InternalFailure", "the server could not take the request");
}


/* The head is parsed: keeps a copy (the input is drained) and sets up
   reading the body. */
static void head_done (stepflow_http_conn *c, const char *p) {
  stepflow_http_server *s = c->srv;
  struct evbuffer *in = bufferevent_get_input(c->bev);
  size_t n = c->head.head_len;
  if (n > c->headcap) {
    char *nb = (char *)realloc(c->headbuf, n);
    if (nb == NULL) {
      refuse(c, 500, "InternalFailure", "out of memory");
      return;
    }
    c->headbuf = nb;
    c->headcap = n;
  }
  memcpy(c->headbuf, p, n);
  evbuffer_drain(in, n);
  evbuffer_drain(c->body, evbuffer_get_length(c->body));
  c->keep_alive = c->head.keep_alive;
  if (c->head.chunked) {
    stepflow_http_chunked_init(&c->chunk);
    c->state = S_CHUNKED;
  }
  else if (c->head.content_length > 0) {
    if ((uint64_t)c->head.content_length > s->limits.max_body) {
      c->left = (uint64_t)c->head.content_length;
      refuse(c, 413, "ValidationException", "request body too large");
      if (c->left <= MAX_DRAIN && !c->head.expect_continue) {
        c->state = S_DRAIN;
        arm(c, s->limits.request_ms);
      }
      return;
    }
    c->left = (uint64_t)c->head.content_length;
    c->state = S_BODY;
  }
  else {
    deliver(c);
    return;
  }
  if (c->head.expect_continue && c->head.minor == 1)
    evbuffer_add(bufferevent_get_output(c->bev),
                 "HTTP/1.1 100 Continue\r\n\r\n", 25);
}


static void read_head (stepflow_http_conn *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  size_t len = evbuffer_get_length(in), n;
  const char *p;
  int r;
  if (len == 0)
    return;
  if (!c->reading) {  /* the first byte: the request's deadline starts */
    c->reading = 1;
    arm(c, c->srv->limits.request_ms);
  }
  n = len < c->srv->limits.max_head ? len : c->srv->limits.max_head;
  p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
  if (p == NULL) {
    refuse(c, 500, "InternalFailure", "out of memory");
    return;
  }
  r = stepflow_http_parse_head(p, n, c->srv->limits.max_head, &c->head);
  if (r < 0)
    refuse_parse(c, r, c->head.error);
  else if (r > 0)
    head_done(c, p);
}


static void read_body (stepflow_http_conn *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  size_t len = evbuffer_get_length(in);
  size_t take = (uint64_t)len < c->left ? len : (size_t)c->left;
  if (take > 0) {
    if (evbuffer_remove_buffer(in, c->body, take) < 0) {
      refuse(c, 500, "InternalFailure", "out of memory");
      return;
    }
    c->left -= take;
  }
  if (c->left == 0)
    deliver(c);
}


static void read_chunked (stepflow_http_conn *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  while (evbuffer_get_length(in) > 0) {
    struct evbuffer_iovec v;
    size_t used, off, dlen;
    int r;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
      return;
    r = stepflow_http_chunked_feed(&c->chunk, (const char *)v.iov_base,
          v.iov_len, c->srv->limits.max_body, &used, &off, &dlen);
    if (r < 0) {
      refuse_parse(c, r, c->chunk.error);
      return;
    }
    if (dlen > 0 &&
        evbuffer_add(c->body, (const char *)v.iov_base + off, dlen) != 0) {
      refuse(c, 500, "InternalFailure", "out of memory");
      return;
    }
    evbuffer_drain(in, used);
    if (r > 0) {
      deliver(c);
      return;
    }
  }
}


static void drain (stepflow_http_conn *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  size_t len = evbuffer_get_length(in);
  size_t take = (uint64_t)len < c->left ? len : (size_t)c->left;
  evbuffer_drain(in, take);
  c->left -= take;
}


/* Reads what the state asks for, one request at a time: a request in
   flight leaves the next one's bytes waiting in the input. */
static void process (stepflow_http_conn *c) {
  int before;
  do {  /* a head read may leave its body in the input: go on with it */
    before = c->state;
    switch (c->state) {
      case S_HEAD: read_head(c); break;
      case S_BODY: read_body(c); break;
      case S_CHUNKED: read_chunked(c); break;
      case S_DRAIN: drain(c); break;
      default: break;
    }
  } while (c->state != before && (c->state == S_BODY ||
           c->state == S_CHUNKED || c->state == S_DRAIN));
}


/*
** ---------------------------------------------------------------------
** libevent callbacks
** ---------------------------------------------------------------------
*/

static void read_cb (struct bufferevent *bev, void *arg) {
  stepflow_http_conn *c = (stepflow_http_conn *)arg;
  (void)bev;
  process(c);
  if (c->state == S_DRAIN && c->left == 0 &&
      evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
    conn_free(c);
}


/* The output was written whole. */
static void write_cb (struct bufferevent *bev, void *arg) {
  stepflow_http_conn *c = (stepflow_http_conn *)arg;
  (void)bev;
  if (c->state == S_DRAIN) {
    if (c->left == 0)
      conn_free(c);
    return;  /* the rest of the body is dropped as it comes */
  }
  if (c->state != S_WRITE)
    return;  /* a 100 Continue went out */
  if (c->closing) {
    conn_free(c);
    return;
  }
  c->state = S_HEAD;
  arm(c, c->srv->limits.idle_ms);
  process(c);  /* a pipelined request may be waiting already */
}


/* End of input, an error or a stalled write: the client is gone (one that
   only shut its sending side is taken as gone too, so that a long wait
   for an answer learns early that nobody waits for it any more). */
static void event_cb (struct bufferevent *bev, short what, void *arg) {
  stepflow_http_conn *c = (stepflow_http_conn *)arg;
  (void)bev;
  (void)what;
  conn_free(c);
}


static void timer_cb (evutil_socket_t fd, short what, void *arg) {
  stepflow_http_conn *c = (stepflow_http_conn *)arg;
  (void)fd; (void)what;
  if (c->state == S_DRAIN || !c->reading)
    conn_free(c);  /* idle too long, or dropping a refused body */
  else
    refuse(c, 408, "RequestTimeout", "the request did not arrive in time");
}


static void accept_cb (struct evconnlistener *l, evutil_socket_t fd,
                       struct sockaddr *sa, int salen, void *arg) {
  stepflow_http_server *s = (stepflow_http_server *)arg;
  stepflow_http_conn *c;
  struct timeval wt;
  int one = 1;
  (void)l; (void)sa; (void)salen;
  c = (stepflow_http_conn *)calloc(1, sizeof(*c));
  if (c == NULL) {
    evutil_closesocket(fd);
    return;
  }
  c->srv = s;
  c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
  c->timer = evtimer_new(s->base, timer_cb, c);
  c->body = evbuffer_new();
  if (c->bev == NULL || c->timer == NULL || c->body == NULL) {
    if (c->bev != NULL) bufferevent_free(c->bev);
    else evutil_closesocket(fd);
    if (c->timer != NULL) event_free(c->timer);
    if (c->body != NULL) evbuffer_free(c->body);
    free(c);
    return;
  }
  /* Answers go out in one write: no reason to wait for more (Nagle). */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  c->state = S_HEAD;
  bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
  bufferevent_setwatermark(c->bev, EV_READ, 0, READ_AHEAD);
  wt.tv_sec = s->limits.write_ms / 1000;
  wt.tv_usec = (s->limits.write_ms % 1000) * 1000;
  bufferevent_set_timeouts(c->bev, NULL, &wt);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  arm(c, s->limits.idle_ms);
}


static void resume_cb (evutil_socket_t fd, short what, void *arg) {
  stepflow_http_server *s = (stepflow_http_server *)arg;
  (void)fd; (void)what;
  if (s->listener != NULL)
    evconnlistener_enable(s->listener);
}


/* accept() failed: out of descriptors most likely; pause, never crash. */
static void accept_error_cb (struct evconnlistener *l, void *arg) {
  stepflow_http_server *s = (stepflow_http_server *)arg;
  struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
  evconnlistener_disable(l);
  event_add(s->resume, &tv);
}


/*
** ---------------------------------------------------------------------
** the server
** ---------------------------------------------------------------------
*/

stepflow_http_server *stepflow_http_listen (struct event_base *base,
    const char *host, int port, const stepflow_http_limits *limits,
    const stepflow_http_hooks *hooks, void *ud, char *err, size_t errlen) {
  struct addrinfo hints, *ai = NULL;
  char service[16];
  stepflow_http_server *s;
  int r;
  if (strcmp(host, "localhost") == 0)
    host = "127.0.0.1";
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
  snprintf(service, sizeof(service), "%d", port);
  r = getaddrinfo(host, service, &hints, &ai);
  if (r != 0) {
    snprintf(err, errlen, "%s: not a numeric address (%s)", host,
             gai_strerror(r));
    return NULL;
  }
  s = (stepflow_http_server *)calloc(1, sizeof(*s));
  if (s == NULL) {
    freeaddrinfo(ai);
    snprintf(err, errlen, "not enough memory");
    return NULL;
  }
  s->base = base;
  s->limits = *limits;
  s->hooks = *hooks;
  s->ud = ud;
  s->resume = evtimer_new(base, resume_cb, s);
  s->listener = evconnlistener_new_bind(base, accept_cb, s,
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
      1024, ai->ai_addr, (int)ai->ai_addrlen);
  if (s->listener == NULL || s->resume == NULL) {
    snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port,
             strerror(errno));
    freeaddrinfo(ai);
    stepflow_http_free(s);
    return NULL;
  }
  freeaddrinfo(ai);
  evconnlistener_set_error_cb(s->listener, accept_error_cb);
  return s;
}


int stepflow_http_address (stepflow_http_server *s, char *buf, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  buf[0] = '\0';
  if (s->listener == NULL ||
      getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss,
                  &sl) != 0)
    return 0;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)len);
    return ntohs(a->sin6_port);
  }
  else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)len);
    return ntohs(a->sin_port);
  }
}


void stepflow_http_shutdown (stepflow_http_server *s) {
  stepflow_http_conn *c = s->conns, *next;
  s->shutting_down = 1;
  if (s->listener != NULL) {
    evconnlistener_free(s->listener);
    s->listener = NULL;
  }
  for (; c != NULL; c = next) {
    next = c->next;
    if (c->state == S_BUSY)
      c->keep_alive = 0;  /* closes after its answer */
    else if (c->state == S_WRITE || c->state == S_DRAIN)
      c->closing = 1;
    else
      conn_free(c);
  }
}


size_t stepflow_http_connections (stepflow_http_server *s) {
  return s->nconns;
}


void stepflow_http_free (stepflow_http_server *s) {
  while (s->conns != NULL)
    conn_free(s->conns);
  if (s->listener != NULL)
    evconnlistener_free(s->listener);
  if (s->resume != NULL)
    event_free(s->resume);
  free(s);
}


const char *stepflow_http_conn_head (stepflow_http_conn *c,
                                     const stepflow_http_head **h) {
  *h = &c->head;
  return c->headbuf;
}


const char *stepflow_http_conn_body (stepflow_http_conn *c, size_t *len) {
  *len = evbuffer_get_length(c->body);
  if (*len == 0)
    return "";
  return (const char *)evbuffer_pullup(c->body, -1);
}


void stepflow_http_conn_set_req (stepflow_http_conn *c, void *req) {
  c->req = req;
}
