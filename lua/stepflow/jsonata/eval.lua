-- stepflow.jsonata.eval: the JSONata tree-walking evaluator (jsonata-js
-- 2.0.6 semantics): paths and sequences, tuple streams for #, @ and %,
-- predicates, order-by, group-by, operators and constructors.
-- Function application lives in stepflow.jsonata.apply.
local values = require("stepflow.jsonata.values")

local M = {}

local null, array_mt = values.null, values.array_mt
local SEQ_new, is_array, is_seq = values.new_seq, values.is_array, values.is_seq
local KEEP, TUPLE, OUTER, CONS = values.KEEP, values.TUPLE, values.OUTER, values.CONS
local boolean, is_number, append = values.boolean, values.is_number, values.append
local SEQ = values.SEQ
local throw = values.throw
local setmetatable, getmetatable, type, rawequal = setmetatable, getmetatable, type, rawequal
local floor = math.floor

--- Whether plain field paths take the fast path (false only to test it).
M.fast_paths = true

--- Deepest evaluation nesting before U1001.
M.max_depth = 10000
local depth = 0
-- CPU-time deadline (os.clock seconds) of the running evaluation, checked
-- every 4096 steps; nil for none.
local deadline = nil
local ticks = 0

--- Sets the evaluation depth and deadline; returns the previous ones.
function M.reset_depth(d, new_deadline)
  local old, old_deadline = depth, deadline
  depth = d or 0
  deadline = new_deadline
  return old, old_deadline
end

local apply_mod  -- stepflow.jsonata.apply (set by M.init)
local evaluate

--- New variable frame whose lookups fall through to parent.
local function new_frame(parent)
  local f = setmetatable({}, parent)
  f.__index = f
  return f
end
M.new_frame = new_frame

local function frame_from_tuple(env, tuple)
  local f = new_frame(env)
  for k, v in pairs(tuple) do f[k] = v end
  return f
end

local function seq_of(v)
  local s = SEQ_new()
  if v ~= nil then s[1] = v end
  return s
end

---------------------------------------------------------------- filters

local function evaluate_filter(predicate, input, env)
  local results = SEQ_new()
  if input ~= nil and TUPLE[input] then TUPLE[results] = true end
  local n
  if not is_array(input) then
    input = seq_of(input)
    n = 1
  else
    n = #input
  end
  if predicate.type == "number" then
    local index = floor(predicate.value)
    if index < 0 then index = n + index end
    local item = input[index + 1]
    if item ~= nil then
      if is_array(item) then
        results = item
      else
        results[1] = item
      end
    end
    return results
  end
  local tuple_stream = TUPLE[input]
  local count = 0
  for index = 1, n do
    local item = input[index]
    local context, fenv = item, env
    if tuple_stream then
      context = item["@"]
      fenv = frame_from_tuple(env, item)
    end
    local res = evaluate(predicate, context, fenv)
    if type(res) == "number" and is_number(res) then
      res = { res }
      setmetatable(res, array_mt)
    end
    if values.is_array_of_numbers(res) and #res > 0 then
      for _, ires in ipairs(res) do
        local ii = floor(ires)
        if ii < 0 then ii = n + ii end
        if ii == index - 1 then
          count = count + 1
          results[count] = item
        end
      end
    elseif boolean(res) then
      count = count + 1
      results[count] = item
    end
  end
  return results
end
M.evaluate_filter = evaluate_filter

local function evaluate_stages(stages, input, env)
  local result = input
  for _, stage in ipairs(stages) do
    if stage.type == "filter" then
      result = evaluate_filter(stage.expr, result, env)
    elseif stage.type == "index" then
      for i = 1, #result do result[i][stage.value] = i - 1 end
    end
  end
  return result
end

---------------------------------------------------------------- sort

--- Stable merge sort; swap(a, b) true means b goes before a.
local function merge_sort(arr, swap)
  local n = #arr
  if n <= 1 then return arr end
  local function msort(lo, hi)
    if hi - lo < 1 then return { arr[lo] } end
    local mid = lo + floor((hi - lo + 1) / 2) - 1
    local left, right = msort(lo, mid), msort(mid + 1, hi)
    local out, i, j = {}, 1, 1
    local nl, nr = #left, #right
    while i <= nl and j <= nr do
      if swap(left[i], right[j]) then
        out[#out + 1] = right[j]
        j = j + 1
      else
        out[#out + 1] = left[i]
        i = i + 1
      end
    end
    for k = i, nl do out[#out + 1] = left[k] end
    for k = j, nr do out[#out + 1] = right[k] end
    return out
  end
  return setmetatable(msort(1, n), array_mt)
end
M.merge_sort = merge_sort

-- Order-by: the sort keys of each item are evaluated once, then compared
-- (T2008 for non-string/number keys, T2007 for mixed types) in a stable sort.
local function evaluate_sort(expr, input, env)
  if input == nil then return nil end
  if not is_array(input) then return input end
  local n = #input
  if n <= 1 then return input end
  local tuple_sort = TUPLE[input] == true
  local terms = expr.terms
  local nterms = #terms
  local keys = {}
  for i = 1, n do
    local item = input[i]
    local context, fenv = item, env
    if tuple_sort then
      context = item["@"]
      fenv = frame_from_tuple(env, item)
    end
    local k = {}
    for t = 1, nterms do k[t] = evaluate(terms[t].expression, context, fenv) end
    keys[i] = k
  end
  local function swap(ia, ib)
    local ka, kb = keys[ia], keys[ib]
    for t = 1, nterms do
      local aa, bb = ka[t], kb[t]
      local comp
      if aa == nil then
        comp = bb == nil and 0 or 1
      elseif bb == nil then
        comp = -1
      else
        local ta, tb = type(aa), type(bb)
        if not (ta == "string" or ta == "number") or not (tb == "string" or tb == "number") then
          throw("T2008", { position = expr.position,
            value = (ta == "string" or ta == "number") and bb or aa })
        end
        if ta ~= tb then
          throw("T2007", { position = expr.position, value = aa, value2 = bb })
        end
        if aa == bb then comp = 0
        elseif aa < bb then comp = -1
        else comp = 1 end
        if terms[t].descending then comp = -comp end
      end
      if comp ~= 0 then return comp == 1 end
    end
    return false
  end
  local idx = {}
  for i = 1, n do idx[i] = i end
  local order = merge_sort(idx, swap)
  local r = setmetatable({}, array_mt)
  for i = 1, n do r[i] = input[order[i]] end
  if TUPLE[input] then TUPLE[r] = true end
  return r
end

---------------------------------------------------------------- steps

local function evaluate_step(expr, input, n, env, last_step)
  if expr.type == "sort" then
    local result = evaluate_sort(expr, input, env)
    if expr.stages then result = evaluate_stages(expr.stages, result, env) end
    return result
  end
  local result, rn = {}, 0
  local stages = expr.stages
  for i = 1, n do
    local res = evaluate(expr, input[i], env)
    if stages then
      for _, stage in ipairs(stages) do
        res = evaluate_filter(stage.expr, res, env)
      end
    end
    if res ~= nil then
      rn = rn + 1
      result[rn] = res
    end
  end
  if last_step and rn == 1 and is_array(result[1]) and not is_seq(result[1]) then
    return result[1]
  end
  local out, on = SEQ_new(), 0
  for i = 1, rn do
    local res = result[i]
    if not is_array(res) or CONS[res] then
      on = on + 1
      out[on] = res
    else
      for j = 1, #res do
        on = on + 1
        out[on] = res[j]
      end
    end
  end
  return out
end

local function evaluate_tuple_step(expr, input, n, bindings, env)
  if expr.type == "sort" then
    local result
    if bindings then
      result = evaluate_sort(expr, bindings, env)
    else
      local sorted = evaluate_sort(expr, input, env)
      result = SEQ_new()
      TUPLE[result] = true
      for i = 1, #sorted do
        local tuple = { ["@"] = sorted[i] }
        if expr.index then tuple[expr.index] = i - 1 end
        result[i] = tuple
      end
    end
    if expr.stages then result = evaluate_stages(expr.stages, result, env) end
    return result
  end
  local result = SEQ_new()
  TUPLE[result] = true
  local count = 0
  if bindings == nil then
    bindings = {}
    for i = 1, n do bindings[i] = { ["@"] = input[i] } end
  end
  for ee = 1, #bindings do
    local binding = bindings[ee]
    local step_env = frame_from_tuple(env, binding)
    local res = evaluate(expr, binding["@"], step_env)
    if res ~= nil then
      if not is_array(res) then res = { res } end
      local tuple_res = TUPLE[res]
      for bb = 1, #res do
        local tuple = {}
        for k, v in pairs(binding) do tuple[k] = v end
        if tuple_res then
          for k, v in pairs(res[bb]) do tuple[k] = v end
        else
          if expr.focus then
            tuple[expr.focus] = res[bb]
            tuple["@"] = binding["@"]
          else
            tuple["@"] = res[bb]
          end
          if expr.index then tuple[expr.index] = bb - 1 end
          if expr.ancestor then tuple[expr.ancestor.label] = binding["@"] end
        end
        count = count + 1
        result[count] = tuple
      end
    end
  end
  if expr.stages then result = evaluate_stages(expr.stages, result, env) end
  return result
end

local evaluate_group

-- A step that a plain field access can evaluate on an object.
local function simple_step(step, first)
  if step.type ~= "name" and not (first and step.type == "variable") then return false end
  return not (step.stages or step.predicate or step.group or step.tuple or step.focus
    or step.index or step.keepArray or step.ancestor or step.consarray)
end

-- Fast path for paths of plain field names over objects ($a.b.c): walks
-- while the value is an object, then hands over to the general algorithm.
local function is_simple_path(expr)
  if expr.keepSingletonArray or expr.group or expr.tuple then return false end
  for i, step in ipairs(expr.steps) do
    if not simple_step(step, i == 1) then return false end
  end
  return true
end

local evaluate_steps

local function evaluate_path(expr, input, env)
  local steps = expr.steps
  local simple = expr.simple
  if simple == nil then
    simple = M.fast_paths and is_simple_path(expr)
    expr.simple = simple
  end
  if simple then
    local cur, i = input, 1
    local first = steps[1]
    if first.type == "variable" then
      cur = evaluate(first, input, env)
      i = 2
    elseif is_array(input) then
      return evaluate_steps(expr, input, #input, 1, env)
    end
    local nsteps = #steps
    while i <= nsteps do
      if cur == nil then return nil end
      if type(cur) ~= "table" then return nil end
      local mt = getmetatable(cur)
      if mt == array_mt then
        if CONS[cur] then break end
        return evaluate_steps(expr, cur, #cur, i, env)
      elseif mt == values.fn_mt then
        return nil
      end
      cur = cur[steps[i].value]
      i = i + 1
    end
    if i <= nsteps then
      -- an array built by a constructor is one item of the next step's input
      return evaluate_steps(expr, seq_of(cur), 1, i, env)
    end
    if type(cur) == "table" and is_seq(cur) then
      local copy = SEQ_new()
      for k = 1, #cur do copy[k] = cur[k] end
      return copy
    end
    return cur
  end
  local input_seq, n
  if is_array(input) and steps[1].type ~= "variable" then
    input_seq, n = input, #input
  else
    input_seq, n = seq_of(input), 1
  end
  return evaluate_steps(expr, input_seq, n, 1, env)
end

function evaluate_steps(expr, input_seq, n, start, env)
  local steps = expr.steps
  local result_seq
  local is_tuple = false
  local bindings
  local nsteps = #steps
  for ii = start, nsteps do
    local step = steps[ii]
    if step.tuple then is_tuple = true end
    if ii == 1 and step.consarray then
      result_seq = evaluate(step, input_seq, env)
    elseif is_tuple then
      bindings = evaluate_tuple_step(step, input_seq, n, bindings, env)
    else
      result_seq = evaluate_step(step, input_seq, n, env, ii == nsteps)
    end
    if not is_tuple and (result_seq == nil or (type(result_seq) == "table" and is_array(result_seq) and #result_seq == 0)) then
      break
    end
    if step.focus == nil then
      input_seq = result_seq
      if is_array(result_seq) then
        n = #result_seq
      else
        input_seq, n = seq_of(result_seq), 1
      end
    end
  end
  if is_tuple then
    if expr.tuple then
      result_seq = bindings
    else
      result_seq = SEQ_new()
      for i = 1, #bindings do result_seq[i] = bindings[i]["@"] end
    end
  end
  if expr.keepSingletonArray then
    if is_array(result_seq) and CONS[result_seq] and not is_seq(result_seq) then
      local s = SEQ_new()
      s[1] = result_seq
      result_seq = s
    end
    if type(result_seq) == "table" then KEEP[result_seq] = true end
  end
  if expr.group then
    result_seq = evaluate_group(expr.group, is_tuple and bindings or result_seq, env)
  end
  return result_seq
end

---------------------------------------------------------------- groups

local function reduce_tuple_stream(stream)
  if not is_array(stream) then return stream end
  local result = {}
  for k, v in pairs(stream[1]) do result[k] = v end
  for i = 2, #stream do
    for k, v in pairs(stream[i]) do result[k] = append(result[k], v) end
  end
  return result
end

function evaluate_group(expr, input, env)
  local result = values.new_object()
  local groups, order = {}, {}
  local reduce = input ~= nil and TUPLE[input] == true
  local n
  if not is_array(input) then
    input = seq_of(input)
    n = 1
  else
    n = #input
    if n == 0 then n = 1 end
  end
  local pairs_ = expr.lhs
  for i = 1, n do
    local item = input[i]
    local fenv = reduce and frame_from_tuple(env, item) or env
    for pi, pair in ipairs(pairs_) do
      local key = evaluate(pair[1], reduce and item["@"] or item, fenv)
      if key ~= nil and type(key) ~= "string" then
        throw("T1003", { position = expr.position, value = key })
      end
      if key ~= nil then
        local g = groups[key]
        if g then
          if g.index ~= pi then
            throw("D1009", { position = expr.position, value = key })
          end
          if g.owned then
            -- g.data is an array built here: append in place
            local data = g.data
            if is_array(item) then
              for j = 1, #item do data[#data + 1] = item[j] end
            elseif item ~= nil then
              data[#data + 1] = item
            end
          else
            g.data = append(g.data, item)
            g.owned = item ~= nil and is_array(g.data)
          end
        else
          groups[key] = { data = item, index = pi }
          order[#order + 1] = key
        end
      end
    end
  end
  for _, key in ipairs(order) do
    local entry = groups[key]
    local context, fenv = entry.data, env
    if reduce then
      local tuple = reduce_tuple_stream(entry.data)
      context = tuple["@"]
      tuple["@"] = nil
      fenv = frame_from_tuple(env, tuple)
    end
    local v = evaluate(pairs_[entry.index][2], context, fenv)
    if v ~= nil then values.set(result, key, v) end
  end
  return result
end
M.evaluate_group = evaluate_group

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
  if op == "and" then
    return (boolean(lhs) and boolean(evaluate(expr.rhs, input, env))) == true
  elseif op == "or" then
    return (boolean(lhs) or boolean(evaluate(expr.rhs, input, env))) == true
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
    local r = SEQ_new()
    local a = math.tointeger(lhs)
    for i = 1, math.tointeger(size) do r[i] = a + i - 1 end
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
      local v = input[key]
      if is_array(v) then
        results = append(results, values.flatten(v))
      else
        results[#results + 1] = v
      end
    end
  elseif is_array(input) then
    for i = 1, #input do
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
  if mt == array_mt then
    local result, n = SEQ_new(), 0
    for i = 1, #input do
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
handlers.parent = function(expr, _, env) return env[expr.slot.label] end
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
  return env[expr.value]
end

function evaluate(expr, input, env)
  local d = depth + 1
  if d > M.max_depth then
    throw("U1001", { message = "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.", position = expr.position })
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
    end
  end
  depth = d - 1
  return result
end

--- Raises U1001 when the running evaluation is past its CPU-time deadline
-- (called on every function application, so runaway loops stop).
function M.tick()
  ticks = ticks + 1
  if ticks >= 256 then
    ticks = 0
    if deadline and os.clock() > deadline then
      throw("U1001", { message = "Expression evaluation timeout: Check for infinite loop" })
    end
  end
end
M.evaluate = evaluate

--- Installs the function-application handlers (from stepflow.jsonata.apply).
function M.init(apply, string_fn)
  apply_mod = apply
  M.string = string_fn
  handlers["function"] = apply.evaluate_function
  handlers.partial = apply.evaluate_partial
  handlers.lambda = apply.evaluate_lambda
  handlers.apply = apply.evaluate_apply
  handlers.transform = apply.evaluate_transform
  handlers.regex = apply.evaluate_regex
end

return M
