--- Fan-out shared by Parallel and Map: child frames on the scheduler, at
-- most `max` in flight, results kept in order, failures counted against a
-- tolerance, siblings stopped when the group fails.
local json = require("stepflow.json")
local execution = require("stepflow.execution")

local M = {}

local array_mt = json.array_mt
local setmetatable = setmetatable

--- Starts a group for `frame` (which then blocks). opts:
--   n               number of children
--   max             most children in flight (0 or nil: no limit)
--   child(i)        -> program, input, vars, key, shared, exec for child i
--                   (shared: vars is the outer scope, copied on write;
--                   exec: the execution the child runs in, default the
--                   frame's)
--   started(i, child)          optional: child i starts (record its events;
--                              set child.last_event)
--   ended(i, ok, value, child) optional: child i ended
--   aborted(i, child)          optional: child i was stopped because the
--                              group failed
--   tolerated_count, tolerated_percentage: failures allowed (nil: none)
--   done(ok, results_or_error, failed_count) -> the state's output, or
--                   raises an ASL error; called once, for the frame
-- Returns the frame's step.
function M.start(frame, opts)
  local exec = frame.exec
  local n = opts.n
  local max = opts.max
  if not max or max <= 0 or max > n then max = n end
  local group = { parent = frame, dead = false, key = frame.key }
  local results = setmetatable({}, array_mt)
  local next_i, running, finished, failed = 1, 0, 0, 0
  local sched = exec.engine.scheduler
  local started, ended, aborted = opts.started, opts.ended, opts.aborted
  local live = aborted and {} or nil
  local launch

  local function conclude(ok, value)
    group.dead = true
    if not ok and live then
      for child in pairs(live) do aborted(child.index, child) end
    end
    execution.continue(frame, opts.done, ok, value, failed)
  end

  local function child_done(child, ok, value)
    running = running - 1
    if live then live[child] = nil end
    if group.dead or exec.finished then return end
    local i = child.index
    if ended then ended(i, ok, value, child) end
    if exec.finished then return end
    finished = finished + 1
    if ok then
      results[i] = value
    else
      failed = failed + 1
      local tc, tp = opts.tolerated_count, opts.tolerated_percentage
      local over = true
      if tc or tp then
        over = (tc ~= nil and failed > tc) or (tp ~= nil and failed * 100 > tp * n)
      end
      if over then return conclude(false, value) end
      results[i] = value
    end
    if finished == n then return conclude(true, results) end
    launch()
  end

  function launch()
    while running < max and next_i <= n do
      local i = next_i
      next_i = i + 1
      running = running + 1
      local program, input, vars, key, shared, child_exec = opts.child(i)
      local child = execution.new_frame(child_exec or exec, program, input, vars, child_done,
        group, key, frame.last_event)
      child.index = i
      child.shared_vars = shared or false
      if live then live[child] = true end
      if started then started(i, child) end
      if exec.finished then return end
      sched:push(child)
    end
  end

  if n == 0 then
    group.dead = true
    return "next", opts.done(true, results, 0), frame.state.next_state
  end
  launch()
  return "block"
end

return M
