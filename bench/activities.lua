#!/usr/bin/env lua5.4
--[[
bench/activities.lua: 10,000 GetActivityTask long polls parked at once on
one `stepflow serve` (in memory), on loopback: the server's resident
memory (target: < 100 MB), then every parked worker served: executions
whose Map iterations schedule one activity task each, handed out to the
workers first come, first served.

Each poll is a connection of its own (as 10,000 workers would have), so
both processes need that many descriptors: the bench runs itself and the
server under `ulimit -n` (LIMIT below), within the hard limit. Workers
connect in batches (BATCH at a time), so the server's accept queue stays
bounded.

  lua5.4 bench/activities.lua [--polls N] [--json]
]]
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath
local socket = require("socket")
local json = require("stepflow.json")

local polls, as_json, child = 10000, false, false
do
  local i = 1
  while arg[i] do
    if arg[i] == "--polls" then polls = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--json" then as_json = true
    elseif arg[i] == "--child" then child = true
    else io.stderr:write("usage: lua5.4 bench/activities.lua [--polls N] [--json]\n"); os.exit(2) end
    i = i + 1
  end
end

local BATCH = 500          -- connections opened before their requests are sent
local PER_MAP = 1000       -- Map iterations per execution (its history stays < 25,000 events)
local LIMIT = polls + 1024 -- descriptors each process needs

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

if not child then
  -- again, under a descriptor limit for 10,000 connections
  local hard = tonumber(sh("sh -c 'ulimit -Hn'"):match("%d+")) or 0
  if sh("sh -c 'ulimit -Hn'"):match("unlimited") then hard = math.huge end
  if hard < LIMIT then
    io.stderr:write(("bench/activities.lua: %d polls need %d descriptors per process; the hard limit is %s "
      .. "(raise it, or --polls N)\n"):format(polls, LIMIT, tostring(hard)))
    os.exit(1)
  end
  local args = { "--polls", tostring(polls), as_json and "--json" or "" }
  local ok = os.execute("sh -c 'ulimit -n " .. LIMIT .. " && exec lua5.4 bench/activities.lua --child "
    .. table.concat(args, " ") .. "'")
  os.exit(ok and 0 or 1)
end

local function start()
  local pipe = assert(io.popen("sh -c 'echo $$; exec bin/stepflow serve --port 0 --poll-timeout 600' 2>&1"))
  local pid = pipe:read("l")
  local line = pipe:read("l") or ""
  local port = tonumber(line:match(":(%d+), store"))
  if not port then error("serve did not start: " .. line) end
  return { pid = pid, port = port, pipe = pipe }
end

-- VmRSS and VmHWM (peak) of a process, in MB.
local function rss(pid)
  local f = assert(io.open("/proc/" .. pid .. "/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s+(%d+)")) / 1024, tonumber(text:match("VmHWM:%s+(%d+)")) / 1024
end

local function request(op, body)
  local text = json.encode(body)
  return "POST / HTTP/1.1\r\nHost: bench\r\nX-Amz-Target: AWSStepFunctions." .. op ..
    "\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " .. #text .. "\r\n\r\n" .. text
end

-- Reads one answer from a blocking socket: status, decoded body.
local function answer(c)
  local status_line, err = c:receive("*l")
  if not status_line then return nil, err end
  local len = 0
  while true do
    local line = assert(c:receive("*l"))
    if line == "" then break end
    local n = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then len = tonumber(n) end
  end
  local body = len > 0 and assert(c:receive(len)) or ""
  return tonumber(status_line:match("^HTTP/1%.1 (%d+)")), json.decode(body)
end

local function call(port, op, body)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(30)
  assert(c:send(request(op, body)))
  local status, out = answer(c)
  c:close()
  assert(status == 200, op .. ": " .. tostring(status) .. " " .. json.encode(out))
  return out
end

local s = start()
local act = call(s.port, "CreateActivity", { name = "bench" }).activityArn
local sm = call(s.port, "CreateStateMachine", { name = "fanout", roleArn = "arn:aws:iam::123456789012:role/bench",
  definition = json.encode({ StartAt = "Each", States = { Each = { Type = "Map", End = true,
    ItemProcessor = { ProcessorConfig = { Mode = "INLINE" }, StartAt = "Work",
      States = { Work = { Type = "Task", Resource = act, End = true } } } } } }) }).stateMachineArn
local rss_idle = rss(s.pid)

-- park the polls, a batch at a time
local t0 = socket.gettime()
local conns = {}
local poll = request("GetActivityTask", { activityArn = act, workerName = "bench" })
for first = 1, polls, BATCH do
  for i = first, math.min(polls, first + BATCH - 1) do
    local c = assert(socket.tcp())
    c:settimeout(30)
    assert(c:connect("127.0.0.1", s.port))
    assert(c:send(poll))
    conns[i] = c
  end
end
-- the server has them all once a request sent after them is answered
-- and its memory stops growing
local rss_parked
for _ = 1, 100 do
  call(s.port, "DescribeActivity", { activityArn = act })
  local r = rss(s.pid)
  if rss_parked and math.abs(r - rss_parked) < 0.1 then break end
  rss_parked = r
  socket.sleep(0.05)
end
local park_s = socket.gettime() - t0
rss_parked = rss(s.pid)

-- every parked worker served: polls/PER_MAP executions of PER_MAP items
t0 = socket.gettime()
local left = polls
while left > 0 do
  local n = math.min(PER_MAP, left)
  local items = {}
  for i = 1, n do items[i] = i end
  call(s.port, "StartExecution", { stateMachineArn = sm, input = json.encode(items) })
  left = left - n
end
local served = 0
for i = 1, polls do
  local status, task = answer(conns[i])
  if status == 200 and task and task.taskToken then served = served + 1 end
  conns[i]:close()
end
local serve_s = socket.gettime() - t0
local _, rss_peak = rss(s.pid)
os.execute("kill -KILL " .. s.pid)
s.pipe:close()

local r = { polls = polls, rss_idle_mb = rss_idle, rss_parked_mb = rss_parked, rss_peak_mb = rss_peak,
  per_poll_kb = (rss_parked - rss_idle) * 1024 / polls, park_s = park_s, served = served, serve_s = serve_s }
if as_json then
  print(json.encode(r))
else
  print(("activities: %d parked GetActivityTask polls: server RSS %.1f MB (idle %.1f MB, %.1f KB a poll), "
    .. "parked in %.2f s; %d served their task in %.2f s (peak RSS %.1f MB)"):format(polls, rss_parked,
    rss_idle, r.per_poll_kb, park_s, served, serve_s, rss_peak))
  print("target: < 100 MB with 10,000 parked polls")
end
if served ~= polls then
  io.stderr:write("bench/activities.lua: only ", served, " of ", polls, " parked polls got their task\n")
  os.exit(1)
end
