/*
** store.c: durable store of STANDARD executions on one SQLite file (WAL,
** synchronous=FULL, group commit, flock on "<path>.lock"). No lua.h here.
*/
#define _DEFAULT_SOURCE  /* flock, fsync, pread: -std=c99 hides them */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
  S_COUNT
};

#define EXEC_COLS "id, arn, sm_arn, name, status, input, output, error, " \
                  "cause, started, stopped"
#define SM_COLS "arn, name, definition, type, created"

static const char *const stmt_sql[S_COUNT] = {
  "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK",
  "INSERT INTO state_machines (" SM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5) "
  "ON CONFLICT (arn) DO UPDATE SET name = excluded.name, "
  "definition = excluded.definition, type = excluded.type",
  "DELETE FROM state_machines WHERE arn = ?1",
  "SELECT " SM_COLS " FROM state_machines WHERE arn = ?1",
  "SELECT " SM_COLS " FROM state_machines ORDER BY created, arn",
  "INSERT INTO executions (arn, sm_arn, name, status, input, started) "
  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
  "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, "
  "stopped = ?6 WHERE id = ?1 AND status = 'RUNNING'",
  "SELECT " EXEC_COLS " FROM executions WHERE arn = ?1",
  "SELECT " EXEC_COLS " FROM executions WHERE sm_arn = ?1 AND name = ?2",
  "SELECT " EXEC_COLS " FROM executions "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  "SELECT " EXEC_COLS " FROM executions WHERE status = ?1 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  "SELECT " EXEC_COLS " FROM executions WHERE sm_arn = ?2 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  "SELECT " EXEC_COLS " FROM executions WHERE status = ?1 AND sm_arn = ?2 "
  "ORDER BY started DESC, id DESC LIMIT ?3",
  "INSERT INTO events (exec, first, last, data) VALUES (?1, ?2, ?3, ?4)",
  "SELECT data FROM events WHERE exec = ?1 AND last > ?2 ORDER BY first",
  "SELECT data FROM events WHERE exec = ?1 AND first < ?2 "
  "ORDER BY first DESC",
  "SELECT last FROM events WHERE exec = ?1 ORDER BY first DESC LIMIT 1",
};

/* The schema (version 2): created in the same transaction that sets
** application_id and user_version, so a half-made store cannot exist.
** CHECKs compare with OR: an IN list would build a temporary table at
** every insert. Events: one row per execution per group (docs/STORE.md). */
#define EXECUTIONS_V2(name) \
  "CREATE TABLE " name " (" \
  " id INTEGER PRIMARY KEY," \
  " arn TEXT NOT NULL UNIQUE," \
  " sm_arn TEXT NOT NULL," \
  " name TEXT NOT NULL," \
  " status TEXT NOT NULL CHECK (status = 'RUNNING' OR" \
  "  status = 'SUCCEEDED' OR status = 'FAILED' OR status = 'TIMED_OUT' OR" \
  "  status = 'ABORTED')," \
  " input TEXT, output TEXT, error TEXT, cause TEXT," \
  " started INTEGER NOT NULL," \
  " stopped INTEGER," \
  " UNIQUE (sm_arn, name)" \
  ");"
#define EVENTS_V2(name) \
  "CREATE TABLE " name " (" \
  " seq INTEGER PRIMARY KEY," \
  " exec INTEGER NOT NULL," \
  " first INTEGER NOT NULL," \
  " last INTEGER NOT NULL," \
  " data TEXT NOT NULL" \
  ");"
#define INDEXES_V2 \
  "CREATE INDEX executions_by_status ON executions (status, started);" \
  "CREATE UNIQUE INDEX events_by_exec ON events (exec, first);"

static const char schema_v2[] =
  "CREATE TABLE state_machines ("
  " arn TEXT PRIMARY KEY NOT NULL,"
  " name TEXT NOT NULL,"
  " definition TEXT NOT NULL,"
  " type TEXT NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),"
  " created INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  EXECUTIONS_V2("executions") EVENTS_V2("events") INDEXES_V2;

/* Version 1 -> 2: executions rebuilt with the new CHECK, each version 1
** event row (one event) becomes a row of one event. */
static const char upgrade_v1[] =
  EXECUTIONS_V2("executions_v2")
  "INSERT INTO executions_v2 SELECT id, arn, sm_arn, name, status, input,"
  " output, error, cause, started, stopped FROM executions;"
  "DROP TABLE executions;"
  "ALTER TABLE executions_v2 RENAME TO executions;"
  EVENTS_V2("events_v2")
  "INSERT INTO events_v2 (exec, first, last, data) SELECT exec, id, id,"
  " id || ' ' || prev || ' ' || ts || ' ' || type || ' ' ||"
  " length(CAST(details AS BLOB)) || char(10) || details || char(10)"
  " FROM events ORDER BY seq;"
  "DROP TABLE events;"
  "ALTER TABLE events_v2 RENAME TO events;"
  INDEXES_V2
  "PRAGMA user_version = 2;";

struct stepflow_store {
  sqlite3 *db;
  sqlite3_stmt *stmt[S_COUNT];
  sqlite3_stmt *cur;      /* statement whose row the caller may be reading */
  int lock_fd;            /* -1: no lock (":memory:" or read-only) */
  int readonly;
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
};

static void setmsg (char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  if (buf == NULL || n == 0) return;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

static int fail (stepflow_store *st, const char *what) {
  int e = sqlite3_system_errno(st->db);
  int code = sqlite3_errcode(st->db) & 0xff;
  if ((code == SQLITE_IOERR || code == SQLITE_FULL) && e != 0)
    setmsg(st->msg, sizeof(st->msg), "store: %s: %s (%s)", what,
           sqlite3_errmsg(st->db), strerror(e));
  else
    setmsg(st->msg, sizeof(st->msg), "store: %s: %s", what,
           sqlite3_errmsg(st->db));
  return STEPFLOW_STORE_ERROR;
}

/* Resets the statement of the previous call, so that no read transaction
** outlives the call that needed it (it would stall WAL checkpoints). */
static void release (stepflow_store *st) {
  if (st->cur != NULL) {
    sqlite3_reset(st->cur);
    st->cur = NULL;
  }
}

void stepflow_store_end (stepflow_store *st) {
  release(st);
}

const char *stepflow_store_errmsg (stepflow_store *st) {
  return st->msg;
}

long stepflow_store_pending (stepflow_store *st) {
  return st->in_txn ? st->pending : 0;
}


/* ---- opening: identity checks, lock, schema ---- */

static uint32_t be32 (const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
** Reads the file header without SQLite and refuses what is certainly not
** ours: not SQLite, a damaged header, another application's id, a newer
** version, or page 1 holding schema rows without our id. It runs before
** the lock file is created, so pointing stepflow at a wrong file leaves no
** trace beside it; SQLite checks everything again under the lock (WAL
** content is not visible here).
** Only called while "<path>.lock" does not exist, i.e. while no store of
** this process can have the file open: closing any descriptor of a file
** drops every POSIX lock the process holds on it, SQLite's included.
*/
static int precheck (const char *path, char *err, size_t n) {
  unsigned char h[108];
  ssize_t got;
  unsigned psize;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    setmsg(err, n, "store: %s: %s", path, strerror(errno));
    return -1;
  }
  memset(h, 0, sizeof(h));
  got = pread(fd, h, sizeof(h), 0);
  close(fd);
  if (got == 0) return 0;  /* empty file: a new store */
  if (got < 100 || memcmp(h, "SQLite format 3", 16) != 0) {
    setmsg(err, n, "store: %s: not a stepflow store (not an SQLite "
           "database); left untouched", path);
    return -1;
  }
  psize = ((unsigned)h[16] << 8) | h[17];
  if (!(psize == 1 || (psize >= 512 && (psize & (psize - 1)) == 0)) ||
      h[21] != 64 || h[22] != 32 || h[23] != 32) {
    setmsg(err, n, "store: %s: corrupt (invalid SQLite header); left "
           "untouched", path);
    return -1;
  }
  if (be32(h + 68) == STEPFLOW_STORE_APP_ID) {
    if (be32(h + 60) > STEPFLOW_STORE_VERSION) {
      setmsg(err, n, "store: %s: written by a newer stepflow (store "
             "version %lu, this build reads up to %d); left untouched",
             path, (unsigned long)be32(h + 60), STEPFLOW_STORE_VERSION);
      return -1;
    }
  }
  else if (be32(h + 68) != 0 ||
           (got == 108 && (h[100] == 0x05 || (h[100] == 0x0D &&
                                              (h[103] | h[104]) != 0)))) {
    setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
           "of another application); left untouched", path);
    return -1;
  }
  return 0;
}

/* Checks with stat (no descriptor: see precheck) that path is a regular
** file, or absent when a new store may be created. */
static int check_path (const char *path, int readonly, char *err, size_t n) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT && !readonly) return 0;
    setmsg(err, n, "store: %s: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(sb.st_mode)) {
    setmsg(err, n, "store: %s: not a regular file", path);
    return -1;
  }
  return 0;
}

/* "<path>.lock" beside the file itself: a symbolic link to a store and
** the store's own name must share one lock. 0, or -1 if too long. */
static int lock_path (const char *path, char *buf, size_t size) {
  char *real = realpath(path, NULL);  /* NULL while the file is absent */
  int len = snprintf(buf, size, "%s.lock", real ? real : path);
  free(real);
  return len < 0 || (size_t)len >= size ? -1 : 0;
}

static int lock_file_exists (const char *path) {
  char lpath[4096];
  struct stat sb;
  return lock_path(path, lpath, sizeof(lpath)) == 0 &&
         stat(lpath, &sb) == 0;
}

/*
** Takes the engine's exclusive lock: flock on "<path>.lock". The kernel
** drops it when the process dies, however it dies; O_CLOEXEC keeps child
** processes (handlers may spawn some) from inheriting it. The holder
** writes its pid into the file so a refused opener can name it.
*/
static int take_lock (stepflow_store *st, const char *path, char *err,
                      size_t n) {
  char lpath[4096], buf[32];
  ssize_t got;
  long pid;
  int fd;
  if (lock_path(path, lpath, sizeof(lpath)) != 0) {
    setmsg(err, n, "store: %s: path too long", path);
    return -1;
  }
  fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    setmsg(err, n, "store: %s: cannot open lock file: %s", lpath,
           strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    memset(buf, 0, sizeof(buf));
    got = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    pid = got > 0 ? strtol(buf, NULL, 10) : 0;
    if (e != EWOULDBLOCK)
      setmsg(err, n, "store: %s: cannot lock: %s", lpath, strerror(e));
    else if (pid == (long)getpid())
      setmsg(err, n, "store: %s: already open in this process (pid %ld)",
             path, pid);
    else if (pid > 0)
      setmsg(err, n, "store: %s: locked by process %ld (another engine "
             "uses this store)", path, pid);
    else
      setmsg(err, n, "store: %s: locked by another process", path);
    return -1;
  }
  snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
    /* only the message of a refused opener depends on it: go on */
  }
  st->lock_fd = fd;
  return 0;
}

/* Runs a one-row, one-integer query; SQLite's result code. */
static int query_int (sqlite3 *db, const char *sql, sqlite3_int64 *out) {
  sqlite3_stmt *s;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(s, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

static void open_error (stepflow_store *st, const char *path, int rc,
                        char *err, size_t n) {
  int prim = rc & 0xff;
  if (prim == SQLITE_NOTADB)
    setmsg(err, n, "store: %s: not a stepflow store (not an SQLite "
           "database); left untouched", path);
  else if (prim == SQLITE_CORRUPT)
    setmsg(err, n, "store: %s: corrupt (%s); left untouched", path,
           sqlite3_errmsg(st->db));
  else
    setmsg(err, n, "store: %s: %s", path, sqlite3_errmsg(st->db));
}

/* 1: a stepflow store to use (its version in *version); 0: an empty
** database to initialise; -1: refused (message in err). Only reads. */
static int identify (stepflow_store *st, const char *path, int verify,
                     sqlite3_int64 *version, char *err, size_t n) {
  sqlite3_int64 app = 0, ver = 0, nschema = 0, ntables = 0;
  int rc = query_int(st->db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK) rc = query_int(st->db, "PRAGMA user_version", &ver);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master", &nschema);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master WHERE "
                   "type = 'table' AND name IN ('state_machines', "
                   "'executions', 'events')", &ntables);
  if (rc != SQLITE_OK) {
    open_error(st, path, rc, err, n);
    return -1;
  }
  if (app != STEPFLOW_STORE_APP_ID) {
    if (app == 0 && ver == 0 && nschema == 0) {
      if (!st->readonly) return 0;
      setmsg(err, n, "store: %s: not a stepflow store (empty database)",
             path);
      return -1;
    }
    setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
           "of another application); left untouched", path);
    return -1;
  }
  if (ver > STEPFLOW_STORE_VERSION) {
    setmsg(err, n, "store: %s: written by a newer stepflow (store version "
           "%lld, this build reads up to %d); left untouched", path,
           (long long)ver, STEPFLOW_STORE_VERSION);
    return -1;
  }
  if (ver < 1 || ntables != 3) {
    setmsg(err, n, "store: %s: corrupt (stepflow tables missing); left "
           "untouched", path);
    return -1;
  }
  if (ver < STEPFLOW_STORE_VERSION && st->readonly) {
    setmsg(err, n, "store: %s: store version %lld needs an upgrade to "
           "version %d, which a read-only open cannot do; open it once "
           "read-write to upgrade it", path, (long long)ver,
           STEPFLOW_STORE_VERSION);
    return -1;
  }
  if (verify) {
    sqlite3_stmt *s;
    rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (r != NULL && strcmp(r, "ok") != 0) {
          setmsg(err, n, "store: %s: corrupt (%s); left untouched", path, r);
          sqlite3_finalize(s);
          return -1;
        }
        rc = SQLITE_OK;
      }
      sqlite3_finalize(s);
    }
    if (rc != SQLITE_OK) {
      open_error(st, path, rc, err, n);
      return -1;
    }
  }
  *version = ver;
  return 1;
}

/* Makes a new file's directory entry durable (SQLite syncs the WAL's). */
static void sync_dir (const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  int fd;
  if (slash == NULL) strcpy(dir, ".");
  else if (slash == path) strcpy(dir, "/");
  else if ((size_t)(slash - path) < sizeof(dir)) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
  }
  else return;
  fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* Creates the tables, the id and the version in one transaction, after
** checking again, under SQLite's write lock, that the file is still empty
** (another application could have written to it since identify()). */
static int create_schema (stepflow_store *st, const char *path, int memory,
                          char *err, size_t n) {
  char sql[sizeof(schema_v2) + 128];
  char *emsg = NULL;
  sqlite3_int64 app = 0, nschema = 0;
  int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master", &nschema);
  if (rc != SQLITE_OK || app != 0 || nschema != 0) {
    if (rc == SQLITE_OK)
      setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
             "of another application); left untouched", path);
    else
      setmsg(err, n, "store: %s: cannot create the schema: %s", path,
             sqlite3_errmsg(st->db));
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  snprintf(sql, sizeof(sql), "%sPRAGMA application_id = %d;"
           "PRAGMA user_version = %d;COMMIT;", schema_v2,
           STEPFLOW_STORE_APP_ID, STEPFLOW_STORE_VERSION);
  if (sqlite3_exec(st->db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
    setmsg(err, n, "store: %s: cannot create the schema: %s", path,
           emsg ? emsg : sqlite3_errmsg(st->db));
    sqlite3_free(emsg);
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  if (!memory) sync_dir(path);
  return 0;
}

/* Upgrades a store of an older version in one transaction: it is either
** fully upgraded or left as it was. */
static int upgrade (stepflow_store *st, const char *path, sqlite3_int64 ver,
                    char *err, size_t n) {
  char *emsg = NULL;
  int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &emsg);
  if (rc == SQLITE_OK && ver == 1)
    rc = sqlite3_exec(st->db, upgrade_v1, NULL, NULL, &emsg);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, &emsg);
  if (rc != SQLITE_OK) {
    setmsg(err, n, "store: %s: cannot upgrade from store version %lld to "
           "%d: %s; left as it was", path, (long long)ver,
           STEPFLOW_STORE_VERSION, emsg ? emsg : sqlite3_errmsg(st->db));
    sqlite3_free(emsg);
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

/* Connection settings; see docs/STORE.md for why synchronous = FULL. */
static int configure (stepflow_store *st, const char *path, int memory,
                      char *err, size_t n) {
  char *emsg = NULL;
  if (!st->readonly && !memory) {
    sqlite3_stmt *s;
    const char *mode = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
                           NULL) == SQLITE_OK) {
      if (sqlite3_step(s) == SQLITE_ROW) {
        mode = (const char *)sqlite3_column_text(s, 0);
        ok = mode != NULL && strcmp(mode, "wal") == 0;
      }
      sqlite3_finalize(s);
    }
    if (!ok) {
      setmsg(err, n, "store: %s: cannot switch to WAL mode: %s", path,
             sqlite3_errmsg(st->db));
      return -1;
    }
  }
  if (sqlite3_exec(st->db, "PRAGMA synchronous = FULL;"
                   "PRAGMA cache_size = -32768;"
                   "PRAGMA temp_store = MEMORY;"
                   "PRAGMA journal_size_limit = 67108864;"
                   "PRAGMA wal_autocheckpoint = 16384;",
                   NULL, NULL, &emsg) != SQLITE_OK) {
    setmsg(err, n, "store: %s: %s", path, emsg ? emsg : "cannot configure");
    sqlite3_free(emsg);
    return -1;
  }
  return 0;
}

static void destroy (stepflow_store *st) {
  int i;
  for (i = 0; i < S_COUNT; i++) sqlite3_finalize(st->stmt[i]);
  if (st->db != NULL) sqlite3_close(st->db);
  /* the lock goes last: no other engine may open while SQLite still
  ** checkpoints in sqlite3_close */
  if (st->lock_fd >= 0) close(st->lock_fd);
  sf_events_free(st->events);
  free(st->hoffs);
  free(st);
}

stepflow_store *stepflow_store_open (const char *path, int flags,
                                     char *err, size_t n) {
  int memory = strcmp(path, ":memory:") == 0;
  int oflags, kind, i;
  sqlite3_int64 version = 0;
  stepflow_store *st = calloc(1, sizeof(*st));
  if (st == NULL) {
    setmsg(err, n, "store: out of memory");
    return NULL;
  }
  st->lock_fd = -1;
  st->readonly = (flags & STEPFLOW_STORE_READONLY) != 0;
  if (memory && st->readonly) {
    setmsg(err, n, "store: :memory: cannot be opened read-only");
    goto failed;
  }
  if (!memory) {
    if (check_path(path, st->readonly, err, n) != 0) goto failed;
    if (!st->readonly) {
      if (!lock_file_exists(path) && precheck(path, err, n) != 0)
        goto failed;
      if (take_lock(st, path, err, n) != 0) goto failed;
    }
  }
  oflags = SQLITE_OPEN_NOMUTEX | (st->readonly ? SQLITE_OPEN_READONLY :
           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
    setmsg(err, n, "store: %s: %s", path, st->db ? sqlite3_errmsg(st->db)
           : "out of memory");
    goto failed;
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, 5000);
  kind = identify(st, path, (flags & STEPFLOW_STORE_VERIFY) != 0, &version,
                  err, n);
  if (kind < 0) goto failed;
  if (configure(st, path, memory, err, n) != 0) goto failed;
  if (kind == 0 && create_schema(st, path, memory, err, n) != 0)
    goto failed;
  if (kind == 1 && version < STEPFLOW_STORE_VERSION &&
      upgrade(st, path, version, err, n) != 0)
    goto failed;
  st->events = sf_events_new();
  if (st->events == NULL) {
    setmsg(err, n, "store: out of memory");
    goto failed;
  }
  for (i = 0; i < S_COUNT; i++) {
    if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmt[i], NULL) != SQLITE_OK) {
      setmsg(err, n, "store: %s: %s", path, sqlite3_errmsg(st->db));
      goto failed;
    }
  }
  return st;
failed:
  /* a refused file may not be ours: closing must not even checkpoint a
  ** WAL into it (one of ours recovers its WAL at the next open) */
  if (st->db != NULL)
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  destroy(st);
  return NULL;
}

int stepflow_store_close (stepflow_store *st, char *err, size_t n) {
  int rc = STEPFLOW_STORE_OK;
  release(st);
  if (!st->readonly && stepflow_store_commit(st) != STEPFLOW_STORE_OK) {
    setmsg(err, n, "%s", st->msg);
    rc = STEPFLOW_STORE_ERROR;
  }
  destroy(st);
  return rc;
}


/* ---- writes: one open transaction per group ---- */

/* Opens the group if needed. Refuses writes after SQLite rolled the group
** back on its own (I/O error, disk full): commit() must report that first,
** or later writes would land in a different group than the caller thinks. */
static int begin (stepflow_store *st) {
  release(st);
  if (st->readonly) {
    setmsg(st->msg, sizeof(st->msg), "store: opened read-only");
    return STEPFLOW_STORE_ERROR;
  }
  if (st->lost) {
    setmsg(st->msg, sizeof(st->msg), "store: the current group was rolled "
           "back after an error; commit() reports it");
    return STEPFLOW_STORE_ERROR;
  }
  if (!st->in_txn) {
    sqlite3_stmt *s = st->stmt[S_BEGIN];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return fail(st, "begin");
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
    setmsg(st->msg, sizeof(st->msg), "store: %s: already exists", what);
    return STEPFLOW_STORE_EXISTS;
  }
  fail(st, what);
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

int stepflow_store_put_sm (stepflow_store *st, const stepflow_sm_rec *sm) {
  sqlite3_stmt *s = st->stmt[S_PUT_SM];
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  bind_text(s, 1, sm->arn, strlen(sm->arn));
  bind_text(s, 2, sm->name, strlen(sm->name));
  bind_text(s, 3, sm->definition, sm->definition_len);
  bind_text(s, 4, sm->type, strlen(sm->type));
  sqlite3_bind_int64(s, 5, sm->created);
  return run_write(st, s, "put_state_machine");
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

/* The id of the last stored event of an execution (0: none). */
static int last_event_id (stepflow_store *st, int64_t exec_id,
                          int64_t *last) {
  sqlite3_stmt *s = st->stmt[S_LAST_EVENT];
  int rc;
  sqlite3_bind_int64(s, 1, exec_id);
  rc = sqlite3_step(s);
  *last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(st, "append");
  return STEPFLOW_STORE_OK;
}

int stepflow_store_append (stepflow_store *st, int64_t exec_id,
                           const stepflow_event_rec *ev) {
  sf_pending *p;
  int rc = begin(st);
  if (rc != STEPFLOW_STORE_OK) return rc;
  if (!sf_event_type_ok(ev->type)) {
    setmsg(st->msg, sizeof(st->msg), "store: append: event type must be "
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
    setmsg(st->msg, sizeof(st->msg), "store: append: event %lld is not "
           "after the execution's last event (%lld): already exists",
           (long long)ev->id, (long long)p->last);
    return STEPFLOW_STORE_EXISTS;
  }
  if (sf_events_append(st->events, p, ev) != 0) goto nomem;
  st->pending++;
  return STEPFLOW_STORE_OK;
nomem:
  setmsg(st->msg, sizeof(st->msg), "store: append: out of memory");
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
      fail(st, "append");
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
  release(st);
  if (st->lost) {
    setmsg(st->msg, sizeof(st->msg), "store: commit: the group was rolled "
           "back after an error");
    return roll_back(st);
  }
  if (!st->in_txn) return STEPFLOW_STORE_OK;
  if (flush_events(st) != STEPFLOW_STORE_OK) return roll_back(st);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    fail(st, "commit");
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
}

static void read_sm (sqlite3_stmt *s, stepflow_sm_rec *r) {
  r->arn = col_text(s, 0, NULL);
  r->name = col_text(s, 1, NULL);
  r->definition = col_text(s, 2, &r->definition_len);
  r->type = col_text(s, 3, NULL);
  r->created = sqlite3_column_int64(s, 4);
}

/* Steps an iteration's statement: 1 row, 0 end, ERROR. */
static int next_row (stepflow_store *st, sqlite3_stmt *s, const char *what) {
  int rc;
  if (st->cur != s) {
    setmsg(st->msg, sizeof(st->msg), "store: %s: no iteration", what);
    return STEPFLOW_STORE_ERROR;
  }
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return 1;
  release(st);
  if (rc == SQLITE_DONE) return 0;
  return fail(st, what);
}

/* Starts statement s as the current one (after its parameters are bound). */
static sqlite3_stmt *start (stepflow_store *st, int which) {
  release(st);
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

int stepflow_store_list_exec_next (stepflow_store *st,
                                   stepflow_exec_rec *out) {
  sqlite3_stmt *s = st->stmt[S_LIST_EXEC];
  int i, rc;
  for (i = 0; i < 4; i++)
    if (st->cur == st->stmt[S_LIST_EXEC + i]) s = st->cur;
  rc = next_row(st, s, "list_executions");
  if (rc == 1) read_exec(s, out);
  return rc;
}

int stepflow_store_history_begin (stepflow_store *st, int64_t exec_id,
                                  int64_t after, int64_t limit, int reverse) {
  sqlite3_stmt *s;
  release(st);
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
        setmsg(st->msg, sizeof(st->msg), "store: history: out of memory");
        return STEPFLOW_STORE_ERROR;
      }
      st->hoffs = no;
      st->hcap = c;
    }
    st->hoffs[st->hn++] = at;
  }
  if (rc < 0) {
    setmsg(st->msg, sizeof(st->msg), "store: history: corrupt event row");
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
    setmsg(st->msg, sizeof(st->msg), "store: history: corrupt event row");
    return STEPFLOW_STORE_ERROR;
  }
  return rc;
}

int stepflow_store_history_next (stepflow_store *st,
                                 stepflow_event_rec *out) {
  sqlite3_stmt *s = st->cur;
  if (s != st->stmt[S_HIST_ASC] && s != st->stmt[S_HIST_DESC]) {
    setmsg(st->msg, sizeof(st->msg), "store: history: no iteration");
    return STEPFLOW_STORE_ERROR;
  }
  for (;;) {
    int rc;
    if (st->hlimit > 0 && st->hcount >= st->hlimit) {
      release(st);
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
      release(st);
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
      release(st);
      return STEPFLOW_STORE_ERROR;
    }
  }
}
