--- Choice rules (JSONPath mode) compiled to closures.
-- A rule is a boolean combination (And, Or, Not) or a data-test
-- expression: `Variable` plus exactly one comparison operator. A value
-- of the wrong type makes a comparison false, never an error; a Variable
-- (or `...Path` operand) that points at nothing raises States.Runtime,
-- except for IsPresent, which is then false.
local errors = require("stepflow.errors")
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")

local M = {}

local type, byte, find, gsub = type, string.byte, string.find, string.gsub
local concat = table.concat
local null = json.null
local parse_ts = timestamp.parse_parts

local RUNTIME = errors.Runtime
local new_error = errors.new

-- state_prefix asks the interpreter to prepend "An error occurred while
-- executing the state '...' (entered at the event id #n). " as AWS does.
local function invalid_path(path)
  local e = new_error(RUNTIME, "Invalid path '" .. path
    .. "': The choice state's condition path references an invalid value.")
  e.state_prefix = true
  error(e, 0)
end

-- Java String.compareTo orders UTF-16 code units. UTF-8 byte order is
-- code point order, which differs only between U+E000..U+FFFF (lead bytes
-- EE, EF) and supplementary characters (lead F0..F4, surrogates in UTF-16).
local function compare_strings(a, b)
  if a == b then return 0 end
  local la, lb = #a, #b
  local n = la < lb and la or lb
  local i = 1
  while i <= n and byte(a, i) == byte(b, i) do i = i + 1 end
  if i > n then return la < lb and -1 or 1 end
  local ca, cb = byte(a, i), byte(b, i)
  if ca >= 0xF0 and (cb == 0xEE or cb == 0xEF) then return -1 end
  if cb >= 0xF0 and (ca == 0xEE or ca == 0xEF) then return 1 end
  return ca < cb and -1 or 1
end
M.compare_strings = compare_strings

-- StringMatches: `*` matches any run of characters; a backslash makes the
-- next character literal (`\*`, `\\`). Compiled to an anchored Lua pattern.
local function glob_to_pattern(glob)
  local out, i, n = { "^" }, 1, #glob
  while i <= n do
    local c = glob:sub(i, i)
    if c == "\\" and i < n then
      i = i + 1
      out[#out + 1] = gsub(glob:sub(i, i), "%W", "%%%0")
    elseif c == "*" then
      out[#out + 1] = ".-"
    else
      out[#out + 1] = gsub(c, "%W", "%%%0")
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return concat(out)
end
M.glob_to_pattern = glob_to_pattern

local function cmp_ts(a1, a2, b1, b2)
  if a1 ~= b1 then return a1 < b1 and -1 or 1 end
  if a2 ~= b2 then return a2 < b2 and -1 or 1 end
  return 0
end

-- Result tests on a three-way comparison result.
local ORDER = {
  Equals = function(c) return c == 0 end,
  LessThan = function(c) return c < 0 end,
  GreaterThan = function(c) return c > 0 end,
  LessThanEquals = function(c) return c <= 0 end,
  GreaterThanEquals = function(c) return c >= 0 end,
}

-- Numeric comparisons in Lua compare integers and floats exactly.
local NUMERIC = {
  Equals = function(a, b) return a == b end,
  LessThan = function(a, b) return a < b end,
  GreaterThan = function(a, b) return a > b end,
  LessThanEquals = function(a, b) return a <= b end,
  GreaterThanEquals = function(a, b) return a >= b end,
}

local function numeric(rel)
  local op = NUMERIC[rel]
  return function(get, var, operand, get2)
    if get2 then
      return function(env)
        local v = get(env)
        if v == nil then invalid_path(var) end
        local w = get2(env)
        if w == nil then invalid_path(operand) end
        return type(v) == "number" and type(w) == "number" and op(v, w)
      end
    end
    return function(env)
      local v = get(env)
      if v == nil then invalid_path(var) end
      return type(v) == "number" and op(v, operand)
    end
  end
end

local function stringop(rel)
  local test = ORDER[rel]
  return function(get, var, operand, get2)
    if get2 then
      return function(env)
        local v = get(env)
        if v == nil then invalid_path(var) end
        local w = get2(env)
        if w == nil then invalid_path(operand) end
        return type(v) == "string" and type(w) == "string"
          and test(compare_strings(v, w))
      end
    end
    if rel == "Equals" then
      return function(env)
        local v = get(env)
        if v == nil then invalid_path(var) end
        return v == operand
      end
    end
    return function(env)
      local v = get(env)
      if v == nil then invalid_path(var) end
      return type(v) == "string" and test(compare_strings(v, operand))
    end
  end
end

local function timestampop(rel)
  local test = ORDER[rel]
  return function(get, var, operand, get2)
    if get2 then
      return function(env)
        local v = get(env)
        if v == nil then invalid_path(var) end
        local w = get2(env)
        if w == nil then invalid_path(operand) end
        local a1, a2 = parse_ts(v)
        if not a1 then return false end
        local b1, b2 = parse_ts(w)
        if not b1 then return false end
        return test(cmp_ts(a1, a2, b1, b2))
      end
    end
    local b1, b2 = parse_ts(operand)
    return function(env)
      local v = get(env)
      if v == nil then invalid_path(var) end
      local a1, a2 = parse_ts(v)
      if not a1 then return false end
      return test(cmp_ts(a1, a2, b1, b2))
    end
  end
end

local function boolean_equals(get, var, operand, get2)
  if get2 then
    return function(env)
      local v = get(env)
      if v == nil then invalid_path(var) end
      local w = get2(env)
      if w == nil then invalid_path(operand) end
      return type(v) == "boolean" and v == w
    end
  end
  return function(env)
    local v = get(env)
    if v == nil then invalid_path(var) end
    return v == operand
  end
end

local function string_matches(get, var, operand)
  local pattern = glob_to_pattern(operand)
  return function(env)
    local v = get(env)
    if v == nil then invalid_path(var) end
    return type(v) == "string" and find(v, pattern) ~= nil
  end
end

-- Type tests: `is(v)` tells whether v has the type; the rule's operand
-- (true or false) says which answer makes the rule true.
local function type_test(is)
  return function(get, var, operand)
    return function(env)
      local v = get(env)
      if v == nil then invalid_path(var) end
      return is(v) == operand
    end
  end
end

local function is_present(get, _, operand)
  return function(env)
    return (get(env) ~= nil) == operand
  end
end

-- Operand kinds checked at compile time.
local KIND_CHECK = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  timestamp = function(v) return parse_ts(v) ~= nil end,
}
local KIND_TEXT = {
  string = "a string", number = "a number", boolean = "a boolean",
  timestamp = "an RFC 3339 timestamp string", path = "a path string",
}

-- operator name -> { builder, operand kind, is a path twin }
local OPERATORS = {}
for _, rel in ipairs({ "Equals", "LessThan", "GreaterThan",
                       "LessThanEquals", "GreaterThanEquals" }) do
  OPERATORS["String" .. rel] = { stringop(rel), "string" }
  OPERATORS["String" .. rel .. "Path"] = { stringop(rel), "path", true }
  OPERATORS["Numeric" .. rel] = { numeric(rel), "number" }
  OPERATORS["Numeric" .. rel .. "Path"] = { numeric(rel), "path", true }
  OPERATORS["Timestamp" .. rel] = { timestampop(rel), "timestamp" }
  OPERATORS["Timestamp" .. rel .. "Path"] = { timestampop(rel), "path", true }
end
OPERATORS.BooleanEquals = { boolean_equals, "boolean" }
OPERATORS.BooleanEqualsPath = { boolean_equals, "path", true }
OPERATORS.StringMatches = { string_matches, "string" }
OPERATORS.IsNull = { type_test(function(v) return v == null end), "boolean" }
OPERATORS.IsPresent = { is_present, "boolean" }
OPERATORS.IsNumeric = {
  type_test(function(v) return type(v) == "number" end), "boolean" }
OPERATORS.IsString = {
  type_test(function(v) return type(v) == "string" end), "boolean" }
OPERATORS.IsBoolean = {
  type_test(function(v) return type(v) == "boolean" end), "boolean" }
OPERATORS.IsTimestamp = {
  type_test(function(v) return parse_ts(v) ~= nil end), "boolean" }
M.OPERATORS = OPERATORS

local compile_rule

local function compile_list(list, factory, where)
  if type(list) ~= "table" or #list == 0 then
    return nil, where .. ": expected a non-empty array of rules"
  end
  local tests = {}
  for i = 1, #list do
    local t, err = compile_rule(list[i], factory, where .. "[" .. (i - 1) .. "]")
    if not t then return nil, err end
    tests[i] = t
  end
  return tests
end

function compile_rule(rule, factory, where)
  if type(rule) ~= "table" then
    return nil, where .. ": a rule must be an object"
  end
  local found
  for _, name in ipairs({ "And", "Or", "Not" }) do
    if rule[name] ~= nil then
      if found then
        return nil, where .. ": more than one of " .. found .. " and " .. name
      end
      found = name
    end
  end
  if found == "And" or found == "Or" then
    local tests, err = compile_list(rule[found], factory, where .. "." .. found)
    if not tests then return nil, err end
    local n = #tests
    if n == 1 then return tests[1] end
    if found == "And" then
      if n == 2 then
        local a, b = tests[1], tests[2]
        return function(env) return a(env) and b(env) end
      end
      return function(env)
        for i = 1, n do
          if not tests[i](env) then return false end
        end
        return true
      end
    end
    if n == 2 then
      local a, b = tests[1], tests[2]
      return function(env) return a(env) or b(env) end
    end
    return function(env)
      for i = 1, n do
        if tests[i](env) then return true end
      end
      return false
    end
  elseif found == "Not" then
    local inner, err = compile_rule(rule.Not, factory, where .. ".Not")
    if not inner then return nil, err end
    return function(env) return not inner(env) end
  end

  local op_name, op
  for key in pairs(rule) do
    local o = OPERATORS[key]
    if o then
      if op_name then
        local a, b = op_name, key
        if b < a then a, b = b, a end
        return nil, where .. ": more than one comparison operator ("
          .. a .. ", " .. b .. ")"
      end
      op_name, op = key, o
    end
  end
  if not op_name then
    return nil, where .. ": no comparison operator"
  end
  local var = rule.Variable
  if type(var) ~= "string" then
    return nil, where .. ".Variable: expected a path string"
  end
  local get, err = factory(var)
  if not get then
    return nil, where .. ".Variable: " .. tostring(err)
  end
  local builder, kind, is_path = op[1], op[2], op[3]
  local operand = rule[op_name]
  local get2
  if is_path then
    if type(operand) ~= "string" then
      return nil, where .. "." .. op_name .. ": expected " .. KIND_TEXT.path
    end
    get2, err = factory(operand)
    if not get2 then
      return nil, where .. "." .. op_name .. ": " .. tostring(err)
    end
  elseif not KIND_CHECK[kind](operand) then
    return nil, where .. "." .. op_name .. ": expected " .. KIND_TEXT[kind]
  end
  return builder(get, var, operand, get2)
end

--- Compiles a Choice rule (a Choices entry or a nested rule).
-- @param rule the rule table as in the definition (Next etc. are ignored)
-- @param accessor_factory function(path) -> get(env) | nil, err
--   (in production `require("stepflow.asl.paths").accessor`)
-- @return test(env) -> boolean (raises a States.Runtime error value when a
--   path is missing), or nil, message naming the offending field
function M.compile(rule, accessor_factory)
  if type(accessor_factory) ~= "function" then
    error("stepflow.asl.choice.compile: accessor_factory must be a function", 2)
  end
  return compile_rule(rule, accessor_factory, "rule")
end

return M
