--- The server's state machines: their AWS attributes (role, type,
-- configurations, revision ids) beside the engine's compiled machines,
-- kept in the engine's store (store resources "state_machine", and
-- "state_machine_revision" per definition revision, whose ARN is
-- `arn#revision`), so that they survive a restart.
local json = require("stepflow.json")

local M = {}

local Machines = {}
Machines.__index = Machines
Machines.__name = "stepflow.server.Machines"

local KIND, REV_KIND = "state_machine", "state_machine_revision"

-- Attributes a revision keeps (DescribeStateMachineForExecution).
local REVISION_FIELDS = { "revisionId", "roleArn", "updateDate", "loggingConfiguration",
  "tracingConfiguration", "encryptionConfiguration" }
-- Attributes of a state machine (besides its definition). `versions`
-- counts the versions ever published (numbers are never reused);
-- `status` is "DELETING" between its deletion and the end of its last
-- execution.
local FIELDS = { "name", "type", "roleArn", "creationDate", "updateDate", "revisionId",
  "loggingConfiguration", "tracingConfiguration", "encryptionConfiguration", "versions", "status" }

local function pick(rec, fields)
  local out = {}
  for _, k in ipairs(fields) do out[k] = rec[k] end
  return out
end

--- The state machines of `engine` (which must have a store), loaded from
-- it: those the server made, and those the command line put there.
-- Returns the registry, or nil, message.
function M.new(engine)
  local self = setmetatable({ engine = engine, store = engine.store, by_arn = {}, order = {},
    purge_hooks = {} }, Machines)
  local store = self.store
  local attrs = {}
  local list, err = store:resources(KIND)
  if not list then return nil, err end
  for _, r in ipairs(list) do attrs[r.arn] = json.decode(r.data) end
  local sms
  sms, err = store:list_state_machines()
  if not sms then return nil, err end
  local known = {}
  for _, smrec in ipairs(sms) do known[smrec.arn] = smrec end
  -- in creation order: the server's first, then the others (oldest first)
  local arns = {}
  for _, r in ipairs(list) do if known[r.arn] then arns[#arns + 1] = r.arn end end
  for _, smrec in ipairs(sms) do if not attrs[smrec.arn] then arns[#arns + 1] = smrec.arn end end
  for _, arn in ipairs(arns) do
    local smrec = known[arn]
    local a = attrs[arn] or { name = smrec.name, type = smrec.type, creationDate = smrec.created,
      roleArn = "arn:aws:iam::" .. engine.account .. ":role/stepflow" }
    local sm, cerr = engine:create_state_machine(smrec.definition, { name = a.name, type = a.type,
      role_arn = a.roleArn, revision = smrec.revision })
    if not sm then return nil, "state machine " .. arn .. ": " .. tostring(cerr) end
    a.arn, a.sm, a.definition, a.revision = arn, sm, smrec.definition, smrec.revision
    -- a machine deleted while executions ran: those resumed end at once
    if a.status == "DELETING" then engine:retire_state_machine(arn) end
    self.by_arn[arn] = a
    self.order[#self.order + 1] = arn
  end
  return self
end

-- Whether executions of a state machine still run (in the store: also
-- those another engine runs).
local function has_running(self, arn)
  local list = self.engine:list_executions({ sm_arn = arn, status = "RUNNING", limit = 1 })
  return list == nil or #list > 0
end

-- A DELETING state machine goes once its last execution has ended (seen
-- by the next request that looks it up).
local function settled(self, rec)
  if rec and rec.status == "DELETING" and not has_running(self, rec.arn) then
    self:purge(rec)
    return nil
  end
  return rec
end

--- The state machine record with this ARN, or nil.
function Machines:get(arn)
  return settled(self, self.by_arn[arn])
end

--- State machine records, oldest first.
function Machines:list()
  local out = {}
  for _, arn in ipairs(self.order) do
    local rec = settled(self, self.by_arn[arn])
    if rec then out[#out + 1] = rec end
  end
  return out
end

-- Compiles and records a definition: a new revision when it changed.
-- Returns the machine and its revision, or nil, problems.
local function compile(self, rec, text)
  local engine = self.engine
  local sm, err, problems = engine:create_state_machine(text, { name = rec.name, type = rec.type,
    role_arn = rec.roleArn })
  if not sm then return nil, problems or { { path = "", message = tostring(err) } } end
  local rev = sm.revision
  if not rev then
    -- the engine records STANDARD machines; EXPRESS ones are recorded here
    local perr
    rev, perr = self.store:put_state_machine({ arn = sm.arn, name = rec.name, definition = text,
      type = rec.type, created = rec.creationDate })
    if not rev then error("stepflow.server: store: " .. tostring(perr), 0) end
    sm.revision = rev
  end
  return sm, rev
end

local function save(self, rec)
  local store = self.store
  local ok, err = store:put_resource(KIND, rec.arn, json.encode(pick(rec, FIELDS)))
  if ok then
    ok, err = store:put_resource(REV_KIND, rec.arn .. "#" .. rec.revision,
      json.encode(pick(rec, REVISION_FIELDS)))
  end
  if not ok then error("stepflow.server: store: " .. tostring(err), 0) end
end

--- Creates a state machine from `p` ({name, definition (text), type,
-- roleArn, loggingConfiguration, tracingConfiguration,
-- encryptionConfiguration}) under `arn`. Returns the record, or nil and
-- the validation problems of the definition.
function Machines:create(arn, p)
  local now = self.engine.loop:now()
  -- (AWS gives a revisionId only from the first update that changes it)
  local rec = { arn = arn, name = p.name, type = p.type or "STANDARD", roleArn = p.roleArn,
    creationDate = now,
    loggingConfiguration = p.loggingConfiguration, tracingConfiguration = p.tracingConfiguration,
    encryptionConfiguration = p.encryptionConfiguration, versions = 0 }
  local sm, rev = compile(self, rec, p.definition)
  if not sm then return nil, rev end
  rec.sm, rec.revision, rec.definition = sm, rev, p.definition
  save(self, rec)
  self.by_arn[arn] = rec
  self.order[#self.order + 1] = arn
  return rec
end

local CONFIGS = { "roleArn", "loggingConfiguration", "tracingConfiguration", "encryptionConfiguration" }

local function same(a, b)
  if a == nil or b == nil then return a == b end
  return a == b or json.encode(a) == json.encode(b)
end

--- Updates a state machine with the fields of `p` that are set
-- (definition, roleArn, and the configurations). A change makes a new
-- revisionId (an update that changes nothing keeps it, as on AWS); a new
-- definition is a new revision, which new executions run (running ones
-- keep theirs). Returns the record, or nil and the problems.
function Machines:update(rec, p)
  local changed = p.definition ~= nil and p.definition ~= rec.definition
  for _, k in ipairs(CONFIGS) do
    if p[k] ~= nil and not same(p[k], rec[k]) then changed = true end
  end
  if changed and p.definition ~= nil and p.definition ~= rec.definition then
    local sm, rev = compile(self, { name = rec.name, type = rec.type, roleArn = p.roleArn or rec.roleArn,
      creationDate = rec.creationDate }, p.definition)
    if not sm then return nil, rev end
    rec.sm, rec.revision, rec.definition = sm, rev, p.definition
  end
  for _, k in ipairs(CONFIGS) do
    if p[k] ~= nil then rec[k] = p[k] end
  end
  rec.sm.role_arn = rec.roleArn
  rec.updateDate = self.engine.loop:now()
  if changed then rec.revisionId = self.engine:_uuid() end
  save(self, rec)
  return rec
end

--- Notes that version `n` of a state machine was published (its number
-- is then never used again).
function Machines:count_version(rec, n)
  rec.versions = n
  save(self, rec)
end

--- Runs fn(rec) when a state machine is purged (its versions, aliases,
-- tags go with it).
function Machines:on_purge(fn)
  self.purge_hooks[#self.purge_hooks + 1] = fn
end

--- Deletes a state machine (AWS's DeleteStateMachine): at once when none
-- of its executions runs, else it is DELETING until the last one ends
-- (it refuses new executions, versions and aliases meanwhile).
function Machines:delete(rec)
  if rec.status ~= "DELETING" and has_running(self, rec.arn) then
    rec.status = "DELETING"
    save(self, rec)
    return
  end
  self:purge(rec)
end

--- Forgets a state machine: executions that run it go on to their end.
function Machines:purge(rec)
  for _, fn in ipairs(self.purge_hooks) do fn(rec) end
  local store = self.store
  self.by_arn[rec.arn] = nil
  for i, arn in ipairs(self.order) do
    if arn == rec.arn then
      table.remove(self.order, i)
      break
    end
  end
  local ok, err = store:delete_state_machine(rec.arn)
  if ok ~= nil then ok, err = store:delete_resource(KIND, rec.arn) end
  if ok == nil then error("stepflow.server: store: " .. tostring(err), 0) end
end

--- The definition and attributes of a state machine as a stored
-- execution ran it (its revision), or nil.
function Machines:revision_of(sm_arn, revision)
  local store = self.store
  local text = revision and store:get_definition(sm_arn, revision)
  local rec = self.by_arn[sm_arn]
  if not text then
    if not rec then return nil end
    return rec.definition, rec
  end
  local data = store:get_resource(REV_KIND, sm_arn .. "#" .. revision)
  local attrs = data and json.decode(data) or rec or {}
  return text, attrs
end

return M
