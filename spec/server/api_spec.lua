-- Specs of stepflow.server in one process: the JSON 1.0 protocol (targets,
-- request ids, malformed requests, the model's validation wording) and the
-- operations on state machines and executions, with AWS's semantics.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local client = require("server.client")

local ROLE = "arn:aws:iam::123456789012:role/test"
local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
local PASS = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'
local WAIT = '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}'

-- (a server in this process on an in-memory store: api_helper)
local start_server = require("server.api_helper").start

local function create(api, name, definition, extra)
  local input = { name = name, definition = definition or PASS, roleArn = ROLE }
  for k, v in pairs(extra or {}) do input[k] = v end
  return api.ok("CreateStateMachine", input)
end

describe("stepflow.server protocol", function()
  local api
  before_each(function() api = start_server() end)
  after_each(function() api.close() end)

  it("answers with a request id and the JSON 1.0 content type", function()
    local status, body, headers = api.call("ListStateMachines", {})
    assert.equal(200, status)
    assert.same({ stateMachines = {} }, body)
    assert.is_true(json.is_array(body.stateMachines))
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", headers["x-amzn-requestid"])
    assert.equal("application/x-amz-json-1.0", headers["content-type"])
  end)

  it("refuses an unknown operation, a missing target and other routes", function()
    assert.same({ 400, "UnknownOperationException", "Unknown operation AWSStepFunctions.Nope" },
      { api.err("Nope", {}) })
    local c = client.connect(api.engine.loop, api.port)
    c:send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
    local status, headers, body = c:response()
    assert.equal(400, status)
    assert.same({ __type = "UnknownOperationException", message = "Missing X-Amz-Target header" },
      json.decode(body))
    assert.is_string(headers["x-amzn-requestid"])
    c:send("GET /console HTTP/1.1\r\nHost: h\r\n\r\n")
    status = c:response()
    assert.equal(404, status)
    c:close()
  end)

  it("refuses bodies that are not JSON objects with SerializationException", function()
    local status, code, message = api.err("ListStateMachines", "{nope")
    assert.equal(400, status)
    assert.equal("SerializationException", code)
    assert.matches("^json: ", message)
    assert.same({ 400, "SerializationException", "Start of list found where a structure was expected at ''" },
      { api.err("ListStateMachines", "[1]") })
    assert.same({ 400, "SerializationException", "Start of structure or list can not be converted to a String at 'name'" },
      { api.err("CreateStateMachine", { name = { 1 }, definition = PASS, roleArn = ROLE }) })
    assert.same({ 400, "SerializationException", "STRING_VALUE can not be converted to an Integer at 'maxResults'" },
      { api.err("ListStateMachines", { maxResults = "5" }) })
  end)

  it("takes a member given as null for an absent one, and refuses a null list element", function()
    local null = json.null
    assert.same({ stateMachines = {} }, api.ok("ListStateMachines", { nextToken = null, maxResults = null }))
    assert.same({ activities = {} }, api.ok("ListActivities", { maxResults = null, nextToken = null }))
    create(api, "n", PASS, { type = null, tags = null, loggingConfiguration = null })
    assert.equal("STANDARD", api.ok("DescribeStateMachine", { stateMachineArn = SM .. "n" }).type)
    assert.same({ 400, "ValidationException", "1 validation error detected: Value null at 'roleArn' failed to "
      .. "satisfy constraint: Member must not be null" },
      { api.err("CreateStateMachine", { name = "m", definition = PASS, roleArn = null }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value null at 'tags.1.member' failed "
      .. "to satisfy constraint: Member must not be null" },
      { api.err("TagResource", { resourceArn = SM .. "n", tags = json.array({ null }) }) })
    -- a tag without its key
    local keyless = "1 validation error detected: Value null at 'tags.2.member.key' failed to satisfy constraint: "
      .. "Member must not be null"
    local tags = { { key = "a", value = "1" }, { value = "2" } }
    assert.same({ 400, "ValidationException", keyless }, { api.err("TagResource", { resourceArn = SM .. "n", tags = tags }) })
    assert.same({ 400, "ValidationException", keyless }, { api.err("CreateStateMachine", { name = "t", definition = PASS,
      roleArn = ROLE, tags = tags }) })
    assert.same({ 400, "ValidationException", keyless }, { api.err("CreateActivity", { name = "t", tags = tags }) })
  end)

  it("checks the model's constraints, every one, with AWS's wording", function()
    assert.same({ 400, "ValidationException", "2 validation errors detected: Value at 'definition' failed to "
      .. "satisfy constraint: Member must have length greater than or equal to 1; Value null at 'roleArn' "
      .. "failed to satisfy constraint: Member must not be null" },
      { api.err("CreateStateMachine", { name = "a", definition = "" }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value '" .. ("n"):rep(81)
      .. "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80" },
      { api.err("CreateStateMachine", { name = ("n"):rep(81), definition = PASS, roleArn = ROLE }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value 'FAST' at 'type' failed to "
      .. "satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]" },
      { api.err("CreateStateMachine", { name = "a", definition = PASS, roleArn = ROLE, type = "FAST" }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value '1001' at 'maxResults' failed "
      .. "to satisfy constraint: Member must have value less than or equal to 1000" },
      { api.err("ListStateMachines", { maxResults = 1001 }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value 'é' at 'traceHeader' failed "
      .. "to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*" },
      { api.err("StartExecution", { stateMachineArn = SM .. "x", traceHeader = "é" }) })
    assert.same({ 400, "ValidationException", "1 validation error detected: Value '' at 'tags.1.member.key' "
      .. "failed to satisfy constraint: Member must have length greater than or equal to 1" },
      { api.err("CreateStateMachine", { name = "a", definition = PASS, roleArn = ROLE,
        tags = { { key = "", value = "v" } } }) })
  end)

  it("measures payloads in bytes and names in characters, as AWS does", function()
    -- 80 characters of two bytes each is a valid name
    create(api, ("é"):rep(80))
    local big = '"' .. ("x"):rep(262144) .. '"'
    local status, code, message = api.err("StartExecution", { stateMachineArn = SM .. ("é"):rep(80), input = big })
    assert.equal(400, status)
    assert.equal("ValidationException", code)
    assert.equal("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
      .. "length less than or equal to 262144", message)
  end)

  it("refuses a definition over 1 MiB with the model's ValidationException", function()
    local def = '{"StartAt":"P","Comment":"' .. ("c"):rep(1048576) .. '","States":{"P":{"Type":"Pass","End":true}}}'
    assert.same({ 400, "ValidationException", "1 validation error detected: Value at 'definition' failed to "
      .. "satisfy constraint: Member must have length less than or equal to 1048576" },
      { api.err("CreateStateMachine", { name = "big", definition = def, roleArn = ROLE }) })
  end)

  it("answers InternalFailure when an operation fails, and goes on", function()
    api.server.ops.ListStateMachines = function() error("boom") end
    assert.same({ 500, "InternalFailure", "internal error in ListStateMachines" },
      { api.err("ListStateMachines", {}) })
    assert.matches("ListStateMachines failed: .*boom", api.logged[1])
    api.server:route("GET", "/boom", function() error("route boom") end)
    local c = client.connect(api.engine.loop, api.port)
    c:send("GET /boom HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(500, (c:response()))
    c:close()
    create(api, "still")
  end)
end)

describe("stepflow.server state machines", function()
  local api
  before_each(function() api = start_server() end)
  after_each(function() api.close() end)

  it("creates, describes and lists them", function()
    local out = create(api, "one")
    assert.equal(SM .. "one", out.stateMachineArn)
    assert.equal("number", type(out.creationDate))
    create(api, "two", PASS, { type = "EXPRESS" })
    local d = api.ok("DescribeStateMachine", { stateMachineArn = SM .. "one" })
    assert.equal("ACTIVE", d.status)
    assert.equal(PASS, d.definition)
    assert.equal(ROLE, d.roleArn)
    assert.equal("STANDARD", d.type)
    assert.same({ level = "OFF", includeExecutionData = false }, d.loggingConfiguration)
    -- AWS gives a revisionId from the first update on
    assert.is_nil(d.revisionId)
    local l = api.ok("ListStateMachines", {})
    assert.same({ "one", "two" }, { l.stateMachines[1].name, l.stateMachines[2].name })
    assert.equal("EXPRESS", l.stateMachines[2].type)
  end)

  it("is idempotent on the same definition, type and role; refuses another", function()
    local first = create(api, "same")
    assert.same(first, create(api, "same"))
    assert.same({ 400, "StateMachineAlreadyExists", "State Machine Already Exists: '" .. SM .. "same'" },
      { api.err("CreateStateMachine", { name = "same", definition = WAIT, roleArn = ROLE }) })
    assert.same({ 400, "StateMachineAlreadyExists", "State Machine Already Exists: '" .. SM .. "same'" },
      { api.err("CreateStateMachine", { name = "same", definition = PASS, roleArn = ROLE, type = "EXPRESS" }) })
  end)

  it("refuses invalid definitions listing every problem, bad names and roles", function()
    local status, code, message = api.err("CreateStateMachine", { name = "bad", roleArn = ROLE,
      definition = '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"C":{"Type":"Nope"}}}' })
    assert.equal(400, status)
    assert.equal("InvalidDefinition", code)
    assert.matches("^Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ", message)
    assert.matches("at /States/A/Next", message, 1, true)
    assert.matches("at /States/C", message, 1, true)
    assert.equal("InvalidDefinition", select(2, api.err("CreateStateMachine", { name = "bad", roleArn = ROLE,
      definition = "{not json" })))
    assert.same({ 400, "InvalidName", "Invalid Name: 'a b'" },
      { api.err("CreateStateMachine", { name = "a b", definition = PASS, roleArn = ROLE }) })
    assert.same({ 400, "InvalidArn", "Invalid Role Arn: 'nope'" },
      { api.err("CreateStateMachine", { name = "a", definition = PASS, roleArn = "nope" }) })
    -- EXPRESS machines may not wait for callbacks
    assert.equal("InvalidDefinition", select(2, api.err("CreateStateMachine", { name = "e", roleArn = ROLE,
      type = "EXPRESS", definition = '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":'
        .. '"arn:aws:states:::lambda:invoke.waitForTaskToken","End":true}}}' })))
  end)

  it("pages lists with nextToken and refuses foreign tokens", function()
    for i = 1, 5 do create(api, "m" .. i) end
    local p1 = api.ok("ListStateMachines", { maxResults = 2 })
    assert.equal(2, #p1.stateMachines)
    local p2 = api.ok("ListStateMachines", { maxResults = 2, nextToken = p1.nextToken })
    local p3 = api.ok("ListStateMachines", { maxResults = 2, nextToken = p2.nextToken })
    assert.same({ "m1", "m2", "m3", "m4", "m5" }, { p1.stateMachines[1].name, p1.stateMachines[2].name,
      p2.stateMachines[1].name, p2.stateMachines[2].name, p3.stateMachines[1].name })
    assert.is_nil(p3.nextToken)
    assert.same({ 400, "InvalidToken", "Invalid Token: 'garbage'" },
      { api.err("ListStateMachines", { nextToken = "garbage" }) })
  end)

  it("updates: a new revision for new executions; running ones keep theirs", function()
    create(api, "u", WAIT)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "u", name = "old" })
    local before = api.ok("DescribeStateMachine", { stateMachineArn = SM .. "u" }).revisionId
    local up = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "u", definition = PASS })
    assert.is_string(up.revisionId)
    assert.are_not.equal(before, up.revisionId)
    assert.equal(PASS, api.ok("DescribeStateMachine", { stateMachineArn = SM .. "u" }).definition)
    local ran = api.ok("DescribeStateMachineForExecution", { executionArn = e.executionArn })
    assert.equal(WAIT, ran.definition)
    assert.equal(before, ran.revisionId)
    local new = api.ok("StartExecution", { stateMachineArn = SM .. "u", name = "new" })
    assert.is_true(client.until_true(api.engine.loop, function()
      return api.ok("DescribeExecution", { executionArn = new.executionArn }).status == "SUCCEEDED"
    end))
    assert.equal("RUNNING", api.ok("DescribeExecution", { executionArn = e.executionArn }).status)
    assert.same({ 400, "MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, "
      .. "the EncryptionConfiguration or the TracingConfiguration must be specified" },
      { api.err("UpdateStateMachine", { stateMachineArn = SM .. "u" }) })
    assert.same({ 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" .. SM .. "nope'" },
      { api.err("UpdateStateMachine", { stateMachineArn = SM .. "nope", definition = PASS }) })
  end)

  it("publishes versions on create and update", function()
    local out = create(api, "v", PASS, { publish = true, versionDescription = "first" })
    assert.equal(SM .. "v:1", out.stateMachineVersionArn)
    out = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "v", definition = WAIT, publish = true })
    assert.equal(SM .. "v:2", out.stateMachineVersionArn)
    assert.equal("ValidationException", select(2, api.err("CreateStateMachine", { name = "w", definition = PASS,
      roleArn = ROLE, versionDescription = "no publish" })))
  end)

  it("deletes: gone for describe, its executions kept, deleting again succeeds", function()
    create(api, "d", PASS)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "d" })
    assert.is_true(client.until_true(api.engine.loop, function()
      return api.ok("DescribeExecution", { executionArn = e.executionArn }).status == "SUCCEEDED"
    end))
    api.ok("DeleteStateMachine", { stateMachineArn = SM .. "d" })
    assert.equal("StateMachineDoesNotExist", select(2, api.err("DescribeStateMachine", { stateMachineArn = SM .. "d" })))
    assert.equal("SUCCEEDED", api.ok("DescribeExecution", { executionArn = e.executionArn }).status)
    assert.equal(PASS, api.ok("DescribeStateMachineForExecution", { executionArn = e.executionArn }).definition)
    api.ok("DeleteStateMachine", { stateMachineArn = SM .. "d" })
    assert.same({ 400, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: nope'" },
      { api.err("DeleteStateMachine", { stateMachineArn = "nope" }) })
  end)
end)

describe("stepflow.server executions", function()
  local api
  before_each(function() api = start_server() end)
  after_each(function() api.close() end)

  local function wait_status(arn, status)
    return client.until_true(api.engine.loop, function()
      return api.ok("DescribeExecution", { executionArn = arn }).status == status
    end)
  end

  it("starts, runs and describes a STANDARD execution", function()
    create(api, "s")
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "s", name = "e1", input = '{"a":1}' })
    assert.equal("arn:aws:states:us-east-1:123456789012:execution:s:e1", e.executionArn)
    assert.is_true(wait_status(e.executionArn, "SUCCEEDED"))
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ "s", "e1", '{"a":1}', '{"a":1}', 0 }, { d.stateMachineArn:match("[^:]+$"), d.name, d.input,
      d.output, d.redriveCount })
    assert.is_true(d.stopDate >= d.startDate)
  end)

  it("names: AWS's rules, the same name and input again, another input refused", function()
    create(api, "n", WAIT)
    assert.same({ 400, "InvalidName", "Invalid Name: 'a/b'" },
      { api.err("StartExecution", { stateMachineArn = SM .. "n", name = "a/b" }) })
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "n", name = "same", input = '{"x":1}' })
    assert.same(e, api.ok("StartExecution", { stateMachineArn = SM .. "n", name = "same", input = '{"x":1}' }))
    assert.same({ 400, "ExecutionAlreadyExists", "Execution Already Exists: '" .. e.executionArn .. "'" },
      { api.err("StartExecution", { stateMachineArn = SM .. "n", name = "same", input = '{"x":2}' }) })
    api.ok("StopExecution", { executionArn = e.executionArn })
    -- a closed execution's name is taken even with the same input
    assert.equal("ExecutionAlreadyExists", select(2, api.err("StartExecution",
      { stateMachineArn = SM .. "n", name = "same", input = '{"x":1}' })))
  end)

  it("refuses inputs that are not JSON, unknown machines and bad ARNs", function()
    create(api, "i")
    local status, code, message = api.err("StartExecution", { stateMachineArn = SM .. "i", input = "{oops" })
    assert.same({ 400, "InvalidExecutionInput" }, { status, code })
    assert.matches("^Invalid State Machine Execution Input: 'json: ", message)
    assert.same({ 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" .. SM .. "none'" },
      { api.err("StartExecution", { stateMachineArn = SM .. "none" }) })
    assert.same({ 400, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: activity'" },
      { api.err("StartExecution", { stateMachineArn = "arn:aws:states:us-east-1:123456789012:activity:x" }) })
    assert.same({ 400, "ExecutionDoesNotExist", "Execution Does Not Exist: 'arn:aws:states:us-east-1:"
      .. "123456789012:execution:i:none'" },
      { api.err("DescribeExecution", { executionArn = "arn:aws:states:us-east-1:123456789012:execution:i:none" }) })
  end)

  it("runs StartSyncExecution for EXPRESS machines only, 200 when the execution fails", function()
    create(api, "x", '{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}}', { type = "EXPRESS" })
    create(api, "ok", PASS, { type = "EXPRESS" })
    local r = api.ok("StartSyncExecution", { stateMachineArn = SM .. "x", input = '{"a":1}' })
    assert.same({ "FAILED", "E", "C", '{"a":1}' }, { r.status, r.error, r.cause, r.input })
    assert.matches("^arn:aws:states:us%-east%-1:123456789012:express:x:", r.executionArn)
    assert.same({ billedMemoryUsedInMB = 64, billedDurationInMilliseconds = 100 }, r.billingDetails)
    r = api.ok("StartSyncExecution", { stateMachineArn = SM .. "ok", input = '{"b":2}', name = "mine" })
    assert.same({ "SUCCEEDED", '{"b":2}', "mine" }, { r.status, r.output, r.name })
    r = api.ok("StartSyncExecution", { stateMachineArn = SM .. "ok", includedData = "METADATA_ONLY" })
    assert.is_nil(r.output)
    assert.is_false(r.outputDetails.included)
    create(api, "std")
    assert.same({ 400, "StateMachineTypeNotSupported", "This operation is only supported by EXPRESS state machines" },
      { api.err("StartSyncExecution", { stateMachineArn = SM .. "std" }) })
  end)

  it("starts EXPRESS executions asynchronously, not kept afterwards", function()
    create(api, "ax", PASS, { type = "EXPRESS" })
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "ax" })
    assert.matches(":express:ax:", e.executionArn)
    assert.equal("InvalidArn", select(2, api.err("DescribeExecution", { executionArn = e.executionArn })))
    assert.equal("StateMachineTypeNotSupported", select(2, api.err("ListExecutions", { stateMachineArn = SM .. "ax" })))
  end)

  it("stops a running execution with an error and cause; stopping again changes nothing", function()
    create(api, "st", WAIT)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "st" })
    local s = api.ok("StopExecution", { executionArn = e.executionArn, error = "Why", cause = "Because" })
    assert.is_number(s.stopDate)
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ "ABORTED", "Why", "Because" }, { d.status, d.error, d.cause })
    assert.same(s, api.ok("StopExecution", { executionArn = e.executionArn }))
  end)

  it("lists executions newest first, by status, in pages", function()
    create(api, "l", WAIT)
    create(api, "other", WAIT)
    local arns = {}
    for i = 1, 5 do
      arns[i] = api.ok("StartExecution", { stateMachineArn = SM .. "l", name = "e" .. i }).executionArn
      api.engine.loop:step()
    end
    api.ok("StartExecution", { stateMachineArn = SM .. "other" })
    api.ok("StopExecution", { executionArn = arns[2] })
    local all = api.ok("ListExecutions", { stateMachineArn = SM .. "l" }).executions
    assert.equal(5, #all)
    local running = api.ok("ListExecutions", { stateMachineArn = SM .. "l", statusFilter = "RUNNING" }).executions
    assert.equal(4, #running)
    local aborted = api.ok("ListExecutions", { stateMachineArn = SM .. "l", statusFilter = "ABORTED" }).executions
    assert.same({ arns[2] }, { aborted[1].executionArn })
    local p1 = api.ok("ListExecutions", { stateMachineArn = SM .. "l", maxResults = 3 })
    local p2 = api.ok("ListExecutions", { stateMachineArn = SM .. "l", maxResults = 3, nextToken = p1.nextToken })
    assert.equal(3, #p1.executions)
    assert.equal(2, #p2.executions)
    assert.is_nil(p2.nextToken)
    assert.equal("ValidationException", select(2, api.err("ListExecutions", {})))
    assert.equal("StateMachineDoesNotExist", select(2, api.err("ListExecutions", { stateMachineArn = SM .. "zz" })))
  end)

  it("gives the history in AWS's shape: paged, reversed, with or without data", function()
    create(api, "h", '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","End":true}}}')
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "h", input = '{"k":"v"}' })
    assert.is_true(wait_status(e.executionArn, "SUCCEEDED"))
    local h = api.ok("GetExecutionHistory", { executionArn = e.executionArn })
    local types = {}
    for i, ev in ipairs(h.events) do types[i] = ev.type end
    assert.same({ "ExecutionStarted", "PassStateEntered", "PassStateExited", "PassStateEntered", "PassStateExited",
      "ExecutionSucceeded" }, types)
    assert.equal('{"k":"v"}', h.events[1].executionStartedEventDetails.input)
    assert.equal(ROLE, h.events[1].executionStartedEventDetails.roleArn)
    assert.equal("number", type(h.events[1].timestamp))
    local r = api.ok("GetExecutionHistory", { executionArn = e.executionArn, reverseOrder = true, maxResults = 4 })
    assert.same({ 6, 5, 4, 3 }, { r.events[1].id, r.events[2].id, r.events[3].id, r.events[4].id })
    local r2 = api.ok("GetExecutionHistory", { executionArn = e.executionArn, reverseOrder = true, maxResults = 4,
      nextToken = r.nextToken })
    assert.same({ 2, 1 }, { r2.events[1].id, r2.events[2].id })
    local bare = api.ok("GetExecutionHistory", { executionArn = e.executionArn, includeExecutionData = false })
    assert.is_nil(bare.events[1].executionStartedEventDetails.input)
    assert.is_false(bare.events[1].executionStartedEventDetails.inputDetails.included)
    assert.equal("ExecutionDoesNotExist", select(2, api.err("GetExecutionHistory",
      { executionArn = "arn:aws:states:us-east-1:123456789012:execution:h:nope" })))
  end)
end)

describe("stepflow.server with credentials", function()
  it("refuses unsigned and malformed requests with AWS's codes", function()
    local engine = assert(stepflow.new({ store = ":memory:" }))
    local server = assert(engine:serve({ port = 0, credentials = { AKID = "secret" } }))
    local _, port = server:address()
    local c = client.connect(engine.loop, port)
    local function send(auth)
      c:send("POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n"
        .. (auth and ("Authorization: " .. auth .. "\r\n") or "") .. "Content-Length: 2\r\n\r\n{}")
      local status, _, body = c:response()
      return status, json.decode(body).__type
    end
    assert.same({ 403, "MissingAuthenticationTokenException" }, { send(nil) })
    assert.same({ 400, "IncompleteSignatureException" }, { send("AWS4-HMAC-SHA256 garbage") })
    assert.same({ 400, "UnrecognizedClientException" }, { send("AWS4-HMAC-SHA256 Credential=OTHER/20260101/us-east-1/"
      .. "states/aws4_request, SignedHeaders=host, Signature=abcd") })
    assert.same({ 400, "IncompleteSignatureException" }, { send("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"
      .. "states/aws4_request, SignedHeaders=host, Signature=abcd") })  -- no X-Amz-Date
    c:close()
    server:close()
    engine:close()
  end)

  it("computes HMAC-SHA256 as RFC 4231 does", function()
    local hmac = require("stepflow.server.sigv4").hmac
    local hex = function(s) return (s:gsub(".", function(ch) return string.format("%02x", ch:byte()) end)) end
    assert.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      hex(hmac(("\x0b"):rep(20), "Hi There")))
    assert.equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      hex(hmac(("\xaa"):rep(131), "Test Using Larger Than Block-Size Key - Hash Key First")))
  end)
end)
