local stepflow = require("stepflow")
local status = require("stepflow.graph.status")

-- Runs a definition as a durable execution (an in-memory store) on
-- virtual time and reads each state's status from the stored history, as
-- `stepflow graph --execution` does. Returns statuses, visit counts, the
-- execution and the engine.
local function run(def, input, handlers, keep_going)
  local engine = assert(stepflow.new({ store = ":memory:", virtual_time = true, handlers = handlers }))
  local sm = assert(engine:create_state_machine(def, { name = "S" }))
  local exec = assert(engine:start_execution(sm, input or {}, { name = "e" }))
  engine:run()
  if keep_going then keep_going(engine, exec) end
  local st, count = status.compute(status.from_store(assert(engine.store:history(exec.arn))), exec.status)
  return st, count, exec, engine
end

local function fail(name, cause)
  return function() error(stepflow.error(name, cause or name), 0) end
end

describe("stepflow.graph.status", function()
  it("tells succeeded, caught and failed states apart; unreached ones have none", function()
    local busy = 0
    local st, _, exec = run({
      StartAt = "Validate",
      States = {
        Validate = { Type = "Task", Resource = "ok", Next = "Reserve" },
        Reserve = { Type = "Task", Resource = "busy_once", Next = "Charge",
          Retry = { { ErrorEquals = { "Busy" }, IntervalSeconds = 1 } } },
        Charge = { Type = "Task", Resource = "declined", Next = "Ship",
          Catch = { { ErrorEquals = { "Declined" }, Next = "Release" } } },
        Release = { Type = "Task", Resource = "ok", Next = "PaymentFailed" },
        PaymentFailed = { Type = "Fail", Error = "Payment" },
        Ship = { Type = "Task", Resource = "ok", End = true },
      },
    }, {}, {
      ok = function(x) return x end,
      busy_once = function(x)
        busy = busy + 1
        if busy == 1 then error(stepflow.error("Busy", "try again"), 0) end
        return x
      end,
      declined = fail("Declined"),
    })
    assert.equal("FAILED", exec.status)
    -- Reserve failed once and then succeeded on its retry
    assert.same({ Validate = "succeeded", Reserve = "succeeded", Charge = "caught",
      Release = "succeeded", PaymentFailed = "failed" }, st)
  end)

  it("marks the failing branch failed and its sibling cancelled, the Parallel caught", function()
    local st = run({
      StartAt = "Both",
      States = {
        Both = { Type = "Parallel", Next = "Done",
          Branches = {
            { StartAt = "Slow", States = { Slow = { Type = "Wait", Seconds = 10, Next = "Later" },
              Later = { Type = "Pass", End = true } } },
            { StartAt = "Boom", States = { Boom = { Type = "Task", Resource = "boom", End = true } } },
          },
          Catch = { { ErrorEquals = { "States.ALL" }, Next = "Handle" } } },
        Handle = { Type = "Pass", End = true },
        Done = { Type = "Pass", End = true },
      },
    }, {}, { boom = fail("Oops") })
    assert.same({ Both = "caught", Slow = "cancelled", Boom = "failed", Handle = "succeeded" }, st)
  end)

  it("shows a failed Map iteration on its state and on the Map", function()
    local st, count, exec = run({
      StartAt = "Each",
      States = {
        Each = { Type = "Map", ItemsPath = "$.items", End = true,
          ItemProcessor = { StartAt = "Work", States = { Work = { Type = "Task", Resource = "work", End = true } } } },
      },
    }, { items = { 1, 2, 3 } }, {
      work = function(x)
        if x == 2 then error(stepflow.error("Bad", "two"), 0) end
        return x
      end,
    })
    assert.equal("FAILED", exec.status)
    -- of the three visits of Work, one succeeded, one failed, one was
    -- stopped: the state shows the failure
    assert.same({ Each = "failed", Work = "failed" }, st)
    assert.same({ Each = 1, Work = 3 }, count)
  end)

  it("marks a Fail state and the Map whose iteration it ended failed", function()
    local st = run({
      StartAt = "Each",
      States = {
        Each = { Type = "Map", ItemsPath = "$.items", End = true,
          ItemProcessor = { StartAt = "Check", States = {
            Check = { Type = "Choice", Choices = { { Variable = "$", NumericEquals = 2, Next = "No" } },
              Default = "Yes" },
            Yes = { Type = "Succeed" },
            No = { Type = "Fail", Error = "Two" } } } },
      },
    }, { items = { 1, 2 } })
    assert.same({ Each = "failed", Check = "succeeded", Yes = "succeeded", No = "failed" }, st)
  end)

  it("marks the state an execution waits in as running, and cancelled once stopped", function()
    local def = {
      StartAt = "Prepare",
      States = {
        Prepare = { Type = "Pass", Next = "Ask" },
        Ask = { Type = "Task", Resource = "ask.waitForTaskToken", End = true },
      },
    }
    local handlers = { ask = function() end }
    local st, _, exec = run(def, {}, handlers)
    assert.equal("RUNNING", exec.status)
    assert.same({ Prepare = "succeeded", Ask = "running" }, st)
    st = run(def, {}, handlers, function(_, e) assert(e:stop("Stopped", "by the spec")) end)
    assert.same({ Prepare = "succeeded", Ask = "cancelled" }, st)
  end)

  it("marks the state a timed-out execution was in as failed", function()
    local st, _, exec = run({
      StartAt = "First", TimeoutSeconds = 5,
      States = {
        First = { Type = "Pass", Next = "Long" },
        Long = { Type = "Wait", Seconds = 60, End = true },
      },
    })
    assert.equal("TIMED_OUT", exec.status)
    assert.same({ First = "succeeded", Long = "failed" }, st)
  end)

  it("counts the visits of a loop", function()
    local st, count = run({
      StartAt = "Step",
      States = {
        Step = { Type = "Pass", Parameters = { ["n.$"] = "States.MathAdd($.n, 1)" }, Next = "Again" },
        Again = { Type = "Choice", Choices = { { Variable = "$.n", NumericLessThan = 3, Next = "Step" } },
          Default = "Out" },
        Out = { Type = "Succeed" },
      },
    }, { n = 0 })
    assert.same({ Step = "succeeded", Again = "succeeded", Out = "succeeded" }, st)
    assert.same({ Step = 3, Again = 3, Out = 1 }, count)
  end)

  it("reads an in-memory history the same way", function()
    local engine = stepflow.new({ virtual_time = true, history = true, handlers = { declined = fail("Declined") } })
    local sm = assert(engine:create_state_machine({
      StartAt = "Charge",
      States = {
        Charge = { Type = "Task", Resource = "declined", End = true,
          Catch = { { ErrorEquals = { "Declined" }, Next = "Sorry" } } },
        Sorry = { Type = "Fail", Error = "Payment" },
      },
    }))
    local exec = engine:start_execution(sm, {})
    engine:run()
    assert.same({ Charge = "caught", Sorry = "failed" },
      (status.compute(status.from_memory(exec.history), exec.status)))
  end)
end)
