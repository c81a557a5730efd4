--- The life of an execution: made, started (durably with a store),
-- limited (payload, duration, history), ended or stopped. The states in
-- between are execution.lua's.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local durable = require("stepflow.durable")
local variables = require("stepflow.asl.variables")

local M = {}

local size_within = json.size_within

--- The longest an execution may run (AWS's quotas): a STANDARD execution
-- one year, an EXPRESS one five minutes. A machine's TimeoutSeconds can
-- only shorten it.
M.MAX_SECONDS = { STANDARD = 365 * 24 * 3600, EXPRESS = 300 }

local Execution = { __name = "stepflow.Execution" }
M.Execution = Execution

-- An execution started without a name gets its UUID name (and ARN) when
-- something first reads them: most in-memory executions never do.
Execution.__index = function(e, k)
  if k == "name" or k == "arn" then
    local name = e.engine:_uuid()
    rawset(e, "name", name)
    rawset(e, "arn", rawget(e, "arn_prefix") .. name ..
      (e.machine.type == "EXPRESS" and (":" .. e.engine:_uuid()) or ""))
    return rawget(e, k)
  end
  return Execution[k]
end

--- Makes an execution object (nothing runs yet).
function M.new(engine, sm, name, input, start_ms, on_done)
  local prefix = sm.exec_arn_prefix
  if not prefix then
    local kind = sm.type == "EXPRESS" and ":express:" or ":execution:"
    prefix = "arn:aws:states:" .. engine.region .. ":" .. engine.account .. kind .. sm.name .. ":"
    sm.exec_arn_prefix = prefix
  end
  local arn = name and (prefix .. name)
  -- AWS makes an EXPRESS execution's ARN unique with a UUID after its name.
  if arn and sm.type == "EXPRESS" then arn = arn .. ":" .. engine:_uuid() end
  -- The fields the interpreter reads on every transition are set here, so
  -- the table is sized once; rarer ones (history, on_done, stop_ms, the
  -- context's Execution part) are absent until set: a parked execution
  -- stays small.
  local exec = setmetatable({
    engine = engine, machine = sm, name = name, input = input,
    arn = arn, arn_prefix = prefix,
    status = "RUNNING", start_ms = start_ms, event_id = 0, transitions = 0,
    timers = false, durable = false, sink = false, root = false, replay = false,
    finished = false, end_hooks = false,
    -- a number either way: the recorder compares without a test for false
    history_limit = sm.type == "STANDARD" and engine.history_limit or math.huge,
  }, Execution)
  if on_done then exec.on_done = on_done end
  return exec
end

local function cancel_timers(exec)
  local timers = exec.timers
  if type(timers) == "table" then
    for t in pairs(timers) do t:cancel() end
  elseif timers then
    timers:cancel()
  end
  exec.timers = false
end

--- Ends an execution: SUCCEEDED with its output, or FAILED, TIMED_OUT or
-- ABORTED with an error value (Error and Cause may be nil). Records the
-- last event, stops its timers and frames, and tells `on_done`.
function M.finish(exec, status, output, err)
  if exec.finished then return end
  exec.finished = true
  exec.status = status
  exec.stop_ms = exec.engine.loop:now()
  cancel_timers(exec)
  local root = exec.root
  -- the last event of the top-level chain; an execution stopped from
  -- outside follows whatever was recorded last
  local prev = (status == "SUCCEEDED" or status == "FAILED") and root and root.last_event
    or exec.event_id
  if status == "SUCCEEDED" then
    exec.output = output
    execution.record_from(exec, nil, prev, "ExecutionSucceeded", exec.sink and { output = output })
  else
    if err then exec.error, exec.cause = err.Error, err.Cause end
    local etype = status == "FAILED" and "ExecutionFailed"
      or status == "TIMED_OUT" and "ExecutionTimedOut" or "ExecutionAborted"
    execution.record_from(exec, nil, prev, etype, exec.sink and { error = exec.error, cause = exec.cause })
  end
  local engine = exec.engine
  if exec.durable then
    engine.durability:finish_execution(exec, status, output)
    -- an ended durable execution is read from the store from now on: an
    -- engine that runs for months keeps only the executions that run
    if engine.executions[exec.arn] == exec then engine.executions[exec.arn] = nil end
  end
  local hooks = exec.end_hooks
  if hooks then
    exec.end_hooks = false
    for fn in pairs(hooks) do fn(exec) end
  end
  if exec.on_done then exec.on_done(exec) end
end

--- Drops an execution that this engine no longer owns (a shared store
-- gave it to another engine): it ends here without an event or a status,
-- its timers and waiting tasks are forgotten, and its sinks record
-- nothing more (`lost`).
function M.drop(exec)
  if exec.finished then return end
  exec.lost = true
  exec.finished = true
  cancel_timers(exec)
  local engine = exec.engine
  if engine.executions[exec.arn] == exec then engine.executions[exec.arn] = nil end
  for token, call in pairs(engine.tokens) do
    if call.frame and call.frame.exec == exec then engine.tokens[token] = nil end
  end
end

--- Runs fn(exec) when the execution ends, whatever its status, before
-- on_done (a task waiting on work it started, such as a .sync child
-- execution, stops that work; a parent waiting on this execution learns
-- its end). Returns fn, which `forget_end` removes.
function Execution:when_ends(fn)
  local hooks = self.end_hooks
  if not hooks then
    hooks = {}
    self.end_hooks = hooks
  end
  hooks[fn] = true
  return fn
end

--- Removes a function `when_ends` added.
function Execution:forget_end(fn)
  local hooks = self.end_hooks
  if hooks then hooks[fn] = nil end
end

--- Times an execution out (TimeoutSeconds, or its longest duration).
function M.time_out(exec)
  return M.finish(exec, "TIMED_OUT", nil, errors.new(errors.Timeout))
end

--- Fails an execution with an ASL error value.
function M.fail(exec, err)
  return M.finish(exec, "FAILED", nil, err)
end

--- Starts (or, after a recovery, resumes) the top-level frame.
function M.launch(engine, exec)
  local sm = exec.machine
  local limit = engine.payload_limit
  local root = execution.new_frame(exec, sm.program, exec.input, variables.NONE, function(_, ok, value)
    if ok then
      if limit and not size_within(value, limit) and #json.encode(value) > limit then
        return M.fail(exec, errors.new(errors.DataLimitExceeded,
          "The execution output exceeds the maximum number of bytes service limit."))
      end
      M.finish(exec, "SUCCEEDED", value)
    else
      M.fail(exec, value)
    end
  end)
  exec.root = root
  -- Only executions that can be looked up later by ARN are kept (durable
  -- ones, and those keeping their history); the rest are the caller's.
  if exec.durable or exec.history then engine.executions[exec.arn] = exec end
  if exec.durable then engine.durability:watch_requests() end
  -- TimeoutSeconds is a timer; the type's longest duration is checked
  -- where time passes (Engine:after, the driver), so that it neither
  -- keeps the loop running nor makes virtual time jump a year ahead.
  local seconds = sm.timeout_seconds
  if seconds and seconds * 1000 < sm.max_ms then
    -- a redrive restarts TimeoutSeconds (AWS); the longest duration
    -- still counts from the start
    local due = (exec.redrive_ms or exec.start_ms) + seconds * 1000
    engine:_after(due - engine.loop:now(), root, function() M.time_out(exec) end)
  end
  engine.scheduler:push(root)
  return exec
end

-- The in-memory history sink (`history = true`).
local function memory_sink(e, id, prev, ts, etype, details, fkey, x)
  local h = e.history
  h[#h + 1] = { id = id, previousEventId = prev, timestamp = ts, type = etype,
    details = details, frame = fkey, x = x }
end

--- Starts an execution (see Engine:start_execution). Returns the
-- execution, or nil, message, {code = AWS error code}.
function M.start(engine, sm, input, opts)
  local d = engine.durability
  local name = opts.name
  local durable_start = d and sm.type == "STANDARD"
  if not name and durable_start then name = engine:_uuid() end
  local limit = engine.payload_limit
  -- The input as text, only when the store or the payload limit needs it
  -- (most inputs are certainly below the limit: no text needed).
  local input_text = (durable_start or (limit and not size_within(input, limit))) and json.encode(input)
  if limit and input_text and #input_text > limit then
    -- AWS refuses the request; nothing is recorded
    return nil, "ValidationException: 1 validation error detected: Value at 'input' failed to " ..
      "satisfy constraint: Member must have length less than or equal to " .. limit,
      { code = "ValidationException" }
  end
  local exec = M.new(engine, sm, name, input, engine.loop:now(), opts.on_done)
  -- the version and alias it was started through (the API's ARNs)
  if opts.version_arn then exec.version_arn = opts.version_arn end
  if opts.alias_arn then exec.alias_arn = opts.alias_arn end
  if durable_start then
    -- Insert first; only a name already taken needs a look-up (AWS: the
    -- same name and input is the same execution, another input an error).
    local ok, err = d:create_execution(exec, input_text)
    if not ok then
      if err ~= "ExecutionAlreadyExists" then return nil, err, { code = "InternalError" } end
      local rec = d.store:find_execution(sm.arn, name)
      if rec and rec.input == input_text then
        return engine:get_execution(rec.arn)
      end
      return nil, "ExecutionAlreadyExists: an execution named '" .. name ..
        "' exists with another input", { code = "ExecutionAlreadyExists" }
    end
    exec.durable = true
    exec.sink = durable.sink
    exec.state_sink = durable.state_sink
  elseif opts.history or engine.keep_history then
    exec.history = {}
    exec.sink = memory_sink
  end
  execution.record(exec, nil, "ExecutionStarted", exec.sink and {
    input = input, roleArn = sm.role_arn,
    stateMachineVersionArn = exec.version_arn, stateMachineAliasArn = exec.alias_arn,
  })
  if opts.defer then
    engine.executions[exec.arn] = exec
    return exec
  end
  return M.launch(engine, exec)
end

--- Rebuilds a stored RUNNING execution from its record and events and
-- starts replaying it.
function M.resume(engine, sm, rec, events)
  local exec = M.new(engine, sm, rec.name, json.decode(rec.input), rec.started)
  exec.arn = rec.arn
  exec.version_arn, exec.alias_arn = rec.version_arn, rec.alias_arn
  if rec.redrive_count then
    -- a redriven execution ($$.Execution.RedriveCount and RedriveTime)
    exec.redrive_count, exec.redrive_ms = rec.redrive_count, rec.redrive_date
  end
  exec.durable = true
  exec.sink = durable.sink
  exec.state_sink = durable.state_sink
  exec.replay, exec.event_id = durable.replay_of(events)
  -- ids up to here were recorded before the restart
  exec.recorded_upto = exec.event_id
  return M.launch(engine, exec)
end

--- A child execution of a Map Run: it runs `program` on `input` with
-- events of its own (none in the parent's history), as an execution of
-- the state machine `machine_name` (AWS: "Parent/Label") of `type`.
function M.child(parent, program, machine_name, input, type)
  local engine = parent.engine
  local psm = parent.machine
  local key = machine_name .. "|" .. (type or "EXPRESS")
  local sm = psm.children and psm.children[key]
  if not sm then
    -- one machine per Map Run label, shared by its children
    type = type or "EXPRESS"
    sm = { program = program, type = type, name = machine_name,
      arn = "arn:aws:states:" .. engine.region .. ":" .. engine.account .. ":stateMachine:" .. machine_name,
      role_arn = psm.role_arn, max_ms = (M.MAX_SECONDS[type] or M.MAX_SECONDS.STANDARD) * 1000 }
    psm.children = psm.children or {}
    psm.children[key] = sm
  end
  local exec = M.new(engine, sm, nil, input, engine.loop:now())
  exec.parent = parent
  return exec
end

--- Stops a running execution: ABORTED with an optional error and cause.
function Execution:stop(err, cause)
  if self.finished then return nil, "execution is not running (" .. self.status .. ")" end
  local e = errors.new(err or "", cause)
  if err == nil then e.Error = nil end
  M.finish(self, "ABORTED", nil, e)
  return true
end

--- The execution's result as the command line prints it with --json.
function Execution:result()
  if self.status == "SUCCEEDED" then return { status = self.status, output = self.output } end
  return { status = self.status, error = self.error, cause = self.cause }
end

return M
