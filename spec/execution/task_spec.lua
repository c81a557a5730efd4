local h = require("spec_helper")
local json = require("stepflow.json")
local stepflow = require("stepflow")

local function task(fields)
  local st = { Type = "Task", Resource = "arn:aws:lambda:us-east-1:123456789012:function:work", End = true }
  for k, v in pairs(fields or {}) do st[k] = v end
  return { StartAt = "T", States = { T = st } }
end

describe("Task", function()
  describe("handlers", function()
    it("finds a Lambda ARN's handler by function name and passes the effective input", function()
      local seen
      local status, out = h.run(task({ Parameters = { ["x.$"] = "$.a" } }), { a = 4 },
        { work = function(input) seen = input; return { y = input.x * 2 } end })
      assert.equal("SUCCEEDED", status)
      assert.same({ x = 4 }, seen)
      assert.same({ y = 8 }, out)
    end)
    it("finds a handler by its full Resource string", function()
      local _, out = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "my:thing", End = true } } },
        1, { ["my:thing"] = function(n) return n + 1 end })
      assert.equal(2, out)
    end)
    it("gives a handler a copy, so changing its input changes nothing else", function()
      local _, out = h.run(task({ ResultPath = "$.r" }), { a = { b = 1 } },
        { work = function(input) input.a.b = 99; return 0 end })
      assert.same({ a = { b = 1 }, r = 0 }, out)
    end)
    it("passes ctx with the execution and state names", function()
      local ctx_seen
      h.run(task(), {}, { work = function(_, ctx) ctx_seen = ctx; return 1 end }, { exec_name = "run-1" })
      assert.equal("T", ctx_seen.state_name)
      assert.equal("run-1", ctx_seen.execution_name)
      assert.matches(":execution:Spec:run%-1$", ctx_seen.execution_id)
    end)
    it("passes a null input to a function ARN as null, not {}", function()
      local got = "unset"
      local status, out = h.run(task(), json.null, { work = function(x) got = x; return x end })
      assert.equal("SUCCEEDED", status)
      assert.equal(json.null, got)
      assert.equal(json.null, out)
    end)
    it("fails with the error a handler raises as {Error, Cause}", function()
      local status, err = h.run(task(), {}, { work = function() error({ Error = "Pay.Declined", Cause = "no money" }) end })
      assert.equal("FAILED", status)
      assert.same({ Error = "Pay.Declined", Cause = "no money" }, err)
    end)
    it("fails with States.TaskFailed when a handler raises anything else", function()
      local status, err = h.run(task(), {}, { work = function() error("boom", 0) end })
      assert.equal("FAILED", status)
      assert.same({ Error = "States.TaskFailed", Cause = "boom" }, err)
    end)
    it("fails when a handler returns nil and an error value", function()
      local status, err = h.run(task(), {}, { work = function() return nil, stepflow.error("E.x", "why") end })
      assert.equal("FAILED", status)
      assert.same({ Error = "E.x", Cause = "why" }, err)
    end)
    it("uses a handler registered again after a task ran", function()
      local engine = stepflow.new({ virtual_time = true })
      engine:register("f", function() return 1 end)
      local sm = assert(engine:create_state_machine({ StartAt = "T", States = {
        T = { Type = "Task", Resource = "f", End = true } } }))
      local a = engine:start_execution(sm, {})
      engine:run()
      engine:register("f", function() return 2 end)
      local b = engine:start_execution(sm, {})
      engine:run()
      assert.equal(1, a.output)
      assert.equal(2, b.output)
    end)
    it("fails with Lambda.ResourceNotFoundException for an unknown function", function()
      local status, err = h.run(task(), {}, {})
      assert.equal("FAILED", status)
      assert.equal("Lambda.ResourceNotFoundException", err.Error)
    end)
  end)

  describe("lambda:invoke", function()
    local def = { StartAt = "T", States = { T = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
      Parameters = { ["FunctionName.$"] = "$.fn", ["Payload.$"] = "$.p" }, End = true } } }
    it("calls FunctionName with Payload and wraps the result as AWS does", function()
      local _, out = h.run(def, { fn = "arn:aws:lambda:us-east-1:1:function:echo:live", p = { a = 1 } },
        { echo = function(x) return x end })
      assert.same({ a = 1 }, out.Payload)
      assert.equal(200, out.StatusCode)
      assert.equal("$LATEST", out.ExecutedVersion)
      assert.is_table(out.SdkHttpMetadata)
      assert.is_string(out.SdkResponseMetadata.RequestId)
    end)
    it("passes a null payload as {}", function()
      local got
      h.run(def, { fn = "echo", p = json.null }, { echo = function(x) got = x; return x end })
      assert.same({}, got)
    end)
  end)

  describe("ResultSelector", function()
    it("reshapes the result before ResultPath", function()
      local _, out = h.run(task({ ResultSelector = { ["v.$"] = "$.deep.v" }, ResultPath = "$.r" }), { a = 1 },
        { work = function() return { deep = { v = 3 } } end })
      assert.same({ a = 1, r = { v = 3 } }, out)
    end)
  end)

  describe("coroutines", function()
    it("runs a handler that takes no ctx directly, and one that does in a worker", function()
      local function in_main() local _, main = coroutine.running(); return main end
      local function run(fn)
        local status, out = h.run(task(), {}, { work = fn })
        return { status, out }
      end
      assert.same({ "SUCCEEDED", true }, run(function(_) return in_main() end))
      assert.same({ "SUCCEEDED", false }, run(function(_, _) return in_main() end))
      assert.same({ "SUCCEEDED", false }, run(function(...) return in_main() end))  -- luacheck: ignore 212
    end)

    it("fails the task of a ctx-less handler as the worker would", function()
      local status, err = h.run(task(), {}, { work = function(_) return nil, "no stock" end })
      assert.equal("FAILED", status)
      assert.same({ Error = "States.TaskFailed", Cause = "no stock" }, err)
      status, err = h.run(task(), {}, { work = function(_) error({ Error = "Shop.Closed", Cause = "night" }) end })
      assert.same({ "FAILED", { Error = "Shop.Closed", Cause = "night" } }, { status, err })
      -- a yield without ctx cannot wait for anything: the task fails, the
      -- engine goes on
      status, err = h.run(task(), {}, { work = function(_) coroutine.yield(1) end })
      assert.equal("FAILED", status)
      assert.equal("States.TaskFailed", err.Error)
      assert.matches("yield", err.Cause)
    end)

    it("lets a handler sleep without blocking other executions", function()
      local engine = stepflow.new({ virtual_time = true })
      local order = {}
      engine:register("slow", function(_, ctx) ctx.sleep(5); order[#order + 1] = "slow"; return 1 end)
      engine:register("fast", function() order[#order + 1] = "fast"; return 2 end)
      local function sm(name, fn)
        return assert(engine:create_state_machine({ StartAt = "T", States = { T = { Type = "Task",
          Resource = fn, End = true } } }, { name = name }))
      end
      local a = engine:start_execution(sm("a", "slow"), {})
      local b = engine:start_execution(sm("b", "fast"), {})
      engine:run()
      assert.same({ "fast", "slow" }, order)
      assert.equal(1, a.output)
      assert.equal(2, b.output)
    end)
    it("times out a handler that runs longer than TimeoutSeconds", function()
      local status, err = h.run(task({ TimeoutSeconds = 2 }), {}, { work = function(_, ctx) ctx.sleep(10); return 1 end })
      assert.equal("FAILED", status)
      assert.equal("States.Timeout", err.Error)
    end)
    it("fails with States.HeartbeatTimeout when heartbeats stop", function()
      local status, err = h.run(task({ HeartbeatSeconds = 2, TimeoutSeconds = 100 }), {}, {
        work = function(_, ctx)
          for _ = 1, 3 do ctx.sleep(1); ctx.heartbeat() end
          ctx.sleep(5)
          return 1
        end })
      assert.equal("FAILED", status)
      assert.equal("States.HeartbeatTimeout", err.Error)
    end)
    it("keeps a handler alive while it sends heartbeats", function()
      local status, out = h.run(task({ HeartbeatSeconds = 2, TimeoutSeconds = 100 }), {}, {
        work = function(_, ctx)
          for _ = 1, 5 do ctx.sleep(1); ctx.heartbeat() end
          return "done"
        end })
      assert.equal("SUCCEEDED", status)
      assert.equal("done", out)
    end)
    it("refuses a TimeoutSecondsPath value that is not a positive integer", function()
      local status, err = h.run(task({ TimeoutSecondsPath = "$.t" }), { t = 0 }, { work = function() return 1 end })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.matches('The TimeoutSecondsPath field refers to value "0" which is not a valid positive integer: $.t',
        err.Cause, 1, true)
    end)
    it("reads TimeoutSecondsPath", function()
      local status, err = h.run(task({ TimeoutSecondsPath = "$.t" }), { t = 1 }, { work = function(_, ctx) ctx.sleep(3); return 1 end })
      assert.equal("FAILED", status)
      assert.equal("States.Timeout", err.Error)
    end)
  end)

  describe(".waitForTaskToken", function()
    it("waits until send_task_success with the token from the context", function()
      local engine = stepflow.new({ virtual_time = true })
      local token
      engine:register("arn:aws:states:::sqs:sendMessage", function(input) token = input.token; return {} end)
      local sm = assert(engine:create_state_machine({ StartAt = "T", States = { T = { Type = "Task",
        Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        Parameters = { ["token.$"] = "$$.Task.Token" }, End = true } } }))
      local exec = engine:start_execution(sm, {})
      engine:run()
      assert.equal("RUNNING", exec.status)
      assert.is_string(token)
      assert.is_true(engine:send_task_success(token, { ok = true }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ ok = true }, exec.output)
      assert.is_nil(engine:send_task_success(token, {}))
    end)
    it("fails the task on send_task_failure", function()
      local engine = stepflow.new({ virtual_time = true })
      local token
      engine:register("cb", function(_, ctx) token = ctx.task_token; return {} end)
      local sm = assert(engine:create_state_machine({ StartAt = "T", States = { T = { Type = "Task",
        Resource = "cb.waitForTaskToken", End = true } } }))
      local exec = engine:start_execution(sm, {})
      engine:run()
      engine:send_task_failure(token, "Human.Rejected", "no")
      engine:run()
      assert.equal("FAILED", exec.status)
      assert.equal("Human.Rejected", exec.error)
    end)
  end)

  describe("history", function()
    it("records Lambda function events for a function ARN", function()
      local _, _, exec = h.run(task(), {}, { work = function() return 1 end })
      assert.same({ "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
    end)
    it("records Task events for other resources, with ids chained as AWS links them", function()
      local _, _, exec = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "x", End = true } } },
        {}, { x = function() return 1 end })
      assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
      -- AWS: ExecutionStarted and the first state's entered event both
      -- follow 0; every other event follows the one before it here.
      for i, e in ipairs(exec.history) do
        assert.equal(i, e.id)
        assert.equal(i <= 2 and 0 or i - 1, e.previousEventId)
      end
    end)
  end)
end)
