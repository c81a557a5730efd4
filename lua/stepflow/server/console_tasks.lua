--- The tasks of an execution that wait for someone outside it, read from
-- its AWS-shaped history: a Task on a `.waitForTaskToken` resource that
-- was scheduled and has no outcome yet (it waits for SendTaskSuccess or
-- SendTaskFailure), and an activity task that has no outcome yet
-- (scheduled: it waits for a worker's GetActivityTask; started: a worker
-- has it).
--
-- A task's events follow each other by previousEventId (Scheduled,
-- Started, Submitted, then its outcome), also when Parallel branches and
-- Map iterations interleave theirs; a state's events follow its
-- *StateEntered the same way. So one pass in id order finds, for each
-- event, the task and the state it belongs to.
local json = require("stepflow.json")

local M = {}

-- Events that keep a task waiting; any other event that follows one of
-- its events ends the wait (its outcome, a retry's next attempt, the
-- state's exit).
local WAITING = {
  TaskScheduled = true, TaskStarted = true, TaskSubmitted = true,
  ActivityScheduled = true, ActivityStarted = true,
}

local DETAILS = {
  TaskScheduled = "taskScheduledEventDetails", ActivityScheduled = "activityScheduledEventDetails",
  ActivityStarted = "activityStartedEventDetails",
}

-- The strings in a decoded JSON value (a task's token is one of the
-- strings of its parameters: `"token.$": "$$.Task.Token"`).
local function strings(v, out)
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for _, x in pairs(v) do strings(x, out) end
  end
  return out
end

-- The task token in a callback task's parameters: the string that the
-- engine holds as a token now (nil if there is none, e.g. the task runs
-- on another process sharing the store).
local function token_in(parameters, live)
  local ok, v = pcall(json.decode, parameters or "")
  if not ok then return nil end
  for _, s in ipairs(strings(v, {})) do
    if live(s) then return s end
  end
  return nil
end

--- The waiting tasks of a history (AWS-shaped events in id order), as
-- {kind = "callback" | "activity", stateName, resource, resourceType,
-- input (JSON text), taskToken (callbacks whose token `live(s)` knows),
-- scheduledDate and startedDate (the events' timestamps), workerName,
-- timeoutInSeconds, heartbeatInSeconds}, oldest first. `live(s)` says
-- whether s is a task token that waits now.
function M.waiting(events, live)
  local task_of, state_of, open, order = {}, {}, {}, {}
  for _, e in ipairs(events) do
    local id, prev, etype = e.id, e.previousEventId, e.type
    local task = task_of[prev]
    if etype:sub(-12) == "StateEntered" then
      state_of[id] = e.stateEnteredEventDetails and e.stateEnteredEventDetails.name
    elseif etype:sub(-11) ~= "StateExited" then
      state_of[id] = state_of[prev]
    end
    if etype == "TaskScheduled" or etype == "ActivityScheduled" then
      if task then open[task] = nil end
      local d = e[DETAILS[etype]] or {}
      local callback = etype == "TaskScheduled" and type(d.resource) == "string"
        and d.resource:find("%.waitForTaskToken$") ~= nil
      if callback or etype == "ActivityScheduled" then
        local t = { kind = callback and "callback" or "activity", stateName = state_of[id],
          resource = d.resource, resourceType = d.resourceType,
          input = callback and d.parameters or d.input, scheduledDate = e.timestamp,
          timeoutInSeconds = d.timeoutInSeconds, heartbeatInSeconds = d.heartbeatInSeconds }
        open[t] = true
        order[#order + 1] = t
        task_of[id] = t
      end
    elseif task and WAITING[etype] then
      task_of[id] = task
      if etype == "ActivityStarted" then
        task.startedDate = e.timestamp
        task.workerName = (e[DETAILS[etype]] or {}).workerName
      end
    elseif task then
      open[task] = nil
    end
  end
  local out = {}
  for _, t in ipairs(order) do
    if open[t] then
      if t.kind == "callback" then t.taskToken = token_in(t.input, live) end
      -- a callback whose token does not wait now is not listed: it was
      -- cancelled with its branch (its history says nothing more), or
      -- another process sharing the store holds it
      if t.kind == "activity" or t.taskToken then out[#out + 1] = t end
    end
  end
  return out
end

return M
