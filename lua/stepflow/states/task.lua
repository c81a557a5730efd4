--- Task: the state's fixed parts (its parsed Resource, event types,
-- timeout and heartbeat fields, the target found last), and one call per
-- attempt (stepflow.states.task_call): of a Lua handler, an integration
-- (the engine handles its pattern: request-response, .sync,
-- .waitForTaskToken; stepflow.integrations.patterns), a mocked response,
-- or an activity worker.
local handlers = require("stepflow.handlers")
local execution = require("stepflow.execution")
local replay = require("stepflow.replay")
local numbers = require("stepflow.asl.number_field")
local targets = require("stepflow.integrations.targets")
local task_call = require("stepflow.states.task_call")
local answers = require("stepflow.integrations.answers")

local M = {}

local count = execution.count
local Call = task_call.Call
local LAMBDA_EVENTS, TASK_EVENTS, ACTIVITY_EVENTS =
  task_call.LAMBDA_EVENTS, task_call.TASK_EVENTS, task_call.ACTIVITY_EVENTS
local setmetatable = setmetatable

---------------------------------------------------------------- the state

--- A Task state's fixed parts, shared by its calls.
local TaskSpec = {}
TaskSpec.__index = TaskSpec

--- What serves a call: a handler function and the function name it was
-- found under; false and nil when another target serves it (then
-- `cached_target` says which); or nil and the error value the call fails
-- with. The last answer is kept per engine and handlers version:
-- lambda:invoke names its function per call, the other kinds of Resource
-- name one fixed target.
function TaskSpec:find_handler(engine, effective)
  local fn, name, target = targets.resolve(engine, self.info, self.resource, effective)
  if fn == nil and not target then return nil, name end
  if self.kind ~= "lambda_invoke" then
    self.cached_engine, self.cached_version = engine, engine.handlers_version
    self.cached_fn, self.cached_name = fn or false, name
  end
  -- the last target is kept either way: integrations read theirs back
  self.cached_target = target or false
  return fn or false, name, target
end

local function compile_spec(c, st, def, where)
  local resource = def.Resource
  local info = handlers.describe(resource)
  local lambda = info.kind == "lambda"
  local activity = info.kind == "activity"
  local events = lambda and LAMBDA_EVENTS or activity and ACTIVITY_EVENTS or TASK_EVENTS
  local pattern = info.pattern
  local task = setmetatable({
    st = st, resource = resource, info = info, kind = info.kind, lambda = lambda,
    activity = activity, typed = not lambda and not activity,
    events = events,
    outcome_types = { [events.succeeded] = true, [events.failed] = true, [events.timed_out] = true },
    resource_type = info.resource_type, resource_name = info.resource or resource,
    wait_token = pattern == ".waitForTaskToken",
    sync = pattern == ".sync" or pattern == ".sync:2",
    timeout_of = numbers.compile(c, st, def, "TimeoutSeconds", "integer", where, { positive = true }),
    heartbeat_of = numbers.compile(c, st, def, "HeartbeatSeconds", "integer", where, { positive = true }),
    prepare = st.prepare, finish = st.finish,
    -- the name a result over the size limit is blamed on
    limit_name = info.kind == "service" and info.resource_type or
      info.kind == "lambda_invoke" and "lambda" or resource,
  }, TaskSpec)
  -- a task token exists for callbacks, .sync jobs (SendTaskSuccess ends
  -- those too, as on AWS) and activities
  task.has_token = task.wait_token or task.sync or activity
  return task
end

-- A call's task token: after a restart, the one its recorded Scheduled
-- event kept (the token was handed out before: to a queue, a child
-- execution, a worker); else a new one.
local function token_for(engine, frame, task)
  local exec = frame.exec
  if exec.replay then
    local ev = replay.peek(exec.replay, frame)
    if ev and ev.type == task.events.scheduled and ev.x and ev.x.token then return ev.x.token end
  end
  return engine:_new_task_token(exec.arn)
end

function M.compile(c, st, def, where)
  local task = compile_spec(c, st, def, where)
  local prepare, timeout_of, heartbeat_of = task.prepare, task.timeout_of, task.heartbeat_of
  local has_token = task.has_token
  st.resource_info = task.info
  st.resource = task.resource
  st.run = function(_, frame, raw)
    local exec = frame.exec
    local engine = exec.engine
    -- The token exists before Parameters, which pass it on as $$.Task.Token.
    local token = has_token and token_for(engine, frame, task) or false
    frame.task_token = token
    local effective = prepare(frame, raw)
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
      -- an answer another process left in the store for this token
      if engine.stored_answers then answers.on_token(engine, token) end
    end
    -- In memory with nothing to record (the common case), Scheduled and
    -- Started are only counted and the target runs at once: schedule()
    -- and start() without their events. An activity records its Started
    -- only when a worker takes it: it goes the general way.
    if not exec.durable and not task.activity and count(exec, frame, 2) then
      local done, value = call:invoke()
      if done ~= nil then return call:settle(done, value) end
      return call:wait()
    end
    return call:schedule()
  end
end

M.Call = Call
M.not_json = task_call.not_json

return M
