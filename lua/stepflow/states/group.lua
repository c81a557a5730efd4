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
--   child(i)        -> program, input, vars, key, shared for child i
--                   (shared: vars is the outer scope, copied on write)
--   started(i)      optional: called when child i starts
--   ended(i, ok, v) optional: called when child i ends
--   count_events    without started/ended: count one event id for each
--   tolerated_count, tolerated_percentage: failures allowed (nil: none)
--   done(ok, results_or_error, failed_count) -> the state's output, or
--                   raises an ASL error; called once, for the frame
function M.start(frame, opts)
  local exec = frame.exec
  local n = opts.n
  local max = opts.max
  if not max or max <= 0 or max > n then max = n end
  local group = { parent = frame, dead = false, key = frame.key }
  local results = setmetatable({}, array_mt)
  local next_i, running, finished, failed = 1, 0, 0, 0
  local sched = exec.engine.scheduler
  local started, ended, count_events = opts.started, opts.ended, opts.count_events
  local launch

  local function conclude(ok, value)
    group.dead = true
    execution.continue(frame, opts.done, ok, value, failed)
  end

  local function child_done(child, ok, value)
    running = running - 1
    if group.dead or exec.finished then return end
    local i = child.index
    if ended then ended(i, ok, value)
    elseif count_events then exec.event_id = exec.event_id + 1 end
    finished = finished + 1
    if ok then
      results[i] = value
    else
      failed = failed + 1
      local tc, tp = opts.tolerated_count, opts.tolerated_percentage
      local over = true
      if tc or tp then
        over = (tc ~= nil and failed > tc) or (tp ~= nil and failed * 100 > tp * n)
        if tc == nil and tp ~= nil then over = failed * 100 > tp * n end
        if tp == nil and tc ~= nil then over = failed > tc end
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
      local program, input, vars, key, shared = opts.child(i)
      local child = execution.new_frame(exec, program, input, vars, child_done, group, key)
      child.index = i
      child.shared_vars = shared or false
      if started then started(i, child)
      elseif count_events then
        local id = exec.event_id + 1
        exec.event_id = id
        child.last_event = id
      end
      sched:push(child)
    end
  end

  if n == 0 then
    group.dead = true
    return "next", opts.done(true, results, 0)
  end
  launch()
  return "block"
end

return M
