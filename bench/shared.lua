#!/usr/bin/env lua5.4
--[[
Durable many_executions on a shared PostgreSQL store beside SQLite
(issue 16): the burst of 10,000 executions (5 transitions each) run by
1, 2 and 3 engine processes on one local PostgreSQL (fsync and
synchronous_commit on: every group is flushed to the WAL), and by one
engine on an SQLite file. Each trial is fresh processes on an emptied
database. Run under a server: `tools/pg_test_server run -- lua5.4
bench/shared.lua` (make bench does), which sets STEPFLOW_PG_URL.

  lua5.4 bench/shared.lua [--count N] [--trials T]
  lua5.4 bench/shared.lua --load URL COUNT         (records COUNT executions, unowned)
  lua5.4 bench/shared.lua --engine URL             (one engine: claims and runs until none is left)
  lua5.4 bench/shared.lua --single STORE COUNT     (one process starts and runs COUNT; prints JSON)

With 1 process the engine starts the executions itself (as bench/durable.lua
does on SQLite); with 2 and 3, a client records them unowned first and the
engines claim them in batches (the time counted runs from the engines'
start to the end of the last one).
]]
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local pg = require("stepflow.core.pg")
local WORK = (os.getenv("STEPFLOW_BENCH_WORKLOADS") or "../shared/bench/workloads") .. "/many_executions/"

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local s = fh:read("a")
  fh:close()
  return s
end

local HANDLERS = { ["bench-increment"] = function(x) return x + 1 end }

local function reset(url)
  local c = assert(pg.connect(url))
  assert(c:send({ { sql = "DROP SCHEMA IF EXISTS stepflow CASCADE" } }))
  assert(c:wait())
  c:close()
end

-- One process: starts COUNT executions and runs them (engine of its own).
local function single(store, count)
  local stepflow = require("stepflow")
  local e = assert(stepflow.new({ store = store, virtual_time = true, payload_limit = false, handlers = HANDLERS }))
  if e.durability.shared then assert(e:recover()) end
  local sm = assert(e:create_state_machine(read(WORK .. "definition.asl.json"), { name = "many" }))
  local t0 = pg.clock_ms()
  local execs = {}
  for i = 1, count do execs[i] = e:start_execution(sm, { id = i, x = i }, { name = "e" .. i }) end
  e:run()
  local wall = (pg.clock_ms() - t0) / 1000
  local transitions, ok = 0, true
  for i = 1, count do
    if execs[i].status ~= "SUCCEEDED" or execs[i].output.x ~= i + 1 then ok = false end
    transitions = transitions + execs[i].transitions
  end
  e:close()
  return { transitions = transitions, wall = wall, ok = ok }
end

local function load(url, count)
  local stepflow = require("stepflow")
  local e = assert(stepflow.new({ store = url, payload_limit = false }))
  local sm = assert(e:create_state_machine(read(WORK .. "definition.asl.json"), { name = "many" }))
  for i = 1, count do assert(e:start_execution(sm, { id = i, x = i }, { name = "e" .. i, defer = true })) end
  e:close()
end

-- One engine of several: claims and runs until nothing is left to claim.
local function engine(url)
  local stepflow = require("stepflow")
  local e = assert(stepflow.new({ store = url, virtual_time = true, payload_limit = false, handlers = HANDLERS,
    claim_batch = 500 }))
  assert(e:recover())
  e:run()
  e:close()
end

local function sh(cmd)
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  p:close()
  return out
end

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2], xs[1], xs[#xs]
end

local function main(argv)
  if argv[1] == "--load" then load(argv[2], tonumber(argv[3])); return 0 end
  if argv[1] == "--engine" then engine(argv[2]); return 0 end
  if argv[1] == "--single" then
    io.stdout:write(json.encode(single(argv[2], tonumber(argv[3]))), "\n")
    return 0
  end
  local count, trials = 10000, 3
  local i = 1
  while argv[i] do
    if argv[i] == "--count" then count = tonumber(argv[i + 1]); i = i + 1
    elseif argv[i] == "--trials" then trials = tonumber(argv[i + 1]); i = i + 1
    else io.stderr:write("usage: bench/shared.lua [--count N] [--trials T]\n"); return 2 end
    i = i + 1
  end
  local url = os.getenv("STEPFLOW_PG_URL")
  if not url then
    io.stderr:write("bench/shared.lua: no STEPFLOW_PG_URL (run it under tools/pg_test_server run -- ...)\n")
    return 2
  end
  print(string.format("durable many_executions burst x%d (%d transitions), median of %d trials [range]",
    count, count * 5, trials))
  print(string.format("%-34s %24s  %s", "store", "transitions/s", "outputs"))
  local all_ok = true
  -- SQLite, one process
  do
    local tps, ok = {}, true
    for _ = 1, trials do
      local path = os.tmpname()
      os.remove(path)
      local r = json.decode(sh(string.format("lua5.4 bench/shared.lua --single %s.db %d", path, count)))
      for _, s in ipairs({ ".db", ".db-wal", ".db-shm", ".db.lock" }) do os.remove(path .. s) end
      tps[#tps + 1] = r.transitions / r.wall
      ok = ok and r.ok
    end
    local m, lo, hi = median(tps)
    print(string.format("%-34s %9.0f [%.0f..%.0f]  %s", "SQLite file, 1 process", m, lo, hi, ok and "ok" or "WRONG"))
    all_ok = all_ok and ok
  end
  -- PostgreSQL, 1 process starting its own executions
  do
    local tps, ok = {}, true
    for _ = 1, trials do
      reset(url)
      local r = json.decode(sh(string.format("lua5.4 bench/shared.lua --single '%s' %d", url, count)))
      tps[#tps + 1] = r.transitions / r.wall
      ok = ok and r.ok
    end
    local m, lo, hi = median(tps)
    print(string.format("%-34s %9.0f [%.0f..%.0f]  %s", "PostgreSQL, 1 process", m, lo, hi, ok and "ok" or "WRONG"))
    all_ok = all_ok and ok
  end
  -- PostgreSQL, N processes claiming executions a client recorded
  for n = 1, 3 do
    local tps, ok = {}, true
    for _ = 1, trials do
      reset(url)
      sh(string.format("lua5.4 bench/shared.lua --load '%s' %d", url, count))
      local t0 = pg.clock_ms()
      local cmd = {}
      for _ = 1, n do cmd[#cmd + 1] = string.format("lua5.4 bench/shared.lua --engine '%s' &", url) end
      sh(table.concat(cmd, " ") .. " wait")
      local wall = (pg.clock_ms() - t0) / 1000
      local c = assert(pg.connect(url))
      assert(c:send({ { sql = "SELECT count(*) FROM stepflow.executions WHERE status = 'SUCCEEDED' "
        .. "AND output::json->>'x' = ((input::json->>'x')::int + 1)::text" } }))
      local done = tonumber(assert(c:wait())[1].rows[1][1])
      c:close()
      ok = ok and done == count
      tps[#tps + 1] = count * 5 / wall
    end
    local m, lo, hi = median(tps)
    print(string.format("%-34s %9.0f [%.0f..%.0f]  %s", "PostgreSQL, " .. n .. " claiming process(es)",
      m, lo, hi, ok and "ok" or "WRONG"))
    all_ok = all_ok and ok
  end
  print("target: >= 20,000 transitions/s with one process on PostgreSQL (synchronous_commit on)")
  return all_ok and 0 or 1
end

os.exit(main(arg))
