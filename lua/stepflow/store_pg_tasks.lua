--- The PostgreSQL store's side of task tokens and activity tasks across
-- engines (docs/STORE.md, "Task tokens and activity tasks"): methods added
-- to the store of stepflow.store_pg, used by stepflow.integrations.answers
-- and stepflow.integrations.activities_shared. Writes of an owner join its
-- group and are fenced like its events (applied only while it still owns
-- the execution with the epoch it claimed); the other calls are batches on
-- the loop (`_async`, done(...) runs when the answer arrives) or, where the
-- API needs an answer at once, synchronous.
local tointeger = math.tointeger

local M = {}

--- Adds the methods to the Store class. `h`: the store module's helpers
-- read(self, stmt) (rows, inside the open group), add_op(self, stmt) (a
-- write of the open group) and stop_rec(row).
function M.install(Store, h)
  local read, add_op, stop_rec = h.read, h.add_op, h.stop_rec

  --- The fence of execution `arn` if this engine runs it: its key, this
  -- engine's id and the epoch it claimed; nil otherwise.
  function Store:fence_of(arn)
    local key = self._keys[arn]
    local epoch = key and self._epoch[key]
    if not (epoch and self.owner) then return nil end
    return key, self.owner, epoch
  end

  -- A batch of one statement on the loop: done(rows, n) or done(nil, message).
  local function one(self, stmt, done)
    self:submit({ stmt }, function(results, err)
      if not results then return done(nil, err) end
      local r = results[1]
      if r.error then return done(nil, r.error) end
      done(r.rows, r.n)
    end)
  end

  ---------------------------------------------------------------- answers

  --- Leaves an answer (JSON text) for the owner of execution `arn`
  -- (notified at commit). Synchronous; it joins the open group if there
  -- is one. Returns its number, false when `final` and a success or
  -- failure already waits for this token, or nil, message.
  function Store:put_task_answer(arn, token, text, final)
    local key, err, kind = self:_key_of(arn)
    if not key then return nil, err, kind end
    local rows
    rows, err, kind = read(self, { "put_answer", token, key, text, final })
    if not rows then return nil, err, kind end
    self._pending = self._pending + 1
    return rows[1] and tointeger(rows[1][1]) or false
  end

  --- Whether answer `seq` still waits for its owner (synchronous).
  function Store:answer_waits(seq)
    local rows, err, kind = read(self, { "answer_waits", seq })
    if not rows then return nil, err, kind end
    return rows[1] ~= nil
  end

  --- Deletes an applied answer in the open group (fenced: kept for the
  -- next owner when this engine has lost the execution).
  function Store:delete_task_answer(arn, seq)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return false end
    return add_op(self, { "del_answer", seq, key, owner, epoch })
  end

  --- What other engines ask of this one, read in one batch: its stop
  -- requests (as owned_stops_async), the answers for its executions'
  -- tokens ({seq, token, answer, arn}) and the claims of its activity
  -- tasks ({seq, token, state, poller, worker, arn, alive}).
  -- done(stops, answers, claims) or done(nil, message).
  function Store:owned_requests_async(done)
    local me = self.owner
    self:submit({ { "owned_stops", me }, { "owned_answers", me }, { "act_claims", me } }, function(results, err)
      if not results then return done(nil, err) end
      for i = 1, 3 do
        if results[i].error then return done(nil, results[i].error) end
      end
      local stops, answers, claims = results[1].rows, results[2].rows, results[3].rows
      for i = 1, #stops do stops[i] = stop_rec(stops[i]) end
      for i, r in ipairs(answers) do
        answers[i] = { seq = tointeger(r[1]), token = r[2], answer = r[3], arn = r[4] }
      end
      for i, r in ipairs(claims) do
        claims[i] = { seq = tointeger(r[1]), token = r[2], state = r[3], poller = tointeger(r[4]),
          worker = r[5], arn = r[6], alive = r[7] == "t" }
      end
      done(stops, answers, claims)
    end)
  end

  ---------------------------------------------------------------- activity tasks: the owner

  --- Queues an activity task for the workers of every engine, in the
  -- open group (fenced); pollers of `activity` are told at commit.
  function Store:queue_activity_task(arn, activity, token, input)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return false end
    add_op(self, { "act_put", activity, token, key, input, owner, epoch })
    return add_op(self, { "notify", "activity " .. activity })
  end

  --- Deletes the task of `token` (it ended before a worker had it), in
  -- the open group (fenced).
  function Store:delete_activity_task(arn, token)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return false end
    return add_op(self, { "act_delete", token, key, owner, epoch })
  end

  --- Marks task `seq` started (its ActivityStarted is in the same open
  -- group; fenced): its poller is told at commit.
  function Store:started_activity_task(arn, seq)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return false end
    return add_op(self, { "act_started", seq, key, owner, epoch })
  end

  --- Accepts the claim of `poller` on task `seq`: done(true) when it did
  -- (the poller can no longer give it back), done(false) when the claim
  -- is gone or in use, done(nil, message).
  function Store:accept_claim_async(arn, seq, poller, done)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return done(false) end
    one(self, { "act_accept", seq, poller, key, owner, epoch }, function(rows, n)
      if not rows then return done(nil, n) end
      done(n == 1)
    end)
  end

  --- Gives the claim of a dead poller back to the queue: done(true|false)
  -- or done(nil, message).
  function Store:requeue_claim_async(arn, seq, poller, done)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return done(false) end
    one(self, { "act_requeue", seq, poller, key, owner, epoch }, function(rows, err)
      if not rows then return done(nil, err) end
      done(rows[1] ~= nil)
    end)
  end

  ---------------------------------------------------------------- activity tasks: the poller

  --- Claims the oldest queued tasks of `activity`, one per worker name
  -- of `workers` (in that order): done(list) where list[i] is
  -- {seq =, state =, token =} or false, or done(nil, message).
  function Store:claim_activity_tasks_async(activity, workers, done)
    local batch = {}
    for i, w in ipairs(workers) do batch[i] = { "act_claim", activity, self.owner, w } end
    self:submit(batch, function(results, err)
      if not results then return done(nil, err) end
      local out = {}
      for i = 1, #workers do
        local r = results[i]
        if r.error then return done(nil, r.error) end
        local row = r.rows[1]
        out[i] = row and { seq = tointeger(row[1]), state = row[2], token = row[3] } or false
      end
      done(out)
    end)
  end

  --- Claims the oldest queued task of `activity` among this engine's own
  -- executions, at once (synchronous): {seq =, token =}, false when none
  -- waits, or nil, message.
  function Store:claim_own_activity_task(activity, worker)
    local rows, err, kind = read(self, { "act_claim_own", activity, self.owner, worker })
    if not rows then return nil, err, kind end
    self._pending = self._pending + 1  -- (the claim commits with the group)
    local r = rows[1]
    return r and { seq = tointeger(r[1]), token = r[2] } or false
  end

  --- Deletes task `seq` handed out by claim_own_activity_task, in the
  -- group of its ActivityStarted (fenced).
  function Store:taken_activity_task(arn, seq)
    local key, owner, epoch = self:fence_of(arn)
    if not key then return false end
    return add_op(self, { "act_taken", seq, key, owner, epoch })
  end

  --- Takes this poller's tasks whose ActivityStarted is committed (their
  -- rows go): done({{seq =, token =, input =}...}) or done(nil, message).
  function Store:pickup_async(done)
    one(self, { "act_pickup", self.owner }, function(rows, err)
      if not rows then return done(nil, err) end
      for i, r in ipairs(rows) do rows[i] = { seq = tointeger(r[1]), token = r[2], input = r[3] } end
      done(rows)
    end)
  end

  --- Gives back a claim its owner has not accepted: done(true) when it
  -- did, done(false) when the owner has accepted it (or it is gone, or
  -- in use), or done(nil, message).
  function Store:release_claim_async(seq, done)
    one(self, { "act_release", seq, self.owner }, function(rows, err)
      if not rows then return done(nil, err) end
      done(rows[1] ~= nil)
    end)
  end

  --- The state of each task this poller has claimed: done(seq -> state)
  -- or done(nil, message); a claim missing has ended.
  function Store:my_claims_async(done)
    one(self, { "act_mine", self.owner }, function(rows, err)
      if not rows then return done(nil, err) end
      local out = {}
      for _, r in ipairs(rows) do out[tointeger(r[1])] = r[2] end
      done(out)
    end)
  end
end

return M
