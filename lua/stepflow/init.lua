--- stepflow: run AWS Step Functions state machines (ASL) in Lua.
--
--     local stepflow = require("stepflow")
--     local engine = stepflow.new({ handlers = { echo = function(input) return input end } })
--     local sm = assert(engine:create_state_machine(definition_text))
--     local exec = engine:start_execution(sm, { x = 1 })
--     engine:run()
--     print(exec.status, stepflow.json.encode(exec.output))
local core = require("stepflow.core.engine")
local json = require("stepflow.json")
local size_within = json.size_within
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local compile = require("stepflow.asl.compile")
local validate = require("stepflow.asl.validate")
local handlers = require("stepflow.handlers")
local durable = require("stepflow.durable")
local variables = require("stepflow.asl.variables")
local history = require("stepflow.history")

local M = {}

M.json = json
M.errors = errors
M.error = errors.new
M.null = json.null

local Engine = {}
Engine.__index = Engine
Engine.__name = "stepflow.Engine"

local StateMachine = { __name = "stepflow.StateMachine" }
StateMachine.__index = StateMachine

local Execution = { __name = "stepflow.Execution" }
-- An execution started without a name gets its UUID name (and ARN) when
-- something first reads them: most in-memory executions never do.
Execution.__index = function(e, k)
  if k == "name" or k == "arn" then
    local name = e.engine:uuid()
    rawset(e, "name", name)
    rawset(e, "arn", rawget(e, "arn_prefix") .. name)
    return rawget(e, k)
  end
  return Execution[k]
end

--- Makes an engine. opts (all optional):
--   handlers      table name -> function(input, ctx)
--   virtual_time  boolean: the clock jumps to the next timer when idle
--   region, account   for ARNs (defaults us-east-1, 123456789012)
--   payload_limit bytes (default 262144; false disables the check)
--   variable_limit  bytes per variable and per Assign (default 262144; false disables)
--   variables_limit bytes of variables per execution (default 10 MiB; false disables)
--   history       boolean: keep every execution's history events in memory
--   store         a store file path (or an opened stepflow.store): STANDARD
--                 executions become durable, and every open one resumes
--                 when recover() is called
--   client        with a store path: open it as a client (no engine lock,
--                 while another engine runs it): this engine only records
--                 executions (start_execution with `defer`), which the
--                 running engine picks up if it accepts new ones; it
--                 cannot run or recover executions
--   accept_new    with a store: also run RUNNING executions that clients
--                 add to the store while this engine runs (read with the
--                 stop requests: at commits and every 250 ms)
-- Returns the engine, or nil, message when the store cannot be opened.
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("stepflow.new: opts must be a table", 2) end
  local store = opts.store
  if type(store) == "string" then
    local err
    store, err = require("stepflow.store").open(store, { client = opts.client })
    if not store then return nil, err end
  elseif opts.client then
    error("stepflow.new: client needs a store path", 2)
  end
  local self = setmetatable({
    loop = core.loop({ virtual_time = opts.virtual_time and true or false }),
    handlers = {},
    tokens = {},
    region = opts.region or "us-east-1",
    account = opts.account or "123456789012",
    payload_limit = opts.payload_limit == nil and 262144 or opts.payload_limit,
    variable_limit = opts.variable_limit == nil and 262144 or opts.variable_limit,
    variables_limit = opts.variables_limit == nil and 10485760 or opts.variables_limit,
    keep_history = opts.history and true or false,
    machines = {},
    revisions = {},  -- "ARN#revision" -> machine, for recovered executions
    executions = {},
    random = math.random,
    co_pool = {},
    handlers_version = 0,
  }, Engine)
  self.scheduler = execution.new_scheduler(self.loop)
  -- The clock method itself, so the interpreter calls it without lookups.
  self.now = self.loop.now
  if store then
    durable.attach(self, store)
    if opts.client then self.client = true end
    if opts.accept_new then self.accept_new = true end
  end
  if opts.handlers then
    for name, fn in pairs(opts.handlers) do self:register(name, fn) end
  end
  return self
end

--- Registers a handler function under a name (a Resource, a Lambda
-- function name, an activity name).
function Engine:register(name, fn)
  if type(name) ~= "string" then error("register: name must be a string", 2) end
  if type(fn) ~= "function" then error("register: handler must be a function", 2) end
  self.handlers[name] = fn
  self.handlers_version = self.handlers_version + 1
  return self
end

--- Loads a handlers file (a Lua chunk returning name -> function) and
-- registers its handlers. Returns true or nil, message.
function Engine:load_handlers(path)
  local t, err = handlers.load_file(path)
  if not t then return nil, err end
  for name, fn in pairs(t) do self.handlers[name] = fn end
  self.handlers_version = self.handlers_version + 1
  return true
end

--- Validates and compiles a definition (JSON text or a decoded table).
-- opts: name, type ("STANDARD" | "EXPRESS"), role_arn.
-- Returns a state machine, or nil, message, problems. With a store, a
-- STANDARD machine is recorded there, each distinct definition as a new
-- revision (`machine.revision`): its executions keep the revision they
-- started with, also across a restart.
function Engine:create_state_machine(definition, opts)
  opts = opts or {}
  local def = definition
  if type(definition) == "string" then
    local ok, v = pcall(json.decode, definition)
    if not ok then return nil, "definition: " .. tostring(v), { { path = "", message = tostring(v) } } end
    def = v
  end
  if type(def) ~= "table" then
    return nil, "definition: must be a JSON object", { { path = "", message = "must be a JSON object" } }
  end
  local problems = validate.check(def, { type = opts.type })
  if #problems > 0 then
    local lines = {}
    for i, p in ipairs(problems) do lines[i] = (p.path == "" and "/" or p.path) .. ": " .. p.message end
    return nil, "definition: " .. table.concat(lines, "\n"), problems
  end
  local machine, err = compile.compile(def)
  if not machine then return nil, "definition: " .. err, { { path = "", message = err } } end
  local name = opts.name or "StateMachine"
  machine.name = name
  machine.type = opts.type or "STANDARD"
  machine.arn = "arn:aws:states:" .. self.region .. ":" .. self.account .. ":stateMachine:" .. name
  machine.role_arn = opts.role_arn or ("arn:aws:iam::" .. self.account .. ":role/stepflow")
  machine.engine = self
  machine.text = type(definition) == "string" and definition or json.encode(def)
  setmetatable(machine, StateMachine)
  if opts.revision then
    -- a revision recovered from the store: the current machine stays
    machine.revision = opts.revision
    if not self.machines[machine.arn] then self.machines[machine.arn] = machine end
  else
    self.machines[machine.arn] = machine
    if self.store and machine.type == "STANDARD" then
      local rev, perr = self.store:put_state_machine({ arn = machine.arn, name = name,
        definition = machine.text, type = machine.type, created = self.loop:now() })
      if not rev then return nil, "store: " .. tostring(perr) end
      machine.revision = rev
    end
  end
  if machine.revision then self.revisions[machine.arn .. "#" .. machine.revision] = machine end
  return machine
end

local random, format = math.random, string.format

--- A random version 4 UUID (one format call: execution names are made
-- for every start).
function Engine:uuid()
  return format("%08x-%04x-4%03x-%04x-%06x%06x", random(0, 0xffffffff), random(0, 0xffff),
    random(0, 0xfff), 0x8000 | random(0, 0x3fff), random(0, 0xffffff), random(0, 0xffffff))
end

--- Runs fn after ms milliseconds for an execution's frame; the timer is
-- cancelled if the execution ends first. Returns the timer.
function Engine:after(ms, frame, fn)
  local exec = frame.exec
  local t
  t = self.loop:timer(ms < 0 and 0 or ms, function()
    -- Forget the fired timer: exec.timers is false, one timer, or a set.
    local timers = exec.timers
    if timers == t then exec.timers = false
    elseif timers then timers[t] = nil end
    if exec.finished then return end
    fn()
  end)
  -- Most executions have at most one timer pending: hold it directly.
  local timers = exec.timers
  if not timers then
    exec.timers = t
  elseif type(timers) == "table" then
    timers[t] = true
  else
    exec.timers = { [timers] = true, [t] = true }
  end
  return t
end

--- Cancels a timer made by `after`.
function Engine:cancel(t)
  t:cancel()
end

--- Runs fn once the events so far are committed (at once for in-memory
-- executions).
function Engine:when_durable(exec, fn)
  if exec.durable then return durable.when_durable(self, fn) end
  return fn()
end

--- Completes a task that waits for its token. Returns true or nil, message.
function Engine:send_task_success(token, output)
  local call = self.tokens[token]
  if not call then return nil, "TaskDoesNotExist: no task waits for token " .. tostring(token) end
  call.complete(true, output)
  return true
end

--- Fails a task that waits for its token.
function Engine:send_task_failure(token, err, cause)
  local call = self.tokens[token]
  if not call then return nil, "TaskDoesNotExist: no task waits for token " .. tostring(token) end
  call.complete(false, errors.new(err or "", cause))
  return true
end

--- Records a heartbeat for a task that waits for its token.
function Engine:send_task_heartbeat(token)
  local call = self.tokens[token]
  if not call then return nil, "TaskDoesNotExist: no task waits for token " .. tostring(token) end
  call.on_heartbeat()
  return true
end

local function end_execution(exec, status, output, err)
  if exec.finished then return end
  exec.finished = true
  exec.status = status
  exec.stop_ms = exec.engine.loop:now()
  local timers = exec.timers
  if type(timers) == "table" then
    for t in pairs(timers) do t:cancel() end
  elseif timers then
    timers:cancel()
  end
  exec.timers = false
  if status == "SUCCEEDED" then
    exec.output = output
    execution.event(exec, nil, "ExecutionSucceeded", exec.sink and { output = output })
  else
    if err then exec.error, exec.cause = err.Error, err.Cause end
    local etype = status == "FAILED" and "ExecutionFailed"
      or status == "TIMED_OUT" and "ExecutionTimedOut" or "ExecutionAborted"
    execution.event(exec, nil, etype, exec.sink and { error = exec.error, cause = exec.cause })
  end
  if exec.durable then
    local store = exec.engine.store
    local ok, err = store:finish_execution(exec.arn, status,
      status == "SUCCEEDED" and json.encode(output) or nil, exec.error, exec.cause, exec.stop_ms)
    if not ok and err ~= "ExecutionNotRunning" then
      error("stepflow: store finish failed: " .. tostring(err), 0)
    end
  end
  if exec.on_done then exec.on_done(exec) end
end

local function new_execution(self, sm, name, input, start_ms, on_done)
  local prefix = sm.exec_arn_prefix
  if not prefix then
    local kind = sm.type == "EXPRESS" and ":express:" or ":execution:"
    prefix = "arn:aws:states:" .. self.region .. ":" .. self.account .. kind .. sm.name .. ":"
    sm.exec_arn_prefix = prefix
  end
  -- The fields the interpreter reads on every transition are set here, so
  -- the table is sized once; rarer ones (history, on_done, stop_ms, the
  -- context's Execution part) are absent until set: a parked execution
  -- stays small.
  local exec = setmetatable({
    engine = self, machine = sm, name = name, input = input,
    arn = name and (prefix .. name), arn_prefix = prefix,
    status = "RUNNING", start_ms = start_ms, event_id = 0, transitions = 0,
    timers = false, durable = false, sink = false, root = false, replay = false,
    finished = false,
  }, Execution)
  if on_done then exec.on_done = on_done end
  return exec
end

-- Starts (or, after a recovery, resumes) the top-level frame.
local function launch(self, exec)
  local sm = exec.machine
  local limit = self.payload_limit
  local root = execution.new_frame(exec, sm.program, exec.input, variables.NONE, function(_, ok, value)
    if ok then
      if limit and not size_within(value, limit) and #json.encode(value) > limit then
        return end_execution(exec, "FAILED", nil, errors.new(errors.DataLimitExceeded,
          "The execution output exceeds the maximum number of bytes service limit."))
      end
      end_execution(exec, "SUCCEEDED", value)
    else
      end_execution(exec, "FAILED", nil, value)
    end
  end)
  exec.root = root
  -- Only executions that can be looked up later by ARN are kept (durable
  -- ones, and those keeping their history); the rest are the caller's.
  if exec.durable or exec.history then self.executions[exec.arn] = exec end
  if exec.durable then durable.watch_requests(self) end
  if sm.timeout_seconds then
    local due = exec.start_ms + sm.timeout_seconds * 1000
    self:after(due - self.loop:now(), root, function()
      end_execution(exec, "TIMED_OUT", nil, errors.new(errors.Timeout))
    end)
  end
  self.scheduler:push(root)
  return exec
end

--- Starts an execution of a state machine with an input value (a decoded
-- JSON value). opts: name, on_done(exec), history. With a store, a
-- STANDARD execution is durable, and its name is unique: the same name
-- with the same input returns the existing execution, another input
-- returns nil, "ExecutionAlreadyExists".
function Engine:start_execution(sm, input, opts)
  if getmetatable(sm) ~= StateMachine then
    error("start_execution: expected a state machine from create_state_machine", 2)
  end
  opts = opts or {}
  if input == nil then input = {} end
  local store = self.store
  local name = opts.name
  if not name and (store and sm.type == "STANDARD") then name = self:uuid() end
  local exec = new_execution(self, sm, name, input, self.loop:now(), opts.on_done)
  -- The input as text, only when the store or the payload limit needs it
  -- (most inputs are certainly below the limit: no text needed).
  local limit = self.payload_limit
  local durable_start = store and sm.type == "STANDARD"
  local input_text = (durable_start or (limit and not size_within(input, limit))) and json.encode(input)
  if store and sm.type == "STANDARD" then
    -- Insert first; only a name already taken needs a look-up (AWS: the
    -- same name and input is the same execution, another input an error).
    local ok, err = store:create_execution({ arn = exec.arn, sm_arn = sm.arn, name = name,
      input = input_text, status = "RUNNING", started = exec.start_ms, revision = sm.revision })
    if not ok then
      if err ~= "ExecutionAlreadyExists" then return nil, err end
      local rec = store:find_execution(sm.arn, name)
      if rec and rec.input == input_text then
        return self.executions[rec.arn] or self:get_execution(rec.arn)
      end
      return nil, "ExecutionAlreadyExists: an execution named '" .. name ..
        "' exists with another input"
    end
    exec.durable = true
    exec.sink = durable.sink
    exec.state_sink = durable.state_sink
  elseif opts.history or self.keep_history then
    exec.history = {}
    exec.sink = function(e, id, prev, ts, etype, details, fkey, x)
      local h = e.history
      h[#h + 1] = { id = id, previousEventId = prev, timestamp = ts, type = etype,
        details = details, frame = fkey, x = x }
    end
  end
  execution.event(exec, nil, "ExecutionStarted", exec.sink and {
    input = input, roleArn = sm.role_arn, stateMachineArn = sm.arn,
  })
  if limit and input_text and #input_text > limit then
    end_execution(exec, "FAILED", nil, errors.new(errors.DataLimitExceeded,
      "The execution input exceeds the maximum number of bytes service limit."))
    return exec
  end
  if opts.defer then
    self.executions[exec.arn] = exec
    return exec
  end
  return launch(self, exec)
end

--- A finished or running execution by ARN: from memory, or a record from
-- the store ({arn, name, status, output, error, cause, ...}).
function Engine:get_execution(arn)
  local exec = self.executions[arn]
  if exec then return exec end
  local rec = self.store and self.store:get_execution(arn)
  if not rec then return nil end
  return setmetatable({ arn = rec.arn, name = rec.name, status = rec.status,
    output = rec.output and json.decode(rec.output), error = rec.error, cause = rec.cause,
    start_ms = rec.started, stop_ms = rec.stopped, finished = rec.status ~= "RUNNING",
    engine = self }, Execution)
end

--- The compiled state machine a stored execution runs: the definition
-- revision it started with (a store written before revisions: the
-- machine's current definition). nil, message when the store lacks it.
function Engine:machine_of(rec)
  local rev = rec.revision
  local sm = rev and self.revisions[rec.sm_arn .. "#" .. rev]
  if sm then return sm end
  local store = self.store
  local text
  if rev then
    text = store:get_definition(rec.sm_arn, rev)
  else
    sm = self.machines[rec.sm_arn]
    if sm then return sm end
    local smrec = store:get_state_machine(rec.sm_arn)
    text, rev = smrec and smrec.definition, smrec and smrec.revision
  end
  if not text then
    return nil, "store: execution " .. rec.arn .. " names an unknown state machine (" .. rec.sm_arn ..
      (rec.revision and (" revision " .. rec.revision) or "") .. ")"
  end
  local err
  sm, err = self:create_state_machine(text, { name = rec.sm_arn:match("[^:]+$"), type = "STANDARD",
    revision = rev })
  if not sm then return nil, "store: state machine " .. rec.sm_arn .. ": " .. err end
  return sm
end

--- Resumes every RUNNING execution in the store: replays its recorded
-- history (nothing recorded is run or recorded again), re-arms its timers
-- at their recorded due times, and invokes again the tasks that were in
-- flight. Returns the number of executions resumed, or nil, message.
function Engine:recover()
  local store = self.store
  if not store then error("recover: this engine has no store", 2) end
  if self.client then error("recover: a client engine runs no executions", 2) end
  local count = 0
  for _, rec in ipairs(store:running({ events = true })) do
    if not self.executions[rec.arn] then
      local ok, err = self:resume_record(rec, rec.events)
      if not ok then return nil, err end
      count = count + 1
    end
  end
  return count
end

--- Resumes one stored RUNNING execution from its record and events (see
-- recover). Returns the execution, or nil, message.
function Engine:resume_record(rec, events)
  local sm, err = self:machine_of(rec)
  if not sm then return nil, err end
  local exec = durable.resume_execution(self, sm, rec, events, function(machine, r)
    local e = new_execution(self, machine, r.name, json.decode(r.input), r.started)
    e.arn = r.arn
    e.durable = true
    e.sink = durable.sink
    e.state_sink = durable.state_sink
    return e
  end)
  return launch(self, exec)
end

--- The AWS-shaped history of an execution (from the store or memory).
function Engine:history(arn)
  local out = {}
  if self.store then
    local events, err = self.store:history(arn)
    if not events then return nil, err end
    for i, e in ipairs(events) do
      local d = durable.decode_event(e)
      out[i] = history.to_aws({ id = d.id, previousEventId = d.previousEventId,
        timestamp = d.timestamp, type = d.type, details = d.d })
    end
    return out
  end
  local exec = self.executions[arn]
  if not exec or not exec.history then return nil, "ExecutionDoesNotExist" end
  for i, e in ipairs(exec.history) do out[i] = history.to_aws(e) end
  return out
end

--- Commits what is pending and closes the store (if any) and the loop.
function Engine:close()
  if self.store then
    if self.requests_timer then
      self.requests_timer:cancel()
      self.requests_timer = false
    end
    durable.commit(self)
    self.store:close()
    self.store = nil
  end
end

--- Stops a running execution: ABORTED with an optional error and cause.
function Execution:stop(err, cause)
  if self.finished then return nil, "execution is not running (" .. self.status .. ")" end
  local e = errors.new(err or "", cause)
  if err == nil then e.Error = nil end
  end_execution(self, "ABORTED", nil, e)
  return true
end

--- Stops an execution by ARN: one running here, or (when no engine runs
-- it) a RUNNING execution in the store. Returns true or nil, message.
function Engine:stop_execution(arn, err, cause)
  local exec = self.executions[arn]
  if exec then return exec:stop(err, cause) end
  local store = self.store
  local rec = store and store:get_execution(arn)
  if not rec then return nil, "ExecutionDoesNotExist: " .. tostring(arn) end
  if rec.status ~= "RUNNING" then return nil, "execution is not running (" .. rec.status .. ")" end
  local events = store:history(arn, { reverse = true, limit = 1 })
  local last = events and events[1] and events[1].id or 0
  local now = self.loop:now()
  store:append(arn, last + 1, last, now, "ExecutionAborted",
    json.encode({ d = { error = err, cause = cause } }))
  store:finish_execution(arn, "ABORTED", nil, err, cause, now)
  local ok, cerr = store:commit()
  if not ok then return nil, cerr end
  return true
end

--- The execution's result as the command line prints it with --json.
function Execution:result()
  if self.status == "SUCCEEDED" then return { status = self.status, output = self.output } end
  return { status = self.status, error = self.error, cause = self.cause }
end

--- Runs the loop until no execution can make progress.
function Engine:run()
  if self.client then error("run: a client engine runs no executions", 2) end
  return self.loop:run()
end

--- Creates a machine, runs one execution to its end and returns its result
-- table ({status, output} or {status, error, cause}), or nil, message.
function Engine:run_once(definition, input, opts)
  local sm, err, problems = self:create_state_machine(definition, opts)
  if not sm then return nil, err, problems end
  local exec = self:start_execution(sm, input, opts)
  self:run()
  return exec:result(), exec
end

return M
