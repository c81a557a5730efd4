-- stepflow.jsonata: JSONata 2.0.6 (as in AWS Step Functions, without $eval)
-- in pure Lua. compile() parses once; evaluate() runs the AST against an
-- input with optional variable bindings.
local values = require("stepflow.jsonata.values")
local parser = require("stepflow.jsonata.parser")
local eval = require("stepflow.jsonata.eval")
local apply = require("stepflow.jsonata.apply")
local lib_string = require("stepflow.jsonata.lib_string")
local lib = require("stepflow.jsonata.lib")
local messages = require("stepflow.jsonata.messages")

eval.init(apply, lib_string.string)

local M = {}

local static_frame = lib.frame()

local Compiled = {}
Compiled.__index = Compiled
Compiled.__name = "stepflow.jsonata.Compiled"

--- The limits and the clock an evaluation gets unless told otherwise.
-- time_limit: CPU seconds (os.clock) one evaluation may take; memory_limit:
-- bytes the Lua heap may grow by during one evaluation; max_depth: nesting
-- of evaluation steps; clock: fn() -> milliseconds since the epoch, read
-- once per evaluation by $now(), $millis() and $toMillis(). A limit of
-- false is none. Past a limit: U1001.
M.DEFAULTS = {
  time_limit = 5,
  -- room for jsonata-js's largest range, [1..1e7] (160 MB of Lua values)
  memory_limit = 512 * 1024 * 1024,
  max_depth = 10000,
  clock = function() return os.time() * 1000 end,
}
local OPTIONS = { time_limit = true, memory_limit = true, max_depth = true, clock = true }

-- opts merged over base, checked (caller bugs raise).
local function merge(base, opts, where)
  if opts == nil then return base end
  if type(opts) ~= "table" then error(where .. ": opts must be a table", 3) end
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then error(where .. ": unknown option '" .. tostring(k) .. "'", 3) end
    out[k] = v
  end
  return out
end

-- Raises err as the API gives errors: a JSONata error table with its
-- message; Lua's own stack overflow and out-of-memory errors as U1001; any
-- other Lua error (a bug of the evaluator) as it is.
local function fail(err)
  if type(err) == "table" and err.code then
    messages.populate(err)
    error(err, 0)
  end
  if type(err) == "string" then
    if err:find("stack overflow", 1, true) then
      error(messages.populate({ code = "U1001" }), 0)
    end
    if err:find("not enough memory", 1, true) then
      error({ code = "U1001", message = "Expression evaluation ran out of memory" }, 0)
    end
  end
  error(err, 0)
end

--- Parses expression text; returns a reusable compiled expression or raises
-- {code=, message=, position=, token=} on a syntax error.
-- @tparam string expression
-- @tparam[opt] table opts limits and clock for its evaluations (see
--   DEFAULTS), e.g. { time_limit = 1, clock = loop_now }
function M.compile(expression, opts)
  if type(expression) ~= "string" then
    error("jsonata.compile: expression must be a string", 2)
  end
  local options = merge(M.DEFAULTS, opts, "jsonata.compile")
  local ok, ast = pcall(parser.parse, expression)
  if not ok then fail(ast) end
  return setmetatable({ ast = ast, source = expression, options = options }, Compiled)
end

-- The input and the bindings are JSON from outside: export needs not
-- walk them (nor, one level down, $states.input, $states.context...).
local function outside_tables(input_root, bindings)
  local skip = {}
  if type(input_root) == "table" then skip[input_root] = true end
  if bindings then
    for _, b in pairs(bindings) do
      if type(b) == "table" and not values.is_function(b) then
        skip[b] = true
        if values.is_object(b) then
          for _, c in pairs(b) do
            if type(c) == "table" and not values.is_function(c) then skip[c] = true end
          end
        end
      end
    end
  end
  return skip
end

local function run(self, input, bindings)
  local env = eval.new_frame(static_frame)
  if bindings then
    for k, v in pairs(bindings) do env[k] = v end
  end
  env["$"] = input
  local input_root = input
  if values.is_array(input) and not values.is_seq(input) then
    local wrapped = values.new_seq()
    wrapped[1] = input
    values.OUTER[wrapped] = true
    input = wrapped
  end
  local result = eval.evaluate(self.ast, input, env)
  if type(result) == "table" then
    return values.export(result, outside_tables(input_root, bindings))
  end
  return values.export(result)
end

--- Evaluates against input (nil = undefined) with bindings (name -> value);
-- returns the result (nil = undefined) or raises a JSONata error table.
-- @tparam[opt] table opts limits and clock for this evaluation only, over
--   the compiled expression's
function Compiled:evaluate(input, bindings, opts)
  local options = opts and merge(self.options, opts, "jsonata.evaluate") or self.options
  local time_limit, memory_limit = options.time_limit, options.memory_limit
  local budget = {
    deadline = time_limit and os.clock() + time_limit or nil,
    mem_limit = memory_limit or nil,
    mem_base = memory_limit and collectgarbage("count") or 0,
    max_depth = options.max_depth or math.huge,
    clock = options.clock,
  }
  -- evaluations may nest (a handler that evaluates JSONata while another
  -- one is running): the state below is saved and restored
  local saved_position, saved_token = values.call_position, values.call_token
  local saved_op, saved_op_position = values.bool_op, values.bool_position
  local saved_undef = values.undef_used
  values.call_position, values.call_token = nil, nil
  values.bool_op, values.bool_position = nil, nil
  values.undef_used = false
  local saved = eval.enter(budget)
  local ok, result = pcall(run, self, input, bindings)
  eval.leave(saved)
  values.undef_used = saved_undef
  values.call_position, values.call_token = saved_position, saved_token
  values.bool_op, values.bool_position = saved_op, saved_op_position
  if not ok then fail(result) end
  return result
end

--- Evaluates an expression (text or compiled) against input with bindings
-- (opts as for Compiled:evaluate). Compiled expressions by text, for
-- evaluate() on strings (bounded).
local cache = require("stepflow.util.cache").new(256)

function M.evaluate(expression, input, bindings, opts)
  local compiled = expression
  if type(expression) == "string" then
    compiled = cache:get(expression) or cache:put(expression, M.compile(expression))
  elseif getmetatable(expression) ~= Compiled then
    error("jsonata.evaluate: expression must be a string or a compiled expression", 2)
  end
  return compiled:evaluate(input, bindings, opts)
end

return M
