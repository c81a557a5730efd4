--- Shared helpers of the definition validator: the problem collector, JSON
-- pointers, JSON type tests that work with any decoder (stepflow.json or
-- cjson), "did you mean" suggestions, and the optional compile hooks of
-- the modules other parts of the tree provide (JSONPath, intrinsics,
-- JSONata, timestamps).
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

--- Records one problem at a JSON pointer.
function Ctx:add(path, message)
  local p = self.problems
  p[#p + 1] = { path = path == "" and "/" or path, message = message }
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

local array_mt
do
  local ok, json = pcall(require, "stepflow.json")
  if ok and type(json) == "table" then array_mt = json.array_mt end
end

--- JSON null: a lightuserdata (json.null and cjson.null are the same value).
function M.is_null(v)
  return type(v) == "userdata"
end

-- A table is an array when it carries the array metatable, or when it is a
-- non-empty sequence; an empty table without one (cjson decodes [] so) is
-- ambiguous and counts as both an empty array and an empty object.
function M.is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt ~= nil and mt == array_mt then return true end
  if next(v) == nil then return true end
  local n = 0
  for k in pairs(v) do
    if math_type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #v
end

function M.is_object(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt ~= nil and mt == array_mt then return false end
  if next(v) == nil then return true end
  return not M.is_array(v)
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
    local mt = getmetatable(v)
    if (mt ~= nil and mt == array_mt) or (next(v) ~= nil and M.is_array(v)) then return "array" end
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
-- Optional modules written by other parts of the tree. Each hook returns
-- nil when the module is not there (yet), so the check is skipped, never
-- failed.
---------------------------------------------------------------------------

local loaded = {}
local function optional(name)
  local m = loaded[name]
  if m == nil then
    local ok, mod = pcall(require, name)
    m = (ok and type(mod) == "table") and mod or false
    loaded[name] = m
  end
  return m or nil
end
M.optional = optional

--- Lets specs replace or remove an optional module (nil = look it up again).
function M.set_optional(name, mod)
  loaded[name] = mod
end

--- Compiles a $-rooted JSONPath with stepflow.jsonpath.
-- Returns true (valid), false, message (invalid), or nil (not checkable).
function M.jsonpath_compile(text)
  local jp = optional("stepflow.jsonpath")
  if not jp or type(jp.compile) ~= "function" then return nil end
  local ok, p, err = pcall(jp.compile, text)
  if not ok then return nil end
  if p == nil then return false, tostring(err or "invalid JSONPath") end
  return true
end

--- Compiles a JSONata expression (the text between {% and %}).
-- Returns true, false, message, or nil (not checkable).
function M.jsonata_compile(expr)
  local ja = optional("stepflow.jsonata")
  if not ja or type(ja.compile) ~= "function" then return nil end
  local ok, err = pcall(ja.compile, expr)
  if ok then return true end
  if type(err) == "table" and (err.message or err.code) then
    local msg = tostring(err.message or err.code)
    if err.code and err.message then msg = tostring(err.code) .. ": " .. msg end
    if err.token ~= nil and not err.message then msg = msg .. " at '" .. tostring(err.token) .. "'" end
    if err.position then msg = msg .. " (at position " .. tostring(err.position) .. ")" end
    return false, msg
  end
  return nil  -- a plain Lua error is a bug of the compiler, not of the definition
end

--- Compiles an intrinsic call with stepflow.asl.intrinsics.
-- path_factory(p) -> accessor | nil, err. Returns true, false, msg, or nil.
function M.intrinsic_compile(text, path_factory)
  local intr = optional("stepflow.asl.intrinsics")
  if not intr or type(intr.compile) ~= "function" then return nil end
  local ok, fn, err = pcall(intr.compile, text, path_factory)
  if not ok then
    if type(fn) == "table" and (fn.Cause or fn.cause or fn.message) then
      return false, tostring(fn.Cause or fn.cause or fn.message)
    end
    return nil
  end
  if fn == nil then return false, tostring(err or "invalid intrinsic function call") end
  return true
end

-- RFC 3339 date-time as AWS accepts it (fallback when stepflow.asl.timestamp
-- is not there): YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm).
local function parse_timestamp_fallback(s)
  local y, mo, d, h, mi, sec, rest =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 or sec > 60 then return nil end
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 then mdays[2] = 29 end
  if d > mdays[mo] then return nil end
  rest = rest:gsub("^%.%d+", "")
  if rest == "Z" or rest == "z" then return true end
  local oh, om = rest:match("^[+-](%d%d):(%d%d)$")
  if oh and tonumber(oh) <= 23 and tonumber(om) <= 59 then return true end
  return nil
end

--- True when s is a timestamp as AWS accepts in Wait and Timestamp* rules.
function M.is_timestamp(s)
  if type(s) ~= "string" then return false end
  local ts = optional("stepflow.asl.timestamp")
  if ts and type(ts.parse) == "function" then
    local ok, v = pcall(ts.parse, s)
    if ok then return v ~= nil end
  end
  return parse_timestamp_fallback(s) ~= nil
end

return M
