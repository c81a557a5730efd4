-- stepflow.jsonata.lib_string: JSONata string functions ($string,
-- $substring, $pad, $match, $replace, $split, $contains, $join, ...).
-- Strings are UTF-8; lengths and offsets count code points.
local values = require("stepflow.jsonata.values")
local apply = require("stepflow.jsonata.apply")
local ustr = require("stepflow.util.utf8")

local M = {}

local throw = values.throw
local is_function = values.is_function

--- fn.string: JSON text of a value (numbers to 15 significant digits).
function M.string(arg, prettify)
  if arg == nil then return nil end
  local t = type(arg)
  if t == "string" then return arg end
  if is_function(arg) then return "" end
  if t == "number" then
    if arg ~= arg or arg == math.huge or arg == -math.huge then
      throw("D3001", { value = arg })
    end
    return values.js_number(values.precision15(arg))
  end
  if values.is_array(arg) and values.OUTER[arg] then arg = arg[1] end
  return values.stringify(arg, prettify, values.precision15)
end

local chars, ulen = ustr.chars, ustr.len
M.ulen = ulen

-- JavaScript's ToIntegerOrInfinity: NaN is 0, infinities stay.
local function trunc(n)
  if n ~= n then return 0 end
  if n >= 0 then return math.floor(n) end
  return math.ceil(n)
end

--- JavaScript Array.prototype.slice index normalisation.
local function slice(list, start, stop)
  local len = #list
  start = trunc(start)
  if start < 0 then start = math.max(len + start, 0) end
  if stop == nil then stop = len
  else
    stop = trunc(stop)
    if stop < 0 then stop = math.max(len + stop, 0) end
  end
  if stop > len then stop = len end
  if start >= stop then return "" end
  return table.concat(list, "", math.tointeger(start) + 1, math.tointeger(stop))
end

function M.substring(str, start, length)
  if str == nil then return nil end
  if start == nil then
    -- JavaScript: slice(undefined, NaN) is empty, slice(undefined) is all
    if length ~= nil then return "" end
    return str
  end
  local list = chars(str)
  local len = #list
  start = trunc(start)
  if len + start < 0 then start = 0 end
  if length ~= nil then
    if length ~= length or length <= 0 then return "" end
    local stop = start >= 0 and start + length or len + start + length
    return slice(list, start, stop)
  end
  return slice(list, start)
end

local casemap = require("stepflow.jsonata.casemap")

-- A cased letter, roughly: ASCII letters and letters outside ASCII.
local function is_letter(c)
  return c ~= nil and (c:match("^%a$") ~= nil or c:byte() >= 0xC3)
end

-- Capital sigma at the end of a word lowers to final sigma (Final_Sigma).
local function final_sigma(s)
  local chars_ = chars(s)
  for i, c in ipairs(chars_) do
    if c == "\206\163" and is_letter(chars_[i - 1]) and not is_letter(chars_[i + 1]) then
      chars_[i] = "\207\130"
    end
  end
  return table.concat(chars_)
end

function M.lowercase(s)
  if s:find("\206\163", 1, true) then s = final_sigma(s) end
  s = s:lower()
  if s:find("[\128-\255]") then s = s:gsub(utf8.charpattern, casemap.lower()) end
  return s
end

function M.uppercase(s)
  s = s:upper()
  if s:find("[\128-\255]") then s = s:gsub(utf8.charpattern, casemap.upper()) end
  return s
end

function M.trim(s)
  s = s:gsub("[ \t\n\r]+", " ")
  if s:sub(1, 1) == " " then s = s:sub(2) end
  if s:sub(-1) == " " then s = s:sub(1, -2) end
  return s
end

function M.pad(str, width, char)
  if str == nil then return nil end
  -- undefined or NaN: no padding, as JavaScript's NaN > 0 is false
  if width == nil or width ~= width then return str end
  if char == nil or char == "" then char = " " end
  width = trunc(width)
  local pad_len = math.abs(width) - ulen(str)
  if pad_len <= 0 then return str end
  -- $pad('x', 1e15): the limits refuse it before string.rep tries
  values.reserve(pad_len * #char)
  pad_len = math.tointeger(pad_len) or pad_len
  local padding = char:rep(pad_len)
  if ulen(char) > 1 then padding = M.substring(padding, 0, pad_len) end
  if width > 0 then return str .. padding end
  return padding .. str
end

---------------------------------------------------------------- matchers

local MATCH_POS = apply.MATCH_POS

local byte_offset = ustr.byte_offset

-- Byte range [start, stop) of a match object.
local function match_range(str, m)
  local pos = MATCH_POS[m]
  if pos then return pos[1], pos[2] end
  local s = byte_offset(str, m.start or 0)
  local e = m["end"] ~= nil and byte_offset(str, m["end"]) or s + #(m.match or "")
  return s, e
end

local function check_match(m)
  if m ~= nil and not (values.is_object(m) and (type(m.start) == "number"
    or type(m["end"]) == "number" or values.is_array(m.groups) or is_function(m.next))) then
    throw("T1010", {})
  end
  return m
end

local function first_match(matcher, str, input, env)
  return check_match(apply.apply(matcher, { str, n = 1 }, input, env))
end

local function next_match(m, input, env)
  local nx = m and m.next
  if nx == nil then return nil end
  return check_match(apply.apply(nx, { n = 0 }, input, env))
end

function M.contains(str, token, input, env)
  if str == nil then return nil end
  if type(token) == "string" then
    return str:find(token, 1, true) ~= nil
  end
  return first_match(token, str, input, env) ~= nil
end

function M.match(str, regex, limit, input, env)
  if str == nil then return nil end
  if limit ~= nil and limit < 0 then throw("D3040", { value = limit, index = 3 }) end
  local result = values.new_seq()
  if limit == nil or limit > 0 then
    local count = 0
    local m = first_match(regex, str, input, env)
    while m ~= nil and (limit == nil or count < limit) do
      local o = values.new_object()
      values.set(o, "match", m.match)
      values.set(o, "index", m.start)
      values.set(o, "groups", m.groups)
      result[#result + 1] = o
      m = next_match(m, input, env)
      count = count + 1
    end
  end
  return result
end

local function substitute(replacement, m)
  local groups = m.groups or {}
  local ng = #groups
  local out = {}
  local position = 1
  local len = #replacement
  local index = replacement:find("$", position, true)
  while index and position <= len do
    out[#out + 1] = replacement:sub(position, index - 1)
    position = index + 1
    local d = replacement:sub(position, position)
    if d == "$" then
      out[#out + 1] = "$"
      position = position + 1
    elseif d == "0" then
      out[#out + 1] = m.match
      position = position + 1
    else
      local max_digits = ng == 0 and 1 or math.floor(math.log(ng, 10)) + 1
      local digits = replacement:sub(position, position + max_digits - 1):match("^%d+")
      local idx = digits and tonumber(digits)
      if max_digits > 1 and idx and idx > ng then
        digits = replacement:sub(position, position + max_digits - 2):match("^%d+")
        idx = digits and tonumber(digits)
      end
      if idx then
        if ng > 0 then
          local sub = groups[idx]
          if sub ~= nil and sub ~= values.null then out[#out + 1] = sub end
        end
        position = position + #tostring(idx)
      else
        out[#out + 1] = "$"
      end
    end
    index = replacement:find("$", position, true)
  end
  out[#out + 1] = replacement:sub(position)
  return table.concat(out)
end

function M.replace(str, pattern, replacement, limit, input, env)
  if str == nil then return nil end
  if pattern == "" then throw("D3010", { value = pattern, index = 2 }) end
  if limit ~= nil and limit < 0 then throw("D3011", { value = limit, index = 4 }) end
  if limit ~= nil and limit <= 0 then return str end
  local out = {}
  local count = 0
  if type(pattern) == "string" then
    local position = 1
    local i = str:find(pattern, position, true)
    local rep = type(replacement) == "string" and replacement or ""
    local size = #str   -- of the result, for the limits as it grows
    while i and (limit == nil or count < limit) do
      values.tick()
      size = size + #rep - #pattern
      if size > 65536 then values.reserve(size) end
      out[#out + 1] = str:sub(position, i - 1)
      out[#out + 1] = rep
      position = i + #pattern
      count = count + 1
      i = str:find(pattern, position, true)
    end
    out[#out + 1] = str:sub(position)
    return table.concat(out)
  end
  local m = first_match(pattern, str, input, env)
  if m == nil then return str end
  local position, size = 0, #str
  while m ~= nil and (limit == nil or count < limit) do
    local s, e = match_range(str, m)
    out[#out + 1] = str:sub(position + 1, s)
    local rep
    if type(replacement) == "string" then
      rep = substitute(replacement, m)
    else
      rep = apply.apply(replacement, { m, n = 1 }, input, env)
    end
    if type(rep) ~= "string" then throw("D3012", { value = rep }) end
    size = size + #rep
    if size > 65536 then values.reserve(size) end
    out[#out + 1] = rep
    position = e
    count = count + 1
    m = next_match(m, input, env)
  end
  out[#out + 1] = str:sub(position + 1)
  return table.concat(out)
end

function M.split(str, separator, limit, input, env)
  if str == nil then return nil end
  if limit ~= nil and limit < 0 then throw("D3020", { value = limit, index = 3 }) end
  local result = values.new_array()
  if limit ~= nil and limit <= 0 then return result end
  if limit ~= nil then limit = math.floor(limit) end
  if type(separator) == "string" then
    if separator == "" then
      -- JavaScript splits "" into UTF-16 code units: astral characters
      -- become two lone surrogates
      local list = ustr.utf16_units(str)
      for i = 1, #list do
        if limit and i > limit then break end
        result[i] = list[i]
      end
      return result
    end
    local position = 1
    while true do
      if limit and #result >= limit then break end
      values.tick()
      local i = str:find(separator, position, true)
      if not i then
        result[#result + 1] = str:sub(position)
        break
      end
      result[#result + 1] = str:sub(position, i - 1)
      position = i + #separator
    end
    return result
  end
  local count = 0
  local m = first_match(separator, str, input, env)
  if m == nil then
    result[1] = str
    return result
  end
  local start = 0
  while m ~= nil and (limit == nil or count < limit) do
    local s, e = match_range(str, m)
    result[#result + 1] = str:sub(start + 1, s)
    start = e
    m = next_match(m, input, env)
    count = count + 1
  end
  if limit == nil or count < limit then result[#result + 1] = str:sub(start + 1) end
  return result
end

function M.join(strs, sep)
  if strs == nil then return nil end
  sep = sep or ""
  local size = #sep * #strs
  for i = 1, #strs do size = size + #strs[i] end
  values.reserve(size)
  return table.concat(strs, sep)
end

---------------------------------------------------------------- encoding

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Node's Buffer 'binary' (latin1) view of a string: one byte per UTF-16
-- code unit (its low 8 bits), as jsonata-js encodes for base64.
local function latin1_bytes(s)
  if not s:find("[\128-\255]") then return s end
  local out = {}
  for _, cp in ustr.codes(s) do
    if cp >= 0x10000 then
      local v = cp - 0x10000
      out[#out + 1] = string.char((0xD800 + (v >> 10)) & 0xFF, (0xDC00 + (v & 0x3FF)) & 0xFF)
    else
      out[#out + 1] = string.char(cp & 0xFF)
    end
  end
  return table.concat(out)
end

function M.base64encode(s)
  if s == nil then return nil end
  s = latin1_bytes(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = (n >> 18) & 63
    local c2 = (n >> 12) & 63
    local c3 = (n >> 6) & 63
    local c4 = n & 63
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
      .. (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

function M.base64decode(s)
  if s == nil then return nil end
  -- Node's decoder: URL-safe '-' and '_' too, other bytes skipped, '='
  -- ends the data
  local map = { [45] = 62, [95] = 63 }
  for i = 1, 64 do map[b64chars:byte(i)] = i - 1 end
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local b = s:byte(i)
    if b == 61 then break end
    local v = map[b]
    if v then
      bits = (bits << 6) | v
      nbits = nbits + 6
      if nbits >= 8 then
        nbits = nbits - 8
        out[#out + 1] = utf8.char((bits >> nbits) & 255)
      end
    end
  end
  return table.concat(out)
end

local function encode_uri(s, keep, name)
  if s == nil then return nil end
  if s:find("\237[\160-\191]") then
    throw("D3140", { value = s, message = "Malformed URL passed to " .. name .. "(): \"" .. s .. "\"" })
  end
  return (s:gsub("[^%w" .. keep .. "]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

function M.encode_url_component(s)
  return encode_uri(s, "%-_%.!~%*'%(%)", "$encodeUrlComponent")
end

function M.encode_url(s)
  return encode_uri(s, "%-_%.!~%*'%(%);/%?:@&=%+%$,#", "$encodeUrl")
end

local function decode_uri(s, reserved, name)
  if s == nil then return nil end
  local function bad()
    throw("D3140", { value = s, message = "Malformed URL passed to " .. name .. "(): \"" .. s .. "\"" })
  end
  local out = {}
  local i = 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == "%" then
      local bytes = {}
      local j = i
      local hex = s:sub(j + 1, j + 2)
      if not hex:match("^%x%x$") then bad() end
      local b = tonumber(hex, 16)
      local need = b < 0x80 and 0 or b >= 0xF0 and 3 or b >= 0xE0 and 2 or b >= 0xC0 and 1 or -1
      if need < 0 then bad() end
      bytes[1] = b
      j = j + 3
      for _ = 1, need do
        hex = s:sub(j + 1, j + 2)
        if s:sub(j, j) ~= "%" or not hex:match("^%x%x$") then bad() end
        local cb = tonumber(hex, 16)
        if cb < 0x80 or cb > 0xBF then bad() end
        bytes[#bytes + 1] = cb
        j = j + 3
      end
      local ch = string.char(table.unpack(bytes))
      if need == 0 and reserved and reserved:find(ch, 1, true) then
        out[#out + 1] = s:sub(i, j - 1)
      else
        if need > 0 and not utf8.len(ch) then bad() end
        out[#out + 1] = ch
      end
      i = j
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

function M.decode_url_component(s) return decode_uri(s, nil, "$decodeUrlComponent") end
function M.decode_url(s) return decode_uri(s, ";/?:@&=+$,#", "$decodeUrl") end

return M
