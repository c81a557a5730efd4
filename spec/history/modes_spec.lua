-- The history is the same whichever way an execution runs: in memory with
-- `history = true`, durable in a store, and (counted only) without a
-- history at all. Checked on every execution of the AWS-recorded history
-- corpus (../shared/history/cases; the corpus runner compares stepflow's
-- histories with AWS's, see tools/check_history).
local stepflow = require("stepflow")
local json = require("stepflow.json")
local shared = require("shared_dir")

-- The corpus's declarative handlers (../shared/history/FORMAT.md).
local function handler_of(spec)
  local kind = spec.kind
  if kind == "echo" then return function(input) return input end end
  if kind == "return" then
    local text = json.encode(spec.value == nil and json.null or spec.value)
    return function() return json.decode(text) end
  end
  if kind == "repeat" then
    return function() return string.rep(spec.text or "", spec.times or 0) end
  end
  if kind == "fail" then
    return function() error({ Error = spec.error or "Error", Cause = spec.cause or "" }) end
  end
  if kind == "sleep" then
    local after = handler_of(spec["then"] or { kind = "echo" })
    return function(input, ctx) ctx.sleep(spec.seconds or 0); return after(input, ctx) end
  end
  if kind == "fail_then" then
    local calls, after = 0, handler_of(spec["then"] or { kind = "echo" })
    return function(input, ctx)
      calls = calls + 1
      if calls <= (spec.times or 1) then error({ Error = spec.error or "Error", Cause = spec.cause or "" }) end
      return after(input, ctx)
    end
  end
  error("unknown handler kind " .. tostring(kind))
end

local function handlers_of(case)
  local t = {}
  for name, spec in pairs(case.handlers or {}) do t[name] = handler_of(spec) end
  return t
end

-- An event as compared between modes: its links and details, without the
-- timestamp, with UUIDs (request ids, names) and clock times masked.
local function canon(ev)
  local copy = {}
  for k, v in pairs(ev) do if k ~= "timestamp" then copy[k] = v end end
  local text = json.encode(copy):gsub("%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x",
    "<uuid>")
  -- times read from the clock (the runs start at different moments)
  return (text:gsub("%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z", "<time>"))
end

local function run(case, opts)
  math.randomseed(7)
  local engine = assert(stepflow.new({ virtual_time = true, handlers = handlers_of(case),
    history = opts.history, store = opts.store }))
  local sm = assert(engine:create_state_machine(case.definition, { name = "Corpus" }))
  local exec = assert(engine:start_execution(sm, case.input, { name = "history-case" }))
  engine:run()
  local events = (opts.history or opts.store) and assert(engine:history(exec.arn))
  local out = { status = exec.status, output = exec.output, error = exec.error, cause = exec.cause,
    ids = exec.event_id }
  if events then
    out.events = {}
    for i, ev in ipairs(events) do out.events[i] = canon(ev) end
  end
  engine:close()
  return out
end

local function cases()
  local dir = assert(shared.path("history/cases"))
  local list = {}
  local p = io.popen("find " .. dir .. " -name '*.json' | sort")
  for file in p:lines() do list[#list + 1] = file end
  p:close()
  return list
end

describe("execution histories", function()
  it("are the same in memory, in a store, and (ids only) without a history, for every corpus case", function()
    local files = cases()
    assert.is_true(#files > 0)
    -- in memory-backed files when the machine has them: 284 stores' syncs
    local shm = io.open("/dev/shm/.stepflow-probe", "w")
    local db = shm and ("/dev/shm/stepflow-modes-" .. tostring(os.time()) .. ".db") or os.tmpname()
    if shm then shm:close(); os.remove("/dev/shm/.stepflow-probe") end
    for _, file in ipairs(files) do
      local f = assert(io.open(file))
      local case = json.decode(f:read("a"))
      f:close()
      local memory = run(case, { history = true })
      os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
      local durable = run(case, { store = db })
      local plain = run(case, {})
      assert.same(memory.events, durable.events, case.name .. ": in memory and in a store")
      assert.equal(#memory.events, memory.ids, case.name .. ": event count")
      for _, k in ipairs({ "status", "error", "ids" }) do
        assert.same(memory[k], plain[k], case.name .. ": " .. k .. " without a history")
        assert.same(memory[k], durable[k], case.name .. ": " .. k .. " in a store")
      end
    end
    os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
  end)
end)
