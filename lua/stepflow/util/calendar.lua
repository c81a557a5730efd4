--- Calendar arithmetic on the proleptic Gregorian calendar, shared by ASL
-- timestamps and JSONata's date/time functions: day numbers of dates and
-- back, exact for any integer year (H. Hinnant's algorithms).
local M = {}

--- Days since 1970-01-01 of the date y-m-d (m 1..12; d may run past the
-- month's end, it counts on).
function M.days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400                -- Lua's // floors, negative years too
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- The inverse: year, month, day of a day number.
function M.civil_from_days(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

--- True for a leap year.
function M.is_leap(y)
  return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

return M
