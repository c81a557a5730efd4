--- The JSONata query language's data flow for one state: Arguments,
-- Output, Assign, Condition, Items, ItemSelector and expression-valued
-- fields. A string that is exactly "{% expr %}" is an expression; the
-- expressions see `$states` (input, result, errorOutput, context) and the
-- workflow variables. Every expression is compiled once, here.
local json = require("stepflow.json")
local errors = require("stepflow.errors")

local M = {}

local array_mt, null, is_array = json.array_mt, json.null, json.is_array
local type, pairs, setmetatable = type, pairs, setmetatable
local mtype, floor = math.type, math.floor

local jsonata_module
local function jsonata()
  jsonata_module = jsonata_module or require("stepflow.jsonata")
  return jsonata_module
end

--- The expression text of a "{% ... %}" string, or nil.
local function expression_of(v)
  if type(v) ~= "string" then return nil end
  local inner = v:match("^{%%(.*)%%}$")
  return inner and inner:match("^%s*(.-)%s*$")
end
M.expression_of = expression_of

-- A failed evaluation: States.QueryEvaluationError, recorded in the
-- history as EvaluationFailed at `location` (the field, when there is one).
local function query_error(cause, location)
  local e = errors.new(errors.QueryEvaluationError, cause)
  e.state_prefix = true
  e.evaluation = true
  e.location = location
  return e
end
M.query_error = query_error

local function type_name(v)
  if v == null then return "null" end
  local t = type(v)
  if t == "table" then
    if is_array(v) then return "array" end
    return "object"
  end
  return t
end
M.type_name = type_name

-- The `$states` binding and the variables, for one evaluation.
local visible = require("stepflow.asl.variables").visible

local function is_function(v)
  return type(v) == "table" and require("stepflow.jsonata.values").is_function(v)
end

local function bindings(frame, raw, extra, needs_context)
  local states = { input = raw }
  if extra then for k, v in pairs(extra) do states[k] = v end end
  if needs_context then states.context = frame:context_of() end
  local b = visible(frame.vars, {})
  b.states = states
  return b
end

-- The limits of an expression in a state: stepflow.jsonata's defaults,
-- with the memory an evaluation may use kept closer to AWS's (which
-- refuses an expression past some 7 MB of values; see docs/INTERNALS.md).
M.LIMITS = { memory_limit = 64 * 1024 * 1024 }

-- A Lua error of the evaluator (a bug) in a cause: its message without
-- the file and line it was raised at.
local function bug_text(e)
  return (tostring(e):gsub("^[^:%s]+%.lua:%d+: ", ""))
end

--- Compiles one expression. Returns fn(frame, raw, extra) -> value (never
-- nil: undefined fails with States.QueryEvaluationError naming `field`).
function M.expression(c, text, where, field, allow_undefined)
  text = text:match("^%s*(.-)%s*$")
  local ok, compiled = pcall(jsonata().compile, text, M.LIMITS)
  if not ok then
    local e = compiled
    local msg = type(e) == "table" and ((e.code and (e.code .. ": ") or "") .. tostring(e.message))
      or tostring(e)
    c:check(nil, where, "invalid JSONata expression '" .. text .. "': " .. msg)
  end
  local needs_context = text:find("context", 1, true) ~= nil
    or text:find("%$states[^%.%w]") ~= nil or text:find("%$states$") ~= nil
  local evaluate = compiled.evaluate
  -- $now() and $millis() read the engine's clock (virtual time included).
  local needs_clock = text:find("$now", 1, true) or text:find("$millis", 1, true)
    or text:find("$toMillis", 1, true)
  return function(frame, raw, extra)
    local b = bindings(frame, raw, extra, needs_context)
    local opts
    if needs_clock then
      local engine = frame.exec.engine
      opts = { clock = function() return engine.now(engine.loop) end }
    end
    local fine, v = pcall(evaluate, compiled, nil, b, opts)
    if not fine then
      local e = v
      if errors.is(e) then error(e, 0) end
      local tail
      if type(e) == "table" and e.code then
        tail = ". " .. e.code .. ": " .. tostring(e.message)
      else
        tail = ": internal error: " .. bug_text(type(e) == "table" and e.message or e)
      end
      error(query_error("The JSONata expression '" .. text .. "' specified for the field '" ..
        field .. "' threw an error during evaluation" .. tail, field), 0)
    end
    if v == nil and not allow_undefined then
      error(query_error("The JSONata expression '" .. text .. "' specified for the field '" ..
        field .. "' returned nothing (undefined).", field), 0)
    end
    if type(v) == "function" or is_function(v) then
      error(query_error("The JSONata expression '" .. text .. "' specified for the field '" ..
        field .. "' returned an unsupported result type.", field), 0)
    end
    return v
  end
end

--- Compiles a value that may hold expressions at any depth (Arguments,
-- Output, Assign, ItemSelector...). Returns fn(frame, raw, extra) -> value.
function M.template(c, value, where, field)
  local text = expression_of(value)
  if text then return M.expression(c, text, where, field) end
  if type(value) ~= "table" then
    return function() return value end
  end
  local arr = is_array(value)
  local parts, dynamic = {}, false
  for k, v in pairs(value) do
    local sub_field = arr and (field .. "[" .. (k - 1) .. "]") or (field .. "/" .. k)
    local sub = M.template(c, v, where .. "/" .. tostring(arr and k - 1 or k), sub_field)
    parts[k] = sub
    if expression_of(v) or (type(v) == "table") then dynamic = true end
  end
  if not dynamic then return function() return value end end
  if arr then
    local n = #value
    return function(frame, raw, extra)
      local out = setmetatable({}, array_mt)
      for i = 1, n do out[i] = parts[i](frame, raw, extra) end
      return out
    end
  end
  return function(frame, raw, extra)
    local out = {}
    for k, fn in pairs(parts) do out[k] = fn(frame, raw, extra) end
    return out
  end
end

--- A field value that is a literal or an expression: fn(frame, raw) -> value.
function M.value(c, _, literal, where, field)
  return M.template(c, literal, where, field)
end

local function compile_assign(c, st, def, where, prefix)
  if def.Assign == nil then return nil end
  local fn = M.template(c, def.Assign, where .. "/Assign", prefix .. "Assign")
  st.commit_vars = require("stepflow.asl.variables").commit
  return function(frame, raw, extra)
    local values = fn(frame, raw, extra)
    local pending = frame.assigned
    if not pending then pending = {}; frame.assigned = pending end
    for k, v in pairs(values) do pending[k] = v end
  end
end

local RESULT_IS_OUTPUT = { Task = true, Parallel = true, Map = true }

function M.compile_common(c, st, def, where)
  local t = def.Type
  if t == "Fail" then return end
  local arguments = def.Arguments ~= nil and M.template(c, def.Arguments, where .. "/Arguments", "Arguments")
  local output = def.Output ~= nil and M.template(c, def.Output, where .. "/Output", "Output")
  local assign = compile_assign(c, st, def, where, "")
  local result_is_output = RESULT_IS_OUTPUT[t]

  if arguments then
    st.prepare = function(frame, raw) return arguments(frame, raw) end
  else
    st.prepare = function(_, raw) return raw end
  end

  st.finish = function(frame, raw, result)
    local extra = result_is_output and { result = result } or nil
    local rule = frame.rule
    frame.rule = false
    local out_fn, assign_fn = output, assign
    if rule then
      -- A matched Choice rule's Output and Assign replace the state's.
      if rule.output then out_fn = rule.output end
      if rule.assign then assign_fn = rule.assign end
    end
    if assign_fn then assign_fn(frame, raw, extra) end
    if out_fn then return out_fn(frame, raw, extra) end
    if result_is_output then return result end
    return raw
  end
  if c.opts.inspect then
    -- TestState: the same stages, noting what they make
    st.prepare, st.finish = require("stepflow.asl.inspect").jsonata(st.prepare, st.finish,
      arguments and true or false, result_is_output or false)
  end
end

function M.compile_catcher(c, st, catcher, def, where)
  local i = where:match("/(%d+)$")
  local prefix = "Catch[" .. i .. "]/"
  local output = def.Output ~= nil and M.template(c, def.Output, where .. "/Output", prefix .. "Output")
  local assign = compile_assign(c, st, def, where, prefix)
  catcher.apply = function(frame, raw, err)
    local out = errors.output(err)
    local extra = { errorOutput = out }
    if assign then assign(frame, raw, extra) end
    if output then return output(frame, raw, extra) end
    return out
  end
end

--- Choice rule pieces: Condition, and the rule's own Output and Assign.
function M.condition(c, _, rdef, where)
  local i = where:match("/(%d+)$")
  local field = "Choices[" .. i .. "]/Condition"
  local test = M.template(c, rdef.Condition, where .. "/Condition", field)
  return function(frame, raw)
    local v = test(frame, raw)
    if type(v) ~= "boolean" then
      error(query_error("The JSONata expression '" .. tostring(expression_of(rdef.Condition)) ..
        "' specified for the field '" .. field .. "' returned an unexpected result type. " ..
        "Expected 'boolean', but was '" .. type_name(v) .. "' for value: " .. json.describe(v), field), 0)
    end
    return v
  end
end

function M.compile_rule_assign(c, st, rdef, where)
  local i = where:match("/(%d+)$")
  return compile_assign(c, st, rdef, where, "Choices[" .. i .. "]/")
end

-- Attach a Choice rule's Output (called by the Choice state through the rule table).
local choice_output = function(c, rdef, where)
  if rdef.Output == nil then return nil end
  local i = where:match("/(%d+)$")
  return M.template(c, rdef.Output, where .. "/Output", "Choices[" .. i .. "]/Output")
end
M.rule_output = choice_output

--- A number from a literal or an expression: fn(frame, effective, raw).
function M.number_field(c, _, value, where, field)
  local fn = M.template(c, value, where, field)
  local text = expression_of(value)
  return function(frame, _, raw)
    local v = fn(frame, raw)
    if type(v) ~= "number" or (mtype(v) == "float" and v ~= floor(v)) then
      error(query_error("The JSONata expression '" .. tostring(text) .. "' specified for the field '" ..
        field .. "' returned an unexpected result type. Expected 'integer', but was '" ..
        type_name(v) .. "' for value: " .. json.describe(v), field), 0)
    end
    return floor(v)
  end
end

--- Wait: Seconds or Timestamp, literal or expression. fn(frame, raw, v) -> due ms.
function M.wait_due(c, st, def, where)
  local timestamp = require("stepflow.asl.timestamp")
  if def.Seconds ~= nil then
    local seconds = M.number_field(c, st, def.Seconds, where .. "/Seconds", "Seconds")
    return function(frame, raw)
      local s = seconds(frame, nil, raw)
      if s < 0 then
        error(query_error("The Seconds field must be a non-negative integer: " .. s, "Seconds"), 0)
      end
      return frame.entered_ms + s * 1000
    end
  end
  local ts = M.template(c, def.Timestamp, where .. "/Timestamp", "Timestamp")
  return function(frame, raw)
    local v = ts(frame, raw)
    local t = type(v) == "string" and timestamp.parse(v)
    if not t then
      error(query_error("The Timestamp field cannot be parsed as an ISO-8601 extended offset " ..
        "date-time format string: " .. (type(v) == "string" and v or json.describe(v)), "Timestamp"), 0)
    end
    return floor(t * 1000)
  end
end

--- Map Items: an array (literal or expression); absent means the state input.
function M.map_items(c, _, def, where)
  if def.Items == nil then
    return function(_, _, raw)
      if not is_array(raw) then
        error(query_error("Map state input must be an array but was: " ..
          (raw == null and "null" or json.describe(raw))), 0)
      end
      return raw
    end
  end
  local fn = M.template(c, def.Items, where .. "/Items", "Items")
  local text = expression_of(def.Items)
  return function(frame, _, raw)
    local v = fn(frame, raw)
    if not is_array(v) then
      error(query_error("The JSONata expression '" .. tostring(text) ..
        "' specified for the field 'Items' returned an unexpected result type. Expected 'array', " ..
        "but was '" .. type_name(v) .. "' for value: " .. json.describe(v), "Items"), 0)
    end
    return v
  end
end

--- Map ItemSelector: evaluated per item with $states.context.Map.Item.
function M.map_selector(c, _, def, where)
  if def.ItemSelector == nil then return nil end
  local fn = M.template(c, def.ItemSelector, where .. "/ItemSelector", "ItemSelector")
  return function(frame, raw)
    return fn(frame, raw)
  end
end

return M
