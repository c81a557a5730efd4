--- Short texts of what the graph labels: Choice rules (JSONPath
-- comparisons and JSONata Conditions), error lists of Retry and Catch,
-- and the one-line summary under a state's name.
local json = require("stepflow.json")
local text = require("stepflow.graph.text")

local M = {}

-- Comparison operators by the suffix of their ASL name.
local OPERATORS = {
  Equals = "==", LessThan = "<", GreaterThan = ">",
  LessThanEquals = "<=", GreaterThanEquals = ">=",
}
local KINDS = { "String", "Numeric", "Boolean", "Timestamp" }

local function literal(v)
  if type(v) == "string" then return '"' .. v .. '"' end
  if v == json.null then return "null" end
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

-- The text of a JSONata expression: without its {% %} delimiters, on one
-- line.
local function jsonata(s)
  if type(s) ~= "string" then return literal(s) end
  local inner = s:match("^%s*{%%(.*)%%}%s*$")
  return text.squash(inner or s)
end
M.jsonata = jsonata

-- The comparison of one leaf rule: "$.x == 3", "$.t matches \"a*\"",
-- "$.x is present".
local function comparison(rule)
  local var = rule.Variable or "$"
  for key, value in pairs(rule) do
    if key ~= "Variable" and key ~= "Next" and key ~= "Comment" and key ~= "Assign"
      and key ~= "Output" then
      local is_path = key:sub(-4) == "Path" and key ~= "Path"
      local base = is_path and key:sub(1, -5) or key
      local shown = is_path and tostring(value) or literal(value)
      if base == "StringMatches" then return var .. " matches " .. shown end
      if base == "IsPresent" then return var .. (value == false and " is absent" or " is present") end
      for _, kind in ipairs(KINDS) do
        if base:sub(1, #kind) == kind then
          local op = OPERATORS[base:sub(#kind + 1)]
          if op then return var .. " " .. op .. " " .. shown end
        end
      end
      local test = base:match("^Is(%u%a*)$")
      if test then
        return var .. (value == false and " is not " or " is ") .. test:lower()
      end
    end
  end
  return var
end

-- Rules nest: And/Or become infix, Not a prefix; inner compound rules
-- get parentheses.
local function rule_text(rule, nested)
  if type(rule) ~= "table" then return "?" end
  if rule.Condition ~= nil then return jsonata(rule.Condition) end
  local list, op = rule.And, " and "
  if not list then list, op = rule.Or, " or " end
  if list then
    local parts = {}
    for i, r in ipairs(list) do parts[i] = rule_text(r, true) end
    local s = table.concat(parts, op)
    return nested and #parts > 1 and "(" .. s .. ")" or s
  end
  if rule.Not then return "not " .. rule_text(rule.Not, true) end
  return comparison(rule)
end

--- The text of a Choice rule (JSONPath or JSONata), on one line.
function M.rule(rule)
  return rule_text(rule, false)
end

--- The error names of a Retry or Catch list, joined: "A, B".
function M.errors(list)
  local names = {}
  for _, r in ipairs(list or {}) do
    for _, e in ipairs(type(r) == "table" and r.ErrorEquals or {}) do
      names[#names + 1] = tostring(e)
    end
  end
  return table.concat(names, ", ")
end

-- The last part of a Resource worth showing: a Lambda function's name, an
-- activity's name, "Service: Action" for an integration, the Lua handler
-- name otherwise.
local function resource_text(res, args)
  if type(res) ~= "string" then return "Task" end
  -- lambda:invoke names its function in its arguments: show that name
  local fn_name = type(args) == "table" and args.FunctionName
  if res:match("^arn:aws[%w-]*:states:::lambda:invoke") and type(fn_name) == "string"
    and not fn_name:find("{%", 1, true) then
    return "Lambda: " .. (fn_name:match(":function:([^:]+)") or fn_name)
  end
  local fn = res:match("^arn:aws[%w-]*:lambda:[^:]*:[^:]*:function:([^:]+)")
  if fn then return "Lambda: " .. fn end
  local act = res:match("^arn:aws[%w-]*:states:[^:]*:[^:]*:activity:(.+)$")
  if act then return "Activity: " .. act end
  local service, action = res:match("^arn:aws[%w-]*:states:::([^:]+):(.+)$")
  if service then
    local suffix = ""
    local base, pattern = action:match("^(.-)%.(%a+)$")
    if base then
      action = base
      suffix = pattern == "waitForTaskToken" and " (callback)" or pattern == "sync" and " (sync)" or ""
    end
    local names = { lambda = "Lambda", sqs = "SQS", sns = "SNS", dynamodb = "DynamoDB",
      states = "Step Functions", ecs = "ECS", glue = "Glue", events = "EventBridge" }
    return (names[service] or service) .. ": " .. action:sub(1, 1):upper() .. action:sub(2) .. suffix
  end
  return "Task: " .. res
end

local function seconds_text(s)
  if math.type(s) == "integer" or (type(s) == "number" and s == math.floor(s)) then
    return string.format("%d s", s)
  end
  return tostring(s) .. " s"
end

--- The line under a state's name: its type and the one thing that tells
-- it apart (the resource, the wait, the items).
function M.summary(st)
  local t = st.Type
  if t == "Task" then return resource_text(st.Resource, st.Arguments or st.Parameters) end
  if t == "Wait" then
    if st.Seconds ~= nil then
      return "Wait " .. (type(st.Seconds) == "number" and seconds_text(st.Seconds) or jsonata(st.Seconds))
    end
    if st.Timestamp ~= nil then return "Wait until " .. jsonata(st.Timestamp) end
    if st.SecondsPath then return "Wait " .. tostring(st.SecondsPath) end
    if st.TimestampPath then return "Wait until " .. tostring(st.TimestampPath) end
    return "Wait"
  end
  if t == "Fail" then
    return type(st.Error) == "string" and "Fail: " .. jsonata(st.Error) or "Fail"
  end
  if t == "Map" then
    local parts = { "Map" }
    local proc = st.ItemProcessor
    if type(proc) == "table" and type(proc.ProcessorConfig) == "table"
      and proc.ProcessorConfig.Mode == "DISTRIBUTED" then
      parts[1] = "Distributed Map"
    end
    local items = st.ItemsPath or st.Items
    if items ~= nil then parts[#parts + 1] = type(items) == "string" and jsonata(items) or "items" end
    if type(st.MaxConcurrency) == "number" and st.MaxConcurrency > 0 then
      parts[#parts + 1] = "max " .. (math.tointeger(st.MaxConcurrency) or st.MaxConcurrency)
    end
    return table.concat(parts, " \u{b7} ")
  end
  if t == "Parallel" then
    local n = type(st.Branches) == "table" and #st.Branches or 0
    return "Parallel \u{b7} " .. n .. (n == 1 and " branch" or " branches")
  end
  return tostring(t)
end

return M
