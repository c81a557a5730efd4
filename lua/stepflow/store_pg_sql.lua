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
  -- answers to task tokens received by an engine that does not run the
  -- task: applied (and deleted) by the owner of `exec` (docs/STORE.md
  -- "Task tokens and activity tasks"); `final`: success or failure
  "CREATE TABLE IF NOT EXISTS stepflow.task_answers (seq bigserial PRIMARY KEY, token text NOT NULL, "
    .. "exec bigint NOT NULL, answer text NOT NULL, final boolean NOT NULL)",
  "CREATE INDEX IF NOT EXISTS task_answers_by_exec ON stepflow.task_answers (exec)",
  -- activity tasks waiting for a worker of any engine: queued by the
  -- owner of `exec`, claimed by the engine a worker polls (`poller`),
  -- accepted by the owner (starting), then started (ActivityStarted
  -- committed), and deleted when the poller answers its worker
  "CREATE TABLE IF NOT EXISTS stepflow.activity_tasks (seq bigserial PRIMARY KEY, activity text NOT NULL, "
    .. "token text NOT NULL UNIQUE, exec bigint NOT NULL, input text NOT NULL, state text NOT NULL "
    .. "DEFAULT 'queued' CHECK (state = 'queued' OR state = 'claimed' OR state = 'starting' OR "
    .. "state = 'started'), poller bigint, worker text)",
  "CREATE INDEX IF NOT EXISTS activity_tasks_queued ON stepflow.activity_tasks (activity, seq) "
    .. "WHERE state = 'queued'",
  "CREATE INDEX IF NOT EXISTS activity_tasks_by_exec ON stepflow.activity_tasks (exec)",
  "CREATE INDEX IF NOT EXISTS activity_tasks_by_poller ON stepflow.activity_tasks (poller) "
    .. "WHERE poller IS NOT NULL",
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

-- A write of the owner of execution $K that holds while the owner and the
-- epoch are still the writer's ($O, $E): the fence of every write below.
local function fence(k, o, e)
  return "EXISTS (SELECT 1 FROM stepflow.executions WHERE id = $" .. k .. " AND owner = $" .. o
    .. " AND epoch = $" .. e .. ")"
end

-- Task answers and activity tasks across engines (docs/STORE.md, "Task
-- tokens and activity tasks"). No statement here waits for a row lock
-- another engine may hold across a pause: rows in use are skipped (SKIP
-- LOCKED) and looked at again later.
local S = M.STATEMENTS
-- an answer, judged by the receiving engine, for the owner: refused (no
-- row) when a success or failure already waits for that token
S.put_answer = "WITH ins AS (INSERT INTO stepflow.task_answers (token, exec, answer, final) "
  .. "SELECT $1::text, $2::bigint, $3::text, $4::boolean WHERE NOT ($4::boolean AND EXISTS (SELECT 1 "
  .. "FROM stepflow.task_answers WHERE token = $1::text AND final)) RETURNING seq) "
  .. "SELECT seq, pg_notify('stepflow', 'answer ' || coalesce((SELECT owner FROM stepflow.executions "
  .. "WHERE id = $2::bigint)::text, '')) FROM ins"
-- the answers an owner applies: those of its running executions
S.owned_answers = "SELECT a.seq, a.token, a.answer, e.arn FROM stepflow.task_answers a JOIN "
  .. "stepflow.executions e ON e.id = a.exec WHERE e.owner = $1 AND e.status = 'RUNNING' ORDER BY a.seq"
-- an applied answer goes in the group that records what it did
S.del_answer = "DELETE FROM stepflow.task_answers WHERE seq = $1 AND " .. fence(2, 3, 4)
S.answer_waits = "SELECT 1 FROM stepflow.task_answers WHERE seq = $1"
-- a task queued for a worker, in the group of its ActivityScheduled; the
-- same task queued again after a takeover keeps its row
S.act_put = "INSERT INTO stepflow.activity_tasks (activity, token, exec, input) SELECT $1, $2, $3, $4 "
  .. "WHERE " .. fence(3, 5, 6) .. " ON CONFLICT (token) DO NOTHING"
-- a poller takes the oldest queued task of an activity for one worker;
-- one of its own executions is accepted at once (starting), the owner of
-- another is told
S.act_claim = "WITH t AS (SELECT a.seq FROM stepflow.activity_tasks a JOIN stepflow.executions e "
  .. "ON e.id = a.exec WHERE a.activity = $1 AND a.state = 'queued' AND e.status = 'RUNNING' "
  .. "ORDER BY a.seq LIMIT 1 FOR UPDATE OF a SKIP LOCKED) "
  .. "UPDATE stepflow.activity_tasks a SET poller = $2, worker = $3, state = CASE WHEN e.owner = $2 "
  .. "THEN 'starting' ELSE 'claimed' END FROM t, stepflow.executions e WHERE a.seq = t.seq AND e.id = a.exec "
  .. "RETURNING a.seq, a.state, a.token, CASE WHEN e.owner IS DISTINCT FROM $2 THEN "
  .. "pg_notify('stepflow', 'claimed ' || coalesce(e.owner::text, '')) END"
-- the claims an owner acts on, with whether each poller's lease holds
S.act_claims = "SELECT a.seq, a.token, a.state, a.poller, a.worker, e.arn, "
  .. "coalesce(g.expires > clock_timestamp(), false) FROM stepflow.activity_tasks a "
  .. "JOIN stepflow.executions e ON e.id = a.exec LEFT JOIN stepflow.engines g ON g.id = a.poller "
  .. "WHERE e.owner = $1 AND e.status = 'RUNNING' AND (a.state = 'claimed' OR a.state = 'starting') "
  .. "ORDER BY a.seq"
-- the owner accepts a claim: from now on the poller cannot give it back
S.act_accept = "UPDATE stepflow.activity_tasks SET state = 'starting' WHERE seq IN (SELECT seq FROM "
  .. "stepflow.activity_tasks WHERE seq = $1 AND state = 'claimed' AND poller = $2 FOR UPDATE SKIP LOCKED) "
  .. "AND " .. fence(3, 4, 5)
-- in the group of its ActivityStarted; the poller is told at commit
S.act_started = "UPDATE stepflow.activity_tasks SET state = 'started' WHERE seq = $1 AND state = 'starting' "
  .. "AND " .. fence(2, 3, 4) .. " RETURNING pg_notify('stepflow', 'started ' || poller)"
-- the owner gives back the claim of a poller whose lease expired
S.act_requeue = "WITH r AS (UPDATE stepflow.activity_tasks SET state = 'queued', poller = NULL, "
  .. "worker = NULL WHERE seq IN (SELECT seq FROM stepflow.activity_tasks WHERE seq = $1 AND poller = $2 "
  .. "AND (state = 'claimed' OR state = 'starting') FOR UPDATE SKIP LOCKED) AND " .. fence(3, 4, 5)
  .. " RETURNING activity) SELECT pg_notify('stepflow', 'activity ' || activity) FROM r"
-- a task that ended before a worker had it (a timeout, its execution
-- stopped), in the group that records that; a poller that claimed it
-- is told
S.act_delete = "DELETE FROM stepflow.activity_tasks WHERE token = $1 AND " .. fence(2, 3, 4)
  .. " RETURNING CASE WHEN poller IS NOT NULL THEN pg_notify('stepflow', 'lost ' || poller) END"
-- the same for a poll that waits for nothing (engine:get_activity_task):
-- only tasks of the poller's own executions, handed out at once
S.act_claim_own = "WITH t AS (SELECT a.seq FROM stepflow.activity_tasks a JOIN stepflow.executions e "
  .. "ON e.id = a.exec WHERE a.activity = $1 AND a.state = 'queued' AND e.status = 'RUNNING' AND e.owner = $2 "
  .. "ORDER BY a.seq LIMIT 1 FOR UPDATE OF a SKIP LOCKED) "
  .. "UPDATE stepflow.activity_tasks a SET poller = $2, worker = $3, state = 'starting' FROM t "
  .. "WHERE a.seq = t.seq RETURNING a.seq, a.token"
-- ... whose row goes in the group of its ActivityStarted
S.act_taken = "DELETE FROM stepflow.activity_tasks WHERE seq = $1 AND " .. fence(2, 3, 4)
-- a poller answers its workers with the tasks whose start is committed
S.act_pickup = "DELETE FROM stepflow.activity_tasks WHERE seq IN (SELECT seq FROM stepflow.activity_tasks "
  .. "WHERE poller = $1 AND state = 'started' FOR UPDATE SKIP LOCKED) RETURNING seq, token, input"
-- a poller gives a claim back that its owner has not accepted (the
-- worker's poll ended, or its connection closed)
S.act_release = "WITH r AS (UPDATE stepflow.activity_tasks SET state = 'queued', poller = NULL, "
  .. "worker = NULL WHERE seq IN (SELECT seq FROM stepflow.activity_tasks WHERE seq = $1 AND poller = $2 "
  .. "AND state = 'claimed' FOR UPDATE SKIP LOCKED) RETURNING activity) "
  .. "SELECT pg_notify('stepflow', 'activity ' || activity) FROM r"
-- what became of a poller's claims (a claim missing: its task ended)
S.act_mine = "SELECT seq, state FROM stepflow.activity_tasks WHERE poller = $1"
-- rows nobody will use: of ended executions, and started tasks whose
-- poller's lease expired (in the claims' transaction)
S.reap_tasks = "DELETE FROM stepflow.activity_tasks WHERE seq IN (SELECT a.seq FROM stepflow.activity_tasks a "
  .. "JOIN stepflow.executions e ON e.id = a.exec WHERE e.status <> 'RUNNING' OR (a.state = 'started' AND "
  .. "NOT EXISTS (SELECT 1 FROM stepflow.engines g WHERE g.id = a.poller AND g.expires > clock_timestamp())) "
  .. "FOR UPDATE OF a SKIP LOCKED)"
S.reap_answers = "DELETE FROM stepflow.task_answers WHERE seq IN (SELECT a.seq FROM stepflow.task_answers a "
  .. "JOIN stepflow.executions e ON e.id = a.exec WHERE e.status <> 'RUNNING' FOR UPDATE OF a SKIP LOCKED)"

return M
