-- stepflow.jsonata.lib_array: JSONata aggregate, array, object and
-- higher-order functions ($sum, $append, $sort, $keys, $spread, $merge,
-- $each, $sift, $map, $filter, $single, $reduce, $zip, ...).
local values = require("stepflow.jsonata.values")
local apply = require("stepflow.jsonata.apply")
local eval = require("stepflow.jsonata.eval")

local M = {}

local throw = values.throw
local is_array, is_object = values.is_array, values.is_object
local new_seq, new_array = values.new_seq, values.new_array
-- every loop that can run long or grow ticks (the evaluation's limits)
local tick = values.tick

function M.sum(a)
  if a == nil then return nil end
  local total = 0
  for i = 1, #a do total = total + a[i] end
  return total
end

function M.count(a)
  if a == nil then return 0 end
  return #a
end

function M.max(a)
  if a == nil or #a == 0 then return nil end
  local m = a[1]
  for i = 2, #a do if a[i] > m then m = a[i] end end
  return m
end

function M.min(a)
  if a == nil or #a == 0 then return nil end
  local m = a[1]
  for i = 2, #a do if a[i] < m then m = a[i] end end
  return m
end

function M.average(a)
  if a == nil or #a == 0 then return nil end
  return M.sum(a) / #a
end

function M.reverse(a)
  if a == nil then return nil end
  if #a <= 1 then return a end
  local r = new_array()
  local n = #a
  for i = 1, n do
    tick()
    r[i] = a[n + 1 - i]
  end
  return r
end

function M.shuffle(a)
  if a == nil then return nil end
  if #a <= 1 then return a end
  local r = new_array()
  for i = 1, #a do r[i] = a[i] end
  for i = #r, 2, -1 do
    tick()
    local j = math.random(i)
    r[i], r[j] = r[j], r[i]
  end
  return r
end

function M.distinct(a)
  if a == nil then return nil end
  if not is_array(a) or #a <= 1 then return a end
  local results = values.is_seq(a) and new_seq() or new_array()
  -- scalars by value in a set (1 and 1.0 are one key, as they are one
  -- number); arrays and objects by deep equality with the ones kept
  local seen, tables = {}, {}
  for i = 1, #a do
    tick()
    local v = a[i]
    local found = false
    if type(v) == "table" then
      for j = 1, #tables do
        tick()
        if values.deep_equal(v, tables[j]) then found = true break end
      end
      if not found then tables[#tables + 1] = v end
    elseif v == v then
      found = seen[v] ~= nil
      seen[v] = true
    end
    if not found then results[#results + 1] = v end
  end
  return results
end

local function js_truthy(v)
  if v == nil or v == false or v == values.null or v == 0 or v == "" then return false end
  if type(v) == "number" and v ~= v then return false end
  return true
end

function M.sort(a, fn, input, env)
  if a == nil then return nil end
  if #a <= 1 then return a end
  local swap
  if fn == nil then
    local nums, strs = values.is_array_of_numbers(a), values.is_array_of_strings(a)
    if not nums and not strs then throw("D3070", { index = 1 }) end
    swap = function(x, y) return x > y end
  else
    swap = function(x, y)
      return js_truthy(apply.apply(fn, { x, y, n = 2 }, input, env))
    end
  end
  return eval.merge_sort(a, swap)
end

function M.zip(args)
  local result = new_array()
  local n = args.n
  if n == 0 then return result end
  local len = math.huge
  for i = 1, n do
    local a = args[i]
    local l = is_array(a) and #a or 0
    if l < len then len = l end
  end
  for i = 1, len do
    local tuple = new_array()
    for j = 1, n do
      tick()
      tuple[j] = args[j][i]
    end
    result[i] = tuple
  end
  return result
end

function M.keys(arg)
  local result = new_seq()
  if is_array(arg) then
    local seen, out = {}, new_seq()
    for i = 1, #arg do
      local ks = M.keys(arg[i])
      for j = 1, #ks do
        tick()
        if not seen[ks[j]] then
          seen[ks[j]] = true
          out[#out + 1] = ks[j]
        end
      end
    end
    return out
  elseif is_object(arg) then
    local ks = values.keys(arg)
    for i = 1, #ks do result[i] = ks[i] end
  end
  return result
end

function M.spread(arg)
  if is_array(arg) then
    local result = new_seq()
    for i = 1, #arg do
      tick()
      result = values.append(result, M.spread(arg[i]))
    end
    return result
  elseif is_object(arg) then
    local result = new_seq()
    for _, k in ipairs(values.keys(arg)) do
      tick()
      local o = values.new_object()
      values.set(o, k, arg[k])
      result[#result + 1] = o
    end
    return result
  end
  return arg
end

function M.merge(a)
  if a == nil then return nil end
  local result = values.new_object()
  for i = 1, #a do
    local o = a[i]
    if is_object(o) then
      for _, k in ipairs(values.keys(o)) do
        tick()
        values.set(result, k, o[k])
      end
    end
  end
  return result
end

function M.each(obj, fn, input, env)
  local result = new_seq()
  if not is_object(obj) then return result end
  for _, k in ipairs(values.keys(obj)) do
    local v = apply.hof_call(fn, obj[k], k, obj, input, env)
    if v ~= nil then result[#result + 1] = v end
  end
  return result
end

function M.sift(obj, fn, input, env)
  if not is_object(obj) then return nil end
  local result = values.new_object()
  local any = false
  for _, k in ipairs(values.keys(obj)) do
    local v = obj[k]
    if values.boolean(apply.hof_call(fn, v, k, obj, input, env)) then
      values.set(result, k, v)
      any = true
    end
  end
  if not any then return nil end
  return result
end

function M.map(a, fn, input, env)
  if a == nil then return nil end
  local result = new_seq()
  for i = 1, #a do
    local r = apply.hof_call(fn, a[i], i - 1, a, input, env)
    if r ~= nil then result[#result + 1] = r end
  end
  return result
end

function M.filter(a, fn, input, env)
  if a == nil then return nil end
  local result = new_seq()
  for i = 1, #a do
    local r = apply.hof_call(fn, a[i], i - 1, a, input, env)
    if values.boolean(r) then result[#result + 1] = a[i] end
  end
  return result
end

function M.single(a, fn, input, env)
  if a == nil then return nil end
  local found, result = false, nil
  for i = 1, #a do
    local ok = true
    if fn ~= nil then ok = values.boolean(apply.hof_call(fn, a[i], i - 1, a, input, env)) end
    if ok then
      if found then throw("D3138", { index = i }) end
      result = a[i]
      found = true
    end
  end
  if not found then throw("D3139", {}) end
  return result
end

function M.reduce(a, fn, init, input, env)
  if a == nil then return nil end
  local arity = apply.arity(fn)
  if arity < 2 then throw("D3050", { index = 1 }) end
  local result, index
  if init == nil and #a > 0 then
    result, index = a[1], 2
  else
    result, index = init, 1
  end
  while index <= #a do
    local args = { result, a[index], n = 2 }
    if arity >= 3 then args[3] = index - 1 args.n = 3 end
    if arity >= 4 then args[4] = a args.n = 4 end
    result = apply.apply(fn, args, input, env)
    index = index + 1
  end
  return result
end

function M.type_of(v)
  if v == nil then return nil end
  if v == values.null then return "null" end
  local t = type(v)
  if t == "number" then return "number" end
  if t == "string" then return "string" end
  if t == "boolean" then return "boolean" end
  if is_array(v) then return "array" end
  if values.is_function(v) then return "function" end
  return "object"
end

--- AWS $partition(array, size).
function M.partition(a, size)
  if a == nil then return nil end
  if type(size) ~= "number" or size < 1 or size ~= math.floor(size) then
    throw("D3020", { value = size, index = 2,
      message = "The chunk size argument of $partition must be a positive integer" })
  end
  local result = new_array()
  local chunk
  for i = 1, #a do
    tick()
    if (i - 1) % size == 0 then
      chunk = new_array()
      result[#result + 1] = chunk
    end
    chunk[#chunk + 1] = a[i]
  end
  return result
end

local function toward_zero(x)
  if x >= 0 then return math.floor(x) end
  return math.ceil(x)
end

--- AWS $range(start, end, step): inclusive arithmetic sequence. Arguments
-- are truncated towards zero, as AWS does ($range(-1.7, 2) is
-- [-1, 0, 1, 2]); an undefined start or end gives undefined.
function M.range(first, last, step)
  if first == nil or last == nil then return nil end
  first, last = toward_zero(first), toward_zero(last)
  step = toward_zero(step or 1)
  if step == 0 then
    throw("D2014", { value = step, message = "The step argument of $range must not be zero" })
  end
  local count = (last - first) // step + 1
  local result = new_seq()
  if count <= 0 then return result end
  values.reserve(count * 16)
  local v = first
  for n = 1, count do
    values.tick()
    result[n] = math.tointeger(v) or v
    v = v + step
  end
  return result
end

return M
