--- Operations on state machines: Create, Describe, Update, Delete, List,
-- DescribeStateMachineForExecution.
local json = require("stepflow.json")
local common = require("stepflow.server.common")
local tags = require("stepflow.server.ops_tags")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

-- Whether two configuration values (decoded JSON or nil) are the same.
local function same(a, b)
  if a == nil or b == nil then return a == b end
  return json.encode(a) == json.encode(b)
end

local invalid_definition = common.invalid_definition

local function check_role(arn)
  if not arn:find("^arn:[%w%-]+:iam::%d*:role/.") then
    return nil, "InvalidArn", "Invalid Role Arn: '" .. arn .. "'"
  end
  return true
end

local function check_logging(cfg)
  if cfg and cfg.level and cfg.level ~= "OFF" and (not cfg.destinations or #cfg.destinations == 0) then
    return nil, "InvalidLoggingConfiguration",
      "Invalid Logging Configuration: Must specify exactly one Log Destination."
  end
  return true
end

local function not_found(arn)
  return nil, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" .. arn .. "'"
end
M.not_found = not_found

--- StateMachineDeleting for a state machine being deleted.
function M.deleting(arn)
  return nil, "StateMachineDeleting", "State machine is being deleted: '" .. arn .. "'"
end

-- The machine a state machine ARN names (unqualified only), or nil and
-- the error.
local function lookup(server, arn)
  local base, qualifier, message = common.state_machine_arn(arn)
  if not base then return nil, qualifier, message end
  local rec = server.machines:get(base)
  if not rec or qualifier then return not_found(arn) end
  return rec
end
M.lookup = lookup

--- What a state machine ARN names: the machine record, and the version
-- (a version ARN) or the alias (an alias ARN), or nil and the error
-- (StateMachineDoesNotExist when any of them does not exist).
function M.resolve(server, arn)
  local base, qualifier, message = common.state_machine_arn(arn)
  if not base then return nil, qualifier, message end
  local rec = server.machines:get(base)
  if not rec then return not_found(arn) end
  if not qualifier then return rec end
  if qualifier:find("^%d+$") then
    local v = server.versions:get(arn)
    if not v then return not_found(arn) end
    return rec, v
  end
  local a = server.versions:alias(arn)
  if not a then return not_found(arn) end
  return rec, nil, a
end

-- Publishes a version for Create/UpdateStateMachine: its ARN, or raises
-- the quota's error as the operation's answer.
local function publish(server, rec, description)
  local v, code, message = server.versions:publish(rec, description)
  if not v then return nil, code, message end
  return v.arn
end

function ops.CreateStateMachine(server, input, call)
  local ok, code, message = common.check_name(input.name)
  if not ok then return nil, code, message end
  ok, code, message = check_role(input.roleArn)
  if not ok then return nil, code, message end
  ok, code, message = check_logging(input.loggingConfiguration)
  if not ok then return nil, code, message end
  if input.versionDescription and not input.publish then
    return nil, "ValidationException", "Version description can only be set when publish is true"
  end
  local arn = "arn:aws:states:" .. server.region .. ":" .. server.account .. ":stateMachine:" .. input.name
  local tcode, tmessage, textra = tags.check_new(arn, input.tags)
  if tcode then return nil, tcode, tmessage, textra end
  local rec = server.machines:get(arn)
  local stype = input.type or "STANDARD"
  if rec and rec.status == "DELETING" then return M.deleting(arn) end
  if rec then
    -- AWS: the same call again returns the existing machine
    if rec.definition == input.definition and rec.type == stype and rec.roleArn == input.roleArn
        and same(rec.loggingConfiguration, input.loggingConfiguration)
        and same(rec.tracingConfiguration, input.tracingConfiguration) and not input.publish then
      return { stateMachineArn = arn, creationDate = date(rec.creationDate) }
    end
    return nil, "StateMachineAlreadyExists", "State Machine Already Exists: '" .. arn .. "'"
  end
  local problems
  rec, problems = server.machines:create(arn, { name = input.name, definition = input.definition,
    type = stype, roleArn = input.roleArn, loggingConfiguration = input.loggingConfiguration,
    tracingConfiguration = input.tracingConfiguration, encryptionConfiguration = input.encryptionConfiguration })
  if not rec then return invalid_definition(problems) end
  if input.tags then assert(tags.add(server, arn, input.tags)) end
  local out = { stateMachineArn = arn, creationDate = date(rec.creationDate) }
  if input.publish then
    local vcode, vmessage
    out.stateMachineVersionArn, vcode, vmessage = publish(server, rec, input.versionDescription)
    if not out.stateMachineVersionArn then return nil, vcode, vmessage end
  end
  return call:reply_after_commit(out)
end

local function configurations(out, attrs)
  out.loggingConfiguration = attrs.loggingConfiguration or { level = "OFF", includeExecutionData = false }
  out.tracingConfiguration = attrs.tracingConfiguration or { enabled = false }
  out.encryptionConfiguration = attrs.encryptionConfiguration or { type = "AWS_OWNED_KEY" }
  return out
end

-- DescribeStateMachine of a version: what it froze.
local function describe_version(server, rec, v)
  local definition = server.versions:definition(rec, v)
  return configurations({
    stateMachineArn = v.arn, name = rec.name, status = rec.status or "ACTIVE", definition = definition,
    roleArn = v.roleArn or rec.roleArn, type = v.type or rec.type, creationDate = date(v.creationDate),
    revisionId = v.revisionId, description = v.description,
  }, v.roleArn and v or rec)
end

function ops.DescribeStateMachine(server, input)
  local rec, v, alias = M.resolve(server, input.stateMachineArn)
  if not rec then return nil, v, alias end
  -- an alias is described by DescribeStateMachineAlias
  if alias then return not_found(input.stateMachineArn) end
  local out
  if v then
    out = describe_version(server, rec, v)
  else
    out = configurations({
      stateMachineArn = rec.arn, name = rec.name, status = rec.status or "ACTIVE", definition = rec.definition,
      roleArn = rec.roleArn, type = rec.type, creationDate = date(rec.creationDate), revisionId = rec.revisionId,
    }, rec)
  end
  if input.includedData == "METADATA_ONLY" then out.definition = "{}" end
  return out
end

function ops.UpdateStateMachine(server, input, call)
  local rec, code, message = lookup(server, input.stateMachineArn)
  if not rec then return nil, code, message end
  if rec.status == "DELETING" then return M.deleting(rec.arn) end
  if input.definition == nil and input.roleArn == nil and input.loggingConfiguration == nil
      and input.tracingConfiguration == nil and input.encryptionConfiguration == nil then
    return nil, "MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, "
      .. "the EncryptionConfiguration or the TracingConfiguration must be specified"
  end
  if input.versionDescription and not input.publish then
    return nil, "ValidationException", "Version description can only be set when publish is true"
  end
  local ok
  if input.roleArn then
    ok, code, message = check_role(input.roleArn)
    if not ok then return nil, code, message end
  end
  ok, code, message = check_logging(input.loggingConfiguration)
  if not ok then return nil, code, message end
  local problems
  rec, problems = server.machines:update(rec, input)
  if not rec then return invalid_definition(problems) end
  local out = { updateDate = date(rec.updateDate), revisionId = rec.revisionId }
  if input.publish then
    local vcode, vmessage
    out.stateMachineVersionArn, vcode, vmessage = publish(server, rec, input.versionDescription)
    if not out.stateMachineVersionArn then return nil, vcode, vmessage end
  end
  return call:reply_after_commit(out)
end

function ops.DeleteStateMachine(server, input, call)
  local base, qualifier, message = common.state_machine_arn(input.stateMachineArn)
  if not base then return nil, qualifier, message end
  if qualifier then
    return nil, "ValidationException", "'" .. input.stateMachineArn .. "' is a qualified state machine ARN: "
      .. "delete a version with DeleteStateMachineVersion, an alias with DeleteStateMachineAlias"
  end
  local rec = server.machines:get(base)
  -- AWS: deleting a state machine that does not exist succeeds; one whose
  -- executions run is DELETING until they end (at their next transition)
  if rec then
    server.machines:delete(rec)
    if rec.status == "DELETING" then server.engine:retire_state_machine(rec.arn) end
  end
  return call:reply_after_commit({})
end

function ops.ListStateMachines(server, input)
  local items = {}
  for i, rec in ipairs(server.machines:list()) do
    items[i] = { stateMachineArn = rec.arn, name = rec.name, type = rec.type,
      creationDate = date(rec.creationDate) }
  end
  local page, token, message = common.page(items, input, "state_machines")
  if not page then return nil, token, message end
  return { stateMachines = page, nextToken = token }
end

function ops.DescribeStateMachineForExecution(server, input)
  local ok, code, message = common.execution_arn(input.executionArn)
  if not ok then return nil, code, message end
  local rec = server.engine:describe_execution(input.executionArn)
  if not rec then
    return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. input.executionArn .. "'"
  end
  local definition, attrs = server.machines:revision_of(rec.sm_arn, rec.revision)
  if not definition then
    return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. input.executionArn .. "'"
  end
  return {
    stateMachineArn = rec.sm_arn, name = rec.sm_arn:match("[^:]+$"), definition = definition,
    roleArn = attrs.roleArn, updateDate = date(attrs.updateDate or attrs.creationDate or rec.started),
    loggingConfiguration = attrs.loggingConfiguration or { level = "OFF", includeExecutionData = false },
    tracingConfiguration = attrs.tracingConfiguration or { enabled = false },
    encryptionConfiguration = attrs.encryptionConfiguration or { type = "AWS_OWNED_KEY" },
    revisionId = attrs.revisionId,
  }
end

return M
