--- TestState: one state run once (stepflow.testing), answered as AWS
-- answers: output, error and cause, nextState, status (SUCCEEDED,
-- FAILED, RETRIABLE, CAUGHT_ERROR) and, at inspectionLevel DEBUG or
-- TRACE, inspectionData with each data-flow stage as JSON text.
local json = require("stepflow.json")
local testing = require("stepflow.testing")

local M = {}

local ops = {}
M.operations = ops

local encode = json.encode

-- Inspection fields AWS answers as numbers or objects, not JSON text.
local AS_IS = { maxConcurrency = true, toleratedFailureCount = true, toleratedFailurePercentage = true,
  errorDetails = true, request = true, response = true }

local function answer(result)
  local out = { status = result.status, error = result.error, cause = result.cause,
    nextState = result.next_state }
  if result.output ~= nil and (result.status == "SUCCEEDED" or result.status == "CAUGHT_ERROR") then
    out.output = encode(result.output)
  end
  if result.inspection then
    local data = {}
    for k, v in pairs(result.inspection) do
      if AS_IS[k] then data[k] = v else data[k] = encode(v) end
    end
    out.inspectionData = data
  end
  return out
end

function ops.TestState(server, input, call)
  if input.roleArn and not input.roleArn:find("^arn:[%w%-]+:iam::%d*:role/.") then
    return nil, "InvalidArn", "Invalid Role Arn: '" .. input.roleArn .. "'"
  end
  local config = input.stateConfiguration
  local ok, code, message = testing.run(server.engine, {
    definition = input.definition, state_name = input.stateName, input = input.input,
    inspection = input.inspectionLevel or "INFO", variables = input.variables, context = input.context,
    mock = input.mock, role_arn = input.roleArn, reveal_secrets = input.revealSecrets,
    config = config and { retrierRetryCount = config.retrierRetryCount,
      errorCausedByState = config.errorCausedByState,
      mapIterationFailureCount = config.mapIterationFailureCount,
      mapItemReaderData = config.mapItemReaderData } or nil,
  }, function(result) call:reply(answer(result)) end)
  if not ok then return nil, code, message end
  -- (answered already when the state ran at once)
  return call:later()
end

return M
