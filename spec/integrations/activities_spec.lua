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

  it("serves long-polling workers in the order they came, skipping one that has gone", function()
    local engine = stepflow.new({ virtual_time = true })
    local got = {}
    local function worker(name, alive)
      engine:wait_activity_task(ARN, name, function(task) got[#got + 1] = { name, task.input } end, alive)
    end
    worker("first")
    worker("gone", function() return false end)
    local give_up_third = engine:wait_activity_task(ARN, "third", function() error("gave up") end)
    worker("fourth")
    give_up_third()
    local sm = assert(engine:create_state_machine(machine()))
    for i = 1, 3 do engine:start_execution(sm, { i = i }) end
    engine:run()
    assert.same({ { "first", '{"i":1}' }, { "fourth", '{"i":2}' } }, got)
    assert.equal(1, engine.activities:pending(ARN))
    assert.equal(0, engine.activities:workers(ARN))
    assert.equal('{"i":3}', engine:get_activity_task(ARN, "late").input)
  end)

  it("forgets a queued task whose execution was stopped", function()
    local engine = stepflow.new({ virtual_time = true })
    local sm = assert(engine:create_state_machine(machine()))
    local a = engine:start_execution(sm, { n = 1 }, { history = true })
    engine:start_execution(sm, { n = 2 })
    engine:run()
    assert.equal(2, engine.activities:pending(ARN))
    assert(a:stop("Ops.Stop", "by hand"))
    assert.equal('{"n":2}', engine:get_activity_task(ARN, "w").input)
    assert.is_nil(engine:get_activity_task(ARN, "w"))
  end)

  describe("with a store", function()
    local path
    before_each(function()
      path = os.tmpname()
      os.remove(path)
      path = path .. ".db"
    end)
    after_each(function()
      for _, s in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. s) end
    end)

    local function two_steps()
      return { StartAt = "A", States = { A = { Type = "Task", Resource = ARN, Next = "B" },
        B = { Type = "Task", Resource = ARN, End = true } } }
    end

    it("hands a delivered task out once across a restart, and its token stays valid", function()
      local first = assert(stepflow.new({ store = path, virtual_time = true }))
      local sm = assert(first:create_state_machine(two_steps(), { name = "m" }))
      local exec = assert(first:start_execution(sm, { n = 1 }, { name = "x" }))
      first:run()
      local task = assert(first:get_activity_task(ARN, "before"))
      first:run()  -- ActivityStarted is committed
      first:close()
      local again = assert(stepflow.new({ store = path, virtual_time = true }))
      assert.equal(1, again:recover())
      again:run()
      assert.is_nil(again:get_activity_task(ARN, "after"))
      assert(again:send_task_success(task.taskToken, { n = 2 }))
      again:run()
      local second = assert(again:get_activity_task(ARN, "after"))
      assert.equal('{"n":2}', second.input)
      assert(again:send_task_success(second.taskToken, { n = 3 }))
      again:run()
      local rec = again.store:get_execution(exec.arn)
      assert.same({ "SUCCEEDED", '{"n":3}' }, { rec.status, rec.output })
      local started = {}
      for _, e in ipairs(again:history(exec.arn)) do
        if e.type == "ActivityStarted" then started[#started + 1] = e.activityStartedEventDetails.workerName end
      end
      assert.same({ "before", "after" }, started)
      again:close()
    end)

    it("queues a task nobody took again after a restart, with the token it had", function()
      local first = assert(stepflow.new({ store = path, virtual_time = true }))
      local sm = assert(first:create_state_machine(machine(), { name = "m" }))
      local exec = assert(first:start_execution(sm, { n = 1 }, { name = "x" }))
      first:run()
      local waiting = first:waiting_tasks(exec.arn)
      assert.same({ { state = "Approve", token = waiting[1].token, resource = ARN, kind = "activity", taken = false } },
        waiting)
      first:close()
      local again = assert(stepflow.new({ store = path, virtual_time = true }))
      again:recover()
      again:run()
      local task = assert(again:get_activity_task(ARN, "w"))
      assert.equal(waiting[1].token, task.taskToken)
      again:close()
    end)
  end)
end)
