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

function M.run(argv)
  local pos, opts = parse_args(argv, 2, {
    input = "value", handlers = "list", json = "flag", ["virtual-time"] = "flag",
    name = "value", type = "value",
  })
  if not pos then return fail_usage(opts) end
  if #pos ~= 1 then return fail_usage("run needs exactly one DEFINITION file") end
  local stepflow = require("stepflow")
  local text, err = load_definition(pos[1])
  if not text then return fail_usage(err) end
  local input
  input, err = decode_input(opts.input)
  if input == nil then return fail_usage(err) end
  local engine = stepflow.new({ virtual_time = opts["virtual-time"] })
  for _, h in ipairs(opts.handlers or {}) do
    local ok, herr = engine:load_handlers(h)
    if not ok then return fail_usage(herr) end
  end
  local sm, msg, problems = engine:create_state_machine(text, {
    name = (pos[1]:match("([^/]+)$") or "StateMachine"):gsub("%.asl%.json$", ""):gsub("%.json$", ""),
    type = opts.type,
  })
  if not sm then
    io.stderr:write("stepflow: invalid definition " .. pos[1] .. ":\n")
    print_problems(problems or { { path = "", message = msg } })
    return 2
  end
  local exec = engine:start_execution(sm, input, { name = opts.name })
  engine:run()
  local result = exec:result()
  if opts.json then
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
