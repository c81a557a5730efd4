--- State machine aliases: CreateStateMachineAlias,
-- DescribeStateMachineAlias, UpdateStateMachineAlias,
-- DeleteStateMachineAlias, ListStateMachineAliases. An alias routes the
-- executions started through it to one or two versions of its state
-- machine, by weight (StartExecution: stepflow.server.ops_executions).
local json = require("stepflow.json")
local common = require("stepflow.server.common")
local sm_ops = require("stepflow.server.ops_state_machines")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

local function no_resource()
  return nil, "ResourceNotFound", "Request references a resource that does not exist."
end

-- Checks a routing configuration (1 or 2 items: the model checked that):
-- versions of one state machine, distinct, that exist, weights summing to
-- 100. Returns the state machine ARN, or nil and the error.
local function check_routing(server, routing)
  local arns, weights = {}, {}
  for i, r in ipairs(routing) do arns[i], weights[i] = r.stateMachineVersionArn, r.weight end
  local listed = "[" .. table.concat(arns, ", ") .. "]"
  local base
  for _, arn in ipairs(arns) do
    local b, qualifier, message = common.state_machine_arn(arn)
    if not b then return nil, qualifier, message end
    if not qualifier or not qualifier:find("^%d+$") then
      return nil, "ValidationException", "Routing configuration must contain state machine version ARNs. "
        .. "Received: " .. listed
    end
    if base and b ~= base then
      return nil, "ValidationException", "Routing configuration must contain versions of one state machine. "
        .. "Received: " .. listed
    end
    base = b
  end
  if #arns == 2 and arns[1] == arns[2] then
    return nil, "ValidationException", "Routing configuration must contain distinct state machine version ARNs. "
      .. "Received: " .. listed
  end
  local sum = 0
  for _, w in ipairs(weights) do sum = sum + w end
  if sum ~= 100 then
    local shown = {}
    for i, w in ipairs(weights) do shown[i] = tostring(w) end
    return nil, "ValidationException", "Sum of routing configuration weights must equal 100. Received: ["
      .. table.concat(shown, ", ") .. "]"
  end
  local rec = server.machines:get(base)
  if not rec then return no_resource() end
  for _, arn in ipairs(arns) do
    if not server.versions:get(arn) then return no_resource() end
  end
  return rec
end

-- The routing as stored and answered: {stateMachineVersionArn, weight}.
local function routing_of(routing)
  local out = {}
  for i, r in ipairs(routing) do out[i] = { stateMachineVersionArn = r.stateMachineVersionArn, weight = r.weight } end
  return json.array(out)
end

local function same_routing(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i].stateMachineVersionArn ~= b[i].stateMachineVersionArn or a[i].weight ~= b[i].weight then
      return false
    end
  end
  return true
end

-- The alias an alias ARN names, or nil and the error.
local function alias_of(server, arn)
  local base, qualifier, message = common.state_machine_arn(arn)
  if not base then return nil, qualifier, message end
  if not qualifier or qualifier:find("^%d+$") then
    return nil, "ValidationException", "'" .. arn .. "' is not a state machine alias ARN"
  end
  local a = server.versions:alias(arn)
  if not a then return no_resource() end
  return a, base
end

function ops.CreateStateMachineAlias(server, input, call)
  local rec, code, message = check_routing(server, input.routingConfiguration)
  if not rec then return nil, code, message end
  if rec.status == "DELETING" then return sm_ops.deleting(rec.arn) end
  local routing = routing_of(input.routingConfiguration)
  local existing = server.versions:alias(rec.arn .. ":" .. input.name)
  if existing then
    -- AWS: the same request again returns the alias
    if existing.description == input.description and same_routing(existing.routingConfiguration, routing) then
      return { stateMachineAliasArn = existing.arn, creationDate = date(existing.creationDate) }
    end
    return nil, "ConflictException", "Failed to create alias because an alias with the same name and a "
      .. "different routing configuration already exists."
  end
  local a
  a, code, message = server.versions:create_alias(rec.arn, input.name, input.description, routing)
  if not a then return nil, code, message end
  return call:reply_after_commit({ stateMachineAliasArn = a.arn, creationDate = date(a.creationDate) })
end

function ops.DescribeStateMachineAlias(server, input)
  local a, code, message = alias_of(server, input.stateMachineAliasArn)
  if not a then return nil, code, message end
  return { stateMachineAliasArn = a.arn, name = a.name, description = a.description,
    routingConfiguration = a.routingConfiguration, creationDate = date(a.creationDate),
    updateDate = date(a.updateDate) }
end

function ops.UpdateStateMachineAlias(server, input, call)
  if input.description == nil and input.routingConfiguration == nil then
    return nil, "ValidationException", "Either the description or the routing configuration must be specified"
  end
  local a, base_or_code, message = alias_of(server, input.stateMachineAliasArn)
  if not a then return nil, base_or_code, message end
  local rec = server.machines:get(base_or_code)
  if rec and rec.status == "DELETING" then return sm_ops.deleting(rec.arn) end
  local routing
  if input.routingConfiguration then
    local routed, code
    routed, code, message = check_routing(server, input.routingConfiguration)
    if not routed then return nil, code, message end
    if routed.arn ~= base_or_code then
      return nil, "ValidationException", "Routing configuration must contain versions of the alias's state machine"
    end
    routing = routing_of(input.routingConfiguration)
  end
  server.versions:update_alias(a, input.description, routing)
  return call:reply_after_commit({ updateDate = date(a.updateDate) })
end

function ops.DeleteStateMachineAlias(server, input, call)
  local base, qualifier, message = common.state_machine_arn(input.stateMachineAliasArn)
  if not base then return nil, qualifier, message end
  if not qualifier or qualifier:find("^%d+$") then
    return nil, "ValidationException", "'" .. input.stateMachineAliasArn .. "' is not a state machine alias ARN"
  end
  -- deleting an alias that does not exist succeeds (as on AWS)
  server.versions:delete_alias(input.stateMachineAliasArn)
  return call:reply_after_commit({})
end

function ops.ListStateMachineAliases(server, input)
  local rec, code, message = sm_ops.lookup(server, input.stateMachineArn)
  if not rec then return nil, code, message end
  if rec.status == "DELETING" then return sm_ops.deleting(rec.arn) end
  local items = {}
  for i, a in ipairs(server.versions:alias_list(rec.arn)) do
    items[i] = { stateMachineAliasArn = a.arn, creationDate = date(a.creationDate) }
  end
  local page, token, tmessage = common.page(items, input, "aliases:" .. rec.arn)
  if not page then return nil, token, tmessage end
  return { stateMachineAliases = page, nextToken = token }
end

return M
