#!/usr/bin/env lua5.4
--[[
Durable STANDARD executions beside in-memory EXPRESS ones, in one run
(issue: "make bench reports durable STANDARD transitions per second beside
EXPRESS"): pass_chain_100 and many_executions, each trial a fresh process,
STANDARD on a store file in a temporary folder (WAL, every commit synced),
EXPRESS in memory. Prints the median and range of the trials, and checks
every output.

  lua5.4 bench/durable.lua [--trials N] [--quick]
  lua5.4 bench/durable.lua --trial WORKLOAD TYPE MODE COUNT   (one trial; prints one JSON line)
]]
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local WORK = os.getenv("STEPFLOW_BENCH_WORKLOADS") or "../shared/bench/workloads"

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local s = fh:read("a")
  fh:close()
  return s
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do if l ~= "" then out[#out + 1] = json.decode(l) end end
  return out
end

local function same(a, b)
  return json.encode(a) == json.encode(b)
end

-- One trial in this process: returns a result table.
local function trial(workload, kind, mode, count)
  local stepflow = require("stepflow")
  local core = require("stepflow.core.engine")
  local dir = WORK .. "/" .. workload .. "/"
  local meta = json.decode(read(dir .. "workload.json"))
  local inputs, expected
  if workload == "many_executions" then
    inputs, expected = lines(dir .. "inputs.jsonl"), lines(dir .. "expected_outputs.jsonl")
  else
    inputs, expected = { json.decode(read(dir .. "input.json")) }, { json.decode(read(dir .. "expected_output.json")) }
  end
  local store
  if kind == "STANDARD" then
    store = os.tmpname()
    os.remove(store)
    store = store .. ".db"
  end
  local engine = assert(stepflow.new({ store = store, virtual_time = true, payload_limit = false,
    handlers = {
      ["bench-increment"] = function(x) return x + 1 end,
      ["bench-double"] = function(t) return { i = t.i, n = 2 * t.n } end,
    } }))
  local sm = assert(engine:create_state_machine(read(dir .. "definition.asl.json"),
    { name = workload, type = kind }))
  local clock = core.loop({})
  local execs = {}
  local t0, c0 = clock:now(), os.clock()
  if mode == "burst" then
    for i = 1, count do
      local k = (i - 1) % #inputs + 1
      execs[i] = engine:start_execution(sm, inputs[k], { name = "e" .. i })
    end
    engine:run()
  else
    for i = 1, count do
      local k = (i - 1) % #inputs + 1
      execs[i] = engine:start_execution(sm, inputs[k], { name = "e" .. i })
      engine:run()
    end
  end
  if store then require("stepflow.durable").commit(engine) end
  local wall = (clock:now() - t0) / 1000
  local cpu = os.clock() - c0
  local ok, transitions = true, 0
  for i = 1, count do
    local e = execs[i]
    local k = (i - 1) % #inputs + 1
    if e.status ~= "SUCCEEDED" or not same(e.output, expected[k]) then ok = false end
    transitions = transitions + e.transitions
  end
  if transitions ~= count * meta.transitions_per_execution then ok = false end
  engine:close()
  if store then
    for _, s in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(store .. s) end
  end
  return { workload = workload, type = kind, mode = mode, executions = count,
    transitions_per_s = transitions / wall, executions_per_s = count / wall,
    cpu_transitions_per_s = transitions / cpu, outputs_ok = ok }
end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2], xs[1], xs[#xs]
end

local function main(argv)
  if not os.execute("test -d '" .. WORK:gsub("'", "'\\''") .. "'") then
    io.stderr:write("bench: missing: ", WORK, " (the benchmarks run the shared workloads, from ../shared "
      .. "beside the clone as the README's set-up section says; STEPFLOW_BENCH_WORKLOADS=DIR names another "
      .. "folder)\n")
    return 2
  end
  if argv[1] == "--trial" then
    io.stdout:write(json.encode(trial(argv[2], argv[3], argv[4], tonumber(argv[5]))), "\n")
    return 0
  end
  local trials, quick = 3, false
  local i = 1
  while argv[i] do
    if argv[i] == "--trials" then trials = tonumber(argv[i + 1]); i = i + 1
    elseif argv[i] == "--quick" then quick = true; trials = 1
    else io.stderr:write("usage: bench/durable.lua [--trials N] [--quick]\n"); return 2 end
    i = i + 1
  end
  local cases = {
    { "pass_chain_100", "burst", quick and 50 or 300 },
    { "pass_chain_100", "sequential", quick and 20 or 100 },
    { "many_executions", "burst", quick and 1000 or 10000 },
    { "many_executions", "sequential", quick and 200 or 2000 },
  }
  local all_ok = true
  print(string.format("%-34s %-9s %18s %18s  %s", "durable vs in-memory", "type",
    "transitions/s", "executions/s", "outputs"))
  for _, c in ipairs(cases) do
    for _, kind in ipairs({ "STANDARD", "EXPRESS" }) do
      local tps, eps, ok = {}, {}, true
      for _ = 1, trials do
        local p = io.popen(string.format("lua5.4 bench/durable.lua --trial %s %s %s %d", c[1], kind, c[2], c[3]))
        local r = json.decode(p:read("a"))
        p:close()
        tps[#tps + 1], eps[#eps + 1] = r.transitions_per_s, r.executions_per_s
        ok = ok and r.outputs_ok
      end
      local mt, lt, ht = median(tps)
      local me = median(eps)
      all_ok = all_ok and ok
      print(string.format("%-34s %-9s %9.0f [%.0f..%.0f] %12.0f  %s", c[1] .. "/" .. c[2] .. " x" .. c[3],
        kind, mt, lt, ht, me, ok and "ok" or "WRONG"))
    end
  end
  print("target: >= 50,000 durable (STANDARD) transitions/s with every commit synced")
  return all_ok and 0 or 1
end

os.exit(main(arg))
