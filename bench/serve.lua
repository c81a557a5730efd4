#!/usr/bin/env lua5.4
--[[
bench/serve.lua: `stepflow serve` under load from wrk (Debian's wrk) on
loopback, over keep-alive connections, each run bounded in time:

  1. StartSyncExecution of a small EXPRESS machine (Pass, Choice, Pass):
     the most requests per second, then a run held at half that rate
     (wrk's delay hook) for its latency percentiles (target: p99 < 5 ms).
  2. StartExecution of a STANDARD machine on a store file: every answer
     waits for the group commit that holds its ExecutionStarted.

  lua5.4 bench/serve.lua [--seconds S] [--connections C] [--json]
]]
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath
local json = require("stepflow.json")

local seconds, conns, as_json = 5, 32, false
do
  local i = 1
  while arg[i] do
    if arg[i] == "--seconds" then seconds = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--connections" then conns = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--json" then as_json = true
    else io.stderr:write("usage: lua5.4 bench/serve.lua [--seconds S] [--connections C] [--json]\n"); os.exit(2) end
    i = i + 1
  end
end

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

if sh("command -v wrk") == "" then
  io.stderr:write("bench/serve.lua: wrk is missing (Debian's wrk: make deps)\n")
  os.exit(1)
end

-- Starts `stepflow serve`; returns its pid, port and pipe.
local function start(args)
  local pipe = assert(io.popen("sh -c 'echo $$; exec bin/stepflow serve --port 0 " .. args .. "' 2>&1"))
  local pid = pipe:read("l")
  local line = pipe:read("l") or ""
  local port = line:match(":(%d+), store")
  if not port then error("serve did not start: " .. line) end
  return { pid = pid, port = port, pipe = pipe }
end

local function stop(s)
  os.execute("kill -TERM " .. s.pid)
  s.pipe:read("a")
  s.pipe:close()
end

-- One API call (Debian's lua-socket, in the Makefile's DEBS).
local function call(port, op, body)
  local http = require("socket.http")
  local ltn12 = require("ltn12")
  local text, out = json.encode(body), {}
  http.request({
    url = "http://127.0.0.1:" .. port .. "/", method = "POST",
    headers = { ["X-Amz-Target"] = "AWSStepFunctions." .. op, ["Content-Length"] = #text },
    source = ltn12.source.string(text), sink = ltn12.sink.table(out),
  })
  return json.decode(table.concat(out))
end

local function cpu_of(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return 0 end
  local fields = {}
  for w in f:read("a"):gmatch("%S+") do fields[#fields + 1] = w end
  f:close()
  return (tonumber(fields[14]) + tonumber(fields[15])) / 100
end

-- wrk's figures: requests/s, latency percentiles (ms), errors.
local function to_ms(v, unit)
  v = tonumber(v)
  if unit == "us" then return v / 1000 elseif unit == "s" then return v * 1000 end
  return v
end

local function wrk(port, target, body, delay_ms, c)
  local out = sh("SF_TARGET=" .. target .. " SF_BODY=" .. q(json.encode(body)) .. " SF_DELAY_MS=" .. (delay_ms or 0)
    .. " wrk -t1 -c" .. c .. " -d" .. seconds .. "s --latency -s bench/serve_wrk.lua http://127.0.0.1:" .. port .. "/")
  local r = { rps = tonumber(out:match("Requests/sec:%s+([%d%.]+)")),
    requests = tonumber(out:match("(%d+) requests in")),
    non2xx = tonumber(out:match("Non%-2xx or 3xx responses: (%d+)") or "0"),
    errors = out:match("Socket errors: ([^\n]+)") }
  for pct, v, unit in out:gmatch("\n%s+(%d+)%%%s+([%d%.]+)(%a+)") do r["p" .. pct] = to_ms(v, unit) end
  if not r.rps then error("wrk said: " .. out) end
  return r
end

local ROLE = "arn:aws:iam::123456789012:role/bench"
local DEF = json.encode({ StartAt = "A", States = {
  A = { Type = "Pass", Result = { n = 1 }, ResultPath = "$.r", Next = "C" },
  C = { Type = "Choice", Choices = { { Variable = "$.r.n", NumericEquals = 1, Next = "B" } }, Default = "B" },
  B = { Type = "Pass", End = true } } })
local results = {}

-- 1. StartSyncExecution, in memory
local s = start("")
local sm = call(s.port, "CreateStateMachine", { name = "sync", type = "EXPRESS", definition = DEF, roleArn = ROLE })
local body = { stateMachineArn = sm.stateMachineArn, input = '{"x":1}' }
local check = call(s.port, "StartSyncExecution", body)
assert(check.status == "SUCCEEDED" and check.output == '{"r":{"n":1},"x":1}', json.encode(check))
local cpu0 = cpu_of(s.pid)
local max = wrk(s.port, "StartSyncExecution", body, 0, conns)
max.server_cpu = (cpu_of(s.pid) - cpu0) / seconds
results[#results + 1] = { name = "StartSyncExecution max", r = max }
-- Half the rate: each connection pauses 1 ms before each request (wrk's
-- delay hook), and the number of connections sets the rate; three short
-- runs calibrate it.
local goal = max.rps / 2
local half_conns = math.max(1, math.floor(goal / 1000 + 0.5))
local full_seconds = seconds
seconds = math.min(2, seconds)  -- calibration runs
for _ = 1, 3 do
  local r = wrk(s.port, "StartSyncExecution", body, 1, half_conns)
  half_conns = math.max(1, math.floor(half_conns * goal / r.rps + 0.5))
end
seconds = full_seconds
local half = wrk(s.port, "StartSyncExecution", body, 1, half_conns)
half.connections = half_conns
results[#results + 1] = { name = "StartSyncExecution at half rate", r = half }
stop(s)

-- 2. StartExecution on a durable store
local dir = sh("mktemp -d"):gsub("%s+$", "")
s = start("--store " .. dir .. "/bench.db")
sm = call(s.port, "CreateStateMachine", { name = "durable", definition = DEF, roleArn = ROLE })
-- more connections: each group commit answers all the starts it holds
local durable = wrk(s.port, "StartExecution", { stateMachineArn = sm.stateMachineArn, input = '{"x":1}' }, 0,
  conns * 4)
local listed = call(s.port, "ListExecutions", { stateMachineArn = sm.stateMachineArn, maxResults = 1 })
assert(#listed.executions == 1, json.encode(listed))
results[#results + 1] = { name = "StartExecution, durable store", r = durable }
stop(s)
os.execute("rm -rf " .. q(dir))

if as_json then
  for _, x in ipairs(results) do
    x.r.name = x.name
    print(json.encode(x.r))
  end
else
  print(("%-34s %10s %8s %8s %8s %8s %s"):format("serve (" .. seconds .. " s, wrk -t1)", "req/s", "p50 ms",
    "p90 ms", "p99 ms", "non-2xx", "notes"))
  for _, x in ipairs(results) do
    local r = x.r
    print(("%-34s %10.0f %8.2f %8.2f %8.2f %8d %s"):format(x.name, r.rps, r.p50 or 0, r.p90 or 0, r.p99 or 0,
      r.non2xx, (r.server_cpu and ("server CPU " .. string.format("%.0f%%", r.server_cpu * 100)) or "")
      .. (r.connections and (r.connections .. " connections, 1 ms pause") or "")
      .. (r.errors and (" socket errors: " .. r.errors) or "")))
  end
  print("targets: StartSyncExecution >= 20,000 req/s; p99 < 5 ms at half that rate; "
    .. "durable StartExecution >= 5,000 req/s")
end
