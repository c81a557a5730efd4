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

-- The clock behind $now() and $millis(): milliseconds since the epoch.
local clock = function() return os.time() * 1000 end

--- Sets the clock that $now() and $millis() read once per evaluation
-- (fn() -> integer milliseconds since the epoch), e.g. the engine's loop:now.
function M.set_clock(fn)
  if type(fn) ~= "function" then
    error("jsonata.set_clock: expected a function", 2)
  end
  clock = fn
end

-- Guards against runaway expressions (U1001 when exceeded).
local limits = { time_limit = 10 }

--- Sets evaluation limits: max_depth (nesting of evaluation steps, default
-- 10000) and time_limit (CPU seconds per evaluation, default 10; false for
-- none). Both raise U1001 when exceeded.
function M.set_limits(opts)
  if opts.max_depth ~= nil then eval.max_depth = opts.max_depth end
  if opts.time_limit ~= nil then limits.time_limit = opts.time_limit or nil end
end

local function fail(err)
  if type(err) == "table" and err.code then
    messages.populate(err)
    error(err, 0)
  end
  if type(err) == "string" and (err:find("stack overflow", 1, true) or err:find("C stack overflow", 1, true)) then
    error(messages.populate({ code = "U1001" }), 0)
  end
  error(err, 0)
end

--- Parses expression text; returns a reusable compiled expression or raises
-- {code=, message=, position=, token=} on a syntax error.
function M.compile(expression)
  if type(expression) ~= "string" then
    error("jsonata.compile: expression must be a string", 2)
  end
  local ok, ast = pcall(parser.parse, expression)
  if not ok then fail(ast) end
  return setmetatable({ ast = ast, source = expression }, Compiled)
end

--- Evaluates against input (nil = undefined) with bindings (name -> value);
-- returns the result (nil = undefined) or raises a JSONata error table.
function Compiled:evaluate(input, bindings)
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
  local saved_position, saved_token = values.call_position, values.call_token
  local saved_op, saved_op_position = values.bool_op, values.bool_position
  values.call_position, values.call_token = nil, nil
  values.bool_op, values.bool_position = nil, nil
  local saved_undef = values.undef_used
  values.undef_used = false
  local saved_clock = lib.clock.millis
  lib.clock.millis = clock()
  local saved_depth, saved_deadline = eval.reset_depth(0, limits.time_limit and os.clock() + limits.time_limit)
  local ok, result = pcall(eval.evaluate, self.ast, input, env)
  eval.reset_depth(saved_depth, saved_deadline)
  lib.clock.millis = saved_clock
  if ok and type(result) == "table" then
    -- the input and the bindings are plain JSON: no need to walk them
    local skip = {}
    if type(input_root) == "table" then skip[input_root] = true end
    if bindings then
      for _, b in pairs(bindings) do
        if type(b) == "table" and not values.is_function(b) then
          skip[b] = true
          -- and one level down: $states.input, $states.context, ...
          if values.is_object(b) then
            for _, c in pairs(b) do
              if type(c) == "table" and not values.is_function(c) then skip[c] = true end
            end
          end
        end
      end
    end
    result = values.export(result, skip)
  elseif ok then
    result = values.export(result)
  end
  values.undef_used = saved_undef
  values.call_position, values.call_token = saved_position, saved_token
  values.bool_op, values.bool_position = saved_op, saved_op_position
  if not ok then fail(result) end
  return result
end

--- Evaluates an expression (text or compiled) against input with bindings.
-- Compiled expressions by text, for evaluate() on strings (bounded).
local cache = require("stepflow.util.cache").new(256)

function M.evaluate(expression, input, bindings)
  local compiled = expression
  if type(expression) == "string" then
    compiled = cache:get(expression) or cache:put(expression, M.compile(expression))
  elseif getmetatable(expression) ~= Compiled then
    error("jsonata.evaluate: expression must be a string or a compiled expression", 2)
  end
  return compiled:evaluate(input, bindings)
end

return M
