--- The crash test's oracle: random inputs for the four definitions in
-- tools/crash/defs, and what each execution must end with, computed from
-- the input alone (independently of the engine): the output, every Task
-- attempt (state, lineage tag, step, retry count), how many times each
-- state is entered, and counts of some history event types.
local json = require("stepflow.json")

local M = {}

local array = json.array

--- Definition names, in the order executions cycle through them.
M.KINDS = { "loop", "fanout", "parallel", "nested" }

-- Draws from a weighted list { {value, weight}, ... }.
local function pick(rand, choices)
  local total = 0
  for _, c in ipairs(choices) do total = total + c[2] end
  local r = rand() * total
  for _, c in ipairs(choices) do
    r = r - c[2]
    if r < 0 then return c[1] end
  end
  return choices[#choices][1]
end

local function fails(rand) return pick(rand, { { 0, 5 }, { 1, 3 }, { 2, 2 } }) end
local function delay(rand) return pick(rand, { { 0, 3 }, { 0.01, 2 }, { 0.02, 2 }, { 0.03, 1 }, { 0.05, 1 } }) end
local function wait(rand) return pick(rand, { { 0, 3 }, { 1, 2 } }) end
local function int(rand, lo, hi) return lo + math.floor(rand() * (hi - lo + 1)) end

--- A random input for a definition. `rand()` returns a float in [0, 1).
function M.input(kind, rand)
  if kind == "loop" then
    return { v = int(rand, -50, 50), i = 0, n = int(rand, 0, 3),
      f = array({ fails(rand), fails(rand), pick(rand, { { 0, 4 }, { 1, 2 }, { 2, 1 }, { 3, 2 } }) }),
      d = delay(rand), w = wait(rand) }
  elseif kind == "fanout" then
    local items = {}
    for k = 1, int(rand, 1, 4) do
      items[k] = { x = int(rand, -9, 9), fail = fails(rand), w = wait(rand) }
    end
    return { items = array(items), f = fails(rand), d = delay(rand) }
  elseif kind == "parallel" then
    return { v = int(rand, -100, 100), f = array({ fails(rand), fails(rand), fails(rand), fails(rand) }),
      w = array({ wait(rand), wait(rand) }), d = delay(rand) }
  elseif kind == "nested" then
    local items = {}
    for k = 1, int(rand, 1, 3) do items[k] = int(rand, -20, 20) end
    return { items = array(items), f = array({ fails(rand), fails(rand) }), d = delay(rand), w = wait(rand) }
  end
  error("oracle: unknown kind " .. tostring(kind), 2)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return setmetatable(c, getmetatable(v))
end

-- Collects the expectation while the oracle walks a definition's logic.
local function recorder()
  local r = { attempts = {}, entered = {}, counts = {
    TaskScheduled = 0, TaskSucceeded = 0, TaskFailed = 0,
    MapIterationStarted = 0, MapIterationSucceeded = 0, WaitStateEntered = 0,
  } }
  function r.enter(name, wait_state)
    r.entered[name] = (r.entered[name] or 0) + 1
    if wait_state then r.counts.WaitStateEntered = r.counts.WaitStateEntered + 1 end
  end
  -- A Task entered once, retried while rc < fail and rc < max_attempts.
  -- Returns true if its last attempt succeeded.
  function r.task(name, tag, step, fail, max_attempts)
    r.enter(name)
    local rc = 0
    while true do
      r.attempts[#r.attempts + 1] = { st = name, tag = tag, step = step, rc = rc }
      r.counts.TaskScheduled = r.counts.TaskScheduled + 1
      if rc >= fail then
        r.counts.TaskSucceeded = r.counts.TaskSucceeded + 1
        return true
      end
      r.counts.TaskFailed = r.counts.TaskFailed + 1
      if rc >= max_attempts then return false end
      rc = rc + 1
    end
  end
  function r.iterations(n)
    r.counts.MapIterationStarted = r.counts.MapIterationStarted + n
    r.counts.MapIterationSucceeded = r.counts.MapIterationSucceeded + n
  end
  return r
end

local EXPECT = {}

function EXPECT.loop(input, r)
  local data = copy(input)
  r.task("AddThree", "/", 1, input.f[1], 3)
  data.v = data.v + 3
  r.enter("Pause", true)
  while true do
    r.enter("Loop")
    if data.i >= data.n then break end
    r.task("Double", "/", 10 + data.i, input.f[2], 3)
    data.v = data.v * 2
    data.i = data.i + 1
  end
  if r.task("AddOne", "/", 100, input.f[3], 2) then
    data.v = data.v + 1
    return data
  end
  r.enter("Recover")
  return { v = data.v, i = data.i, recovered = "Crash.Flaky" }
end

function EXPECT.fanout(input, r)
  r.enter("Spread")
  local total, n = 0, #input.items
  r.iterations(n)
  for idx, item in ipairs(input.items) do
    local tag = "/m" .. (idx - 1)
    r.task("Square", tag, 20, item.fail, 3)
    r.enter("Settle", true)
    r.task("Bump", tag, 21, 0, 0)
    total = total + item.x * item.x + 1
  end
  r.task("Total", "/", 30, input.f, 3)
  return { total = total, count = n }
end

function EXPECT.parallel(input, r)
  r.enter("Fork")
  r.task("LeftAdd", "/b0", 40, input.f[1], 3)
  r.enter("LeftWait", true)
  r.task("LeftTriple", "/b0", 41, input.f[2], 3)
  r.task("RightMul", "/b1", 40, input.f[3], 3)
  r.enter("Idle", true)
  r.task("Join", "/", 50, input.f[4], 3)
  return { left = (input.v + 10) * 3, right = input.v * 5, base = input.v }
end

function EXPECT.nested(input, r)
  r.enter("Warmup", true)
  r.enter("Batch")
  local n = #input.items
  r.iterations(n)
  local results = {}
  for idx, x in ipairs(input.items) do
    local tag = "/m" .. (idx - 1)
    r.enter("Pair")
    r.task("Inc", tag .. "/b0", 60, input.f[1], 3)
    r.task("Neg", tag .. "/b1", 60, input.f[2], 3)
    r.task("Merge", tag, 61, 0, 0)
    results[idx] = (x + 1) * 1000 - x
  end
  r.enter("Done")
  return { results = array(results) }
end

--- What an execution of `kind` with `input` must end with:
-- { output = value, attempts = { {st, tag, step, rc}, ... },
--   entered = { state name -> count }, counts = { event type -> count } }.
function M.expect(kind, input)
  local fn = EXPECT[kind]
  if not fn then error("oracle: unknown kind " .. tostring(kind), 2) end
  local r = recorder()
  local output = fn(input, r)
  return { output = output, attempts = r.attempts, entered = r.entered, counts = r.counts }
end

--- The Seconds of each Wait state, from its input.
M.WAIT_SECONDS = {
  Pause = function(input) return input.w end,
  Settle = function(input) return input.w end,
  LeftWait = function(input) return input.w[1] end,
  Idle = function(input) return input.w[2] end,
  Warmup = function(input) return input.w end,
}

--- The MaxConcurrency of each Map state (0: no limit).
M.MAX_CONCURRENCY = { Spread = 3, Batch = 0 }

--- The key of one Task attempt, as the handlers log it.
function M.key(st, tag, step, rc)
  return st .. "|" .. tostring(tag) .. "|" .. tostring(step) .. "|" .. tostring(rc)
end

return M
