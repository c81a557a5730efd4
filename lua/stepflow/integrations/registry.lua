--- The integrations of one engine: Lua tables registered for a Resource
-- pattern (`arn:aws:states:::dynamodb:putItem`, `arn:aws:states:::aws-sdk:s3:*`),
-- found again by a parsed Resource. The engine, not the integration,
-- handles the integration pattern (request-response, .sync,
-- .waitForTaskToken): see docs/INTEGRATIONS.md.
--
-- An integration is a table:
--   call(params, ctx) -> result      request-response and .waitForTaskToken
--   start(params, ctx) -> submitted  .sync: starts the work (TaskSubmitted)
--   poll(submitted, ctx) -> nil | result
--                                    .sync: nil while the work runs; the
--                                    engine calls it every poll_interval s
--   poll_interval = seconds          (default 5)
--   resume(submitted, ctx)           .sync after a restart, instead of
--                                    start: finds the work again (then
--                                    poll or ctx.complete end it)
--   cancel(submitted, ctx)           the task stopped waiting (timeout,
--                                    execution stopped): stop the work
--   error_prefix = "DynamoDB", service_name = "AmazonDynamoDBv2"
--                                    how ctx.error names errors (optional)
-- A .sync integration without poll ends its work with ctx.complete(result)
-- or ctx.complete(nil, err) (event-driven).
local resource = require("stepflow.integrations.resource")

local M = {}

local Registry = {}
Registry.__index = Registry
Registry.__name = "stepflow.IntegrationRegistry"

local FIELDS = {
  call = "function", start = "function", poll = "function", resume = "function",
  cancel = "function", poll_interval = "number", error_prefix = "string",
  service_name = "string", name = "string",
}

--- An empty registry.
function M.new()
  return setmetatable({ by_key = {}, version = 0 }, Registry)
end

--- Parses a registration pattern: a Resource without an integration
-- pattern, whose action may be `*`. Returns service, action, or nil and
-- a message.
function M.parse_pattern(pattern)
  if type(pattern) ~= "string" then return nil, "the pattern must be a string" end
  local text = pattern
  if not text:find("^arn:") then text = "arn:aws:states:::" .. text end
  local info, err = resource.parse(text)
  if not info then return nil, err end
  if info.kind ~= "service" then
    return nil, "'" .. pattern .. "' is not an integration Resource (write " ..
      "arn:aws:states:::SERVICE:ACTION or arn:aws:states:::aws-sdk:SERVICE:ACTION; a Lua " ..
      "handler is registered with engine:register)"
  end
  if info.pattern ~= "" then
    return nil, "'" .. pattern .. "' names the pattern '" .. info.pattern .. "': register the " ..
      "integration without it (the engine handles request-response, .sync and .waitForTaskToken)"
  end
  return info.service, info.action
end

--- Checks an integration table; returns it, or nil and a message.
function M.check(spec, pattern)
  if type(spec) ~= "table" then
    return nil, "integration '" .. tostring(pattern) .. "' must be a table, got " .. type(spec)
  end
  for k, v in pairs(spec) do
    local want = FIELDS[k]
    if not want then
      return nil, "integration '" .. pattern .. "': unknown field '" .. tostring(k) ..
        "' (fields: call, start, poll, poll_interval, resume, cancel, error_prefix, service_name)"
    end
    if type(v) ~= want then
      return nil, "integration '" .. pattern .. "': " .. k .. " must be a " .. want .. ", got " ..
        type(v)
    end
  end
  if not spec.call and not spec.start then
    return nil, "integration '" .. pattern .. "' needs call(params, ctx) (request-response, " ..
      ".waitForTaskToken) or start(params, ctx) (.sync)"
  end
  if spec.poll_interval and spec.poll_interval <= 0 then
    return nil, "integration '" .. pattern .. "': poll_interval must be > 0"
  end
  return spec
end

--- Registers `spec` for `pattern`. Returns true, or nil and a message.
function Registry:register(pattern, spec)
  local service, action = M.parse_pattern(pattern)
  if not service then return nil, "integration: " .. action end
  local ok, err = M.check(spec, pattern)
  if not ok then return nil, "integration: " .. err end
  self.by_key[resource.key(service, action)] = spec
  self.version = self.version + 1
  return true
end

--- The integration for a parsed Resource (kind "service"): the one
-- registered for its service and action, else for its service and `*`;
-- nil when none.
function Registry:find(info)
  local by = self.by_key
  return by[resource.key(info.service, info.action)] or by[resource.key(info.service, "*")]
end

--- The patterns an integration serves: whether it can run `pattern`
-- ("" and .waitForTaskToken need call, .sync and .sync:2 need start).
function M.serves(spec, pattern)
  if pattern == ".sync" or pattern == ".sync:2" then return spec.start ~= nil end
  return spec.call ~= nil
end

return M
