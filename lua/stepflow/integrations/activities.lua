--- Activity tasks waiting for workers. A Task whose Resource is an
-- activity ARN and that no Lua handler serves waits here (after its
-- ActivityScheduled event) until a worker takes it
-- (engine:get_activity_task, the server's GetActivityTask): then its
-- ActivityStarted is recorded with the worker's name, its timeout and
-- heartbeat start counting, and the worker ends it with its task token
-- (SendTaskSuccess / SendTaskFailure, SendTaskHeartbeat meanwhile).
--
-- Tasks and long-polling workers wait in FIFO queues, one of each per
-- activity. A server may park thousands of workers: pushing, taking and
-- giving up are O(1) (an entry that leaves early is marked and skipped
-- when it reaches the head).
local json = require("stepflow.json")

local M = {}

local Activities = {}
Activities.__index = Activities
Activities.__name = "stepflow.Activities"

--- The activity queues of an engine (on a shared store, see
-- stepflow.integrations.activities_shared).
function M.new()
  return setmetatable({ queues = {}, waiters = {} }, Activities)
end

---------------------------------------------------------------- queues

-- A FIFO: items[first..last], of which `n` are still counted (a call
-- still queued, a worker that has not gone).
local function fifo()
  return { first = 1, last = 0, n = 0, items = {} }
end

local function push(q, item)
  local last = q.last + 1
  q.last = last
  q.items[last] = item
  q.n = q.n + 1
end

-- Takes the oldest item that `check` finds live: check(item) returns true
-- (live: it is taken and uncounted), false (gone, uncounted already) or
-- nil (found dead now: uncounted here). nil when none is live.
local function take(q, check)
  local items = q.items
  for i = q.first, q.last do
    local item = items[i]
    items[i] = nil
    q.first = i + 1
    local live = check(item)
    if live ~= false then q.n = q.n - 1 end
    if live then return item end
  end
  return nil
end

-- The queue of `arn` in `map`, made on first use.
local function queue_in(map, arn)
  local q = map[arn]
  if not q then
    q = fifo()
    map[arn] = q
  end
  return q
end

-- Forgets a queue that holds nothing live (an engine may see many
-- activities over its life).
local function tidy(map, arn, q)
  if q.n == 0 then map[arn] = nil end
end

---------------------------------------------------------------- tasks

--- Hands a queued call to a worker: records ActivityStarted and arms the
-- heartbeat. Returns the task as GetActivityTask answers it.
local function hand_out(call, worker_name)
  call.queued = false
  call.taken = true
  local exec = call.frame.exec
  call:event(call.task.events.started, exec.sink and { workerName = worker_name })
  call:note_start()
  -- TimeoutSeconds and HeartbeatSeconds count from here, as on AWS
  call:wait()
  return { taskToken = call.token, input = json.encode(call.effective == nil and json.null
    or call.effective) }
end

M.hand_out = hand_out

-- (a call whose execution stopped is still queued: it is dead now)
local function call_check(call)
  if not call.queued then return false end
  call.queued = false
  if call.settled or call.frame.exec.finished then return nil end
  return true
end

local function waiter_check(w)
  if w.gone then return false end
  w.gone = true
  if w.alive and not w.alive() then return nil end
  return true
end

--- Queues an activity call. A worker already waiting takes it at once.
function Activities:enqueue(call)
  local arn = call.task.resource
  call.queued = true
  local waiters = self.waiters[arn]
  if waiters then
    local w = take(waiters, waiter_check)
    tidy(self.waiters, arn, waiters)
    if w then return w.fn(hand_out(call, w.worker)) end
  end
  push(queue_in(self.queues, arn), call)
end

--- Removes a call that ended while it waited (a timeout, its execution
-- stopped): it is skipped when it reaches the head of its queue.
function Activities:remove(call)
  if not call.queued then return end
  call.queued = false
  local arn = call.task.resource
  local q = self.queues[arn]
  if q then
    q.n = q.n - 1
    tidy(self.queues, arn, q)
  end
end

--- Takes the oldest task of activity `arn` for `worker_name`: returns
-- {taskToken =, input = JSON text}, or nil when none waits.
function Activities:poll(arn, worker_name)
  local q = self.queues[arn]
  if not q then return nil end
  local call = take(q, call_check)
  tidy(self.queues, arn, q)
  if not call then return nil end
  return hand_out(call, worker_name or "stepflow")
end

--- Long poll: fn(task) runs when a task of activity `arn` is queued (at
-- once if one waits), workers served in the order they came. `alive`
-- (optional) is asked first: a worker for which it returns false (its
-- connection closed) gives up its place, and the task goes to the next.
-- Returns a function that gives up waiting.
function Activities:wait(arn, worker_name, fn, alive)
  local task = self:poll(arn, worker_name)
  if task then
    fn(task)
    return function() end
  end
  local w = { worker = worker_name or "stepflow", fn = fn, alive = alive or false, gone = false }
  local q = queue_in(self.waiters, arn)
  push(q, w)
  return function()
    if w.gone then return end
    w.gone = true
    local now = self.waiters[arn]
    if now == q then
      q.n = q.n - 1
      tidy(self.waiters, arn, q)
    end
  end
end

--- The number of tasks waiting for a worker of activity `arn`.
function Activities:pending(arn)
  local q = self.queues[arn]
  return q and q.n or 0
end

--- The number of workers waiting for a task of activity `arn` (a worker
-- whose `alive` says no is counted until a task would reach it).
function Activities:workers(arn)
  local q = self.waiters[arn]
  return q and q.n or 0
end

return M
