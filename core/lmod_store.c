/*
** lmod_store.c: Lua binding of the store engine (core/store.c) as the C
** module stepflow.core.store; wrapped by lua/stepflow/store.lua.
*/
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "stepflow_core.h"
#include "store.h"

#define STORE_MT "stepflow.Store"

typedef struct {
  stepflow_store *st;  /* NULL once closed */
} lstore;

static stepflow_store *checkstore (lua_State *L) {
  lstore *p = (lstore *)luaL_checkudata(L, 1, STORE_MT);
  if (p->st == NULL) luaL_error(L, "attempt to use a closed store");
  return p->st;
}

/* Names of the STEPFLOW_FAIL_* kinds (store.h), as Lua sees them. */
static const char *const fail_kinds[] = {
  [STEPFLOW_FAIL_ERROR] = "error",
  [STEPFLOW_FAIL_LOCKED] = "locked",
  [STEPFLOW_FAIL_ALREADY_OPEN] = "already_open",
  [STEPFLOW_FAIL_NOT_OURS] = "not_ours",
  [STEPFLOW_FAIL_CORRUPT] = "corrupt",
  [STEPFLOW_FAIL_NEWER_VERSION] = "newer_version",
  [STEPFLOW_FAIL_NEEDS_UPGRADE] = "needs_upgrade",
  [STEPFLOW_FAIL_UPGRADE_FAILED] = "upgrade_failed",
  [STEPFLOW_FAIL_NOT_FOUND] = "not_found",
  [STEPFLOW_FAIL_NOT_A_FILE] = "not_a_file",
  [STEPFLOW_FAIL_DENIED] = "denied",
  [STEPFLOW_FAIL_READ_ONLY] = "read_only",
  [STEPFLOW_FAIL_FULL] = "full",
  [STEPFLOW_FAIL_IO] = "io",
  [STEPFLOW_FAIL_BUSY] = "busy"
};

static const char *fail_kind (int kind) {
  int n = (int)(sizeof(fail_kinds) / sizeof(fail_kinds[0]));
  return kind >= 0 && kind < n && fail_kinds[kind] != NULL ?
         fail_kinds[kind] : "error";
}

/* Pushes nil, message, kind for a failed call; returns 3. The kind is
** "exists", "notfound" or "invalid" for those results, else the kind of
** failure ("full", "io", "read_only", ...: see fail_kinds). */
static int pushfail (lua_State *L, stepflow_store *st, int rc) {
  lua_pushnil(L);
  lua_pushstring(L, stepflow_store_errmsg(st));
  lua_pushstring(L, rc == STEPFLOW_STORE_EXISTS ? "exists" :
                 rc == STEPFLOW_STORE_NOTFOUND ? "notfound" :
                 rc == STEPFLOW_STORE_INVALID ? "invalid" :
                 fail_kind(stepflow_store_errkind(st)));
  return 3;
}

/* Pushes what a read of one text found: the text, nil when there is
** none, or nil, msg, kind on a failure. Ends the read. */
static int pushtext (lua_State *L, stepflow_store *st, int rc,
                     const char *text, size_t len) {
  if (rc == STEPFLOW_STORE_NOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushlstring(L, text, len);
  stepflow_store_end(st);
  return 1;
}

/* Pushes what a change of one row did: true, false when the row was not
** there (or not in a state to change), or nil, msg, kind on a failure. */
static int pushdone (lua_State *L, stepflow_store *st, int rc) {
  if (rc == STEPFLOW_STORE_NOTFOUND) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static const char *optstr (lua_State *L, int i, size_t *len) {
  if (lua_isnoneornil(L, i)) {
    *len = 0;
    return NULL;
  }
  return luaL_checklstring(L, i, len);
}

static void setstr (lua_State *L, const char *k, const char *v, size_t n) {
  if (v == NULL) return;
  lua_pushlstring(L, v, n);
  lua_setfield(L, -2, k);
}

static void setint (lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_exec (lua_State *L, const stepflow_exec_rec *r) {
  lua_createtable(L, 0, 16);
  setint(L, "_key", r->id);
  setstr(L, "arn", r->arn, strlen(r->arn));
  setstr(L, "sm_arn", r->sm_arn, strlen(r->sm_arn));
  setstr(L, "name", r->name, strlen(r->name));
  setstr(L, "status", r->status, strlen(r->status));
  setstr(L, "input", r->input, r->input_len);
  setstr(L, "output", r->output, r->output_len);
  setstr(L, "error", r->error, r->error_len);
  setstr(L, "cause", r->cause, r->cause_len);
  setint(L, "started", r->started);
  if (r->has_stopped) setint(L, "stopped", r->stopped);
  if (r->has_revision) setint(L, "revision", r->revision);
  if (r->version_arn)
    setstr(L, "version_arn", r->version_arn, strlen(r->version_arn));
  if (r->alias_arn) setstr(L, "alias_arn", r->alias_arn, strlen(r->alias_arn));
  if (r->redrive_count > 0) setint(L, "redrive_count", r->redrive_count);
  if (r->has_redrive_date) setint(L, "redrive_date", r->redrive_date);
}

static void push_sm (lua_State *L, const stepflow_sm_rec *r) {
  lua_createtable(L, 0, 5);
  setstr(L, "arn", r->arn, strlen(r->arn));
  setstr(L, "name", r->name, strlen(r->name));
  setstr(L, "definition", r->definition, r->definition_len);
  setstr(L, "type", r->type, strlen(r->type));
  setint(L, "created", r->created);
  setint(L, "revision", r->revision);
}

static void push_event (lua_State *L, const stepflow_event_rec *r) {
  lua_createtable(L, 0, 5);
  setint(L, "id", r->id);
  setint(L, "previousEventId", r->prev_id);
  setint(L, "timestamp", r->timestamp);
  setstr(L, "type", r->type, strlen(r->type));
  setstr(L, "details", r->details, r->details_len);
}

/* core.open(path[, read_only[, verify[, client]]])
** -> store | nil, msg, {kind=, pid=, version=}  [-0, +1|3, m]
** pid: the lock holder ("locked", "already_open"); version: the file's
** store version ("newer_version", "needs_upgrade", "upgrade_failed"). */
static int l_open (lua_State *L) {
  stepflow_store_refusal why;
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  int flags = (lua_toboolean(L, 2) ? STEPFLOW_STORE_READONLY : 0) |
              (lua_toboolean(L, 3) ? STEPFLOW_STORE_VERIFY : 0) |
              (lua_toboolean(L, 4) ? STEPFLOW_STORE_CLIENT : 0);
  lstore *p;
  luaL_argcheck(L, len > 0 && strlen(path) == len, 1,
                "path must be a non-empty string without NUL");
  /* "closed first": the userdata exists before the store, so an error
  ** while making it leaves nothing __gc cannot handle */
  p = (lstore *)lua_newuserdatauv(L, sizeof(lstore), 0);
  p->st = NULL;
  luaL_setmetatable(L, STORE_MT);
  p->st = stepflow_store_open(path, flags, &why);
  if (p->st == NULL) {
    lua_pushnil(L);
    lua_pushstring(L, why.msg);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, fail_kind(why.kind));
    lua_setfield(L, -2, "kind");
    if (why.pid > 0) setint(L, "pid", why.pid);
    if (why.version > 0) setint(L, "version", why.version);
    return 3;
  }
  return 1;
}

/* store:close() -> true | nil, msg, kind (pending writes are committed;
** the store is closed either way)  [-0, +1|3, m] */
static int l_close (lua_State *L) {
  lstore *p = (lstore *)luaL_checkudata(L, 1, STORE_MT);
  stepflow_store *st = p->st;
  if (st == NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (stepflow_store_commit(st) != STEPFLOW_STORE_OK) {
    /* pushed while p still owns st: a memory error here leaves it to
    ** __gc */
    pushfail(L, st, STEPFLOW_STORE_ERROR);
    p->st = NULL;
    stepflow_store_close(st, NULL, 0);
    return 3;
  }
  p->st = NULL;
  stepflow_store_close(st, NULL, 0);  /* nothing left to commit */
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc, __close: idempotent; like close(), errors are dropped  [-0, +0, -] */
static int l_gc (lua_State *L) {
  lstore *p = (lstore *)luaL_checkudata(L, 1, STORE_MT);
  if (p->st != NULL) {
    stepflow_store *st = p->st;
    p->st = NULL;
    stepflow_store_close(st, NULL, 0);
  }
  return 0;
}

/* store:put_state_machine(arn, name, definition, type, created)
** -> true | nil, msg, kind  [-0, +1|3, m] */
static int l_put_sm (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_sm_rec r;
  int rc;
  r.arn = luaL_checkstring(L, 2);
  r.name = luaL_checkstring(L, 3);
  r.definition = luaL_checklstring(L, 4, &r.definition_len);
  r.type = luaL_checkstring(L, 5);
  r.created = luaL_checkinteger(L, 6);
  rc = stepflow_store_put_sm(st, &r);
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushinteger(L, (lua_Integer)r.revision);
  return 1;
}

/* store:get_definition(sm_arn, revision) -> text | nil | nil, msg */
static int l_get_def (lua_State *L) {
  stepflow_store *st = checkstore(L);
  const char *def;
  size_t len;
  int rc = stepflow_store_get_definition(st, luaL_checkstring(L, 2),
                                         luaL_checkinteger(L, 3), &def, &len);
  return pushtext(L, st, rc, def, len);
}

/* store:delete_state_machine(arn) -> true | false | nil, msg, kind
** [-0, +1|3, m] */
static int l_del_sm (lua_State *L) {
  stepflow_store *st = checkstore(L);
  return pushdone(L, st, stepflow_store_delete_sm(st, luaL_checkstring(L, 2)));
}

/* store:get_state_machine(arn) -> record | nil[, msg]  [-0, +1|2, m] */
static int l_get_sm (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_sm_rec r;
  int rc = stepflow_store_get_sm(st, luaL_checkstring(L, 2), &r);
  if (rc == STEPFLOW_STORE_NOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  push_sm(L, &r);
  stepflow_store_end(st);
  return 1;
}

/* store:list_state_machines() -> array | nil, msg  [-0, +1|2, m] */
static int l_list_sm (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_sm_rec r;
  lua_Integer n = 0;
  int rc;
  lua_newtable(L);
  stepflow_store_list_sm_begin(st);
  while ((rc = stepflow_store_list_sm_next(st, &r)) == 1) {
    push_sm(L, &r);  /* may raise (memory): the statement is reset by the
                        next call on the store */
    lua_rawseti(L, -2, ++n);
  }
  if (rc != 0) return pushfail(L, st, rc);
  return 1;
}

/* store:create_execution(arn, sm_arn, name, status, input, started
**   [, revision[, version_arn[, alias_arn]]])
** -> key | nil, msg, kind ("exists" when the ARN or name is taken)
** [-0, +1|3, m] */
static int l_create_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_exec_rec r;
  int rc;
  memset(&r, 0, sizeof(r));
  r.arn = luaL_checkstring(L, 2);
  r.sm_arn = luaL_checkstring(L, 3);
  r.name = luaL_checkstring(L, 4);
  r.status = luaL_checkstring(L, 5);
  r.input = optstr(L, 6, &r.input_len);
  r.started = luaL_checkinteger(L, 7);
  if (!lua_isnoneornil(L, 8)) {
    r.revision = luaL_checkinteger(L, 8);
    r.has_revision = 1;
  }
  r.version_arn = luaL_optstring(L, 9, NULL);
  r.alias_arn = luaL_optstring(L, 10, NULL);
  rc = stepflow_store_create_exec(st, &r);
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushinteger(L, r.id);
  return 1;
}

/* store:finish_execution(key, status, output, error, cause, stopped)
** -> true | false (not RUNNING) | nil, msg, kind  [-0, +1|3, m] */
static int l_finish_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_exec_rec r;
  lua_Integer key = luaL_checkinteger(L, 2);
  int rc;
  memset(&r, 0, sizeof(r));
  r.status = luaL_checkstring(L, 3);
  r.output = optstr(L, 4, &r.output_len);
  r.error = optstr(L, 5, &r.error_len);
  r.cause = optstr(L, 6, &r.cause_len);
  r.stopped = luaL_checkinteger(L, 7);
  rc = stepflow_store_finish_exec(st, key, &r);
  return pushdone(L, st, rc);
}

/* store:redrive_execution(key, date)
** -> true | false (no ended, unsuccessful execution) | nil, msg, kind
** [-0, +1|3, m] */
static int l_redrive_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  lua_Integer key = luaL_checkinteger(L, 2);
  return pushdone(L, st, stepflow_store_redrive_exec(st, key, luaL_checkinteger(L, 3)));
}

static int push_exec_result (lua_State *L, stepflow_store *st, int rc,
                             const stepflow_exec_rec *r) {
  if (rc == STEPFLOW_STORE_NOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  push_exec(L, r);
  stepflow_store_end(st);
  return 1;
}

/* store:get_execution(arn) -> record | nil[, msg]  [-0, +1|2, m] */
static int l_get_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_exec_rec r;
  int rc = stepflow_store_get_exec(st, luaL_checkstring(L, 2), &r);
  return push_exec_result(L, st, rc, &r);
}

/* store:find_execution(sm_arn, name) -> record | nil[, msg]  [-0, +1|2, m] */
static int l_find_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_exec_rec r;
  const char *sm = luaL_checkstring(L, 2);
  int rc = stepflow_store_find_exec(st, sm, luaL_checkstring(L, 3), &r);
  return push_exec_result(L, st, rc, &r);
}

/* Pushes the rows of the execution iteration begun on st as an array,
** or nil, msg, kind.  [-0, +1|3, m] */
static int push_exec_rows (lua_State *L, stepflow_store *st) {
  stepflow_exec_rec r;
  lua_Integer n = 0;
  int rc;
  lua_newtable(L);
  while ((rc = stepflow_store_list_exec_next(st, &r)) == 1) {
    push_exec(L, &r);
    lua_rawseti(L, -2, ++n);
  }
  if (rc != 0) return pushfail(L, st, rc);
  return 1;
}

/* store:list_executions(status|nil, sm_arn|nil, limit|nil[, qualified|nil
**   [, redriven|nil]]) -> array (newest first) | nil, msg  [-0, +1|2, m]
** qualified (a version or alias ARN) and redriven (a boolean) need
** sm_arn. */
static int l_list_exec (lua_State *L) {
  stepflow_store *st = checkstore(L);
  size_t len;
  const char *status = optstr(L, 2, &len);
  const char *sm = optstr(L, 3, &len);
  lua_Integer limit = luaL_optinteger(L, 4, 0);
  const char *qualified = optstr(L, 5, &len);
  int redriven = lua_isnoneornil(L, 6) ? -1 : lua_toboolean(L, 6);
  if (qualified != NULL || redriven >= 0) {
    luaL_argcheck(L, sm != NULL, 3, "a state machine ARN is needed");
    stepflow_store_list_exec_of_begin(st, status, sm, qualified, redriven,
                                      limit);
  }
  else stepflow_store_list_exec_begin(st, status, sm, limit);
  return push_exec_rows(L, st);
}

/* store:append(key, id, prev_id, timestamp_ms, type, details)
** -> true | nil, msg, kind ("exists": duplicate event id)  [-0, +1|3, m] */
static int l_append (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_event_rec ev;
  lua_Integer key = luaL_checkinteger(L, 2);
  int rc;
  ev.id = luaL_checkinteger(L, 3);
  ev.prev_id = luaL_checkinteger(L, 4);
  ev.timestamp = luaL_checkinteger(L, 5);
  ev.type = luaL_checkstring(L, 6);
  ev.details = luaL_checklstring(L, 7, &ev.details_len);
  rc = stepflow_store_append(st, key, &ev);
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:commit() -> true | nil, msg  [-0, +1|3, m] */
static int l_commit (lua_State *L) {
  stepflow_store *st = checkstore(L);
  int rc = stepflow_store_commit(st);
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:pending() -> number of uncommitted writes  [-0, +1, -] */
static int l_pending (lua_State *L) {
  lua_pushinteger(L, stepflow_store_pending(checkstore(L)));
  return 1;
}

/* store:history(key, after, limit, reverse) -> array | nil, msg
** [-0, +1|2, m] */
static int l_history (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_event_rec ev;
  lua_Integer key = luaL_checkinteger(L, 2);
  lua_Integer after = luaL_optinteger(L, 3, 0);
  lua_Integer limit = luaL_optinteger(L, 4, 0), n = 0;
  int rc;
  lua_newtable(L);
  rc = stepflow_store_history_begin(st, key, after, limit,
                                    lua_toboolean(L, 5));
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  while ((rc = stepflow_store_history_next(st, &ev)) == 1) {
    push_event(L, &ev);
    lua_rawseti(L, -2, ++n);
  }
  if (rc != 0) return pushfail(L, st, rc);
  return 1;
}

/* store:stops() -> array of {arn=, error=, cause=, requested=} | nil, msg */
static int l_stops (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_stop_rec r;
  lua_Integer n = 0;
  int rc;
  lua_newtable(L);
  stepflow_store_stops_begin(st);
  while ((rc = stepflow_store_stops_next(st, &r)) == 1) {
    lua_createtable(L, 0, 4);
    setstr(L, "arn", r.arn, strlen(r.arn));
    setstr(L, "error", r.error, r.error_len);
    setstr(L, "cause", r.cause, r.cause_len);
    setint(L, "requested", r.requested);
    lua_rawseti(L, -2, ++n);
  }
  if (rc != 0) return pushfail(L, st, rc);
  return 1;
}

/* store:delete_stop(arn) -> true | nil, msg, kind */
static int l_delete_stop (lua_State *L) {
  stepflow_store *st = checkstore(L);
  int rc = stepflow_store_delete_stop(st, luaL_checkstring(L, 2));
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:put_stop(arn, error, cause, requested_ms) -> true | nil, msg, kind */
static int l_put_stop (lua_State *L) {
  stepflow_store *st = checkstore(L);
  int rc = stepflow_store_put_stop(st, luaL_checkstring(L, 2),
                                   luaL_optstring(L, 3, NULL),
                                   luaL_optstring(L, 4, NULL),
                                   luaL_checkinteger(L, 5));
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:running_after(key) -> array of records (keys kept) | nil, msg */
static int l_running_after (lua_State *L) {
  stepflow_store *st = checkstore(L);
  stepflow_store_running_after_begin(st, luaL_checkinteger(L, 2));
  return push_exec_rows(L, st);
}

/* store:put_resource(kind, arn, data) -> true | nil, msg, kind */
static int l_put_res (lua_State *L) {
  stepflow_store *st = checkstore(L);
  size_t len;
  const char *data = luaL_checklstring(L, 4, &len);
  int rc = stepflow_store_put_resource(st, luaL_checkstring(L, 2),
                                       luaL_checkstring(L, 3), data, len);
  if (rc != STEPFLOW_STORE_OK) return pushfail(L, st, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:get_resource(kind, arn) -> data | nil | nil, msg, kind */
static int l_get_res (lua_State *L) {
  stepflow_store *st = checkstore(L);
  const char *data;
  size_t len;
  int rc = stepflow_store_get_resource(st, luaL_checkstring(L, 2),
                                       luaL_checkstring(L, 3), &data, &len);
  return pushtext(L, st, rc, data, len);
}

/* store:delete_resource(kind, arn) -> true | false | nil, msg, kind */
static int l_del_res (lua_State *L) {
  stepflow_store *st = checkstore(L);
  return pushdone(L, st, stepflow_store_delete_resource(st, luaL_checkstring(L, 2),
                                                         luaL_checkstring(L, 3)));
}

/* store:resources(kind) -> {{arn=, data=}...} | nil, msg, kind */
static int l_resources (lua_State *L) {
  stepflow_store *st = checkstore(L);
  const char *arn, *data;
  size_t len;
  lua_Integer n = 0;
  int rc;
  luaL_checkstring(L, 2);
  lua_newtable(L);
  stepflow_store_resources_begin(st, lua_tostring(L, 2));
  while ((rc = stepflow_store_resources_next(st, &arn, &data, &len)) == 1) {
    lua_createtable(L, 0, 2);
    setstr(L, "arn", arn, strlen(arn));
    setstr(L, "data", data, len);
    lua_rawseti(L, -2, ++n);
  }
  if (rc != 0) return pushfail(L, st, rc);
  return 1;
}

static const luaL_Reg store_methods[] = {
  {"put_state_machine", l_put_sm},
  {"delete_state_machine", l_del_sm},
  {"get_state_machine", l_get_sm},
  {"list_state_machines", l_list_sm},
  {"create_execution", l_create_exec},
  {"finish_execution", l_finish_exec},
  {"redrive_execution", l_redrive_exec},
  {"get_execution", l_get_exec},
  {"find_execution", l_find_exec},
  {"list_executions", l_list_exec},
  {"append", l_append},
  {"commit", l_commit},
  {"pending", l_pending},
  {"history", l_history},
  {"get_definition", l_get_def},
  {"stops", l_stops},
  {"delete_stop", l_delete_stop},
  {"put_stop", l_put_stop},
  {"running_after", l_running_after},
  {"put_resource", l_put_res},
  {"get_resource", l_get_res},
  {"delete_resource", l_del_res},
  {"resources", l_resources},
  {"close", l_close},
  {NULL, NULL}
};

static const luaL_Reg store_meta[] = {
  {"__gc", l_gc},
  {"__close", l_gc},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"open", l_open},
  {NULL, NULL}
};

STEPFLOW_EXPORT int luaopen_stepflow_core_store (lua_State *L) {
  luaL_newmetatable(L, STORE_MT);
  luaL_setfuncs(L, store_meta, 0);
  luaL_newlib(L, store_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_pushinteger(L, STEPFLOW_STORE_VERSION);
  lua_setfield(L, -2, "VERSION");
  return 1;
}
