--- The PostgreSQL store's leases (docs/STORE.md, "PostgreSQL"): methods
-- added to the store of stepflow.store_pg for stepflow.lease: an engine
-- registers with a lease and renews it, claims executions (new, unowned,
-- or of an engine whose lease expired) with their histories, reads the
-- stop requests it acts on, listens for the engines' notifications, and
-- stops executions that no engine runs.
local tointeger, concat = math.tointeger, table.concat

local M = {}

--- Adds the methods to the Store class. `h`: the store module's helpers
-- read(self, stmt) (rows, inside the open group), run(self, batch)
-- (results, blocking), failed(self, err, kind), first_error(results),
-- exec_rec(self, row) (record, key), events_of(datas) and stop_rec(row).
function M.install(Store, h)
  local read, run, failed, first_error = h.read, h.run, h.failed, h.first_error
  local exec_rec, events_of, stop_rec = h.exec_rec, h.events_of, h.stop_rec

  --- Registers this process as an engine with a lease of `lease_ms`: its
  -- new executions are its own, its groups renew the lease (and fail once
  -- it has expired). Returns the engine id, or nil, message, kind.
  function Store:register(lease_ms)
    local rows, err, kind = read(self, { "next_id" })
    if not rows then return nil, err, kind end
    local id = tointeger(rows[1][1])
    local host = os.getenv("HOSTNAME")
    local pid = 0
    local fh = io.open("/proc/self/stat", "r")  -- the process that opens it
    if fh then
      pid = tointeger(tonumber((fh:read("l") or ""):match("^(%d+)") or 0))
      fh:close()
    end
    local results
    results, err, kind = run(self, { { "register", id, pid, host, lease_ms, n = 4 } })
    if not results then return nil, err, kind end
    if results[1].error then return failed(self, results[1].error, "error") end
    self.owner, self.lease_ms = id, lease_ms
    return id
  end

  --- Forgets every cached fence and key (after this engine lost its lease:
  -- nothing it knew about ownership holds).
  function Store:forget()
    self._keys, self._epoch, self._last, self._arn_of = {}, {}, {}, {}
    self._ops, self._events, self._dirty, self._creates, self._lost = {}, {}, {}, {}, {}
    self._pending, self._txn = 0, false
    if self._open_txn then
      -- its writes go nowhere (a failure breaks the connection: reported next)
      self._open_txn = false
      run(self, { { "rollback" } })
    end
  end

  --- Renews the lease on the loop: done(true) or done(false) when it had
  -- expired, done(nil, message) on a failure.
  function Store:renew_async(done)
    self:submit({ { "renew", self.owner, self.lease_ms } }, function(results, err)
      if not results then return done(nil, err) end
      if results[1].error then return done(nil, results[1].error) end
      done(results[1].n == 1)
    end)
  end

  -- Runs a batch on the loop, or at once (blocking) when `sync`:
  -- done(results) or done(nil, message).
  local function call(self, sync, batch, done)
    if sync then
      local results, err = run(self, batch)
      return done(results, err)
    end
    self:submit(batch, done)
  end

  --- Claims up to `limit` executions on the loop (new, unowned, or of an
  -- engine whose lease expired) and reads their histories:
  -- done(records with .events) or done(nil, message).
  function Store:claim_async(limit, done)
    self:_claim(false, limit, done)
  end

  --- The same, blocking (when the engine starts): records, or nil, message.
  function Store:claim(limit)
    local out, err
    self:_claim(true, limit, function(recs, e) out, err = recs, e end)
    return out, err
  end

  function Store:_claim(sync, limit, done)
    call(self, sync, { { "begin" }, { "claim", self.owner, limit }, { "reap" }, { "reap_tasks" },
      { "reap_answers" }, { "commit" } },
      function(results, err)
      if not results then return done(nil, err) end
      local bad = first_error(results)
      if bad then return done(nil, bad.error) end
      local rows, recs, keys = results[2].rows, {}, {}
      for i = 1, #rows do
        local r = rows[i]
        local rec, key = exec_rec(self, r)
        -- a claim replaces whatever this engine knew of it
        self._keys[rec.arn] = key
        self._epoch[key] = tointeger(r[14])
        self._arn_of[key] = rec.arn
        recs[i], keys[i] = rec, key
      end
      if #keys == 0 then return done(recs) end
      call(self, sync, { { "hist_many", "{" .. concat(keys, ",") .. "}" } }, function(hres, herr)
        if not hres then return done(nil, herr) end
        if hres[1].error then return done(nil, hres[1].error) end
        local datas = {}
        for _, r in ipairs(hres[1].rows) do
          local k = tointeger(r[1])
          local d = datas[k]
          if not d then d = {}; datas[k] = d end
          d[#d + 1] = r[2]
        end
        for i = 1, #keys do
          local events, perr = events_of(datas[keys[i]] or {})
          if not events then return done(nil, perr) end
          recs[i].events = events
          self._last[keys[i]] = #events > 0 and events[#events].id or 0
        end
        done(recs)
      end)
    end)
  end

  --- The stop requests this engine acts on, on the loop: those of the
  -- executions it owns and of ended ones. done(list) or done(nil, message).
  function Store:owned_stops_async(done)
    self:submit({ { "owned_stops", self.owner } }, function(results, err)
      if not results then return done(nil, err) end
      if results[1].error then return done(nil, results[1].error) end
      local rows = results[1].rows
      for i = 1, #rows do rows[i] = stop_rec(rows[i]) end
      done(rows)
    end)
  end

  --- Listens for the engines' notifications (new executions, stops).
  function Store:listen()
    self._listening = true
    self:submit({ { "listen" } }, function() end)
  end

  --- Stops an execution that no engine runs: claims it (if it is unowned
  -- or its owner's lease expired), records its end, and commits. Returns
  -- true, false when an engine owns it (ask it with a stop request), or
  -- nil, message.
  function Store:abort_unowned(arn, last_id, now, err_name, cause, details)
    local rows, err, kind = read(self, { "take", arn, self.owner or nil, n = 2 })
    if not rows then return nil, err, kind end
    if not rows[1] then
      self:commit()
      return false
    end
    local key = tointeger(rows[1][1])
    self._keys[arn], self._arn_of[key] = key, arn
    self._epoch[key] = tointeger(rows[1][2])
    self._last[key] = nil
    local ok
    ok, err, kind = self:append(arn, last_id + 1, last_id, now, "ExecutionAborted", details)
    if ok then ok, err, kind = self:finish_execution(arn, "ABORTED", nil, err_name, cause, now) end
    if ok then ok, err, kind = self:commit() end
    if not ok then return nil, err, kind end
    return true
  end
end

return M
