--- JSONPath payload templates: Parameters, ResultSelector, ItemSelector,
-- Credentials and JSONPath-mode Assign. A key ending in `.$` takes a path,
-- a context path, a variable or an intrinsic call; other keys are literal.
-- Templates are compiled once into closures.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local paths = require("stepflow.asl.paths")
local intrinsics = require("stepflow.asl.intrinsics")

local M = {}

local array_mt, is_array = json.array_mt, json.is_array
local type, pairs, setmetatable = type, pairs, setmetatable

local short_json = json.describe

--- Raises AWS's States.Runtime for a template path (or a Fail state's
-- ErrorPath/CausePath) that matches nothing: "The JSONPath '$.x' specified
-- for the field 'F' could not be found in the input '<input as JSON>'"
-- (the Context object for a `$$` path). AWS does not report it as
-- ParameterPathFailure.
function M.not_found(text, field, env)
  local root = text:sub(1, 2) == "$$" and paths.context_of(env) or env.input
  local e = errors.new(errors.Runtime,
    "The JSONPath '" .. text .. "' specified for the field '" .. field ..
    "' could not be found in the input '" .. short_json(root) .. "'")
  e.state_prefix = true
  error(e, 0)
end
local not_found = M.not_found

-- A literal never changes after compilation and the interpreter never
-- mutates values in place, so a literal subtree is shared, not copied.
local compile_value

local function compile_object(tmpl, field, where)
  local fixed, dynamic = {}, {}
  local nfixed, ndyn = 0, 0
  for k, v in pairs(tmpl) do
    if type(k) == "string" and k:sub(-2) == ".$" and type(v) == "string" then
      local name = k:sub(1, -3)
      local get, err
      if intrinsics.is_call(v) then
        get, err = intrinsics.compile(v, paths.accessor)
        if not get then return nil, where .. "/" .. k .. ": " .. err end
      else
        local acc
        acc, err = paths.accessor(v)
        if not acc then return nil, where .. "/" .. k .. ": " .. err end
        local text = v
        get = function(env)
          local value = acc(env)
          if value == nil then not_found(text, k, env) end
          return value
        end
      end
      ndyn = ndyn + 1
      dynamic[ndyn] = { name, get }
    else
      local sub, err = compile_value(v, field, where .. "/" .. tostring(k))
      if err then return nil, err end
      if type(sub) == "function" then
        ndyn = ndyn + 1
        dynamic[ndyn] = { k, sub }
      else
        nfixed = nfixed + 1
        fixed[k] = sub
      end
    end
  end
  if ndyn == 0 then return tmpl end
  return M.constructor(fixed, dynamic)
end

-- Builds `fn(env) -> object` for a template as one generated table
-- constructor: `{ k1 = c1, k2 = f2(env), ... }`, so that an evaluation is
-- one allocation and no loop. Keys are quoted with %q; the constants and
-- the functions are passed in as upvalues, never written into the source.
function M.constructor(fixed, dynamic)
  local count = #dynamic
  for _ in pairs(fixed) do count = count + 1 end
  if count > 150 then
    -- Lua allows 200 locals in a function: big templates copy in a loop.
    return function(env)
      local out = {}
      for k, v in pairs(fixed) do out[k] = v end
      for i = 1, #dynamic do
        local d = dynamic[i]
        out[d[1]] = d[2](env)
      end
      return out
    end
  end
  local parts, values, n = {}, {}, 0
  for k, v in pairs(fixed) do
    n = n + 1
    values[n] = v
    parts[#parts + 1] = string.format("[%q] = v%d", k, n)
  end
  for i = 1, #dynamic do
    local d = dynamic[i]
    n = n + 1
    values[n] = d[2]
    parts[#parts + 1] = string.format("[%q] = v%d(env)", d[1], n)
  end
  local names = {}
  for i = 1, n do names[i] = "v" .. i end
  local src = "local " .. table.concat(names, ", ") .. " = ...\n" ..
    "return function(env) return { " .. table.concat(parts, ", ") .. " } end"
  local chunk = assert(load(src, "=(template)", "t", {}))
  return chunk(table.unpack(values, 1, n))
end

local function compile_array(tmpl, field, where)
  local parts, dyn = {}, false
  for i = 1, #tmpl do
    local sub, err = compile_value(tmpl[i], field, where .. "/" .. (i - 1))
    if err then return nil, err end
    parts[i] = sub
    if type(sub) == "function" then dyn = true end
  end
  if not dyn then return tmpl end
  local n = #parts
  return function(env)
    local out = setmetatable({}, array_mt)
    for i = 1, n do
      local p = parts[i]
      if type(p) == "function" then out[i] = p(env) else out[i] = p end
    end
    return out
  end
end

function compile_value(v, field, where)
  if type(v) ~= "table" then return v end
  if is_array(v) then return compile_array(v, field, where) end
  return compile_object(v, field, where)
end

--- Compiles a payload template. Returns `fn(env) -> value` (a function even
-- for a template without dynamic parts), or nil, message.
function M.compile(tmpl, field)
  local c, err = compile_value(tmpl, field, field or "")
  if err then return nil, err end
  if type(c) == "function" then return c end
  return function() return c end
end

return M
