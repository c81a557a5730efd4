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

local M = {}

M.resource = require("stepflow.integrations.resource")
M.mocks = require("stepflow.integrations.mocks")
M.aws_errors = require("stepflow.integrations.aws_errors")

-- A built-in integration whose module loads on first use (most engines
-- never call them): `fields` names its functions, `get()` returns it.
local function lazy(get, fields, extra)
  local spec = {}
  for _, f in ipairs(fields) do
    spec[f] = function(a, ctx) return get()[f](a, ctx) end
  end
  for k, v in pairs(extra or {}) do spec[k] = v end
  return spec
end

local function nested() return require("stepflow.integrations.nested") end

-- The integrations every engine has (a user's registration for the same
-- Resource replaces one).
local function builtins(reg)
  assert(reg:register("arn:aws:states:::states:startExecution",
    lazy(function() return nested().start_execution end, { "call", "start", "resume", "cancel" },
      { error_prefix = "StepFunctions", service_name = "AWSStepFunctions" })))
  for _, action in ipairs({ "startExecution", "describeExecution", "sendTaskSuccess", "sendTaskFailure",
      "sendTaskHeartbeat" }) do
    assert(reg:register("arn:aws:states:::aws-sdk:sfn:" .. action,
      lazy(function() return nested().sdk[action] end, { "call" })))
  end
  assert(reg:register("arn:aws:states:::http:invoke",
    lazy(function() return require("stepflow.integrations.http").invoke end, { "call" })))
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

--- What an engine would resolve Tasks with, made from a handlers table
-- (name -> function, Resource pattern -> integration table) without an
-- engine: for commands that check definitions before they run them.
-- Entries that are not valid integrations are left out.
function M.resolver(entries)
  local fns = {}
  local reg = registry.new()
  builtins(reg)
  for name, v in pairs(entries or {}) do
    if M.is_integration_entry(name, v) then reg:register(name, v) else fns[name] = v end
  end
  return { handlers = fns, integrations = reg, region = "us-east-1", account = "123456789012",
    _uuid = function() return "00000000-0000-4000-8000-000000000000" end }
end

return M
