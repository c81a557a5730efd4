--- The Task handlers that definitions need and that are not loaded:
-- `stepflow run` warns about them, and `stepflow resume` (and `run
-- --store`, which resumes too) refuses to resume executions that need
-- them, since each of their Tasks would fail for good. Reads definitions
-- as JSON, so it does not depend on how the interpreter compiles them.
local handlers = require("stepflow.handlers")
local json = require("stepflow.json")

local M = {}

-- The missing handler of a Task state, or nil when one in `registry`
-- serves it or when it is known only at run time (a lambda:invoke whose
-- FunctionName is a path or an expression).
local function missing_handler(st, registry)
  local resource = st.Resource
  local info = handlers.describe(resource)
  local payload
  if info.kind == "lambda_invoke" then
    local args = st.Parameters or st.Arguments
    local fname = type(args) == "table" and args.FunctionName
    if type(fname) ~= "string" or fname:find("^%s*{%%") then return nil end
    payload = { FunctionName = fname }
  end
  if handlers.find(registry, resource, info, payload) then return nil end
  if payload then return handlers.function_name(payload.FunctionName) end
  return info.activity or info.name or resource
end

--- The Task states of a decoded definition that no handler of `registry`
-- (name -> function) serves, in Parallel branches and Map processors
-- too: a list of `{state=, resource=, handler=}`, by state name.
function M.missing(def, registry)
  local out = {}
  local function walk(machine)
    local states = type(machine) == "table" and machine.States
    if type(states) ~= "table" then return end
    local names = {}
    for name in pairs(states) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local st = states[name]
      if type(st) == "table" then
        if st.Type == "Task" and type(st.Resource) == "string" then
          local want = missing_handler(st, registry)
          if want then out[#out + 1] = { state = name, resource = st.Resource, handler = want } end
        end
        if type(st.Branches) == "table" then
          for _, branch in ipairs(st.Branches) do walk(branch) end
        end
        walk(st.ItemProcessor)
        walk(st.Iterator)
      end
    end
  end
  walk(def)
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

return M
