--- What an engine tells of its executions and Map Runs, from its store
-- or from memory: execution records (describe, list), histories in AWS's
-- shape, redrive (AWS's RedriveExecution and its reasons), and the Map
-- Run operations. `methods` are the engine's methods of the same names
-- (stepflow's init.lua installs them).
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local lifecycle = require("stepflow.lifecycle")
local durable = require("stepflow.durable")
local history = require("stepflow.history")
local map_run = require("stepflow.states.map_run")

local M = {}

local Engine = {}
M.methods = Engine

--- Ends a stored execution that no engine runs here: its last event
-- (ExecutionAborted or ExecutionFailed) and status, committed.
function M.end_stored(self, arn, status, err, cause)
  local store = self.store
  local events = store:history(arn, { reverse = true, limit = 1 })
  local last = events and events[1] and events[1].id or 0
  local now = self.loop:now()
  store:append(arn, last + 1, last, now, status == "ABORTED" and "ExecutionAborted" or "ExecutionFailed",
    json.encode({ d = { error = err, cause = cause } }))
  store:finish_execution(arn, status, nil, err, cause, now)
  return store:commit()
end

-- An execution object as a record of the store's shape.
local function record_of(exec)
  local sm = exec.machine
  local status = exec.status
  return { arn = exec.arn, sm_arn = sm and sm.arn, name = exec.name, status = status,
    input = exec.input ~= nil and json.encode(exec.input) or nil,
    output = status == "SUCCEEDED" and json.encode(exec.output) or nil,
    error = exec.error, cause = exec.cause, started = exec.start_ms, stopped = exec.stop_ms,
    revision = sm and sm.revision, version_arn = exec.version_arn, alias_arn = exec.alias_arn,
    redrive_count = exec.redrive_count, redrive_date = exec.redrive_ms }
end

--- An execution as a record: `{arn, sm_arn, name, status, input, output,
-- error, cause, started, stopped, revision, version_arn, alias_arn,
-- redrive_count, redrive_date}` (input and output as JSON text, times in
-- ms; version_arn and alias_arn those it was started through, the
-- redrive fields absent until it is redriven), from the store (which sees
-- what this engine wrote but did not commit yet) or, without one, from
-- the executions kept in memory (`history = true`). nil when there is
-- none.
function Engine:describe_execution(arn)
  if type(arn) ~= "string" then error("describe_execution: arn must be a string", 2) end
  if self.store then
    local rec = self.store:get_execution(arn)
    if rec then return rec end
  end
  local exec = self.executions[arn]
  return exec and record_of(exec) or nil
end

--- Execution records (see describe_execution), newest first. filter
-- (optional): status, sm_arn (a state machine's ARN), limit; with sm_arn
-- also `qualified` (a version or alias ARN: those started through it)
-- and `redriven` (true: those redriven, false: the others). Without a
-- store: the executions kept in memory.
function Engine:list_executions(filter)
  filter = filter or {}
  if type(filter) ~= "table" then error("list_executions: filter must be a table", 2) end
  if (filter.qualified ~= nil or filter.redriven ~= nil) and filter.sm_arn == nil then
    error("list_executions: qualified and redriven need sm_arn", 2)
  end
  if self.store then
    local list, err = self.store:list_executions({ status = filter.status, sm_arn = filter.sm_arn,
      limit = filter.limit, qualified = filter.qualified, redriven = filter.redriven })
    if not list then return nil, err end
    return list
  end
  local q, redriven = filter.qualified, filter.redriven
  local out = {}
  for _, exec in pairs(self.executions) do
    if (not filter.status or exec.status == filter.status)
        and (not filter.sm_arn or exec.machine.arn == filter.sm_arn)
        and (not q or exec.version_arn == q or exec.alias_arn == q)
        and (redriven == nil or (exec.redrive_count ~= nil) == redriven) then
      out[#out + 1] = record_of(exec)
    end
  end
  table.sort(out, function(a, b)
    if a.started ~= b.started then return a.started > b.started end
    return a.arn > b.arn
  end)
  if filter.limit then for i = #out, filter.limit + 1, -1 do out[i] = nil end end
  return out
end

--- The AWS-shaped history of an execution (from the store or memory).
-- opts (optional): `after` (the last id already seen), `limit`,
-- `reverse` (newest first), as the store's history reads them, so that a
-- page costs what it holds.
function Engine:history(arn, opts)
  local out = {}
  if self.store then
    local events, err = self.store:history(arn, opts)
    if not events then return nil, err end
    for i, e in ipairs(events) do
      local d = durable.decode_event(e)
      out[i] = history.to_aws({ id = d.id, previousEventId = d.previousEventId,
        timestamp = d.timestamp, type = d.type, details = d.d })
    end
    return out
  end
  local exec = self.executions[arn]
  if not exec or not exec.history then return nil, "ExecutionDoesNotExist" end
  local h = exec.history
  local after, limit, reverse = opts and opts.after, opts and opts.limit or math.huge, opts and opts.reverse
  local first, last, step = 1, #h, 1
  if reverse then first, last, step = #h, 1, -1 end
  for i = first, last, step do
    local e = h[i]
    if not after or (reverse and e.id < after) or (not reverse and e.id > after) then
      if #out >= limit then break end
      out[#out + 1] = history.to_aws(e)
    end
  end
  return out
end

--- How long after its end an execution may be redriven (AWS: 14 days).
M.REDRIVE_PERIOD_MS = 14 * 24 * 3600 * 1000

-- Why a stored execution record cannot be redriven (AWS's
-- redriveStatusReason), or nil when it can. `last_id()` gives the id of
-- its last history event (read only when needed).
local function not_redrivable(self, rec, last_id)
  if rec.status == "RUNNING" or rec.status == "SUCCEEDED" then
    return "Execution is " .. rec.status .. " and cannot be redriven"
  end
  if rec.arn:find(":express:", 1, true) then
    return "Execution is of type EXPRESS and cannot be redriven"
  end
  -- room for ExecutionRedriven and at least one other event
  if last_id() + 2 > self.history_limit then return "Execution history event limit exceeded" end
  local now = self.loop:now()
  if now - rec.started >= lifecycle.MAX_SECONDS.STANDARD * 1000 then
    return "Execution has exceeded the max execution time"
  end
  if rec.stopped and now - rec.stopped > M.REDRIVE_PERIOD_MS then
    return "Execution redrivable period exceeded"
  end
  return nil
end

-- The id of the last recorded event of a stored execution (0: none).
local function last_event_id(store, arn)
  local last = store:history(arn, { reverse = true, limit = 1 })
  return last and last[1] and last[1].id or 0
end

--- Whether a stored execution could be redriven now: true, or false and
-- AWS's reason (DescribeExecution's redriveStatus and
-- redriveStatusReason). `rec` is its record (describe_execution).
function Engine:redrivable(rec)
  if type(rec) ~= "table" then error("redrivable: rec must be an execution record", 2) end
  local running = self.executions[rec.arn]
  if running and not running.finished then return false, "Execution is RUNNING and cannot be redriven" end
  local store = self.store
  local why = not_redrivable(self, rec, function() return store and last_event_id(store, rec.arn) or 0 end)
  if why then return false, why end
  return true
end

--- Redrives a FAILED, TIMED_OUT or ABORTED STANDARD execution of the
-- store (AWS's RedriveExecution): it runs again under the same ARN, with
-- the same input and definition revision, from the states that had not
-- succeeded, in every frame (a failed Task or Choice runs again, an
-- inline Map or Parallel runs again only its failed or aborted
-- iterations and branches); what succeeded is not run again. Its history
-- goes on: ExecutionRedriven {redriveCount} follows the failure, and its
-- record counts the redrive (redrive_count, redrive_date, also in
-- `$$.Execution`). TimeoutSeconds counts from the redrive. Returns the
-- execution, or nil, "ExecutionDoesNotExist", message, or nil,
-- "ExecutionNotRedrivable", AWS's reason (RUNNING, SUCCEEDED, EXPRESS,
-- the history's 25,000 events, a year since the start, 14 days since
-- the end, or a definition the store lacks).
function Engine:redrive_execution(arn)
  local store = self.store
  if not store then error("redrive_execution: this engine has no store", 2) end
  if self.client then error("redrive_execution: a client engine runs no executions", 2) end
  if type(arn) ~= "string" then error("redrive_execution: arn must be a string", 2) end
  local rec, err = store:get_execution(arn)
  if not rec then
    if err then return nil, "InternalFailure", err end
    return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. arn .. "'"
  end
  local running = self.executions[arn]
  if running and not running.finished then
    return nil, "ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven"
  end
  local events
  events, err = store:history(arn)
  if not events then return nil, "InternalFailure", err end
  local last = events[#events] and events[#events].id or 0
  local why = not_redrivable(self, rec, function() return last end)
  if why then return nil, "ExecutionNotRedrivable", why end
  local sm
  sm, err = self:_machine_of(rec)
  if not sm then return nil, "ExecutionNotRedrivable", tostring(err) end
  local now = self.loop:now()
  local ok
  ok, err = store:redrive_execution(arn, now)
  if not ok then
    if err == "ExecutionNotRedrivable" then
      return nil, err, "Execution is " .. rec.status .. " and cannot be redriven"
    end
    durable.store_failure("stepflow: store write failed: " .. tostring(err))
  end
  rec = store:get_execution(arn)
  local details = json.encode({ d = { redriveCount = rec.redrive_count } })
  ok, err = store:append(arn, last + 1, last, now, "ExecutionRedriven", details)
  if not ok then durable.store_failure("stepflow: store append failed: " .. tostring(err)) end
  events[#events + 1] = { id = last + 1, previousEventId = last, timestamp = now,
    type = "ExecutionRedriven", details = details }
  self.durability:post_commit()
  local exec
  exec, err = self:_resume_record(rec, events)
  if not exec then
    -- recorded, but its history cannot be replayed: it fails at once
    M.end_stored(self, arn, "FAILED", errors.Runtime, "stepflow could not redrive this execution: " .. err)
    return nil, "ExecutionNotRedrivable", tostring(err)
  end
  return exec
end

-- A run this engine runs (nil when another engine of a shared store
-- has taken its execution over).
local function live_run(self, arn)
  local run = self.map_runs[arn]
  if run and not run.exec.lost then return run end
  return nil
end

-- The description of an ended run kept in the store (map_run.keep), or nil.
local function kept_run(self, arn)
  local text = self.store and self.store:get_resource(map_run.RUN_KIND, arn)
  return text and json.decode(text) or nil
end

--- A Map Run (a Distributed Map's visit) as AWS's DescribeMapRun
-- describes it, or nil: a running one from memory, an ended one of a
-- durable execution from the store (also after a restart).
function Engine:describe_map_run(arn)
  local run = live_run(self, arn)
  if run then return run:describe() end
  local d = kept_run(self, arn)
  if d then d.stateMachineArn = nil end
  return d
end

--- The Map Runs an execution started, oldest first: AWS's ListMapRuns
-- items {executionArn, mapRunArn, stateMachineArn, startDate, stopDate}.
function Engine:list_map_runs(execution_arn)
  local out, seen = {}, {}
  for arn, run in pairs(self.map_runs) do
    if run.execution_arn == execution_arn and not run.exec.lost then
      seen[arn] = true
      -- (AWS names the run's own machine, Parent/Label, whose executions
      -- its children are)
      out[#out + 1] = { executionArn = execution_arn, mapRunArn = arn,
        stateMachineArn = run.exec.machine.arn .. "/" .. run.label, startDate = run.start_ms,
        stopDate = run.stop_ms }
    end
  end
  local text = self.store and self.store:get_resource(map_run.RUNS_KIND, execution_arn)
  for _, arn in ipairs(text and json.decode(text) or {}) do
    local d = not seen[arn] and kept_run(self, arn)
    if d then
      out[#out + 1] = { executionArn = execution_arn, mapRunArn = arn, stateMachineArn = d.stateMachineArn,
        startDate = d.startDate, stopDate = d.stopDate }
    end
  end
  table.sort(out, function(a, b) return a.startDate < b.startDate end)
  return out
end

--- Changes a running Map Run's MaxConcurrency or tolerated failures
-- (UpdateMapRun): changes {max_concurrency, tolerated_failure_count,
-- tolerated_failure_percentage}. Returns true, or nil, code, message.
function Engine:update_map_run(arn, changes)
  local run = live_run(self, arn)
  if not run then
    if kept_run(self, arn) then
      return nil, "ValidationException", "Map Run " .. arn .. " is not running (CANNOT_UPDATE_COMPLETED_MAP_RUN)"
    end
    return nil, "ResourceNotFound", "Map Run " .. tostring(arn) .. " does not exist"
  end
  return run:update(changes or {})
end

return M
