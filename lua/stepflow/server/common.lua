--- What the operation groups of the server share: ARNs, AWS's name rules,
-- paging tokens, dates.
local json = require("stepflow.json")
local b64 = require("stepflow.util.digest")

local M = {}

--- Epoch seconds (what JSON 1.0 timestamps are) from ms.
function M.date(ms)
  if ms == nil then return nil end
  return ms / 1000
end

-- ARN resource types the API takes, by the operations' needs.
local ARN_PATTERN = "^arn:([%w%-]+):states:([%w%-]*):(%d*):(%a+):(.*)$"

--- Parses a Step Functions ARN: `{partition, region, account, type,
-- resource}`, or nil and AWS's reason (InvalidArn's message).
function M.parse_arn(arn)
  if type(arn) ~= "string" or arn:sub(1, 4) ~= "arn:" then
    return nil, "Invalid Arn: 'Invalid ARN prefix: " .. tostring(arn) .. "'"
  end
  local partition, region, account, rtype, resource = arn:match(ARN_PATTERN)
  if not partition or resource == "" then
    return nil, "Invalid Arn: 'Resource type not valid in this context: " .. arn .. "'"
  end
  return { partition = partition, region = region, account = account, type = rtype,
    resource = resource }
end

--- Checks a state machine ARN (unqualified, or with a version or alias):
-- the ARN without its qualifier and the qualifier, or nil, "InvalidArn",
-- message.
function M.state_machine_arn(arn)
  local p, why = M.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  if p.type ~= "stateMachine" then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  local name, qualifier = p.resource:match("^([^:]+):([^:]+)$")
  if name then return arn:sub(1, #arn - #qualifier - 1), qualifier end
  if p.resource:find(":", 1, true) then
    return nil, "InvalidArn", "Invalid Arn: 'Invalid ARN resource: " .. arn .. "'"
  end
  return arn, nil
end

--- Checks an execution ARN of a STANDARD execution: true, or nil,
-- "InvalidArn", message (EXPRESS executions are not kept, as on AWS).
function M.execution_arn(arn)
  local p, why = M.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  if p.type ~= "execution" or not p.resource:find("^[^:]+:[^:]+$") then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  return true
end

-- Characters AWS refuses in names: white space, brackets, wildcards, the
-- specials " # % \ ^ | ~ ` $ & , ; : / and control characters.
local BAD_ASCII = "[%s<>{}%[%]%?%*\"#%%\\%^|~`%$&,;:/%c]"

--- Checks a state machine or execution name by AWS's rules (length is
-- the model's: 1..80): true, or nil, "InvalidName", message.
function M.check_name(name, what)
  local bad = name:find(BAD_ASCII)
  if not bad and name:find("[\128-\255]") then
    -- U+007F-009F, U+FFFE-FFFF and surrogates are refused too
    for _, c in utf8.codes(name, true) do
      if (c >= 0x7f and c <= 0x9f) or c == 0xfffe or c == 0xffff or (c >= 0xd800 and c <= 0xdfff) then
        bad = true
        break
      end
    end
  end
  if bad then return nil, "InvalidName", "Invalid Name: '" .. name .. "'" .. (what and (" (" .. what .. ")") or "") end
  return true
end

--- A nextToken carrying `value` (a JSON value) for lists of `kind`.
function M.token(kind, value)
  return b64.base64_encode(json.encode({ k = kind, v = value }))
end

--- The value of a nextToken made by M.token for `kind`, or nil,
-- "InvalidToken", message.
function M.read_token(token, kind)
  local ok, t = pcall(function() return json.decode(b64.base64_decode(token)) end)
  if not ok or type(t) ~= "table" or t.k ~= kind or t.v == nil then
    return nil, "InvalidToken", "Invalid Token: '" .. token .. "'"
  end
  return t.v
end

--- Where a page starts (1-based) from its nextToken, or nil and the
-- error; 1 without a token.
function M.page_start(input, kind)
  if input.nextToken == nil then return 1 end
  local o, code, message = M.read_token(input.nextToken, kind)
  if o == nil then return nil, code, message end
  if math.type(o) ~= "integer" or o < 1 then
    return nil, "InvalidToken", "Invalid Token: '" .. input.nextToken .. "'"
  end
  return o
end

--- The page size a request asks for (0 or absent: 100).
function M.page_size(input)
  local n = input.maxResults
  if n == nil or n == 0 then return 100 end
  return n
end

--- One page of a list: items from a nextToken (made by this function for
-- the same `kind` of list) or the start, at most maxResults (0 or nil:
-- the default 100). Returns the page and the next token (nil at the end),
-- or nil, "InvalidToken", message.
function M.page(list, input, kind)
  local start, code, message = M.page_start(input, kind)
  if not start then return nil, code, message end
  local n = M.page_size(input)
  local page = {}
  for i = start, math.min(#list, start + n - 1) do page[#page + 1] = list[i] end
  local next_token
  if start + n <= #list then next_token = M.token(kind, start + n) end
  return json.array(page), next_token
end


--- nil, "InvalidDefinition", and its message: every validation problem
-- ({path, message, code}), as AWS lists them ("CODE: message at
-- /pointer", joined by ", ").
function M.invalid_definition(problems)
  local parts = {}
  for i, p in ipairs(problems) do
    parts[i] = (p.code or "SCHEMA_VALIDATION_FAILED") .. ": " .. p.message .. " at " .. (p.path == "" and "/" or p.path)
  end
  return nil, "InvalidDefinition", "Invalid State Machine Definition: '" .. table.concat(parts, ", ") .. "'"
end

return M
