--- Distributed Map: a Map Run of child executions. Items come from a
-- stream (the state input, or an ItemReader) and are pulled only as child
-- executions finish, so a Map Run over millions of items holds at most
-- MaxConcurrency children (and their inputs) at once. Failures are
-- counted against the tolerated count and percentage.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local lifecycle = require("stepflow.lifecycle")

local M = {}

local record = execution.record
local array_mt = json.array_mt
local setmetatable = setmetatable

--- AWS runs at most 10,000 child executions of a Map Run at once; an
-- unset or 0 MaxConcurrency means that many.
M.MAX_CONCURRENCY = 10000

local THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"

local MapRun = {}
MapRun.__index = MapRun
MapRun.__name = "stepflow.MapRun"

--- A stream over an array: next() -> the next element, or nil at the end.
function M.array_source(items)
  local i, n = 0, #items
  return { next = function()
    if i >= n then return nil end
    i = i + 1
    return items[i]
  end, length = n }
end

-- The Map Run's ARN and its id: AWS names a run after the machine and the
-- Label (or a generated one), then a UUID.
local function names(exec, label)
  local engine = exec.engine
  local id = engine:uuid()
  local run_label = label or engine:uuid()
  local arn = "arn:aws:states:" .. engine.region .. ":" .. engine.account .. ":mapRun:" ..
    exec.machine.name .. "/" .. run_label .. ":" .. id
  return arn, id, run_label
end

-- Whether the failures so far exceed what the run tolerates. With a
-- percentage, the total is known once the items are all read; before,
-- only a run that tolerates none fails early.
function MapRun:over_threshold()
  local failed = self.counts.failed + self.counts.timed_out + self.counts.aborted
  if failed == 0 then return false end
  local tc, tp = self.tolerated_count, self.tolerated_percentage
  if tc == nil and tp == nil then return true end
  if tc ~= nil and failed > tc then return true end
  if tp ~= nil then
    if self.exhausted then return failed * 100 > tp * self.counts.total end
    return tp == 0
  end
  return false
end

--- Starts a child execution for item `i` (its input already selected).
function MapRun:launch(i, input)
  local exec = self.exec
  local child = lifecycle.child(exec, self.program, self.child_name, input, self.child_type)
  local counts = self.counts
  counts.pending = counts.pending - 1
  counts.running = counts.running + 1
  self.running = self.running + 1
  local frame = execution.new_frame(child, self.program, input, {}, function(_, ok, value)
    self:child_done(i, ok, value)
  end, self.group, "", 0)
  child.root = frame
  exec.engine.scheduler:push(frame)
end

-- Pulls items and starts children until MaxConcurrency are in flight or
-- the items are all read; concludes when the last child ended.
function MapRun:fill()
  while not self.ended and self.running < self.max do
    if self.exhausted then break end
    local ok, item = pcall(self.source.next, self.source)
    if not ok then
      -- an ItemReader failure fails the run at once
      return self:conclude(false, errors.is(item) and item or errors.new(errors.ItemReaderFailed,
        tostring(item)))
    end
    if item == nil then
      self.exhausted = true
      break
    end
    local i = self.next_index
    self.next_index = i + 1
    self.counts.total = self.counts.total + 1
    self.counts.pending = self.counts.pending + 1
    local input = item
    if self.select then
      local fine, v = pcall(self.select, i, item)
      if not fine then return self:conclude(false, errors.is(v) and v or errors.internal(v, self.frame)) end
      input = v
    end
    self:launch(i, input)
  end
  if not self.ended and self.exhausted and self.running == 0 then
    if self:over_threshold() then
      return self:conclude(false, errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE))
    end
    return self:conclude(true)
  end
end

function MapRun:child_done(i, ok, value)
  if self.ended then return end
  local counts = self.counts
  counts.running = counts.running - 1
  self.running = self.running - 1
  if ok then
    counts.succeeded = counts.succeeded + 1
  elseif value and value.Error == errors.Timeout then
    counts.timed_out = counts.timed_out + 1
  else
    counts.failed = counts.failed + 1
  end
  local result = value
  if not ok then result = errors.is(value) and errors.output(value) or value end
  if self.writer then
    self.writer:add(i, ok, result)
  else
    self.results[i] = result
  end
  if not ok and self:over_threshold() then
    return self:conclude(false, errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE))
  end
  self:fill()
end

--- Ends the run: its children still running are stopped, its last event
-- recorded, and the Map state resumed with its results or its error.
function MapRun:conclude(ok, err)
  if self.ended then return end
  self.ended = true
  self.group.dead = true
  local exec, frame = self.exec, self.frame
  local counts = self.counts
  counts.aborted = counts.aborted + counts.running
  counts.running = 0
  self.status = ok and "SUCCEEDED" or "FAILED"
  self.stop_ms = exec.engine.loop:now()
  if ok then
    record(exec, frame, "MapRunSucceeded", exec.sink and {})
  else
    record(exec, frame, "MapRunFailed", exec.sink and { error = err.Error, cause = err.Cause })
  end
  if self.starting then
    -- ended while starting (no items, or the reader failed at once): the
    -- state's own run returns the step
    self.step = { ok, ok and self or err }
    return
  end
  execution.continue(frame, self.done, ok, ok and self or err)
end

--- The results in item order (without a ResultWriter).
function MapRun:output()
  return self.results
end

--- Starts a Map Run for `frame` (which then blocks). spec:
--   program         the ItemProcessor
--   child_type      "STANDARD" or "EXPRESS"
--   source          a stream: source:next() -> item, or nil at the end
--   select(i, item) optional: the child's input (ItemSelector, batching)
--   max_concurrency, tolerated_count, tolerated_percentage, label
--   writer          optional: writer:add(i, ok, result) for each child
--   done(ok, run_or_error) -> the state's output, or raises; called once
-- Returns the frame's step.
function M.start(frame, spec)
  local exec = frame.exec
  local arn, id, run_label = names(exec, spec.label)
  local max = spec.max_concurrency
  if not max or max <= 0 or max > M.MAX_CONCURRENCY then max = M.MAX_CONCURRENCY end
  local run = setmetatable({
    exec = exec, frame = frame, arn = arn, id = id, label = run_label,
    program = spec.program, child_type = spec.child_type or "STANDARD",
    child_name = exec.machine.name .. "/" .. run_label,
    source = spec.source, select = spec.select, writer = spec.writer,
    max = max, max_concurrency = spec.max_concurrency or 0,
    tolerated_count = spec.tolerated_count, tolerated_percentage = spec.tolerated_percentage,
    counts = { pending = 0, running = 0, succeeded = 0, failed = 0, timed_out = 0, aborted = 0,
      total = 0, results_written = 0 },
    results = setmetatable({}, array_mt),
    running = 0, next_index = 1, exhausted = false, ended = false,
    status = "RUNNING", start_ms = exec.engine.loop:now(), done = spec.done,
  }, MapRun)
  -- the children's frames hang from this: stopping the run stops them
  run.group = { parent = frame, dead = false, key = frame.key }
  exec.engine.map_runs[arn] = run
  if not record(exec, frame, "MapRunStarted", exec.sink and { mapRunArn = arn }) then return "block" end
  run.starting = true
  run:fill()
  run.starting = false
  local step = run.step
  if step then
    if not step[1] then return "fail", step[2] end
    return "next", spec.done(true, run), frame.state.next_state
  end
  return "block"
end

return M
