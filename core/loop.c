/*
** loop.c: the event loop of stepflow.core.engine, free of Lua.
** One libevent event_base per loop, our own (due, seq) timer heap, and one
** evtimer armed for the earliest deadline only while the loop must block.
*/
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include <event2/event.h>

#include "stepflow_core.h"

/* Longest single wait; a farther deadline just takes several waits. */
#define MAX_WAIT_MS 86400000

/* timer_at() clamps a due time to now +- this (2^52 ms, 142,000 years),
   which keeps monotonic microseconds in range. */
#define MAX_DELTA_MS ((int64_t)1 << 52)
#define MAX_DUE_MS ((int64_t)1 << 60)


static int64_t clock_us (clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static int64_t floor_div (int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}


/* The scheduling clock: virtual ms, or monotonic microseconds in real
   time (a timer fires only once its full delay has passed). */
static int64_t sched_now (const stepflow_loop *lp) {
  if (lp->virtual_time)
    return lp->vnow;
  return clock_us(CLOCK_MONOTONIC);
}


static int64_t sched_ms (const stepflow_loop *lp) {
  return lp->virtual_time ? 1 : 1000;
}


/* The wakeup timer only ends a blocking event_base_loop: the turn that
   follows fires the due timers outside libevent's dispatch. */
static void wakeup_cb (evutil_socket_t fd, short what, void *arg) {
  (void)fd; (void)what; (void)arg;
}


int stepflow_loop_init (stepflow_loop *lp, int virtual_time,
                        const stepflow_loop_hooks *hooks) {
  struct event_config *cfg;
  lp->base = NULL;
  lp->wakeup = NULL;
  stepflow_heap_init(&lp->timers);
  lp->hooks = *hooks;
  lp->seq = 0;
  lp->vnow = floor_div(clock_us(CLOCK_REALTIME), 1000);
  lp->nready = 0;
  lp->virtual_time = virtual_time;
  lp->stopping = 0;
  lp->io_busy = lp->io_idle = 0;
  lp->io_pending = 0;
  cfg = event_config_new();
  if (cfg == NULL)
    return -1;
  /* Without it libevent may use CLOCK_MONOTONIC_COARSE (~4 ms steps). */
  event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  lp->base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (lp->base == NULL)
    return -1;
  lp->wakeup = evtimer_new(lp->base, wakeup_cb, lp);
  if (lp->wakeup == NULL) {
    stepflow_loop_close(lp);
    return -1;
  }
  return 0;
}


void stepflow_loop_close (stepflow_loop *lp) {
  if (lp->wakeup != NULL) {
    event_free(lp->wakeup);
    lp->wakeup = NULL;
  }
  if (lp->base != NULL) {
    event_base_free(lp->base);
    lp->base = NULL;
  }
  stepflow_heap_free(&lp->timers);
  lp->nready = 0;
}


int64_t stepflow_loop_now (const stepflow_loop *lp) {
  if (lp->virtual_time)
    return lp->vnow;
  return floor_div(clock_us(CLOCK_REALTIME), 1000);
}


static int push_timer (stepflow_loop *lp, stepflow_hentry *e, int64_t due) {
  e->due = due;
  e->seq = lp->seq++;
  return stepflow_heap_push(&lp->timers, e);
}


int stepflow_loop_add_timer (stepflow_loop *lp, stepflow_hentry *e,
                             int64_t delay, int64_t *wall_due) {
  *wall_due = stepflow_loop_now(lp) + delay;
  return push_timer(lp, e, sched_now(lp) + delay * sched_ms(lp));
}


int stepflow_loop_add_timer_at (stepflow_loop *lp, stepflow_hentry *e,
                                int64_t due) {
  /* Far past/future due times are clamped (year +-36 million) so that the
     clocks stay far from overflow. */
  if (due > MAX_DUE_MS)
    due = MAX_DUE_MS;
  else if (due < -MAX_DUE_MS)
    due = -MAX_DUE_MS;
  if (!lp->virtual_time) {
    /* Wall time to monotonic time, saturating far in the past/future. */
    int64_t mono = clock_us(CLOCK_MONOTONIC);
    int64_t delta_ms = due - floor_div(clock_us(CLOCK_REALTIME), 1000);
    if (delta_ms > MAX_DELTA_MS)
      delta_ms = MAX_DELTA_MS;
    else if (delta_ms < -MAX_DELTA_MS)
      delta_ms = -MAX_DELTA_MS;
    due = mono + delta_ms * 1000;
  }
  return push_timer(lp, e, due);
}


int stepflow_loop_cancel_timer (stepflow_loop *lp, stepflow_hentry *e) {
  return stepflow_heap_remove(&lp->timers, e);
}


void stepflow_loop_stop (stepflow_loop *lp) {
  lp->stopping = 1;
  if (lp->base != NULL)
    event_base_loopbreak(lp->base);
}


/* Events added to the base by others (I/O sharing the loop). The wakeup
   timer is never left added between turns, so it does not count. */
static int has_io (const stepflow_loop *lp) {
  return event_base_get_num_events(lp->base, EVENT_BASE_COUNT_ADDED |
           EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL) > 0;
}


/* I/O that keeps the loop alive: every added event but the idle watches. */
static int io_alive (const stepflow_loop *lp) {
  int added = event_base_get_num_events(lp->base, EVENT_BASE_COUNT_ADDED);
  return (size_t)added > lp->io_idle || event_base_get_num_events(lp->base,
           EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL) > 0;
}


int stepflow_loop_alive (const stepflow_loop *lp) {
  if (lp->base == NULL)
    return 0;
  return lp->nready > 0 || lp->timers.n > 0 || lp->io_pending ||
         io_alive(lp);
}


/*
** Fires the timers due now, in (due, seq) order. Timers armed while firing
** (seq >= limit) wait for the next turn, so a callback that re-arms itself
** with delay 0 cannot hold the turn forever. With virtual time and nothing
** ready, the clock first jumps to the earliest deadline.
*/
static int fire_due (stepflow_loop *lp) {
  stepflow_hentry *e = stepflow_heap_top(&lp->timers);
  uint64_t limit = lp->seq;
  int64_t now;
  int fired = 0;
  if (e == NULL)
    return 0;
  if (lp->virtual_time) {
    /* a busy watch is work in progress: the clock waits for its answer */
    if (lp->nready == 0 && e->due > lp->vnow && lp->io_busy == 0)
      lp->vnow = e->due;
    now = lp->vnow;
  }
  else
    now = sched_now(lp);
  while ((e = stepflow_heap_top(&lp->timers)) != NULL &&
         e->due <= now && e->seq < limit) {
    stepflow_heap_pop(&lp->timers);
    lp->hooks.fire(lp, e);
    fired = 1;
    if (lp->stopping)
      break;
  }
  return fired;
}


/*
** Gives libevent its turn. It blocks only when nothing is ready: until the
** earliest timer (real time) or the next I/O event; otherwise it polls
** without waiting, and only when there are events to poll.
*/
static void poll_io (stepflow_loop *lp, int nonblock) {
  stepflow_hentry *top = stepflow_heap_top(&lp->timers);
  int io = has_io(lp);
  if (nonblock || lp->nready > 0 ||
      (top != NULL && lp->virtual_time && lp->io_busy == 0)) {
    if (io)
      event_base_loop(lp->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }
  else if (top != NULL && lp->virtual_time)
    event_base_loop(lp->base, EVLOOP_ONCE);  /* a busy watch: its answer */
  else if (top != NULL) {
    int64_t delta = top->due - clock_us(CLOCK_MONOTONIC);
    if (delta > (int64_t)MAX_WAIT_MS * 1000)
      delta = (int64_t)MAX_WAIT_MS * 1000;  /* wakes and waits again */
    if (delta > 0) {
      struct timeval tv;
      tv.tv_sec = (time_t)(delta / 1000000);
      tv.tv_usec = (suseconds_t)(delta % 1000000);
      event_add(lp->wakeup, &tv);
      event_base_loop(lp->base, EVLOOP_ONCE);
      event_del(lp->wakeup);
    }
    else if (io)
      event_base_loop(lp->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  }
  else if (io && io_alive(lp))
    event_base_loop(lp->base, EVLOOP_ONCE);
  else if (io)  /* idle watches only: look, never wait for them */
    event_base_loop(lp->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}


/* A turn that ran callbacks or fired timers polls I/O without waiting:
   step() then returns once it did some work, and run() just turns again. */
int stepflow_loop_turn (stepflow_loop *lp, int nonblock) {
  int worked = lp->nready > 0;
  if (lp->base == NULL)
    return 0;
  if (worked) {
    lp->hooks.run_ready(lp);
    if (lp->stopping)
      return stepflow_loop_alive(lp);
  }
  worked |= fire_due(lp);
  if (lp->stopping)
    return stepflow_loop_alive(lp);
  poll_io(lp, nonblock || worked);
  if (lp->io_pending && !lp->stopping)
    lp->hooks.run_io(lp);
  return stepflow_loop_alive(lp);
}


void stepflow_loop_hold (stepflow_loop *lp, int delta) {
  /* work in flight counts as a busy watch does */
  if (delta > 0)
    lp->io_busy++;
  else if (lp->io_busy > 0)
    lp->io_busy--;
}
