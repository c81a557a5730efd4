--- Task handlers: finding a handler for a Resource, calling it as a
-- coroutine, and AWS's Lambda conventions (function ARNs, lambda:invoke's
-- result wrapper).
local json = require("stepflow.json")
local errors = require("stepflow.errors")

local M = {}

local array_mt = json.array_mt
local null = json.null

--- Splits a Resource into its base and its integration pattern suffix
-- ("", ".sync", ".sync:2" or ".waitForTaskToken").
function M.pattern(resource)
  local base, suffix = resource:match("^(.-)(%.waitForTaskToken)$")
  if base then return base, suffix end
  base, suffix = resource:match("^(arn:aws:states:::.-)(%.sync:?%d*)$")
  if base then return base, suffix end
  return resource, ""
end

--- The function name of a Lambda function ARN, partial ARN or name
-- (`arn:aws:lambda:r:a:function:NAME[:QUALIFIER]`, `NAME[:QUALIFIER]`).
function M.function_name(text)
  if type(text) ~= "string" then return nil end
  local name = text:match(":function:([^:]+)")
  if name then return name end
  return text:match("^([^:]+)")
end

--- Describes how a Resource is called. Returns a table
-- {kind = "lambda" | "lambda_invoke" | "plain", name = handler name,
--  pattern = suffix, resource_type = ..., resource = ...}.
function M.describe(resource)
  local base, pattern = M.pattern(resource)
  if base == "arn:aws:states:::lambda:invoke" then
    return { kind = "lambda_invoke", pattern = pattern, resource_type = "lambda",
      resource = "invoke" .. pattern }
  end
  local fname = base:match("^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)")
  if fname then
    return { kind = "lambda", name = fname, pattern = pattern }
  end
  local service, action = base:match("^arn:aws:states:::([^:]+):(.+)$")
  if service then
    return { kind = "plain", pattern = pattern, resource_type = service,
      resource = action .. pattern, name = base }
  end
  local activity = base:match("^arn:aws:states:[^:]*:[^:]*:activity:(.+)$")
  return { kind = "plain", pattern = pattern, resource_type = activity and "activity" or "lua",
    resource = resource, name = base, activity = activity }
end

-- AWS's cause when Lambda has no such function: the qualified ARN of the
-- function it looked for ($LATEST when none is named).
local function not_found(engine, text)
  local arn = type(text) == "string" and text or tostring(text)
  if not arn:match("^arn:") then
    local region = engine and engine.region or "us-east-1"
    local account = engine and engine.account or "123456789012"
    arn = "arn:aws:lambda:" .. region .. ":" .. account .. ":function:" .. arn
  end
  if not arn:match(":function:[^:]+:[^:]+$") then arn = arn .. ":$LATEST" end
  return errors.new("Lambda.ResourceNotFoundException",
    "Function not found: " .. arn .. " (Service: AWSLambda; Status Code: 404; Error Code: " ..
    "ResourceNotFoundException; Request ID: " .. (engine and engine:uuid() or "unknown") ..
    "; Proxy: null)")
end

--- Finds the handler function for a Task. `registry` maps names to
-- functions. Returns fn, function_name or nil, error value. `engine`
-- (optional) gives the region and account of AWS's not-found cause.
function M.find(registry, resource, info, payload, engine)
  local fn = registry[resource]
  if fn then return fn end
  if info.kind == "lambda" then
    fn = registry[info.name]
    if fn then return fn, info.name end
    return nil, not_found(engine, (M.pattern(resource)))
  end
  if info.kind == "lambda_invoke" then
    local fname = type(payload) == "table" and M.function_name(payload.FunctionName)
    fn = fname and registry[fname]
    if fn then return fn, fname end
    local given = type(payload) == "table" and payload.FunctionName
    return nil, not_found(engine, type(given) == "string" and given or tostring(fname))
  end
  fn = registry[info.name] or (info.activity and registry[info.activity])
  if fn then return fn end
  return nil, errors.new("States.TaskFailed",
    "stepflow: no handler for Resource '" .. resource .. "'; register one " ..
    "(engine:register(name, fn) or --handlers FILE with a function named '" ..
    (info.activity or info.name or resource) .. "')")
end

--- A deep copy of a JSON value, so a handler that changes its input never
-- changes the execution's data.
local copy = json.deep_copy
M.copy = copy

--- The handler's input for a Task: lambda:invoke passes Payload; a null or
-- absent Payload reaches the function as `{}` (Invoke is sent without a
-- body). A function ARN Resource sends the state's input as it is, so a
-- null input reaches the function as null.
function M.handler_input(info, effective)
  local input = effective
  if info.kind == "lambda_invoke" then
    input = type(effective) == "table" and effective.Payload or nil
    -- A string Payload is the request body itself: JSON text.
    if type(input) == "string" then
      local ok, v = pcall(json.decode, input)
      if ok then input = v end
    end
  end
  if info.kind == "lambda_invoke" and (input == nil or input == null) then
    return {}
  end
  return copy(input)
end

local function request_id(engine)
  return engine:uuid()
end

--- Wraps a handler result as lambda:invoke returns it.
function M.wrap_invoke(engine, result, effective)
  local rid = request_id(engine)
  local headers = {
    Connection = "keep-alive", ["Content-Type"] = "application/json",
    ["X-Amz-Executed-Version"] = "$LATEST", ["x-amzn-Remapped-Content-Length"] = "0",
    ["x-amzn-RequestId"] = rid,
  }
  local all = {}
  for k, v in pairs(headers) do all[k] = setmetatable({ v }, array_mt) end
  local out = {
    ExecutedVersion = "$LATEST",
    Payload = result,
    SdkHttpMetadata = { AllHttpHeaders = all, HttpHeaders = headers, HttpStatusCode = 200 },
    SdkResponseMetadata = { RequestId = rid },
    StatusCode = 200,
  }
  if type(effective) == "table" and effective.LogType == "Tail" then
    out.LogResult = ""
  end
  return out
end

--- Loads a handlers file: a Lua chunk returning a table name -> function.
-- Returns the table, or nil, message.
function M.load_file(path)
  local chunk, err = loadfile(path)
  if not chunk then return nil, "handlers: " .. err end
  local ok, t = pcall(chunk)
  if not ok then return nil, "handlers: " .. path .. ": " .. tostring(t) end
  if type(t) ~= "table" then
    return nil, "handlers: " .. path .. " must return a table of functions, got " .. type(t)
  end
  for k, v in pairs(t) do
    if type(k) ~= "string" or type(v) ~= "function" then
      return nil, "handlers: " .. path .. ": entry " .. tostring(k) ..
        " is not a function (a handlers file returns {name = function(input, ctx) ... end})"
    end
  end
  return t
end

return M
