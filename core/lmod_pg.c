/*
** lmod_pg.c: stepflow.core.pg, a thin binding of libpq for the PostgreSQL
** store (lua/stepflow/store_pg.lua): one connection in pipeline mode,
** requests sent as batches of prepared statements and read back without
** blocking, so that the engine's loop watches the socket and never waits.
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "lua.h"
#include "lauxlib.h"

#include "stepflow_core.h"
#include "store_events.h"

#define CONN_MT "stepflow.PgConn"

/* Most parameters a statement of a batch has. */
#define MAX_PARAMS 24

/* User value 1 of a connection: the results of the batch in flight. */
#define UV_RESULTS 1

typedef struct Conn {
  PGconn *pg;          /* NULL once closed */
  PGresult *res;       /* being converted (cleared if that raises) */
  int inflight;        /* statements of the batch in flight, 0: idle */
  int got;             /* results of it read so far */
  int have;            /* a result of the current statement is pending */
  int broken;          /* the connection failed: every call fails */
} Conn;


static Conn *checkconn (lua_State *L) {
  Conn *c = (Conn *)luaL_checkudata(L, 1, CONN_MT);
  if (c->pg == NULL)
    luaL_error(L, "attempt to use a closed connection");
  return c;
}


/* The first line of libpq's message, without its newline. */
static void push_pgerror (lua_State *L, const char *what, const char *msg) {
  size_t n = strcspn(msg, "\n");
  lua_pushfstring(L, "store: postgresql: %s: ", what);
  lua_pushlstring(L, msg, n);
  lua_concat(L, 2);
}


/* Pushes nil, message; marks the connection broken.  [-0, +2, m] */
static int fail (lua_State *L, Conn *c, const char *what) {
  c->broken = 1;
  lua_pushnil(L);
  push_pgerror(L, what, PQerrorMessage(c->pg));
  return 2;
}


/* Notices ("relation already exists, skipping") are not for the user. */
static void no_notice (void *arg, const char *message) {
  (void)arg;
  (void)message;
}


/* pg.connect(conninfo) -> conn | nil, msg: a blocking connect, made
** before the loop runs; the connection is then non-blocking and in
** pipeline mode.  [-0, +1|2, m] */
static int l_connect (lua_State *L) {
  const char *info = luaL_checkstring(L, 1);
  Conn *c = (Conn *)lua_newuserdatauv(L, sizeof(Conn), 1);
  memset(c, 0, sizeof(*c));
  luaL_setmetatable(L, CONN_MT);  /* closed first: __gc copes */
  c->pg = PQconnectdb(info);
  if (c->pg == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "store: postgresql: out of memory");
    return 2;
  }
  if (PQstatus(c->pg) != CONNECTION_OK) {
    lua_pushnil(L);
    push_pgerror(L, "cannot connect", PQerrorMessage(c->pg));
    PQfinish(c->pg);
    c->pg = NULL;
    return 2;
  }
  PQsetNoticeProcessor(c->pg, no_notice, NULL);
  if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
    lua_pushnil(L);
    push_pgerror(L, "cannot set up the connection", PQerrorMessage(c->pg));
    PQfinish(c->pg);
    c->pg = NULL;
    return 2;
  }
  return 1;
}


/* conn:socket() -> fd  [-0, +1, -] */
static int l_socket (lua_State *L) {
  Conn *c = checkconn(L);
  lua_pushinteger(L, PQsocket(c->pg));
  return 1;
}


/* conn:prepare(name, sql) -> true | nil, msg: a blocking round trip (at
** open, before the loop runs).  [-0, +1|2, m] */
static int l_prepare (lua_State *L) {
  Conn *c = checkconn(L);
  const char *name = luaL_checkstring(L, 2), *sql = luaL_checkstring(L, 3);
  PGresult *r;
  int ok;
  luaL_argcheck(L, c->inflight == 0, 1, "a batch is in flight");
  if (PQsendPrepare(c->pg, name, sql, 0, NULL) != 1 ||
      PQpipelineSync(c->pg) != 1)
    return fail(L, c, "prepare");
  while (PQflush(c->pg) == 1) {
    struct pollfd p;
    p.fd = PQsocket(c->pg);
    p.events = POLLOUT;
    (void)poll(&p, 1, -1);
  }
  PQsetnonblocking(c->pg, 0);  /* read the answer blocking */
  r = PQgetResult(c->pg);
  ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) {
    lua_pushnil(L);
    push_pgerror(L, "prepare", r ? PQresultErrorMessage(r) :
                 PQerrorMessage(c->pg));
  }
  PQclear(r);
  {  /* the statement's end (NULL), then the sync */
    int nulls = 0;
    while (nulls < 2) {
      int sync;
      r = PQgetResult(c->pg);
      if (r == NULL) {
        nulls++;
        continue;
      }
      sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync)
        break;
    }
  }
  PQsetnonblocking(c->pg, 1);
  if (!ok)
    return 2;
  lua_pushboolean(L, 1);
  return 1;
}


/* conn:send(batch) -> true | nil, msg. batch: an array of statements,
** each {name, p1, ..., pn[, n = count]} (a prepared statement's name and
** its parameters: strings, integers, booleans, nil for NULL; or
** {sql = text, nil, p1, ...} for a statement not prepared), sent with
** one sync at the end: the results come back together (conn:read).
** Sending only buffers; conn:flush() writes.  [-0, +1|2, m] */
static int l_send (lua_State *L) {
  Conn *c = checkconn(L);
  lua_Integer n, i;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_argcheck(L, c->inflight == 0, 1, "a batch is in flight");
  if (c->broken)
    return fail(L, c, "send");
  n = (lua_Integer)lua_rawlen(L, 2);
  luaL_argcheck(L, n > 0, 2, "an empty batch");
  for (i = 1; i <= n; i++) {
    const char *params[MAX_PARAMS];
    const char *name, *sql;
    int np, k, top = lua_gettop(L);
    lua_rawgeti(L, 2, i);  /* STACK: ..., stmt */
    luaL_argcheck(L, lua_istable(L, -1), 2, "statements must be tables");
    lua_getfield(L, -1, "n");
    np = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) :
         (int)lua_rawlen(L, -2) - 1;
    lua_pop(L, 1);
    if (np < 0)
      np = 0;
    luaL_argcheck(L, np <= MAX_PARAMS, 2, "too many parameters");
    lua_getfield(L, -1, "sql");  /* SQL text instead of a prepared name */
    sql = lua_tostring(L, -1);
    lua_rawgeti(L, -2, 1);
    name = lua_tostring(L, -1);
    luaL_argcheck(L, name != NULL || sql != NULL, 2,
                  "a statement needs a name or sql");
    for (k = 0; k < np; k++) {
      int t = lua_rawgeti(L, top + 1, k + 2);
      if (t == LUA_TNIL)
        params[k] = NULL;
      else if (t == LUA_TBOOLEAN)
        params[k] = lua_toboolean(L, -1) ? "t" : "f";
      else {
        size_t len;
        params[k] = lua_tolstring(L, -1, &len);  /* numbers in place */
        luaL_argcheck(L, params[k] != NULL, 2, "bad parameter type");
        /* text parameters end at a NUL: refuse rather than cut */
        luaL_argcheck(L, strlen(params[k]) == len, 2,
                      "a parameter holds a NUL byte");
      }
    }
    if ((sql != NULL ?
         PQsendQueryParams(c->pg, sql, np, NULL, params, NULL, NULL, 0) :
         PQsendQueryPrepared(c->pg, name, np, params, NULL, NULL, 0)) != 1)
      return fail(L, c, "send");
    lua_settop(L, top);
  }
  if (PQpipelineSync(c->pg) != 1)
    return fail(L, c, "send");
  c->inflight = (int)n;
  c->got = 0;
  c->have = 0;
  lua_createtable(L, (int)n, 0);
  lua_setiuservalue(L, 1, UV_RESULTS);
  lua_pushboolean(L, 1);
  return 1;
}


/* conn:flush() -> true (all sent) | false (wait until writable) |
** nil, msg  [-0, +1|2, m] */
static int l_flush (lua_State *L) {
  Conn *c = checkconn(L);
  int r;
  if (c->broken)
    return fail(L, c, "flush");
  r = PQflush(c->pg);
  if (r < 0)
    return fail(L, c, "flush");
  lua_pushboolean(L, r == 0);
  return 1;
}


static void setstr (lua_State *L, const char *k, const char *v) {
  if (v == NULL)
    return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}


/* Pushes the table of result c->res (then cleared): {tag=, n=, rows=}
** or {error=, sqlstate=, detail=} or {aborted=true}.  [-0, +1, m] */
static void push_result (lua_State *L, Conn *c) {
  PGresult *r = c->res;
  ExecStatusType st = PQresultStatus(r);
  lua_createtable(L, 0, 4);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    int nr = PQntuples(r), nf = PQnfields(r), i, j;
    const char *tuples = PQcmdTuples(r);
    setstr(L, "tag", PQcmdStatus(r));
    lua_pushinteger(L, tuples[0] ? (lua_Integer)strtoll(tuples, NULL, 10)
                                 : 0);
    lua_setfield(L, -2, "n");
    lua_createtable(L, nr, 0);
    for (i = 0; i < nr; i++) {
      lua_createtable(L, nf, 0);
      for (j = 0; j < nf; j++) {
        if (PQgetisnull(r, i, j))
          continue;
        lua_pushlstring(L, PQgetvalue(r, i, j), (size_t)PQgetlength(r, i, j));
        lua_rawseti(L, -2, j + 1);
      }
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "rows");
  }
  else if (st == PGRES_PIPELINE_ABORTED) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "aborted");
    lua_pushliteral(L, "aborted after an earlier error of the batch");
    lua_setfield(L, -2, "error");
  }
  else {
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    push_pgerror(L, "error", msg ? msg : PQresultErrorMessage(r));
    lua_setfield(L, -2, "error");
    setstr(L, "sqlstate", PQresultErrorField(r, PG_DIAG_SQLSTATE));
    setstr(L, "detail", PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL));
  }
  PQclear(c->res);
  c->res = NULL;
}


/*
** Reads what has arrived of the batch in flight. Returns 1 when the batch
** is complete (its results table pushed), 0 when more must arrive, -1 on
** a connection failure (nil, msg pushed).  [-0, +(0|1|2), m]
*/
static int collect (lua_State *L, Conn *c) {
  if (PQconsumeInput(c->pg) != 1) {
    fail(L, c, "read");
    return -1;
  }
  while (c->inflight > 0 && !PQisBusy(c->pg)) {
    PGresult *r = PQgetResult(c->pg);
    if (r == NULL) {  /* the end of one statement's results */
      if (c->have) {
        c->have = 0;
        c->got++;
      }
      continue;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      c->inflight = 0;
      lua_getiuservalue(L, 1, UV_RESULTS);
      lua_pushnil(L);
      lua_setiuservalue(L, 1, UV_RESULTS);
      return 1;
    }
    if (c->have) {  /* a second result of one statement: keep the first */
      PQclear(r);
      continue;
    }
    c->res = r;
    lua_getiuservalue(L, 1, UV_RESULTS);  /* STACK: results */
    push_result(L, c);
    lua_rawseti(L, -2, c->got + 1);
    lua_pop(L, 1);
    c->have = 1;
  }
  return 0;
}


/* conn:read() -> results (the batch is complete: one table per statement)
** | false (more must arrive; none in flight: notifications were read) |
** nil, msg  [-0, +1|2, m] */
static int l_read (lua_State *L) {
  Conn *c = checkconn(L);
  int r;
  lua_settop(L, 1);
  if (c->broken)
    return fail(L, c, "read");
  if (c->inflight == 0) {
    if (PQconsumeInput(c->pg) != 1)
      return fail(L, c, "read");
    lua_pushboolean(L, 0);
    return 1;
  }
  r = collect(L, c);
  if (r == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return r > 0 ? 1 : 2;
}


/* conn:wait([timeout_ms]) -> results | nil, msg: blocks (poll) until the
** batch in flight is complete. Only outside the loop's work: at open, and
** for the synchronous reads of the store interface.  [-0, +1|2, m] */
static int l_wait (lua_State *L) {
  Conn *c = checkconn(L);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  lua_settop(L, 1);
  luaL_argcheck(L, c->inflight > 0, 1, "no batch in flight");
  for (;;) {
    struct pollfd p;
    int f, r;
    if (c->broken)
      return fail(L, c, "wait");
    f = PQflush(c->pg);
    if (f < 0)
      return fail(L, c, "wait");
    r = collect(L, c);
    if (r != 0)
      return r > 0 ? 1 : 2;
    p.fd = PQsocket(c->pg);
    p.events = (short)(POLLIN | (f == 1 ? POLLOUT : 0));
    p.revents = 0;
    r = poll(&p, 1, timeout);
    if (r == 0) {
      c->broken = 1;
      lua_pushnil(L);
      lua_pushliteral(L, "store: postgresql: no answer in time");
      return 2;
    }
    if (r < 0 && errno != EINTR) {
      c->broken = 1;
      lua_pushnil(L);
      lua_pushfstring(L, "store: postgresql: poll: %s", strerror(errno));
      return 2;
    }
  }
}


/* conn:busy() -> boolean (a batch is in flight)  [-0, +1, -] */
static int l_busy (lua_State *L) {
  Conn *c = checkconn(L);
  lua_pushboolean(L, c->inflight > 0);
  return 1;
}


/* conn:notifies() -> array of {channel=, payload=, pid=} received so far
** (read by read() and wait())  [-0, +1, m] */
static int l_notifies (lua_State *L) {
  Conn *c = checkconn(L);
  PGnotify *n;
  lua_Integer i = 0;
  lua_newtable(L);
  while ((n = PQnotifies(c->pg)) != NULL) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, n->relname);
    lua_pushstring(L, n->extra);
    lua_pushinteger(L, n->be_pid);
    PQfreemem(n);  /* the strings are copied */
    lua_setfield(L, -4, "pid");
    lua_setfield(L, -3, "payload");
    lua_setfield(L, -2, "channel");
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}


/* conn:backend_pid() -> the server process of this connection  [-0, +1, -] */
static int l_backend_pid (lua_State *L) {
  Conn *c = checkconn(L);
  lua_pushinteger(L, PQbackendPID(c->pg));
  return 1;
}


/* conn:close(), __gc, __close: idempotent  [-0, +0, -] */
static int l_close (lua_State *L) {
  Conn *c = (Conn *)luaL_checkudata(L, 1, CONN_MT);
  if (c->res != NULL) {
    PQclear(c->res);
    c->res = NULL;
  }
  if (c->pg != NULL) {
    PQfinish(c->pg);
    c->pg = NULL;
  }
  return 0;
}


/* pg.parse_events(data) -> array of {id=, previousEventId=, timestamp=,
** type=, details=}: the events of a stored row (docs/STORE.md, "Events"),
** or nil, msg when the text is not in row format.  [-0, +1|2, m] */
static int l_parse_events (lua_State *L) {
  size_t len, pos = 0;
  const char *data = luaL_checklstring(L, 1, &len);
  char type[SF_EVENT_TYPE_MAX + 1];
  stepflow_event_rec ev;
  lua_Integer i = 0;
  int r;
  lua_newtable(L);
  while ((r = sf_event_parse(data, len, &pos, &ev, type)) == 1) {
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, ev.id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, ev.prev_id);
    lua_setfield(L, -2, "previousEventId");
    lua_pushinteger(L, ev.timestamp);
    lua_setfield(L, -2, "timestamp");
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushlstring(L, ev.details, ev.details_len);
    lua_setfield(L, -2, "details");
    lua_rawseti(L, -2, ++i);
  }
  if (r < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "store: history: corrupt event row");
    return 2;
  }
  return 1;
}


/* pg.type_ok(type) -> boolean: the row format can hold this event type
** [-0, +1, -] */
static int l_type_ok (lua_State *L) {
  lua_pushboolean(L, sf_event_type_ok(luaL_checkstring(L, 1)));
  return 1;
}


/* pg.clock_ms() -> milliseconds of the monotonic clock: real time for the
** leases, also when the loop runs in virtual time  [-0, +1, -] */
static int l_clock_ms (lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  return 1;
}


static const luaL_Reg conn_methods[] = {
  {"socket", l_socket},
  {"prepare", l_prepare},
  {"send", l_send},
  {"flush", l_flush},
  {"read", l_read},
  {"wait", l_wait},
  {"busy", l_busy},
  {"notifies", l_notifies},
  {"backend_pid", l_backend_pid},
  {"close", l_close},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"connect", l_connect},
  {"parse_events", l_parse_events},
  {"type_ok", l_type_ok},
  {"clock_ms", l_clock_ms},
  {NULL, NULL}
};

STEPFLOW_EXPORT int luaopen_stepflow_core_pg (lua_State *L) {
  luaL_newmetatable(L, CONN_MT);
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  luaL_newlib(L, conn_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
