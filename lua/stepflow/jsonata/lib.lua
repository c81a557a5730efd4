-- stepflow.jsonata.lib: the JSONata 2.0.6 function library as native
-- function values with their signatures (no $eval, as in AWS Step
-- Functions), plus the AWS additions $partition, $range, $hash, $random,
-- $uuid and $parse.
local values = require("stepflow.jsonata.values")
local apply = require("stepflow.jsonata.apply")
local str = require("stepflow.jsonata.lib_string")
local arr = require("stepflow.jsonata.lib_array")
local hash = require("stepflow.jsonata.hash")

local M = {}

local throw = values.throw

-- The picture-string modules load when an expression first uses them
-- (start-up time of the command line).
local function lazy(name)
  local mod
  return function()
    mod = mod or require(name)
    return mod
  end
end
local datetime = lazy("stepflow.jsonata.datetime")
local numfmt = lazy("stepflow.jsonata.numfmt")

-- Calls a picture-string support function; a Lua error from it (an
-- argument it cannot take) becomes a JSONata T0410 error, its message
-- without the Lua file and line.
local function support(fn, name, ...)
  local ok, r = pcall(fn, ...)
  if ok then return r end
  if type(r) == "table" then error(values.decorate(r), 0) end
  throw("T0410", { token = name, message = "Argument of function " .. name
    .. " cannot be handled: " .. tostring(r):gsub("^[^:%s]+%.lua:%d+: ", "") })
end

-- A required argument that is undefined (the signature lets undefined
-- through; jsonata-js then fails in JavaScript): T0410, naming it.
local function required(v, index, name)
  if v == nil then throw("T0410", { index = index, token = name }) end
  return v
end

-- An integer-picture function (format_integer, parse_integer): jsonata-js
-- keeps them with the date/time pictures, so does stepflow.jsonata.datetime.
local function integer_fn(name)
  return datetime()[name]
end


---------------------------------------------------------------- numeric

local function js_round_half_up(x)
  return math.floor(x + 0.5)
end

-- +(mantissa + "e" + exponent) of jsonata-js: NaN when the text is not a
-- number (a fractional or huge precision).
local function shift(n, places)
  local s = values.js_number(n)
  local mant, exp = s:match("^(.-)e([-+]?%d+)$")
  local text
  if mant then
    text = mant .. "e" .. values.js_number(tonumber(exp) + places)
  else
    text = s .. "e" .. values.js_number(places)
  end
  if not text:match("^%-?[%d.]+e[-+]?%d+$") then return 0 / 0 end
  return tonumber(text) or 0 / 0
end

function M.round(arg, precision)
  if arg == nil then return nil end
  if precision ~= nil and precision ~= 0 then arg = shift(arg, precision) end
  if arg ~= arg then return arg end
  local result = js_round_half_up(arg)
  local diff = result - arg
  if math.abs(diff) == 0.5 and math.abs(math.fmod(result, 2)) == 1 then
    result = result - 1
  end
  if precision ~= nil and precision ~= 0 then result = shift(result, -precision) end
  if result == 0 then result = 0 end
  if math.type(result) == "float" and result == math.floor(result) and math.abs(result) < 2^53 then
    result = math.tointeger(result)
  end
  return result
end

local function number(arg)
  if arg == nil then return nil end
  local t = type(arg)
  if t == "number" then return arg end
  if t == "string" then
    if arg:match("^%-?%d+%.?%d*[eE][-+]?%d+$") and not arg:match("%.[eE]") or arg:match("^%-?%d+$")
      or arg:match("^%-?%d+%.%d+$") then
      local v = tonumber(arg)
      if v and v == v and v ~= math.huge and v ~= -math.huge then return v end
    end
    local hex = arg:match("^0[xX](%x+)$")
    if hex then return tonumber(hex, 16) end
    local oct = arg:match("^0[oO]([0-7]+)$")
    if oct then return tonumber(oct, 8) end
    local bin = arg:match("^0[bB]([01]+)$")
    if bin then return tonumber(bin, 2) end
  end
  if arg == true then return 1 end
  if arg == false then return 0 end
  throw("D3030", { value = arg, index = 1 })
end

local function format_base(value, radix)
  if value == nil then return nil end
  radix = radix or 10
  if radix ~= radix or radix < 2 or radix > 36 then throw("D3100", { value = radix }) end
  -- Number#toString of an infinity or NaN, in any radix
  if value ~= value or value == math.huge or value == -math.huge then
    return values.js_number(value)
  end
  value = M.round(value)
  radix = math.floor(radix)
  local n = math.tointeger(value) or value
  if radix == 10 then return values.js_number(n) end
  local neg = n < 0
  if neg then n = -n end
  local digits = "0123456789abcdefghijklmnopqrstuvwxyz"
  local out = {}
  if n == 0 then out[1] = "0" end
  while n > 0 do
    local d = math.floor(math.fmod(n, radix))
    table.insert(out, 1, digits:sub(d + 1, d + 1))
    n = (n - d) // radix
  end
  return (neg and "-" or "") .. table.concat(out)
end

---------------------------------------------------------------- random

local function seeded_random(seed)
  -- xorshift64* seeded from the JSON text of the seed
  local s = 0x9E3779B97F4A7C15
  local text = type(seed) == "string" and seed or values.stringify(seed)
  for i = 1, #text do s = (s ~ text:byte(i)) * 0x100000001B3 end
  s = s ~ (s >> 33)
  s = s * 0xFF51AFD7ED558CCD
  s = s ~ (s >> 33)
  return ((s >> 11) & 0x1FFFFFFFFFFFFF) / 2^53
end

local function uuid()
  local b = {}
  for i = 1, 16 do b[i] = math.random(0, 255) end
  b[7] = (b[7] & 0x0F) | 0x40
  b[9] = (b[9] & 0x3F) | 0x80
  local h = {}
  for i = 1, 16 do h[i] = string.format("%02x", b[i]) end
  return table.concat(h, "", 1, 4) .. "-" .. table.concat(h, "", 5, 6) .. "-"
    .. table.concat(h, "", 7, 8) .. "-" .. table.concat(h, "", 9, 10) .. "-"
    .. table.concat(h, "", 11, 16)
end

local function parse_json(text)
  if text == nil then return nil end
  local json = require("stepflow.json")
  local ok, v = pcall(json.decode, text)
  if not ok then
    throw("D3001", { value = text, message = "$parse() was given text that is not valid JSON" })
  end
  return v
end

---------------------------------------------------------------- registry

local defs = {}

local function def(name, sig, arity, f)
  local impl
  if arity == 0 then
    impl = function(_, i, e) return f(i, e) end
  elseif arity == 1 then
    impl = function(a, i, e) return f(a[1], i, e) end
  elseif arity == 2 then
    impl = function(a, i, e) return f(a[1], a[2], i, e) end
  elseif arity == 3 then
    impl = function(a, i, e) return f(a[1], a[2], a[3], i, e) end
  else
    impl = function(a, i, e) return f(a[1], a[2], a[3], a[4], i, e) end
  end
  defs[name] = apply.native(name, sig, arity, impl)
end

local function unop(f)
  return function(x) if x == nil then return nil end return f(x) end
end

-- aggregates
def("sum", "<a<n>:n>", 1, arr.sum)
def("count", "<a:n>", 1, arr.count)
def("max", "<a<n>:n>", 1, arr.max)
def("min", "<a<n>:n>", 1, arr.min)
def("average", "<a<n>:n>", 1, arr.average)
-- strings
def("string", "<x-b?:s>", 2, function(x, p) return str.string(x, p == true) end)
def("substring", "<s-nn?:s>", 3, str.substring)
def("substringBefore", "<s-s:s>", 2, function(s, c)
  if s == nil then return nil end
  if c == nil then c = "undefined" end  -- String.prototype.indexOf(undefined)
  local i = s:find(c, 1, true)
  if i then return s:sub(1, i - 1) end
  return s
end)
def("substringAfter", "<s-s:s>", 2, function(s, c)
  if s == nil then return nil end
  if c == nil then c = "undefined" end
  local i = s:find(c, 1, true)
  if i then return s:sub(i + #c) end
  return s
end)
def("lowercase", "<s-:s>", 1, unop(str.lowercase))
def("uppercase", "<s-:s>", 1, unop(str.uppercase))
def("length", "<s-:n>", 1, unop(str.ulen))
def("trim", "<s-:s>", 1, unop(str.trim))
def("pad", "<s-ns?:s>", 3, str.pad)
def("match", "<s-f<s:o>n?:a<o>>", 3, str.match)
def("contains", "<s-(sf):b>", 2, str.contains)
def("replace", "<s-(sf)(sf)n?:s>", 4, str.replace)
def("split", "<s-(sf)n?:a<s>>", 3, str.split)
def("join", "<a<s>s?:s>", 2, str.join)
def("formatNumber", "<n-so?:s>", 3, function(n, pic, opts)
  if n == nil then return nil end
  required(pic, 2, "formatNumber")
  return support(numfmt().format_number, "formatNumber", n, pic, opts)
end)
def("formatBase", "<n-n?:s>", 2, format_base)
def("formatInteger", "<n-s:s>", 2, function(n, pic)
  if n == nil then return nil end
  required(pic, 2, "formatInteger")
  return support(integer_fn("format_integer"), "formatInteger", n, pic)
end)
def("parseInteger", "<s-s:n>", 2, function(s, pic)
  if s == nil then return nil end
  required(pic, 2, "parseInteger")
  return support(integer_fn("parse_integer"), "parseInteger", s, pic)
end)
-- numbers
def("number", "<(nsb)-:n>", 1, number)
def("floor", "<n-:n>", 1, unop(math.floor))
def("ceil", "<n-:n>", 1, unop(math.ceil))
def("round", "<n-n?:n>", 2, M.round)
def("abs", "<n-:n>", 1, unop(math.abs))
def("sqrt", "<n-:n>", 1, unop(function(x)
  if x < 0 then throw("D3060", { value = x, index = 1 }) end
  return math.sqrt(x)
end))
def("power", "<n-n:n>", 2, function(b, e)
  if b == nil then return nil end
  if e == nil then throw("D3061", { value = b }) end  -- Math.pow(b, undefined) is NaN
  local r = (b + 0.0) ^ e
  if r ~= r or r == math.huge or r == -math.huge then
    throw("D3061", { value = b, exp = e })
  end
  return r
end)
def("random", "<j?:n>", 1, function(seed)
  if seed ~= nil then return seeded_random(seed) end
  return math.random()
end)
-- booleans
-- A function argument reaches jsonata-js natives wrapped in a JavaScript
-- closure, which is falsy (a function value elsewhere is truthy).
local function arg_boolean(x)
  if values.is_function(x) then return false end
  return values.boolean(x)
end
def("boolean", "<x-:b>", 1, arg_boolean)
def("not", "<x-:b>", 1, function(x)
  if x == nil then return nil end
  return not arg_boolean(x)
end)
-- higher order
def("map", "<af>", 2, arr.map)
def("filter", "<af>", 2, arr.filter)
def("single", "<af?>", 2, arr.single)
def("reduce", "<afj?:j>", 3, arr.reduce)
def("sift", "<o-f?:o>", 2, function(o, f, i, e)
  if o ~= nil then required(f, 2, "sift") end
  return arr.sift(o, f, i, e)
end)
defs.zip = apply.native("zip", "<a+>", 0, function(a) return arr.zip(a) end)
-- objects and arrays
def("keys", "<x-:a<s>>", 1, arr.keys)
def("lookup", "<x-s:x>", 2, function(o, k)
  return require("stepflow.jsonata.eval").lookup(o, k)
end)
def("append", "<xx:a>", 2, values.append)
def("exists", "<x:b>", 1, function(x) return x ~= nil end)
def("spread", "<x-:a<o>>", 1, arr.spread)
def("merge", "<a<o>:o>", 1, arr.merge)
def("reverse", "<a:a>", 1, arr.reverse)
def("each", "<o-f:a>", 2, arr.each)
def("error", "<s?:x>", 1, function(msg)
  throw("D3137", { message = msg or "$error() function evaluated" })
end)
def("assert", "<bs?:x>", 2, function(cond, msg)
  if not cond then
    throw("D3141", { message = msg or "$assert() statement failed" })
  end
  return nil
end)
def("type", "<x:s>", 1, arr.type_of)
def("sort", "<af?:a>", 2, arr.sort)
def("shuffle", "<a:a>", 1, arr.shuffle)
def("distinct", "<x:x>", 1, arr.distinct)
def("base64encode", "<s-:s>", 1, str.base64encode)
def("base64decode", "<s-:s>", 1, str.base64decode)
def("encodeUrlComponent", "<s-:s>", 1, str.encode_url_component)
def("encodeUrl", "<s-:s>", 1, str.encode_url)
def("decodeUrlComponent", "<s-:s>", 1, str.decode_url_component)
def("decodeUrl", "<s-:s>", 1, str.decode_url)
def("clone", "<(oa)-:o>", 1, values.clone)
-- date and time
def("toMillis", "<s-s?:n>", 2, function(s, pic)
  if s == nil then return nil end
  -- a picture without a date takes it from the evaluation's clock, like $now()
  return support(datetime().to_millis, "toMillis", s, pic, values.now())
end)
def("fromMillis", "<n-s?s?:s>", 3, function(ms, pic, tz)
  if ms == nil then return nil end
  if ms ~= ms or ms == math.huge or ms == -math.huge then throw("D1001", { value = ms }) end
  return support(datetime().from_millis, "fromMillis", ms, pic, tz)
end)
def("now", "<s?s?:s>", 2, function(pic, tz)
  return support(datetime().from_millis, "now", values.now(), pic, tz)
end)
def("millis", "<:n>", 0, function() return values.now() end)
-- AWS Step Functions additions
def("partition", "<an:a>", 2, arr.partition)
def("range", "<nnn?:a>", 3, arr.range)
def("hash", "<s-s?:s>", 2, function(data, alg)
  if data == nil then return nil end
  return support(hash.hex, "hash", data, alg or "SHA-256")
end)
def("uuid", "<:s>", 0, uuid)
def("parse", "<s-:j>", 1, parse_json)

--- The root frame holding every built-in function.
function M.frame()
  local f = {}
  for k, v in pairs(defs) do f[k] = v end
  f.__index = f
  return f
end

M.defs = defs
return M
