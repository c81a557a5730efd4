--- A Task state's call: one attempt of its target (a Lua handler, an
-- integration, a mocked response, an activity worker), from its Scheduled
-- event to its outcome. A call that returns at once keeps the frame
-- running; one that waits (ctx.sleep, ctx.await, a task token, a .sync
-- job, a worker) blocks only its frame. TimeoutSeconds and
-- HeartbeatSeconds are enforced by timers, and a handler that computes
-- past TimeoutSeconds without yielding is stopped by an instruction-count
-- hook.
--
-- A call goes: schedule (its Scheduled event; a durable execution waits
-- for that to be committed) -> start (Started, then the target runs) ->
-- settle (Succeeded, Failed or TimedOut, then the state's output) -> the
-- frame resumes. stepflow.states.task makes calls; the integration
-- patterns (stepflow.integrations.patterns) drive them through run_worker,
-- submitted, finish, settle, ctx and wait.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local handlers = require("stepflow.handlers")
local execution = require("stepflow.execution")
local replay = require("stepflow.replay")
local targets = require("stepflow.integrations.targets")
local patterns = require("stepflow.integrations.patterns")

local M = {}

local coresume = coroutine.resume
local record, count = execution.record, execution.count
local null = json.null
local size_within = json.size_within
local huge = math.huge
local MAX_BOUND = math.maxinteger
local clock = os.clock
local sethook, gethook = debug.sethook, debug.gethook
local DONE = handlers.DONE
local take_worker, give_back, uses_ctx = handlers.take_worker, handlers.give_back, handlers.uses_ctx

---------------------------------------------------------------- results

-- Why a handler's result cannot be a state's result, or nil: it must be
-- JSON (no functions, threads, NaN or infinities, no table mixing array
-- and object keys). Only values that may be large or odd are encoded.
local function not_json(value, limit)
  local t = type(value)
  if t == "number" then
    if value ~= value or value == huge or value == -huge then
      return "a number that JSON cannot hold (" .. tostring(value) .. ")"
    end
    return nil
  end
  if t == "string" or t == "boolean" or value == null then return nil end
  if t ~= "table" then return "a " .. t .. " value, not JSON" end
  -- size_within is true only for values that encode (within the bound)
  if size_within(value, limit or MAX_BOUND) then return nil end
  local ok, err = pcall(json.encode, value)
  if ok then return nil end
  return (tostring(err):gsub("^json: ", ""))
end
M.not_json = not_json

---------------------------------------------------------------- events

-- The events of a call, by kind of Resource: a Lambda function ARN
-- records AWS's legacy LambdaFunction* events, an activity Activity*,
-- everything else Task*.
local LAMBDA_EVENTS = {
  scheduled = "LambdaFunctionScheduled", started = "LambdaFunctionStarted",
  submitted = false, succeeded = "LambdaFunctionSucceeded", failed = "LambdaFunctionFailed",
  timed_out = "LambdaFunctionTimedOut",
}
local TASK_EVENTS = {
  scheduled = "TaskScheduled", started = "TaskStarted", submitted = "TaskSubmitted",
  succeeded = "TaskSucceeded", failed = "TaskFailed", timed_out = "TaskTimedOut",
}
local ACTIVITY_EVENTS = {
  scheduled = "ActivityScheduled", started = "ActivityStarted", submitted = false,
  succeeded = "ActivitySucceeded", failed = "ActivityFailed", timed_out = "ActivityTimedOut",
}
local SUBMITTED = { TaskSubmitted = true }

---------------------------------------------------------------- the call

--- One attempt of a Task state: the state's compiled `task` (the fixed
-- parts), the frame, and what the attempt has found so far.
local Call = {}
Call.__index = Call
Call.__name = "stepflow.TaskCall"

-- The details of one of this call's events (AWS's shapes): Lambda
-- function and activity events carry no resource, Task events carry
-- resourceType and resource.
function Call:details(extra)
  local task = self.task
  if not task.typed then return extra end
  local d = extra or {}
  d.resourceType, d.resource = task.resource_type, task.resource_name
  return d
end

-- Records one of the call's events (`etype` one of task.events). `extra`,
-- the details beyond the resource, is nil without a sink: callers build
-- it only for one.
function Call:event(etype, extra, x)
  local frame = self.frame
  local exec = frame.exec
  if not exec.sink then return record(exec, frame, etype) end
  return record(exec, frame, etype, self:details(extra), x)
end

--- Notes when the call started, once its Started event is recorded (or
-- replayed after a restart: its recorded time): TimeoutSeconds counts
-- from there. Executions without events count from when the call waits.
function Call:note_start()
  local exec = self.frame.exec
  if exec.sink or exec.replay then self.started_ms = self.frame.last_ts or nil end
end

-- Resumes the frame with the step an ended call gives it.
function Call:resume_frame(kind, x, nxt)
  if kind then execution.resume(self.frame, kind, x, nxt) end
end

--- Ends a call that waited, from a callback (a token, a .sync job, a
-- timer): settles it and resumes the frame.
function Call:finish(ok, value)
  self:resume_frame(self:settle(ok, value))
end

--- Records the TaskSubmitted event: the request of a .sync or
-- .waitForTaskToken call was made, with this result.
function Call:submitted(output)
  local etype = self.task.events.submitted
  if etype then
    self:event(etype, self.frame.exec.sink and { output = output == nil and null or output })
  end
end

--- An ASL error value for a service error of this call's integration
-- (ctx.error): named as AWS names them.
function Call:service_error(opts)
  return targets.service_error(self, opts)
end

--- Runs fn() when the call settles (ctx.on_end): what its target left
-- under way (an HTTP request) stops.
function Call:on_end(fn)
  local list = self.cleanups
  if not list then
    list = {}
    self.cleanups = list
  end
  list[#list + 1] = fn
end

--- A .sync job ended (ctx.complete, a child execution's end): the call
-- settles now, or when its start returns (if it has not yet).
function Call:complete_job(ok, value)
  return patterns.complete_job(self, ok, value)
end

-- Checks a result to be JSON within the payload limit. Returns nil, or
-- the error value the call fails with.
local function bad_result(task, result, limit)
  local rt = type(result)
  -- strings and booleans are JSON; numbers and the rest are checked
  local bad
  if rt == "number" then
    if result ~= result or result == huge or result == -huge then bad = not_json(result) end
  elseif rt == "table" then
    -- one walk answers both questions for the usual result: JSON, and
    -- within the limit
    if size_within(result, limit or MAX_BOUND) then return nil end
    bad = not_json(result)
  elseif rt ~= "string" and rt ~= "boolean" then
    bad = not_json(result, limit)
  end
  if bad then
    return errors.new(errors.Runtime, "The state/task '" .. task.limit_name ..
      "' returned a result that is not JSON: " .. bad)
  end
  if limit and (rt == "table" or rt == "string") and not size_within(result, limit)
    and #json.encode(result) > limit then
    -- AWS names the integration's service ('lambda' for lambda:invoke),
    -- or the Resource itself for a function ARN or an activity.
    return errors.new(errors.DataLimitExceeded,
      "The state/task '" .. task.limit_name .. "' returned a result with a size exceeding " ..
      "the maximum number of bytes service limit.")
  end
  return nil
end

--- Ends the call: records its outcome (unless it was `replayed` from a
-- recovered history) and returns the frame's step (never raises).
function Call:settle(ok, value, replayed)
  if self.settled then return nil end
  self.settled = true
  local engine, task, frame = self.engine, self.task, self.frame
  -- (a call that returned at once has no timers, token, job or worker)
  if self.waited then patterns.release(self, ok, value) end
  local record_it = not replayed
  if not ok then
    if record_it then
      local e = value
      local timed_out = e.Error == errors.Timeout or e.Error == errors.HeartbeatTimeout
      self:event(timed_out and task.events.timed_out or task.events.failed,
        frame.exec.sink and { error = e.Error, cause = e.Cause })
    end
    return "fail", value
  end
  local result = value
  if result == nil then result = null end
  if record_it then
    -- booleans and finite numbers need no check (strings: the size limit)
    local rt = type(result)
    if rt ~= "boolean" and (rt ~= "number" or result ~= result or result == huge or result == -huge) then
      local e = bad_result(task, result, engine.payload_limit)
      if e then
        self:event(task.events.failed, frame.exec.sink and { error = e.Error, cause = e.Cause })
        return "fail", e
      end
    end
    if task.kind == "lambda_invoke" and not self.raw_result then
      result = handlers.wrap_invoke(engine, result, self.effective)
    end
    if not count(frame.exec, frame, 1) then
      self:event(task.events.succeeded, frame.exec.sink and { output = result })
    end
  elseif task.kind == "lambda_invoke" and not self.raw_result
      and not (type(result) == "table" and result.StatusCode) then
    result = handlers.wrap_invoke(engine, result, self.effective)
  end
  local fine, out = pcall(task.finish, frame, self.raw, result)
  if fine then return "next", out, task.st.next_state end
  if errors.is(out) then return "fail", out end
  return "fail", errors.internal(out, frame)
end

--- Runs one piece of a worker coroutine until its function returns or
-- waits. Returns true, result; false, error; or nil while it waits. A
-- worker that finished goes back to the engine's pool; what the function
-- returned goes through `on_return` when one is set (an integration's
-- pattern: TaskSubmitted, polling).
function Call:step(...)
  local co = self.co
  local ok, a, b, c = coresume(co, ...)
  if not ok then
    self.co = false
    if self.preempted then return false, self.preempted end
    return false, errors.from(a)
  end
  if a == DONE then
    self.co = false
    if self.timeout_s then sethook(co) end  -- the guard's hook
    give_back(self.engine.co_pool, co)
    if b == nil and c ~= nil then return false, errors.from(c) end
    local on_return = self.on_return
    if on_return then
      self.on_return = false
      return on_return(self, b)
    end
    return true, b
  end
  -- Suspended: the function yielded a function that arranges its resume.
  if type(a) ~= "function" then
    self.co = false
    return false, errors.new(errors.TaskFailed,
      "handler yielded outside ctx.sleep/ctx.await (got " .. type(a) .. ")")
  end
  a(function(...)
    if self.settled or self.co ~= co then return end
    local done, value = self:step(...)
    if done ~= nil then self:resume_frame(self:settle(done, value)) end
  end)
  return nil
end

--- Runs fn(input, ctx) in a worker coroutine; what it returns goes
-- through on_return(call, result) (optional). Returns as step does.
function Call:run_worker(fn, input, on_return)
  self.co = take_worker(self.engine.co_pool)
  self.on_return = on_return or false
  if self.timeout_s then self:guard(self.co) end
  return self:step(fn, input, self:ctx())
end

--- The call's ctx (made once).
function Call:ctx()
  local ctx = self.ctx_table
  if not ctx then
    ctx = handlers.make_ctx(self, self.frame.exec, self.task)
    self.ctx_table = ctx
  end
  return ctx
end

function Call:arm_heartbeat()
  local engine = self.engine
  if self.hb_timer then engine:_cancel(self.hb_timer) end
  self.hb_timer = engine:_after(self.heartbeat_s * 1000, self.frame, function()
    self.hb_timer = false
    self:finish(false, errors.new(errors.HeartbeatTimeout))
  end)
end

--- Completes a call that waits for its token (SendTaskSuccess/Failure).
function Call:complete(ok, value)
  if ok then
    local bad = not_json(value == nil and null or value, self.engine.payload_limit)
    if bad then return nil, "InvalidOutput: the output is not JSON: " .. bad, { code = "InvalidOutput" } end
    -- the answer is the task's result as given: a lambda:invoke that
    -- waited for its token does not wrap it in an invoke result, as AWS
    self.raw_result = true
  end
  self:finish(ok, value)
  return true
end

--- Records a heartbeat of a call that waits for its token.
function Call:heartbeat()
  if self.heartbeat_s and not self.settled then self:arm_heartbeat() end
end

-- The instruction-count hook that stops a handler computing past its
-- TimeoutSeconds without yielding: it raises in the handler, and the call
-- fails with States.Timeout. CPU seconds are counted (a busy handler uses
-- the CPU; a waiting one yields and its timer counts).
local HOOK_EVERY = 100000

function Call:guard(thread)
  local deadline = clock() + self.timeout_s
  local function hook()
    if clock() > deadline then
      self.preempted = errors.new(errors.Timeout)
      error(self.preempted, 0)
    end
  end
  if thread then sethook(thread, hook, "", HOOK_EVERY) else sethook(hook, "", HOOK_EVERY) end
end

-- Records TaskSubmitted for a .waitForTaskToken call whose request
-- returned, and waits for the token.
local function submit_and_wait(self, result)
  self.returned = true
  self:submitted(result)
  return nil
end

--- Runs what serves the call: a mocked response, a handler, an
-- integration or an activity. Returns true, result; false, error; or nil
-- while it waits.
function Call:invoke()
  local engine, task = self.engine, self.task
  if engine.mocks then
    local handled, done, value = patterns.mocked(self)
    if handled then return done, value end
  end
  local fn, fname_or_err, target
  if engine == task.cached_engine and engine.handlers_version == task.cached_version then
    fn, fname_or_err = task.cached_fn, task.cached_name
  else
    fn, fname_or_err, target = task:find_handler(engine, self.effective)
    if fn == nil then return false, fname_or_err end
  end
  if not fn then return patterns.run(self, target or task.cached_target) end
  self.function_name = fname_or_err
  local input = handlers.handler_input(task.info, self.effective)
  if not task.wait_token and not uses_ctx(fn) then
    -- As the worker would, without it: a yield here (outside ctx) fails
    -- the task, since the loop's C call boundary is not yieldable.
    local ok, a, b
    if self.timeout_s then
      local oh, om, oc = gethook()
      self:guard(nil)
      ok, a, b = pcall(fn, input)
      if oh then sethook(oh, om, oc) else sethook() end
      if not ok and self.preempted then return false, self.preempted end
    else
      ok, a, b = pcall(fn, input)
    end
    if not ok then return false, errors.from(a) end
    if a == nil and b ~= nil then return false, errors.from(b) end
    return true, a
  end
  return self:run_worker(fn, input, task.wait_token and submit_and_wait or nil)
end

--- Starts the call: records its Started event. After a restart, a start
-- found in the recovered history without a recorded outcome means the
-- target runs again: a new Started says so (as AWS records a retried
-- start), so that an audit sees every run; a recorded TaskSubmitted
-- means the request was made, and the call waits for its end instead.
-- Returns the frame's step when the recorded outcome stands, or nil when
-- the target is to run (or be waited for).
function Call:start()
  local frame = self.frame
  local exec = frame.exec
  local task = self.task
  local started = task.events.started
  local id = self:event(started, task.activity and exec.sink and { workerName = "stepflow" } or nil)
  self:note_start()
  if exec.replay then
    local upto = exec.recorded_upto or 0
    local rp = exec.replay
    while id and id <= upto do
      local rec = replay.outcome(rp, frame, task.outcome_types)
      if rec then return self:replayed_outcome(rec) end
      local sub = task.events.submitted and replay.outcome(rp, frame, SUBMITTED)
      if sub then
        frame.last_event, frame.last_ts = sub.id, sub.timestamp
        rec = replay.outcome(rp, frame, task.outcome_types)
        if rec then return self:replayed_outcome(rec) end
        local d = sub.d or {}
        self.resumed = { output = d.output == nil and null or d.output }
        return nil
      end
      id = self:event(started)
      self:note_start()
    end
  end
  return nil
end

-- Settles a call with the outcome a recovered history recorded for it.
function Call:replayed_outcome(rec)
  local frame = self.frame
  frame.last_event = rec.id
  frame.last_ts = rec.timestamp
  local d = rec.d or {}
  if rec.type == self.task.events.succeeded then
    self.raw_result = true
    return self:settle(true, d.output, true)
  end
  return self:settle(false, errors.new(d.error or errors.TaskFailed, d.cause), true)
end

--- Runs the target of a started call. Returns the frame's step, or
-- "block".
function Call:run_handler()
  local done, value
  if self.resumed then
    done, value = patterns.resume(self)
  else
    done, value = self:invoke()
  end
  if done ~= nil then return self:settle(done, value) end
  return self:wait()
end

--- Arms the timeout and heartbeat timers of a call that waits. Returns
-- "block".
function Call:wait()
  local frame = self.frame
  local engine = self.engine
  self.waited = true
  -- an activity's timeout and heartbeat count once a worker takes it
  if self.queued then return "block" end
  if self.timeout_s and not self.timer then
    -- counted from the call's Started event: after a restart, the time
    -- it already waited is not given again
    local ms = self.timeout_s * 1000
    if self.started_ms then ms = self.started_ms + ms - engine.loop:now() end
    self.timer = engine:_after(ms, frame, function()
      self.timer = false
      self:finish(false, errors.new(errors.Timeout))
    end)
  end
  if self.heartbeat_s and not self.hb_timer then self:arm_heartbeat() end
  return "block"
end

--- Schedules the call: records its Scheduled event; a durable execution
-- starts the target only once that event is committed.
function Call:schedule()
  local frame, engine, task = self.frame, self.engine, self.task
  local exec = frame.exec
  if exec.sink then
    local d
    if task.lambda then
      d = { resource = task.resource, input = self.effective,
        timeoutInSeconds = self.timeout_s or nil }
    elseif task.activity then
      d = { resource = task.resource, input = self.effective,
        timeoutInSeconds = self.timeout_s or nil, heartbeatInSeconds = self.heartbeat_s or nil }
    else
      d = { region = task.info.region or engine.region, parameters = self.effective,
        timeoutInSeconds = self.timeout_s or nil, heartbeatInSeconds = self.heartbeat_s or nil }
    end
    -- the token is kept (not in AWS's details): a restart finds it again
    self:event(task.events.scheduled, d, self.token and { token = self.token } or nil)
  else
    record(exec, frame, task.events.scheduled)
  end
  if exec.finished then return "block" end
  if task.activity and patterns.activity_waits(self) then
    -- no Lua handler serves the activity: a worker will (Started then)
    return patterns.wait_for_worker(self)
  end
  local kind, x, nxt = self:start()
  if kind then return kind, x, nxt end
  if exec.finished then return "block" end
  -- A durable call's target runs once its Scheduled and Started events
  -- are committed: a restart then knows it may have run.
  if exec.durable then
    engine:_when_durable(exec, function()
      if exec.finished or self.settled then return end
      local step, out, to = self:run_handler()
      if step ~= "block" then self:resume_frame(step, out, to) end
    end)
    return "block"
  end
  return self:run_handler()
end


M.LAMBDA_EVENTS, M.TASK_EVENTS, M.ACTIVITY_EVENTS = LAMBDA_EVENTS, TASK_EVENTS, ACTIVITY_EVENTS
M.Call = Call

return M
