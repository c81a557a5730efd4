--- Pass: echoes its input, or its Result, through the data flow.
local errors = require("stepflow.errors")
local json = require("stepflow.json")

local M = {}

-- A Result larger than the payload limit fails the state as AWS does
-- (States.DataLimitExceeded naming the state). Its size is known once.
local function check_size(st, frame, bytes)
  local limit = frame.exec.engine.payload_limit
  if limit and bytes > limit then
    error(errors.new(errors.DataLimitExceeded, "The state/task '" .. st.name ..
      "' returned a result with a size exceeding the maximum number of bytes service limit."), 0)
  end
end

function M.compile(_, st, def)
  local result, has_result = def.Result, def.Result ~= nil
  local prepare, finish = st.prepare, st.finish
  local bytes = has_result and #json.encode(result)
  if has_result then
    st.run = function(s, frame, raw)
      prepare(frame, raw) -- InputPath still fails on a missing path
      check_size(s, frame, bytes)
      return "next", finish(frame, raw, result), s.next_state
    end
  else
    st.run = function(s, frame, raw)
      return "next", finish(frame, raw, prepare(frame, raw)), s.next_state
    end
  end
  -- Without Assign a Pass is a plain function of its input: the driver's
  -- fast loop calls it directly (output, next state or nil at the end).
  if not st.commit_vars then
    if has_result then
      st.fast = function(s, frame, raw)
        prepare(frame, raw)
        check_size(s, frame, bytes)
        return finish(frame, raw, result), s.next_state
      end
    else
      st.fast = function(s, frame, raw)
        return finish(frame, raw, prepare(frame, raw)), s.next_state
      end
    end
  end
end

return M
