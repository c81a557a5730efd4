--- stepflow.store: the durable store of STANDARD executions.
-- One SQLite file (WAL, synchronous=FULL), written in groups: every write
-- joins the current group and is durable once `commit()` returns true.
-- The contract is in docs/STORE.md; the engine is core/store.c.
local core = require("stepflow.core.store")

local type, error, setmetatable = type, error, setmetatable
local math_type, tostring = math.type, tostring

local M = {}

--- Schema version this build writes and reads.
M.VERSION = core.VERSION

local checks = require("stepflow.store_checks")
local STATUSES, check_string, check_ms, check_table = checks.STATUSES, checks.string, checks.ms, checks.table
local TYPES = { STANDARD = true, EXPRESS = true }

local Store = {}
Store.__index = Store
Store.__name = "stepflow.Store"

-- Records leave the store without the internal key; RUNNING ones feed the
-- ARN -> key cache that append() and finish_execution() use.
local function public(self, rec)
  if rec == nil then return nil end
  if rec.status == "RUNNING" then self._keys[rec.arn] = rec._key end
  rec._key = nil
  return rec
end

local function publics(self, list)
  for i = 1, #list do public(self, list[i]) end
  return list
end

-- Returns nil, err for a failed call, remembering the failure when it is
-- the store's (an I/O error, a full disk...: see Store:last_failure), not
-- a refused row ("exists", "notfound", "invalid") or a missing one.
local function failed(self, err, kind)
  if err ~= nil and kind ~= nil and kind ~= "exists" and kind ~= "notfound"
      and kind ~= "invalid" then
    self._failure = { kind = kind, message = err }
  end
  return nil, err
end

-- The internal key of an execution: nil, err when there is none.
local function key_of(self, arn)
  local k = self._keys[arn]
  if k then return k end
  local rec, err, kind = self._core:get_execution(arn)
  if rec == nil then
    if err ~= nil then return failed(self, err, kind) end
    return nil, "ExecutionDoesNotExist"
  end
  if rec.status == "RUNNING" then self._keys[arn] = rec._key end
  return rec._key
end

--- Whether `path` names a PostgreSQL database (a postgresql:// or
-- postgres:// URL, or a libpq connection string such as "host=/tmp
-- dbname=flows"), which several engines may share, rather than a file.
function M.is_shared(path)
  if type(path) ~= "string" then return false end
  if path:match("^postgres://") or path:match("^postgresql://") then return true end
  local key = path:match("^%s*([%a_]+)%s*=")
  return key == "host" or key == "hostaddr" or key == "port" or key == "dbname" or key == "user"
    or key == "service"
end

--- Opens (creating if needed) a store.
-- @param path a file name, or ":memory:" for a private in-memory store,
--   or a PostgreSQL database (see is_shared and docs/STORE.md)
-- @param opts optional: `read_only` (no lock, no writes; the file must be
--   a store), `verify` (run SQLite's quick_check first), `client` (writes
--   without the engine lock, for processes that only add executions and
--   stop requests while an engine runs the store: the file must be a store
--   of this version; SQLite serialises the writes)
-- @return store, or nil, message, `{kind=, pid=, version=}` when it cannot
--   be opened: `kind` says why ("locked" and "already_open" with the
--   holder's `pid`; "not_ours", "corrupt", "newer_version",
--   "needs_upgrade" and "upgrade_failed" with the file's `version` where
--   known; "not_found", "not_a_file", "denied", "read_only", "full", "io",
--   "busy", "error"), so callers never read the message to decide
function M.open(path, opts)
  if type(path) ~= "string" or path == "" then
    error("stepflow.store.open: path must be a non-empty string", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("stepflow.store.open: opts must be a table", 2)
  end
  opts = opts or {}
  -- a PostgreSQL database shared by several engines (store_pg.lua)
  if M.is_shared(path) then return require("stepflow.store_pg").open(path, opts) end
  local c, err, info = core.open(path, opts.read_only, opts.verify,
    opts.client)
  if c == nil then return nil, err, info end
  return setmetatable({ _core = c, _keys = {}, path = path }, Store)
end

--- Creates or updates a state machine. Every definition it had is kept:
-- the same definition keeps its revision, another one gets the next.
-- @param sm `{arn=, name=, definition=, type="STANDARD"|"EXPRESS", created=ms}`
-- @return the revision of this definition (1, 2, ...), or nil and a message
function Store:put_state_machine(sm)
  check_table("put_state_machine", sm)
  check_string("put_state_machine", "arn", sm.arn)
  check_string("put_state_machine", "name", sm.name)
  check_string("put_state_machine", "definition", sm.definition)
  if not TYPES[sm.type] then
    error("stepflow.store.put_state_machine: type must be STANDARD or "
      .. "EXPRESS", 2)
  end
  check_ms("put_state_machine", "created", sm.created)
  local rev, err, kind = self._core:put_state_machine(sm.arn, sm.name,
    sm.definition, sm.type, sm.created)
  if not rev then return failed(self, err, kind) end
  return rev
end

--- The definition of a state machine's revision (the text given to
-- put_state_machine), or nil (nil and a message on an error).
function Store:get_definition(sm_arn, revision)
  check_string("get_definition", "sm_arn", sm_arn)
  if math_type(revision) ~= "integer" then
    error("stepflow.store.get_definition: revision must be an integer", 2)
  end
  local text, err, kind = self._core:get_definition(sm_arn, revision)
  if text == nil and err ~= nil then return failed(self, err, kind) end
  return text
end

--- A state machine record, or nil when there is none (nil and a message
-- on an error).
function Store:get_state_machine(arn)
  check_string("get_state_machine", "arn", arn)
  local rec, err, kind = self._core:get_state_machine(arn)
  if rec == nil and err ~= nil then return failed(self, err, kind) end
  return rec
end

--- All state machine records, oldest first (nil and a message on an error).
function Store:list_state_machines()
  local list, err, kind = self._core:list_state_machines()
  if list == nil then return failed(self, err, kind) end
  return list
end

--- Deletes a state machine (its executions stay): true, false if absent.
function Store:delete_state_machine(arn)
  check_string("delete_state_machine", "arn", arn)
  local ok, err, kind = self._core:delete_state_machine(arn)
  if ok == nil then return failed(self, err, kind) end
  return ok
end

--- Records a new execution.
-- @param e `{arn=, sm_arn=, name=, input=<json text>, status="RUNNING",
--   started=ms, revision=, version_arn=, alias_arn=}`: `revision`
--   (optional) is the state machine's definition revision it runs, which
--   recovery then uses; `version_arn` and `alias_arn` (optional) the
--   version and alias it was started through
-- @return true, or nil, "ExecutionAlreadyExists" when the ARN or the name
--   (within its state machine) is taken, or nil and a message
function Store:create_execution(e)
  local status = checks.execution(e)
  local key, err, kind = self._core:create_execution(e.arn, e.sm_arn, e.name,
    status, e.input, e.started, e.revision, e.version_arn, e.alias_arn)
  if key == nil then
    if kind == "exists" then return nil, "ExecutionAlreadyExists" end
    return failed(self, err, kind)
  end
  if status == "RUNNING" then self._keys[e.arn] = key end
  return true
end

--- The execution with this ARN, or nil (nil and a message on an error).
function Store:get_execution(arn)
  check_string("get_execution", "arn", arn)
  local rec, err, kind = self._core:get_execution(arn)
  if rec == nil then return failed(self, err, kind) end
  return public(self, rec)
end

--- The execution of this state machine with this name, or nil (for the
-- idempotent StartExecution).
function Store:find_execution(sm_arn, name)
  check_string("find_execution", "sm_arn", sm_arn)
  check_string("find_execution", "name", name)
  local rec, err, kind = self._core:find_execution(sm_arn, name)
  if rec == nil then return failed(self, err, kind) end
  return public(self, rec)
end

--- Executions, newest first.
-- @param filter optional `{status=, sm_arn=, limit=, qualified=,
--   redriven=}`: `qualified` (a version or alias ARN) keeps those started
--   through it, `redriven` (a boolean) those redriven or not; both need
--   `sm_arn`
function Store:list_executions(filter)
  filter = filter or {}
  checks.list_filter(filter)
  local list, err, kind = self._core:list_executions(filter.status,
    filter.sm_arn, filter.limit, filter.qualified, filter.redriven)
  if list == nil then return failed(self, err, kind) end
  return publics(self, list)
end

--- Appends a history event to the current group.
-- @param arn execution ARN
-- @param id event id (1-based, per execution)
-- @param prev_id previous event id (0 or nil for none)
-- @param ts timestamp, integer ms since the epoch
-- @param etype event type, e.g. "TaskScheduled"
-- @param details the event's details as JSON text
-- Events are kept in memory and written at commit (or before a history
-- read), one row per execution per group.
-- @return true, or nil and a message (I/O); raises on an unknown
--   execution, an id not above the execution's last one, or a type that
--   is empty, over 100 bytes, or has spaces or control characters
function Store:append(arn, id, prev_id, ts, etype, details)
  local key = self._keys[arn]
  if key == nil then
    check_string("append", "arn", arn)
    local err
    key, err = key_of(self, arn)
    if key == nil then
      if err == "ExecutionDoesNotExist" then
        error("stepflow.store.append: no execution " .. tostring(arn), 2)
      end
      return nil, err
    end
  end
  local ok, err, kind = self._core:append(key, id, prev_id or 0, ts, etype,
    details or "{}")
  if ok then return true end
  if kind == "exists" then
    error("stepflow.store.append: event " .. tostring(id) .. " of "
      .. arn .. " already exists or is out of order (ids must increase)", 2)
  elseif kind == "invalid" then
    error("stepflow.store.append: " .. err:gsub("^store: append: ", ""), 2)
  end
  return failed(self, err, kind)
end

--- Ends an execution in the current group (with its final events).
-- @param arn execution ARN
-- @param status SUCCEEDED, FAILED, TIMED_OUT or ABORTED
-- @param output JSON text or nil; `error`, `cause`: strings or nil
-- @param stopped integer ms since the epoch
-- @return true, or nil, "ExecutionDoesNotExist" | "ExecutionNotRunning",
--   or nil and a message
function Store:finish_execution(arn, status, output, err_name, cause, stopped)
  check_string("finish_execution", "arn", arn)
  if not STATUSES[status] or status == "RUNNING" then
    error("stepflow.store.finish_execution: status must be SUCCEEDED, "
      .. "FAILED, TIMED_OUT or ABORTED", 2)
  end
  check_string("finish_execution", "output", output, true)
  check_string("finish_execution", "error", err_name, true)
  check_string("finish_execution", "cause", cause, true)
  check_ms("finish_execution", "stopped", stopped)
  local key, err = key_of(self, arn)
  if key == nil then return nil, err end
  local ok, kind
  ok, err, kind = self._core:finish_execution(key, status, output, err_name,
    cause, stopped)
  if ok == nil then return failed(self, err, kind) end
  self._keys[arn] = nil
  if ok == false then return nil, "ExecutionNotRunning" end
  return true
end

--- Makes an ended, unsuccessful execution (FAILED, TIMED_OUT or ABORTED)
-- RUNNING again, in the current group (RedriveExecution): its output,
-- error, cause and stop date are cleared, its `redrive_count` goes up by
-- one and `redrive_date` becomes `date`. Its history stays; the engine
-- appends to it.
-- @return true, or nil, "ExecutionDoesNotExist" | "ExecutionNotRedrivable"
--   (RUNNING or SUCCEEDED), or nil and a message
function Store:redrive_execution(arn, date)
  check_string("redrive_execution", "arn", arn)
  check_ms("redrive_execution", "date", date)
  local rec, err, kind = self._core:get_execution(arn)
  if rec == nil then
    if err ~= nil then return failed(self, err, kind) end
    return nil, "ExecutionDoesNotExist"
  end
  local ok
  ok, err, kind = self._core:redrive_execution(rec._key, date)
  if ok == nil then return failed(self, err, kind) end
  if not ok then return nil, "ExecutionNotRedrivable" end
  self._keys[arn] = rec._key
  return true
end

--- Commits the current group in one synced transaction.
-- @return true, or nil, message, kind (the whole group is then rolled
--   back; kind "full", "io", "read_only", "busy", "corrupt" or "error")
function Store:commit()
  local ok, err, kind = self._core:commit()
  if ok then return true end
  -- the rolled-back group may have created executions: forget their keys
  self._keys = {}
  failed(self, err, kind)
  return nil, err, kind
end

--- The last failure on the store's side, `{kind=, message=}`: a call
-- that returned nil and a message because of the file (kind "full", "io",
-- "read_only", "busy", "corrupt" or "error"), not because of its
-- arguments or a missing row; nil when there was none. An engine raises
-- when its store fails (nothing may run ahead of the store): this is how
-- its caller tells a full disk from a bug.
function Store:last_failure()
  return self._failure
end

--- Number of writes in the current, uncommitted group.
function Store:pending()
  return self._core:pending()
end

--- History events of an execution, by id.
-- @param arn execution ARN
-- @param opts optional `{after=id, limit=n, reverse=bool}`: events past
--   `after` in the chosen order, at most `limit` of them
-- @return array of `{id=, previousEventId=, timestamp=, type=, details=}`,
--   or nil, "ExecutionDoesNotExist", or nil and a message
function Store:history(arn, opts)
  check_string("history", "arn", arn)
  opts = opts or {}
  check_table("history", opts)
  local key, err = key_of(self, arn)
  if key == nil then return nil, err end
  local events, kind
  events, err, kind = self._core:history(key, opts.after, opts.limit,
    opts.reverse)
  if events == nil then return failed(self, err, kind) end
  return events
end

--- RUNNING executions, oldest first, for recovery.
-- @param opts optional `{events=true}` adds each one's history as `.events`
function Store:running(opts)
  local list, err = self:list_executions({ status = "RUNNING" })
  if list == nil then return nil, err end
  local n = #list
  for i = 1, n // 2 do
    list[i], list[n + 1 - i] = list[n + 1 - i], list[i]
  end
  if opts and opts.events then
    for i = 1, n do
      local events
      events, err = self:history(list[i].arn)
      if events == nil then return nil, err end
      list[i].events = events
    end
  end
  return list
end

--- Asks the engine that runs a store to stop an execution: records a
-- stop request in the store file through a client store (no engine lock;
-- the engine reads requests at its commits and every 250 ms of real time,
-- stops the execution, and deletes the request). Replaces an earlier
-- request for the same execution.
-- @param path the store file (not ":memory:")
-- @param arn execution ARN; `error`, `cause`: strings or nil
-- @return true, or nil and a message (not a store, an older version, or
--   the engine's group held SQLite's write lock for more than 5 s)
function M.request_stop(path, arn, err_name, cause)
  if type(path) ~= "string" or path == "" then
    error("stepflow.store.request_stop: path must be a non-empty string", 2)
  end
  check_string("request_stop", "arn", arn)
  check_string("request_stop", "error", err_name, true)
  check_string("request_stop", "cause", cause, true)
  local s, err = M.open(path, { client = true })
  if not s then return nil, err end
  local ok
  ok, err = s:request_stop(arn, err_name, cause)
  if ok then ok, err = s:commit() end
  s:close()
  if not ok then return nil, err end
  return true
end

--- Records the stop request of an execution, in the current group.
-- @return true, or nil and a message
function Store:request_stop(arn, err_name, cause)
  check_string("request_stop", "arn", arn)
  check_string("request_stop", "error", err_name, true)
  check_string("request_stop", "cause", cause, true)
  local ok, err, kind = self._core:put_stop(arn, err_name, cause,
    os.time() * 1000)
  if not ok then return failed(self, err, kind) end
  return true
end

--- RUNNING executions whose store sequence number is above `seq`, by
-- that number (each record has `.seq`): how an engine finds executions
-- that clients added while it runs.
function Store:running_after(seq)
  if math_type(seq) ~= "integer" then
    error("stepflow.store.running_after: seq must be an integer", 2)
  end
  local list, err, kind = self._core:running_after(seq)
  if list == nil then return failed(self, err, kind) end
  for i = 1, #list do list[i].seq = list[i]._key end
  return publics(self, list)
end

--- Pending stop requests, oldest first:
-- `{arn=, error=, cause=, requested=}` (nil and a message on an error).
function Store:stop_requests()
  local list, err, kind = self._core:stops()
  if list == nil then return failed(self, err, kind) end
  return list
end

--- Deletes the stop request of an execution, in the current group.
-- @return true, or nil and a message
function Store:delete_stop_request(arn)
  check_string("delete_stop_request", "arn", arn)
  local ok, err, kind = self._core:delete_stop(arn)
  if not ok then return failed(self, err, kind) end
  return true
end

--- Puts a resource: a JSON document by kind and ARN (what the server
-- keeps beside the engine's tables: state machine attributes, ...), in
-- the current group; replaces the data of an existing one, which keeps
-- its place in the listing.
-- @return true, or nil and a message
function Store:put_resource(kind, arn, data)
  check_string("put_resource", "kind", kind)
  check_string("put_resource", "arn", arn)
  check_string("put_resource", "data", data)
  local ok, err, fkind = self._core:put_resource(kind, arn, data)
  if not ok then return failed(self, err, fkind) end
  return true
end

--- The data of a resource, or nil (nil and a message on an error).
function Store:get_resource(kind, arn)
  check_string("get_resource", "kind", kind)
  check_string("get_resource", "arn", arn)
  local data, err, fkind = self._core:get_resource(kind, arn)
  if data == nil and err ~= nil then return failed(self, err, fkind) end
  return data
end

--- Deletes a resource in the current group: true, false if absent.
function Store:delete_resource(kind, arn)
  check_string("delete_resource", "kind", kind)
  check_string("delete_resource", "arn", arn)
  local ok, err, fkind = self._core:delete_resource(kind, arn)
  if ok == nil then return failed(self, err, fkind) end
  return ok
end

--- The resources of a kind, in the order they were first put:
-- `{{arn=, data=}, ...}` (nil and a message on an error).
function Store:resources(kind)
  check_string("resources", "kind", kind)
  local list, err, fkind = self._core:resources(kind)
  if list == nil then return failed(self, err, fkind) end
  return list
end

--- Commits what is pending and closes the store (releasing its lock).
-- @return true, or nil and a message when the last commit failed
function Store:close()
  self._keys = {}
  local ok, err, kind = self._core:close()
  if ok then return true end
  failed(self, err, kind)
  return nil, err, kind
end

Store.__close = Store.close

return M
