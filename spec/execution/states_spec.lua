local h = require("spec_helper")

describe("states", function()
  describe("Succeed", function()
    it("ends the execution with its input", function()
      local status, out = h.run({ StartAt = "S", States = { S = { Type = "Succeed", OutputPath = "$.a" } } }, { a = 2 })
      assert.equal("SUCCEEDED", status)
      assert.equal(2, out)
    end)
  end)

  describe("Pass", function()
    it("fails with States.DataLimitExceeded when its Result is over the payload limit", function()
      local big = ("x"):rep(300 * 1024)
      local def = { StartAt = "Big", States = { Big = { Type = "Pass", Result = big, End = true } } }
      local status, err = h.run(def, {})
      assert.equal("FAILED", status)
      assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'Big' returned a " ..
        "result with a size exceeding the maximum number of bytes service limit." }, err)
      -- the limit is the engine's: a smaller one counts, none disables it
      status = h.run({ StartAt = "P", States = { P = { Type = "Pass", Result = ("y"):rep(50), End = true } } },
        {}, nil, { payload_limit = 40 })
      assert.equal("FAILED", status)
      assert.equal("SUCCEEDED", (h.run(def, {}, nil, { payload_limit = false })))
    end)
  end)

  describe("paths to numbers and to Fail's error and cause", function()
    it("fails a TimeoutSecondsPath that matches nothing as InputPath does, before the task runs", function()
      local ran = false
      local status, err = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "work",
        TimeoutSecondsPath = "$.NoSuchTimeout", End = true } } }, {}, { work = function() ran = true end })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.equal("An error occurred while executing the state 'T' (entered at the event id #2). " ..
        "Invalid path '$.NoSuchTimeout' : No results for path: $['NoSuchTimeout']", err.Cause)
      assert.is_false(ran)
    end)

    it("fails an ErrorPath that matches nothing naming the field and the input", function()
      local status, err = h.run({ StartAt = "F", States = { F = { Type = "Fail",
        ErrorPath = "$.ErrorX", Cause = "c" } } }, { a = 1 })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.equal("An error occurred while executing the state 'F' (entered at the event id #2). " ..
        "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the " ..
        "input '{\"a\":1}'", err.Cause)
    end)
  end)

  describe("Fail", function()
    it("fails with its Error and Cause", function()
      local status, err = h.run({ StartAt = "F", States = { F = { Type = "Fail", Error = "E", Cause = "C" } } }, {})
      assert.equal("FAILED", status)
      assert.same({ Error = "E", Cause = "C" }, err)
    end)
    it("reads ErrorPath and CausePath, including intrinsics", function()
      local status, err = h.run({ StartAt = "F", States = { F = { Type = "Fail", ErrorPath = "$.e",
        CausePath = "States.Format('bad {}', $.n)" } } }, { e = "Oops", n = 3 })
      assert.equal("FAILED", status)
      assert.same({ Error = "Oops", Cause = "bad 3" }, err)
    end)
    it("records no error or cause when none is given", function()
      local status, err = h.run({ StartAt = "F", States = { F = { Type = "Fail" } } }, {})
      assert.equal("FAILED", status)
      assert.same({}, err)
    end)
  end)

  describe("Choice", function()
    local def = { StartAt = "C", States = {
      C = { Type = "Choice", Choices = {
        { Variable = "$.n", NumericGreaterThan = 10, Next = "Big" },
        { And = { { Variable = "$.s", IsPresent = true }, { Variable = "$.s", StringMatches = "a*" } }, Next = "A" },
      }, Default = "Other" },
      Big = { Type = "Pass", Result = "big", End = true },
      A = { Type = "Pass", Result = "a", End = true },
      Other = { Type = "Pass", Result = "other", End = true },
    } }
    it("takes the first matching rule", function()
      local _, out = h.run(def, { n = 11, s = "abc" })
      assert.equal("big", out)
      _, out = h.run(def, { n = 1, s = "abc" })
      assert.equal("a", out)
    end)
    it("falls back to Default", function()
      local _, out = h.run(def, { n = 1 })
      assert.equal("other", out)
    end)
    it("fails with States.NoChoiceMatched without a Default", function()
      local status, err = h.run({ StartAt = "C", States = { C = { Type = "Choice", Choices = {
        { Variable = "$.n", NumericEquals = 1, Next = "D" } } }, D = { Type = "Succeed" } } }, { n = 2 })
      assert.equal("FAILED", status)
      assert.equal("States.NoChoiceMatched", err.Error)
    end)
  end)

  describe("Wait", function()
    it("waits Seconds on the virtual clock", function()
      local status, _, exec, engine = h.run({ StartAt = "W", States = { W = { Type = "Wait", Seconds = 3600, End = true } } }, {})
      assert.equal("SUCCEEDED", status)
      assert.is_true(exec.stop_ms - exec.start_ms >= 3600000)
      assert.is_true(engine.loop:is_virtual())
    end)
    it("waits until a Timestamp, and passes a past one at once", function()
      local status = h.run({ StartAt = "W", States = { W = { Type = "Wait", Timestamp = "2016-03-14T01:59:00Z", End = true } } }, { a = 1 })
      assert.equal("SUCCEEDED", status)
    end)
    it("reads SecondsPath and refuses negative and fractional values", function()
      local def = { StartAt = "W", States = { W = { Type = "Wait", SecondsPath = "$.s", End = true } } }
      assert.equal("SUCCEEDED", (h.run(def, { s = 5 })))
      local status, err = h.run(def, { s = -1 })
      assert.equal("FAILED", status)
      assert.equal("An error occurred while executing the state 'W' (entered at the event id #2). " ..
        "The SecondsPath parameter references a negative value: $.s == -1", err.Cause)
      status, err = h.run(def, { s = 1.5 })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.matches("cannot be parsed as a long value", err.Cause)
    end)
    it("refuses a TimestampPath that is not an ISO-8601 date-time", function()
      local status, err = h.run({ StartAt = "W", States = { W = { Type = "Wait", TimestampPath = "$.t", End = true } } },
        { t = "2016-12-05T21:29:29" })
      assert.equal("FAILED", status)
      assert.matches("does not reference a valid ISO%-8601 extended offset date%-time format string: %$%.t == 2016%-12%-05T21:29:29", err.Cause)
    end)
    it("lets other executions run while one waits", function()
      local stepflow = require("stepflow")
      local engine = stepflow.new({ virtual_time = true })
      local slow = assert(engine:create_state_machine({ StartAt = "W", States = { W = { Type = "Wait", Seconds = 10, End = true } } }, { name = "slow" }))
      local fast = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }, { name = "fast" }))
      local order = {}
      engine:start_execution(slow, {}, { on_done = function() order[#order + 1] = "slow" end })
      engine:start_execution(fast, {}, { on_done = function() order[#order + 1] = "fast" end })
      engine:run()
      assert.same({ "fast", "slow" }, order)
    end)
  end)

  describe("execution TimeoutSeconds", function()
    it("times the execution out with States.Timeout", function()
      local status, err, exec = h.run({ TimeoutSeconds = 5, StartAt = "W", States = { W = { Type = "Wait", Seconds = 60, End = true } } }, {})
      assert.equal("TIMED_OUT", status)
      assert.equal("States.Timeout", err.Error)
      assert.equal("ExecutionTimedOut", exec.history[#exec.history].type)
    end)
  end)
end)

describe("event ids", function()
  local h4 = require("spec_helper")
  it("count every state of a chain, so an error names its state's entry id", function()
    local def = { StartAt = "A", States = {
      A = { Type = "Pass", Next = "B" },
      B = { Type = "Choice", Choices = { { Variable = "$.x", NumericEquals = 1, Next = "C" } }, Default = "C" },
      C = { Type = "Pass", InputPath = "$.missing", End = true } } }
    for _, keep in ipairs({ false, true }) do
      local stepflow = require("stepflow")
      local engine = stepflow.new({ virtual_time = true, history = keep })
      local sm = assert(engine:create_state_machine(def))
      local exec = engine:start_execution(sm, { x = 1 })
      engine:run()
      assert.equal("FAILED", exec.status)
      assert.matches("(entered at the event id #6)", exec.cause, 1, true)
      assert.equal(3, exec.transitions)
    end
    assert.equal("FAILED", (h4.run(def, { x = 1 })))
  end)
end)
