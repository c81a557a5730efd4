--- Answers to task tokens that reach a process other than the engine
-- running the task, kept in the store until that engine applies them.
--
-- A store file (SQLite): `stepflow send-task-success TOKEN --store FILE`
-- (and send-task-failure, send-task-heartbeat) where no server runs. An
-- answer is a store resource "task_answer" under its token. The engine
-- that runs the store applies it (its stop requests are read at the same
-- moments: at commits and every 250 ms); an engine that resumes the
-- execution later applies it once the task waits again.
--
-- A shared store (PostgreSQL): SendTask* received by an engine (a server)
-- that does not run the task, and send-task-* --store URL. The answer is
-- judged from the database (AWS's codes), left as a row of
-- stepflow.task_answers and notified to the owner, which applies it in
-- the group that deletes the row (fenced: an owner that has lost the
-- execution deletes nothing, and the engine that takes it over applies
-- it). docs/STORE.md, "Task tokens and activity tasks".
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

--- Judges a token from what `store` holds (its committed state, and the
-- open group of its own engine): the ARN of its execution when its task
-- waits, or nil, message, code (AWS's: InvalidToken, TaskDoesNotExist,
-- TaskTimedOut; nil for a failure of the store).
function M.judge(store, token)
  local arn = tokens.execution_of(token)
  if not arn then return nil, "InvalidToken: not a task token: " .. tostring(token), "InvalidToken" end
  local rec, err = store:get_execution(arn)
  if not rec then
    if err then return nil, err end
    return nil, "TaskDoesNotExist: no execution " .. arn, "TaskDoesNotExist"
  end
  if rec.status ~= "RUNNING" then
    return nil, "TaskTimedOut: the task's execution has ended (" .. rec.status .. "): " .. arn, "TaskTimedOut"
  end
  local events
  events, err = store:history(arn)
  if not events then return nil, err end
  local state = M.task_state(events, token)
  if not state then return nil, "TaskDoesNotExist: no task of " .. arn .. " had this token", "TaskDoesNotExist" end
  if state == "ended" then
    return nil, "TaskTimedOut: the task of this token has ended (" .. arn .. ")", "TaskTimedOut"
  end
  return arn
end

--- Records an answer for `token` in `store` (in its current group: the
-- caller commits): {success = output}, {failure = {error =, cause =}} or
-- {heartbeat = true}. Returns a reference for `waits` (true on a store
-- file, the answer's number on a shared store), or nil, message, code:
-- code TaskTimedOut when a success or failure already waits for the
-- token on a shared store (the task ends with that one).
function M.record(store, token, answer)
  if not store.shared then return store:put_resource(M.KIND, token, json.encode(answer)) end
  local arn = tokens.execution_of(token)
  if not arn then return nil, "InvalidToken: not a task token: " .. tostring(token), "InvalidToken" end
  local final = answer.success ~= nil or answer.failure ~= nil
  local seq, err = store:put_task_answer(arn, token, json.encode(answer), final)
  if seq == false then
    return nil, "TaskTimedOut: an answer for this token already waits to be applied (" .. arn .. ")", "TaskTimedOut"
  end
  return seq, err
end

--- Whether an answer recorded with reference `ref` still waits to be
-- applied (the command line waits for it), or nil, message.
function M.waits(store, token, ref)
  if not store.shared then
    local data, err = store:get_resource(M.KIND, token)
    if data == nil and err then return nil, err end
    return data ~= nil
  end
  return store:answer_waits(ref)
end

--- SendTaskSuccess/Failure/Heartbeat received by an engine on a shared
-- store for a token whose task does not wait here: judged from the
-- database, then left for the engine that runs it. Returns true (the
-- answer is in the open group: it is durable at the next commit), or nil,
-- message, {code = ...} as the engine's send_task_* do.
function M.send(engine, token, answer)
  local arn, err, code = M.judge(engine.store, token)
  if not arn then return nil, err, code and { code = code } or nil end
  if answer.success ~= nil then
    local bad = require("stepflow.states.task_call").not_json(answer.success, engine.payload_limit)
    if bad then return nil, "InvalidOutput: the output is not JSON: " .. bad, { code = "InvalidOutput" } end
  end
  local ok
  ok, err, code = M.record(engine.store, token, answer)
  if not ok then return nil, err, code and { code = code } or nil end
  engine:after_commit(function() end)
  return true
end

---------------------------------------------------------------- applying

-- The call that waits for `token` here, or nil.
local function live(engine, token)
  local call = engine.tokens[token]
  if call and not call.settled and not call.frame.exec.finished then return call end
  return nil
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

-- Forgets an answer: applied, or its task is gone. Deleted in the
-- current group (a commit is asked for); on a shared store, fenced, and
-- not read again meanwhile (`answers_seen` until that commit).
local function forget(engine, token, entry)
  local store = engine.store
  local ok, err
  if entry.seq then
    local seen = engine.answers_seen
    ok, err = store:delete_task_answer(entry.arn, entry.seq)
    engine:after_commit(function() seen[entry.seq] = nil end)
  else
    local pending = engine.stored_answers
    if pending then pending[token] = nil end
    ok, err = store:delete_resource(M.KIND, token)
    engine:after_commit(function() end)
  end
  if ok == nil then durable.store_failure("stepflow: store write failed: " .. tostring(err)) end
end

-- Keeps an answer until its task waits here (see on_token).
local function keep(engine, token, entry)
  local pending = engine.stored_answers
  if not pending then
    pending = {}
    engine.stored_answers = pending
  end
  local list = pending[token]
  if not list or not entry.seq then
    pending[token] = { entry }
  else
    list[#list + 1] = entry
  end
end

--- Reads the answers in the engine's store file: one whose task waits
-- here is applied now; one whose execution is RUNNING is kept until its
-- task waits here (an execution being resumed: see on_token); the others
-- are dropped.
function M.load(engine)
  local store = engine.store
  local list, err = store:resources(M.KIND)
  if not list then durable.store_failure("stepflow: reading task answers failed: " .. tostring(err)) end
  for _, r in ipairs(list) do
    local token = r.arn
    local entry = { answer = json.decode(r.data) }
    if live(engine, token) then
      forget(engine, token, entry)
      deliver(engine, token, entry.answer)
    else
      local arn = tokens.execution_of(token)
      local exec = arn and engine.executions[arn]
      local rec = arn and not exec and store:get_execution(arn)
      if (exec and not exec.finished) or (rec and rec.status == "RUNNING") then
        keep(engine, token, entry)
      else
        forget(engine, token, entry)
      end
    end
  end
end

--- Applies the answers a shared store holds for the executions this
-- engine owns ({seq =, token =, answer = JSON text, arn =}, oldest
-- first): one whose task waits here now, in order; one whose execution
-- is being resumed here once its task waits (on_token). Others (an
-- execution that ended here, whose end is not committed yet) are left:
-- their rows go with their execution.
function M.apply_owned(engine, list)
  local seen = engine.answers_seen
  if not seen then
    seen = {}
    engine.answers_seen = seen
  end
  for _, r in ipairs(list) do
    if not seen[r.seq] then
      local entry = { answer = json.decode(r.answer), seq = r.seq, arn = r.arn }
      local exec = engine.executions[r.arn]
      if live(engine, r.token) then
        seen[r.seq] = true
        forget(engine, r.token, entry)
        deliver(engine, r.token, entry.answer)
      elseif exec and not exec.finished then
        seen[r.seq] = true
        keep(engine, r.token, entry)
      end
    end
  end
end

--- A task now waits for `token` (a Task state resumed after a restart or
-- a takeover): the answers kept for it are applied on the next turn, in
-- order, once the task's recorded events are consumed.
function M.on_token(engine, token)
  local pending = engine.stored_answers
  local list = pending and pending[token]
  if not list then return end
  pending[token] = nil
  engine.loop:call(function()
    for _, entry in ipairs(list) do
      if live(engine, token) then
        forget(engine, token, entry)
        deliver(engine, token, entry.answer)
      elseif entry.seq then
        engine.answers_seen[entry.seq] = nil  -- (read again: its execution decides)
      end
    end
  end)
end

return M
