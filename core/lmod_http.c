/*
** lmod_http.c: Lua binding of the HTTP server (http_server.c) in
** stepflow.core.engine. A request that arrived whole is posted to the
** loop's ready queue, so Lua never runs inside libevent's dispatch.
*/
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "http_server.h"
#include "lmod_engine.h"

#define SERVER_MT   "stepflow.HttpServer"
#define REQUEST_MT  "stepflow.HttpRequest"

/*
** A Server: user value 1 is its Loop, 2 the on_request function. While
** open, a registry ref keeps it alive (libevent holds pointers to it) and
** it is one of the loop's I/O sources, closed with the loop.
*/
typedef struct Server {
  stepflow_http_server *srv;   /* NULL once closed */
  stepflow_loop *loop;
  int ref;
} Server;

/*
** A Request owns a copy of its head; user value 1 is its body. conn is
** the connection to answer on, NULL once answered or once the connection
** went away (on_abandon). The header table follows the struct, then the
** head's bytes.
*/
typedef struct Request {
  stepflow_http_conn *conn;
  int answered;
  int nheaders;
  stepflow_http_span method, target;
  size_t head_len;
} Request;

#define REQ_HEADERS(r) ((stepflow_http_header *)((r) + 1))
#define REQ_HEAD(r) ((const char *)(REQ_HEADERS(r) + (r)->nheaders))


/*
** ---------------------------------------------------------------------
** hooks (called from libevent callbacks)
** ---------------------------------------------------------------------
*/

/* Makes the Request and posts on_request(request).
   STACK: loop, server, conn (light)  [-0, +0, m] */
static int deliver (lua_State *L) {
  stepflow_http_conn *c = (stepflow_http_conn *)lua_touserdata(L, 3);
  const stepflow_http_head *h;
  const char *head = stepflow_http_conn_head(c, &h);
  size_t hsz = (size_t)h->nheaders * sizeof(stepflow_http_header);
  size_t blen;
  const char *body;
  Request *r = (Request *)lua_newuserdatauv(L,
                 sizeof(Request) + hsz + h->head_len, 1);
  r->conn = NULL;  /* tied to c only once posted */
  r->answered = 0;
  r->nheaders = h->nheaders;
  r->method = h->method;
  r->target = h->target;
  r->head_len = h->head_len;
  memcpy(REQ_HEADERS(r), h->headers, hsz);
  memcpy((char *)REQ_HEAD(r), head, h->head_len);
  luaL_setmetatable(L, REQUEST_MT);  /* STACK: loop, server, conn, req */
  body = stepflow_http_conn_body(c, &blen);
  if (body == NULL)
    return luaL_error(L, "not enough memory");
  lua_pushlstring(L, body, blen);
  lua_setiuservalue(L, 4, 1);
  lua_getiuservalue(L, 2, 2);  /* STACK: loop, server, conn, req, fn */
  stepflow_loop_post(L, 1, 5, 4);
  r->conn = c;
  stepflow_http_conn_set_req(c, r);
  return 0;
}


static int on_request (void *ud, stepflow_http_conn *c) {
  Server *sv = (Server *)ud;
  lua_State *L = stepflow_loop_thread(sv->loop);
  if (L == NULL || !lua_checkstack(L, 8))
    return -1;
  lua_pushcfunction(L, deliver);
  lua_pushvalue(L, STEPFLOW_LOOP_SELF);
  lua_rawgeti(L, LUA_REGISTRYINDEX, sv->ref);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}


static void on_abandon (void *ud, stepflow_http_conn *c, void *req) {
  (void)ud; (void)c;
  ((Request *)req)->conn = NULL;
}


static const stepflow_http_hooks hooks = { on_request, on_abandon };


/*
** ---------------------------------------------------------------------
** Request methods
** ---------------------------------------------------------------------
*/

static Request *checkreq (lua_State *L) {
  return (Request *)luaL_checkudata(L, 1, REQUEST_MT);
}


static void pushspan (lua_State *L, Request *r, stepflow_http_span s) {
  lua_pushlstring(L, REQ_HEAD(r) + s.off, s.len);
}


/* req:method() -> string  [-0, +1, m] */
static int req_method (lua_State *L) {
  Request *r = checkreq(L);
  pushspan(L, r, r->method);
  return 1;
}


/* req:target() -> string (the request-target, e.g. "/")  [-0, +1, m] */
static int req_target (lua_State *L) {
  Request *r = checkreq(L);
  pushspan(L, r, r->target);
  return 1;
}


/* req:header(name) -> value of the first field named so (any case), or
   nil  [-0, +1, m] */
static int req_header (lua_State *L) {
  Request *r = checkreq(L);
  size_t len, i;
  const char *name = luaL_checklstring(L, 2, &len);
  char low[64];
  int k;
  if (len >= sizeof(low)) {
    lua_pushnil(L);
    return 1;
  }
  for (i = 0; i <= len; i++)
    low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32
                    : name[i]);
  for (k = 0; k < r->nheaders; k++) {
    if (stepflow_http_name_is(REQ_HEAD(r), REQ_HEADERS(r)[k].name, low)) {
      pushspan(L, r, REQ_HEADERS(r)[k].value);
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}


/* req:headers() -> table: lower-case name -> value (repeated fields
   joined with ",")  [-0, +1, m] */
static int req_headers (lua_State *L) {
  Request *r = checkreq(L);
  int k;
  lua_createtable(L, 0, r->nheaders);
  for (k = 0; k < r->nheaders; k++) {
    stepflow_http_header *f = &REQ_HEADERS(r)[k];
    luaL_Buffer b;
    uint32_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i < f->name.len; i++) {
      char ch = REQ_HEAD(r)[f->name.off + i];
      luaL_addchar(&b, (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch);
    }
    luaL_pushresult(&b);  /* STACK: t, name */
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {  /* STACK: t, name, old */
      lua_pushliteral(L, ",");
      pushspan(L, r, f->value);
      lua_concat(L, 3);
    }
    else {
      lua_pop(L, 1);
      pushspan(L, r, f->value);
    }
    lua_rawset(L, -3);
  }
  return 1;
}


/* req:body() -> string  [-0, +1, -] */
static int req_body (lua_State *L) {
  checkreq(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}


/* req:is_open() -> boolean: the client still waits for the answer
   [-0, +1, -] */
static int req_is_open (lua_State *L) {
  Request *r = checkreq(L);
  lua_pushboolean(L, r->conn != NULL);
  return 1;
}


/* Checks a header name or value: no CR, LF or NUL (no injected fields). */
static void checkfield (lua_State *L, int idx, const char *what) {
  size_t len, i;
  const char *s = lua_tolstring(L, idx, &len);
  if (s == NULL)
    luaL_error(L, "respond: header %s must be a string", what);
  for (i = 0; i < len; i++) {
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
      luaL_error(L, "respond: header %s has a line break or NUL", what);
  }
}


/* req:respond(status, body[, headers[, close]]) -> true, or false when
   the client has gone; headers: name -> value; close: close the
   connection afterwards. Raises when answered already.  [-0, +1, m] */
static int req_respond (lua_State *L) {
  Request *r = checkreq(L);
  lua_Integer status = luaL_checkinteger(L, 2);
  size_t blen, hlen;
  const char *body = luaL_checklstring(L, 3, &blen);
  const char *hdrs;
  int close = lua_toboolean(L, 5);
  luaL_Buffer b;
  luaL_argcheck(L, status >= 100 && status <= 599, 2, "invalid status");
  if (!lua_isnoneornil(L, 4))
    luaL_checktype(L, 4, LUA_TTABLE);
  if (r->answered)
    return luaL_error(L, "respond: the request was answered already");
  luaL_buffinit(L, &b);
  if (lua_istable(L, 4)) {
    lua_pushnil(L);
    while (lua_next(L, 4)) {  /* STACK: ..., buffer?, key, value */
      checkfield(L, -2, "name");
      checkfield(L, -1, "value");
      lua_pushvalue(L, -2);
      luaL_addvalue(&b);
      luaL_addlstring(&b, ": ", 2);
      luaL_addvalue(&b);  /* pops the value */
      luaL_addlstring(&b, "\r\n", 2);
    }
  }
  luaL_pushresult(&b);
  hdrs = lua_tolstring(L, -1, &hlen);
  r->answered = 1;
  if (r->conn == NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  stepflow_http_respond(r->conn, (int)status, hdrs, hlen, body, blen, close);
  r->conn = NULL;
  lua_pushboolean(L, 1);
  return 1;
}


/* __gc: a request dropped unanswered gets a 500, so its client does not
   wait forever.  [-0, +0, -] */
static int req_gc (lua_State *L) {
  Request *r = checkreq(L);
  if (r->conn != NULL && !r->answered) {
    static const char hdr[] =
      "Content-Type: application/x-amz-json-1.0\r\n";
    static const char body[] = "{\"__type\":\"InternalFailure\","
      "\"message\":\"the server dropped the request\"}";
    stepflow_http_respond(r->conn, 500, hdr, sizeof(hdr) - 1, body,
                          sizeof(body) - 1, 1);
  }
  r->conn = NULL;
  return 0;
}


/*
** ---------------------------------------------------------------------
** Server methods
** ---------------------------------------------------------------------
*/

static Server *checkserver (lua_State *L) {
  Server *sv = (Server *)luaL_checkudata(L, 1, SERVER_MT);
  if (sv->srv == NULL)
    luaL_error(L, "attempt to use a closed server");
  return sv;
}


/* server:address() -> host, port  [-0, +2, m] */
static int server_address (lua_State *L) {
  Server *sv = checkserver(L);
  char host[64];
  int port = stepflow_http_address(sv->srv, host, sizeof(host));
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
  return 2;
}


/* server:shutdown() -> nothing: stops accepting; idle connections close
   now, the others after their answer  [-0, +0, -] */
static int server_shutdown (lua_State *L) {
  Server *sv = checkserver(L);
  stepflow_http_shutdown(sv->srv);
  return 0;
}


/* server:connections() -> integer  [-0, +1, -] */
static int server_connections (lua_State *L) {
  Server *sv = checkserver(L);
  lua_pushinteger(L, (lua_Integer)stepflow_http_connections(sv->srv));
  return 1;
}


/* server:close() -> nothing; also __close and __gc: every connection
   closes now  [-0, +0, -] */
static int server_close (lua_State *L) {
  Server *sv = (Server *)luaL_checkudata(L, 1, SERVER_MT);
  if (sv->srv != NULL) {
    stepflow_http_free(sv->srv);
    sv->srv = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, sv->ref);
    sv->ref = LUA_NOREF;
    lua_getiuservalue(L, 1, 1);  /* the loop: forget this source */
    stepflow_loop_detach(L, -1, 1);
    lua_pop(L, 1);
  }
  return 0;
}


/* Reads an integer option of opts (index 2) with a default. */
static lua_Integer intopt (lua_State *L, const char *name, lua_Integer dflt,
                           lua_Integer min) {
  lua_Integer v = dflt;
  if (lua_getfield(L, 2, name) != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < min)
      return luaL_argerror(L, 2, lua_pushfstring(L,
               "%s must be an integer >= %d", name, (int)min));
    v = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}


/* loop:http_server{host=, port=, on_request=fn, max_head=, max_body=,
   idle_timeout=, request_timeout=, write_timeout=} -> server, or nil,
   message when it cannot listen. Timeouts in ms.  [-0, +(1|2), m] */
static int loop_http_server (lua_State *L) {
  static const char *const known[] = { "host", "port", "on_request",
    "max_head", "max_body", "idle_timeout", "request_timeout",
    "write_timeout", NULL };
  stepflow_loop *lp = stepflow_checkloop(L, 1);
  stepflow_http_limits lim;
  const char *host;
  lua_Integer port;
  Server *sv;
  char err[256];
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    int i;
    for (i = 0; known[i] != NULL; i++) {
      if (lua_type(L, -2) == LUA_TSTRING &&
          strcmp(lua_tostring(L, -2), known[i]) == 0)
        break;
    }
    if (known[i] == NULL)
      return luaL_argerror(L, 2, lua_pushfstring(L, "unknown option '%s'",
               luaL_tolstring(L, -2, NULL)));
    lua_pop(L, 1);
  }
  lua_getfield(L, 2, "host");
  host = lua_isnil(L, -1) ? "127.0.0.1" : luaL_checkstring(L, -1);
  port = intopt(L, "port", 0, 0);
  luaL_argcheck(L, port <= 65535, 2, "port must be <= 65535");
  lim.max_head = (size_t)intopt(L, "max_head", 16384, 256);
  lim.max_body = (uint64_t)intopt(L, "max_body", 8 << 20, 0);
  lim.idle_ms = (int)intopt(L, "idle_timeout", 60000, 1);
  lim.request_ms = (int)intopt(L, "request_timeout", 30000, 1);
  lim.write_ms = (int)intopt(L, "write_timeout", 30000, 1);
  if (lua_getfield(L, 2, "on_request") != LUA_TFUNCTION)
    return luaL_argerror(L, 2, "on_request must be a function");
  /* STACK: loop, opts, host, on_request */
  sv = (Server *)lua_newuserdatauv(L, sizeof(Server), 2);
  sv->srv = NULL;  /* closed first */
  sv->loop = lp;
  sv->ref = LUA_NOREF;
  luaL_setmetatable(L, SERVER_MT);  /* STACK: loop, opts, host, fn, sv */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 5, 1);
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, 5, 2);
  lua_pushvalue(L, 5);
  sv->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  sv->srv = stepflow_http_listen(lp->base, host, (int)port, &lim, &hooks, sv,
                                 err, sizeof(err));
  if (sv->srv == NULL) {
    luaL_unref(L, LUA_REGISTRYINDEX, sv->ref);
    sv->ref = LUA_NOREF;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  stepflow_loop_attach(L, 1, 5);
  lua_settop(L, 5);
  return 1;
}


static const luaL_Reg request_methods[] = {
  { "method", req_method },
  { "target", req_target },
  { "header", req_header },
  { "headers", req_headers },
  { "body", req_body },
  { "is_open", req_is_open },
  { "respond", req_respond },
  { NULL, NULL }
};

static const luaL_Reg server_methods[] = {
  { "address", server_address },
  { "shutdown", server_shutdown },
  { "connections", server_connections },
  { "close", server_close },
  { NULL, NULL }
};


void stepflow_http_open (lua_State *L, int methods_idx) {
  methods_idx = lua_absindex(L, methods_idx);
  luaL_newmetatable(L, REQUEST_MT);
  luaL_newlib(L, request_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, req_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, SERVER_MT);
  luaL_newlib(L, server_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, server_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, server_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, loop_http_server);
  lua_setfield(L, methods_idx, "http_server");
}
