--- Builders shared by the specs: run a definition to its end on a
-- virtual-time engine and return what happened.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local assert = require("luassert")

local M = {}

local function run_once(definition, input, handlers, opts, history)
  -- the same random numbers in both runs: generated names and request ids
  math.randomseed(20261204)
  local engine = stepflow.new({ virtual_time = opts.virtual_time ~= false, handlers = handlers,
    history = history, payload_limit = opts.payload_limit, history_limit = opts.history_limit })
  local sm, err, problems = engine:create_state_machine(definition, { name = opts.name or "Spec",
    type = opts.type })
  if not sm then return { status = "INVALID", err = err, problems = problems } end
  local exec, serr = engine:start_execution(sm, input, { name = opts.exec_name })
  if not exec then return { status = "REFUSED", err = serr } end
  engine:run()
  local value = exec.output
  if exec.status ~= "SUCCEEDED" then value = { Error = exec.error, Cause = exec.cause } end
  return { status = exec.status, exec = exec, engine = engine, value = value }
end

-- A value with its UUIDs (names, request ids: random in each run) as <uuid>.
local function without_uuids(v)
  if type(v) == "string" then
    return (v:gsub("%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x", "<uuid>"))
  end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = without_uuids(x) end
  return out
end

--- Runs `definition` (a table or JSON text) on `input` with `handlers`
-- twice: as users run it by default (no history: the interpreter's fast
-- paths) and with its history kept, and fails unless both runs end the
-- same way after the same number of events. `handlers` is a table, or a
-- function that makes a fresh table (for handlers that count their calls:
-- each run gets its own). opts.once runs only the history run.
-- Returns status, output-or-{Error,Cause}, execution (with .history), engine.
function M.run(definition, input, handlers, opts)
  opts = opts or {}
  local make = type(handlers) == "function" and handlers or function() return handlers end
  if not opts.once then
    local plain = run_once(definition, input, make(), opts, false)
    local kept = run_once(definition, input, make(), opts, true)
    assert.equal(kept.status, plain.status, "the run without history ended otherwise")
    if kept.exec then
      assert.same(without_uuids(kept.value), without_uuids(plain.value),
        "the run without history gave another result")
      assert.equal(kept.exec.event_id, plain.exec.event_id,
        "the run without history counted another number of events")
    end
    if kept.status == "INVALID" or kept.status == "REFUSED" then return kept.status, kept.err, kept.problems end
    return kept.status, kept.value, kept.exec, kept.engine
  end
  local r = run_once(definition, input, make(), opts, true)
  if r.status == "INVALID" or r.status == "REFUSED" then return r.status, r.err, r.problems end
  return r.status, r.value, r.exec, r.engine
end

--- Decodes JSON text (for expected values written as JSON).
function M.j(text) return json.decode(text) end

--- The types of the history events of an execution, in order.
function M.event_types(exec)
  local out = {}
  for i, e in ipairs(exec.history) do out[i] = e.type end
  return out
end

--- A fresh store file path (nothing there yet); `remove_store` removes it
-- with SQLite's side files.
function M.temp_store()
  local path = os.tmpname()
  os.remove(path)
  return path .. ".db"
end

function M.remove_store(path)
  for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. suffix) end
end

return M
