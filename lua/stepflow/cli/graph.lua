--- `stepflow graph`: the picture of a state machine as SVG or Graphviz
-- DOT, optionally coloured by how one of its executions went (read from a
-- store, read-only). main(argv) returns the exit status: 0, 1 when the
-- store or the output fails, 2 for a bad invocation or an invalid
-- definition.
local json = require("stepflow.json")
local graph = require("stepflow.graph")
local common = require("stepflow.cli.common")

local say, usage_error = common.say, common.usage_error

local M = {}

local OPTIONS = { format = "value", output = "value", execution = "value", store = "value" }

-- DEFINITION (or nil) and the options, or nil, nil, message for a bad
-- invocation. `-o FILE` is `--output FILE`.
local function parse(argv)
  local args = {}
  for i, a in ipairs(argv) do args[i] = a == "-o" and "--output" or a end
  local pos, opts = common.parse_args(args, 2, OPTIONS)
  if not pos then return nil, nil, opts end
  for _, a in ipairs(pos) do
    if a:sub(1, 1) == "-" and a ~= "-" then return nil, nil, "unknown option " .. a end
  end
  if #pos > 1 then return nil, nil, "graph takes one DEFINITION file" end
  opts.format = opts.format or "svg"
  if opts.format ~= "svg" and opts.format ~= "dot" then
    return nil, nil, "--format must be svg or dot"
  end
  if (opts.execution == nil) ~= (opts.store == nil) then
    return nil, nil, "--execution and --store go together"
  end
  if #pos == 0 and not opts.execution then
    return nil, nil, "graph needs a DEFINITION file (or --execution NAME --store FILE)"
  end
  return pos[1], opts
end

-- The execution's record, its states' statuses and visits, and the
-- definition it ran; nil after saying why.
local function read_execution(path, which)
  local s = common.read_store(path)
  if not s then return nil end
  local rec = common.find_execution(s, which)
  if not rec then
    s:close()
    say("ExecutionDoesNotExist: ", which)
    return nil
  end
  local rows, herr = s:history(rec.arn)
  local definition
  if rec.revision then definition = s:get_definition(rec.sm_arn, rec.revision) end
  if not definition then
    local sm = s:get_state_machine(rec.sm_arn)
    definition = sm and sm.definition
  end
  s:close()
  if not rows then
    say(tostring(herr))
    return nil
  end
  local status = require("stepflow.graph.status")
  local st, visits = status.compute(status.from_store(rows), rec.status)
  return rec, st, visits, definition
end

-- The title of a definition file: its name without .asl.json, or its
-- folder's name for the examples' definition.asl.json.
local function machine_name(path)
  local dir, file = path:match("^(.-)([^/]+)$")
  local name = file:gsub("%.asl%.json$", ""):gsub("%.json$", "")
  if name == "definition" then
    local parent = dir:match("([^/]+)/$")
    if parent and parent ~= "." and parent ~= ".." then return parent end
  end
  return name
end

-- The problems of a definition's text, as validate finds them.
local function problems_of(text)
  local ok, def = pcall(json.decode, text)
  if not ok then return { { path = "", message = "not valid JSON: " .. tostring(def) } } end
  if type(def) ~= "table" or json.is_array(def) then
    return { { path = "", message = "a definition must be a JSON object" } }
  end
  return require("stepflow.asl.validate").check(def), def
end

local function write_output(path, text)
  if not path or path == "-" then
    io.stdout:write(text)
    return 0
  end
  local fh, oerr = io.open(path, "wb")
  if not fh then
    say("cannot write ", tostring(oerr))
    return 1
  end
  local wok, werr = fh:write(text)
  local cok, cerr = fh:close()
  if not wok or not cok then
    say("cannot write ", path, ": ", tostring(werr or cerr))
    return 1
  end
  return 0
end

--- Runs `stepflow graph` (argv as the command line's); returns the exit
-- status.
function M.main(argv)
  local path, opts, perr = parse(argv)
  if not opts then return usage_error(perr) end
  local text, err
  if path then
    text, err = common.read_definition(path)
    if not text then return usage_error(err) end
  end
  local draw = { title = path and machine_name(path) }
  if opts.execution then
    local rec, status, visits, stored = read_execution(opts.store, opts.execution)
    if not rec then return 1 end
    if not text then
      if not stored then
        say("the store has no definition for ", rec.arn)
        return 1
      end
      text = stored
      draw.title = rec.sm_arn:match("[^:]+$")
    end
    draw.status, draw.visits = status, visits
    draw.subtitle = "execution " .. rec.name .. " \u{b7} " .. rec.status .. " \u{b7} started " ..
      require("stepflow.asl.timestamp").format(rec.started)
  end
  local problems, def = problems_of(text)
  if #problems > 0 then
    io.stderr:write("stepflow: invalid definition ", path or opts.execution, ":\n")
    for _, p in ipairs(problems) do
      io.stderr:write("  ", p.path == "" and "/" or p.path, ": ", p.message, "\n")
    end
    return 2
  end
  local out, gerr
  if opts.format == "dot" then out, gerr = graph.dot(def, draw) else out, gerr = graph.svg(def, draw) end
  if not out then
    say(tostring(gerr))
    return 2
  end
  return write_output(opts.output, out)
end

return M
