--- Task: one call of a handler per attempt. A handler that returns at
-- once keeps the frame running; one that waits (ctx.sleep, ctx.await, a
-- task token) blocks only its frame. TimeoutSeconds and HeartbeatSeconds
-- are enforced by timers, and a handler that computes past TimeoutSeconds
-- without yielding is stopped by an instruction-count hook.
--
-- A call (one attempt) goes: schedule (its Scheduled event; a durable
-- execution waits for that to be committed) -> start (Started, then the
-- handler runs) -> settle (Succeeded, Failed or TimedOut, then the state's
-- output) -> the frame resumes.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local handlers = require("stepflow.handlers")
local execution = require("stepflow.execution")
local replay = require("stepflow.replay")
local numbers = require("stepflow.asl.number_field")

local M = {}

local cocreate, coresume, coyield = coroutine.create, coroutine.resume, coroutine.yield
local record, count = execution.record, execution.count
local null = json.null
local size_within = json.size_within
local huge = math.huge
local MAX_BOUND = math.maxinteger
local clock = os.clock
local sethook, gethook = debug.sethook, debug.gethook

-- A worker coroutine runs one handler after another: it yields DONE with
-- the handler's results, and is resumed with the next handler.
local DONE = setmetatable({}, { __name = "stepflow.handler_done" })
local CALL = setmetatable({}, { __name = "stepflow.ctx_call" })

local function worker(fn, input, ctx)
  while true do
    fn, input, ctx = coyield(DONE, fn(input, ctx))
  end
end

-- Whether a handler takes a ctx (a second parameter, or varargs; C
-- functions are assumed to): one that does not cannot wait (ctx.sleep and
-- ctx.await are the only ways), so it runs without a worker coroutine.
local takes_ctx = setmetatable({}, { __mode = "k" })
local function uses_ctx(fn)
  local v = takes_ctx[fn]
  if v == nil then
    local info = debug.getinfo(fn, "u")
    v = info.isvararg or info.nparams >= 2
    takes_ctx[fn] = v
  end
  return v
end

local function take_worker(engine)
  local pool = engine.co_pool
  local n = #pool
  if n > 0 then
    local co = pool[n]
    pool[n] = nil
    return co
  end
  return cocreate(worker)
end

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

---------------------------------------------------------------- events

-- The events of a call, by kind of Resource: a Lambda function ARN
-- records AWS's legacy LambdaFunction* events, everything else Task*.
local LAMBDA_EVENTS = {
  scheduled = "LambdaFunctionScheduled", started = "LambdaFunctionStarted",
  submitted = false, succeeded = "LambdaFunctionSucceeded", failed = "LambdaFunctionFailed",
  timed_out = "LambdaFunctionTimedOut",
}
local TASK_EVENTS = {
  scheduled = "TaskScheduled", started = "TaskStarted", submitted = "TaskSubmitted",
  succeeded = "TaskSucceeded", failed = "TaskFailed", timed_out = "TaskTimedOut",
}

---------------------------------------------------------------- the call

--- One attempt of a Task state: the state's compiled `task` (the fixed
-- parts), the frame, and what the attempt has found so far.
local Call = {}
Call.__index = Call
Call.__name = "stepflow.TaskCall"

-- The details of one of this call's events (AWS's shapes): Lambda
-- function events carry no resource, Task events carry resourceType and
-- resource.
function Call:details(extra)
  local task = self.task
  if task.lambda then return extra end
  local d = extra or {}
  d.resourceType, d.resource = task.resource_type, task.resource_name
  return d
end

-- Records one of the call's events (`etype` one of task.events). `extra`,
-- the details beyond the resource, is nil without a sink: callers build
-- it only for one.
function Call:event(etype, extra)
  local frame = self.frame
  local exec = frame.exec
  if not exec.sink then return record(exec, frame, etype) end
  return record(exec, frame, etype, self:details(extra))
end

-- Resumes the frame with the step an ended call gives it.
function Call:resume_frame(kind, x, nxt)
  if kind then execution.resume(self.frame, kind, x, nxt) end
end

--- Ends the call: records its outcome (unless it was `replayed` from a
-- recovered history) and returns the frame's step (never raises).
function Call:settle(ok, value, replayed)
  if self.settled then return nil end
  self.settled = true
  local engine, task, frame = self.engine, self.task, self.frame
  -- (a call that returned at once has no timers, token or worker)
  if self.waited then
    if self.timer then engine:cancel(self.timer); self.timer = false end
    if self.hb_timer then engine:cancel(self.hb_timer); self.hb_timer = false end
    if self.token then engine.tokens[self.token] = nil end
  end
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
    local limit = engine.payload_limit
    local rt = type(result)
    -- strings and booleans are JSON; numbers and the rest are checked
    local bad
    if rt == "number" then
      if result ~= result or result == huge or result == -huge then bad = not_json(result) end
    elseif rt ~= "string" and rt ~= "boolean" then
      bad = not_json(result, limit)
    end
    if bad then
      local e = errors.new(errors.Runtime, "The state/task '" .. task.limit_name ..
        "' returned a result that is not JSON: " .. bad)
      self:event(task.events.failed, frame.exec.sink and { error = e.Error, cause = e.Cause })
      return "fail", e
    end
    if limit and (rt == "table" or rt == "string") and not size_within(result, limit)
      and #json.encode(result) > limit then
      -- AWS names the integration's service ('lambda' for lambda:invoke),
      -- or the Resource itself for a function ARN or an activity.
      local e = errors.new(errors.DataLimitExceeded,
        "The state/task '" .. task.limit_name .. "' returned a result with a size exceeding " ..
        "the maximum number of bytes service limit.")
      self:event(task.events.failed, frame.exec.sink and { error = e.Error, cause = e.Cause })
      return "fail", e
    end
    if task.kind == "lambda_invoke" then
      result = handlers.wrap_invoke(engine, result, self.effective)
    end
    if not count(frame.exec, frame, 1) then
      self:event(task.events.succeeded, frame.exec.sink and { output = result })
    end
  elseif task.kind == "lambda_invoke" and not (type(result) == "table" and result.StatusCode) then
    result = handlers.wrap_invoke(engine, result, self.effective)
  end
  local fine, out = pcall(task.finish, frame, self.raw, result)
  if fine then return "next", out, task.st.next_state end
  if errors.is(out) then return "fail", out end
  return "fail", errors.internal(out, frame)
end

-- Runs one piece of a handler coroutine until it returns or waits.
-- Returns true, result; false, error; or nil while it waits. A worker
-- that finished its handler goes back to the engine's pool.
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
    local pool = self.engine.co_pool
    pool[#pool + 1] = co
    if b == nil and c ~= nil then return false, errors.from(c) end
    if self.task.wait_token then
      self.returned = true
      local etype = self.task.events.submitted
      if etype then self:event(etype, self.frame.exec.sink and { output = b == nil and null or b }) end
      return nil
    end
    return true, b
  end
  -- Suspended: the handler yielded a function that arranges its resume.
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

function Call:arm_heartbeat()
  local engine = self.engine
  if self.hb_timer then engine:cancel(self.hb_timer) end
  self.hb_timer = engine:after(self.heartbeat_s * 1000, self.frame, function()
    self.hb_timer = false
    self:resume_frame(self:settle(false, errors.new(errors.HeartbeatTimeout)))
  end)
end

--- Completes a call that waits for its token (SendTaskSuccess/Failure).
function Call:complete(ok, value)
  if ok then
    local bad = not_json(value == nil and null or value, self.engine.payload_limit)
    if bad then return nil, "InvalidOutput: the output is not JSON: " .. bad end
  end
  self:resume_frame(self:settle(ok, value))
  return true
end

--- Records a heartbeat of a call that waits for its token.
function Call:heartbeat()
  if self.heartbeat_s and not self.settled then self:arm_heartbeat() end
end

-- ctx's functions and context are made when a handler first uses them,
-- so a plain handler costs one table.
local ctx_mt = {
  __index = function(ctx, k)
    local call = rawget(ctx, CALL)
    local v
    if k == "heartbeat" then
      v = function()
        call:heartbeat()
        return true
      end
    elseif k == "await" then
      v = function(fn) return coyield(fn) end
    elseif k == "sleep" then
      local engine, frame = call.engine, call.frame
      v = function(sec)
        return coyield(function(resume) engine:after(sec * 1000, frame, resume) end)
      end
    elseif k == "context" then
      v = call.frame:context_of()
    elseif k == "execution_id" then
      v = call.frame.exec.arn
    elseif k == "execution_name" then
      v = call.frame.exec.name
    else
      return nil
    end
    rawset(ctx, k, v)
    return v
  end,
}

function Call:make_ctx()
  local exec, task = self.frame.exec, self.task
  return setmetatable({
    state_name = task.st.name, state_machine_id = exec.machine.arn, resource = task.resource,
    task_token = self.token or nil, function_name = self.function_name or nil,
    engine = self.engine, [CALL] = self,
  }, ctx_mt)
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

--- Finds the handler and runs it. Returns true, result; false, error; or
-- nil while it waits.
function Call:invoke()
  local engine, task = self.engine, self.task
  local fn, fname_or_err
  if engine == task.cached_engine and engine.handlers_version == task.cached_version then
    fn, fname_or_err = task.cached_fn, task.cached_name
  else
    fn, fname_or_err = task:find_handler(engine, self.effective)
    if not fn then return false, fname_or_err end
  end
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
  local co = take_worker(engine)
  self.co = co
  if self.timeout_s then self:guard(co) end
  return self:step(fn, input, self:make_ctx())
end

--- Starts the call: records its Started event. After a restart, a start
-- found in the recovered history without a recorded outcome means the
-- handler runs again: a new Started says so (as AWS records a retried
-- start), so that an audit sees every run. Returns the frame's step when
-- the recorded outcome stands, or nil when the handler is to run.
function Call:start()
  local frame = self.frame
  local exec = frame.exec
  local started = self.task.events.started
  local id = self:event(started)
  if exec.replay then
    local upto = exec.recorded_upto or 0
    while id and id <= upto do
      local rec = replay.outcome(exec.replay, frame, self.task.outcome_types)
      if rec then return self:replayed_outcome(rec) end
      id = self:event(started)
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
  if rec.type == self.task.events.succeeded then return self:settle(true, d.output, true) end
  return self:settle(false, errors.new(d.error or errors.TaskFailed, d.cause), true)
end

--- Runs the handler of a started call. Returns the frame's step, or
-- "block".
function Call:run_handler()
  local done, value = self:invoke()
  if done ~= nil then return self:settle(done, value) end
  return self:wait()
end

--- Arms the timeout and heartbeat timers of a call whose handler waits.
-- Returns "block".
function Call:wait()
  local frame = self.frame
  local engine = self.engine
  self.waited = true
  if self.timeout_s then
    self.timer = engine:after(self.timeout_s * 1000, frame, function()
      self.timer = false
      self:resume_frame(self:settle(false, errors.new(errors.Timeout)))
    end)
  end
  if self.heartbeat_s then self:arm_heartbeat() end
  return "block"
end

--- Schedules the call: records its Scheduled event; a durable execution
-- starts the handler only once that event is committed.
function Call:schedule()
  local frame, engine, task = self.frame, self.engine, self.task
  local exec = frame.exec
  if exec.sink then
    local d
    if task.lambda then
      d = { resource = task.resource, input = self.effective,
        timeoutInSeconds = self.timeout_s or nil }
    else
      d = { region = engine.region, parameters = self.effective,
        timeoutInSeconds = self.timeout_s or nil, heartbeatInSeconds = self.heartbeat_s or nil }
    end
    self:event(task.events.scheduled, d)
  else
    record(exec, frame, task.events.scheduled)
  end
  if exec.finished then return "block" end
  local kind, x, nxt = self:start()
  if kind then return kind, x, nxt end
  if exec.finished then return "block" end
  -- A durable call's handler runs once its Scheduled and Started events
  -- are committed: a restart then knows it may have run.
  if exec.durable then
    engine:when_durable(exec, function()
      if exec.finished or self.settled then return end
      local step, out, to = self:run_handler()
      if step ~= "block" then self:resume_frame(step, out, to) end
    end)
    return "block"
  end
  return self:run_handler()
end

---------------------------------------------------------------- the state

--- A Task state's fixed parts, shared by its calls.
local TaskSpec = {}
TaskSpec.__index = TaskSpec

--- The handler for a call, and the function name it was found under (or
-- nil and an error value). The last one found is kept per engine and
-- handlers version: lambda:invoke names its function per call, the other
-- kinds of Resource name one fixed handler.
function TaskSpec:find_handler(engine, effective)
  local fn, name_or_err = handlers.find(engine.handlers, self.resource, self.info, effective, engine)
  if fn and self.kind ~= "lambda_invoke" then
    self.cached_engine, self.cached_version = engine, engine.handlers_version
    self.cached_fn, self.cached_name = fn, name_or_err
  end
  return fn, name_or_err
end

local function compile_spec(c, st, def, where)
  local resource = def.Resource
  local info = handlers.describe(resource)
  local lambda = info.kind == "lambda"
  local events = lambda and LAMBDA_EVENTS or TASK_EVENTS
  local task = setmetatable({
    st = st, resource = resource, info = info, kind = info.kind, lambda = lambda,
    events = events,
    outcome_types = { [events.succeeded] = true, [events.failed] = true, [events.timed_out] = true },
    resource_type = info.resource_type, resource_name = info.resource or resource,
    wait_token = info.pattern == ".waitForTaskToken",
    timeout_of = numbers.compile(c, st, def, "TimeoutSeconds", "integer", where, { positive = true }),
    heartbeat_of = numbers.compile(c, st, def, "HeartbeatSeconds", "integer", where, { positive = true }),
    prepare = st.prepare, finish = st.finish,
    -- the name a result over the size limit is blamed on
    limit_name = info.kind == "plain" and info.resource_type ~= "lua" and
      info.resource_type ~= "activity" and info.resource_type or
      info.kind == "lambda_invoke" and "lambda" or resource,
  }, TaskSpec)
  return task
end

function M.compile(c, st, def, where)
  local task = compile_spec(c, st, def, where)
  local prepare, timeout_of, heartbeat_of = task.prepare, task.timeout_of, task.heartbeat_of
  st.resource_info = task.info
  st.resource = task.resource
  st.run = function(_, frame, raw)
    local exec = frame.exec
    local engine = exec.engine
    -- The token exists before Parameters, which pass it on as $$.Task.Token.
    local token = task.wait_token and engine:uuid() or false
    frame.task_token = token
    local effective = prepare(frame, raw)
    -- The fields every call uses; the rest (token, timers, ...) only when needed.
    -- The fields every call reads (false when unused); the rest are set
    -- when needed (timers, token, worker) and read only after `waited`.
    local call = setmetatable({ task = task, frame = frame, engine = engine, raw = raw,
      effective = effective, settled = false, timeout_s = false, waited = false }, Call)
    if timeout_of then call.timeout_s = timeout_of(frame, effective, raw) end
    if heartbeat_of then call.heartbeat_s = heartbeat_of(frame, effective, raw) end
    if token then
      call.token = token
      call.waited = true
      engine.tokens[token] = call
    end
    -- In memory with nothing to record (the common case), Scheduled and
    -- Started are only counted and the handler runs at once: schedule()
    -- and start() without their events.
    if not exec.durable and count(exec, frame, 2) then
      local done, value = call:invoke()
      if done ~= nil then return call:settle(done, value) end
      return call:wait()
    end
    return call:schedule()
  end
end

return M
