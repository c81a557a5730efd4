--- Path checks of the definition validator (JSONPath query language):
-- Paths ($, $$ context, $var variables), Reference Paths, payload templates
-- ("key.$" values) and the syntax of intrinsic function calls.
local util = require("stepflow.asl.validate.util")

local M = {}

local join, show = util.join, util.show

-- Splits a path into its root kind and the rest after the root:
-- "input" ($...), "context" ($$...), "variable" ($name...), or nil.
local function split_root(s)
  if s:sub(1, 2) == "$$" then
    return "context", s:sub(3)
  end
  if s == "$" or s:match("^%$[.%[]") then
    return "input", s:sub(2)
  end
  local name, rest = s:match("^%$([%a_\128-\255][%w_\128-\255]*)(.*)$")
  if name then return "variable", rest, name end
  return nil
end
M.split_root = split_root

-- Parses the steps after the root of a Reference Path: .name, ['name'],
-- ["name"], [index]. Returns true, or false and what is wrong.
local function reference_steps(rest)
  local i, n = 1, #rest
  while i <= n do
    local c = rest:sub(i, i)
    if c == "." then
      local name = rest:match("^[^.%[%]]+", i + 1)
      if not name then
        if rest:sub(i + 1, i + 1) == "." then return false, "'..' (deep scan) selects many nodes" end
        return false, "empty name after '.'"
      end
      if name:find("[*@,:?]") then
        return false, "'" .. name .. "' holds a wildcard or filter character (* @ , : ?)"
      end
      i = i + 1 + #name
    elseif c == "[" then
      local idx = rest:match("^%[(%d+)%]", i)
      if idx then
        i = i + #idx + 2
      else
        local q = rest:sub(i + 1, i + 1)
        if q ~= "'" and q ~= '"' then
          return false, "'[' must hold an index or a quoted name (no *, slices, unions or filters)"
        end
        local j = i + 2
        local closed = false
        while j <= n do
          local cj = rest:sub(j, j)
          if cj == "\\" then
            j = j + 2
          elseif cj == q then
            closed = true
            break
          else
            j = j + 1
          end
        end
        if not closed or rest:sub(j + 1, j + 1) ~= "]" then
          return false, "unterminated quoted name in '[...]'"
        end
        i = j + 2
      end
    else
      return false, "unexpected '" .. c .. "' (steps are .name, ['name'] or [index])"
    end
  end
  return true
end

-- The steps of a general path: stepflow.jsonpath decides.
local function general_steps(rest)
  return util.jsonpath_compile("$" .. rest)
end

local ROOT_HELP = "a path starts with '$' (input), '$$' (context object) or '$name' (variable)"

--- Checks a Path (InputPath, OutputPath, *Path fields, comparator *Path
-- operands, "key.$" values). Returns true, or false and a reason.
-- opts.reference: it must be a Reference Path; opts.no_context,
-- opts.no_variable: those roots are refused.
function M.path_error(s, opts)
  opts = opts or {}
  if type(s) ~= "string" then return false, "expected a string, got " .. util.type_name(s) end
  -- Jayway, which AWS uses, trims the path text ("$$.Execution.Name ")
  local kind, rest = split_root(s:match("^%s*(.-)%s*$"))
  if not kind then return false, ROOT_HELP end
  if kind == "context" and opts.no_context then
    return false, "the context object ($$) cannot be used here"
  end
  if kind == "variable" and opts.no_variable then
    return false, "a variable ($name) cannot be used here"
  end
  if opts.reference then return reference_steps(rest) end
  return general_steps(rest)
end

--- Adds a problem unless value is a valid path for field.
-- what: "JSONPath" or "reference path" (when opts.reference).
function M.check_path(ctx, path, value, field, opts)
  opts = opts or {}
  local ok, why = M.path_error(value, opts)
  if ok then return true end
  local kind = opts.reference and "a valid reference path" or "a valid JSONPath"
  ctx:add(path, "The value for the field '" .. field .. "' must be " .. kind
    .. ", got " .. show(value) .. ": " .. why)
  return false
end

---------------------------------------------------------------------------
-- Intrinsic functions
---------------------------------------------------------------------------

M.INTRINSICS = {
  "States.Array", "States.ArrayContains", "States.ArrayGetItem", "States.ArrayLength",
  "States.ArrayPartition", "States.ArrayRange", "States.ArrayUnique", "States.Base64Decode",
  "States.Base64Encode", "States.Format", "States.Hash", "States.JsonMerge",
  "States.JsonToString", "States.MathAdd", "States.MathRandom", "States.StringSplit",
  "States.StringToJson", "States.UUID",
}
local KNOWN = {}
for _, n in ipairs(M.INTRINSICS) do KNOWN[n] = true end

--- True when text looks like an intrinsic call: Name(...).
function M.is_intrinsic_call(s)
  return type(s) == "string" and s:match("^%s*[%a_][%w_.]*%s*%(") ~= nil
    and s:match("^%s*%$") == nil
end

-- Recursive-descent syntax check of an intrinsic call: its message names
-- an unknown function with a suggestion, which the compiler's does not.
local function parse_call(s, i, depth)
  local ws = "^%s*()"
  i = s:match(ws, i)
  local name, j = s:match("^([%a_][%w_.]*)%s*%(()", i)
  if not name then return nil, "expected a function call such as States.Format(...)" end
  if not KNOWN[name] then
    return nil, "unknown intrinsic function '" .. name .. "'"
      .. util.did_you_mean(name, M.INTRINSICS)
  end
  if depth > 10 then return nil, "intrinsic functions nest at most 10 deep" end
  i = s:match(ws, j)
  if s:sub(i, i) == ")" then return i + 1 end
  while true do
    i = s:match(ws, i)
    local c = s:sub(i, i)
    if c == "'" then
      local k = i + 1
      while true do
        local ck = s:sub(k, k)
        if ck == "" then return nil, "unterminated string literal" end
        if ck == "\\" then k = k + 2
        elseif ck == "'" then break
        else k = k + 1 end
      end
      i = k + 1
    elseif c == "$" then
      local k, d, q = i, 0, nil
      while k <= #s do
        local ck = s:sub(k, k)
        if q then
          if ck == "\\" then k = k + 1 elseif ck == q then q = nil end
        elseif ck == "'" or ck == '"' then q = ck
        elseif ck == "[" or ck == "(" then d = d + 1
        elseif (ck == "]" or ck == ")") and d > 0 then d = d - 1
        elseif (ck == "," or ck == ")") and d == 0 then break
        end
        k = k + 1
      end
      local p = s:sub(i, k - 1):match("^(.-)%s*$")
      local ok, why = M.path_error(p)
      if not ok then return nil, "argument " .. p .. " is not a valid path: " .. why end
      i = k
    elseif s:match("^%-?%d", i) then
      local num = s:match("^%-?%d+%.?%d*[eE]?[+-]?%d*", i)
      i = i + #num
    elseif s:match("^true", i) or s:match("^null", i) then
      i = i + 4
    elseif s:match("^false", i) then
      i = i + 5
    else
      local k, err = parse_call(s, i, depth + 1)
      if not k then return nil, err end
      i = k
    end
    i = s:match(ws, i)
    c = s:sub(i, i)
    if c == ")" then return i + 1 end
    if c ~= "," then
      return nil, c == "" and "missing ')'" or ("unexpected '" .. c .. "' in the argument list")
    end
    i = i + 1
  end
end

-- The path factory the syntax check compiles calls with: one function, so
-- stepflow.asl.intrinsics' cache of compiled calls applies.
local function check_factory(p)
  local ok, why = M.path_error(p)
  if ok then return function() return nil end end
  return nil, why
end

-- Verdicts by call text: definitions repeat the same calls (bounded: a
-- server validates definitions for as long as it runs).
local verdicts = require("stepflow.util.cache").new(1000)

--- Returns true, or false and a reason, for an intrinsic call's syntax.
function M.intrinsic_error(s)
  local v = verdicts:get(s)
  if v == nil then v = verdicts:put(s, { M.intrinsic_verdict(s) }) end
  return v[1], v[2]
end

function M.intrinsic_verdict(s)
  local verdict, why = util.intrinsic_compile(s, check_factory)
  if verdict then return true end
  local k, err = parse_call(s, 1, 1)
  if not k and err:find("did you mean", 1, true) then
    return false, err  -- the same verdict, with a suggestion
  end
  return false, why
end

---------------------------------------------------------------------------
-- Payload templates: Parameters, ResultSelector, ItemSelector, Credentials,
-- JSONPath Assign. A key ending in ".$" takes a path or an intrinsic call.
---------------------------------------------------------------------------

--- Checks the value of one "key.$" field.
function M.check_dollar_value(ctx, path, key, value)
  local prefix = "The value for the field '" .. key
    .. "' must be a valid JSONPath or a valid intrinsic function call"
  if type(value) ~= "string" then
    ctx:add(path, prefix .. ", got " .. util.type_name(value))
    return
  end
  if M.is_intrinsic_call(value) then
    local ok, why = M.intrinsic_error(value)
    if not ok then ctx:add(path, prefix .. ": " .. why) end
    return
  end
  local ok, why = M.path_error(value)
  if not ok then ctx:add(path, prefix .. ", got " .. show(value) .. ": " .. why) end
end

--- Walks a payload template; every "key.$" value is checked.
function M.check_template(ctx, path, value)
  if type(value) ~= "table" then return end
  if util.is_array(value) then
    for i0, v in util.elements(value) do M.check_template(ctx, join(path, i0), v) end
    return
  end
  for _, k in ipairs(util.sorted_keys(value)) do
    local v = value[k]
    if k:sub(-2) == ".$" then   -- ".$" too: the name "" takes a path
      M.check_dollar_value(ctx, join(path, k), k, v)
    else
      M.check_template(ctx, join(path, k), v)
    end
  end
end

return M
