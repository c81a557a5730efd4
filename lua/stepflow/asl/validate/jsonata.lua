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

--- Checks one "{% %}" string: not empty, and compiles.
function M.check_expression(ctx, path, s)
  local body = M.expression(s)
  if not body then return end
  if body:match("^%s*$") then
    ctx:add(path, "the JSONata expression is empty: write an expression between '{%' and '%}'")
    return
  end
  local ok, err = util.jsonata_compile(body)
  if ok == false then
    ctx:add(path, "invalid JSONata expression " .. s .. ": " .. err)
  end
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
