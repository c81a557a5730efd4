/*
** store.c: the store's groups (one SQLite transaction each, the events of
** a group written as one row per execution at commit), writes and reads.
** Opening, the lock and the schema: core/store_open.c. No lua.h here.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define EXEC_COLS "id, arn, sm_arn, name, status, input, output, error, " \
                  "cause, started, stopped, revision, version_arn, " \
                  "alias_arn, redrive_count, redrive_date"
#define SM_COLS "arn, name, definition, type, created, revision"

/* Designated, so that the order of the enum (core/store_impl.h) cannot
** silently pair a statement with another's SQL. */
const char *const sf_stmt_sql[S_COUNT] = {
  [S_BEGIN] = "BEGIN IMMEDIATE",
  [S_COMMIT] = "COMMIT",
  [S_ROLLBACK] = "ROLLBACK",
  [S_PUT_SM] =
  "INSERT INTO state_machines (" SM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
  "ON CONFLICT (arn) DO UPDATE SET name = excluded.name, "
  "definition = excluded.definition, type = excluded.type, "
  "revision = excluded.revision",
  [S_DEL_SM] = "DELETE FROM state_machines WHERE arn = ?1",
  [S_GET_SM] = "SELECT " SM_COLS " FROM state_machines WHERE arn = ?1",
  [S_LIST_SM] = "SELECT " SM_COLS " FROM state_machines ORDER BY created, arn",
  [S_NEW_EXEC] =
  "INSERT INTO executions (arn, sm_arn, name, status, input, started, "
  "revision, version_arn, alias_arn) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
  "?9)",
  [S_FIN_EXEC] =
  "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, "
  "stopped = ?6 WHERE id = ?1 AND status = 'RUNNING'",
  [S_GET_EXEC] = "SELECT " EXEC_COLS " FROM executions WHERE arn = ?1",
  [S_FIND_EXEC] =
  "SELECT " EXEC_COLS " FROM executions WHERE sm_arn = ?1 AND name = ?2",
  [S_LIST_EXEC] = "SELECT " EXEC_COLS " FROM executions "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  [S_LIST_EXEC + 1] = "SELECT " EXEC_COLS " FROM executions WHERE status = ?1 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  [S_LIST_EXEC + 2] = "SELECT " EXEC_COLS " FROM executions WHERE sm_arn = ?2 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  [S_LIST_EXEC + 3] =
  "SELECT " EXEC_COLS " FROM executions WHERE status = ?1 AND sm_arn = ?2 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  [S_APPEND] =
  "INSERT INTO events (exec, first, last, data) VALUES (?1, ?2, ?3, ?4)",
  [S_HIST_ASC] =
  "SELECT data FROM events WHERE exec = ?1 AND last > ?2 ORDER BY first",
  [S_HIST_DESC] = "SELECT data FROM events WHERE exec = ?1 AND first < ?2 "
  "ORDER BY first DESC",
  [S_LAST_EVENT] =
  "SELECT last FROM events WHERE exec = ?1 ORDER BY first DESC LIMIT 1",
  [S_STOPS] = "SELECT arn, error, cause, requested FROM stop_requests "
  "ORDER BY requested, arn",
  [S_DEL_STOP] = "DELETE FROM stop_requests WHERE arn = ?1",
  [S_SM_REV] = "SELECT definition, revision FROM state_machines WHERE arn = ?1",
  [S_PUT_DEF] =
  "INSERT OR IGNORE INTO definitions (sm_arn, revision, definition, created) "
  "VALUES (?1, ?2, ?3, ?4)",
  [S_GET_DEF] =
  "SELECT definition FROM definitions WHERE sm_arn = ?1 AND revision = ?2",
  [S_PUT_STOP] = "INSERT INTO stop_requests (arn, error, cause, requested) "
  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (arn) DO UPDATE SET "
  "error = excluded.error, cause = excluded.cause, "
  "requested = excluded.requested",
  [S_RUNNING_AFTER] = "SELECT " EXEC_COLS " FROM executions "
  "WHERE status = 'RUNNING' AND id > ?1 ORDER BY id",
  [S_PUT_RES] = "INSERT INTO resources (kind, arn, data) VALUES (?1, ?2, ?3) "
  "ON CONFLICT (kind, arn) DO UPDATE SET data = excluded.data",
  [S_GET_RES] = "SELECT data FROM resources WHERE kind = ?1 AND arn = ?2",
  [S_DEL_RES] = "DELETE FROM resources WHERE kind = ?1 AND arn = ?2",
  [S_MAX_REV] = "SELECT coalesce(max(revision), 0) FROM definitions "
  "WHERE sm_arn = ?1",
  [S_LIST_RES] = "SELECT arn, data FROM resources WHERE kind = ?1 ORDER BY seq",
  [S_REDRIVE_EXEC] =
  "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, "
  "cause = NULL, stopped = NULL, redrive_count = redrive_count + 1, "
  "redrive_date = ?2 WHERE id = ?1 AND (status = 'FAILED' OR "
  "status = 'TIMED_OUT' OR status = 'ABORTED')",
  /* rarer filters: one statement (sm_arn's unique index finds the rows) */
  [S_LIST_EXEC_OF] = "SELECT " EXEC_COLS " FROM executions WHERE sm_arn = ?2 "
  "AND (?1 IS NULL OR status = ?1) "
  "AND (?4 IS NULL OR version_arn = ?4 OR alias_arn = ?4) "
  "AND (?5 < 0 OR (redrive_count > 0) = ?5) "
  "ORDER BY started DESC, id DESC LIMIT ?3",
};

void sf_setmsg (char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  if (buf == NULL || n == 0) return;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

int sf_errkind (sqlite3 *db) {
  int e;
  switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_FULL: return STEPFLOW_FAIL_FULL;
    case SQLITE_READONLY: case SQLITE_PERM: return STEPFLOW_FAIL_READ_ONLY;
    case SQLITE_CORRUPT: return STEPFLOW_FAIL_CORRUPT;
    case SQLITE_NOTADB: return STEPFLOW_FAIL_NOT_OURS;
    case SQLITE_BUSY: case SQLITE_LOCKED: return STEPFLOW_FAIL_BUSY;
    case SQLITE_IOERR: case SQLITE_CANTOPEN:
      /* the errno is meaningful only after a failed system call */
      e = sqlite3_system_errno(db);
      /* EFBIG: the file size limit (ulimit -f), full for this process */
      if (e == ENOSPC || e == EFBIG || e == EDQUOT) return STEPFLOW_FAIL_FULL;
      if (e == EACCES || e == EPERM || e == EROFS)
        return STEPFLOW_FAIL_READ_ONLY;
      return STEPFLOW_FAIL_IO;
    default: return STEPFLOW_FAIL_ERROR;
  }
}

int stepflow_store_errkind (stepflow_store *st) {
  return st->kind;
}

int sf_fail (stepflow_store *st, const char *what) {
  int e = sqlite3_system_errno(st->db);
  int code = sqlite3_errcode(st->db) & 0xff;
  st->kind = sf_errkind(st->db);
  if ((code == SQLITE_IOERR || code == SQLITE_FULL) && e != 0)
    sf_setmsg(st->msg, sizeof(st->msg), "store: %s: %s (%s)", what,
           sqlite3_errmsg(st->db), strerror(e));
  else
    sf_setmsg(st->msg, sizeof(st->msg), "store: %s: %s", what,
           sqlite3_errmsg(st->db));
  return STEPFLOW_STORE_ERROR;
}

/* Resets the statement of the previous call, so that no read transaction
** outlives the call that needed it (it would stall WAL checkpoints). */
void sf_release (stepflow_store *st) {
  if (st->cur != NULL) {
    sqlite3_reset(st->cur);
    st->cur = NULL;
  }
}

void stepflow_store_end (stepflow_store *st) {
  sf_release(st);
}

const char *stepflow_store_errmsg (stepflow_store *st) {
  return st->msg;
}

long stepflow_store_pending (stepflow_store *st) {
  return st->in_txn ? st->pending : 0;
}


/* ---- writes: one open transaction per group ---- */

/* Opens the group if needed. Refuses writes after SQLite rolled the group
** back on its own (I/O error, disk full): commit() must report that first,
** or later writes would land in a different group than the caller thinks. */
static int begin (stepflow_store *st) {
  sf_release(st);
  if (st->readonly) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: opened read-only");
    st->kind = STEPFLOW_FAIL_READ_ONLY;
    return STEPFLOW_STORE_ERROR;
  }
  if (st->lost) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: the current group was rolled "
           "back after an error; commit() reports it");
    return STEPFLOW_STORE_ERROR;
  }
  if (!st->in_txn) {
    sqlite3_stmt *s = st->stmt[S_BEGIN];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return sf_fail(st, "begin");
    st->in_txn = 1;
    st->pending = 0;
  }
  return STEPFLOW_STORE_OK;
}

/* Steps a write statement and resets it; maps constraint errors. */
static int run_write (stepflow_store *st, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc == SQLITE_DONE) {
    st->pending++;
    return STEPFLOW_STORE_OK;
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: %s: already exists", what);
    return STEPFLOW_STORE_EXISTS;
  }
  sf_fail(st, what);
  if (st->in_txn && sqlite3_get_autocommit(st->db)) {
    st->in_txn = 0;
    st->lost = 1;
  }
  return STEPFLOW_STORE_ERROR;
}

static void bind_text (sqlite3_stmt *s, int i, const char *p, size_t len) {
  if (p == NULL) sqlite3_bind_null(s, i);
  else sqlite3_bind_text64(s, i, p, len, SQLITE_STATIC, SQLITE_UTF8);
}

int stepflow_store_put_sm (stepflow_store *st, stepflow_sm_rec *sm) {
  sqlite3_stmt *s = st->stmt[S_SM_REV];
  int64_t rev = 1;
  int changed = 1, rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  /* the same definition keeps its revision; another one is the next */
  bind_text(s, 1, sm->arn, strlen(sm->arn));
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const char *cur = (const char *)sqlite3_column_text(s, 0);
    size_t len = cur ? (size_t)sqlite3_column_bytes(s, 0) : 0;
    rev = sqlite3_column_int64(s, 1);
    changed = cur == NULL || len != sm->definition_len ||
              memcmp(cur, sm->definition, len) != 0;
    if (changed) rev++;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sf_fail(st, "put_state_machine");
  if (rc == SQLITE_DONE) {
    /* a machine made again after a delete: its old revisions stay (its
    ** executions may still run them), so numbering goes on after them */
    s = st->stmt[S_MAX_REV];
    bind_text(s, 1, sm->arn, strlen(sm->arn));
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) rev = sqlite3_column_int64(s, 0) + 1;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return sf_fail(st, "put_state_machine");
  }
  s = st->stmt[S_PUT_SM];
  bind_text(s, 1, sm->arn, strlen(sm->arn));
  bind_text(s, 2, sm->name, strlen(sm->name));
  bind_text(s, 3, sm->definition, sm->definition_len);
  bind_text(s, 4, sm->type, strlen(sm->type));
  sqlite3_bind_int64(s, 5, sm->created);
  sqlite3_bind_int64(s, 6, rev);
  rc = run_write(st, s, "put_state_machine");
  if (rc == STEPFLOW_STORE_OK && changed) {
    s = st->stmt[S_PUT_DEF];
    bind_text(s, 1, sm->arn, strlen(sm->arn));
    sqlite3_bind_int64(s, 2, rev);
    bind_text(s, 3, sm->definition, sm->definition_len);
    sqlite3_bind_int64(s, 4, sm->created);
    rc = run_write(st, s, "put_state_machine");
  }
  if (rc == STEPFLOW_STORE_OK) sm->revision = rev;
  return rc;
}

int stepflow_store_delete_sm (stepflow_store *st, const char *arn) {
  sqlite3_stmt *s = st->stmt[S_DEL_SM];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, arn, strlen(arn));
  rc = run_write(st, s, "delete_state_machine");
  if (rc == STEPFLOW_STORE_OK && sqlite3_changes(st->db) == 0) {
    st->pending--;
    return STEPFLOW_STORE_NOTFOUND;
  }
  return rc;
}

int stepflow_store_create_exec (stepflow_store *st, stepflow_exec_rec *rec) {
  sqlite3_stmt *s = st->stmt[S_NEW_EXEC];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, rec->arn, strlen(rec->arn));
  bind_text(s, 2, rec->sm_arn, strlen(rec->sm_arn));
  bind_text(s, 3, rec->name, strlen(rec->name));
  bind_text(s, 4, rec->status, strlen(rec->status));
  bind_text(s, 5, rec->input, rec->input_len);
  sqlite3_bind_int64(s, 6, rec->started);
  if (rec->has_revision) sqlite3_bind_int64(s, 7, rec->revision);
  else sqlite3_bind_null(s, 7);
  bind_text(s, 8, rec->version_arn,
            rec->version_arn ? strlen(rec->version_arn) : 0);
  bind_text(s, 9, rec->alias_arn, rec->alias_arn ? strlen(rec->alias_arn) : 0);
  rc = run_write(st, s, "create_execution");
  if (rc == STEPFLOW_STORE_OK) {
    rec->id = sqlite3_last_insert_rowid(st->db);
    /* a new execution has no events: its first append needs no look-up
    ** (when out of memory, that append looks up instead) */
    if (sf_events_find(st->events, rec->id) == NULL)
      (void)sf_events_add(st->events, rec->id, 0);
  }
  return rc;
}

int stepflow_store_finish_exec (stepflow_store *st, int64_t exec_id,
                                const stepflow_exec_rec *fin) {
  sqlite3_stmt *s = st->stmt[S_FIN_EXEC];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  sqlite3_bind_int64(s, 1, exec_id);
  bind_text(s, 2, fin->status, strlen(fin->status));
  bind_text(s, 3, fin->output, fin->output_len);
  bind_text(s, 4, fin->error, fin->error_len);
  bind_text(s, 5, fin->cause, fin->cause_len);
  sqlite3_bind_int64(s, 6, fin->stopped);
  rc = run_write(st, s, "finish_execution");
  if (rc == STEPFLOW_STORE_OK && sqlite3_changes(st->db) == 0) {
    st->pending--;
    return STEPFLOW_STORE_NOTFOUND;
  }
  if (rc == STEPFLOW_STORE_OK) {
    sf_pending *p = sf_events_find(st->events, exec_id);
    if (p != NULL) sf_events_finish(st->events, p);
  }
  return rc;
}

int stepflow_store_redrive_exec (stepflow_store *st, int64_t exec_id,
                                 int64_t date) {
  sqlite3_stmt *s = st->stmt[S_REDRIVE_EXEC];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  sqlite3_bind_int64(s, 1, exec_id);
  sqlite3_bind_int64(s, 2, date);
  rc = run_write(st, s, "redrive_execution");
  if (rc == STEPFLOW_STORE_OK && sqlite3_changes(st->db) == 0) {
    st->pending--;
    return STEPFLOW_STORE_NOTFOUND;
  }
  return rc;
}

/* The id of the last stored event of an execution (0: none). */
static int last_event_id (stepflow_store *st, int64_t exec_id,
                          int64_t *last) {
  sqlite3_stmt *s = st->stmt[S_LAST_EVENT];
  int rc;
  sqlite3_bind_int64(s, 1, exec_id);
  rc = sqlite3_step(s);
  *last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sf_fail(st, "append");
  return STEPFLOW_STORE_OK;
}

int stepflow_store_append (stepflow_store *st, int64_t exec_id,
                           const stepflow_event_rec *ev) {
  sf_pending *p;
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  if (!sf_event_type_ok(ev->type)) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: append: event type must be "
           "1 to %d bytes without spaces or control characters",
           SF_EVENT_TYPE_MAX);
    return STEPFLOW_STORE_INVALID;
  }
  p = sf_events_find(st->events, exec_id);
  if (p == NULL) {
    int64_t last;
    rc = last_event_id(st, exec_id, &last);
    if (rc != STEPFLOW_STORE_OK) return rc;
    p = sf_events_add(st->events, exec_id, last);
    if (p == NULL) goto nomem;
  }
  if (ev->id <= p->last) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: append: event %lld is not "
           "after the execution's last event (%lld): already exists",
           (long long)ev->id, (long long)p->last);
    return STEPFLOW_STORE_EXISTS;
  }
  if (sf_events_append(st->events, p, ev) != 0) goto nomem;
  st->pending++;
  return STEPFLOW_STORE_OK;
nomem:
  sf_setmsg(st->msg, sizeof(st->msg), "store: append: out of memory");
  st->kind = STEPFLOW_FAIL_ERROR;
  return STEPFLOW_STORE_ERROR;
}

/* Writes the group's pending events, one row per execution. A failure
** marks the group lost: commit() then rolls it back and reports it. */
static int flush_events (stepflow_store *st) {
  sqlite3_stmt *s = st->stmt[S_APPEND];
  size_t i, n = sf_events_ndirty(st->events);
  for (i = 0; i < n; i++) {
    sf_pending *p = sf_events_dirty(st->events, i);
    int rc;
    sqlite3_bind_int64(s, 1, p->exec);
    sqlite3_bind_int64(s, 2, p->first);
    sqlite3_bind_int64(s, 3, p->last);
    sqlite3_bind_text64(s, 4, p->buf, p->len, SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      sf_fail(st, "append");
      st->lost = 1;
      return STEPFLOW_STORE_ERROR;
    }
  }
  sf_events_written(st->events);
  return STEPFLOW_STORE_OK;
}

/* Ends the open group with a rollback after a failure (the message is
** already set): ids cached for the group's events are forgotten. */
static int roll_back (stepflow_store *st) {
  if (!sqlite3_get_autocommit(st->db)) {
    sqlite3_step(st->stmt[S_ROLLBACK]);
    sqlite3_reset(st->stmt[S_ROLLBACK]);
  }
  sf_events_clear(st->events);
  st->in_txn = 0;
  st->lost = 0;
  st->pending = 0;
  return STEPFLOW_STORE_ERROR;
}

int stepflow_store_commit (stepflow_store *st) {
  sqlite3_stmt *s = st->stmt[S_COMMIT];
  int rc;
  sf_release(st);
  if (st->lost) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: commit: the group was rolled "
           "back after an error");
    return roll_back(st);
  }
  if (!st->in_txn) return STEPFLOW_STORE_OK;
  if (flush_events(st) != STEPFLOW_STORE_OK) return roll_back(st);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    sf_fail(st, "commit");
    return roll_back(st);
  }
  st->in_txn = 0;
  st->pending = 0;
  return STEPFLOW_STORE_OK;
}


/* ---- reads ---- */

static const char *col_text (sqlite3_stmt *s, int i, size_t *len) {
  const char *p = (const char *)sqlite3_column_text(s, i);
  if (len != NULL) *len = p ? (size_t)sqlite3_column_bytes(s, i) : 0;
  return p;
}

static void read_exec (sqlite3_stmt *s, stepflow_exec_rec *r) {
  r->id = sqlite3_column_int64(s, 0);
  r->arn = col_text(s, 1, NULL);
  r->sm_arn = col_text(s, 2, NULL);
  r->name = col_text(s, 3, NULL);
  r->status = col_text(s, 4, NULL);
  r->input = col_text(s, 5, &r->input_len);
  r->output = col_text(s, 6, &r->output_len);
  r->error = col_text(s, 7, &r->error_len);
  r->cause = col_text(s, 8, &r->cause_len);
  r->started = sqlite3_column_int64(s, 9);
  r->has_stopped = sqlite3_column_type(s, 10) != SQLITE_NULL;
  r->stopped = sqlite3_column_int64(s, 10);
  r->has_revision = sqlite3_column_type(s, 11) != SQLITE_NULL;
  r->revision = sqlite3_column_int64(s, 11);
  r->version_arn = col_text(s, 12, NULL);
  r->alias_arn = col_text(s, 13, NULL);
  r->redrive_count = sqlite3_column_int64(s, 14);
  r->has_redrive_date = sqlite3_column_type(s, 15) != SQLITE_NULL;
  r->redrive_date = sqlite3_column_int64(s, 15);
}

static void read_sm (sqlite3_stmt *s, stepflow_sm_rec *r) {
  r->arn = col_text(s, 0, NULL);
  r->name = col_text(s, 1, NULL);
  r->definition = col_text(s, 2, &r->definition_len);
  r->type = col_text(s, 3, NULL);
  r->created = sqlite3_column_int64(s, 4);
  r->revision = sqlite3_column_int64(s, 5);
}

/* Steps an iteration's statement: 1 row, 0 end, ERROR. */
static int next_row (stepflow_store *st, sqlite3_stmt *s, const char *what) {
  int rc;
  if (st->cur != s) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: %s: no iteration", what);
    return STEPFLOW_STORE_ERROR;
  }
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return 1;
  sf_release(st);
  if (rc == SQLITE_DONE) return 0;
  return sf_fail(st, what);
}

/* Starts statement s as the current one (after its parameters are bound). */
static sqlite3_stmt *start (stepflow_store *st, int which) {
  sf_release(st);
  st->cur = st->stmt[which];
  return st->cur;
}

static int get_one (stepflow_store *st, const char *what) {
  int rc = next_row(st, st->cur, what);
  if (rc == 0) return STEPFLOW_STORE_NOTFOUND;
  return rc == 1 ? STEPFLOW_STORE_OK : rc;
}

int stepflow_store_get_sm (stepflow_store *st, const char *arn,
                           stepflow_sm_rec *out) {
  sqlite3_stmt *s = start(st, S_GET_SM);
  int rc;
  bind_text(s, 1, arn, strlen(arn));
  rc = get_one(st, "get_state_machine");
  if (rc == STEPFLOW_STORE_OK) read_sm(s, out);
  return rc;
}

int stepflow_store_get_exec (stepflow_store *st, const char *arn,
                             stepflow_exec_rec *out) {
  sqlite3_stmt *s = start(st, S_GET_EXEC);
  int rc;
  bind_text(s, 1, arn, strlen(arn));
  rc = get_one(st, "get_execution");
  if (rc == STEPFLOW_STORE_OK) read_exec(s, out);
  return rc;
}

int stepflow_store_find_exec (stepflow_store *st, const char *sm_arn,
                              const char *name, stepflow_exec_rec *out) {
  sqlite3_stmt *s = start(st, S_FIND_EXEC);
  int rc;
  bind_text(s, 1, sm_arn, strlen(sm_arn));
  bind_text(s, 2, name, strlen(name));
  rc = get_one(st, "find_execution");
  if (rc == STEPFLOW_STORE_OK) read_exec(s, out);
  return rc;
}

int stepflow_store_get_definition (stepflow_store *st, const char *sm_arn,
                                   int64_t revision, const char **def,
                                   size_t *len) {
  sqlite3_stmt *s = start(st, S_GET_DEF);
  int rc;
  bind_text(s, 1, sm_arn, strlen(sm_arn));
  sqlite3_bind_int64(s, 2, revision);
  rc = get_one(st, "get_definition");
  if (rc == STEPFLOW_STORE_OK) *def = col_text(s, 0, len);
  return rc;
}

int stepflow_store_list_sm_begin (stepflow_store *st) {
  start(st, S_LIST_SM);
  return STEPFLOW_STORE_OK;
}

int stepflow_store_list_sm_next (stepflow_store *st, stepflow_sm_rec *out) {
  int rc = next_row(st, st->stmt[S_LIST_SM], "list_state_machines");
  if (rc == 1) read_sm(st->stmt[S_LIST_SM], out);
  return rc;
}

int stepflow_store_list_exec_begin (stepflow_store *st, const char *status,
                                    const char *sm_arn, int64_t limit) {
  int which = S_LIST_EXEC + (status ? 1 : 0) + (sm_arn ? 2 : 0);
  sqlite3_stmt *s = start(st, which);
  if (status) bind_text(s, 1, status, strlen(status));
  if (sm_arn) bind_text(s, 2, sm_arn, strlen(sm_arn));
  sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
  return STEPFLOW_STORE_OK;
}

int stepflow_store_list_exec_of_begin (stepflow_store *st,
                                       const char *status,
                                       const char *sm_arn,
                                       const char *qualified, int redriven,
                                       int64_t limit) {
  sqlite3_stmt *s = start(st, S_LIST_EXEC_OF);
  bind_text(s, 1, status, status ? strlen(status) : 0);
  bind_text(s, 2, sm_arn, strlen(sm_arn));
  sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
  bind_text(s, 4, qualified, qualified ? strlen(qualified) : 0);
  sqlite3_bind_int(s, 5, redriven < 0 ? -1 : redriven != 0);
  return STEPFLOW_STORE_OK;
}

int stepflow_store_running_after_begin (stepflow_store *st, int64_t after) {
  sqlite3_stmt *s = start(st, S_RUNNING_AFTER);
  sqlite3_bind_int64(s, 1, after);
  return STEPFLOW_STORE_OK;
}

int stepflow_store_list_exec_next (stepflow_store *st,
                                   stepflow_exec_rec *out) {
  sqlite3_stmt *s = st->stmt[S_LIST_EXEC];
  int i, rc;
  for (i = 0; i < 4; i++)
    if (st->cur == st->stmt[S_LIST_EXEC + i]) s = st->cur;
  if (st->cur == st->stmt[S_RUNNING_AFTER] ||
      st->cur == st->stmt[S_LIST_EXEC_OF]) s = st->cur;
  rc = next_row(st, s, "list_executions");
  if (rc == 1) read_exec(s, out);
  return rc;
}

int stepflow_store_history_begin (stepflow_store *st, int64_t exec_id,
                                  int64_t after, int64_t limit, int reverse) {
  sqlite3_stmt *s;
  sf_release(st);
  /* reads see the open group: its events are written first */
  if (st->in_txn && !st->lost && sf_events_ndirty(st->events) > 0 &&
      flush_events(st) != STEPFLOW_STORE_OK)
    return STEPFLOW_STORE_ERROR;
  s = start(st, reverse ? S_HIST_DESC : S_HIST_ASC);
  st->hreverse = reverse;
  st->hbound = after > 0 ? after : (reverse ? INT64_MAX : 0);
  st->hlimit = limit;
  st->hcount = 0;
  st->hrow = NULL;
  st->hlen = st->hpos = st->hn = 0;
  sqlite3_bind_int64(s, 1, exec_id);
  sqlite3_bind_int64(s, 2, st->hbound);
  return STEPFLOW_STORE_OK;
}

/* Lists the offsets of the events of the current row (for reverse
** order): 0, or ERROR. */
static int index_row (stepflow_store *st) {
  size_t pos = 0;
  stepflow_event_rec ev;
  int rc;
  st->hn = 0;
  for (;;) {
    size_t at = pos;
    rc = sf_event_parse(st->hrow, st->hlen, &pos, &ev, st->htype);
    if (rc <= 0) break;
    if (st->hn == st->hcap) {
      size_t c = st->hcap ? st->hcap * 2 : 32;
      size_t *no = realloc(st->hoffs, c * sizeof(*no));
      if (no == NULL) {
        sf_setmsg(st->msg, sizeof(st->msg), "store: history: out of memory");
        st->kind = STEPFLOW_FAIL_ERROR;
        return STEPFLOW_STORE_ERROR;
      }
      st->hoffs = no;
      st->hcap = c;
    }
    st->hoffs[st->hn++] = at;
  }
  if (rc < 0) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: history: corrupt event row");
    st->kind = STEPFLOW_FAIL_CORRUPT;
    return STEPFLOW_STORE_ERROR;
  }
  return STEPFLOW_STORE_OK;
}

/* The next event of the current row in iteration order: 1, 0 at the
** row's end, or ERROR. */
static int row_event (stepflow_store *st, stepflow_event_rec *out) {
  int rc;
  if (st->hrow == NULL) return 0;
  if (st->hreverse) {
    size_t pos;
    if (st->hn == 0) return 0;
    pos = st->hoffs[--st->hn];
    rc = sf_event_parse(st->hrow, st->hlen, &pos, out, st->htype);
  }
  else rc = sf_event_parse(st->hrow, st->hlen, &st->hpos, out, st->htype);
  if (rc < 0) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: history: corrupt event row");
    st->kind = STEPFLOW_FAIL_CORRUPT;
    return STEPFLOW_STORE_ERROR;
  }
  return rc;
}

int stepflow_store_history_next (stepflow_store *st,
                                 stepflow_event_rec *out) {
  sqlite3_stmt *s = st->cur;
  if (s != st->stmt[S_HIST_ASC] && s != st->stmt[S_HIST_DESC]) {
    sf_setmsg(st->msg, sizeof(st->msg), "store: history: no iteration");
    return STEPFLOW_STORE_ERROR;
  }
  for (;;) {
    int rc;
    if (st->hlimit > 0 && st->hcount >= st->hlimit) {
      sf_release(st);
      return 0;
    }
    rc = row_event(st, out);
    if (rc == 1) {
      if (st->hreverse ? out->id >= st->hbound : out->id <= st->hbound)
        continue;
      st->hcount++;
      return 1;
    }
    if (rc < 0) {
      sf_release(st);
      return rc;
    }
    rc = next_row(st, s, "history");
    if (rc != 1) {
      st->hrow = NULL;
      return rc;
    }
    st->hrow = (const char *)sqlite3_column_text(s, 0);
    st->hlen = st->hrow ? (size_t)sqlite3_column_bytes(s, 0) : 0;
    st->hpos = 0;
    if (st->hreverse && index_row(st) != STEPFLOW_STORE_OK) {
      st->hrow = NULL;
      sf_release(st);
      return STEPFLOW_STORE_ERROR;
    }
  }
}


/* ---- stop requests ---- */

int stepflow_store_stops_begin (stepflow_store *st) {
  start(st, S_STOPS);
  return STEPFLOW_STORE_OK;
}

int stepflow_store_stops_next (stepflow_store *st, stepflow_stop_rec *out) {
  sqlite3_stmt *s = st->stmt[S_STOPS];
  int rc = next_row(st, s, "stop_requests");
  if (rc == 1) {
    out->arn = col_text(s, 0, NULL);
    out->error = col_text(s, 1, &out->error_len);
    out->cause = col_text(s, 2, &out->cause_len);
    out->requested = sqlite3_column_int64(s, 3);
  }
  return rc;
}

int stepflow_store_put_stop (stepflow_store *st, const char *arn,
                             const char *error, const char *cause,
                             int64_t requested) {
  sqlite3_stmt *s = st->stmt[S_PUT_STOP];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, arn, strlen(arn));
  bind_text(s, 2, error, error ? strlen(error) : 0);
  bind_text(s, 3, cause, cause ? strlen(cause) : 0);
  sqlite3_bind_int64(s, 4, requested);
  return run_write(st, s, "request_stop");
}

int stepflow_store_delete_stop (stepflow_store *st, const char *arn) {
  sqlite3_stmt *s = st->stmt[S_DEL_STOP];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, arn, strlen(arn));
  return run_write(st, s, "delete_stop_request");
}


int stepflow_store_put_resource (stepflow_store *st, const char *kind,
                                 const char *arn, const char *data,
                                 size_t len) {
  sqlite3_stmt *s = st->stmt[S_PUT_RES];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, kind, strlen(kind));
  bind_text(s, 2, arn, strlen(arn));
  bind_text(s, 3, data, len);
  return run_write(st, s, "put_resource");
}

int stepflow_store_get_resource (stepflow_store *st, const char *kind,
                                 const char *arn, const char **data,
                                 size_t *len) {
  sqlite3_stmt *s = start(st, S_GET_RES);
  int rc;
  bind_text(s, 1, kind, strlen(kind));
  bind_text(s, 2, arn, strlen(arn));
  rc = get_one(st, "get_resource");
  if (rc == STEPFLOW_STORE_OK) *data = col_text(s, 0, len);
  return rc;
}

int stepflow_store_delete_resource (stepflow_store *st, const char *kind,
                                    const char *arn) {
  sqlite3_stmt *s = st->stmt[S_DEL_RES];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, kind, strlen(kind));
  bind_text(s, 2, arn, strlen(arn));
  rc = run_write(st, s, "delete_resource");
  if (rc == STEPFLOW_STORE_OK && sqlite3_changes(st->db) == 0) {
    st->pending--;
    return STEPFLOW_STORE_NOTFOUND;
  }
  return rc;
}

int stepflow_store_resources_begin (stepflow_store *st, const char *kind) {
  sqlite3_stmt *s = start(st, S_LIST_RES);
  bind_text(s, 1, kind, strlen(kind));
  return STEPFLOW_STORE_OK;
}

int stepflow_store_resources_next (stepflow_store *st, const char **arn,
                                   const char **data, size_t *len) {
  sqlite3_stmt *s = st->stmt[S_LIST_RES];
  int rc = next_row(st, s, "list_resources");
  if (rc == 1) {
    *arn = col_text(s, 0, NULL);
    *data = col_text(s, 1, len);
  }
  return rc;
}
