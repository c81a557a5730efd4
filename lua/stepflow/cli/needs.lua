--- The Task handlers that definitions need and that are not loaded:
-- `stepflow run` warns about them, and `stepflow resume` (and `run
-- --store`, which resumes too) refuses to resume executions that need
-- them, since each of their Tasks would fail for good. Reads definitions
-- as JSON, so it does not depend on how the interpreter compiles them.
local handlers = require("stepflow.handlers")
local json = require("stepflow.json")
local integrations = require("stepflow.integrations")
local targets = require("stepflow.integrations.targets")

local M = {}

--- The Task states of a decoded definition that nothing in `registry`
-- serves (name -> handler function, Resource pattern -> integration table,
-- and the engine's built-in integrations), in Parallel branches and Map
-- processors too: a list of `{state=, resource=, handler=}`, by state
-- name; `handler` names what to provide.
function M.missing(def, registry)
  local resolver = integrations.resolver(registry)
  local out = {}
  for _, m in ipairs(targets.unresolved(resolver, def)) do
    local info = handlers.describe(m.resource)
    local want = info.kind == "lambda_invoke" and handlers.function_name(
      (m.payload or {}).FunctionName) or info.activity or info.name or m.resource
    out[#out + 1] = { state = m.state, resource = m.resource, handler = want }
  end
  return out
end

--- The RUNNING executions of store `s` whose definitions need handlers
-- that `registry` lacks: a list of `{arn=, missing=}` (oldest first).
-- Executions whose definition cannot be read are left to recovery, which
-- reports them.
function M.running(s, registry)
  local out, seen = {}, {}
  for _, rec in ipairs(s:running() or {}) do
    local text
    if rec.revision then
      text = s:get_definition(rec.sm_arn, rec.revision)
    else
      local sm = s:get_state_machine(rec.sm_arn)
      text = sm and sm.definition
    end
    if text then
      local miss = seen[text]
      if not miss then
        local ok, def = pcall(json.decode, text)
        miss = ok and type(def) == "table" and M.missing(def, registry) or {}
        seen[text] = miss
      end
      if #miss > 0 then out[#out + 1] = { arn = rec.arn, missing = miss } end
    end
  end
  return out
end

-- At most this many executions are listed; the rest are counted.
local LISTED = 10

--- Says which executions need which handlers, and what to do.
function M.report(needs, path)
  local w = io.stderr
  w:write("stepflow: ", #needs, " RUNNING execution", #needs == 1 and "" or "s", " in ", path,
    " need", #needs == 1 and "s" or "", " handlers that are not loaded:\n")
  for i, n in ipairs(needs) do
    if i > LISTED then
      w:write("  ... and ", #needs - LISTED, " more\n")
      break
    end
    w:write("  ", n.arn, "\n")
    for _, m in ipairs(n.missing) do
      w:write("    state ", m.state, ": Resource '", m.resource, "' needs a handler named '", m.handler, "'\n")
    end
  end
  w:write("Resuming them without those handlers would fail these Tasks for good (States.TaskFailed, or\n",
    "Lambda.ResourceNotFoundException for a Lambda function) unless a Retry or Catch handles it.\n",
    "Load the handlers with --handlers FILE (a Lua file returning {name = function(input, ctx) ... end}),\n",
    "or resume anyway with --allow-missing-handlers.\n")
end

--- Before an engine resumes the RUNNING executions of store `s` (resume,
-- run --store, serve --store): nil when it may (every handler they need
-- is in `registry`, or `allow`), else 2 after saying which executions need
-- what (store_name names the store).
function M.refuse(s, registry, store_name, allow)
  if allow then return nil end
  local list = M.running(s, registry)
  if #list == 0 then return nil end
  M.report(list, store_name)
  return 2
end

return M
