--- Task handlers: finding a handler for a Resource, calling it as a
-- coroutine, and AWS's Lambda conventions (function ARNs, lambda:invoke's
-- result wrapper).
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local parse = require("stepflow.integrations.resource").parse

local M = {}

local array_mt = json.array_mt
local null = json.null

--- Splits a Resource into its base and its integration pattern suffix
-- ("", ".sync", ".sync:2" or ".waitForTaskToken").
function M.pattern(resource)
  local info = parse(resource)
  if not info or info.pattern == "" then return resource, "" end
  return resource:sub(1, #resource - #info.pattern), info.pattern
end

--- The function name of a Lambda function ARN, partial ARN or name
-- (`arn:aws:lambda:r:a:function:NAME[:QUALIFIER]`, `NAME[:QUALIFIER]`).
function M.function_name(text)
  if type(text) ~= "string" then return nil end
  local name = text:match(":function:([^:]+)")
  if name then return name end
  return text:match("^([^:]+)")
end

--- Describes how a Resource is called: the parse of
-- stepflow.integrations.resource, with `kind` one of "lambda" (a function
-- ARN), "lambda_invoke" (arn:aws:states:::lambda:invoke), "service" (another
-- integration), "activity" or "handler" (a name), and `name`, the handler
-- name it is looked up by. A Resource that does not parse (validation
-- refuses it) is described as a handler name.
function M.describe(resource)
  local info = parse(resource)
  if not info then
    return { text = resource, kind = "handler", pattern = "", base = resource, name = resource,
      resource_type = "lua", resource = resource }
  end
  if info.kind == "service" and info.service == "lambda" and info.action == "invoke" then
    info.kind = "lambda_invoke"
  end
  if info.kind == "lambda" then
    info.name = info.function_name
  else
    info.name = info.base
  end
  return info
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
    "ResourceNotFoundException; Request ID: " .. (engine and engine:_uuid() or "unknown") ..
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
  if not fn and info.pattern ~= "" then
    -- an exported ARN's handler may be registered under its own text
    fn = registry[resource:sub(1, #resource - #info.pattern)]
  end
  if fn then return fn end
  return nil, errors.new("States.TaskFailed",
    "stepflow: no handler for Resource '" .. resource .. "'; register one " ..
    "(engine:register(name, fn) or --handlers FILE with a function named '" ..
    (info.activity or info.name or resource) .. "')")
end

---------------------------------------------------------------- workers

-- A worker coroutine runs one function after another (a handler, an
-- integration's call, start or poll): it yields DONE with the function's
-- results, and is resumed with the next function.
local DONE = setmetatable({}, { __name = "stepflow.handler_done" })
M.DONE = DONE

local coyield = coroutine.yield

local function worker(fn, input, ctx)
  while true do
    fn, input, ctx = coyield(DONE, fn(input, ctx))
  end
end

--- A worker coroutine from the engine's pool (or a new one). A worker
-- that ended its function goes back with `give_back`.
function M.take_worker(pool)
  local n = #pool
  if n > 0 then
    local co = pool[n]
    pool[n] = nil
    return co
  end
  return coroutine.create(worker)
end

--- Returns a worker whose function returned to the pool.
function M.give_back(pool, co)
  pool[#pool + 1] = co
end

-- Whether a handler takes a ctx (a second parameter, or varargs; C
-- functions are assumed to): one that does not cannot wait (ctx.sleep and
-- ctx.await are the only ways), so it runs without a worker coroutine.
local takes_ctx = setmetatable({}, { __mode = "k" })
function M.uses_ctx(fn)
  local v = takes_ctx[fn]
  if v == nil then
    local info = debug.getinfo(fn, "u")
    v = info.isvararg or info.nparams >= 2
    takes_ctx[fn] = v
  end
  return v
end

---------------------------------------------------------------- ctx

-- The key of a ctx's call (the Task attempt it belongs to).
local CALL = setmetatable({}, { __name = "stepflow.ctx_call" })
M.CALL = CALL

-- ctx's functions and context are made when a handler first uses them,
-- so a plain handler costs one table. The call provides: engine, frame,
-- task (its info), heartbeat(), complete_job(ok, value), service_error(opts).
local ctx_mt = {
  __index = function(ctx, k)
    local call = rawget(ctx, CALL)
    local v
    if k == "heartbeat" then
      v = function()
        call:heartbeat()
        return true
      end
    elseif k == "await" then
      v = function(fn) return coyield(fn) end
    elseif k == "sleep" then
      local engine, frame = call.engine, call.frame
      v = function(sec)
        return coyield(function(resume) engine:_after(sec * 1000, frame, resume) end)
      end
    elseif k == "context" then
      v = call.frame:context_of()
    elseif k == "execution_id" then
      v = call.frame.exec.arn
    elseif k == "execution_name" then
      v = call.frame.exec.name
    elseif k == "pattern" or k == "service" or k == "action" or k == "sdk_service" then
      v = call.task.info[k]
    elseif k == "region" then
      v = call.task.info.region or call.engine.region
    elseif k == "account" then
      v = call.task.info.account or call.engine.account
    elseif k == "error" then
      -- ctx.error(code, message[, status | {status=, exception=}]) -> an
      -- ASL error value named as AWS names the service's errors
      v = function(code, message, opts)
        if type(opts) ~= "table" then opts = { status = opts } end
        return call:service_error({ code = code, message = message, status = opts.status,
          exception = opts.exception, request_id = opts.request_id })
      end
    elseif k == "complete" then
      -- ctx.complete(result) / ctx.complete(nil, err): a .sync job ended
      v = function(result, err)
        if err ~= nil then return call:complete_job(false, errors.from(err)) end
        return call:complete_job(true, result)
      end
    elseif k == "attempt_id" then
      -- names this attempt of this Task, the same after a restart
      -- (a child execution's name, an idempotency token)
      local frame = call.frame
      v = frame.exec.arn .. "|" .. frame.key .. "|" .. tostring(frame.entered_id) .. "#" ..
        tostring(frame.retry_count or 0)
    elseif k == "on_end" then
      -- ctx.on_end(fn): fn() runs when this attempt ends, whatever ends
      -- it (a timeout while an HTTP request is in flight cancels it)
      v = function(fn) call:on_end(fn) end
    elseif k == "request_id" then
      v = function() return call.engine:_uuid() end
    else
      return nil
    end
    rawset(ctx, k, v)
    return v
  end,
}

--- The ctx of a call: the fields every handler may read, the rest made
-- on first use (see ctx_mt).
function M.make_ctx(call, exec, task)
  return setmetatable({
    state_name = task.st.name, state_machine_id = exec.machine.arn, resource = task.resource,
    task_token = call.token or nil, function_name = call.function_name or nil,
    engine = call.engine, [CALL] = call,
  }, ctx_mt)
end

---------------------------------------------------------------- inputs

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
  return engine:_uuid()
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

--- Loads a handlers file: a Lua chunk returning a table name -> function
-- (a handler), or Resource pattern -> table (an integration, see
-- stepflow.integrations.registry). Returns the table, or nil, message.
function M.load_file(path)
  local chunk, err = loadfile(path)
  if not chunk then return nil, "handlers: " .. err end
  local ok, t = pcall(chunk)
  if not ok then return nil, "handlers: " .. path .. ": " .. tostring(t) end
  if type(t) ~= "table" then
    return nil, "handlers: " .. path .. " must return a table of functions, got " .. type(t)
  end
  for k, v in pairs(t) do
    if type(k) ~= "string" or (type(v) ~= "function" and type(v) ~= "table") then
      return nil, "handlers: " .. path .. ": entry " .. tostring(k) ..
        " is not a function (a handlers file returns {name = function(input, ctx) ... end}, " ..
        "and integrations as {[Resource pattern] = {call = ..., start = ..., poll = ...}})"
    end
  end
  return t
end

return M
