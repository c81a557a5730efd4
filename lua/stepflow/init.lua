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
local compile = require("stepflow.asl.compile")
local validate = require("stepflow.asl.validate")
local handlers = require("stepflow.handlers")

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
Execution.__index = Execution

--- Makes an engine. opts (all optional):
--   handlers      table name -> function(input, ctx)
--   virtual_time  boolean: the clock jumps to the next timer when idle
--   region, account   for ARNs (defaults us-east-1, 123456789012)
--   payload_limit bytes (default 262144; false disables the check)
--   history       boolean: keep every execution's history events in memory
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("stepflow.new: opts must be a table", 2) end
  local self = setmetatable({
    loop = core.loop({ virtual_time = opts.virtual_time and true or false }),
    handlers = {},
    tokens = {},
    region = opts.region or "us-east-1",
    account = opts.account or "123456789012",
    payload_limit = opts.payload_limit == nil and 262144 or opts.payload_limit,
    keep_history = opts.history and true or false,
    machines = {},
    executions = {},
    random = math.random,
  }, Engine)
  self.scheduler = execution.new_scheduler(self.loop)
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
  return self
end

--- Loads a handlers file (a Lua chunk returning name -> function) and
-- registers its handlers. Returns true or nil, message.
function Engine:load_handlers(path)
  local t, err = handlers.load_file(path)
  if not t then return nil, err end
  for name, fn in pairs(t) do self.handlers[name] = fn end
  return true
end

--- Validates and compiles a definition (JSON text or a decoded table).
-- opts: name, type ("STANDARD" | "EXPRESS"), role_arn.
-- Returns a state machine, or nil, message, problems.
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
  local problems = validate.check(def)
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
  setmetatable(machine, StateMachine)
  self.machines[machine.arn] = machine
  return machine
end

local function hex(n) return string.format("%0" .. n .. "x", math.random(0, 16 ^ n - 1)) end

--- A random version 4 UUID.
function Engine:uuid()
  local r = math.random
  return string.format("%s-%s-4%s-%x%s-%s%s", hex(8), hex(4), hex(3), 8 + r(0, 3), hex(3),
    hex(6), hex(6))
end

--- Runs fn after ms milliseconds for an execution's frame; the timer is
-- cancelled if the execution ends first. Returns the timer.
function Engine:after(ms, frame, fn)
  local exec = frame.exec
  local timers = exec.timers
  local t
  t = self.loop:timer(ms < 0 and 0 or ms, function()
    timers[t] = nil
    if exec.finished then return end
    fn()
  end)
  timers[t] = true
  return t
end

--- Cancels a timer made by `after`.
function Engine:cancel(t)
  t:cancel()
end

--- Hook for durable executions: runs fn once the events so far are
-- committed. In-memory executions are durable at once.
function Engine:when_durable(_, fn)
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
  for t in pairs(exec.timers) do t:cancel() end
  exec.timers = {}
  if status == "SUCCEEDED" then
    exec.output = output
    execution.event(exec, nil, "ExecutionSucceeded", exec.sink and { output = output })
  else
    if err then exec.error, exec.cause = err.Error, err.Cause end
    local etype = status == "FAILED" and "ExecutionFailed"
      or status == "TIMED_OUT" and "ExecutionTimedOut" or "ExecutionAborted"
    execution.event(exec, nil, etype, exec.sink and { error = exec.error, cause = exec.cause })
  end
  if exec.on_done then exec.on_done(exec) end
end

--- Starts an execution of a state machine with an input value (a decoded
-- JSON value). opts: name. Returns the execution.
function Engine:start_execution(sm, input, opts)
  if getmetatable(sm) ~= StateMachine then
    error("start_execution: expected a state machine from create_state_machine", 2)
  end
  opts = opts or {}
  if input == nil then input = {} end
  local name = opts.name or self:uuid()
  local kind = sm.type == "EXPRESS" and ":express:" or ":execution:"
  local exec = setmetatable({
    engine = self, machine = sm, name = name, input = input,
    arn = "arn:aws:states:" .. self.region .. ":" .. self.account .. kind .. sm.name .. ":" .. name,
    role_arn = sm.role_arn, status = "RUNNING", start_ms = self.loop:now(),
    event_id = 0, transitions = 0, timers = {}, on_done = opts.on_done,
  }, Execution)
  if opts.history or self.keep_history then
    exec.history = {}
    exec.sink = function(e, ev) e.history[#e.history + 1] = ev end
  end
  execution.event(exec, nil, "ExecutionStarted", exec.sink and {
    input = input, roleArn = exec.role_arn, stateMachineArn = sm.arn,
  })
  local limit = self.payload_limit
  if limit and #json.encode(input) > limit then
    end_execution(exec, "FAILED", nil, errors.new(errors.DataLimitExceeded,
      "The execution input exceeds the maximum number of bytes service limit."))
    return exec
  end
  local root = execution.new_frame(exec, sm.program, input, {}, function(_, ok, value)
    if ok then
      if limit and #json.encode(value) > limit then
        return end_execution(exec, "FAILED", nil, errors.new(errors.DataLimitExceeded,
          "The execution output exceeds the maximum number of bytes service limit."))
      end
      end_execution(exec, "SUCCEEDED", value)
    else
      end_execution(exec, "FAILED", nil, value)
    end
  end)
  exec.root = root
  if sm.timeout_seconds then
    self:after(sm.timeout_seconds * 1000, root, function()
      end_execution(exec, "TIMED_OUT", nil, errors.new(errors.Timeout))
    end)
  end
  self.scheduler:push(root)
  return exec
end

--- Stops a running execution: ABORTED with an optional error and cause.
function Execution:stop(err, cause)
  if self.finished then return nil, "execution is not running (" .. self.status .. ")" end
  local e = errors.new(err or "", cause)
  if err == nil then e.Error = nil end
  end_execution(self, "ABORTED", nil, e)
  return true
end

--- The execution's result as the command line prints it with --json.
function Execution:result()
  if self.status == "SUCCEEDED" then return { status = self.status, output = self.output } end
  return { status = self.status, error = self.error, cause = self.cause }
end

--- Runs the loop until no execution can make progress.
function Engine:run()
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
