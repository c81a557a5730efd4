--- ValidateStateMachineDefinition: a definition's diagnostics
-- (stepflow.server.diagnostics) without creating anything; result FAIL
-- when any is an error, else OK. `severity` ERROR (the default) answers
-- the errors only, WARNING the warnings too; at most maxResults (0: 100),
-- `truncated` when there were more.
local json = require("stepflow.json")
local diagnostics = require("stepflow.server.diagnostics")

local M = {}

local ops = {}
M.operations = ops

function ops.ValidateStateMachineDefinition(_, input)
  local all = diagnostics.of(input.definition, input.type)
  local failed = false
  local shown = {}
  for _, d in ipairs(all) do
    if d.severity == "ERROR" then failed = true end
    if d.severity == "ERROR" or input.severity == "WARNING" then shown[#shown + 1] = d end
  end
  local max = input.maxResults
  if max == nil or max == 0 then max = 100 end
  local out = {}
  for i = 1, math.min(max, #shown) do out[i] = shown[i] end
  return { result = failed and "FAIL" or "OK", diagnostics = json.array(out), truncated = #shown > max }
end

return M
