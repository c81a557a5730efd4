--- The one parser of Task Resource strings. Every part of the engine
-- that asks what a Resource is (the interpreter, the validator, the
-- history, the mocks, the integration registry) asks here.
--
--     arn:aws:states:::dynamodb:putItem                 optimized integration
--     arn:aws:states:::sqs:sendMessage.waitForTaskToken with a pattern
--     arn:aws:states:::aws-sdk:s3:getObject             AWS SDK integration
--     arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject
--                                                       the exported form
--     arn:aws:lambda:us-east-1:123456789012:function:NAME[:QUALIFIER]
--     arn:aws:states:us-east-1:123456789012:activity:NAME
--     NAME                                              a Lua handler (stepflow's)
local M = {}

--- The integration patterns AWS defines, by suffix.
M.PATTERNS = { [""] = "request-response", [".sync"] = "sync", [".sync:2"] = "sync",
  [".waitForTaskToken"] = "callback" }

-- The patterns AWS's own integrations accept beyond request-response
-- (service -> action -> set, "*" for every action). A service missing
-- here is one stepflow does not know (a Lua integration decides).
local SUPPORTED = {
  lambda = { invoke = { [".waitForTaskToken"] = true } },
  sqs = { ["*"] = { [".waitForTaskToken"] = true } },
  sns = { ["*"] = { [".waitForTaskToken"] = true } },
  events = { ["*"] = { [".waitForTaskToken"] = true } },
  dynamodb = { ["*"] = {} },
  states = { startExecution = { [".sync"] = true, [".sync:2"] = true, [".waitForTaskToken"] = true },
    ["*"] = {} },
  http = { ["*"] = {} },
  ecs = { ["*"] = { [".sync"] = true, [".waitForTaskToken"] = true } },
  batch = { ["*"] = { [".sync"] = true, [".waitForTaskToken"] = true } },
  glue = { ["*"] = { [".sync"] = true } },
  apigateway = { ["*"] = { [".waitForTaskToken"] = true } },
  ["aws-sdk"] = { ["*"] = { [".waitForTaskToken"] = true } },
}

-- Splits "action.suffix": the action and its suffix ("" when none).
local function split_pattern(text)
  local dot = text:find(".", 1, true)
  if not dot then return text, "" end
  return text:sub(1, dot - 1), text:sub(dot)
end

local function arn_fields(text)
  local fields = {}
  for f in (text .. ":"):gmatch("([^:]*):") do fields[#fields + 1] = f end
  return fields
end

-- A states ARN's service and action part (fields 6..) as
-- service, sdk_service, action-with-suffix; nil when there is none.
local function service_part(fields)
  local service = fields[6]
  if service == "aws-sdk" then
    local sdk, action = fields[7], table.concat(fields, ":", 8)
    if sdk == nil or sdk == "" or action == "" then return service, sdk, nil end
    return "aws-sdk:" .. sdk, sdk, action
  end
  return service, nil, table.concat(fields, ":", 7)
end

--- Parses a Resource. Returns an info table, or nil and a message saying
-- what is wrong (and what to write instead). The info:
--   text          the Resource as written
--   kind          "service" (arn:aws:states:...:service:action), "lambda"
--                 (a function ARN), "activity", or "handler" (a name)
--   pattern       "", ".sync", ".sync:2" or ".waitForTaskToken"
--   service       "dynamodb", "aws-sdk:s3", "states", ... (kind service)
--   sdk_service   "s3" for aws-sdk:s3
--   action        "putItem" (kind service)
--   region, account   of an exported ARN (nil in the short form)
--   base          the Resource without its pattern, in the short form for
--                 services ("arn:aws:states:::dynamodb:putItem")
--   resource_type, resource   what AWS's history records (Task events)
--   function_name, qualifier (kind lambda); activity (its name)
function M.parse(text)
  if type(text) ~= "string" or text == "" then
    return nil, "Resource must be a non-empty string (a handler name or an ARN)"
  end
  if text:sub(1, 4) ~= "arn:" then
    -- a plain name: a Lua handler; its suffix, if any, is still a pattern
    local name, suffix = text:match("^(.-)(%.waitForTaskToken)$")
    return { text = text, kind = "handler", pattern = suffix or "", base = name or text,
      resource_type = "lua", resource = text }
  end
  local fields = arn_fields(text)
  if #fields < 6 or fields[2] == "" or fields[3] == "" then
    return nil, "The resource provided " .. text .. " is not recognized. The value is not a " ..
      "valid resource ARN: write arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (such as " ..
      "arn:aws:lambda:us-east-1:123456789012:function:NAME), or a plain handler name"
  end
  local partition, svc = fields[2], fields[3]
  local region = fields[4] ~= "" and fields[4] or nil
  local account = fields[5] ~= "" and fields[5] or nil
  if svc == "lambda" and fields[6] == "function" then
    local name, qualifier = fields[7], fields[8]
    if name == nil or name == "" or #fields > 8 or (qualifier ~= nil and qualifier == "") then
      return nil, "The resource provided " .. text .. " is not recognized. The value is not a " ..
        "valid Lambda function ARN: write arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION_OR_ALIAS]"
    end
    return { text = text, kind = "lambda", pattern = "", base = text, function_name = name,
      qualifier = qualifier, region = region, account = account, partition = partition }
  end
  if svc ~= "states" then
    -- another service's ARN: served only by a Lua handler of that name
    return { text = text, kind = "handler", pattern = "", base = text, resource_type = "lua",
      resource = text, partition = partition }
  end
  if fields[6] == "activity" then
    local name = table.concat(fields, ":", 7)
    if name == "" then
      return nil, "The resource provided " .. text .. " names no activity: write " ..
        "arn:aws:states:REGION:ACCOUNT:activity:NAME"
    end
    return { text = text, kind = "activity", pattern = "", base = text, activity = name,
      region = region, account = account, partition = partition, resource_type = "activity",
      resource = text }
  end
  local service, sdk, rest = service_part(fields)
  if service == nil or service == "" or rest == nil or rest == "" then
    return nil, "The resource provided " .. text .. " names no " ..
      (service == "aws-sdk" and "service and action: write arn:aws:states:::aws-sdk:SERVICE:ACTION"
        or "action: write arn:aws:states:::SERVICE:ACTION (such as arn:aws:states:::sqs:sendMessage)")
  end
  local action, suffix = split_pattern(rest)
  if not M.PATTERNS[suffix] then
    return nil, "The resource provided " .. text .. " has an unknown integration pattern '" ..
      suffix .. "': write .sync, .sync:2 or .waitForTaskToken after the action, or nothing " ..
      "for request-response"
  end
  if action == "" then
    return nil, "The resource provided " .. text .. " names no action before '" .. suffix .. "'"
  end
  local short = "arn:" .. partition .. ":states:::" .. service .. ":" .. action
  return { text = text, kind = "service", pattern = suffix, service = service, sdk_service = sdk,
    action = action, region = region, account = account, partition = partition, base = short,
    resource_type = service, resource = action .. suffix }
end

--- Whether AWS's integration `service`:`action` accepts `pattern`: true,
-- false (AWS refuses it), or nil (a service stepflow does not know: the
-- Lua integration registered for it decides).
function M.supports(service, action, pattern)
  if pattern == "" then return true end
  local family = service:match("^aws%-sdk:") and "aws-sdk" or service
  local s = SUPPORTED[family]
  if not s then return nil end
  local set = s[action] or s["*"]
  if not set then return nil end
  return set[pattern] == true
end

--- Checks a Resource as validation does: nil when it is fine, else a
-- message (a malformed ARN, an unknown pattern suffix, or a pattern the
-- AWS integration does not support).
function M.problem(text)
  local info, err = M.parse(text)
  if not info then return err end
  if info.kind == "service" and M.supports(info.service, info.action, info.pattern) == false then
    return "The resource provided " .. text .. " is not supported: the " .. info.service ..
      " integration has no '" .. info.pattern .. "' pattern" ..
      (info.service:match("^aws%-sdk:") and " (AWS SDK integrations support request-response " ..
        "and .waitForTaskToken)" or "")
  end
  return nil
end

--- The key an integration is registered under for a service and action.
function M.key(service, action)
  return service .. ":" .. action
end

return M
