-- The web console's server side, in one process: the page and its files
-- at / and /console/, the console operations (info, graph, tasks) and
-- their SigV4 checks.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local client = require("server.client")
local graph = require("stepflow.graph")
local sign = require("console.sign")

local ROLE = "arn:aws:iam::123456789012:role/test"
local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
local DIR = "lua/stepflow/server/console/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local CALLBACK = read("examples/approval/callback.asl.json")
-- the example's handlers, without askApprover's line on stderr
local HANDLERS = dofile("examples/approval/callback_handlers.lua")
HANDLERS.askApprover = function() end

local function start_server(opts)
  opts = opts or {}
  local engine = assert(stepflow.new({ store = ":memory:", handlers = opts.handlers }))
  local server = assert(engine:serve({ port = 0, credentials = opts.credentials, console = opts.console,
    log = function() end }))
  local _, port = server:address()
  local s = { engine = engine, server = server, port = port }
  -- A raw request: status, headers, body (decoded when it is JSON).
  function s.request(method, target, body, headers)
    local c = client.connect(engine.loop, port)
    local head = { method .. " " .. target .. " HTTP/1.1", "Host: 127.0.0.1:" .. port }
    for k, v in pairs(headers or {}) do head[#head + 1] = k .. ": " .. v end
    head[#head + 1] = "Content-Length: " .. #(body or "")
    c:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. (body or ""))
    local status, h, rbody = c:response()
    c:close()
    assert(status, "no answer to " .. method .. " " .. target)
    if (h["content-type"] or ""):find("json") then rbody = json.decode(rbody) end
    return status, h, rbody
  end
  function s.console(name, input, headers)
    return s.request("POST", "/console/api/" .. name, json.encode(input or {}), headers)
  end
  function s.ok(op, input)
    local status, body = client.call(engine.loop, port, op, input)
    assert(status == 200, op .. ": " .. status .. " " .. json.encode(body))
    return body
  end
  function s.call(op, input) return client.call(engine.loop, port, op, input) end
  function s.create(name, definition)
    return s.ok("CreateStateMachine", { name = name, definition = definition, roleArn = ROLE }).stateMachineArn
  end
  -- Turns the loop until fn() holds.
  function s.until_true(fn) assert(client.until_true(engine.loop, fn), "the condition never held") end
  function s.close()
    server:close()
    engine:close()
  end
  return s
end

-- Starts the callback approval and turns the loop until it waits for its
-- token; returns the execution ARN.
local function waiting_approval(s, name)
  local arn = s.ok("StartExecution", { stateMachineArn = SM .. "approval", name = name,
    input = read("examples/approval/input.json") }).executionArn
  s.until_true(function()
    local h = s.ok("GetExecutionHistory", { executionArn = arn, reverseOrder = true, maxResults = 1 })
    return h.events[1].type == "TaskSubmitted"
  end)
  return arn
end

describe("stepflow.server.console", function()
  local s
  after_each(function() if s then s.close() end s = nil end)

  describe("the page and its files", function()
    it("serves the page at / with a content security policy", function()
      s = start_server()
      local status, h, body = s.request("GET", "/")
      assert.equal(200, status)
      assert.equal("text/html; charset=utf-8", h["content-type"])
      assert.equal(read(DIR .. "index.html"), body)
      assert.matches("default-src 'self'", h["content-security-policy"], 1, true)
      assert.equal("nosniff", h["x-content-type-options"])
      assert.equal(200, (s.request("GET", "/index.html")))
      assert.equal(200, (s.request("GET", "/?x=1")))
    end)

    it("serves every file of the console folder with its type", function()
      s = start_server()
      local types = { js = "text/javascript; charset=utf-8", css = "text/css; charset=utf-8",
        svg = "image/svg+xml", html = "text/html; charset=utf-8" }
      local p = assert(io.popen("ls " .. DIR))
      local n = 0
      for name in p:lines() do
        local status, h, body = s.request("GET", "/console/" .. name)
        assert.equal(200, status, name)
        assert.equal(types[name:match("%.(%a+)$")], h["content-type"], name)
        assert.equal(read(DIR .. name), body, name)
        n = n + 1
      end
      p:close()
      assert.is_true(n >= 10)
    end)

    it("loads nothing from another origin", function()
      local p = assert(io.popen("ls " .. DIR))
      for name in p:lines() do
        local text = read(DIR .. name)
        -- the SVG namespace is a name, not a fetch
        text = text:gsub("http://www%.w3%.org/2000/svg", "")
        assert.is_nil(text:match("https?://[%w%.%-]+"), name .. " names another origin")
      end
      p:close()
    end)

    it("answers 404 for other paths, and no file outside the folder", function()
      s = start_server()
      for _, target in ipairs({ "/nope", "/console/nope.js", "/console/../init.lua", "/console/%2e%2e/init.lua",
          "/console/.hidden.js", "/console/api.lua" }) do
        local status, _, body = s.request("GET", target)
        assert.equal(404, status, target)
        assert.is_string(body.__type, target)
      end
    end)

    it("leaves the API at POST / as it was", function()
      s = start_server()
      assert.same({ stateMachines = {} }, s.ok("ListStateMachines", {}))
      local status, _, body = s.request("PUT", "/x", "")
      assert.equal(404, status)
      assert.equal("UnknownOperationException", body.__type)
    end)

    it("leaves a route added after it to that route", function()
      s = start_server()
      s.server:route("GET", "/health", function(req) req:respond(200, "ok", { ["Content-Type"] = "text/plain" }) end)
      local status, _, body = s.request("GET", "/health")
      assert.same({ 200, "ok" }, { status, body })
      assert.equal(200, (s.request("GET", "/")))
      assert.equal(404, (s.request("GET", "/nope")))
    end)

    it("is not served with console = false", function()
      s = start_server({ console = false })
      assert.equal(404, (s.request("GET", "/")))
      assert.equal(404, (s.request("GET", "/console/api/info")))
    end)
  end)

  describe("info", function()
    it("says whether SigV4 is on and which operations the server answers", function()
      s = start_server()
      local status, _, info = s.request("GET", "/console/api/info")
      assert.equal(200, status)
      assert.is_false(info.sigv4)
      assert.equal("us-east-1", info.region)
      assert.equal("123456789012", info.account)
      local served = {}
      for op in pairs(s.server.ops) do served[#served + 1] = op end
      table.sort(served)
      assert.same(served, info.operations)
      assert.is_true(#served >= 15)
    end)
  end)

  describe("graph", function()
    it("draws a state machine with stepflow.graph and lists what it drew", function()
      s = start_server()
      local arn = s.create("approval", CALLBACK)
      local status, _, g = s.console("graph", { stateMachineArn = arn })
      assert.equal(200, status)
      local layout = assert(graph.layout(json.decode(CALLBACK)))
      assert.equal(require("stepflow.graph.svg").render(layout), g.svg)
      assert.equal(#layout.boxes, #g.boxes)
      assert.equal(#layout.edges, #g.edges)
      assert.same({ id = "AskApprover", kind = "state", name = "AskApprover", type = "Task" }, g.boxes[2])
      assert.equal(layout.width, g.width)
      assert.is_nil(g.status)
    end)

    it("colours an execution's states by its history, and follows it", function()
      s = start_server({ handlers = HANDLERS })
      s.create("approval", CALLBACK)
      local arn = waiting_approval(s, "one")
      local _, _, g = s.console("graph", { executionArn = arn })
      assert.equal("RUNNING", g.executionStatus)
      assert.same({ AskApprover = "running" }, g.status)
      assert.matches('class="state type-task st-running" data-state="AskApprover"', g.svg, 1, true)
      local waiting = s.engine:waiting_tasks(arn)
      assert.same({ "AskApprover", "callback" }, { waiting[1].state, waiting[1].kind })
      s.ok("SendTaskSuccess", { taskToken = waiting[1].token, output = '{"approved":true}' })
      s.until_true(function() return s.ok("DescribeExecution", { executionArn = arn }).status == "SUCCEEDED" end)
      local _, _, after = s.console("graph", { executionArn = arn, svg = false })
      assert.equal("SUCCEEDED", after.executionStatus)
      assert.same({ AskApprover = "succeeded", PlacePurchaseOrder = "succeeded", Done = "succeeded" }, after.status)
      assert.same({ AskApprover = 1, PlacePurchaseOrder = 1, Done = 1 }, after.visits)
      assert.is_nil(after.svg)
    end)

    it("answers the API's errors for a missing machine or execution", function()
      s = start_server()
      local status, _, e = s.console("graph", { stateMachineArn = SM .. "nope" })
      assert.same({ 400, "StateMachineDoesNotExist" }, { status, e.__type })
      status, _, e = s.console("graph", { executionArn = "arn:aws:states:us-east-1:123456789012:execution:a:b" })
      assert.same({ 400, "ExecutionDoesNotExist" }, { status, e.__type })
      status, _, e = s.console("graph", { executionArn = "nope" })
      assert.same({ 400, "InvalidArn" }, { status, e.__type })
      status, _, e = s.console("graph", {})
      assert.same({ 400, "ValidationException" }, { status, e.__type })
      status, _, e = s.request("POST", "/console/api/graph", "{nope")
      assert.same({ 400, "SerializationException" }, { status, e.__type })
      status, _, e = s.console("nope", {})
      assert.same({ 404, "UnknownOperationException" }, { status, e.__type })
    end)
  end)

  describe("tasks", function()
    it("lists the tasks waiting for a token with their token, state and input", function()
      s = start_server({ handlers = HANDLERS })
      s.create("approval", CALLBACK)
      local a = waiting_approval(s, "a")
      local b = waiting_approval(s, "b")
      local _, _, out = s.console("tasks", {})
      assert.equal(2, #out.tasks)
      local t = out.tasks[1]
      assert.equal(a, t.executionArn)
      assert.equal("a", t.executionName)
      assert.equal(SM .. "approval", t.stateMachineArn)
      assert.equal("callback", t.kind)
      assert.equal("AskApprover", t.stateName)
      assert.equal("askApprover.waitForTaskToken", t.resource)
      assert.equal(259200, t.timeoutInSeconds)
      assert.equal(json.decode(t.input).taskToken, t.taskToken)
      assert.equal(s.engine:waiting_tasks(a)[1].token, t.taskToken)
      assert.equal("number", type(t.scheduledDate))
      assert.equal(b, out.tasks[2].executionArn)
      local _, _, only = s.console("tasks", { executionArn = b })
      assert.equal(1, #only.tasks)
      assert.equal(b, only.tasks[1].executionArn)
      -- asked again (the page asks every 2 s), it reads only the events
      -- past those it has read
      local history, reads = s.engine.history, {}
      s.engine.history = function(engine, arn, opts)
        local page = history(engine, arn, opts)
        reads[#reads + 1] = { after = opts and opts.after, n = #page }
        return page
      end
      local _, _, again = s.console("tasks", {})
      s.engine.history = nil
      assert.same(out.tasks, again.tasks)
      assert.equal(2, #reads)
      for _, r in ipairs(reads) do
        assert.is_true(r.after > 1)
        assert.equal(0, r.n)
      end
    end)

    it("drops a task once its token is answered", function()
      s = start_server({ handlers = HANDLERS })
      s.create("approval", CALLBACK)
      local a = waiting_approval(s, "a")
      local _, _, out = s.console("tasks", { executionArn = a })
      s.ok("SendTaskFailure", { taskToken = out.tasks[1].taskToken, error = "Rejected", cause = "too much" })
      s.until_true(function() return s.ok("DescribeExecution", { executionArn = a }).status == "FAILED" end)
      local _, _, after = s.console("tasks", {})
      assert.same({}, after.tasks)
      local d = s.ok("DescribeExecution", { executionArn = a })
      assert.equal("Approval.NotApproved", d.error)
      assert.equal("req-7731 was not approved: Rejected (too much)", d.cause)
    end)
  end)

  describe("tasks of activities", function()
    it("lists an activity task waiting for a worker, then at the worker that took it", function()
      s = start_server()
      local activity = "arn:aws:states:us-east-1:123456789012:activity:review"
      s.create("review", json.encode({ StartAt = "Review", States = { Review = { Type = "Task",
        Resource = activity, HeartbeatSeconds = 60, End = true } } }))
      local arn = s.ok("StartExecution", { stateMachineArn = SM .. "review", name = "r1", input = '{"doc":1}' })
        .executionArn
      local out
      s.until_true(function()
        out = select(3, s.console("tasks", {}))
        return #out.tasks == 1
      end)
      local t = out.tasks[1]
      assert.same({ "activity", arn, "Review", activity, '{"doc":1}', 60 },
        { t.kind, t.executionArn, t.stateName, t.resource, t.input, t.heartbeatInSeconds })
      assert.is_nil(t.workerName)
      assert.is_nil(t.taskToken) -- the worker gets it from GetActivityTask
      local task = assert(s.engine:get_activity_task(activity, "w1"))
      s.until_true(function()
        out = select(3, s.console("tasks", {}))
        return out.tasks[1].workerName ~= nil
      end)
      assert.equal("w1", out.tasks[1].workerName)
      assert.equal("number", type(out.tasks[1].startedDate))
      -- a worker answers with SendTaskSuccess like a callback
      s.ok("SendTaskSuccess", { taskToken = task.taskToken, output = '{"ok":true}' })
      s.until_true(function() return s.ok("DescribeExecution", { executionArn = arn }).status == "SUCCEEDED" end)
      assert.same({}, select(3, s.console("tasks", {})).tasks)
    end)
  end)

  describe("with SigV4 verification", function()
    local KEY, SECRET = "AKIDCONSOLE", "console-secret"

    local function signed(name, body)
      local path = "/console/api/" .. name
      return s.request("POST", path, body, sign.headers("127.0.0.1:" .. s.port, path, body,
        { key = KEY, secret = SECRET }))
    end

    it("serves the page and info unsigned, and the console operations only signed", function()
      s = start_server({ credentials = { [KEY] = SECRET } })
      assert.equal(200, (s.request("GET", "/")))
      assert.equal(200, (s.request("GET", "/console/app.js")))
      local _, _, info = s.request("GET", "/console/api/info")
      assert.is_true(info.sigv4)
      local status, _, e = s.console("tasks", {})
      assert.same({ 403, "MissingAuthenticationTokenException" }, { status, e.__type })
      status, _, e = s.console("tasks", {}, { Authorization = "AWS4-HMAC-SHA256 Credential=" .. KEY
        .. "/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=00" })
      assert.equal(400, status)
      assert.is_string(e.__type)
      local body
      status, _, body = signed("tasks", "{}")
      assert.equal(200, status, json.encode(body))
      assert.same({ tasks = {} }, body)
    end)
  end)
end)
