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
end

return M
