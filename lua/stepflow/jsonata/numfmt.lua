--- Number formatting for JSONata 2.0.6: JavaScript's Number#toString,
-- `$string` on numbers, `$round` (half to even), `$formatBase` and
-- `$formatNumber` (XPath F&O 3.1 picture strings).
-- Errors are raised as tables `{code = "D3xxx", message = ..., value = ...}`
-- with the messages of stepflow.jsonata.messages.
local M = {}

local floor, abs, huge = math.floor, math.abs, math.huge
local mtype, tointeger = math.type, math.tointeger
local sformat, concat = string.format, table.concat

local messages = require("stepflow.jsonata.messages")

-- Raises the JSONata error `code` (its message from the one catalogue).
local function raise(code, value)
  messages.raise(code, { value = value })
end

local TWO53 = 9007199254740992

-- Shortest decimal digits that read back as `x` (x > 0, finite):
-- returns the digit string (no trailing zeros) and the decimal exponent n
-- such that x = 0.d1d2... * 10^n (the `n` of ECMA-262 Number::toString).
local function shortest_digits(x)
  local s
  for p = 0, 16 do
    s = sformat("%." .. p .. "e", x)
    if tonumber(s) == x then break end
  end
  local mant, ex = s:match("^([%d%.]+)e([-+]%d+)$")
  local digits = mant:gsub("%.", ""):gsub("0+$", "")
  if digits == "" then digits = "0" end
  return digits, tonumber(ex) + 1
end

--- JavaScript's Number.prototype.toString() for a Lua number.
-- Integers beyond 2^53 are first converted to the nearest double, as JSON
-- numbers are in JavaScript.
-- @param n number
-- @return string, e.g. "123", "0.1", "1e+21", "1e-7", "-1.5"
function M.number_to_string(n)
  if mtype(n) == "integer" then
    if n >= -TWO53 and n <= TWO53 then return tostring(n) end
    n = n + 0.0
  end
  if n ~= n then return "NaN" end
  if n == huge then return "Infinity" end
  if n == -huge then return "-Infinity" end
  if n == 0 then return "0" end
  local sign = ""
  if n < 0 then sign, n = "-", -n end
  local digits, e = shortest_digits(n)
  local k = #digits
  local out
  if k <= e and e <= 21 then
    out = digits .. string.rep("0", e - k)
  elseif 0 < e and e <= 21 then
    out = digits:sub(1, e) .. "." .. digits:sub(e + 1)
  elseif -6 < e and e <= 0 then
    out = "0." .. string.rep("0", -e) .. digits
  else
    local ex = e - 1
    local exs = ex < 0 and ("-" .. -ex) or ("+" .. ex)
    if k == 1 then
      out = digits .. "e" .. exs
    else
      out = digits:sub(1, 1) .. "." .. digits:sub(2) .. "e" .. exs
    end
  end
  return sign .. out
end
local number_to_string = M.number_to_string

--- What `$string(n)` gives for a number in JSONata 2.0.6: the number is
-- rounded to 15 significant digits (toPrecision(15)) and then printed as
-- JavaScript prints numbers. Infinity and NaN raise D3001.
-- @param n number
-- @return string, e.g. "3.14285714285714" for 22/7
function M.jsonata_string(n)
  if n ~= n or n == huge or n == -huge then
    raise("D3001", n)
  end
  if mtype(n) == "integer" and n >= -TWO53 and n <= TWO53 and
      (n < 0 and -n or n) < 1e15 then
    return tostring(n)
  end
  local s = sformat("%.14e", n)
  -- C rounds an exact tie to even; toPrecision rounds it away from zero
  local exact = sformat("%.60e", n)
  local head = exact:match("^(-?%d%.%d+)50*e")
  local digits = head and head:gsub("[-.]", "")
  if digits and #digits == 15 then
    local sign = n < 0 and "-" or ""
    local e10 = tonumber(exact:match("e([-+]%d+)$"))
    s = sign .. tostring(tonumber(digits) + 1) .. "e" .. (e10 - 14)
  end
  return number_to_string(tonumber(s))
end

-- JavaScript's Math.round: nearest integer, halves towards +Infinity.
local function js_math_round(x)
  if x ~= x or x == huge or x == -huge then return x end
  local f = floor(x)
  if x - f >= 0.5 then f = f + 1 end
  return f
end

-- Multiplies x by 10^shift through its decimal text, as jsonata-js does,
-- so that no binary rounding error creeps in (4.525 -> "452.5").
local function shift10(x, shift)
  local s = number_to_string(x)
  local mant, ex = s:match("^(.-)e([-+]?%d+)$")
  if not mant then mant, ex = s, "0" end
  return tonumber(mant .. "e" .. (tonumber(ex) + shift))
end

--- `$round(n, precision)`: rounds half to even at `precision` decimal
-- places (negative precision rounds to tens, hundreds, ...).
-- @param n number
-- @param precision integer or nil (0)
-- @return number; a Lua integer when the result is integral and fits
function M.round(n, precision)
  if n ~= n or n == huge or n == -huge then return n end
  -- an integral float precision (2.0) must print as "2" in the exponent
  if precision ~= nil then precision = tointeger(floor(precision)) end
  if precision == 0 then precision = nil end
  local arg = n
  if precision then arg = shift10(arg, precision) end
  local result = js_math_round(arg)
  local diff = result - arg
  if abs(diff) == 0.5 and abs(result % 2) == 1 then
    result = result - 1
  end
  if precision then result = shift10(result, -precision) end
  if result == 0 then result = 0 end -- no -0 in JSON
  return tointeger(result) or result
end
local round = M.round

local DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"

--- `$formatBase(n, radix)`: the rounded number in base `radix` (2..36,
-- default 10, itself rounded); D3100 outside that range.
-- @param n number
-- @param radix number or nil
-- @return string, e.g. "-1100100" for (-100, 2)
function M.format_base(n, radix)
  n = round(n)
  if radix == nil then radix = 10 else radix = round(radix) end
  if radix < 2 or radix > 36 then
    raise("D3100", radix)
  end
  if n ~= n then return "NaN" end
  if n == huge then return "Infinity" end
  if n == -huge then return "-Infinity" end
  local neg = n < 0
  if neg then n = -n end
  local out = {}
  if mtype(n) == "integer" then
    repeat
      local d = n % radix
      out[#out + 1] = DIGITS36:sub(d + 1, d + 1)
      n = n // radix
    until n == 0
  else
    repeat
      local d = floor(n % radix)
      out[#out + 1] = DIGITS36:sub(d + 1, d + 1)
      n = floor(n / radix)
    until n == 0
  end
  local s = concat(out):reverse()
  return neg and ("-" .. s) or s
end

-- JavaScript's Number#toFixed(dp) for the non-negative x.
local function to_fixed(x, dp)
  if x >= 1e21 then return number_to_string(x) end
  return sformat("%." .. dp .. "f", x)
end
M.to_fixed = to_fixed

-- ---------------------------------------------------------------------
-- $formatNumber. Pictures are handled as arrays of UTF-8 characters, the
-- way jsonata-js handles them as strings of UTF-16 units.


local ustr = require("stepflow.util.utf8")
local chars = ustr.chars

local function slice(t, i, j) -- 0-based, half open [i, j)
  local r = {}
  if j == nil or j > #t then j = #t end
  if i < 0 then i = 0 end
  for k = i + 1, j do r[#r + 1] = t[k] end
  return r
end

local function index_of(t, c, from) -- 0-based, -1 when absent
  for k = (from or 0) + 1, #t do
    if t[k] == c then return k - 1 end
  end
  return -1
end

local function last_index_of(t, c)
  for k = #t, 1, -1 do
    if t[k] == c then return k - 1 end
  end
  return -1
end

-- Positions (1-based bytes) of the plain substring `needle` in `s`.
local function count_plain(s, needle)
  if needle == "" then return 0 end
  local n, init = 0, 1
  while true do
    local i = s:find(needle, init, true)
    if not i then return n end
    n, init = n + 1, i + 1
  end
end

local function fn_raise(code)
  raise(code)
end

local function fn_split(sub, p, active)
  local is_active = function(c) return active[c] and c ~= p.exp end
  local prefix_len, suffix_len = #sub, 0
  for k = 1, #sub do
    if is_active(sub[k]) then prefix_len = k - 1; break end
  end
  for k = #sub, 1, -1 do
    if is_active(sub[k]) then suffix_len = #sub - k; break end
  end
  local parts = {
    subpicture = sub,
    text = concat(sub),
    prefix = slice(sub, 0, prefix_len),
    suffix = slice(sub, #sub - suffix_len),
  }
  parts.active = slice(sub, prefix_len, #sub - suffix_len)
  local epos = index_of(sub, p.exp, prefix_len)
  if epos == -1 or epos > #sub - suffix_len then
    parts.mantissa = parts.active
  else
    -- jsonata-js indexes the active part with a subpicture position
    parts.mantissa = slice(parts.active, 0, epos)
    parts.exponent = slice(parts.active, epos + 1)
  end
  local dpos = index_of(parts.mantissa, p.dec)
  if dpos == -1 then
    parts.integer = parts.mantissa
    parts.fraction = parts.suffix
  else
    parts.integer = slice(parts.mantissa, 0, dpos)
    parts.fraction = slice(parts.mantissa, dpos + 1)
  end
  return parts
end

local function count_if(t, pred)
  local n = 0
  for k = 1, #t do if pred(t[k]) then n = n + 1 end end
  return n
end

local function fn_validate(parts, p, active, family)
  local err
  local sub, text = parts.subpicture, parts.text
  local dpos = index_of(sub, p.dec)
  if dpos ~= last_index_of(sub, p.dec) then err = "D3081" end
  local npercent, npermille = count_plain(text, p.percent), count_plain(text, p.permille)
  if npercent > 1 then err = "D3082" end
  if npermille > 1 then err = "D3083" end
  if npercent > 0 and npermille > 0 then err = "D3084" end
  local is_digit = function(c) return family[c] ~= nil or c == p.digit end
  if count_if(parts.mantissa, is_digit) == 0 then err = "D3085" end
  if count_if(parts.active, function(c) return not active[c] end) > 0 then err = "D3086" end
  if dpos ~= -1 then
    if sub[dpos] == p.grp or sub[dpos + 2] == p.grp then err = "D3087" end
  elseif parts.integer[#parts.integer] == p.grp then
    err = "D3088"
  end
  for k = 1, #sub - 1 do
    if sub[k] == p.grp and sub[k + 1] == p.grp then err = "D3089" end
  end
  local is_family = function(c) return family[c] ~= nil end
  local opos = index_of(parts.integer, p.digit)
  if opos ~= -1 and count_if(slice(parts.integer, 0, opos), is_family) > 0 then
    err = "D3090"
  end
  opos = last_index_of(parts.fraction, p.digit)
  if opos ~= -1 and count_if(slice(parts.fraction, opos), is_family) > 0 then
    err = "D3091"
  end
  local e = parts.exponent
  if e and #e > 0 and (npercent > 0 or npermille > 0) then err = "D3092" end
  if e and (#e == 0 or count_if(e, function(c) return not is_family(c) end) > 0) then
    err = "D3093"
  end
  if err then fn_raise(err) end
end

local function fn_analyse(parts, p, family)
  local is_family = function(c) return family[c] ~= nil end
  local is_digit = function(c) return is_family(c) or c == p.digit end
  local function grouping_positions(part, to_left)
    local positions = {}
    local gpos = index_of(part, p.grp)
    while gpos ~= -1 do
      local side = to_left and slice(part, 0, gpos) or slice(part, gpos)
      positions[#positions + 1] = count_if(side, is_digit)
      -- jsonata-js always continues the scan in the integer part
      gpos = index_of(parts.integer, p.grp, gpos + 1)
    end
    return positions
  end
  local int_groups = grouping_positions(parts.integer)
  local regular = 0
  if #int_groups > 0 then
    local function gcd(a, b) if b == 0 then return a end return gcd(b, a % b) end
    local factor = int_groups[1]
    for k = 2, #int_groups do factor = gcd(factor, int_groups[k]) end
    regular = factor
    for k = 1, #int_groups do
      local found = false
      for m = 1, #int_groups do
        if int_groups[m] == k * factor then found = true end
      end
      if not found then regular = 0; break end
    end
  end
  local min_int = count_if(parts.integer, is_family)
  local scaling = min_int
  local min_frac = count_if(parts.fraction, is_family)
  local max_frac = count_if(parts.fraction, is_digit)
  local has_exp = parts.exponent ~= nil
  if min_int == 0 and max_frac == 0 then
    if has_exp then min_frac, max_frac = 1, 1 else min_int = 1 end
  end
  if has_exp and min_int == 0 and index_of(parts.integer, p.digit) ~= -1 then
    min_int = 1
  end
  if min_int == 0 and min_frac == 0 then min_frac = 1 end
  return {
    int_groups = int_groups, regular = regular, min_int = min_int,
    scaling = scaling, prefix = concat(parts.prefix),
    frac_groups = grouping_positions(parts.fraction, true),
    min_frac = min_frac, max_frac = max_frac,
    min_exp = has_exp and count_if(parts.exponent, is_family) or 0,
    suffix = concat(parts.suffix), text = parts.text,
  }
end

local function insert_at(t, pos, c) -- 0-based position
  if pos < 0 then pos = 0 end
  if pos > #t then pos = #t end
  table.insert(t, pos + 1, c)
end

--- `$formatNumber(n, picture, options)`: formats per XPath F&O 3.1
-- fn:format-number as jsonata-js 2.0.6 does. `options` overrides the
-- decimal format properties ("decimal-separator", "grouping-separator",
-- "exponent-separator", "minus-sign", "percent", "per-mille",
-- "zero-digit", "digit", "pattern-separator"). Bad pictures raise
-- D3080..D3093.
-- @param n number
-- @param picture string
-- @param options table or nil
-- @return string, e.g. "12,345.60" for (12345.6, "#,###.00")
function M.format_number(n, picture, options)
  local props = {
    ["decimal-separator"] = ".", ["grouping-separator"] = ",",
    ["exponent-separator"] = "e", ["minus-sign"] = "-", ["percent"] = "%",
    ["per-mille"] = "\u{2030}", ["zero-digit"] = "0", ["digit"] = "#",
    ["pattern-separator"] = ";",
  }
  if options then
    for k, v in pairs(options) do props[k] = v end
  end
  local p = {
    dec = props["decimal-separator"], grp = props["grouping-separator"],
    exp = props["exponent-separator"], minus = props["minus-sign"],
    percent = props["percent"], permille = props["per-mille"],
    digit = props["digit"], sep = props["pattern-separator"],
  }
  local zero_cp = ustr.decode_at(props["zero-digit"], 1, #props["zero-digit"])
  local family, family_list = {}, {}
  for d = 0, 9 do
    local c = utf8.char(zero_cp + d)
    family[c] = d
    family_list[d] = c
  end
  local zero = family_list[0]
  local active = { [p.dec] = true, [p.exp] = true, [p.grp] = true,
    [p.digit] = true, [p.sep] = true }
  for c in pairs(family) do active[c] = true end

  local pic = chars(picture)
  local subs, cur = {}, {}
  for k = 1, #pic do
    if pic[k] == p.sep then subs[#subs + 1] = cur; cur = {}
    else cur[#cur + 1] = pic[k] end
  end
  subs[#subs + 1] = cur
  if #subs > 2 then fn_raise("D3080") end

  local parts, vars = {}, {}
  for k = 1, #subs do parts[k] = fn_split(subs[k], p, active) end
  for k = 1, #parts do fn_validate(parts[k], p, active, family) end
  for k = 1, #parts do vars[k] = fn_analyse(parts[k], p, family) end
  if #vars == 1 then
    local neg = {}
    for k, v in pairs(vars[1]) do neg[k] = v end
    neg.prefix = p.minus .. neg.prefix
    vars[2] = neg
  end

  local v = n >= 0 and vars[1] or vars[2]
  local adjusted = n
  if v.text:find(p.percent, 1, true) then
    adjusted = n * 100
  elseif v.text:find(p.permille, 1, true) then
    adjusted = n * 1000
  end
  local mantissa, exponent
  if v.min_exp == 0 then
    mantissa = adjusted
  else
    local max_m, min_m = 10.0 ^ v.scaling, 10.0 ^ (v.scaling - 1)
    mantissa, exponent = adjusted, 0
    -- jsonata-js loops forever on zero and negative mantissas; stop instead
    if mantissa > 0 and mantissa < huge then
      while mantissa < min_m do mantissa = mantissa * 10; exponent = exponent - 1 end
      while mantissa > max_m do mantissa = mantissa / 10; exponent = exponent + 1 end
    end
  end
  local rounded = round(mantissa, v.max_frac)
  local function make_string(x, dp)
    local s = to_fixed(abs(x), dp)
    return (s:gsub("%d", function(d) return family_list[tonumber(d)] end))
  end
  local sv = chars(make_string(rounded, v.max_frac))
  local dpos = index_of(sv, ".")
  if dpos == -1 then sv[#sv + 1] = p.dec else sv[dpos + 1] = p.dec end
  while sv[1] == zero do table.remove(sv, 1) end
  while sv[#sv] == zero do sv[#sv] = nil end
  dpos = index_of(sv, p.dec)
  local pad_left = v.min_int - dpos
  local pad_right = v.min_frac - (#sv - dpos - 1)
  for _ = 1, pad_left do table.insert(sv, 1, zero) end
  for _ = 1, pad_right do sv[#sv + 1] = zero end
  dpos = index_of(sv, p.dec)
  if v.regular > 0 then
    local groups = floor((dpos - 1) / v.regular)
    for g = 1, groups do insert_at(sv, dpos - g * v.regular, p.grp) end
  else
    for _, pos in ipairs(v.int_groups) do
      insert_at(sv, dpos - pos, p.grp)
      dpos = dpos + 1
    end
  end
  dpos = index_of(sv, p.dec)
  for _, pos in ipairs(v.frac_groups) do insert_at(sv, pos + dpos + 1, p.grp) end
  dpos = index_of(sv, p.dec)
  if not v.text:find(p.dec, 1, true) or dpos == #sv - 1 then sv[#sv] = nil end
  local out = concat(sv)
  if exponent then
    local se = chars(make_string(exponent, 0))
    for _ = 1, v.min_exp - #se do table.insert(se, 1, zero) end
    out = out .. p.exp .. (exponent < 0 and p.minus or "") .. concat(se)
  end
  return v.prefix .. out .. v.suffix
end

return M
