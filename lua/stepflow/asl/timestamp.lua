--- RFC 3339 timestamps as AWS Step Functions reads and writes them.
-- AWS parses with Java's ISO_OFFSET_DATE_TIME: `yyyy-MM-ddTHH:mm[:ss[.f]]`
-- then `Z` or a numeric offset; `T`/`Z` may be lowercase, seconds are
-- optional, up to 9 fraction digits, dates are checked strictly (no
-- 2016-02-30). A missing offset ("NO_Z"), a space for `T` ("NO_T") and
-- month 13 ("INVALID_DATE") are rejected, as the recorded cases show.
local M = {}

local byte, sub, find, rep = string.byte, string.sub, string.find, string.rep
local format = string.format
local floor, tointeger = math.floor, math.tointeger

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local calendar = require("stepflow.util.calendar")
local is_leap = calendar.is_leap
local days_from_civil, civil_from_days = calendar.days_from_civil, calendar.civil_from_days

local function two(s, i)
  local a, b = byte(s, i, i + 1)
  if not a or not b or a < 48 or a > 57 or b < 48 or b > 57 then return nil end
  return (a - 48) * 10 + (b - 48)
end

-- Parses the offset at position i to the end; returns seconds east of UTC.
local function parse_offset(s, i, n)
  local c = byte(s, i)
  if c == 90 or c == 122 then -- 'Z' / 'z'
    if i == n then return 0 end
    return nil
  end
  if c ~= 43 and c ~= 45 then return nil end -- '+' / '-'
  local sign = c == 43 and 1 or -1
  local rest = sub(s, i + 1)
  local h, m, sec
  -- Java's lenient offset parser: +HH, +HH:MM, +HHMM, +HH:MM:SS, +HHMMSS.
  if find(rest, "^%d%d$") then
    h, m, sec = two(rest, 1), 0, 0
  elseif find(rest, "^%d%d:%d%d$") or find(rest, "^%d%d%d%d$") then
    local off = byte(rest, 3) == 58 and 4 or 3
    h, m, sec = two(rest, 1), two(rest, off), 0
  elseif find(rest, "^%d%d:%d%d:%d%d$") then
    h, m, sec = two(rest, 1), two(rest, 4), two(rest, 7)
  elseif find(rest, "^%d%d%d%d%d%d$") then
    h, m, sec = two(rest, 1), two(rest, 3), two(rest, 5)
  else
    return nil
  end
  if h > 18 or m > 59 or sec > 59 then return nil end
  local total = h * 3600 + m * 60 + sec
  if total > 18 * 3600 then return nil end
  return sign * total
end

--- Parses a timestamp into whole epoch seconds and nanoseconds (exact,
-- for comparisons), or nil when AWS would not accept the text.
-- @param text any value; non-strings give nil
-- @return integer seconds, integer nanoseconds (0..999999999)
function M.parse_parts(text)
  if type(text) ~= "string" then return nil end
  local n = #text
  -- yyyy-MM-ddTHH:mm is the shortest accepted prefix (16 bytes + offset).
  if n < 17 then return nil end
  local y1, y2 = two(text, 1), two(text, 3)
  if not y1 or not y2 or byte(text, 5) ~= 45 then return nil end
  local year = y1 * 100 + y2
  local month, day = two(text, 6), two(text, 9)
  if not month or not day or byte(text, 8) ~= 45 then return nil end
  local t = byte(text, 11)
  if t ~= 84 and t ~= 116 then return nil end -- 'T' / 't'
  local hour, minute = two(text, 12), two(text, 15)
  if not hour or not minute or byte(text, 14) ~= 58 then return nil end
  if month < 1 or month > 12 or day < 1 then return nil end
  local dim = DAYS_IN_MONTH[month]
  if month == 2 and is_leap(year) then dim = 29 end
  if day > dim or hour > 23 or minute > 59 then return nil end
  local second, nanos, i = 0, 0, 17
  if byte(text, i) == 58 then -- ':' seconds
    second = two(text, i + 1)
    if not second or second > 59 then return nil end
    i = i + 3
    if byte(text, i) == 46 then -- '.' fraction, 1 to 9 digits
      local _, e = find(text, "^%d+", i + 1)
      if not e or e - i > 9 then return nil end
      local digits = sub(text, i + 1, e)
      nanos = tonumber(digits .. rep("0", 9 - #digits))
      i = e + 1
    end
  end
  if i > n then return nil end
  local offset = parse_offset(text, i, n)
  if not offset then return nil end
  local secs = days_from_civil(year, month, day) * 86400
    + hour * 3600 + minute * 60 + second - offset
  return secs, nanos
end

--- Parses an RFC 3339 timestamp as AWS accepts it.
-- @param text any value; non-strings give nil
-- @return epoch seconds as a float (sub-second part kept), or nil
function M.parse(text)
  local secs, nanos = M.parse_parts(text)
  if not secs then return nil end
  return secs + nanos / 1e9
end

--- Formats epoch milliseconds the way AWS writes context object times.
-- @param epoch_ms integer (or float, floored) milliseconds since the epoch
-- @return text such as "2024-01-02T03:04:05.678Z" (always 3 fraction digits)
function M.format(epoch_ms)
  if type(epoch_ms) ~= "number" then
    error("stepflow.asl.timestamp.format: epoch_ms must be a number", 2)
  end
  local ms = tointeger(epoch_ms) or floor(epoch_ms)
  local secs = ms // 1000
  local days = secs // 86400
  local rem = secs - days * 86400
  local y, m, d = civil_from_days(days)
  return format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
    rem // 3600, rem % 3600 // 60, rem % 60, ms % 1000)
end

--- Calendar arithmetic shared with the JSONata date functions: days since
-- 1970-01-01 of a proleptic Gregorian date, and back.

return M
