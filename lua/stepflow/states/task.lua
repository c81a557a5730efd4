--- Task: calls a handler as a coroutine. A handler that returns at once
-- keeps the frame running; one that waits (ctx.sleep, ctx.await, a task
-- token) blocks only its frame. TimeoutSeconds and HeartbeatSeconds are
-- enforced by timers.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local handlers = require("stepflow.handlers")
local execution = require("stepflow.execution")
local replay = require("stepflow.replay")
local numbers = require("stepflow.asl.number_field")

local M = {}

local cocreate, coresume, coyield = coroutine.create, coroutine.resume, coroutine.yield
local event = execution.event
local null = json.null

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

-- Event names per resource kind: Lambda function ARNs record LambdaFunction*.
local LAMBDA_EVENTS = {
  scheduled = "LambdaFunctionScheduled", started = "LambdaFunctionStarted",
  succeeded = "LambdaFunctionSucceeded", failed = "LambdaFunctionFailed",
  timed_out = "LambdaFunctionTimedOut",
}
local TASK_EVENTS = {
  scheduled = "TaskScheduled", started = "TaskStarted", succeeded = "TaskSucceeded",
  failed = "TaskFailed", timed_out = "TaskTimedOut",
}

-- Without a history only the event ids are counted (AWS's causes name them).
local function recorded(exec) return exec.sink or exec.replay end

local function bump(exec, frame)
  local id = exec.event_id + 1
  exec.event_id = id
  frame.last_event = id
end

function M.compile(c, st, def, where)
  local resource = def.Resource
  local info = handlers.describe(resource)
  local ev = info.kind == "lambda" and LAMBDA_EVENTS or TASK_EVENTS
  local timeout_of = numbers.compile(c, st, def, "TimeoutSeconds", "integer", where, { positive = true })
  local heartbeat_of = numbers.compile(c, st, def, "HeartbeatSeconds", "integer", where, { positive = true })
  local wait_token = info.pattern == ".waitForTaskToken"
  local prepare, finish = st.prepare, st.finish
  local is_lambda = info.kind == "lambda" or info.kind == "lambda_invoke"
  local limit_name = info.kind == "plain" and info.resource_type ~= "lua" and
    info.resource_type ~= "activity" and info.resource_type or
    info.kind == "lambda_invoke" and "lambda" or resource

  local function event_details(call, extra)
    local d = { resource = info.resource or resource, resourceType = info.resource_type }
    if extra then for k, v in pairs(extra) do d[k] = v end end
    return d
  end

  -- Ends a call: the step result for the frame (never raises).
  local function settle(call, ok, value)
    if call.settled then return nil end
    call.settled = true
    local engine = call.engine
    if call.timer then engine:cancel(call.timer); call.timer = nil end
    if call.hb_timer then engine:cancel(call.hb_timer); call.hb_timer = nil end
    if call.token then engine.tokens[call.token] = nil end
    local frame, exec = call.frame, call.frame.exec
    local record = not call.replayed
    if not ok then
      local e = value
      if not record then
        -- the outcome was consumed from the recorded history
      elseif e.Error == "States.Timeout" or e.Error == "States.HeartbeatTimeout" then
        event(exec, frame, ev.timed_out, exec.sink and event_details(call,
          { error = e.Error, cause = e.Cause }))
      else
        event(exec, frame, ev.failed, exec.sink and event_details(call,
          { error = e.Error, cause = e.Cause }))
      end
      return "error", e
    end
    local result = value
    if result == nil then result = null end
    local limit = engine.payload_limit
    local rt = type(result)
    if record and limit and (rt == "table" or rt == "string") and not json.size_within(result, limit)
      and #json.encode(result) > limit then
      -- AWS names the integration's service ('lambda' for lambda:invoke),
      -- or the Resource itself for a function ARN or an activity.
      local e = errors.new(errors.DataLimitExceeded,
        "The state/task '" .. limit_name .. "' returned a result with a size exceeding " ..
        "the maximum number of bytes service limit.")
      event(exec, frame, ev.failed, exec.sink and event_details(call,
        { error = e.Error, cause = e.Cause }))
      return "error", e
    end
    if not recorded(exec) then
      bump(exec, frame)
    elseif record then
      event(exec, frame, ev.succeeded, exec.sink and event_details(call, { output = result }))
    end
    if info.kind == "lambda_invoke" then
      result = handlers.wrap_invoke(engine, result, call.effective)
    end
    local fine, out = pcall(finish, frame, call.raw, result)
    if fine then return "next", out end
    if errors.is(out) then return "error", out end
    error(out, 0)
  end

  -- Feeds a handler coroutine until it returns or waits. A worker that
  -- finished its handler goes back to the engine's pool for the next task.
  local function step(call, ...)
    local co = call.co
    local ok, a, b, c = coresume(co, ...)
    if not ok then
      call.co = nil
      return false, errors.from(a)
    end
    if a == DONE then
      call.co = nil
      local pool = call.engine.co_pool
      pool[#pool + 1] = co
      if b == nil and c ~= nil then return false, errors.from(c) end
      if wait_token then call.returned = true; return nil end
      return true, b
    end
    -- Suspended: the handler yielded a function that arranges its resume.
    if type(a) ~= "function" then
      call.co = nil
      return false, errors.new(errors.TaskFailed,
        "handler yielded outside ctx.sleep/ctx.await (got " .. type(a) .. ")")
    end
    a(function(...)
      if call.settled or call.co ~= co then return end
      local done, value = step(call, ...)
      if done ~= nil then
        local kind, x = settle(call, done, value)
        if kind then execution.resume(call.frame, kind, x) end
      end
    end)
    return nil
  end

  local function arm_heartbeat(call)
    local engine = call.engine
    if call.hb_timer then engine:cancel(call.hb_timer) end
    call.hb_timer = engine:after(call.heartbeat * 1000, call.frame, function()
      call.hb_timer = nil
      local kind, x = settle(call, false, errors.new(errors.HeartbeatTimeout))
      if kind then execution.resume(call.frame, kind, x) end
    end)
  end

  -- ctx's functions and context are made when a handler first uses them,
  -- so a plain handler costs one table.
  local ctx_mt = {
    __index = function(ctx, k)
      local call = rawget(ctx, CALL)
      local v
      if k == "heartbeat" then
        v = function()
          if call.heartbeat and not call.settled then arm_heartbeat(call) end
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

  local function make_ctx(call)
    local exec = call.frame.exec
    return setmetatable({
      state_name = st.name, state_machine_id = exec.machine.arn, resource = resource, task_token = call.token or nil,
      function_name = call.function_name or nil, engine = call.engine, [CALL] = call,
    }, ctx_mt)
  end

  local outcome_types = { [ev.succeeded] = true, [ev.failed] = true, [ev.timed_out] = true }
  -- The handler found last, for the engine and handlers it was found in.
  local cached_engine, cached_version, cached_fn, cached_name

  local function invoke(call)
    local engine = call.engine
    local frame = call.frame
    local exec = frame.exec
    if recorded(exec) then
      event(exec, frame, ev.started, exec.sink and event_details(call))
    else
      bump(exec, frame)
    end
    if exec.replay then
      -- A recovery: the attempt's recorded outcome stands; only a task
      -- without one is invoked again.
      local rec = replay.outcome(exec.replay, frame, outcome_types)
      if rec then
        call.replayed = rec
        frame.last_event = rec.id
        frame.last_ts = rec.timestamp
        local d = rec.d or {}
        if rec.type == ev.succeeded then
                    return true, d.output
        end
        return false, errors.new(d.error or errors.TaskFailed, d.cause)
      end
    end
    local fn, fname_or_err
    if engine == cached_engine and engine.handlers_version == cached_version then
      fn, fname_or_err = cached_fn, cached_name
    else
      fn, fname_or_err = handlers.find(engine.handlers, resource, info, call.effective)
      -- lambda:invoke names its function per call; the others are fixed.
      if fn and info.kind ~= "lambda_invoke" then
        cached_engine, cached_version, cached_fn, cached_name = engine, engine.handlers_version,
          fn, fname_or_err
      end
    end
    if not fn then return false, fname_or_err end
    call.function_name = fname_or_err
    local input = handlers.handler_input(info, call.effective)
    if not wait_token and not uses_ctx(fn) then
      -- As the worker would, without it: a yield here (outside ctx) fails
      -- the task, since the loop's C call boundary is not yieldable.
      local ok, a, b = pcall(fn, input)
      if not ok then return false, errors.from(a) end
      if a == nil and b ~= nil then return false, errors.from(b) end
      return true, a
    end
    call.co = take_worker(engine)
    return step(call, fn, input, make_ctx(call))
  end

  local function start(call)
    local done, value = invoke(call)
    if done ~= nil then return settle(call, done, value) end
    -- The handler waits: arm the timeout and heartbeat timers.
    local engine, frame = call.engine, call.frame
    if call.timeout then
      call.timer = engine:after(call.timeout * 1000, frame, function()
        call.timer = nil
        local kind, x = settle(call, false, errors.new(errors.Timeout,
          wait_token and nil or ("Task timed out after " .. call.timeout .. " seconds")))
        if kind then execution.resume(frame, kind, x) end
      end)
    end
    if call.heartbeat then arm_heartbeat(call) end
    return "block"
  end

  st.resource_info = info
  st.resource = resource
  st.run = function(_, frame, raw)
    local exec = frame.exec
    local engine = exec.engine
    -- The token exists before Parameters, which pass it on as $$.Task.Token.
    local token = wait_token and engine:uuid() or false
    frame.task_token = token
    local effective = prepare(frame, raw)
    -- The fields every call uses; the rest (token, timers, ...) only when needed.
    local call = { frame = frame, engine = engine, raw = raw, effective = effective,
      co = false, settled = false, timeout = false, heartbeat = false }
    if timeout_of then call.timeout = timeout_of(frame, effective, raw) end
    if heartbeat_of then call.heartbeat = heartbeat_of(frame, effective, raw) end
    if wait_token then
      call.token = token
      engine.tokens[token] = call
      call.complete = function(ok, value)
        local kind, x = settle(call, ok, value)
        if kind then execution.resume(frame, kind, x) end
      end
      call.on_heartbeat = function() if call.heartbeat then arm_heartbeat(call) end end
    end
    if recorded(exec) then
      event(exec, frame, ev.scheduled, exec.sink and event_details(call, {
        region = engine.region, parameters = effective,
        timeoutInSeconds = call.timeout or nil, heartbeatInSeconds = call.heartbeat or nil,
        input = is_lambda and effective or nil,
      }))
    else
      bump(exec, frame)
    end
    if exec.durable then
      -- A handler runs only once its scheduled event is committed.
      engine:when_durable(exec, function()
        local kind, x = start(call)
        if kind ~= "block" and kind then execution.resume(frame, kind, x) end
      end)
      return "block"
    end
    return start(call)
  end
end

return M
