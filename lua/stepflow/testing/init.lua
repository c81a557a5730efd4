--- stepflow.testing: AWS's TestState on an engine. One state runs once,
-- on the engine's loop, and stops there: its output and the state it
-- would go to, or how its error would end it (RETRIABLE where a retrier
-- would retry, CAUGHT_ERROR where a catcher takes it: nothing is retried
-- or waited for), with the data-flow stages it went through
-- (stepflow.asl.inspect, reported as stepflow.testing.report says).
--
-- A mock stands for what the state would get from outside: a Task's
-- result or error (its Resource is not called), a Map's or Parallel's
-- result or error (no iteration or branch runs: TestState tests those
-- only with a mock). A Task that is not mocked calls the engine's handler
-- for its Resource; a Wait does not wait.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local lifecycle = require("stepflow.lifecycle")
local variables = require("stepflow.asl.variables")
local timestamp = require("stepflow.asl.timestamp")
local definition = require("stepflow.testing.definition")
local mock = require("stepflow.testing.mock")
local fields = require("stepflow.testing.fields")
local report = require("stepflow.testing.report")

local M = {}

--- The longest a tested state may run (AWS: five minutes), in ms.
M.LIMIT_MS = 300 * 1000

local THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"

local function refuse(message)
  return nil, "ValidationException", message
end

-- Whether a Task calls what TestState tests only with a mock: an
-- activity, or a .sync or .waitForTaskToken integration.
local function mocked_only(resource)
  return type(resource) == "string" and (resource:find(":activity:", 1, true) ~= nil
    or resource:find("%.waitForTaskToken$") ~= nil or resource:find("%.sync:?%d*$") ~= nil)
end

-- The Context object AWS gives a tested state (when none is mocked).
local function default_context(exec, req, def, now)
  local ctx = {
    Execution = { Id = exec.arn, Input = exec.input, Name = exec.name, RoleArn = req.role_arn or json.null,
      StartTime = timestamp.format(now) },
    StateMachine = { Id = exec.machine.arn, Name = exec.machine.name },
    State = { Name = definition.STATE_NAME, EnteredTime = timestamp.format(now) },
  }
  local t = def.Type
  if t == "Task" or t == "Map" or t == "Parallel" then
    ctx.State.RetryCount = (req.config or {}).retrierRetryCount or 0
  end
  return ctx
end

-- The execution and frame a state is tested in: an EXPRESS execution of
-- a machine of its own, as AWS names them.
local function frame_of(engine, d, req, input, vars, ctx)
  local now = engine.loop:now()
  local sm_name, exec_name = engine:_uuid(), engine:_uuid()
  local prefix = "arn:aws:states:" .. engine.region .. ":" .. engine.account .. ":express:" .. sm_name .. ":"
  local sm = { name = sm_name, type = "EXPRESS", max_ms = M.LIMIT_MS, role_arn = req.role_arn,
    arn = "arn:aws:states:" .. engine.region .. ":" .. engine.account .. ":stateMachine:" .. sm_name,
    exec_arn_prefix = prefix, program = d.state.program }
  local noted = { input = input }
  -- The engine the state sees: the server's, except that an HTTP Task's
  -- request and response are noted, and a tested Wait does not wait (its
  -- timer fires at once).
  local on = setmetatable({
    _http_client = function()
      local real = engine:_http_client()
      return { request = function(_, r, resume)
        noted.http_request = r
        return real:request(r, function(res)
          noted.http_response = res
          resume(res)
        end)
      end }
    end,
  }, { __index = engine })
  if d.def.Type == "Wait" then
    on._after = function(self, _, frame, fn) return engine._after(self, 0, frame, fn) end
  end
  local exec = lifecycle.new(on, sm, exec_name, input, now)
  exec.arn = prefix .. exec_name
  local frame = execution.new_frame(exec, d.state.program, input, vars, function() end)
  frame.state, frame.entered_ms, frame.entered_id = d.state, now, 1
  frame.retry_count = (req.config or {}).retrierRetryCount or 0
  frame.inspection = noted
  ctx = ctx or default_context(exec, req, d.def, now)
  frame.context_part = function(_, k) return ctx[k] end
  frame.context_of = function() return ctx end
  return exec, frame
end

-- The request's variables: a scope, or nil and the error.
local function scope_of(text)
  if text == nil then return variables.NONE end
  local v = json.try_decode(text)
  if type(v) ~= "table" or (json.is_array(v) and next(v) ~= nil) then
    return refuse("variables must be a JSON object of variable names and values")
  end
  if next(v) == nil then return variables.NONE end
  return v
end

-- ASL errors pass; anything else is a defect (kept with its traceback).
local function on_error(e)
  if errors.is(e) then return e end
  return debug.traceback(tostring(e), 2)
end

-- Runs a state that is not mocked: its step goes to `step_fn`, now or
-- when the state resumes.
local function run_state(frame, step_fn)
  local st = frame.state
  local ok, kind, a, b = xpcall(st.run, on_error, st, frame, frame.raw)
  if not ok then return step_fn("fail", errors.is(kind) and kind or errors.internal(kind, frame)) end
  if kind ~= "block" then return step_fn(kind, a, b) end
  frame.intercept = step_fn
end

-- A mocked Task, Map or Parallel: its step from the mock.
local function run_mocked(frame, d, req, result)
  local st, def, raw = frame.state, d.def, frame.raw
  local insp = frame.inspection
  local err = req.mock.errorOutput
  local config = req.config or {}
  local ok, kind, value = xpcall(function()
    if def.Type ~= "Parallel" then
      local effective = st.prepare(frame, raw)
      if def.Type == "Map" then
        local items = st.inspect_items(frame, raw, effective, mock.reader_backend(config.mapItemReaderData))
        for k, v in pairs(items) do if k ~= "items" then insp[k] = v end end
        -- the mocked iterations' failures against the Map's tolerance
        local failed = config.mapIterationFailureCount
        local tc, tp = items.toleratedFailureCount, items.toleratedFailurePercentage
        local total = json.is_array(result) and #result or items.items
        if not err and failed and failed > 0 and ((tc and failed > tc) or (tp and failed * 100 > tp * total)) then
          return "fail", errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE)
        end
      end
    end
    if err then return "fail", errors.new(err.error or "", err.cause) end
    return "next", st.finish(frame, raw, result)
  end, on_error)
  if not ok then return "fail", errors.is(kind) and kind or errors.internal(kind, frame) end
  if kind == "next" then return "next", value, st.next_state end
  return kind, value
end

-- The answer once the state's step is known.
local function conclude(frame, d, req, kind, a, b)
  local st = frame.state
  local result
  if kind == "next" then
    local fine, cerr = true, nil
    if frame.assigned then fine, cerr = pcall(variables.commit, frame) end
    if fine then
      result = { status = "SUCCEEDED", output = a, next_state = b and b.name }
    else
      result = report.on_error(st, frame, frame.raw, errors.is(cerr) and cerr or errors.internal(cerr, frame),
        (req.config or {}).retrierRetryCount)
    end
  else
    result = report.on_error(st, frame, frame.raw, a, (req.config or {}).retrierRetryCount)
    if result.status == "CAUGHT_ERROR" and frame.assigned then pcall(variables.commit, frame) end
  end
  local insp = frame.inspection
  insp.errorDetails = result.details
  local vars = variables.visible(frame.vars, {})
  if next(vars) ~= nil then insp.variables = vars end
  if req.inspection == "DEBUG" or req.inspection == "TRACE" then
    result.inspection = report.inspection(d.def, st.ql, insp)
    if req.inspection == "TRACE" and insp.http_request then
      result.inspection.request, result.inspection.response = report.http(insp.http_request,
        insp.http_response, req.reveal_secrets)
    end
  end
  result.details = nil
  return result
end

--- Tests one state (AWS's TestState) on `engine`. req:
--   definition    JSON text: a state, or a state machine with state_name
--   state_name    the state to test in a state machine
--   input         JSON text (default "{}")
--   inspection    "INFO" (default), "DEBUG" or "TRACE"
--   variables     JSON text: an object of variables the state sees
--   context       JSON text: the Context object (with a mock only)
--   mock          {result = JSON text} or {errorOutput = {error, cause}},
--                 and fieldValidationMode (STRICT, PRESENT, NONE)
--   config        {retrierRetryCount, errorCausedByState,
--                 mapIterationFailureCount, mapItemReaderData}
--   role_arn, reveal_secrets
-- done(result) receives {status = SUCCEEDED | FAILED | RETRIABLE |
-- CAUGHT_ERROR, output, error, cause, next_state, inspection (DEBUG,
-- TRACE: values by AWS's field names)}, now or once the state has run.
-- Returns true, or nil, code, message (InvalidDefinition,
-- InvalidExecutionInput, ValidationException) for a request AWS refuses.
function M.run(engine, req, done)
  local d, code, message = definition.read(req.definition, req.state_name)
  if not d then return nil, code, message end
  local def = d.def
  local input = {}
  if req.input ~= nil then
    local err
    input, err = json.try_decode(req.input)
    if input == nil then
      return nil, "InvalidExecutionInput", "Invalid State Machine Execution Input: '" .. tostring(err) .. "'"
    end
  end
  local vars
  vars, code, message = scope_of(req.variables)
  if not vars then return nil, code, message end
  local result
  result, code, message = mock.check(req, def)
  if result == nil then return nil, code, message end
  local ok
  ok, code, message = mock.check_caused_by(req, def)
  if not ok then return nil, code, message end
  if def.Type == "Task" and not req.mock then
    if not req.role_arn then return refuse("RoleArn must be specified when testing a Task state") end
    if mocked_only(def.Resource) then
      return refuse("TestState tests an activity, a .sync or a .waitForTaskToken Task only with a mock")
    end
  end
  if req.mock and req.mock.result and def.Type == "Task" then
    ok, message = fields.check(def.Resource, result, req.mock.fieldValidationMode or "STRICT")
    if not ok then return refuse("Mock result schema validation error: " .. message) end
  end
  local ctx
  if req.context ~= nil then
    if not req.mock then return refuse("TestState does not support a Context object when a mock is not specified.") end
    ctx, code, message = mock.context(req.context, def)
    if not ctx then return nil, code, message end
  end
  local _, frame = frame_of(engine, d, req, input, vars, ctx)
  local answered = false
  local timer
  local function finish(kind, a, b)
    if answered then return end
    answered = true
    if timer then timer:cancel() end
    frame.intercept = false
    frame.exec.finished = true  -- its timers, handlers and tokens go
    done(conclude(frame, d, req, kind, a, b))
  end
  if req.mock then
    finish(run_mocked(frame, d, req, result))
    return true
  end
  timer = engine.loop:timer(M.LIMIT_MS, function() finish("fail", errors.new(errors.Timeout)) end)
  run_state(frame, finish)
  return true
end

return M
