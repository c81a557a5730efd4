local h = require("spec_helper")
local json = require("stepflow.json")

local function pass(fields, input)
  local st = { Type = "Pass", End = true }
  for k, v in pairs(fields) do st[k] = v end
  return h.run({ StartAt = "P", States = { P = st } }, input)
end

describe("JSONPath data flow", function()
  describe("InputPath", function()
    it("selects part of the input", function()
      local status, out = pass({ InputPath = "$.a" }, { a = { b = 1 }, c = 2 })
      assert.equal("SUCCEEDED", status)
      assert.same({ b = 1 }, out)
    end)
    it("gives {} when null", function()
      local _, out = pass({ InputPath = json.null }, { a = 1 })
      assert.same({}, out)
      assert.is_nil(getmetatable(out))
    end)
    it("fails with States.Runtime naming the normalised path when nothing matches", function()
      -- as AWS (Jayway) says it: a missing last step is "No results", a
      -- missing step before it "Missing property" up to that step
      local status, err = pass({ InputPath = "$.a.x" }, { a = { b = 1 } })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.equal("An error occurred while executing the state 'P' (entered at the event id #2). " ..
        "Invalid path '$.a.x' : No results for path: $['a']['x']", err.Cause)
      status, err = pass({ InputPath = "$.missing.x" }, { a = 1 })
      assert.equal("FAILED", status)
      assert.equal("An error occurred while executing the state 'P' (entered at the event id #2). " ..
        "Invalid path '$.missing.x' : Missing property in path $['missing']", err.Cause)
      status, err = pass({ OutputPath = "$.a.no.such" }, { a = { b = 1 } })
      assert.equal("FAILED", status)
      assert.equal("Invalid path '$.a.no.such' : Missing property in path $['a']['no']",
        err.Cause:match("Invalid path.*"))
    end)
  end)

  describe("Parameters", function()
    it("builds a payload from paths, context paths and literals", function()
      local _, out = pass({ Parameters = { lit = "x", ["v.$"] = "$.a", ["name.$"] = "$$.State.Name",
        nested = { ["deep.$"] = "$.b[1]" }, list = json.array({ 1, { ["z.$"] = "$.a" } }) } },
        { a = 5, b = json.array({ 7, 8 }) })
      assert.same({ lit = "x", v = 5, name = "P", nested = { deep = 8 }, list = { 1, { z = 5 } } }, out)
      assert.is_true(json.is_array(out.list))
    end)
    it("keeps keys without .$ literal even when they look like paths", function()
      local _, out = pass({ Parameters = { p = "$.a" } }, { a = 1 })
      assert.same({ p = "$.a" }, out)
    end)
    it("fails with States.Runtime when a path is missing", function()
      local status, err = pass({ Parameters = { ["v.$"] = "$.nope" } }, { a = 1 })
      assert.equal("FAILED", status)
      assert.equal("States.Runtime", err.Error)
      assert.matches("The JSONPath '$.nope' specified for the field 'v.$' could not be found in the input '{\"a\":1}'",
        err.Cause, 1, true)
    end)
    it("calls intrinsic functions", function()
      local _, out = pass({ Parameters = { ["s.$"] = "States.Format('n={}', $.n)" } }, { n = 3 })
      assert.same({ s = "n=3" }, out)
    end)
  end)

  describe("Result", function()
    it("replaces the effective input", function()
      local _, out = pass({ Result = { r = true } }, { a = 1 })
      assert.same({ r = true }, out)
    end)
  end)

  describe("ResultPath", function()
    it("merges the result into the input, creating intermediate objects", function()
      local _, out = pass({ Result = 1, ResultPath = "$.x.y.z" }, { a = 1 })
      assert.same({ a = 1, x = { y = { z = 1 } } }, out)
    end)
    it("discards the result when null", function()
      local _, out = pass({ Result = 1, ResultPath = json.null }, { a = 1 })
      assert.same({ a = 1 }, out)
    end)
    it("replaces the input with $", function()
      local _, out = pass({ Result = 1, ResultPath = "$" }, { a = 1 })
      assert.equal(1, out)
    end)
    it("never changes the input it merged into", function()
      local input = { a = { b = 1 } }
      local _, out = pass({ Result = 2, ResultPath = "$.a.c" }, input)
      assert.same({ a = { b = 1, c = 2 } }, out)
      assert.same({ a = { b = 1 } }, input)
    end)
    it("fails with States.ResultPathMatchFailure when the path steps into a scalar", function()
      local status, err = pass({ Result = 1, ResultPath = "$.a.b" }, { a = "text" })
      assert.equal("FAILED", status)
      assert.equal("States.ResultPathMatchFailure", err.Error)
    end)
  end)

  describe("OutputPath", function()
    it("selects part of the output", function()
      local _, out = pass({ Result = { k = 1 }, ResultPath = "$.r", OutputPath = "$.r.k" }, { a = 1 })
      assert.equal(1, out)
    end)
    it("gives {} when null", function()
      local _, out = pass({ OutputPath = json.null }, { a = 1 })
      assert.same({}, out)
    end)
  end)

  describe("payload size", function()
    it("fails an execution whose output exceeds the limit with States.DataLimitExceeded", function()
      local status, err = h.run({ StartAt = "P", States = { P = { Type = "Pass",
        Parameters = { ["s.$"] = "States.Format('{}{}{}{}', $.x, $.x, $.x, $.x)" }, End = true } } },
        { x = string.rep("a", 100) }, nil, { payload_limit = 200 })
      assert.equal("FAILED", status)
      assert.equal("States.DataLimitExceeded", err.Error)
    end)
  end)
end)

describe("workflow variables", function()
  local h2 = require("spec_helper")
  it("are visible to the next states, in JSONPath paths and templates", function()
    local status, out = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { x = 1, ["y.$"] = "$.in" }, Next = "B" },
      B = { Type = "Pass", Parameters = { ["x.$"] = "$x", ["y.$"] = "$y" }, End = true } } }, { ["in"] = "v" })
    assert.equal("SUCCEEDED", status)
    assert.same({ x = 1, y = "v" }, out)
  end)
  it("are assigned all at once at state exit, so a swap works", function()
    local _, out = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { a = 1, b = 2 }, Next = "B" },
      B = { Type = "Pass", Assign = { ["a.$"] = "$b", ["b.$"] = "$a" }, Next = "C" },
      C = { Type = "Pass", Parameters = { ["a.$"] = "$a", ["b.$"] = "$b" }, End = true } } }, {})
    assert.same({ a = 2, b = 1 }, out)
  end)
  it("of the outer scope are read by Map iterations, whose own assignments stay inside", function()
    local _, out = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { k = 10 }, Next = "M" },
      M = { Type = "Map", Next = "C", ItemProcessor = { StartAt = "I", States = {
        I = { Type = "Pass", Assign = { ["mine.$"] = "$" }, Next = "J" },
        J = { Type = "Pass", Parameters = { ["k.$"] = "$k", ["mine.$"] = "$mine" }, End = true } } } },
      C = { Type = "Pass", Parameters = { ["inner.$"] = "$", ["outer.$"] = "$k" }, End = true } } },
      json.array({ 1, 2 }))
    assert.same({ inner = { { k = 10, mine = 1 }, { k = 10, mine = 2 } }, outer = 10 }, out)
  end)
  it("of an outer scope cannot be assigned in a branch or iteration (validation)", function()
    local status, _, problems = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { k = 10 }, Next = "P" },
      P = { Type = "Parallel", End = true, Branches = { { StartAt = "B", States = {
        B = { Type = "Pass", Assign = { ["k.$"] = "$" }, End = true } } } } } } }, {})
    assert.equal("INVALID", status)
    assert.equal("/States/P/Branches/0/States/B/Assign/k", problems[1].path)
    assert.matches("assigned in an enclosing scope %(at /States/A/Assign/k%)", problems[1].message)
  end)
  it("assigned only by the Parallel's Catch may also be assigned in its branch", function()
    local status, out = h2.run({ StartAt = "P", States = {
      P = { Type = "Parallel", Next = "Ok", Branches = { { StartAt = "B", States = {
        B = { Type = "Pass", Assign = { k = "inner" }, Next = "F" },
        F = { Type = "Fail", Error = "Boom" } } } },
        Catch = { { ErrorEquals = { "States.ALL" }, Assign = { k = "caught" }, Next = "Done" } } },
      Ok = { Type = "Pass", End = true },
      Done = { Type = "Pass", Parameters = { ["k.$"] = "$k" }, End = true } } }, {})
    assert.equal("SUCCEEDED", status)
    assert.same({ k = "caught" }, out)
  end)
  it("may reuse an outer name in a DISTRIBUTED Map, which sees no outer variables", function()
    local status = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { k = 10 }, Next = "M" },
      M = { Type = "Map", End = true, ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" },
        StartAt = "J", States = { J = { Type = "Pass", Assign = { k = 1 }, End = true } } } } } }, json.array({ 1 }))
    assert.equal("SUCCEEDED", status)
  end)
  it("are hidden from DISTRIBUTED Map iterations", function()
    local status, err = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { k = 10 }, Next = "M" },
      M = { Type = "Map", End = true, ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" },
        StartAt = "J", States = { J = { Type = "Pass", Parameters = { ["k.$"] = "$k" }, End = true } } } } } },
      json.array({ 1 }))
    -- the child fails ($k is undefined there), and a Map Run tolerates no
    -- failure by default (AWS: ToleratedFailurePercentage defaults to 0)
    assert.equal("FAILED", status)
    assert.equal("States.ExceedToleratedFailureThreshold", err.Error)
  end)
  it("fail with States.DataLimitExceeded above 256 KiB", function()
    local status, err = h2.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { ["big.$"] = "$.s" }, End = true } } }, { s = string.rep("x", 262144) },
      nil, { payload_limit = false })
    assert.equal("FAILED", status)
    assert.equal("States.DataLimitExceeded", err.Error)
    assert.matches("variable 'big'", err.Cause)
  end)
end)

describe("payload templates", function()
  local template = require("stepflow.asl.template")
  it("build objects with hundreds of keys", function()
    local t = {}
    for i = 1, 300 do t["k" .. i] = i; t["p" .. i .. ".$"] = "$.a" end
    local fn = assert(template.compile(t, "Parameters"))
    local out = fn({ input = { a = 7 } })
    assert.equal(300, out.k300)
    assert.equal(7, out.p300)
  end)
  it("quote keys that need escaping", function()
    local fn = assert(template.compile({ ['a"b\n]]'] = 1, ["x.$"] = "$.y" }, "Parameters"))
    assert.same({ ['a"b\n]]'] = 1, x = 2 }, fn({ input = { y = 2 } }))
  end)
end)

describe("JSONata states", function()
  local h3 = require("spec_helper")
  it("read the engine's clock in $now() and $millis(), virtual time included", function()
    local status, out, exec = h3.run({ QueryLanguage = "JSONata", StartAt = "W", States = {
      W = { Type = "Wait", Seconds = 7200, Next = "P" },
      P = { Type = "Pass", Output = { ms = "{% $millis() %}", now = "{% $now() %}" }, End = true } } }, {},
      nil, { once = true }) -- two runs would read two clocks
    assert.equal("SUCCEEDED", status)
    assert.is_true(out.ms >= exec.start_ms + 7200000)
    assert.is_true(out.ms - exec.start_ms < 7200000 + 60000)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", out.now)
  end)
end)
