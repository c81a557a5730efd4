/*
** lmod_http_client.c: Lua binding of the HTTP client (http_client.c):
** loop:http_client() -> client, client:request(opts, fn) -> request.
** Responses reach Lua through the loop's ready queue, never from inside
** libevent's dispatch.
*/
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include <event2/keyvalq_struct.h>

#include "stepflow_core.h"
#include "lmod_engine.h"
#include "http_client.h"

#define CLIENT_MT  "stepflow.HttpClient"
#define REQUEST_MT "stepflow.HttpClientRequest"

/* User values of a Client: its loop, and its requests in flight (request
   -> true) so that closing the client drops them. */
#define CUV_LOOP 1
#define CUV_REQS 2

/* User values of a Request: its callback and its client. */
#define RUV_FN     1
#define RUV_CLIENT 2

typedef struct Client {
  stepflow_httpc *c;      /* NULL once closed */
  stepflow_loop *loop;
} Client;

/*
** A Request is kept alive by a registry ref while in flight (ref); its
** done callback, a cancel, or its client's close drop the ref, release
** the loop's hold and forget r.
*/
typedef struct Request {
  stepflow_httpc_req *r;  /* NULL once ended */
  stepflow_loop *loop;
  int ref;
} Request;


static Client *checkclient (lua_State *L) {
  Client *cl = (Client *)luaL_checkudata(L, 1, CLIENT_MT);
  if (cl->c == NULL)
    luaL_error(L, "attempt to use a closed HTTP client");
  return cl;
}


/* Ends a request's time in flight: the ref and the hold go.  [-0, +0, -] */
static void settle (lua_State *L, Request *rq) {
  rq->r = NULL;
  stepflow_loop_hold(rq->loop, -1);
  luaL_unref(L, LUA_REGISTRYINDEX, rq->ref);
  rq->ref = LUA_NOREF;
}


/* Builds the response table and posts fn(response) to the ready queue.
   STACK: loop, request, result (light userdata)  [-0, +0, m] */
static int post_result (lua_State *L) {
  Request *rq = (Request *)lua_touserdata(L, 2);
  const stepflow_httpc_result *res = (const stepflow_httpc_result *)lua_touserdata(L, 3);
  lua_createtable(L, 0, 5);  /* STACK: loop, request, result, t */
  if (res->error != STEPFLOW_HTTPC_OK) {
    static const char *const kinds[] = { "", "socket", "timeout", "tls", "too_large" };
    lua_pushstring(L, kinds[res->error]);
    lua_setfield(L, 4, "error");
    lua_pushstring(L, res->message != NULL ? res->message : "");
    lua_setfield(L, 4, "message");
  }
  else {
    const struct evkeyval *h;
    lua_Integer n = 0;
    lua_pushinteger(L, res->status);
    lua_setfield(L, 4, "status");
    lua_pushstring(L, res->reason != NULL ? res->reason : "");
    lua_setfield(L, 4, "reason");
    lua_pushlstring(L, res->body, res->body_len);
    lua_setfield(L, 4, "body");
    lua_newtable(L);  /* STACK: ..., t, headers */
    if (res->headers != NULL) {
      /* (keyvalq_struct.h gives the queue's fields, not sys/queue.h) */
      for (h = res->headers->tqh_first; h != NULL; h = h->next.tqe_next) {
        lua_createtable(L, 2, 0);
        lua_pushstring(L, h->key);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, h->value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++n);
      }
    }
    lua_setfield(L, 4, "headers");
  }
  lua_getiuservalue(L, 2, RUV_FN);  /* STACK: loop, request, result, t, fn */
  stepflow_loop_post(L, 1, 5, 4);
  /* the client no longer waits for this request */
  lua_getiuservalue(L, 2, RUV_CLIENT);
  if (lua_getiuservalue(L, -1, CUV_REQS) == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  settle(L, rq);
  return 0;
}


/* http_client.c's done callback, from inside libevent's dispatch: Lua is
   entered under lua_pcall on the thread running the loop. */
static void on_done (void *ud, const stepflow_httpc_result *res) {
  Request *rq = (Request *)ud;
  lua_State *L = stepflow_loop_thread(rq->loop);
  if (L == NULL || !lua_checkstack(L, 8))
    return;  /* cannot happen: callbacks come only inside run()/step() */
  lua_pushcfunction(L, post_result);
  lua_pushvalue(L, STEPFLOW_LOOP_SELF);
  lua_rawgeti(L, LUA_REGISTRYINDEX, rq->ref);
  lua_pushlightuserdata(L, (void *)res);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    lua_pop(L, 1);  /* no memory: the response is lost, the request ends */
    if (rq->r != NULL)
      settle(L, rq);
  }
}


/* Reads a string field of the options table at index 2, or NULL. */
static const char *opt_string (lua_State *L, const char *name, size_t *len) {
  const char *s;
  lua_getfield(L, 2, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  s = lua_tolstring(L, -1, len);
  if (s == NULL)
    luaL_error(L, "bad argument #1 to 'request' (%s must be a string)", name);
  lua_pop(L, 1);  /* the options table keeps it alive */
  return s;
}


/* client:request({method=, url=, headers={{name, value}, ...}, body=,
   timeout_ms=}, fn) -> request. fn(response) runs on the ready queue:
   {status, reason, headers = {{name, value}, ...}, body} or {error =
   "socket" | "timeout" | "tls" | "too_large", message}. A request that
   cannot start raises (a bad URL or method).  [-0, +1, v] */
static int client_request (lua_State *L) {
  Client *cl = checkclient(L);
  stepflow_httpc_opts o;
  stepflow_httpc_header *hs = NULL;
  Request *rq;
  char err[256];
  size_t n = 0, i;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  memset(&o, 0, sizeof(o));
  o.method = opt_string(L, "method", NULL);
  o.url = opt_string(L, "url", NULL);
  o.body = opt_string(L, "body", &o.body_len);
  luaL_argcheck(L, o.method != NULL && o.url != NULL, 1, "method and url are required");
  lua_getfield(L, 2, "timeout_ms");
  o.timeout_ms = lua_isnil(L, -1) ? 60000 : (int)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  luaL_argcheck(L, o.timeout_ms > 0, 1, "timeout_ms must be > 0");
  if (lua_getfield(L, 2, "headers") == LUA_TTABLE) {  /* STACK: ..., headers */
    n = (size_t)luaL_len(L, -1);
    hs = (stepflow_httpc_header *)lua_newuserdatauv(L, (n + 1) * sizeof(*hs), 0);
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, -2, (lua_Integer)i + 1);  /* STACK: ..., headers, hs, pair */
      luaL_argcheck(L, lua_type(L, -1) == LUA_TTABLE, 1, "headers are {name, value} pairs");
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      hs[i].name = lua_tostring(L, -2);
      hs[i].value = lua_tostring(L, -1);
      luaL_argcheck(L, hs[i].name != NULL && hs[i].value != NULL, 1,
                    "headers are {name, value} pairs of strings");
      /* the pair table in the headers list keeps both strings alive */
      lua_pop(L, 3);
    }
  }
  o.headers = hs;
  o.nheaders = n;
  rq = (Request *)lua_newuserdatauv(L, sizeof(Request), 2);
  rq->r = NULL;  /* closed first */
  rq->loop = cl->loop;
  rq->ref = LUA_NOREF;
  luaL_setmetatable(L, REQUEST_MT);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, RUV_FN);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, RUV_CLIENT);
  rq->r = stepflow_httpc_request(cl->c, &o, on_done, rq, err, sizeof(err));
  if (rq->r == NULL)
    return luaL_error(L, "http request: %s", err);
  stepflow_loop_hold(cl->loop, 1);
  lua_pushvalue(L, -1);
  rq->ref = luaL_ref(L, LUA_REGISTRYINDEX);  /* alive while in flight */
  lua_getiuservalue(L, 1, CUV_REQS);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return 1;
}


/* Ends a request in flight without a response (no callback).  [-0,+0,-] */
static void drop (lua_State *L, Request *rq) {
  if (rq->r != NULL) {
    stepflow_httpc_cancel(rq->r);
    settle(L, rq);
  }
}


/* request:cancel() -> boolean (true if it was in flight)  [-0, +1, -] */
static int request_cancel (lua_State *L) {
  Request *rq = (Request *)luaL_checkudata(L, 1, REQUEST_MT);
  int inflight = rq->r != NULL;
  drop(L, rq);
  if (inflight) {
    lua_getiuservalue(L, 1, RUV_CLIENT);
    if (lua_getiuservalue(L, -1, CUV_REQS) == LUA_TTABLE) {
      lua_pushvalue(L, 1);
      lua_pushnil(L);
      lua_rawset(L, -3);
    }
  }
  lua_pushboolean(L, inflight);
  return 1;
}


/* client:close() (also __close, __gc, and the loop's close): drops the
   requests in flight, then frees the client.  [-0, +0, -] */
static int client_close (lua_State *L) {
  Client *cl = (Client *)luaL_checkudata(L, 1, CLIENT_MT);
  if (cl->c == NULL)
    return 0;
  if (lua_getiuservalue(L, 1, CUV_REQS) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {  /* STACK: reqs, request, true */
      lua_pop(L, 1);
      drop(L, (Request *)lua_touserdata(L, -1));
    }
  }
  lua_pop(L, 1);
  stepflow_httpc_free(cl->c);
  cl->c = NULL;
  /* (a closed loop has forgotten its sources already: a no-op then) */
  if (lua_getiuservalue(L, 1, CUV_LOOP) == LUA_TUSERDATA)
    stepflow_loop_detach(L, -1, 1);
  lua_pop(L, 1);
  return 0;
}


/* loop:http_client([{ca_file = path}]) -> client  [-0, +1, m] */
static int loop_http_client (lua_State *L) {
  stepflow_loop *lp = stepflow_checkloop(L, 1);
  const char *ca_file = NULL;
  Client *cl;
  char err[256];
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "ca_file");
    ca_file = lua_tostring(L, -1);  /* kept alive by the options table */
    lua_pop(L, 1);
  }
  cl = (Client *)lua_newuserdatauv(L, sizeof(Client), 2);
  cl->c = NULL;  /* closed first */
  cl->loop = lp;
  luaL_setmetatable(L, CLIENT_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, CUV_LOOP);
  lua_newtable(L);
  lua_setiuservalue(L, -2, CUV_REQS);
  cl->c = stepflow_httpc_new(lp->base, ca_file, err, sizeof(err));
  if (cl->c == NULL)
    return luaL_error(L, "http client: %s", err);
  stepflow_loop_attach(L, 1, -1);
  return 1;
}


static const luaL_Reg client_methods[] = {
  { "request", client_request },
  { "close", client_close },
  { NULL, NULL }
};


void stepflow_http_client_open (lua_State *L, int methods_idx) {
  luaL_newmetatable(L, CLIENT_MT);
  lua_newtable(L);
  luaL_setfuncs(L, client_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, REQUEST_MT);
  lua_newtable(L);
  lua_pushcfunction(L, request_cancel);
  lua_setfield(L, -2, "cancel");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, loop_http_client);
  lua_setfield(L, methods_idx, "http_client");
}
