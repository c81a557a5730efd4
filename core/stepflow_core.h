/*
** stepflow_core.h: declarations shared by the C core's files.
** Only the lmod_*.c bindings and json*.c include lua.h.
*/
#ifndef STEPFLOW_CORE_H
#define STEPFLOW_CORE_H

#include <stddef.h>
#include <stdint.h>

#define STEPFLOW_EXPORT __attribute__((visibility("default")))

/* Cross-file engine functions are internal to each module. */
#pragma GCC visibility push(hidden)


/*
** ---------------------------------------------------------------------
** heap.c: a binary min-heap of (due, seq) keys.
** ---------------------------------------------------------------------
**
** The heap orders entries by due time, then by sequence number, so that
** entries with the same due time come out in insertion order.  The heap
** array holds the keys next to a pointer to the entry (comparisons touch
** only the array); each entry records its own position so that it can be
** removed in O(log n) (timer cancel).  Entries are owned by the caller and
** usually embedded in a larger object (a Timer userdata): the heap never
** allocates or frees them.
*/

/* Position of an entry that is not in a heap. */
#define STEPFLOW_HEAP_NONE ((size_t)-1)

typedef struct stepflow_hentry {
  int64_t due;    /* due time, milliseconds */
  uint64_t seq;   /* tie breaker: insertion order */
  size_t index;   /* position in the heap, or STEPFLOW_HEAP_NONE */
} stepflow_hentry;

typedef struct stepflow_hnode {
  int64_t due;
  uint64_t seq;
  stepflow_hentry *entry;
} stepflow_hnode;

typedef struct stepflow_heap {
  stepflow_hnode *nodes;
  size_t n;        /* number of entries */
  size_t cap;      /* allocated nodes */
} stepflow_heap;

/*
  Initializes an empty heap (no allocation).
 */
void stepflow_heap_init (stepflow_heap *h);

/*
  Frees the heap's array. Entries still in it are marked as out of the
  heap (index STEPFLOW_HEAP_NONE); the heap is empty and reusable.
 */
void stepflow_heap_free (stepflow_heap *h);

/*
  Inserts entry e, whose due and seq fields are already set.

  @param h the heap
  @param e an entry not in any heap
  @return 0 on success, -1 when the array cannot grow (out of memory)
 */
int stepflow_heap_push (stepflow_heap *h, stepflow_hentry *e);

/*
  The entry with the smallest (due, seq), or NULL when the heap is empty.
 */
#define stepflow_heap_top(h) ((h)->n ? (h)->nodes[0].entry : NULL)

/*
  Removes and returns the smallest entry, or NULL when empty.
 */
stepflow_hentry *stepflow_heap_pop (stepflow_heap *h);

/*
  Removes entry e from the heap.

  @return 1 if e was in the heap, 0 if it was not
 */
int stepflow_heap_remove (stepflow_heap *h, stepflow_hentry *e);


/*
** ---------------------------------------------------------------------
** loop.c: the event loop (one libevent event_base), free of Lua.
** ---------------------------------------------------------------------
**
** The loop owns the timer heap and the clock; the ready queue's contents
** belong to the binding (Lua values), which tells the loop how many are
** queued through the `nready` field and runs them in the `run_ready` hook.
** A turn is: run the ready batch queued before the turn, then (virtual
** time, nothing ready: jump the clock to the earliest timer) fire the
** timers that are due, then poll libevent (blocking only when nothing is
** ready). Lua is never called from inside a libevent dispatch by the loop
** itself.
*/

struct event_base;
struct event;
typedef struct stepflow_loop stepflow_loop;

typedef struct stepflow_loop_hooks {
  /* Runs the ready batch: the `nready` callbacks queued when it is called
     (callbacks it queues wait for the next turn). It must check
     loop->stopping after each callback and return early when set. */
  void (*run_ready) (stepflow_loop *lp);
  /* Fires one timer, already removed from the heap. */
  void (*fire) (stepflow_loop *lp, stepflow_hentry *e);
  /* Runs the callbacks of the I/O watches whose events fired during the
     last poll (the binding queued them from libevent's callbacks, which
     never call Lua). Called after the poll when io_pending is set. */
  void (*run_io) (stepflow_loop *lp);
} stepflow_loop_hooks;

struct stepflow_loop {
  struct event_base *base;   /* NULL once closed */
  struct event *wakeup;      /* evtimer armed for the earliest deadline */
  stepflow_heap timers;      /* keys: virtual ms, or monotonic us */
  stepflow_loop_hooks hooks;
  uint64_t seq;              /* next timer sequence number */
  int64_t vnow;              /* virtual clock, ms since the epoch */
  size_t nready;             /* ready callbacks queued (binding-maintained) */
  int virtual_time;
  int stopping;              /* stop() or an error: end the run */
  /* I/O watches (binding-maintained): each added watch event counts once
     in one of these. A busy watch (a database request in flight) keeps
     the loop alive and holds virtual time still until it answers; an idle
     one (waiting for notifications) neither keeps the loop alive nor
     stops the virtual clock. */
  size_t io_busy, io_idle;
  int io_pending;            /* watch callbacks queued for run_io */
};

/*
  Initializes lp: creates its event_base and wakeup timer. With
  virtual_time the clock starts at the wall clock and only moves when a
  turn finds nothing ready and jumps to the earliest timer.

  @return 0 on success, -1 if libevent could not create the base (lp is
    then closed: stepflow_loop_close is still safe)
 */
int stepflow_loop_init (stepflow_loop *lp, int virtual_time,
                        const stepflow_loop_hooks *hooks);

/*
  Frees the base and the heap array. Idempotent. Entries still in the heap
  are left marked out of the heap; the binding detaches them first.
 */
void stepflow_loop_close (stepflow_loop *lp);

/*
  The loop's clock in milliseconds since the epoch: the virtual clock, or
  the wall clock (CLOCK_REALTIME) in real time.
 */
int64_t stepflow_loop_now (const stepflow_loop *lp);

/*
  Arms entry e to fire after delay ms (>= 0); ties fire in insertion order.
  Timers are scheduled on the virtual clock (ms) or, in real time, on the
  monotonic clock in microseconds (e->due is then not a wall time), so that
  wall clock steps do not move them and none fires before its full delay.

  @param wall_due set to the due time on the loop's clock (now + delay)
  @return 0 on success, -1 when out of memory
 */
int stepflow_loop_add_timer (stepflow_loop *lp, stepflow_hentry *e,
                             int64_t delay, int64_t *wall_due);

/*
  Arms entry e to fire at time due of the loop's clock (ms since the
  epoch); a time already past fires on the next turn, in due order.

  @return 0 on success, -1 when out of memory
 */
int stepflow_loop_add_timer_at (stepflow_loop *lp, stepflow_hentry *e,
                                int64_t due);

/*
  Disarms entry e. @return 1 if it was armed, 0 otherwise
 */
int stepflow_loop_cancel_timer (stepflow_loop *lp, stepflow_hentry *e);

/*
  Asks the current run to end after the current callback (also breaks a
  libevent dispatch in progress).
 */
void stepflow_loop_stop (stepflow_loop *lp);

/*
  Runs one turn. With nonblock, never waits for I/O or a timer.

  @return 1 if work remains (ready callbacks, timers, or libevent events),
    0 otherwise
 */
int stepflow_loop_turn (stepflow_loop *lp, int nonblock);

/*
  Whether anything keeps the loop alive: ready callbacks, armed timers, or
  other events added to the base (I/O sharing the loop).
 */
int stepflow_loop_alive (const stepflow_loop *lp);

/*
  Holds (delta 1) or releases (delta -1) the virtual clock for work in
  flight that is not a watch (an HTTP request): it counts in io_busy, so a
  virtual-time loop with nothing ready waits for that I/O instead of
  jumping to its earliest timer, and a response is not outrun by a
  timeout. Real time is unaffected.
 */
void stepflow_loop_hold (stepflow_loop *lp, int delta);

#pragma GCC visibility pop

#endif
