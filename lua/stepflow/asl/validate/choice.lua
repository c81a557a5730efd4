--- Choice rule checks of the definition validator: structure (top-level
-- rules need Next, nested ones must not have it; exactly one operator; And/Or
-- non-empty arrays; Not one rule), operand types, and JSONata Conditions.
local util = require("stepflow.asl.validate.util")
local paths = require("stepflow.asl.validate.paths")
local jsonata = require("stepflow.asl.validate.jsonata")

local M = {}

local join, show = util.join, util.show

local function is_string(v) return type(v) == "string" end
local function is_boolean(v) return type(v) == "boolean" end

-- operator -> { test = literal check, what = description }
local OPERATORS = {}
local OPERATOR_NAMES = {}

local function add(name, test, what)
  OPERATORS[name] = { test = test, what = what }
  OPERATOR_NAMES[#OPERATOR_NAMES + 1] = name
end

-- "The values of Variable and Path fields in a comparison must be valid
-- Reference Paths" (ASL specification, Choice Rules).
local function path_operand(v)
  return paths.path_error(v, { reference = true })
end

for _, cmp in ipairs({ "Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals" }) do
  add("String" .. cmp, is_string, "a string")
  add("String" .. cmp .. "Path", path_operand, "a reference path")
  add("Numeric" .. cmp, util.is_number, "a number")
  add("Numeric" .. cmp .. "Path", path_operand, "a reference path")
  add("Timestamp" .. cmp, util.is_timestamp, "an RFC 3339 timestamp string such as "
    .. "'2016-03-14T01:59:00Z'")
  add("Timestamp" .. cmp .. "Path", path_operand, "a reference path")
end
add("StringMatches", is_string, "a string pattern ('*' is a wildcard, '\\*' a literal star)")
add("BooleanEquals", is_boolean, "true or false")
add("BooleanEqualsPath", path_operand, "a reference path")
for _, t in ipairs({ "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp" }) do
  add(t, is_boolean, "true or false")
end
table.sort(OPERATOR_NAMES)
M.OPERATORS = OPERATOR_NAMES

local BOOLEAN_OPS = { And = true, Or = true, Not = true }

local JSONPATH_FIELDS = { Variable = true, Next = true, Comment = true, Assign = true }
local JSONATA_FIELDS = { Condition = true, Next = true, Comment = true, Assign = true, Output = true }

local function known_names(jsonata_rule)
  local names = jsonata_rule and { "Condition", "Next", "Comment", "Assign", "Output" }
    or { "Variable", "Next", "Comment", "Assign", "And", "Or", "Not" }
  if not jsonata_rule then
    for _, n in ipairs(OPERATOR_NAMES) do names[#names + 1] = n end
  end
  return names
end

local check_rule

-- A JSONPath rule.
local function check_jsonpath_rule(ctx, path, rule)
  local ops = {}
  for _, k in ipairs(util.sorted_keys(rule)) do
    if OPERATORS[k] or BOOLEAN_OPS[k] then
      ops[#ops + 1] = k
    elseif k == "Condition" or k == "Output" then
      ctx:add(join(path, k), "The QueryLanguage is set to 'JSONPath', but field '" .. k
        .. "' is only supported for the 'JSONata' QueryLanguage: write the rule with Variable "
        .. "and a comparison operator, or set QueryLanguage to 'JSONata'")
    elseif not JSONPATH_FIELDS[k] then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in a Choice rule"
        .. util.did_you_mean(k, known_names(false)))
    end
  end
  if #ops == 0 then
    ctx:add(path, "a Choice rule needs one comparison operator (such as StringEquals or "
      .. "NumericGreaterThan) with a Variable, or one of And, Or, Not")
  elseif #ops > 1 then
    ctx:add(path, "a Choice rule takes exactly one operator, found " .. table.concat(ops, ", ")
      .. ": combine several tests with And or Or")
  end
  local op = ops[1]
  if #ops == 1 and BOOLEAN_OPS[op] then
    if rule.Variable ~= nil then
      ctx:add(join(path, "Variable"), "a rule with " .. op .. " takes no Variable: put the "
        .. "Variable in each nested rule")
    end
    local v, p = rule[op], join(path, op)
    if op == "Not" then
      if not util.is_object(v) or next(v) == nil then
        ctx:add(p, "Not must be one Choice rule (an object), got " .. util.type_name(v))
      else
        check_rule(ctx, p, v, false, false)
      end
    else
      if not util.is_array(v) or next(v) == nil then
        ctx:add(p, op .. " must be a non-empty array of Choice rules, got "
          .. (util.is_array(v) and "an empty array" or util.type_name(v)))
      else
        for i0, sub in util.elements(v) do check_rule(ctx, join(p, i0), sub, false, false) end
      end
    end
  elseif #ops == 1 then
    if rule.Variable == nil then
      ctx:add(path, "These fields are required: [Variable]; a " .. op
        .. " rule compares the value at Variable (such as \"$.status\")")
    else
      paths.check_path(ctx, join(path, "Variable"), rule.Variable, "Variable", { reference = true })
    end
    local spec, v = OPERATORS[op], rule[op]
    local ok, why = spec.test(v)
    if not ok then
      ctx:add(join(path, op), op .. " must be " .. spec.what .. ", got " .. show(v)
        .. (type(why) == "string" and (": " .. why) or ""))
    end
  elseif #ops == 0 and rule.Variable ~= nil then
    paths.check_path(ctx, join(path, "Variable"), rule.Variable, "Variable", { reference = true })
  end
end

-- A JSONata rule: Condition plus Next (top level only), Assign, Output, Comment.
local function check_jsonata_rule(ctx, path, rule)
  for _, k in ipairs(util.sorted_keys(rule)) do
    if not JSONATA_FIELDS[k] then
      if OPERATORS[k] or BOOLEAN_OPS[k] or k == "Variable" then
        ctx:add(join(path, k), "The QueryLanguage is set to 'JSONata', but field '" .. k
          .. "' is only supported for the 'JSONPath' QueryLanguage: write the test as "
          .. "\"Condition\": \"{% ... %}\"")
      else
        ctx:add(join(path, k), "Field '" .. k .. "' is not supported in a Choice rule"
          .. util.did_you_mean(k, known_names(true)))
      end
    end
  end
  local c = rule.Condition
  if c == nil then
    ctx:add(path, "These fields are required: [Condition]; a JSONata Choice rule tests "
      .. "\"Condition\": \"{% <boolean expression> %}\"")
  elseif type(c) == "string" and jsonata.is_expression(c) then
    jsonata.check_expression(ctx, join(path, "Condition"), c)
  elseif type(c) ~= "boolean" then
    ctx:add(join(path, "Condition"), "Condition must be a JSONata expression "
      .. "'{% ... %}' (or true/false), got " .. show(c))
  end
  if rule.Output ~= nil then jsonata.check_payload(ctx, join(path, "Output"), rule.Output) end
end

check_rule = function(ctx, path, rule, top, is_jsonata)
  if not util.is_object(rule) or next(rule) == nil then
    ctx:add(path, "a Choice rule must be a non-empty object, got " .. util.type_name(rule))
    return
  end
  if is_jsonata then
    check_jsonata_rule(ctx, path, rule)
  else
    check_jsonpath_rule(ctx, path, rule)
  end
  if top then
    if rule.Next == nil then
      ctx:add(path, "These fields are required: [Next]; a top-level Choice rule names the "
        .. "state to go to when it matches")
    elseif type(rule.Next) ~= "string" or rule.Next == "" then
      ctx:add(join(path, "Next"), "Next must be a state name (a non-empty string), got "
        .. show(rule.Next))
    end
    if rule.Assign ~= nil then
      jsonata.check_assign(ctx, join(path, "Assign"), rule.Assign, is_jsonata)
    end
  else
    if rule.Next ~= nil then
      ctx:add(join(path, "Next"), "a nested Choice rule (inside And, Or, Not) takes no Next: "
        .. "only the top-level rule transitions")
    end
    if rule.Assign ~= nil then
      ctx:add(join(path, "Assign"), "a nested Choice rule (inside And, Or, Not) takes no "
        .. "Assign: put it on the top-level rule")
    end
  end
  if rule.Comment ~= nil and type(rule.Comment) ~= "string" then
    ctx:add(join(path, "Comment"), "Comment must be a string")
  end
end

--- Checks the Choices array and Default of a Choice state.
function M.check_state(ctx, path, state, is_jsonata)
  local choices = state.Choices
  local p = join(path, "Choices")
  if choices == nil then
    ctx:add(path, "These fields are required: [Choices]; a Choice state needs a non-empty "
      .. "array of rules")
  elseif not util.is_array(choices) or next(choices) == nil then
    ctx:add(p, "Choices must be a non-empty array of Choice rules, got "
      .. (util.is_array(choices) and "an empty array" or util.type_name(choices)))
  else
    for i0, rule in util.elements(choices) do
      check_rule(ctx, join(p, i0), rule, true, is_jsonata)
    end
  end
  if state.Default ~= nil and (type(state.Default) ~= "string" or state.Default == "") then
    ctx:add(join(path, "Default"), "Default must be a state name (a non-empty string), got "
      .. show(state.Default))
  end
end

return M
