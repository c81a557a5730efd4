--- JSONata checks of the definition validator: "{% expression %}" strings,
-- their syntax (through stepflow.jsonata when it is there), JSONata payloads
-- (Arguments, Output, Assign, ItemSelector), and Assign variable names, which
-- follow the same rules in both query languages.
local util = require("stepflow.asl.validate.util")
local paths = require("stepflow.asl.validate.paths")

local M = {}

local join = util.join

--- The expression inside "{% ... %}", or nil when s is not one.
function M.expression(s)
  if type(s) ~= "string" then return nil end
  local body = s:match("^{%%(.*)%%}$")
  return body
end

--- True when s is a "{% ... %}" string.
function M.is_expression(s)
  return M.expression(s) ~= nil
end

---------------------------------------------------------------------------
-- What AWS refuses in an expression that parses: a Step Functions
-- expression has no context item, so a path that starts with a plain name
-- ("input.x" instead of "$states.input.x") or reads $$ is refused, and
-- $states.errorOutput exists only in a catcher's Output and Assign. The
-- walk reads the jsonata-js shaped AST of stepflow.jsonata.parser; only
-- the first step of a path runs against the top level (later steps,
-- predicates and stages run against the step before), and a lambda body
-- keeps the context of the expression that defines it.
---------------------------------------------------------------------------

local walk

local function walk_list(list, out)
  if type(list) ~= "table" then return end
  for _, n in ipairs(list) do walk(n, out) end
end

walk = function(node, out)
  if type(node) ~= "table" then return end
  local t = node.type
  if t == "path" then
    local steps = node.steps
    if type(steps) ~= "table" then return end
    local first = steps[1]
    if type(first) ~= "table" then return end
    if first.type == "name" then
      out[#out + 1] = { kind = "name", name = tostring(first.value) }
    elseif first.type == "variable" and first.value == "states" and type(steps[2]) == "table"
        and steps[2].type == "name" and steps[2].value == "errorOutput" then
      out[#out + 1] = { kind = "errorOutput" }
    else
      walk(first, out)
    end
  elseif t == "variable" then
    if node.value == "$" then out[#out + 1] = { kind = "root" } end
  elseif t == "binary" or t == "apply" or t == "bind" then
    walk(node.lhs, out)
    walk(node.rhs, out)
  elseif t == "unary" then
    if node.value == "-" then
      walk(node.expression, out)
    elseif node.value == "[" then
      walk_list(node.expressions, out)
    elseif node.value == "{" and type(node.lhs) == "table" then
      for _, pair in ipairs(node.lhs) do
        if type(pair) == "table" then walk(pair[1], out); walk(pair[2], out) end
      end
    end
  elseif t == "condition" then
    walk(node.condition, out)
    walk(node["then"], out)
    walk(node["else"], out)
  elseif t == "block" then
    walk_list(node.expressions, out)
  elseif t == "function" or t == "partial" then
    walk(node.procedure, out)
    walk_list(node.arguments, out)
  elseif t == "lambda" then
    walk(node.body, out)
  end
end

local function check_references(ctx, path, tree)
  local refs = {}
  walk(tree, refs)
  local seen = {}
  for _, r in ipairs(refs) do
    local key = r.kind .. ":" .. (r.name or "")
    if not seen[key] then
      seen[key] = true
      if r.kind == "name" then
        ctx:add(path, "Reference to '" .. r.name .. "' at the top level is not supported: "
          .. "an expression has no context item; read the state input as $states.input."
          .. r.name .. " (or a variable as $" .. r.name .. ")")
      elseif r.kind == "root" then
        ctx:add(path, "Reference to '$$' is not supported: read the state input as $states.input")
      elseif r.kind == "errorOutput" and not ctx.in_catch then
        ctx:add(path, "Field '$states.errorOutput' does not exist here: it is set only in the "
          .. "Output and Assign of a Catch")
      end
    end
  end
end

--- Checks one "{% %}" string: not empty, compiles, and reads nothing
-- that AWS refuses (a top-level name, $$, $states.errorOutput outside a Catch).
function M.check_expression(ctx, path, s)
  local body = M.expression(s)
  if not body then return end
  if body:match("^%s*$") then
    ctx:add(path, "the JSONata expression is empty: write an expression between '{%' and '%}'")
    return
  end
  local compiled, err = util.jsonata_compile(body)
  if not compiled then
    ctx:add(path, "invalid JSONata expression " .. s .. ": " .. err)
    return
  end
  check_references(ctx, path, compiled.ast)
end

--- Walks a JSONata payload (any JSON); every "{% %}" string is checked.
function M.check_payload(ctx, path, value)
  if type(value) == "string" then
    M.check_expression(ctx, path, value)
  elseif type(value) == "table" then
    if util.is_array(value) then
      for i0, v in util.elements(value) do M.check_payload(ctx, join(path, i0), v) end
    else
      for _, k in ipairs(util.sorted_keys(value)) do
        M.check_payload(ctx, join(path, k), value[k])
      end
    end
  end
end

--- A field that takes a literal of some kind or, in JSONata, an expression.
-- literal_ok(v) -> true, or false and a reason; what names the literal kind.
function M.check_literal_or_expression(ctx, path, field, value, jsonata, literal_ok, what)
  if jsonata and type(value) == "string" and M.is_expression(value) then
    M.check_expression(ctx, path, value)
    return
  end
  local ok, why = literal_ok(value)
  if not ok then
    ctx:add(path, "The field '" .. field .. "' must be " .. what
      .. (jsonata and " or a JSONata expression '{% ... %}'" or "")
      .. ", got " .. util.show(value) .. (why and (": " .. why) or ""))
  end
end

---------------------------------------------------------------------------
-- Assign
---------------------------------------------------------------------------

local MAX_NAME = 80

--- Checks one variable name (the Assign key without a trailing ".$").
function M.check_variable_name(ctx, path, name)
  if name == "states" then
    ctx:add(path, "'states' is a reserved variable name ($states holds input, result, "
      .. "errorOutput and context): choose another name")
    return
  end
  if utf8.len(name) and utf8.len(name) > MAX_NAME or not utf8.len(name) and #name > MAX_NAME then
    ctx:add(path, "the variable name '" .. name .. "' is longer than " .. MAX_NAME .. " characters")
    return
  end
  if not name:match("^[%a_\128-\255][%w_\128-\255]*$") then
    ctx:add(path, "invalid variable name '" .. name .. "': a name starts with a letter or '_' "
      .. "and holds only letters, digits and '_'")
  end
end

--- Checks an Assign object. In JSONPath a key "name.$" takes a path or an
-- intrinsic call; in JSONata,
-- values are JSONata payloads.
function M.check_assign(ctx, path, assign, jsonata)
  if not util.is_object(assign) then
    ctx:add(path, "The field 'Assign' must be an object of variable name -> value, got "
      .. util.type_name(assign))
    return
  end
  for _, k in ipairs(util.sorted_keys(assign)) do
    local p, v = join(path, k), assign[k]
    local name = k
    if k:sub(-2) == ".$" then
      name = k:sub(1, -3)
      if jsonata then
        ctx:add(p, "keys ending in '.$' are JSONPath syntax; in a JSONata state write '"
          .. name .. "' with a '{% ... %}' value")
      else
        paths.check_dollar_value(ctx, p, k, v)
      end
    elseif jsonata then
      M.check_payload(ctx, p, v)
    else
      paths.check_template(ctx, p, v)
    end
    M.check_variable_name(ctx, p, name)
  end
end

return M
