--- Retry and Catch checks of the definition validator.
local util = require("stepflow.asl.validate.util")
local paths = require("stepflow.asl.validate.paths")
local jsonata = require("stepflow.asl.validate.jsonata")

local M = {}

local join, show = util.join, util.show

local MAX_SECONDS = 99999999

local RETRIER_FIELDS = { "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
  "MaxDelaySeconds", "JitterStrategy", "Comment" }
local CATCHER_FIELDS = { "ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment" }

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local RETRIER_SET, CATCHER_SET = set_of(RETRIER_FIELDS), set_of(CATCHER_FIELDS)

-- ErrorEquals: a non-empty array of strings; States.ALL alone. Returns true
-- when the list holds States.ALL.
local function check_error_equals(ctx, path, list)
  if list == nil then
    ctx:add(path, "These fields are required: [ErrorEquals]; give a non-empty array of "
      .. "error names such as [\"States.ALL\"]")
    return false
  end
  local p = join(path, "ErrorEquals")
  if not util.is_array(list) or next(list) == nil then
    ctx:add(p, "ErrorEquals must be a non-empty array of error names, got "
      .. (util.is_array(list) and "an empty array" or util.type_name(list)))
    return false
  end
  local has_all = false
  for i0, name in util.elements(list) do
    if type(name) ~= "string" then
      ctx:add(join(p, i0), "an error name must be a string, got " .. util.type_name(name))
    elseif name == "States.ALL" then
      has_all = true
    end
  end
  if has_all and #list > 1 then
    ctx:add(p, "States.ALL must appear alone in ErrorEquals: it already matches every error "
      .. "(drop the other names, or move them to an earlier entry)")
  end
  return has_all
end

local function check_unknown(ctx, path, obj, set, names, what)
  for _, k in ipairs(util.sorted_keys(obj)) do
    if not set[k] then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in a " .. what
        .. util.did_you_mean(k, names) .. "; its fields are: " .. table.concat(names, ", "))
    end
  end
end

local function positive_int(v, max)
  if not util.is_integer(v) then return false, "not an integer" end
  if v < 1 then return false, "must be at least 1" end
  if v > max then return false, "must be at most " .. max end
  return true
end

local function check_retrier(ctx, path, r)
  check_unknown(ctx, path, r, RETRIER_SET, RETRIER_FIELDS, "retrier")
  local has_all = check_error_equals(ctx, path, r.ErrorEquals)
  if r.IntervalSeconds ~= nil then
    local ok, why = positive_int(r.IntervalSeconds, MAX_SECONDS)
    if not ok then
      ctx:add(join(path, "IntervalSeconds"), "IntervalSeconds must be a positive integer "
        .. "(seconds before the first retry), got " .. show(r.IntervalSeconds) .. ": " .. why)
    end
  end
  if r.MaxAttempts ~= nil then
    local v = r.MaxAttempts
    if not util.is_integer(v) or v < 0 or v > MAX_SECONDS then
      ctx:add(join(path, "MaxAttempts"), "MaxAttempts must be an integer >= 0 "
        .. "(0 = never retry), got " .. show(v))
    end
  end
  if r.BackoffRate ~= nil then
    local v = r.BackoffRate
    if not util.is_number(v) or v < 1 then
      ctx:add(join(path, "BackoffRate"), "BackoffRate must be a number >= 1.0 "
        .. "(the interval multiplier), got " .. show(v))
    end
  end
  if r.MaxDelaySeconds ~= nil then
    local ok, why = positive_int(r.MaxDelaySeconds, 31622400)
    if not ok then
      ctx:add(join(path, "MaxDelaySeconds"), "MaxDelaySeconds must be a positive integer "
        .. "(the cap of the retry interval), got " .. show(r.MaxDelaySeconds) .. ": " .. why)
    end
  end
  if r.JitterStrategy ~= nil and r.JitterStrategy ~= "FULL" and r.JitterStrategy ~= "NONE" then
    ctx:add(join(path, "JitterStrategy"), "JitterStrategy must be 'FULL' or 'NONE', got "
      .. show(r.JitterStrategy))
  end
  if r.Comment ~= nil and type(r.Comment) ~= "string" then
    ctx:add(join(path, "Comment"), "Comment must be a string")
  end
  return has_all
end

local function check_list(ctx, path, list, field, each)
  if not util.is_array(list) then
    ctx:add(path, field .. " must be an array of " .. (field == "Retry" and "retriers" or "catchers")
      .. ", got " .. util.type_name(list))
    return
  end
  local n = #list
  for i0, item in util.elements(list) do
    local p = join(path, i0)
    if not util.is_object(item) then
      ctx:add(p, "each " .. (field == "Retry" and "retrier" or "catcher")
        .. " must be an object, got " .. util.type_name(item))
    else
      local has_all = each(p, item)
      if has_all and i0 < n - 1 then
        ctx:add(join(p, "ErrorEquals"), "States.ALL must be in the last " .. field
          .. " entry: entries after it (" .. field .. "/" .. (i0 + 1) .. "...) could never match")
      end
    end
  end
end

--- Checks a Retry array at path.
function M.check_retry(ctx, path, list)
  check_list(ctx, path, list, "Retry", function(p, r) return check_retrier(ctx, p, r) end)
end

--- Checks a Catch array at path; next_check(path, name) reports a bad Next.
function M.check_catch(ctx, path, list, is_jsonata)
  check_list(ctx, path, list, "Catch", function(p, c)
    check_unknown(ctx, p, c, CATCHER_SET, CATCHER_FIELDS, "catcher")
    local has_all = check_error_equals(ctx, p, c.ErrorEquals)
    if c.Next == nil then
      ctx:add(p, "These fields are required: [Next]; name the state to go to when the "
        .. "error is caught")
    elseif type(c.Next) ~= "string" or c.Next == "" then
      ctx:add(join(p, "Next"), "Next must be a state name (a non-empty string), got " .. show(c.Next))
    end
    if c.ResultPath ~= nil then
      if is_jsonata then
        ctx:add(join(p, "ResultPath"), "The QueryLanguage is set to 'JSONata', but field "
          .. "'ResultPath' is only supported for the 'JSONPath' QueryLanguage: use Output "
          .. "(with $states.errorOutput) instead")
      elseif not util.is_null(c.ResultPath) then
        paths.check_path(ctx, join(p, "ResultPath"), c.ResultPath, "ResultPath",
          { reference = true, no_context = true, no_variable = true })
      end
    end
    ctx.in_catch = true  -- $states.errorOutput exists in a catcher's Output and Assign
    if c.Output ~= nil then
      if not is_jsonata then
        ctx:add(join(p, "Output"), "The QueryLanguage is set to 'JSONPath', but field "
          .. "'Output' is only supported for the 'JSONata' QueryLanguage: use ResultPath instead")
      else
        jsonata.check_payload(ctx, join(p, "Output"), c.Output)
      end
    end
    if c.Assign ~= nil then
      jsonata.check_assign(ctx, join(p, "Assign"), c.Assign, is_jsonata)
    end
    ctx.in_catch = false
    if c.Comment ~= nil and type(c.Comment) ~= "string" then
      ctx:add(join(p, "Comment"), "Comment must be a string")
    end
    return has_all
  end)
end

return M
