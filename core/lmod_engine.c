/*
** lmod_engine.c: Lua binding of stepflow.core.engine (Loop and Timer;
** lmod_watch.c, lmod_signal.c and lmod_http*.c add the loop's I/O).
** The ready queue and callbacks are Lua values; the loop itself (loop.c,
** heap.c) never sees a lua_State. Every callback runs under lua_pcall.
*/
#include <math.h>
#include <string.h>

#include <event2/event.h>

#include "lua.h"
#include "lauxlib.h"

#include "stepflow_core.h"
#include "lmod_engine.h"

#define LOOP_MT   "stepflow.Loop"
#define TIMER_MT  "stepflow.Timer"

/*
** User values of a Loop: two ready queues (one is drained while loop:call()
** fills the other, so both stay sequences starting at 1 and keep their
** array part), and the error a callback raised, waiting for run() to
** rethrow it. A queue holds items as (fn, arg) pairs at 2k-1 and 2k; the
** queue table itself stands for "no argument" (it never escapes). UV_IO
** maps the loop's I/O sources (HTTP servers and clients, signals) to
** their __close, which closing the loop calls before it frees the
** event_base.
*/
#define UV_QA   1
#define UV_QB   2
#define UV_ERR  3
#define UV_IO   4
#define LOOP_NUV 4

/* Longest delay: 2^52 ms (142,000 years) keeps clock + delay in range,
   in microseconds too, and exact as a double. */
#define MAX_DELAY 4503599627370496.0

/* Upvalues of the Loop methods. */
#define UP_LOOP_MT   lua_upvalueindex(1)
#define UP_TIMER_MT  lua_upvalueindex(2)

/* While run()/step() runs, the loop is at this index of the running frame
   (run_inner); the hooks find it there. */
#define SELF STEPFLOW_LOOP_SELF

typedef struct Loop {
  stepflow_loop core;   /* first: hooks get &core and cast back */
  lua_State *L;         /* thread in run()/step(), NULL otherwise */
  int qin;              /* queue receiving loop:call() (UV_QA or UV_QB) */
  int running;
  int closed;
  int has_error;        /* UV_ERR holds an error for run() to rethrow */
  stepflow_watches watches;        /* the loop's watches (lmod_watch.c) */
} Loop;

/*
** A Timer holds its callback in user value 1 while armed. An armed timer
** is in the loop's heap and kept alive by a registry ref (ref, loop set);
** fire, cancel, loop close and __gc all unref it and clear loop.
*/
typedef struct Timer {
  stepflow_hentry h;    /* first: the heap hands back &h */
  int64_t due;          /* due time on the loop's clock (h.due may be
                           on the monotonic clock) */
  Loop *loop;           /* non-NULL exactly while armed */
  int ref;
} Timer;


/*
** ---------------------------------------------------------------------
** helpers
** ---------------------------------------------------------------------
*/

/* Checks that arg 1 is an open Loop; fast path compares the metatable
   with the upvalue instead of looking its name up in the registry. */
static Loop *checkloop (lua_State *L) {
  Loop *lp = (Loop *)lua_touserdata(L, 1);
  if (lua_type(L, 1) == LUA_TUSERDATA && lua_getmetatable(L, 1)) {
    int same = lua_rawequal(L, -1, UP_LOOP_MT);
    lua_pop(L, 1);
    if (!same)
      lp = NULL;
  }
  else
    lp = NULL;
  if (lp == NULL)
    lp = (Loop *)luaL_checkudata(L, 1, LOOP_MT);  /* raises the message */
  if (lp->closed)
    luaL_error(L, "attempt to use a closed loop");
  return lp;
}


static Timer *checktimer (lua_State *L) {
  return (Timer *)luaL_checkudata(L, 1, TIMER_MT);
}


/* Disarms t (armed, its userdata at index idx): out of the heap, callback
   released, registry ref dropped. */
static void disarm (lua_State *L, Timer *t, int idx) {
  stepflow_loop_cancel_timer(&t->loop->core, &t->h);
  t->loop = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
  t->ref = LUA_NOREF;
  lua_pushnil(L);
  lua_setiuservalue(L, idx, 1);
}


/* Stores the error on top of the stack (the first one wins) and ends the
   run.  [-1, +0, -] */
static void store_error (Loop *lp, lua_State *L) {
  if (!lp->has_error) {
    lp->has_error = 1;
    lua_setiuservalue(L, SELF, UV_ERR);
  }
  else
    lua_pop(L, 1);
  stepflow_loop_stop(&lp->core);
}


/*
** ---------------------------------------------------------------------
** hooks called by loop.c from inside run_inner
** ---------------------------------------------------------------------
*/

/* After a stop in the middle of a batch: the items after `done` in the
   drained queue q (at stack top) keep their place ahead of the items
   queued meanwhile; everything moves into q, which receives again. */
static void requeue (Loop *lp, lua_State *L, int q, lua_Integer done,
                     lua_Integer n) {
  lua_Integer rest = n - done, m = (lua_Integer)lp->core.nready, k;
  int qt = lua_gettop(L);
  lua_getiuservalue(L, SELF, lp->qin);  /* STACK: q, other */
  for (k = 1; k <= 2 * rest; k++) {  /* slide the rest down to 1 */
    lua_rawgeti(L, qt, 2 * done + k);
    lua_rawseti(L, qt, k);
  }
  for (k = 1; k <= 2 * m; k++) {  /* append the newer items */
    lua_rawgeti(L, qt + 1, k);
    lua_rawseti(L, qt, 2 * rest + k);
    lua_pushnil(L);
    lua_rawseti(L, qt + 1, k);
  }
  for (k = 2 * (rest + m) + 1; k <= 2 * n; k++) {  /* clear the tail */
    lua_pushnil(L);
    lua_rawseti(L, qt, k);
  }
  lua_pop(L, 1);
  lp->qin = q;
  lp->core.nready = (size_t)(rest + m);
}


static void run_ready (stepflow_loop *core) {
  Loop *lp = (Loop *)core;
  lua_State *L = lp->L;
  int q = lp->qin;
  lua_Integer n = (lua_Integer)core->nready, i;
  int qt;
  lp->qin = UV_QA + UV_QB - q;  /* calls made meanwhile: next turn */
  core->nready = 0;
  lua_getiuservalue(L, SELF, q);
  qt = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    int nargs = 1;
    lua_rawgeti(L, qt, 2 * i - 1);
    lua_rawgeti(L, qt, 2 * i);  /* STACK: q, fn, arg */
    lua_pushnil(L);
    lua_rawseti(L, qt, 2 * i - 1);
    lua_pushnil(L);
    lua_rawseti(L, qt, 2 * i);
    if (lua_rawequal(L, -1, qt)) {  /* no argument */
      lua_pop(L, 1);
      nargs = 0;
    }
    if (lua_pcall(L, nargs, 0, 0) != LUA_OK)
      store_error(lp, L);
    if (core->stopping) {
      if (i < n)
        requeue(lp, L, q, i, n);
      break;
    }
  }
  lua_pop(L, 1);
}


static void fire (stepflow_loop *core, stepflow_hentry *e) {
  Loop *lp = (Loop *)core;
  lua_State *L = lp->L;
  Timer *t = (Timer *)e;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);  /* STACK: timer */
  luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
  t->ref = LUA_NOREF;
  t->loop = NULL;
  lua_getiuservalue(L, -1, 1);  /* STACK: timer, fn */
  lua_pushnil(L);
  lua_setiuservalue(L, -3, 1);  /* the timer no longer holds fn */
  if (lua_pcall(L, 0, 0, 0) != LUA_OK)
    store_error(lp, L);
  lua_pop(L, 1);
}


/* Runs the callbacks of the watches whose events fired (lmod_watch.c). */
static void run_io (stepflow_loop *core) {
  stepflow_watch_run(((Loop *)core)->L, &((Loop *)core)->watches, core);
}


void stepflow_loop_fail (lua_State *L, stepflow_loop *lp) {
  store_error((Loop *)lp, L);
}


static const stepflow_loop_hooks hooks = { run_ready, fire, run_io };


/*
** ---------------------------------------------------------------------
** Loop methods
** ---------------------------------------------------------------------
*/

/* loop:now() -> ms since the epoch  [-0, +1, -] */
static int loop_now (lua_State *L) {
  Loop *lp = checkloop(L);
  lua_pushinteger(L, (lua_Integer)stepflow_loop_now(&lp->core));
  return 1;
}


/* Arms a new Timer, after delay ms or (at) at time due, with the callback
   at index 3.  [-0, +1, m] */
static int arm (lua_State *L, Loop *lp, int at, int64_t due) {
  Timer *t = (Timer *)lua_newuserdatauv(L, sizeof(Timer), 1);
  int r;
  t->h.due = 0;
  t->h.seq = 0;
  t->h.index = STEPFLOW_HEAP_NONE;
  t->due = due;
  t->loop = NULL;
  t->ref = LUA_NOREF;
  lua_pushvalue(L, UP_TIMER_MT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);  /* STACK: ..., timer */
  lua_pushvalue(L, -1);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);  /* keeps the armed timer */
  if (at)
    r = stepflow_loop_add_timer_at(&lp->core, &t->h, due);
  else
    r = stepflow_loop_add_timer(&lp->core, &t->h, due, &t->due);
  if (r != 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    return luaL_error(L, "not enough memory");
  }
  t->loop = lp;
  return 1;
}


/* loop:timer(ms, fn) -> timer  [-0, +1, m] */
static int loop_timer (lua_State *L) {
  Loop *lp = checkloop(L);
  int64_t delay;
  if (lua_isinteger(L, 2))
    delay = (int64_t)lua_tointeger(L, 2);
  else {
    lua_Number d = luaL_checknumber(L, 2);
    luaL_argcheck(L, d >= 0, 2, "delay must be >= 0");
    luaL_argcheck(L, d < MAX_DELAY, 2, "delay is too large");
    delay = (int64_t)ceil(d);  /* fractions of a ms round up */
  }
  luaL_argcheck(L, delay >= 0, 2, "delay must be >= 0");
  luaL_argcheck(L, delay < MAX_DELAY, 2, "delay is too large");
  luaL_checktype(L, 3, LUA_TFUNCTION);
  return arm(L, lp, 0, delay);
}


/* loop:timer_at(due_ms, fn) -> timer: fires at an absolute time of the
   loop's clock (on the next turn, in due order, if that time is past)
   [-0, +1, m] */
static int loop_timer_at (lua_State *L) {
  Loop *lp = checkloop(L);
  int64_t due = (int64_t)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  return arm(L, lp, 1, due);
}


/* loop:call(fn[, arg]) -> nothing; fn(arg) runs on a later turn, FIFO
   [-0, +0, m] */
static int loop_call (lua_State *L) {
  Loop *lp = checkloop(L);
  lua_Integer k = 2 * (lua_Integer)lp->core.nready;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  lua_getiuservalue(L, 1, lp->qin);  /* STACK: loop, fn, arg, q */
  lua_pushvalue(L, 2);
  lua_rawseti(L, 4, k + 1);
  if (lua_isnone(L, 3) || lua_isnil(L, 3))
    lua_pushvalue(L, 4);  /* no argument */
  else
    lua_pushvalue(L, 3);
  lua_rawseti(L, 4, k + 2);
  lp->core.nready++;
  return 0;
}


/* Body of run() and step(), under lua_pcall so that nothing (not even a
   memory error) leaves the loop marked as running.
   STACK: loop, once  [-0, +(0|1), m] */
static int run_inner (lua_State *L) {
  Loop *lp = (Loop *)lua_touserdata(L, SELF);
  int mode = (int)lua_tointeger(L, 2);
  if (mode != 0) {  /* one turn: 1 never waits, 2 may wait */
    lua_pushboolean(L, stepflow_loop_turn(&lp->core, mode == 1));
    return 1;
  }
  while (stepflow_loop_turn(&lp->core, 0) && !lp->core.stopping)
    ;
  return 0;
}


static int run_or_step (lua_State *L, int once) {
  Loop *lp = checkloop(L);
  int status;
  if (lp->running)
    return luaL_error(L, "loop is already running");
  lua_settop(L, 1);
  lua_pushcfunction(L, run_inner);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, once);
  lp->running = 1;
  lp->L = L;
  lp->core.stopping = 0;
  status = lua_pcall(L, 2, 1, 0);  /* STACK: loop, result */
  lp->running = 0;
  lp->L = NULL;
  lp->core.stopping = 0;
  if (status != LUA_OK)
    return lua_error(L);
  if (lp->has_error) {
    lp->has_error = 0;
    lua_getiuservalue(L, 1, UV_ERR);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_ERR);
    return lua_error(L);  /* the callback's error object, intact */
  }
  return once != 0;
}


/* loop:run() -> nothing; re-raises a callback's error  [-0, +0, v] */
static int loop_run (lua_State *L) {
  return run_or_step(L, 0);
}


/* loop:step([wait]) -> boolean (work remains): one turn; with wait, it
   may block until I/O or the earliest timer when nothing is ready
   [-0, +1, v] */
static int loop_step (lua_State *L) {
  int wait = lua_toboolean(L, 2);
  return run_or_step(L, wait ? 2 : 1);
}


/* loop:stop() -> nothing  [-0, +0, -] */
static int loop_stop (lua_State *L) {
  Loop *lp = checkloop(L);
  stepflow_loop_stop(&lp->core);
  return 0;
}


/* loop:pending() -> integer (armed timers + ready callbacks + busy
   watches)  [-0, +1, -] */
static int loop_pending (lua_State *L) {
  Loop *lp = checkloop(L);
  lua_pushinteger(L, (lua_Integer)(lp->core.timers.n + lp->core.nready +
                                   lp->core.io_busy));
  return 1;
}


/* loop:is_virtual() -> boolean  [-0, +1, -] */
static int loop_is_virtual (lua_State *L) {
  Loop *lp = checkloop(L);
  lua_pushboolean(L, lp->core.virtual_time);
  return 1;
}


/* Closes the I/O sources of the loop at index 1: their __close frees
   their events while the base still exists. The sources are listed first,
   since each one detaches itself while closing.  [-0, +0, e] */
static void close_io (lua_State *L) {
  int io, list, n = 0, i;
  if (lua_getiuservalue(L, 1, UV_IO) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  io = lua_gettop(L);
  lua_newtable(L);
  list = io + 1;
  lua_pushnil(L);
  while (lua_next(L, io)) {  /* STACK: io, list, obj, close */
    lua_pushvalue(L, -2);
    lua_rawseti(L, list, 2 * ++n - 1);
    lua_rawseti(L, list, 2 * n);
  }
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, list, 2 * i);
    lua_rawgeti(L, list, 2 * i - 1);
    lua_call(L, 1, 0);
  }
  lua_pop(L, 2);
}


/* Closes lp (the userdata at index 1): disarms every timer, drops the
   queues and any stored error, frees the base. Idempotent. */
static void close_loop (lua_State *L, Loop *lp) {
  stepflow_hentry *e;
  stepflow_watch_close_all(L, &lp->watches);
  if (!lp->closed) {
    close_io(L);
    while ((e = stepflow_heap_top(&lp->core.timers)) != NULL) {
      Timer *t = (Timer *)e;
      lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);  /* STACK: timer */
      disarm(L, t, lua_gettop(L));
      lua_pop(L, 1);
    }
    lp->closed = 1;
    lp->has_error = 0;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_QA);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_QB);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_ERR);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_IO);
  }
  stepflow_loop_close(&lp->core);
}


/* loop:close() -> nothing; also __close  [-0, +0, v] */
static int loop_close (lua_State *L) {
  Loop *lp = (Loop *)luaL_checkudata(L, 1, LOOP_MT);
  if (lp->running && !lp->closed)
    return luaL_error(L, "attempt to close a running loop");
  close_loop(L, lp);
  return 0;
}


/* __gc: a running loop is only collected by lua_close, whose frames never
   resume, so it is closed anyway.  [-0, +0, -] */
static int loop_gc (lua_State *L) {
  Loop *lp = (Loop *)luaL_checkudata(L, 1, LOOP_MT);
  close_loop(L, lp);
  return 0;
}


/*
** ---------------------------------------------------------------------
** Timer methods
** ---------------------------------------------------------------------
*/

/* timer:cancel() -> boolean (true if it was still pending)  [-0, +1, -] */
static int timer_cancel (lua_State *L) {
  Timer *t = checktimer(L);
  if (t->loop == NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  disarm(L, t, 1);
  lua_pushboolean(L, 1);
  return 1;
}


/* timer:due() -> ms since the epoch when it fires (or fired)
   [-0, +1, -] */
static int timer_due (lua_State *L) {
  Timer *t = checktimer(L);
  lua_pushinteger(L, (lua_Integer)t->due);
  return 1;
}


/* timer:pending() -> boolean (armed, not yet fired nor canceled)
   [-0, +1, -] */
static int timer_pending (lua_State *L) {
  Timer *t = checktimer(L);
  lua_pushboolean(L, t->loop != NULL);
  return 1;
}


/* __gc: normally an armed timer is reachable (its ref); lua_close
   finalizes it anyway.  [-0, +0, -] */
static int timer_gc (lua_State *L) {
  Timer *t = checktimer(L);
  if (t->loop != NULL)
    disarm(L, t, 1);
  return 0;
}


/*
** ---------------------------------------------------------------------
** what the other bindings use (lmod_engine.h)
** ---------------------------------------------------------------------
*/

stepflow_watches *stepflow_loop_watches (stepflow_loop *lp) {
  return &((Loop *)lp)->watches;
}


stepflow_loop *stepflow_checkloop (lua_State *L, int idx) {
  Loop *lp = (Loop *)luaL_checkudata(L, idx, LOOP_MT);
  if (lp->closed)
    luaL_error(L, "attempt to use a closed loop");
  return &lp->core;
}


lua_State *stepflow_loop_thread (stepflow_loop *core) {
  return ((Loop *)core)->L;
}


void stepflow_loop_post (lua_State *L, int loop_idx, int fn_idx,
                         int arg_idx) {
  Loop *lp = (Loop *)lua_touserdata(L, loop_idx);
  lua_Integer k = 2 * (lua_Integer)lp->core.nready;
  fn_idx = lua_absindex(L, fn_idx);
  arg_idx = lua_absindex(L, arg_idx);
  lua_getiuservalue(L, loop_idx, lp->qin);  /* STACK: q */
  lua_pushvalue(L, fn_idx);
  lua_rawseti(L, -2, k + 1);
  lua_pushvalue(L, lua_isnil(L, arg_idx) ? -1 : arg_idx);
  lua_rawseti(L, -2, k + 2);
  lua_pop(L, 1);
  lp->core.nready++;
}


void stepflow_loop_attach (lua_State *L, int loop_idx, int obj_idx) {
  obj_idx = lua_absindex(L, obj_idx);
  lua_getiuservalue(L, loop_idx, UV_IO);  /* STACK: io */
  lua_pushvalue(L, obj_idx);
  luaL_getmetafield(L, obj_idx, "__close");  /* STACK: io, obj, close */
  lua_rawset(L, -3);
  lua_pop(L, 1);
}


void stepflow_loop_detach (lua_State *L, int loop_idx, int obj_idx) {
  obj_idx = lua_absindex(L, obj_idx);
  if (lua_getiuservalue(L, loop_idx, UV_IO) == LUA_TTABLE) {
    lua_pushvalue(L, obj_idx);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}


/*
** ---------------------------------------------------------------------
** module
** ---------------------------------------------------------------------
*/

/* core.loop([{ virtual_time = boolean }]) -> loop  [-0, +1, m] */
static int core_loop (lua_State *L) {
  int virtual_time = 0;
  Loop *lp;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {  /* STACK: opts, key, value */
      if (lua_type(L, -2) != LUA_TSTRING ||
          strcmp(lua_tostring(L, -2), "virtual_time") != 0) {
        lua_pushvalue(L, -2);
        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s'",
                             luaL_tolstring(L, -1, NULL)));
      }
      luaL_argcheck(L, lua_type(L, -1) == LUA_TBOOLEAN, 1,
                    "virtual_time must be a boolean");
      virtual_time = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 0);
  /* Closed first: if anything below raises, __gc finds nothing to free. */
  lp = (Loop *)lua_newuserdatauv(L, sizeof(Loop), LOOP_NUV);
  memset(lp, 0, sizeof(*lp));
  lp->closed = 1;
  lp->qin = UV_QA;
  stepflow_heap_init(&lp->core.timers);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, 1);
  lua_createtable(L, 64, 0);
  lua_setiuservalue(L, 1, UV_QA);
  lua_createtable(L, 64, 0);
  lua_setiuservalue(L, 1, UV_QB);
  lua_newtable(L);
  lua_setiuservalue(L, 1, UV_IO);
  if (stepflow_loop_init(&lp->core, virtual_time, &hooks) != 0) {
    stepflow_loop_close(&lp->core);
    return luaL_error(L, "cannot create the event loop (libevent)");
  }
  lp->closed = 0;
  return 1;
}


static const luaL_Reg loop_methods[] = {
  { "now", loop_now },
  { "timer", loop_timer },
  { "timer_at", loop_timer_at },
  { "call", loop_call },
  { "run", loop_run },
  { "step", loop_step },
  { "stop", loop_stop },
  { "pending", loop_pending },
  { "is_virtual", loop_is_virtual },
  { "close", loop_close },
  { NULL, NULL }
};

static const luaL_Reg timer_methods[] = {
  { "cancel", timer_cancel },
  { "due", timer_due },
  { "pending", timer_pending },
  { NULL, NULL }
};


STEPFLOW_EXPORT int luaopen_stepflow_core_engine (lua_State *L) {
  luaL_newmetatable(L, TIMER_MT);  /* STACK: tmt */
  lua_newtable(L);
  luaL_setfuncs(L, timer_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, timer_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newmetatable(L, LOOP_MT);  /* STACK: tmt, lmt */
  lua_newtable(L);  /* STACK: tmt, lmt, methods */
  lua_pushvalue(L, -2);
  lua_pushvalue(L, -4);
  luaL_setfuncs(L, loop_methods, 2);  /* upvalues: lmt, tmt */
  stepflow_watch_open(L, lua_gettop(L));
  stepflow_http_open(L, lua_gettop(L));
  stepflow_signal_open(L, lua_gettop(L));
  stepflow_http_client_open(L, lua_gettop(L));
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, loop_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, loop_close);
  lua_setfield(L, -2, "__close");
  lua_newtable(L);  /* STACK: tmt, lmt, module */
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, core_loop, 1);
  lua_setfield(L, -2, "loop");
  return 1;
}
