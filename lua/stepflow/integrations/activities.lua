--- Activity tasks waiting for workers. A Task whose Resource is an
-- activity ARN and that no Lua handler serves waits here (after its
-- ActivityScheduled event) until a worker takes it
-- (engine:get_activity_task, the server's GetActivityTask): then its
-- ActivityStarted is recorded with the worker's name, its timeout and
-- heartbeat start counting, and the worker ends it with its task token
-- (SendTaskSuccess / SendTaskFailure, SendTaskHeartbeat meanwhile).
local json = require("stepflow.json")

local M = {}

local Activities = {}
Activities.__index = Activities
Activities.__name = "stepflow.Activities"

--- The activity queues of an engine.
function M.new()
  return setmetatable({ queues = {}, waiters = {} }, Activities)
end

local function queue_of(self, arn)
  local q = self.queues[arn]
  if not q then
    q = {}
    self.queues[arn] = q
  end
  return q
end

-- Hands a queued call to a worker: records ActivityStarted and arms the
-- heartbeat. Returns the task as GetActivityTask answers it.
local function hand_out(call, worker_name)
  call.queued = false
  call.taken = true
  local exec = call.frame.exec
  call:event(call.task.events.started, exec.sink and { workerName = worker_name })
  -- TimeoutSeconds and HeartbeatSeconds count from here, as on AWS
  call:wait()
  return { taskToken = call.token, input = json.encode(call.effective == nil and json.null
    or call.effective) }
end

--- Queues an activity call. A worker already waiting takes it at once.
function Activities:enqueue(call)
  local arn = call.task.resource
  local waiters = self.waiters[arn]
  local w = waiters and table.remove(waiters, 1)
  if w then
    call.queued = true
    return w.fn(hand_out(call, w.worker))
  end
  local q = queue_of(self, arn)
  q[#q + 1] = call
  call.queued = true
end

--- Removes a call that ended while it waited (a timeout, its execution
-- stopped).
function Activities:remove(call)
  call.queued = false
  local q = self.queues[call.task.resource]
  if not q then return end
  for i = #q, 1, -1 do
    if q[i] == call then table.remove(q, i) end
  end
end

--- Takes the oldest task of activity `arn` for `worker_name`: returns
-- {taskToken =, input = JSON text}, or nil when none waits.
function Activities:poll(arn, worker_name)
  local q = self.queues[arn]
  while q and #q > 0 do
    local call = table.remove(q, 1)
    if not call.settled and not call.frame.exec.finished then
      return hand_out(call, worker_name or "stepflow")
    end
  end
  return nil
end

--- Long poll: fn(task) runs when a task of activity `arn` is queued (at
-- once if one waits). Returns a function that gives up waiting.
function Activities:wait(arn, worker_name, fn)
  local task = self:poll(arn, worker_name)
  if task then
    fn(task)
    return function() end
  end
  local list = self.waiters[arn]
  if not list then
    list = {}
    self.waiters[arn] = list
  end
  local w = { worker = worker_name or "stepflow", fn = fn }
  list[#list + 1] = w
  return function()
    for i = #list, 1, -1 do
      if list[i] == w then table.remove(list, i) end
    end
  end
end

--- The number of tasks waiting for a worker of activity `arn`.
function Activities:pending(arn)
  local q = self.queues[arn]
  return q and #q or 0
end

return M
