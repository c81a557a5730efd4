/*
** store_open.c: opening a store file: identity checks before and under the
** lock, the engine's flock on "<path>.lock", the schema and its upgrades,
** the connection's settings. See docs/STORE.md ("Files"). No lua.h here.
*/
#define _DEFAULT_SOURCE  /* flock, fsync, pread: -std=c99 hides them */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_impl.h"

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
  " revision INTEGER," \
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
#define STOPS_V2 \
  "CREATE TABLE stop_requests (" \
  " arn TEXT PRIMARY KEY NOT NULL," \
  " error TEXT, cause TEXT," \
  " requested INTEGER NOT NULL" \
  ") WITHOUT ROWID;"
#define INDEXES_V2 \
  "CREATE INDEX executions_by_status ON executions (status, started);" \
  "CREATE UNIQUE INDEX events_by_exec ON events (exec, first);"

#define DEFINITIONS_V2 \
  "CREATE TABLE definitions (" \
  " sm_arn TEXT NOT NULL," \
  " revision INTEGER NOT NULL," \
  " definition TEXT NOT NULL," \
  " created INTEGER NOT NULL," \
  " PRIMARY KEY (sm_arn, revision)" \
  ") WITHOUT ROWID;"

static const char schema_v2[] =
  "CREATE TABLE state_machines ("
  " arn TEXT PRIMARY KEY NOT NULL,"
  " name TEXT NOT NULL,"
  " definition TEXT NOT NULL,"
  " type TEXT NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),"
  " created INTEGER NOT NULL,"
  " revision INTEGER NOT NULL DEFAULT 1"
  ") WITHOUT ROWID;"
  DEFINITIONS_V2
  EXECUTIONS_V2("executions") EVENTS_V2("events") STOPS_V2 INDEXES_V2;

/* Version 1 -> 2: executions rebuilt with the new CHECK (their revision:
** 1, the one definition version 1 kept), each version 1 event row (one
** event) becomes a row of one event, stop requests and definitions added
** (each state machine's definition as its revision 1). */
static const char upgrade_v1[] =
  EXECUTIONS_V2("executions_v2")
  "INSERT INTO executions_v2 SELECT id, arn, sm_arn, name, status, input,"
  " output, error, cause, started, stopped, 1 FROM executions;"
  "DROP TABLE executions;"
  "ALTER TABLE executions_v2 RENAME TO executions;"
  EVENTS_V2("events_v2")
  "INSERT INTO events_v2 (exec, first, last, data) SELECT exec, id, id,"
  " id || ' ' || prev || ' ' || ts || ' ' || type || ' ' ||"
  " length(CAST(details AS BLOB)) || char(10) || details || char(10)"
  " FROM events ORDER BY seq;"
  "DROP TABLE events;"
  "ALTER TABLE events_v2 RENAME TO events;"
  STOPS_V2
  "ALTER TABLE state_machines ADD COLUMN revision INTEGER NOT NULL"
  " DEFAULT 1;"
  DEFINITIONS_V2
  "INSERT INTO definitions SELECT arn, 1, definition, created"
  " FROM state_machines;"
  INDEXES_V2
  "PRAGMA user_version = 2;";

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
    sf_setmsg(err, n, "store: %s: %s", path, strerror(errno));
    return -1;
  }
  memset(h, 0, sizeof(h));
  got = pread(fd, h, sizeof(h), 0);
  close(fd);
  if (got == 0) return 0;  /* empty file: a new store */
  if (got < 100 || memcmp(h, "SQLite format 3", 16) != 0) {
    sf_setmsg(err, n, "store: %s: not a stepflow store (not an SQLite "
           "database); left untouched", path);
    return -1;
  }
  psize = ((unsigned)h[16] << 8) | h[17];
  if (!(psize == 1 || (psize >= 512 && (psize & (psize - 1)) == 0)) ||
      h[21] != 64 || h[22] != 32 || h[23] != 32) {
    sf_setmsg(err, n, "store: %s: corrupt (invalid SQLite header); left "
           "untouched", path);
    return -1;
  }
  if (be32(h + 68) == STEPFLOW_STORE_APP_ID) {
    if (be32(h + 60) > STEPFLOW_STORE_VERSION) {
      sf_setmsg(err, n, "store: %s: written by a newer stepflow (store "
             "version %lu, this build reads up to %d); left untouched",
             path, (unsigned long)be32(h + 60), STEPFLOW_STORE_VERSION);
      return -1;
    }
  }
  else if (be32(h + 68) != 0 ||
           (got == 108 && (h[100] == 0x05 || (h[100] == 0x0D &&
                                              (h[103] | h[104]) != 0)))) {
    sf_setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
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
    sf_setmsg(err, n, "store: %s: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(sb.st_mode)) {
    sf_setmsg(err, n, "store: %s: not a regular file", path);
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
    sf_setmsg(err, n, "store: %s: path too long", path);
    return -1;
  }
  fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    sf_setmsg(err, n, "store: %s: cannot open lock file: %s", lpath,
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
      sf_setmsg(err, n, "store: %s: cannot lock: %s", lpath, strerror(e));
    else if (pid == (long)getpid())
      sf_setmsg(err, n, "store: %s: already open in this process (pid %ld)",
             path, pid);
    else if (pid > 0)
      sf_setmsg(err, n, "store: %s: locked by process %ld (another engine "
             "uses this store)", path, pid);
    else
      sf_setmsg(err, n, "store: %s: locked by another process", path);
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
    sf_setmsg(err, n, "store: %s: not a stepflow store (not an SQLite "
           "database); left untouched", path);
  else if (prim == SQLITE_CORRUPT)
    sf_setmsg(err, n, "store: %s: corrupt (%s); left untouched", path,
           sqlite3_errmsg(st->db));
  else
    sf_setmsg(err, n, "store: %s: %s", path, sqlite3_errmsg(st->db));
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
                   "'executions', 'events', 'stop_requests', 'definitions')",
                   &ntables);
  if (rc != SQLITE_OK) {
    open_error(st, path, rc, err, n);
    return -1;
  }
  if (app != STEPFLOW_STORE_APP_ID) {
    if (app == 0 && ver == 0 && nschema == 0) {
      if (!st->readonly && !st->client) return 0;
      sf_setmsg(err, n, "store: %s: not a stepflow store (empty database)",
             path);
      return -1;
    }
    sf_setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
           "of another application); left untouched", path);
    return -1;
  }
  if (ver > STEPFLOW_STORE_VERSION) {
    sf_setmsg(err, n, "store: %s: written by a newer stepflow (store version "
           "%lld, this build reads up to %d); left untouched", path,
           (long long)ver, STEPFLOW_STORE_VERSION);
    return -1;
  }
  if (ver < 1 || ntables != (ver >= 2 ? 5 : 3)) {
    sf_setmsg(err, n, "store: %s: corrupt (stepflow tables missing); left "
           "untouched", path);
    return -1;
  }
  if (ver < STEPFLOW_STORE_VERSION && (st->readonly || st->client)) {
    sf_setmsg(err, n, "store: %s: store version %lld needs an upgrade to "
           "version %d, which a %s open cannot do; open it once "
           "read-write to upgrade it", path, (long long)ver,
           STEPFLOW_STORE_VERSION, st->readonly ? "read-only" : "client");
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
          sf_setmsg(err, n, "store: %s: corrupt (%s); left untouched", path, r);
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
      sf_setmsg(err, n, "store: %s: not a stepflow store (an SQLite database "
             "of another application); left untouched", path);
    else
      sf_setmsg(err, n, "store: %s: cannot create the schema: %s", path,
             sqlite3_errmsg(st->db));
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  snprintf(sql, sizeof(sql), "%sPRAGMA application_id = %d;"
           "PRAGMA user_version = %d;COMMIT;", schema_v2,
           STEPFLOW_STORE_APP_ID, STEPFLOW_STORE_VERSION);
  if (sqlite3_exec(st->db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
    sf_setmsg(err, n, "store: %s: cannot create the schema: %s", path,
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
    sf_setmsg(err, n, "store: %s: cannot upgrade from store version %lld to "
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
      sf_setmsg(err, n, "store: %s: cannot switch to WAL mode: %s", path,
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
    sf_setmsg(err, n, "store: %s: %s", path, emsg ? emsg : "cannot configure");
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
    sf_setmsg(err, n, "store: out of memory");
    return NULL;
  }
  st->lock_fd = -1;
  st->readonly = (flags & STEPFLOW_STORE_READONLY) != 0;
  st->client = !st->readonly && (flags & STEPFLOW_STORE_CLIENT) != 0;
  if (memory && (st->readonly || st->client)) {
    sf_setmsg(err, n, "store: :memory: cannot be opened %s", st->readonly ?
              "read-only" : "as a client (it is private to its engine)");
    goto failed;
  }
  if (!memory) {
    if (check_path(path, st->readonly || st->client, err, n) != 0)
      goto failed;
    if (!st->readonly && !st->client) {
      if (!lock_file_exists(path) && precheck(path, err, n) != 0)
        goto failed;
      if (take_lock(st, path, err, n) != 0) goto failed;
    }
  }
  oflags = SQLITE_OPEN_NOMUTEX | (st->readonly ? SQLITE_OPEN_READONLY :
           st->client ? SQLITE_OPEN_READWRITE :
           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
    sf_setmsg(err, n, "store: %s: %s", path, st->db ? sqlite3_errmsg(st->db)
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
    sf_setmsg(err, n, "store: out of memory");
    goto failed;
  }
  for (i = 0; i < S_COUNT; i++) {
    if (sf_stmt_sql[i] == NULL) {  /* a statement the table forgot */
      sf_setmsg(err, n, "store: internal error: no SQL for statement %d", i);
      goto failed;
    }
    if (sqlite3_prepare_v3(st->db, sf_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmt[i], NULL) != SQLITE_OK) {
      sf_setmsg(err, n, "store: %s: %s", path, sqlite3_errmsg(st->db));
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
  sf_release(st);
  if (!st->readonly && stepflow_store_commit(st) != STEPFLOW_STORE_OK) {
    sf_setmsg(err, n, "%s", st->msg);
    rc = STEPFLOW_STORE_ERROR;
  }
  destroy(st);
  return rc;
}

