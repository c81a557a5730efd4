-- The integration examples: examples/queue (an integration written in
-- Lua) and examples/onboarding (a nested .sync:2 execution, an HTTP Task
-- and a .waitForTaskToken SQS step, with a mock file and a Lua
-- integration), through the Lua API and bin/stepflow.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local cli = require("cli.helper")
local server = require("integrations.http_helper")

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local text = fh:read("a")
  fh:close()
  return text
end

local function load_json(path) return json.decode(read(path)) end

describe("examples/queue", function()
  local dir = "examples/queue/"

  local function run_api(input)
    local engine = assert(stepflow.new({ virtual_time = true, history = true }))
    assert(engine:load_handlers(dir .. "queue.lua"))
    local sm = assert(engine:create_state_machine(read(dir .. "definition.asl.json"), { name = "queue" }))
    local exec = assert(engine:start_execution(sm, input))
    engine:run()
    return exec:result(), exec
  end

  it("records, approves (a worker answers the token) and ships an order through the Lua API", function()
    local r, exec = run_api(load_json(dir .. "input.json"))
    assert.same({ status = "SUCCEEDED", output = load_json(dir .. "expected_output.json") }, r)
    local types = {}
    for _, e in ipairs(exec.history) do types[#types + 1] = e.type end
    assert.same({ "ExecutionStarted",
      "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
      "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited",
      "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
      "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
      "PassStateEntered", "PassStateExited", "ExecutionSucceeded" }, types)
    -- the submitted message's MD5 is the MD5 of its body, as SQS computes it
    local submitted = exec.history[10].details.output
    assert.matches("^%x+$", submitted.MD5OfMessageBody)
    assert.equal(32, #submitted.MD5OfMessageBody)
  end)

  for _, v in ipairs({ "rejected", "no_queue", "silent" }) do
    it("ends the " .. v .. " variant as recorded, through the Lua API and bin/stepflow", function()
      local want = load_json(dir .. "variants/" .. v .. ".expected.json")
      local r = run_api(load_json(dir .. "variants/" .. v .. ".input.json"))
      assert.same(want, r)
      local rc, out = cli.sh("bin/stepflow run " .. dir .. "definition.asl.json --virtual-time --json --handlers " ..
        dir .. "queue.lua --input @" .. dir .. "variants/" .. v .. ".input.json")
      assert.equal(1, rc)
      assert.same(want, json.decode(out))
    end)
  end

  it("names the missing queue as AWS does, for the optimized and the AWS SDK integration", function()
    local engine = assert(stepflow.new({ virtual_time = true }))
    assert(engine:load_handlers(dir .. "queue.lua"))
    local url = "https://sqs.us-east-1.amazonaws.com/123456789012/nope"
    local r1 = engine:run_once({ StartAt = "S", States = { S = { Type = "Task", End = true,
      Resource = "arn:aws:states:::sqs:sendMessage", Parameters = { QueueUrl = url, MessageBody = "x" } } } }, {})
    assert.equal("SQS.QueueDoesNotExistException", r1.error)
    assert.matches("(Service: AmazonSQS; Status Code: 400; Error Code: AWS.SimpleQueueService.NonExistentQueue;",
      r1.cause, 1, true)
    local r2 = engine:run_once({ StartAt = "S", States = { S = { Type = "Task", End = true,
      Resource = "arn:aws:states:::aws-sdk:sqs:receiveMessage", Parameters = { QueueUrl = url } } } }, {})
    assert.equal("Sqs.QueueDoesNotExistException", r2.error)
  end)

  it("prints the output through bin/stepflow and exits 0", function()
    local rc, out = cli.sh("bin/stepflow run " .. dir .. "definition.asl.json --virtual-time --handlers " ..
      dir .. "queue.lua --input @" .. dir .. "input.json")
    assert.equal(0, rc)
    assert.same(load_json(dir .. "expected_output.json"), json.decode(out))
  end)
end)

describe("examples/onboarding", function()
  local dir = "examples/onboarding/"
  local expected = load_json(dir .. "expected.json")

  local function command(case, input, extra)
    return "bin/stepflow run " .. dir .. "Onboarding.asl.json --machine " .. dir .. "CustomerCheck.asl.json" ..
      " --handlers " .. dir .. "integrations.lua --test-case " .. case .. " --virtual-time --json --input " ..
      cli.q(input or ("@" .. dir .. "input.json")) .. (extra or "")
  end

  for _, case in ipairs({ "HappyPath", "GoldCustomer", "ApiBusyThenFound", "UnknownCustomer", "ReviewRefused" }) do
    it("runs test case " .. case .. " through bin/stepflow with the mock file", function()
      local rc, out, err = cli.sh(command(case, nil, " --mock-config " .. dir .. "mock-config.json"))
      assert.equal(expected[case].status == "SUCCEEDED" and 0 or 1, rc, err)
      assert.same(expected[case], json.decode(out))
      assert.not_matches("warning", err)
    end)
  end

  it("reads the mock file from SFN_MOCK_CONFIG, as Step Functions Local does", function()
    local rc, out = cli.sh("SFN_MOCK_CONFIG=" .. dir .. "mock-config.json " .. command("GoldCustomer"))
    assert.equal(0, rc)
    assert.same(expected.GoldCustomer, json.decode(out))
  end)

  it("runs through the Lua API: the child is a real execution with its own history", function()
    local engine = assert(stepflow.new({ virtual_time = true, history = true, mocks = dir .. "mock-config.json" }))
    assert(engine:load_handlers(dir .. "integrations.lua"))
    assert(engine:create_state_machine(read(dir .. "CustomerCheck.asl.json"), { name = "CustomerCheck" }))
    local sm = assert(engine:create_state_machine(read(dir .. "Onboarding.asl.json"), { name = "Onboarding" }))
    local exec = assert(engine:start_execution(sm, load_json(dir .. "input.json"), { test_case = "ApiBusyThenFound" }))
    engine:run()
    assert.same(expected.ApiBusyThenFound, exec:result())
    local child_arn
    local retries = 0
    for _, e in ipairs(exec.history) do
      if e.type == "TaskSubmitted" and e.details.resourceType == "states" then child_arn = e.details.output.ExecutionArn end
      if e.type == "TaskFailed" and e.details.error == "States.Http.StatusCode.503" then retries = retries + 1 end
    end
    assert.equal(2, retries)
    local child = engine:get_execution(child_arn)
    assert.equal(exec.arn, child.input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID)
    assert.equal("ExecutionSucceeded", engine:history(child_arn)[#engine:history(child_arn)].type)
  end)

  it("calls a real API in the LiveApi test case, with the connection's API key", function()
    local srv = server.start()
    local ok, rc, out, err = pcall(cli.sh, command("LiveApi", '{"customerId": "cus_42", "apiRoot": "' .. srv.url .. '"}',
      " --mock-config " .. dir .. "mock-config.json --connections " .. dir .. "connections.json"))
    srv.stop()
    assert(ok, rc)
    assert.equal(0, rc, err)
    assert.same(expected.LiveApi, json.decode(out))
  end)

  it("refuses a test case the mock file lacks (exit 2)", function()
    local rc, _, err = cli.sh(command("Nope", nil, " --mock-config " .. dir .. "mock-config.json"))
    assert.equal(2, rc)
    assert.matches("/StateMachines/Onboarding/TestCases has no test case 'Nope'", err, 1, true)
  end)

  it("refuses a mock file with a mistake, naming its place (exit 2)", function()
    local tmp = os.tmpname()
    local config = load_json(dir .. "mock-config.json")
    config.StateMachines.Onboarding.TestCases.HappyPath["Get customer from API"] = "CustomerFund"
    cli.write(tmp, json.encode(config))
    local rc, _, err = cli.sh(command("HappyPath", nil, " --mock-config " .. tmp))
    os.remove(tmp)
    assert.equal(2, rc)
    assert.matches("/StateMachines/Onboarding/TestCases/HappyPath/Get customer from API: MockedResponses has no " ..
      "response 'CustomerFund'", err, 1, true)
  end)
end)
