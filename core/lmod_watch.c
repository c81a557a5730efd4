/*
** lmod_watch.c: loop:watch in stepflow.core.engine: interest in a file
** descriptor's readiness (the PostgreSQL store's connections). libevent's
** callback only queues the watch; the loop runs the Lua callbacks on its
** next turn (stepflow_watch_run, loop.c's run_io hook).
*/
#include <string.h>

#include <event2/event.h>

#include "lua.h"
#include "lauxlib.h"

#include "lmod_engine.h"

#define WATCH_MT "stepflow.Watch"


/*
** A Watch: interest in a file descriptor's readiness (a database
** connection's socket). Its callback (user value 1) runs from the turn
** after libevent reported the event, never inside libevent's dispatch.
** While interested it is kept alive by a registry ref; the loop keeps a
** list of its watches and closes them before it frees its base.
*/
typedef struct Watch {
  struct event *ev;     /* NULL once closed */
  stepflow_loop *loop;
  stepflow_watches *set;  /* the loop's watches */
  int ref;              /* LUA_NOREF unless interested */
  short want;           /* EV_READ | EV_WRITE, 0 when not interested */
  short revents;        /* what fired since the callback last ran */
  int busy;             /* keeps the loop alive, holds virtual time */
  int queued;
  struct Watch *next, *qnext;
} Watch;


/*
** ---------------------------------------------------------------------
** what lmod_engine.c calls
** ---------------------------------------------------------------------
*/

/* Runs the callbacks of the watches whose events fired, FIFO; a stop
   leaves the rest queued for the next turn. */
void stepflow_watch_run (lua_State *L, stepflow_watches *set,
                         stepflow_loop *core) {
  while (set->ioq != NULL && !core->stopping) {
    Watch *w = set->ioq;
    short ev = w->revents;
    set->ioq = w->qnext;
    if (set->ioq == NULL)
      set->ioq_tail = NULL;
    w->queued = 0;
    w->qnext = NULL;
    w->revents = 0;
    if (w->ref == LUA_NOREF)
      continue;  /* closed, or no longer interested */
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->ref);  /* STACK: watch */
    lua_getiuservalue(L, -1, 1);  /* STACK: watch, fn */
    lua_pushboolean(L, (ev & EV_READ) != 0);
    lua_pushboolean(L, (ev & EV_WRITE) != 0);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
      stepflow_loop_fail(L, core);
    lua_pop(L, 1);
  }
  core->io_pending = set->ioq != NULL;
}


/*
** ---------------------------------------------------------------------
** Watch methods
** ---------------------------------------------------------------------
*/

/* libevent's callback: only notes the event and queues the watch (no Lua
   inside libevent's dispatch). */
static void watch_cb (evutil_socket_t fd, short what, void *arg) {
  Watch *w = (Watch *)arg;
  stepflow_watches *set = w->set;
  (void)fd;
  w->revents |= what;
  if (!w->queued) {
    w->queued = 1;
    w->qnext = NULL;
    if (set->ioq_tail != NULL)
      set->ioq_tail->qnext = w;
    else
      set->ioq = w;
    set->ioq_tail = w;
  }
  w->loop->io_pending = 1;
}


static Watch *checkwatch (lua_State *L) {
  Watch *w = (Watch *)luaL_checkudata(L, 1, WATCH_MT);
  if (w->ev == NULL)
    luaL_error(L, "attempt to use a closed watch");
  return w;
}


/* Counts w's added event as busy or idle (sign +1 or -1). */
static void count_watch (Watch *w, int sign) {
  size_t *n = w->busy ? &w->loop->io_busy : &w->loop->io_idle;
  if (sign > 0)
    (*n)++;
  else
    (*n)--;
}


/* Removes w from the loop's queue of fired watches. */
static void unqueue (Watch *w) {
  stepflow_watches *set = w->set;
  Watch **p = &set->ioq, *prev = NULL;
  if (!w->queued)
    return;
  while (*p != NULL && *p != w) {
    prev = *p;
    p = &(*p)->qnext;
  }
  if (*p == w) {
    *p = w->qnext;
    if (set->ioq_tail == w)
      set->ioq_tail = prev;
  }
  w->queued = 0;
  w->qnext = NULL;
  w->revents = 0;
}


/* Drops w's interest: event deleted, ref released.  [-0, +0, -] */
static void watch_idle (lua_State *L, Watch *w) {
  if (w->want != 0) {
    event_del(w->ev);
    count_watch(w, -1);
    w->want = 0;
  }
  if (w->ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, w->ref);
    w->ref = LUA_NOREF;
  }
  unqueue(w);
}


/* Closes w: interest dropped, event freed, out of the loop's list.
   Idempotent.  [-0, +0, -] */
static void close_watch (lua_State *L, Watch *w) {
  Watch **p;
  if (w->ev == NULL)
    return;
  watch_idle(L, w);
  event_free(w->ev);
  w->ev = NULL;
  for (p = &w->set->all; *p != NULL; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  w->next = NULL;
}


/* loop:watch(fd, fn) -> watch: fn(readable, writable) runs on the turn
   after the events that watch:want() asks for occur  [-0, +1, m] */
static int loop_watch (lua_State *L) {
  stepflow_loop *lp = stepflow_checkloop(L, 1);
  stepflow_watches *set = stepflow_loop_watches(lp);
  lua_Integer fd = luaL_checkinteger(L, 2);
  Watch *w;
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 2, "not a file descriptor");
  luaL_checktype(L, 3, LUA_TFUNCTION);
  w = (Watch *)lua_newuserdatauv(L, sizeof(Watch), 2);
  memset(w, 0, sizeof(*w));
  w->ref = LUA_NOREF;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 2);  /* the loop outlives its watches */
  w->loop = lp;
  w->set = set;
  w->ev = event_new(lp->base, (evutil_socket_t)fd, EV_PERSIST, watch_cb, w);
  if (w->ev == NULL)
    return luaL_error(L, "not enough memory");
  w->next = set->all;
  set->all = w;
  return 1;
}


/* watch:want(readable, writable[, busy]) -> nothing: the events to wait
   for (none: not interested, which releases it). busy: the watch keeps
   the loop alive (and virtual time still) while interested; an idle one
   (notifications) lets the loop end  [-0, +0, m] */
static int watch_want (lua_State *L) {
  Watch *w = checkwatch(L);
  short want = (short)((lua_toboolean(L, 2) ? EV_READ : 0) |
                       (lua_toboolean(L, 3) ? EV_WRITE : 0));
  int busy = lua_toboolean(L, 4);
  evutil_socket_t fd = event_get_fd(w->ev);
  if (want == w->want && busy == w->busy)
    return 0;
  if (w->want != 0) {
    event_del(w->ev);
    count_watch(w, -1);
  }
  w->want = 0;
  w->busy = busy;
  if (want == 0) {
    watch_idle(L, w);
    return 0;
  }
  if (w->ref == LUA_NOREF) {
    lua_pushvalue(L, 1);
    w->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (event_assign(w->ev, w->loop->base, fd, (short)(want | EV_PERSIST),
                   watch_cb, w) != 0 || event_add(w->ev, NULL) != 0) {
    watch_idle(L, w);
    return luaL_error(L, "cannot watch file descriptor %d", (int)fd);
  }
  w->want = want;
  count_watch(w, 1);
  return 0;
}


/* watch:close() -> nothing; also __gc and __close  [-0, +0, -] */
static int watch_close (lua_State *L) {
  Watch *w = (Watch *)luaL_checkudata(L, 1, WATCH_MT);
  close_watch(L, w);
  return 0;
}


/* Closes every watch of the set (the loop closes).  [-0, +0, -] */
void stepflow_watch_close_all (lua_State *L, stepflow_watches *set) {
  while (set->all != NULL)
    close_watch(L, set->all);
}


static const luaL_Reg watch_methods[] = {
  { "want", watch_want },
  { "close", watch_close },
  { NULL, NULL }
};


void stepflow_watch_open (lua_State *L, int methods_idx) {
  luaL_newmetatable(L, WATCH_MT);  /* STACK: wmt */
  lua_newtable(L);
  luaL_setfuncs(L, watch_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, watch_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, watch_close);
  lua_setfield(L, -2, "__close");
  lua_pushcclosure(L, loop_watch, 1);  /* upvalue: wmt */
  lua_setfield(L, methods_idx, "watch");
}
