-- stepflow.jsonata.eval: the JSONata tree-walking evaluator (jsonata-js
-- 2.0.6 semantics): dispatch, sequence normalisation, operators,
-- constructors, wildcards and variables. Location paths live in
-- stepflow.jsonata.eval_path, function application in stepflow.jsonata.apply.
local values = require("stepflow.jsonata.values")
local path = require("stepflow.jsonata.eval_path")

local M = {}

local array_mt = values.array_mt
local SEQ_new, is_array = values.new_seq, values.is_array
local KEEP, TUPLE, OUTER, CONS = values.KEEP, values.TUPLE, values.OUTER, values.CONS
local boolean, is_number, append = values.boolean, values.is_number, values.append
local SEQ = values.SEQ
local UNDEF = values.UNDEF
local throw = values.throw
local setmetatable, getmetatable, type, rawequal = setmetatable, getmetatable, type, rawequal
local floor = math.floor
local reserve, tick = values.reserve, values.tick

-- The running evaluation's nesting, its bound, and a count of steps
-- between two checks of its limits (stepflow.jsonata.values).
local depth, max_depth, steps = 0, 10000, 0
local check_limits = values.check_limits

--- Starts an evaluation with budget b (see values.enter; b.max_depth
-- bounds the nesting of evaluation steps); returns what leave() takes.
function M.enter(b)
  local saved = { depth, max_depth, steps, values.enter(b) }
  depth, max_depth, steps = 0, b.max_depth or 10000, 0
  return saved
end

--- Ends the evaluation enter() started, restoring the one before it.
function M.leave(saved)
  depth, max_depth, steps = saved[1], saved[2], saved[3]
  values.leave(saved[4], saved[5])
end

local evaluate

local new_frame = path.new_frame
M.new_frame = new_frame
M.evaluate_filter = path.evaluate_filter
M.merge_sort = path.merge_sort
M.evaluate_group = path.evaluate_group
local evaluate_filter, evaluate_group = path.evaluate_filter, path.evaluate_group
local evaluate_path = path.evaluate_path

---------------------------------------------------------------- operators

local function numeric(lhs, rhs, op, expr)
  if lhs ~= nil and not is_number(lhs) then
    throw("T2001", { position = expr.position, token = op, value = lhs })
  end
  if rhs ~= nil and not is_number(rhs) then
    throw("T2002", { position = expr.position, token = op, value = rhs })
  end
  if lhs == nil or rhs == nil then return nil end
  lhs = lhs + 0.0
  local r
  if op == "+" then r = lhs + rhs
  elseif op == "-" then r = lhs - rhs
  elseif op == "*" then r = lhs * rhs
  elseif op == "/" then r = lhs / rhs
  else r = math.fmod(lhs, rhs + 0.0) end
  if r == floor(r) and r > -9007199254740992 and r < 9007199254740992 then
    return math.tointeger(r)
  end
  -- an infinity or NaN stays a value (\$string(1/0) is D3001, 1/0 + 1 is
  -- D1001, as in jsonata-js); one that would leave the evaluation is
  -- D1001 there (values.export)
  return r
end

local function comparable(v)
  local t = type(v)
  return v == nil or t == "string" or t == "number"
end

local function comparison(lhs, rhs, op, expr)
  local lc, rc = comparable(lhs), comparable(rhs)
  if not lc or not rc then
    throw("T2010", { position = expr.position, token = op,
      value = (not lc) and lhs or rhs })
  end
  if lhs == nil or rhs == nil then return nil end
  if type(lhs) ~= type(rhs) then
    throw("T2009", { position = expr.position, token = op, value = lhs, value2 = rhs })
  end
  if op == "<" then return lhs < rhs
  elseif op == "<=" then return lhs <= rhs
  elseif op == ">" then return lhs > rhs
  else return lhs >= rhs end
end

local function to_string(v)
  return M.string(v)
end

local function evaluate_binary(expr, input, env)
  local op = expr.value
  local lhs = evaluate(expr.lhs, input, env)
  if op == "and" or op == "or" then
    local l = boolean(lhs)
    if op == "and" and not l then return false end
    if op == "or" and l then return true end
    local outer = values.bool_op
    if not outer then values.bool_op, values.bool_position = op, expr.position end
    local r = boolean(evaluate(expr.rhs, input, env))
    if not outer then values.bool_op, values.bool_position = nil, nil end
    return r == true
  end
  local rhs = evaluate(expr.rhs, input, env)
  if op == "+" or op == "-" or op == "*" or op == "/" or op == "%" then
    return numeric(lhs, rhs, op, expr)
  elseif op == "=" then
    if lhs == nil or rhs == nil then return false end
    return values.deep_equal(lhs, rhs)
  elseif op == "!=" then
    if lhs == nil or rhs == nil then return false end
    return not values.deep_equal(lhs, rhs)
  elseif op == "<" or op == "<=" or op == ">" or op == ">=" then
    return comparison(lhs, rhs, op, expr)
  elseif op == "&" then
    local l = lhs == nil and "" or to_string(lhs)
    local r = rhs == nil and "" or to_string(rhs)
    reserve(#l + #r)
    return l .. r
  elseif op == ".." then
    if lhs ~= nil and (type(lhs) ~= "number" or lhs ~= floor(lhs)) then
      throw("T2003", { position = expr.position, token = op, value = lhs })
    end
    if rhs ~= nil and (type(rhs) ~= "number" or rhs ~= floor(rhs)) then
      throw("T2004", { position = expr.position, token = op, value = rhs })
    end
    if lhs == nil or rhs == nil then return nil end
    if lhs > rhs then return nil end
    local size = rhs - lhs + 1
    if size > 1e7 then
      throw("D2014", { position = expr.position, token = op, value = size })
    end
    reserve(size * 16)
    local r = SEQ_new()
    local a = math.tointeger(lhs)
    for i = 1, math.tointeger(size) do
      tick()
      r[i] = a + i - 1
    end
    return r
  elseif op == "in" then
    if lhs == nil or rhs == nil then return false end
    if not is_array(rhs) then return rawequal(lhs, rhs) or (type(lhs) == "number" and lhs == rhs) end
    for i = 1, #rhs do
      local v = rhs[i]
      if rawequal(v, lhs) or (type(v) == "number" and v == lhs) then return true end
    end
    return false
  end
  throw("S0201", { position = expr.position, token = op })
end

local function evaluate_unary(expr, input, env)
  local op = expr.value
  if op == "-" then
    local v = evaluate(expr.expression, input, env)
    if v == nil then return nil end
    if is_number(v) then return -v end
    throw("D1002", { position = expr.position, token = op, value = v })
  elseif op == "[" then
    local result = setmetatable({}, array_mt)
    for _, item in ipairs(expr.expressions) do
      local v = evaluate(item, input, env)
      if v ~= nil then
        if item.value == "[" then
          result[#result + 1] = v
        else
          result = append(result, v)
        end
      end
    end
    if expr.consarray then CONS[result] = true end
    return result
  elseif op == "{" then
    return evaluate_group(expr, input, env)
  end
end

---------------------------------------------------------------- wildcards

local function evaluate_wildcard(input)
  local results = SEQ_new()
  if is_array(input) and OUTER[input] and #input > 0 then input = input[1] end
  if type(input) == "table" and values.is_object(input) then
    for _, key in ipairs(values.keys(input)) do
      tick()
      local v = input[key]
      if is_array(v) then
        results = append(results, values.flatten(v))
      else
        results[#results + 1] = v
      end
    end
  elseif is_array(input) then
    for i = 1, #input do
      tick()
      local v = input[i]
      if is_array(v) then
        results = append(results, values.flatten(v))
      else
        results[#results + 1] = v
      end
    end
  end
  return results
end

local function recurse_descendants(input, results)
  tick()
  if not is_array(input) then results[#results + 1] = input end
  if is_array(input) then
    for i = 1, #input do recurse_descendants(input[i], results) end
  elseif type(input) == "table" and values.is_object(input) then
    for _, key in ipairs(values.keys(input)) do
      recurse_descendants(input[key], results)
    end
  end
end

local function evaluate_descendants(input)
  if input == nil then return nil end
  local results = SEQ_new()
  recurse_descendants(input, results)
  if #results == 1 then return results[1] end
  return results
end

--- fn.lookup: the value of key in input (mapped over arrays).
local function lookup(input, key)
  if type(input) ~= "table" then return nil end
  local mt = getmetatable(input)
  if is_array(input) then
    local result, n = SEQ_new(), 0
    for i = 1, #input do
      tick()
      local res = lookup(input[i], key)
      if res ~= nil then
        if is_array(res) then
          for j = 1, #res do
            n = n + 1
            result[n] = res[j]
          end
        else
          n = n + 1
          result[n] = res
        end
      end
    end
    return result
  elseif mt == values.fn_mt then
    return nil
  end
  return input[key]
end
M.lookup = lookup

---------------------------------------------------------------- dispatch

local handlers = {}

handlers.path = evaluate_path
handlers.binary = evaluate_binary
handlers.unary = evaluate_unary
handlers.name = function(expr, input) return lookup(input, expr.value) end
handlers.string = function(expr) return expr.value end
handlers.number = function(expr) return expr.value end
handlers.value = function(expr) return expr.value end
handlers.wildcard = function(_, input) return evaluate_wildcard(input) end
handlers.descendant = function(_, input) return evaluate_descendants(input) end
handlers.parent = function(expr, _, env)
  local v = env[expr.slot.label]
  if rawequal(v, UNDEF) then return nil end
  return v
end
handlers.condition = function(expr, input, env)
  local c = evaluate(expr.condition, input, env)
  if boolean(c) then
    return evaluate(expr["then"], input, env)
  elseif expr["else"] ~= nil then
    return evaluate(expr["else"], input, env)
  end
  return nil
end
handlers.block = function(expr, input, env)
  local frame = new_frame(env)
  local result
  for _, e in ipairs(expr.expressions) do result = evaluate(e, input, frame) end
  return result
end
handlers.bind = function(expr, input, env)
  local v = evaluate(expr.rhs, input, env)
  env[expr.lhs.value] = v
  return v
end
handlers.variable = function(expr, input, env)
  if expr.value == "" then
    if is_array(input) and OUTER[input] then return input[1] end
    return input
  end
  local v = env[expr.value]
  if rawequal(v, UNDEF) then return nil end
  return v
end

function evaluate(expr, input, env)
  if rawequal(input, UNDEF) then input = nil end
  local d = depth + 1
  -- every evaluation step counts towards the next check of the limits
  steps = steps + 1
  if steps >= 1024 then
    steps = 0
    check_limits()
  end
  if d > max_depth then
    throw("U1001", { position = expr.position })   -- the stack overflow message
  end
  depth = d
  local result = handlers[expr.type](expr, input, env)
  local post = expr.post
  if post == nil then
    post = expr.predicate ~= nil or (expr.group ~= nil and expr.type ~= "path")
    expr.post = post
  end
  if post then
    local predicate = expr.predicate
    if predicate then
      for _, p in ipairs(predicate) do result = evaluate_filter(p.expr, result, env) end
    end
    if expr.group and expr.type ~= "path" then
      result = evaluate_group(expr.group, result, env)
    end
  end
  if SEQ[result] and not TUPLE[result] then
    if expr.keepArray then KEEP[result] = true end
    local n = #result
    if n == 0 then
      result = nil
    elseif n == 1 and not KEEP[result] then
      result = result[1]
      if rawequal(result, UNDEF) then result = nil end
    end
  end
  depth = d - 1
  return result
end

--- One turn of a loop (a function application): see values.tick.
M.tick = values.tick
M.evaluate = evaluate
path.init(evaluate)

--- Installs the function-application handlers (from stepflow.jsonata.apply).
function M.init(apply, string_fn)
  M.string = string_fn
  handlers["function"] = apply.evaluate_function
  handlers.partial = apply.evaluate_partial
  handlers.lambda = apply.evaluate_lambda
  handlers.apply = apply.evaluate_apply
  handlers.transform = apply.evaluate_transform
  handlers.regex = apply.evaluate_regex
end

return M
