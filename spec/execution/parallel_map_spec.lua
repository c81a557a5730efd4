local h = require("spec_helper")
local json = require("stepflow.json")

describe("Parallel", function()
  it("returns the branch outputs in branch order", function()
    local status, out = h.run({ StartAt = "P", States = { P = { Type = "Parallel", End = true, Branches = {
      { StartAt = "W", States = { W = { Type = "Wait", Seconds = 5, Next = "A" }, A = { Type = "Pass", Result = "slow", End = true } } },
      { StartAt = "B", States = { B = { Type = "Pass", Result = "fast", End = true } } },
    } } } }, {})
    assert.equal("SUCCEEDED", status)
    assert.same({ "slow", "fast" }, out)
    assert.is_true(json.is_array(out))
  end)
  it("fails with a branch's error and stops the other branches", function()
    local ran = false
    local status, err = h.run({ StartAt = "P", States = { P = { Type = "Parallel", End = true, Branches = {
      { StartAt = "F", States = { F = { Type = "Fail", Error = "Branch.Boom", Cause = "x" } } },
      { StartAt = "W", States = { W = { Type = "Wait", Seconds = 5, Next = "T" }, T = { Type = "Task", Resource = "t", End = true } } },
    } } } }, {}, { t = function() ran = true; return 1 end })
    assert.equal("FAILED", status)
    assert.same({ Error = "Branch.Boom", Cause = "x" }, err)
    assert.is_false(ran)
  end)
  it("applies ResultSelector and ResultPath to the branch results", function()
    local _, out = h.run({ StartAt = "P", States = { P = { Type = "Parallel", End = true,
      ResultSelector = { ["first.$"] = "$[0]" }, ResultPath = "$.r", Branches = {
      { StartAt = "A", States = { A = { Type = "Pass", Result = 1, End = true } } },
      { StartAt = "B", States = { B = { Type = "Pass", Result = 2, End = true } } },
    } } } }, { x = 0 })
    assert.same({ x = 0, r = { first = 1 } }, out)
  end)
  it("retries the whole state", function()
    local status, out = h.run({ StartAt = "P", States = { P = { Type = "Parallel", End = true,
      Retry = { { ErrorEquals = { "States.ALL" } } }, Branches = {
      { StartAt = "T", States = { T = { Type = "Task", Resource = "t", End = true } } },
    } } } }, {}, function()
      local calls = 0
      return { t = function() calls = calls + 1; if calls == 1 then error("first") end return calls end }
    end)
    assert.equal("SUCCEEDED", status)
    assert.same({ 2 }, out)
  end)
end)

describe("Map", function()
  local function map(fields, processor)
    local st = { Type = "Map", End = true, ItemProcessor = processor or { StartAt = "I", States = { I = { Type = "Pass", End = true } } } }
    for k, v in pairs(fields) do st[k] = v end
    return { StartAt = "M", States = { M = st } }
  end
  it("runs the processor for every item and keeps item order", function()
    local _, out = h.run(map({ ItemsPath = "$.xs" }, { StartAt = "T", States = { T = { Type = "Task", Resource = "sq", End = true } } }),
      { xs = json.array({ 1, 2, 3 }) }, { sq = function(n) return n * n end })
    assert.same({ 1, 4, 9 }, out)
  end)
  it("gives [] for no items", function()
    local _, out = h.run(map({}), json.array({}))
    assert.is_true(json.is_array(out))
    assert.equal(0, #out)
  end)
  it("builds each iteration's input with ItemSelector and the Map context", function()
    local _, out = h.run(map({ ItemsPath = "$.xs", ItemSelector = { ["i.$"] = "$$.Map.Item.Index", ["v.$"] = "$$.Map.Item.Value", ["k.$"] = "$.k" } }),
      { xs = json.array({ "a", "b" }), k = 7 })
    assert.same({ { i = 0, v = "a", k = 7 }, { i = 1, v = "b", k = 7 } }, out)
  end)
  it("accepts the legacy Iterator and Parameters", function()
    local _, out = h.run({ StartAt = "M", States = { M = { Type = "Map", End = true, Parameters = { ["v.$"] = "$$.Map.Item.Value" },
      Iterator = { StartAt = "I", States = { I = { Type = "Pass", End = true } } } } } }, json.array({ 1 }))
    assert.same({ { v = 1 } }, out)
  end)
  it("never has more than MaxConcurrency iterations in flight", function()
    local in_flight, peak = 0, 0
    local _, out = h.run(map({ MaxConcurrency = 2 }, { StartAt = "T", States = { T = { Type = "Task", Resource = "w", End = true } } }),
      json.array({ 1, 2, 3, 4, 5 }), { w = function(n, ctx)
        in_flight = in_flight + 1
        if in_flight > peak then peak = in_flight end
        ctx.sleep(1)
        in_flight = in_flight - 1
        return n
      end })
    assert.same({ 1, 2, 3, 4, 5 }, out)
    assert.equal(2, peak)
  end)
  it("fails with an iteration's error", function()
    local status, err = h.run(map({}, { StartAt = "C", States = { C = { Type = "Choice",
      Choices = { { Variable = "$", NumericEquals = 2, Next = "F" } }, Default = "P" },
      F = { Type = "Fail", Error = "Two" }, P = { Type = "Pass", End = true } } }), json.array({ 1, 2, 3 }))
    assert.equal("FAILED", status)
    assert.equal("Two", err.Error)
  end)
  it("fails with States.Runtime when the items are not an array", function()
    local status, err = h.run(map({ ItemsPath = "$.x" }), { x = 1 })
    assert.equal("FAILED", status)
    assert.equal("States.Runtime", err.Error)
    assert.matches("Map state input must be an array but was: 1", err.Cause, 1, true)
  end)
  it("batches items with ItemBatcher", function()
    local _, out = h.run(map({ ItemBatcher = { MaxItemsPerBatch = 2, BatchInput = { tag = "t" } } }), json.array({ 1, 2, 3 }))
    assert.same({ { Items = { 1, 2 }, BatchInput = { tag = "t" } }, { Items = { 3 }, BatchInput = { tag = "t" } } }, out)
  end)
  describe("DISTRIBUTED", function()
    local proc = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "C", States = {
      C = { Type = "Choice", Choices = { { Variable = "$", NumericGreaterThan = 2, Next = "F" } }, Default = "P" },
      F = { Type = "Fail", Error = "Big" }, P = { Type = "Pass", End = true } } }
    it("tolerates failures up to ToleratedFailureCount", function()
      local status = h.run(map({ ToleratedFailureCount = 1 }, proc), json.array({ 1, 2, 3 }))
      assert.equal("SUCCEEDED", status)
    end)
    it("fails with States.ExceedToleratedFailureThreshold beyond it", function()
      local status, err = h.run(map({ ToleratedFailurePercentage = 10 }, proc), json.array({ 1, 2, 3 }))
      assert.equal("FAILED", status)
      assert.equal("States.ExceedToleratedFailureThreshold", err.Error)
    end)
    it("refuses a negative ToleratedFailureCountPath value", function()
      local status, err = h.run(map({ ToleratedFailureCountPath = "$.n", ItemsPath = "$.xs" }, proc), { n = -1, xs = json.array({ 1 }) })
      assert.equal("FAILED", status)
      assert.matches("ToleratedFailureCount cannot be negative.", err.Cause, 1, true)
    end)
  end)
end)
