local json = require("stepflow.json")
local choice = require("stepflow.asl.choice")
local errors = require("stepflow.errors")

local accessor = require("stepflow.asl.paths").accessor

local function test(rule, input, extra)
  local t = assert(choice.compile(rule, accessor))
  local env = { input = input, context = extra and extra.context, vars = extra and extra.vars }
  return t(env)
end

local function runtime_error(rule, input)
  local t = assert(choice.compile(rule, accessor))
  local ok, err = pcall(t, { input = input })
  assert.is_false(ok)
  assert.is_true(errors.is(err))
  return err
end

describe("stepflow.asl.choice", function()
  describe("compile", function()
    it("returns nil and a message for a rule without an operator", function()
      local t, err = choice.compile({ Variable = "$.x", Next = "A" }, accessor)
      assert.is_nil(t)
      assert.equal("rule: no comparison operator", err)
    end)

    it("rejects two comparison operators in one rule", function()
      local t, err = choice.compile({ Variable = "$.x", StringEquals = "a", IsNull = true }, accessor)
      assert.is_nil(t)
      assert.equal("rule: more than one comparison operator (IsNull, StringEquals)", err)
    end)

    it("rejects an operand of the wrong type", function()
      local _, err = choice.compile({ Variable = "$.x", NumericEquals = "1" }, accessor)
      assert.equal("rule.NumericEquals: expected a number", err)
      _, err = choice.compile({ Variable = "$.x", BooleanEquals = 1 }, accessor)
      assert.equal("rule.BooleanEquals: expected a boolean", err)
      _, err = choice.compile({ Variable = "$.x", IsNull = "true" }, accessor)
      assert.equal("rule.IsNull: expected a boolean", err)
      _, err = choice.compile({ Variable = "$.x", StringEquals = 3 }, accessor)
      assert.equal("rule.StringEquals: expected a string", err)
    end)

    it("rejects a Timestamp operand that is not an RFC 3339 timestamp", function()
      local _, err = choice.compile({ Variable = "$.x", TimestampEquals = "2016-12-05T21:29:29" }, accessor)
      assert.equal("rule.TimestampEquals: expected an RFC 3339 timestamp string", err)
    end)

    it("reports a bad path with the accessor's message", function()
      local _, err = choice.compile({ Variable = "x", IsNull = true }, accessor)
      assert.equal("rule.Variable: invalid JSONPath 'x': expected '$' at character 1", err)
      _, err = choice.compile({ Variable = "$.x", StringEqualsPath = "y" }, accessor)
      assert.equal("rule.StringEqualsPath: invalid JSONPath 'y': expected '$' at character 1", err)
    end)

    it("rejects a missing Variable", function()
      local _, err = choice.compile({ StringEquals = "a" }, accessor)
      assert.equal("rule.Variable: expected a path string", err)
    end)

    it("names the nested rule that is wrong", function()
      local _, err = choice.compile({ And = { { Variable = "$.a", IsNull = true },
        { Not = { Variable = "$.b", NumericEquals = "x" } } } }, accessor)
      assert.equal("rule.And[1].Not.NumericEquals: expected a number", err)
    end)

    it("rejects an empty And", function()
      local _, err = choice.compile({ And = {} }, accessor)
      assert.equal("rule.And: expected a non-empty array of rules", err)
    end)

    it("raises when the accessor factory is not a function", function()
      assert.has_error(function() choice.compile({}, nil) end,
        "stepflow.asl.choice.compile: accessor_factory must be a function")
    end)
  end)

  describe("missing paths", function()
    it("raise States.Runtime with AWS's cause for the Variable", function()
      local err = runtime_error({ Variable = "$.x", NumericEquals = 1 }, {})
      assert.equal("States.Runtime", err.Error)
      assert.equal("Invalid path '$.x': The choice state's condition path references an invalid value.", err.Cause)
      assert.is_true(err.state_prefix)
    end)

    it("raise States.Runtime for the operand path of a Path twin", function()
      local err = runtime_error({ Variable = "$.a", NumericLessThanEqualsPath = "$.right" }, { a = 8 })
      assert.equal("Invalid path '$.right': The choice state's condition path references an invalid value.", err.Cause)
    end)

    it("raise for the type tests other than IsPresent", function()
      for _, op in ipairs({ "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp" }) do
        local err = runtime_error({ Variable = "$.x", [op] = false }, {})
        assert.equal("States.Runtime", err.Error)
      end
    end)

    it("make IsPresent false, not an error", function()
      assert.is_false(test({ Variable = "$.x", IsPresent = true }, {}))
      assert.is_true(test({ Variable = "$.x", IsPresent = false }, {}))
      assert.is_true(test({ Variable = "$.x", IsPresent = true }, { x = json.null }))
    end)
  end)

  describe("numeric operators", function()
    it("compare integers with floats by value", function()
      assert.is_true(test({ Variable = "$.v", NumericEquals = 1 }, { v = 1.0 }))
      assert.is_true(test({ Variable = "$.v", NumericLessThan = 2 }, { v = 1.5 }))
      assert.is_true(test({ Variable = "$.v", NumericGreaterThanEquals = 1.5 }, { v = 2 }))
      assert.is_false(test({ Variable = "$.v", NumericGreaterThan = 2 }, { v = 2.0 }))
      assert.is_true(test({ Variable = "$.v", NumericLessThanEquals = 2 }, { v = 2.0 }))
    end)

    it("are false for non-numbers", function()
      assert.is_false(test({ Variable = "$.v", NumericEquals = 1 }, { v = "1" }))
      assert.is_false(test({ Variable = "$.v", NumericEquals = 1 }, { v = true }))
      assert.is_false(test({ Variable = "$.v", NumericEqualsPath = "$.w" }, { v = 1, w = "1" }))
    end)

    it("read the operand from the path for the Path twins", function()
      assert.is_true(test({ Variable = "$.v", NumericGreaterThanPath = "$.w" }, { v = 3, w = 2.5 }))
      assert.is_false(test({ Variable = "$.v", NumericLessThanPath = "$.w" }, { v = 3, w = 2.5 }))
    end)
  end)

  describe("string operators", function()
    it("order strings by UTF-16 code units like Java", function()
      -- U+FF61 is one UTF-16 unit (0xFF61); U+1F600 is a surrogate pair
      -- starting 0xD83D, so it sorts first in Java but last in UTF-8.
      assert.is_true(test({ Variable = "$.v", StringLessThan = "\u{FF61}" }, { v = "\u{1F600}" }))
      assert.is_true(test({ Variable = "$.v", StringGreaterThan = "\u{1F600}" }, { v = "\u{FF61}" }))
      assert.is_true(test({ Variable = "$.v", StringLessThan = "b" }, { v = "abc" }))
      assert.is_true(test({ Variable = "$.v", StringLessThan = "ab" }, { v = "a" }))
      assert.is_true(test({ Variable = "$.v", StringLessThan = "a" }, { v = "B" }))
    end)

    it("compare Path twins", function()
      assert.is_true(test({ Variable = "$.v", StringEqualsPath = "$.w" }, { v = "x", w = "x" }))
      assert.is_true(test({ Variable = "$.v", StringLessThanEqualsPath = "$.w" }, { v = "x", w = "y" }))
      assert.is_false(test({ Variable = "$.v", StringEqualsPath = "$.w" }, { v = 1, w = 1 }))
    end)
  end)

  describe("StringMatches", function()
    it("matches * as any run of characters", function()
      assert.is_true(test({ Variable = "$.v", StringMatches = "log-*.txt" }, { v = "log-2024.txt" }))
      assert.is_true(test({ Variable = "$.v", StringMatches = "*.log" }, { v = ".log" }))
      assert.is_false(test({ Variable = "$.v", StringMatches = "log-*.txt" }, { v = "log-2024.txt.gz" }))
      assert.is_true(test({ Variable = "$.v", StringMatches = "a*b*c" }, { v = "aXXbYYc" }))
    end)

    it("treats \\* as a literal star and other pattern characters literally", function()
      assert.is_true(test({ Variable = "$.v", StringMatches = "a\\*b" }, { v = "a*b" }))
      assert.is_false(test({ Variable = "$.v", StringMatches = "a\\*b" }, { v = "aXb" }))
      assert.is_true(test({ Variable = "$.v", StringMatches = "a.%b[c]" }, { v = "a.%b[c]" }))
      assert.is_false(test({ Variable = "$.v", StringMatches = "a.c" }, { v = "abc" }))
      assert.is_true(test({ Variable = "$.v", StringMatches = "a\\\\b" }, { v = "a\\b" }))
    end)

    it("is false for non-strings", function()
      assert.is_false(test({ Variable = "$.v", StringMatches = "*" }, { v = 1 }))
    end)
  end)

  describe("timestamp operators", function()
    it("compare instants across offsets", function()
      assert.is_true(test({ Variable = "$.v", TimestampEquals = "2012-10-09T18:00:55Z" },
        { v = "2012-10-09T19:00:55+01:00" }))
      assert.is_true(test({ Variable = "$.v", TimestampLessThan = "2012-10-09T19:00:55Z" },
        { v = "2012-10-09T19:00:55+01:00" }))
    end)

    it("compare fractional seconds exactly", function()
      assert.is_true(test({ Variable = "$.v", TimestampLessThan = "2016-03-05T21:29:29.243167253Z" },
        { v = "2016-03-05T21:29:29.243167252Z" }))
      assert.is_true(test({ Variable = "$.v", TimestampEquals = "2016-03-05T21:29:29.5Z" },
        { v = "2016-03-05T21:29:29.500Z" }))
      assert.is_true(test({ Variable = "$.v", TimestampGreaterThan = "2016-03-05T21:29:29Z" },
        { v = "2016-03-05T21:29:29.001Z" }))
    end)

    it("are false for strings that are not timestamps", function()
      assert.is_false(test({ Variable = "$.v", TimestampEquals = "2012-10-09T19:00:55Z" }, { v = "2012-10-09T19:00:55" }))
      assert.is_false(test({ Variable = "$.v", TimestampLessThanPath = "$.w" }, { v = "2012-10-09T19:00:55Z", w = "x" }))
    end)
  end)

  describe("type tests", function()
    it("IsTimestamp tells RFC 3339 strings", function()
      assert.is_true(test({ Variable = "$.v", IsTimestamp = true }, { v = "2016-03-14T01:59:00Z" }))
      assert.is_false(test({ Variable = "$.v", IsTimestamp = true }, { v = "2016-03-14" }))
      assert.is_true(test({ Variable = "$.v", IsTimestamp = false }, { v = 12 }))
    end)

    it("IsNull tells JSON null only", function()
      assert.is_true(test({ Variable = "$.v", IsNull = true }, { v = json.null }))
      assert.is_false(test({ Variable = "$.v", IsNull = true }, { v = false }))
    end)
  end)

  describe("And, Or and Not", function()
    it("combine nested rules", function()
      local rule = { And = {
        { Variable = "$.a", NumericGreaterThan = 1 },
        { Or = { { Variable = "$.b", StringEquals = "x" }, { Not = { Variable = "$.c", IsPresent = true } } } },
      } }
      assert.is_true(test(rule, { a = 2, b = "x", c = 1 }))
      assert.is_true(test(rule, { a = 2, b = "y" }))
      assert.is_false(test(rule, { a = 2, b = "y", c = 1 }))
      assert.is_false(test(rule, { a = 1, b = "x" }))
    end)

    it("short-circuit before a missing path", function()
      local rule = { Or = { { Variable = "$.a", IsPresent = false }, { Variable = "$.a", NumericEquals = 1 } } }
      assert.is_true(test(rule, {}))
      local three = { And = { { Variable = "$.a", IsPresent = true }, { Variable = "$.a", IsNumeric = true },
        { Variable = "$.a", NumericEquals = 1 } } }
      assert.is_false(test(three, {}))
      assert.is_true(test(three, { a = 1 }))
    end)

    it("read the context object and variables", function()
      assert.is_true(test({ Variable = "$$.Execution.Input.n", NumericLessThanEquals = 0 }, {},
        { context = { Execution = { Input = { n = 0 } } } }))
      assert.is_true(test({ Variable = "$limit", NumericEqualsPath = "$.n" }, { n = 3 }, { vars = { limit = 3 } }))
    end)
  end)

  describe("recorded AWS cases", function()
    local files, missing = require("shared_dir").files("conformance/cases/choice_operators", "*.json")

    it("are all present", function()
      assert(not missing, missing)
      assert.equal(344, #files)
    end)

    for _, file in ipairs(files) do
      local name = file:match("([^/]+)%.json$")
      it("chooses the branch AWS chose in " .. name, function()
        local fh = assert(io.open(file))
        local case = json.decode(fh:read("a"))
        fh:close()
        local states = case.definition.States
        local state = states[case.definition.StartAt]
        assert.equal("Choice", state.Type)
        local nxt = state.Default
        for _, rule in ipairs(state.Choices) do
          local t = assert(choice.compile(rule, accessor))
          if t({ input = case.input }) then nxt = rule.Next; break end
        end
        assert.equal("SUCCEEDED", case.expected.status)
        assert.same(case.expected.output, states[nxt].Result)
      end)
    end
  end)
end)
