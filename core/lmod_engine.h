/*
** lmod_engine.h: what lmod_engine.c lends the other bindings of
** stepflow.core.engine (lmod_http.c, lmod_http_client.c, lmod_signal.c,
** lmod_watch.c):
** the loop behind a Loop userdata, the thread running it, and the loop's
** list of I/O sources to close.
*/
#ifndef STEPFLOW_LMOD_ENGINE_H
#define STEPFLOW_LMOD_ENGINE_H

#include "lua.h"

#include "stepflow_core.h"

#pragma GCC visibility push(hidden)

/*
  The watches of a loop (lmod_watch.c): every open one, and the queue of
  those whose events fired, which the loop's next turn runs.
 */
struct Watch;
typedef struct stepflow_watches {
  struct Watch *all;
  struct Watch *ioq, *ioq_tail;
} stepflow_watches;

/*
  The open Loop userdata at index idx (raises otherwise).
 */
stepflow_loop *stepflow_checkloop (lua_State *L, int idx);

/*
  The thread running the loop's run() or step(), or NULL outside them.
  libevent callbacks only happen inside them, so they use this thread to
  call into Lua (under lua_pcall, at the top of its stack).
 */
lua_State *stepflow_loop_thread (stepflow_loop *lp);

/*
  In a libevent callback, the Loop userdata is at this index of the
  running thread's stack (the frame of run()/step()).
 */
#define STEPFLOW_LOOP_SELF 1

/*
  Posts fn(arg) to the ready queue of the Loop at loop_idx: the values at
  fn_idx and arg_idx (nil: no argument), as loop:call(fn, arg) does.
  Raises on a memory error, so libevent callbacks call it under
  lua_pcall.  [-0, +0, m]
 */
void stepflow_loop_post (lua_State *L, int loop_idx, int fn_idx,
                         int arg_idx);

/*
  Registers the object at obj_idx as an I/O source of the Loop at
  loop_idx: closing the loop first calls the object's __close metamethod,
  so that nothing of it outlives the event_base. detach forgets it.
  [-0, +0, m]
 */
void stepflow_loop_attach (lua_State *L, int loop_idx, int obj_idx);
void stepflow_loop_detach (lua_State *L, int loop_idx, int obj_idx);

/*
  Stores the error on top of L's stack as the error run() rethrows, and
  ends the run (a failure of a C callback's Lua call).  [-1, +0, -]
 */
void stepflow_loop_fail (lua_State *L, stepflow_loop *lp);

/*
  Adds loop:signal to the table at methods_idx (lmod_signal.c).
  [-0, +0, m]
 */
void stepflow_signal_open (lua_State *L, int methods_idx);

/*
  Adds the HTTP server's method (loop:http_server) to the table at
  methods_idx (lmod_http.c).  [-0, +0, m]
 */
void stepflow_http_open (lua_State *L, int methods_idx);

/*
  Adds the HTTP client's method (loop:http_client) to the table at
  methods_idx and registers its metatables (lmod_http_client.c).
  [-0, +0, m]
 */
void stepflow_http_client_open (lua_State *L, int methods_idx);

/*
  The watches of the loop lp.
 */
stepflow_watches *stepflow_loop_watches (stepflow_loop *lp);

/*
  Adds loop:watch to the table at methods_idx and registers the Watch
  metatable (lmod_watch.c).  [-0, +0, m]
 */
void stepflow_watch_open (lua_State *L, int methods_idx);

/*
  Runs the callbacks of the fired watches of set, each under lua_pcall on
  L (the running thread); an error ends the run as stepflow_loop_fail.
  The loop's run_io hook.  [-0, +0, -]
 */
void stepflow_watch_run (lua_State *L, stepflow_watches *set,
                         stepflow_loop *core);

/*
  Closes every watch of set, before the loop frees its base.  [-0, +0, -]
 */
void stepflow_watch_close_all (lua_State *L, stepflow_watches *set);

#pragma GCC visibility pop

#endif
