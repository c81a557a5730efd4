--- The command line: `stepflow run`, `stepflow validate` and the commands
-- of durable executions. main(argv) returns the exit status.
local json = require("stepflow.json")

local M = {}

local USAGE = [[
usage: stepflow <command> [options]

commands:
  run DEFINITION [--input JSON|@FILE] [--handlers FILE]... [--json]
                 [--virtual-time] [--name NAME] [--type STANDARD|EXPRESS]
      Runs one execution and waits for its end. Prints the output JSON and
      exits 0 on SUCCEEDED; prints error and cause on stderr and exits 1
      otherwise. --json prints one line: {"status":..., "output":...} or
      {"status":..., "error":..., "cause":...}. --virtual-time makes Wait
      states and retry intervals cost no real time.
  run DEFINITION --store FILE [--name NAME] [--type STANDARD|EXPRESS] ...
      A durable execution: its history is committed to FILE as it runs,
      and every other open execution in FILE resumes too.
  start DEFINITION --store FILE [--name NAME] [--input JSON|@FILE]
      Records a new durable execution and exits without running it (an
      engine running FILE with resume picks it up).
  resume --store FILE [--handlers FILE]... [--virtual-time] [--watch]
      Continues every open execution in FILE, and those that start adds
      meanwhile; exits when none can go on (with --watch: keeps waiting
      for new ones until killed).
  executions --store FILE [--status STATUS] [--json]
      Lists executions (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
  history EXECUTION --store FILE [--json]
      Prints an execution's history events as AWS returns them
      (EXECUTION is an ARN or a name).
  stop EXECUTION --store FILE [--error E] [--cause C]
      Stops an execution: ABORTED with an optional error and cause. While
      another engine runs FILE, asks it and waits up to 10 s for it.
  validate DEFINITION [--json]
      Checks a definition as AWS does; lists every problem with its
      location and exits 2 if there is any, 0 otherwise.
  help
      Shows this text.

A handlers file is a Lua chunk returning a table from handler name to
function(input, ctx); Task Resources name handlers (a Lambda function ARN
also by its function name). Exit status 2: a bad invocation or an invalid
definition.
]]

local function read_file(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text = fh:read("a")
  fh:close()
  return text
end

-- Parses argv into positional arguments and options. `spec` maps option
-- names to "flag", "value" or "list".
local function parse_args(argv, first, spec)
  local pos, opts = {}, {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    local name = a:match("^%-%-([%w%-]+)$")
    if name then
      local kind = spec[name]
      if not kind then return nil, "unknown option --" .. name end
      if kind == "flag" then
        opts[name] = true
      else
        i = i + 1
        if argv[i] == nil then return nil, "option --" .. name .. " needs a value" end
        if kind == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], argv[i])
        else
          opts[name] = argv[i]
        end
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, opts
end

local function fail_usage(msg)
  io.stderr:write("stepflow: " .. msg .. "\n(run 'stepflow help' for usage)\n")
  return 2
end

local function load_definition(path)
  local text, err = read_file(path)
  if not text then return nil, "cannot read definition: " .. err end
  return text
end

local function decode_input(spec)
  if spec == nil then return {} end
  local text = spec
  if spec:sub(1, 1) == "@" then
    local err
    text, err = read_file(spec:sub(2))
    if not text then return nil, "cannot read input: " .. err end
  end
  local ok, v = pcall(json.decode, text)
  if not ok then return nil, "input is not valid JSON: " .. tostring(v) end
  return v
end

local function print_problems(problems)
  for _, p in ipairs(problems) do
    io.stderr:write("  " .. (p.path == "" and "/" or p.path) .. ": " .. p.message .. "\n")
  end
end

local function machine_name(path)
  return ((path:match("([^/]+)$") or "StateMachine"):gsub("%.asl%.json$", ""):gsub("%.json$", ""))
end

-- Makes an engine, with a store when --store is given. Returns the engine
-- or nil after printing why.
local function open_engine(opts)
  local stepflow = require("stepflow")
  local engine, err = stepflow.new({ virtual_time = opts["virtual-time"], store = opts.store,
    accept_new = opts.accept_new })
  if not engine and opts.client_if_locked and tostring(err):find("locked by process", 1, true) then
    -- another engine runs the store: record the execution for it
    engine, err = stepflow.new({ store = opts.store, client = true })
  end
  if not engine then
    io.stderr:write("stepflow: ", tostring(err), "\n")
    return nil
  end
  for _, h in ipairs(opts.handlers or {}) do
    local ok, herr = engine:load_handlers(h)
    if not ok then
      io.stderr:write("stepflow: ", herr, "\n")
      engine:close()
      return nil, 2
    end
  end
  return engine
end

local function print_result(result, as_json)
  if as_json then
    io.stdout:write(json.encode(result), "\n")
  elseif result.status == "SUCCEEDED" then
    io.stdout:write(json.encode(result.output, { pretty = true }), "\n")
  else
    io.stderr:write(result.status, "\n")
    if result.error then io.stderr:write("error: ", result.error, "\n") end
    if result.cause then io.stderr:write("cause: ", result.cause, "\n") end
  end
  return result.status == "SUCCEEDED" and 0 or 1
end

-- Names the Task resources that no loaded handler serves, before running,
-- so a missing --handlers file is obvious (the task would fail with
-- States.TaskFailed or Lambda.ResourceNotFoundException).
local function warn_missing_handlers(engine, sm)
  local handlers = require("stepflow.handlers")
  local seen = {}
  local function walk(program)
    for name, st in pairs(program.states) do
      local info = st.resource_info
      if info and info.kind ~= "lambda_invoke" and not seen[name] then
        local fn = handlers.find(engine.handlers, st.resource, info, nil)
        if not fn then
          seen[name] = true
          io.stderr:write("stepflow: warning: no handler for Resource '", st.resource,
            "' (state ", name, "); load one with --handlers FILE\n")
        end
      end
      for _, sub in ipairs(st.programs or {}) do walk(sub) end
    end
  end
  walk(sm.program)
end

local RUN_OPTIONS = {
  input = "value", handlers = "list", json = "flag", ["virtual-time"] = "flag",
  name = "value", type = "value", store = "value",
}

-- run and start: one execution of a definition.
local function run_or_start(argv, start_only)
  local pos, opts = parse_args(argv, 2, RUN_OPTIONS)
  if not pos then return fail_usage(opts) end
  if #pos ~= 1 then return fail_usage(argv[1] .. " needs exactly one DEFINITION file") end
  if start_only and not opts.store then return fail_usage("start needs --store FILE") end
  if opts.type and opts.type ~= "STANDARD" and opts.type ~= "EXPRESS" then
    return fail_usage("--type must be STANDARD or EXPRESS")
  end
  local text, err = load_definition(pos[1])
  if not text then return fail_usage(err) end
  local input
  input, err = decode_input(opts.input)
  if input == nil then return fail_usage(err) end
  opts.client_if_locked = start_only
  local engine, code = open_engine(opts)
  if not engine then return code or 1 end
  local sm, msg, problems = engine:create_state_machine(text, { name = machine_name(pos[1]), type = opts.type })
  if not sm then
    engine:close()
    io.stderr:write("stepflow: invalid definition " .. pos[1] .. ":\n")
    print_problems(problems or { { path = "", message = msg } })
    return 2
  end
  -- start runs nothing, so only run warns about handlers.
  if not start_only then warn_missing_handlers(engine, sm) end
  if engine.store and not start_only then
    local ok, rerr = engine:recover()
    if not ok then
      engine:close()
      io.stderr:write("stepflow: ", rerr, "\n")
      return 1
    end
  end
  local exec, serr = engine:start_execution(sm, input, { name = opts.name, defer = start_only })
  if not exec then
    engine:close()
    io.stderr:write("stepflow: ", serr, "\n")
    return 1
  end
  if start_only then
    local client = engine.client
    local ok, cerr = pcall(engine.close, engine)  -- commits the record
    if not ok then
      io.stderr:write(tostring(cerr), "\n")
      return 1
    end
    io.stdout:write(exec.arn, "\n")
    if client then
      io.stderr:write("stepflow: recorded for the engine that runs ", opts.store,
        " (it runs it if started with resume)\n")
    end
    return 0
  end
  local ok, rerr = pcall(engine.run, engine)
  engine:close()
  if not ok then error(rerr, 0) end
  return print_result(exec:result(), opts.json)
end

function M.run(argv) return run_or_start(argv, false) end
function M.start(argv) return run_or_start(argv, true) end

function M.resume(argv)
  local pos, opts = parse_args(argv, 2, { store = "value", handlers = "list", ["virtual-time"] = "flag",
    watch = "flag" })
  if not pos then return fail_usage(opts) end
  if #pos ~= 0 or not opts.store then
    return fail_usage("usage: stepflow resume --store FILE [--handlers FILE]... [--watch]")
  end
  if opts.watch and opts["virtual-time"] then return fail_usage("--watch runs in real time") end
  -- executions that `stepflow start` adds meanwhile are run too
  opts.accept_new = true
  local engine, code = open_engine(opts)
  if not engine then return code or 1 end
  local n, err = engine:recover()
  if not n then
    engine:close()
    io.stderr:write("stepflow: ", err, "\n")
    return 1
  end
  if opts.watch then
    engine:watch_store()
  end
  local ok, rerr = pcall(engine.run, engine)
  local still = 0
  for _, e in pairs(engine.executions) do
    if e.status == "RUNNING" then still = still + 1 end
  end
  engine:close()
  if not ok then error(rerr, 0) end
  io.stderr:write("stepflow: resumed ", n, " execution(s)",
    still > 0 and ("; " .. still .. " still waiting (task tokens)") or "", "\n")
  return 0
end

-- Opens a store for reading (it may be in use by a running engine). A
-- store of an older version is upgraded first: that needs a writable open,
-- which a running engine would have done already.
local function read_store(path)
  local store = require("stepflow.store")
  local s, err = store.open(path, { read_only = true })
  if not s and tostring(err):find("needs an upgrade", 1, true) then
    local w
    w, err = store.open(path)
    if w then
      w:close()
      io.stderr:write("stepflow: upgraded ", path, " to store version ", store.VERSION, "\n")
      s, err = store.open(path, { read_only = true })
    end
  end
  if not s then io.stderr:write("stepflow: ", tostring(err), "\n") end
  return s
end

local function find_execution(s, which)
  local rec = s:get_execution(which)
  if rec then return rec end
  for _, r in ipairs(s:list_executions({})) do
    if r.name == which then return r end
  end
  return nil
end

local function iso(ms) return ms and require("stepflow.asl.timestamp").format(ms) or nil end

function M.executions(argv)
  local pos, opts = parse_args(argv, 2, { store = "value", status = "value", json = "flag" })
  if not pos then return fail_usage(opts) end
  if not opts.store then return fail_usage("executions needs --store FILE") end
  local s = read_store(opts.store)
  if not s then return 1 end
  local list = s:list_executions({ status = opts.status })
  for _, r in ipairs(list) do
    if opts.json then
      io.stdout:write(json.encode({ executionArn = r.arn, stateMachineArn = r.sm_arn, name = r.name,
        status = r.status, startDate = iso(r.started), stopDate = iso(r.stopped),
        output = r.output and json.decode(r.output), error = r.error, cause = r.cause }), "\n")
    else
      io.stdout:write(string.format("%-10s %s  %s\n", r.status, iso(r.started), r.arn))
    end
  end
  s:close()
  return 0
end

function M.history(argv)
  local pos, opts = parse_args(argv, 2, { store = "value", json = "flag" })
  if not pos then return fail_usage(opts) end
  if #pos ~= 1 or not opts.store then return fail_usage("usage: stepflow history EXECUTION --store FILE [--json]") end
  local s = read_store(opts.store)
  if not s then return 1 end
  local rec = find_execution(s, pos[1])
  if not rec then
    s:close()
    io.stderr:write("stepflow: ExecutionDoesNotExist: ", pos[1], "\n")
    return 1
  end
  local history = require("stepflow.history")
  local durable = require("stepflow.durable")
  for _, e in ipairs(s:history(rec.arn)) do
    local d = durable.decode_event(e)
    local ev = history.to_aws({ id = d.id, previousEventId = d.previousEventId,
      timestamp = d.timestamp, type = d.type, details = d.d })
    if opts.json then
      io.stdout:write(json.encode(ev), "\n")
    else
      io.stdout:write(string.format("%4d %s %s\n", ev.id, ev.timestamp, ev.type))
    end
  end
  s:close()
  return 0
end

-- How long `stepflow stop` waits for a running engine to act on its
-- request (the engine reads requests every 250 ms while it has work).
local STOP_WAIT_S = 10

-- Stops an execution that another engine process runs: leaves a stop
-- request in the store, then waits for the engine to abort it.
local function request_stop(path, which, opts, locked_msg)
  local store = require("stepflow.store")
  local s = read_store(path)
  if not s then return 1 end
  local rec = find_execution(s, which)
  s:close()
  if not rec then
    io.stderr:write("stepflow: ExecutionDoesNotExist: ", which, "\n")
    return 1
  end
  if rec.status ~= "RUNNING" then
    io.stderr:write("stepflow: execution is not running (", rec.status, ")\n")
    return 1
  end
  local ok, err = store.request_stop(path, rec.arn, opts.error, opts.cause)
  if not ok then
    io.stderr:write("stepflow: ", tostring(err), "\n")
    return 1
  end
  local pid = locked_msg:match("locked by process (%d+)") or "?"
  -- Polls the execution's status on a real-time loop until it ends or the
  -- wait is over.
  local loop = require("stepflow.core.engine").loop({})
  local deadline = loop:now() + STOP_WAIT_S * 1000
  local final, failure
  local function check()
    local r = read_store(path)
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
    io.stderr:write("stepflow: ", rec.arn, " ended ", final, " before the stop\n")
    return 1
  end
  io.stdout:write("stop requested for ", rec.arn, "; engine process ", pid,
    " has not acted on it yet and will when it next reads requests\n")
  return 0
end

function M.stop(argv)
  local pos, opts = parse_args(argv, 2, { store = "value", error = "value", cause = "value" })
  if not pos then return fail_usage(opts) end
  if #pos ~= 1 or not opts.store then return fail_usage("usage: stepflow stop EXECUTION --store FILE [--error E] [--cause C]") end
  local engine, err = require("stepflow").new({ store = opts.store })
  if not engine then
    -- Another engine runs the store: ask it.
    if tostring(err):find("locked by process", 1, true) then
      return request_stop(opts.store, pos[1], opts, tostring(err))
    end
    io.stderr:write("stepflow: ", tostring(err), "\n")
    return 1
  end
  local rec = find_execution(engine.store, pos[1])
  if not rec then
    engine:close()
    io.stderr:write("stepflow: ExecutionDoesNotExist: ", pos[1], "\n")
    return 1
  end
  local ok, serr = engine:stop_execution(rec.arn, opts.error, opts.cause)
  engine:close()
  if not ok then
    io.stderr:write("stepflow: ", serr, "\n")
    return 1
  end
  io.stdout:write("stopped ", rec.arn, "\n")
  return 0
end

function M.validate(argv)
  local pos, opts = parse_args(argv, 2, { json = "flag" })
  if not pos then return fail_usage(opts) end
  if #pos ~= 1 then return fail_usage("validate needs exactly one DEFINITION file") end
  local text, err = load_definition(pos[1])
  if not text then return fail_usage(err) end
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

function M.main(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "help" or cmd == "--help" or cmd == "-h" then
    io.stdout:write(USAGE)
    return cmd == nil and 2 or 0
  end
  local fn = M[cmd]
  if cmd == "main" or type(fn) ~= "function" then
    return fail_usage("unknown command '" .. cmd .. "'")
  end
  local ok, status = xpcall(fn, debug.traceback, argv)
  if not ok then
    io.stderr:write("stepflow: internal error: ", tostring(status), "\n")
    return 3
  end
  return status
end

return M
