--- ASL paths: `$` (state input), `$$` (context object) and `$name`
-- (variables) accessors, reference paths for ResultPath, and the ResultPath
-- merge. See docs/INTERNALS.md.
local jsonpath = require("stepflow.jsonpath")
local json = require("stepflow.json")

local compile = jsonpath.compile
local is_array = json.is_array
local type, next, rawlen = type, next, rawlen
local getmetatable, setmetatable = getmetatable, setmetatable
local tostring = tostring

local M = {}

-- Compiled accessors by path text: definitions repeat the same paths, and
-- the validator and the compiler both ask. Bounded, since a server loads
-- definitions for as long as it runs (and a path may hold data: a filter
-- literal).
local cache = require("stepflow.util.cache").new(2000)

-- Compiles "$" .. rest, reporting errors against the text as written.
local function compile_as(text, rest, shift)
  local p, err = compile("$" .. rest)
  if p then return p end
  local what, at = err:match("^invalid JSONPath '.*': (.*) at character (%d+)$")
  if what then
    return nil, ("invalid JSONPath '%s': %s at character %d"):format(
      text, what, tonumber(at) + shift)
  end
  return nil, (err:gsub("^invalid JSONPath '.*':", "invalid JSONPath '"
    .. text:gsub("%%", "%%%%") .. "':", 1))
end

local function input_of(env) return env.input end

-- A Lua walk for paths of names and non-negative indexes (the common
-- case): it gives what the C evaluator gives, without the call into C.
-- `root(env)` picks the value the path starts from.
local function walker(p, root)
  local keys = p:keys()
  if not keys then return nil end
  local steps = {}
  for i, k in ipairs(keys) do
    if type(k) == "number" then
      if k < 0 then return nil end
      steps[i] = k + 1
    else
      steps[i] = k
    end
  end
  local n = #steps
  local k1, k2, k3 = steps[1], steps[2], steps[3]
  -- `$.a` and `$.a.b` on the state input, the most common paths, read
  -- env.input directly.
  if root == input_of and n == 1 then
    return function(env)
      local v = env.input
      if type(v) ~= "table" then return nil end
      return v[k1]
    end
  elseif root == input_of and n == 2 then
    return function(env)
      local v = env.input
      if type(v) ~= "table" then return nil end
      v = v[k1]
      if type(v) ~= "table" then return nil end
      return v[k2]
    end
  end
  if n == 1 then
    return function(env)
      local v = root(env)
      if type(v) ~= "table" then return nil end
      return v[k1]
    end
  elseif n == 2 then
    return function(env)
      local v = root(env)
      if type(v) ~= "table" then return nil end
      v = v[k1]
      if type(v) ~= "table" then return nil end
      return v[k2]
    end
  elseif n == 3 then
    return function(env)
      local v = root(env)
      if type(v) ~= "table" then return nil end
      v = v[k1]
      if type(v) ~= "table" then return nil end
      v = v[k2]
      if type(v) ~= "table" then return nil end
      return v[k3]
    end
  end
  return function(env)
    local v = root(env)
    for i = 1, n do
      if type(v) ~= "table" then return nil end
      v = v[steps[i]]
    end
    return v
  end
end

-- The whole Context object: frames build it on demand (context_of), plain
-- environments (specs, tools) carry it as env.context.
local function context_of(env)
  local build = env.context_of
  if build then return build(env) end
  return env.context
end
M.context_of = context_of

-- `$$.Part...`: frames give one part of the Context object at a time.
local function context_walker(p)
  local keys = p:keys()
  if not keys or type(keys[1]) ~= "string" then return nil end
  local first = keys[1]
  local rest = {}
  for i = 2, #keys do rest[i - 1] = keys[i] end
  -- `$$.Map.Item.Index` / `.Value` in an ItemSelector, read once per item:
  -- straight from the item being selected (frame.map_item), when there is
  -- one; the general way otherwise.
  if first == "Map" and #rest == 2 and rest[1] == "Item" and type(rest[2]) == "string" then
    local field = rest[2]
    return function(env)
      local item = env.map_item
      if item then return item[field] end
      local part = env.context_part
      local map
      if part then map = part(env, "Map")
      else
        local ctx = context_of(env)
        map = type(ctx) == "table" and ctx.Map or nil
      end
      local it = type(map) == "table" and map.Item or nil
      if type(it) ~= "table" then return nil end
      return it[field]
    end
  end
  local tail = #rest > 0 and walker({ keys = function() return rest end }, function(env)
    local part = env.context_part
    if part then return part(env, first) end
    local ctx = context_of(env)
    return type(ctx) == "table" and ctx[first] or nil
  end)
  if #rest == 0 then
    return function(env)
      local part = env.context_part
      if part then return part(env, first) end
      local ctx = context_of(env)
      return type(ctx) == "table" and ctx[first] or nil
    end
  end
  return tail
end

local function build(text)
  if text == "$" then
    return function(env) return env.input end
  end
  if text == "$$" then
    return context_of
  end
  local p, err, get
  local rest = text:match("^%$%$(.*)$")
  if rest then                                  -- $$.x: context object
    p, err = compile_as(text, rest, 1)
    if not p then return nil, err end
    local fast = context_walker(p) or walker(p, context_of)
    if fast then return fast end
    get = p.get
    return function(env) return get(p, context_of(env)) end
  end
  local name
  name, rest = text:match("^%$([%a_][%w_]*)(.*)$")
  if name then                                  -- $name.x: a variable
    p, err = compile_as(text, rest, #name)
    if not p then return nil, err end
    get = p.get
    return function(env)
      local vars = env.vars
      local v = vars and vars[name]
      if v == nil then return nil end
      return get(p, v)
    end
  end
  p, err = compile(text)                        -- $.x: state input
  if not p then return nil, err end
  local fast = walker(p, input_of)
  if fast then return fast end
  get = p.get
  return function(env) return get(p, env.input) end
end

--- Compiles a path to an accessor, cached by text.
-- `$`/`$.x` read `env.input`, `$$`/`$$.x` read `env.context`, and
-- `$name`/`$name.x`/`$name[0]` read the variable `env.vars[name]`
-- (names: letters, digits and underscores, not starting with a digit).
-- @tparam string text the path
-- @return get(env) -> the value for a definite path, an array for an
--   indefinite one, nil when nothing is there; or nil and a message
function M.accessor(text)
  if type(text) ~= "string" then
    error("stepflow.asl.paths.accessor: path must be a string", 2)
  end
  local get = cache:get(text)
  if get then return get end
  local err
  -- Jayway, which AWS uses, trims the path text ("$$.Execution.Name ")
  get, err = build(text:match("^%s*(.-)%s*$"))
  if not get then return nil, err end
  return cache:put(text, get)
end

--- The steps of a reference path rooted at `$` (for ResultPath).
-- @tparam string text the path
-- @return an array of names (strings) and 0-based indexes (integers),
--   empty for `$`; or nil and a message
function M.reference_keys(text)
  if type(text) ~= "string" then
    error("stepflow.asl.paths.reference_keys: path must be a string", 2)
  end
  local p, err = compile(text)
  if not p then return nil, err end
  local keys = p:keys()
  if not keys then
    return nil, ("invalid ReferencePath '%s': only .name, ['name'] and "
      .. "[index] steps are allowed"):format(text)
  end
  return keys
end

local function shallow_copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return setmetatable(c, getmetatable(t))
end

local describe = json.describe

local function mismatch(root, key)
  return ("Unable to apply step \"%s\" to input %s"):format(
    tostring(key), describe(root))
end

--- Applies ResultPath semantics: puts `value` into `root` at `keys`.
-- An empty `keys` (ResultPath `$`) gives `value` itself. Missing object
-- keys on the way are created as objects; stepping by name into anything
-- but an object, or by index outside an array, fails (AWS raises
-- States.ResultPathMatchFailure with the message as its cause).
-- Nothing is mutated: the root and each table on the path are copied
-- (shallowly), so results that share tables with the input, or are the
-- input itself, never create cycles or change earlier values.
-- @param root the state input
-- @tparam table keys steps from `reference_keys`
-- @param value the result
-- @return the new root, or nil and a message
function M.set(root, keys, value)
  local n = #keys
  if n == 0 then return value end
  if value == nil then
    error("stepflow.asl.paths.set: value must not be nil (use json.null)", 2)
  end
  local new_root
  local parent, parent_key
  local cur = root
  for i = 1, n do
    local k = keys[i]
    local copy, slot
    if type(cur) ~= "table" then return nil, mismatch(root, k) end
    if type(k) == "string" then
      if is_array(cur) then return nil, mismatch(root, k) end
      slot = k
    else
      if not is_array(cur) then return nil, mismatch(root, k) end
      local len = rawlen(cur)
      local idx = k < 0 and len + k or k
      if idx < 0 or idx >= len then return nil, mismatch(root, k) end
      slot = idx + 1
    end
    copy = shallow_copy(cur)
    if parent then parent[parent_key] = copy else new_root = copy end
    if i == n then
      copy[slot] = value
    else
      local child = copy[slot]
      if child == nil then child = {} end       -- missing: a new object
      parent, parent_key, cur = copy, slot, child
    end
  end
  return new_root
end

return M
