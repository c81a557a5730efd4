-- One bad execution never takes the engine down: whatever a handler
-- returns or raises, however long a delay or loop, the execution fails
-- with an AWS error name and a cause that says what happened, and the
-- engine (and every other execution) goes on.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local h = require("spec_helper")

local function task_def(extra)
  local t = { Type = "Task", Resource = "f", End = true }
  for k, v in pairs(extra or {}) do t[k] = v end
  return { StartAt = "T", States = { T = t } }
end

-- Runs `bad` next to a healthy execution on one engine; returns the bad
-- execution after checking the healthy one succeeded.
local function beside_healthy(def, handlers, input, opts)
  opts = opts or {}
  local engine = stepflow.new({ virtual_time = true, handlers = handlers, history_limit = opts.history_limit })
  local bad_sm = assert(engine:create_state_machine(def, { name = "Bad", type = opts.type }))
  local good_sm = assert(engine:create_state_machine({ StartAt = "W", States = {
    W = { Type = "Wait", Seconds = 1, Next = "P" }, P = { Type = "Pass", Result = "fine", End = true } } },
    { name = "Good" }))
  local bad = assert(engine:start_execution(bad_sm, input or {}))
  local good = assert(engine:start_execution(good_sm, {}))
  engine:run()
  assert.equal("SUCCEEDED", good.status)
  assert.equal("fine", good.output)
  return bad, engine
end

describe("hardening", function()
  describe("a handler result that is not JSON", function()
    local cases = {
      ["a function"] = function() return { x = function() end } end,
      ["a thread"] = function() return { co = coroutine.create(print) } end,
      ["NaN"] = function() return 0 / 0 end,
      ["an infinity"] = function() return { n = 1 / 0 } end,
      ["a table mixing array and object keys"] = function() return { 1, 2, x = 3 } end,
      ["a table with holes"] = function() return { [1] = 1, [3] = 3 } end,
      ["a boolean key"] = function() return { [true] = 1 } end,
    }
    for what, fn in pairs(cases) do
      it("fails only its execution with States.Runtime for " .. what, function()
        local bad = beside_healthy(task_def(), { f = fn })
        assert.equal("FAILED", bad.status)
        assert.equal("States.Runtime", bad.error)
        assert.matches("^The state/task 'f' returned a result that is not JSON: ", bad.cause)
        assert.not_matches("%.lua:%d", bad.cause)
        assert.not_matches("0x%x+", bad.cause)
      end)
    end
  end)

  describe("send_task_success", function()
    it("refuses output that is not JSON with InvalidOutput, and the task still waits for a good one", function()
      local engine = stepflow.new({ virtual_time = true, handlers = { f = function() end } })
      local sm = assert(engine:create_state_machine(task_def({
        Resource = "f.waitForTaskToken", Parameters = { ["token.$"] = "$$.Task.Token" } })))
      local exec = engine:start_execution(sm, {})
      engine:run()
      local token = next(engine.tokens)
      assert.is_string(token)
      local ok, err = engine:send_task_success(token, { f = print })
      assert.is_nil(ok)
      assert.matches("^InvalidOutput: ", err)
      engine:run()
      assert.equal("RUNNING", exec.status)
      assert.is_true(engine:send_task_success(token, { done = true }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.same({ done = true }, exec.output)
    end)
  end)

  describe("what a handler raises", function()
    it("gives a cause without a table address when Error is not a string", function()
      local status, err = h.run(task_def(), {}, { f = function() error({ Error = {}, Cause = 12 }) end })
      assert.equal("FAILED", status)
      assert.equal("States.TaskFailed", err.Error)
      assert.equal("the handler raised an error table whose Error is a table value, not a string (Cause: 12)",
        err.Cause)
    end)
    it("writes out a cause that is a number", function()
      local _, err = h.run(task_def(), {}, { f = function() error({ Error = "E", Cause = 12 }) end })
      assert.same({ Error = "E", Cause = "12" }, err)
    end)
    it("describes a raised value that is neither text nor an error table by its type", function()
      local _, err = h.run(task_def(), {}, { f = function() error(function() end) end })
      assert.same({ Error = "States.TaskFailed", Cause = "a function value" }, err)
    end)
  end)

  describe("a handler that never yields", function()
    it("is stopped at TimeoutSeconds with States.Timeout (a second of CPU) #full", function()
      local bad = beside_healthy(task_def({ TimeoutSeconds = 1 }), {
        f = function() local n = 0; while true do n = n + 1 end end })
      assert.equal("FAILED", bad.status)
      assert.equal("States.Timeout", bad.error)
      assert.is_nil(bad.cause)
    end)
    it("is stopped also when it runs in a worker (it takes a ctx) #full", function()
      local status, err = h.run(task_def({ TimeoutSeconds = 1 }), {}, {
        f = function(_, _) local n = 0; while true do n = n + 1 end end }, { once = true })
      assert.equal("FAILED", status)
      assert.equal("States.Timeout", err.Error)
    end)
  end)

  describe("delays too large for a timer", function()
    it("times a STANDARD execution out after a year when a Wait's SecondsPath gives 1e15", function()
      local bad = beside_healthy({ StartAt = "W", States = { W = { Type = "Wait", SecondsPath = "$.s", End = true } } },
        {}, { s = 1e15 })
      assert.equal("TIMED_OUT", bad.status)
      assert.equal("States.Timeout", bad.error)
      assert.equal(365 * 24 * 3600 * 1000, bad.stop_ms - bad.start_ms)
    end)
    it("times an EXPRESS execution out after five minutes", function()
      local bad = beside_healthy({ StartAt = "W", States = { W = { Type = "Wait", Seconds = 600, End = true } } },
        {}, {}, { type = "EXPRESS" })
      assert.equal("TIMED_OUT", bad.status)
      assert.equal(300 * 1000, bad.stop_ms - bad.start_ms)
    end)
    it("survives a retry interval that overflows (IntervalSeconds x BackoffRate^n)", function()
      local bad = beside_healthy(task_def({ Retry = { { ErrorEquals = { "States.ALL" },
        IntervalSeconds = 99999999, BackoffRate = 1e300, MaxAttempts = 5 } } }),
        { f = function() error("again") end })
      assert.equal("TIMED_OUT", bad.status)
    end)
  end)

  describe("a defect inside a state", function()
    it("fails only that execution with States.Runtime 'internal error', and the loop goes on", function()
      local engine = stepflow.new({ virtual_time = true })
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", Next = "Q" }, Q = { Type = "Pass", End = true } } }))
      -- a state whose code raises a Lua error (not an ASL error value)
      sm.program.states.Q.fast = nil
      sm.program.states.Q.run = function() local t = nil; return t.x end
      local other = assert(engine:create_state_machine({ StartAt = "W", States = {
        W = { Type = "Wait", Seconds = 5, End = true } } }, { name = "Other" }))
      local bad = engine:start_execution(sm, {})
      local good = engine:start_execution(other, { ok = 1 })
      engine:run()
      assert.equal("FAILED", bad.status)
      assert.equal("States.Runtime", bad.error)
      assert.matches("^internal error in state 'Q': ", bad.cause)
      assert.equal("SUCCEEDED", good.status)
    end)
  end)

  describe("AWS's limits", function()
    local loop = { StartAt = "C", States = {
      C = { Type = "Choice", Choices = { { Variable = "$.n", NumericLessThan = 20000, Next = "Inc" } },
        Default = "Done" },
      Inc = { Type = "Pass", Parameters = { ["n.$"] = "States.MathAdd($.n, 1)" }, Next = "C" },
      Done = { Type = "Succeed" } } }

    it("fails a STANDARD execution whose history reaches 25,000 events", function()
      local status, err, exec = h.run(loop, { n = 0 }, {})
      assert.equal("FAILED", status)
      assert.same({ Error = "States.Runtime",
        Cause = "The execution reached the maximum number of history events (25000)." }, err)
      assert.equal(25000, exec.event_id)
      local last = exec.history[#exec.history]
      assert.equal("ExecutionFailed", last.type)
      assert.equal(25000, last.id)
    end)
    it("has no history limit for EXPRESS executions, or with history_limit = false", function()
      assert.equal("SUCCEEDED", (h.run(loop, { n = 0 }, {}, { type = "EXPRESS" })))
      assert.equal("SUCCEEDED", (h.run(loop, { n = 0 }, {}, { history_limit = false })))
    end)
    it("lets event 25,000 be ExecutionSucceeded", function()
      -- ExecutionStarted, 12,499 states of two events each (S, C 6249 times,
      -- Inc 6248 times, Done), ExecutionSucceeded: 25,000 events
      local def = { StartAt = "S", States = {
        S = { Type = "Pass", Next = "C" },
        C = { Type = "Choice", Choices = { { Variable = "$.n", NumericLessThan = 6248, Next = "Inc" } },
          Default = "Done" },
        Inc = { Type = "Pass", Parameters = { ["n.$"] = "States.MathAdd($.n, 1)" }, Next = "C" },
        Done = { Type = "Pass", End = true } } }
      local status, _, exec = h.run(def, { n = 0 }, {})
      assert.equal("SUCCEEDED", status)
      assert.equal(25000, exec.event_id)
    end)
    it("fails a Map whose results together exceed the payload limit with States.DataLimitExceeded", function()
      local status, err = h.run({ StartAt = "M", States = { M = { Type = "Map", End = true,
        ItemSelector = { ["v.$"] = "$$.Map.Item.Value", pad = "xxxxxxxxxxxxxxxxxxxxxxxxx" },
        ItemProcessor = { StartAt = "P", States = { P = { Type = "Pass", End = true } } } } } },
        { 1, 2, 3 }, {}, { payload_limit = 100 })
      assert.equal("FAILED", status)
      assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'M' returned a result " ..
        "with a size exceeding the maximum number of bytes service limit." }, err)
    end)
    it("fails a Parallel whose results together exceed the payload limit, which Catch can catch", function()
      local status, out = h.run({ StartAt = "P", States = { P = { Type = "Parallel", Next = "Done",
        Catch = { { ErrorEquals = { "States.ALL" }, Next = "Caught" } },
        Branches = {
          { StartAt = "A", States = { A = { Type = "Pass", Result = "aaaaaaaaaaaaaaaaaaaaaaaaa", End = true } } },
          { StartAt = "B", States = { B = { Type = "Pass", Result = "bbbbbbbbbbbbbbbbbbbbbbbbb", End = true } } },
        } }, Done = { Type = "Succeed" }, Caught = { Type = "Pass", Parameters = { ["e.$"] = "$.Error" },
          End = true } } },
        {}, {}, { payload_limit = 50 })
      assert.equal("SUCCEEDED", status)
      assert.same({ e = "States.DataLimitExceeded" }, out)
    end)
    describe("checks every state's output against the payload limit", function()
      local LIMIT_CAUSE = " returned a result with a size exceeding the maximum number of bytes service limit."
      local pad = string.rep("x", 60)
      it("fails a state whose ResultPath merges its result into its input past the limit", function()
        -- input and result are each within 100 bytes; together they are not
        local status, err = h.run(task_def({ ResultPath = "$.r" }),
          { p = pad }, { f = function() return { q = pad } end }, { payload_limit = 100 })
        assert.equal("FAILED", status)
        assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'T'" .. LIMIT_CAUSE }, err)
      end)
      it("fails a Task whose ResultSelector repeats its result, and Catch catches it", function()
        local status, out = h.run({ StartAt = "P", States = {
          P = { Type = "Task", Resource = "f", Next = "Done",
            ResultSelector = { ["a.$"] = "$.q", ["b.$"] = "$.q" },
            Catch = { { ErrorEquals = { "States.ALL" }, ResultPath = "$.e", Next = "Caught" } } },
          Done = { Type = "Succeed" },
          Caught = { Type = "Pass", Parameters = { ["e.$"] = "$.e.Error" }, End = true } } },
          {}, { f = function() return { q = pad } end }, { payload_limit = 100 })
        assert.equal("SUCCEEDED", status)
        assert.same({ e = "States.DataLimitExceeded" }, out)
      end)
      it("fails a Pass whose ResultPath copies its input past the limit", function()
        local status, err = h.run({ StartAt = "P", States = { P = { Type = "Pass", ResultPath = "$.copy",
          End = true } } }, { p = pad }, {}, { payload_limit = 100 })
        assert.equal("FAILED", status)
        assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'P'" .. LIMIT_CAUSE }, err)
      end)
      it("fails a Pass whose Parameters repeat its input past the limit", function()
        local status, err = h.run({ StartAt = "P", States = { P = { Type = "Pass", End = true,
          Parameters = { ["a.$"] = "$.p", ["b.$"] = "$.p" } } } }, { p = pad }, {}, { payload_limit = 100 })
        assert.equal("FAILED", status)
        assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'P'" .. LIMIT_CAUSE }, err)
      end)
      it("fails a JSONata state whose Output builds a value past the limit", function()
        local status, err = h.run({ QueryLanguage = "JSONata", StartAt = "P", States = { P = { Type = "Pass",
          Output = "{% [$states.input.p, $states.input.p] %}", End = true } } },
          { p = pad }, {}, { payload_limit = 100 })
        assert.equal("FAILED", status)
        assert.same({ Error = "States.DataLimitExceeded", Cause = "The state/task 'P'" .. LIMIT_CAUSE }, err)
      end)
      it("lets states that only select or pass on their input go on at the limit", function()
        local status, out = h.run({ StartAt = "C", States = {
          C = { Type = "Choice", Choices = { { Variable = "$.p", IsPresent = true, Next = "P" } } },
          P = { Type = "Pass", ResultPath = "$.r", Result = 1, OutputPath = "$.p", End = true } } },
          { p = pad }, {}, { payload_limit = 70 })
        assert.equal("SUCCEEDED", status)
        assert.equal(pad, out)
      end)
    end)
    it("refuses an execution input over the payload limit before anything is recorded", function()
      local engine = stepflow.new({ history = true, payload_limit = 10 })
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }))
      local exec, err, info = engine:start_execution(sm, { s = "a long enough string" })
      assert.is_nil(exec)
      assert.equal("ValidationException: 1 validation error detected: Value at 'input' failed to satisfy " ..
        "constraint: Member must have length less than or equal to 10", err)
      assert.same({ code = "ValidationException" }, info)
    end)
    it("gives EXPRESS executions AWS's ARN: express:MACHINE:NAME:UUID", function()
      local engine = stepflow.new({})
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } },
        { name = "Fast", type = "EXPRESS" }))
      local named = engine:start_execution(sm, {}, { name = "n1" })
      assert.matches("^arn:aws:states:us%-east%-1:123456789012:express:Fast:n1:%x+%-%x+%-%x+%-%x+%-%x+$", named.arn)
      local unnamed = engine:start_execution(sm, {})
      assert.matches("^arn:aws:states:us%-east%-1:123456789012:express:Fast:[%x-]+:[%x-]+$", unnamed.arn)
      assert.equal(unnamed.name, unnamed.arn:match(":express:Fast:([^:]+):"))
    end)
  end)
end)

describe("recovery", function()
  local path
  before_each(function() path = os.tmpname() .. ".db" end)
  after_each(function() os.remove(path); os.remove(path .. "-wal"); os.remove(path .. "-shm") end)

  it("fails an execution it cannot resume instead of refusing the store, and resumes the others", function()
    local engine = assert(stepflow.new({ store = path, virtual_time = true }))
    local sm = assert(engine:create_state_machine({ StartAt = "W", States = {
      W = { Type = "Wait", Seconds = 10, End = true } } }, { name = "Waits" }))
    local broken = assert(engine:start_execution(sm, {}, { name = "broken" }))
    local fine = assert(engine:start_execution(sm, {}, { name = "fine" }))
    -- commit both starts without running them to their end
    engine.durability:commit()
    engine:close()
    -- the definition of one of them disappears (a store edited by hand)
    local sqlite = io.popen("python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); " ..
      "c.execute(\\\"update executions set revision = 99 where name = 'broken'\\\"); c.commit()\" " .. path)
    sqlite:close()
    local again = assert(stepflow.new({ store = path, virtual_time = true }))
    local n, failed = assert(again:recover())
    assert.equal(1, n)
    assert.equal(1, #failed)
    assert.equal(broken.arn, failed[1].arn)
    again:run()
    local rec = again.store:get_execution(broken.arn)
    assert.equal("FAILED", rec.status)
    assert.equal("States.Runtime", rec.error)
    assert.matches("^stepflow could not resume this execution: ", rec.cause)
    assert.equal("SUCCEEDED", again.store:get_execution(fine.arn).status)
    again:close()
    -- and the store no longer stops an engine
    local third = assert(stepflow.new({ store = path, virtual_time = true }))
    assert.same({ 0, {} }, { third:recover() })
    third:close()
    assert.is_true(json.decode("true"))
  end)
end)
