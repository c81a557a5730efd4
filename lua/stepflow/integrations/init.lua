--- Service integrations: what an engine offers beyond Lua handlers.
--
--   stepflow.integrations.resource   the one parser of Resource strings
--   stepflow.integrations.registry   integrations written in Lua
--   stepflow.integrations.patterns   request-response, .sync, .waitForTaskToken
--   stepflow.integrations.mocks      Step Functions Local's MockConfigFile
--   stepflow.integrations.nested     nested executions (states:startExecution)
--   stepflow.integrations.http       the HTTP Task (http:invoke)
--   stepflow.integrations.activities activity tasks for workers
--
-- This module makes an engine's parts (`setup`) and loads integrations
-- from files. docs/INTEGRATIONS.md describes them for users.
local registry = require("stepflow.integrations.registry")
local activities = require("stepflow.integrations.activities")
local nested = require("stepflow.integrations.nested")

local M = {}

M.resource = require("stepflow.integrations.resource")
M.mocks = require("stepflow.integrations.mocks")
M.aws_errors = require("stepflow.integrations.aws_errors")

-- The integrations every engine has (a user's registration for the same
-- Resource replaces one).
local function builtins(reg)
  assert(reg:register("arn:aws:states:::states:startExecution", nested.start_execution))
  for action, spec in pairs(nested.sdk) do
    assert(reg:register("arn:aws:states:::aws-sdk:sfn:" .. action, spec))
  end
  assert(reg:register("arn:aws:states:::http:invoke", require("stepflow.integrations.http").invoke))
end

--- An engine's integration registry (with the built-in integrations) and
-- activity queues.
function M.setup()
  local reg = registry.new()
  builtins(reg)
  return reg, activities.new()
end

--- Whether a handlers-file entry is an integration: a Resource pattern
-- key with a table value.
function M.is_integration_entry(name, value)
  return type(value) == "table" and type(name) == "string"
end

return M
