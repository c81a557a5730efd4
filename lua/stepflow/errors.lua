--- ASL error values: `{Error = name, Cause = text}` that flow through
-- Retry and Catch. Runtime bugs raise ordinary Lua errors instead.
local M = {}

local mt = { __name = "stepflow.error" }
mt.__index = mt
M.mt = mt

function mt.__tostring(e)
  if e.Cause ~= nil then return e.Error .. ": " .. e.Cause end
  return e.Error
end

--- Makes an ASL error value. `cause` may be nil (AWS then records none).
function M.new(name, cause)
  if type(name) ~= "string" then
    error("stepflow.errors.new: error name must be a string", 2)
  end
  if cause ~= nil and type(cause) ~= "string" then cause = tostring(cause) end
  return setmetatable({ Error = name, Cause = cause }, mt)
end

--- Tells whether `v` is an ASL error value made by `new`.
function M.is(v)
  return getmetatable(v) == mt
end

--- Raises an ASL error value (level 0: no position prefix).
function M.raise(name, cause)
  error(M.new(name, cause), 0)
end

--- Turns anything a handler raised into an ASL error value: error objects
-- and `{Error=..., Cause=...}` tables keep their name, anything else is
-- States.TaskFailed with the message as cause.
function M.from(v)
  if getmetatable(v) == mt then return v end
  if type(v) == "table" and type(v.Error) == "string" then
    local cause = v.Cause
    if cause ~= nil and type(cause) ~= "string" then cause = tostring(cause) end
    return setmetatable({ Error = v.Error, Cause = cause }, mt)
  end
  return M.new("States.TaskFailed", tostring(v))
end

--- The serialised form: a plain `{Error, Cause}` table (Cause omitted when nil).
function M.output(e)
  return { Error = e.Error, Cause = e.Cause }
end

M.ALL = "States.ALL"
M.Runtime = "States.Runtime"
M.Timeout = "States.Timeout"
M.HeartbeatTimeout = "States.HeartbeatTimeout"
M.TaskFailed = "States.TaskFailed"
M.Permissions = "States.Permissions"
M.ResultPathMatchFailure = "States.ResultPathMatchFailure"
M.ParameterPathFailure = "States.ParameterPathFailure"
M.BranchFailed = "States.BranchFailed"
M.NoChoiceMatched = "States.NoChoiceMatched"
M.IntrinsicFailure = "States.IntrinsicFailure"
M.ExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
M.DataLimitExceeded = "States.DataLimitExceeded"
M.ItemReaderFailed = "States.ItemReaderFailed"
M.ResultWriterFailed = "States.ResultWriterFailed"
M.QueryEvaluationError = "States.QueryEvaluationError"

return M
