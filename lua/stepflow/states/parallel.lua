--- Parallel: runs every branch on the loop; the result is the array of
-- branch outputs in branch order. A failing branch fails the state with its
-- error and stops the others.
local execution = require("stepflow.execution")
local group = require("stepflow.states.group")
local errors = require("stepflow.errors")

local M = {}

local record, record_from = execution.record, execution.record_from

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
    local sink = exec.sink
    -- Each branch's first event follows ParallelStateStarted.
    if not record(exec, frame, "ParallelStateStarted", sink and {}) then return "block" end
    -- Unique per visit and attempt, and the same when a recovery replays it.
    local key = exec.durable and (frame.key .. "/" .. frame.entered_id .. "." .. frame.retry_count .. "#")
    return group.start(frame, {
      n = n, programs = branches, input = input, vars = frame.vars, shared = true, key = key,
      -- What follows a branch follows its last event.
      ended = function(_, _, _, child) frame.last_event = child.last_event end,
      done = function(ok, value)
        if not ok then error(errors.from(value), 0) end
        -- ParallelStateExited follows the last branch, as its Succeeded does
        record_from(exec, frame, frame.last_event, "ParallelStateSucceeded", sink and {})
        -- the branches' results together, like a task's result
        errors.check_size(value, exec.engine.payload_limit, st.name)
        return finish(frame, raw, value)
      end,
    })
  end
end

return M
