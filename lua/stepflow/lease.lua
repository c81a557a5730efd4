--- Work sharing on a shared (PostgreSQL) store: the engine's lease, its
-- claims of executions, and the requests other engines leave for it.
--
-- An engine registers once (a row of stepflow.engines with an expiry on
-- the database's clock) and renews its lease every third of its length
-- (and with every group it commits: a group of an engine whose lease has
-- expired fails as a whole). It claims RUNNING executions that are new,
-- unowned, or owned by an engine whose lease expired, in batches, taking
-- each with a new epoch; every write carries the epoch, and a write of an
-- execution claimed since by another engine is not applied: the engine
-- drops that execution (it never runs ahead of the store). An engine that
-- finds its own lease expired drops everything it runs, registers anew
-- and claims again: replay rebuilds each execution from its events,
-- timers (Wait, retry intervals, timeouts) included. docs/STORE.md
-- ("PostgreSQL") gives the protocol and why each failure is safe.
--
-- What other engines ask of this one (stop requests, answers to its task
-- tokens, claims of its activity tasks) is read in one batch at once
-- when they notify it, and every 250 ms while it has work.
local pg = require("stepflow.core.pg")
local answers = require("stepflow.integrations.answers")

local M = {}

local clock_ms = pg.clock_ms

--- Lease length (ms): the engine option `lease_ms`, else the environment
-- variable STEPFLOW_LEASE_MS, else 10 s. An engine that dies is taken
-- over within about 1.25 lease lengths.
M.DEFAULT_MS = 10000

--- Executions claimed at most per claim (option `claim_batch`,
-- STEPFLOW_CLAIM_BATCH).
M.DEFAULT_BATCH = 200

--- Executions an engine runs at most (option `max_executions`,
-- STEPFLOW_MAX_EXECUTIONS; none by default): it claims no more while it
-- runs that many, which leaves the rest to the other engines.

local Lease = {}
Lease.__index = Lease
Lease.__name = "stepflow.Lease"

local function env_int(name)
  local v = tonumber(os.getenv(name) or "")
  return v and math.tointeger(v) or nil
end

--- The lease of the engine of Durability `d` (not started: see start).
function M.new(d, opts)
  local ms = opts.lease_ms or env_int("STEPFLOW_LEASE_MS") or M.DEFAULT_MS
  return setmetatable({
    d = d, store = d.store, engine = d.engine, loop = d.loop,
    ms = ms,
    batch = opts.claim_batch or env_int("STEPFLOW_CLAIM_BATCH") or M.DEFAULT_BATCH,
    max = opts.max_executions or env_int("STEPFLOW_MAX_EXECUTIONS") or math.huge,
    started = false, timer = false,
    renewing = false, renewed_at = 0,
    claiming = false, claimed_at = -math.huge, want_claim = false,
    stops_polling = false, want_stops = false, stops_at = -math.huge,
    -- how often the timer looks (real ms)
    tick_ms = math.max(20, math.min(250, ms // 8)),
    claims = 0, drops = 0, losses = 0,
  }, Lease)
end

--- Registers the engine and claims a first batch (blocking: before the
-- loop runs). Returns the number of executions it resumed, or nil,
-- message.
function Lease:start()
  local store = self.store
  local id, err = store:register(self.ms)
  if not id then return nil, err end
  self.started = true
  self.renewed_at = clock_ms()
  store:listen()
  local recs
  local limit = self:room()
  recs, err = store:claim(limit)
  if not recs then return nil, err end
  self.claimed_at = clock_ms()
  self.want_claim = #recs >= limit
  self:resume(recs)
  self:watch()
  return #recs
end

--- The engine's id (its row in stepflow.engines), or false.
function Lease:id()
  return self.store.owner
end

-- Runs the claimed executions.
function Lease:resume(recs)
  local engine = self.engine
  for _, rec in ipairs(recs) do
    if not engine.executions[rec.arn] then
      local ok, why = engine:_resume_record(rec, rec.events)
      if not ok then
        -- it stays RUNNING and owned here until this engine exits; the
        -- operator is told
        io.stderr:write("stepflow: cannot run ", rec.arn, ": ", tostring(why), "\n")
      end
    end
  end
  self.claims = self.claims + #recs
end

-- How many executions the next claim may take (the batch, within the
-- engine's maximum).
function Lease:room()
  if self.max == math.huge then return self.batch end
  local running = 0
  for _, exec in pairs(self.engine.executions) do
    if exec.durable and not exec.finished then running = running + 1 end
  end
  return math.max(0, math.min(self.batch, self.max - running))
end

function Lease:claim()
  self.want_claim = false
  local limit = self:room()
  if limit == 0 then
    self.claimed_at = clock_ms()
    return
  end
  self.claiming = true
  self.store:claim_async(limit, function(recs, err)
    self.claiming = false
    self.claimed_at = clock_ms()
    if not recs then
      error("stepflow: claiming executions failed: " .. tostring(err), 0)
    end
    -- a full batch: there may be more at once
    if #recs >= limit then self.want_claim = true end
    -- answers and claims may wait for what it took
    if #recs > 0 then self.want_stops = true end
    self:resume(recs)
    if self.want_claim then self:soon() end
  end)
end

function Lease:renew()
  self.renewing = true
  local asked = clock_ms()
  self.store:renew_async(function(ok, err)
    self.renewing = false
    if ok == nil then error("stepflow: renewing the lease failed: " .. tostring(err), 0) end
    if ok then
      self:renewed(asked)
    else
      self:lost()
    end
  end)
end

--- The lease's clock (real ms, monotonic).
Lease.clock = function() return clock_ms() end

--- A renewal sent at `at` (a group's commit) succeeded.
function Lease:renewed(at)
  if at > self.renewed_at then self.renewed_at = at end
end

--- Whether the lease renewed at `at` still holds with a margin: an
-- engine never starts work (a handler) on a lease that may have run out.
function Lease:fresh(at)
  return clock_ms() - at < self.ms * 0.8
end

--- Renews the lease now, then runs fn if it still held (if it had run
-- out, everything is dropped and fn never runs).
function Lease:confirm(fn)
  local asked = clock_ms()
  self.store:renew_async(function(ok, err)
    if ok == nil then error("stepflow: renewing the lease failed: " .. tostring(err), 0) end
    if ok then
      self:renewed(asked)
      fn()
    else
      self:lost()
    end
  end)
end

--- The lease has expired (a renewal or a group found it so): nothing
-- this engine runs is its own any more. Drops every execution, registers
-- anew and claims again.
function Lease:lost()
  self.losses = self.losses + 1
  local engine, store = self.engine, self.store
  io.stderr:write("stepflow: engine ", tostring(store.owner), " lost its lease; dropping its executions\n")
  local arns = {}
  for arn, exec in pairs(engine.executions) do
    if exec.durable then arns[#arns + 1] = arn end
  end
  for _, arn in ipairs(arns) do self.d:drop(arn) end
  store:forget()
  self.d:forget_waiters()
  engine.answers_seen, engine.stored_answers = nil, false
  local id, err = store:register(self.ms)
  if not id then error("stepflow: registering the engine again failed: " .. tostring(err), 0) end
  self.d.tasks:reset()
  self.renewed_at = clock_ms()
  self.want_claim = true
  self:soon()
end

-- Acts on what other engines asked of the executions this engine owns.
-- Stop requests: each is stopped (ABORTED with its error and cause) and
-- its request deleted in the same group; the request of an execution
-- that ended is deleted. Answers to task tokens (answers.apply_owned) and
-- claims of activity tasks (activities_shared).
function Lease:poll_stops()
  self.stops_polling = true
  self.want_stops = false
  self.store:owned_requests_async(function(list, answered, claims)
    self.stops_polling = false
    self.stops_at = clock_ms()
    if not list then error("stepflow: reading requests failed: " .. tostring(answered), 0) end
    if self.d.closed then return end
    local engine, store = self.engine, self.store
    for _, r in ipairs(list) do
      local exec = engine.executions[r.arn]
      if exec and not exec.finished then
        store:delete_stop_request(r.arn)
        engine:stop_execution(r.arn, r.error, r.cause)
      elseif r.status ~= "RUNNING" then
        store:delete_stop_request(r.arn)  -- it ended before the stop
      end
    end
    if #list > 0 then self.d:post_commit() end
    if #answered > 0 then answers.apply_owned(engine, answered) end
    if #claims > 0 then self.d.tasks:on_claims(claims) end
    if self.d.tasks.nclaims > 0 then self.d.tasks:tick(false) end
  end)
end

--- Reads the requests of other engines soon (a task resumed here may
-- have a claim or an answer waiting).
function Lease:want_requests()
  self.want_stops = true
  self:soon()
end

--- What is due: a renewal every third of the lease, a claim every
-- quarter (or at once when told of new executions), stop requests every
-- POLL (or at once when told). Real time, also under virtual time.
function Lease:tick()
  if not self.started or self.d.closed then return end
  local now = clock_ms()
  if not self.renewing and now - self.renewed_at >= self.ms // 3 then self:renew() end
  if not self.claiming and (self.want_claim or now - self.claimed_at >= self.ms // 4) then
    self:claim()
    self.d.tasks:tick(true)
  end
  if not self.stops_polling and (self.want_stops or now - self.stops_at >= 250) then
    self:poll_stops()
  end
end

--- Looks again on the next turn (a notification, a full claim).
function Lease:soon()
  if self.soon_posted then return end
  self.soon_posted = true
  self.loop:call(function()
    self.soon_posted = false
    self:tick()
  end)
end

--- A notification from another engine (NOTIFY stepflow): "new"
-- executions to claim, a "stop" request; "answer ID" (an answer to a
-- token) and "claimed ID" (a claim of an activity task) for engine ID;
-- "activity ARN" (tasks queued), "started ID" and "lost ID" for the
-- pollers of activity tasks (activities_shared).
function Lease:notified(payload)
  if payload == "new" then self.want_claim = true
  elseif payload == "stop" then self.want_stops = true
  else
    local what, rest = payload:match("^(%a+) (.*)$")
    if what == "activity" then
      return self.d.tasks:notified(what, rest)
    elseif tonumber(rest) ~= self.store.owner then
      return
    elseif what == "answer" or what == "claimed" then
      self.want_stops = true
    else
      return self.d.tasks:notified(what)
    end
  end
  self:soon()
end

--- Keeps the timer of tick() armed while the loop has other work, or
-- always when the engine waits for work (`watch`).
function Lease:watch()
  if self.timer or self.d.closed or not self.started then return end
  local loop = self.loop
  self.timer = loop:timer(self.tick_ms, function()
    self.timer = false
    if self.d.closed then return end
    self:tick()
    if loop:pending() > 0 or self.d.watch then self:watch() end
  end)
end

function Lease:close()
  if self.timer then
    self.timer:cancel()
    self.timer = false
  end
  self.started = false
end

return M
