-- bench/store_bench.lua: durable transitions per second of stepflow.store.
-- Usage (from the repository root, after `make`):
--   lua5.4 bench/store_bench.lua [DIR] [TRANSITIONS] [GROUP,GROUP,...]
-- DIR must be on the disk to measure (default: the system temp directory).
-- A transition is 2 events (StateEntered + StateExited, ~150-byte details).
-- A pool of RUNNING executions advances round-robin; each one ends after 20
-- transitions (ExecutionSucceeded + finish_execution) and a new one starts
-- (create_execution + ExecutionStarted). Every group is one synced commit;
-- GROUP sizes (transitions per group) default to 50,200,1000,2000,5000.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";"
  .. package.cpath

local store = require("stepflow.store")

local dir = arg[1] or (os.tmpname():match("^(.*)/") or "/tmp")
local total = tonumber(arg[2]) or 200000
local groups = { 50, 200, 1000, 2000, 5000 }
if arg[3] then
  groups = {}
  for g in arg[3]:gmatch("%d+") do groups[#groups + 1] = tonumber(g) end
end

local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"
local POOL, LENGTH = 500, 20

local function wall()
  local f = io.popen("date +%s.%N")
  local t = tonumber(f:read("l"))
  f:close()
  return t
end

local DETAILS = '{"name":"State%d","input":"{\\"order\\":%d,\\"items\\":'
  .. '[1,2,3],\\"customer\\":\\"c-000123\\"}","inputDetails":'
  .. '{"truncated":false}}'

local function run(group, memory)
  local path = memory and ":memory:"
    or ("%s/stepflow-store-bench-%d.db"):format(dir, group)
  for _, x in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. x) end
  local s = assert(store.open(path))
  s:put_state_machine({ arn = SM, name = "bench", definition = "{}",
    type = "STANDARD", created = 0 })
  assert(s:commit())

  local seq, pool = 0, {}
  local function start(slot)
    seq = seq + 1
    local name = "e" .. seq
    local arn = SM:gsub(":stateMachine:", ":execution:") .. ":" .. name
    assert(s:create_execution({ arn = arn, sm_arn = SM, name = name,
      input = '{"order":1}', started = seq }))
    assert(s:append(arn, 1, 0, seq, "ExecutionStarted", '{"input":"{}"}'))
    pool[slot] = { arn = arn, next_id = 2, steps = 0 }
  end
  for i = 1, POOL do start(i) end
  assert(s:commit())

  local done, commits, slot, finished = 0, 0, 0, 0
  local t0, c0 = wall(), os.clock()
  while done < total do
    for _ = 1, group do
      slot = slot % POOL + 1
      local e = pool[slot]
      local id = e.next_id
      local d = DETAILS:format(e.steps, id)
      s:append(e.arn, id, id - 1, id, "PassStateEntered", d)
      s:append(e.arn, id + 1, id, id, "PassStateExited", d)
      e.next_id, e.steps = id + 2, e.steps + 1
      if e.steps == LENGTH then
        s:append(e.arn, id + 2, id + 1, id, "ExecutionSucceeded",
          '{"output":"{}"}')
        s:finish_execution(e.arn, "SUCCEEDED", "{}", nil, nil, id)
        finished = finished + 1
        start(slot)
      end
    end
    local ok, err = s:commit()
    if not ok then error(err) end
    commits = commits + 1
    done = done + group
  end
  local dt, cpu = wall() - t0, os.clock() - c0
  assert(s:close())
  local size = 0
  local f = io.open(path, "rb")
  if f then
    size = f:seek("end")
    f:close()
  end
  for _, x in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. x) end
  print(("%sgroup %5d transitions: %8.0f transitions/s  %8.0f events/s  "
    .. "%6.0f commits/s  %6.2f ms/commit  cpu %3.0f%%  %d executions "
    .. "finished  %.0f MB"):format(memory and ":memory: " or "", group, done / dt, done * 2 / dt,
    commits / dt, dt / commits * 1000, cpu / dt * 100, finished,
    size / 1e6))
end

print(("stepflow.store bench: %d transitions per run, store in %s, "
  .. "synchronous=FULL (one fsync per commit)"):format(total, dir))
for _, g in ipairs(groups) do run(g) end
-- the same work without I/O: the CPU ceiling (SQL + this Lua driver)
run(1000, true)
