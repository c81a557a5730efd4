-- Specs of TestState through the API: the cases and answers recorded on
-- AWS (LocalStack's snapshots of its TestState suite: the definitions,
-- inputs and AWS's answers, re-stated here as our own cases), and what AWS
-- refuses.
local helper = require("server.api_helper")
local json = require("stepflow.json")

local ROLE = helper.ROLE
local HELLO = '{"Value":"HelloWorld"}'
local NESTED = '{"initialData":{"fieldFromInput":"value from input","otherField":"other"},'
  .. '"unrelatedData":{"someOtherField":1234}}'
local VALUES = '{"Values":["first","second","third"]}'

-- The definitions of AWS's recorded cases.
local D = {
  pass = { Type = "Pass", End = true },
  result_pass = { Type = "Pass", Result = { resultKey = "result value" }, End = true },
  io_pass = { Type = "Pass", InputPath = "$.initialData", Parameters = { staticValue = "some value",
    ["inputValue.$"] = "$.fieldFromInput" }, ResultPath = "$.modifiedData", End = true },
  io_result_pass = { Type = "Pass", InputPath = "$.initialData", Parameters = { staticValue = "some value",
    ["inputValue.$"] = "$.fieldFromInput" }, Result = { resultKey = "result value" },
    ResultPath = "$.modifiedData", End = true },
  fail = { Type = "Fail", Error = "SomeFailure", Cause = "This state machines raises a 'SomeFailure' failure." },
  succeed = { Type = "Succeed" },
  choice = { Type = "Choice", Default = "DefaultState", Choices = {
    { Not = { Variable = "$.type", StringEquals = "Private" }, Next = "Public" },
    { Variable = "$.value", NumericEquals = 0, Next = "ValueIsZero" },
    { And = { { Variable = "$.value", NumericGreaterThanEquals = 20 }, { Variable = "$.value", NumericLessThan = 30 } },
      Next = "ValueInTwenties" } } },
  lambda_service = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
    Parameters = { ["FunctionName.$"] = "$.FunctionName", ["Payload.$"] = "$.Payload" }, End = true },
  task_catch = { QueryLanguage = "JSONata", Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
    Arguments = { FunctionName = "foo", Payload = "bar" }, End = true, Catch = {
      { ErrorEquals = { "MockException" }, Output = "{% $states %}", Next = "HandleMockError" },
      { ErrorEquals = { "States.TaskFailed" }, Output = "{% $states %}", Next = "HandleThreshold" } } },
  task_retry = { QueryLanguage = "JSONata", Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
    Arguments = { FunctionName = "foo", Payload = "bar" }, End = true,
    Retry = { { ErrorEquals = { "MockException" }, IntervalSeconds = 1, MaxAttempts = 5, BackoffRate = 2.0 } } },
  parallel = { Type = "Parallel", End = true, Branches = {
    { StartAt = "B1", States = { B1 = { Type = "Pass", End = true } } },
    { StartAt = "B2", States = { B2 = { Type = "Pass", End = true } } } } },
}

local function processor()
  return { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "TestState",
    States = { TestState = { Type = "Task", QueryLanguage = "JSONata", Resource = "arn:aws:states:::lambda:invoke",
      Arguments = { FunctionName = "foo", Payload = "bar" }, End = true } } }
end

local function map(extra)
  local m = { Type = "Map", QueryLanguage = "JSONata", Items = "{% $states.input.Values %}",
    ItemProcessor = processor(), Output = "{% $states %}", End = true }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local STAGES = { "input", "afterInputPath", "afterParameters", "afterArguments", "result", "afterResultSelector",
  "afterResultPath", "afterItemsPath", "afterItemSelector", "afterItemBatcher", "afterItemsPointer", "variables" }

describe("stepflow.server TestState", function()
  local api
  setup(function()
    api = helper.start({ handlers = {
      double = function(x) return x * 2 end,
      echo = function(x) return x end,
    } })
  end)
  teardown(function() api.close() end)

  -- TestState's answer with its JSON text decoded (output and stages).
  local function ts(definition, input, extra)
    local req = { definition = type(definition) == "string" and definition or json.encode(definition),
      input = input, inspectionLevel = "DEBUG" }
    for k, v in pairs(extra or {}) do req[k] = v end
    local out = api.ok("TestState", req)
    if out.output then out.output = json.decode(out.output) end
    for _, f in ipairs(STAGES) do
      if out.inspectionData and out.inspectionData[f] then out.inspectionData[f] = json.decode(out.inspectionData[f]) end
    end
    return out
  end

  local function refused(definition, extra)
    local req = { definition = type(definition) == "string" and definition or json.encode(definition),
      inspectionLevel = "TRACE" }
    for k, v in pairs(extra or {}) do req[k] = v end
    local _, code, message = api.err("TestState", req)
    return code .. ": " .. message
  end

  describe("answers as AWS answered", function()
    it("a Pass, at each inspection level", function()
      local hello = json.decode(HELLO)
      assert.same({ output = hello, status = "SUCCEEDED" }, ts(D.pass, HELLO, { inspectionLevel = "INFO" }))
      for _, level in ipairs({ "DEBUG", "TRACE" }) do
        assert.same({ output = hello, status = "SUCCEEDED", inspectionData = { input = hello, afterInputPath = hello,
          afterParameters = hello, afterResultSelector = hello, afterResultPath = hello } },
          ts(D.pass, HELLO, { inspectionLevel = level }))
      end
      local r = { resultKey = "result value" }
      assert.same({ output = r, status = "SUCCEEDED", inspectionData = { input = hello, result = r,
        afterResultSelector = r, afterResultPath = r } }, ts(D.result_pass, HELLO))
    end)

    it("a Pass's InputPath, Parameters and ResultPath, or its Result", function()
      local nested = json.decode(NESTED)
      local after = json.decode(NESTED)
      after.modifiedData = { staticValue = "some value", inputValue = "value from input" }
      assert.same({ output = after, status = "SUCCEEDED", inspectionData = { input = nested,
        afterInputPath = nested.initialData, afterParameters = after.modifiedData,
        afterResultSelector = after.modifiedData, afterResultPath = after } }, ts(D.io_pass, NESTED))
      local with_result = json.decode(NESTED)
      with_result.modifiedData = { resultKey = "result value" }
      assert.same({ output = with_result, status = "SUCCEEDED", inspectionData = { input = nested,
        result = { resultKey = "result value" }, afterResultSelector = { resultKey = "result value" },
        afterResultPath = with_result } }, ts(D.io_result_pass, NESTED))
    end)

    it("a Fail, a Succeed and a Choice", function()
      local hello = json.decode(HELLO)
      assert.same({ status = "FAILED", error = "SomeFailure", cause = "This state machines raises a 'SomeFailure' "
        .. "failure.", inspectionData = { input = hello, afterInputPath = hello } }, ts(D.fail, HELLO))
      assert.same({ status = "SUCCEEDED", output = hello, inspectionData = { input = hello, afterInputPath = hello } },
        ts(D.succeed, HELLO))
      local v = { type = "Private", value = 22 }
      assert.same({ status = "SUCCEEDED", output = v, nextState = "ValueInTwenties",
        inspectionData = { input = v, afterInputPath = v } }, ts(D.choice, '{"type":"Private","value":22}'))
    end)

    it("a mocked Task: the mock is its result, its Catch and Retry decide the status", function()
      local hello = json.decode(HELLO)
      local args = { FunctionName = "foo", Payload = "bar" }
      for i, e in ipairs({ { "MockException", "Mock the cause of the error.", "HandleMockError" },
        { "States.TaskFailed", "The task failed.", "HandleThreshold" } }) do
        local out = ts(D.task_catch, HELLO, { mock = { errorOutput = { error = e[1], cause = e[2] } } })
        assert.same({ "CAUGHT_ERROR", e[1], e[2], e[3] }, { out.status, out.error, out.cause, out.nextState })
        assert.same({ input = hello, afterArguments = args, errorDetails = { catchIndex = i - 1 } }, out.inspectionData)
        assert.same({ Error = e[1], Cause = e[2] }, out.output.errorOutput)
        assert.same(hello, out.output.input)
        assert.same("StateName", out.output.context.State.Name)
      end
      local mock = { errorOutput = { error = "MockException", cause = "Mock the cause of the error." } }
      assert.same({ status = "RETRIABLE", error = "MockException", cause = "Mock the cause of the error.",
        inspectionData = { input = json.decode(VALUES), afterArguments = args,
          errorDetails = { retryIndex = 0, retryBackoffIntervalSeconds = 16 } } },
        ts(D.task_retry, VALUES, { mock = mock, stateConfiguration = { retrierRetryCount = 4 } }))
      assert.same({ status = "FAILED", error = "MockException", cause = "Mock the cause of the error.",
        inspectionData = { input = json.decode(VALUES), afterArguments = args, errorDetails = { retryIndex = 0 } } },
        ts(D.task_retry, VALUES, { mock = mock, stateConfiguration = { retrierRetryCount = 5 } }))
      -- a lambda:invoke's mock is the whole answer of Lambda (nothing wrapped)
      assert.same({ status = "SUCCEEDED", output = { Payload = "function output",
        SdkHttpMetadata = { HttpStatusCode = 200 } } }, ts(D.lambda_service, '{"FunctionName":"f","Payload":null}',
        { inspectionLevel = "INFO", mock = { result = '{"Payload":"function output","SdkHttpMetadata":'
          .. '{"HttpStatusCode":200}}' } }))
    end)

    it("a mocked Map: its items, concurrency and tolerance, and its iterations' failures", function()
      local input = { Values = { 1, 2, 3 } }
      local out = ts(map({ MaxConcurrency = "{% 1 %}" }), '{"Values":[1,2,3]}', { mock = { result = "[1,1,1]" },
        roleArn = ROLE })
      assert.same({ "SUCCEEDED", { 1, 1, 1 }, input }, { out.status, out.output.result, out.output.input })
      assert.same({ input = input, maxConcurrency = 1 }, out.inspectionData)
      local ctx = out.output.context
      assert.matches("^arn:aws:states:us%-east%-1:123456789012:express:[^:]+:[^:]+$", ctx.Execution.Id)
      assert.same({ ROLE, "StateName", 0, input }, { ctx.Execution.RoleArn, ctx.State.Name, ctx.State.RetryCount,
        ctx.Execution.Input })
      assert.same({ input = input, maxConcurrency = 0, toleratedFailurePercentage = 1 },
        ts(map({ ToleratedFailurePercentage = "{% 1 %}" }), '{"Values":[1,2,3]}', { mock = { result = "[1,1,1]" } })
          .inspectionData)
      -- tolerance: caught, retried, or (without one) ignored
      local catch = map({ Output = json.null, ToleratedFailureCount = 1, Catch = {
        { ErrorEquals = { "MockException" }, Output = "{% $states %}", Next = "HandleMockError" },
        { ErrorEquals = { "States.ExceedToleratedFailureThreshold" }, Output = "{% $states %}",
          Next = "HandleThreshold" } } })
      catch.Output = nil
      local below = ts(catch, VALUES, { mock = { result = "[1,1,1]" }, stateConfiguration = { mapIterationFailureCount = 0 } })
      assert.same({ "SUCCEEDED", { 1, 1, 1 } }, { below.status, below.output })
      local over = ts(catch, VALUES, { mock = { result = "[0,0,1]" }, stateConfiguration = { mapIterationFailureCount = 2 } })
      assert.same({ "CAUGHT_ERROR", "States.ExceedToleratedFailureThreshold",
        "The specified tolerated failure threshold was exceeded", "HandleThreshold", { catchIndex = 1 }, 1 },
        { over.status, over.error, over.cause, over.nextState, over.inspectionData.errorDetails,
          over.inspectionData.toleratedFailureCount })
      local retried = map({ Output = "{% $states.result %}", ToleratedFailureCount = 1, Retry = {
        { ErrorEquals = { "MockException" }, MaxAttempts = 3 },
        { ErrorEquals = { "States.ExceedToleratedFailureThreshold" }, MaxAttempts = 2 } } })
      over = ts(retried, VALUES, { mock = { result = "[0,0,1]" }, stateConfiguration = { mapIterationFailureCount = 2 } })
      assert.same({ "RETRIABLE", { retryIndex = 1, retryBackoffIntervalSeconds = 1 } },
        { over.status, over.inspectionData.errorDetails })
      assert.equal("SUCCEEDED", ts(map(), VALUES, { mock = { result = "[0,0,1]" },
        stateConfiguration = { mapIterationFailureCount = 2 } }).status)
      -- a mocked error fails the Map as it is
      assert.same({ status = "FAILED", error = "MockException", cause = "Mock the cause of the error.",
        inspectionData = { input = { Values = { 1, 1, 1 } }, maxConcurrency = 0 } },
        ts(map(), '{"Values":[1,1,1]}', { stateConfiguration = { errorCausedByState = "TestState" },
          mock = { errorOutput = { error = "MockException", cause = "Mock the cause of the error." } } }))
    end)

    it("a mocked Parallel: the mock is its branches' results", function()
      local results = '[{"branch1":"result"},{"branch2":"result"}]'
      local r = json.decode(results)
      assert.same({ status = "SUCCEEDED", output = r, inspectionData = { input = { key = "value" },
        afterResultSelector = r, afterResultPath = r } }, ts(D.parallel, '{"key":"value"}', { mock = { result = results } }))
      local io = { Type = "Parallel", InputPath = "$.parallelInput", ResultPath = "$.parallelResult", OutputPath = "$",
        Branches = D.parallel.Branches, End = true }
      local input = { parallelInput = { data = "input_value" } }
      local merged = { parallelInput = { data = "input_value" }, parallelResult = r }
      assert.same({ status = "SUCCEEDED", output = merged, inspectionData = { input = input, afterResultSelector = r,
        afterResultPath = merged } }, ts(io, json.encode(input), { mock = { result = results } }))
      local ja = { Type = "Parallel", QueryLanguage = "JSONata", Arguments = "{% $states.input.parallelInput %}",
        Output = { parallelInput = "{% $states.input.parallelInput %}", parallelResult = "{% $states.result %}" },
        Branches = D.parallel.Branches, End = true }
      assert.same({ status = "SUCCEEDED", output = merged, inspectionData = { input = input } },
        ts(ja, json.encode(input), { mock = { result = results } }))
    end)

    it("a state of a state machine, by stateName", function()
      local multi = { QueryLanguage = "JSONata", StartAt = "State0", States = {
        State0 = { Type = "Pass", Next = "State1" }, State1 = D.fail } }
      local hello = json.decode(HELLO)
      assert.same({ status = "SUCCEEDED", output = hello, nextState = "State1", inspectionData = { input = hello } },
        ts(multi, HELLO, { stateName = "State0" }))
      assert.same({ "FAILED", "SomeFailure", { input = hello } },
        { ts(multi, HELLO, { stateName = "State1" }).status, ts(multi, HELLO, { stateName = "State1" }).error,
          ts(multi, HELLO, { stateName = "State1" }).inspectionData })
      local machine = { StartAt = "State0", States = { State0 = { Type = "Map", ItemsPath = "$.Values",
        ToleratedFailureCount = 2, End = true, ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED",
          ExecutionType = "STANDARD" }, StartAt = "HandleItem", States = { HandleItem = { Type = "Pass", End = true } } } } } }
      assert.same({ status = "FAILED", error = "MockException", cause = "Mock the error cause.", inspectionData = {
        input = json.decode(VALUES), afterInputPath = json.decode(VALUES), afterItemsPath = { "first", "second", "third" },
        maxConcurrency = 0, toleratedFailureCount = 2 } },
        ts(machine, VALUES, { stateName = "State0", stateConfiguration = { mapIterationFailureCount = 2,
          errorCausedByState = "HandleItem" }, mock = { errorOutput = { error = "MockException",
            cause = "Mock the error cause." } } }))
    end)

    it("a Map reading its items with an ItemReader from mapItemReaderData", function()
      local machine = { QueryLanguage = "JSONata", StartAt = "State0", States = { State0 = { Type = "Map",
        MaxConcurrency = 1, End = true, ItemReader = { ReaderConfig = { InputType = "JSON" },
          Resource = "arn:aws:states:::s3:getObject", Arguments = { Bucket = "{% $states.input.Bucket %}",
            Key = "{% $states.input.Key %}" } },
        ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "HandleItem",
          States = { HandleItem = { Type = "Pass", End = true } } } } } }
      assert.same({ status = "SUCCEEDED", output = { 1, 4, 9 }, inspectionData = {
        input = { Bucket = "test-bucket", Key = "test-key" }, maxConcurrency = 1 } },
        ts(machine, '{"Bucket":"test-bucket","Key":"test-key"}', { stateName = "State0",
          stateConfiguration = { mapItemReaderData = "[1,2,3]" }, mock = { result = "[1,4,9]" } }))
    end)

    it("a JSONata Choice and a mocked integration of a state machine", function()
      local machine = { QueryLanguage = "JSONata", StartAt = "Approval Required", States = {
        ["Approval Required"] = { Type = "Choice", Default = "Ask for Approval",
          Choices = { { Condition = "{% $states.input.cost < 10 %}", Next = "Purchase Approved" } } },
        ["Purchase Approved"] = { Type = "Succeed" },
        ["Ask for Approval"] = { Type = "Task", Resource = "arn:aws:states:::apigateway:invoke", Next = "Check Approval",
          Arguments = { Method = "POST", ApiEndpoint = "example.execute-api.us-east-1.amazonaws.com", Path = "/approval",
            RequestBody = { cost = "{% $states.input.cost %}", dept_id = "12345678" }, AuthType = "NO_AUTH" },
          Retry = { { ErrorEquals = { "States.ALL" }, BackoffRate = 2, IntervalSeconds = 1, MaxAttempts = 3 } },
          Output = { approval = "{% $states.result.approval %}", approval_code = "2387462", approved_by = "Mary" } },
        ["Check Approval"] = { Type = "Choice", Default = "Not Approved",
          Choices = { { Next = "Purchase Approved", Condition = "{% $states.input.approval %}" } } },
        ["Not Approved"] = { Type = "Fail" } } }
      assert.same({ status = "SUCCEEDED", output = { cost = 9 }, nextState = "Purchase Approved",
        inspectionData = { input = { cost = 9 } } }, ts(machine, '{"cost":9}', { stateName = "Approval Required" }))
      assert.equal("Ask for Approval", ts(machine, '{"cost":10}', { stateName = "Approval Required" }).nextState)
      local out = ts(machine, '{"cost":10}', { stateName = "Ask for Approval", mock = { result = '{"approval": true }' } })
      assert.same({ "SUCCEEDED", "Check Approval", { approval = true, approval_code = "2387462", approved_by = "Mary" },
        { approval = true } }, { out.status, out.nextState, out.output, out.inspectionData.result })
      assert.same({ cost = 10, dept_id = "12345678" }, out.inspectionData.afterArguments.RequestBody)
      assert.equal("Not Approved", ts(machine, '{"approval":false}', { stateName = "Check Approval" }).nextState)
    end)

    it("given variables and a given Context object", function()
      local state = { QueryLanguage = "JSONata", Type = "Pass", End = true, Output = {
        ja_var_access = "{% $var_input_value %}",
        ja_expr = "{% $sum($states.input.input_values) + $var_constant_1 %}" } }
      local out = ts(state, '{"input_values":[1,2,3]}', { variables = '{"var_input_value":"test_value",'
        .. '"var_constant_1":10}' })
      assert.same({ ja_var_access = "test_value", ja_expr = 16 }, out.output)
      assert.same({ var_input_value = "test_value", var_constant_1 = 10 }, out.inspectionData.variables)
      local assigns = { Type = "Pass", Assign = { ["x.$"] = "$.a" }, End = true }
      assert.same({ x = 1, y = 2 }, ts(assigns, '{"a":1}', { variables = '{"y":2}' }).inspectionData.variables)
      local ctx = { Execution = { Id = "arn:aws:states:::execution:MyStateMachine:execution-name-12345",
        Name = "execution-name-12345" }, State = { Name = "MyTaskState", RetryCount = 0 },
        StateMachine = { Id = "arn:aws:states:::stateMachine:MyStateMachine", Name = "MyStateMachine" } }
      local task = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", End = true,
        Parameters = { ["FunctionName.$"] = "$.FunctionName" },
        ResultSelector = { ["ContextObjectValue.$"] = "$$", ["LambdaOutput.$"] = "$" } }
      out = ts(task, '{"FunctionName":"f"}', { context = json.encode(ctx), mock = { result = '{"pokemon":"pikachu"}' } })
      assert.same({ ContextObjectValue = ctx, LambdaOutput = { pokemon = "pikachu" } }, out.output)
    end)

    it("a Task not mocked: the engine's handler runs; a Wait does not wait", function()
      local out = ts({ Type = "Task", Resource = "double", End = true, ResultPath = "$.r", InputPath = "$.n" },
        '{"n":21}', { roleArn = ROLE })
      assert.same({ "SUCCEEDED", { n = 21, r = 42 }, 42 }, { out.status, out.output, out.inspectionData.result })
      out = ts({ Type = "Task", Resource = "missing", Next = "After" }, "{}", { roleArn = ROLE })
      assert.same({ "FAILED", "States.TaskFailed" }, { out.status, out.error })
      local t0 = os.time()
      out = ts({ Type = "Wait", Seconds = 3600, Next = "Later" }, '{"w":1}')
      assert.same({ "SUCCEEDED", "Later", { w = 1 } }, { out.status, out.nextState, out.output })
      assert.is_true(os.time() - t0 < 5)
    end)
  end)

  it("shows an HTTP Task's request and response at TRACE, its connection's secrets left out", function()
    -- the server itself answers the HTTP Task (a route beside the API)
    api.server:route("POST", "/approval", function(req)
      req:respond(200, '{"approved":' .. req:body() .. '}', { ["Content-Type"] = "application/json" })
    end)
    assert(api.engine:use_connections({ Connections = { approvals = { AuthorizationType = "API_KEY",
      AuthParameters = { ApiKeyAuthParameters = { ApiKeyName = "Authorization", ApiKeyValue = "Bearer secret" } } } } }))
    local task = { Type = "Task", Resource = "arn:aws:states:::http:invoke", End = true, Parameters = {
      ApiEndpoint = "http://127.0.0.1:" .. api.port .. "/approval", Method = "POST", RequestBody = { cost = 10 },
      Authentication = { ConnectionArn = "arn:aws:events:us-east-1:123456789012:connection/approvals/1" } } }
    local out = ts(task, "{}", { roleArn = ROLE, inspectionLevel = "TRACE" })
    assert.same({ "SUCCEEDED", 200, { approved = { cost = 10 } } }, { out.status, out.output.StatusCode,
      out.output.ResponseBody })
    local rq, rs = out.inspectionData.request, out.inspectionData.response
    assert.same({ "http", "POST", "http://127.0.0.1:" .. api.port .. "/approval", '{"cost":10}' },
      { rq.protocol, rq.method, rq.url, rq.body })
    assert.matches("^%[.*Content%-Type: application/json", rq.headers)
    assert.is_nil(rq.headers:find("secret", 1, true))
    assert.same({ "200", "OK", '{"approved":{"cost":10}}' }, { rs.statusCode, rs.statusMessage, rs.body })
    assert.matches("Content%-Type: application/json", rs.headers)
    local revealed = ts(task, "{}", { roleArn = ROLE, inspectionLevel = "TRACE", revealSecrets = true })
    assert.matches("Authorization: Bearer secret", revealed.inspectionData.request.headers)
    -- DEBUG shows no HTTP traffic
    assert.is_nil(ts(task, "{}", { roleArn = ROLE }).inspectionData.request)
  end)

  describe("refuses what AWS refuses", function()
    it("mocks where a mock cannot go, and states that need one", function()
      for _, def in ipairs({ D.pass, D.fail, D.succeed }) do
        assert.equal("ValidationException: State type '" .. def.Type .. "' is not supported when a mock is specified",
          refused(def, { mock = { result = '{"mock":"the unmockable"}' } }))
        assert.equal("ValidationException: State type '" .. def.Type .. "' is not supported when a mock is specified",
          refused(def, { mock = { errorOutput = { error = "Error", cause = "Cause" } } }))
      end
      for _, def in ipairs({ map(), D.parallel }) do
        assert.equal("InvalidDefinition: TestState API does not support Map or Parallel states. Supported state types "
          .. "include: [Task, Wait, Pass, Succeed, Fail, Choice]", refused(def))
      end
      assert.equal("ValidationException: A test mock should have only one of the following fields: [result, "
        .. "errorOutput].", refused(D.lambda_service, { mock = { result = "{}", errorOutput = { error = "E" } } }))
      assert.equal("ValidationException: TestState does not support RevealSecrets when a mock is specified.",
        refused(D.lambda_service, { revealSecrets = true, mock = { result = "{}" } }))
      assert.equal("ValidationException: Mocked result must be valid JSON",
        refused(D.lambda_service, { mock = { result = "not json" } }))
      assert.equal("ValidationException: RoleArn must be specified when testing a Task state",
        refused(D.lambda_service, { input = '{"FunctionName":"f","Payload":null}' }))
      assert.equal("InvalidArn: Invalid Role Arn: 'nope'", refused(D.pass, { roleArn = "nope" }))
    end)

    it("mocked results of the wrong shape for a Map or a Parallel", function()
      assert.equal("ValidationException: Mocked result must be an array.", refused(map(), { mock = { result = '{"a":1}' } }))
      local writer = map({ ResultWriter = { Resource = "arn:aws:states:::s3:putObject",
        Arguments = { Bucket = "result-bucket", Prefix = "mapJobs" } } })
      assert.equal("ValidationException: Mocked result must be a JSON object.", refused(writer, { mock = { result = "[1]" } }))
      assert.equal("ValidationException: Mocked result must be an array.", refused(D.parallel, { mock = { result = "{}" } }))
      assert.equal("ValidationException: Mocked result must contain the same number of items as number of Parallel "
        .. "branches.", refused(D.parallel, { mock = { result = "[1]" } }))
      -- (AWS: "Value cannot be empty"; the location is the same)
      assert.matches("^InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: .* at "
        .. "/States/StateName/Branches'$", refused({ Type = "Parallel", Branches = json.array({}), End = true },
          { mock = { result = "[]" } }))
      assert.equal("ValidationException: TestState does not support MapIterationFailureCount when a mock is not "
        .. "specified.", refused(D.pass, { stateConfiguration = { mapIterationFailureCount = 1 } }))
      assert.equal("ValidationException: Map iteration failure count must be less than or equal to the number of Map "
        .. "iterations", refused(map(), { mock = { result = "[1]" }, stateConfiguration = { mapIterationFailureCount = 2 } }))
    end)

    it("state names a definition lacks, and invalid definitions", function()
      local machine = { StartAt = "State0", States = { State0 = { Type = "Pass", End = true } } }
      assert.equal("ValidationException: State not found in definition", refused(machine, { stateName = "dne" }))
      assert.matches("^InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: .* at "
        .. "/States/ExistingButInvalidState/Type'$", refused({ StartAt = "ExistingButInvalidState", States = {
          ExistingButInvalidState = { Type = "TypeThatDoesNotExist", End = true } } }, { stateName = "ExistingButInvalidState" }))
      assert.equal("InvalidExecutionInput", select(2, api.err("TestState", { definition = json.encode(D.pass),
        input = "{oops" })))
    end)

    it("a Context object AWS does not accept", function()
      local start = { Type = "Task", QueryLanguage = "JSONata", Resource = "arn:aws:states:::states:startExecution",
        Arguments = { StateMachineArn = "{% $states.input.stateMachineArn %}" }, End = true }
      local mock = { result = '{"ExecutionArn":"exec_arn","StartDate":"2025-01-01T00:00:00"}' }
      for ctx, why in pairs({
        ['{"Execution":{"Id":1}}'] = "Execution.Id must be a string",
        ['{"Map":{}}'] = "'Map' field is not supported when mocking a Context object",
        ['{"Execution":{"pokemon":"squirtle"}}'] = "Field 'pokemon' is not allowed",
        ['{"Pokedex":{}}'] = "Field 'Pokedex' is not allowed",
        ['{"Task":{"Token":"abc"}}'] = "Context object contains 'Task' when state is not a Task state with a '.sync' "
          .. "or '.waitForTaskToken' service integration pattern",
      }) do
        assert.equal("ValidationException: Invalid Context object provided: " .. why,
          refused(start, { context = ctx, mock = mock }))
      end
    end)

    it("mocked results the called operation's model refuses (fieldValidationMode)", function()
      local events = { Type = "Task", Resource = "arn:aws:states:::events:putEvents", End = true,
        Parameters = { ["Entries.$"] = "$.Entries" } }
      local function schema(def, result, mode)
        local out = refused(def, { mock = { result = json.encode(result), fieldValidationMode = mode } })
        return (out:gsub("^ValidationException: Mock result schema validation error: ", ""))
      end
      assert.equal("Field 'Entries' must be an array", schema(events, { Entries = "a list?" }))
      assert.equal("Field 'EventId' must be a string", schema(events, { Entries = { { EventId = { "x" } } } }))
      assert.equal("Field 'EventId' must be a string", schema(events, { Entries = { { EventId = "ok" },
        { EventId = { "x" } } } }, "PRESENT"))
      local entries = '{"Entries":[{"Detail":"detail","DetailType":"detail_type","Source":"source"}]}'
      assert.same({ random = "json" }, ts(events, entries, { mock = { result = '{"random":"json"}' } }).output)
      assert.same({}, ts(events, entries, { mock = { result = '{}' } }).output)
      local start = { Type = "Task", Resource = "arn:aws:states:::states:startExecution", End = true }
      assert.equal("Required field 'ExecutionArn' is missing", schema(start, { executionArn = "a", startDate = "d" }))
      assert.equal("Field 'StartDate' must be a string", schema(start, { ExecutionArn = "a", StartDate = true }))
      assert.same({ executionArn = "a" }, ts(start, "{}", { mock = { result = '{"executionArn":"a"}',
        fieldValidationMode = "PRESENT" } }).output)
      assert.same({ ExecutionArn = "a", StartDate = true }, ts(start, "{}", { mock = {
        result = '{"ExecutionArn":"a","StartDate":true}', fieldValidationMode = "NONE" } }).output)
      assert.equal("Field 'StatusCode' must be a number", schema(D.lambda_service, { StatusCode = "200" }))
      local dynamo = { Type = "Task", Resource = "arn:aws:states:::dynamodb:putItem", End = true }
      assert.equal("Field 'CapacityUnits' must be a number", schema(dynamo, { ConsumedCapacity = { CapacityUnits = "1" } }))
      local s3 = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:s3:getObject", End = true }
      assert.equal("Field 'ContentLength' must be a number", schema(s3, { ContentLength = "9000" }))
      assert.equal("Field 'StorageClass' is not an expected value", schema(s3, { StorageClass = "Papyrus" }))
      local kms = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:kms:encrypt", End = true }
      assert.equal("Field 'CiphertextBlob' must be a string", schema(kms, { CiphertextBlob = 123 }))
      assert.equal("Field 'CiphertextBlob' is smaller than the minimum length", schema(kms, { CiphertextBlob = "" }))
      local fn = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:lambda:getFunction", End = true }
      assert.equal("Field 'MemorySize' is less than the minimum value", schema(fn, { Configuration = { MemorySize = 1 } }))
      assert.equal("Field 'MemorySize' exceeds the maximum value", schema(fn, { Configuration = { MemorySize = 99999 } }))
    end)
  end)
end)
