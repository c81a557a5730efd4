--- The HTTP Task's connections: what an EventBridge connection holds on
-- AWS (its authorization and invocation parameters), kept in a local JSON
-- file in the shape of EventBridge's CreateConnection request:
--
--   {"Connections": {
--     "<connection ARN or name>": {
--       "AuthorizationType": "API_KEY" | "BASIC" | "OAUTH_CLIENT_CREDENTIALS",
--       "AuthParameters": {
--         "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "..."},
--         "BasicAuthParameters": {"Username": "...", "Password": "..."},
--         "OAuthParameters": {"AuthorizationEndpoint": "https://...", "HttpMethod": "POST",
--           "ClientParameters": {"ClientID": "...", "ClientSecret": "..."},
--           "OAuthHttpParameters": {<as InvocationHttpParameters>}},
--         "InvocationHttpParameters": {"HeaderParameters": [{"Key": "...", "Value": "..."}],
--           "QueryStringParameters": [...], "BodyParameters": [...]}}}}}
--
-- A ConnectionArn finds its entry by the whole ARN, else by the
-- connection's name (arn:aws:events:REGION:ACCOUNT:connection/NAME/ID).
local json = require("stepflow.json")

local M = {}

local Connections = {}
Connections.__index = Connections
Connections.__name = "stepflow.Connections"

local function is_object(v) return type(v) == "table" and not json.is_array(v) end

local function ptr(...)
  local parts = {}
  for i, p in ipairs({ ... }) do parts[i] = (tostring(p):gsub("~", "~0"):gsub("/", "~1")) end
  return "/" .. table.concat(parts, "/")
end

-- Checks a list of {Key, Value} parameters; returns it (or {}), adding
-- problems.
local function params_list(v, where, problems)
  if v == nil then return {} end
  if not json.is_array(v) and not (type(v) == "table" and next(v) == nil) then
    problems[#problems + 1] = where .. ": must be a list of {\"Key\": ..., \"Value\": ...}"
    return {}
  end
  for i, p in ipairs(v) do
    if not is_object(p) or type(p.Key) ~= "string" or p.Value == nil then
      problems[#problems + 1] = where .. "/" .. (i - 1) .. ": needs Key (a string) and Value"
    end
  end
  return v
end

local function http_params(v, where, problems)
  if v == nil then return { headers = {}, query = {}, body = {} } end
  if not is_object(v) then
    problems[#problems + 1] = where .. ": must be an object with HeaderParameters, " ..
      "QueryStringParameters, BodyParameters"
    return { headers = {}, query = {}, body = {} }
  end
  return {
    headers = params_list(v.HeaderParameters, where .. "/HeaderParameters", problems),
    query = params_list(v.QueryStringParameters, where .. "/QueryStringParameters", problems),
    body = params_list(v.BodyParameters, where .. "/BodyParameters", problems),
  }
end

local function need_strings(t, where, names, problems)
  if not is_object(t) then
    problems[#problems + 1] = where .. ": is required (an object with " .. table.concat(names, ", ") .. ")"
    return false
  end
  local ok = true
  for _, n in ipairs(names) do
    if type(t[n]) ~= "string" then
      problems[#problems + 1] = where .. "/" .. n .. ": must be a string"
      ok = false
    end
  end
  return ok
end

-- Compiles one connection entry.
local function compile(name, c, problems)
  local where = ptr("Connections", name)
  if not is_object(c) then
    problems[#problems + 1] = where .. ": must be an object with AuthorizationType and AuthParameters"
    return nil
  end
  local kind = c.AuthorizationType
  local p = c.AuthParameters
  if not is_object(p) then
    problems[#problems + 1] = where .. "/AuthParameters: is required"
    return nil
  end
  local conn = { name = name, kind = kind,
    invocation = http_params(p.InvocationHttpParameters, where .. "/AuthParameters/InvocationHttpParameters",
      problems) }
  local ap = where .. "/AuthParameters/"
  if kind == "API_KEY" then
    if need_strings(p.ApiKeyAuthParameters, ap .. "ApiKeyAuthParameters", { "ApiKeyName", "ApiKeyValue" },
        problems) then
      conn.key_name, conn.key_value = p.ApiKeyAuthParameters.ApiKeyName, p.ApiKeyAuthParameters.ApiKeyValue
    end
  elseif kind == "BASIC" then
    if need_strings(p.BasicAuthParameters, ap .. "BasicAuthParameters", { "Username", "Password" },
        problems) then
      conn.username, conn.password = p.BasicAuthParameters.Username, p.BasicAuthParameters.Password
    end
  elseif kind == "OAUTH_CLIENT_CREDENTIALS" then
    local o = p.OAuthParameters
    if need_strings(o, ap .. "OAuthParameters", { "AuthorizationEndpoint", "HttpMethod" }, problems)
        and need_strings(o.ClientParameters, ap .. "OAuthParameters/ClientParameters",
          { "ClientID", "ClientSecret" }, problems) then
      conn.oauth = { endpoint = o.AuthorizationEndpoint, method = o.HttpMethod:upper(),
        client_id = o.ClientParameters.ClientID, client_secret = o.ClientParameters.ClientSecret,
        params = http_params(o.OAuthHttpParameters, ap .. "OAuthParameters/OAuthHttpParameters", problems) }
    end
  else
    problems[#problems + 1] = where .. "/AuthorizationType: must be API_KEY, BASIC or " ..
      "OAUTH_CLIENT_CREDENTIALS, got " .. tostring(kind)
  end
  return conn
end

--- Reads connections: a JSON file path or a decoded table. Returns the
-- connections, or nil and a message naming the place of each mistake.
function M.load(config)
  local source = "connections"
  if type(config) == "string" then
    source = config
    local fh, err = io.open(config, "rb")
    if not fh then return nil, "connections: " .. tostring(err) end
    local text = fh:read("a")
    fh:close()
    local ok, v = pcall(json.decode, text)
    if not ok then return nil, "connections " .. config .. ": " .. tostring(v) end
    config = v
  end
  if getmetatable(config) == Connections then return config end
  local problems = {}
  local by = {}
  if not is_object(config) or not is_object(config.Connections) then
    problems[1] = "/Connections: is required (an object: connection ARN or name -> connection)"
  else
    for name, c in pairs(config.Connections) do by[name] = compile(name, c, problems) end
  end
  if #problems > 0 then
    table.sort(problems)
    return nil, "connections " .. source .. ":\n  " .. table.concat(problems, "\n  ")
  end
  return setmetatable({ by = by, source = source, tokens = {} }, Connections)
end

--- The connection a ConnectionArn names, or nil.
function Connections:find(arn)
  local c = self.by[arn]
  if c then return c end
  local name = type(arn) == "string" and arn:match(":connection/([^/]+)")
  return name and self.by[name] or nil
end

return M
