--- Checks a request's input against the service model
-- (stepflow.server.model, generated from the SDKs' own model file), as
-- AWS's front end does before an operation runs: wrong JSON types are a
-- SerializationException, broken constraints (required members, lengths,
-- ranges, enums, patterns) a ValidationException worded as AWS words it:
--   1 validation error detected: Value 'x' at 'name' failed to satisfy
--   constraint: Member must have length less than or equal to 80
-- Unknown members are ignored, as AWS ignores them; a member given as
-- null is absent (removed from the input), a null list element is a
-- ValidationException.
local json = require("stepflow.json")

local M = {}

local null, is_array = json.null, json.is_array
local array_mt = json.array_mt
local concat, format = table.concat, string.format
local utf8_len, math_type = utf8.len, math.type

-- The model's Java patterns, one check each (tools/gen_api_model.lua
-- refuses a pattern without one).
local PATTERNS = {
  character_restricted_name = function(s)
    return s:find("^[%w_%-%.]+$") ~= nil and s:find("[%a_%-%.]") ~= nil
  end,
  printable_ascii = function(s) return s:find("^[!-~]+$") ~= nil end,
  ascii = function(s) return s:find("[\128-\255]") == nil end,
}

-- Payloads are measured in bytes of UTF-8 (the model's documentation of
-- input and output); other strings in UTF-16 code units, as Java counts.
local BYTE_LENGTH = { SensitiveData = true }

local function utf16_length(s)
  if not s:find("[\128-\255]") then return #s end
  local n = utf8_len(s, 1, -1, true) or #s
  -- characters beyond the BMP count twice (a surrogate pair)
  local _, astral = s:gsub("[\240-\247]", "")
  return n + astral
end

-- A value as AWS shows it in a message, or nil to leave it out (sensitive
-- members, structures and lists).
local function shown(shape, v)
  if shape.sensitive then return nil end
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return tostring(v) end
  return nil
end

local function problem(problems, shape, v, path, constraint)
  local value = v == nil and "null" or shown(shape, v)
  problems[#problems + 1] = "Value " .. (value == "null" and "null " or value and ("'" .. value .. "' ") or "")
    .. "at '" .. path .. "' failed to satisfy constraint: " .. constraint
end

local check

-- What a JSON value of the wrong type is called in SerializationException.
local function found(v)
  local t = type(v)
  if t == "table" then return "Start of structure or list" end
  if t == "number" then return "NUMBER_VALUE" end
  return t:upper() .. "_VALUE"
end

local function check_length(shape, v, path, problems, n)
  if shape.min and n < shape.min then
    problem(problems, shape, v, path, "Member must have length greater than or equal to " .. shape.min)
  elseif shape.max and n > shape.max then
    problem(problems, shape, v, path, "Member must have length less than or equal to " .. shape.max)
  end
end

-- Checks v (not nil) against the shape named name. Returns a
-- SerializationException message when v has the wrong JSON type.
check = function(shapes, name, v, path, problems)
  local shape = shapes[name]
  local kind = shape[1]
  local t = type(v)
  if kind == "structure" then
    if t ~= "table" or getmetatable(v) == array_mt or (next(v) ~= nil and is_array(v)) then
      return "Start of " .. (t == "table" and "list" or "value") .. " found where a structure was expected at '"
        .. path .. "'"
    end
    -- the set of required members, made once per shape
    local req = shape.required_set
    if not req then
      req = {}
      for _, r in ipairs(shape.required or {}) do req[r] = true end
      shape.required_set = req
    end
    for _, m in ipairs(shape.members or {}) do
      local mname, mshape = m[1], m[2]
      local mv = v[mname]
      local mpath = path == "" and mname or (path .. "." .. mname)
      if mv == nil or mv == null then
        -- a null member is an absent one (the operations never see null)
        v[mname] = nil
        if req[mname] then problem(problems, shapes[mshape], nil, mpath, "Member must not be null") end
      else
        local err = check(shapes, mshape, mv, mpath, problems)
        if err then return err end
      end
    end
  elseif kind == "list" then
    if t ~= "table" or (next(v) ~= nil and not is_array(v)) then
      return "Expected a list at '" .. path .. "'"
    end
    check_length(shape, v, path, problems, #v)
    for i = 1, #v do
      local mpath = path .. "." .. i .. ".member"
      if v[i] == null then
        problem(problems, shapes[shape.member], nil, mpath, "Member must not be null")
      else
        local err = check(shapes, shape.member, v[i], mpath, problems)
        if err then return err end
      end
    end
  elseif kind == "map" then
    if t ~= "table" or (next(v) ~= nil and is_array(v)) then
      return "Expected a map at '" .. path .. "'"
    end
    local nulls
    for k, mv in pairs(v) do
      if mv == null then
        nulls = nulls or {}
        nulls[#nulls + 1] = k
      else
        local err = check(shapes, shape.value, mv, path .. "." .. tostring(k), problems)
        if err then return err end
      end
    end
    -- (a null value is an absent entry)
    for _, k in ipairs(nulls or {}) do v[k] = nil end
  elseif kind == "string" then
    if t ~= "string" then
      return format("%s can not be converted to a String at '%s'", found(v), path)
    end
    if shape.enum then
      local member = false
      for _, e in ipairs(shape.enum) do if e == v then member = true break end end
      if not member then
        problem(problems, shape, v, path, "Member must satisfy enum value set: [" .. concat(shape.enum, ", ") .. "]")
        return nil
      end
    end
    if shape.min or shape.max then
      local n = BYTE_LENGTH[name] and #v or utf16_length(v)
      check_length(shape, v, path, problems, n)
    end
    if shape.pattern and not PATTERNS[shape.pattern](v) then
      problem(problems, shape, v, path, "Member must satisfy regular expression pattern: " .. shape.pattern_text)
    end
  elseif kind == "integer" or kind == "number" then
    if t ~= "number" or (kind == "integer" and math_type(v) ~= "integer") then
      return format("%s can not be converted to an %s at '%s'", found(v),
        kind == "integer" and "Integer" or "Number", path)
    end
    if shape.min and v < shape.min then
      problem(problems, shape, v, path, "Member must have value greater than or equal to " .. shape.min)
    elseif shape.max and v > shape.max then
      problem(problems, shape, v, path, "Member must have value less than or equal to " .. shape.max)
    end
  elseif kind == "boolean" then
    if t ~= "boolean" then
      return format("%s can not be converted to a Boolean at '%s'", found(v), path)
    end
  elseif kind == "timestamp" then
    if t ~= "number" then return "Expected a timestamp (epoch seconds) at '" .. path .. "'" end
  end
  return nil
end

--- Checks `input` (a decoded JSON value) against the input shape named
-- `shape_name` of `model`. Returns nil when it conforms, or the error code
-- ("SerializationException" or "ValidationException") and AWS's message.
function M.check(model, shape_name, input)
  local problems = {}
  local err = check(model.shapes, shape_name, input, "", problems)
  if err then return "SerializationException", err end
  local n = #problems
  if n == 0 then return nil end
  return "ValidationException", n .. " validation error" .. (n > 1 and "s" or "") .. " detected: "
    .. concat(problems, "; ")
end

return M
