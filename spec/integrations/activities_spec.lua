-- Activity tasks: served by a Lua handler in this process, or waiting
-- for a worker (engine:get_activity_task) that ends them with the token.
local stepflow = require("stepflow")
local h = require("spec_helper")

local ARN = "arn:aws:states:us-east-1:123456789012:activity:approve"

local function machine(extra)
  local st = { Type = "Task", Resource = ARN, End = true }
  for k, v in pairs(extra or {}) do st[k] = v end
  return { StartAt = "Approve", States = { Approve = st } }
end

describe("activities", function()
  it("waits for a worker, records AWS's Activity* events, and ends with the worker's output", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local sm = assert(engine:create_state_machine(machine()))
    local exec = engine:start_execution(sm, { order = 7 })
    engine:run()
    assert.equal("RUNNING", exec.status)
    assert.is_nil(engine:get_activity_task("arn:aws:states:us-east-1:123456789012:activity:other", "w"))
    local task = assert(engine:get_activity_task(ARN, "worker-1"))
    assert.equal('{"order":7}', task.input)
    assert.is_nil(engine:get_activity_task(ARN, "worker-2"))
    assert(engine:send_task_success(task.taskToken, { approved = true }))
    engine:run()
    assert.equal("SUCCEEDED", exec.status)
    assert.same({ approved = true }, exec.output)
    assert.same({ "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
      "TaskStateExited", "ExecutionSucceeded" }, h.event_types(exec))
    assert.same({ resource = ARN, input = { order = 7 } }, exec.history[3].details)
    assert.same({ workerName = "worker-1" }, exec.history[4].details)
  end)

  it("hands a task to a worker that waits (long poll) as soon as it is scheduled", function()
    local engine = stepflow.new({ virtual_time = true })
    local got
    engine:wait_activity_task(ARN, "w", function(task) got = task end)
    local sm = assert(engine:create_state_machine(machine()))
    local exec = engine:start_execution(sm, 1)
    engine:run()
    assert.truthy(got)
    assert(engine:send_task_failure(got.taskToken, "Rejected", "no"))
    engine:run()
    assert.same({ "FAILED", "Rejected", "no" }, { exec.status, exec.error, exec.cause })
  end)

  it("counts TimeoutSeconds from the worker's start (ActivityTimedOut)", function()
    local engine = stepflow.new({ virtual_time = true, history = true })
    local sm = assert(engine:create_state_machine(machine({ TimeoutSeconds = 30 })))
    local exec = engine:start_execution(sm, {})
    engine:run()
    assert.equal("RUNNING", exec.status)  -- no worker yet: it waits
    assert(engine:get_activity_task(ARN, "slow-worker"))
    engine:run()
    assert.equal("States.Timeout", exec.error)
    assert.same({ "ActivityScheduled", "ActivityStarted", "ActivityTimedOut" },
      { exec.history[3].type, exec.history[4].type, exec.history[5].type })
    assert.is_nil(engine:get_activity_task(ARN, "late"))
  end)

  it("counts the heartbeat from the worker's start", function()
    local engine = stepflow.new({ virtual_time = true })
    local sm = assert(engine:create_state_machine(machine({ HeartbeatSeconds = 10 })))
    local exec = engine:start_execution(sm, {})
    engine:run()
    assert.equal("RUNNING", exec.status)  -- no heartbeat while nobody has it
    assert(engine:get_activity_task(ARN, "w"))
    engine:run()
    assert.equal("States.HeartbeatTimeout", exec.error)
  end)

  it("runs a Lua handler registered under the activity's name as an in-process worker", function()
    local status, out, exec = h.run(machine(), { n = 1 }, { approve = function(x) return { n = x.n + 1 } end })
    assert.equal("SUCCEEDED", status)
    assert.same({ n = 2 }, out)
    assert.same({ workerName = "stepflow" }, exec.history[4].details)
  end)
end)
