--- Fail: ends its program with an error name and cause, from literals,
-- paths or intrinsic calls (JSONPath) or expressions (JSONata).
local errors = require("stepflow.errors")
local json = require("stepflow.json")
local template = require("stepflow.asl.template")

local M = {}

-- A field read at run time: returns fn(frame, raw) -> string or nil.
local function field(c, st, def, name, where)
  local literal, path = def[name], def[name .. "Path"]
  if st.ql == "JSONata" then
    if literal == nil then return nil end
    local expr = st.flow.value(c, st, literal, where .. "/" .. name, name)
    return function(frame, raw)
      local v = expr(frame, raw)
      if type(v) ~= "string" then
        error(st.flow.query_error("The " .. name .. " field must evaluate to a string value.",
          name), 0)
      end
      return v
    end
  end
  if path ~= nil then
    local get = require("stepflow.asl.flow_jsonpath").path_or_intrinsic(c, path,
      where .. "/" .. name .. "Path")
    return function(frame, raw)
      frame.input = raw
      local v = get(frame)
      -- as AWS words it for a template's path
      if v == nil then template.not_found(path, name .. "Path", frame) end
      if type(v) ~= "string" then v = json.encode(v) end
      return v
    end
  end
  if literal == nil then return nil end
  return function() return literal end
end

function M.compile(c, st, def, where)
  local get_error = field(c, st, def, "Error", where)
  local get_cause = field(c, st, def, "Cause", where)
  st.run = function(_, frame, raw)
    local name = get_error and get_error(frame, raw)
    local cause = get_cause and get_cause(frame, raw)
    local e = errors.new(name or "", cause)
    if name == nil then e.Error = nil end
    return "fail", e
  end
end

return M
