--- Retry and Catch: which error names a rule matches, and the backoff of
-- a retrier. Shared by Task, Parallel and Map.
local M = {}

local floor, random, min = math.floor, math.random, math.min

-- States.Runtime always fails the execution: no Retry or Catch sees it.
-- States.ALL matches DataLimitExceeded too: AWS catches a task result over
-- the size limit with States.ALL (recorded), whatever its docs say.
local function matches_name(pattern, name)
  if pattern == name then return true end
  if pattern == "States.ALL" then return true end
  if pattern == "States.TaskFailed" then
    return name ~= "States.Timeout" and name ~= "States.HeartbeatTimeout"
      and name ~= "States.DataLimitExceeded"
  end
  if pattern == "States.Timeout" then
    return name == "States.HeartbeatTimeout"
  end
  return false
end

--- Tells whether an ErrorEquals list matches an error name.
function M.matches(error_equals, name)
  if name == "States.Runtime" then return false end
  for i = 1, #error_equals do
    if matches_name(error_equals[i], name) then return true end
  end
  return false
end

--- Compiles the Retry array into retrier records with defaults applied.
function M.compile_retriers(list)
  local out = {}
  for i, r in ipairs(list or {}) do
    out[i] = {
      ErrorEquals = r.ErrorEquals,
      IntervalSeconds = r.IntervalSeconds or 1,
      MaxAttempts = r.MaxAttempts or 3,
      BackoffRate = r.BackoffRate or 2.0,
      MaxDelaySeconds = r.MaxDelaySeconds,
      JitterStrategy = r.JitterStrategy or "NONE",
    }
  end
  return out
end

--- Finds the retrier for an error. Returns the retrier's index, or nil.
function M.find(retriers, name)
  for i = 1, #retriers do
    if M.matches(retriers[i].ErrorEquals, name) then return i end
  end
  return nil
end

--- The delay in milliseconds before attempt `attempt` (1 = first retry),
-- or nil when the retrier's MaxAttempts are used up.
function M.delay_ms(r, attempt, rand)
  if attempt > r.MaxAttempts then return nil end
  local seconds = r.IntervalSeconds * r.BackoffRate ^ (attempt - 1)
  if r.MaxDelaySeconds then seconds = min(seconds, r.MaxDelaySeconds) end
  if r.JitterStrategy == "FULL" then
    seconds = (rand or random)() * seconds
  end
  return floor(seconds * 1000 + 0.5)
end

--- Finds the catcher for an error. Returns the catcher table, or nil.
function M.find_catcher(catchers, name)
  for i = 1, #catchers do
    if M.matches(catchers[i].ErrorEquals, name) then return catchers[i] end
  end
  return nil
end

return M
