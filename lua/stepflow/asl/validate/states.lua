--- Per-state checks of the definition validator: Type, query language,
-- fields, transitions (Next/End), and the rules of Pass, Task, Wait,
-- Succeed and Fail. Choice, Map and Parallel have modules of their own.
local util = require("stepflow.asl.validate.util")
local fields = require("stepflow.asl.validate.fields")
local paths = require("stepflow.asl.validate.paths")
local jsonata = require("stepflow.asl.validate.jsonata")
local retry_catch = require("stepflow.asl.validate.retry_catch")
local choice = require("stepflow.asl.validate.choice")
local map_parallel = require("stepflow.asl.validate.map_parallel")
local resource = require("stepflow.integrations.resource")

local M = {}

local join, show = util.join, util.show

local MAX_SECONDS = 99999999

local TERMINAL = { Succeed = true, Fail = true }

local function is_string(v) return type(v) == "string" end

local function int_in(lo, hi)
  return function(v)
    if not util.is_integer(v) then return false end
    if v < lo then return false, "must be at least " .. lo end
    if v > hi then return false, "must be at most " .. hi end
    return true
  end
end

--- Checks "Field" (an integer, or an expression in JSONata) and
-- "FieldPath" (JSONPath), which exclude each other.
function M.check_number_pair(ctx, path, state, field, is_jsonata, literal_ok, what)
  local v, vp = state[field], state[field .. "Path"]
  if v ~= nil and vp ~= nil then
    ctx:add(join(path, field .. "Path"), "A state cannot include both field '" .. field
      .. "' and '" .. field .. "Path': keep one")
  end
  if v ~= nil then
    jsonata.check_literal_or_expression(ctx, join(path, field), field, v, is_jsonata,
      literal_ok, what)
  end
  if vp ~= nil and not is_jsonata then
    paths.check_path(ctx, join(path, field .. "Path"), vp, field .. "Path")
  end
end

-- InputPath / OutputPath / ResultPath (JSONPath states).
local function check_io_paths(ctx, path, state, ok)
  for _, f in ipairs({ "InputPath", "OutputPath" }) do
    local v = state[f]
    if ok[f] and v ~= nil and not util.is_null(v) then paths.check_path(ctx, join(path, f), v, f) end
  end
  local rp = state.ResultPath
  if ok.ResultPath and rp ~= nil and not util.is_null(rp) then
    paths.check_path(ctx, join(path, "ResultPath"), rp, "ResultPath",
      { reference = true, no_context = true, no_variable = true })
  end
end

-- Parameters may be any JSON value (AWS's schema: an array of templates,
-- a string, a number...); ResultSelector and Arguments are objects.
local ANY_VALUE = { Parameters = true }

local function check_object_template(ctx, path, state, field, ok, is_jsonata)
  local v = state[field]
  if not ok[field] or v == nil then return end
  local p = join(path, field)
  if ANY_VALUE[field] then
    paths.check_template(ctx, p, v)
  elseif is_jsonata then
    if not util.is_object(v) and not jsonata.is_expression(v) then
      ctx:add(p, "The field '" .. field .. "' must be an object or a JSONata expression "
        .. "'{% ... %}', got " .. util.type_name(v))
    else
      jsonata.check_payload(ctx, p, v)
    end
  elseif not util.is_object(v) then
    ctx:add(p, "The field '" .. field .. "' must be an object (a payload template), got "
      .. util.type_name(v))
  else
    paths.check_template(ctx, p, v)
  end
end

-- Fields common to the states that take them: Output, Assign, Comment,
-- Parameters, ResultSelector, Arguments, Retry, Catch.
local function check_common(ctx, path, state, ok, is_jsonata)
  if ok.Comment and not is_string(state.Comment) then
    ctx:add(join(path, "Comment"), "Comment must be a string, got " .. util.type_name(state.Comment))
  end
  if ok.Output then jsonata.check_payload(ctx, join(path, "Output"), state.Output) end
  if ok.Assign then jsonata.check_assign(ctx, join(path, "Assign"), state.Assign, is_jsonata) end
  check_object_template(ctx, path, state, "Parameters", ok, false)
  check_object_template(ctx, path, state, "ResultSelector", ok, false)
  check_object_template(ctx, path, state, "Arguments", ok, true)
  if ok.Retry then retry_catch.check_retry(ctx, join(path, "Retry"), state.Retry) end
  if ok.Catch then retry_catch.check_catch(ctx, join(path, "Catch"), state.Catch, is_jsonata) end
  if not is_jsonata then check_io_paths(ctx, path, state, ok) end
end

-- Next / End for the states that transition.
local function check_transition(ctx, path, state, state_type)
  if TERMINAL[state_type] or state_type == "Choice" then return end
  local nxt, fin = state.Next, state.End
  if fin ~= nil and type(fin) ~= "boolean" then
    ctx:add(join(path, "End"), "End must be true (or leave it out and give Next), got " .. show(fin))
    fin = nil
  end
  if nxt ~= nil and (type(nxt) ~= "string" or nxt == "") then
    ctx:add(join(path, "Next"), "Next must be a state name (a non-empty string), got " .. show(nxt))
  end
  if nxt ~= nil and fin == true then
    ctx:add(path, "A state cannot have both 'Next' and 'End': keep Next to continue, or "
      .. "End: true to finish")
  elseif nxt == nil and fin ~= true then
    ctx:add(path, "This state must have 'Next' (the state to go to) or \"End\": true"
      .. (fin == false and " (End is false)" or ""))
  end
end

--- True when an "arn:..." Resource is well formed: six or more ':' fields
-- with a partition and a service, and for a Lambda function a name and an
-- optional non-empty version or alias.
function M.arn_ok(r)
  local parts = {}
  for f in (r .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = f end
  if #parts < 6 or parts[2] == "" or parts[3] == "" then return false end
  if parts[3] == "lambda" and parts[6] == "function" then
    if #parts > 8 or not (parts[7] or ""):match("^[%w%-_]+$") then return false end
    if #parts == 8 and not parts[8]:match("^[%w%-_]+$") and parts[8] ~= "$LATEST" then
      return false
    end
  end
  return true
end

local function check_task(ctx, path, state, ok, is_jsonata)
  local r = state.Resource
  if r == nil then
    ctx:add(path, "These fields are required: [Resource]; name the handler or ARN the Task calls")
  elseif not is_string(r) or r == "" then
    ctx:add(join(path, "Resource"), "Resource must be a non-empty string (a handler name or an "
      .. "ARN), got " .. show(r))
  elseif r:sub(1, 4) == "arn:" and not M.arn_ok(r) then
    ctx:add(join(path, "Resource"), "The resource provided " .. r .. " is not recognized. The "
      .. "value is not a valid resource ARN: write arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE "
      .. "(such as arn:aws:lambda:us-east-1:123456789012:function:NAME), or a plain handler name")
  elseif resource.problem(r) then
    -- an unknown pattern suffix, or one the AWS integration refuses
    ctx:add(join(path, "Resource"), resource.problem(r))
  elseif ctx.machine_type == "EXPRESS" then
    if r:match("^arn:[^:]+:states:[^:]*:[^:]*:activity:") then
      ctx:add(join(path, "Resource"), "Express state machine does not support Activity ARN: "
        .. "use a STANDARD state machine, or call a handler directly")
    end
    for _, suffix in ipairs({ ".waitForTaskToken", ".sync" }) do
      if r:sub(-#suffix) == suffix or r:find(suffix .. ":", 1, true) then
        ctx:add(join(path, "Resource"), "Express state machine does not support '" .. suffix
          .. "' service integration: use a STANDARD state machine, or a request-response Resource")
      end
    end
  end
  local seconds = int_in(1, MAX_SECONDS)
  M.check_number_pair(ctx, path, state, "TimeoutSeconds", is_jsonata, seconds,
    "a positive integer (at most " .. MAX_SECONDS .. ")")
  M.check_number_pair(ctx, path, state, "HeartbeatSeconds", is_jsonata, seconds,
    "a positive integer (at most " .. MAX_SECONDS .. ")")
  local t, h = state.TimeoutSeconds, state.HeartbeatSeconds
  if util.is_integer(t) and util.is_integer(h) and h >= t then
    ctx:add(join(path, "HeartbeatSeconds"), "HeartbeatSeconds (" .. show(h) .. ") must be smaller "
      .. "than TimeoutSeconds (" .. show(t) .. ")")
  end
  if ok.Credentials then
    local c, p = state.Credentials, join(path, "Credentials")
    if not util.is_object(c) then
      ctx:add(p, "Credentials must be an object such as {\"RoleArn\": \"arn:aws:iam::...\"}, got "
        .. util.type_name(c))
    else
      local role_fields = is_jsonata and { "RoleArn" } or { "RoleArn", "RoleArn.$" }
      local given = {}
      for _, k in ipairs(util.sorted_keys(c)) do
        if k == "RoleArn" or (k == "RoleArn.$" and not is_jsonata) then
          given[#given + 1] = k
        else
          ctx:add(join(p, k), "Field '" .. k .. "' is not supported in Credentials"
            .. util.did_you_mean(k, role_fields) .. "; give " .. table.concat(role_fields, " or "))
        end
      end
      if #given == 0 then
        ctx:add(p, "These fields are required: [RoleArn]; Credentials names the IAM role to assume")
      elseif #given > 1 then
        ctx:add(join(p, "RoleArn.$"), "Credentials takes one of RoleArn and RoleArn.$, not both")
      end
      if c.RoleArn ~= nil and type(c.RoleArn) ~= "string" then
        ctx:add(join(p, "RoleArn"), "RoleArn must be a string (an IAM role ARN), got "
          .. util.type_name(c.RoleArn))
      end
      if is_jsonata then
        jsonata.check_payload(ctx, p, c)
      else
        paths.check_template(ctx, p, c)
      end
    end
  end
end

local WAIT_FIELDS = { "Seconds", "SecondsPath", "Timestamp", "TimestampPath" }

local function check_wait(ctx, path, state, ok, is_jsonata)
  local given = {}
  for _, f in ipairs(WAIT_FIELDS) do
    if state[f] ~= nil and ok[f] then given[#given + 1] = f end
  end
  if #given == 0 then
    local any = false
    for _, f in ipairs(WAIT_FIELDS) do any = any or state[f] ~= nil end
    if not any then
      ctx:add(path, "A Wait state needs exactly one of "
        .. (is_jsonata and "Seconds, Timestamp" or "Seconds, Timestamp, SecondsPath, TimestampPath"))
    end
  elseif #given > 1 then
    ctx:add(join(path, given[2]), "A Wait state takes exactly one of Seconds, Timestamp, "
      .. "SecondsPath, TimestampPath; found " .. table.concat(given, ", "))
  end
  if ok.Seconds then
    jsonata.check_literal_or_expression(ctx, join(path, "Seconds"), "Seconds", state.Seconds,
      is_jsonata, int_in(0, MAX_SECONDS), "an integer from 0 to " .. MAX_SECONDS)
  end
  if ok.Timestamp then
    jsonata.check_literal_or_expression(ctx, join(path, "Timestamp"), "Timestamp",
      state.Timestamp, is_jsonata, util.is_timestamp,
      "an RFC 3339 timestamp such as '2016-03-14T01:59:00Z'")
  end
  for _, f in ipairs({ "SecondsPath", "TimestampPath" }) do
    if ok[f] then paths.check_path(ctx, join(path, f), state[f], f) end
  end
end

local function check_fail(ctx, path, state, ok, is_jsonata)
  for _, f in ipairs({ "Error", "Cause" }) do
    local v, vp = state[f], state[f .. "Path"]
    if v ~= nil and vp ~= nil then
      ctx:add(join(path, f .. "Path"), "A Fail state cannot include both field '" .. f
        .. "' and '" .. f .. "Path': keep one")
    end
    if ok[f] then
      if not is_string(v) then
        ctx:add(join(path, f), f .. " must be a string, got " .. util.type_name(v))
      elseif is_jsonata then
        jsonata.check_expression(ctx, join(path, f), v)
      end
    end
    if ok[f .. "Path"] then
      local p = join(path, f .. "Path")
      if not is_string(vp) then
        ctx:add(p, f .. "Path must be a string (a path or an intrinsic function call), got "
          .. util.type_name(vp))
      else
        paths.check_dollar_value(ctx, p, f .. "Path", vp)
      end
    end
  end
end

-- Pass: Result is any JSON; Parameters, ResultPath and Output are checked
-- in check_common. Succeed has nothing of its own either.
local function nothing_more() end

local BY_TYPE = {
  Task = check_task,
  Wait = check_wait,
  Fail = check_fail,
  Pass = nothing_more,
  Choice = function(ctx, path, state, _, is_jsonata) choice.check_state(ctx, path, state, is_jsonata) end,
  Parallel = map_parallel.check_parallel,
  Map = map_parallel.check_map,
  Succeed = nothing_more,
}

--- The query language of a state: its own QueryLanguage, else the machine's.
function M.is_jsonata(ctx, state)
  local ql = state.QueryLanguage
  if ql == "JSONata" then return true end
  if ql == "JSONPath" then return false end
  return ctx.machine_jsonata
end

--- Checks one state. Returns its Type when it is a known one.
function M.check(ctx, path, state)
  if not util.is_object(state) then
    ctx:add(path, "a state must be an object with a Type, got " .. util.type_name(state))
    return nil
  end
  local t = state.Type
  if t == nil then
    ctx:add(path, "These fields are required: [Type]; one of " .. table.concat(fields.TYPES, ", "))
    return nil
  end
  if not BY_TYPE[t] then
    ctx:add(join(path, "Type"), "unknown state Type " .. show(t) .. util.did_you_mean(t, fields.TYPES)
      .. "; valid types: " .. table.concat(fields.TYPES, ", "))
    return nil
  end
  local ql = state.QueryLanguage
  if ql ~= nil and ql ~= "JSONPath" and ql ~= "JSONata" then
    ctx:add(join(path, "QueryLanguage"), "Value should be one of the following: [JSONPath, JSONata]; got "
      .. show(ql))
  elseif ql == "JSONPath" and ctx.machine_jsonata then
    ctx:add(join(path, "QueryLanguage"), "'QueryLanguage' can not be 'JSONPath' if set to "
      .. "'JSONata' for whole state machine: remove it, or convert this state to JSONata")
  end
  local is_jsonata = M.is_jsonata(ctx, state)
  local ok = fields.check(ctx, path, state, t, is_jsonata)
  check_transition(ctx, path, state, t)
  check_common(ctx, path, state, ok, is_jsonata)
  BY_TYPE[t](ctx, path, state, ok, is_jsonata)
  return t
end

return M
