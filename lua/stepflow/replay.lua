--- Replay of a recorded history after a crash.
--
-- Every recorded event names the frame that produced it (the top level, a
-- Parallel branch, a Map iteration). Recovery groups the events by frame;
-- while a frame still has recorded events, the interpreter consumes them
-- instead of recording new ones: a state whose exit is recorded is skipped
-- with its recorded output and next state (so nothing is run or recorded
-- twice), and the state that was in progress is run again from its
-- recorded entry. Once a frame's recorded events are used up, it is live.
local M = {}

-- Events a Map or Parallel records once per attempt: the attempt a
-- redriven visit goes on from is their count less one.
local ATTEMPT_STARTS = { MapStateStarted = true, ParallelStateStarted = true }

-- Where a redrive cuts a frame's recorded events: the unsuccessful visit
-- (the last state entered and not exited) keeps only its entered event,
-- so it runs again from its recorded entry while what succeeded before
-- it is replayed; an iteration's recorded failure or abort goes too, so
-- the iteration runs again. The entered event notes the attempt the
-- visit had reached (`attempt`), from which a Map's or Parallel's
-- children are found again, the ExecutionRedriven event the visit's
-- next events follow (`after`), and a Distributed Map's run
-- (`map_run`, redriven `map_run_redrives` times so far), which the
-- visit redrives.
local function cut(r, redriven_id)
  local list = r.list
  local n = #list
  local last_entered
  for i = n, 1, -1 do
    local t = list[i].type
    if t:sub(-12) == "StateEntered" then
      last_entered = i
      break
    end
    if t:sub(-11) == "StateExited" then break end
  end
  local keep = last_entered or n
  local starts = 0
  local entered = last_entered and list[last_entered]
  for i = keep + 1, n do
    local e = list[i]
    if ATTEMPT_STARTS[e.type] then starts = starts + 1 end
    -- a Distributed Map's run is redriven, not started anew
    if entered and (e.type == "MapRunStarted" or e.type == "MapRunRedriven") and e.d and e.d.mapRunArn then
      entered.map_run = e.d.mapRunArn
      if e.type == "MapRunRedriven" then entered.map_run_redrives = e.d.redriveCount end
    end
  end
  if entered then
    if starts > 0 then entered.attempt = (entered.attempt or 0) + starts - 1 end
    entered.after = redriven_id
  end
  local out = {}
  for i = 1, keep do
    local t = list[i].type
    if t ~= "MapIterationFailed" and t ~= "MapIterationAborted" then out[#out + 1] = list[i] end
  end
  r.list = out
end

--- Builds the replay index from decoded events ({id, previousEventId,
-- timestamp, type, d = details, f = frame key, x = extras}). An
-- ExecutionRedriven event cuts every frame's unsuccessful visit recorded
-- before it (see `cut`): replaying a redriven execution runs again what
-- had not succeeded, in every frame (top level, branches, iterations).
function M.index(events)
  local by_frame = {}
  for _, ev in ipairs(events) do
    if ev.type == "ExecutionRedriven" then
      for _, r in pairs(by_frame) do cut(r, ev.id) end
    elseif ev.f then
      local r = by_frame[ev.f]
      if not r then
        r = { list = {}, pos = 1 }
        by_frame[ev.f] = r
      end
      r.list[#r.list + 1] = ev
    end
  end
  return by_frame
end

local function advance(r)
  local list, pos = r.list, r.pos
  while list[pos] and list[pos].used do pos = pos + 1 end
  r.pos = pos
  if pos > #list then r.live = true end
end

-- Events that a frame can emit out of their recorded order (iterations
-- end in whatever order they finish): matched by type and index.
local UNORDERED = {
  MapIterationStarted = true, MapIterationSucceeded = true, MapIterationFailed = true,
}

-- The index of the frame's first unused event that is not an iteration
-- event, or nil.
local function first_ordered(r)
  local list = r.list
  for i = r.pos, #list do
    local e = list[i]
    if not e.used and not UNORDERED[e.type] then return i end
  end
  return nil
end

--- Consumes the recorded event that matches an event the interpreter is
-- about to record for `frame`. Returns the recorded event, or nil (then
-- the frame is live and the event is recorded anew).
function M.consume(replay, frame, etype, details)
  local r = replay[frame.key]
  if not r or r.live then return nil end
  local list = r.list
  if UNORDERED[etype] then
    -- Iterations end in whatever order they finish: match by index, and a
    -- miss is an iteration that ends only now (the frame stays in replay).
    local index = details and details.index
    for i = r.pos, #list do
      local e = list[i]
      if not e.used and e.type == etype and e.d and e.d.index == index then
        e.used = true
        advance(r)
        return e
      end
    end
    return nil
  end
  -- Other events come in their recorded order; recorded iteration events
  -- still waiting for their iteration are passed over.
  for i = r.pos, #list do
    local e = list[i]
    if not e.used and not UNORDERED[e.type] then
      if e.type == etype then
        e.used = true
        advance(r)
        return e
      end
      break
    end
  end
  -- The frame has gone a different way than recorded: from here on it is live.
  r.live = true
  return nil
end

--- The recorded visit of a state that `frame` enters: consumes its entered
-- event, and when the exit was recorded too, every event of the visit.
-- Returns the entered event and, if the visit ended, the exited event.
function M.visit(replay, frame, entered_type, exited_type)
  local r = replay[frame.key]
  if not r or r.live then return nil end
  local list = r.list
  local at = first_ordered(r)
  local first = at and list[at]
  if not first or first.type ~= entered_type then
    r.live = true
    return nil
  end
  first.used = true
  if exited_type then
    for i = at + 1, #list do
      local ev = list[i]
      if not ev.used then
        if ev.type == exited_type then
          -- The whole visit is recorded, its iteration events included.
          for j = at, i do list[j].used = true end
          advance(r)
          return first, ev
        end
        if ev.type:sub(-12) == "StateEntered" then break end
      end
    end
  end
  advance(r)
  return first, nil
end

--- The recorded outcome of a task attempt, if it is the frame's next
-- event: consumes and returns it (type is one of `types`).
function M.outcome(replay, frame, types)
  local r = replay[frame.key]
  if not r or r.live then return nil end
  local at = first_ordered(r)
  local ev = at and r.list[at]
  if ev and types[ev.type] then
    ev.used = true
    advance(r)
    return ev
  end
  return nil
end

--- The recorded event `frame` records next (in order, iteration events
-- aside), without consuming it; nil when the frame is live or has none.
-- A Task reads its recorded TaskScheduled this way before Parameters,
-- to hand out the task token it kept.
function M.peek(replay, frame)
  local r = replay[frame.key]
  if not r or r.live then return nil end
  local at = first_ordered(r)
  return at and r.list[at] or nil
end

--- A number in [0, 1) that is the same for the same text: jitter that a
-- replay computes again exactly.
function M.unit_random(text)
  local h = 2166136261
  for i = 1, #text do
    h = ((h ~ text:byte(i)) * 16777619) & 0xffffffff
  end
  return h / 4294967296
end

return M
