--- Handlers of the crash test (tools/crash_test). One handler, `work`,
-- serves every Task: it appends one line per invocation to the file named
-- by STEPFLOW_CRASH_LOG, sleeps a little real time (ctx.sleep), fails with
-- Crash.Flaky while $$.State.RetryCount is below the Task's `fail` count,
-- and otherwise applies `op` to its `data` (the state input).
--
-- Log line (tab-separated): pid, attempt token, execution name, state
-- name, lineage tag, step, retry count, and whether the attempt's
-- TaskScheduled event was committed when the handler started: "C" (seen
-- through a read-only connection to the store named by
-- STEPFLOW_CRASH_STORE, which sees committed groups only), "N" (not
-- there: the engine invoked the handler too early) or "-" (not checked).
-- Lines are written with one write(2) on a file opened in append mode, so
-- lines from concurrent or killed processes never interleave.

local LOG = os.getenv("STEPFLOW_CRASH_LOG")
local STORE = os.getenv("STEPFLOW_CRASH_STORE")

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

-- With STEPFLOW_CRASH_INCARNATIONS (the failover test, on PostgreSQL),
-- the process field is "pid.engine": the engine id this process runs
-- under now, which changes when it loses its lease and registers again
-- (a new incarnation of the engine in the same process).
local incarnations = os.getenv("STEPFLOW_CRASH_INCARNATIONS") and STORE
local conn
local function who()
  if not incarnations then return PID end
  if conn == nil then
    local ok, pg = pcall(require, "stepflow.core.pg")
    conn = ok and pg.connect(STORE) or false
  end
  if not conn then return PID .. ".0" end
  conn:send({ { sql = "SELECT max(id) FROM stepflow.engines WHERE pid = $1", nil, PID, n = 1 } })
  local r = conn:wait()
  local id = r and r[1].rows and r[1].rows[1] and r[1].rows[1][1]
  return PID .. "." .. tostring(id or 0)
end

-- The read-only store, opened once per process (false if unavailable).
local reader
local function store()
  if reader == nil then
    reader = false
    local ok, mod = pcall(require, "stepflow.store")
    if ok and STORE then
      local s = mod.open(STORE, { read_only = true })
      reader = s or false
    end
  end
  return reader
end

local json_ok, json = pcall(require, "stepflow.json")

-- "C" if the store holds a committed TaskScheduled event of this attempt,
-- "N" if it does not, "-" if that cannot be checked.
local function committed(input, ctx)
  local s = store()
  local arn = type(ctx) == "table" and ctx.execution_id
  if not (s and json_ok and type(arn) == "string") then return "-" end
  local events = s:history(arn)
  if type(events) ~= "table" then return "-" end
  -- "N" only from a history whose events this check understands: one
  -- starting with ExecutionStarted (the store's record format could change).
  if not (events[1] and events[1].type == "ExecutionStarted") then return "-" end
  local tasks, understood = 0, false
  for i = #events, 1, -1 do
    local ev = events[i]
    if ev.type == "TaskScheduled" then
      tasks = tasks + 1
      local ok, d = pcall(json.decode, ev.details or "")
      -- The store keeps the engine's own record: AWS's details under "d".
      if ok and type(d) == "table" and type(d.d) == "table" then d = d.d end
      local p = ok and type(d) == "table" and d.parameters
      if type(p) == "string" then
        ok, p = pcall(json.decode, p)
        if not ok then p = nil end
      end
      if type(p) == "table" and p.st ~= nil then
        understood = true
        if p.st == input.st and p.tag == input.tag and p.step == input.step and p.rc == input.rc then
          return "C"
        end
      end
    end
  end
  -- Other TaskScheduled events whose parameters cannot be read: unknown.
  if tasks > 0 and not understood then return "-" end
  return "N"
end

local function log(input, ctx)
  if not LOG then return end
  seq = seq + 1
  local line = table.concat({
    who(), PID .. "." .. seq, tostring(input.ex), tostring(input.st), tostring(input.tag),
    tostring(input.step), tostring(input.rc), committed(input, ctx),
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
  log(input, ctx)
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
