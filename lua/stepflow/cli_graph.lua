--- `stepflow graph`: the picture of a state machine as SVG or Graphviz
-- DOT, optionally coloured by how one of its executions went (read from a
-- store). main(argv) returns the exit status: 0, 1 when the store or the
-- output fails, 2 for a bad invocation or an invalid definition.
local json = require("stepflow.json")
local graph = require("stepflow.graph")

local M = {}

local function fail_usage(msg)
  io.stderr:write("stepflow: " .. msg .. "\n(run 'stepflow help' for usage)\n")
  return 2
end

local VALUE_OPTIONS = { format = true, output = true, execution = true, store = true }

-- true, DEFINITION (or nil) and the options; nil, message for a bad
-- invocation.
local function parse(argv)
  local pos, opts = {}, {}
  local i = 2
  while i <= #argv do
    local a = argv[i]
    local name = a == "-o" and "output" or a:match("^%-%-([%w%-]+)$")
    if name then
      if not VALUE_OPTIONS[name] then return nil, "unknown option " .. a end
      local v = argv[i + 1]
      if v == nil or v == "" then return nil, "option " .. a .. " needs a value" end
      opts[name] = v
      i = i + 2
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option " .. a
    else
      pos[#pos + 1] = a
      i = i + 1
    end
  end
  if #pos > 1 then return nil, "graph takes one DEFINITION file" end
  opts.format = opts.format or "svg"
  if opts.format ~= "svg" and opts.format ~= "dot" then
    return nil, "--format must be svg or dot"
  end
  if (opts.execution == nil) ~= (opts.store == nil) then
    return nil, "--execution and --store go together"
  end
  if #pos == 0 and not opts.execution then
    return nil, "graph needs a DEFINITION file (or --execution NAME --store FILE)"
  end
  return true, pos[1], opts
end

local function read_file(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text, rerr = fh:read("a")
  fh:close()
  if not text then return nil, path .. ": " .. tostring(rerr) end
  return text
end

-- The execution's record, its states' statuses and the definition it ran;
-- nil after printing why.
local function read_execution(path, which)
  local store = require("stepflow.store")
  local s, err = store.open(path, { read_only = true })
  if not s then
    io.stderr:write("stepflow: ", tostring(err), "\n")
    return nil
  end
  local rec = s:get_execution(which)
  if not rec then
    for _, r in ipairs(s:list_executions({})) do
      if r.name == which then
        rec = r
        break
      end
    end
  end
  if not rec then
    s:close()
    io.stderr:write("stepflow: ExecutionDoesNotExist: ", which, "\n")
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
    io.stderr:write("stepflow: ", tostring(herr), "\n")
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

function M.main(argv)
  local ok, path, opts = parse(argv)
  if not ok then return fail_usage(path) end
  local text, err
  if path then
    text, err = read_file(path)
    if not text then return fail_usage("cannot read definition: " .. err) end
  end
  local draw = { title = path and machine_name(path) }
  if opts.execution then
    local rec, status, visits, stored = read_execution(opts.store, opts.execution)
    if not rec then return 1 end
    if not text then
      if not stored then
        io.stderr:write("stepflow: the store has no definition for ", rec.arn, "\n")
        return 1
      end
      text = stored
      draw.title = rec.sm_arn:match("[^:]+$")
    end
    draw.status, draw.visits = status, visits
    draw.subtitle = "execution " .. rec.name .. " \u{b7} " .. rec.status .. " \u{b7} started " ..
      require("stepflow.asl.timestamp").format(rec.started)
  end
  local decoded, def = pcall(json.decode, text)
  local problems
  if not decoded then
    problems = { { path = "", message = "not valid JSON: " .. tostring(def) } }
  elseif type(def) ~= "table" or json.is_array(def) then
    problems = { { path = "", message = "a definition must be a JSON object" } }
  else
    problems = require("stepflow.asl.validate").check(def)
  end
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
    io.stderr:write("stepflow: ", tostring(gerr), "\n")
    return 2
  end
  if opts.output and opts.output ~= "-" then
    local fh, oerr = io.open(opts.output, "wb")
    if not fh then
      io.stderr:write("stepflow: cannot write ", tostring(oerr), "\n")
      return 1
    end
    local wok, werr = fh:write(out)
    local cok, cerr = fh:close()
    if not wok or not cok then
      io.stderr:write("stepflow: cannot write ", opts.output, ": ", tostring(werr or cerr), "\n")
      return 1
    end
  else
    io.stdout:write(out)
  end
  return 0
end

return M
