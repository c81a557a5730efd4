--- Operations on executions: StartExecution, StartSyncExecution,
-- DescribeExecution, StopExecution, ListExecutions, GetExecutionHistory.
-- STANDARD executions are durable (the engine's store); EXPRESS ones run
-- in memory and, as on AWS, cannot be described or listed afterwards.
-- An execution may be started through a version or an alias ARN (an
-- alias picks one of its versions by weight); DescribeExecution and
-- ListExecutions show them.
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")
local common = require("stepflow.server.common")
local sm_ops = require("stepflow.server.ops_state_machines")
local map_runs = require("stepflow.server.ops_map_runs")

local M = {}

local date = common.date
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
-- machine (or its version or alias), the name and the input. A
-- stateMachineArn may end in "#TestCase": the execution runs with that
-- test case of the server's mock config (--mock-config), as on Step
-- Functions Local. Returns a start {rec, sm (the compiled machine to
-- run), version_arn, alias_arn, type, test_case} and the input value, or
-- nil and the error.
local function start_args(server, input)
  local arn, case = server.engine:_mock_test_case(input.stateMachineArn)
  local rec, v, alias = sm_ops.resolve(server, arn)
  if not rec then return nil, v, alias end
  if rec.status == "DELETING" then return sm_ops.deleting(rec.arn) end
  local code, message
  if input.name then
    local ok
    ok, code, message = common.check_name(input.name)
    if not ok then return nil, code, message end
  end
  local value
  value, code, message = decode_input(input.input)
  if value == nil then return nil, code, message end
  local start = { rec = rec, sm = rec.sm, type = rec.type, test_case = case }
  if alias then
    start.alias_arn = alias.arn
    v = server.versions:get(server.versions:route(alias))
    if not v then return sm_ops.not_found(input.stateMachineArn) end
  end
  if v then
    local sm, err = server.versions:machine(rec, v)
    if not sm then return nil, "InternalFailure", err end
    start.sm, start.version_arn, start.type = sm, v.arn, sm.type
  end
  return start, value
end

function ops.StartExecution(server, input, call)
  local start, value, message = start_args(server, input)
  if not start then return nil, value, message end
  local engine = server.engine
  local exec, err, info = engine:start_execution(start.sm, value, { name = input.name, test_case = start.test_case,
    version_arn = start.version_arn, alias_arn = start.alias_arn })
  if not exec then return refused(err, info, input.name, start.sm) end
  if exec.status ~= "RUNNING" then
    -- the same name and input as an execution that has ended
    return refused(nil, { code = "ExecutionAlreadyExists" }, input.name, start.sm)
  end
  local out = { executionArn = exec.arn, startDate = date(exec.start_ms) }
  -- a 200 means its ExecutionStarted is committed
  engine:_when_durable(exec, function() call:reply(out) end)
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
  local start, value, message = start_args(server, input)
  if not start then return nil, value, message end
  if start.type ~= "EXPRESS" then
    return nil, "StateMachineTypeNotSupported", "This operation is only supported by EXPRESS state machines"
  end
  local exec, err, info = server.engine:start_execution(start.sm, value, { name = input.name,
    test_case = start.test_case, version_arn = start.version_arn, alias_arn = start.alias_arn,
    on_done = function(e) call:reply(sync_output(e, input)) end })
  if not exec then return refused(err, info, input.name, start.sm) end
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

--- Whether an execution can be redriven now: true, or false and AWS's
-- reason (its state machine being deleted, or the engine's reasons).
function M.redrivable(server, rec)
  local machine = server.machines:get(rec.sm_arn)
  if machine and machine.status == "DELETING" then return false, "State machine is in DELETING status" end
  return server.engine:redrivable(rec)
end

function ops.DescribeExecution(server, input)
  local rec, code, message = execution(server, input.executionArn)
  if not rec then return nil, code, message end
  local redrivable, why = M.redrivable(server, rec)
  local out = {
    executionArn = rec.arn, stateMachineArn = rec.sm_arn, name = rec.name, status = rec.status,
    startDate = date(rec.started), stopDate = date(rec.stopped),
    input = rec.input, inputDetails = rec.input and INCLUDED or nil,
    output = rec.output, outputDetails = rec.output and INCLUDED or nil,
    error = rec.error, cause = rec.cause,
    stateMachineVersionArn = rec.version_arn, stateMachineAliasArn = rec.alias_arn,
    mapRunArn = map_runs.run_of(rec),
    redriveCount = rec.redrive_count or 0, redriveDate = date(rec.redrive_date),
    redriveStatus = redrivable and "REDRIVABLE" or "NOT_REDRIVABLE", redriveStatusReason = why,
  }
  if input.includedData == "METADATA_ONLY" then
    out.input, out.output = nil, nil
    out.inputDetails, out.outputDetails = { included = false }, { included = false }
  end
  return out
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

--- An execution record as ListExecutions lists it.
function M.list_item(e)
  return { executionArn = e.arn, stateMachineArn = e.sm_arn, name = e.name, status = e.status,
    startDate = date(e.started), stopDate = date(e.stopped), stateMachineVersionArn = e.version_arn,
    stateMachineAliasArn = e.alias_arn, redriveCount = e.redrive_count or 0, redriveDate = date(e.redrive_date) }
end

function ops.ListExecutions(server, input)
  if input.mapRunArn then
    if input.stateMachineArn then
      return nil, "ValidationException", "Must provide either a StateMachine ARN or a MapRun ARN, not both"
    end
    return map_runs.list_children(server, input)
  end
  if not input.stateMachineArn then
    return nil, "ValidationException", "Must provide a StateMachine ARN or MapRun ARN"
  end
  if input.statusFilter == "PENDING_REDRIVE" then
    return nil, "ValidationException", "PENDING_REDRIVE is a status of the child workflow executions of a "
      .. "Map Run: give a mapRunArn with it"
  end
  local rec, v, alias = sm_ops.resolve(server, input.stateMachineArn)
  if not rec then return nil, v, alias end
  if rec.type == "EXPRESS" then
    return nil, "StateMachineTypeNotSupported", "This operation is not supported by EXPRESS state machines"
  end
  local qualified = (v or alias) and input.stateMachineArn or nil
  local kind = "executions:" .. input.stateMachineArn .. ":" .. (input.statusFilter or "")
    .. ":" .. (input.redriveFilter or "")
  local start, code, message = common.page_start(input, kind)
  if not start then return nil, code, message end
  local n = common.page_size(input)
  local redriven
  if input.redriveFilter then redriven = input.redriveFilter == "REDRIVEN" end
  -- newest first: the rows up to this page's end, and one more to know
  -- whether another page follows
  local list, err = server.engine:list_executions({ sm_arn = rec.arn, status = input.statusFilter,
    limit = start + n, qualified = qualified, redriven = redriven })
  if not list then return nil, "InternalFailure", tostring(err) end
  local items = {}
  for i = start, math.min(#list, start + n - 1) do items[#items + 1] = M.list_item(list[i]) end
  if #list >= start + n then return { executions = json.array(items), nextToken = common.token(kind, start + n) } end
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
