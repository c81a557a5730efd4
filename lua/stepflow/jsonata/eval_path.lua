-- stepflow.jsonata.eval_path: location paths of the evaluator: steps and
-- sequence flattening, tuple streams for #, @ and %, predicates and
-- stages, order-by, and group-by object construction (jsonata-js 2.0.6).
local values = require("stepflow.jsonata.values")

local M = {}

local array_mt = values.array_mt
local SEQ_new, is_array, is_seq = values.new_seq, values.is_array, values.is_seq
local KEEP, TUPLE, CONS = values.KEEP, values.TUPLE, values.CONS
local boolean, is_number, append = values.boolean, values.is_number, values.append
local throw = values.throw
local tick = values.tick
local setmetatable, getmetatable, type = setmetatable, getmetatable, type
local floor = math.floor

--- Whether plain field paths take the fast path (false only to test it).
M.fast_paths = true

local evaluate  -- stepflow.jsonata.eval's evaluate (set by M.init)

--- Installs the evaluator's evaluate function.
function M.init(evaluate_fn)
  evaluate = evaluate_fn
end

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
          if item == nil then
            item = values.UNDEF
            values.undef_used = true
          end
          results[count] = item
        end
      end
    elseif boolean(res) then
      count = count + 1
      if item == nil then
        -- jsonata-js keeps the undefined item of an undefined input
        item = values.UNDEF
        values.undef_used = true
      end
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
      tick()
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
  -- like jsonata-js, the sorted copy does not carry the tuple-stream mark
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

-- Fast path for the leading plain field names of a path ($a.b.c[x > 1]):
-- walks while the value is an object, then hands over to the general
-- algorithm. Returns how many leading steps qualify (0: none).
local function simple_prefix(expr)
  if expr.keepSingletonArray or expr.group or expr.tuple then return 0 end
  local k = 0
  for i, step in ipairs(expr.steps) do
    if not simple_step(step, i == 1) then break end
    k = i
  end
  return k
end

local evaluate_steps

local function evaluate_path(expr, input, env)
  local steps = expr.steps
  local k = expr.simple
  if k == nil then
    k = M.fast_paths and simple_prefix(expr) or 0
    expr.simple = k
  end
  if k > 0 then
    local cur, i = input, 1
    local first = steps[1]
    if first.type == "variable" then
      cur = evaluate(first, input, env)
      i = 2
    elseif is_array(input) then
      return evaluate_steps(expr, input, #input, 1, env)
    end
    while i <= k do
      if cur == nil then return nil end
      if type(cur) ~= "table" then return nil end
      if is_array(cur) then
        if CONS[cur] then break end
        return evaluate_steps(expr, cur, #cur, i, env)
      elseif getmetatable(cur) == values.fn_mt then
        return nil
      end
      cur = cur[steps[i].value]
      i = i + 1
    end
    if i <= #steps then
      -- the value after step i - 1 is the input of step i: its items, or
      -- itself (an array built by a constructor is one item)
      if cur == nil then return nil end
      if is_array(cur) and not CONS[cur] then
        return evaluate_steps(expr, cur, #cur, i, env)
      end
      return evaluate_steps(expr, seq_of(cur), 1, i, env)
    end
    if type(cur) == "table" and is_seq(cur) then
      local copy = SEQ_new()
      for j = 1, #cur do copy[j] = cur[j] end
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
    if not is_tuple and (result_seq == nil
        or (type(result_seq) == "table" and is_array(result_seq) and #result_seq == 0)) then
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
    -- an empty tuple stream groups one undefined item, as a plain one does
    -- (jsonata-js fails there with a TypeError)
    local tuple = reduce and item ~= nil
    local fenv = tuple and frame_from_tuple(env, item) or env
    for pi, pair in ipairs(pairs_) do
      local key = evaluate(pair[1], tuple and item["@"] or item, fenv)
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
    if reduce and entry.data ~= nil then
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
M.evaluate_path = evaluate_path
M.seq_of = seq_of

return M
