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
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local lifecycle = require("stepflow.lifecycle")
local compile = require("stepflow.asl.compile")
local validate = require("stepflow.asl.validate")
local handlers = require("stepflow.handlers")
local durable = require("stepflow.durable")
local integrations = require("stepflow.integrations")
local mocks = require("stepflow.integrations.mocks")
local tokens = require("stepflow.integrations.tokens")
local records = require("stepflow.records")
local answers = require("stepflow.integrations.answers")

local M = {}

M.json = json
M.errors = errors
M.error = errors.new
M.null = json.null

local Engine = {}
Engine.__index = Engine
Engine.__name = "stepflow.Engine"

-- What the engine tells of executions and Map Runs (describe, list,
-- history, redrive): stepflow.records.
for name, fn in pairs(records.methods) do Engine[name] = fn end

--- How long after its end an execution may be redriven (AWS: 14 days).
M.REDRIVE_PERIOD_MS = records.REDRIVE_PERIOD_MS

local StateMachine = { __name = "stepflow.StateMachine" }
StateMachine.__index = StateMachine

local Execution = lifecycle.Execution

--- Makes an engine. opts (all optional):
--   handlers      table name -> function(input, ctx)
--   virtual_time  boolean: the clock jumps to the next timer when idle
--   region, account   for ARNs (defaults us-east-1, 123456789012)
--   payload_limit bytes (default 262144; false disables the check)
--   variable_limit  bytes per variable and per Assign (default 262144; false disables)
--   variables_limit bytes of variables per execution (default 10 MiB; false disables)
--   history_limit events per STANDARD execution (default 25000, AWS's
--                 quota; false disables)
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
--   s3_dir        a folder standing for Amazon S3: s3://bucket/key is
--                 DIR/bucket/key, for Distributed Map ItemReaders and
--                 ResultWriters and the aws-sdk:s3 Task integrations
--                 (docs/DMAP.md)
--   integrations  table Resource pattern -> integration table (see
--                 register_integration); handlers may hold them too
--   mocks         a mock config (Step Functions Local's MockConfigFile):
--                 a file path or a decoded table (see use_mocks)
--   connections   the HTTP Task's connections: a file path or a decoded
--                 table (see use_connections)
--   http_timeout  seconds an HTTP Task waits for its response (default 60)
--   http_ca_file  a PEM file of the CAs https servers are checked against
--                 (default: the system's)
-- Returns the engine, or nil, message, {kind = ...} when the store cannot
-- be opened (see store.open), or the mocks or connections cannot be read.
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("stepflow.new: opts must be a table", 2) end
  if opts.s3_dir ~= nil then
    if type(opts.s3_dir) ~= "string" then error("stepflow.new: s3_dir must be a folder path", 2) end
    local dir = io.open(opts.s3_dir .. "/.")
    if not dir then return nil, "s3_dir: " .. opts.s3_dir .. " is not a folder", { kind = "not_found" } end
    dir:close()
  end
  local store = opts.store
  if type(store) == "string" then
    local err, info
    store, err, info = require("stepflow.store").open(store, { client = opts.client })
    if not store then return nil, err, info end
  elseif opts.client then
    error("stepflow.new: client needs a store path", 2)
  end
  local self = setmetatable({
    loop = core.loop({ virtual_time = opts.virtual_time and true or false }),
    handlers = {},
    tokens = {},          -- task token -> the call that waits for it
    token_source = tokens.source(),
    stored_answers = false,  -- token -> an answer left in the store (integrations.answers)
    region = opts.region or "us-east-1",
    account = opts.account or "123456789012",
    payload_limit = opts.payload_limit == nil and 262144 or opts.payload_limit,
    variable_limit = opts.variable_limit == nil and 262144 or opts.variable_limit,
    variables_limit = opts.variables_limit == nil and 10485760 or opts.variables_limit,
    history_limit = opts.history_limit == nil and execution.HISTORY_LIMIT or opts.history_limit
      or math.huge,
    keep_history = opts.history and true or false,
    machines = {},
    revisions = {},  -- "ARN#revision" -> machine, for recovered executions
    executions = {},
    map_runs = {},   -- Map Run ARN -> run (stepflow.states.map_run)
    retired = {},    -- state machine ARN -> true: deleted (retire_state_machine)
    co_pool = {},
    handlers_version = 0,
    client = opts.client and true or false,
    s3 = false,      -- the S3 backend (s3_dir)
    store = false,
    durability = false,
    mocks = false,        -- a mock config (use_mocks): Tasks check it first
    connections = false,  -- the HTTP Task's connections (use_connections)
    http = false,         -- the HTTP client (http_client), made on first use
    http_timeout = opts.http_timeout or 60,
    http_ca_file = opts.http_ca_file,
  }, Engine)
  self.integrations, self.activities = integrations.setup()
  self.scheduler = execution.new_scheduler(self.loop)
  -- The clock method itself, so the interpreter calls it without lookups.
  self.now = self.loop.now
  if store then
    self.store = store
    self.durability = durable.new(self, store, opts)
  end
  if opts.s3_dir ~= nil then
    self.s3 = require("stepflow.s3.folder").new(opts.s3_dir)
    -- the aws-sdk:s3 actions served from the folder, as integrations: the
    -- engine handles their patterns as for any other service
    local folder = self.s3
    for resource, fn in pairs(require("stepflow.s3").resources) do
      self:register_integration(resource, {
        call = function(params, ctx)
          ctx.s3 = folder
          return fn(params, ctx)
        end,
      })
    end
  end
  if opts.handlers then
    for name, fn in pairs(opts.handlers) do
      if integrations.is_integration_entry(name, fn) then self:register_integration(name, fn)
      else self:register(name, fn) end
    end
  end
  if opts.integrations then
    for pattern, spec in pairs(opts.integrations) do self:register_integration(pattern, spec) end
  end
  if opts.mocks then
    local ok, err, problems = self:use_mocks(opts.mocks)
    if not ok then return nil, err, { kind = "mocks", problems = problems } end
  end
  if opts.connections then
    local ok, err = self:use_connections(opts.connections)
    if not ok then return nil, err, { kind = "connections" } end
  end
  return self
end

--- Registers a Lua integration for a Resource pattern
-- ("arn:aws:states:::dynamodb:putItem", "arn:aws:states:::aws-sdk:s3:*"):
-- a table with call(params, ctx) (request-response, .waitForTaskToken)
-- and/or start(params, ctx) with poll(submitted, ctx) (.sync); the engine
-- handles the pattern. See docs/INTEGRATIONS.md. A bad pattern or table
-- raises.
function Engine:register_integration(pattern, spec)
  local ok, err = self.integrations:register(pattern, spec)
  if not ok then error(err, 2) end
  self.handlers_version = self.handlers_version + 1
  return self
end

--- Mocks Task states in Step Functions Local's MockConfigFile format:
-- `config` is a file path, a decoded table, or nil (no mocks). An
-- execution uses them when started with a test case (start_execution's
-- opts.test_case). Returns true, or nil, message, problems (each
-- {path =, message =}, a JSON pointer into the file).
function Engine:use_mocks(config)
  if config == nil or config == false then
    self.mocks = false
    return true
  end
  if type(config) ~= "string" and type(config) ~= "table" then
    error("use_mocks: config must be a file path or a table", 2)
  end
  local m, err, problems = mocks.from(config)
  if not m then return nil, err, problems end
  self.mocks = m
  return true
end

--- Splits the state machine ARN of a StartExecution as Step Functions
-- Local reads it ("arn:...:stateMachine:Name#TestCase"): returns the ARN
-- and the test case name (nil without '#'). The server passes the case on
-- as start_execution's opts.test_case.
function Engine._mock_test_case(_, arn)
  return mocks.split_arn(arn)
end

--- The HTTP Task's connections (the EventBridge connections a
-- ConnectionArn names): a JSON file path or a decoded table
-- {"Connections": {ARN or name: {AuthorizationType, AuthParameters}}}.
-- Returns true, or nil and a message naming the place of a mistake.
function Engine:use_connections(config)
  local c, err = require("stepflow.integrations.connections").load(config)
  if not c then return nil, err end
  self.connections = c
  return true
end

--- The engine's HTTP client (the HTTP Task's), on its loop: made on first
-- use, with the engine's options (http_ca_file: a CA bundle for https).
function Engine:_http_client()
  local c = self.http
  if not c then
    c = self.loop:http_client({ ca_file = self.http_ca_file })
    self.http = c
  end
  return c
end

--- Takes the oldest task waiting for a worker of activity `arn`
-- (GetActivityTask): returns {taskToken =, input = JSON text}, or nil
-- when none waits. The worker ends it with send_task_success/failure.
function Engine:get_activity_task(arn, worker_name)
  return self.activities:poll(arn, worker_name)
end

--- Long-polls activity `arn`: fn(task) runs once a task waits for a
-- worker (at once if one does); workers are served in the order they
-- came. `alive` (optional): asked before a task goes to this worker; when
-- it returns false (the worker's connection closed), the worker gives up
-- its place and the task goes to the next one. Returns a function that
-- stops waiting.
function Engine:wait_activity_task(arn, worker_name, fn, alive)
  return self.activities:wait(arn, worker_name, fn, alive)
end

--- The Task states of a state machine (or a decoded definition) that
-- nothing on this engine would serve: no handler, integration, activity
-- or mock. A list of {state =, resource =, message =}, where message says
-- what to provide; `test_case` (optional) counts its mocked states.
function Engine:unresolved_resources(sm, test_case)
  local def = getmetatable(sm) == StateMachine and json.decode(sm.text) or sm
  local case = test_case and self.mocks and self.mocks:test_case(sm.name, test_case)
  return require("stepflow.integrations.targets").unresolved(self, def, case and case.states)
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
  for name, fn in pairs(t) do
    if integrations.is_integration_entry(name, fn) then
      local ok, ierr = self.integrations:register(name, fn)
      if not ok then return nil, "handlers: " .. path .. ": " .. ierr end
    else
      self.handlers[name] = fn
    end
  end
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
  machine.max_ms = (lifecycle.MAX_SECONDS[machine.type] or lifecycle.MAX_SECONDS.STANDARD) * 1000
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
    self.retired[machine.arn] = nil
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
local NO_OPTS = {}

--- A random version 4 UUID (one format call: execution names are made
-- for every start).
function Engine._uuid(_)
  return format("%08x-%04x-4%03x-%04x-%06x%06x", random(0, 0xffffffff), random(0, 0xffff),
    random(0, 0xfff), 0x8000 | random(0, 0x3fff), random(0, 0xffffff), random(0, 0xffffff))
end

--- Runs fn after ms milliseconds for an execution's frame; the timer is
-- cancelled if the execution ends first. A timer due after the
-- execution's longest duration (a year; five minutes for EXPRESS) times
-- the execution out at that moment instead. Returns the timer.
function Engine:_after(ms, frame, fn)
  local exec = frame.exec
  if ms < 0 or ms ~= ms then ms = 0 end
  local left = exec.start_ms + exec.machine.max_ms - self.loop:now()
  if ms >= left then
    ms = left > 0 and left or 0
    fn = function() lifecycle.time_out(exec) end
  end
  local t
  t = self.loop:timer(ms, function()
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
function Engine._cancel(_, t)
  t:cancel()
end

--- Runs fn once the events so far are committed (at once for in-memory
-- executions).
function Engine:_when_durable(exec, fn)
  if exec.durable then return self.durability:when_durable(fn, exec) end
  return fn()
end

--- Runs fn once everything written to the store so far (state machines,
-- executions, events) is committed; at once without a store. The server
-- answers a request that changed something only then.
function Engine:after_commit(fn)
  if self.durability then return self.durability:when_durable(fn) end
  return fn()
end

--- A new task token for a task of execution `exec_arn` (the runtime's
-- own: Task states call it).
function Engine:_new_task_token(exec_arn)
  return self.token_source:new(exec_arn)
end

-- The call that waits for `token`, or nil, message, {code = ...}: the
-- reason as AWS's SendTask* name it: InvalidToken (not a task token),
-- TaskTimedOut (its task has ended: its execution is known here or in the
-- store), TaskDoesNotExist (an execution this engine does not know).
-- false on a shared store: another engine may run it (answers.send).
local function waiting_call(self, token)
  if type(token) ~= "string" then error("send_task: token must be a string", 3) end
  local call = self.tokens[token]
  if call and not call.settled and not call.frame.exec.finished then return call end
  if call then self.tokens[token] = nil end
  if self.durability and self.durability.shared then return false end
  local arn = tokens.execution_of(token)
  if not arn then
    -- (a token of an older store, a plain UUID, is still served above)
    return nil, "InvalidToken: not a task token: " .. token, { code = "InvalidToken" }
  end
  if call or self.executions[arn] or (self.store and self.store:get_execution(arn)) then
    return nil, "TaskTimedOut: the task of this token has ended (execution " .. arn .. ")",
      { code = "TaskTimedOut" }
  end
  return nil, "TaskDoesNotExist: no task waits for token " .. token, { code = "TaskDoesNotExist" }
end

--- Completes a task that waits for its token (a .waitForTaskToken
-- callback, a .sync job, an activity) with `output` (a JSON value).
-- Returns true, or nil, message, {code = ...}: code is InvalidToken,
-- TaskTimedOut, TaskDoesNotExist, or InvalidOutput (not JSON, or over the
-- payload limit).
function Engine:send_task_success(token, output)
  local call, err, info = waiting_call(self, token)
  if call == false then return answers.send(self, token, { success = output }) end
  if not call then return nil, err, info end
  return call:complete(true, output)
end

--- Fails a task that waits for its token with an error name and cause
-- (both optional). Returns true, or nil, message, {code = ...} as
-- send_task_success.
function Engine:send_task_failure(token, err, cause)
  local call, msg, info = waiting_call(self, token)
  if call == false then return answers.send(self, token, { failure = { error = err, cause = cause } }) end
  if not call then return nil, msg, info end
  return call:complete(false, errors.new(err or "", cause))
end

--- Records a heartbeat for a task that waits for its token (its
-- HeartbeatSeconds count again). Returns true, or nil, message, {code =
-- ...} as send_task_success.
function Engine:send_task_heartbeat(token)
  local call, err, info = waiting_call(self, token)
  if call == false then return answers.send(self, token, { heartbeat = true }) end
  if not call then return nil, err, info end
  call:heartbeat()
  return true
end

--- The tasks of execution `arn` that wait for their token: a list of
-- {state =, token =, resource =, kind =}, kind "activity" (a worker has
-- it: `taken`, or it waits for one), "callback" (.waitForTaskToken) or
-- "sync" (.sync), in token order. What `stepflow run` shows for an
-- execution that ends its run still waiting.
function Engine:waiting_tasks(arn)
  local out = {}
  for token, call in pairs(self.tokens) do
    local exec = call.frame.exec
    if exec.arn == arn and not call.settled and not exec.finished then
      local task = call.task
      local w = { state = task.st.name, token = token, resource = task.resource,
        kind = task.activity and "activity" or task.sync and "sync" or "callback" }
      if task.activity then w.taken = call.taken or false end
      out[#out + 1] = w
    end
  end
  table.sort(out, function(a, b) return a.token < b.token end)
  return out
end

-- The mock test case `name` for machine `sm`; or nil and a message.
local function test_case_for(self, sm, name)
  if not self.mocks then
    return nil, "test case '" .. tostring(name) .. "' needs a mock config (engine:use_mocks, " ..
      "--mock-config FILE, SFN_MOCK_CONFIG)"
  end
  return self.mocks:case_for(sm.name, json.decode(sm.text), name)
end

--- Starts an execution of a state machine with an input value (a decoded
-- JSON value). opts: name, on_done(exec), history, test_case (a test
-- case of the engine's mock config, for this machine's name). With a store, a
-- STANDARD execution is durable, and its name is unique: the same name
-- with the same input returns the existing execution, another input
-- returns nil, "ExecutionAlreadyExists". An input over the payload limit
-- is refused (nil, message, {code = "ValidationException"}), as AWS's
-- StartExecution refuses it; nothing is recorded then.
function Engine:start_execution(sm, input, opts)
  if getmetatable(sm) ~= StateMachine then
    error("start_execution: expected a state machine from create_state_machine", 2)
  end
  if input == nil then input = {} end
  if opts == nil then return lifecycle.start(self, sm, input, NO_OPTS) end
  if opts.test_case == nil then return lifecycle.start(self, sm, input, opts) end
  -- a mock test case: refused before anything starts when the mock config
  -- lacks it or names states the machine lacks
  local case, cerr = test_case_for(self, sm, opts.test_case)
  if not case then return nil, "ValidationException: " .. cerr, { code = "ValidationException" } end
  local exec, err, info = lifecycle.start(self, sm, input, opts)
  -- the frame runs on a later turn of the loop: the case is in time
  if exec and case then mocks.attach(exec, case) end
  return exec, err, info
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
function Engine:_machine_of(rec)
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
-- flight. An execution that cannot be resumed (its state machine's
-- definition is missing from the store, or no longer compiles) fails with
-- States.Runtime saying why, so that it never stops the next engine.
-- opts (optional): on_done(exec), called when each resumed execution
-- ends, as start_execution's. Returns the number of executions resumed
-- and the list of those that failed ({arn =, cause =}), or nil, message
-- when the store fails.
function Engine:recover(opts)
  local store = self.store
  if not store then error("recover: this engine has no store", 2) end
  if self.client then error("recover: a client engine runs no executions", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("recover: opts must be a table", 2) end
  local on_done = opts and opts.on_done
  -- a shared store: the engine's share, claimed under its lease
  if self.durability.shared then return self.durability.lease:start() end
  local count, failed = 0, {}
  local list, lerr = store:running({ events = true })
  if not list then return nil, lerr end
  for _, rec in ipairs(list) do
    if not self.executions[rec.arn] then
      local exec, err = self:_resume_record(rec, rec.events)
      if exec then
        if on_done then exec.on_done = on_done end
        count = count + 1
      else
        local cause = "stepflow could not resume this execution: " .. tostring(err)
        local done, serr = records.end_stored(self, rec.arn, "FAILED", errors.Runtime, cause)
        if not done then return nil, serr end
        failed[#failed + 1] = { arn = rec.arn, cause = cause }
      end
    end
  end
  -- answers other processes left for their tasks (stepflow send-task-success --store)
  require("stepflow.integrations.answers").load(self)
  return count, failed
end

--- Resumes one stored RUNNING execution from its record and events (see
-- recover). Returns the execution, or nil, message.
function Engine:_resume_record(rec, events)
  local sm, err = self:_machine_of(rec)
  if not sm then return nil, err end
  local ok, exec = pcall(lifecycle.resume, self, sm, rec, events)
  if not ok then return nil, "its recorded history cannot be read (" .. tostring(exec) .. ")" end
  return exec
end

--- Keeps the loop alive waiting for work that clients add to the store
-- (`stepflow resume --watch`), until the process is stopped.
function Engine:watch_store()
  local d = self.durability
  if not d then error("watch_store: this engine has no store", 2) end
  d.watch = true
  d:watch_requests()
end

--- Commits what is pending and closes the store (if any).
function Engine:close()
  if self.durability then
    self.durability:close()
    self.durability = false
    self.store = false
  end
end
Engine.__close = Engine.close

--- Stops an execution by ARN: one running here, or (when no engine runs
-- it) a RUNNING execution in the store. Returns true or nil, message.
function Engine:stop_execution(arn, err, cause)
  local exec = self.executions[arn]
  if exec then return exec:stop(err, cause) end
  -- a shared store: another engine may run it (true, "requested")
  if self.durability and self.durability.shared then
    return self.durability:stop_elsewhere(arn, err, cause)
  end
  local store = self.store
  local rec = store and store:get_execution(arn)
  if not rec then return nil, "ExecutionDoesNotExist: " .. tostring(arn) end
  if rec.status ~= "RUNNING" then return nil, "execution is not running (" .. rec.status .. ")" end
  local ok, cerr = records.end_stored(self, arn, "ABORTED", err, cause)
  if not ok then return nil, cerr end
  return true
end

--- Retires a state machine that is being deleted (AWS's
-- DeleteStateMachine): each of its executions that runs here ends
-- ABORTED at its next state transition (a Wait or a task that waits ends
-- it when it would move on). Creating a machine of that ARN again
-- (create_state_machine) lifts it.
function Engine:retire_state_machine(arn)
  if type(arn) ~= "string" then error("retire_state_machine: arn must be a string", 2) end
  self.retired[arn] = true
end

--- Drops a durable execution that this engine no longer owns (a shared
-- store gave it to another engine): it stops here at once, recording
-- nothing more (lifecycle.drop).
function Engine._drop_execution(_, exec)
  return lifecycle.drop(exec)
end

--- Runs the loop until no execution can make progress (and, while a
-- server listens, until it is closed).
function Engine:run()
  if self.client then error("run: a client engine runs no executions", 2) end
  return self.loop:run()
end

--- One turn of the loop for programs that drive it from their own loop:
-- runs what is ready, fires the timers that are due, and polls I/O
-- (server connections), waiting for I/O or the next timer at most
-- `timeout` seconds (0 or nil: never waits). Returns true while work
-- remains (ready callbacks, timers, open servers). Re-raises a callback's
-- error, as run() does.
function Engine:step(timeout)
  if self.client then error("step: a client engine runs no executions", 2) end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    error("step: timeout must be a number >= 0", 2)
  end
  local loop = self.loop
  if not timeout or timeout == 0 then return loop:step() end
  -- A timer bounds the wait: the turn blocks until it, or earlier I/O.
  local t = loop:timer(timeout * 1000, function() end)
  local ok, more = pcall(loop.step, loop, true)
  t:cancel()
  if not ok then error(more, 0) end
  return more
end

--- Serves the AWS Step Functions API over HTTP on this engine's loop
-- (see stepflow.server.new): returns the server, or nil, message.
function Engine:serve(opts)
  return require("stepflow.server").new(self, opts)
end

--- Creates a machine, runs one execution to its end and returns its result
-- table ({status, output} or {status, error, cause}), or nil, message.
function Engine:run_once(definition, input, opts)
  local sm, err, problems = self:create_state_machine(definition, opts)
  if not sm then return nil, err, problems end
  local exec, serr = self:start_execution(sm, input, opts)
  if not exec then return nil, serr end
  self:run()
  return exec:result(), exec
end

return M
