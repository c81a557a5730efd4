-- bench/callgrind.lua: C-level profile of the interpreter's measured loop.
-- Runs the worker twice under valgrind --tool=callgrind with two execution
-- counts and subtracts, so process start, module loading and definition
-- load cancel out; prints machine instructions (Ir) per transition and the
-- functions that take them.
-- Usage (from the project root):
--   lua5.4 bench/callgrind.lua WORKLOAD [MODE] [--lua PATH] [--counts A,B] [--top N]
-- --lua names a Lua 5.4 interpreter built with symbols (Debian's lua5.4 is
-- stripped: its functions show as addresses). One can be built with
--   apt-get source lua5.4 (needs a deb-src entry), then
--   make -C lua-5.4.4 linux MYCFLAGS=-g
-- The stepflow .so modules must come from the same build flags as usual;
-- they resolve the Lua API from the interpreter that loads them.
local common = dofile("bench/common.lua")

local workload, mode
local lua = os.getenv("LUA") or "lua5.4"
local counts, top = nil, 40
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--lua" then i = i + 1; lua = arg[i]
    elseif a == "--counts" then
      i = i + 1
      local x, y = arg[i]:match("^(%d+),(%d+)$")
      counts = { tonumber(x), tonumber(y) }
    elseif a == "--top" then i = i + 1; top = tonumber(arg[i])
    elseif a ~= "--quick" then  -- --quick is accepted: the default counts are small already
      if not workload then workload = a
      elseif not mode then mode = a end
    end
    i = i + 1
  end
end
if not workload then
  io.stderr:write("usage: lua5.4 bench/callgrind.lua WORKLOAD [MODE] [--lua PATH] [--counts A,B] [--top N]\n")
  os.exit(2)
end

local DEFAULT_COUNTS = {
  pass_chain_100 = { 100, 300 }, parallel_fanout = { 50, 150 }, task_chain_1k = { 2, 6 },
  choice_loop_10k = { 1, 3 }, map_10k = { 1, 2 }, many_executions = { 1000, 3000 },
}
counts = counts or DEFAULT_COUNTS[workload] or { 1, 2 }
local spec = common.load_workload(workload).spec
local per_exec = spec.transitions_per_execution

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs one profile; returns function name -> exclusive Ir, and the total.
local function profile(n)
  local out = os.tmpname()
  local cmd = "valgrind --tool=callgrind --callgrind-out-file=" .. q(out) .. " " .. q(lua) ..
    " bench/worker.lua " .. q(workload) .. (mode and (" " .. q(mode)) or "") ..
    " --count " .. n .. " >/dev/null 2>&1"
  assert(os.execute(cmd), "valgrind failed: " .. cmd)
  local p = io.popen("callgrind_annotate --auto=no --threshold=100 " .. q(out) .. " 2>/dev/null")
  local fns, total = {}, 0
  for line in p:lines() do
    local num, rest = line:match("^%s*([%d,]+)%s+%(%s*[%d.]+%%%)%s+(.+)$")
    if num then
      local ir = tonumber((num:gsub(",", "")))
      if rest:match("PROGRAM TOTALS") then
        total = ir
      else
        -- "file:function'2 [object]": merge recursion levels and objects.
        local name = rest:gsub("%s*%[.*%]$", ""):gsub("'%d+$", "")
        name = name:gsub("^.*/", "")
        fns[name] = (fns[name] or 0) + ir
      end
    end
  end
  p:close()
  os.remove(out)
  return fns, total
end

local a, ta = profile(counts[1])
local b, tb = profile(counts[2])
local transitions = (counts[2] - counts[1]) * per_exec
local execs = counts[2] - counts[1]
local diff = tb - ta
local rows = {}
for name, ir in pairs(b) do
  local d = ir - (a[name] or 0)
  if d > 0 then rows[#rows + 1] = { name, d } end
end
table.sort(rows, function(x, y) return x[2] > y[2] end)
print(string.format("%s%s: %d extra executions, %d transitions; %.0f Ir per transition, %.0f Ir per execution",
  workload, mode and ("/" .. mode) or "", execs, transitions, diff / transitions, diff / execs))
-- Categories by source file.
local CATEGORIES = {
  { "Lua VM and calls (lvm, ldo, ltm, lfunc)", { "^lvm%.c", "^ldo%.c", "^ltm%.c", "^lfunc%.c" } },
  { "Lua tables (ltable)", { "^ltable%.c" } },
  { "memory (malloc/free, lmem, l_alloc)", { "^malloc%.c", "^lmem%.c", ":l_alloc$", "^arena%.c" } },
  { "garbage collector (lgc)", { "^lgc%.c" } },
  { "strings and formatting (lstring, lstrlib, printf, mem*)", { "^lstring%.c", "^lstrlib%.c",
    "printf", "^genops%.c", "^mem", "^str", "^vsnprintf", "^sprintf", "^_itoa", "^wcs", "^printf" } },
  { "Lua C API and libraries (lapi, lauxlib, lbaselib, lcorolib)", { "^lapi%.c", "^lauxlib%.c",
    "^lbaselib%.c", "^lcorolib%.c", "^ltablib%.c", "^lmathlib%.c", "^lobject%.c" } },
  { "stepflow C modules (core/)", { "^json", "^jsonpath", "^lmod_", "^loop%.c", "^heap%.c", "^store%.c" } },
}
local cat_ir, other = {}, 0
for _, r in ipairs(rows) do
  local found = false
  for ci, c in ipairs(CATEGORIES) do
    for _, pat in ipairs(c[2]) do
      if r[1]:find(pat) then
        cat_ir[ci] = (cat_ir[ci] or 0) + r[2]
        found = true
        break
      end
    end
    if found then break end
  end
  if not found then other = other + r[2] end
end
print("by category:")
for ci, c in ipairs(CATEGORIES) do
  local ir = cat_ir[ci] or 0
  print(string.format("  %5.1f%%  %8.0f Ir/tr  %s", 100 * ir / diff, ir / transitions, c[1]))
end
print(string.format("  %5.1f%%  %8.0f Ir/tr  other (libc, libevent, below callgrind's threshold)",
  100 * other / diff, other / transitions))
print("by function:")
for i = 1, math.min(top, #rows) do
  print(string.format("  %5.1f%%  %8.0f Ir/tr  %s", 100 * rows[i][2] / diff, rows[i][2] / transitions, rows[i][1]))
end
