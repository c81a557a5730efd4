--- Parallel: runs every branch on the loop; the result is the array of
-- branch outputs in branch order. A failing branch fails the state with its
-- error and stops the others.
local execution = require("stepflow.execution")
local group = require("stepflow.states.group")
local errors = require("stepflow.errors")

local M = {}

local event = execution.event

function M.compile(c, st, def, where)
  local branches = {}
  for i, b in ipairs(def.Branches) do
    branches[i] = c:program(b, where .. "/Branches/" .. (i - 1), st.ql)
  end
  st.programs = branches
  local prepare, finish, n = st.prepare, st.finish, #branches
  st.run = function(_, frame, raw)
    local input = prepare(frame, raw)
    local exec = frame.exec
    event(exec, frame, "ParallelStateStarted", exec.sink and {})
    -- Unique per visit and attempt, and the same when a recovery replays it.
    local key = exec.durable and (frame.key .. "/" .. frame.entered_id .. "." .. frame.retry_count .. "#")
    return group.start(frame, {
      n = n,
      child = function(i)
        return branches[i], input, frame.vars, key and key .. i or "", true
      end,
      done = function(ok, value)
        if not ok then
          event(exec, frame, "ParallelStateFailed", exec.sink and {})
          error(errors.from(value), 0)
        end
        event(exec, frame, "ParallelStateSucceeded", exec.sink and {})
        return finish(frame, raw, value)
      end,
    })
  end
end

return M
