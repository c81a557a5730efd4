/*
** store_open.c: opening a store file: identity checks before and under the
** lock, the engine's flock on "<path>.lock", the schema and its upgrades,
** the connection's settings. See docs/STORE.md ("Files"). No lua.h here.
*/
#define _DEFAULT_SOURCE  /* flock, fsync, pread, nanosleep: -std=c99 hides them */

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_impl.h"

/* The schema (version 4): created in the same transaction that sets
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

/* Version 3: what the server keeps beside the engine's tables, as JSON
** documents by kind and ARN (state machine attributes, later versions,
** aliases, activities, tags), listed in the order they were first put. */
#define RESOURCES_V3 \
  "CREATE TABLE resources (" \
  " seq INTEGER PRIMARY KEY," \
  " kind TEXT NOT NULL," \
  " arn TEXT NOT NULL," \
  " data TEXT NOT NULL," \
  " UNIQUE (kind, arn)" \
  ");"

/* Version 4: what the server shows of an execution: the version and alias
** it was started through, and its redrives. Added by ALTER TABLE to a
** version 3 store, and so to a new one (one column order for both). */
#define EXECUTIONS_V4 \
  "ALTER TABLE executions ADD COLUMN version_arn TEXT;" \
  "ALTER TABLE executions ADD COLUMN alias_arn TEXT;" \
  "ALTER TABLE executions ADD COLUMN redrive_count INTEGER NOT NULL" \
  " DEFAULT 0;" \
  "ALTER TABLE executions ADD COLUMN redrive_date INTEGER;"

static const char schema_v4[] =
  "CREATE TABLE state_machines ("
  " arn TEXT PRIMARY KEY NOT NULL,"
  " name TEXT NOT NULL,"
  " definition TEXT NOT NULL,"
  " type TEXT NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),"
  " created INTEGER NOT NULL,"
  " revision INTEGER NOT NULL DEFAULT 1"
  ") WITHOUT ROWID;"
  DEFINITIONS_V2
  EXECUTIONS_V2("executions") EVENTS_V2("events") STOPS_V2 INDEXES_V2
  RESOURCES_V3 EXECUTIONS_V4;

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

/* Version 2 -> 3: the resources table. */
static const char upgrade_v2[] =
  RESOURCES_V3
  "PRAGMA user_version = 3;";

/* Version 3 -> 4: the executions' versions, aliases and redrives. */
static const char upgrade_v3[] =
  EXECUTIONS_V4
  "PRAGMA user_version = 4;";

/* ---- opening: identity checks, lock, schema ---- */

static uint32_t be32 (const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Records why the open failed, in *why; returns -1. */
static int refuse (stepflow_store_refusal *why, int kind, const char *fmt,
                   ...) {
  va_list ap;
  why->kind = kind;
  va_start(ap, fmt);
  vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
  va_end(ap);
  return -1;
}

/* Refuses with SQLite's last error on db, adding the system's reason to
** an I/O error (SQLite says "disk I/O error" for a full disk too). `what`
** names the step, or is NULL. */
static int refuse_db (stepflow_store_refusal *why, sqlite3 *db,
                      const char *path, const char *what) {
  int code = sqlite3_errcode(db) & 0xff, e = sqlite3_system_errno(db);
  const char *sep = what != NULL ? ": " : "";
  if (what == NULL) what = "";
  if ((code == SQLITE_IOERR || code == SQLITE_FULL ||
       code == SQLITE_CANTOPEN) && e != 0)
    return refuse(why, sf_errkind(db), "store: %s: %s%s%s (%s)", path, what,
                  sep, sqlite3_errmsg(db), strerror(e));
  return refuse(why, sf_errkind(db), "store: %s: %s%s%s", path, what, sep,
                sqlite3_errmsg(db));
}

/* The kind of a failed system call on the store's files: `writing` when
** the call would have written (a denied write means read-only for us). */
static int errno_kind (int e, int writing) {
  if (e == ENOENT || e == ENOTDIR) return STEPFLOW_FAIL_NOT_FOUND;
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) return STEPFLOW_FAIL_FULL;
  if (e == EROFS || (writing && (e == EACCES || e == EPERM)))
    return STEPFLOW_FAIL_READ_ONLY;
  if (e == EACCES || e == EPERM) return STEPFLOW_FAIL_DENIED;
  return STEPFLOW_FAIL_IO;
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
static int precheck (const char *path, stepflow_store_refusal *why) {
  unsigned char h[108];
  ssize_t got;
  unsigned psize;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return refuse(why, errno_kind(errno, 0), "store: %s: %s", path,
                  strerror(errno));
  }
  memset(h, 0, sizeof(h));
  got = pread(fd, h, sizeof(h), 0);
  close(fd);
  if (got == 0) return 0;  /* empty file: a new store */
  if (got < 100 || memcmp(h, "SQLite format 3", 16) != 0) {
    return refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow "
                  "store (not an SQLite database); left untouched", path);
  }
  psize = ((unsigned)h[16] << 8) | h[17];
  if (!(psize == 1 || (psize >= 512 && (psize & (psize - 1)) == 0)) ||
      h[21] != 64 || h[22] != 32 || h[23] != 32) {
    return refuse(why, STEPFLOW_FAIL_CORRUPT, "store: %s: corrupt (invalid "
                  "SQLite header); left untouched", path);
  }
  if (be32(h + 68) == STEPFLOW_STORE_APP_ID) {
    if (be32(h + 60) > STEPFLOW_STORE_VERSION) {
      why->version = (long)be32(h + 60);
      return refuse(why, STEPFLOW_FAIL_NEWER_VERSION, "store: %s: written by "
                    "a newer stepflow (store version %ld, this build reads up "
                    "to %d); left untouched", path, why->version,
                    STEPFLOW_STORE_VERSION);
    }
  }
  else if (be32(h + 68) != 0 ||
           (got == 108 && (h[100] == 0x05 || (h[100] == 0x0D &&
                                              (h[103] | h[104]) != 0)))) {
    return refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow "
                  "store (an SQLite database of another application); left "
                  "untouched", path);
  }
  return 0;
}

/* Checks with stat (no descriptor: see precheck) that path is a regular
** file, or absent when a new store may be created. */
static int check_path (const char *path, int readonly,
                       stepflow_store_refusal *why) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT && !readonly) return 0;
    return refuse(why, errno_kind(errno, 0), "store: %s: %s", path,
                  strerror(errno));
  }
  if (S_ISDIR(sb.st_mode))
    return refuse(why, STEPFLOW_FAIL_NOT_A_FILE, "store: %s: a folder, not a "
                  "store file", path);
  if (!S_ISREG(sb.st_mode))
    return refuse(why, STEPFLOW_FAIL_NOT_A_FILE, "store: %s: not a regular "
                  "file", path);
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
static int take_lock (stepflow_store *st, const char *path,
                      stepflow_store_refusal *why) {
  char lpath[4096], buf[32];
  ssize_t got;
  long pid;
  int fd;
  if (lock_path(path, lpath, sizeof(lpath)) != 0)
    return refuse(why, STEPFLOW_FAIL_ERROR, "store: %s: path too long", path);
  fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)  /* the file is absent too, or realpath finds it */
      return refuse(why, STEPFLOW_FAIL_NOT_FOUND, "store: %s: no such "
                    "folder to create it in", path);
    if (errno_kind(e, 1) == STEPFLOW_FAIL_READ_ONLY)
      return refuse(why, STEPFLOW_FAIL_READ_ONLY, "store: %s: this process "
                    "may not write its folder (cannot create %s: %s); a "
                    "read-only open can read it", path, lpath, strerror(e));
    return refuse(why, errno_kind(e, 1), "store: %s: cannot open lock file: "
                  "%s", lpath, strerror(e));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    memset(buf, 0, sizeof(buf));
    got = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    pid = got > 0 ? strtol(buf, NULL, 10) : 0;
    why->pid = pid > 0 ? pid : 0;
    if (e != EWOULDBLOCK)
      return refuse(why, errno_kind(e, 1), "store: %s: cannot lock: %s",
                    lpath, strerror(e));
    if (pid == (long)getpid())
      return refuse(why, STEPFLOW_FAIL_ALREADY_OPEN, "store: %s: already "
                    "open in this process (pid %ld)", path, pid);
    if (pid > 0)
      return refuse(why, STEPFLOW_FAIL_LOCKED, "store: %s: locked by process "
                    "%ld (another engine uses this store)", path, pid);
    return refuse(why, STEPFLOW_FAIL_LOCKED, "store: %s: locked by another "
                  "process", path);
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
                        stepflow_store_refusal *why) {
  int prim = rc & 0xff;
  if (prim == SQLITE_NOTADB)
    refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow store (not "
           "an SQLite database); left untouched", path);
  else if (prim == SQLITE_CORRUPT)
    refuse(why, STEPFLOW_FAIL_CORRUPT, "store: %s: corrupt (%s); left "
           "untouched", path, sqlite3_errmsg(st->db));
  else
    refuse_db(why, st->db, path, NULL);
}

/* 1: a stepflow store to use (its version in *version); 0: an empty
** database to initialise; -1: refused (*why filled). Only reads. */
static int identify (stepflow_store *st, const char *path, int verify,
                     sqlite3_int64 *version, stepflow_store_refusal *why) {
  sqlite3_int64 app = 0, ver = 0, nschema = 0, ntables = 0;
  int rc = query_int(st->db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK) rc = query_int(st->db, "PRAGMA user_version", &ver);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master", &nschema);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master WHERE "
                   "type = 'table' AND name IN ('state_machines', "
                   "'executions', 'events', 'stop_requests', 'definitions', "
                   "'resources')",
                   &ntables);
  if (rc != SQLITE_OK) {
    open_error(st, path, rc, why);
    return -1;
  }
  if (app != STEPFLOW_STORE_APP_ID) {
    if (app == 0 && ver == 0 && nschema == 0) {
      if (!st->readonly && !st->client) return 0;
      st->empty = 1;
      return refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow "
                    "store (empty database)", path);
    }
    return refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow "
                  "store (an SQLite database of another application); left "
                  "untouched", path);
  }
  why->version = (long)ver;
  if (ver > STEPFLOW_STORE_VERSION)
    return refuse(why, STEPFLOW_FAIL_NEWER_VERSION, "store: %s: written by a "
                  "newer stepflow (store version %ld, this build reads up to "
                  "%d); left untouched", path, why->version,
                  STEPFLOW_STORE_VERSION);
  if (ver < 1 || ntables != (ver >= 3 ? 6 : ver == 2 ? 5 : 3))
    return refuse(why, STEPFLOW_FAIL_CORRUPT, "store: %s: corrupt (stepflow "
                  "tables missing); left untouched", path);
  if (ver < STEPFLOW_STORE_VERSION && (st->readonly || st->client))
    return refuse(why, STEPFLOW_FAIL_NEEDS_UPGRADE, "store: %s: store "
                  "version %ld needs an upgrade to version %d, which a %s "
                  "open cannot do; open it once read-write to upgrade it",
                  path, why->version, STEPFLOW_STORE_VERSION,
                  st->readonly ? "read-only" : "client");
  if (verify) {
    sqlite3_stmt *s;
    rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (r != NULL && strcmp(r, "ok") != 0) {
          refuse(why, STEPFLOW_FAIL_CORRUPT, "store: %s: corrupt (%s); left "
                 "untouched", path, r);
          sqlite3_finalize(s);
          return -1;
        }
        rc = SQLITE_OK;
      }
      sqlite3_finalize(s);
    }
    if (rc != SQLITE_OK) {
      open_error(st, path, rc, why);
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
                          stepflow_store_refusal *why) {
  char sql[sizeof(schema_v4) + 128];
  char *emsg = NULL;
  sqlite3_int64 app = 0, nschema = 0;
  int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "PRAGMA application_id", &app);
  if (rc == SQLITE_OK)
    rc = query_int(st->db, "SELECT count(*) FROM sqlite_master", &nschema);
  if (rc != SQLITE_OK || app != 0 || nschema != 0) {
    if (rc == SQLITE_OK)
      refuse(why, STEPFLOW_FAIL_NOT_OURS, "store: %s: not a stepflow store (an "
             "SQLite database of another application); left untouched", path);
    else
      refuse_db(why, st->db, path, "cannot create the schema");
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  snprintf(sql, sizeof(sql), "%sPRAGMA application_id = %d;"
           "PRAGMA user_version = %d;COMMIT;", schema_v4,
           STEPFLOW_STORE_APP_ID, STEPFLOW_STORE_VERSION);
  if (sqlite3_exec(st->db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
    refuse(why, sf_errkind(st->db), "store: %s: cannot create the schema: %s",
           path, emsg ? emsg : sqlite3_errmsg(st->db));
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
                    stepflow_store_refusal *why) {
  char *emsg = NULL;
  int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &emsg);
  if (rc == SQLITE_OK && ver == 1)
    rc = sqlite3_exec(st->db, upgrade_v1, NULL, NULL, &emsg);
  if (rc == SQLITE_OK && ver <= 2)
    rc = sqlite3_exec(st->db, upgrade_v2, NULL, NULL, &emsg);
  if (rc == SQLITE_OK && ver <= 3)
    rc = sqlite3_exec(st->db, upgrade_v3, NULL, NULL, &emsg);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, &emsg);
  if (rc != SQLITE_OK) {
    refuse(why, STEPFLOW_FAIL_UPGRADE_FAILED, "store: %s: cannot upgrade from "
           "store version %lld to %d: %s; left as it was", path,
           (long long)ver, STEPFLOW_STORE_VERSION,
           emsg ? emsg : sqlite3_errmsg(st->db));
    sqlite3_free(emsg);
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

/* Connection settings; see docs/STORE.md for why synchronous = FULL. */
static int configure (stepflow_store *st, const char *path, int memory,
                      stepflow_store_refusal *why) {
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
      return refuse_db(why, st->db, path, "cannot switch to WAL mode");
    }
  }
  if (sqlite3_exec(st->db, "PRAGMA synchronous = FULL;"
                   "PRAGMA cache_size = -32768;"
                   "PRAGMA temp_store = MEMORY;"
                   "PRAGMA journal_size_limit = 67108864;"
                   "PRAGMA wal_autocheckpoint = 16384;",
                   NULL, NULL, &emsg) != SQLITE_OK) {
    refuse(why, sf_errkind(st->db), "store: %s: %s", path,
           emsg ? emsg : "cannot configure");
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

/* Whether "<path>-wal" holds anything: commits SQLite has not yet copied
** into the file itself may be there (an engine runs the store, or was
** killed). An empty one (a failed open leaves one) holds none. */
static int wal_exists (const char *path) {
  char wpath[4096];
  struct stat sb;
  int len = snprintf(wpath, sizeof(wpath), "%s-wal", path);
  if (len < 0 || (size_t)len >= sizeof(wpath)) return 1;  /* assume so */
  return stat(wpath, &sb) == 0 && sb.st_size > 0;
}

/* Opens the file read-only as "immutable" (no locks, no -shm): see
** open_db. The path is percent-encoded into a URI. */
static int open_immutable (stepflow_store *st, const char *path) {
  static const char hex[] = "0123456789ABCDEF";
  char uri[3 * 4096 + 32], *o;
  const unsigned char *c;
  if (strlen(path) >= 4096) return SQLITE_CANTOPEN;
  o = uri + sprintf(uri, "file:");
  for (c = (const unsigned char *)path; *c != '\0'; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
        (*c >= '0' && *c <= '9') || strchr("/._-~", *c) != NULL)
      *o++ = (char)*c;
    else {
      *o++ = '%';
      *o++ = hex[*c >> 4];
      *o++ = hex[*c & 15];
    }
  }
  strcpy(o, "?immutable=1");
  return sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY |
                         SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
}

/*
** Opens the SQLite connection and identifies the file (identify's
** result). A read-only open of a WAL database needs "<path>-shm", which
** SQLite creates beside the file: in a folder this process may not write
** (or on a full disk), a store without a "<path>-wal" (no engine runs it,
** none was killed while running it: everything is in the file itself) is
** read as immutable instead, which needs no -shm. An engine starting meanwhile
** writes to its WAL, not to the file, until it checkpoints (at close, or
** after 64 MB): a short reader sees the store as it was when it opened.
*/
static int open_db (stepflow_store *st, const char *path, int flags,
                    sqlite3_int64 *version, stepflow_store_refusal *why) {
  int verify = (flags & STEPFLOW_STORE_VERIFY) != 0;
  int oflags = SQLITE_OPEN_NOMUTEX | (st->readonly ? SQLITE_OPEN_READONLY :
               st->client ? SQLITE_OPEN_READWRITE :
               SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int kind;
  if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
    if (st->db == NULL)
      return refuse(why, STEPFLOW_FAIL_ERROR, "store: out of memory");
    return refuse_db(why, st->db, path, NULL);
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, 5000);
  /* SQLite opens a file it may not write read-only without a word */
  if (!st->readonly && sqlite3_db_readonly(st->db, "main") == 1)
    return refuse(why, STEPFLOW_FAIL_READ_ONLY, "store: %s: this process may "
                  "only read it (a read-only open can)", path);
  kind = identify(st, path, verify, version, why);
  {
    /* An engine that has just taken the lock of a new store creates its
    ** schema next: a client or reader opening in between finds an empty
    ** database. It waits for the schema (up to 2 s) rather than refuse. */
    int tries = 0;
    while (kind < 0 && st->empty && tries++ < 200 && lock_file_exists(path)) {
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      st->empty = 0;
      nanosleep(&ts, NULL);
      kind = identify(st, path, verify, version, why);
    }
  }
  if (kind < 0 && !st->readonly && why->kind == STEPFLOW_FAIL_READ_ONLY)
    /* SQLite could not make its -wal or -shm beside the file */
    return refuse(why, STEPFLOW_FAIL_READ_ONLY, "store: %s: this process may "
                  "not write its folder (%s); a read-only open can read it",
                  path, sqlite3_errmsg(st->db));
  /* (the file exists: CANTOPEN is about the -shm SQLite could not make) */
  if (kind < 0 && st->readonly && (why->kind == STEPFLOW_FAIL_READ_ONLY ||
      why->kind == STEPFLOW_FAIL_FULL ||
      (sqlite3_errcode(st->db) & 0xff) == SQLITE_CANTOPEN)) {
    if (why->kind != STEPFLOW_FAIL_FULL) why->kind = STEPFLOW_FAIL_READ_ONLY;
    if (wal_exists(path) && why->kind == STEPFLOW_FAIL_READ_ONLY)
      return refuse(why, STEPFLOW_FAIL_READ_ONLY, "store: %s: cannot read "
                    "it: its WAL (%s-wal) holds commits that SQLite reads "
                    "through %s-shm, which this process may not create in "
                    "that folder; open it once as a user who may write the "
                    "folder", path, path, path);
    if (wal_exists(path)) return kind;  /* full: the message says so */
    sqlite3_close(st->db);
    st->db = NULL;
    if (open_immutable(st, path) != SQLITE_OK) {
      if (st->db == NULL)
        return refuse(why, STEPFLOW_FAIL_ERROR, "store: out of memory");
      return refuse_db(why, st->db, path, NULL);
    }
    sqlite3_extended_result_codes(st->db, 1);
    kind = identify(st, path, verify, version, why);
  }
  return kind;
}

stepflow_store *stepflow_store_open (const char *path, int flags,
                                     stepflow_store_refusal *why) {
  int memory = strcmp(path, ":memory:") == 0;
  int kind, i;
  sqlite3_int64 version = 0;
  stepflow_store *st = calloc(1, sizeof(*st));
  why->kind = STEPFLOW_FAIL_ERROR;
  why->pid = 0;
  why->version = 0;
  why->msg[0] = '\0';
  if (st == NULL) {
    refuse(why, STEPFLOW_FAIL_ERROR, "store: out of memory");
    return NULL;
  }
  st->lock_fd = -1;
  st->readonly = (flags & STEPFLOW_STORE_READONLY) != 0;
  st->client = !st->readonly && (flags & STEPFLOW_STORE_CLIENT) != 0;
  if (memory && (st->readonly || st->client)) {
    refuse(why, STEPFLOW_FAIL_ERROR, "store: :memory: cannot be opened %s",
           st->readonly ? "read-only" :
           "as a client (it is private to its engine)");
    goto failed;
  }
  if (!memory) {
    if (check_path(path, st->readonly || st->client, why) != 0)
      goto failed;
    if (!st->readonly && !st->client) {
      if (!lock_file_exists(path) && precheck(path, why) != 0)
        goto failed;
      if (take_lock(st, path, why) != 0) goto failed;
    }
  }
  kind = open_db(st, path, flags, &version, why);
  if (kind < 0) goto failed;
  if (configure(st, path, memory, why) != 0) goto failed;
  if (kind == 0 && create_schema(st, path, memory, why) != 0)
    goto failed;
  if (kind == 1 && version < STEPFLOW_STORE_VERSION &&
      upgrade(st, path, version, why) != 0)
    goto failed;
  st->events = sf_events_new();
  if (st->events == NULL) {
    refuse(why, STEPFLOW_FAIL_ERROR, "store: out of memory");
    goto failed;
  }
  for (i = 0; i < S_COUNT; i++) {
    if (sf_stmt_sql[i] == NULL) {  /* a statement the table forgot */
      refuse(why, STEPFLOW_FAIL_ERROR, "store: internal error: no SQL for "
             "statement %d", i);
      goto failed;
    }
    if (sqlite3_prepare_v3(st->db, sf_stmt_sql[i], -1,
                           SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                           NULL) != SQLITE_OK) {
      refuse_db(why, st->db, path, NULL);
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

