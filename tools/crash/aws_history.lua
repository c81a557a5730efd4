--- In-memory history events (stepflow.new{history = true}) in the shape of
-- AWS GetExecutionHistory, as `stepflow history --json` prints them: the
-- details under "<lowerCamelType>EventDetails" (stateEnteredEventDetails,
-- stateExitedEventDetails for states), inputs, outputs and parameters as
-- JSON text. Used by the fake engine and the crash test's specs.
local json = require("stepflow.json")

local M = {}

local function lower_first(s) return s:sub(1, 1):lower() .. s:sub(2) end

--- One event ({id, previousEventId, timestamp, type, details}) in AWS's shape.
function M.event(ev)
  local out = { id = ev.id, previousEventId = ev.previousEventId, timestamp = ev.timestamp, type = ev.type }
  local key
  if ev.type:match("StateEntered$") then key = "stateEnteredEventDetails"
  elseif ev.type:match("StateExited$") then key = "stateExitedEventDetails"
  else key = lower_first(ev.type) .. "EventDetails" end
  if type(ev.details) == "table" then
    local d = {}
    for k, v in pairs(ev.details) do
      if (k == "input" or k == "output" or k == "parameters") and type(v) ~= "string" then
        v = json.encode(v)
      end
      d[k] = v
    end
    out[key] = d
  end
  return out
end

--- A list of events in AWS's shape.
function M.events(list)
  local out = {}
  for i, ev in ipairs(list) do out[i] = M.event(ev) end
  return out
end

return M
