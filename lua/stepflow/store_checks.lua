--- The argument checks of the store interface (docs/STORE.md), shared by
-- its two back ends (stepflow.store on SQLite, stepflow.store_pg): a
-- caller's mistake raises, naming the call, as the same text on both.
-- `level` (optional) is error()'s level; the default, 3, names the caller
-- of the Store method that calls the check.
local M = {}

local math_type = math.type

M.STATUSES = { RUNNING = true, SUCCEEDED = true, FAILED = true, TIMED_OUT = true, ABORTED = true }

function M.string(fname, field, v, optional, level)
  if v == nil and optional then return end
  if type(v) ~= "string" then
    error("stepflow.store." .. fname .. ": " .. field .. " must be a string", level or 3)
  end
end

function M.ms(fname, field, v, level)
  if math_type(v) ~= "integer" then
    error("stepflow.store." .. fname .. ": " .. field .. " must be an integer (ms since the epoch)", level or 3)
  end
end

function M.table(fname, t, level)
  if type(t) ~= "table" then error("stepflow.store." .. fname .. ": expects a table", level or 3) end
end

--- Checks list_executions' filter (called by that method): {status,
-- sm_arn, limit, qualified, redriven}.
function M.list_filter(filter)
  M.table("list_executions", filter, 4)
  if filter.status ~= nil and not M.STATUSES[filter.status] then
    error("stepflow.store.list_executions: unknown status " .. tostring(filter.status), 3)
  end
  M.string("list_executions", "sm_arn", filter.sm_arn, true, 4)
  if filter.limit ~= nil and math_type(filter.limit) ~= "integer" then
    error("stepflow.store.list_executions: limit must be an integer", 3)
  end
  M.string("list_executions", "qualified", filter.qualified, true, 4)
  if (filter.qualified ~= nil or filter.redriven ~= nil) and filter.sm_arn == nil then
    error("stepflow.store.list_executions: qualified and redriven need sm_arn", 3)
  end
end


--- Checks create_execution's record (called by that method): {arn,
-- sm_arn, name, input, status, started, revision, version_arn,
-- alias_arn}. Returns its status (RUNNING when absent).
function M.execution(e)
  M.table("create_execution", e, 4)
  M.string("create_execution", "arn", e.arn, false, 4)
  M.string("create_execution", "sm_arn", e.sm_arn, false, 4)
  M.string("create_execution", "name", e.name, false, 4)
  M.string("create_execution", "input", e.input, true, 4)
  local status = e.status or "RUNNING"
  if not M.STATUSES[status] then
    error("stepflow.store.create_execution: unknown status " .. tostring(status), 3)
  end
  M.ms("create_execution", "started", e.started, 4)
  if e.revision ~= nil and math_type(e.revision) ~= "integer" then
    error("stepflow.store.create_execution: revision must be an integer", 3)
  end
  M.string("create_execution", "version_arn", e.version_arn, true, 4)
  M.string("create_execution", "alias_arn", e.alias_arn, true, 4)
  return status
end

return M
