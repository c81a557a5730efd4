--- Operations on executions: StartExecution, StartSyncExecution,
-- DescribeExecution, StopExecution, ListExecutions, GetExecutionHistory.
-- STANDARD executions are durable (the engine's store); EXPRESS ones run
-- in memory and, as on AWS, cannot be described or listed afterwards.
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")
local common = require("stepflow.server.common")
local sm_ops = require("stepflow.server.ops_state_machines")

local M = {}

local date, lookup = common.date, sm_ops.lookup
local try_decode, encode = json.try_decode, json.encode
local ceil, max = math.ceil, math.max
local ops = {}
M.operations = ops

local INCLUDED = { included = true }

local function does_not_exist(arn)
  return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. arn .. "'"
end

-- The execution input of a request: its value, or nil and the error.
local function decode_input(text)
  if text == nil then return {} end
  local value, err = try_decode(text)
  if value == nil then
    return nil, "InvalidExecutionInput", "Invalid State Machine Execution Input: '" .. tostring(err) .. "'"
  end
  return value
end

-- The engine's refusal of a start as the API's error.
local function refused(msg, info, name, sm)
  local code = info and info.code or "InternalFailure"
  if code == "ExecutionAlreadyExists" then
    return nil, code, "Execution Already Exists: '" .. (sm.exec_arn_prefix or "") .. tostring(name) .. "'"
  end
  if code ~= "ValidationException" then code = "InternalFailure" end
  return nil, code, (tostring(msg):gsub("^%a+: ", ""))
end

-- Checks the parts StartExecution and StartSyncExecution share: the
-- machine, the name and the input. A stateMachineArn may end in
-- "#TestCase": the execution runs with that test case of the server's
-- mock config (--mock-config), as on Step Functions Local. Returns the
-- machine record, the input value and the test case, or nil and the
-- error.
local function start_args(server, input)
  local arn, case = server.engine:mock_test_case(input.stateMachineArn)
  local rec, code, message = lookup(server, arn)
  if not rec then return nil, code, message end
  if input.name then
    local ok
    ok, code, message = common.check_name(input.name)
    if not ok then return nil, code, message end
  end
  local value
  value, code, message = decode_input(input.input)
  if value == nil then return nil, code, message end
  return rec, value, case
end

function ops.StartExecution(server, input, call)
  local rec, value, case = start_args(server, input)
  if not rec then return nil, value, case end
  local engine = server.engine
  local exec, err, info = engine:start_execution(rec.sm, value, { name = input.name, test_case = case })
  if not exec then return refused(err, info, input.name, rec.sm) end
  if exec.status ~= "RUNNING" then
    -- the same name and input as an execution that has ended
    return refused(nil, { code = "ExecutionAlreadyExists" }, input.name, rec.sm)
  end
  local out = { executionArn = exec.arn, startDate = date(exec.start_ms) }
  -- a 200 means its ExecutionStarted is committed
  engine:when_durable(exec, function() call:reply(out) end)
  return call:later()
end

-- StartSyncExecution's answer for an ended EXPRESS execution.
local function sync_output(exec, input)
  local metadata_only = input.includedData == "METADATA_ONLY"
  local ms = max(0, (exec.stop_ms or exec.start_ms) - exec.start_ms)
  local out = {
    executionArn = exec.arn, stateMachineArn = exec.machine.arn, name = exec.name,
    startDate = date(exec.start_ms), stopDate = date(exec.stop_ms), status = exec.status,
    error = exec.error, cause = exec.cause, traceHeader = input.traceHeader,
    billingDetails = { billedMemoryUsedInMB = 64, billedDurationInMilliseconds = max(100, ceil(ms / 100) * 100) },
  }
  if metadata_only then
    out.inputDetails, out.outputDetails = { included = false }, { included = false }
  else
    out.input, out.inputDetails = input.input or "{}", INCLUDED
    if exec.status == "SUCCEEDED" then out.output, out.outputDetails = encode(exec.output), INCLUDED end
  end
  return out
end

function ops.StartSyncExecution(server, input, call)
  local rec, value, case = start_args(server, input)
  if not rec then return nil, value, case end
  if rec.type ~= "EXPRESS" then
    return nil, "StateMachineTypeNotSupported", "This operation is only supported by EXPRESS state machines"
  end
  local exec, err, info = server.engine:start_execution(rec.sm, value, { name = input.name, test_case = case,
    on_done = function(e) call:reply(sync_output(e, input)) end })
  if not exec then return refused(err, info, input.name, rec.sm) end
  return call:later()
end

-- The record of a STANDARD execution an ARN names, or nil and the error.
local function execution(server, arn)
  local ok, code, message = common.execution_arn(arn)
  if not ok then return nil, code, message end
  local rec = server.engine:describe_execution(arn)
  if not rec then return does_not_exist(arn) end
  return rec
end

function ops.DescribeExecution(server, input)
  local rec, code, message = execution(server, input.executionArn)
  if not rec then return nil, code, message end
  return {
    executionArn = rec.arn, stateMachineArn = rec.sm_arn, name = rec.name, status = rec.status,
    startDate = date(rec.started), stopDate = date(rec.stopped),
    input = rec.input, inputDetails = rec.input and INCLUDED or nil,
    output = rec.output, outputDetails = rec.output and INCLUDED or nil,
    error = rec.error, cause = rec.cause, redriveCount = 0,
  }
end

function ops.StopExecution(server, input, call)
  local rec, code, message = execution(server, input.executionArn)
  if not rec then return nil, code, message end
  local engine = server.engine
  if rec.status ~= "RUNNING" then
    -- stopping an execution that has ended changes nothing
    return { stopDate = date(rec.stopped) }
  end
  local ok, err = engine:stop_execution(rec.arn, input.error, input.cause)
  if not ok then return nil, "InternalFailure", tostring(err) end
  local now = engine:describe_execution(rec.arn)
  return call:reply_after_commit({ stopDate = date(now and now.stopped or engine.loop:now()) })
end

function ops.ListExecutions(server, input)
  if input.mapRunArn then
    return nil, "ResourceNotFound", "Resource not found: '" .. input.mapRunArn .. "'"
  end
  if not input.stateMachineArn then
    return nil, "ValidationException", "Must provide a StateMachine ARN or MapRun ARN"
  end
  local rec, code, message = lookup(server, input.stateMachineArn)
  if not rec then return nil, code, message end
  if rec.type == "EXPRESS" then
    return nil, "StateMachineTypeNotSupported", "This operation is not supported by EXPRESS state machines"
  end
  local kind = "executions:" .. rec.arn
  local start
  start, code, message = common.page_start(input, kind)
  if not start then return nil, code, message end
  local n = common.page_size(input)
  local items = {}
  if input.statusFilter ~= "PENDING_REDRIVE" and input.redriveFilter ~= "REDRIVEN" then
    -- newest first: the rows up to this page's end, and one more to know
    -- whether another page follows
    local list, err = server.engine:list_executions({ sm_arn = rec.arn, status = input.statusFilter,
      limit = start + n })
    if not list then return nil, "InternalFailure", tostring(err) end
    for i = start, math.min(#list, start + n - 1) do
      local e = list[i]
      items[#items + 1] = { executionArn = e.arn, stateMachineArn = e.sm_arn, name = e.name, status = e.status,
        startDate = date(e.started), stopDate = date(e.stopped) }
    end
    if #list >= start + n then return { executions = json.array(items), nextToken = common.token(kind, start + n) } end
  end
  return { executions = json.array(items) }
end

-- Fields of event details that carry execution data.
local DATA = { input = "inputDetails", output = "outputDetails" }

function ops.GetExecutionHistory(server, input)
  local rec, code, message = execution(server, input.executionArn)
  if not rec then return nil, code, message end
  -- a token holds the last event id of its page: a page reads only
  -- itself (and one more event, to know whether another follows)
  local kind = "history:" .. rec.arn .. (input.reverseOrder and ":reverse" or "")
  local after
  if input.nextToken ~= nil then
    after = common.read_token(input.nextToken, kind)
    if math.type(after) ~= "integer" then
      return nil, "InvalidToken", "Invalid Token: '" .. input.nextToken .. "'"
    end
  end
  local n = common.page_size(input)
  local page, err = server.engine:history(rec.arn, { after = after, limit = n + 1,
    reverse = input.reverseOrder or nil })
  if not page then
    if err == "ExecutionDoesNotExist" then return does_not_exist(rec.arn) end
    return nil, "InternalFailure", tostring(err)
  end
  local token
  if #page > n then
    page[#page] = nil
    token = common.token(kind, page[#page].id)
  end
  local strip = input.includeExecutionData == false
  for _, e in ipairs(page) do
    e.timestamp = timestamp.parse(e.timestamp)
    if strip then
      for k, v in pairs(e) do
        if type(v) == "table" and k:sub(-12) == "EventDetails" then
          for field, details in pairs(DATA) do
            if v[field] ~= nil then
              v[field] = nil
              v[details] = { included = false }
            end
          end
        end
      end
    end
  end
  return { events = json.array(page), nextToken = token }
end

return M
