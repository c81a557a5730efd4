-- Mocked integrations in Step Functions Local's MockConfigFile format.
local json = require("stepflow.json")
local stepflow = require("stepflow")
local mocks = require("stepflow.integrations.mocks")
local h = require("spec_helper")

-- The example of AWS's Step Functions Local guide (the machine it mocks:
-- a Lambda call with retries, then an SQS message).
local CONFIG = {
  StateMachines = { LambdaSQSIntegration = { TestCases = {
    HappyPath = { LambdaState = "MockedLambdaSuccess", SQSState = "MockedSQSSuccess" },
    RetryPath = { LambdaState = "MockedLambdaRetry", SQSState = "MockedSQSSuccess" },
    HybridPath = { LambdaState = "MockedLambdaSuccess" },
  } } },
  MockedResponses = {
    MockedLambdaSuccess = { ["0"] = { Return = { StatusCode = 200,
      Payload = { StatusCode = 200, body = "Hello from Lambda!" } } } },
    LambdaMockedResourceNotReady = { ["0"] = { Throw = { Error = "Lambda.ResourceNotReadyException",
      Cause = "Lambda resource is not ready." } } },
    MockedSQSSuccess = { ["0"] = { Return = { MD5OfMessageBody = "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
      MessageId = "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51" } } },
    MockedLambdaRetry = {
      ["0"] = { Throw = { Error = "Lambda.ResourceNotReadyException", Cause = "Lambda resource is not ready." } },
      ["1-2"] = { Throw = { Error = "Lambda.TimeoutException", Cause = "Lambda timed out." } },
      ["3"] = { Return = { StatusCode = 200, Payload = { StatusCode = 200, body = "Hello from Lambda!" } } },
    },
  },
}

local MACHINE = { StartAt = "LambdaState", States = {
  LambdaState = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
    Parameters = { FunctionName = "HelloWorldFunction", ["Payload.$"] = "$" },
    Retry = { { ErrorEquals = { "States.ALL" }, IntervalSeconds = 2, MaxAttempts = 3, BackoffRate = 2 } },
    Next = "SQSState" },
  SQSState = { Type = "Task", Resource = "arn:aws:states:::sqs:sendMessage",
    Parameters = { QueueUrl = "https://sqs.us-east-1.amazonaws.com/123456789012/myQueue",
      ["MessageBody.$"] = "$" }, End = true } } }

local function engine_with(config, handlers)
  local engine = assert(stepflow.new({ virtual_time = true, history = true, mocks = config or CONFIG,
    handlers = handlers }))
  local sm = assert(engine:create_state_machine(MACHINE, { name = "LambdaSQSIntegration" }))
  return engine, sm
end

local function types(exec) return h.event_types(exec) end

describe("stepflow.integrations.mocks", function()
  describe("test cases", function()
    it("runs the happy path on mocked responses, with the integrations' events", function()
      local engine, sm = engine_with()
      local exec = assert(engine:start_execution(sm, { x = 1 }, { test_case = "HappyPath" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same(CONFIG.MockedResponses.MockedSQSSuccess["0"].Return, exec.output)
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "ExecutionSucceeded" }, types(exec))
      -- lambda:invoke's mocked Return is its whole result
      assert.same(CONFIG.MockedResponses.MockedLambdaSuccess["0"].Return, exec.history[5].details.output)
    end)

    it("consumes one invocation index per attempt: retries take the next responses", function()
      local engine, sm = engine_with()
      local exec = assert(engine:start_execution(sm, {}, { test_case = "RetryPath" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      local failed = {}
      for _, e in ipairs(exec.history) do
        if e.type == "TaskFailed" then failed[#failed + 1] = e.details.error end
      end
      assert.same({ "Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException" }, failed)
    end)

    it("runs the states a test case does not name on their handlers and integrations", function()
      local sent
      local engine, sm = engine_with(nil, { ["arn:aws:states:::sqs:sendMessage"] = { call = function(p)
        sent = p.MessageBody
        return { MessageId = "real" }
      end } })
      local exec = assert(engine:start_execution(sm, { n = 1 }, { test_case = "HybridPath" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ MessageId = "real" }, exec.output)
      assert.equal(CONFIG.MockedResponses.MockedLambdaSuccess["0"].Return.StatusCode, sent.StatusCode)
    end)

    it("fails a state invoked past its responses with States.Runtime, naming the place", function()
      local config = json.decode(json.encode(CONFIG))
      config.StateMachines.LambdaSQSIntegration.TestCases.Short = { LambdaState = "LambdaMockedResourceNotReady" }
      local engine, sm = engine_with(config)
      local exec = assert(engine:start_execution(sm, {}, { test_case = "Short" }))
      engine:run()
      assert.equal("FAILED", exec.status)
      assert.equal("States.Runtime", exec.error)
      assert.matches("state 'LambdaState' was invoked 2 times, and MockedResponses/" ..
        "LambdaMockedResourceNotReady has responses for invocations 0-0 only", exec.cause, 1, true)
    end)

    it("keeps .waitForTaskToken and .sync: TaskSubmitted, then the mocked result", function()
      local config = { StateMachines = { M = { TestCases = { T = { Send = "sent", Child = "child" } } } },
        MockedResponses = { sent = { ["0"] = { Return = "string-literal" } },
          child = { ["0"] = { Return = { Status = "SUCCEEDED", Output = { Arg1 = "argument1" } } } } } }
      local engine = assert(stepflow.new({ virtual_time = true, history = true, mocks = config }))
      local sm = assert(engine:create_state_machine({ StartAt = "Send", States = {
        Send = { Type = "Task", Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
          Parameters = { MessageBody = { ["TaskToken.$"] = "$$.Task.Token" } }, ResultPath = "$.sent", Next = "Child" },
        Child = { Type = "Task", Resource = "arn:aws:states:::states:startExecution.sync:2",
          Parameters = { StateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:Nowhere" },
          End = true } } }, { name = "M" }))
      local exec = assert(engine:start_execution(sm, {}, { test_case = "T" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ Status = "SUCCEEDED", Output = { Arg1 = "argument1" } }, exec.output)
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
        "TaskSucceeded", "TaskStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, types(exec))
    end)

    it("mocks states inside Map and Parallel by name, counting invocations across iterations", function()
      local config = { StateMachines = { M = { TestCases = { T = { Inner = "two", Branch = "one" } } } },
        MockedResponses = { two = { ["0"] = { Return = "first" }, ["1"] = { Return = "second" } },
          one = { ["0"] = { Throw = { Error = "Custom.Error", Cause = "mocked" } } } } }
      local engine = assert(stepflow.new({ virtual_time = true, mocks = config }))
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Parallel", ResultPath = "$.p", Next = "Map", Branches = { { StartAt = "Branch", States = {
          Branch = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "f" },
            Catch = { { ErrorEquals = { "Custom.Error" }, Next = "Caught" } }, End = true },
          Caught = { Type = "Pass", End = true } } } } },
        Map = { Type = "Map", ItemsPath = "$.items", MaxConcurrency = 1, ItemProcessor = { StartAt = "Inner", States = {
          Inner = { Type = "Task", Resource = "arn:aws:states:::dynamodb:getItem", End = true } } }, ResultPath = "$.m",
          End = true } } }, { name = "M" }))
      local exec = assert(engine:start_execution(sm, { items = { 1, 2 } }, { test_case = "T" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ "first", "second" }, exec.output.m)
      assert.same({ Error = "Custom.Error", Cause = "mocked" }, exec.output.p[1])
    end)

    it("mocks a Distributed Map's inner states too (its child executions use the parent's test case)", function()
      local config = { StateMachines = { M = { TestCases = { T = { Inner = "each" } } } },
        MockedResponses = { each = { ["0-2"] = { Return = "mocked" } } } }
      local engine = assert(stepflow.new({ virtual_time = true, mocks = config }))
      local sm = assert(engine:create_state_machine({ StartAt = "Map", States = {
        Map = { Type = "Map", ItemsPath = "$.items", End = true, ItemProcessor = {
          ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" }, StartAt = "Inner", States = {
            Inner = { Type = "Task", Resource = "arn:aws:states:::dynamodb:getItem", End = true } } } } } },
        { name = "M" }))
      local exec = assert(engine:start_execution(sm, { items = { 1, 2, 3 } }, { test_case = "T" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ "mocked", "mocked", "mocked" }, exec.output)
    end)

    it("gives a Lambda function ARN the Payload of the mocked invocation", function()
      local config = { StateMachines = { M = { TestCases = { T = { step1 = "r" } } } },
        MockedResponses = { r = { ["0"] = { Return = { StatusCode = 200, Payload = { body = "string body" } } } } } }
      local engine = assert(stepflow.new({ virtual_time = true, mocks = config }))
      local sm = assert(engine:create_state_machine({ StartAt = "step1", States = { step1 = { Type = "Task",
        Resource = "arn:aws:lambda:us-east-1:111111111111:function:fn", End = true } } }, { name = "M" }))
      local exec = assert(engine:start_execution(sm, {}, { test_case = "T" }))
      engine:run()
      assert.same({ body = "string body" }, exec.output)
    end)

    it("lets a test case run without a handler for the mocked states", function()
      local engine, sm = engine_with()
      assert.equal(2, #engine:unresolved_resources(sm))
      assert.equal(0, #engine:unresolved_resources(sm, "HappyPath"))
      assert.equal(1, #engine:unresolved_resources(sm, "HybridPath"))
    end)
  end)

  describe("refusing mistakes with their place", function()
    it("refuses a test case naming a state the machine lacks", function()
      local config = json.decode(json.encode(CONFIG))
      config.StateMachines.LambdaSQSIntegration.TestCases.Typo = { LambdaStat = "MockedLambdaSuccess" }
      local engine, sm = engine_with(config)
      local exec, err = engine:start_execution(sm, {}, { test_case = "Typo" })
      assert.is_nil(exec)
      assert.equal("ValidationException: mock config (a table): /StateMachines/LambdaSQSIntegration/TestCases/" ..
        "Typo/LambdaStat: state machine 'LambdaSQSIntegration' has no state named 'LambdaStat'", err)
    end)

    it("refuses an unknown test case or state machine, saying which exist", function()
      local engine, sm = engine_with()
      local _, err = engine:start_execution(sm, {}, { test_case = "Nope" })
      assert.matches("/StateMachines/LambdaSQSIntegration/TestCases has no test case 'Nope' (it has: " ..
        "HappyPath, HybridPath, RetryPath)", err, 1, true)
      local other = assert(engine:create_state_machine(MACHINE, { name = "Other" }))
      _, err = engine:start_execution(other, {}, { test_case = "HappyPath" })
      assert.matches("/StateMachines has no state machine 'Other' (it has: LambdaSQSIntegration)", err, 1, true)
    end)

    it("refuses a file with an unknown response name, a bad range, a gap or overlap", function()
      local cases = {
        { { StateMachines = { M = { TestCases = { T = { S = "Missing" } } } }, MockedResponses = { R = { ["0"] = {
          Return = 1 } } } }, "/StateMachines/M/TestCases/T/S: MockedResponses has no response 'Missing' (it has: R)" },
        { { StateMachines = {}, MockedResponses = { R = { ["1-a"] = { Return = 1 } } } },
          "/MockedResponses/R/1-a: the invocation range must be N or N-M (non-negative integers), got '1-a'" },
        { { StateMachines = {}, MockedResponses = { R = { ["2-1"] = { Return = 1 } } } },
          "/MockedResponses/R/2-1: the invocation range '2-1' ends before it starts" },
        { { StateMachines = {}, MockedResponses = { R = { ["0"] = { Return = 1 }, ["2"] = { Return = 2 } } } },
          "/MockedResponses/R/2: invocations are numbered from 0 without gaps: expected 1 next, got '2'" },
        { { StateMachines = {}, MockedResponses = { R = { ["0-2"] = { Return = 1 }, ["1"] = { Return = 2 } } } },
          "/MockedResponses/R/1: the invocation range '1' overlaps another one" },
        { { StateMachines = {}, MockedResponses = { R = { ["0"] = { Return = 1, Throw = { Error = "E" } } } } },
          "/MockedResponses/R/0: a response has Return or Throw, not both" },
        { { StateMachines = {}, MockedResponses = { R = { ["0"] = { Throw = { Cause = "c" } } } } },
          "/MockedResponses/R/0/Throw: Throw needs Error (a string) and Cause (a string)" },
        { { StateMachines = { M = {} }, MockedResponses = {} },
          "/StateMachines/M: needs TestCases: test case name -> {state name -> response name}" },
      }
      for _, c in ipairs(cases) do
        local m, err, problems = mocks.parse(c[1], "f.json")
        assert.is_nil(m)
        assert.matches(c[2], err, 1, true)
        assert.truthy(#problems >= 1)
      end
    end)

    it("refuses a mocked state that is not a Task", function()
      local config = { StateMachines = { M = { TestCases = { T = { P = "r" } } } },
        MockedResponses = { r = { ["0"] = { Return = 1 } } } }
      local engine = assert(stepflow.new({ mocks = config }))
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } },
        { name = "M" }))
      local _, err = engine:start_execution(sm, {}, { test_case = "T" })
      assert.matches("/StateMachines/M/TestCases/T/P: state 'P' is a Pass state; only Task states are mocked",
        err, 1, true)
    end)

    it("reads a file and says where its JSON is broken", function()
      local path = os.tmpname()
      local fh = assert(io.open(path, "w"))
      fh:write('{"StateMachines": {}, "MockedResponses": {')
      fh:close()
      local m, err = mocks.load(path)
      os.remove(path)
      assert.is_nil(m)
      assert.matches("^mock config " .. path:gsub("%p", "%%%0") .. ": json: ", err)
    end)

    it("refuses a test case when the engine has no mock config", function()
      local engine = stepflow.new()
      local sm = assert(engine:create_state_machine(MACHINE, { name = "LambdaSQSIntegration" }))
      local exec, err = engine:start_execution(sm, {}, { test_case = "HappyPath" })
      assert.is_nil(exec)
      assert.matches("needs a mock config", err, 1, true)
    end)
  end)

  describe("split_arn (StartExecution's #TestCase)", function()
    it("splits the test case off a state machine ARN", function()
      local engine = stepflow.new()
      local arn = "arn:aws:states:us-east-1:123456789012:stateMachine:LambdaSQSIntegration"
      assert.same({ arn, "HappyPath" }, { engine:_mock_test_case(arn .. "#HappyPath") })
      assert.same({ arn }, { engine:_mock_test_case(arn) })
    end)
  end)
end)
