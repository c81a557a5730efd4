--- Distributed Map: a Map Run of child executions. Items come from a
-- stream (the state input, or an ItemReader) and are pulled only as child
-- executions finish, so a Map Run over millions of items holds at most
-- MaxConcurrency children (and their inputs) at once. Failures are
-- counted against the tolerated count and percentage.
--
-- In an execution with a store, the children are recorded there under
-- names derived from the run (`<run id>-<item index>`), so that a run
-- resumed after a crash finds them: an ended child is not run again (its
-- result is read back), a STANDARD child that was running resumes on its
-- own (it is a durable execution), an EXPRESS child that was running runs
-- again (EXPRESS is at-least-once), and the items are read again from
-- where the run was.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local lifecycle = require("stepflow.lifecycle")
local writer = require("stepflow.dmap.writer")

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

-- The Map Run's ARN, id and label: AWS names a run after the machine and
-- the Label (or a UUID), then a UUID.
local function names(exec, label)
  local engine = exec.engine
  local id = engine:_uuid()
  local run_label = label or engine:_uuid()
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

-- The name and ARN of the child for item `i`.
function MapRun:child_names(i)
  local name = self.id .. "-" .. i
  local engine = self.exec.engine
  local kind = self.child_type == "EXPRESS" and ":express:" or ":execution:"
  return name, "arn:aws:states:" .. engine.region .. ":" .. engine.account .. kind ..
    self.child_name .. ":" .. name
end

-- The state machine of a durable run's STANDARD children, recorded in the
-- store so that they resume after a crash like any execution.
function MapRun:durable_machine()
  local sm = self.child_machine
  if sm then return sm end
  local engine = self.exec.engine
  local err
  sm, err = engine:create_state_machine(self.processor, { name = self.child_name, type = "STANDARD" })
  if not sm then error("stepflow: Map Run " .. self.arn .. ": " .. tostring(err), 0) end
  self.child_machine = sm
  return sm
end

-- Counts an item's child as ended and keeps (or writes) its result.
-- `child` describes the child for a ResultWriter's record: {arn, name,
-- sm_arn, input, start_ms, stop_ms}.
function MapRun:item_ended(i, ok, value, child)
  local counts, items = self.counts, self.item_counts
  local n = self.sizes[i] or 1
  self.sizes[i] = nil
  local status = "SUCCEEDED"
  if ok then
    counts.succeeded = counts.succeeded + 1
    items.succeeded = items.succeeded + n
  elseif value and value.Error == errors.Timeout then
    counts.timed_out = counts.timed_out + 1
    items.timed_out = items.timed_out + n
    status = "TIMED_OUT"
  else
    counts.failed = counts.failed + 1
    items.failed = items.failed + n
    status = "FAILED"
  end
  if not self.writer then items.running = items.running - n end
  local result = value
  if not ok then result = errors.is(value) and errors.output(value) or value end
  local w = self.writer
  if w then
    child = child or {}
    w:add(writer.record({ execution_arn = child.arn, name = child.name, state_machine_arn = child.sm_arn,
      status = status, input = child.input, output = ok and value or nil,
      error = not ok and result.Error or nil, cause = not ok and result.Cause or nil,
      start_ms = child.start_ms, stop_ms = child.stop_ms or self.exec.engine.loop:now() }), i)
    counts.results_written = counts.results_written + 1
    items.running = items.running - n
    items.results_written = items.results_written + n
  else
    self.results[i] = result
  end
end

-- What a ResultWriter records of an execution object (running or ended).
local function described(e, input)
  return { arn = e.arn, name = e.name, sm_arn = e.machine and e.machine.arn, input = input,
    start_ms = e.start_ms, stop_ms = e.stop_ms }
end

-- Starts (or, in a recovery, finds) the child execution of item `i`.
-- Returns true when it runs, false when it had ended (counted already).
function MapRun:launch(i, input)
  local exec = self.exec
  local engine = exec.engine
  local store = exec.durable and engine.store
  local name, arn
  if store then name, arn = self:child_names(i) end
  if store and self.recovering then
    local rec = store:get_execution(arn)
    if rec and rec.status ~= "RUNNING" and rec.status ~= "SUCCEEDED"
        and (rec.redrive_count or 0) < self.redrive_count then
      -- a redriven run: an unsuccessful child runs again (once per
      -- redrive of the run: one that failed again in this redrive stays)
      local again = self:redrive_child(i, rec, arn, name, input)
      if again then return true end
    end
    if rec and rec.status ~= "RUNNING" then
      local ok = rec.status == "SUCCEEDED"
      local value = ok and json.decode(rec.output or "null") or errors.new(rec.error or "", rec.cause)
      self:item_ended(i, ok, value, { arn = arn, name = name, sm_arn = rec.sm_arn,
        input = rec.input and json.decode(rec.input), start_ms = rec.started, stop_ms = rec.stopped })
      return false
    end
    if rec and self.child_type ~= "EXPRESS" then
      local running = engine.executions[arn]
      if not running then
        -- not resumed yet (recover() skipped it?): resume it here
        local events = store:history(arn)
        running = events and engine:_resume_record(rec, events)
      end
      if running then
        if running.finished then
          self:item_ended(i, running.status == "SUCCEEDED",
            running.status == "SUCCEEDED" and running.output or errors.new(running.error or "", running.cause),
            described(running, running.input))
          return false
        end
        self:adopt(i, running, running.input)
        return true
      end
    end
  end
  if store and self.child_type ~= "EXPRESS" then
    local child = engine:start_execution(self:durable_machine(), input, { name = name })
    self:adopt(i, child, input)
    return true
  end
  return self:launch_express(i, input, name, arn)
end

--- Runs a redriven run's unsuccessful child again (a STANDARD one is
-- redriven, an EXPRESS one runs again): true when it runs.
function MapRun:redrive_child(i, rec, arn, name, input)
  local engine = self.exec.engine
  if self.child_type ~= "EXPRESS" then
    local child = engine:redrive_execution(arn)
    if not child then return false end
    self:adopt(i, child, rec.input and json.decode(rec.input))
    return true
  end
  self:launch_express(i, input, name, arn, true)
  return true
end

--- Runs an in-memory child (EXPRESS, or any without a store); `again`:
-- a redriven run's child, whose stored end the new one replaces.
function MapRun:launch_express(i, input, name, arn, again)
  local exec = self.exec
  local engine = exec.engine
  local store = exec.durable and engine.store
  local child = lifecycle.child(exec, self.program, self.child_name, input, self.child_type)
  if store then child.name, child.arn = name, arn end
  self.running_children[i] = child
  self.running = self.running + 1
  self.counts.running = self.counts.running + 1
  local frame = execution.new_frame(child, self.program, input, {}, function(_, ok, value)
    self.running_children[i] = nil
    if store and not self.ended then
      -- an EXPRESS child is recorded when it ends: a resumed run does not
      -- run it again
      local fine, err
      if again then
        fine, err = store:redrive_execution(arn, child.start_ms)
      else
        fine, err = store:create_execution({ arn = arn, sm_arn = child.machine.arn, name = name,
          input = json.encode(input), status = "RUNNING", started = child.start_ms })
      end
      if fine then
        store:finish_execution(arn, ok and "SUCCEEDED" or "FAILED", ok and json.encode(value) or nil,
          not ok and value.Error or nil, not ok and value.Cause or nil, engine.loop:now())
      elseif err ~= "ExecutionAlreadyExists" then
        require("stepflow.durable").store_failure("stepflow: store write failed: " .. tostring(err))
      end
    end
    child.stop_ms = engine.loop:now()
    self:child_done(i, ok, value, described(child, input))
  end, self.group, "", 0)
  child.root = frame
  engine.scheduler:push(frame)
  return true
end

-- Follows a child that is an execution of its own (a durable STANDARD
-- child): its end is the item's.
function MapRun:adopt(i, child, input)
  self.running_children[i] = child
  self.running = self.running + 1
  self.counts.running = self.counts.running + 1
  local before = child.on_done
  child.on_done = function(e)
    if before then before(e) end
    self.running_children[i] = nil
    local ok = e.status == "SUCCEEDED"
    self:child_done(i, ok, ok and e.output or errors.new(e.error or "", e.cause), described(e, input))
  end
end

-- Children a run starts in one turn of the loop: children that end at
-- once (in memory, nothing to wait for) then hold few items at a time,
-- while children that wait still reach MaxConcurrency over a few turns.
M.SLICE = 256

-- Pulls items and starts children until MaxConcurrency are in flight or
-- the items are all read; concludes when the last child ended.
function MapRun:fill()
  while not self.ended and self.running < self.max do
    if self.exhausted then break end
    if self.started_in_turn >= M.SLICE then
      -- the rest on a later turn, after these have run
      if not self.refill_posted then
        self.refill_posted = true
        self.exec.engine.loop:call(function()
          self.refill_posted = false
          self.started_in_turn = 0
          self:fill()
        end)
      end
      return
    end
    self.started_in_turn = self.started_in_turn + 1
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
    -- a batch is one child of several items (AWS counts both)
    local n = type(item) == "table" and type(item.Items) == "table" and self.batched and #item.Items or 1
    self.sizes[i] = n
    self.item_counts.total = self.item_counts.total + n
    self.item_counts.running = self.item_counts.running + n
    local input = item
    if self.select then
      local fine, v = pcall(self.select, i, item)
      if not fine then return self:conclude(false, errors.is(v) and v or errors.internal(v, self.frame)) end
      input = v
    end
    if not self:launch(i, input) and self:over_threshold() then
      return self:conclude(false, errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE))
    end
  end
  if not self.ended and self.exhausted and self.running == 0 then
    if self:over_threshold() then
      return self:conclude(false, errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE))
    end
    return self:conclude(true)
  end
end

function MapRun:child_done(i, ok, value, child)
  if self.ended then return end
  self.running = self.running - 1
  self.counts.running = self.counts.running - 1
  if self.exec.finished then
    -- the parent ended (stopped, timed out): its run stops with it
    return self:conclude(false, errors.new(errors.Runtime, "the execution ended"))
  end
  self:item_ended(i, ok, value, child)
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
  -- the children still running are stopped (ABORTED)
  for _, child in pairs(self.running_children) do
    if not child.finished then child:stop() end
  end
  counts.aborted = counts.aborted + counts.running
  counts.running = 0
  self.item_counts.aborted = self.item_counts.aborted + self.item_counts.running
  self.item_counts.running = 0
  if self.source.close then pcall(self.source.close, self.source) end
  if not ok and self.writer then self.writer:abort() end
  self.status = ok and "SUCCEEDED" or "FAILED"
  self.stop_ms = exec.engine.loop:now()
  if exec.finished then
    -- the parent ended first (stopped, timed out): the run is aborted
    self.status = "ABORTED"
    self:keep()
    return
  end
  self:keep()
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

local function counts_of(c)
  return { pending = c.pending, running = c.running, succeeded = c.succeeded, failed = c.failed,
    timedOut = c.timed_out, aborted = c.aborted, total = c.total, resultsWritten = c.results_written,
    failuresNotRedrivable = 0, pendingRedrive = 0 }
end

--- The run as AWS's DescribeMapRun gives it (dates in ms).
function MapRun:describe()
  return {
    mapRunArn = self.arn, executionArn = self.execution_arn, status = self.status,
    startDate = self.start_ms, stopDate = self.stop_ms, maxConcurrency = self.max_concurrency,
    toleratedFailurePercentage = self.tolerated_percentage or 0,
    toleratedFailureCount = self.tolerated_count or 0,
    itemCounts = counts_of(self.item_counts), executionCounts = counts_of(self.counts),
    redriveCount = self.redrive_count, redriveDate = self.redrive_ms,
  }
end

M.RUN_KIND, M.RUNS_KIND = "map_run", "map_runs"

--- An ended run of a durable execution is kept in the store, in the
-- group of its last event (DescribeMapRun and ListMapRuns read it there
-- after a restart, and on every engine of a shared store), and leaves
-- the engine's memory. A run whose execution this engine lost (a shared
-- store gave it to another) is the new owner's to keep.
function MapRun:keep()
  local exec = self.exec
  local engine = exec.engine
  if exec.lost or not (exec.durable and engine.store) then return end
  local store = engine.store
  local d = self:describe()
  d.stateMachineArn = exec.machine.arn .. "/" .. self.label
  local ok, err = store:put_resource(M.RUN_KIND, self.arn, json.encode(d))
  if ok then
    local text = store:get_resource(M.RUNS_KIND, exec.arn)
    local list = text and json.decode(text) or {}
    local listed = false
    for _, a in ipairs(list) do listed = listed or a == self.arn end
    if not listed then
      list[#list + 1] = self.arn
      ok, err = store:put_resource(M.RUNS_KIND, exec.arn, json.encode(json.array(list)))
    end
  end
  if not ok then
    -- the store fails the engine's next commit as well; the run stays
    -- described from memory meanwhile
    io.stderr:write("stepflow: could not keep Map Run ", self.arn, ": ", tostring(err), "\n")
    return
  end
  if engine.map_runs[self.arn] == self then engine.map_runs[self.arn] = nil end
end

--- Changes a running run's MaxConcurrency and tolerance (UpdateMapRun).
-- Returns true, or nil and AWS's error code and message.
function MapRun:update(changes)
  if self.status ~= "RUNNING" then
    return nil, "ValidationException", "Map Run " .. self.arn .. " is not running (CANNOT_UPDATE_COMPLETED_MAP_RUN)"
  end
  if changes.max_concurrency ~= nil then
    local max = changes.max_concurrency
    self.max_concurrency = max
    if max <= 0 or max > M.MAX_CONCURRENCY then max = M.MAX_CONCURRENCY end
    self.max = max
  end
  if changes.tolerated_failure_count ~= nil then self.tolerated_count = changes.tolerated_failure_count end
  if changes.tolerated_failure_percentage ~= nil then
    self.tolerated_percentage = changes.tolerated_failure_percentage
  end
  if self:over_threshold() then
    self:conclude(false, errors.new(errors.ExceedToleratedFailureThreshold, THRESHOLD_CAUSE))
  else
    self:fill()
  end
  return true
end

--- The Map state's result: the results in item order, or what its
-- ResultWriter gives (where it wrote them, or the transformed results).
function MapRun:output()
  if self.writer then return self.writer:finish(self.counts) end
  return self.results
end

--- Starts a Map Run for `frame` (which then blocks). spec:
--   program         the ItemProcessor, compiled
--   processor       its definition ({StartAt, States, QueryLanguage}): a
--                   durable run's STANDARD children are executions of it
--   child_type      "STANDARD" or "EXPRESS"
--   source          a stream: source:next() -> item, or nil at the end
--   select(i, item) optional: the child's input (ItemSelector, batching)
--   max_concurrency, tolerated_count, tolerated_percentage, label
--   open_writer(run) optional: the run's ResultWriter (stepflow.dmap.writer)
--   batched         the items are batches ({Items = ...}): counted by item
--   done(ok, run_or_error) -> the state's output, or raises; called once
-- Returns the frame's step.
function M.start(frame, spec)
  local exec = frame.exec
  local arn, id, run_label = names(exec, spec.label)
  -- A redriven execution redrives the run its Map state had started
  -- (replay.lua's cut noted it): MapRunRedriven, the same run, and only
  -- its unsuccessful children run again.
  local r = frame.redriven
  local redrive_count = r and r.id == frame.entered_id and r.map_run and (r.map_run_redrives or 0) + 1
  local rid, recorded
  if redrive_count then
    arn = r.map_run
    rid, recorded = record(exec, frame, "MapRunRedriven", exec.sink and { mapRunArn = arn,
      redriveCount = redrive_count })
    recorded = recorded or { d = { mapRunArn = arn } }
  else
    rid, recorded = record(exec, frame, "MapRunStarted", exec.sink and { mapRunArn = arn })
  end
  if not rid then return "block" end
  if recorded and recorded.d and recorded.d.mapRunArn then
    -- a recovery: the run started before the crash goes on under its name
    arn = recorded.d.mapRunArn
    id = arn:match(":([^:]+)$")
    run_label = arn:match("/([^/]+):[^:]+$") or run_label
  end
  local max = spec.max_concurrency
  if not max or max <= 0 or max > M.MAX_CONCURRENCY then max = M.MAX_CONCURRENCY end
  local run = setmetatable({
    exec = exec, frame = frame, arn = arn, id = id, label = run_label,
    program = spec.program, processor = spec.processor, child_type = spec.child_type or "STANDARD",
    child_name = exec.machine.name .. "/" .. run_label,
    source = spec.source, select = spec.select, writer = false,
    max = max, max_concurrency = spec.max_concurrency or 0,
    tolerated_count = spec.tolerated_count, tolerated_percentage = spec.tolerated_percentage,
    counts = { pending = 0, running = 0, succeeded = 0, failed = 0, timed_out = 0, aborted = 0,
      total = 0, results_written = 0 },
    item_counts = { pending = 0, running = 0, succeeded = 0, failed = 0, timed_out = 0, aborted = 0,
      total = 0, results_written = 0 },
    sizes = {}, batched = spec.batched or false,
    execution_arn = exec.arn,
    results = setmetatable({}, array_mt), running_children = {},
    running = 0, next_index = 1, exhausted = false, ended = false, refill_posted = false,
    started_in_turn = 0,
    recovering = recorded ~= nil,
    redrive_count = redrive_count or 0, redrive_ms = redrive_count and exec.engine.loop:now() or nil,
    status = "RUNNING", start_ms = exec.engine.loop:now(), done = spec.done,
  }, MapRun)
  -- the in-memory children's frames hang from this: ending the run stops them
  run.group = { parent = frame, dead = false, key = frame.key }
  exec.engine.map_runs[arn] = run
  run.starting = true
  local opened, w = true, false
  if spec.open_writer then opened, w = pcall(spec.open_writer, run) end
  if opened then
    run.writer = w
    run:fill()
  else
    run:conclude(false, errors.is(w) and w or errors.new(errors.ResultWriterFailed, tostring(w)))
  end
  run.starting = false
  local step = run.step
  if step then
    if not step[1] then return "fail", step[2] end
    return "next", spec.done(true, run), frame.state.next_state
  end
  return "block"
end

return M
