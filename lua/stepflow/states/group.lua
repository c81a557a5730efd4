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
--   program / programs  the program of every child, or one per child
--   input / inputs      the input of every child, or one per child
--   vars            the children's variable scope
--   shared          vars is the outer scope, copied on write
--   key             with a durable execution: child i's frame key is key .. i
--   child_exec(i)   optional: the execution child i runs in (default the
--                   frame's)
--   started(i, child)          optional: child i starts (record its events;
--                              set child.last_event)
--   ended(i, ok, value, child) optional: child i ended
--   aborted(i, child)          optional: child i was stopped because the
--                              group failed
--   count_events    nothing records the children's start and end: they
--                   are one event each, only counted (started/ended unset)
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
  local count_events = opts.count_events
  local program, programs, input, inputs = opts.program, opts.programs, opts.input, opts.inputs
  local vars, shared, key, child_exec = opts.vars, opts.shared, opts.key, opts.child_exec
  local count = execution.count
  -- the children in flight, by index (false once ended): the ones a
  -- failure aborts
  local live = {}
  local launch

  local function conclude(ok, value)
    group.dead = true
    if not ok and (aborted or count_events) then
      for i = 1, next_i - 1 do
        local child = live[i]
        if child then
          if aborted then aborted(i, child)
          elseif not count(exec, child, 1) then execution.record(exec, child, "MapIterationAborted") end
        end
      end
    end
    execution.continue(frame, opts.done, ok, value, failed)
  end

  local function child_done(child, ok, value)
    running = running - 1
    live[child.index] = false
    if group.dead or exec.finished then return end
    local i = child.index
    if ended then ended(i, ok, value, child)
    elseif count_events and not count(exec, frame, 1) then
      -- (the history limit: record it the long way)
      execution.record(exec, frame, ok and "MapIterationSucceeded" or "MapIterationFailed")
    end
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
      local child = execution.new_frame(child_exec and child_exec(i) or exec,
        programs and programs[i] or program, inputs and inputs[i] or input, vars, child_done,
        group, key and key .. i or "", frame.last_event)
      child.index = i
      if shared then child.shared_vars = true end
      live[i] = child
      if started then started(i, child)
      elseif count_events and not count(exec, child, 1) then
        execution.record(exec, child, "MapIterationStarted")
      end
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
