-- Two `stepflow serve` processes on one PostgreSQL database, as behind one
-- address (docs/STORE.md, "Task tokens and activity tasks"): a worker
-- polling either gets the activity tasks of executions the other runs, a
-- token handed out by either is answered through the other, what one
-- records the other reads, and the console of either lists (and answers)
-- the callback tasks of the other's executions.
local json = require("stepflow.json")
local pg_helper = require("pg_helper")
local serve = require("server.serve_process")

local ROLE = "arn:aws:iam::123456789012:role/test"

-- An API call that must answer 200.
local function ok(proc, op, input)
  local body, status = proc:call(op, input)
  assert(status == 200, op .. ": " .. tostring(status) .. " " .. json.encode(body))
  return body
end

describe("two stepflow serve processes on one PostgreSQL database", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end
  local procs = {}
  after_each(function()
    for _, p in ipairs(procs) do pcall(p.stop, p, "KILL") end
    procs = {}
  end)

  local handlers = os.tmpname()
  do
    local f = assert(io.open(handlers, "w"))
    f:write("return { notify = function() return {} end }\n")
    f:close()
  end
  teardown(function() os.remove(handlers) end)

  local function start(url)
    local p = serve.start("--store '" .. url .. "' --poll-timeout 10 --handlers " .. handlers)
    procs[#procs + 1] = p
    return p
  end

  it("answer tokens and hand out activity tasks whichever of them the call reaches", function()
    local url = pg_helper.reset()
    local a, b = start(url), start(url)
    assert.matches("postgresql", a.line)
    -- made on a, known to b (read from the database)
    local approve = ok(a, "CreateActivity", { name = "approve" }).activityArn
    local confirm = ok(a, "CreateActivity", { name = "confirm" }).activityArn
    assert.equal("confirm", ok(b, "DescribeActivity", { activityArn = confirm }).name)
    local sm = ok(a, "CreateStateMachine", { name = "flow", roleArn = ROLE, definition = json.encode({
      StartAt = "Approve", States = {
        Approve = { Type = "Task", Resource = approve, HeartbeatSeconds = 60, Next = "Confirm" },
        Confirm = { Type = "Task", Resource = confirm, ResultPath = "$.confirmed", End = true } } }) })
      .stateMachineArn
    -- a runs the execution (it started it)
    local exec = ok(a, "StartExecution", { stateMachineArn = sm, input = '{"id":1}' }).executionArn
    -- a worker polling b gets a's task, and answers through b
    local t1 = ok(b, "GetActivityTask", { activityArn = approve, workerName = "on-b" })
    assert.equal('{"id":1}', t1.input)
    assert.same({}, ok(b, "SendTaskHeartbeat", { taskToken = t1.taskToken }))
    assert.same({}, ok(b, "SendTaskSuccess", { taskToken = t1.taskToken, output = '{"id":1,"approved":true}' }))
    -- a token a hands out, answered through b
    local t2 = ok(a, "GetActivityTask", { activityArn = confirm, workerName = "on-a" })
    assert.same({ id = 1, approved = true }, json.decode(t2.input))
    assert.same({}, ok(b, "SendTaskSuccess", { taskToken = t2.taskToken, output = '"yes"' }))
    local d
    for _ = 1, 500 do
      d = ok(b, "DescribeExecution", { executionArn = exec })
      if d.status ~= "RUNNING" then break end
    end
    assert.equal("SUCCEEDED", d.status)
    assert.same({ id = 1, approved = true, confirmed = "yes" }, json.decode(d.output))
    -- each task started once, by the worker that had it
    local workers = {}
    for _, e in ipairs(ok(b, "GetExecutionHistory", { executionArn = exec }).events) do
      if e.type == "ActivityStarted" then workers[#workers + 1] = e.activityStartedEventDetails.workerName end
    end
    assert.same({ "on-b", "on-a" }, workers)
    -- the tokens' tasks have ended: AWS's code through either server
    for _, p in ipairs({ a, b }) do
      local body, status = p:call("SendTaskSuccess", { taskToken = t1.taskToken, output = "{}" })
      assert.same({ 400, "TaskTimedOut" }, { status, body.__type })
    end
    local body, status = b:call("SendTaskFailure", { taskToken = "nope" })
    assert.same({ 400, "InvalidToken" }, { status, body.__type })
    -- a callback task a runs is listed by b's console, and approved there
    local cb = ok(a, "CreateStateMachine", { name = "callback", roleArn = ROLE, definition = json.encode({
      StartAt = "Ask", States = { Ask = { Type = "Task", End = true,
        Resource = "arn:aws:states:::lambda:invoke.waitForTaskToken",
        Parameters = { FunctionName = "notify", ["Payload.$"] = "$$.Task.Token" } } } }) }).stateMachineArn
    local ask = ok(a, "StartExecution", { stateMachineArn = cb, input = "{}" }).executionArn
    local listed
    for _ = 1, 500 do
      listed = b:console("tasks", {}).tasks
      if #listed > 0 then break end
    end
    assert.equal(1, #listed)
    assert.same({ "callback", ask, "Ask" }, { listed[1].kind, listed[1].executionArn, listed[1].stateName })
    assert.is_string(listed[1].taskToken)
    assert.same({}, ok(b, "SendTaskSuccess", { taskToken = listed[1].taskToken, output = '"approved"' }))
    for _ = 1, 500 do
      d = ok(b, "DescribeExecution", { executionArn = ask })
      if d.status ~= "RUNNING" then break end
    end
    assert.same({ "SUCCEEDED", '"approved"' }, { d.status, d.output })
    assert.same({}, b:console("tasks", {}).tasks)
    for _, p in ipairs({ a, b }) do
      local _, code = p:stop("TERM")
      assert.equal(0, code)
    end
    procs = {}
  end)
end)
