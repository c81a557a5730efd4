--- Map Runs (a Distributed Map's visits): DescribeMapRun, ListMapRuns,
-- UpdateMapRun, over the engine's Map Runs (running ones in memory, ended
-- ones of durable executions in the store); and ListExecutions with a mapRunArn, which
-- lists a run's child executions from the store: a Map Run
-- `arn:...:mapRun:Parent/Label:ID` runs its children as executions named
-- `ID-<index>` of the state machine `Parent/Label`
-- (stepflow.states.map_run).
local json = require("stepflow.json")
local common = require("stepflow.server.common")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

local function not_found(arn)
  return nil, "ResourceNotFound", "Resource not found: '" .. arn .. "'", { resourceName = arn }
end

-- The parts of a Map Run ARN: the child state machine's ARN and the run
-- id; or nil and InvalidArn.
local function parts(arn)
  local p, why = common.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  local machine, id = p.resource:match("^([^:]+/[^:/]+):([^:]+)$")
  if p.type ~= "mapRun" or not machine then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  return { sm_arn = "arn:" .. p.partition .. ":states:" .. p.region .. ":" .. p.account .. ":stateMachine:"
    .. machine, id = id }
end

--- The Map Run that started an execution (a child's record), or nil.
function M.run_of(rec)
  local machine = rec.sm_arn:match(":stateMachine:([^:]+/[^:/]+)$")
  local id = machine and rec.name:match("^(.+)%-%d+$")
  if not id then return nil end
  return (rec.sm_arn:gsub(":stateMachine:[^:]+$", ":mapRun:" .. machine .. ":" .. id))
end

function ops.DescribeMapRun(server, input)
  local ok, code, message = parts(input.mapRunArn)
  if not ok then return nil, code, message end
  local d = server.engine:describe_map_run(input.mapRunArn)
  if not d then return not_found(input.mapRunArn) end
  d.startDate, d.stopDate = date(d.startDate), date(d.stopDate)
  return d
end

function ops.ListMapRuns(server, input)
  local ok, code, message = common.execution_arn(input.executionArn)
  if not ok then return nil, code, message end
  if not server.engine:describe_execution(input.executionArn) then
    return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. input.executionArn .. "'"
  end
  local items = server.engine:list_map_runs(input.executionArn)
  for _, r in ipairs(items) do r.startDate, r.stopDate = date(r.startDate), date(r.stopDate) end
  local page, token, tmessage = common.page(items, input, "map_runs:" .. input.executionArn)
  if not page then return nil, token, tmessage end
  return { mapRuns = page, nextToken = token }
end

function ops.UpdateMapRun(server, input, call)
  local ok, code, message = parts(input.mapRunArn)
  if not ok then return nil, code, message end
  if input.maxConcurrency == nil and input.toleratedFailureCount == nil
      and input.toleratedFailurePercentage == nil then
    return nil, "ValidationException", "At least one of maxConcurrency, toleratedFailureCount or "
      .. "toleratedFailurePercentage must be specified"
  end
  if not server.engine:describe_map_run(input.mapRunArn) then return not_found(input.mapRunArn) end
  ok, code, message = server.engine:update_map_run(input.mapRunArn, { max_concurrency = input.maxConcurrency,
    tolerated_failure_count = input.toleratedFailureCount,
    tolerated_failure_percentage = input.toleratedFailurePercentage })
  if not ok then return nil, code, message end
  return call:reply_after_commit({})
end

-- How many items a child processed: a batch's (its input's Items), else 1.
local function item_count(rec, batched)
  if not batched or not rec.input then return 1 end
  local input = json.try_decode(rec.input)
  return type(input) == "table" and json.is_array(input.Items) and #input.Items or 1
end

--- ListExecutions with a mapRunArn: the run's children, newest first
-- (with statusFilter and redriveFilter; PENDING_REDRIVE lists none: a
-- redriven child runs at once here).
function M.list_children(server, input)
  local arn = input.mapRunArn
  local p, code, message = parts(arn)
  if not p then return nil, code, message end
  local engine = server.engine
  -- a run that batched its items counted more items than children
  local d = engine:describe_map_run(arn)
  local batched = d and d.itemCounts.total ~= d.executionCounts.total
  local status = input.statusFilter
  local redriven
  if input.redriveFilter then redriven = input.redriveFilter == "REDRIVEN" end
  local list, err = engine:list_executions({ sm_arn = p.sm_arn,
    status = status ~= "PENDING_REDRIVE" and status or nil, redriven = redriven })
  if not list then return nil, "InternalFailure", tostring(err) end
  local prefix = p.id .. "-"
  local items, any = {}, false
  for _, e in ipairs(list) do
    if e.name:sub(1, #prefix) == prefix then
      any = true
      if status ~= "PENDING_REDRIVE" then
        items[#items + 1] = { executionArn = e.arn, stateMachineArn = e.sm_arn, name = e.name, status = e.status,
          startDate = date(e.started), stopDate = date(e.stopped), mapRunArn = arn,
          itemCount = item_count(e, batched), redriveCount = e.redrive_count or 0,
          redriveDate = date(e.redrive_date) }
      end
    end
  end
  if not any and not d then return not_found(arn) end
  local page, token, tmessage = common.page(items, input, "children:" .. arn .. ":" .. (status or "")
    .. ":" .. (input.redriveFilter or ""))
  if not page then return nil, token, tmessage end
  return { executions = page, nextToken = token }
end

return M
