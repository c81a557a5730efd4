-- bench/profile.lua: Lua-level sampling profile of one workload trial.
-- Usage (from the project root):
--   lua5.4 bench/profile.lua WORKLOAD [MODE] [--quick] [--count N] [--lines]
--                            [--every N] [--top N]
-- A count hook fires every ~N Lua VM instructions (default 1000, randomised
-- by +-50% against aliasing) in the
-- main thread and in every coroutine (Task handlers run in coroutines) and
-- samples the running function (self) and every function on the stack
-- (inclusive), only during the worker's measured loop. It counts VM
-- instructions, not time: C functions (JSON encode, JSONPath get, the loop)
-- get no samples themselves and are seen only through their Lua callers;
-- use valgrind --tool=callgrind for the C side (docs/BENCH.md).
local every, top, lines = 1000, 30, false
local pass = {}
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--every" then i = i + 1; every = tonumber(arg[i])
    elseif a == "--top" then i = i + 1; top = tonumber(arg[i])
    elseif a == "--lines" then lines = true
    else pass[#pass + 1] = a end
    i = i + 1
  end
end
if #pass == 0 then
  io.stderr:write("usage: lua5.4 bench/profile.lua WORKLOAD [MODE] [--quick] [--count N] [--lines]\n")
  os.exit(2)
end

local getinfo, sethook = debug.getinfo, debug.sethook
local self_count, incl_count, line_count, names = {}, {}, {}, {}
local total = 0
local active = false

local function fkey(info)
  local k = info.short_src .. ":" .. info.linedefined
  if not names[k] then
    names[k] = info.what == "main" and "(main chunk)" or nil
  end
  return k
end

local random = math.random
local hook
hook = function()
  if not active then return end
  -- A random interval (mean `every`) so that samples do not alias with
  -- the period of the interpreter's loop.
  sethook(hook, "", random(every // 2, every + every // 2))
  total = total + 1
  local info = getinfo(2, "Sln")
  if not info then return end
  local k = fkey(info)
  self_count[k] = (self_count[k] or 0) + 1
  if info.name and not names[k] then names[k] = info.name end
  if lines then
    local lk = info.short_src .. ":" .. (info.currentline or 0)
    line_count[lk] = (line_count[lk] or 0) + 1
  end
  local seen = { [k] = true }
  incl_count[k] = (incl_count[k] or 0) + 1
  local level = 3
  while true do
    local up = getinfo(level, "Sn")
    if not up then break end
    if up.what ~= "C" then
      local uk = fkey(up)
      if up.name and not names[uk] then names[uk] = up.name end
      if not seen[uk] then
        seen[uk] = true
        incl_count[uk] = (incl_count[uk] or 0) + 1
      end
    end
    level = level + 1
  end
end

-- Coroutines get the hook too (hooks are per thread).
local cocreate = coroutine.create
-- luacheck: push ignore 121 122 (the profiler wraps Lua's own functions and
-- hands the worker its arguments)
coroutine.create = function(f)
  local co = cocreate(f)
  sethook(co, hook, "", every)
  return co
end
coroutine.wrap = function(f)
  local co = cocreate(f)
  sethook(co, hook, "", every)
  return function(...)
    local r = table.pack(coroutine.resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
end

-- The worker calls start() and stop() around its measured loop.
_G.BENCH_PROFILER = {
  start = function() active = true; sethook(hook, "", every) end,
  stop = function() active = false; sethook() end,
}

arg = pass
-- luacheck: pop
dofile("bench/worker.lua")

local function report(title, counts, n)
  local rows = {}
  for k, c in pairs(counts) do rows[#rows + 1] = { k, c } end
  table.sort(rows, function(a, b) return a[2] > b[2] end)
  print(title)
  for i = 1, math.min(n, #rows) do
    local k, c = rows[i][1], rows[i][2]
    print(string.format("  %5.1f%%  %-48s %s", 100 * c / total, k, names[k] or ""))
  end
end

print(string.format("samples: %d (one per ~%d VM instructions, measured loop only)", total, every))
report("self (the function running when sampled):", self_count, top)
report("inclusive (the function anywhere on the Lua stack):", incl_count, top)
if lines then report("lines:", line_count, top) end
