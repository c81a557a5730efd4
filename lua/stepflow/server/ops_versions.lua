--- State machine versions: PublishStateMachineVersion,
-- ListStateMachineVersions, DeleteStateMachineVersion (Create and
-- UpdateStateMachine publish with `publish`; the versions themselves are
-- stepflow.server.versions'). A version freezes a revision of the
-- definition and the machine's attributes; its ARN is the machine's with
-- `:N`, numbers never reused.
local common = require("stepflow.server.common")
local sm_ops = require("stepflow.server.ops_state_machines")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

function ops.PublishStateMachineVersion(server, input, call)
  local rec, code, message = sm_ops.lookup(server, input.stateMachineArn)
  if not rec then return nil, code, message end
  if rec.status == "DELETING" then return sm_ops.deleting(rec.arn) end
  if input.revisionId ~= nil and input.revisionId ~= rec.revisionId then
    return nil, "ConflictException", "Failed to publish the State Machine version for revision "
      .. input.revisionId .. ". The current State Machine revision is " .. tostring(rec.revisionId) .. "."
  end
  local v
  v, code, message = server.versions:publish(rec, input.description)
  if not v then return nil, code, message end
  return call:reply_after_commit({ stateMachineVersionArn = v.arn, creationDate = date(v.creationDate) })
end

function ops.ListStateMachineVersions(server, input)
  local base, qualifier, message = common.state_machine_arn(input.stateMachineArn)
  if not base then return nil, qualifier, message end
  if qualifier then
    return nil, "ValidationException", "'" .. input.stateMachineArn .. "' is not an unqualified state machine ARN"
  end
  local items = {}
  -- AWS lists nothing (no error) for a state machine that does not exist
  if server.machines:get(base) then
    for i, v in ipairs(server.versions:list(base)) do
      items[i] = { stateMachineVersionArn = v.arn, creationDate = date(v.creationDate) }
    end
  end
  local page, token, tmessage = common.page(items, input, "versions:" .. base)
  if not page then return nil, token, tmessage end
  return { stateMachineVersions = page, nextToken = token }
end

function ops.DeleteStateMachineVersion(server, input, call)
  local arn = input.stateMachineVersionArn
  local base, qualifier, message = common.state_machine_arn(arn)
  if not base then return nil, qualifier, message end
  if not qualifier or not qualifier:find("^%d+$") then
    return nil, "ValidationException", "'" .. arn .. "' is not a state machine version ARN"
  end
  local aliases = server.versions:aliases_of_version(arn)
  if #aliases > 0 then
    return nil, "ConflictException", "Version to be deleted must not be referenced by an alias. Current list of "
      .. "aliases referencing this version: [" .. table.concat(aliases, ", ") .. "]"
  end
  -- deleting a version that does not exist succeeds; its executions go on
  server.versions:delete(arn)
  return call:reply_after_commit({})
end

return M
