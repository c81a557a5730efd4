--- The server's activities: their records (name, creation date,
-- encryption configuration, tags), kept in the engine's store (resources
-- "activity") so that they survive a restart, and the workers parked on
-- GetActivityTask's long poll.
--
-- A parked poll costs a table, two closures and a timer of the loop: a
-- server holds thousands of them. It ends when a task is handed to it (the
-- answer goes once the task's ActivityStarted is committed), when its
-- time is up (the empty answer `{}`, as AWS gives after 60 s), or when
-- the server shuts down (the empty answer too). A worker whose connection
-- closed while it waited gives up its place: the engine's queue asks
-- whether it is still there before it hands it a task.
--
-- On a shared (PostgreSQL) store, the records are read from the database
-- (another server may create or delete them), and a poll gets the tasks
-- of every engine's executions (stepflow.integrations.activities_shared):
-- a poll whose time is up while its worker holds a claim the owner has
-- accepted ends with that task, a moment later.
local json = require("stepflow.json")

local M = {}

--- How long GetActivityTask waits for a task (AWS: 60 s).
M.POLL_TIMEOUT_MS = 60000

local KIND = "activity"
local FIELDS = { "name", "creationDate", "encryptionConfiguration", "tags" }

local Activities = {}
Activities.__index = Activities
Activities.__name = "stepflow.server.Activities"

local function pick(rec)
  local out = {}
  for _, k in ipairs(FIELDS) do out[k] = rec[k] end
  return out
end

local function record_of(arn, data)
  local rec = json.decode(data)
  rec.arn = arn
  return rec
end

--- The activities of `engine`'s store. opts: poll_timeout (ms a
-- GetActivityTask waits at most; default POLL_TIMEOUT_MS). Returns the
-- registry, or nil, message.
function M.new(engine, opts)
  local poll_ms = opts and opts.poll_timeout or M.POLL_TIMEOUT_MS
  if math.type(poll_ms) ~= "integer" or poll_ms < 0 then
    error("stepflow.server: poll_timeout must be an integer >= 0 (ms)", 3)
  end
  local self = setmetatable({ engine = engine, store = engine.store, by_arn = {}, order = {},
    poll_ms = poll_ms, parked = {}, nparked = 0 }, Activities)
  local list, err = self.store:resources(KIND)
  if not list then return nil, err end
  for _, r in ipairs(list) do
    self.by_arn[r.arn] = record_of(r.arn, r.data)
    self.order[#self.order + 1] = r.arn
  end
  return self
end

--- The activity record with this ARN, or nil.
function Activities:get(arn)
  if self.store.shared then
    local data, err = self.store:get_resource(KIND, arn)
    if data == nil and err then error("stepflow.server: store: " .. tostring(err), 0) end
    return data and record_of(arn, data) or nil
  end
  return self.by_arn[arn]
end

--- Activity records, oldest first.
function Activities:list()
  local out = {}
  if self.store.shared then
    local list, err = self.store:resources(KIND)
    if not list then error("stepflow.server: store: " .. tostring(err), 0) end
    for i, r in ipairs(list) do out[i] = record_of(r.arn, r.data) end
    return out
  end
  for _, arn in ipairs(self.order) do out[#out + 1] = self.by_arn[arn] end
  return out
end

local function save(self, rec)
  local ok, err = self.store:put_resource(KIND, rec.arn, json.encode(pick(rec)))
  if not ok then error("stepflow.server: store: " .. tostring(err), 0) end
end

--- Creates the activity `arn` from `p` ({name, encryptionConfiguration,
-- tags}). Returns the record.
function Activities:create(arn, p)
  local rec = { arn = arn, name = p.name, creationDate = self.engine.loop:now(),
    encryptionConfiguration = p.encryptionConfiguration, tags = p.tags }
  save(self, rec)
  self.by_arn[arn] = rec
  self.order[#self.order + 1] = arn
  return rec
end

--- Replaces an activity's tags (a TagList; TagResource, UntagResource).
function Activities:set_tags(rec, tags)
  rec.tags = tags
  save(self, rec)
end

--- Deletes an activity record (tasks already scheduled for it still wait
-- for a worker, as on AWS).
function Activities:delete(rec)
  self.by_arn[rec.arn] = nil
  for i, arn in ipairs(self.order) do
    if arn == rec.arn then
      table.remove(self.order, i)
      break
    end
  end
  local ok, err = self.store:delete_resource(KIND, rec.arn)
  if ok == nil then error("stepflow.server: store: " .. tostring(err), 0) end
end

local EMPTY = {}

-- Ends a parked poll: its timer and its place in the engine's queue go.
-- true when it is to be answered `{}` now; false when it had ended, or
-- when its answer comes through its `deliver` (a shared store: see above).
local function unpark(self, p)
  if not self.parked[p] then return false end
  self.parked[p] = nil
  self.nparked = self.nparked - 1
  if p.timer then p.timer:cancel() end
  return p.give_up() ~= false
end

--- GetActivityTask: answers `call` (a server call) with the oldest task
-- of activity `arn` for `worker`, now or once one is scheduled, or with
-- `{}` when the poll's time is up. Returns what the operation returns.
function Activities:poll(call, arn, worker)
  local engine = self.engine
  local p = { give_up = false, timer = false }
  local delivered = false
  local function deliver(task)
    delivered = true
    if self.parked[p] then
      self.parked[p] = nil
      self.nparked = self.nparked - 1
      p.timer:cancel()
    end
    -- (no task: a poll given up that could not end at once)
    if task == nil then return call:reply(EMPTY) end
    -- the worker learns of the task once its ActivityStarted is durable:
    -- after a crash, a task it was told of is not handed out again
    engine:after_commit(function() call:reply(task) end)
  end
  p.give_up = engine:wait_activity_task(arn, worker, deliver, function() return call:is_open() end)
  if delivered then return call:later() end
  if self.poll_ms == 0 then
    if p.give_up() == false then return call:later() end
    return EMPTY
  end
  self.parked[p] = true
  self.nparked = self.nparked + 1
  p.timer = engine.loop:timer(self.poll_ms, function()
    p.timer = false
    if unpark(self, p) then call:reply(EMPTY) end
  end)
  p.call = call
  return call:later()
end

--- Number of GetActivityTask polls parked.
function Activities:parked_polls()
  return self.nparked
end

--- Ends every parked poll with the empty answer (the server shuts down:
-- its workers poll again elsewhere, or later).
function Activities:release()
  local list = {}
  for p in pairs(self.parked) do list[#list + 1] = p end
  for _, p in ipairs(list) do
    if unpark(self, p) then p.call:reply(EMPTY) end
  end
end

return M
