--- A definition's diagnostics as AWS's ValidateStateMachineDefinition
-- gives them: {severity, code, message, location}. Errors are the
-- validator's problems (stepflow.asl.validate: its code, else
-- SCHEMA_VALIDATION_FAILED; the location is the problem's JSON pointer,
-- "/" for the whole definition) and text that is not JSON
-- (INVALID_JSON_DESCRIPTION, located as Jackson, AWS's parser, locates
-- it: `[Source: (String)"..."; line: L, column: C]`). Warnings point at
-- what is valid but likely a mistake in a JSONPath state:
--   NO_DOLLAR              a payload template value that reads as a path
--                          or an intrinsic call, in a key without `.$`
--   NO_PATH                a Fail state's Error or Cause that reads as a
--                          path (ErrorPath, CausePath evaluate one)
--   PASS_RESULT_IS_STATIC  a Pass state's Result holding paths
local json = require("stepflow.json")
local validate = require("stepflow.asl.validate")
local util = require("stepflow.asl.validate.util")

local M = {}

-- Jackson shows at most this many characters of the source.
local SHOWN = 500

-- Jackson's location of a byte offset (1-based) in `text`.
local function source_location(text, at)
  local line, col = 1, 1
  for i = 1, math.min(at, #text + 1) - 1 do
    if text:byte(i) == 10 then
      line, col = line + 1, 1
    else
      col = col + 1
    end
  end
  local shown = text
  local cut = ""
  if #text > SHOWN then
    shown = text:sub(1, SHOWN)
    cut = "[truncated " .. (#text - SHOWN) .. " chars]"
  end
  return '[Source: (String)"' .. shown .. '"' .. cut .. "; line: " .. line .. ", column: " .. col .. "]"
end

local function err(code, message, location)
  return { severity = "ERROR", code = code, message = message, location = location }
end

local function warn(code, message, location)
  return { severity = "WARNING", code = code, message = message, location = location }
end

-- Whether a string reads as a JSONPath or an intrinsic function call.
local function looks_like_path(v)
  return type(v) == "string" and (v == "$" or v:find("^%$%$?[%.%[]") ~= nil or v:find("^States%.%a+%(") ~= nil)
end

-- NO_DOLLAR in a payload template: keys without ".$" holding a path.
local function no_dollar(out, value, path)
  if type(value) ~= "table" then return end
  local arr = json.is_array(value)
  for k, v in pairs(value) do
    local p = util.join(path, arr and (k - 1) or k)
    if not arr and type(k) == "string" and k:sub(-2) ~= ".$" and looks_like_path(v) then
      out[#out + 1] = warn("NO_DOLLAR", "The value of field '" .. k .. "' looks like a JSONPath or an intrinsic "
        .. "function, which is evaluated only in a field whose name ends with '.$' ('" .. k .. ".$')", p)
    end
    if type(v) == "table" then no_dollar(out, v, p) end
  end
end

-- Whether a Pass Result holds what would be evaluated elsewhere.
local function has_paths(value)
  if looks_like_path(value) then return true end
  if type(value) ~= "table" then return false end
  for k, v in pairs(value) do
    if (type(k) == "string" and k:sub(-2) == ".$") or has_paths(v) then return true end
  end
  return false
end

local TEMPLATES = { "Parameters", "ResultSelector", "ItemSelector" }

local function scope_warnings(out, scope, path, jsonata)
  local states = type(scope) == "table" and scope.States
  if type(states) ~= "table" then return end
  if scope.QueryLanguage == "JSONata" then jsonata = true end
  for _, name in ipairs(util.sorted_keys(states)) do
    local st = states[name]
    local sp = util.join(util.join(path, "States"), name)
    if type(st) == "table" then
      local is_jsonata = st.QueryLanguage == "JSONata" or (st.QueryLanguage == nil and jsonata)
      if not is_jsonata then
        for _, field in ipairs(TEMPLATES) do no_dollar(out, st[field], util.join(sp, field)) end
        if st.Type == "Fail" then
          for _, field in ipairs({ "Error", "Cause" }) do
            if looks_like_path(st[field]) then
              out[#out + 1] = warn("NO_PATH", "The value of field '" .. field .. "' looks like a path, but the "
                .. "field is not evaluated: use '" .. field .. "Path' to evaluate it", util.join(sp, field))
            end
          end
        end
        if st.Type == "Pass" and st.Result ~= nil and has_paths(st.Result) then
          out[#out + 1] = warn("PASS_RESULT_IS_STATIC", "The Result of a Pass state is static: its paths and "
            .. "intrinsic functions are not evaluated; use Parameters to evaluate them", util.join(sp, "Result"))
        end
      end
      for i, b in ipairs(type(st.Branches) == "table" and st.Branches or {}) do
        scope_warnings(out, b, util.join(util.join(sp, "Branches"), i - 1), is_jsonata)
      end
      local proc = st.ItemProcessor or st.Iterator
      if type(proc) == "table" then
        scope_warnings(out, proc, util.join(sp, st.ItemProcessor and "ItemProcessor" or "Iterator"), is_jsonata)
      end
    end
  end
end

--- The diagnostics of a definition text for a state machine of `type`
-- ("STANDARD" by default): every error, then every warning.
function M.of(text, type)
  if not text:find("%S") then
    return { err("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object") }
  end
  local def, derr = json.try_decode(text)
  if def == nil then
    local at = tonumber(tostring(derr):match("at byte (%d+)")) or 1
    local location = source_location(text, at)
    return { err("INVALID_JSON_DESCRIPTION", (tostring(derr):gsub("^json: ", "")) .. "\n at " .. location,
      location) }
  end
  if not util.is_object(def) then
    return { err("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object") }
  end
  local out = {}
  for _, p in ipairs(validate.check(def, { type = type or "STANDARD" })) do
    out[#out + 1] = err(p.code or "SCHEMA_VALIDATION_FAILED", p.message, p.path == "" and "/" or p.path)
  end
  scope_warnings(out, def, "", false)
  return out
end

return M
