-- bench/worker.lua: runs ONE benchmark trial in this process and prints one
-- JSON line. Started by bench/run, one fresh process per trial.
-- Usage (from the project root):
--   lua5.4 bench/worker.lua WORKLOAD [MODE] [--quick] [--count N]
--                           [--gc generational|incremental]
-- WORKLOAD is a folder of ../shared/bench/workloads, or "parked".
-- MODE: "sequential" (default), "burst" (many_executions), "single", or
-- "load" (the measured loop is the definition load, for profiling).
local common = dofile("bench/common.lua")
local stepflow = require("stepflow")
local json = common.json

local args = { mode = nil, quick = false }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--quick" then args.quick = true
    elseif a == "--count" then i = i + 1; args.count = tonumber(arg[i])
    elseif a == "--gc" then i = i + 1; args.gc = arg[i]
    elseif not args.workload then args.workload = a
    elseif not args.mode then args.mode = a
    else error("worker: unexpected argument " .. a) end
    i = i + 1
  end
end
-- --gc generational|incremental: the collector mode, for experiments.
if args.gc then collectgarbage(args.gc) end
if not args.workload then
  io.stderr:write("usage: lua5.4 bench/worker.lua WORKLOAD [MODE] [--quick] [--count N]\n")
  os.exit(2)
end

-- Executions per trial in --quick mode, where the workload allows fewer.
local QUICK = { pass_chain_100 = 100, parallel_fanout = 100, task_chain_1k = 4,
  many_executions = 1000, parked = 10000 }

local function emit(t)
  t.peak_rss_kb = common.status_kb("VmHWM")
  t.rss_kb = common.status_kb("VmRSS")
  io.write(json.encode(t), "\n")
end

local function count_for(name, default)
  if args.count then return args.count end
  if args.quick and QUICK[name] then return QUICK[name] end
  return default
end

---------------------------------------------------------------- workloads

local function run_workload(name, mode)
  local w = common.load_workload(name)
  local spec = w.spec
  local per_exec = spec.transitions_per_execution
  local n = count_for(name, spec.executions_per_trial)
  if w.inputs and n > #w.inputs then n = #w.inputs end
  mode = mode or (n == 1 and "single" or "sequential")

  local engine = stepflow.new({ virtual_time = true, payload_limit = false, history_limit = false,
    handlers = common.handlers_for(spec) })

  -- Definition load: JSON decode + validation + compilation, apart.
  local l0 = common.wall_start()
  local sm, err = engine:create_state_machine(w.definition, { name = name, type = "EXPRESS" })
  local load_ms = common.wall_stop() - l0
  if not sm then
    emit({ workload = name, mode = mode, error = "definition: " .. tostring(err), outputs_ok = false })
    return
  end

  local inputs = w.inputs
  local input = w.input
  local statuses, outputs, counted = {}, {}, 0
  collectgarbage("collect")
  local prof = rawget(_G, "BENCH_PROFILER")    -- set by bench/profile.lua
  local t0 = common.wall_start()
  local c0 = os.clock()
  if prof then prof.start() end
  if mode == "burst" then
    local execs = {}
    for k = 1, n do
      execs[k] = engine:start_execution(sm, inputs and inputs[k] or input)
    end
    engine:run()
    for k = 1, n do
      local e = execs[k]
      statuses[k], outputs[k] = e.status, e.output
      counted = counted + e.transitions
    end
  else
    for k = 1, n do
      local e = engine:start_execution(sm, inputs and inputs[k] or input)
      engine:run()
      statuses[k], outputs[k] = e.status, e.output
      counted = counted + e.transitions
    end
  end
  if prof then prof.stop() end
  local cpu_s = os.clock() - c0
  local wall_ms = common.wall_stop() - t0

  -- Outputs are checked after the measured loop.
  local ok, mismatch = true, nil
  for k = 1, n do
    if statuses[k] ~= "SUCCEEDED" then
      ok, mismatch = false, "execution " .. k .. ": status " .. tostring(statuses[k])
      break
    end
    local want = w.expecteds and w.expecteds[k] or w.expected
    local same, where = common.json_equal(outputs[k], want)
    if not same then
      ok, mismatch = false, "execution " .. k .. ": output differs at " .. where
      break
    end
  end
  local transitions = n * per_exec
  emit({
    workload = name, mode = mode, executions = n,
    transitions_per_execution = per_exec, transitions = transitions,
    transitions_counted = counted, transitions_ok = counted == transitions,
    load_ms = load_ms, wall_ms = wall_ms, cpu_ms = cpu_s * 1000,
    transitions_per_s = transitions / (wall_ms / 1000),
    executions_per_s = n / (wall_ms / 1000),
    outputs_ok = ok, mismatch = mismatch,
  })
end

---------------------------------------------------------------- load

-- Mode "load": the measured loop is the definition load itself (JSON
-- decode, validation, compilation), repeated, for profiling it.
local function run_load(name)
  local w = common.load_workload(name)
  local n = args.count or (args.quick and 5 or 50)
  local engine = stepflow.new({ virtual_time = true, payload_limit = false, history_limit = false })
  local phases = { decode = 0, validate = 0, compile = 0 }
  local validate = require("stepflow.asl.validate")
  local compile = require("stepflow.asl.compile")
  local ok = true
  collectgarbage("collect")
  local prof = rawget(_G, "BENCH_PROFILER")
  local t0 = common.wall_start()
  local c0 = os.clock()
  if prof then prof.start() end
  for _ = 1, n do
    local sm = engine:create_state_machine(w.definition, { name = name, type = "EXPRESS" })
    if not sm then ok = false end
  end
  if prof then prof.stop() end
  local cpu_ms = (os.clock() - c0) * 1000
  local wall_ms = common.wall_stop() - t0
  -- The phases apart (CPU time), outside the measured loop.
  for _ = 1, n do
    local a = os.clock()
    local def = json.decode(w.definition)
    local b = os.clock()
    validate.check(def)
    local c = os.clock()
    compile.compile(def)
    local d = os.clock()
    phases.decode = phases.decode + (b - a)
    phases.validate = phases.validate + (c - b)
    phases.compile = phases.compile + (d - c)
  end
  emit({ workload = name, mode = "load", executions = n, outputs_ok = ok,
    wall_ms = wall_ms, cpu_ms = cpu_ms, load_ms = wall_ms / n,
    decode_ms = phases.decode * 1000 / n, validate_ms = phases.validate * 1000 / n,
    compile_ms = phases.compile * 1000 / n })
end

---------------------------------------------------------------- parked

local PARKED = [[{
  "StartAt": "Park",
  "States": {
    "Park": { "Type": "Wait", "Seconds": 3600, "Next": "Done" },
    "Done": { "Type": "Succeed" }
  }
}]]
local SHORT = [[{
  "StartAt": "A",
  "States": {
    "A": { "Type": "Pass", "Result": {"ok": true}, "ResultPath": "$.r", "Next": "B" },
    "B": { "Type": "Succeed" }
  }
}]]

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  if #s == 0 then return nil end
  return s[(#s + 1) // 2]
end

-- 100,000 executions parked in a real-time Wait of an hour at once: RSS,
-- and how fast the loop still serves a ready callback and a short new
-- execution while they are parked.
local function run_parked()
  local n = count_for("parked", 100000)
  local probes = args.quick and 20 or 100
  local engine = stepflow.new({ virtual_time = false, payload_limit = false, history_limit = false })
  local loop = engine.loop
  local parked = assert(engine:create_state_machine(PARKED, { name = "parked", type = "EXPRESS" }))
  local short = assert(engine:create_state_machine(SHORT, { name = "short", type = "EXPRESS" }))
  local rss0 = common.status_kb("VmRSS")
  collectgarbage("collect")
  local execs = {}
  local t0 = common.wall_start()
  for k = 1, n do execs[k] = engine:start_execution(parked, { k = k }) end
  local started_ms = common.wall_stop() - t0
  local result = { workload = "parked", mode = "parked", executions = n }
  local call_lat, exec_lat = {}, {}
  local probe

  -- Runs after the scheduler has driven every parked execution into Wait.
  local function parked_all()
    result.park_ms = common.wall_stop() - t0
    collectgarbage("collect")
    result.parked_rss_kb = common.status_kb("VmRSS")
    local waiting = 0
    for k = 1, n do
      if execs[k].status == "RUNNING" and execs[k].transitions == 1 then waiting = waiting + 1 end
    end
    result.waiting = waiting
    probe(1)
  end

  -- Probe i: a ready callback's latency, then a short execution's latency.
  probe = function(i)
    if i > probes then
      loop:stop()
      return
    end
    local a = common.wall_start()
    loop:call(function()
      call_lat[#call_lat + 1] = common.wall_stop() - a
      local b = common.wall_start()
      engine:start_execution(short, { i = i }, { on_done = function(e)
        exec_lat[#exec_lat + 1] = common.wall_stop() - b
        if e.status ~= "SUCCEEDED" then result.probe_error = e.status end
        loop:call(probe, i + 1)
      end })
    end)
  end

  loop:call(parked_all)
  engine:run()
  result.call_latency_ms = median(call_lat)
  result.call_latency_max_ms = math.max(table.unpack(call_lat))
  result.exec_latency_ms = median(exec_lat)
  result.exec_latency_max_ms = math.max(table.unpack(exec_lat))
  result.base_rss_kb = rss0
  result.start_ms = started_ms
  result.outputs_ok = result.waiting == n and not result.probe_error and #exec_lat == probes
  result.executions_per_s = n / (result.park_ms / 1000)
  result.transitions_per_s = n / (result.park_ms / 1000)
  emit(result)
  loop:close()
end

if args.workload == "parked" then
  run_parked()
elseif args.mode == "load" then
  run_load(args.workload)
else
  run_workload(args.workload, args.mode)
end
