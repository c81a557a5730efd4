--- Durable STANDARD executions: the engine's side of the store.
--
-- A Durability object belongs to an engine that has a store. Events are
-- appended to the store as the interpreter makes them and committed in
-- groups, one commit per loop turn: the first event of a turn queues a
-- commit on the loop's ready queue, so it runs after everything that turn
-- did. Work that must wait until its events are durable (a Task handler
-- after its TaskScheduled) waits for that commit. Commits also read what
-- other processes asked for: stops, and new executions.
--
-- On a shared (PostgreSQL) store, a commit is sent without waiting and
-- completes on a later turn (the loop watches the connection), one in
-- flight at a time; its lease (stepflow.lease) claims executions and
-- reads other engines' requests, and an execution whose writes the store
-- refused (claimed by another engine) is dropped.
local json = require("stepflow.json")
local replay = require("stepflow.replay")

local M = {}

local encode = json.encode

-- A store that refuses a write stops the engine (in-memory state must
-- never run ahead of the store): the error raised is this value, which
-- the interpreter passes on instead of failing one execution with it.
local StoreFailure = { __name = "stepflow.StoreFailure" }
StoreFailure.__tostring = function(e) return e.message end

--- Raises a store failure with `message`.
local function store_failure(message)
  error(setmetatable({ message = message }, StoreFailure), 0)
end
M.store_failure = store_failure

--- Tells whether an error value is a store failure.
function M.is_store_failure(e)
  return getmetatable(e) == StoreFailure
end

local Durability = {}
Durability.__index = Durability
Durability.__name = "stepflow.Durability"

-- How often requests from other processes (stops, new executions) are
-- read, in ms of the engine's clock.
local POLL_MS = 250

--- Makes the durability of `engine` on an opened `store`. opts:
--   client      this engine only records executions (another runs them)
--   accept_new  also run RUNNING executions that clients add
function M.new(engine, store, opts)
  local self = setmetatable({
    engine = engine, store = store, loop = engine.loop,
    client = opts.client and true or false,
    accept_new = opts.accept_new and true or false,
    watch = false,            -- keep the loop alive waiting for work
    after_commit = {},
    commit_posted = false,
    -- Once per group, the posted commit first lets what was queued behind
    -- it run (it goes to the back of the next turn's queue): a new
    -- execution's start then shares one synced commit with its first
    -- states, instead of having one of its own.
    commit_deferred = false,
    requests_polled = -math.huge,
    requests_timer = false,
    seen_seq = 0,             -- executions up to this store number were looked at
  }, Durability)
  if store.shared then
    -- several engines share the store: leases, claims, fencing
    self.shared = true
    self.committing = false   -- a commit is in flight
    self.commit_again = false
    self.lease = require("stepflow.lease").new(self, opts)
    -- activity tasks for the workers of every engine
    self.tasks = require("stepflow.integrations.activities_shared").new(engine, self)
    engine.activities = self.tasks
    store:attach(engine.loop, function(payload) self.lease:notified(payload) end)
  end
  self.commit_fn = function()
    if not self.commit_deferred then
      self.commit_deferred = true
      self.loop:call(self.commit_fn)
      return
    end
    self.commit_deferred = false
    self:commit()
  end
  return self
end

function Durability:post_commit()
  if not self.commit_posted then
    self.commit_posted = true
    self.loop:call(self.commit_fn)
  end
end

--- Commits the open group and runs what waited for it. A failed commit
-- stops the engine: in-memory state must never run ahead of the store.
function Durability:commit()
  self.commit_posted = false
  if self.shared then return self:commit_shared() end
  if self.loop:now() - self.requests_polled >= POLL_MS then self:poll_requests() end
  local store = self.store
  if store:pending() > 0 then
    local ok, err = store:commit()
    if not ok then
      store_failure("stepflow: the store could not commit (" .. tostring(err) ..
        "); stopping so that nothing runs ahead of it. Restart to recover.")
    end
  end
  local waiting = self.after_commit
  if #waiting > 0 then
    self.after_commit = {}
    for i = 1, #waiting, 2 do waiting[i]() end
  end
end

--- The commit on a shared store: sent now, completed on a later turn;
-- what waited for it runs then, unless its execution was dropped. One
-- commit is in flight at a time (groups commit in order).
function Durability:commit_shared()
  if self.committing then
    self.commit_again = true
    return
  end
  local waiting = self.after_commit
  self.after_commit = {}
  self.committing = true
  local lease = self.lease
  local sent = lease:clock()
  self.store:commit_async(function(ok, lost, kind)
    self.committing = false
    if not ok then
      if kind == "lease" then return lease:lost() end
      error("stepflow: the store could not commit (" .. tostring(lost) ..
        "); stopping so that nothing runs ahead of it. Restart to recover.", 0)
    end
    -- the group renewed the lease when it was sent
    lease:renewed(sent)
    for arn in pairs(lost) do self:drop(arn) end
    -- An answer read long after it was sent (the process was paused):
    -- the lease may have run out meanwhile, and another engine may run
    -- these executions. Nothing waiting (a handler) starts before the
    -- lease is confirmed; the lease is looked at before each one (a pause
    -- may come in the middle of them).
    local release
    release = function(from, since)
      for i = from, #waiting, 2 do
        if not lease:fresh(since) then
          local asked = lease:clock()
          return lease:confirm(function() release(i, asked) end)
        end
        local exec = waiting[i + 1]
        if not (exec and exec.lost) then waiting[i]() end
      end
    end
    release(1, sent)
    if self.commit_again or self.store:pending() > 0 or #self.after_commit > 0 then
      self.commit_again = false
      self:post_commit()
    end
  end)
end

--- Drops an execution whose writes the shared store refused (another
-- engine claimed it: "fenced"; its name was taken meanwhile: "exists"),
-- or every one after this engine lost its lease: it stops here
-- without recording anything more; its owner goes on from the store.
function Durability:drop(arn)
  local engine = self.engine
  local exec = engine.executions[arn]
  if not exec then return end
  if exec.finished then
    -- it ended here, but that end was refused: the store's record (its
    -- owner's) is the execution now
    exec.lost = true
    engine.executions[arn] = nil
  else
    engine:_drop_execution(exec)
  end
  if self.lease then self.lease.drops = self.lease.drops + 1 end
end

--- Forgets what waited for commits (after a lease loss: their executions
-- are dropped).
function Durability:forget_waiters()
  self.after_commit = {}
end

--- Stops an execution this engine does not run, on a shared store: one
-- that no engine runs is taken and aborted here; one that another engine
-- owns gets a stop request, which that engine acts on. Returns true and
-- "stopped" or "requested", or nil and a message.
function Durability:stop_elsewhere(arn, err, cause)
  local store = self.store
  local rec, rerr = store:get_execution(arn)
  if not rec then return nil, rerr or ("ExecutionDoesNotExist: " .. tostring(arn)) end
  if rec.status ~= "RUNNING" then return nil, "execution is not running (" .. rec.status .. ")" end
  local events = store:history(arn, { reverse = true, limit = 1 })
  local last = events and events[1] and events[1].id or 0
  local ok
  ok, rerr = store:abort_unowned(arn, last, self.loop:now(), err, cause,
    encode({ d = { error = err, cause = cause } }))
  if ok == nil then return nil, rerr end
  if ok then return true, "stopped" end
  ok, rerr = store:request_stop(arn, err, cause)
  if ok then ok, rerr = store:commit() end
  if not ok then return nil, rerr end
  return true, "requested"
end

--- Acts on what other processes left in the store while this engine
-- runs it. Stop requests (store.request_stop, `stepflow stop`): stops
-- each execution, ABORTED with the request's error and cause (one this
-- engine does not run is aborted in the store), and deletes the request,
-- in the current group; a request for an execution that is not running is
-- dropped. Answers to task tokens (`stepflow send-task-success --store`,
-- stepflow.integrations.answers). With `accept_new`: runs the RUNNING
-- executions that clients added (`stepflow start` while this engine
-- runs).
function Durability:poll_requests()
  local store, engine = self.store, self.engine
  if self.client then return end
  if self.shared then return self.lease:tick() end
  self.requests_polled = self.loop:now()
  local list, err = store:stop_requests()
  if not list then store_failure("stepflow: reading stop requests failed: " .. tostring(err)) end
  for _, r in ipairs(list) do
    local ok, derr = store:delete_stop_request(r.arn)
    if not ok then store_failure("stepflow: store write failed: " .. tostring(derr)) end
    engine:stop_execution(r.arn, r.error, r.cause)
  end
  if #list > 0 then self:post_commit() end
  -- answers to task tokens (stepflow send-task-success --store)
  require("stepflow.integrations.answers").load(engine)
  if self.accept_new then
    local recs
    recs, err = store:running_after(self.seen_seq)
    if not recs then store_failure("stepflow: reading new executions failed: " .. tostring(err)) end
    for _, rec in ipairs(recs) do
      if rec.seq > self.seen_seq then self.seen_seq = rec.seq end
      if not engine.executions[rec.arn] then
        local events, why = store:history(rec.arn)
        local ok = false
        if events then ok, why = engine:_resume_record(rec, events) end
        if not ok then
          -- nobody to return it to: the execution stays RUNNING in the
          -- store, and the operator is told
          io.stderr:write("stepflow: cannot run ", rec.arn, ": ", tostring(why), "\n")
        end
      end
    end
  end
end

--- While the loop has other work, reads stop requests (and new
-- executions) every POLL_MS of real time (commits read them too). It never
-- keeps the loop alive by itself, unless `watch` (a service that waits for
-- work), and virtual time goes without it (its clock jumps).
function Durability:watch_requests()
  local loop = self.loop
  if self.shared then return self.lease:watch() end
  if self.requests_timer or self.closed or loop:is_virtual() then return end
  self.requests_timer = loop:timer(POLL_MS, function()
    self.requests_timer = false
    if self.closed then return end
    self:poll_requests()
    if loop:pending() > 0 or self.watch then self:watch_requests() end
  end)
end

--- Runs fn once everything recorded so far is committed; on a shared
-- store, never when execution `exec` was dropped meanwhile.
function Durability:when_durable(fn, exec)
  local w = self.after_commit
  local n = #w
  w[n + 1], w[n + 2] = fn, exec or false
  self:post_commit()
end

--- Records a new execution with its input text. Returns true, or nil and
-- "ExecutionAlreadyExists" or a store message.
function Durability:create_execution(exec, input_text)
  local sm = exec.machine
  local store = self.store
  local ok, err = store:create_execution({ arn = exec.arn, sm_arn = sm.arn, name = exec.name,
    input = input_text, status = "RUNNING", started = exec.start_ms, revision = sm.revision,
    version_arn = exec.version_arn, alias_arn = exec.alias_arn })
  -- an execution no engine owns yet: the engines claim it at once
  if ok and self.shared and not store.owner then store:notify("new") end
  return ok, err
end

--- Records an execution's end in the store (in the open group).
function Durability:finish_execution(exec, status, output)
  local ok, err = self.store:finish_execution(exec.arn, status,
    status == "SUCCEEDED" and encode(output) or nil, exec.error, exec.cause, exec.stop_ms)
  if not ok and err ~= "ExecutionNotRunning" then
    store_failure("stepflow: store finish failed: " .. tostring(err))
  end
end

--- Commits what is pending and closes the store.
function Durability:close()
  if self.closed then return end
  if self.requests_timer then
    self.requests_timer:cancel()
    self.requests_timer = false
  end
  if self.shared then
    -- waits for the commit in flight, commits the rest, hands the
    -- executions still running over to the other engines
    self.lease:close()
    self.closed = true
    local ok, err = self.store:close()
    if not ok then error("stepflow: the store could not commit (" .. tostring(err) .. ")", 0) end
    return
  end
  self:commit()
  self.closed = true
  self.store:close()
end

-- Event records are encoded with keys in table order: nothing compares
-- their text, and sorting costs. One record table, refilled per event.
local encode_unsorted = json.encoder({ sort = false })
local record = {}
local NO_DETAILS = {}

--- The sink of a durable execution: appends each event to the store as
-- {"d": AWS details, "f": frame key, "x": extras}.
function M.sink(exec, id, prev, ts, etype, details, fkey, x)
  if exec.lost then return end  -- dropped: its owner records it now
  local d = exec.engine.durability
  exec.last_output = false
  record.d, record.f, record.x = details or NO_DETAILS, fkey, x
  local text = encode_unsorted(record)
  record.d, record.x = nil, nil
  local ok, err = d.store:append(exec.arn, id, prev, ts, etype, text)
  if not ok then store_failure("stepflow: store append failed: " .. tostring(err)) end
  d:post_commit()
end

-- The JSON of the last frame key seen: consecutive events mostly share it.
local last_fkey, last_fkey_json = "", '""'

--- The durable sink of state entered/exited events (execution.lua's
-- record_state): the same record as `sink` makes from
-- {name =, input|output =, assignedVariables =} and {next =}, written
-- around one encoding of the payload. An exited state's output is most
-- often the next state's input, the same table, with no code run in
-- between (values are never changed in place, and the driver clears
-- `exec.last_output` before it lets other frames run): its text is reused.
function M.state_sink(exec, id, prev, ts, etype, st, field, value, vars, frame, nxt)
  if exec.lost then return end
  local nj = st.name_json
  if not nj then
    nj = encode(st.name)
    st.name_json = nj
  end
  local fkey = frame.key
  local fj = last_fkey_json
  if fkey ~= last_fkey then
    fj = encode(fkey)
    last_fkey, last_fkey_json = fkey, fj
  end
  local vj
  local last = exec.last_output
  if last and last == value and exec.last_output_frame == frame then
    vj = exec.last_output_text
  elseif value ~= nil then
    vj = encode_unsorted(value)
  end
  local text
  if field == "input" then
    exec.last_output = false
    text = '{"d":{"name":' .. nj .. (vj and (',"input":' .. vj) or "") .. '},"f":' .. fj .. '}'
  else
    if type(value) == "table" then
      exec.last_output, exec.last_output_frame, exec.last_output_text = value, frame, vj
    else
      exec.last_output = false
    end
    local nx = nxt and nxt.name_json
    if nxt and not nx then
      nx = encode(nxt.name)
      nxt.name_json = nx
    end
    text = '{"d":{"name":' .. nj .. (vj and (',"output":' .. vj) or "")
      .. (vars and (',"assignedVariables":' .. encode_unsorted(vars)) or "") .. '},"f":' .. fj
      .. (nx and (',"x":{"next":' .. nx .. '}}') or '}')
  end
  local d = exec.engine.durability
  local ok, err = d.store:append(exec.arn, id, prev, ts, etype, text)
  if not ok then store_failure("stepflow: store append failed: " .. tostring(err)) end
  d:post_commit()
end

--- Decodes a stored event into the form the replay index uses.
function M.decode_event(e)
  local rec = json.decode(e.details)
  return {
    id = e.id, previousEventId = e.previousEventId, timestamp = e.timestamp, type = e.type,
    d = rec.d, f = rec.f, x = rec.x,
  }
end

--- The replay state of an execution rebuilt from its stored events:
-- the replay index and the last event id.
function M.replay_of(events)
  local decoded = {}
  local last = 0
  for i, e in ipairs(events) do
    decoded[i] = M.decode_event(e)
    if e.id > last then last = e.id end
  end
  return replay.index(decoded), last
end

return M
