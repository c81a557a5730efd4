-- SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat through the
-- server, for activity tasks, .waitForTaskToken callbacks and .sync jobs
-- alike, with AWS's error codes; StartExecution with a mock test case
-- (ARN#TestCase); and task tokens that stay valid across real restarts of
-- `stepflow serve` (SIGKILL), a delivered activity task not handed out
-- again.
local json = require("stepflow.json")
local tokens = require("stepflow.integrations.tokens")
local api_helper = require("server.api_helper")
local serve = require("server.serve_process")

local function activity_machine(api, name, arn, extra)
  local st = { Type = "Task", Resource = arn, End = true }
  for k, v in pairs(extra or {}) do st[k] = v end
  return api_helper.machine(api, name, { StartAt = "Work", States = { Work = st } })
end

local function describe_exec(api, arn)
  return api.ok("DescribeExecution", { executionArn = arn })
end

local function until_status(api, arn, status)
  assert(api.until_true(function() return describe_exec(api, arn).status == status end),
    arn .. " never became " .. status)
  return describe_exec(api, arn)
end

describe("stepflow.server task tokens", function()
  local api
  after_each(function() if api then api.close() end api = nil end)

  describe("activity tasks", function()
    local act, sm
    before_each(function()
      api = api_helper.start()
      act = api.ok("CreateActivity", { name = "work" }).activityArn
      sm = nil
    end)

    local function take(input)
      sm = sm or activity_machine(api, "m", act)
      local exec = api.ok("StartExecution", { stateMachineArn = sm, input = json.encode(input or {}) }).executionArn
      local task = api.ok("GetActivityTask", { activityArn = act, workerName = "w" })
      return exec, task
    end

    it("SendTaskSuccess ends the task with the worker's output", function()
      local exec, task = take({ n = 1 })
      assert.same({}, api.ok("SendTaskSuccess", { taskToken = task.taskToken, output = '{"done":[1,2]}' }))
      local d = until_status(api, exec, "SUCCEEDED")
      assert.equal('{"done":[1,2]}', d.output)
      local types = {}
      for i, e in ipairs(api.ok("GetExecutionHistory", { executionArn = exec }).events) do types[i] = e.type end
      assert.same({ "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
        "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded" }, types)
      -- the task has ended: its token is no longer good
      assert.same({ 400, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'" },
        { api.err("SendTaskSuccess", { taskToken = task.taskToken, output = "{}" }) })
      assert.same({ 400, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'" },
        { api.err("SendTaskHeartbeat", { taskToken = task.taskToken }) })
    end)

    it("SendTaskFailure fails it with the worker's error and cause", function()
      local exec, task = take()
      assert.same({}, api.ok("SendTaskFailure", { taskToken = task.taskToken, error = "Work.Broken",
        cause = "no disk" }))
      local d = until_status(api, exec, "FAILED")
      assert.same({ "Work.Broken", "no disk" }, { d.error, d.cause })
    end)

    it("refuses output that is not JSON with InvalidOutput, and the task goes on", function()
      local exec, task = take()
      local status, code = api.err("SendTaskSuccess", { taskToken = task.taskToken, output = "{nope" })
      assert.same({ 400, "InvalidOutput" }, { status, code })
      assert.equal("RUNNING", describe_exec(api, exec).status)
      api.ok("SendTaskSuccess", { taskToken = task.taskToken, output = '"fine"' })
      assert.equal('"fine"', until_status(api, exec, "SUCCEEDED").output)
    end)

    it("tells a token that is no token, and one of an execution it does not know", function()
      assert.same({ 400, "InvalidToken", "Invalid Token: 'Invalid token'" },
        { api.err("SendTaskSuccess", { taskToken = "not-a-token", output = "{}" }) })
      assert.same({ 400, "InvalidToken", "Invalid Token: 'Invalid token'" },
        { api.err("SendTaskFailure", { taskToken = "not-a-token" }) })
      local unknown = tokens.source():new("arn:aws:states:us-east-1:123456789012:execution:m:gone")
      local status, code = api.err("SendTaskHeartbeat", { taskToken = unknown })
      assert.same({ 400, "TaskDoesNotExist" }, { status, code })
      status, code = api.err("SendTaskSuccess", { taskToken = "", output = "{}" })
      assert.same({ 400, "ValidationException" }, { status, code })
    end)

    it("takes heartbeats while the task runs", function()
      sm = activity_machine(api, "hb", act, { HeartbeatSeconds = 3600 })
      local exec, task = take()
      -- a heartbeat records nothing: answered at once
      assert.same({}, api.ok("SendTaskHeartbeat", { taskToken = task.taskToken }))
      assert.equal("RUNNING", describe_exec(api, exec).status)
    end)

    it("refuses the token once HeartbeatSeconds passed without a heartbeat", function()
      api.close()
      -- virtual time: the clock runs to the heartbeat's end once the loop idles
      api = api_helper.start({ virtual_time = true })
      act = api.ok("CreateActivity", { name = "work" }).activityArn
      sm = activity_machine(api, "hb", act, { HeartbeatSeconds = 10 })
      local exec, task = take()
      local d = until_status(api, exec, "FAILED")
      assert.equal("States.HeartbeatTimeout", d.error)
      local _, code = api.err("SendTaskHeartbeat", { taskToken = task.taskToken })
      assert.equal("TaskTimedOut", code)
    end)
  end)

  describe(".waitForTaskToken and .sync tasks", function()
    it("ends a callback task whose token went out in its Parameters", function()
      local sent
      api = api_helper.start({ handlers = { notify = function(input) sent = input end } })
      local sm = api_helper.machine(api, "cb", { StartAt = "Ask", States = { Ask = { Type = "Task",
        Resource = "notify.waitForTaskToken", Parameters = { ["token.$"] = "$$.Task.Token", ["who.$"] = "$.who" },
        ResultPath = "$.answer", End = true } } })
      local exec = api.ok("StartExecution", { stateMachineArn = sm, input = '{"who":"ada"}' }).executionArn
      api.until_true(function() return sent ~= nil end)
      assert.equal("ada", sent.who)
      assert.equal(exec, tokens.execution_of(sent.token))
      api.ok("SendTaskSuccess", { taskToken = sent.token, output = '{"approved":true}' })
      assert.same({ who = "ada", answer = { approved = true } }, json.decode(until_status(api, exec, "SUCCEEDED").output))
    end)

    it("ends a .sync job with SendTaskSuccess, as AWS does", function()
      local token
      api = api_helper.start({ integrations = { ["arn:aws:states:::batch:submitJob"] = {
        start = function(_, ctx) token = ctx.task_token; return { JobId = "j1" } end } } })
      local sm = api_helper.machine(api, "job", { StartAt = "Run", States = { Run = { Type = "Task",
        Resource = "arn:aws:states:::batch:submitJob.sync", End = true } } })
      local exec = api.ok("StartExecution", { stateMachineArn = sm }).executionArn
      api.until_true(function() return token ~= nil end)
      api.ok("SendTaskSuccess", { taskToken = token, output = '{"Status":"SUCCEEDED"}' })
      assert.equal('{"Status":"SUCCEEDED"}', until_status(api, exec, "SUCCEEDED").output)
    end)
  end)

  describe("StartExecution with a mock test case", function()
    local MOCKS = { StateMachines = { mocked = { TestCases = { HappyPath = { Work = "Approved" } } } },
      MockedResponses = { Approved = { ["0"] = { Return = { approved = "by mock" } } } } }

    it("runs the test case that ends the state machine ARN (ARN#TestCase)", function()
      api = api_helper.start({ mocks = MOCKS })
      local act = api.ok("CreateActivity", { name = "work" }).activityArn
      local sm = activity_machine(api, "mocked", act)
      local exec = api.ok("StartExecution", { stateMachineArn = sm .. "#HappyPath" }).executionArn
      assert.equal('{"approved":"by mock"}', until_status(api, exec, "SUCCEEDED").output)
      -- without the case, the activity waits for a worker
      local plain = api.ok("StartExecution", { stateMachineArn = sm }).executionArn
      assert.equal("RUNNING", describe_exec(api, plain).status)
      local status, code, message = api.err("StartExecution", { stateMachineArn = sm .. "#Nope" })
      assert.same({ 400, "ValidationException" }, { status, code })
      assert.matches("Nope", message)
    end)
  end)
end)

-- An API call to a server in another process, which must answer 200.
local function ok(proc, op, input)
  local body, status = proc:call(op, input)
  assert(status == 200, op .. ": " .. tostring(status) .. " " .. json.encode(body))
  return body
end

describe("task tokens across restarts of stepflow serve", function()
  local store, handlers, procs = nil, nil, {}

  setup(function()
    store = serve.temp_store()
    handlers = os.tmpname() .. ".lua"
    local f = assert(io.open(handlers, "w"))
    f:write("return { notify = function() end }\n")  -- the token is read from the history
    f:close()
  end)

  teardown(function()
    for _, p in ipairs(procs) do pcall(p.stop, p, "KILL") end
    serve.remove(store)
    os.remove(handlers)
  end)

  local function start(extra)
    local p = serve.start("--store " .. store .. " --handlers " .. handlers .. (extra or ""))
    procs[#procs + 1] = p
    return p
  end

  local function kill(p)
    os.execute("kill -9 " .. p.pid)
    p:wait()
  end

  -- The token the Notify state's Parameters carried, from its TaskScheduled.
  local function callback_token(proc, exec)
    for _ = 1, 500 do
      for _, e in ipairs(ok(proc, "GetExecutionHistory", { executionArn = exec }).events) do
        if e.type == "TaskScheduled" then
          return json.decode(e.taskScheduledEventDetails.parameters).token
        end
      end
    end
    error("Notify was never scheduled")
  end

  it("keeps activity and callback tokens valid, and hands a delivered task out once", function()
    local p = start()
    local act = ok(p, "CreateActivity", { name = "approve" }).activityArn
    local sm = ok(p, "CreateStateMachine", { name = "flow", roleArn = api_helper.ROLE,
      definition = json.encode({ StartAt = "Approve", States = {
        Approve = { Type = "Task", Resource = act, Next = "Notify" },
        Notify = { Type = "Task", Resource = "notify.waitForTaskToken",
          Parameters = { ["token.$"] = "$$.Task.Token" }, ResultPath = "$.notified", End = true } } }) })
      .stateMachineArn
    local exec = ok(p, "StartExecution", { stateMachineArn = sm, input = '{"id":1}' }).executionArn
    local task = ok(p, "GetActivityTask", { activityArn = act, workerName = "before" })
    assert.equal('{"id":1}', task.input)
    kill(p)

    p = start(" --poll-timeout 0")
    assert.matches("1 execution%(s%) resumed", p.line)
    -- the task was delivered (ActivityStarted): not handed out again
    assert.same({}, ok(p, "GetActivityTask", { activityArn = act, workerName = "after" }))
    assert.same({}, ok(p, "SendTaskSuccess", { taskToken = task.taskToken, output = '{"id":1,"ok":true}' }))
    local token = callback_token(p, exec)
    assert.equal(exec, tokens.execution_of(token))
    kill(p)

    p = start()
    assert.same({}, ok(p, "SendTaskSuccess", { taskToken = token, output = '"sent"' }))
    local d
    for _ = 1, 500 do
      d = ok(p, "DescribeExecution", { executionArn = exec })
      if d.status ~= "RUNNING" then break end
    end
    assert.equal("SUCCEEDED", d.status)
    assert.same({ id = 1, ok = true, notified = "sent" }, json.decode(d.output))
    local started = 0
    for _, e in ipairs(ok(p, "GetExecutionHistory", { executionArn = exec }).events) do
      if e.type == "ActivityStarted" then
        started = started + 1
        assert.same({ workerName = "before" }, e.activityStartedEventDetails)
      end
    end
    assert.equal(1, started)
    local _, code = p:stop("TERM")
    assert.equal(0, code)
  end)
end)
