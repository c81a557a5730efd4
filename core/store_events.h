/*
** store_events.h: the history events of the open group, kept per
** execution until the group is written as one row per execution, and the
** text of such a row. Internal to stepflow.core.store (core/store.c).
** Row format and why: docs/STORE.md ("Events").
*/
#ifndef STEPFLOW_STORE_EVENTS_H
#define STEPFLOW_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Longest event type a row holds (AWS's longest is about 40 bytes). */
#define SF_EVENT_TYPE_MAX 100

/* One execution's entry: the last event id it has (stored or pending) and
** the text of its pending events. */
typedef struct sf_pending {
  int64_t exec;
  int64_t last;       /* id of its last event; 0 when it has none */
  int64_t first;      /* id of its first pending event (when len > 0) */
  char *buf;          /* pending events, in row format */
  size_t len, cap;
  unsigned char dirty;  /* listed among the entries to write */
  unsigned char done;   /* the execution ended: drop once written */
} sf_pending;

typedef struct sf_events sf_events;

sf_events *sf_events_new (void);
void sf_events_free (sf_events *ev);
/* Forgets every entry (after a rollback: ids may have been undone). */
void sf_events_clear (sf_events *ev);

/* The entry of an execution, or NULL when there is none. */
sf_pending *sf_events_find (sf_events *ev, int64_t exec);
/* Makes an entry for an execution whose last event id is `last`; NULL
** when out of memory. The execution must have no entry. */
sf_pending *sf_events_add (sf_events *ev, int64_t exec, int64_t last);
/* Entry pointers stay valid until the entry is dropped (written after
** sf_events_finish, or sf_events_clear). */
/* Appends an event to an entry's pending text: 0, or -1 when out of
** memory. The caller has checked e->id > p->last and the type. */
int sf_events_append (sf_events *ev, sf_pending *p,
                      const stepflow_event_rec *e);
/* The execution ended: its entry goes once its events are written. */
void sf_events_finish (sf_events *ev, sf_pending *p);

/* Entries with pending events, to write as rows: count and i-th. */
size_t sf_events_ndirty (const sf_events *ev);
sf_pending *sf_events_dirty (sf_events *ev, size_t i);
/* All of them were written: empties their text, drops ended ones. */
void sf_events_written (sf_events *ev);

/* 1 when type can be stored: 1..SF_EVENT_TYPE_MAX bytes, none of them a
** space or a control character. */
int sf_event_type_ok (const char *type);

/*
** Reads the event at *pos of a row's text data[0..len): 1 and the event
** in *out (details point into data, type into typebuf, which has
** SF_EVENT_TYPE_MAX + 1 bytes), *pos moved past it; 0 at the end; -1 when
** the text is not in row format.
*/
int sf_event_parse (const char *data, size_t len, size_t *pos,
                    stepflow_event_rec *out, char *typebuf);

#endif
