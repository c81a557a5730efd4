--- The integration patterns, handled by the engine for every target
-- (an integration, a mocked response, an activity worker):
--
--   request-response   call(params) -> result                 TaskSucceeded
--   .waitForTaskToken  call(params) -> submitted   TaskSubmitted, then the
--                      token (SendTaskSuccess/Failure) ends the task
--   .sync, .sync:2     start(params) -> submitted  TaskSubmitted, then
--                      poll(submitted) every poll_interval seconds until it
--                      returns the result, or ctx.complete(result | nil, err)
--
-- The functions here drive a Task call (stepflow.states.task's Call)
-- through its interface: run_worker, submitted, finish, settle, ctx,
-- wait. Each returns as Call:invoke does: true, result; false, error; or
-- nil while the call waits.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local handlers = require("stepflow.handlers")
local replay = require("stepflow.replay")
local mocks = require("stepflow.integrations.mocks")

local M = {}

local copy = handlers.copy
local null = json.null

--- Seconds between two polls of a .sync job, unless the integration says.
M.POLL_INTERVAL = 5

-- Records TaskSubmitted for a .waitForTaskToken request that returned;
-- the call then waits for its token.
local function callback_submitted(call, result)
  call.returned = true
  call:submitted(result)
  return nil
end

local schedule_poll

-- What a poll returned: nil while the job runs (the next poll is
-- scheduled), else the job's result.
local function polled(call, result)
  if call.settled then return nil end
  if result == nil then
    schedule_poll(call)
    return nil
  end
  return true, result
end

-- Arms the next poll of a call's .sync job.
schedule_poll = function(call)
  local spec = call.job.spec
  local ms = (spec.poll_interval or M.POLL_INTERVAL) * 1000
  call.poll_timer = call.engine:_after(ms, call.frame, function()
    call.poll_timer = false
    if call.settled then return end
    local done, value = call:run_worker(spec.poll, call.job.submitted, polled)
    if done ~= nil then call:finish(done, value) end
  end)
end

-- Stops a job the call no longer waits for (a timeout, the execution's
-- end): the integration's cancel, if it has one. Its errors are ignored:
-- the task has ended already.
local function cancel_job(call)
  local job = call.job
  if not job or job.cancelled then return end
  job.cancelled = true
  local cancel = job.spec.cancel
  if cancel then pcall(cancel, job.submitted, call:ctx()) end
end

-- A .sync job is under way: TaskSubmitted is recorded, and the job ends
-- by a poll, ctx.complete, or SendTaskSuccess/Failure with the task token.
local function job_running(call, spec, submitted)
  call.job = { spec = spec, submitted = submitted }
  local exec = call.frame.exec
  -- stopping the execution stops the job (a .sync child execution)
  call.end_hook = exec:when_ends(function() cancel_job(call) end)
  local early = call.job_result
  if early then
    call.job_result = nil
    return early[1], early[2]
  end
  if spec.poll then schedule_poll(call) end
  return nil
end

local function sync_started(call, submitted)
  if submitted == nil then submitted = null end
  call:submitted(submitted)
  return job_running(call, call.task.cached_target.spec, submitted)
end

--- Runs a call's integration or activity target (a call just started).
function M.run(call, target)
  if target.kind == "activity" then return nil end
  local spec, task = target.spec, call.task
  -- an integration for lambda:invoke returns the whole invoke result
  if task.kind == "lambda_invoke" then call.raw_result = true end
  local params = copy(call.effective)
  if task.sync then return call:run_worker(spec.start, params, sync_started) end
  return call:run_worker(spec.call, params, task.wait_token and callback_submitted or nil)
end

--- A .sync job ended (ctx.complete): settles the call, or keeps the
-- outcome until its start returns.
function M.complete_job(call, ok, value)
  if call.settled then return false end
  if not call.job then
    call.job_result = { ok, value }
    return true
  end
  call:finish(ok, value)
  return true
end

--- Continues a call whose request was made before a restart (its
-- TaskSubmitted is recorded): a callback waits for its token again, a
-- .sync job is found again (resume, or the next poll). Only an
-- integration without resume or poll starts its job again.
function M.resume(call)
  local task, engine = call.task, call.engine
  local submitted = call.resumed.output
  local fn, err = task:find_handler(engine, call.effective)
  if fn == nil then return false, err end
  if task.wait_token then
    call.returned = true
    return nil
  end
  local target = task.cached_target
  if fn or not target or target.kind ~= "integration" then return nil end
  local spec = target.spec
  if spec.resume then
    return call:run_worker(spec.resume, submitted, function(c)
      return job_running(c, spec, submitted)
    end)
  end
  if spec.poll then return job_running(call, spec, submitted) end
  return M.run(call, target)
end

--- Serves a call from the execution's mock test case, if it names the
-- state: returns true and the outcome (true, result or false, error),
-- or false when the state is not mocked. A mocked response keeps the
-- integration's pattern: .sync and .waitForTaskToken record
-- TaskSubmitted and end with the mocked result; each attempt (retries
-- too) takes the next invocation's response.
function M.mocked(call)
  local exec = call.frame.exec
  local case, owner = mocks.case_of(exec)
  if not case then return false end
  local task = call.task
  local response, err = mocks.next_response(case, owner, task.st.name)
  if response == nil and err == nil then return false end
  if err then return true, false, errors.new(errors.Runtime, err) end
  if response.Throw then
    return true, false, errors.new(response.Throw.Error, response.Throw.Cause)
  end
  local value = copy(response.Return)
  if task.kind == "lambda" and type(value) == "table" and value.Payload ~= nil then
    -- a function ARN's result is the invocation's payload
    value = value.Payload
  elseif task.kind == "lambda_invoke" then
    call.raw_result = true  -- the mock is the whole invoke result
  end
  if task.wait_token or task.sync then call:submitted(value) end
  return true, true, value
end

--- Releases what a call that waited holds, once it settles: timers, its
-- token, a poll, a job it stops (when it ended with an error), its place
-- in an activity queue.
function M.release(call, ok)
  local engine = call.engine
  if call.timer then engine:_cancel(call.timer); call.timer = false end
  if call.hb_timer then engine:_cancel(call.hb_timer); call.hb_timer = false end
  if call.poll_timer then engine:_cancel(call.poll_timer); call.poll_timer = false end
  if call.token then engine.tokens[call.token] = nil end
  if call.end_hook then
    call.frame.exec:forget_end(call.end_hook)
    call.end_hook = false
  end
  if call.job and not ok then cancel_job(call) end
  if call.queued then engine.activities:remove(call) end
  local cleanups = call.cleanups
  if cleanups then
    call.cleanups = false
    -- (errors there cannot change the task's end any more)
    for i = 1, #cleanups do pcall(cleanups[i]) end
  end
end

---------------------------------------------------------------- activities

--- Whether an activity call waits for a worker: true when no Lua
-- handler (and no mock) serves it.
function M.activity_waits(call)
  local engine = call.engine
  if engine.mocks and mocks.case_of(call.frame.exec) then
    local case = mocks.case_of(call.frame.exec)
    if case.states[call.task.st.name] then return false end
  end
  local fn = call.task:find_handler(engine, call.effective)
  return not fn
end

--- Queues an activity call for a worker (engine:get_activity_task).
-- After a restart, a worker that had taken it is still waited for.
-- Returns the frame's step.
function M.wait_for_worker(call)
  local frame = call.frame
  local exec = frame.exec
  local task = call.task
  if exec.replay then
    local rp = exec.replay
    local started = replay.outcome(rp, frame, { [task.events.started] = true })
    if started then
      frame.last_event, frame.last_ts = started.id, started.timestamp
      call:note_start()
      local rec = replay.outcome(rp, frame, task.outcome_types)
      if rec then return call:replayed_outcome(rec) end
      call.taken = true
      return call:wait()
    end
  end
  -- queued: the timeout and heartbeat count only once a worker has it
  call.engine.activities:enqueue(call)
  return call:wait()
end

return M
