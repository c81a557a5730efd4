--- Handlers of the crash test (tools/crash_test). One handler, `work`,
-- serves every Task: it appends one line per invocation to the file named
-- by STEPFLOW_CRASH_LOG, sleeps a little real time (ctx.sleep), fails with
-- Crash.Flaky while $$.State.RetryCount is below the Task's `fail` count,
-- and otherwise applies `op` to its `data` (the state input).
--
-- Log line (tab-separated): pid, attempt token, execution name, state
-- name, lineage tag, step, retry count. Lines are written with one
-- write(2) on a file opened in append mode, so lines from concurrent or
-- killed processes never interleave.

local LOG = os.getenv("STEPFLOW_CRASH_LOG")

-- The pid of this process: /proc/self is the process that opens it.
local function own_pid()
  local fh = io.open("/proc/self/stat", "r")
  if not fh then return "?" end
  local line = fh:read("l") or ""
  fh:close()
  return line:match("^(%d+)") or "?"
end

local PID = own_pid()
local seq = 0

local function log(input)
  if not LOG then return end
  seq = seq + 1
  local line = table.concat({
    PID, PID .. "." .. seq, tostring(input.ex), tostring(input.st), tostring(input.tag),
    tostring(input.step), tostring(input.rc),
  }, "\t") .. "\n"
  local fh = assert(io.open(LOG, "a"))
  fh:setvbuf("full", 4096)
  fh:write(line)
  fh:flush()
  fh:close()
end

-- A deep copy that keeps array metatables (JSON arrays stay arrays).
local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return setmetatable(c, getmetatable(v))
end

local OPS = {}

function OPS.add(data, input) data.v = data.v + input.k; return data end
function OPS.mul(data, input) data.v = data.v * input.k; return data end
function OPS.sq(data) data.v = data.v * data.v; return data end

-- The Map's results: their total and count.
function OPS.sum(data)
  local total, count = 0, 0
  for _, r in ipairs(data.results) do total = total + r.v; count = count + 1 end
  return { total = total, count = count }
end

-- The Parallel's branch outputs.
function OPS.join(data)
  local b = data.branches
  return { left = b[1].v, right = b[2].v, base = b[3].v }
end

-- The nested Parallel's pair of outputs.
function OPS.merge(data)
  data.v = data.pair[1].v * 1000 + data.pair[2].v
  return data
end

local function work(input, ctx)
  log(input)
  local d = input.d
  if type(d) == "number" and d > 0 then ctx.sleep(d) end
  if input.rc < input.fail then
    error({ Error = "Crash.Flaky", Cause = "flaky " .. input.st .. " rc=" .. input.rc })
  end
  local op = OPS[input.op]
  if not op then error("crash handlers: unknown op " .. tostring(input.op)) end
  local data = op(copy(input.data), input)
  if input.inc then data.i = data.i + 1 end
  return data
end

return { work = work }
