--- The 18 States.* intrinsic functions, as AWS (a Java service) runs them.
-- Each implementation takes the evaluated argument values `(a, n)` (an
-- array and its length) and returns the result or raises a
-- States.IntrinsicFailure error value. Numbers print as Java's
-- Double.toString does; "round to the nearest integer" is Math.round.
local errors = require("stepflow.errors")
local json = require("stepflow.json")
local ustr = require("stepflow.util.utf8")
-- The pure-Lua digests load when a definition first uses them (start-up
-- time of the command line).
local hash = setmetatable({}, { __index = function(t, k)
  local real = require("stepflow.util.digest")
  setmetatable(t, { __index = real })
  return real[k]
end })

local M = {}

local type, tostring, tonumber, pairs, setmetatable =
  type, tostring, tonumber, pairs, setmetatable
local mtype, floor, huge = math.type, math.floor, math.huge
local byte, sub, find, format, gsub = string.byte, string.sub, string.find, string.format, string.gsub
local concat, sort = table.concat, table.sort
local null, array_mt = json.null, json.array_mt

local INTRINSIC = errors.IntrinsicFailure

local function fail(name, cause)
  error(errors.new(INTRINSIC, "Invalid arguments in States." .. name .. ": " .. cause), 0)
end

-- A value no JSON document holds (a handler may have returned one).
local function not_json(v)
  error(errors.new(INTRINSIC, "Invalid arguments: a " .. type(v)
    .. " is not a JSON value"), 0)
end

local function new_array(t)
  return setmetatable(t, array_mt)
end

local is_array = json.is_array

local function is_object(v)
  return type(v) == "table" and not is_array(v)
end

-- Java's Double.toString: the shortest digits that read back exactly,
-- plain between 1e-3 and 1e7 ("1.0", "0.001"), else "d.dddE<n>".
local function java_double(x)
  if x ~= x then return "NaN" end
  if x == huge then return "Infinity" end
  if x == -huge then return "-Infinity" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s
  for p = 1, 17 do
    s = format("%." .. (p - 1) .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, d1, rest, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  exp = tonumber(exp)
  local digits = gsub(d1 .. rest, "0+$", "")
  if digits == "" then digits = "0" end
  local ax = x < 0 and -x or x
  if ax >= 1e-3 and ax < 1e7 then
    if exp >= 0 then
      local int = sub(digits, 1, exp + 1)
      int = int .. string.rep("0", exp + 1 - #int)
      local frac = sub(digits, exp + 2)
      if frac == "" then frac = "0" end
      return sign .. int .. "." .. frac
    end
    return sign .. "0." .. string.rep("0", -exp - 1) .. digits
  end
  local frac = sub(digits, 2)
  if frac == "" then frac = "0" end
  return sign .. sub(digits, 1, 1) .. "." .. frac .. "E" .. exp
end
M.java_double = java_double

local function number_text(v)
  if mtype(v) == "integer" then return tostring(v) end
  return java_double(v)
end
M.number_text = number_text

-- Java's Math.round: floor(x + 0.5).
local function java_round(x)
  if mtype(x) == "integer" then return x end
  return floor(x + 0.5)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys)
  return keys
end

-- Jackson-style compact JSON (what States.JsonToString prints). Lua
-- tables keep no key order, so object keys come out sorted.
local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
              ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function quote(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    return ESC[c] or (byte(c) < 32 and format("\\u%04X", byte(c))) or c
  end) .. '"'
end

local function to_json(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = quote(v)
  elseif t == "number" then
    out[#out + 1] = number_text(v)
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == null or v == nil then
    out[#out + 1] = "null"
  elseif is_array(v) then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      to_json(v[i], out)
    end
    out[#out + 1] = "]"
  elseif t == "table" then
    out[#out + 1] = "{"
    for i, k in ipairs(sorted_keys(v)) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(tostring(k))
      out[#out + 1] = ":"
      to_json(v[k], out)
    end
    out[#out + 1] = "}"
  else
    not_json(v)
  end
end

local function json_text(v)
  local out = {}
  to_json(v, out)
  return concat(out)
end
M.json_text = json_text

-- Java's toString of the parsed value (what States.Format interpolates):
-- strings raw, objects `{k=v, k2=v2}`, arrays `[a, b]`.
local function java_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return number_text(v) end
  if t == "boolean" then return v and "true" or "false" end
  if v == null or v == nil then return "null" end
  if is_array(v) then
    local parts = {}
    for i = 1, #v do parts[i] = java_text(v[i]) end
    return "[" .. concat(parts, ", ") .. "]"
  end
  if t == "table" then
    local parts = {}
    for i, k in ipairs(sorted_keys(v)) do
      parts[i] = tostring(k) .. "=" .. java_text(v[k])
    end
    return "{" .. concat(parts, ", ") .. "}"
  end
  not_json(v)
end
M.java_text = java_text

local deep_equal = json.equal

-- Length in UTF-16 code units (Java's String.length), for the 10,000
-- character limits.
local java_length = ustr.utf16_len

local MAX_STRING = 10000

local function want_string(name, v, what)
  if type(v) ~= "string" then fail(name, what .. " must be a string") end
  return v
end

local function want_array(name, v, what)
  if not is_array(v) then fail(name, what .. " must be an array") end
  return v
end

local function want_number(name, v, what)
  if type(v) ~= "number" then fail(name, what .. " must be a number") end
  return v
end

local function want_int32(name, v, what)
  -- the common case first: an integer in range needs no rounding
  if mtype(v) == "integer" and v >= -2147483648 and v <= 2147483647 then return v end
  local r = java_round(want_number(name, v, what))
  if r < -2147483648 or r > 2147483647 then
    fail(name, what .. " must be between -2147483648 and 2147483647")
  end
  return math.tointeger(r)
end

-- Functions ----------------------------------------------------------------

--- Function name -> { min args, max args (nil = any), impl(a, n) }.
M.table = {}
local F = M.table

-- Format's template is split into literal parts around `{}` placeholders;
-- a literal template arrives pre-split from the parser (so escaped braces
-- stay literal), a template from a path is split here.
local function split_template(s)
  local parts, pos = {}, 1
  while true do
    local i = find(s, "{}", pos, true)
    if not i then break end
    parts[#parts + 1] = sub(s, pos, i - 1)
    pos = i + 2
  end
  parts[#parts + 1] = sub(s, pos)
  return parts
end
M.split_template = split_template

--- Fills template parts (as split_template makes them) with values a[2..n].
function M.format_parts(parts, a, n)
  if #parts - 1 ~= n - 1 then
    fail("Format", "the template has " .. (#parts - 1)
      .. " placeholder(s) but " .. (n - 1) .. " value(s) were given")
  end
  local out = { parts[1] }
  for i = 2, n do
    out[#out + 1] = java_text(a[i])
    out[#out + 1] = parts[i]
  end
  return concat(out)
end

F.Format = { 1, nil, function(a, n)
  local tmpl = want_string("Format", a[1], "the template (first argument)")
  return M.format_parts(split_template(tmpl), a, n)
end }

F.StringToJson = { 1, 1, function(a)
  local s = want_string("StringToJson", a[1], "the argument")
  if not find(s, "%S") then return null end
  local ok, v = pcall(json.decode, s)
  if not ok then
    fail("StringToJson", "the string is not valid JSON: " .. tostring(v))
  end
  return v
end }

F.JsonToString = { 1, 1, function(a)
  return json_text(a[1])
end }

F.Array = { 0, nil, function(a, n)
  local t = {}
  for i = 1, n do t[i] = a[i] end
  return new_array(t)
end }

F.ArrayPartition = { 2, 2, function(a)
  local arr = want_array("ArrayPartition", a[1], "the first argument")
  local size = java_round(want_number("ArrayPartition", a[2], "the chunk size"))
  if size <= 0 then
    fail("ArrayPartition", "the chunk size must be a positive integer")
  end
  local out, chunk = {}
  for i = 1, #arr do
    if (i - 1) % size == 0 then
      chunk = new_array({})
      out[#out + 1] = chunk
    end
    chunk[#chunk + 1] = arr[i]
  end
  return new_array(out)
end }

F.ArrayContains = { 2, 2, function(a)
  local arr = want_array("ArrayContains", a[1], "the first argument")
  local v = a[2]
  for i = 1, #arr do
    if deep_equal(arr[i], v) then return true end
  end
  return false
end }

local MAX_RANGE = 1000

F.ArrayRange = { 3, 3, function(a)
  local first = java_round(want_number("ArrayRange", a[1], "the start"))
  local last = java_round(want_number("ArrayRange", a[2], "the end"))
  local step = java_round(want_number("ArrayRange", a[3], "the step"))
  if step == 0 then fail("ArrayRange", "the step must not be zero") end
  local count = 0
  if (step > 0 and last >= first) or (step < 0 and last <= first) then
    count = (last - first) // step + 1
  end
  if count > MAX_RANGE then
    fail("ArrayRange", "the array cannot contain more than " .. MAX_RANGE
      .. " items, size: " .. count)
  end
  local out = {}
  for i = 1, count do out[i] = math.tointeger(first + (i - 1) * step) end
  return new_array(out)
end }

F.ArrayGetItem = { 2, 2, function(a)
  local arr = want_array("ArrayGetItem", a[1], "the first argument")
  local idx = want_number("ArrayGetItem", a[2], "the index")
  if mtype(idx) ~= "integer" then
    idx = math.tointeger(idx)
    if not idx then fail("ArrayGetItem", "the index must be an integer") end
  end
  if idx < 0 then fail("ArrayGetItem", "the index must not be negative") end
  if idx >= #arr then
    fail("ArrayGetItem", "the index " .. idx .. " is out of bounds for an array of "
      .. #arr .. " item(s)")
  end
  return arr[idx + 1]
end }

F.ArrayLength = { 1, 1, function(a)
  return #want_array("ArrayLength", a[1], "the argument")
end }

F.ArrayUnique = { 1, 1, function(a)
  local arr = want_array("ArrayUnique", a[1], "the argument")
  local out, seen = {}, {}
  for i = 1, #arr do
    local v = arr[i]
    local dup = false
    if type(v) == "table" and v ~= null then
      for j = 1, #out do
        if deep_equal(out[j], v) then dup = true; break end
      end
    else
      -- Scalars by value; integers and floats of equal value are one key.
      local key = v
      if type(v) == "number" and v == v then key = v + 0.0 end
      if seen[key] then dup = true else seen[key] = true end
    end
    if not dup then out[#out + 1] = v end
  end
  return new_array(out)
end }

local function check_length(name, s)
  if java_length(s) > MAX_STRING then
    fail(name, "the input string must not exceed " .. MAX_STRING .. " characters")
  end
end

F.Base64Encode = { 1, 1, function(a)
  local s = want_string("Base64Encode", a[1], "the argument")
  check_length("Base64Encode", s)
  return hash.base64_encode(s)
end }

-- Java's `new String(bytes, UTF_8)`: bytes that are not well-formed UTF-8
-- become U+FFFD, one for each maximal ill-formed subpart (a lead byte and
-- the continuation bytes it accepts), as the JDK decoder replaces them;
-- the JDK decodes an encoded surrogate (ED A0..BF xx) first and replaces
-- its three bytes with one U+FFFD. Decoded base64 is arbitrary bytes, and
-- a state's output must be text.
local REPLACEMENT = "\239\191\189"

-- lead byte -> { sequence length, lowest and highest second byte }
local function lead_info(b)
  if b >= 0xC2 and b <= 0xDF then return 2, 0x80, 0xBF end
  if b == 0xE0 then return 3, 0xA0, 0xBF end
  if b >= 0xE1 and b <= 0xEF then return 3, 0x80, 0xBF end
  if b == 0xF0 then return 4, 0x90, 0xBF end
  if b == 0xF4 then return 4, 0x80, 0x8F end
  if b >= 0xF1 and b <= 0xF3 then return 4, 0x80, 0xBF end
  return nil
end

local function java_utf8(s)
  if utf8.len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b = byte(s, i)
    if b < 0x80 then
      out[#out + 1] = sub(s, i, i)
      i = i + 1
    else
      local len, lo, hi = lead_info(b)
      local ok = 0 -- continuation bytes that fit after the lead
      if len then
        for k = 1, len - 1 do
          local c = byte(s, i + k)
          local clo, chi = 0x80, 0xBF
          if k == 1 then clo, chi = lo, hi end
          if not c or c < clo or c > chi then break end
          ok = k
        end
      end
      if len and ok == len - 1 and not (b == 0xED and byte(s, i + 1) >= 0xA0) then
        out[#out + 1] = sub(s, i, i + len - 1)
      else
        out[#out + 1] = REPLACEMENT
      end
      i = i + 1 + ok
    end
  end
  return concat(out)
end
M.java_utf8 = java_utf8

F.Base64Decode = { 1, 1, function(a)
  local s = want_string("Base64Decode", a[1], "the argument")
  check_length("Base64Decode", s)
  local out = hash.base64_decode(s)
  if not out then fail("Base64Decode", "the argument is not valid base64") end
  return java_utf8(out)
end }

local HASHES = {
  ["MD5"] = "md5", ["SHA-1"] = "sha1", ["SHA-256"] = "sha256",
  ["SHA-384"] = "sha384", ["SHA-512"] = "sha512",
}

F.Hash = { 2, 2, function(a)
  local data = want_string("Hash", a[1], "the input data")
  check_length("Hash", data)
  local alg = want_string("Hash", a[2], "the algorithm")
  local name = HASHES[alg]
  if not name then
    fail("Hash", "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, got '"
      .. alg .. "'")
  end
  return hash[name](data)
end }

F.JsonMerge = { 3, 3, function(a)
  local left, right, deep = a[1], a[2], a[3]
  if not is_object(left) or not is_object(right) then
    fail("JsonMerge", "the first two arguments must be JSON objects")
  end
  if deep ~= false then
    fail("JsonMerge", "the third argument must be false (only shallow merge is supported)")
  end
  local out = {}
  for k, v in pairs(left) do out[k] = v end
  for k, v in pairs(right) do out[k] = v end
  return out
end }

-- java.util.Random, so that a seeded MathRandom is repeatable the way
-- Java's `new Random(seed).nextInt(bound)` is.
local MULT, ADDEND, MASK48 = 0x5DEECE66D, 0xB, (1 << 48) - 1

local function java_next_int(seed, bound)
  local state = (seed ~ MULT) & MASK48
  local function next31()
    state = (state * MULT + ADDEND) & MASK48
    return state >> 17
  end
  if bound & (bound - 1) == 0 then
    return (bound * next31()) >> 31
  end
  while true do
    local bits = next31()
    local val = bits % bound
    -- Java retries while bits - val + (bound - 1) overflows an int.
    if bits - val + (bound - 1) < 2147483648 then return val end
  end
end
M.java_next_int = java_next_int

F.MathRandom = { 2, 3, function(a, n)
  local lo = want_int32("MathRandom", a[1], "the start")
  local hi = want_int32("MathRandom", a[2], "the end")
  if hi <= lo then fail("MathRandom", "the end must be greater than the start") end
  if n == 3 then
    local seed = math.tointeger(java_round(want_number("MathRandom", a[3], "the seed")))
    if not seed then fail("MathRandom", "the seed must be a 64-bit integer") end
    return lo + java_next_int(seed, hi - lo)
  end
  return math.random(lo, hi - 1)
end }

F.MathAdd = { 2, 2, function(a)
  local x, y = a[1], a[2]
  -- two integers in range, the common case, need no conversion
  if mtype(x) == "integer" and mtype(y) == "integer" and x >= -2147483648 and x <= 2147483647
     and y >= -2147483648 and y <= 2147483647 then
    return x + y
  end
  x = want_int32("MathAdd", a[1], "the first argument")
  y = want_int32("MathAdd", a[2], "the second argument")
  return x + y
end }

-- java.util.StringTokenizer: every character of the delimiter string
-- separates tokens, and empty tokens are dropped.
F.StringSplit = { 2, 2, function(a)
  local s = want_string("StringSplit", a[1], "the first argument")
  local delims = want_string("StringSplit", a[2], "the delimiter")
  local out = {}
  if delims == "" then
    if s ~= "" then out[1] = s end
    return new_array(out)
  end
  local set = {}
  -- a lone surrogate escape in a literal delimiter is a character too
  for _, ch in ipairs(ustr.chars(delims)) do set[ch] = true end
  local start, i, len = 1, 1, #s
  local decode_at = ustr.decode_at
  while i <= len do
    local _, w = decode_at(s, i, len)
    if set[sub(s, i, i + w - 1)] then
      if i > start then out[#out + 1] = sub(s, start, i - 1) end
      start = i + w
    end
    i = i + w
  end
  if start <= len then out[#out + 1] = sub(s, start) end
  return new_array(out)
end }

F.UUID = { 0, 0, function()
  local r = math.random
  return format("%08x-%04x-4%03x-%x%03x-%012x", r(0, 0xffffffff), r(0, 0xffff),
    r(0, 0xfff), r(8, 11), r(0, 0xfff), r(0, 0xffffffffffff))
end }

return M
