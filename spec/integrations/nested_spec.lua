-- Nested executions: states:startExecution in every pattern, on children
-- that are real executions of the same engine.
local json = require("stepflow.json")
local stepflow = require("stepflow")
local h = require("spec_helper")

local CHILD = { StartAt = "Work", States = {
  Work = { Type = "Wait", Seconds = 5, Next = "Done" },
  Done = { Type = "Pass", Parameters = { ["got.$"] = "$" }, End = true } } }

-- A child that waits until stopped (an activity no worker takes).
local HOLDING_CHILD = { StartAt = "Hold", States = {
  Hold = { Type = "Task", Resource = "arn:aws:states:us-east-1:123456789012:activity:hold", End = true } } }

local FAILING_CHILD = { StartAt = "Boom", States = {
  Boom = { Type = "Fail", Error = "SomeFailure", Cause = "This state machines raises a 'SomeFailure' failure." } } }

local function parent(resource, params, extra)
  local st = { Type = "Task", Resource = resource, Parameters = params, End = true }
  for k, v in pairs(extra or {}) do st[k] = v end
  return { StartAt = "StartExecution", States = { StartExecution = st } }
end

-- An engine with the child machine "Child" (and "FailingChild") and the
-- parent of `resource`; returns engine, parent execution.
local function run_parent(resource, params, input, opts)
  opts = opts or {}
  local engine = stepflow.new({ virtual_time = true, history = true, store = opts.store })
  local child = assert(engine:create_state_machine(opts.child or CHILD, { name = "Child" }))
  assert(engine:create_state_machine(FAILING_CHILD, { name = "FailingChild" }))
  params = params or {}
  if params.StateMachineArn == nil then params.StateMachineArn = child.arn end
  local sm = assert(engine:create_state_machine(parent(resource, params, opts.extra), { name = "Parent" }))
  local exec = assert(engine:start_execution(sm, input or {}, { name = "p1" }))
  if opts.run ~= false then engine:run() end
  return engine, exec, child
end

local function event(exec, etype)
  for _, e in ipairs(exec.history) do
    if e.type == etype then return e end
  end
end

describe("stepflow.integrations.nested (states:startExecution)", function()
  it("starts a child and returns StartExecution's response (request-response)", function()
    local engine, exec, child_sm = run_parent("arn:aws:states:::states:startExecution",
      { Input = { a = 1 }, Name = "kid" })
    assert.equal("SUCCEEDED", exec.status)
    local out = exec.output
    assert.equal(child_sm.arn:gsub(":stateMachine:", ":execution:") .. ":kid", out.ExecutionArn)
    assert.equal("number", math.type(out.StartDate) and "number")
    assert.equal(200, out.SdkHttpMetadata.HttpStatusCode)
    assert.equal(out.SdkResponseMetadata.RequestId, out.SdkHttpMetadata.HttpHeaders["x-amzn-RequestId"])
    -- the child is a real execution: visible by ARN, with its own history
    local child = engine:get_execution(out.ExecutionArn)
    assert.equal("SUCCEEDED", child.status)
    assert.same({ got = { a = 1 } }, child.output)
    local hist = assert(engine:history(out.ExecutionArn))
    assert.equal("ExecutionStarted", hist[1].type)
    assert.equal('{"a":1}', hist[1].executionStartedEventDetails.input)
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
      "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
    local d = event(exec, "TaskScheduled").details
    assert.same({ "states", "startExecution" }, { d.resourceType, d.resource })
  end)

  it("waits for the child with .sync and returns its description, Input and Output as JSON text", function()
    local engine, exec, child_sm = run_parent("arn:aws:states:::states:startExecution.sync",
      { Input = { a = 1 }, Name = "kid" })
    assert.equal("SUCCEEDED", exec.status)
    local out = exec.output
    assert.equal('{"a":1}', out.Input)
    assert.equal('{"got":{"a":1}}', out.Output)
    assert.same({ Included = true }, out.InputDetails)
    assert.same({ Included = true }, out.OutputDetails)
    assert.equal("SUCCEEDED", out.Status)
    assert.equal("kid", out.Name)
    assert.equal(child_sm.arn, out.StateMachineArn)
    assert.equal(0, out.RedriveCount)
    assert.equal("NOT_REDRIVABLE", out.RedriveStatus)
    assert.equal("Execution is SUCCEEDED and cannot be redriven", out.RedriveStatusReason)
    assert.equal(5000, out.StopDate - out.StartDate)
    -- AWS's events: the submit result, then the child's end
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
      "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
    local sub = event(exec, "TaskSubmitted").details
    assert.equal(out.ExecutionArn, sub.output.ExecutionArn)
    assert.equal("startExecution.sync", sub.resource)
    assert.truthy(sub.output.SdkHttpMetadata)
    assert.is_nil(engine:get_execution(out.ExecutionArn).error)
  end)

  it("returns Input and Output as JSON with .sync:2", function()
    local _, exec = run_parent("arn:aws:states:::states:startExecution.sync:2", { Input = { a = 1 } })
    assert.same({ a = 1 }, exec.output.Input)
    assert.same({ got = { a = 1 } }, exec.output.Output)
    assert.equal("startExecution.sync:2", event(exec, "TaskSucceeded").details.resource)
  end)

  it("reads a string Input as JSON text and passes a null Input as {}", function()
    local _, exec = run_parent("arn:aws:states:::states:startExecution.sync", { Input = '"text"' })
    assert.equal('"text"', exec.output.Input)
    assert.equal('{"got":"text"}', exec.output.Output)
    local _, e2 = run_parent("arn:aws:states:::states:startExecution.sync", { Input = json.null })
    assert.equal("{}", e2.output.Input)
  end)

  it("passes AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID to the child when the parent sends it", function()
    local engine, exec = run_parent("arn:aws:states:::states:startExecution.sync:2", {
      Input = { ["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] = "$$.Execution.Id", n = 1 } })
    assert.equal("SUCCEEDED", exec.status)
    local child = engine:get_execution(exec.output.ExecutionArn)
    assert.equal(exec.arn, child.input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID)
  end)

  it("fails the parent's task with States.TaskFailed and the child's description as cause", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local failing = assert(engine:create_state_machine(FAILING_CHILD, { name = "FailingChild" }))
    local sm = assert(engine:create_state_machine(parent("arn:aws:states:::states:startExecution.sync",
      { StateMachineArn = failing.arn, Name = "TestStartTarget" }), { name = "P" }))
    local exec = engine:start_execution(sm, {})
    engine:run()
    assert.equal("FAILED", exec.status)
    assert.equal("States.TaskFailed", exec.error)
    local cause = json.decode(exec.cause)
    assert.equal("SomeFailure", cause.Error)
    assert.equal("This state machines raises a 'SomeFailure' failure.", cause.Cause)
    assert.equal("FAILED", cause.Status)
    assert.equal("{}", cause.Input)
    assert.is_nil(cause.Output)
    assert.equal("TaskFailed", exec.history[#exec.history - 1].type)
  end)

  it("fails with StepFunctions.StateMachineDoesNotExistException for an unknown machine", function()
    local engine = stepflow.new({ virtual_time = true })
    local arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Nope"
    local r = engine:run_once(parent("arn:aws:states:::states:startExecution", { StateMachineArn = arn }), {})
    assert.equal("StepFunctions.StateMachineDoesNotExistException", r.error)
    assert.matches("^State Machine Does Not Exist: '" .. arn:gsub("%p", "%%%0") .. "' %(Service: " ..
      "AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist; Request ID: [%x%-]+; " ..
      "Proxy: null%)$", r.cause)
  end)

  it("refuses a second child of the same name once the first has ended (ExecutionAlreadyExists)", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local child = assert(engine:create_state_machine(CHILD, { name = "Child" }))
    local def = { StartAt = "A", States = {
      A = { Type = "Task", Resource = "arn:aws:states:::states:startExecution.sync",
        Parameters = { StateMachineArn = child.arn, Name = "same" }, ResultPath = "$.a", Next = "B" },
      B = { Type = "Task", Resource = "arn:aws:states:::states:startExecution.sync",
        Parameters = { StateMachineArn = child.arn, Name = "same" }, End = true } } }
    local r = engine:run_once(def, {})
    assert.equal("StepFunctions.ExecutionAlreadyExistsException", r.error)
  end)

  it("waits for the token with .waitForTaskToken; the child sends it back", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local child = assert(engine:create_state_machine({ StartAt = "Reply", States = {
      Reply = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
        Parameters = { ["TaskToken.$"] = "$.token", Output = '{"answer":42}' }, End = true } } },
      { name = "Replier" }))
    local sm = assert(engine:create_state_machine(parent("arn:aws:states:::states:startExecution.waitForTaskToken",
      { StateMachineArn = child.arn, Input = { ["token.$"] = "$$.Task.Token" } }), { name = "P" }))
    local exec = engine:start_execution(sm, {})
    engine:run()
    assert.equal("SUCCEEDED", exec.status)
    assert.same({ answer = 42 }, exec.output)
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
      "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
  end)

  it("stops a .sync child when the parent is stopped", function()
    local engine, exec = run_parent("arn:aws:states:::states:startExecution.sync", { Name = "kid" }, {},
      { child = HOLDING_CHILD })
    local arn = exec.arn:gsub(":execution:Parent:p1$", ":execution:Child:kid")
    local child = engine:get_execution(arn)
    assert.equal("RUNNING", child.status)
    assert(exec:stop("Stopped", "by the spec"))
    engine:run()
    assert.equal("ABORTED", exec.status)
    assert.equal("ABORTED", child.status)
  end)

  it("stops a .sync child when the parent's task times out", function()
    local engine, exec = run_parent("arn:aws:states:::states:startExecution.sync", { Name = "kid" }, {},
      { extra = { TimeoutSeconds = 2 } })
    assert.equal("FAILED", exec.status)
    assert.equal("States.Timeout", exec.error)
    local child = engine:get_execution(exec.arn:gsub(":execution:Parent:p1$", ":execution:Child:kid"))
    assert.equal("ABORTED", child.status)
  end)

  it("names a child started without Name after the parent's task, the same way every time", function()
    local _, a = run_parent("arn:aws:states:::states:startExecution", {})
    local _, b = run_parent("arn:aws:states:::states:startExecution", {})
    local name = a.output.ExecutionArn:match("[^:]+$")
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", name)
    assert.equal(a.output.ExecutionArn, b.output.ExecutionArn)
  end)

  it("runs the aws-sdk:sfn integration's startExecution and describeExecution", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local child = assert(engine:create_state_machine(CHILD, { name = "Child" }))
    local def = { StartAt = "Start", States = {
      Start = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:sfn:startExecution",
        Parameters = { StateMachineArn = child.arn, Name = "k2", Input = '{"x":2}' }, ResultPath = "$.started",
        Next = "Wait" },
      Wait = { Type = "Wait", Seconds = 10, Next = "Describe" },
      Describe = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:sfn:describeExecution",
        Parameters = { ["ExecutionArn.$"] = "$.started.ExecutionArn" }, End = true } } }
    local r = engine:run_once(def, {})
    assert.equal("SUCCEEDED", r.status)
    assert.equal("SUCCEEDED", r.output.Status)
    assert.equal('{"got":{"x":2}}', r.output.Output)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", r.output.StartDate)
  end)

  it("fails sendTaskSuccess for an unknown token with Sfn.InvalidTokenException", function()
    local engine = stepflow.new({ virtual_time = true })
    local r = engine:run_once(parent("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
      { Output = "1", TaskToken = "NoSuchTaskToken" }), {})
    assert.equal("Sfn.InvalidTokenException", r.error)
    assert.matches("^Invalid Token: 'Invalid token' %(Service: Sfn, Status Code: 400, Request ID: [%x%-]+%) " ..
      "%(SDK Attempt Count: 1%)$", r.cause)
  end)

  describe("with a durable store", function()
    it("records the child's ARN in TaskSubmitted, and the child's own history", function()
      local path = os.tmpname()
      os.remove(path)
      local engine, exec = run_parent("arn:aws:states:::states:startExecution.sync", { Name = "kid" }, {},
        { store = path })
      assert.equal("SUCCEEDED", exec.status)
      local hist = assert(engine:history(exec.arn))
      local sub
      for _, e in ipairs(hist) do if e.type == "TaskSubmitted" then sub = e end end
      assert.matches(":execution:Child:kid", json.decode(sub.taskSubmittedEventDetails.output).ExecutionArn)
      local child_hist = assert(engine:history(exec.output.ExecutionArn))
      assert.equal("ExecutionSucceeded", child_hist[#child_hist].type)
      engine:close()
      os.remove(path)
    end)
  end)
end)
