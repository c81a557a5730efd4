--- bench/common.lua: helpers shared by the benchmark worker, micro-benchmarks
-- and the profiler: paths, clocks, RSS, workload loading and JSON-value
-- comparison. Load with dofile("bench/common.lua") from the project root.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local core = require("stepflow.core.engine")

local M = {}

M.WORKLOADS = os.getenv("STEPFLOW_BENCH_WORKLOADS") or "../shared/bench/workloads"

--- Exits with a message saying what is missing when the workloads folder
-- is absent (the benchmarks run the shared workloads).
function M.need_workloads(dir)
  dir = dir or M.WORKLOADS
  local ok = os.execute("test -d '" .. dir:gsub("'", "'\\''") .. "'")
  if ok then return end
  io.stderr:write("bench: missing: ", dir, " (the benchmarks run the shared workloads, from ../shared "
    .. "beside the clone as the README's set-up section says; STEPFLOW_BENCH_WORKLOADS=DIR names another "
    .. "folder)\n")
  os.exit(2)
end
M.need_workloads()

-- A real-time loop used only as a wall clock (CLOCK_REALTIME, ms).
local clock_loop = core.loop({ virtual_time = false })

--- Wall clock in milliseconds (integer resolution).
function M.wall_ms()
  return clock_loop:now()
end

--- Marks the start of a measured interval: waits for the wall clock to
-- tick to the next millisecond and returns that instant (ms), so the
-- interval starts on a tick.
function M.wall_start()
  local m0 = clock_loop:now()
  local m = m0
  while m == m0 do m = clock_loop:now() end
  return m
end

--- Marks the end of a measured interval with sub-millisecond resolution:
-- spins to the next tick of the wall clock and subtracts the CPU time
-- (os.clock) spent spinning. Returns ms as a float.
function M.wall_stop()
  local c0 = os.clock()
  local m0 = clock_loop:now()
  local m = m0
  while m == m0 do m = clock_loop:now() end
  return m - (os.clock() - c0) * 1000
end

--- Reads one "Vm*" field of /proc/self/status in kB (nil if unavailable).
function M.status_kb(field)
  local fh = io.open("/proc/self/status", "r")
  if not fh then return nil end
  local text = fh:read("a")
  fh:close()
  return tonumber(text:match(field .. ":%s*(%d+)"))
end

--- Reads a whole file; raises when it cannot.
function M.read_file(path)
  local fh = assert(io.open(path, "rb"))
  local text = fh:read("a")
  fh:close()
  return text
end

--- Loads a workload folder: name, dir, spec (workload.json), definition
-- text, input / expected values (or inputs / expecteds arrays for jsonl).
function M.load_workload(name)
  local dir = M.WORKLOADS .. "/" .. name
  local w = { name = name, dir = dir }
  w.spec = json.decode(M.read_file(dir .. "/workload.json"))
  w.definition = M.read_file(dir .. "/definition.asl.json")
  local fh = io.open(dir .. "/input.json", "rb")
  if fh then
    fh:close()
    w.input = json.decode(M.read_file(dir .. "/input.json"))
    w.expected = json.decode(M.read_file(dir .. "/expected_output.json"))
  end
  fh = io.open(dir .. "/inputs.jsonl", "rb")
  if fh then
    w.inputs = {}
    for line in fh:lines() do
      if line ~= "" then w.inputs[#w.inputs + 1] = json.decode(line) end
    end
    fh:close()
    w.expecteds = {}
    for line in io.lines(dir .. "/expected_outputs.jsonl") do
      if line ~= "" then w.expecteds[#w.expecteds + 1] = json.decode(line) end
    end
  end
  return w
end

--- Lists the workload folder names (those holding a workload.json), sorted.
function M.list_workloads()
  local names = {}
  local p = io.popen("ls -1 '" .. M.WORKLOADS .. "' 2>/dev/null")
  for line in p:lines() do
    local fh = io.open(M.WORKLOADS .. "/" .. line .. "/workload.json", "r")
    if fh then
      fh:close()
      names[#names + 1] = line
    end
  end
  p:close()
  table.sort(names)
  return names
end

--- Compares two decoded JSON values: numbers by value (1 equals 1.0),
-- objects ignoring key order, arrays element by element. Returns true, or
-- false and the JSON path of the first difference.
function M.json_equal(a, b, where)
  where = where or "$"
  local ta, tb = type(a), type(b)
  if ta == "number" and tb == "number" then
    if a == b then return true end
    return false, where
  end
  if ta ~= tb then return false, where end
  if ta ~= "table" then
    if a == b then return true end
    return false, where
  end
  local aa, ab = json.is_array(a), json.is_array(b)
  -- An empty table is {} or [] depending on its metatable only.
  if aa ~= ab then return false, where end
  if aa then
    if #a ~= #b then return false, where .. ".length" end
    for i = 1, #a do
      local ok, w = M.json_equal(a[i], b[i], where .. "[" .. (i - 1) .. "]")
      if not ok then return false, w end
    end
    return true
  end
  for k, v in pairs(a) do
    local ok, w = M.json_equal(v, b[k], where .. "." .. tostring(k))
    if not ok then return false, w end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, where .. "." .. tostring(k) end
  end
  return true
end

--- The Task handlers the workloads name, by handler name.
M.HANDLERS = {
  ["bench-increment"] = function(x) return x + 1 end,
  ["bench-double"] = function(v) return { i = v.i, n = 2 * v.n } end,
}

--- Handlers for a workload.json: registered under the Lambda function
-- name the workload gives (the engine resolves Lambda ARNs by name).
function M.handlers_for(spec)
  local t = {}
  for _, name in pairs(spec.handlers or {}) do
    local fn = M.HANDLERS[name]
    if not fn then error("bench: no handler named " .. tostring(name)) end
    t[name] = fn
  end
  return t
end

M.json = json
M.core = core

return M
