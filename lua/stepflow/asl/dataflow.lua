--- JSONPath-mode input and output processing: InputPath, OutputPath and
-- ResultPath, compiled once per state into closures.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local paths = require("stepflow.asl.paths")
local jsonpath = require("stepflow.jsonpath")

local M = {}

local null = json.null

--- Jayway's normalised form of a path, as AWS prints it in causes:
-- `$.a.b[0]` -> `$['a']['b'][0]`.
local function normalised(text)
  local p = jsonpath.compile(text)
  local keys = p and p:keys()
  if not keys then return text end
  local out = { "$" }
  for i = 1, #keys do
    local k = keys[i]
    if type(k) == "number" then out[#out + 1] = "[" .. k .. "]"
    else out[#out + 1] = "['" .. k .. "']" end
  end
  return table.concat(out)
end
M.normalised = normalised

--- Runtime error with the state prefix added by the interpreter.
local function runtime(cause)
  local e = errors.new(errors.Runtime, cause)
  e.state_prefix = true
  return e
end
M.runtime = runtime

--- Raises AWS's States.Runtime for a path that matched nothing. With the
-- value the path was applied to, a missing property before the last step
-- is reported as Jayway does: "Missing property in path $['a']" (the path
-- up to the missing key); a missing last step keeps "No results for path".
local function no_results(text, root)
  if root ~= nil then
    local p = jsonpath.compile(text)
    local keys = p and p:keys()
    if keys and #keys > 1 then
      local cur = root
      for i = 1, #keys - 1 do
        local k = keys[i]
        if type(k) ~= "string" or type(cur) ~= "table"
            or json.is_array(cur) then break end
        local nxt = cur[k]
        if nxt == nil then
          local prefix = { "$" }
          for j = 1, i do prefix[#prefix + 1] = "['" .. keys[j] .. "']" end
          error(runtime("Invalid path '" .. text .. "' : Missing property in path "
            .. table.concat(prefix)), 0)
        end
        cur = nxt
      end
    end
  end
  error(runtime("Invalid path '" .. text .. "' : No results for path: " .. normalised(text)), 0)
end
M.no_results = no_results

local function identity(_, v) return v end
M.identity = identity
local function empty_object() return {} end
local function replace(_, result) return result end
M.replace = replace

--- InputPath / OutputPath: absent keeps the value, null gives `{}`, a path
-- selects (a path that matches nothing fails with States.Runtime).
-- Returns `fn(env, value) -> value` where env.input is set to value.
function M.compile_select(text, present)
  if not present or text == "$" then return identity end
  if text == null then return empty_object end
  local acc, err = paths.accessor(text)
  if not acc then return nil, err end
  return function(env, value)
    env.input = value
    local v = acc(env)
    if v == nil then no_results(text, value) end
    return v
  end
end

local is_array, array_mt = json.is_array, json.array_mt

-- json.is_array's rule with its common case inline, for the per-transition
-- ResultPath: a table without the array metatable and without a [1] is an
-- object (a call costs a tenth of a Pass state's work); the rest asks it.
local function is_object_fast(t)
  return getmetatable(t) ~= array_mt and (t[1] == nil or not is_array(t))
end

local shallow_copy = json.copy

--- Copy-on-write set: returns a new root where `keys` leads to `value`,
-- copying only the tables along the way (values are never mutated in
-- place, so they can be shared between states, branches and iterations).
-- Missing object keys are created; stepping into a scalar, or naming a key
-- of an array, fails (nil).
function M.set_copy(root, keys, value)
  local n = #keys
  if n == 0 then return value end
  if type(root) ~= "table" then return nil end
  if n == 1 then
    -- ResultPath "$.name", the common case: one sized copy in C.
    local k = keys[1]
    if type(k) == "string" and is_object_fast(root) then
      return shallow_copy(root, k, value)
    end
  end
  local top = shallow_copy(root)
  local cur = top
  for i = 1, n do
    local k = keys[i]
    local arr = is_array(cur)
    if type(k) == "number" then
      if not arr or k < 0 or k >= #cur then return nil end
      k = k + 1
    elseif arr then
      return nil
    end
    if i == n then
      cur[k] = value
    else
      local child = cur[k]
      if child == nil then
        child = {}
      elseif type(child) == "table" then
        child = shallow_copy(child)
      else
        return nil
      end
      cur[k] = child
      cur = child
    end
  end
  return top
end

--- ResultPath: absent replaces the input with the result, null discards the
-- result, a reference path merges it into a copy of the input.
-- Returns `fn(raw_input, result) -> output`.
function M.compile_result_path(text, present)
  if not present or text == "$" then return replace end
  if text == null then
    return function(raw) return raw end
  end
  local keys, err = paths.reference_keys(text)
  if not keys then return nil, err end
  local k1 = keys[1]
  if #keys == 1 and type(k1) == "string" then
    -- "$.name", the common case: one C copy sized by the last one's size.
    local hint = 0
    return function(raw, result)
      if type(raw) == "table" and getmetatable(raw) ~= array_mt
          and (raw[1] == nil or not is_array(raw)) then
        local out
        out, hint = json.copy(raw, k1, result, hint)
        return out
      end
      errors.raise(errors.ResultPathMatchFailure,
        "Unable to apply ResultPath '" .. text .. "' to input '" .. json.describe(raw) .. "'")
    end
  end
  return function(raw, result)
    local out = M.set_copy(raw, keys, result)
    if out == nil then
      errors.raise(errors.ResultPathMatchFailure,
        "Unable to apply ResultPath '" .. text .. "' to input '" ..
        json.describe(raw) .. "'")
    end
    return out
  end
end

return M
