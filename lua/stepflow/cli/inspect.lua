--- The commands of the command line that read or stop the executions of
-- a store: executions, describe, history, stop. The reading ones open the
-- store read-only, so they work on a store the user may only read and
-- while an engine runs it.
local json = require("stepflow.json")
local common = require("stepflow.cli.common")

local say, usage_error = common.say, common.usage_error

local M = {}

local STATUSES = { "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED" }

local function iso(ms) return ms and require("stepflow.asl.timestamp").format(ms) or nil end

-- An execution record as AWS's DescribeExecution returns it.
local function described(r)
  local input = r.input and json.decode(r.input)
  local output = r.output and json.decode(r.output)
  return { executionArn = r.arn, stateMachineArn = r.sm_arn, name = r.name, status = r.status,
    startDate = iso(r.started), stopDate = iso(r.stopped),
    input = r.input, inputDetails = { included = true },
    output = r.output, outputDetails = r.output and { included = true } or nil,
    error = r.error, cause = r.cause }, input, output
end

-- Opens the store and finds the execution named on the command line.
-- Returns the store and its record, or nil and an exit status.
local function open_execution(path, which)
  local s = common.read_store(path)
  if not s then return nil, 1 end
  local rec = common.find_execution(s, which)
  if not rec then
    s:close()
    say("ExecutionDoesNotExist: ", which, " (no execution with that ARN or name in ", path, ")")
    return nil, 1
  end
  return s, rec
end

function M.executions(argv)
  local pos, opts = common.parse_args(argv, 2, { store = "value", status = "value", json = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 0 or not opts.store then
    return usage_error("usage: stepflow executions --store FILE [--status STATUS] [--json]")
  end
  if opts.status then
    local known = false
    for _, st in ipairs(STATUSES) do known = known or st == opts.status end
    if not known then
      return usage_error("unknown --status '" .. opts.status .. "' (one of " .. table.concat(STATUSES, ", ") .. ")")
    end
  end
  local s = common.read_store(opts.store)
  if not s then return 1 end
  local list, err = s:list_executions({ status = opts.status })
  s:close()
  if not list then
    say(err)
    return 1
  end
  for _, r in ipairs(list) do
    if opts.json then
      local rec, _, output = described(r)
      io.stdout:write(json.encode({ executionArn = rec.executionArn, stateMachineArn = rec.stateMachineArn,
        name = rec.name, status = rec.status, startDate = rec.startDate, stopDate = rec.stopDate,
        output = output, error = rec.error, cause = rec.cause }), "\n")
    else
      io.stdout:write(string.format("%-10s %s  %s\n", r.status, iso(r.started), r.arn))
    end
  end
  return 0
end

function M.describe(argv)
  local pos, opts = common.parse_args(argv, 2, { store = "value", json = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 or not opts.store then
    return usage_error("usage: stepflow describe EXECUTION --store FILE [--json]")
  end
  local s, rec = open_execution(opts.store, pos[1])
  if not s then return rec end
  s:close()
  local d = described(rec)
  if opts.json then
    io.stdout:write(json.encode(d), "\n")
    return 0
  end
  for _, k in ipairs({ "executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate",
    "input", "output", "error", "cause" }) do
    if d[k] ~= nil then io.stdout:write(string.format("%-16s %s\n", k, d[k])) end
  end
  return 0
end

function M.history(argv)
  local pos, opts = common.parse_args(argv, 2, { store = "value", json = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 or not opts.store then
    return usage_error("usage: stepflow history EXECUTION --store FILE [--json]")
  end
  local s, rec = open_execution(opts.store, pos[1])
  if not s then return rec end
  local events, err = s:history(rec.arn)
  s:close()
  if not events then
    say(err)
    return 1
  end
  local history = require("stepflow.history")
  local durable = require("stepflow.durable")
  local out = {}
  for i, e in ipairs(events) do
    local d = durable.decode_event(e)
    out[i] = history.to_aws({ id = d.id, previousEventId = d.previousEventId,
      timestamp = d.timestamp, type = d.type, details = d.d })
  end
  if opts.json then
    -- one document, as GetExecutionHistory returns it
    io.stdout:write(json.encode({ events = json.array(out) }), "\n")
  else
    M.print_events(out)
  end
  return 0
end

--- Prints AWS-shaped history events one a line: id, time, type.
function M.print_events(events)
  for _, ev in ipairs(events) do
    io.stdout:write(string.format("%4d %s %s\n", ev.id, ev.timestamp, ev.type))
  end
end

-- How long `stepflow stop` waits for a running engine to act on its
-- request (the engine reads requests every 250 ms while it has work).
local STOP_WAIT_S = 10

-- Stops an execution that another engine process (`pid`) runs: leaves a
-- stop request in the store, then waits for the engine to abort it.
local function request_stop(path, which, opts, pid)
  local store = require("stepflow.store")
  local s, rec = open_execution(path, which)
  if not s then return rec end
  s:close()
  if rec.status ~= "RUNNING" then
    say("execution is not running (", rec.status, ")")
    return 1
  end
  local ok, err = store.request_stop(path, rec.arn, opts.error, opts.cause)
  if not ok then
    say(err)
    return 1
  end
  return M.wait_stop(path, rec, pid)
end

-- Waits up to STOP_WAIT_S for the engine that runs an execution to act
-- on its stop request; says what happened.
function M.wait_stop(path, rec, pid)
  pid = tostring(pid or "?")
  -- Polls the execution's status on a real-time loop until it ends or the
  -- wait is over.
  local loop = require("stepflow.core.engine").loop({})
  local deadline = loop:now() + STOP_WAIT_S * 1000
  local final, failure
  local function check()
    local r = common.read_store(path)
    if not r then failure = true; return end
    local now_rec = r:get_execution(rec.arn)
    r:close()
    if now_rec and now_rec.status ~= "RUNNING" then
      final = now_rec.status
    elseif loop:now() < deadline then
      loop:timer(50, check)
    end
  end
  loop:timer(50, check)
  loop:run()
  loop:close()
  if failure then return 1 end
  if final == "ABORTED" then
    io.stdout:write("stopped ", rec.arn, " (by engine process ", pid, ")\n")
    return 0
  elseif final then
    say(rec.arn, " ended ", final, " before the stop")
    return 1
  end
  io.stdout:write("stop requested for ", rec.arn, "; engine process ", pid,
    " has not acted on it yet and will when it next reads requests\n")
  return 0
end

function M.stop(argv)
  local pos, opts = common.parse_args(argv, 2, { store = "value", error = "text", cause = "text" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 or not opts.store then
    return usage_error("usage: stepflow stop EXECUTION --store FILE [--error E] [--cause C]")
  end
  local s, info = common.open_store(opts.store, true)
  if not s then
    -- another engine runs the store: ask it
    if info.kind == "locked" then return request_stop(opts.store, pos[1], opts, info.pid) end
    return 1
  end
  local engine = require("stepflow").new({ store = s })
  local rec = common.find_execution(s, pos[1])
  if not rec then
    engine:close()
    say("ExecutionDoesNotExist: ", pos[1], " (no execution with that ARN or name in ", opts.store, ")")
    return 1
  end
  local ok, serr = engine:stop_execution(rec.arn, opts.error, opts.cause)
  local cok, cerr = pcall(engine.close, engine)
  if not ok or not cok then
    say(ok and cerr or serr)
    return 1
  end
  -- a shared (PostgreSQL) store: the engine that owns it was asked
  if serr == "requested" then return M.wait_stop(opts.store, rec, "that runs it") end
  io.stdout:write("stopped ", rec.arn, "\n")
  return 0
end

return M
