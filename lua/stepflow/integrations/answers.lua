--- Answers to task tokens left in a store by another process: `stepflow
-- send-task-success TOKEN --store FILE` (and send-task-failure,
-- send-task-heartbeat) where no server runs. An answer is a store
-- resource "task_answer" under its token. The engine that runs the
-- store applies it (its stop requests are read at the same moments: at
-- commits and every 250 ms); an engine that resumes the execution later
-- applies it once the task waits again.
local json = require("stepflow.json")
local durable = require("stepflow.durable")
local tokens = require("stepflow.integrations.tokens")

local M = {}

M.KIND = "task_answer"

-- The events that end a task attempt.
local OUTCOMES = {
  TaskSucceeded = true, TaskFailed = true, TaskTimedOut = true,
  ActivitySucceeded = true, ActivityFailed = true, ActivityTimedOut = true,
  LambdaFunctionSucceeded = true, LambdaFunctionFailed = true, LambdaFunctionTimedOut = true,
}

--- Whether the task of `token` waits in a stored history (the events of
-- its execution, as store:history returns them): "waiting", "ended", or
-- nil when no task of this history had that token.
function M.task_state(events, token)
  local frame
  for _, e in ipairs(events) do
    local d = durable.decode_event(e)
    if frame then
      if d.f == frame and OUTCOMES[d.type] then return "ended" end
    elseif d.x and d.x.token == token then
      frame = d.f
    end
  end
  return frame and "waiting" or nil
end

--- Records an answer for `token` in `store` (in its current group: the
-- caller commits): {success = output}, {failure = {error =, cause =}} or
-- {heartbeat = true}. Returns true, or nil and a message.
function M.record(store, token, answer)
  return store:put_resource(M.KIND, token, json.encode(answer))
end

-- Applies one answer to the task that waits for its token here.
local function deliver(engine, token, answer)
  if answer.success ~= nil then
    engine:send_task_success(token, answer.success)
  elseif answer.failure then
    engine:send_task_failure(token, answer.failure.error, answer.failure.cause)
  else
    engine:send_task_heartbeat(token)
  end
end

-- Forgets an answer: applied, or its task is gone (deleted in the
-- current group; a commit is asked for).
local function forget(engine, token)
  local pending = engine.stored_answers
  if pending then pending[token] = nil end
  local ok, err = engine.store:delete_resource(M.KIND, token)
  if ok == nil then durable.store_failure("stepflow: store write failed: " .. tostring(err)) end
  engine:after_commit(function() end)
end

--- Reads the answers in the engine's store: one whose task waits here is
-- applied now; one whose execution is RUNNING is kept until its task
-- waits here (an execution being resumed: see on_token); the others are
-- dropped.
function M.load(engine)
  local store = engine.store
  local list, err = store:resources(M.KIND)
  if not list then durable.store_failure("stepflow: reading task answers failed: " .. tostring(err)) end
  for _, r in ipairs(list) do
    local token = r.arn
    local answer = json.decode(r.data)
    if engine.tokens[token] then
      forget(engine, token)
      deliver(engine, token, answer)
    else
      local arn = tokens.execution_of(token)
      local exec = arn and engine.executions[arn]
      local rec = arn and not exec and store:get_execution(arn)
      if (exec and not exec.finished) or (rec and rec.status == "RUNNING") then
        local pending = engine.stored_answers
        if not pending then
          pending = {}
          engine.stored_answers = pending
        end
        pending[token] = answer
      else
        forget(engine, token)
      end
    end
  end
end

--- A task now waits for `token` (a Task state resumed after a restart):
-- an answer kept for it is applied on the next turn, once the task's
-- recorded events are consumed.
function M.on_token(engine, token)
  local pending = engine.stored_answers
  local answer = pending and pending[token]
  if not answer then return end
  pending[token] = nil
  engine.loop:call(function()
    if engine.tokens[token] then
      forget(engine, token)
      deliver(engine, token, answer)
    end
  end)
end

return M
