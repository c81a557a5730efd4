-- Integrations written in Lua: the engine runs request-response, .sync
-- and .waitForTaskToken for them, records AWS's events, and names their
-- errors as AWS does.
local h = require("spec_helper")
local json = require("stepflow.json")
local stepflow = require("stepflow")

local function machine(resource, fields)
  local st = { Type = "Task", Resource = resource, End = true }
  for k, v in pairs(fields or {}) do st[k] = v end
  return { StartAt = "T", States = { T = st } }
end

local function events_of(exec, etype)
  local out = {}
  for _, e in ipairs(exec.history) do
    if e.type == etype then out[#out + 1] = e end
  end
  return out
end

-- An in-memory queue integration (SQS-like): sendMessage returns an id.
local function queue()
  local sent = {}
  return sent, {
    call = function(params, ctx)
      sent[#sent + 1] = { body = params.MessageBody, token = ctx.task_token }
      return { MessageId = "m-" .. #sent, MD5OfMessageBody = "x" }
    end,
  }
end

describe("stepflow.integrations (Lua integrations)", function()
  describe("request-response", function()
    it("calls the integration registered for the Resource and records Task events", function()
      local sent, sqs = queue()
      local status, out, exec = h.run(machine("arn:aws:states:::sqs:sendMessage",
        { Parameters = { QueueUrl = "q", ["MessageBody.$"] = "$.msg" } }), { msg = "hi" },
        function() sent, sqs = queue(); return { ["arn:aws:states:::sqs:sendMessage"] = sqs } end)
      assert.equal("SUCCEEDED", status)
      assert.same({ MessageId = "m-1", MD5OfMessageBody = "x" }, out)
      assert.equal("hi", sent[1].body)
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
      local sched = events_of(exec, "TaskScheduled")[1].details
      assert.equal("sqs", sched.resourceType)
      assert.equal("sendMessage", sched.resource)
      assert.equal("us-east-1", sched.region)
    end)

    it("serves the exported form (region, account) with the short form's integration", function()
      local status, out, exec = h.run(machine("arn:aws:states:eu-west-1:111122223333:sqs:sendMessage",
        { Parameters = { MessageBody = "b" } }), {}, function()
          local _, sqs = queue()
          return { ["arn:aws:states:::sqs:sendMessage"] = sqs }
        end)
      assert.equal("SUCCEEDED", status)
      assert.equal("m-1", out.MessageId)
      local sched = events_of(exec, "TaskScheduled")[1].details
      assert.equal("sqs", sched.resourceType)
      assert.equal("sendMessage", sched.resource)
      assert.equal("eu-west-1", sched.region)
    end)

    it("matches a wildcard registration (aws-sdk:s3:*) and gives ctx the action", function()
      local actions = {}
      local s3 = { call = function(params, ctx)
        actions[#actions + 1] = ctx.action .. "@" .. ctx.service
        return { Key = params.Key }
      end }
      local def = { StartAt = "A", States = {
        A = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:s3:getObject", Parameters = { Key = "k" },
          ResultPath = "$.a", Next = "B" },
        B = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:s3:putObject", Parameters = { Key = "p" },
          ResultPath = "$.b", End = true } } }
      local status, out, exec = h.run(def, {}, function()
        actions = {}
        return { ["arn:aws:states:::aws-sdk:s3:*"] = s3 }
      end)
      assert.equal("SUCCEEDED", status)
      assert.same({ a = { Key = "k" }, b = { Key = "p" } }, out)
      assert.same({ "getObject@aws-sdk:s3", "putObject@aws-sdk:s3" }, actions)
      assert.equal("aws-sdk:s3", events_of(exec, "TaskScheduled")[1].details.resourceType)
    end)

    it("serves lambda:invoke with the FunctionName's handler, else an integration for lambda:invoke", function()
      local engine = stepflow.new({ virtual_time = true, handlers = { local_fn = function() return "handler" end },
        integrations = { ["arn:aws:states:::lambda:invoke"] = { call = function(p)
          return { StatusCode = 200, Payload = "integration for " .. p.FunctionName }
        end } } })
      local def = { StartAt = "A", States = {
        A = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "local_fn" },
          ResultSelector = { ["p.$"] = "$.Payload" }, ResultPath = "$.a", Next = "B" },
        B = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "remote_fn" },
          ResultSelector = { ["p.$"] = "$.Payload" }, ResultPath = "$.b", Next = "C" },
        C = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "local_fn" },
          ResultSelector = { ["p.$"] = "$.Payload" }, ResultPath = "$.c", End = true } } }
      local r = engine:run_once(def, {})
      assert.same({ a = { p = "handler" }, b = { p = "integration for remote_fn" }, c = { p = "handler" } }, r.output)
    end)

    it("prefers the exact registration over the wildcard one", function()
      local engine = stepflow.new({ virtual_time = true })
      engine:register_integration("arn:aws:states:::aws-sdk:s3:*", { call = function() return "any" end })
      engine:register_integration("arn:aws:states:::aws-sdk:s3:getObject", { call = function() return "exact" end })
      local r = engine:run_once(machine("arn:aws:states:::aws-sdk:s3:getObject"), {})
      assert.same({ status = "SUCCEEDED", output = "exact" }, r)
    end)

    it("lets an integration wait without blocking other executions (ctx.sleep)", function()
      local engine = stepflow.new({ virtual_time = true, integrations = {
        ["arn:aws:states:::dynamodb:getItem"] = { call = function(p, ctx)
          ctx.sleep(p.delay)
          return { Item = { id = p.id } }
        end } } })
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::dynamodb:getItem",
        { Parameters = { ["id.$"] = "$.id", ["delay.$"] = "$.delay" } })))
      local slow = engine:start_execution(sm, { id = "slow", delay = 30 })
      local fast = engine:start_execution(sm, { id = "fast", delay = 1 })
      local order = {}
      slow.on_done = function() order[#order + 1] = "slow" end
      fast.on_done = function() order[#order + 1] = "fast" end
      engine:run()
      assert.same({ "fast", "slow" }, order)
      assert.same({ Item = { id = "slow" } }, slow.output)
    end)
  end)

  describe("errors", function()
    it("names an optimized integration's error as AWS does (DynamoDB.ResourceNotFoundException)", function()
      local status, err = h.run(machine("arn:aws:states:::dynamodb:putItem"), {}, {
        ["arn:aws:states:::dynamodb:putItem"] = { call = function(_, ctx)
          error(ctx.error("ResourceNotFoundException", "Requested resource not found", 400))
        end } })
      assert.equal("FAILED", status)
      assert.equal("DynamoDB.ResourceNotFoundException", err.Error)
      assert.matches("^Requested resource not found %(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: " ..
        "ResourceNotFoundException; Request ID: [%x%-]+; Proxy: null%)$", err.Cause)
    end)

    it("names an error the SDK does not model by the service's base exception", function()
      local _, err = h.run(machine("arn:aws:states:::sqs:sendMessage"), {}, {
        ["arn:aws:states:::sqs:sendMessage"] = { call = function(_, ctx)
          error(ctx.error("MissingParameter", "The request must contain the parameter MessageBody.",
            { status = 400, exception = "AmazonSQSException" }))
        end } })
      assert.equal("SQS.AmazonSQSException", err.Error)
      assert.matches("Error Code: MissingParameter;", err.Cause, 1, true)
    end)

    it("names an AWS SDK integration's error <Service>.<Code>Exception (S3.NoSuchKeyException)", function()
      -- a Catch written for AWS matches
      local def = { StartAt = "T", States = {
        T = { Type = "Task", Resource = "arn:aws:states:::aws-sdk:s3:getObject",
          Catch = { { ErrorEquals = { "S3.NoSuchKeyException" }, Next = "Caught" } }, End = true },
        Caught = { Type = "Pass", End = true } } }
      local st2, caught = h.run(def, {}, {
        ["arn:aws:states:::aws-sdk:s3:*"] = { call = function(_, ctx)
          error(ctx.error("NoSuchKey", "The specified key does not exist.", 404))
        end } })
      assert.equal("SUCCEEDED", st2)
      assert.equal("S3.NoSuchKeyException", caught.Error)
      assert.matches("^The specified key does not exist%. %(Service: S3, Status Code: 404, Request ID: ", caught.Cause)
    end)

    it("retries on the AWS name with Retry", function()
      local calls = 0
      local def = machine("arn:aws:states:::dynamodb:getItem", { Retry = { {
        ErrorEquals = { "DynamoDB.ProvisionedThroughputExceededException" }, IntervalSeconds = 1, MaxAttempts = 3 } } })
      local status, out = h.run(def, {}, function()
        calls = 0
        return { ["arn:aws:states:::dynamodb:getItem"] = { call = function(_, ctx)
          calls = calls + 1
          if calls < 3 then error(ctx.error("ProvisionedThroughputExceededException", "slow down")) end
          return { Item = {} }
        end } }
      end)
      assert.equal("SUCCEEDED", status)
      assert.same({ Item = {} }, out)
      assert.equal(3, calls)
    end)

    it("passes an error value the integration names itself unchanged", function()
      local _, err = h.run(machine("arn:aws:states:::myservice:doIt"), {}, {
        ["arn:aws:states:::myservice:doIt"] = { call = function() error(stepflow.error("My.Own", "why"), 0) end } })
      assert.same({ Error = "My.Own", Cause = "why" }, err)
    end)

    it("fails a Resource nothing serves with a message naming what to provide", function()
      local status, err = h.run(machine("arn:aws:states:::sns:publish"), {}, {})
      assert.equal("FAILED", status)
      assert.equal("States.TaskFailed", err.Error)
      assert.matches("register an integration for 'arn:aws:states:::sns:publish'", err.Cause, 1, true)
      assert.matches("mock the state", err.Cause, 1, true)
    end)

    it("refuses a badly made integration when it is registered", function()
      local engine = stepflow.new()
      assert.has_error(function() engine:register_integration("arn:aws:states:::sqs:sendMessage", {}) end,
        "integration: integration 'arn:aws:states:::sqs:sendMessage' needs call(params, ctx) (request-response, " ..
        ".waitForTaskToken) or start(params, ctx) (.sync)")
      assert.has_error(function()
        engine:register_integration("arn:aws:states:::sqs:sendMessage.waitForTaskToken", { call = print })
      end)
      assert.has_error(function() engine:register_integration("arn:aws:states:::sqs:sendMessage", { cal = print }) end)
    end)
  end)

  describe(".waitForTaskToken", function()
    it("records TaskSubmitted with the request's result, then ends with the token's output", function()
      local engine = stepflow.new({ virtual_time = true, history = true })
      local sent, sqs = queue()
      engine:register_integration("arn:aws:states:::sqs:sendMessage", sqs)
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        { Parameters = { QueueUrl = "q", MessageBody = { ["TaskToken.$"] = "$$.Task.Token" } } })))
      local exec = engine:start_execution(sm, {})
      engine:run()
      assert.equal("RUNNING", exec.status)
      local token = sent[1].body.TaskToken
      assert.equal(token, sent[1].token)
      assert(engine:send_task_success(token, { done = true }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ done = true }, exec.output)
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
      local sub = events_of(exec, "TaskSubmitted")[1].details
      assert.same({ output = { MessageId = "m-1", MD5OfMessageBody = "x" }, resourceType = "sqs",
        resource = "sendMessage.waitForTaskToken" }, sub)
    end)

    it("ends a lambda:invoke that waits for its token with the token's output as given, not an invoke result",
      function()
        local token
        local engine = stepflow.new({ virtual_time = true, history = true, handlers = {
          notify = function(payload) token = payload.token; return { accepted = true } end } })
        local sm = assert(engine:create_state_machine(machine("arn:aws:states:::lambda:invoke.waitForTaskToken",
          { Parameters = { FunctionName = "notify", Payload = { ["token.$"] = "$$.Task.Token" } } })))
        local exec = engine:start_execution(sm, {})
        engine:run()
        assert.equal("RUNNING", exec.status)
        assert(engine:send_task_success(token, { approved = true }))
        engine:run()
        assert.same({ "SUCCEEDED", { approved = true } }, { exec.status, exec.output })
        assert.same({ approved = true }, events_of(exec, "TaskSucceeded")[1].details.output)
      end)

    it("fails with SendTaskFailure's error and times out without it", function()
      local engine = stepflow.new({ virtual_time = true, history = true })
      local sent, sqs = queue()
      engine:register_integration("arn:aws:states:::sqs:sendMessage", sqs)
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        { TimeoutSeconds = 5, Parameters = { MessageBody = "x" } })))
      local a = engine:start_execution(sm, {})
      engine:run()
      assert.equal("FAILED", a.status)
      assert.equal("States.Timeout", a.error)
      local sm2 = assert(engine:create_state_machine(machine("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        { Parameters = { MessageBody = "x" } }), { name = "NoTimeout" }))
      local b = engine:start_execution(sm2, {})
      engine.loop:step()
      engine.loop:step()
      assert(engine:send_task_failure(sent[2].token, "Failure error", "Failure cause"))
      engine:run()
      assert.same({ "FAILED", "Failure error", "Failure cause" }, { b.status, b.error, b.cause })
      assert.equal(1, #events_of(b, "TaskSubmitted"))
    end)
  end)

  describe(".sync", function()
    it("starts the job, records TaskSubmitted, and polls until the job's result", function()
      local polls = 0
      local jobs = { ["arn:aws:states:::batch:submitJob"] = {
        poll_interval = 30,
        start = function(params) return { JobId = "job-" .. params.JobName } end,
        poll = function(submitted)
          polls = polls + 1
          if polls < 3 then return nil end
          return { JobId = submitted.JobId, Status = "SUCCEEDED" }
        end } }
      local engine = stepflow.new({ virtual_time = true, history = true, integrations = jobs })
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::batch:submitJob.sync",
        { Parameters = { JobName = "nightly" } })))
      local t0 = engine.loop:now()
      local exec = engine:start_execution(sm, {})
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ JobId = "job-nightly", Status = "SUCCEEDED" }, exec.output)
      assert.equal(3, polls)
      -- three polls 30 s apart, on the (virtual) clock, without blocking
      assert.equal(90000, engine.loop:now() - t0)
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
      assert.same({ JobId = "job-nightly" }, events_of(exec, "TaskSubmitted")[1].details.output)
      assert.equal("submitJob.sync", events_of(exec, "TaskSucceeded")[1].details.resource)
    end)

    it("ends an event-driven job with ctx.complete, and fails it with ctx.complete(nil, err)", function()
      local jobs = { ["arn:aws:states:::glue:startJobRun"] = {
        start = function(params, ctx)
          ctx.engine.loop:timer(10, function()
            if params.ok then ctx.complete({ JobRunState = "SUCCEEDED" })
            else ctx.complete(nil, ctx.error("EntityNotFoundException", "no such job")) end
          end)
          return { JobRunId = "jr_1" }
        end } }
      local engine = stepflow.new({ virtual_time = true, integrations = jobs })
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::glue:startJobRun.sync")))
      local good = engine:start_execution(sm, { ok = true })
      local bad = engine:start_execution(sm, { ok = false })
      engine:run()
      assert.same({ JobRunState = "SUCCEEDED" }, good.output)
      assert.equal("Glue.EntityNotFoundException", bad.error)
    end)

    it("stops the job (cancel) when the task times out", function()
      local cancelled
      local jobs = { ["arn:aws:states:::ecs:runTask"] = {
        start = function() return { TaskArn = "t1" } end,
        poll = function() return nil end,
        cancel = function(submitted) cancelled = submitted.TaskArn end } }
      local engine = stepflow.new({ virtual_time = true, integrations = jobs })
      local r = engine:run_once(machine("arn:aws:states:::ecs:runTask.sync", { TimeoutSeconds = 60 }), {})
      assert.same({ status = "FAILED", error = "States.Timeout" }, { status = r.status, error = r.error })
      assert.equal("t1", cancelled)
    end)

    it("stops the job when the execution is stopped", function()
      local cancelled
      local jobs = { ["arn:aws:states:::ecs:runTask"] = {
        start = function() return { TaskArn = "t2" } end,
        poll = function() return nil end,
        cancel = function(submitted) cancelled = submitted.TaskArn end } }
      local engine = stepflow.new({ virtual_time = true, integrations = jobs })
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::ecs:runTask.sync")))
      local exec = engine:start_execution(sm, {})
      engine.loop:step()
      engine.loop:step()
      assert(exec:stop("Stopped", "by a spec"))
      engine:run()
      assert.equal("ABORTED", exec.status)
      assert.equal("t2", cancelled)
    end)

    it("lets SendTaskSuccess end a .sync task with its token, as on AWS", function()
      local token
      local jobs = { ["arn:aws:states:::ecs:runTask"] = {
        start = function(_, ctx) token = ctx.task_token; return { TaskArn = "t3" } end,
        poll = function() return nil end } }
      local engine = stepflow.new({ virtual_time = true, integrations = jobs })
      local sm = assert(engine:create_state_machine(machine("arn:aws:states:::ecs:runTask.sync")))
      local exec = engine:start_execution(sm, {})
      engine.loop:step()
      engine.loop:step()
      assert.truthy(token)
      assert(engine:send_task_success(token, "early"))
      engine:run()
      assert.equal("early", exec.output)
    end)

    it("fails a Resource whose integration lacks what its pattern needs", function()
      local status, err = h.run(machine("arn:aws:states:::batch:submitJob.sync"), {}, {
        ["arn:aws:states:::batch:submitJob"] = { call = function() return {} end } })
      assert.equal("FAILED", status)
      assert.matches("cannot run '.sync' (it has no start function)", err.Cause, 1, true)
    end)
  end)

  describe("handlers files", function()
    it("load integrations (Resource pattern -> table) beside handlers", function()
      local path = os.tmpname()
      local fh = assert(io.open(path, "w"))
      fh:write([[return {
        ["arn:aws:states:::aws-sdk:dynamodb:*"] = { call = function(p, ctx) return { action = ctx.action } end },
        echo = function(x) return x end,
      }]])
      fh:close()
      local engine = stepflow.new({ virtual_time = true })
      assert(engine:load_handlers(path))
      os.remove(path)
      local r = engine:run_once(machine("arn:aws:states:::aws-sdk:dynamodb:query"), {})
      assert.same({ status = "SUCCEEDED", output = { action = "query" } }, r)
    end)
  end)

  describe("unresolved_resources", function()
    it("lists the Tasks nothing serves, with what to provide", function()
      local engine = stepflow.new({ handlers = { known = function() end } })
      local def = { StartAt = "P", States = { P = { Type = "Parallel", End = true, Branches = {
        { StartAt = "A", States = { A = { Type = "Task", Resource = "arn:aws:states:::sqs:sendMessage", End = true } } },
        { StartAt = "B", States = { B = { Type = "Task", Resource = "known", End = true } } },
        { StartAt = "C", States = { C = { Type = "Task", Resource = "arn:aws:states:::http:invoke", End = true } } },
      } } } }
      local sm = assert(engine:create_state_machine(def))
      local list = engine:unresolved_resources(sm)
      assert.equal(1, #list)
      assert.equal("A", list[1].state)
      assert.matches("register an integration for 'arn:aws:states:::sqs:sendMessage'", list[1].message, 1, true)
    end)
  end)

  describe("ctx", function()
    it("runs ctx.on_end when the attempt ends, also by a timeout (what it started stops)", function()
      local ended = {}
      local def = machine("arn:aws:states:::x:wait", { TimeoutSeconds = 5 })
      local status, err = h.run(def, {}, { ["arn:aws:states:::x:wait"] = { call = function(_, ctx)
        ctx.on_end(function() ended[#ended + 1] = "stopped" end)
        return ctx.await(function() end)  -- never answers
      end } }, { once = true })
      assert.equal("FAILED", status)
      assert.equal("States.Timeout", err.Error)
      assert.same({ "stopped" }, ended)
    end)

    it("gives attempt_id: the same text for the same attempt, another for a retry", function()
      local ids = {}
      local def = machine("arn:aws:states:::x:y", { Retry = { { ErrorEquals = { "States.ALL" }, MaxAttempts = 1,
        IntervalSeconds = 1 } } })
      h.run(def, {}, { ["arn:aws:states:::x:y"] = { call = function(_, ctx)
        ids[#ids + 1] = ctx.attempt_id
        if #ids == 1 then error("once", 0) end
        return 1
      end } }, { once = true })
      assert.equal(2, #ids)
      assert.are_not.equal(ids[1], ids[2])
      assert.matches("#0$", ids[1])
      assert.matches("#1$", ids[2])
    end)
  end)

  it("keeps JSON results within the payload limit", function()
    local status, err = h.run(machine("arn:aws:states:::x:big"), {}, {
      ["arn:aws:states:::x:big"] = { call = function() return string.rep("a", 300000) end } })
    assert.equal("FAILED", status)
    assert.equal("States.DataLimitExceeded", err.Error)
    assert.equal(json.null, json.null)
  end)
end)
