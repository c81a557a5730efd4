--- Executions and frames: the interpreter's driver.
--
-- A frame runs one program (the top level, a Parallel branch or a Map
-- iteration) one state at a time. `drive` runs a frame's states back to
-- back until a state blocks (a Task handler waiting, a Wait timer, a Map or
-- Parallel waiting on its children) or the frame has used its budget, so
-- that many executions interleave fairly on one loop.
--
-- The step protocol (docs/INTERNALS.md, "Steps"): a state's `run(st,
-- frame, input)` returns one step, always with the same argument order:
--
--     "next", output, next_state   done; next_state nil ends the frame
--     "fail", err                  an ASL error, routed through Retry/Catch
--     "block"                      waiting; whoever wakes it calls resume()
--
-- `st.fast(st, frame, input) -> output, next_state` is the same contract
-- for states that cannot fail in ways that need more than an error value
-- and record nothing but their entered and exited events (Pass, Choice,
-- Succeed without Assign): the driver calls them in a tight loop.
--
-- Every history event goes through `record` (or `record_from`), the one
-- owner of event ids: ids are counted even without a history sink, because
-- AWS's causes name them ("entered at the event id #2").
local errors = require("stepflow.errors")
local retry = require("stepflow.asl.retry")
local timestamp = require("stepflow.asl.timestamp")
local replay = require("stepflow.replay")
local variables = require("stepflow.asl.variables")

local M = {}

local xpcall, setmetatable = xpcall, setmetatable
local traceback = debug.traceback

--- Transitions a frame runs before it lets other frames run.
M.BUDGET = 256

--- AWS's limit on a STANDARD execution's history (an engine option turns
-- it off): event 25,000 may only be ExecutionSucceeded; anything else in
-- its place fails the execution.
M.HISTORY_LIMIT = 25000

---------------------------------------------------------------- scheduler

local Scheduler = {}
Scheduler.__index = Scheduler

--- A FIFO of runnable frames drained from one loop callback at a time.
function M.new_scheduler(loop)
  local s = setmetatable({ loop = loop, q = {}, head = 1, tail = 0, posted = false }, Scheduler)
  s.drain_fn = function() s:drain() end
  return s
end

function Scheduler:push(frame)
  local t = self.tail + 1
  self.tail = t
  self.q[t] = frame
  if not self.posted then
    self.posted = true
    self.loop:call(self.drain_fn)
  end
end

function Scheduler:drain()
  self.posted = false
  local q, stop = self.q, self.tail
  while self.head <= stop do
    local h = self.head
    local f = q[h]
    q[h] = nil
    self.head = h + 1
    M.drive(f)
  end
  if self.head > self.tail then
    self.head, self.tail = 1, 0
  elseif not self.posted then
    self.posted = true
    self.loop:call(self.drain_fn)
  end
end

---------------------------------------------------------------- events

local HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events (25000)."

-- The next event id of an execution. At the history limit the execution
-- fails instead (its ExecutionFailed takes the id), and nil is returned:
-- the caller records nothing.
local function next_id(exec, etype)
  local id = exec.event_id + 1
  if id >= exec.history_limit and etype ~= "ExecutionSucceeded" and etype ~= "ExecutionFailed"
    and not exec.finished then
    -- lifecycle requires this module: looked up here, on this rare path
    require("stepflow.lifecycle").fail(exec, errors.new(errors.Runtime, HISTORY_LIMIT_CAUSE))
    return nil
  end
  exec.event_id = id
  return id
end

-- Writes one event to the execution's sink, if it has one.
local function emit(exec, frame, id, prev, etype, details, x)
  local sink = exec.sink
  if sink then
    local now = exec.engine.loop:now()
    -- sink(exec, id, previousEventId, timestamp, type, details, frame key, extras)
    sink(exec, id, prev, now, etype, details, frame and frame.key, x)
    if frame then frame.last_ts = now end
  end
end

-- The general path of record_from: a sink, a replay or the history limit.
local function record_slow(exec, frame, prev, etype, details, x)
  local rp = exec.replay
  if rp and frame then
    local ev = replay.consume(rp, frame, etype, details)
    if ev then
      frame.last_ts = ev.timestamp
      return ev.id, ev
    end
  end
  -- a frame still running code after its execution ended records nothing
  if frame and exec.finished then return exec.event_id end
  local id = next_id(exec, etype)
  if not id then return nil end
  emit(exec, frame, id, prev, etype, details, x)
  return id
end

--- Records an event whose previous event is `prev`, without moving the
-- frame's chain (AWS links some events to an earlier one: a Map's
-- MapStateSucceeded and MapStateExited both to the last iteration's end).
-- `x` holds what recovery needs beyond AWS's details (the next state).
-- Returns the event's id (after a recovery, the recorded one, and the
-- recorded event {id, timestamp, type, d = details, x = extras}), or nil
-- when the execution has just ended at the history limit.
local function record_from(exec, frame, prev, etype, details, x)
  local id = exec.event_id + 1
  if exec.sink or exec.replay or id >= exec.history_limit then
    return record_slow(exec, frame, prev, etype, details, x)
  end
  -- Nothing to write: the id is only counted.
  exec.event_id = id
  return id
end
M.record_from = record_from

--- Records the next event of a frame's chain (its previous event is the
-- frame's last one) and makes it the frame's last. Execution-level events
-- pass no frame. Returns as record_from.
local function record(exec, frame, etype, details, x)
  local id = exec.event_id + 1
  if exec.sink or exec.replay or id >= exec.history_limit or not frame then
    local recorded
    id, recorded = record_slow(exec, frame, frame and frame.last_event or exec.event_id, etype, details, x)
    if id and frame then frame.last_event = id end
    return id, recorded
  end
  exec.event_id = id
  frame.last_event = id
  return id
end
M.record = record

--- Counts `n` events of a frame that nothing records (no sink, no
-- replay), the ids a caller would get from `record` n times; returns
-- false, counting nothing, when they must be recorded one by one.
local function count(exec, frame, n)
  local id = exec.event_id + n
  if exec.sink or exec.replay or id >= exec.history_limit then return false end
  exec.event_id = id
  frame.last_event = id
  return true
end
M.count = count

--- Records a state's entered (`field` "input") or exited ("output")
-- event. A sink that takes the parts (the durable one, `exec.state_sink`)
-- gets them instead of a details table; `nxt` is the next state of an
-- exited event, `vars` its assigned variables.
local function record_state(exec, frame, etype, st, field, value, vars, nxt)
  local ss = exec.state_sink
  if ss and not exec.replay then
    local id = next_id(exec, etype)
    if not id then return nil end
    local now = exec.engine.loop:now()
    ss(exec, id, frame.last_event or 0, now, etype, st, field, value, vars, frame, nxt)
    frame.last_ts = now
    frame.last_event = id
    return id
  end
  local details
  if exec.sink then
    details = { name = st.name, [field] = value }
    if vars then details.assignedVariables = vars end
  end
  return record(exec, frame, etype, details,
    exec.durable and field == "output" and { next = nxt and nxt.name } or nil)
end

---------------------------------------------------------------- context

local iso = timestamp.format
local RETRYING = { Task = true, Parallel = true, Map = true }

-- One part of the Context object (`$$`): `$$.Map.Item.Index` needs only
-- the Map part, so paths ask for parts; the Execution and StateMachine
-- parts never change during an execution and are built once.
local function context_part(f, k)
  local exec = f.exec
  if k == "Execution" then
    local part = exec.context_execution
    if not part then
      part = {
        Id = exec.arn, Input = exec.input, Name = exec.name,
        RoleArn = exec.machine.role_arn, StartTime = iso(exec.start_ms),
        RedriveCount = exec.redrive_count or 0,
      }
      -- AWS adds RedriveTime once an execution was redriven
      if exec.redrive_ms then part.RedriveTime = iso(exec.redrive_ms) end
      exec.context_execution = part
    end
    return part
  elseif k == "StateMachine" then
    return { Id = exec.machine.arn, Name = exec.machine.name }
  elseif k == "State" then
    local st = f.state
    local part = { Name = st and st.name, EnteredTime = iso(f.entered_ms or exec.start_ms) }
    -- AWS gives RetryCount only for states that can retry.
    if st and RETRYING[st.type] then part.RetryCount = f.retry_count or 0 end
    return part
  elseif k == "Task" then
    return f.task_token and { Token = f.task_token } or nil
  elseif k == "Map" then
    return f.map_item and { Item = f.map_item } or nil
  end
  return nil
end
M.context_part = context_part

--- The whole Context object of a frame, built when a path asks for `$$`.
local function build_context(f)
  return {
    Execution = context_part(f, "Execution"),
    StateMachine = context_part(f, "StateMachine"),
    State = context_part(f, "State"),
    Task = context_part(f, "Task"),
    Map = context_part(f, "Map"),
  }
end

---------------------------------------------------------------- frames

-- A frame's rarely set fields read their defaults from the metatable, so
-- a frame holds only what it uses (100,000 parked executions must fit in
-- little memory) and a read never calls a metamethod function.
local FRAME_DEFAULTS = {
  retries = false, last_ts = false, input = false, assigned = false,
  task_token = false, rule = false, map_item = false, var_sizes = false,
  index = 0, dead = false, shared_vars = false, parent = false, entered_prev = 0,
  context_part = context_part, context_of = build_context,
  -- the recorded entry of a visit a redrive runs again (replay.lua's cut)
  redriven = false,
  -- fn(kind, a, b): a blocked frame's resuming step goes there instead of
  -- the driver (TestState runs one state and stops: stepflow.testing)
  intercept = false,
}

local frame_mt = { __name = "stepflow.Frame", __index = FRAME_DEFAULTS }

--- Makes a frame that runs `program` on `input`. `done(frame, ok, value)`
-- is called once when it ends. `vars` is the frame's variable scope.
-- `last_event` is the event its first state's entered event follows.
function M.new_frame(exec, program, input, vars, done, parent, key, last_event)
  return setmetatable({
    exec = exec, program = program, state = program.start, raw = input,
    vars = vars, done = done, parent = parent or false, key = key or "",
    retry_count = 0, last_event = last_event or 0, entered_ms = 0, entered_id = 0,
    finished = false,
  }, frame_mt)
end

--- Tells whether a frame was stopped (its execution ended, or a parent
-- stopped its children).
local function is_dead(f)
  while f do
    if f.dead then return true end
    f = f.parent
  end
  return false
end
M.is_dead = is_dead

local function finish(frame, ok, value)
  if frame.finished then return end
  frame.finished = true
  if frame.var_sizes then variables.release(frame) end
  frame.done(frame, ok, value)
end
M.finish = finish

---------------------------------------------------------------- stepping

-- ASL errors pass through; any other error is a defect of the runtime
-- or of a state's code: it keeps its traceback for the report.
local function on_error(e)
  if errors.is(e) then return e end
  return traceback(tostring(e), 2)
end

--- Runs the current state once (a first attempt or a retry): a step.
local function attempt(frame)
  local st = frame.state
  local ok, kind, a, b = xpcall(st.run, on_error, st, frame, frame.raw)
  if ok then return kind, a, b end
  if errors.is(kind) then return "fail", kind end
  return "fail", errors.internal(kind, frame)
end

-- Skips a state whose visit is recorded: its output, next state and
-- variables come from the record. Returns a "replayed" step.
local function replayed(frame, entered, exited)
  frame.entered_id = entered.id
  frame.entered_ms = entered.timestamp
  frame.last_event = exited.id
  frame.last_ts = exited.timestamp
  local d = exited.d or {}
  local assigned = d.assignedVariables
  if assigned then
    local vars = variables.own_scope(frame)
    for k, v in pairs(assigned) do vars[k] = v end
  end
  local nxt = exited.x and exited.x.next
  local output = d.output
  if output == nil then output = require("stepflow.json").null end
  if nxt then
    local target = frame.program.states[nxt]
    if not target then
      error("stepflow: recorded history names state '" .. nxt .. "', which the definition lacks")
    end
    return "replayed", output, target
  end
  return "replayed", output, nil
end

--- Records the entered event of the frame's current state when it must
-- be recorded (a sink, a replay, the history limit). In a recovery the
-- recorded visit is found instead: returns a "replayed" step when the
-- visit ended, "block" at the history limit, or nil to run the state.
local function record_entered(frame, st, now_ms)
  local exec = frame.exec
  local rp = exec.replay
  frame.entered_prev = frame.last_event
  if rp then
    local entered, exited = replay.visit(rp, frame, st.entered_type, st.exited_type)
    if exited then return replayed(frame, entered, exited) end
    if entered then
      frame.entered_id = entered.id
      frame.entered_ms = entered.timestamp
      frame.last_event = entered.id
      frame.last_ts = entered.timestamp
      if entered.after then
        -- a visit a redrive runs again (replay.lua's cut): its events
        -- follow ExecutionRedriven, and its attempts go on from the last
        -- one recorded (a Map's or Parallel's children are keyed by it)
        frame.last_event = entered.after
        if entered.attempt then frame.retry_count = entered.attempt end
        frame.redriven = entered  -- (a Distributed Map's run: map_run.lua)
      end
      return nil
    end
  end
  frame.entered_ms = now_ms
  local id = record_state(exec, frame, st.entered_type, st, "input", frame.raw)
  if not id then return "block" end
  frame.entered_id = id
  -- The recorded entry is read on a fresh clock, later than now_ms in a
  -- slow turn: a Wait counts from it, as its replay does, so that the
  -- history never shows a Wait shorter than its Seconds.
  local ts = frame.last_ts
  if ts and ts > now_ms then frame.entered_ms = ts end
  return nil
end

-- Commits a leaving state's variables: nil, or the error that fails the frame.
local function commit_vars(frame, st)
  local ok, err = pcall(st.commit_vars, frame)
  if ok then return nil end
  frame.assigned = false
  if not errors.is(err) then err = errors.internal(err, frame) end
  return err
end

local function state_prefix(frame)
  return "An error occurred while executing the state '" .. frame.state.name ..
    "' (entered at the event id #" .. frame.entered_id .. "). "
end

-- Errors of JSONata evaluation are recorded as EvaluationFailed where they
-- happen (before Retry and Catch see them). AWS links the event to the
-- one the state's entered event follows (it evaluates as it enters), but
-- a Wait's to its entered event (it evaluates its due time once entered).
local function record_evaluation_failure(frame, err)
  local exec = frame.exec
  local st = frame.state
  local prev = st.type == "Wait" and frame.entered_id or frame.entered_prev
  local id = record_from(exec, frame, prev, "EvaluationFailed", exec.sink and {
    error = err.Error, cause = err.Cause, location = err.location, state = st.name,
  })
  if id then frame.last_event = id end
end

--- Routes an ASL error through the state's Retry and Catch. Returns the
-- next step: "block" while a retry waits, "next" to a catcher's state, or
-- "fatal" when nothing handles it.
local function handle_error(frame, err)
  local st = frame.state
  local exec = frame.exec
  frame.assigned = false
  if err.state_prefix then
    err.Cause = state_prefix(frame) .. (err.Cause or "")
    err.state_prefix = nil
  end
  if err.evaluation then
    err.evaluation = nil
    record_evaluation_failure(frame, err)
    if exec.finished then return "block" end
  end
  local retriers = st.retriers
  if retriers then
    local i = retry.find(retriers, err.Error)
    if i then
      local counts = frame.retries
      if not counts then counts = {}; frame.retries = counts end
      local n = (counts[i] or 0) + 1
      -- Jitter is derived from the attempt, so a replay waits until the
      -- same due time, counted from the recorded failure.
      local seed = exec.arn .. frame.key .. (frame.entered_id or 0) .. "#" .. n
      local delay = retry.delay_ms(retriers[i], n, function() return replay.unit_random(seed) end)
      if delay then
        counts[i] = n
        frame.retry_count = frame.retry_count + 1
        local engine = exec.engine
        local due = (frame.last_ts or engine.loop:now()) + delay
        engine:_after(due - engine.loop:now(), frame, function() M.drive(frame, "retry") end)
        return "block"
      end
    end
  end
  -- A Map or Parallel that fails for good records its failure (not before
  -- a retry, and not for States.Runtime, which ends the execution at once).
  if st.failed_type and err.Error ~= errors.Runtime then
    record(exec, frame, st.failed_type, exec.sink and {})
    if exec.finished then return "block" end
  end
  local catchers = st.catchers
  if catchers then
    local c = retry.find_catcher(catchers, err.Error)
    if c then
      local ok, output = xpcall(c.apply, on_error, frame, frame.raw, err)
      if not ok then
        if errors.is(output) then return "fatal", output end
        return "fatal", errors.internal(output, frame)
      end
      return "next", output, c.next_state
    end
  end
  return "fatal", err
end

-- Runs a chain of fast states of an execution that records nothing in one
-- protected call: each is a plain function of its input. Returns the
-- number of transitions made and, when the frame ended, true and the
-- output. The events each state would record (entered and exited) are
-- counted, as `record` would count them. A state that raises leaves
-- frame.state on itself.
local function fast_run(frame, budget, now_ms)
  local exec = frame.exec
  local st, raw = frame.state, frame.raw
  -- Event ids and the transition count live in locals here and are
  -- written back once; when a state raises, the driver recovers them from
  -- frame.entered_id. The history limit shortens the run so that the
  -- general path reaches it.
  local id = exec.event_id
  -- near the history limit the general path goes one state at a time
  if id + 2 * budget + 2 >= exec.history_limit then return 0, false end
  local n = 0
  while n < budget do
    n = n + 1
    if frame.task_token then frame.task_token = false end
    id = id + 1
    frame.entered_id = id
    frame.entered_ms = now_ms
    local out, nxt = st.fast(st, frame, raw)
    id = id + 1                     -- the exited event
    if not nxt then
      exec.event_id, frame.last_event = id, id
      exec.transitions = exec.transitions + n
      return n, true, out
    end
    frame.state, frame.raw = nxt, out
    st, raw = nxt, out
    if not st.fast then break end
  end
  exec.event_id, frame.last_event = id, id
  exec.transitions = exec.transitions + n
  return n, false
end

-- Times the execution out when it has run longer than its type allows;
-- tells whether it did.
local function past_deadline(exec, now_ms)
  if now_ms - exec.start_ms < exec.machine.max_ms then return false end
  require("stepflow.lifecycle").time_out(exec)
  return true
end

-- Drives a frame (see M.drive, its protected entry).
local function drive(frame, kind, a, b)
  local exec = frame.exec
  local engine = exec.engine
  -- One clock read per drive: the transitions a drive runs back to back
  -- take microseconds, and entry times are milliseconds.
  local now_ms = engine.now(engine.loop)
  local budget = M.BUDGET
  -- Only a parent stops a frame from outside, and not while it runs here.
  if frame.parent and is_dead(frame) then return end
  -- a deleted state machine's executions end at their next transition
  if engine.retired[exec.machine.arn] then
    return exec:stop(nil, "The state machine " .. exec.machine.arn .. " was deleted.")
  end
  while true do
    if frame.finished or exec.finished or frame.dead then return end
    if kind == nil then
      if budget <= 0 then
        -- An execution past its longest duration (a year, or five minutes
        -- for EXPRESS) times out, also one that never waits on a timer.
        if past_deadline(exec, now_ms) then return end
        -- other code runs before this frame's next event: the durable
        -- sink must not reuse the text of its last output for it
        if exec.state_sink then exec.last_output = false end
        engine.scheduler:push(frame)
        return
      end
      local st = frame.state
      if st.fast and not (exec.sink or exec.replay) then
        local start_id = exec.event_id
        local ok, n, ended, out = xpcall(fast_run, on_error, frame, budget, now_ms)
        if not ok then
          -- The failing state was entered (one id), each before it entered
          -- and exited (two ids).
          local entered = frame.entered_id
          exec.transitions = exec.transitions + (entered - start_id + 1) // 2
          exec.event_id, frame.last_event = entered, entered
          budget = budget - 1
          kind, a = "fail", errors.is(n) and n or errors.internal(n, frame)
        elseif ended then
          return finish(frame, true, out)
        elseif n > 0 then
          budget = budget - n
          goto continue
        end
        -- n == 0: near the history limit, the general path enters the state
      end
      if kind == nil then
        -- Entering a state: its entered event, then its run.
        budget = budget - 1
        exec.transitions = exec.transitions + 1
        if frame.retry_count ~= 0 then
          frame.retry_count = 0
          frame.retries = false
        end
        if frame.task_token then frame.task_token = false end
        local id = exec.event_id + 1
        if exec.sink or exec.replay or id >= exec.history_limit then
          kind, a, b = record_entered(frame, st, now_ms)
        else
          -- nothing records the event: its id is only counted
          exec.event_id = id
          frame.last_event = id
          frame.entered_id = id
          frame.entered_ms = now_ms
          kind = nil
        end
        if kind == nil then
          local ok
          ok, kind, a, b = xpcall(st.run, on_error, st, frame, frame.raw)
          if not ok then kind, a = "fail", errors.is(kind) and kind or errors.internal(kind, frame) end
          -- A handler that ran here may have taken real time.
          if st.type == "Task" then now_ms = engine.now(engine.loop) end
        end
      end
    elseif kind == "retry" then
      kind, a, b = attempt(frame)
    end
    if kind == "next" then
      -- Leaving a state: its variables, then its exited event.
      local st = frame.state
      if st.commit_vars and frame.assigned then
        local err = commit_vars(frame, st)
        if err then return finish(frame, false, err) end
      end
      if st.exited_type then
        local id = exec.event_id + 1
        if exec.sink or exec.replay or id >= exec.history_limit then
          record_state(exec, frame, st.exited_type, st, "output", a, frame.assigned or nil, b)
        else
          exec.event_id = id
          frame.last_event = id
        end
      end
      if frame.assigned then frame.assigned = false end
      if b then
        frame.state = b
        frame.raw = a
        kind = nil
      else
        return finish(frame, true, a)
      end
    elseif kind == "fail" then
      kind, a, b = handle_error(frame, a)
      if kind == "block" then return end
    elseif kind == "block" then
      return
    elseif kind == "replayed" then
      if b then
        frame.state = b
        frame.raw = a
        kind = nil
      else
        return finish(frame, true, a)
      end
    elseif kind == "fatal" then
      return finish(frame, false, a)
    elseif kind ~= nil then
      return finish(frame, false, errors.internal("state '" .. tostring(frame.state.name) ..
        "' returned unknown step '" .. tostring(kind) .. "'", frame))
    end
    ::continue::
  end
end

local durable -- required when first needed (it is the engine's, not the interpreter's)

--- Drives a frame from a step, or from entering its current state when
-- kind is nil. The steps it takes besides the states' own: "retry" (run
-- the current state again), "replayed", output, next_state (a recovered
-- visit), "fatal", err (end the frame with an error). Returns when the
-- frame blocks, ends or has used its budget (then it is queued again).
--
-- The safety net of a long-running engine: a defect met while driving
-- (anything but a state's ASL error, which the states handle, and a store
-- failure, which stops the engine) fails that frame with States.Runtime
-- "internal error ..." (and so its execution), and the loop goes on.
function M.drive(frame, kind, a, b)
  local ok, err = xpcall(drive, traceback, frame, kind, a, b)
  if ok then return end
  durable = durable or require("stepflow.durable")
  local exec = frame.exec
  -- a store failure stops the engine; so does anything raised after the
  -- execution ended (an on_done callback's error is its caller's)
  if durable.is_store_failure(err) or exec.finished then error(err, 0) end
  local e = errors.internal(err, frame)
  if not frame.finished then
    local fine, again = pcall(finish, frame, false, e)
    if fine then return end
    if durable.is_store_failure(again) then error(again, 0) end
  end
  -- the execution fails, and so does the one it is a child of (a Map
  -- Run's child): a defect is never swallowed by a child
  local lifecycle = require("stepflow.lifecycle")
  while exec do
    if not exec.finished then lifecycle.fail(exec, e) end
    exec = exec.parent
  end
end

--- Resumes a blocked frame with a step: ("next", output, next_state) or
-- ("fail", err).
function M.resume(frame, kind, a, b)
  local exec = frame.exec
  if frame.finished or exec.finished or is_dead(frame) then return end
  if past_deadline(exec, exec.engine.loop:now()) then return end
  local intercept = frame.intercept
  if intercept then return intercept(kind, a, b) end
  return M.drive(frame, kind, a, b)
end

--- Resumes a blocked frame with "next" and what `fn(...)` returns (to the
-- state's next state), or with the ASL error it raises.
function M.continue(frame, fn, ...)
  if frame.finished or frame.exec.finished or is_dead(frame) then return end
  local ok, res = xpcall(fn, on_error, ...)
  local intercept = frame.intercept
  if ok then
    if intercept then return intercept("next", res, frame.state.next_state) end
    return M.drive(frame, "next", res, frame.state.next_state)
  end
  if not errors.is(res) then res = errors.internal(res, frame) end
  if intercept then return intercept("fail", res) end
  return M.drive(frame, "fail", res)
end

return M
