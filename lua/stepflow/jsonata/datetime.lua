--- Dates and integer pictures for JSONata 2.0.6: `$fromMillis`,
-- `$toMillis`, `$formatInteger` and `$parseInteger` (XPath F&O 3.1
-- picture strings), as jsonata-js implements them, quirks included.
-- Errors are raised as tables `{code = "D3xxx", message = ..., value = ...}`
-- with the messages of stepflow.jsonata.messages.
local numfmt = require("stepflow.jsonata.numfmt")
local regex = require("stepflow.jsonata.regex")

local M = {}

local floor, ceil, abs = math.floor, math.ceil, math.abs
local tointeger, mtype = math.tointeger, math.type
local concat, insert = table.concat, table.insert
local number_to_string = numfmt.number_to_string

local messages = require("stepflow.jsonata.messages")

-- Raises the JSONata error `code` (its message from the one catalogue).
local function raise(code, value)
  messages.raise(code, { value = value })
end

local ustr = require("stepflow.util.utf8")
local chars = ustr.chars

-- Integral floats become Lua integers where they fit.
local function as_number(x)
  if x ~= x then return nil end
  if mtype(x) == "float" and x == floor(x) and abs(x) < 2 ^ 63 then
    return tointeger(x)
  end
  return x
end

-- JavaScript parseInt(s, 10) on a string: leading spaces, an optional
-- sign, digits; nil (NaN) when there are no digits.
local function parse_int(s)
  local sign, digits = s:match("^%s*([-+]?)(%d+)")
  if not digits then return nil end
  local v = tonumber(digits)
  if sign == "-" then v = -v end
  return v
end

-- ---------------------------------------------------------------------
-- Words, roman numerals and letters.

local FEW = { "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven",
  "Eight", "Nine", "Ten", "Eleven", "Twelve", "Thirteen", "Fourteen",
  "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen" }
local ORDINALS = { "Zeroth", "First", "Second", "Third", "Fourth", "Fifth",
  "Sixth", "Seventh", "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth",
  "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth", "Seventeenth",
  "Eighteenth", "Nineteenth" }
local DECADES = { "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy",
  "Eighty", "Ninety", "Hundred" }
local MAGNITUDES = { "Thousand", "Million", "Billion", "Trillion" }

local function number_to_words(value, ordinal)
  local function lookup(num, prev, ord)
    local words
    if num <= 19 then
      words = (prev and " and " or "") .. (ord and ORDINALS or FEW)[num + 1]
    elseif num < 100 then
      local tens, rem = floor(num / 10), num % 10
      words = (prev and " and " or "") .. DECADES[tens - 1]
      if rem > 0 then
        words = words .. "-" .. lookup(rem, false, ord)
      elseif ord then
        words = words:sub(1, -2) .. "ieth"
      end
    elseif num < 1000 then
      local hundreds, rem = floor(num / 100), num % 100
      words = (prev and ", " or "") .. FEW[hundreds + 1] .. " Hundred"
      if rem > 0 then
        words = words .. lookup(rem, true, ord)
      elseif ord then
        words = words .. "th"
      end
    else
      local mag = floor(math.log(num, 10) / 3)
      if mag > #MAGNITUDES then mag = #MAGNITUDES end
      local factor = 10 ^ (mag * 3)
      local mant = floor(num / factor)
      local rem = num - mant * factor
      words = (prev and ", " or "") .. lookup(mant, false, false) .. " " .. MAGNITUDES[mag]
      if rem > 0 then
        words = words .. lookup(rem, true, ord)
      elseif ord then
        words = words .. "th"
      end
    end
    return words
  end
  return lookup(value, false, ordinal)
end

-- word -> value, and the words in jsonata-js's key order (for the regex)
local WORD_VALUES, WORD_KEYS = {}, {}
local function add_word(w, v)
  if WORD_VALUES[w] == nil then WORD_KEYS[#WORD_KEYS + 1] = w end
  WORD_VALUES[w] = v
end
for i, w in ipairs(FEW) do add_word(w:lower(), i - 1) end
for i, w in ipairs(ORDINALS) do add_word(w:lower(), i - 1) end
for i, w in ipairs(DECADES) do
  local lw = w:lower()
  add_word(lw, (i + 1) * 10)
  add_word(lw:sub(1, -2) .. "ieth", (i + 1) * 10)
end
add_word("hundredth", 100)
for i, w in ipairs(MAGNITUDES) do
  local lw = w:lower()
  add_word(lw, 10.0 ^ (i * 3))
  add_word(lw .. "th", 10.0 ^ (i * 3))
end

local word_splitter
local function words_to_number(text)
  word_splitter = word_splitter or regex.compile(",\\s|\\sand\\s|[\\s\\\\-]")
  local parts, init = {}, 1
  while true do
    local m = word_splitter:exec(text, init)
    if not m then break end
    parts[#parts + 1] = text:sub(init, m.start - 1)
    init = m.finish + 1
  end
  parts[#parts + 1] = text:sub(init)
  local segs = { 0.0 }
  for _, part in ipairs(parts) do
    local value = WORD_VALUES[part]
    if value ~= nil and value < 100 then
      local top = table.remove(segs)
      if top >= 1000 then
        segs[#segs + 1] = top
        top = 0
      end
      segs[#segs + 1] = top + value
    else
      segs[#segs] = segs[#segs] * (value or (0 / 0))
    end
  end
  local sum = 0.0
  for _, v in ipairs(segs) do sum = sum + v end
  return as_number(sum)
end

local ROMAN = { { 1000, "m" }, { 900, "cm" }, { 500, "d" }, { 400, "cd" },
  { 100, "c" }, { 90, "xc" }, { 50, "l" }, { 40, "xl" }, { 10, "x" },
  { 9, "ix" }, { 5, "v" }, { 4, "iv" }, { 1, "i" } }
local ROMAN_VALUES = { M = 1000, D = 500, C = 100, L = 50, X = 10, V = 5, I = 1 }

local function decimal_to_roman(value)
  local out = {}
  for _, r in ipairs(ROMAN) do
    while value >= r[1] do
      out[#out + 1] = r[2]
      value = value - r[1]
    end
  end
  return concat(out)
end

local function roman_to_decimal(roman)
  local decimal, max = 0, 1
  for i = #roman, 1, -1 do
    local v = ROMAN_VALUES[roman:sub(i, i)]
    if v == nil then return nil end
    if v < max then decimal = decimal - v else max = v; decimal = decimal + v end
  end
  return decimal
end

local function decimal_to_letters(value, a)
  local letters = {}
  while value > 0 do
    insert(letters, 1, string.char((value - 1) % 26 + a))
    value = floor((value - 1) / 26)
  end
  return concat(letters)
end

local function letters_to_decimal(letters, a)
  local decimal = 0
  for i = 0, #letters - 1 do
    decimal = decimal + (letters:byte(#letters - i) - a + 1) * 26 ^ i
  end
  return as_number(decimal)
end

-- ---------------------------------------------------------------------
-- Integer pictures (fn:format-integer).

local DECIMAL_GROUPS = { 0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6,
  0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50,
  0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
  0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0,
  0xA9F0, 0xAA50, 0xABF0, 0xFF10 }

local function analyse_integer_picture(picture)
  local format = { primary = "decimal", case = "lower", ordinal = false }
  local primary = picture
  local semi
  for i = #picture, 1, -1 do
    if picture:byte(i) == 59 then semi = i; break end
  end
  if semi then
    primary = picture:sub(1, semi - 1)
    if picture:sub(semi + 1, semi + 1) == "o" then format.ordinal = true end
  end
  if primary == "A" or primary == "a" then
    format.primary = "letters"
    if primary == "A" then format.case = "upper" end
  elseif primary == "I" or primary == "i" then
    format.primary = "roman"
    if primary == "I" then format.case = "upper" end
  elseif primary == "W" then
    format.primary, format.case = "words", "upper"
  elseif primary == "Ww" then
    format.primary, format.case = "words", "title"
  elseif primary == "w" then
    format.primary = "words"
  else
    local zero, mandatory, optional, position = nil, 0, 0, 0
    local separators = {}
    local cps = {}
    for _, c in ustr.codes(primary) do insert(cps, 1, c) end
    for _, cp in ipairs(cps) do
      local digit = false
      for _, group in ipairs(DECIMAL_GROUPS) do
        if cp >= group and cp <= group + 9 then
          digit = true
          mandatory, position = mandatory + 1, position + 1
          if zero == nil then zero = group
          elseif group ~= zero then raise("D3131") end
          break
        end
      end
      if not digit then
        if cp == 0x23 then
          position, optional = position + 1, optional + 1
        else
          separators[#separators + 1] = { position = position, character = utf8.char(cp) }
        end
      end
    end
    if mandatory > 0 then
      format.zero, format.mandatory, format.optional = zero, mandatory, optional
      local regular = 0
      if #separators > 0 then
        regular = -1
        for k = 2, #separators do
          if separators[k].character ~= separators[1].character then regular = 0 end
        end
        if regular ~= 0 then
          local function gcd(a, b) if b == 0 then return a end return gcd(b, a % b) end
          local factor = separators[1].position
          for k = 2, #separators do factor = gcd(factor, separators[k].position) end
          regular = factor
          for k = 1, #separators do
            local found = false
            for _, s in ipairs(separators) do
              if s.position == k * factor then found = true end
            end
            if not found then regular = 0; break end
          end
        end
      end
      if regular > 0 then
        format.regular = true
        format.separators = { position = regular, character = separators[1].character }
      else
        format.regular = false
        format.separators = separators
      end
    else
      format.primary = "sequence"
      format.token = primary
    end
  end
  return format
end

local function format_integer_with(value, format)
  local out
  local negative = value < 0
  value = abs(value)
  local primary = format.primary
  if primary == "letters" then
    out = decimal_to_letters(value, format.case == "upper" and 65 or 97)
  elseif primary == "roman" then
    out = decimal_to_roman(value)
    if format.case == "upper" then out = out:upper() end
  elseif primary == "words" then
    out = number_to_words(value, format.ordinal)
    if format.case == "upper" then out = out:upper()
    elseif format.case == "lower" then out = out:lower() end
  elseif primary == "decimal" then
    local digits = number_to_string(value)
    if #digits < format.mandatory then
      digits = string.rep("0", format.mandatory - #digits) .. digits
    end
    local t = {}
    for c in digits:gmatch(".") do
      local b = c:byte()
      if format.zero ~= 0x30 and b >= 48 and b <= 57 then
        t[#t + 1] = utf8.char(b - 48 + format.zero)
      else
        t[#t + 1] = c
      end
    end
    if format.regular then
      local step = format.separators.position
      local n = floor((#t - 1) / step)
      for ii = n, 1, -1 do
        insert(t, #t - ii * step + 1, format.separators.character)
      end
    else
      for k = #format.separators, 1, -1 do
        local sep = format.separators[k]
        insert(t, #t - sep.position + 1, sep.character)
      end
    end
    if format.ordinal then
      local last, before = t[#t], t[#t - 1]
      local suffix = ({ ["1"] = "st", ["2"] = "nd", ["3"] = "rd" })[last]
      if not suffix or (#t > 1 and before == "1") then suffix = "th" end
      t[#t + 1] = suffix
    end
    out = concat(t)
  else
    raise("D3130", format.token)
  end
  if negative then out = "-" .. out end
  return out
end

--- `$formatInteger(n, picture)`: the floor of n per fn:format-integer
-- ("0001", "#,##0", "w", "W;o", "Ww", "i", "I", "a", "A"...).
-- @param n number
-- @param picture string
-- @return string, e.g. "three thousand, seven hundred and thirty" for (3730, "w")
function M.format_integer(n, picture)
  local v = floor(n)
  return format_integer_with(v, analyse_integer_picture(picture))
end

-- A matcher for one integer picture: pattern text and a parse function.
local function integer_matcher(format)
  local upper = format.case == "upper"
  local primary = format.primary
  if primary == "letters" then
    return upper and "[A-Z]+" or "[a-z]+", function(v)
      return letters_to_decimal(v, upper and 65 or 97)
    end
  elseif primary == "roman" then
    return upper and "[MDCLXVI]+" or "[mdclxvi]+", function(v)
      return roman_to_decimal(upper and v or v:upper())
    end
  elseif primary == "words" then
    local alts = {}
    for k, w in ipairs(WORD_KEYS) do alts[k] = w end
    alts[#alts + 1] = "and"
    alts[#alts + 1] = "[\\-, ]"
    return "(?:" .. concat(alts, "|") .. ")+", function(v)
      return words_to_number(v:lower())
    end
  elseif primary == "decimal" then
    local pattern = "[0-9]" .. (format.parse_width and ("{" .. format.parse_width .. "}") or "+")
    if format.ordinal then pattern = pattern .. "(?:th|st|nd|rd)" end
    return pattern, function(v)
      local digits = v
      if format.ordinal then digits = digits:sub(1, -3) end
      if format.regular then
        digits = digits:gsub(",", "")
      else
        for _, sep in ipairs(format.separators) do
          local pat = sep.character:gsub("%W", "%%%0")
          digits = digits:gsub(pat, "")
        end
      end
      if format.zero ~= 0x30 then
        local t = {}
        for _, c in ustr.codes(digits) do
          t[#t + 1] = utf8.char(c - format.zero + 0x30)
        end
        digits = concat(t)
      end
      return parse_int(digits)
    end
  end
  raise("D3130", format.token)
end

--- `$parseInteger(s, picture)`: reads s back per an integer picture.
-- @param s string
-- @param picture string
-- @return integer (a float beyond 2^63), or nil where jsonata-js gives NaN
function M.parse_integer(s, picture)
  local _, parse = integer_matcher(analyse_integer_picture(picture))
  return parse(s)
end

-- ---------------------------------------------------------------------
-- Calendar arithmetic on epoch milliseconds (proleptic Gregorian, UTC).

local MS_DAY = 86400000

local calendar = require("stepflow.util.calendar")
local days_from_civil, civil_from_days = calendar.days_from_civil, calendar.civil_from_days

-- JavaScript's Date.UTC (month from 0; years 0..99 mean 1900..1999).
local function date_utc(y, mo, d, h, mi, s, ms)
  y = floor(y)
  if y >= 0 and y <= 99 then y = 1900 + y end
  mo = floor(mo or 0)
  y = y + mo // 12
  mo = mo % 12
  local day = days_from_civil(y, mo + 1, 1) + floor(d or 1) - 1
  return day * MS_DAY + floor(h or 0) * 3600000 + floor(mi or 0) * 60000 +
    floor(s or 0) * 1000 + floor(ms or 0)
end

-- The UTC fields of an instant, like a JavaScript Date.
local function make_date(t)
  t = t >= 0 and floor(t) or ceil(t)
  local days = t // MS_DAY
  local r = t - days * MS_DAY
  local y, m, d = civil_from_days(days)
  return { t = t, year = y, month = m - 1, day = d, wday = (days + 4) % 7,
    hours = r // 3600000, minutes = r // 60000 % 60, seconds = r // 1000 % 60,
    millis = r % 1000 }
end

local function start_of_first_week(year, month)
  local jan1 = date_utc(year, month)
  local dow = make_date(jan1).wday
  if dow == 0 then dow = 7 end
  if dow > 4 then return jan1 + (8 - dow) * MS_DAY end
  return jan1 - (dow - 1) * MS_DAY
end

local function delta_weeks(a, b) return (b - a) / (MS_DAY * 7) + 1 end

local function next_month(y, m) if m == 11 then return y + 1, 0 end return y, m + 1 end
local function prev_month(y, m) if m == 0 then return y - 1, 11 end return y, m - 1 end

local function fragment(date, c)
  if c == "Y" then return date.year
  elseif c == "M" then return date.month + 1
  elseif c == "D" then return date.day
  elseif c == "d" then
    local today = date_utc(date.year, date.month, date.day)
    return (today - date_utc(date.year, 0)) // MS_DAY + 1
  elseif c == "F" then return date.wday == 0 and 7 or date.wday
  elseif c == "W" then
    local y = date.year
    local start = start_of_first_week(y, 0)
    local today = date_utc(y, date.month, date.day)
    local week = delta_weeks(start, today)
    if week > 52 then
      if today >= start_of_first_week(y + 1, 0) then week = 1 end
    elseif week < 1 then
      week = delta_weeks(start_of_first_week(y - 1, 0), today)
    end
    return floor(week)
  elseif c == "w" then
    local y, m = date.year, date.month
    local start = start_of_first_week(y, m)
    local today = date_utc(y, m, date.day)
    local week = delta_weeks(start, today)
    if week > 4 then
      if today >= start_of_first_week(next_month(y, m)) then week = 1 end
    elseif week < 1 then
      week = delta_weeks(start_of_first_week(prev_month(y, m)), today)
    end
    return floor(week)
  elseif c == "X" then
    local y = date.year
    if date.t < start_of_first_week(y, 0) then return y - 1 end
    if date.t >= start_of_first_week(y + 1, 0) then return y + 1 end
    return y
  elseif c == "x" then
    local y, m = date.year, date.month
    local ny, nm = next_month(y, m)
    if date.t < start_of_first_week(y, m) then
      local _, pm = prev_month(y, m)
      return pm + 1
    end
    if date.t >= start_of_first_week(ny, nm) then return nm + 1 end
    return m + 1
  elseif c == "H" then return date.hours
  elseif c == "h" then
    local h = date.hours % 12
    return h == 0 and 12 or h
  elseif c == "P" then return date.hours >= 12 and "pm" or "am"
  elseif c == "m" then return date.minutes
  elseif c == "s" then return date.seconds
  elseif c == "f" then return date.millis
  elseif c == "C" or c == "E" then return "ISO"
  end
  return nil
end

-- ---------------------------------------------------------------------
-- Date/time pictures (fn:format-dateTime).

local DEFAULT_PRESENTATION = { Y = "1", M = "1", D = "1", d = "1", F = "n",
  W = "1", w = "1", X = "1", x = "1", H = "1", h = "1", P = "n", m = "01",
  s = "01", f = "1", Z = "01:01", z = "01:01", C = "n", E = "n" }

local function analyse_datetime_picture(picture)
  local spec = {}
  local function add_literal(text)
    if #text > 0 then
      spec[#spec + 1] = { literal = (text:gsub("%]%]", "]")) }
    end
  end
  local start, pos, len = 1, 1, #picture
  while pos <= len do
    if picture:byte(pos) == 91 then                   -- [
      if picture:byte(pos + 1) == 91 then
        add_literal(picture:sub(start, pos - 1))
        spec[#spec + 1] = { literal = "[" }
        pos = pos + 2
        start = pos
        goto continue
      end
      add_literal(picture:sub(start, pos - 1))
      start = pos
      pos = picture:find("]", start, true)
      if not pos then raise("D3135") end
      local marker = picture:sub(start + 1, pos - 1):gsub("%s+", "")
      local def = { component = ustr.chars(marker)[1] or "" }
      local comma
      for i = #marker, 1, -1 do
        if marker:byte(i) == 44 then comma = i; break end
      end
      local pres
      if comma then
        local width = marker:sub(comma + 1)
        local lo, hi = width, nil
        local dash = width:find("-", 1, true)
        if dash then lo, hi = width:sub(1, dash - 1), width:sub(dash + 1) end
        local function parse_width(w)
          if w == nil or w == "*" then return nil end
          return parse_int(w)
        end
        def.width = { min = parse_width(lo), max = parse_width(hi) }
        pres = marker:sub(#def.component + 1, comma - 1)
      else
        pres = marker:sub(#def.component + 1)
      end
      local pres_chars = chars(pres)
      if #pres_chars == 1 then
        def.presentation1 = pres
      elseif #pres_chars > 1 then
        local last = pres_chars[#pres_chars]
        if last == "a" or last == "t" or last == "c" or last == "o" then
          def.presentation2 = last
          if last == "o" then def.ordinal = true end
          def.presentation1 = pres:sub(1, -2)
        else
          def.presentation1 = pres
        end
      else
        def.presentation1 = DEFAULT_PRESENTATION[def.component]
      end
      if def.presentation1 == nil then raise("D3132", def.component) end
      local p1 = def.presentation1
      if p1:sub(1, 1) == "n" then
        def.names = "lower"
      elseif p1:sub(1, 1) == "N" then
        def.names = p1:sub(2, 2) == "n" and "title" or "upper"
      elseif ("YMDdFWwXxHhmsf"):find(def.component, 1, true) and #def.component == 1 then
        local pattern = p1
        if def.presentation2 then pattern = pattern .. ";" .. def.presentation2 end
        def.format = analyse_integer_picture(pattern)
        local width = def.width
        if width and width.min and def.format.mandatory and def.format.mandatory < width.min then
          def.format.mandatory = width.min
        end
        if def.component == "Y" then
          def.n = -1
          if width and width.max then
            def.n = width.max
            def.format.mandatory = def.n
          else
            local w = (def.format.mandatory or 0) + (def.format.optional or 0)
            if w >= 2 then def.n = w end
          end
        end
        -- adjacent integer markers need a fixed width to be parsed
        local previous = spec[#spec]
        if previous and previous.format then
          previous.format.parse_width = previous.format.mandatory
        end
      end
      if def.component == "Z" or def.component == "z" then
        def.format = analyse_integer_picture(p1)
      end
      spec[#spec + 1] = def
      start = pos + 1
    end
    pos = pos + 1
    ::continue::
  end
  add_literal(picture:sub(start))
  return spec
end

local DAYS = { [0] = "", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
  "Saturday", "Sunday" }
local MONTHS = { "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December" }

local ISO_PICTURE = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]"

local function js_mod(a, b) return math.fmod(a, b) end

--- `$fromMillis(ms, picture, timezone)`: formats an instant.
-- @param ms number (epoch milliseconds)
-- @param picture string or nil (nil: ISO 8601, "2017-10-30T16:25:32.935Z")
-- @param timezone string or nil, "+hhmm" / "-hhmm" (nil: UTC)
-- @return string
function M.from_millis(ms, picture, timezone)
  local off_h, off_m = 0, 0
  if timezone ~= nil then
    local offset = parse_int(timezone) or 0
    off_h = floor(offset / 100)
    off_m = js_mod(offset, 100)
  end
  local spec = analyse_datetime_picture(picture or ISO_PICTURE)
  local date = make_date(ms + (60 * off_h + off_m) * 60000)
  local out = {}
  for _, part in ipairs(spec) do
    local text
    if part.literal then
      text = part.literal
    else
      local c = part.component
      local value = fragment(date, c)
      if #c == 1 and ("YMDdFWwXxHhms"):find(c, 1, true) then
        if c == "Y" and part.n and part.n ~= -1 then value = value % 10 ^ part.n end
        if part.names then
          if c == "M" or c == "x" then value = MONTHS[value]
          elseif c == "F" then value = DAYS[value]
          else raise("D3133", c) end
          if part.names == "upper" then value = value:upper()
          elseif part.names == "lower" then value = value:lower() end
          if part.width and part.width.max and #value > part.width.max then
            value = value:sub(1, part.width.max)
          end
          text = value
        else
          text = format_integer_with(as_number(value), part.format)
        end
      elseif c == "f" then
        text = format_integer_with(value, part.format)
      elseif c == "Z" or c == "z" then
        local offset = off_h * 100 + off_m
        local f = part.format
        if f.regular then
          text = format_integer_with(offset, f)
        else
          local digits = f.mandatory
          if digits == 1 or digits == 2 then
            text = format_integer_with(off_h, f)
            if off_m ~= 0 then
              text = text .. ":" .. M.format_integer(off_m, "00")
            end
          elseif digits == 3 or digits == 4 then
            text = format_integer_with(offset, f)
          else
            raise("D3134", digits)
          end
        end
        if offset >= 0 then text = "+" .. text end
        if c == "z" then text = "GMT" .. text end
        if offset == 0 and part.presentation2 == "t" then text = "Z" end
      elseif c == "P" then
        text = value
        if part.names == "upper" then text = text:upper() end
      else
        text = value == nil and "undefined" or tostring(value)
      end
    end
    out[#out + 1] = text
  end
  return concat(out)
end

-- ---------------------------------------------------------------------
-- Parsing (fn:parse-dateTime as jsonata-js does it).

local function escape_literal(text)
  return (text:gsub("[.*+?^${}()|%[%]\\]", "\\%0"))
end

local function part_matcher(part)
  if part.literal then return escape_literal(part.literal), nil end
  local c = part.component
  if c == "Z" or c == "z" then
    local sep
    if part.format.regular then sep = part.format.separators.character end
    local pattern = (c == "z" and "GMT" or "") .. "[-+][0-9]+"
    if sep then pattern = pattern .. escape_literal(sep) .. "[0-9]+" end
    return pattern, function(value)
      if c == "z" then value = value:sub(4) end
      local hours, minutes
      minutes = 0
      if sep then
        local at = value:find(sep, 1, true)
        hours = parse_int(value:sub(1, at - 1)) or 0
        minutes = parse_int(value:sub(at + #sep)) or 0
      elseif #value - 1 <= 2 then
        hours = parse_int(value) or 0
      else
        hours = parse_int(value:sub(1, 3)) or 0
        minutes = parse_int(value:sub(4)) or 0
      end
      return hours * 60 + minutes
    end
  end
  if part.format then return integer_matcher(part.format) end
  local lookup = {}
  if c == "M" or c == "x" then
    for i, name in ipairs(MONTHS) do
      local max = part.width and part.width.max
      lookup[max and name:sub(1, max) or name] = i
    end
  elseif c == "F" then
    for i = 1, 7 do
      local max = part.width and part.width.max
      lookup[max and DAYS[i]:sub(1, max) or DAYS[i]] = i
    end
  elseif c == "P" then
    lookup = { am = 0, AM = 0, pm = 1, PM = 1 }
  else
    raise("D3133", c)
  end
  return "[a-zA-Z]+", function(value) return lookup[value] end
end

local DATE_MASKS = { A = 161, B = 130, C = 84, D = 72 }  -- bits YXMxWwdD
local TIME_MASKS = { A = 23, B = 47 }                     -- bits PHhmsf

local function mask_of(components, letters)
  local mask = 0
  for k = 1, #letters do
    local v = components[letters:sub(k, k)]
    -- JavaScript truthiness: a parsed 0 counts as absent
    mask = (mask << 1) + ((v ~= nil and v ~= 0 and v ~= "") and 1 or 0)
  end
  return mask
end

local function is_type(mask, t)
  return (~t & mask) == 0 and (t & mask) ~= 0
end

local function parse_datetime(str, picture, now_ms)
  local spec = analyse_datetime_picture(picture)
  local patterns, parsers = {}, {}
  for k, part in ipairs(spec) do
    local pattern, parse = part_matcher(part)
    patterns[k] = "(" .. pattern .. ")"
    parsers[k] = parse and { parse = parse, component = part.component } or false
  end
  local re = regex.compile("^" .. concat(patterns) .. "$", "i")
  local m = re:exec(str, 1)
  if not m then return nil end
  local components, any = {}, false
  for k, p in ipairs(parsers) do
    if p then
      components[p.component] = p.parse(m[k])
      any = true
    end
  end
  if not any then return nil end
  local dmask = mask_of(components, "YXMxWwdD")
  local date_a = is_type(dmask, DATE_MASKS.A)
  local date_b = not date_a and is_type(dmask, DATE_MASKS.B)
  local date_c = is_type(dmask, DATE_MASKS.C)
  local date_d = not date_c and is_type(dmask, DATE_MASKS.D)
  local tmask = mask_of(components, "PHhmsf")
  local time_a = is_type(tmask, TIME_MASKS.A)
  local time_b = not time_a and is_type(tmask, TIME_MASKS.B)
  local comps = (date_b and "YD" or date_c and "XxwF" or date_d and "XWF" or "YMD") ..
    (time_b and "Phmsf" or "Hmsf")
  local now = make_date(now_ms or (os.time() * 1000))
  local started, ended = false, false
  for k = 1, #comps do
    local c = comps:sub(k, k)
    if components[c] == nil then
      if started then
        components[c] = (c == "M" or c == "D" or c == "d") and 1 or 0
        ended = true
      else
        components[c] = fragment(now, c)
      end
    else
      started = true
      if ended then raise("D3136") end
    end
  end
  local month = components.M
  if type(month) == "number" and month > 0 then components.M = month - 1
  else components.M = 0 end
  if date_b then
    local derived = make_date(date_utc(components.Y, 0) + (components.d - 1) * MS_DAY)
    components.M, components.D = derived.month, derived.day
  end
  if date_c or date_d then raise("D3136") end
  if time_b then
    components.H = components.h == 12 and 0 or components.h
    if components.P == 1 then components.H = components.H + 12 end
  end
  for _, c in ipairs({ "Y", "D", "H", "m", "s", "f" }) do
    if type(components[c]) ~= "number" then return nil end -- NaN in jsonata-js
  end
  local ms = date_utc(components.Y, components.M, components.D, components.H,
    components.m, components.s, components.f)
  local tz = components.Z
  if tz == nil or tz == 0 then tz = components.z end
  if tz and tz ~= 0 then ms = ms - tz * 60000 end
  return as_number(ms)
end

local iso_re
-- JavaScript's Date.parse for the ISO 8601 forms jsonata-js lets through;
-- a date-time without an offset is taken as UTC.
local function parse_iso(str)
  local y, rest = str:match("^(%d%d%d%d)(.*)$")
  local mo, d, h, mi, s, tz = 1, 1, 0, 0, 0, nil
  local a, b = rest:match("^%-(%d%d)%-(%d%d)")
  if a then
    mo, d = tonumber(a), tonumber(b); rest = rest:sub(7)
  else
    a = rest:match("^%-(%d%d)")
    if a then mo = tonumber(a); rest = rest:sub(4) end
  end
  local th, tm, ts = rest:match("^T(%d%d):(%d%d):(%d%d)")
  if th then h, mi, s = tonumber(th), tonumber(tm), tonumber(ts); rest = rest:sub(10) end
  local frac = rest:match("^%.(%d+)")
  if frac then rest = rest:sub(#frac + 2) end
  if rest == "Z" then tz = 0
  elseif rest ~= "" then
    local sign, oh, om = rest:match("^([-+])(%d%d):?(%d%d)$")
    if not sign then return nil end
    tz = tonumber(oh) * 60 + tonumber(om)
    if sign == "-" then tz = -tz end
  end
  if mo < 1 or mo > 12 or d < 1 or h > 24 or mi > 59 or s > 59 then return nil end
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  local yn = tonumber(y)
  if yn % 4 == 0 and (yn % 100 ~= 0 or yn % 400 == 0) then mdays[2] = 29 end
  if d > mdays[mo] then return nil end
  if h == 24 and (mi ~= 0 or s ~= 0) then return nil end
  local ms = 0
  if frac then ms = tonumber((frac .. "00"):sub(1, 3)) end
  local days = days_from_civil(yn, mo, d)
  local t = days * MS_DAY + h * 3600000 + mi * 60000 + s * 1000 + ms
  if tz then t = t - tz * 60000 end
  return t
end

--- `$toMillis(str, picture)`: parses a timestamp to epoch milliseconds.
-- Without a picture the text must be ISO 8601 (else D3110). With one,
-- it is parsed per fn:parse-dateTime; missing leading components come
-- from `now_ms` (the evaluation's `$now()`, default: the clock).
-- @param str string
-- @param picture string or nil
-- @param now_ms integer or nil
-- @return integer ms, or nil when the text does not match the picture
--   (or is not a valid date)
function M.to_millis(str, picture, now_ms)
  if picture == nil then
    iso_re = iso_re or regex.compile(
      "^\\d{4}(-[01]\\d)*(-[0-3]\\d)*(T[0-2]\\d:[0-5]\\d:[0-5]\\d)*(\\.\\d+)?([+-][0-2]\\d:?[0-5]\\d|Z)?$")
    if not iso_re:exec(str, 1) then raise("D3110", str) end
    return parse_iso(str)
  end
  return parse_datetime(str, picture, now_ms)
end

return M
