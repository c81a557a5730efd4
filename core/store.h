/*
** store.h: the durable store of STANDARD executions (SQLite, WAL, group
** commit). Engine part: knows nothing of Lua; core/lmod_store.c binds it.
*/
#ifndef STEPFLOW_STORE_H
#define STEPFLOW_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Stored in the SQLite header (PRAGMA application_id): "SFLW". */
#define STEPFLOW_STORE_APP_ID 0x53464C57
/* Schema version (PRAGMA user_version) this build writes and reads. */
#define STEPFLOW_STORE_VERSION 4

/* Flags of stepflow_store_open. */
#define STEPFLOW_STORE_READONLY 1  /* no lock, no writes, file must exist */
#define STEPFLOW_STORE_VERIFY   2  /* run PRAGMA quick_check on open */
/* Writes without the engine lock, to a store that exists at the current
** version (never creates or upgrades): what a process that is not the
** engine may write while an engine runs the store, i.e. new executions
** and stop requests, which the engine picks up. */
#define STEPFLOW_STORE_CLIENT   4

/*
** Kinds of failure: why stepflow_store_open refused a file (why->kind),
** or what a failed call met (stepflow_store_errkind), so that callers act
** on a kind instead of on message text.
*/
enum {
  STEPFLOW_FAIL_ERROR,          /* anything else (out of memory, internal) */
  STEPFLOW_FAIL_LOCKED,         /* another process's engine holds the lock */
  STEPFLOW_FAIL_ALREADY_OPEN,   /* this process holds the lock already */
  STEPFLOW_FAIL_NOT_OURS,       /* not a stepflow store: left untouched */
  STEPFLOW_FAIL_CORRUPT,
  STEPFLOW_FAIL_NEWER_VERSION,  /* written by a newer stepflow */
  STEPFLOW_FAIL_NEEDS_UPGRADE,  /* older version; a read-only or client open */
  STEPFLOW_FAIL_UPGRADE_FAILED,
  STEPFLOW_FAIL_NOT_FOUND,      /* no such file, or no such folder */
  STEPFLOW_FAIL_NOT_A_FILE,     /* a folder or a device */
  STEPFLOW_FAIL_DENIED,         /* this process may not read it */
  STEPFLOW_FAIL_READ_ONLY,      /* this process may not write the file or
                                   its folder (or the file system) */
  STEPFLOW_FAIL_FULL,           /* disk, quota or file size limit reached */
  STEPFLOW_FAIL_IO,             /* any other I/O error */
  STEPFLOW_FAIL_BUSY            /* SQLite's lock stayed taken too long */
};

/* Why stepflow_store_open refused: kind, what goes with it, message. */
typedef struct stepflow_store_refusal {
  int kind;                     /* STEPFLOW_FAIL_* */
  long pid;                     /* LOCKED, ALREADY_OPEN: the holder's pid,
                                   0 when unknown */
  long version;                 /* NEWER_VERSION, NEEDS_UPGRADE,
                                   UPGRADE_FAILED: the file's version */
  char msg[600];
} stepflow_store_refusal;

/* Results of the functions below. */
#define STEPFLOW_STORE_OK      0
#define STEPFLOW_STORE_ERROR  -1  /* message in stepflow_store_errmsg */
#define STEPFLOW_STORE_EXISTS -2  /* a UNIQUE constraint refused the row */
#define STEPFLOW_STORE_NOTFOUND -3
#define STEPFLOW_STORE_INVALID -4  /* a caller's bug: bad argument */

typedef struct stepflow_store stepflow_store;

/* An execution row. Strings point into SQLite's row buffers and are valid
** until the next call on the same store; NULL when the column is NULL. */
typedef struct stepflow_exec_rec {
  int64_t id;                 /* internal key, used by stepflow_store_append */
  const char *arn, *sm_arn, *name, *status;
  const char *input, *output, *error, *cause;
  size_t input_len, output_len, error_len, cause_len;
  int64_t started, stopped;   /* ms since the epoch */
  int has_stopped;            /* 0 while RUNNING */
  int64_t revision;           /* of its state machine's definition */
  int has_revision;           /* 0: not recorded */
  /* version 4: the version and alias it was started through (NULL: the
  ** unqualified ARN), and its redrives (count, last date) */
  const char *version_arn, *alias_arn;
  int64_t redrive_count, redrive_date;
  int has_redrive_date;       /* 0: never redriven */
} stepflow_exec_rec;

/* A state machine row (same lifetime rules). */
typedef struct stepflow_sm_rec {
  const char *arn, *name, *definition, *type;
  size_t definition_len;
  int64_t created;
  int64_t revision;           /* 1, 2, ...: one per distinct definition */
} stepflow_sm_rec;

/* A history event row (same lifetime rules). */
typedef struct stepflow_event_rec {
  int64_t id, prev_id, timestamp;
  const char *type, *details;
  size_t details_len;
} stepflow_event_rec;

/*
** Opens (creating if needed) the store at path, or ":memory:". Unless
** READONLY or CLIENT, first takes an exclusive flock on "<path>.lock" for
** the life of the store. Refuses, without writing to it, a file that is
** not an SQLite database, a database of another application, a corrupt
** one, or one of a newer schema version. A writable open refuses a file
** this process may only read (READ_ONLY). On error returns NULL and fills
** *why (kind, pid or version, message).
*/
stepflow_store *stepflow_store_open (const char *path, int flags,
                                     stepflow_store_refusal *why);

/*
** Commits what is pending (like stepflow_store_commit), releases the lock
** and frees the store. Returns STEPFLOW_STORE_OK or ERROR; the store is
** freed either way. The message of a failed commit goes into err.
*/
int stepflow_store_close (stepflow_store *st, char *err, size_t errlen);

/* Message of the last failed call (valid until the next call). */
const char *stepflow_store_errmsg (stepflow_store *st);
/* Kind (STEPFLOW_FAIL_*) of the last call that returned ERROR; a group
** rolled back after an error keeps the kind of that error. */
int stepflow_store_errkind (stepflow_store *st);

/*
** Writes. Each one joins the current group (an open SQLite transaction)
** and becomes durable only when stepflow_store_commit succeeds.
*/
/* Keeps every definition a state machine had: the same definition keeps
** its revision, another one gets the next (1 for a new ARN), set in
** sm->revision; the definitions table holds them all. */
int stepflow_store_put_sm (stepflow_store *st, stepflow_sm_rec *sm);
int stepflow_store_delete_sm (stepflow_store *st, const char *arn);
/* EXISTS when the ARN or (sm_arn, name) is taken; sets rec->id on OK. */
int stepflow_store_create_exec (stepflow_store *st, stepflow_exec_rec *rec);
/* Sets the final status, output, error, cause and stop date of a RUNNING
** execution. NOTFOUND when there is no RUNNING execution of that id. */
int stepflow_store_finish_exec (stepflow_store *st, int64_t exec_id,
                                const stepflow_exec_rec *fin);
/* Makes an ended (FAILED, TIMED_OUT or ABORTED) execution RUNNING again:
** output, error, cause and stop date cleared, redrive_count + 1,
** redrive_date = date. NOTFOUND when there is no such ended execution
** (none, RUNNING or SUCCEEDED). */
int stepflow_store_redrive_exec (stepflow_store *st, int64_t exec_id,
                                 int64_t date);
/* Events of an execution are appended in increasing id order: EXISTS
** when ev->id is not above the execution's last event id; INVALID when
** the type is empty, longer than 100 bytes, or has a space or a control
** character. Details are any text. The group's events are written at
** commit (or before a history read), one row per execution. */
int stepflow_store_append (stepflow_store *st, int64_t exec_id,
                           const stepflow_event_rec *ev);

/*
** Commits the current group in one synced transaction. OK when there was
** nothing to commit. On failure the whole group is rolled back.
*/
int stepflow_store_commit (stepflow_store *st);
/* Number of writes in the current (uncommitted) group. */
long stepflow_store_pending (stepflow_store *st);

/* Reads (they see the current group's uncommitted writes). */
int stepflow_store_get_sm (stepflow_store *st, const char *arn,
                           stepflow_sm_rec *out);
int stepflow_store_get_exec (stepflow_store *st, const char *arn,
                             stepflow_exec_rec *out);
int stepflow_store_find_exec (stepflow_store *st, const char *sm_arn,
                              const char *name, stepflow_exec_rec *out);
/* The definition of a state machine's revision (*def, *len; same lifetime
** rules), or NOTFOUND. */
int stepflow_store_get_definition (stepflow_store *st, const char *sm_arn,
                                   int64_t revision, const char **def,
                                   size_t *len);

/*
** Iterations: *_begin starts one, *_next returns 1 with a row, 0 at the
** end, ERROR on failure. Only one iteration of each kind at a time, and no
** other call on the store until it has ended (next returned 0 or ERROR) or
** stepflow_store_end was called.
** list_exec: status and sm_arn are filters (NULL = any), newest first,
** limit <= 0 = no limit. list_exec_of: the executions of sm_arn (given)
** started through `qualified` (a version or alias ARN; NULL = any),
** redriven (1) or not (0) when `redriven` >= 0, with the same order,
** status filter and limit; its rows come from list_exec_next.
** history: events of exec_id with id > after, ascending (descending if
** reverse: id < after), limit <= 0 = no limit; history_begin first
** writes the open group's events, and returns ERROR if that fails.
*/
int stepflow_store_list_sm_begin (stepflow_store *st);
int stepflow_store_list_sm_next (stepflow_store *st, stepflow_sm_rec *out);
int stepflow_store_list_exec_begin (stepflow_store *st, const char *status,
                                    const char *sm_arn, int64_t limit);
int stepflow_store_list_exec_of_begin (stepflow_store *st,
                                       const char *status,
                                       const char *sm_arn,
                                       const char *qualified, int redriven,
                                       int64_t limit);
int stepflow_store_list_exec_next (stepflow_store *st,
                                   stepflow_exec_rec *out);
/* RUNNING executions whose key (rec.id) is above `after`, by key: how an
** engine finds those that clients created; rows come from
** stepflow_store_list_exec_next. */
int stepflow_store_running_after_begin (stepflow_store *st, int64_t after);
int stepflow_store_history_begin (stepflow_store *st, int64_t exec_id,
                                  int64_t after, int64_t limit, int reverse);
int stepflow_store_history_next (stepflow_store *st,
                                 stepflow_event_rec *out);
/*
** Stop requests: a process without the engine lock (`stepflow stop` while
** an engine runs the store) asks the engine to stop an execution; the
** engine reads them, acts, and deletes them in a group.
*/
typedef struct stepflow_stop_rec {
  const char *arn, *error, *cause;   /* error, cause: NULL when absent */
  size_t error_len, cause_len;
  int64_t requested;                 /* ms since the epoch */
} stepflow_stop_rec;

/* Records (or replaces) the stop request of an execution: a write of the
** current group (a client store's, usually). */
int stepflow_store_put_stop (stepflow_store *st, const char *arn,
                             const char *error, const char *cause,
                             int64_t requested);
/* The requests, oldest first (an iteration, as below). */
int stepflow_store_stops_begin (stepflow_store *st);
int stepflow_store_stops_next (stepflow_store *st, stepflow_stop_rec *out);
/* Deletes the request of an execution (a write of the current group). */
int stepflow_store_delete_stop (stepflow_store *st, const char *arn);

/* Resources: JSON documents by (kind, arn), kept in the order first put
   (the server's state machine attributes, versions, aliases...). put
   replaces the data of an existing one (keeping its place); delete gives
   NOTFOUND when there was none; get gives NOTFOUND or points *data into
   the current statement (valid until the next call). */
int stepflow_store_put_resource (stepflow_store *st, const char *kind,
                                 const char *arn, const char *data,
                                 size_t len);
int stepflow_store_get_resource (stepflow_store *st, const char *kind,
                                 const char *arn, const char **data,
                                 size_t *len);
int stepflow_store_delete_resource (stepflow_store *st, const char *kind,
                                    const char *arn);
int stepflow_store_resources_begin (stepflow_store *st, const char *kind);
int stepflow_store_resources_next (stepflow_store *st, const char **arn,
                                   const char **data, size_t *len);

/* Ends any iteration in progress (frees its statement's row). */
void stepflow_store_end (stepflow_store *st);

#endif
