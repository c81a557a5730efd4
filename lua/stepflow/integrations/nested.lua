--- Step Functions as a service of its own engine: nested executions
-- (arn:aws:states:::states:startExecution, with .sync, .sync:2 and
-- .waitForTaskToken) and the AWS SDK integration's sfn actions
-- (startExecution, describeExecution, sendTaskSuccess / Failure /
-- Heartbeat). A child is a real execution of the named state machine of
-- the same engine: visible by its ARN, with its own history.
--
-- A child started without a Name gets one derived from its parent's task
-- (execution, frame, entered event, retry), and its ARN is recorded in
-- TaskSubmitted in the same commit as the child's creation: a parent
-- resumed after a crash finds its child instead of starting a second one.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local timestamp = require("stepflow.asl.timestamp")
local aws_errors = require("stepflow.integrations.aws_errors")
local mocks = require("stepflow.integrations.mocks")
local tokens = require("stepflow.integrations.tokens")

local M = {}

local null = json.null

-- A UUID-shaped name made from text: the same text gives the same name.
local function derived_uuid(text)
  local parts = {}
  for salt = 1, 4 do
    local h = 2166136261 ~ salt
    for i = 1, #text do h = ((h ~ text:byte(i)) * 16777619) & 0xffffffff end
    parts[salt] = h
  end
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x", parts[1], parts[2] >> 16,
    parts[2] & 0xfff, 0x8000 | (parts[3] & 0x3fff), parts[3] >> 16, parts[4])
end

--- The name of a child a parent's call starts without a Name: derived
-- from the call's attempt (ctx.attempt_id), the same after a restart.
function M.child_name(ctx)
  return derived_uuid(ctx.attempt_id)
end

-- An HTTP date (RFC 7231) of epoch ms.
local function http_date(ms)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", ms // 1000)
end

-- The SDK metadata AWS adds to an optimized integration's response.
local function with_metadata(engine, out, body_length)
  local rid = engine:_uuid()
  local date = http_date(engine.loop:now())
  local len = tostring(body_length)
  out.SdkHttpMetadata = {
    AllHttpHeaders = { ["x-amzn-RequestId"] = json.array({ rid }), connection = json.array({ "keep-alive" }),
      ["Content-Length"] = json.array({ len }), Date = json.array({ date }),
      ["Content-Type"] = json.array({ "application/x-amz-json-1.0" }) },
    HttpHeaders = { connection = "keep-alive", ["Content-Length"] = len,
      ["Content-Type"] = "application/x-amz-json-1.0", Date = date, ["x-amzn-RequestId"] = rid },
    HttpStatusCode = 200,
  }
  out.SdkResponseMetadata = { RequestId = rid }
  return out
end

-- An error of the Step Functions service, as the optimized integration
-- (StepFunctions.*) or the AWS SDK one (Sfn.*) names it.
local function sfn_error(ctx, code, message, exception)
  return ctx.error(code, message, { status = 400, exception = exception })
end

-- The state machine named by an ARN: this engine's, or one in its store.
local function machine(engine, arn)
  local sm = engine.machines[arn]
  if sm then return sm end
  local store = engine.store
  local rec = store and store:get_state_machine(arn)
  if not rec then return nil end
  return engine:_machine_of({ arn = "(child)", sm_arn = arn, revision = rec.revision })
end

-- The child's input from the Input parameter: JSON text is decoded (as
-- StartExecution reads it), a value taken as it is, nothing is {}.
-- Returns the value and its text, or nil and the error.
local function child_input(ctx, given)
  if given == nil or given == null then return {}, "{}" end
  if type(given) == "string" then
    local v = json.try_decode(given)
    if v == nil then
      return nil, sfn_error(ctx, "InvalidExecutionInput", "Invalid State Machine Execution " ..
        "Input: 'Unrecognized token in " .. given .. "'", "InvalidExecutionInputException")
    end
    return v, given
  end
  return given, json.encode(given)
end

--- Describes an execution (an engine execution, or a store record) as
-- the .sync patterns return it: Input and Output as JSON text (.sync) or
-- values (.sync:2, `as_json`); epoch ms dates as AWS's optimized
-- integration gives them.
function M.describe(e, as_json)
  local out = {
    ExecutionArn = e.arn, Name = e.name, StateMachineArn = e.sm_arn,
    Status = e.status, StartDate = e.start_ms, StopDate = e.stop_ms,
    InputDetails = { Included = true },
    RedriveCount = 0,
  }
  if as_json then out.Input = e.input else out.Input = e.input_text end
  if e.status == "SUCCEEDED" then
    if as_json then out.Output = e.output else out.Output = json.encode(e.output) end
    out.OutputDetails = { Included = true }
    out.RedriveStatus = "NOT_REDRIVABLE"
    out.RedriveStatusReason = "Execution is SUCCEEDED and cannot be redriven"
  else
    out.Error, out.Cause = e.error, e.cause
    out.RedriveStatus = "REDRIVABLE"
  end
  return out
end

-- The parts `describe` reads of an engine execution.
local function view_of(exec)
  return { arn = exec.arn, name = exec.name, sm_arn = exec.machine.arn, status = exec.status,
    start_ms = exec.start_ms, stop_ms = exec.stop_ms, input = exec.input,
    input_text = rawget(exec, "input_text") or json.encode(exec.input), output = exec.output,
    error = exec.error, cause = exec.cause }
end

-- The parts `describe` reads of a store record.
local function view_of_record(rec)
  return { arn = rec.arn, name = rec.name, sm_arn = rec.sm_arn, status = rec.status,
    start_ms = rec.started, stop_ms = rec.stopped, input = rec.input and json.decode(rec.input),
    input_text = rec.input, output = rec.output and json.decode(rec.output),
    error = rec.error, cause = rec.cause }
end

-- Settles the parent's call with the child's end: its description, or
-- States.TaskFailed with the description as cause.
local function child_ended(ctx, view)
  local as_json = ctx.pattern == ".sync:2"
  local d = M.describe(view, as_json)
  if view.status == "SUCCEEDED" then return ctx.complete(d) end
  return ctx.complete(nil, errors.new(errors.TaskFailed, json.encode(d)))
end

-- Waits for a child execution: at once if it has ended, else when it ends.
local function watch(ctx, engine, arn)
  local child = engine.executions[arn]
  if child and child.machine then
    if child.finished then return child_ended(ctx, view_of(child)) end
    child:when_ends(function(c) child_ended(ctx, view_of(c)) end)
    return true
  end
  local rec = engine.store and engine.store:get_execution(arn)
  if rec and rec.status ~= "RUNNING" then return child_ended(ctx, view_of_record(rec)) end
  return ctx.complete(nil, errors.new(errors.TaskFailed, "stepflow: the child execution " ..
    tostring(arn) .. " is not running on this engine"))
end

--- Starts a child execution for a parent's call. Returns the child, or
-- raises the service error.
local function start_child(params, ctx)
  local engine = ctx.engine
  if type(params) ~= "table" or type(params.StateMachineArn) ~= "string" then
    error(sfn_error(ctx, "ValidationException", "1 validation error detected: Value null at " ..
      "'stateMachineArn' failed to satisfy constraint: Member must not be null",
      aws_errors.base_exception(ctx.service) or "ValidationException"), 0)
  end
  local arn, case_name = mocks.split_arn(params.StateMachineArn)
  local sm = machine(engine, arn)
  if not sm then
    error(sfn_error(ctx, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" ..
      params.StateMachineArn .. "'", "StateMachineDoesNotExistException"), 0)
  end
  local input, input_text = child_input(ctx, params.Input)
  if input == nil then error(input_text, 0) end
  local name = params.Name
  if name == nil or name == null then name = M.child_name(ctx) end
  local prefix = sm.exec_arn_prefix or ("arn:aws:states:" .. engine.region .. ":" .. engine.account ..
    ":execution:" .. sm.name .. ":")
  local existing = engine.executions[prefix .. tostring(name)]
  if existing and (existing.finished or rawget(existing, "input_text") ~= input_text) then
    error(sfn_error(ctx, "ExecutionAlreadyExists", "Execution Already Exists: '" .. existing.arn ..
      "'", "ExecutionAlreadyExistsException"), 0)
  end
  if existing then return existing end
  local child, err, info = engine:start_execution(sm, input, { name = name, history = true,
    test_case = case_name })
  if not child then
    local code = info and info.code or "ValidationException"
    error(sfn_error(ctx, code, tostring(err), code:match("Exception$") and code or
      (code .. "Exception")), 0)
  end
  if child.finished then
    -- a closed execution of that name (a new child never ends this soon)
    error(sfn_error(ctx, "ExecutionAlreadyExists", "Execution Already Exists: '" .. child.arn ..
      "'", "ExecutionAlreadyExistsException"), 0)
  end
  rawset(child, "input_text", input_text)
  return child
end

-- StartExecution's response as the optimized integration returns it.
local function start_response(engine, child)
  local body = '{"executionArn":"' .. child.arn .. '","startDate":' ..
    string.format("%.3fE9", child.start_ms / 1e12) .. "}"
  return with_metadata(engine, { ExecutionArn = child.arn, StartDate = child.start_ms }, #body)
end

--- arn:aws:states:::states:startExecution, with every pattern.
M.start_execution = {
  error_prefix = "StepFunctions", service_name = "AWSStepFunctions",
  call = function(params, ctx)
    return start_response(ctx.engine, start_child(params, ctx))
  end,
  start = function(params, ctx)
    local child = start_child(params, ctx)
    watch(ctx, ctx.engine, child.arn)
    return start_response(ctx.engine, child)
  end,
  resume = function(submitted, ctx)
    watch(ctx, ctx.engine, type(submitted) == "table" and submitted.ExecutionArn)
  end,
  cancel = function(submitted, ctx)
    -- AWS stops a .sync child when its parent stops waiting
    local arn = type(submitted) == "table" and submitted.ExecutionArn
    local child = arn and ctx.engine.executions[arn]
    if child and child.machine and not child.finished then child:stop() end
  end,
}

---------------------------------------------------------------- aws-sdk:sfn

-- AWS SDK v2 causes end with the attempt count on Step Functions' API.
local function sdk_error(ctx, code, message)
  local e = ctx.error(code, message, 400)
  e.Cause = e.Cause .. " (SDK Attempt Count: 1)"
  return e
end

local function iso(ms) return ms and timestamp.format(ms) or nil end

local function token_of(params)
  local t = type(params) == "table" and params.TaskToken
  return type(t) == "string" and t or ""
end

-- What a sendTask* action returns: {} once the engine took the answer,
-- else the engine's reason as the SDK's error (InvalidToken,
-- TaskTimedOut, TaskDoesNotExist, InvalidOutput).
local function answered(ctx, ok, msg, info)
  if ok then return {} end
  local code = info and info.code or "InvalidToken"
  error(sdk_error(ctx, code, tokens.MESSAGES[code] or ("Invalid Output: '" .. tostring(msg) .. "'")), 0)
end

--- The AWS SDK integration's sfn actions, by action name.
M.sdk = {
  startExecution = { call = function(params, ctx)
    local child = start_child(params, ctx)
    return { ExecutionArn = child.arn, StartDate = iso(child.start_ms) }
  end },
  describeExecution = { call = function(params, ctx)
    local arn = type(params) == "table" and params.ExecutionArn
    local e = type(arn) == "string" and ctx.engine:get_execution(arn)
    if not e then
      error(sdk_error(ctx, "ExecutionDoesNotExist", "Execution Does Not Exist: '" ..
        tostring(arn) .. "'"), 0)
    end
    local v = e.machine and view_of(e) or view_of_record(ctx.engine.store:get_execution(arn))
    local out = { ExecutionArn = v.arn, StateMachineArn = v.sm_arn, Name = v.name, Status = v.status,
      StartDate = iso(v.start_ms), StopDate = iso(v.stop_ms), Input = v.input_text,
      InputDetails = { Included = true }, RedriveCount = 0 }
    if v.status == "SUCCEEDED" then
      out.Output, out.OutputDetails = json.encode(v.output), { Included = true }
    elseif v.status ~= "RUNNING" then
      out.Error, out.Cause = v.error, v.cause
    end
    return out
  end },
  sendTaskSuccess = { call = function(params, ctx)
    local output = type(params) == "table" and params.Output
    local value = type(output) == "string" and json.try_decode(output)
    if value == nil then
      error(sdk_error(ctx, "InvalidOutput", "Invalid Output: '" .. tostring(output) .. "'"), 0)
    end
    return answered(ctx, ctx.engine:send_task_success(token_of(params), value))
  end },
  sendTaskFailure = { call = function(params, ctx)
    return answered(ctx, ctx.engine:send_task_failure(token_of(params),
      params.Error == nil and "" or tostring(params.Error), params.Cause ~= nil and tostring(params.Cause) or nil))
  end },
  sendTaskHeartbeat = { call = function(params, ctx)
    return answered(ctx, ctx.engine:send_task_heartbeat(token_of(params)))
  end },
}

return M
