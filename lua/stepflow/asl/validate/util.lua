--- Shared helpers of the definition validator: the problem collector, JSON
-- pointers, JSON type tests (stepflow.json's rule; a definition decoded by
-- cjson reads the same), "did you mean" suggestions, and the syntax checks
-- of JSONPath, intrinsic calls, JSONata and timestamps.
local json = require("stepflow.json")
local jsonpath = require("stepflow.jsonpath")
local timestamp = require("stepflow.asl.timestamp")

local M = {}

local math_type, floor, huge = math.type, math.floor, math.huge
local concat, sort = table.concat, table.sort

---------------------------------------------------------------------------
-- Problem collector
---------------------------------------------------------------------------

local Ctx = {}
Ctx.__index = Ctx
Ctx.__name = "stepflow.asl.validate.ctx"

--- A fresh collector. opts.type = "STANDARD" | "EXPRESS" (default STANDARD).
function M.new_ctx(opts)
  opts = opts or {}
  return setmetatable({
    problems = {},
    machine_type = opts.type or "STANDARD",
    machine_jsonata = false,    -- the top-level QueryLanguage is JSONata
    names = {},                 -- state name -> first pointer where declared
  }, Ctx)
end

--- Records one problem at a JSON pointer. `code` (optional) is the
-- diagnostic code AWS's ValidateStateMachineDefinition gives that kind of
-- problem (MISSING_TRANSITION_TARGET, DUPLICATE_STATE_NAME, ...); the
-- others are schema problems (SCHEMA_VALIDATION_FAILED).
function Ctx:add(path, message, code)
  local p = self.problems
  p[#p + 1] = { path = path == "" and "/" or path, message = message, code = code }
end

---------------------------------------------------------------------------
-- JSON pointers (RFC 6901)
---------------------------------------------------------------------------

--- Escapes one reference token: "~" -> "~0", "/" -> "~1".
function M.escape(token)
  token = tostring(token)
  return (token:gsub("~", "~0"):gsub("/", "~1"))
end

--- Appends a token (a key, or a 0-based index) to a pointer.
function M.join(path, token)
  return path .. "/" .. M.escape(token)
end

---------------------------------------------------------------------------
-- JSON types
---------------------------------------------------------------------------

local json_is_array = json.is_array

--- JSON null: a lightuserdata (json.null and cjson.null are the same value).
function M.is_null(v)
  return type(v) == "userdata"
end

-- A table is an array by json.is_array's rule; an empty table without the
-- array metatable (cjson decodes [] so, and a Lua literal {} may mean
-- either) counts as both an empty array and an empty object.
function M.is_array(v)
  if type(v) ~= "table" then return false end
  return json_is_array(v) or (next(v) == nil and getmetatable(v) == nil)
end

function M.is_object(v)
  if type(v) ~= "table" then return false end
  if next(v) == nil then return getmetatable(v) == nil end
  return not json_is_array(v)
end

--- An integral number (an integer, or a float without a fraction).
function M.is_integer(v)
  if math_type(v) == "integer" then return true end
  return math_type(v) == "float" and v == floor(v) and v ~= huge and v ~= -huge
end

function M.is_number(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end

--- The JSON type name of a value, for messages.
function M.type_name(v)
  local t = type(v)
  if t == "string" or t == "boolean" then return t end
  if t == "number" then return M.is_integer(v) and "integer" or "number" end
  if t == "userdata" then return "null" end
  if t == "table" then
    if json_is_array(v) then return "array" end
    return "object"
  end
  return t
end

--- Short JSON-ish rendering of a value for messages.
function M.show(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "number" then
    if math_type(v) == "float" and v == floor(v) and v < 2^53 and v > -2^53 then
      return string.format("%d", v)
    end
    return tostring(v)
  end
  if type(v) == "table" then return M.type_name(v) end
  if M.is_null(v) then return "null" end
  return tostring(v)
end

--- The keys of a table, sorted, so that every walk has a stable order.
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  return keys
end

--- Iterates an array's elements with 0-based indexes: for i0, v in elements(a).
function M.elements(a)
  local i = 0
  return function()
    i = i + 1
    local v = a[i]
    if v == nil then return nil end
    return i - 1, v
  end
end

---------------------------------------------------------------------------
-- Suggestions
---------------------------------------------------------------------------

-- Edit distance with adjacent transpositions (optimal string alignment).
local function distance(a, b)
  local la, lb = #a, #b
  if math.abs(la - lb) > 3 then return 99 end
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = (a:byte(i) == b:byte(j)) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

--- The candidate closest to word (a small case-insensitive edit distance), or nil.
function M.suggest(word, candidates)
  if type(word) ~= "string" then return nil end
  local best, best_d = nil, math.min(2, math.max(1, #word // 3)) + 1
  local lw = word:lower()
  for _, c in ipairs(candidates) do
    local d = (c:lower() == lw) and 0 or distance(lw, c:lower())
    if d < best_d then best, best_d = c, d end
  end
  return best
end

--- ", did you mean 'X'?" or "".
function M.did_you_mean(word, candidates)
  local s = M.suggest(word, candidates)
  if s and s ~= word then return " (did you mean '" .. s .. "'?)" end
  return ""
end

--- Joins a list of names for a message: "A, B, C" (at most 12, then "...").
function M.list(names)
  if #names <= 12 then return concat(names, ", ") end
  local head = {}
  for i = 1, 12 do head[i] = names[i] end
  return concat(head, ", ") .. ", ..."
end

---------------------------------------------------------------------------
-- Syntax checks by the modules that run the definitions
---------------------------------------------------------------------------

--- Compiles a $-rooted JSONPath with stepflow.jsonpath.
-- Returns true (valid), or false and a message.
function M.jsonpath_compile(text)
  local p, err = jsonpath.compile(text)
  if p == nil then return false, tostring(err) end
  return true
end

-- JSONata loads when a definition first uses it (start-up time of the
-- command line for JSONPath definitions).
local jsonata

--- Compiles a JSONata expression (the text between {% and %}).
-- Returns the compiled expression, or false and a message.
function M.jsonata_compile(expr)
  jsonata = jsonata or require("stepflow.jsonata")
  local ok, res = pcall(jsonata.compile, expr)
  if ok then return res end
  if type(res) == "table" and res.code then
    local msg = tostring(res.code) .. ": " .. tostring(res.message)
    if res.position then msg = msg .. " (at position " .. tostring(res.position) .. ")" end
    return false, msg
  end
  -- a bug of the compiler: the definition cannot be checked, so say so
  return false, "the expression could not be checked: " .. tostring(res)
end

--- Compiles an intrinsic call with stepflow.asl.intrinsics.
-- path_factory(p) -> accessor | nil, err. Returns true, or false and a message.
function M.intrinsic_compile(text, path_factory)
  local fn, err = require("stepflow.asl.intrinsics").compile(text, path_factory)
  if fn == nil then return false, tostring(err or "invalid intrinsic function call") end
  return true
end

--- True when s is a timestamp as AWS accepts in Wait and Timestamp* rules.
function M.is_timestamp(s)
  return type(s) == "string" and timestamp.parse(s) ~= nil
end

return M
