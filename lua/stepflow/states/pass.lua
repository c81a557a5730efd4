--- Pass: echoes its input, or its Result, through the data flow.
local M = {}

function M.compile(_, st, def)
  local result, has_result = def.Result, def.Result ~= nil
  local prepare, finish = st.prepare, st.finish
  if has_result then
    st.run = function(_, frame, raw)
      prepare(frame, raw) -- InputPath still fails on a missing path
      return "next", finish(frame, raw, result)
    end
  else
    st.run = function(_, frame, raw)
      return "next", finish(frame, raw, prepare(frame, raw))
    end
  end
  -- Without Assign a Pass is a plain function of its input: the driver's
  -- fast loop calls it directly (output, next state or nil at the end).
  if not st.commit_vars then
    if has_result then
      st.fast = function(s, frame, raw)
        prepare(frame, raw)
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
