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

-- A value a handler raised, described for a cause: text as it is,
-- numbers and booleans written out, anything else by its type (a table's
-- address means nothing to the reader, and changes from run to run).
local function describe(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return tostring(v) end
  if t == "table" then
    local m = getmetatable(v)
    if m and m.__tostring then
      local ok, s = pcall(tostring, v)
      if ok and type(s) == "string" then return s end
    end
  end
  return "a " .. t .. " value"
end

--- Turns anything a handler raised into an ASL error value: error objects
-- and `{Error=..., Cause=...}` tables keep their name (a cause that is not
-- text is written out), anything else is States.TaskFailed with the
-- message as cause.
function M.from(v)
  if getmetatable(v) == mt then return v end
  if type(v) == "table" then
    local name = v.Error
    if type(name) == "string" then
      local cause = v.Cause
      if cause ~= nil and type(cause) ~= "string" then cause = describe(cause) end
      return setmetatable({ Error = name, Cause = cause }, mt)
    end
    if name ~= nil then
      return M.new("States.TaskFailed", "the handler raised an error table whose Error is " ..
        describe(name) .. ", not a string" ..
        (v.Cause ~= nil and (" (Cause: " .. describe(v.Cause) .. ")") or ""))
    end
  end
  return M.new("States.TaskFailed", describe(v))
end

local json  -- stepflow.json, loaded at the first check (every state output is checked)

--- Raises States.DataLimitExceeded when a state's result is over the
-- engine's payload limit, as AWS words it for the state (or the Resource)
-- `name`. `limit` false: no limit.
function M.check_size(value, limit, name)
  if not limit then return end
  json = json or require("stepflow.json")
  if json.size_within(value, limit) then return end
  local ok, text = pcall(json.encode, value)
  if ok and #text <= limit then return end
  error(M.new(M.DataLimitExceeded, "The state/task '" .. name .. "' returned a result with a " ..
    "size exceeding the maximum number of bytes service limit."), 0)
end

--- A defect of the runtime (or of a state's code) met while running one
-- execution: that execution fails with States.Runtime, and the engine goes
-- on. `e` is the Lua error (with its traceback), `frame` where it happened.
function M.internal(e, frame)
  local text = tostring(e)
  if #text > 4000 then text = text:sub(1, 4000) .. "..." end
  local where = ""
  if frame and frame.state then where = " in state '" .. tostring(frame.state.name) .. "'" end
  return M.new(M.Runtime, "internal error" .. where .. ": " .. text ..
    " (a stepflow defect: please report it with this message)")
end

--- The serialised form: a plain `{Error, Cause}` table (Cause omitted when
-- nil). A timeout has no cause in AWS's events but an empty one here.
function M.output(e)
  local cause = e.Cause
  if cause == nil and (e.Error == M.Timeout or e.Error == M.HeartbeatTimeout) then cause = "" end
  return { Error = e.Error, Cause = cause }
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
