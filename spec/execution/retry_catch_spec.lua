local h = require("spec_helper")

-- A handler that fails `times` times, then succeeds. Returns a maker of
-- handler tables (spec_helper runs each case twice, each run with fresh
-- handlers) and the call count of the last one made.
local function flaky(times, err)
  local calls = 0
  return function()
    calls = 0
    return { f = function()
      calls = calls + 1
      if calls <= times then error({ Error = err or "Flaky", Cause = "try " .. calls }) end
      return { calls = calls }
    end }
  end, function() return calls end
end

local function def(retry, catch)
  local d = { StartAt = "T", States = {
    T = { Type = "Task", Resource = "f", Retry = retry, Catch = catch, End = true },
  } }
  if catch then d.States.Caught = { Type = "Pass", End = true } end
  return d
end

describe("Retry and Catch", function()
  it("retries with backoff until the handler succeeds", function()
    local fn, calls = flaky(2)
    local status, out, exec = h.run(def({ { ErrorEquals = { "Flaky" }, IntervalSeconds = 2, BackoffRate = 3 } }), {}, fn)
    assert.equal("SUCCEEDED", status)
    assert.same({ calls = 3 }, out)
    assert.equal(3, calls())
    -- 2 s then 6 s of backoff on the virtual clock
    assert.is_true(exec.stop_ms - exec.start_ms >= 8000)
  end)
  it("gives up after MaxAttempts and fails with the last error", function()
    local fn, calls = flaky(10)
    local status, err = h.run(def({ { ErrorEquals = { "States.ALL" }, MaxAttempts = 2 } }), {}, fn)
    assert.equal("FAILED", status)
    assert.same({ Error = "Flaky", Cause = "try 3" }, err)
    assert.equal(3, calls())
  end)
  it("never retries with MaxAttempts 0", function()
    local fn, calls = flaky(10)
    h.run(def({ { ErrorEquals = { "States.ALL" }, MaxAttempts = 0 } }), {}, fn)
    assert.equal(1, calls())
  end)
  it("keeps a separate counter per retrier", function()
    local fn = function()
      local calls = 0
      return { f = function()
        calls = calls + 1
        if calls <= 2 then error({ Error = "A" }) end
        if calls <= 4 then error({ Error = "B" }) end
        return calls
      end }
    end
    local status, out = h.run(def({ { ErrorEquals = { "A" }, MaxAttempts = 2 }, { ErrorEquals = { "B" }, MaxAttempts = 2 } }), {}, fn)
    assert.equal("SUCCEEDED", status)
    assert.equal(5, out)
  end)
  it("caps the interval with MaxDelaySeconds", function()
    local fn = flaky(3)
    local _, _, exec = h.run(def({ { ErrorEquals = { "Flaky" }, IntervalSeconds = 10, BackoffRate = 10, MaxDelaySeconds = 15 } }), {}, fn)
    -- 10 + 15 + 15
    assert.equal(40000, exec.stop_ms - exec.start_ms)
  end)
  it("catches an error into ResultPath and moves to the catcher's Next", function()
    local status, out = h.run(def(nil, { { ErrorEquals = { "Flaky" }, ResultPath = "$.err", Next = "Caught" } }), { a = 1 }, (flaky(1)))
    assert.equal("SUCCEEDED", status)
    assert.same({ a = 1, err = { Error = "Flaky", Cause = "try 1" } }, out)
  end)
  it("tries Retry before Catch", function()
    local fn, calls = flaky(5)
    local status, out = h.run(def({ { ErrorEquals = { "Flaky" }, MaxAttempts = 1 } },
      { { ErrorEquals = { "States.ALL" }, Next = "Caught" } }), {}, fn)
    assert.equal("SUCCEEDED", status)
    assert.equal(2, calls())
    assert.same({ Error = "Flaky", Cause = "try 2" }, out)
  end)
  it("matches any handler error with States.TaskFailed but not States.Timeout", function()
    local _, out = h.run(def(nil, { { ErrorEquals = { "States.TaskFailed" }, Next = "Caught" } }), {}, (flaky(1, "Custom")))
    assert.equal("Custom", out.Error)
    local status, err = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "f", TimeoutSeconds = 1,
      Catch = { { ErrorEquals = { "States.TaskFailed" }, Next = "C" } }, End = true }, C = { Type = "Pass", End = true } } },
      {}, { f = function(_, ctx) ctx.sleep(5) end })
    assert.equal("FAILED", status)
    assert.equal("States.Timeout", err.Error)
  end)
  it("never catches States.Runtime, even with States.ALL", function()
    local status, err = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "f", InputPath = "$.nope",
      Catch = { { ErrorEquals = { "States.ALL" }, Next = "C" } }, End = true }, C = { Type = "Pass", End = true } } },
      {}, { f = function() return 1 end })
    assert.equal("FAILED", status)
    assert.equal("States.Runtime", err.Error)
  end)
  it("catches a task result over the size limit with States.ALL", function()
    local status, out = h.run({ StartAt = "T", States = { T = { Type = "Task",
      Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "big" },
      Catch = { { ErrorEquals = { "States.ALL" }, Next = "C" } }, End = true }, C = { Type = "Pass", End = true } } },
      {}, { big = function() return string.rep("a", 300) end }, { payload_limit = 200 })
    assert.equal("SUCCEEDED", status)
    assert.equal("States.DataLimitExceeded", out.Error)
  end)
  it("names the service, or the function ARN, in a result size failure", function()
    local status, err = h.run({ StartAt = "T", States = { T = { Type = "Task",
      Resource = "arn:aws:states:::lambda:invoke", Parameters = { FunctionName = "big" }, End = true } } },
      {}, { big = function() return string.rep("a", 300) end }, { payload_limit = 200 })
    assert.equal("FAILED", status)
    assert.equal("The state/task 'lambda' returned a result with a size exceeding the maximum number " ..
      "of bytes service limit.", err.Cause)
    local arn = "arn:aws:lambda:us-east-1:1:function:big"
    status, err = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = arn, End = true } } },
      {}, { big = function() return { s = string.rep("a", 300) } end }, { payload_limit = 200 })
    assert.equal("FAILED", status)
    assert.equal("The state/task '" .. arn .. "' returned a result with a size exceeding the maximum " ..
      "number of bytes service limit.", err.Cause)
  end)
  it("exposes the retry count as $$.State.RetryCount", function()
    local counts
    local status = h.run({ StartAt = "T", States = { T = { Type = "Task", Resource = "f",
      Parameters = { ["n.$"] = "$$.State.RetryCount" }, Retry = { { ErrorEquals = { "States.ALL" } } }, End = true } } },
      {}, function()
        counts = {}
        return { f = function(input) counts[#counts + 1] = input.n; if #counts < 3 then error("again") end return 1 end }
      end)
    assert.equal("SUCCEEDED", status)
    assert.same({ 0, 1, 2 }, counts)
  end)
end)
