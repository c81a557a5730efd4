--- stepflow.server: the AWS Step Functions API over HTTP (the AWS JSON
-- 1.0 protocol the SDKs and the AWS CLI speak), served on the engine's own
-- loop.
--
--     local engine = assert(stepflow.new({ store = "flows.db" }))  -- or ":memory:"
--     local server = assert(require("stepflow.server").new(engine, { port = 8083 }))
--     engine:recover()
--     engine:run()   -- until server:close()
--
-- A request is `POST /` with `X-Amz-Target: AWSStepFunctions.<Operation>`
-- and a JSON body; any Host is accepted (the SDKs put `sync-` before the
-- host for StartSyncExecution). Every answer carries x-amzn-RequestId;
-- errors are `{"__type": Code, "message": ...}` with AWS's status. Inputs
-- are checked against the service model before an operation runs.
--
-- Operations come in groups, one module each (M.GROUPS): a module returns
-- `{ operations = { Name = function(server, input, call) ... end } }` and
-- optionally `setup(server)`, called once when the server starts. An
-- operation returns its output table, or nil, code, message[, extra]
-- (extra: members the error carries besides its message, such as
-- resourceName); or it returns `call:later()` and answers afterwards with
-- `call:reply(output)` or `call:reply(nil, code, message[, extra])`.
local json = require("stepflow.json")
local model = require("stepflow.server.model")
local validate = require("stepflow.server.validate")
local machines = require("stepflow.server.machines")
local activities = require("stepflow.server.activities")
local versions = require("stepflow.server.versions")

local M = {}

--- The operation groups; adding a group is adding its module here.
M.GROUPS = {
  "stepflow.server.ops_state_machines",
  "stepflow.server.ops_executions",
  "stepflow.server.ops_activities",
  "stepflow.server.ops_tasks",
  "stepflow.server.ops_versions",
  "stepflow.server.ops_aliases",
  "stepflow.server.ops_tags",
  "stepflow.server.ops_redrive",
  "stepflow.server.ops_map_runs",
  "stepflow.server.ops_validate",
  "stepflow.server.ops_testing",
}

-- HTTP status of the error codes that are not client errors (400).
local STATUS = {
  InternalFailure = 500, ServiceUnavailable = 503,
  MissingAuthenticationTokenException = 403,
}

local encode = json.encoder({ sort = false })
local try_decode = json.try_decode
local TARGET_PREFIX = model.target_prefix .. "."
local CONTENT_TYPE = "application/x-amz-json-1.0"

local Server = {}
Server.__index = Server
Server.__name = "stepflow.Server"

local Call = {}
Call.__index = Call
Call.__name = "stepflow.server.Call"

local LATER = setmetatable({}, { __name = "stepflow.server.later" })

local function answer(req, id, status, body)
  req:respond(status, body, { ["x-amzn-RequestId"] = id, ["Content-Type"] = CONTENT_TYPE })
end

local function error_body(code, message, extra)
  local body = { __type = code, message = message }
  if extra then for k, v in pairs(extra) do body[k] = v end end
  return encode(body)
end

--- Marks the call as answered later (return it from the operation).
function Call.later()
  return LATER
end

--- Answers the call: an output table, or nil, an error code, message and
-- the error's other members (optional). A call answers once; the client
-- may have gone meanwhile.
function Call:reply(output, code, message, extra)
  if self.answered then error("stepflow.server: " .. self.op .. " answered twice", 2) end
  self.answered = true
  local server = self.server
  if output == nil then
    answer(self.req, self.id, STATUS[code] or 400, error_body(code, message, extra))
    return
  end
  local ok, body = pcall(encode, output)
  if ok then
    answer(self.req, self.id, 200, body)
  else
    server:log("stepflow serve: " .. self.op .. ": cannot encode the answer: " .. tostring(body))
    answer(self.req, self.id, 500, error_body("InternalFailure", "the server could not encode its answer"))
  end
end

--- Answers with `output` once everything written so far is committed.
function Call:reply_after_commit(output)
  self.server.engine:after_commit(function() self:reply(output) end)
  return LATER
end

--- Whether the client still waits for the answer (a long poll asks
-- before it takes a task).
function Call:is_open()
  return not self.answered and self.req:is_open()
end

--- The request's header (any case), e.g. for the trace header.
function Call:header(name)
  return self.req:header(name)
end

function Server:log(line)
  local log = self.log_fn
  if log then log(line) end
end

local function traceback(e)
  return debug.traceback(tostring(e), 2)
end

-- Runs one API request: target, signature, JSON, the model's checks,
-- then the operation (protected: a failure answers InternalFailure).
local function api(self, req, id)
  local target = req:header("x-amz-target")
  local opname = target and target:sub(1, #TARGET_PREFIX) == TARGET_PREFIX and target:sub(#TARGET_PREFIX + 1)
  local op = opname and self.ops[opname]
  if not op then
    return answer(req, id, 400, error_body("UnknownOperationException",
      target and ("Unknown operation " .. target) or "Missing X-Amz-Target header"))
  end
  local body = req:body()
  if self.sigv4 then
    local code, message = self.sigv4(req, body)
    if code then return answer(req, id, STATUS[code] or 400, error_body(code, message)) end
  end
  local input
  if body == "" then
    input = {}
  else
    local err
    input, err = try_decode(body)
    if input == nil then
      return answer(req, id, 400, error_body("SerializationException", tostring(err)))
    end
  end
  local code, message = validate.check(model, model.operations[opname].input, input)
  if code then return answer(req, id, 400, error_body(code, message)) end
  local call = setmetatable({ server = self, req = req, id = id, op = opname, answered = false }, Call)
  local ok, output, ecode, emessage, extra = xpcall(op, traceback, self, input, call)
  if not ok then
    self:log("stepflow serve: " .. opname .. " failed: " .. tostring(output))
    if not call.answered then
      call.answered = true
      answer(req, id, 500, error_body("InternalFailure", "internal error in " .. opname))
    end
    return
  end
  if output == LATER then return end
  call:reply(output, ecode, emessage, extra)
end

-- Every request starts here (from the loop's ready queue).
local function handle(self, req)
  local id = self.engine:_uuid()
  local method, path = req:method(), req:target()
  if method == "POST" and path == "/" then return api(self, req, id) end
  for _, route in ipairs(self.routes) do
    if route.method == method and path:sub(1, #route.prefix) == route.prefix then
      local ok, err = xpcall(route.fn, traceback, req, id)
      if not ok then
        self:log("stepflow serve: " .. method .. " " .. path .. " failed: " .. tostring(err))
        if req:is_open() then
          answer(req, id, 500, error_body("InternalFailure", "internal error"))
        end
      end
      return
    end
  end
  answer(req, id, 404, error_body("UnknownOperationException", "No route for " .. method .. " " .. path))
end

--- Starts serving the API of `engine` (made with a store: a file, or
-- ":memory:" for a server that keeps nothing). opts (all optional):
--   host, port     where to listen (127.0.0.1, 8083; port 0 picks one)
--   credentials    access key id -> secret access key: turns on SigV4
--                  verification (without it any credentials are accepted)
--   log            function(line) for operations that failed (default
--                  none)
--   max_body, max_head, idle_timeout, request_timeout, write_timeout
--                  the HTTP limits (bytes, ms; see loop:http_server)
--   poll_timeout   ms a GetActivityTask waits for a task before its empty
--                  answer (default 60000, AWS's; 0 answers at once)
--   console        false: no web console (stepflow.server.console) at /
-- Returns the server, or nil, message (the address cannot be listened
-- on, or the store's state machines cannot be read).
function M.new(engine, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("stepflow.server.new: opts must be a table", 2) end
  if not engine.store then
    error("stepflow.server.new: the engine needs a store (a file, or ':memory:')", 2)
  end
  local registry, err = machines.new(engine)
  if not registry then return nil, err end
  local acts
  acts, err = activities.new(engine, { poll_timeout = opts.poll_timeout })
  if not acts then return nil, err end
  local versions_of
  versions_of, err = versions.new(registry)
  if not versions_of then return nil, err end
  local self = setmetatable({ engine = engine, machines = registry, versions = versions_of, activities = acts,
    ops = {}, routes = {}, region = engine.region, account = engine.account, log_fn = opts.log, sigv4 = false },
    Server)
  registry:on_purge(function(rec) versions_of:drop_machine(rec.arn) end)
  for _, name in ipairs(M.GROUPS) do
    local group = require(name)
    for opname, fn in pairs(group.operations) do
      if not model.operations[opname] then error("stepflow.server: " .. name .. ": no operation " .. opname) end
      self.ops[opname] = fn
    end
    if group.setup then group.setup(self) end
  end
  if opts.credentials then
    self.sigv4 = require("stepflow.server.sigv4").verifier(opts.credentials, engine.loop)
  end
  local http
  http, err = engine.loop:http_server({
    host = opts.host or "127.0.0.1", port = opts.port == nil and 8083 or opts.port,
    max_body = opts.max_body, max_head = opts.max_head, idle_timeout = opts.idle_timeout,
    request_timeout = opts.request_timeout, write_timeout = opts.write_timeout,
    on_request = function(req) return handle(self, req) end,
  })
  if not http then return nil, err end
  self.http = http
  if opts.console ~= false then require("stepflow.server.console").attach(self) end
  return self
end

--- The address it listens on: host, port.
function Server:address()
  return self.http:address()
end

--- Adds a route for requests other than the API (`POST /`): fn(req, id)
-- answers requests whose method is `method` and whose target starts with
-- `prefix` (the web console's static files, ...). The longest matching
-- prefix wins (so the console's `GET /` leaves other routes theirs);
-- among equal prefixes, the one added first.
function Server:route(method, prefix, fn)
  local routes = self.routes
  local i = #routes + 1
  while i > 1 and #routes[i - 1].prefix < #prefix do i = i - 1 end
  table.insert(routes, i, { method = method, prefix = prefix, fn = fn })
end

--- Stops accepting connections; idle ones close now, the others once
-- their answer is written.
-- Parked GetActivityTask polls get their empty answer now, so that they
-- do not hold the shutdown.
function Server:shutdown()
  if self.http then
    self.http:shutdown()
    self.activities:release()
  end
end

--- Number of open connections.
function Server:connections()
  return self.http and self.http:connections() or 0
end

--- Closes the server and every connection at once.
function Server:close()
  if self.http then
    self.activities:release()
    self.http:close()
    self.http = false
  end
end
Server.__close = Server.close

return M
