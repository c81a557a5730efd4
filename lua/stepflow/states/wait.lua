--- Wait: Seconds, Timestamp, SecondsPath or TimestampPath (JSONPath), or
-- Seconds / Timestamp expressions (JSONata), on a core timer. A waiting
-- execution holds one heap entry and no CPU.
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")
local dataflow = require("stepflow.asl.dataflow")
local paths = require("stepflow.asl.paths")
local execution = require("stepflow.execution")

local M = {}

local floor, mtype = math.floor, math.type

local function runtime(msg) error(dataflow.runtime(msg), 0) end

-- Returns fn(frame, raw, v) -> due time in ms (absolute).
local function due_fn(c, st, def, where)
  if st.ql == "JSONata" then return st.flow.wait_due(c, st, def, where) end
  if def.Seconds ~= nil then
    local ms = def.Seconds * 1000
    -- Counted from the recorded entry, so a recovered Wait keeps its due time.
    return function(frame) return frame.entered_ms + ms end
  end
  if def.Timestamp ~= nil then
    local t = timestamp.parse(def.Timestamp)
    c:check(t, where .. "/Timestamp", "not an RFC 3339 timestamp")
    local ms = floor(t * 1000)
    return function() return ms end
  end
  if def.SecondsPath ~= nil then
    local text = def.SecondsPath
    local get = c:check(paths.accessor(text), where .. "/SecondsPath")
    return function(frame, _, v)
      frame.input = v
      local s = get(frame)
      if s == nil then
        runtime("The SecondsPath parameter does not reference an input value: " .. text)
      end
      if mtype(s) ~= "integer" then
        if mtype(s) == "float" and s == floor(s) and s >= 0 then s = floor(s)
        else
          runtime("The SecondsPath parameter cannot be parsed as a long value: " .. text ..
            " == " .. (type(s) == "string" and s or json.encode(s)))
        end
      end
      if s < 0 then
        runtime("The SecondsPath parameter references a negative value: " .. text .. " == " .. s)
      end
      return frame.entered_ms + s * 1000
    end
  end
  local text = def.TimestampPath
  local get = c:check(paths.accessor(text), where .. "/TimestampPath")
  return function(frame, _, v)
    frame.input = v
    local s = get(frame)
    if s == nil then
      runtime("The TimestampPath parameter does not reference an input value: " .. text)
    end
    local t = type(s) == "string" and timestamp.parse(s)
    if not t then
      runtime("The TimestampPath parameter does not reference a valid ISO-8601 extended " ..
        "offset date-time format string: " .. text .. " == " ..
        (type(s) == "string" and s or json.encode(s)))
    end
    return floor(t * 1000)
  end
end

function M.compile(c, st, def, where)
  local due = due_fn(c, st, def, where)
  local prepare, finish = st.prepare, st.finish
  st.run = function(_, frame, raw)
    local v = prepare(frame, raw)
    local at = due(frame, raw, v)
    local engine = frame.exec.engine
    local delay = at - engine.loop:now()
    if delay <= 0 then return "next", finish(frame, raw, v), st.next_state end
    engine:_after(delay, frame, function()
      execution.continue(frame, finish, frame, raw, v)
    end)
    return "block"
  end
end

return M
