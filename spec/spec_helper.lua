--- Builders shared by the specs: run a definition to its end on a
-- virtual-time engine and return what happened.
local stepflow = require("stepflow")
local json = require("stepflow.json")

local M = {}

--- Runs `definition` (a table or JSON text) on `input` with `handlers`.
-- Returns status, output-or-{Error,Cause}, execution (with .history), engine.
function M.run(definition, input, handlers, opts)
  opts = opts or {}
  local engine = stepflow.new({ virtual_time = opts.virtual_time ~= false, handlers = handlers,
    history = true, payload_limit = opts.payload_limit })
  local sm, err, problems = engine:create_state_machine(definition, { name = opts.name or "Spec" })
  if not sm then return "INVALID", err, problems end
  local exec = engine:start_execution(sm, input, { name = opts.exec_name })
  engine:run()
  if exec.status == "SUCCEEDED" then return exec.status, exec.output, exec, engine end
  return exec.status, { Error = exec.error, Cause = exec.cause }, exec, engine
end

--- Decodes JSON text (for expected values written as JSON).
function M.j(text) return json.decode(text) end

--- The types of the history events of an execution, in order.
function M.event_types(exec)
  local out = {}
  for i, e in ipairs(exec.history) do out[i] = e.type end
  return out
end

return M
