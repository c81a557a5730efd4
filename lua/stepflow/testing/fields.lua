--- The check of a mocked Task result against the model of the service
-- operation the Task calls (TestState's fieldValidationMode): STRICT
-- (the default) checks that required fields are there and that the
-- fields the model knows have its types, values and bounds; PRESENT only
-- the fields that are there; NONE nothing. Fields the model does not know
-- are accepted, as AWS accepts them. The models are those of
-- stepflow.testing.shapes (tools/gen_mock_shapes.lua): results of other
-- operations are not checked.
local json = require("stepflow.json")
local model = require("stepflow.testing.shapes")

local M = {}

-- AWS SDK integration service names whose models have other names.
local SDK_SERVICES = { sfn = "stepfunctions", eventbridge = "events" }

--- The model's service and operation of a Task Resource, or nil.
function M.operation_of(resource)
  if type(resource) ~= "string" then return nil end
  local base, suffix = resource:match("^(arn:[^:]+:states:::.-)(%.[%a:%d]+)$")
  base = base or resource
  local service, action = base:match("^arn:[^:]+:states:::aws%-sdk:([^:]+):([^:]+)$")
  if service then
    service = SDK_SERVICES[service] or service
  else
    service, action = base:match("^arn:[^:]+:states:::([^:]+):([^:]+)$")
    if service == "states" then service = "stepfunctions" end
  end
  if not service then return nil end
  local op = action:sub(1, 1):upper() .. action:sub(2)
  -- .sync of startExecution answers what DescribeExecution describes
  if service == "stepfunctions" and op == "StartExecution" and suffix and suffix:find("^%.sync") then
    op = "DescribeExecution"
  end
  local ops = model.operations[service]
  if not ops or not ops[op] then return nil end
  return service, ops[op]
end

local function type_of(v)
  local t = type(v)
  if t == "table" then return json.is_array(v) and "array" or "object" end
  if v == json.null then return "null" end
  return t
end

local check

local function check_members(shapes, shape, value, strict)
  if strict and shape.required then
    local names = {}
    for k in pairs(shape.required) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      if value[k] == nil then return nil, "Required field '" .. k .. "' is missing" end
    end
  end
  local names = {}
  for k in pairs(value) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local member = shape.members and shape.members[k]
    if member then
      local ok, err = check(shapes, member, value[k], k, strict)
      if not ok then return nil, err end
    end
  end
  return true
end

function check(shapes, name, v, field, strict)
  local shape = shapes[name]
  if not shape or v == json.null then return true end
  local want = shape[1]
  local got = type_of(v)
  if want == "string" then
    if got ~= "string" then return nil, "Field '" .. field .. "' must be a string" end
    if shape.enum and not shape.enum[v] then return nil, "Field '" .. field .. "' is not an expected value" end
    local n = utf8.len(v) or #v
    if shape.min and n < shape.min then return nil, "Field '" .. field .. "' is smaller than the minimum length" end
    if shape.max and n > shape.max then return nil, "Field '" .. field .. "' is larger than the maximum length" end
  elseif want == "number" then
    if got ~= "number" then return nil, "Field '" .. field .. "' must be a number" end
    if shape.min and v < shape.min then return nil, "Field '" .. field .. "' is less than the minimum value" end
    if shape.max and v > shape.max then return nil, "Field '" .. field .. "' exceeds the maximum value" end
  elseif want == "boolean" then
    if got ~= "boolean" then return nil, "Field '" .. field .. "' must be a boolean" end
  elseif want == "array" then
    if got ~= "array" and not (type(v) == "table" and next(v) == nil) then
      return nil, "Field '" .. field .. "' must be an array"
    end
    for _, item in ipairs(v) do
      local ok, err = check(shapes, shape.member, item, field, strict)
      if not ok then return nil, err end
    end
  elseif want == "object" then
    if got ~= "object" and not (type(v) == "table" and next(v) == nil) then
      return nil, "Field '" .. field .. "' must be an object"
    end
    if shape.value then
      for k, item in pairs(v) do
        local ok, err = check(shapes, shape.value, item, tostring(k), strict)
        if not ok then return nil, err end
      end
    elseif shape.members then
      return check_members(shapes, shape, v, strict)
    end
  end
  return true
end

--- Checks a mocked result of a Task calling `resource` in `mode` (STRICT,
-- PRESENT or NONE): true, or nil and what is wrong ("Field 'X' must be a
-- string", "Required field 'X' is missing", ...).
function M.check(resource, result, mode)
  if mode == "NONE" then return true end
  local service, output = M.operation_of(resource)
  if not service or type(result) ~= "table" or json.is_array(result) then return true end
  local shapes = model.shapes[service]
  return check_members(shapes, shapes[output], result, mode == "STRICT")
end

return M
