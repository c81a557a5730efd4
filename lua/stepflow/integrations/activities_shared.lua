--- Activity tasks on a shared (PostgreSQL) store: the engine's activity
-- queue when several engines share the database (engine.activities; the
-- same methods as stepflow.integrations.activities). A worker polling any
-- engine gets the tasks of executions owned by any engine, oldest first
-- across the database, each exactly once; only the owner records an
-- execution's events (ActivityStarted among them). The protocol, its
-- states and what happens at each failure: docs/STORE.md, "Task tokens
-- and activity tasks".
--
-- Two sides, both in every engine:
-- - owner: a task waiting for a worker is queued in the database with its
--   ActivityScheduled (stepflow.activity_tasks). When a poller claims it,
--   the owner accepts the claim (from then on the poller cannot give it
--   back), records ActivityStarted with the worker's name, and marks the
--   task started in the same group; the poller is told at commit.
-- - poller: GetActivityTask's workers wait here in FIFO lines (one per
--   activity, parked on the loop); the engine claims queued tasks for them
--   (FOR UPDATE SKIP LOCKED: one poller each) when told of new tasks, and
--   answers each worker once its task's start is committed.
local json = require("stepflow.json")
local activities = require("stepflow.integrations.activities")
local tokens = require("stepflow.integrations.tokens")

local M = {}

-- Workers served per claim batch.
local BATCH = 16

local Shared = {}
Shared.__index = Shared
Shared.__name = "stepflow.SharedActivities"

--- The shared activity queue of the engine of Durability `d`.
function M.new(engine, d)
  return setmetatable({
    engine = engine, d = d, store = d.store,
    queued = {},       -- calls of this engine's executions queued in the database
    lines = {},        -- activity ARN -> deque of waiters without a claim
    claims = {},       -- task number -> the waiter holding its claim
    nclaims = 0,
    claiming = {},     -- activity ARN -> a claim batch is in flight
    again = {},        -- activity ARN -> claim once more when it returns
    busy = {},         -- task number -> an accept or requeue is in flight
    picking = false, want_pickup = false,
    checking = false,
    gen = 0,           -- bumped when the engine registers anew
  }, Shared)
end

local function failed(what, err)
  error("stepflow: " .. what .. " failed: " .. tostring(err), 0)
end

---------------------------------------------------------------- lines

local function line_of(self, arn)
  local l = self.lines[arn]
  if not l then
    l = { first = 1, last = 0 }
    self.lines[arn] = l
  end
  return l
end

local function push_back(l, w)
  l.last = l.last + 1
  l[l.last] = w
end

local function push_front(l, w)
  l.first = l.first - 1
  l[l.first] = w
end

local function pop_front(l)
  if l.first > l.last then return nil end
  local w = l[l.first]
  l[l.first] = nil
  l.first = l.first + 1
  return w
end

local function tidy(self, arn)
  local l = self.lines[arn]
  if l and l.first > l.last then self.lines[arn] = nil end
end

---------------------------------------------------------------- the owner

local function live(call)
  return call and call.queued and not call.settled and not call.frame.exec.finished
end

--- Queues a call for a worker of any engine: its row joins the group of
-- its ActivityScheduled (a task resumed after a takeover keeps the row it
-- had, and a claim on it is looked at).
function Shared:enqueue(call)
  call.queued = true
  self.queued[call] = true
  local exec = call.frame.exec
  local input = json.encode(call.effective == nil and json.null or call.effective)
  self.store:queue_activity_task(exec.arn, call.task.resource, call.token, input)
  self.d:post_commit()
  if exec.replay then self.d.lease:want_requests() end
end

--- A queued call that ended (a timeout, its execution stopped): its row
-- goes with the group that records that.
function Shared:remove(call)
  if not call.queued then return end
  call.queued = false
  self.queued[call] = nil
  local exec = call.frame.exec
  if not exec.lost then
    self.store:delete_activity_task(exec.arn, call.token)
    self.d:post_commit()
  end
end

-- Starts a queued call for the worker of claim `c` (accepted): records
-- ActivityStarted. A worker waiting here gets the task once that is
-- committed (the row goes in the same group); another engine's worker
-- through its poller, told at commit.
function Shared:start(call, c)
  self.queued[call] = nil
  local exec = call.frame.exec
  local task = activities.hand_out(call, c.worker)
  local w = c.poller == self.store.owner and self.claims[c.seq]
  if w then
    self.store:taken_activity_task(exec.arn, c.seq)
    -- (never when the execution was lost meanwhile: its new owner starts
    -- the task again for this worker, which gets it through the pickup)
    self.d:when_durable(function()
      if self.claims[c.seq] == w then self:finish(w, task) end
    end, exec)
  else
    self.store:started_activity_task(exec.arn, c.seq)
    self.d:post_commit()
  end
end

--- The claims pollers made on tasks of this engine's executions (read
-- with its requests: {seq, token, state, poller, worker, arn, alive}):
-- each whose task is queued here is accepted and started, or given back
-- when its poller's lease has expired. A task not queued here yet (being
-- resumed) is looked at again once it is.
function Shared:on_claims(list)
  local store = self.store
  for _, c in ipairs(list) do
    local call = self.engine.tokens[c.token]
    if live(call) and not self.busy[c.seq] then
      -- a claim of this engine that no waiter holds any more (a poll
      -- that took a task not queued here yet) is given back too
      if not c.alive or (c.poller == store.owner and not self.claims[c.seq]) then
        self.busy[c.seq] = true
        store:requeue_claim_async(c.arn, c.seq, c.poller, function(ok, err)
          self.busy[c.seq] = nil
          if ok == nil then failed("giving back an activity task", err) end
        end)
      elseif c.state == "starting" then
        self:start(call, c)
      else
        self.busy[c.seq] = true
        store:accept_claim_async(c.arn, c.seq, c.poller, function(ok, err)
          self.busy[c.seq] = nil
          if ok == nil then failed("accepting an activity task's claim", err) end
          if ok and live(call) then self:start(call, c) end
        end)
      end
    end
  end
end

---------------------------------------------------------------- the poller

-- Ends a waiter's poll: with its task, or with none (nil).
function Shared:finish(w, task)
  if w.seq then
    if self.claims[w.seq] == w then
      self.claims[w.seq] = nil
      self.nclaims = self.nclaims - 1
    end
    w.seq = false
  end
  w.state = "done"
  w.fn(task)
end

-- Gives back the claim of a waiter that no longer wants it; when the
-- owner has accepted it already, the task comes anyway (the pickup).
function Shared:release(w)
  if w.releasing then return end
  w.releasing = true
  self.store:release_claim_async(w.seq, function(ok, err)
    w.releasing = false
    if ok == nil then failed("giving back an activity task", err) end
    if w.state ~= "claimed" then return end
    if ok then self:finish(w, nil) else self:check() end
  end)
end

-- Whether a waiter still waits: false once its worker has gone.
local function present(w)
  return not w.giving_up and not (w.alive and not w.alive())
end

--- Claims queued tasks of activity `arn` for the waiters at the front of
-- its line, in order; again while every one got a task.
function Shared:claim_for(arn)
  if self.claiming[arn] then
    self.again[arn] = true
    return
  end
  local l = self.lines[arn]
  -- (an engine claims once registered: recover(); its timer tries again)
  if not l or not self.store.owner then return end
  local ws, names = {}, {}
  while #ws < BATCH do
    local w = pop_front(l)
    if not w then break end
    if w.state == "waiting" then
      if present(w) then
        w.state = "claiming"
        ws[#ws + 1], names[#ws + 1] = w, w.worker
      else
        w.state = "gone"
      end
    end
  end
  tidy(self, arn)
  if #ws == 0 then return end
  self.claiming[arn] = true
  self.again[arn] = nil
  local gen = self.gen
  self.store:claim_activity_tasks_async(arn, names, function(list, err)
    self.claiming[arn] = nil
    if not list then failed("claiming activity tasks", err) end
    local all = true
    local unserved = {}
    for i, w in ipairs(ws) do
      local c = gen == self.gen and list[i]
      if c then
        w.state, w.seq = "claimed", c.seq
        self.claims[c.seq] = w
        self.nclaims = self.nclaims + 1
        if c.state == "starting" then
          -- a task of this engine's own execution: accepted already
          local call = self.engine.tokens[c.token]
          if live(call) then
            self:start(call, { seq = c.seq, worker = w.worker, poller = self.store.owner })
          else
            self.d.lease:want_requests()
          end
        elseif not present(w) then
          self:release(w)
        end
      else
        all = false
        if w.giving_up then self:finish(w, nil) else unserved[#unserved + 1] = w end
      end
    end
    if #unserved > 0 then
      local back = line_of(self, arn)
      for i = #unserved, 1, -1 do
        unserved[i].state = "waiting"
        push_front(back, unserved[i])
      end
    end
    if (all or self.again[arn]) and self.lines[arn] then self:claim_for(arn) end
  end)
end

--- Long poll: fn(task) once a task of activity `arn` (of any engine's
-- execution) is started for this worker, or fn(nil) when the poll ended
-- without one after a give-up that could not end it at once. Returns a
-- function that gives up: true when the poll ended then (fn is not
-- called), false when its answer will come through fn.
function Shared:wait(arn, worker_name, fn, alive)
  local w = { arn = arn, worker = worker_name or "stepflow", fn = fn, alive = alive or false,
    state = "waiting", seq = false, giving_up = false, releasing = false }
  push_back(line_of(self, arn), w)
  self:claim_for(arn)
  return function()
    if w.state == "waiting" or w.state == "gone" or w.state == "done" then
      w.state = "done"
      return true
    end
    w.giving_up = true
    if w.state == "claimed" then self:release(w) end
    return false
  end
end

--- Takes a task of this engine's own executions at once (GetActivityTask
-- without waiting): {taskToken =, input =}, or nil. A worker gets the
-- tasks of other engines' executions through `wait`.
function Shared:poll(arn, worker_name)
  local store = self.store
  if not store.owner then return nil end
  local c, err = store:claim_own_activity_task(arn, worker_name or "stepflow")
  if c == nil then failed("claiming an activity task", err) end
  if not c then return nil end
  local call = self.engine.tokens[c.token]
  if not live(call) then
    -- not queued here yet (being resumed): back to the queue
    store:requeue_claim_async(tokens.execution_of(c.token) or "", c.seq, store.owner, function(ok, rerr)
      if ok == nil then failed("giving back an activity task", rerr) end
    end)
    return nil
  end
  local exec = call.frame.exec
  self.queued[call] = nil
  local task = activities.hand_out(call, worker_name or "stepflow")
  store:taken_activity_task(exec.arn, c.seq)
  self.d:post_commit()
  return task
end

--- Answers the waiters whose tasks' starts are committed.
function Shared:pickup()
  if self.picking then
    self.want_pickup = true
    return
  end
  self.picking = true
  self.store:pickup_async(function(rows, err)
    self.picking = false
    if not rows then failed("reading started activity tasks", err) end
    for _, r in ipairs(rows) do
      local w = self.claims[r.seq]
      -- (none: a poll given up past a pause; its task times out)
      if w then self:finish(w, { taskToken = r.token, input = r.input }) end
    end
    if self.want_pickup then
      self.want_pickup = false
      self:pickup()
    end
  end)
end

--- Looks at what became of this engine's claims: a task gone (it ended
-- before a worker had it) sends its waiter back to the front of its line;
-- a started one is picked up; one whose waiter has gone is given back.
function Shared:check()
  if self.checking or self.nclaims == 0 then return end
  self.checking = true
  local gen = self.gen
  self.store:my_claims_async(function(states, err)
    self.checking = false
    if not states then failed("reading activity claims", err) end
    if gen ~= self.gen then return end
    local started = false
    for seq, w in pairs(self.claims) do
      local st = states[seq]
      if st == nil then
        self.claims[seq] = nil
        self.nclaims = self.nclaims - 1
        w.seq = false
        if present(w) then
          w.state = "waiting"
          push_front(line_of(self, w.arn), w)
          self:claim_for(w.arn)
        else
          self:finish(w, nil)
        end
      elseif st == "started" then
        started = true
      elseif st == "claimed" and not present(w) then
        self:release(w)
      end
    end
    if started then self:pickup() end
  end)
end

--- A notification: "activity ARN" (tasks queued), "started" (tasks of
-- this poller started), "lost" (a claimed task ended).
function Shared:notified(what, arn)
  if what == "activity" then
    -- (while a claim is in flight its waiters are out of the line: it
    -- claims once more when it returns)
    if self.lines[arn] or self.claiming[arn] then self:claim_for(arn) end
  elseif what == "started" then
    self:pickup()
  elseif what == "lost" then
    self:check()
  end
end

--- What the lease's timer does now and then (real time): a look at the
-- claims held, and with `lines`, claims for the waiters (notifications
-- make them at once; this is in case a task was given back unnoticed).
function Shared:tick(lines)
  if lines then
    for arn in pairs(self.lines) do self:claim_for(arn) end
  end
  if self.nclaims > 0 then self:check() end
end

--- The engine registered anew (it lost its lease): its claims were made
-- under its old id, which the owners give back; its waiters claim again.
function Shared:reset()
  self.gen = self.gen + 1
  local list = {}
  for seq, w in pairs(self.claims) do list[#list + 1] = { seq = seq, w = w } end
  table.sort(list, function(a, b) return a.seq > b.seq end)
  self.claims, self.nclaims, self.busy = {}, 0, {}
  for _, e in ipairs(list) do
    local w = e.w
    w.seq = false
    if present(w) then
      w.state = "waiting"
      push_front(line_of(self, w.arn), w)
    else
      self:finish(w, nil)
    end
  end
  self.queued = {}
end

--- The number of tasks of this engine's executions queued for workers of
-- activity `arn`.
function Shared:pending(arn)
  local n = 0
  for call in pairs(self.queued) do
    if call.task.resource == arn and live(call) then n = n + 1 end
  end
  return n
end

--- The number of workers waiting here for a task of activity `arn`.
function Shared:workers(arn)
  local n = 0
  local l = self.lines[arn]
  if l then
    for i = l.first, l.last do
      if l[i].state == "waiting" and present(l[i]) then n = n + 1 end
    end
  end
  for _, w in pairs(self.claims) do
    if w.arn == arn then n = n + 1 end
  end
  return n
end

return M
