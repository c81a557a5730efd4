/*
** lmod_signal.c: loop:signal in stepflow.core.engine: a signal's delivery
** posts a callback to the loop's ready queue (no Lua inside libevent).
*/
#include <signal.h>

#include <event2/event.h>

#include "lua.h"
#include "lauxlib.h"

#include "lmod_engine.h"

#define SIGNAL_MT "stepflow.Signal"


/*
** A Signal watches one signal number on the loop's base: each delivery
** posts its callback (user value 2) to the ready queue, so Lua runs
** outside libevent's dispatch. User value 1 is the Loop. While watching,
** a registry ref keeps it alive, and it is one of the loop's I/O sources.
*/
typedef struct Signal {
  struct event *ev;   /* NULL once closed */
  stepflow_loop *loop;
  int ref;
} Signal;


/* STACK: loop, signal  [-0, +0, m] */
static int signal_post (lua_State *L) {
  lua_getiuservalue(L, 2, 2);  /* STACK: loop, signal, fn */
  lua_pushnil(L);
  stepflow_loop_post(L, 1, 3, 4);
  return 0;
}


static void signal_cb (evutil_socket_t fd, short what, void *arg) {
  Signal *s = (Signal *)arg;
  lua_State *L = stepflow_loop_thread(s->loop);
  (void)fd; (void)what;
  if (L == NULL || !lua_checkstack(L, 4))
    return;
  lua_pushcfunction(L, signal_post);
  lua_pushvalue(L, STEPFLOW_LOOP_SELF);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK)
    stepflow_loop_fail(L, s->loop);
}


/* signal:close() -> nothing; also __close and __gc  [-0, +0, -] */
static int signal_close (lua_State *L) {
  Signal *s = (Signal *)luaL_checkudata(L, 1, SIGNAL_MT);
  if (s->ev != NULL) {
    event_free(s->ev);
    s->ev = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
    lua_getiuservalue(L, 1, 1);  /* the loop (closed: nothing to do) */
    stepflow_loop_detach(L, -1, 1);
    lua_pop(L, 1);
  }
  return 0;
}


/* loop:signal(name, fn) -> signal: fn() runs on the ready queue each
   time the process gets the signal ("SIGINT", "SIGTERM", "SIGHUP",
   "SIGUSR1", "SIGUSR2"). It keeps the loop running until closed.
   [-0, +1, m] */
static int loop_signal (lua_State *L) {
  static const char *const names[] = { "SIGINT", "SIGTERM", "SIGHUP",
                                       "SIGUSR1", "SIGUSR2", NULL };
  static const int numbers[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
  stepflow_loop *lp = stepflow_checkloop(L, 1);
  int signum = numbers[luaL_checkoption(L, 2, NULL, names)];
  Signal *s;
  luaL_checktype(L, 3, LUA_TFUNCTION);
  s = (Signal *)lua_newuserdatauv(L, sizeof(Signal), 2);
  s->ev = NULL;  /* closed first */
  s->loop = lp;
  s->ref = LUA_NOREF;
  luaL_setmetatable(L, SIGNAL_MT);  /* STACK: loop, name, fn, signal */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, 1);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 4, 2);
  s->ev = evsignal_new(lp->base, signum, signal_cb, s);
  if (s->ev == NULL || event_add(s->ev, NULL) != 0)
    return luaL_error(L, "cannot watch signal %s", lua_tostring(L, 2));
  lua_pushvalue(L, 4);
  s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  stepflow_loop_attach(L, 1, 4);
  return 1;
}


void stepflow_signal_open (lua_State *L, int methods_idx) {
  methods_idx = lua_absindex(L, methods_idx);
  luaL_newmetatable(L, SIGNAL_MT);
  lua_newtable(L);
  lua_pushcfunction(L, signal_close);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, signal_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, signal_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, loop_signal);
  lua_setfield(L, methods_idx, "signal");
}
