local rules = require("stepflow.graph.rules")
local text = require("stepflow.graph.text")

describe("stepflow.graph.rules", function()
  describe("rule", function()
    it("writes JSONPath comparisons with operators", function()
      assert.equal("$.x == 3", rules.rule({ Variable = "$.x", NumericEquals = 3, Next = "A" }))
      assert.equal('$.s < "m"', rules.rule({ Variable = "$.s", StringLessThan = "m", Next = "A" }))
      assert.equal("$.n >= 2.5", rules.rule({ Variable = "$.n", NumericGreaterThanEquals = 2.5, Next = "A" }))
      assert.equal("$.b == false", rules.rule({ Variable = "$.b", BooleanEquals = false, Next = "A" }))
      assert.equal('$.t > "2024-01-01T00:00:00Z"',
        rules.rule({ Variable = "$.t", TimestampGreaterThan = "2024-01-01T00:00:00Z", Next = "A" }))
    end)

    it("writes the Path forms with the other path bare", function()
      assert.equal("$.a <= $.b", rules.rule({ Variable = "$.a", NumericLessThanEqualsPath = "$.b", Next = "A" }))
      assert.equal("$.a == $.b", rules.rule({ Variable = "$.a", StringEqualsPath = "$.b", Next = "A" }))
    end)

    it("writes matches and the type tests", function()
      assert.equal('$.type matches "a*"', rules.rule({ Variable = "$.type", StringMatches = "a*", Next = "A" }))
      assert.equal("$.x is present", rules.rule({ Variable = "$.x", IsPresent = true, Next = "A" }))
      assert.equal("$.x is absent", rules.rule({ Variable = "$.x", IsPresent = false, Next = "A" }))
      assert.equal("$.x is null", rules.rule({ Variable = "$.x", IsNull = true, Next = "A" }))
      assert.equal("$.x is not numeric", rules.rule({ Variable = "$.x", IsNumeric = false, Next = "A" }))
    end)

    it("joins And and Or, with parentheses only inside", function()
      assert.equal("$.a == 1 and $.b == 2", rules.rule({ And = {
        { Variable = "$.a", NumericEquals = 1 }, { Variable = "$.b", NumericEquals = 2 } }, Next = "A" }))
      assert.equal("$.a == 1 or ($.b == 2 and $.c == 3)", rules.rule({ Or = {
        { Variable = "$.a", NumericEquals = 1 },
        { And = { { Variable = "$.b", NumericEquals = 2 }, { Variable = "$.c", NumericEquals = 3 } } } },
        Next = "A" }))
      assert.equal("not $.a == 1", rules.rule({ Not = { Variable = "$.a", NumericEquals = 1 }, Next = "A" }))
    end)

    it("writes a JSONata Condition without its delimiters, on one line", function()
      assert.equal("$states.input.x > 3 and $y = 'a'",
        rules.rule({ Condition = "{%  $states.input.x > 3\n   and $y = 'a' %}", Next = "A" }))
      assert.equal("true", rules.rule({ Condition = true, Next = "A" }))
    end)
  end)

  describe("summary", function()
    it("names a Task by its resource", function()
      assert.equal("Task: greet", rules.summary({ Type = "Task", Resource = "greet" }))
      assert.equal("Lambda: fn", rules.summary({ Type = "Task",
        Resource = "arn:aws:lambda:us-east-1:123456789012:function:fn" }))
      assert.equal("Lambda: fetch", rules.summary({ Type = "Task", Resource = "arn:aws:states:::lambda:invoke",
        Parameters = { FunctionName = "arn:aws:lambda:us-east-1:1:function:fetch" } }))
      assert.equal("SQS: SendMessage (callback)", rules.summary({ Type = "Task",
        Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken" }))
      assert.equal("Activity: approve", rules.summary({ Type = "Task",
        Resource = "arn:aws:states:us-east-1:1:activity:approve" }))
    end)

    it("tells waits, failures, maps and parallels apart", function()
      assert.equal("Wait 30 s", rules.summary({ Type = "Wait", Seconds = 30 }))
      assert.equal("Wait $.s", rules.summary({ Type = "Wait", SecondsPath = "$.s" }))
      assert.equal("Wait until $states.input.t", rules.summary({ Type = "Wait", Timestamp = "{% $states.input.t %}" }))
      assert.equal("Fail: Order.Rejected", rules.summary({ Type = "Fail", Error = "Order.Rejected" }))
      assert.equal("Map \u{b7} $.items \u{b7} max 2", rules.summary({ Type = "Map", ItemsPath = "$.items",
        MaxConcurrency = 2 }))
      assert.equal("Distributed Map", rules.summary({ Type = "Map",
        ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED" } } }))
      assert.equal("Parallel \u{b7} 3 branches", rules.summary({ Type = "Parallel", Branches = { {}, {}, {} } }))
    end)
  end)

  it("lists the errors of Retry and Catch", function()
    assert.equal("A, B, States.ALL", rules.errors({ { ErrorEquals = { "A", "B" } }, { ErrorEquals = { "States.ALL" } } }))
  end)
end)

describe("stepflow.graph.text", function()
  it("measures bold text wider than regular text", function()
    assert.is_true(text.width("Hello", 13, true) > text.width("Hello", 13, false))
    assert.near(5 * 0.636 * 10, text.width("00000", 10), 1e-9)
  end)

  it("cuts text to a width with an ellipsis, between characters", function()
    local s, cut = text.fit("ÄÖÜäöüßÄÖÜäöüß", 40, 13)
    assert.is_true(cut)
    assert.is_true(utf8.len(s) ~= nil)
    assert.is_true(text.width(s, 13) <= 40)
    assert.equal("short", (text.fit("short", 100, 13)))
  end)

  it("replaces bytes that are not UTF-8", function()
    assert.equal("a\u{FFFD}b", text.valid_utf8("a\255b"))
    assert.equal("ok", text.valid_utf8("ok"))
  end)
end)
