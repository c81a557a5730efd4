--- Succeed: ends its program successfully with its (filtered) input.
local M = {}

function M.compile(_, st)
  local prepare, finish = st.prepare, st.finish
  st.run = function(_, frame, raw)
    return "next", finish(frame, raw, prepare(frame, raw)), nil
  end
  st.fast = function(_, frame, raw)
    return finish(frame, raw, prepare(frame, raw)), nil
  end
end

return M
