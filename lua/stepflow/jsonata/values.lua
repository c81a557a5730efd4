-- stepflow.jsonata.values: the JSONata value model on Lua values.
-- Sequences, ordered object keys, function values, type tests, deep
-- equality, JSON text and JavaScript number formatting; and the limits of
-- the running evaluation, which every module that loops checks.
local json = require("stepflow.json")

local M = {}

local null = json.null
local array_mt = json.array_mt
M.null = null
M.array_mt = array_mt

-- Sequences (JSONata's internal result arrays) are JSON arrays listed in
-- this weak set; their flags live in weak side tables too, so a result
-- needs no conversion at the API boundary.
local weak = { __mode = "k" }
local SEQ = setmetatable({}, weak)
M.SEQ = SEQ                          -- sequence set (read-only outside)
M.KEEP = setmetatable({}, weak)     -- keepSingleton
M.TUPLE = setmetatable({}, weak)    -- tupleStream
M.OUTER = setmetatable({}, weak)    -- outerWrapper
M.CONS = setmetatable({}, weak)     -- array built by a constructor
--- Metatable of function values (lambdas, built-ins, partials, regexes).
local fn_mt = { __name = "jsonata.function" }
M.fn_mt = fn_mt

--- An undefined item inside a sequence. jsonata-js lets a filter keep an
-- undefined context (x.missing[true] over two items gives [undefined,
-- undefined]); such items read as undefined everywhere and leave the API
-- as null. `undef_used` tells that one was made in this evaluation.
local undef_mt = { __name = "jsonata.undefined" }
local UNDEF = setmetatable({}, undef_mt)
M.UNDEF = UNDEF
M.undef_used = false

-- Insertion order of the keys of objects built here.
local key_order = setmetatable({}, { __mode = "k" })

local type, getmetatable, setmetatable, rawequal = type, getmetatable, setmetatable, rawequal
local math_type, floor, huge = math.type, math.floor, math.huge

--- Raises a JSONata error table.
-- The function call being applied (position, name): an error raised
-- inside it without its own gets them, as jsonata-js's evaluateFunction
-- adds them. Set and restored by stepflow.jsonata.apply.
M.call_position, M.call_token = nil, nil
-- The outermost 'and'/'or' whose right side is being evaluated: jsonata-js
-- stamps its operator and position on any error raised there.
M.bool_op, M.bool_position = nil, nil

--- Adds the position and token that jsonata-js would give an error raised
-- here; returns e.
function M.decorate(e)
  if M.bool_op then
    e.token, e.position = M.bool_op, M.bool_position
  else
    if e.position == nil then e.position = M.call_position end
    if e.token == nil then e.token = M.call_token end
  end
  return e
end

function M.throw(code, fields)
  local e = fields or {}
  e.code = code
  error(M.decorate(e), 0)
end

---------------------------------------------------------------- limits

-- The running evaluation: its limits and clock. stepflow.jsonata enters
-- one for each evaluation and restores the previous one after it, so the
-- state is per evaluation, not configuration of the module:
--   { deadline = os.clock() seconds or nil, mem_base = KB in use at the
--     start, mem_limit = bytes or nil, clock = fn() -> ms, now = ms }
local budget = nil
local ticks = 0
local os_clock, gc = os.clock, collectgarbage

--- Raises U1001 when the running evaluation is past its deadline, or
-- holds (with `extra` bytes more) more memory than its limit. Memory is
-- the growth of Lua's heap since the evaluation began; a first trip runs
-- a full collection, so that only what is live counts.
local function check_limits(extra)
  local b = budget
  if b == nil then return end
  if b.deadline and os_clock() > b.deadline then
    M.throw("U1001", { message = "Expression evaluation timeout: Check for infinite loop" })
  end
  local limit = b.mem_limit
  if limit then
    local used = (gc("count") - b.mem_base) * 1024 + (extra or 0)
    if used > limit then
      gc("collect")
      used = (gc("count") - b.mem_base) * 1024 + (extra or 0)
      if used > limit then
        M.throw("U1001", { message = string.format("Expression evaluation exceeded the "
          .. "memory limit of %d MiB: Check for runaway growth", limit // 1048576) })
      end
    end
  end
end
M.check_limits = check_limits

--- One turn of a loop that can grow or run long (n turns: work of that
-- many steps, a copy of n items): the limits are checked every 1024.
function M.tick(n)
  ticks = ticks + (n or 1)
  if ticks >= 1024 then
    ticks = 0
    check_limits()
  end
end

--- Before building something of about `bytes` bytes at once (a string, an
-- array of known length): raises U1001 when it would not fit the limits.
function M.reserve(bytes)
  if bytes > 65536 then check_limits(bytes) end
end

--- Makes b the running evaluation's budget; returns what to give leave().
function M.enter(b)
  local saved_budget, saved_ticks = budget, ticks
  budget, ticks = b, 0
  return saved_budget, saved_ticks
end

--- Restores the budget enter() replaced.
function M.leave(saved_budget, saved_ticks)
  budget, ticks = saved_budget, saved_ticks
end

--- The running evaluation's time ($now, $millis): milliseconds since the
-- epoch, read from its clock once, so one evaluation sees one instant.
function M.now()
  local b = budget
  if b == nil then return os.time() * 1000 end
  local now = b.now
  if now == nil then
    now = b.clock and b.clock() or os.time() * 1000
    b.now = now
  end
  return now
end

--- A new sequence holding the given values (first count values).
function M.seq(...)
  local s = setmetatable({ ... }, array_mt)
  SEQ[s] = true
  return s
end

function M.new_seq()
  local s = setmetatable({}, array_mt)
  SEQ[s] = true
  return s
end

--- Marks an array as a sequence and returns it.
function M.as_seq(t)
  SEQ[t] = true
  return t
end

function M.new_array() return setmetatable({}, array_mt) end

--- True for arrays and sequences: json.is_array, the one rule (a plain
-- table with keys 1..n, as a Lua handler may return, is an array too).
local is_array = json.is_array
M.is_array = is_array

function M.is_seq(v)
  return SEQ[v] == true
end

function M.is_function(v)
  local t = type(v)
  return t == "function" or (t == "table" and getmetatable(v) == fn_mt)
end

--- True for JSON objects (tables that are not arrays, sequences or functions).
function M.is_object(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == nil and not is_array(v)
end

function M.is_number(v)
  if type(v) ~= "number" then return false end
  if v ~= v then return false end
  if v == huge or v == -huge then
    M.throw("D1001", { value = v })
  end
  return true
end

--- A new empty object that remembers key insertion order.
function M.new_object()
  local o = {}
  key_order[o] = {}
  return o
end

--- Sets key k of object o, recording insertion order.
function M.set(o, k, v)
  local ord = key_order[o]
  if o[k] == nil then
    if ord == nil then
      -- an object from outside: capture its current order first
      ord = M.keys(o)
      key_order[o] = ord
    end
    if v ~= nil then ord[#ord + 1] = k end
  end
  o[k] = v
  if v == nil and ord then
    for i = 1, #ord do
      if ord[i] == k then table.remove(ord, i) break end
    end
  end
end

local function is_index_key(k)
  return #k < 11 and k:match("^[1-9]%d*$") ~= nil or k == "0"
end

--- Keys of object o in JavaScript enumeration order (array-index keys first,
-- ascending, then insertion order; sorted for objects of unknown order).
function M.keys(o)
  local ord = key_order[o]
  local out, nums = {}, nil
  if ord then
    for i = 1, #ord do
      local k = ord[i]
      if o[k] ~= nil then
        if is_index_key(k) then
          nums = nums or {}
          nums[#nums + 1] = k
        else
          out[#out + 1] = k
        end
      end
    end
  else
    for k in pairs(o) do
      if type(k) == "string" then
        if is_index_key(k) then
          nums = nums or {}
          nums[#nums + 1] = k
        else
          out[#out + 1] = k
        end
      end
    end
    table.sort(out)
  end
  if nums then
    table.sort(nums, function(a, b) return tonumber(a) < tonumber(b) end)
    table.move(out, 1, #out, #nums + 1, nums)
    return nums
  end
  return out
end

--- Copies the key order of src onto dst (used by clone).
function M.copy_order(dst, keys)
  local ord = {}
  for i = 1, #keys do ord[i] = keys[i] end
  key_order[dst] = ord
end

---------------------------------------------------------------- numbers

--- JavaScript Number.prototype.toString for finite numbers.
local function js_number(n)
  if math_type(n) == "integer" then
    if n >= -2^53 and n <= 2^53 then return string.format("%d", n) end
    n = n + 0.0
  end
  if n ~= n then return "NaN" end
  if n == huge then return "Infinity" end
  if n == -huge then return "-Infinity" end
  if n == 0 then return "0" end
  if n == floor(n) and n > -9007199254740992 and n < 9007199254740992 then
    return string.format("%.0f", n)
  end
  local s
  for p = 0, 17 do
    s = string.format("%." .. p .. "e", n)
    if tonumber(s) == n then break end
  end
  -- s is d.ddde[+-]xx
  local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  if not sign then
    sign, int, exp = s:match("^(-?)(%d)e([-+]%d+)$")
    frac = ""
  end
  frac = frac:gsub("0+$", "")
  local digits = int .. frac
  local e = tonumber(exp)
  if e >= 21 or e <= -7 then
    local m = int
    if #frac > 0 then m = m .. "." .. frac end
    return sign .. m .. "e" .. (e >= 0 and "+" or "-") .. math.abs(e)
  end
  if e >= 0 then
    if #digits <= e + 1 then
      return sign .. digits .. string.rep("0", e + 1 - #digits)
    end
    return sign .. digits:sub(1, e + 1) .. "." .. digits:sub(e + 2)
  end
  return sign .. "0." .. string.rep("0", -e - 1) .. digits
end
M.js_number = js_number

--- The number rounded to 15 significant digits, as $string does.
function M.precision15(n)
  if math_type(n) == "integer" and n > -1e15 and n < 1e15 then return n end
  -- Number.prototype.toPrecision rounds exact ties away from zero; C's
  -- printf rounds them to even: detect a tie and nudge the magnitude up.
  local digits = string.format("%.30e", n):gsub("^-", ""):gsub("%.", ""):match("^(%d+)")
  if digits:sub(16, 16) == "5" and digits:sub(17):match("^0*$") then
    n = n + n * 2^-52
  end
  return tonumber(string.format("%.15g", n))
end

---------------------------------------------------------------- strings

--- JSON.stringify of a string.
local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function quote(s)
  s = s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end)
  -- lone surrogates (encoded as 3-byte sequences ED A0..BF xx)
  s = s:gsub("\237([\160-\191])([\128-\191])", function(b2, b3)
    local cp = 0xD000 + (b2:byte() - 0x80) * 64 + (b3:byte() - 0x80)
    return string.format("\\u%04x", cp)
  end)
  return '"' .. s .. '"'
end
M.quote = quote

--- JSON.stringify of a JSONata value; numbers via numfn; pretty indents by 2.
local function stringify(v, pretty, numfn, indent, out)
  M.tick()
  local t = type(v)
  if v == nil or rawequal(v, UNDEF) then
    out[#out + 1] = "null"
  elseif rawequal(v, null) then
    out[#out + 1] = "null"
  elseif t == "string" then
    out[#out + 1] = quote(v)
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then
      if numfn then M.throw("D1001", { value = v }) end
      out[#out + 1] = "null"
    else out[#out + 1] = js_number(numfn and numfn(v) or v) end
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t == "function" or (t == "table" and getmetatable(v) == fn_mt) then
    out[#out + 1] = '""'
  elseif t == "table" then
    local inner = pretty and (indent .. "  ") or ""
    local nl = pretty and "\n" or ""
    if M.is_array(v) then
      if #v == 0 then out[#out + 1] = "[]" return end
      out[#out + 1] = "[" .. nl
      for i = 1, #v do
        out[#out + 1] = inner
        local x = v[i]
        stringify(x, pretty, numfn, inner, out)
        if i < #v then out[#out + 1] = "," end
        out[#out + 1] = nl
      end
      out[#out + 1] = (pretty and indent or "") .. "]"
    else
      local keys = M.keys(v)
      local first = true
      out[#out + 1] = "{"
      for i = 1, #keys do
        local k = keys[i]
        local x = v[k]
        if x ~= nil and type(x) ~= "function" then
          out[#out + 1] = (first and "" or ",") .. nl .. inner .. quote(k) .. (pretty and ": " or ":")
          first = false
          stringify(x, pretty, numfn, inner, out)
        end
      end
      if first then out[#out] = "{}" return end
      out[#out + 1] = nl .. (pretty and indent or "") .. "}"
    end
  else
    out[#out + 1] = "null"
  end
end

function M.stringify(v, pretty, numfn)
  local out = {}
  stringify(v, pretty, numfn, "", out)
  return table.concat(out)
end

---------------------------------------------------------------- equality

-- JSONata's '=': json.equal (function values and undefined items equal
-- only themselves, as their metatables make them opaque).
M.deep_equal = json.equal

---------------------------------------------------------------- boolean

local function boolean(v)
  if v == nil then return nil end
  local t = type(v)
  if t == "boolean" then return v end
  if t == "function" then return false end
  if t == "string" then return #v > 0 end
  if t == "number" then return v ~= 0 and v == v end
  if rawequal(v, null) then return false end
  if rawequal(v, UNDEF) then return nil end
  if t == "table" then
    local mt = getmetatable(v)
    if is_array(v) then
      if #v == 1 then return boolean(v[1]) == true end
      for i = 1, #v do
        if boolean(v[i]) then return true end
      end
      return false
    end
    -- jsonata-js function values are objects (truthy); only a function
    -- passed as an argument is wrapped in a JavaScript closure (falsy), see
    -- $boolean and $not
    if mt == fn_mt then return true end
    return next(v) ~= nil
  end
  return false
end
M.boolean = boolean

---------------------------------------------------------------- misc

--- Flattens nested arrays into out (a plain Lua list).
function M.flatten(v, out)
  out = out or setmetatable({}, array_mt)
  M.tick()
  if M.is_array(v) then
    for i = 1, #v do M.flatten(v[i], out) end
  else
    out[#out + 1] = v
  end
  return out
end

--- fn.append: concatenation of two values as arrays (plain array result).
function M.append(a, b)
  if a == nil then return b end
  if b == nil then return a end
  local r = setmetatable({}, array_mt)
  local n
  if M.is_array(a) then
    M.tick(#a + 1)
    for i = 1, #a do r[i] = a[i] end
    n = #a
  else
    r[1] = a
    n = 1
  end
  if M.is_array(b) then
    for i = 1, #b do r[n + i] = b[i] end
  else
    r[n + 1] = b
  end
  return r
end

function M.is_array_of_strings(v)
  if not M.is_array(v) then return false end
  for i = 1, #v do
    if type(v[i]) ~= "string" then return false end
  end
  return true
end

function M.is_array_of_numbers(v)
  if not M.is_array(v) then return false end
  for i = 1, #v do
    if not M.is_number(v[i]) then return false end
  end
  return true
end

--- Deep copy with arrays made plain JSON arrays (JSON.parse(JSON.stringify)).
local function clone(v)
  if type(v) ~= "table" then return v end
  M.tick()
  local mt = getmetatable(v)
  if mt == fn_mt then return nil end
  if mt == undef_mt then return null end
  if is_array(v) then
    local r = setmetatable({}, array_mt)
    local n = 0
    for i = 1, #v do
      local c = clone(v[i])
      n = n + 1
      r[n] = c == nil and null or c
    end
    return r
  end
  local keys = M.keys(v)
  local r = {}
  local ks = {}
  for i = 1, #keys do
    local c = clone(v[keys[i]])
    if c ~= nil then
      r[keys[i]] = c
      ks[#ks + 1] = keys[i]
    end
  end
  M.copy_order(r, ks)
  return r
end
M.clone = clone

-- An infinity or NaN cannot leave an evaluation: it is no JSON number
-- (1e308 * 10, $sum([1e308, 1e308]), $round(1, 400)). D1001, the code
-- jsonata-js gives such a number where it checks one.
local function finite(x)
  if x ~= x or x == huge or x == -huge then M.throw("D1001", { value = x }) end
end

-- Makes a result JSON-like in place, as JSON.stringify would see it:
-- undefined items and functions inside arrays become null, functions in
-- objects are dropped; non-finite numbers raise D1001.
local function export_walk(v, seen)
  if seen[v] then return end
  seen[v] = true
  M.tick()
  local mt = getmetatable(v)
  if is_array(v) then
    for i = 1, #v do
      local x = v[i]
      if type(x) == "number" then finite(x)
      elseif type(x) == "table" then
        local xm = getmetatable(x)
        if xm == fn_mt or xm == undef_mt then
          v[i] = null
        else
          export_walk(x, seen)
        end
      elseif type(x) == "function" then
        v[i] = null
      end
    end
  elseif mt ~= fn_mt then
    local drop
    for k, x in pairs(v) do
      if type(x) == "number" then finite(x)
      elseif type(x) == "table" then
        local xm = getmetatable(x)
        if xm == fn_mt or xm == undef_mt then
          drop = drop or {}
          drop[#drop + 1] = k
        else
          export_walk(x, seen)
        end
      elseif type(x) == "function" then
        drop = drop or {}
        drop[#drop + 1] = k
      end
    end
    if drop then
      for _, k in ipairs(drop) do M.set(v, k, nil) end
    end
  end
end

--- The API form of a result: undefined items and nested functions as
-- JSON.stringify treats them (a function result itself is kept). skip
-- lists tables known to hold plain JSON (the input and bindings), which
-- are not walked.
function M.export(v, skip)
  if rawequal(v, UNDEF) then return nil end
  if type(v) == "number" then finite(v)
  elseif type(v) == "table" and getmetatable(v) ~= fn_mt and not (skip and skip[v]) then
    export_walk(v, skip or {})
  end
  return v
end

return M
