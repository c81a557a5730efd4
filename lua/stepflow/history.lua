--- History events in the shape of AWS GetExecutionHistory.
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")

local M = {}

-- The details member of each event type; most are lowerCamel(type) ..
-- "EventDetails", every *StateEntered / *StateExited shares one.
local function details_key(etype)
  if etype:sub(-12) == "StateEntered" then return "stateEnteredEventDetails" end
  if etype:sub(-11) == "StateExited" then return "stateExitedEventDetails" end
  return etype:sub(1, 1):lower() .. etype:sub(2) .. "EventDetails"
end
M.details_key = details_key

-- Events that AWS records without details: the event types of the
-- service model's HistoryEventType that have no *EventDetails member.
local NO_DETAILS = {
  LambdaFunctionStarted = true, MapRunAborted = true, MapRunSucceeded = true,
  MapStateAborted = true, MapStateFailed = true, MapStateSucceeded = true,
  ParallelStateAborted = true, ParallelStateFailed = true, ParallelStateStarted = true,
  ParallelStateSucceeded = true, TaskStateAborted = true, WaitStateAborted = true,
}

-- Fields AWS carries as JSON text, with a *Details {truncated} beside them.
local AS_TEXT = { input = "inputDetails", output = "outputDetails", parameters = false }

--- Converts one event ({id, previousEventId, timestamp (ms), type,
-- details (values)}) into AWS's shape.
function M.to_aws(ev)
  local out = { id = ev.id, previousEventId = ev.previousEventId or 0, type = ev.type,
    timestamp = timestamp.format(ev.timestamp) }
  local d = ev.details
  if d and not NO_DETAILS[ev.type] then
    local shaped = {}
    for k, v in pairs(d) do
      local detail_of = AS_TEXT[k]
      if detail_of ~= nil then
        shaped[k] = json.encode(v)
        if detail_of then shaped[detail_of] = { truncated = false } end
      elseif k == "assignedVariables" then
        local vars = {}
        for name, value in pairs(v) do vars[name] = json.encode(value) end
        shaped[k] = vars
        shaped.assignedVariablesDetails = { truncated = false }
      else
        shaped[k] = v
      end
    end
    out[details_key(ev.type)] = shaped
  end
  return out
end

return M
