--- The HTTP Task, arn:aws:states:::http:invoke, on the C core's HTTP
-- client (libevent's evhttp; https with OpenSSL): the request is built
-- from the Task's parameters and its connection, sent without blocking,
-- and its response becomes {Headers, ResponseBody, StatusCode,
-- StatusText}. A status outside 2xx fails the task with
-- States.Http.StatusCode.NNN (the response as cause), a transport failure
-- or the 60 s limit with States.Http.Socket.
--
-- Parameters: ApiEndpoint, Method, Authentication.ConnectionArn (a
-- connection of engine:use_connections / --connections FILE), Headers,
-- QueryParameters, RequestBody, Transform {RequestBodyEncoding =
-- "URL_ENCODED", RequestEncodingOptions = {ArrayFormat = INDICES | REPEAT
-- | COMMAS | BRACKETS}}.
local json = require("stepflow.json")
local errors = require("stepflow.errors")

local M = {}

--- Seconds an HTTP Task waits for its response, as on AWS.
M.TIMEOUT = 60

local METHODS = { GET = true, POST = true, PUT = true, DELETE = true, PATCH = true, HEAD = true,
  OPTIONS = true }

-- Headers a definition may not set (AWS refuses them; the connection or
-- the engine sets some).
local FORBIDDEN = {}
for _, h in ipairs({ "a-im", "accept-charset", "accept-datetime", "accept-encoding", "authorization",
  "cache-control", "connection", "content-encoding", "content-md5", "date", "expect", "forwarded",
  "from", "host", "http2-settings", "if-match", "if-modified-since", "if-none-match", "if-range",
  "if-unmodified-since", "max-forwards", "origin", "pragma", "proxy-authorization", "referer",
  "server", "te", "trailer", "transfer-encoding", "upgrade", "via", "warning" }) do
  FORBIDDEN[h] = true
end

local function forbidden(name)
  local l = name:lower()
  return FORBIDDEN[l] or l:find("^x%-forwarded%-") or l:find("^x%-amz%-") or l:find("^x%-amzn%-")
end

local function runtime(message)
  return errors.new(errors.Runtime, message)
end

local function is_object(v) return type(v) == "table" and not json.is_array(v) end

---------------------------------------------------------------- encoding

--- Percent-encodes text for a URL query or form (unreserved characters stay).
function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end
local escape = M.escape

local function scalar(v)
  if v == json.null then return "null" end
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

-- (the keys of a JSON object, sorted: a stable order)
local sorted_keys = require("stepflow.asl.validate.util").sorted_keys

-- Appends the pairs of `value` under `prefix` to `out` as form fields,
-- arrays by `format`.
local function form_pairs(out, prefix, value, format)
  if json.is_array(value) then
    if format == "COMMAS" then
      local parts = {}
      for i, v in ipairs(value) do parts[i] = scalar(v) end
      out[#out + 1] = escape(prefix) .. "=" .. escape(table.concat(parts, ","))
      return
    end
    for i, v in ipairs(value) do
      local key = format == "REPEAT" and prefix or format == "BRACKETS" and (prefix .. "[]")
        or (prefix .. "[" .. (i - 1) .. "]")
      form_pairs(out, key, v, format)
    end
  elseif is_object(value) then
    for _, k in ipairs(sorted_keys(value)) do form_pairs(out, prefix .. "[" .. k .. "]", value[k], format) end
  else
    out[#out + 1] = escape(prefix) .. "=" .. escape(scalar(value))
  end
end

--- URL-encodes an object (the Transform of a RequestBody): nested objects
-- as key[sub]=v, arrays by ArrayFormat (INDICES key[0]=a, REPEAT key=a,
-- BRACKETS key[]=a, COMMAS key=a,b).
function M.form_encode(obj, format)
  local out = {}
  for _, k in ipairs(sorted_keys(obj)) do form_pairs(out, k, obj[k], format or "INDICES") end
  return table.concat(out, "&")
end

-- (the one base64 of the tree, States.Base64Encode's too)
local base64 = require("stepflow.util.digest").base64_encode
M.base64 = base64

---------------------------------------------------------------- requests

-- Adds {Key, Value} parameters to a name -> value table (they win).
local function merge_params(into, list)
  for _, p in ipairs(list or {}) do into[p.Key] = p.Value end
end

local function query_string(q)
  local parts = {}
  for _, k in ipairs(sorted_keys(q)) do
    local v = q[k]
    if json.is_array(v) then
      for _, x in ipairs(v) do parts[#parts + 1] = escape(k) .. "=" .. escape(scalar(x)) end
    else
      parts[#parts + 1] = escape(k) .. "=" .. escape(scalar(v))
    end
  end
  return table.concat(parts, "&")
end

--- Builds the request of an HTTP Task from its parameters and
-- connection (nil when the Task names none): {method, url, headers =
-- {{name, value}, ...}, body}, or nil and the ASL error.
function M.build(params, conn, region)
  if not is_object(params) then return nil, runtime("The HTTP Task needs Parameters (or Arguments) " ..
    "with ApiEndpoint and Method") end
  local url, method = params.ApiEndpoint, params.Method
  if type(url) ~= "string" or not url:find("^https?://[^/]") then
    return nil, runtime("The HTTP Task's ApiEndpoint must be an http:// or https:// URL, got " ..
      json.encode(url == nil and json.null or url))
  end
  if type(method) ~= "string" or not METHODS[method:upper()] then
    return nil, runtime("The HTTP Task's Method must be one of GET, POST, PUT, DELETE, PATCH, " ..
      "HEAD, OPTIONS, got " .. json.encode(method == nil and json.null or method))
  end
  method = method:upper()
  local headers = {}
  if params.Headers ~= nil then
    if not is_object(params.Headers) then return nil, runtime("The HTTP Task's Headers must be an object") end
    for k, v in pairs(params.Headers) do
      if forbidden(k) then
        return nil, runtime("The HTTP Task cannot set the header '" .. k .. "'")
      end
      headers[k] = scalar(v)
    end
  end
  local query = {}
  if params.QueryParameters ~= nil then
    if not is_object(params.QueryParameters) then
      return nil, runtime("The HTTP Task's QueryParameters must be an object")
    end
    for k, v in pairs(params.QueryParameters) do query[k] = v end
  end
  local body = params.RequestBody
  local transform = params.Transform
  local encoding, array_format = "NONE", "INDICES"
  if transform ~= nil then
    if not is_object(transform) then return nil, runtime("The HTTP Task's Transform must be an object") end
    encoding = transform.RequestBodyEncoding or "NONE"
    local opts = transform.RequestEncodingOptions
    array_format = is_object(opts) and opts.ArrayFormat or "INDICES"
    if encoding ~= "NONE" and encoding ~= "URL_ENCODED" then
      return nil, runtime("Transform.RequestBodyEncoding must be NONE or URL_ENCODED, got " .. tostring(encoding))
    end
    if array_format ~= "INDICES" and array_format ~= "REPEAT" and array_format ~= "COMMAS"
        and array_format ~= "BRACKETS" then
      return nil, runtime("Transform.RequestEncodingOptions.ArrayFormat must be INDICES, REPEAT, " ..
        "COMMAS or BRACKETS, got " .. tostring(array_format))
    end
  end
  if conn then
    local inv = conn.invocation
    for _, p in ipairs(inv.headers) do headers[p.Key] = scalar(p.Value) end
    merge_params(query, inv.query)
    if #inv.body > 0 then
      if body ~= nil and not is_object(body) then
        return nil, runtime("The connection's body parameters need an object RequestBody")
      end
      local merged = {}
      for k, v in pairs(body or {}) do merged[k] = v end
      merge_params(merged, inv.body)
      body = merged
    end
    if conn.kind == "API_KEY" then
      headers[conn.key_name] = conn.key_value
    elseif conn.kind == "BASIC" then
      headers.Authorization = "Basic " .. base64(conn.username .. ":" .. conn.password)
    end
  end
  local qs = query_string(query)
  if qs ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. qs end
  local text
  local function set_type(v)
    for k in pairs(headers) do if k:lower() == "content-type" then return end end
    headers["Content-Type"] = v
  end
  if body ~= nil then
    if encoding == "URL_ENCODED" then
      if not is_object(body) then
        return nil, runtime("A URL_ENCODED RequestBody must be an object")
      end
      text = M.form_encode(body, array_format)
      set_type("application/x-www-form-urlencoded")
    elseif type(body) == "string" then
      text = body
      set_type("application/json; charset=UTF-8")
    else
      text = json.encode(body)
      set_type("application/json; charset=UTF-8")
    end
  end
  headers["User-Agent"] = "Amazon|StepFunctions|HttpInvoke|" .. tostring(region)
  headers.Range = "bytes=0-262144"
  local list = {}
  for _, k in ipairs(sorted_keys(headers)) do list[#list + 1] = { k, headers[k] } end
  return { method = method, url = url, headers = list, body = text }
end

--- The Task's result from a response: {Headers = {name = {values}},
-- ResponseBody (decoded JSON when the response says JSON), StatusCode,
-- StatusText}.
function M.result(res)
  local headers, ctype = {}, ""
  for _, h in ipairs(res.headers or {}) do
    local list = headers[h[1]]
    if not list then
      list = json.array({})
      headers[h[1]] = list
    end
    list[#list + 1] = h[2]
    if h[1]:lower() == "content-type" then ctype = h[2]:lower() end
  end
  local body = res.body or ""
  local decoded = body
  if ctype:find("json", 1, true) and body ~= "" then
    local v = json.try_decode(body)
    if v ~= nil then decoded = v end
  end
  return { Headers = headers, ResponseBody = decoded, StatusCode = res.status,
    StatusText = res.reason or "" }
end

-- Sends a request on the engine's HTTP client and waits (ctx.await) for
-- its response table.
local function send(ctx, req)
  req.timeout_ms = (ctx.engine.http_timeout or M.TIMEOUT) * 1000
  return ctx.await(function(resume)
    local handle = ctx.engine:_http_client():request(req, resume)
    -- a task that ends first (TimeoutSeconds) drops its request
    ctx.on_end(function() handle:cancel() end)
  end)
end

local function socket_error(res)
  return errors.new("States.Http.Socket", res.message or res.error or "the HTTP request failed")
end

-- An OAuth client-credentials token for a connection (kept until it
-- expires).
local function oauth_token(ctx, conn, connections)
  local now = ctx.engine.loop:now()
  local cached = connections.tokens[conn.name]
  if cached and cached.expires > now then return cached.token end
  local o = conn.oauth
  local fields = { grant_type = "client_credentials" }
  merge_params(fields, o.params.body)
  local query = {}
  merge_params(query, o.params.query)
  local url = o.endpoint
  local qs = query_string(query)
  if qs ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. qs end
  local headers = { { "Authorization", "Basic " .. base64(o.client_id .. ":" .. o.client_secret) },
    { "Content-Type", "application/x-www-form-urlencoded" } }
  for _, p in ipairs(o.params.headers) do headers[#headers + 1] = { p.Key, scalar(p.Value) } end
  local res = send(ctx, { method = o.method, url = url, headers = headers,
    body = M.form_encode(fields) })
  local token
  if not res.error and res.status >= 200 and res.status < 300 then
    local v = json.try_decode(res.body or "")
    token = type(v) == "table" and type(v.access_token) == "string" and v.access_token
    if token then
      local ttl = type(v.expires_in) == "number" and v.expires_in or 3600
      connections.tokens[conn.name] = { token = token, expires = now + ttl * 1000 - 5000 }
    end
  end
  if not token then
    error(errors.new("Events.ConnectionResource.InvalidConnectionState", "The OAuth token request " ..
      "of connection '" .. conn.name .. "' to " .. o.endpoint .. " failed (" ..
      (res.error and (res.message or res.error) or ("status " .. tostring(res.status))) .. ")"), 0)
  end
  return token
end

--- The http:invoke integration.
M.invoke = {
  call = function(params, ctx)
    local engine = ctx.engine
    local conn
    local auth = type(params) == "table" and params.Authentication or nil
    local arn = type(auth) == "table" and auth.ConnectionArn or nil
    if is_object(params) and type(arn) ~= "string" then
      -- AWS requires a connection on every HTTP Task
      error(runtime("The HTTP Task needs Authentication.ConnectionArn (a connection: engine:use_connections " ..
        "or --connections FILE), got Authentication " .. json.encode(auth == nil and json.null or auth)), 0)
    end
    if arn ~= nil then
      local connections = engine.connections
      conn = connections and connections:find(arn)
      if not conn then
        error(errors.new("Events.ConnectionResource.ResourceNotFound", "Connection '" ..
          tostring(arn) .. "' does not exist" .. (connections and (" in " .. connections.source) or
          " (no connections: give them with engine:use_connections or --connections FILE)")), 0)
      end
    end
    local req, err = M.build(params, conn, ctx.region)
    if not req then error(err, 0) end
    if conn and conn.kind == "OAUTH_CLIENT_CREDENTIALS" then
      table.insert(req.headers, { "Authorization", "Bearer " .. oauth_token(ctx, conn, engine.connections) })
    end
    local res = send(ctx, req)
    if res.error then error(socket_error(res), 0) end
    local result = M.result(res)
    if res.status < 200 or res.status > 299 then
      error(errors.new("States.Http.StatusCode." .. res.status, json.encode(result)), 0)
    end
    return result
  end,
}

return M
