--- Operations on activities: CreateActivity, DescribeActivity,
-- DeleteActivity, ListActivities, and GetActivityTask (the long poll of
-- workers). The records live in stepflow.server.activities; the tasks in
-- the engine's activity queues.
local json = require("stepflow.json")
local common = require("stepflow.server.common")
local tags = require("stepflow.server.ops_tags")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

local function does_not_exist(arn)
  return nil, "ActivityDoesNotExist", "Activity Does Not Exist: '" .. arn .. "'"
end

--- Checks an activity ARN: true, or nil, "InvalidArn", message.
function M.activity_arn(arn)
  local p, why = common.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  if p.type ~= "activity" then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  if p.resource:find(":", 1, true) then
    return nil, "InvalidArn", "Invalid Arn: 'Invalid ARN resource: " .. arn .. "'"
  end
  return true
end

-- The activity record an ARN names, or nil and the error.
local function lookup(server, arn)
  local ok, code, message = M.activity_arn(arn)
  if not ok then return nil, code, message end
  local rec = server.activities:get(arn)
  if not rec then return does_not_exist(arn) end
  return rec
end

local function check_encryption(cfg)
  if cfg and cfg.type == "CUSTOMER_MANAGED_KMS_KEY" and not cfg.kmsKeyId then
    return nil, "InvalidEncryptionConfiguration",
      "Invalid Encryption Configuration: kmsKeyId is required for CUSTOMER_MANAGED_KMS_KEY"
  end
  if cfg and cfg.type == "AWS_OWNED_KEY" and (cfg.kmsKeyId or cfg.kmsDataKeyReusePeriodSeconds) then
    return nil, "InvalidEncryptionConfiguration",
      "Invalid Encryption Configuration: AWS_OWNED_KEY takes no kmsKeyId or kmsDataKeyReusePeriodSeconds"
  end
  return true
end

-- Whether two configuration values (decoded JSON or nil) are the same.
local function same(a, b)
  if a == nil or b == nil then return a == b end
  return json.equal(a, b)
end

function ops.CreateActivity(server, input, call)
  local ok, code, message = common.check_name(input.name)
  if not ok then return nil, code, message end
  ok, code, message = check_encryption(input.encryptionConfiguration)
  if not ok then return nil, code, message end
  local arn = "arn:aws:states:" .. server.region .. ":" .. server.account .. ":activity:" .. input.name
  local tcode, tmessage, textra = tags.check_new(arn, input.tags)
  if tcode then return nil, tcode, tmessage, textra end
  local rec = server.activities:get(arn)
  if rec then
    -- AWS: idempotent on the name (other tags are ignored), but the
    -- encryption configuration may not change
    if not same(rec.encryptionConfiguration, input.encryptionConfiguration) then
      return nil, "ActivityAlreadyExists", "Activity already exists: '" .. arn .. "'"
    end
    return { activityArn = arn, creationDate = date(rec.creationDate) }
  end
  rec = server.activities:create(arn, input)
  return call:reply_after_commit({ activityArn = arn, creationDate = date(rec.creationDate) })
end

function ops.DescribeActivity(server, input)
  local rec, code, message = lookup(server, input.activityArn)
  if not rec then return nil, code, message end
  return { activityArn = rec.arn, name = rec.name, creationDate = date(rec.creationDate),
    encryptionConfiguration = rec.encryptionConfiguration }
end

function ops.DeleteActivity(server, input, call)
  local ok, code, message = M.activity_arn(input.activityArn)
  if not ok then return nil, code, message end
  local rec = server.activities:get(input.activityArn)
  -- deleting an activity that does not exist is no error, as on AWS
  if not rec then return {} end
  server.activities:delete(rec)
  return call:reply_after_commit({})
end

function ops.ListActivities(server, input)
  local items = {}
  for i, rec in ipairs(server.activities:list()) do
    items[i] = { activityArn = rec.arn, name = rec.name, creationDate = date(rec.creationDate) }
  end
  local page, token, message = common.page(items, input, "activities")
  if not page then return nil, token, message end
  return { activities = page, nextToken = token }
end

function ops.GetActivityTask(server, input, call)
  local rec, code, message = lookup(server, input.activityArn)
  if not rec then return nil, code, message end
  return server.activities:poll(call, rec.arn, input.workerName)
end

return M
