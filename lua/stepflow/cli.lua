--- The command line: `stepflow run`, `start`, `resume`, `validate`, the
-- commands that read and stop a store's executions (stepflow.cli.inspect)
-- and `graph` (stepflow.cli.graph). main(argv) returns the exit status:
-- 0 done, 1 a failed execution or an operation that failed (a store that
-- cannot be opened or written), 2 a bad invocation, input or definition,
-- 3 a bug (with its traceback, to report).
local json = require("stepflow.json")
local common = require("stepflow.cli.common")
local needs = require("stepflow.cli.needs")

local say, usage_error = common.say, common.usage_error

local M = {}

local USAGE = [[
usage: stepflow <command> [options]

commands:
  run DEFINITION [--input JSON|@FILE] [--handlers FILE]... [--json]
                 [--virtual-time] [--name NAME] [--type STANDARD|EXPRESS]
                 [--history] [--s3-dir DIR]
      Runs one execution and waits for its end. Prints the output JSON and
      exits 0 on SUCCEEDED; prints error and cause on stderr and exits 1
      otherwise. --json prints one line: {"status":..., "output":...} or
      {"status":..., "error":..., "cause":...}. --virtual-time makes Wait
      states and retry intervals cost no real time. --history also prints
      the execution's history events (with --json, as a "history" member
      in AWS's GetExecutionHistory shape: {"events": [...]}). --s3-dir DIR
      stands for Amazon S3: s3://bucket/key is DIR/bucket/key (Distributed
      Map ItemReader and ResultWriter, the aws-sdk:s3 Task integrations). On a
      terminal, a progress line on stderr shows the states done, Map
      items done of total and the time so far (not with --json).
  run DEFINITION ... [--mock-config FILE --test-case NAME] [--machine-name NAME]
                 [--machine FILE]... [--connections FILE]
      --mock-config FILE (or the SFN_MOCK_CONFIG variable) reads a mock
      config in Step Functions Local's MockConfigFile format; --test-case
      NAME runs the execution with that test case of the state machine
      (named after DEFINITION's file, or --machine-name). --machine FILE
      creates another state machine (named after its file) that Tasks may
      start (states:startExecution). --connections FILE names the HTTP
      Task's connections (see docs/INTEGRATIONS.md).
  run DEFINITION --store FILE [--allow-missing-handlers] ...
      A durable execution: its history is committed to FILE as it runs,
      and every other open execution in FILE resumes too (see resume).
  start DEFINITION --store FILE [--name NAME] [--input JSON|@FILE]
      Records a new durable STANDARD execution and exits without running
      it (an engine running FILE with resume picks it up).
  resume --store FILE [--handlers FILE]... [--virtual-time] [--watch] [--s3-dir DIR]
         [--allow-missing-handlers] [--connections FILE]
      Continues every open execution in FILE, and those that start adds
      meanwhile; exits when none can go on (with --watch: keeps waiting
      for new ones until killed). Refuses to start (exit 2) when open
      executions need handlers that no --handlers file provides, since
      their Tasks would fail for good; --allow-missing-handlers resumes
      them anyway.
  executions --store FILE [--status STATUS] [--json]
      Lists executions (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
  describe EXECUTION --store FILE [--json]
      Shows an execution as AWS's DescribeExecution does (EXECUTION is an
      ARN or a name).
  history EXECUTION --store FILE [--json]
      Prints an execution's history events (one line each: id, time,
      type); --json prints them as AWS's GetExecutionHistory returns
      them: one JSON document {"events": [...]}.
  stop EXECUTION --store FILE [--error E] [--cause C]
      Stops an execution: ABORTED with an optional error and cause. While
      another engine runs FILE, asks it and waits up to 10 s for it.
  send-task-success TOKEN --output JSON|@FILE (--endpoint URL | --store FILE)
  send-task-failure TOKEN [--error E] [--cause C] (--endpoint URL | --store FILE)
  send-task-heartbeat TOKEN (--endpoint URL | --store FILE)
      Answers a task that waits for its token (an activity task, a
      .waitForTaskToken callback, a .sync job). --endpoint: through a
      running server (stepflow serve). --store: the answer is recorded in
      FILE, for the engine that runs it (taken within a second) or for
      the next `stepflow resume --store FILE`.
  start STATE_MACHINE --endpoint URL [--input JSON|@FILE] [--name NAME]
  describe EXECUTION_ARN --endpoint URL [--json]
  stop EXECUTION_ARN --endpoint URL [--error E] [--cause C]
      The same through a running server (STATE_MACHINE: an ARN or a
      name). Requests are signed (SigV4) when AWS_ACCESS_KEY_ID and
      AWS_SECRET_ACCESS_KEY are set.
  serve [--host 127.0.0.1] [--port 8083] [--store FILE] [--handlers FILE]...
        [--region R] [--account A] [--credentials FILE] [--mock-config FILE]
        [--connections FILE] [--poll-timeout SECONDS] [--allow-missing-handlers]
      Serves the AWS Step Functions API over HTTP (AWS CLI and SDKs with
      --endpoint-url http://127.0.0.1:8083) until SIGINT or SIGTERM. With
      --store, state machines, activities and executions survive a restart
      and RUNNING executions resume (refused, as with resume, when their
      Tasks need handlers that are not loaded); without it everything is
      in memory.
      --credentials FILE (lines "ACCESS_KEY_ID SECRET", or the AWS CLI's
      credentials file) turns on SigV4 verification. --mock-config FILE
      (or SFN_MOCK_CONFIG): StartExecution on ARN#TestCase runs that test
      case. --connections FILE: the HTTP Task's connections.
      --poll-timeout: how long GetActivityTask waits (default 60 s).
  validate DEFINITION [--json]
      Checks a definition as AWS does; lists every problem with its
      location and exits 2 if there is any, 0 otherwise.
  graph [DEFINITION] [--format svg|dot] [-o FILE] [--execution NAME --store FILE]
      Draws the state machine: SVG (the default) or Graphviz DOT, on
      standard output or into FILE. With --execution (an ARN or a name)
      each state is coloured by how that execution went; DEFINITION may
      then be left out to draw the definition the execution ran.
  help
      Shows this text.

A handlers file is a Lua chunk returning a table from handler name to
function(input, ctx); Task Resources name handlers (a Lambda function ARN
also by its function name). executions, describe and history only read
FILE: they work on a store the user may only read. Exit status 1: a failed
execution or a failed operation; 2: a bad invocation, input or
definition; 3: a bug (please report it with the traceback).
]]

local function machine_name(path)
  return ((path:match("([^/]+)$") or "StateMachine"):gsub("%.asl%.json$", ""):gsub("%.json$", ""))
end

local function print_problems(problems)
  for _, p in ipairs(problems) do
    io.stderr:write("  " .. (p.path == "" and "/" or p.path) .. ": " .. p.message .. "\n")
  end
end

-- Loads the --handlers files into one table name -> function, or returns
-- nil after saying why.
local function load_handlers(files)
  local registry = {}
  for _, path in ipairs(files or {}) do
    local t, err = require("stepflow.handlers").load_file(path)
    if not t then
      say(err)
      return nil
    end
    for name, fn in pairs(t) do registry[name] = fn end
  end
  return registry
end

-- Opens the store and makes the engine of run, start and resume. Returns
-- the engine and its store (nil without --store), or nil and an exit
-- status after saying why. A store another engine runs is opened as a
-- client when `client_if_locked` (start: that engine runs the execution).
local function make_engine(opts, registry, client_if_locked)
  local stepflow = require("stepflow")
  local s
  if opts.store then
    local info
    s, info = common.open_store(opts.store, client_if_locked)
    if not s then
      if not (client_if_locked and info.kind == "locked") then return nil, 1 end
      local engine, err = stepflow.new({ store = opts.store, client = true })
      if not engine then
        say(err)
        return nil, 1
      end
      return engine, engine.store
    end
    if opts.resumes then
      local code = needs.refuse(s, registry, opts.store, opts["allow-missing-handlers"])
      if code then
        s:close()
        return nil, code
      end
    end
  end
  local engine, eerr, einfo = stepflow.new({ virtual_time = opts["virtual-time"], store = s,
    handlers = registry, s3_dir = opts["s3-dir"], accept_new = opts.accept_new, history = opts.history,
    mocks = opts.mocks, connections = opts.connections })
  if not engine then
    if s then s:close() end
    if einfo and (einfo.kind == "mocks" or einfo.kind == "connections") then
      -- a mock config or connections file with a mistake: a bad input
      say(eerr)
      return nil, 2
    end
    return nil, usage_error("--s3-dir: " .. tostring(eerr))
  end
  return engine, s
end

local RUN_OPTIONS = {
  input = "value", handlers = "list", json = "flag", ["virtual-time"] = "flag",
  name = "value", type = "value", store = "value", ["allow-missing-handlers"] = "flag",
  history = "flag", ["s3-dir"] = "value", ["mock-config"] = "value", ["test-case"] = "value",
  ["machine-name"] = "value", machine = "list", connections = "value",
}

-- Creates the state machines of --machine FILE options (named after
-- their files). Returns true, or nil after saying why.
local function create_machines(engine, files, type_)
  for _, path in ipairs(files or {}) do
    local text, err = common.read_definition(path)
    if not text then
      say(err)
      return nil
    end
    local sm, msg, problems = engine:create_state_machine(text, { name = machine_name(path), type = type_ })
    if not sm then
      io.stderr:write("stepflow: invalid definition " .. path .. ":\n")
      print_problems(problems or { { path = "", message = msg } })
      return nil
    end
  end
  return true
end

-- run and start: one execution of a definition.
local function run_or_start(argv, start_only)
  local pos, opts = common.parse_args(argv, 2, RUN_OPTIONS)
  if not pos then return usage_error(opts) end
  if #pos ~= 1 then return usage_error(argv[1] .. " needs exactly one DEFINITION file") end
  if start_only and not opts.store then return usage_error("start needs --store FILE") end
  if opts.type and opts.type ~= "STANDARD" and opts.type ~= "EXPRESS" then
    return usage_error("--type must be STANDARD or EXPRESS")
  end
  if start_only and opts.type == "EXPRESS" then
    return usage_error("start records a durable execution, and EXPRESS executions are not durable "
      .. "(run one with: stepflow run DEFINITION --type EXPRESS)")
  end
  if opts.name then
    local problem = common.name_problem(opts.name)
    if problem then return usage_error(problem) end
  end
  local text, err = common.read_definition(pos[1])
  if not text then return usage_error(err) end
  local input
  input, err = common.decode_input(opts.input)
  if input == nil then return usage_error(err) end
  local registry = load_handlers(opts.handlers)
  if not registry then return 2 end
  opts.resumes = not start_only
  -- Step Functions Local reads its mock config from SFN_MOCK_CONFIG
  opts.mocks = opts["mock-config"] or os.getenv("SFN_MOCK_CONFIG")
  if opts.mocks == "" then opts.mocks = nil end
  if start_only and opts["test-case"] then
    return usage_error("--test-case runs an execution here (stepflow run): mocks are not kept in a store")
  end
  if opts["test-case"] and not opts.mocks then
    return usage_error("--test-case needs a mock config (--mock-config FILE or SFN_MOCK_CONFIG)")
  end
  local engine, s = make_engine(opts, registry, start_only)
  if not engine then return s end
  if not create_machines(engine, opts.machine, opts.type) then
    pcall(engine.close, engine)
    return 2
  end
  local sm, msg, problems = engine:create_state_machine(text, { name = opts["machine-name"] or machine_name(pos[1]),
    type = opts.type })
  if not sm then
    pcall(engine.close, engine)
    if problems then
      io.stderr:write("stepflow: invalid definition " .. pos[1] .. ":\n")
      print_problems(problems)
      return 2
    end
    say(msg)  -- the store refused to record it
    return 1
  end
  if not start_only then
    -- start runs nothing, so only run warns about its own Tasks
    for _, m in ipairs(engine:unresolved_resources(sm, opts["test-case"])) do
      say("warning: no handler for Resource '", m.resource, "' (state ", m.state, "): ", m.message)
    end
  end
  if s and not start_only and not engine.client then
    local n, rerr = engine:recover()
    if not n then
      pcall(engine.close, engine)
      say(rerr)
      return 1
    end
  end
  -- the progress line on a terminal reads the history; it ends with the
  -- execution, so that its timer does not hold the loop
  local progress = not start_only and require("stepflow.progress")
  local show = progress and progress.wanted(opts.json)
  local line
  local exec, serr, sinfo = engine:start_execution(sm, input, { name = opts.name, defer = start_only,
    history = show or nil, on_done = show and function() if line then line:finish() end end or nil,
    test_case = opts["test-case"] })
  if not exec then
    pcall(engine.close, engine)
    say(serr)
    -- a test case the mock config lacks (or mocks unknown states): bad input
    return (opts["test-case"] and sinfo and sinfo.code == "ValidationException") and 2 or 1
  end
  if start_only then
    local client = engine.client
    local ok, cerr = pcall(engine.close, engine)  -- commits the record
    if not ok then
      local failure = s:last_failure()
      if not failure then error(cerr, 0) end
      pcall(s.close, s)
      say(failure.message)
      say("the execution was not recorded")
      return 1
    end
    io.stdout:write(exec.arn, "\n")
    if client then
      say("recorded for the engine that runs ", opts.store, " (it runs it if started with resume)")
    end
    return 0
  end
  -- the history, read before the engine closes its store
  local events
  line = show and progress.start(engine, exec)
  local ran = common.run_engine(engine, s, opts.store, opts.history and function()
    events = engine:history(exec.arn)
  end)
  if line then line:finish() end
  if not ran then return 1 end
  local result = exec:result()
  -- an execution still RUNNING waits for task tokens: which, and how to
  -- answer them
  local waiting = result.status == "RUNNING" and engine:waiting_tasks(exec.arn) or nil
  if opts.json then
    if events then result.history = { events = events } end
    if waiting then result.waiting = json.array(waiting) end
    io.stdout:write(json.encode(result), "\n")
  elseif result.status == "SUCCEEDED" then
    io.stdout:write(json.encode(result.output, { pretty = true }), "\n")
  else
    io.stderr:write(result.status, "\n")
    if result.error then io.stderr:write("error: ", result.error, "\n") end
    if result.cause then io.stderr:write("cause: ", result.cause, "\n") end
    if waiting then require("stepflow.cli.tasks").report_waiting(waiting, opts.store) end
  end
  if events and not opts.json then
    io.stdout:write("history:\n")
    require("stepflow.cli.inspect").print_events(events)
  end
  return result.status == "SUCCEEDED" and 0 or 1
end

function M.run(argv) return run_or_start(argv, false) end
function M.start(argv) return run_or_start(argv, true) end

function M.resume(argv)
  local pos, opts = common.parse_args(argv, 2, { store = "value", handlers = "list", ["virtual-time"] = "flag",
    watch = "flag", ["allow-missing-handlers"] = "flag", ["s3-dir"] = "value", connections = "value" })
  if not pos then return usage_error(opts) end
  if #pos ~= 0 or not opts.store then
    return usage_error("usage: stepflow resume --store FILE [--handlers FILE]... [--watch]")
  end
  if opts.watch and opts["virtual-time"] then return usage_error("--watch runs in real time") end
  local registry = load_handlers(opts.handlers)
  if not registry then return 2 end
  -- executions that `stepflow start` adds meanwhile are run too
  opts.accept_new, opts.resumes = true, true
  local engine, s = make_engine(opts, registry, false)
  if not engine then return s end
  local n, err = engine:recover()
  if not n then
    pcall(engine.close, engine)
    say(err)
    return 1
  end
  if opts.watch then
    engine:watch_store()
  end
  if not common.run_engine(engine, s, opts.store) then return 1 end
  local r = require("stepflow.store").open(opts.store, { read_only = true })
  local still = r and #(r:list_executions({ status = "RUNNING" }) or {}) or 0
  if r then r:close() end
  say("resumed ", n, " execution(s)", still > 0 and ("; " .. still .. " still waiting (task tokens)") or "")
  return 0
end

function M.validate(argv)
  local pos, opts = common.parse_args(argv, 2, { json = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 then return usage_error("validate needs exactly one DEFINITION file") end
  local text, err = common.read_definition(pos[1])
  if not text then return usage_error(err) end
  local ok, def = pcall(json.decode, text)
  local problems
  if not ok then
    problems = { { path = "", message = "not valid JSON: " .. tostring(def) } }
  elseif type(def) ~= "table" or json.is_array(def) then
    problems = { { path = "", message = "a definition must be a JSON object" } }
  else
    problems = require("stepflow.asl.validate").check(def)
  end
  if opts.json then
    io.stdout:write(json.encode({ result = #problems == 0 and "OK" or "FAIL",
      diagnostics = json.array(problems) }), "\n")
  elseif #problems == 0 then
    io.stdout:write(pos[1], ": valid\n")
  else
    io.stderr:write(pos[1] .. ": " .. #problems .. " problem(s):\n")
    print_problems(problems)
  end
  return #problems == 0 and 0 or 2
end

local inspect = require("stepflow.cli.inspect")

-- start, describe and stop reach a running server with --endpoint URL,
-- else the store.
local function store_or_endpoint(on_store, name)
  return function(argv)
    if require("stepflow.cli.remote").wanted(argv) then return require("stepflow.cli.remote")[name](argv) end
    return on_store(argv)
  end
end

local function send_task(kind)
  return function(argv) return require("stepflow.cli.tasks").send(argv, kind) end
end

local COMMANDS = {
  run = M.run, start = store_or_endpoint(M.start, "start"), resume = M.resume, validate = M.validate,
  executions = inspect.executions, describe = store_or_endpoint(inspect.describe, "describe"),
  history = inspect.history, stop = store_or_endpoint(inspect.stop, "stop"),
  ["send-task-success"] = send_task("success"), ["send-task-failure"] = send_task("failure"),
  ["send-task-heartbeat"] = send_task("heartbeat"),
  graph = function(argv) return require("stepflow.cli.graph").main(argv) end,
  serve = function(argv) return require("stepflow.cli.serve").serve(argv) end,
}

--- Runs the command line `argv` (arg); returns the exit status.
function M.main(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "help" or cmd == "--help" or cmd == "-h" then
    io.stdout:write(USAGE)
    return cmd == nil and 2 or 0
  end
  for i = 2, #argv do
    if argv[i] == "--help" or argv[i] == "-h" then
      io.stdout:write(USAGE)
      return 0
    end
  end
  local fn = COMMANDS[cmd]
  if not fn then return usage_error("unknown command '" .. cmd .. "'") end
  local ok, status = xpcall(fn, debug.traceback, argv)
  if not ok then
    io.stderr:write("stepflow: internal error: ", tostring(status), "\n")
    return 3
  end
  -- output that could not be written (a full disk, a closed pipe) is a
  -- failure, not a silent success
  local wok, werr = io.stdout:flush()
  if not wok then
    say("cannot write the output: ", tostring(werr))
    return status == 0 and 1 or status
  end
  return status
end

return M
