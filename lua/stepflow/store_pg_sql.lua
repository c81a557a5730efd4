--- The SQL of the PostgreSQL store (lua/stepflow/store_pg.lua): its
-- schema, in the PostgreSQL schema `stepflow`, and its prepared
-- statements. docs/STORE.md ("PostgreSQL") explains the tables and the
-- lease protocol that the statements implement.
local M = {}

--- Schema version this build writes and reads (2: the executions'
-- versions, aliases and redrives, added to a version 1 database at its
-- first writable open).
M.VERSION = 2

local STATUS = "status = 'RUNNING' OR status = 'SUCCEEDED' OR status = 'FAILED' OR "
  .. "status = 'TIMED_OUT' OR status = 'ABORTED'"

--- The statements that create the schema, run in one transaction under an
-- advisory lock (two engines starting on an empty database at once).
M.SCHEMA = {
  "SELECT pg_advisory_xact_lock(1397115991)",  -- "SFLW"
  "CREATE SCHEMA IF NOT EXISTS stepflow",
  "CREATE TABLE IF NOT EXISTS stepflow.meta (application text PRIMARY KEY, version int NOT NULL)",
  "CREATE TABLE IF NOT EXISTS stepflow.state_machines (arn text PRIMARY KEY, name text NOT NULL, "
    .. "definition text NOT NULL, type text NOT NULL CHECK (type = 'STANDARD' OR type = 'EXPRESS'), "
    .. "created bigint NOT NULL, revision bigint NOT NULL DEFAULT 1)",
  "CREATE TABLE IF NOT EXISTS stepflow.definitions (sm_arn text NOT NULL, revision bigint NOT NULL, "
    .. "definition text NOT NULL, created bigint NOT NULL, PRIMARY KEY (sm_arn, revision))",
  -- owner: the engine (stepflow.engines.id) that runs it; epoch: bumped at
  -- every claim, carried by every write (fencing)
  "CREATE TABLE IF NOT EXISTS stepflow.executions (id bigint PRIMARY KEY, arn text NOT NULL UNIQUE, "
    .. "sm_arn text NOT NULL, name text NOT NULL, status text NOT NULL CHECK (" .. STATUS .. "), "
    .. "input text, output text, error text, cause text, started bigint NOT NULL, stopped bigint, "
    .. "revision bigint, owner bigint, epoch bigint NOT NULL DEFAULT 0, UNIQUE (sm_arn, name))",
  -- version 2: the version and alias an execution was started through,
  -- its redrives
  "ALTER TABLE stepflow.executions ADD COLUMN IF NOT EXISTS version_arn text, "
    .. "ADD COLUMN IF NOT EXISTS alias_arn text, "
    .. "ADD COLUMN IF NOT EXISTS redrive_count bigint NOT NULL DEFAULT 0, "
    .. "ADD COLUMN IF NOT EXISTS redrive_date bigint",
  "CREATE INDEX IF NOT EXISTS executions_by_status ON stepflow.executions (status, started)",
  "CREATE INDEX IF NOT EXISTS executions_running ON stepflow.executions (owner, id) "
    .. "WHERE status = 'RUNNING'",
  -- one row per execution per group, as in SQLite; owner and epoch: the
  -- writer (the failover test checks them)
  "CREATE TABLE IF NOT EXISTS stepflow.events (exec bigint NOT NULL, first bigint NOT NULL, "
    .. "last bigint NOT NULL, data text NOT NULL, owner bigint, epoch bigint NOT NULL, "
    .. "PRIMARY KEY (exec, first))",
  "CREATE TABLE IF NOT EXISTS stepflow.stop_requests (arn text PRIMARY KEY, error text, cause text, "
    .. "requested bigint NOT NULL)",
  -- one row per engine process: its lease, on the server's clock
  "CREATE TABLE IF NOT EXISTS stepflow.engines (id bigint PRIMARY KEY, pid int, host text, "
    .. "started timestamptz NOT NULL DEFAULT clock_timestamp(), expires timestamptz NOT NULL)",
  -- engine ids and blocks of execution ids
  "CREATE SEQUENCE IF NOT EXISTS stepflow.ids",
  -- Renews an engine's lease, or raises SF001 when it has expired (or
  -- the engine row is gone): the last statement of every group of an
  -- engine, so that a group of an engine past its lease never commits.
  [[CREATE OR REPLACE FUNCTION stepflow.renew(me bigint, ms bigint) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE stepflow.engines SET expires = clock_timestamp() + ms * interval '1 millisecond'
        WHERE id = me AND expires > clock_timestamp();
      IF NOT FOUND THEN
        RAISE EXCEPTION 'stepflow: the lease of engine % has expired', me USING ERRCODE = 'SF001';
      END IF;
    END $$]],
  -- what the server keeps beside the engine's tables (docs/STORE.md
  -- "Resources"): JSON documents by kind and ARN, in first-put order
  "CREATE TABLE IF NOT EXISTS stepflow.resources (seq bigserial PRIMARY KEY, kind text NOT NULL, "
    .. "arn text NOT NULL, data text NOT NULL, UNIQUE (kind, arn))",
  "INSERT INTO stepflow.meta VALUES ('stepflow', " .. M.VERSION .. ") ON CONFLICT DO NOTHING",
  "UPDATE stepflow.meta SET version = " .. M.VERSION .. " WHERE application = 'stepflow' AND version < "
    .. M.VERSION,
}

local EXEC_COLS = "id, arn, sm_arn, name, status, input, output, error, cause, started, stopped, "
  .. "revision, owner, epoch, version_arn, alias_arn, redrive_count, redrive_date"
M.EXEC_COLS = EXEC_COLS
local SM_COLS = "arn, name, definition, type, created, revision"

-- Claimable: RUNNING, and unowned, or owned by an engine whose lease has
-- expired (its row locked first: "dead"), or whose row is gone. Locking
-- the dead engine's row is what fences it: its groups end by renewing
-- that row (stepflow.renew), so a group in flight either renewed before
-- (then the engine is not dead) or waits for the claim and fails.
local DEAD = "WITH dead AS (SELECT id FROM stepflow.engines WHERE expires <= clock_timestamp() "
  .. "FOR UPDATE SKIP LOCKED) "
local CLAIMABLE = "SELECT x.id FROM stepflow.executions x WHERE x.status = 'RUNNING' AND (x.owner IS NULL "
  .. "OR x.owner IN (SELECT id FROM dead) "
  .. "OR NOT EXISTS (SELECT 1 FROM stepflow.engines g WHERE g.id = x.owner)) "

--- Prepared statements: name -> SQL.
M.STATEMENTS = {
  begin = "BEGIN",
  commit = "COMMIT",
  rollback = "ROLLBACK",
  version = "SELECT version FROM stepflow.meta WHERE application = 'stepflow'",
  next_id = "SELECT nextval('stepflow.ids')",
  -- the group's writes
  new_exec = "INSERT INTO stepflow.executions (id, arn, sm_arn, name, status, input, started, revision, "
    .. "owner, epoch, version_arn, alias_arn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
    .. "ON CONFLICT DO NOTHING",
  -- an ended, unsuccessful execution runs again, owned by the engine that
  -- redrives it (its epoch known: the epoch read + 1)
  redrive = "UPDATE stepflow.executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, "
    .. "stopped = NULL, redrive_count = redrive_count + 1, redrive_date = $2, owner = $3, epoch = $4 + 1 "
    .. "WHERE id = $1 AND epoch = $4 AND (status = 'FAILED' OR status = 'TIMED_OUT' OR status = 'ABORTED')",
  -- fenced: written only while the execution's owner and epoch are the
  -- writer's (a claim committed after this check makes the group fail
  -- at its renewal: see DEAD)
  append = "INSERT INTO stepflow.events (exec, first, last, data, owner, epoch) "
    .. "SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM stepflow.executions "
    .. "WHERE id = $1 AND owner IS NOT DISTINCT FROM $5 AND epoch = $6)",
  finish = "UPDATE stepflow.executions SET status = $2, output = $3, error = $4, cause = $5, "
    .. "stopped = $6 WHERE id = $1 AND status = 'RUNNING' AND owner IS NOT DISTINCT FROM $7 AND epoch = $8",
  renew_in_group = "SELECT stepflow.renew($1, $2)",
  put_stop = "INSERT INTO stepflow.stop_requests (arn, error, cause, requested) VALUES ($1, $2, $3, $4) "
    .. "ON CONFLICT (arn) DO UPDATE SET error = excluded.error, cause = excluded.cause, "
    .. "requested = excluded.requested",
  del_stop = "DELETE FROM stepflow.stop_requests WHERE arn = $1",
  put_res = "INSERT INTO stepflow.resources (kind, arn, data) VALUES ($1, $2, $3) "
    .. "ON CONFLICT (kind, arn) DO UPDATE SET data = excluded.data",
  get_res = "SELECT data FROM stepflow.resources WHERE kind = $1 AND arn = $2",
  del_res = "DELETE FROM stepflow.resources WHERE kind = $1 AND arn = $2",
  list_res = "SELECT arn, data FROM stepflow.resources WHERE kind = $1 ORDER BY seq",
  notify = "SELECT pg_notify('stepflow', $1)",
  put_sm_lock = "SELECT pg_advisory_xact_lock(hashtext($1))",
  put_sm = "WITH cur AS (SELECT definition, revision FROM stepflow.state_machines WHERE arn = $1), "
    .. "nr AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 1 "
    .. "WHEN (SELECT definition FROM cur) = $3 THEN (SELECT revision FROM cur) "
    .. "ELSE (SELECT revision FROM cur) + 1 END AS rev), "
    .. "up AS (INSERT INTO stepflow.state_machines (" .. SM_COLS .. ") SELECT $1, $2, $3, $4, $5, rev "
    .. "FROM nr ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition = excluded.definition, "
    .. "type = excluded.type, revision = excluded.revision), "
    .. "d AS (INSERT INTO stepflow.definitions (sm_arn, revision, definition, created) "
    .. "SELECT $1, rev, $3, $5 FROM nr ON CONFLICT DO NOTHING) SELECT rev FROM nr",
  del_sm = "DELETE FROM stepflow.state_machines WHERE arn = $1",
  -- reads
  get_sm = "SELECT " .. SM_COLS .. " FROM stepflow.state_machines WHERE arn = $1",
  list_sm = "SELECT " .. SM_COLS .. " FROM stepflow.state_machines ORDER BY created, arn",
  get_def = "SELECT definition FROM stepflow.definitions WHERE sm_arn = $1 AND revision = $2",
  get_exec = "SELECT " .. EXEC_COLS .. " FROM stepflow.executions WHERE arn = $1",
  find_exec = "SELECT " .. EXEC_COLS .. " FROM stepflow.executions WHERE sm_arn = $1 AND name = $2",
  -- two index look-ups (an OR of both would scan the table)
  taken = "SELECT 1 WHERE EXISTS (SELECT 1 FROM stepflow.executions WHERE arn = $1) "
    .. "OR EXISTS (SELECT 1 FROM stepflow.executions WHERE sm_arn = $2 AND name = $3)",
  list_exec = "SELECT " .. EXEC_COLS .. " FROM stepflow.executions WHERE ($1::text IS NULL OR status = $1) "
    .. "AND ($2::text IS NULL OR sm_arn = $2) AND ($4::text IS NULL OR version_arn = $4 OR alias_arn = $4) "
    .. "AND ($5::boolean IS NULL OR (redrive_count > 0) = $5) ORDER BY started DESC, id DESC LIMIT $3",
  running_after = "SELECT " .. EXEC_COLS .. " FROM stepflow.executions WHERE status = 'RUNNING' AND id > $1 "
    .. "ORDER BY id",
  hist_asc = "SELECT data FROM stepflow.events WHERE exec = $1 AND last > $2 ORDER BY first",
  hist_desc = "SELECT data FROM stepflow.events WHERE exec = $1 AND first < $2 ORDER BY first DESC",
  hist_many = "SELECT exec, data FROM stepflow.events WHERE exec = ANY($1::bigint[]) ORDER BY exec, first",
  last_event = "SELECT last FROM stepflow.events WHERE exec = $1 ORDER BY first DESC LIMIT 1",
  stops = "SELECT arn, error, cause, requested FROM stepflow.stop_requests ORDER BY requested, arn",
  -- the stop requests an engine acts on: those of executions it owns, and
  -- those of executions that ended (dropped)
  owned_stops = "SELECT s.arn, s.error, s.cause, s.requested, e.status FROM stepflow.stop_requests s "
    .. "JOIN stepflow.executions e ON e.arn = s.arn WHERE e.owner = $1 OR e.status <> 'RUNNING' "
    .. "ORDER BY s.requested, s.arn",
  -- leases
  register = "INSERT INTO stepflow.engines (id, pid, host, expires) VALUES ($1, $2, $3, "
    .. "clock_timestamp() + $4 * interval '1 millisecond')",
  renew = "UPDATE stepflow.engines SET expires = clock_timestamp() + $2 * interval '1 millisecond' "
    .. "WHERE id = $1 AND expires > clock_timestamp()",
  -- claims a batch: new, unowned and expired executions, skipping those
  -- another engine is claiming or writing right now
  claim = DEAD .. "UPDATE stepflow.executions e SET owner = $1, epoch = e.epoch + 1 WHERE e.id IN ("
    .. CLAIMABLE .. "ORDER BY x.id LIMIT $2 FOR UPDATE OF x SKIP LOCKED) RETURNING "
    .. EXEC_COLS:gsub("([%w_]+)", "e.%1"),
  -- one execution that no engine runs, taken to stop it
  take = DEAD .. "UPDATE stepflow.executions e SET owner = $2, epoch = e.epoch + 1 WHERE e.id IN ("
    .. CLAIMABLE .. "AND x.arn = $1 FOR UPDATE OF x SKIP LOCKED) RETURNING e.id, e.epoch",
  -- the rows of dead engines that own nothing running any more (killed
  -- processes leave theirs)
  reap = "DELETE FROM stepflow.engines g WHERE g.expires <= clock_timestamp() AND NOT EXISTS "
    .. "(SELECT 1 FROM stepflow.executions e WHERE e.owner = g.id AND e.status = 'RUNNING')",
  -- a clean exit hands the executions over at once
  release = "UPDATE stepflow.executions SET owner = NULL WHERE owner = $1 AND status = 'RUNNING'",
  unregister = "DELETE FROM stepflow.engines WHERE id = $1",
  listen = "LISTEN stepflow",
}

return M
