--- How each state of an execution went, read from its history events:
-- "succeeded", "failed", "caught" (failed, and a Catch took over),
-- "running" (in progress, or waiting to be retried), "cancelled" (stopped
-- with its execution, or with a failing sibling branch); states never
-- entered have none ("not reached").
--
-- Events are attributed to the state open in their frame: durable
-- histories record each event's frame key (Parallel branches and Map
-- iterations run in frames of their own). Histories without frame keys
-- (in memory) are read as one frame, which is exact for states that do
-- not run side by side.
local M = {}

-- Events of a failed attempt of the state they belong to.
local ERROR_EVENTS = {
  TaskFailed = true, TaskTimedOut = true, TaskSubmitFailed = true, TaskStartFailed = true,
  LambdaFunctionFailed = true, LambdaFunctionTimedOut = true, LambdaFunctionStartFailed = true,
  LambdaFunctionScheduleFailed = true, ActivityFailed = true, ActivityTimedOut = true,
  ActivityScheduleFailed = true, MapStateFailed = true, ParallelStateFailed = true,
  MapRunFailed = true, EvaluationFailed = true, ExecutionFailed = true,
}

-- Events that start another attempt (a retry): the error before is over.
local ATTEMPT_EVENTS = {
  TaskScheduled = true, LambdaFunctionScheduled = true, ActivityScheduled = true,
  MapStateStarted = true, ParallelStateStarted = true,
}

-- Events that end something because of a failure: the state that owns
-- the event they follow (previousEventId) is where the failure came from.
local PROPAGATING = {
  ExecutionFailed = true, ExecutionTimedOut = true, MapIterationFailed = true,
  ParallelStateFailed = true, MapStateFailed = true, MapRunFailed = true,
}

-- When several visits of a state (loops, Map iterations) went
-- differently, the state shows the most telling one.
local RANK = { running = 5, failed = 4, caught = 3, cancelled = 2, succeeded = 1 }

local function visit_status(v, exec_status)
  if v.exited then return v.err and "caught" or "succeeded" end
  if v.failed then return "failed" end
  if exec_status == "RUNNING" or exec_status == nil then return "running" end
  if exec_status == "ABORTED" then return "cancelled" end
  if v.err or exec_status == "TIMED_OUT" then return "failed" end
  return "cancelled"
end

--- Each state's status. `events`: {id, previousEventId, type, name (of
-- *StateEntered and *StateExited), frame (key, optional)} in id order;
-- `exec_status`: the execution's status (RUNNING, SUCCEEDED, FAILED,
-- TIMED_OUT, ABORTED). Returns name -> status, and name -> number of
-- times the state was entered.
function M.compute(events, exec_status)
  local open, owner, visits = {}, {}, {}
  for _, e in ipairs(events) do
    local f = e.frame or ""
    local etype = e.type
    local v
    if etype:sub(-12) == "StateEntered" then
      v = { name = e.name }
      visits[#visits + 1] = v
      open[f] = v
    elseif etype:sub(-11) == "StateExited" then
      v = open[f]
      if v then v.exited = true end
      open[f] = nil
    else
      v = open[f]
      if v then
        if ERROR_EVENTS[etype] then v.err = true
        elseif ATTEMPT_EVENTS[etype] then v.err = false end
      end
      if PROPAGATING[etype] then
        local from = owner[e.previousEventId]
        if from and not from.exited then from.failed = true end
      end
    end
    owner[e.id] = v
  end
  local status, count = {}, {}
  for _, v in ipairs(visits) do
    if v.name then
      local st = visit_status(v, exec_status)
      local cur = status[v.name]
      if not cur or RANK[st] > RANK[cur] then status[v.name] = st end
      count[v.name] = (count[v.name] or 0) + 1
    end
  end
  return status, count
end

--- Events of an in-memory history (exec.history) in compute's form.
function M.from_memory(history)
  local out = {}
  for i, e in ipairs(history) do
    local d = e.details
    out[i] = { id = e.id, previousEventId = e.previousEventId, type = e.type,
      name = type(d) == "table" and d.name or nil, frame = e.frame }
  end
  return out
end

--- Events as a store returns them (s:history(arn)) in compute's form.
function M.from_store(rows)
  local durable = require("stepflow.durable")
  local out = {}
  for i, row in ipairs(rows) do
    local d = durable.decode_event(row)
    out[i] = { id = d.id, previousEventId = d.previousEventId, type = d.type,
      name = type(d.d) == "table" and d.d.name or nil, frame = d.f }
  end
  return out
end

return M
