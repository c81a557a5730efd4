--- stepflow.store on PostgreSQL: the store interface of docs/STORE.md on a
-- database that several engine processes share, plus what sharing needs
-- (leases, claims, fencing, notifications: used by stepflow.lease).
--
-- A group's writes are kept in memory and sent at commit as one pipelined
-- batch (one round trip, one WAL flush): `commit()` waits for it,
-- `commit_async(fn)` lets the engine's loop go on and calls fn when the
-- answer arrives (the socket is watched by the loop). A read in the
-- middle of a group first sends the group's writes inside the open
-- transaction, so that reads see them, as on SQLite. Every write of an
-- execution is fenced by its owner and epoch: a write whose execution was
-- claimed by another engine is not applied, and the commit reports the
-- execution as lost. Messages name the store as "store: postgresql: ...".
local pg = require("stepflow.core.pg")
local sql = require("stepflow.store_pg_sql")
local checks = require("stepflow.store_checks")
local check_string, check_ms, check_table = checks.string, checks.ms, checks.table

local type, error, setmetatable, tostring = type, error, setmetatable, tostring
local math_type, format, concat, tointeger = math.type, string.format, table.concat, math.tointeger

local M = {}

M.VERSION = sql.VERSION

-- Ids of executions come in blocks of this size from the sequence.
local BLOCK = 1 << 20

local Store = {}
Store.__index = Store
Store.__name = "stepflow.Store"

-- The execution record of a row (EXEC_COLS order); caches the internal
-- key and the epoch of RUNNING executions. A write carries the writer's
-- own engine id (none for a process that is not an engine) and the epoch
-- it knows: it is applied only while both still hold.
local function exec_rec(self, r)
  local rec = {
    arn = r[2], sm_arn = r[3], name = r[4], status = r[5], input = r[6], output = r[7],
    error = r[8], cause = r[9], started = tointeger(r[10]),
    stopped = r[11] and tointeger(r[11]), revision = r[12] and tointeger(r[12]),
    version_arn = r[15], alias_arn = r[16], redrive_count = r[17] and r[17] ~= "0" and tointeger(r[17]) or nil,
    redrive_date = r[18] and tointeger(r[18]),
  }
  local key = tointeger(r[1])
  if rec.status == "RUNNING" and self._keys[rec.arn] == nil then
    self._keys[rec.arn] = key
    self._epoch[key] = tointeger(r[14])
  end
  return rec, key
end

local function sm_rec(r)
  return { arn = r[1], name = r[2], definition = r[3], type = r[4], created = tointeger(r[5]),
    revision = tointeger(r[6]) }
end

local function check_open(self)
  if self._closed then error("attempt to use a closed store", 3) end
end

-- Remembers a failure of the database (not a refused row) and returns
-- nil, message, kind.
local function failed(self, err, kind)
  kind = kind or "io"
  self._failure = { kind = kind, message = err }
  return nil, err, kind
end

---------------------------------------------------------------- batches

-- Sends a batch and waits for its results (blocking: open, reads, and
-- the synchronous commit). A batch of the loop in flight is finished
-- first (its completion runs on the loop's next turn).
local function run(self, batch)
  self:_drain()
  local ok, err = self._conn:send(batch)
  if not ok then return failed(self, err) end
  local results
  results, err = self._conn:wait()
  if not results then return failed(self, err) end
  self:_after(results)
  -- batches of the loop held back while a transaction was open
  if not self._inflight and not self._open_txn and self._queue[1] then self:_start_next() end
  -- notifications that arrived meanwhile were read with the answer: the
  -- socket will not tell the loop of them
  if self._on_notify and not self._notify_posted then
    self._notify_posted = true
    self._loop:call(function()
      self._notify_posted = false
      if not self._closed then self:_notifications() end
    end)
  end
  return results
end

-- The first error of a batch's results, or nil.
local function first_error(results)
  for i = 1, #results do
    local r = results[i]
    if r.error and not r.aborted then return r end
  end
  return nil
end

-- Runs one read statement: its rows, or nil, message, kind. Inside the
-- open group (its writes sent first), so that it sees them.
local function read(self, stmt)
  check_open(self)
  local batch = self:_flush_group()
  batch[#batch + 1] = stmt
  local results, err, kind = run(self, batch)
  if not results then return nil, err, kind end
  local bad = self:_take_flushed(batch, results, #batch - 1)
  local r = results[#batch]
  if bad then return failed(self, bad.error, bad.sqlstate == "SF001" and "lease" or "error") end
  if r.error then return failed(self, r.error, "error") end
  return r.rows
end

---------------------------------------------------------------- open

--- Opens the store of a database (creating its schema when the database
-- has none). opts: read_only (no writes), client (records executions for
-- the engines that run the database), verify (ignored: PostgreSQL checks
-- its pages itself). Returns the store, or nil, message, {kind = ...}.
function M.open(url, opts)
  opts = opts or {}
  local conn, err = pg.connect(url)
  if not conn then return nil, err, { kind = "io" } end
  local self = setmetatable({
    _conn = conn, path = url, shared = true, async = true, read_only = opts.read_only and true or false,
    _keys = {},        -- ARN -> internal key (RUNNING executions seen)
    _epoch = {},       -- key -> epoch the writes of this store carry
    _last = {},        -- key -> last event id (stored or pending)
    _ops = {},         -- statements of the open group not sent yet
    _events = {},      -- key -> pending event rows: { first =, last =, parts... }
    _dirty = {},       -- keys with pending events, in order
    _creates = {},     -- ARN and "sm_arn\0name" of this group's new executions
    _lost = {},        -- key -> reason: writes refused in the open group
    _arn_of = {},      -- key -> ARN (for lost executions)
    _pending = 0,
    _txn = false,      -- BEGIN was sent: part of the group is on the server
    _open_txn = false, -- the server holds that transaction open until the group's commit
    _queue = {},       -- batches of the loop waiting for the connection
    _inflight = false, -- the batch of the loop in flight: { batch, done }
    _next_id = 0, _id_end = 0,
    owner = false,     -- this engine's id once registered (leases)
    lease_ms = false,
  }, Store)
  -- the schema (every open checks it; creating it takes an advisory lock)
  local batch = { { sql = "BEGIN" } }
  if not self.read_only then
    for _, text in ipairs(sql.SCHEMA) do batch[#batch + 1] = { sql = text } end
  end
  batch[#batch + 1] = { sql = "SELECT version FROM stepflow.meta WHERE application = 'stepflow'" }
  batch[#batch + 1] = { sql = "COMMIT" }
  local results
  results, err = run(self, batch)
  if not results then conn:close(); return nil, err, { kind = "io" } end
  local bad = first_error(results)
  if bad then
    conn:close()
    if bad.sqlstate == "3F000" or bad.sqlstate == "42P01" then  -- no schema or table (read-only)
      return nil, "store: postgresql: " .. url .. ": no stepflow store in this database", { kind = "not_found" }
    end
    return nil, bad.error, { kind = bad.sqlstate == "42501" and "denied" or "error" }
  end
  local version = tointeger((results[#results - 1].rows[1] or {})[1])
  if version ~= sql.VERSION then
    conn:close()
    if version and version > sql.VERSION then
      return nil, "store: postgresql: " .. url .. ": written by a newer stepflow (store version " ..
        version .. ", this build reads up to " .. sql.VERSION .. "); left untouched",
        { kind = "newer_version", version = version }
    end
    if version and version >= 1 then
      -- only a writable open adds what a newer version needs
      return nil, "store: postgresql: " .. url .. ": store version " .. version .. " needs an upgrade to "
        .. "version " .. sql.VERSION .. ", which a read-only open cannot do; open it once read-write "
        .. "to upgrade it", { kind = "needs_upgrade", version = version }
    end
    return nil, "store: postgresql: " .. url .. ": not a stepflow store", { kind = "not_ours" }
  end
  for name, text in pairs(sql.STATEMENTS) do
    local ok, perr = conn:prepare(name, text)
    if not ok then conn:close(); return nil, perr, { kind = "error" } end
  end
  return self
end

---------------------------------------------------------------- the loop

--- Lets the engine's loop carry the asynchronous batches: the socket is
-- watched (busy while a batch is in flight, idle while listening for
-- notifications). on_notify(payload) is called for each notification.
function Store:attach(loop, on_notify)
  check_open(self)
  self._loop = loop
  self._on_notify = on_notify or false
  self._watch = loop:watch(self._conn:socket(), function(readable, writable)
    self:_io(readable, writable)
  end)
end

-- What the watch waits for now.
function Store:_arm()
  local w = self._watch
  if not w then return end
  if self._inflight then
    w:want(true, self._writing, true)
  elseif self._listening then
    w:want(true, false, false)
  else
    w:want(false, false)
  end
end

-- Delivers the notifications read so far.
function Store:_notifications()
  local list = self._conn:notifies()
  local fn = self._on_notify
  if fn then
    for i = 1, #list do fn(list[i].payload) end
  end
end

-- The socket is ready: write the rest of the batch, read its answer.
function Store:_io(_, writable)
  if self._closed then return end
  local conn = self._conn
  if writable and self._writing then
    local done, err = conn:flush()
    if done == nil then return self:_broken(err) end
    self._writing = not done
  end
  local results, err = conn:read()
  if results == nil then return self:_broken(err) end
  self:_notifications()
  if results then self:_complete(results) else self:_arm() end
end

-- The connection failed: the batch in flight fails (its transaction is
-- rolled back by the server), and so do the queued ones.
function Store:_broken(err)
  failed(self, err, "io")
  local inflight, queue = self._inflight, self._queue
  self._inflight, self._queue = false, {}
  if self._watch then self._watch:want(false, false) end
  if inflight then inflight.done(nil, err) end
  for i = 1, #queue do queue[i].done(nil, err) end
end

-- After a batch that met an error: a transaction it began stays open
-- and aborted on the server (a sync does not end an explicit block)
-- until a ROLLBACK, which goes before any other batch.
function Store:_after(results)
  for i = 1, #results do
    if results[i].error then
      -- a failure here breaks the connection, which the next call reports
      if self._conn:send({ { "rollback" } }) then self._conn:wait() end
      self._open_txn = false
      return
    end
  end
end

function Store:_complete(results)
  local inflight = self._inflight
  self._inflight = false
  if inflight.ends then self._open_txn = false end
  self:_after(results)
  self:_start_next()
  inflight.done(results)
end

-- The next batch of the loop. While a group's transaction is open on the
-- server (a read in the middle of the group sent its writes), only the
-- commit that ends it may go: any other batch would run inside it (its
-- BEGIN and COMMIT would even commit half of the group), and would hold
-- the group's row locks until then. The others wait for that commit.
function Store:_start_next()
  local item = self._queue[1]
  if not item or (self._open_txn and not item.ends) then return self:_arm() end
  table.remove(self._queue, 1)
  local ok, err = self._conn:send(item.batch)
  if not ok then
    failed(self, err, "io")
    item.done(nil, err)
    return self:_start_next()
  end
  self._inflight = item
  local done
  done, err = self._conn:flush()
  if done == nil then return self:_broken(err) end
  self._writing = not done
  self:_arm()
end

--- Sends a batch on the loop; done(results) or done(nil, message) runs
-- when its answer has arrived (in order with the other batches; a
-- commit that ends an open transaction goes before those held back).
function Store:submit(batch, done, ends)
  check_open(self)
  local q = self._queue
  local item = { batch = batch, done = done, ends = ends or false }
  if ends and self._open_txn then table.insert(q, 1, item) else q[#q + 1] = item end
  if not self._inflight then self:_start_next() end
end

-- Finishes the batches of the loop before a blocking call uses the
-- connection; their completions run on the loop's next turn.
function Store:_drain()
  while self._inflight do
    local results, err = self._conn:wait()
    local item = self._inflight
    self._inflight = false
    if results then self:_after(results) end
    local loop = self._loop
    if loop then
      loop:call(function() item.done(results, err) end)
    else
      item.done(results, err)
    end
    if not results then break end
    if item.ends then self._open_txn = false end
    local nxt = self._queue[1]
    if nxt and not (self._open_txn and not nxt.ends) then
      table.remove(self._queue, 1)
      local ok, serr = self._conn:send(nxt.batch)
      if ok then self._inflight = nxt else nxt.done(nil, serr) end
    end
  end
  self._writing = false
  self:_arm()
end

---------------------------------------------------------------- groups

local function row_text(id, prev, ts, etype, details)
  return format("%d %d %d %s %d\n", id, prev, ts, etype, #details) .. details .. "\n"
end

-- The statements of the open group's writes not yet sent (BEGIN first
-- when the transaction is not open yet), and forgets them: the batch to
-- send. The statements are remembered (self._sent) to read their results.
function Store:_flush_group()
  local batch = {}
  if self._pending == 0 and not self._txn then return batch end
  if not self._txn then
    batch[1] = { "begin" }
    self._open_txn = true
  end
  local ops = self._ops
  for i = 1, #ops do batch[#batch + 1] = ops[i] end
  local dirty, events = self._dirty, self._events
  for i = 1, #dirty do
    local key = dirty[i]
    local e = events[key]
    batch[#batch + 1] = { "append", key, e.first, e.last, concat(e, "", 1, #e), self.owner or nil,
      self._epoch[key] or 0, n = 6 }
  end
  self._ops, self._events, self._dirty = {}, {}, {}
  self._txn = true
  return batch
end

-- Reads the results of the first n statements of a batch made by
-- _flush_group: a write refused by its fence makes its execution lost
-- ("fenced"; "exists": a new execution whose name another engine took
-- meanwhile). Returns the first error, or nil.
function Store:_take_flushed(batch, results, n)
  local bad
  local lost = self._lost
  for i = 1, n do
    local r, st = results[i], batch[i]
    if r.error then
      bad = bad or (not r.aborted and r)
    elseif r.n == 0 then
      local name = st[1]
      if name == "new_exec" then
        lost[st[2]] = "exists"
      elseif (name == "append" or name == "finish") and not lost[st[2]] then
        lost[st[2]] = "fenced"
      end
    end
  end
  return bad
end

-- The batch of a commit: the rest of the group, the lease renewal of an
-- engine, COMMIT. Returns the batch and the statement list to check.
function Store:_commit_batch()
  if self._pending == 0 and not self._txn then return nil end
  local batch = self:_flush_group()
  if self.owner then batch[#batch + 1] = { "renew_in_group", self.owner, self.lease_ms } end
  batch[#batch + 1] = { "commit" }
  -- the next group starts now (an asynchronous commit is in flight)
  local lost = self._lost
  self._lost, self._txn, self._pending, self._creates = {}, false, 0, {}
  return batch, lost
end

-- Interprets a commit's results: true, lost (key -> reason, ARN -> reason
-- as `lost_arns`), or nil, message, kind.
function Store:_commit_done(batch, lost, results, err)
  if not results then
    self:_forget_group()
    return failed(self, err, "io")
  end
  local saved = self._lost
  self._lost = lost
  local bad = self:_take_flushed(batch, results, #batch)
  self._lost = saved
  local last = results[#results]
  if bad or not last or last.tag ~= "COMMIT" then
    self:_forget_group()
    local msg = bad and bad.error or "store: postgresql: commit: the transaction was rolled back"
    return failed(self, msg, bad and bad.sqlstate == "SF001" and "lease" or "error")
  end
  local arns = {}
  for key, why in pairs(lost) do
    local arn = self._arn_of[key]
    if arn then
      arns[arn] = why
      self._keys[arn] = nil
    end
    self._epoch[key], self._last[key] = nil, nil
  end
  return true, arns
end

-- After a failed commit nothing of the group exists: cached ids and keys
-- of executions it created may be wrong.
function Store:_forget_group()
  self._ops, self._events, self._dirty, self._creates = {}, {}, {}, {}
  self._keys, self._last = {}, {}
end

--- Commits the open group and waits for the answer.
-- @return true, or nil, message, kind (kind "lease": this engine's lease
--   had expired, nothing of the group was written)
function Store:commit()
  check_open(self)
  self:_drain()  -- groups commit in order
  local batch, lost = self:_commit_batch()
  if not batch then return true end
  -- (nothing can go between: run sends it at once and waits)
  self._open_txn = false
  local results, err = run(self, batch)
  local ok, lost_or_err, kind = self:_commit_done(batch, lost, results, err)
  if not ok then return nil, lost_or_err, kind end
  self.lost_arns = lost_or_err
  return true
end

--- Commits the open group without waiting: done(true, lost) or
-- done(nil, message, kind) runs on the loop when the answer arrives.
-- `lost` maps the ARN of each execution whose writes were refused
-- ("fenced": claimed by another engine; "exists": a new execution whose
-- name was taken meanwhile) to the reason. Groups commit in order.
function Store:commit_async(done)
  check_open(self)
  local batch, lost = self:_commit_batch()
  if not batch then return done(true, {}) end
  self:submit(batch, function(results, err)
    done(self:_commit_done(batch, lost, results, err))
  end, true)
end

--- Number of writes in the open group.
function Store:pending()
  return self._pending
end

--- Whether a batch of the loop is in flight or queued.
function Store:busy()
  return self._inflight ~= false or #self._queue > 0
end

function Store:last_failure()
  return self._failure
end

local function add_op(self, stmt)
  if self.read_only then return nil, "store: opened read-only" end
  local ops = self._ops
  ops[#ops + 1] = stmt
  self._pending = self._pending + 1
  return true
end

-- A new execution id (from blocks of the sequence).
function Store:_new_id()
  if self._next_id >= self._id_end then
    local rows, err, kind = read(self, { "next_id" })
    if not rows then return nil, err, kind end
    local block = tointeger(rows[1][1])
    self._next_id, self._id_end = block * BLOCK, (block + 1) * BLOCK
    if self._next_id == 0 then self._next_id = 1 end
  end
  local id = self._next_id
  self._next_id = id + 1
  return id
end

---------------------------------------------------------------- writes

function Store:put_state_machine(sm)
  check_open(self)
  check_table("put_state_machine", sm)
  check_string("put_state_machine", "arn", sm.arn)
  check_string("put_state_machine", "name", sm.name)
  check_string("put_state_machine", "definition", sm.definition)
  if sm.type ~= "STANDARD" and sm.type ~= "EXPRESS" then
    error("stepflow.store.put_state_machine: type must be STANDARD or EXPRESS", 2)
  end
  check_ms("put_state_machine", "created", sm.created)
  if self.read_only then return nil, "store: opened read-only" end
  add_op(self, { "put_sm_lock", sm.arn })
  local rows, err, kind = read(self, { "put_sm", sm.arn, sm.name, sm.definition, sm.type, sm.created })
  if not rows then return nil, err, kind end
  self._pending = self._pending + 1
  return tointeger(rows[1][1])
end

function Store:delete_state_machine(arn)
  check_open(self)
  check_string("delete_state_machine", "arn", arn)
  if self.read_only then return nil, "store: opened read-only" end
  local batch = self:_flush_group()
  batch[#batch + 1] = { "del_sm", arn }
  local results, err, kind = run(self, batch)
  if not results then return nil, err, kind end
  local bad = self:_take_flushed(batch, results, #batch - 1) or results[#batch].error and results[#batch]
  if bad then return failed(self, bad.error, "error") end
  self._pending = self._pending + 1
  return results[#batch].n > 0
end

function Store:create_execution(e)
  check_open(self)
  local status = checks.execution(e)
  if self.read_only then return nil, "store: opened read-only" end
  local creates = self._creates
  local pair = e.sm_arn .. "\0" .. e.name
  if creates[e.arn] or creates[pair] then return nil, "ExecutionAlreadyExists" end
  -- a name taken by a committed execution (or one of this group's sent
  -- writes) is refused at once, without sending the group's writes: the
  -- rest of the group was checked above; one taken by another engine's
  -- open group is found at commit (lost: "exists")
  local results, err, kind = run(self, { { "taken", e.arn, e.sm_arn, e.name } })
  if not results then return nil, err, kind end
  if results[1].error then return failed(self, results[1].error, "error") end
  if results[1].rows[1] then return nil, "ExecutionAlreadyExists" end
  local id
  id, err, kind = self:_new_id()  -- a read only once per block of ids
  if not id then return nil, err, kind end
  local epoch = self.owner and 1 or 0
  add_op(self, { "new_exec", id, e.arn, e.sm_arn, e.name, status, e.input, e.started, e.revision,
    self.owner or nil, epoch, e.version_arn, e.alias_arn, n = 12 })
  creates[e.arn], creates[pair] = true, true
  self._arn_of[id] = e.arn
  if status == "RUNNING" then
    self._keys[e.arn] = id
    self._epoch[id] = epoch
    self._last[id] = 0
  end
  return true
end

-- The internal key of an execution (a read when it is not cached).
function Store:_key_of(arn)
  local k = self._keys[arn]
  if k then return k end
  local rows, err, kind = read(self, { "get_exec", arn })
  if not rows then return nil, err, kind end
  if not rows[1] then return nil, "ExecutionDoesNotExist" end
  local _, key = exec_rec(self, rows[1])
  self._arn_of[key] = arn
  return key
end

function Store:append(arn, id, prev_id, ts, etype, details)
  check_open(self)
  local key = self._keys[arn]
  if key == nil then
    check_string("append", "arn", arn)
    local err, kind
    key, err, kind = self:_key_of(arn)
    if key == nil then
      if err == "ExecutionDoesNotExist" then error("stepflow.store.append: no execution " .. tostring(arn), 2) end
      return nil, err, kind
    end
  end
  if self.read_only then return nil, "store: opened read-only" end
  if type(etype) ~= "string" or not pg.type_ok(etype) then
    error("stepflow.store.append: event type must be 1 to 100 bytes without spaces or control characters", 2)
  end
  details = details or "{}"
  if details:find("\0", 1, true) then
    -- PostgreSQL's text cannot hold NUL (JSON writes it \u0000)
    error("stepflow.store.append: details hold a NUL byte, which PostgreSQL's text cannot store", 2)
  end
  prev_id = prev_id or 0
  local last = self._last[key]
  if last == nil then
    local rows, err, kind = read(self, { "last_event", key })
    if not rows then return nil, err, kind end
    last = rows[1] and tointeger(rows[1][1]) or 0
  end
  if id <= last then
    error("stepflow.store.append: event " .. tostring(id) .. " of " .. arn ..
      " already exists or is out of order (ids must increase)", 2)
  end
  self._last[key] = id
  local e = self._events[key]
  if not e then
    e = { first = id }
    self._events[key] = e
    local dirty = self._dirty
    dirty[#dirty + 1] = key
  end
  e.last = id
  e[#e + 1] = row_text(id, prev_id, ts, etype, details)
  self._pending = self._pending + 1
  return true
end

function Store:finish_execution(arn, status, output, err_name, cause, stopped)
  check_open(self)
  check_string("finish_execution", "arn", arn)
  if status ~= "SUCCEEDED" and status ~= "FAILED" and status ~= "TIMED_OUT" and status ~= "ABORTED" then
    error("stepflow.store.finish_execution: status must be SUCCEEDED, FAILED, TIMED_OUT or ABORTED", 2)
  end
  check_string("finish_execution", "output", output, true)
  check_string("finish_execution", "error", err_name, true)
  check_string("finish_execution", "cause", cause, true)
  check_ms("finish_execution", "stopped", stopped)
  local key = self._keys[arn]
  if not key then
    local rows, err, kind = read(self, { "get_exec", arn })
    if not rows then return nil, err, kind end
    if not rows[1] then return nil, "ExecutionDoesNotExist" end
    local rec
    rec, key = exec_rec(self, rows[1])
    if rec.status ~= "RUNNING" then return nil, "ExecutionNotRunning" end
    self._arn_of[key] = arn
  end
  local ok, err = add_op(self, { "finish", key, status, output, err_name, cause, stopped, self.owner or nil,
    self._epoch[key] or 0, n = 8 })
  if not ok then return nil, err end
  self._keys[arn] = nil
  return true
end

--- Redrives an ended, unsuccessful execution (see stepflow.store): it
-- becomes RUNNING again, owned by this engine under the next epoch.
function Store:redrive_execution(arn, date)
  check_open(self)
  check_string("redrive_execution", "arn", arn)
  check_ms("redrive_execution", "date", date)
  if self.read_only then return nil, "store: opened read-only" end
  local rows, err, kind = read(self, { "get_exec", arn })
  if not rows then return nil, err, kind end
  local r = rows[1]
  if not r then return nil, "ExecutionDoesNotExist" end
  local status = r[5]
  if status ~= "FAILED" and status ~= "TIMED_OUT" and status ~= "ABORTED" then
    return nil, "ExecutionNotRedrivable"
  end
  local key, epoch = tointeger(r[1]), tointeger(r[14])
  local ok
  ok, err = add_op(self, { "redrive", key, date, self.owner or nil, epoch, n = 4 })
  if not ok then return nil, err end
  -- its writes carry the epoch the update sets (fenced out if another
  -- engine changed the row first)
  self._keys[arn], self._epoch[key], self._arn_of[key] = key, epoch + 1, arn
  self._last[key] = nil
  return true
end

function Store:request_stop(arn, err_name, cause)
  check_open(self)
  check_string("request_stop", "arn", arn)
  check_string("request_stop", "error", err_name, true)
  check_string("request_stop", "cause", cause, true)
  local ok, err = add_op(self, { "put_stop", arn, err_name, cause, os.time() * 1000, n = 4 })
  if not ok then return nil, err end
  -- the owner hears of it at once (delivered at commit)
  return add_op(self, { "notify", "stop" })
end

function Store:delete_stop_request(arn)
  check_open(self)
  check_string("delete_stop_request", "arn", arn)
  return add_op(self, { "del_stop", arn })
end

--- Resources (docs/STORE.md "Resources"): put and delete join the group
-- (delete flushes it first, to know whether there was one), as the SQLite
-- store's do.
function Store:put_resource(kind, arn, data)
  check_open(self)
  check_string("put_resource", "kind", kind)
  check_string("put_resource", "arn", arn)
  check_string("put_resource", "data", data)
  if self.read_only then return nil, "store: opened read-only" end
  return add_op(self, { "put_res", kind, arn, data })
end

function Store:delete_resource(kind, arn)
  check_open(self)
  check_string("delete_resource", "kind", kind)
  check_string("delete_resource", "arn", arn)
  if self.read_only then return nil, "store: opened read-only" end
  local batch = self:_flush_group()
  batch[#batch + 1] = { "del_res", kind, arn }
  local results, err, kind_ = run(self, batch)
  if not results then return nil, err, kind_ end
  local bad = self:_take_flushed(batch, results, #batch - 1) or results[#batch].error and results[#batch]
  if bad then return failed(self, bad.error, "error") end
  self._pending = self._pending + 1
  return results[#batch].n > 0
end

function Store:get_resource(kind, arn)
  check_string("get_resource", "kind", kind)
  check_string("get_resource", "arn", arn)
  local rows, err, fkind = read(self, { "get_res", kind, arn })
  if not rows then return nil, err, fkind end
  return rows[1] and rows[1][1] or nil
end

function Store:resources(kind)
  check_string("resources", "kind", kind)
  local rows, err, fkind = read(self, { "list_res", kind })
  if not rows then return nil, err, fkind end
  for i = 1, #rows do rows[i] = { arn = rows[i][1], data = rows[i][2] } end
  return rows
end

--- Tells the other engines, at this group's commit (NOTIFY stepflow):
-- "new" (executions to claim), "stop" (a stop request).
function Store:notify(payload)
  return add_op(self, { "notify", payload })
end

---------------------------------------------------------------- reads

function Store:get_state_machine(arn)
  check_string("get_state_machine", "arn", arn)
  local rows, err, kind = read(self, { "get_sm", arn })
  if not rows then return nil, err, kind end
  return rows[1] and sm_rec(rows[1]) or nil
end

function Store:get_definition(sm_arn, revision)
  check_string("get_definition", "sm_arn", sm_arn)
  if math_type(revision) ~= "integer" then
    error("stepflow.store.get_definition: revision must be an integer", 2)
  end
  local rows, err, kind = read(self, { "get_def", sm_arn, revision })
  if not rows then return nil, err, kind end
  return rows[1] and rows[1][1] or nil
end

function Store:list_state_machines()
  local rows, err, kind = read(self, { "list_sm" })
  if not rows then return nil, err, kind end
  for i = 1, #rows do rows[i] = sm_rec(rows[i]) end
  return rows
end

local function one_exec(self, stmt)
  local rows, err, kind = read(self, stmt)
  if not rows then return nil, err, kind end
  if not rows[1] then return nil end
  local rec, key = exec_rec(self, rows[1])
  self._arn_of[key] = rec.arn
  return rec
end

function Store:get_execution(arn)
  check_string("get_execution", "arn", arn)
  return one_exec(self, { "get_exec", arn })
end

function Store:find_execution(sm_arn, name)
  check_string("find_execution", "sm_arn", sm_arn)
  check_string("find_execution", "name", name)
  return one_exec(self, { "find_exec", sm_arn, name })
end

function Store:list_executions(filter)
  filter = filter or {}
  checks.list_filter(filter)
  local limit = filter.limit and filter.limit > 0 and filter.limit or nil
  local redriven = filter.redriven
  if redriven ~= nil then redriven = redriven and true or false end
  local rows, err, kind = read(self, { "list_exec", filter.status, filter.sm_arn, limit, filter.qualified,
    redriven, n = 5 })
  if not rows then return nil, err, kind end
  for i = 1, #rows do rows[i] = exec_rec(self, rows[i]) end
  return rows
end

--- Events of the rows of one execution (row texts), filtered like
-- Store:history.
local function events_of(datas, after, limit, reverse)
  local out = {}
  for i = 1, #datas do
    local list, err = pg.parse_events(datas[i])
    if not list then return nil, err end
    local from, to, step = 1, #list, 1
    if reverse then from, to, step = #list, 1, -1 end
    for j = from, to, step do
      local ev = list[j]
      if limit and #out >= limit then return out end
      if after == nil or (reverse and ev.id < after) or (not reverse and ev.id > after) then
        out[#out + 1] = ev
      end
    end
  end
  return out
end
M.events_of = events_of

function Store:history(arn, opts)
  check_string("history", "arn", arn)
  opts = opts or {}
  check_table("history", opts)
  local key, err, kind = self:_key_of(arn)
  if key == nil then return nil, err, kind end
  local after = opts.after and opts.after > 0 and opts.after or nil
  local limit = opts.limit and opts.limit > 0 and opts.limit or nil
  local rows
  if opts.reverse then
    rows, err, kind = read(self, { "hist_desc", key, after or math.maxinteger })
  else
    rows, err, kind = read(self, { "hist_asc", key, after or 0 })
  end
  if not rows then return nil, err, kind end
  local datas = {}
  for i = 1, #rows do datas[i] = rows[i][1] end
  local events
  events, err = events_of(datas, after, limit, opts.reverse)
  if not events then return failed(self, err, "corrupt") end
  return events
end

--- The histories of several executions (keys) at once: key -> events.
function Store:_histories(keys)
  local by = {}
  if #keys == 0 then return by end
  local rows, err, kind = read(self, { "hist_many", "{" .. concat(keys, ",") .. "}" })
  if not rows then return nil, err, kind end
  local datas = {}
  for i = 1, #rows do
    local k = tointeger(rows[i][1])
    local d = datas[k]
    if not d then d = {}; datas[k] = d end
    d[#d + 1] = rows[i][2]
  end
  for i = 1, #keys do
    local events
    events, err = events_of(datas[keys[i]] or {})
    if not events then return failed(self, err, "corrupt") end
    by[keys[i]] = events
  end
  return by
end

function Store:running(opts)
  local list, err, kind = self:list_executions({ status = "RUNNING" })
  if not list then return nil, err, kind end
  local n = #list
  for i = 1, n // 2 do list[i], list[n + 1 - i] = list[n + 1 - i], list[i] end
  if opts and opts.events then
    local keys = {}
    for i = 1, n do keys[i] = self._keys[list[i].arn] end
    local by
    by, err, kind = self:_histories(keys)
    if not by then return nil, err, kind end
    for i = 1, n do list[i].events = by[keys[i]] end
  end
  return list
end

function Store:running_after(seq)
  if math_type(seq) ~= "integer" then error("stepflow.store.running_after: seq must be an integer", 2) end
  local rows, err, kind = read(self, { "running_after", seq })
  if not rows then return nil, err, kind end
  for i = 1, #rows do
    local rec, key = exec_rec(self, rows[i])
    rec.seq = key
    rows[i] = rec
  end
  return rows
end

local function stop_rec(r)
  return { arn = r[1], error = r[2], cause = r[3], requested = tointeger(r[4]), status = r[5] }
end
M.stop_rec = stop_rec

function Store:stop_requests()
  local rows, err, kind = read(self, { "stops" })
  if not rows then return nil, err, kind end
  for i = 1, #rows do rows[i] = stop_rec(rows[i]) end
  return rows
end

---------------------------------------------------------------- close

--- Commits what is pending, hands this engine's executions over (a clean
-- exit: other engines claim them at once) and closes the connection.
function Store:close()
  if self._closed then return true end
  local ok, err, kind = self:commit()
  if self.owner and ok then
    local results = run(self, { { "begin" }, { "release", self.owner }, { "unregister", self.owner },
      { "notify", "new" }, { "commit" } })
    if results then
      local bad = first_error(results)
      if bad then ok, err, kind = nil, bad.error, "error" end
    end
  end
  self._closed = true
  if self._watch then self._watch:close(); self._watch = nil end
  self._conn:close()
  if not ok then return nil, err, kind end
  return true
end
Store.__close = Store.close

-- leases, claims and stops of executions no engine runs
require("stepflow.store_pg_leases").install(Store, { read = read, run = run, failed = failed,
  first_error = first_error, exec_rec = exec_rec, events_of = events_of, stop_rec = stop_rec })

-- task answers and activity tasks across engines
require("stepflow.store_pg_tasks").install(Store, { read = read, add_op = add_op, stop_rec = stop_rec })

return M
