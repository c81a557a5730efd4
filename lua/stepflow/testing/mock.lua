--- What a TestState request may mock, as AWS checks it: a mock (a result
-- or an error, not both) only for a Task, Map or Parallel state (a Map or
-- Parallel needs one: TestState runs no iterations or branches); a Map's
-- result is an array (an object with a ResultWriter), a Parallel's an
-- array of one result per branch; the state configuration fits the
-- state; a given Context object holds only what AWS allows. A mock result
-- is also checked against the model of the service the Task calls
-- (fieldValidationMode: stepflow.testing.fields).
local json = require("stepflow.json")

local M = {}

local function refuse(message)
  return nil, "ValidationException", message
end

--- Checks a request's mock and state configuration against the state
-- under test. Returns the decoded mock result (or json.null when the mock
-- is an error), or nil, code, message; true without a mock.
function M.check(req, def)
  local mock, config = req.mock, req.config or {}
  local stype = def.Type
  if not mock then
    if stype == "Map" or stype == "Parallel" then
      return nil, "InvalidDefinition", "TestState API does not support Map or Parallel states. Supported state "
        .. "types include: [Task, Wait, Pass, Succeed, Fail, Choice]"
    end
    if config.mapIterationFailureCount ~= nil then
      return refuse("TestState does not support MapIterationFailureCount when a mock is not specified.")
    end
    if req.context ~= nil then return refuse("TestState does not support a Context object when a mock is not "
      .. "specified.") end
    return true
  end
  if stype ~= "Task" and stype ~= "Map" and stype ~= "Parallel" then
    return refuse("State type '" .. tostring(stype) .. "' is not supported when a mock is specified")
  end
  if (mock.result ~= nil) == (mock.errorOutput ~= nil) then
    return refuse("A test mock should have only one of the following fields: [result, errorOutput].")
  end
  if req.reveal_secrets then return refuse("TestState does not support RevealSecrets when a mock is specified.") end
  if mock.errorOutput then return json.null end
  local result = json.try_decode(mock.result)
  if result == nil then return refuse("Mocked result must be valid JSON") end
  if stype == "Map" then
    if def.ResultWriter ~= nil then
      if type(result) ~= "table" or json.is_array(result) or getmetatable(result) == json.array_mt then
        return refuse("Mocked result must be a JSON object.")
      end
    elseif not json.is_array(result) and not (type(result) == "table" and next(result) == nil) then
      return refuse("Mocked result must be an array.")
    end
    local failures = config.mapIterationFailureCount
    if failures and def.ResultWriter == nil and failures > #result then
      return refuse("Map iteration failure count must be less than or equal to the number of Map iterations")
    end
  elseif stype == "Parallel" then
    if not json.is_array(result) then return refuse("Mocked result must be an array.") end
    if #result ~= #def.Branches then
      return refuse("Mocked result must contain the same number of items as number of Parallel branches.")
    end
  end
  return result
end

--- Checks the state configuration's errorCausedByState: a state of the
-- Map's processor or of the Parallel's branches (true), or nil, code,
-- message.
function M.check_caused_by(req, def)
  local name = (req.config or {}).errorCausedByState
  if name == nil then return true end
  if def.Type ~= "Map" and def.Type ~= "Parallel" then
    return refuse("TestState supports errorCausedByState only for Map and Parallel states.")
  end
  if not (req.mock and req.mock.errorOutput) then
    return refuse("TestState supports errorCausedByState only with a mocked error.")
  end
  local scopes = def.Type == "Map" and { def.ItemProcessor or def.Iterator } or def.Branches
  for _, scope in ipairs(scopes or {}) do
    if type(scope) == "table" and type(scope.States) == "table" and scope.States[name] ~= nil then return true end
  end
  return refuse("errorCausedByState '" .. name .. "' is not a state of the " .. def.Type .. " state")
end

--- An S3 backend serving the state configuration's mapItemReaderData as
-- whatever object a Map's ItemReader reads (the data as found in its
-- source: JSON, JSON Lines, CSV, a manifest).
function M.reader_backend(data)
  return { open = function()
    if data == nil then return nil, "NoSuchKey", "TestState: no mapItemReaderData given to read" end
    local done = false
    return { read = function()
      if done then return nil end
      done = true
      return data
    end, close = function() end }
  end }
end

-- The fields a mocked Context object may hold, by part.
local CONTEXT_FIELDS = {
  Execution = { Id = "string", Input = "any", Name = "string", RoleArn = "string", StartTime = "string",
    RedriveCount = "number", RedriveTime = "string" },
  State = { EnteredTime = "string", Name = "string", RetryCount = "number" },
  StateMachine = { Id = "string", Name = "string" },
  Task = { Token = "string" },
}

local function invalid_context(message)
  return refuse("Invalid Context object provided: " .. message)
end

--- Decodes and checks a mocked Context object for the state `def`: the
-- object, or nil, code, message.
function M.context(text, def)
  local ctx = json.try_decode(text)
  if type(ctx) ~= "table" or json.is_array(ctx) then return invalid_context("it must be a JSON object") end
  for part, value in pairs(ctx) do
    if part == "Map" then return invalid_context("'Map' field is not supported when mocking a Context object") end
    local fields = CONTEXT_FIELDS[part]
    if not fields then return invalid_context("Field '" .. tostring(part) .. "' is not allowed") end
    if part == "Task" then
      local r = def.Resource
      if def.Type ~= "Task" or type(r) ~= "string" or not (r:find("%.waitForTaskToken$") or r:find("%.sync")) then
        return invalid_context("Context object contains 'Task' when state is not a Task state with a '.sync' or "
          .. "'.waitForTaskToken' service integration pattern")
      end
    end
    if type(value) ~= "table" or json.is_array(value) then
      return invalid_context(part .. " must be an object")
    end
    for field, v in pairs(value) do
      local want = fields[field]
      if not want then return invalid_context("Field '" .. tostring(field) .. "' is not allowed") end
      if want ~= "any" and type(v) ~= want then
        return invalid_context(part .. "." .. field .. " must be a " .. want)
      end
    end
  end
  return ctx
end

return M
