--- The server's state machine versions and aliases, kept in the engine's
-- store as resources (docs/STORE.md "Resources"): a version is kind
-- `state_machine_version` under its ARN `sm_arn:N`, holding the
-- definition revision it froze and the attributes it had
-- ({revision, revisionId, description, creationDate, roleArn, type,
-- loggingConfiguration, tracingConfiguration, encryptionConfiguration});
-- an alias is kind `state_machine_alias` under `sm_arn:name`
-- ({name, description, routingConfiguration, creationDate, updateDate}).
-- Version numbers are never reused: the machine's record counts them
-- (`versions`).
local json = require("stepflow.json")

local M = {}

local VERSION_KIND, ALIAS_KIND = "state_machine_version", "state_machine_alias"

--- AWS's quotas: versions per state machine, aliases per state machine.
M.MAX_VERSIONS, M.MAX_ALIASES = 1000, 100

local Versions = {}
Versions.__index = Versions
Versions.__name = "stepflow.server.Versions"

local function fail(err)
  error("stepflow.server: store: " .. tostring(err), 0)
end

--- The versions and aliases in the store of `machines` (a
-- stepflow.server.machines registry). Returns the registry, or nil,
-- message.
function M.new(machines)
  local self = setmetatable({ machines = machines, engine = machines.engine, store = machines.store,
    versions = {}, aliases = {}, compiled = {} }, Versions)
  for _, kind in ipairs({ VERSION_KIND, ALIAS_KIND }) do
    local list, err = self.store:resources(kind)
    if not list then return nil, err end
    for _, r in ipairs(list) do
      local base, qualifier = r.arn:match("^(.*):([^:]+)$")
      local data = json.decode(r.data)
      if kind == VERSION_KIND then
        local by = self.versions[base] or {}
        self.versions[base] = by
        data.number, data.arn = tonumber(qualifier), r.arn
        by[data.number] = data
      else
        local by = self.aliases[base] or { order = {} }
        self.aliases[base] = by
        data.arn = r.arn
        by[data.name] = data
        by.order[#by.order + 1] = data.name
      end
    end
  end
  return self
end

---------------------------------------------------------------- versions

--- The versions of a state machine, newest first.
function Versions:list(sm_arn)
  local out = {}
  for _, v in pairs(self.versions[sm_arn] or {}) do out[#out + 1] = v end
  table.sort(out, function(a, b) return a.number > b.number end)
  return out
end

--- A version by its ARN, or nil.
function Versions:get(arn)
  local base, n = arn:match("^(.*):(%d+)$")
  local by = base and self.versions[base]
  return by and by[tonumber(n)] or nil
end

-- The version a publish of `rec` now would repeat: the newest version,
-- when it froze the current revision.
local function same_as_latest(self, rec)
  local latest = self:list(rec.arn)[1]
  if latest and latest.revision == rec.revision and latest.revisionId == rec.revisionId then return latest end
  return nil
end

--- Publishes the current revision of a state machine record as its next
-- version (AWS: publishing a revision that the newest version froze
-- returns that version). Returns the version, or nil, code, message
-- (ServiceQuotaExceededException at 1000 versions).
function Versions:publish(rec, description)
  local latest = same_as_latest(self, rec)
  if latest then return latest end
  local by = self.versions[rec.arn] or {}
  local count = 0
  for _ in pairs(by) do count = count + 1 end
  if count >= M.MAX_VERSIONS then
    return nil, "ServiceQuotaExceededException", "Cannot publish more than " .. M.MAX_VERSIONS
      .. " versions of state machine '" .. rec.arn .. "': delete versions first"
  end
  local n = (rec.versions or 0) + 1
  local v = { revision = rec.revision, revisionId = rec.revisionId, description = description,
    creationDate = self.engine.loop:now(), roleArn = rec.roleArn, type = rec.type,
    loggingConfiguration = rec.loggingConfiguration, tracingConfiguration = rec.tracingConfiguration,
    encryptionConfiguration = rec.encryptionConfiguration }
  local arn = rec.arn .. ":" .. n
  local ok, err = self.store:put_resource(VERSION_KIND, arn, json.encode(v))
  if not ok then fail(err) end
  self.machines:count_version(rec, n)
  v.number, v.arn = n, arn
  by[n] = v
  self.versions[rec.arn] = by
  return v
end

--- The aliases that route to a version: their names, in creation order.
function Versions:aliases_of_version(arn)
  local base = arn:match("^(.*):%d+$")
  local out = {}
  local by = base and self.aliases[base]
  if not by then return out end
  for _, name in ipairs(by.order) do
    for _, route in ipairs(by[name].routingConfiguration) do
      if route.stateMachineVersionArn == arn then
        out[#out + 1] = name
        break
      end
    end
  end
  return out
end

--- Deletes a version (true), or returns false when there was none.
function Versions:delete(arn)
  local v = self:get(arn)
  if not v then return false end
  local base = arn:match("^(.*):%d+$")
  self.versions[base][v.number] = nil
  local ok, err = self.store:delete_resource(VERSION_KIND, arn)
  if ok == nil then fail(err) end
  return true
end

--- The compiled machine of a version (its frozen revision, type and
-- role), made once. Returns the machine, or nil, message.
function Versions:machine(rec, v)
  local key = rec.arn .. "#" .. v.revision
  local sm = self.compiled[key]
  if sm then return sm end
  local text = self.store:get_definition(rec.arn, v.revision)
  if not text then return nil, "the store lacks revision " .. v.revision .. " of " .. rec.arn end
  local err
  sm, err = self.engine:create_state_machine(text, { name = rec.name, type = v.type or rec.type,
    role_arn = v.roleArn or rec.roleArn, revision = v.revision })
  if not sm then return nil, err end
  self.compiled[key] = sm
  return sm
end

--- The definition text a version froze.
function Versions:definition(rec, v)
  return self.store:get_definition(rec.arn, v.revision)
end

---------------------------------------------------------------- aliases

--- An alias by its ARN, or nil.
function Versions:alias(arn)
  local base, name = arn:match("^(.*):([^:]+)$")
  local by = base and self.aliases[base]
  return by and by[name] or nil
end

--- The aliases of a state machine, in creation order.
function Versions:alias_list(sm_arn)
  local by = self.aliases[sm_arn]
  local out = {}
  if not by then return out end
  for i, name in ipairs(by.order) do out[i] = by[name] end
  return out
end

local function save_alias(self, a)
  local ok, err = self.store:put_resource(ALIAS_KIND, a.arn, json.encode({ name = a.name,
    description = a.description, routingConfiguration = a.routingConfiguration,
    creationDate = a.creationDate, updateDate = a.updateDate }))
  if not ok then fail(err) end
end

--- Creates an alias of the state machine `sm_arn` (the caller checked
-- its routing and that it does not exist). Returns it, or nil, code,
-- message (ServiceQuotaExceededException at 100 aliases).
function Versions:create_alias(sm_arn, name, description, routing)
  local by = self.aliases[sm_arn] or { order = {} }
  if #by.order >= M.MAX_ALIASES then
    return nil, "ServiceQuotaExceededException", "Cannot create more than " .. M.MAX_ALIASES
      .. " aliases of state machine '" .. sm_arn .. "'"
  end
  local now = self.engine.loop:now()
  local a = { arn = sm_arn .. ":" .. name, name = name, description = description,
    routingConfiguration = routing, creationDate = now, updateDate = now }
  save_alias(self, a)
  by[name] = a
  by.order[#by.order + 1] = name
  self.aliases[sm_arn] = by
  return a
end

--- Changes an alias's description and/or routing (those not nil).
function Versions:update_alias(a, description, routing)
  if description ~= nil then a.description = description end
  if routing ~= nil then a.routingConfiguration = routing end
  a.updateDate = self.engine.loop:now()
  save_alias(self, a)
  return a
end

--- Deletes an alias (true), or returns false when there was none.
function Versions:delete_alias(arn)
  local a = self:alias(arn)
  if not a then return false end
  local base = arn:match("^(.*):[^:]+$")
  local by = self.aliases[base]
  by[a.name] = nil
  for i, name in ipairs(by.order) do
    if name == a.name then
      table.remove(by.order, i)
      break
    end
  end
  local ok, err = self.store:delete_resource(ALIAS_KIND, arn)
  if ok == nil then fail(err) end
  return true
end

--- The version an execution started through an alias runs: one of its
-- routes, chosen by weight.
function Versions.route(_, a)
  local routes = a.routingConfiguration
  if #routes == 1 then return routes[1].stateMachineVersionArn end
  local pick = math.random(1, 100)
  local sum = 0
  for _, r in ipairs(routes) do
    sum = sum + r.weight
    if pick <= sum then return r.stateMachineVersionArn end
  end
  return routes[#routes].stateMachineVersionArn
end

--- Forgets every version and alias of a state machine (it is deleted).
function Versions:drop_machine(sm_arn)
  for _, v in ipairs(self:list(sm_arn)) do self:delete(v.arn) end
  for _, a in ipairs(self:alias_list(sm_arn)) do self:delete_alias(a.arn) end
  self.versions[sm_arn], self.aliases[sm_arn] = nil, nil
end

return M
