--- Static validation of Amazon States Language definitions.
--
--     local validate = require("stepflow.asl.validate")
--     local problems = validate.check(definition_table)
--     -- { { path = "/States/Charge/Next", message = "no state named ..." }, ... }
--
-- It rejects what AWS's ValidateStateMachineDefinition / CreateStateMachine
-- rejects, accepts what AWS accepts, and refuses loudly the features
-- stepflow does not implement (an ItemReader of PARQUET data). Every
-- problem is collected, in a stable order (a depth-first walk with keys
-- sorted), each with a JSON pointer into the definition.
local util = require("stepflow.asl.validate.util")
local scope = require("stepflow.asl.validate.scope")

local M = {}

local show = util.show

local MAX_TIMEOUT = 99999999

local function check_top(ctx, def)
  local ql = def.QueryLanguage
  if ql ~= nil and ql ~= "JSONPath" and ql ~= "JSONata" then
    ctx:add("/QueryLanguage", "Value should be one of the following: [JSONPath, JSONata]; got "
      .. show(ql))
  end
  ctx.machine_jsonata = (ql == "JSONata")
  if def.Version ~= nil and def.Version ~= "1.0" then
    ctx:add("/Version", "Version must be \"1.0\" (the only ASL version), got " .. show(def.Version))
  end
  local t = def.TimeoutSeconds
  if t ~= nil and (not util.is_integer(t) or t < 0 or t > MAX_TIMEOUT) then
    ctx:add("/TimeoutSeconds", "TimeoutSeconds must be an integer from 0 to " .. MAX_TIMEOUT
      .. " (the execution timeout in seconds), got " .. show(t))
  end
end

--- Validates a definition (a decoded JSON object).
-- @param definition the state machine, as a Lua table
-- @param opts optional { type = "STANDARD" | "EXPRESS" }: EXPRESS also
--   refuses what Express workflows cannot run (.sync, .waitForTaskToken)
-- @return array of { path = <JSON pointer>, message = <string> }; empty when valid
function M.check(definition, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'check' (table expected, got " .. type(opts) .. ")", 2)
  end
  local ctx = util.new_ctx(opts)
  if not util.is_object(definition) then
    ctx:add("", "Definition must be a valid JSON object, got " .. util.type_name(definition))
    return ctx.problems
  end
  ctx.check_scope = scope.check
  ctx.all_names = {}
  scope.collect_names(definition, ctx.all_names, "")
  check_top(ctx, definition)
  scope.check(ctx, "", definition, "machine")
  require("stepflow.asl.validate.variables").check(ctx, definition)
  return ctx.problems
end

--- Formats problems as lines "path: message", one per problem.
function M.format(problems)
  local lines = {}
  for i, p in ipairs(problems) do lines[i] = p.path .. ": " .. p.message end
  return table.concat(lines, "\n")
end

--- Validates and returns true, or nil, a message listing every problem,
-- and the problems list (the `nil, err` form of check).
function M.validate(definition, opts)
  local problems = M.check(definition, opts)
  if #problems == 0 then return true end
  return nil, "invalid state machine definition (" .. #problems .. " problem"
    .. (#problems == 1 and "" or "s") .. "):\n" .. M.format(problems), problems
end

return M
