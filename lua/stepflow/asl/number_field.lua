--- Number-valued fields that a state reads at run time: a literal, a
-- `*Path` into the state's effective input (JSONPath; numeric strings
-- count, as AWS parses them), or an expression (JSONata). Used for
-- TimeoutSeconds, HeartbeatSeconds, MaxConcurrency, ToleratedFailure*,
-- MaxItemsPerBatch and MaxInputBytesPerBatch.
local json = require("stepflow.json")
local paths = require("stepflow.asl.paths")
local dataflow = require("stepflow.asl.dataflow")

local M = {}

local mtype, floor, type, tonumber = math.type, math.floor, type, tonumber

local function quoted(v)
  if type(v) == "string" then return '"' .. v .. '"' end
  return '"' .. json.describe(v) .. '"'
end

--- Compiles field `field` of `def` (or its `field .. "Path"` form).
-- kind: "integer" or "float"; opts.positive refuses 0 and below.
-- Returns fn(frame, effective, raw) -> number, or nil when the state has
-- neither form.
function M.compile(c, st, def, field, kind, where, opts)
  if st.ql == "JSONata" then
    if def[field] == nil then return nil end
    return st.flow.number_field(c, st, def[field], where .. "/" .. field, field)
  end
  if def[field] ~= nil then
    local v = def[field]
    return function() return v end
  end
  local text = def[field .. "Path"]
  if text == nil then return nil end
  local get = c:check(paths.accessor(text), where .. "/" .. field .. "Path")
  local positive = opts and opts.positive
  local what = (positive and "positive " or "") .. kind
  return function(frame, effective)
    frame.input = effective
    local v = get(frame)
    -- A path that matches nothing fails like InputPath/OutputPath do
    -- (AWS: "Invalid path '$.x' : No results for path: $['x']").
    if v == nil then dataflow.no_results(text) end
    if type(v) == "string" then
      local n = tonumber(v)
      if n and (kind == "float" or mtype(n) == "integer") then v = n end
    end
    local ok = kind == "integer" and (mtype(v) == "integer" or (mtype(v) == "float" and v == floor(v)))
      or (kind == "float" and type(v) == "number")
    if ok and positive and v <= 0 then ok = false end
    if not ok then
      error(dataflow.runtime("The " .. field .. "Path field refers to value " ..
        quoted(v == nil and json.null or v) .. " which is not a valid " .. what .. ": " .. text), 0)
    end
    if kind == "integer" then v = floor(v) end
    return v
  end
end

return M
