/*
** store_impl.h: what the files of the store engine share (core/store.c:
** groups, writes, reads; core/store_open.c: files, lock, schema). Private
** to stepflow.core.store.
*/
#ifndef STEPFLOW_STORE_IMPL_H
#define STEPFLOW_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"
#include "store_events.h"

/* Prepared statements, made once at open. */
enum {
  S_BEGIN, S_COMMIT, S_ROLLBACK,
  S_PUT_SM, S_DEL_SM, S_GET_SM, S_LIST_SM,
  S_NEW_EXEC, S_FIN_EXEC, S_GET_EXEC, S_FIND_EXEC,
  S_LIST_EXEC,  /* 4 variants: + 1 if status given, + 2 if sm_arn given */
  S_APPEND = S_LIST_EXEC + 4, S_HIST_ASC, S_HIST_DESC, S_LAST_EVENT,
  S_STOPS, S_DEL_STOP, S_SM_REV, S_PUT_DEF, S_GET_DEF, S_PUT_STOP,
  S_RUNNING_AFTER, S_PUT_RES, S_GET_RES, S_DEL_RES, S_LIST_RES, S_MAX_REV,
  S_REDRIVE_EXEC, S_LIST_EXEC_OF,
  S_COUNT
};

/* The SQL of each statement (core/store.c). */
extern const char *const sf_stmt_sql[S_COUNT];

struct stepflow_store {
  sqlite3 *db;
  sqlite3_stmt *stmt[S_COUNT];
  sqlite3_stmt *cur;      /* statement whose row the caller may be reading */
  int lock_fd;            /* -1: no lock (":memory:" or read-only) */
  int readonly;
  int client;             /* writes without the engine lock (no upgrade) */
  int empty;              /* the last identify found an empty database */
  int in_txn;             /* a group (transaction) is open */
  int lost;               /* SQLite rolled the group back on an error */
  long pending;           /* writes in the open group */
  sf_events *events;      /* events of the open group, per execution */
  /* the history iteration in progress */
  const char *hrow;       /* text of its current row (SQLite's buffer) */
  size_t hlen, hpos;
  size_t *hoffs;          /* reverse: the row's event offsets */
  size_t hn, hcap;
  int64_t hbound, hlimit, hcount;
  int hreverse;
  char htype[SF_EVENT_TYPE_MAX + 1];
  char msg[512];
  int kind;               /* STEPFLOW_FAIL_* of the last ERROR */
};

/* Formats a message into buf (n bytes). */
void sf_setmsg (char *buf, size_t n, const char *fmt, ...);
/* The STEPFLOW_FAIL_* kind of SQLite's last error on db. */
int sf_errkind (sqlite3 *db);
/* Sets st->msg and st->kind from SQLite's error for `what`; returns
** ERROR. */
int sf_fail (stepflow_store *st, const char *what);
/* Resets the statement of the previous call (see core/store.c). */
void sf_release (stepflow_store *st);

#endif
