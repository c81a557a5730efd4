--- stepflow.json: the faithful JSON codec (value model in docs/INTERNALS.md).
-- A thin wrapper over the C module stepflow.core.json: every function here
-- is the C function itself, so the hot path pays no extra Lua call, but
-- is_array, which decides the common cases before calling C.
--
-- Numbers: text without fraction or exponent decodes to a Lua integer when
-- it fits in 64 bits (a float otherwise); encode writes floats as
-- JSON.stringify does (shortest text that reads back exactly; integral
-- values without ".0", so 3.0 encodes as "3"; 1e21 as "1e+21"). NaN and
-- infinities are refused.
-- Strings: a lone surrogate escape ("\ud800") decodes to its WTF-8 bytes
-- (ED A0 80), as JavaScript keeps it, and encodes back to "\ud800"; raw
-- bytes that are not UTF-8 are refused both ways.
local core = require("stepflow.core.json")

local M = {}

--- JSON null: lightuserdata NULL, the same value as cjson.null.
M.null = core.null

--- The metatable shared by all arrays (registry name "stepflow.array").
M.array_mt = core.array_mt

--- Decodes JSON text.
-- @tparam string text
-- @return the value; raises "json: expected <what> at byte N" on bad text
M.decode = core.decode

--- Decodes JSON text without raising on bad text.
-- @tparam string text
-- @return the value, or nil and the message decode would raise
M.try_decode = core.try_decode

--- Encodes a value as JSON text, object keys sorted bytewise.
-- @param value
-- @tparam[opt] table opts `pretty = true` indents by 2 spaces;
--   `sort = false` keeps table order (faster)
-- @treturn string; raises "json: cannot encode <what> at <path>"
M.encode = core.encode

--- An encode function with fixed options (read once, not per call).
-- @tparam table opts as for encode, e.g. `{ sort = false }`
-- @treturn function(value) -> text
M.encoder = core.encoder

--- Tells, without encoding, that a value certainly encodes in at most
-- `limit` bytes (an upper bound); false means it may not: encode it to
-- know. For size limits, where most values are far below them.
M.size_within = core.size_within

--- Marks a table as a JSON array (sets the array metatable).
-- @tparam table t
-- @treturn table t
M.array = core.array

local core_is_array = core.is_array
local array_mt = core.array_mt
local type, getmetatable, rawget = type, getmetatable, rawget

--- Tells whether a value is a JSON array, the one rule every part of the
-- tree uses (and encode follows): a table with the array metatable, or a
-- non-empty table whose keys are exactly 1..n (as a Lua handler may
-- build one). An empty table without the metatable is an object.
-- @return boolean
function M.is_array(v)
  if type(v) ~= "table" then return false end
  if getmetatable(v) == array_mt then return true end
  -- keys exactly 1..n, n >= 1, include 1: most objects stop here
  return rawget(v, 1) ~= nil and core_is_array(v)
end

--- JSON text of a value for a message: the encoding, or, for a value
-- that is not JSON (a handler may return one), what encode says of it,
-- never a Lua table address.
-- @return string
function M.describe(v)
  local ok, text = pcall(M.encode, v)
  if ok then return text end
  return "(not JSON: " .. tostring(text):gsub("^json: ", "") .. ")"
end

--- Deep equality of two JSON values: numbers as JSON's doubles (1 equals
-- 1.0; an integer equals a float it converts to),
-- arrays (as is_array decides) element by element, objects by their key
-- sets. A table with a metatable other than array_mt (a JSONata function
-- value, say) is opaque: it equals only itself.
-- @return boolean; raises past 1000 levels of nesting (a cycle)
M.equal = core.equal

--- copy(t[, key, value]) -> a shallow copy of a table (metatable kept),
-- sized for its entries at once; with key, also sets copy[key] = value.
M.copy = core.copy

--- deep_copy(v) -> v with every nested table copied (tables are sized at
-- once; nesting deeper than 1000 raises).
M.deep_copy = core.deep_copy

return M
