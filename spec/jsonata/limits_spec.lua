-- stepflow.jsonata: what one evaluation may do. Numbers that are no JSON
-- number, absurd library arguments, and the time and memory limits, which
-- hold inside every loop that can grow (issue 10).
local jsonata = require("stepflow.jsonata")
local json = require("stepflow.json")

local function err(expr, input, opts)
  local ok, e = pcall(jsonata.evaluate, expr, input, nil, opts)
  assert.is_false(ok, "expected an error from " .. expr)
  assert.is_table(e, tostring(e))
  return e
end

describe("stepflow.jsonata limits", function()
  describe("numbers out of range", function()
    for _, expr in ipairs({ "1e308 * 10", "$sum([1e308, 1e308])", "$round(1, 400)",
      "$average([1e308, 1e308])", "[1, 1/0]", "{'a': 0/0}", "-1/0" }) do
      it("refuses a result holding an infinity or NaN: " .. expr, function()
        local e = err(expr)
        assert.equal("D1001", e.code)
        assert.equal("Number out of range: null", e.message)
      end)
    end

    it("keeps jsonata-js's codes where it checks such a number", function()
      assert.equal("D3001", err("$string(1/0)").code)
      assert.equal("D1001", err("1/0 + 1").code)
      assert.equal("D3061", err("$power(10, 400)").code)
    end)
  end)

  describe("absurd arguments", function()
    it("gives undefined for $range with an undefined bound, and truncates", function()
      assert.is_nil(jsonata.evaluate("$range(nope, 3)", {}))
      assert.equal("[-1,0,1,2]", json.encode(jsonata.evaluate("$range(-1.7, 2, 1)")))
    end)

    it("refuses a string that would pass the memory limit before building it", function()
      local t = os.clock()
      local e = err("$pad('x', 1e15)")
      assert.equal("U1001", e.code)
      assert.matches("memory limit", e.message, 1, true)
      assert.equal("U1001", err("$range(1, 1e12)").code)
      assert.is_true(os.clock() - t < 1)
    end)

    it("takes huge and NaN positions as JavaScript does", function()
      assert.equal("", jsonata.evaluate("$substring('abc', 1e300, 1e300)"))
      assert.equal("abc", jsonata.evaluate("$substring('abc', -1e300)"))
      assert.equal("abc", jsonata.evaluate("$substring('abc', 0/0)"))
      assert.equal("x", jsonata.evaluate("$pad('x', 0/0)"))
    end)

    it("names a missing required argument (T0410) where JavaScript would crash", function()
      local e = err("$formatInteger(3, nope)", {})
      assert.equal("T0410", e.code)
      assert.equal(2, e.index)
      assert.equal("T0410", err("$sift({'a': 1})").code)
      assert.equal("D3100", err("$formatBase(3, 0/0)").code)
      assert.equal("D1001", err("$fromMillis(1/0)").code)
    end)

    it("walks strings with bytes that are not UTF-8 without a Lua error", function()
      local s = "a\255b\237\160\128"
      assert.equal(4, jsonata.evaluate("$length(s)", { s = s }))
      assert.equal("\255b", jsonata.evaluate("$substring(s, 1, 2)", { s = s }))
      assert.equal(4, #jsonata.evaluate("$split(s, '')", { s = s }))
    end)

    it("never puts a Lua file and line in a message", function()
      for _, expr in ipairs({ "$pad('x', -1e15)", "$formatNumber(1, nope)",
        "$parseInteger('1', nope)", "$formatBase(1/0, 2)", "$substring('x', 1/0, -1/0)",
        "$split('abc', '', 1e300)", "$join([1..3].$string(), 1/0 & '')" }) do
        local ok, e = pcall(jsonata.evaluate, expr, {})
        if not ok then
          assert.is_table(e, expr .. ": " .. tostring(e))
          assert.is_nil(tostring(e.message):find("%.lua:%d"), expr .. ": " .. tostring(e.message))
        end
      end
    end)
  end)

  describe("the time limit", function()
    it("stops an expression building ten million objects at once", function()
      local t = os.clock()
      local e = err("[1..10000000].{'a': $}", nil, { time_limit = 0.001 })
      assert.equal("U1001", e.code)
      assert.equal("Expression evaluation timeout: Check for infinite loop", e.message)
      assert.is_true(os.clock() - t < 0.2)
    end)

    for _, expr in ipairs({
      "$distinct([1..100000].{'a': $})",
      "$sort([1..1000000], function($a, $b){ $a < $b })",
      "$spread([1..30000].{'a': $})",
      "$match('" .. ("a"):rep(40) .. "b', /^(a|aa)+$/)",
    }) do
      it("holds inside library loops and regex backtracking: " .. expr:sub(1, 40), function()
        local t = os.clock()
        assert.equal("U1001", err(expr, nil, { time_limit = 0.02 }).code)
        assert.is_true(os.clock() - t < 0.5)
      end)
    end
  end)

  describe("the memory limit", function()
    it("stops growth at the limit, not past it", function()
      collectgarbage("collect")
      local before = collectgarbage("count")
      local e = err("$reduce([1..40], function($a, $b){ $a & $a }, 'x')", nil,
        { memory_limit = 8 * 1024 * 1024, time_limit = false })
      assert.equal("U1001", e.code)
      assert.matches("memory limit of 8 MiB", e.message, 1, true)
      assert.is_true(collectgarbage("count") - before < 64 * 1024)
      assert.equal("U1001", err("$count([1..10000000].{'a': $})", nil,
        { memory_limit = 16 * 1024 * 1024 }).code)
    end)
  end)

  describe("per compiled expression", function()
    it("keeps the limits and clock of one expression to itself", function()
      local tight = jsonata.compile("$count([1..100000])", { memory_limit = 1024 * 1024 })
      local loose = jsonata.compile("$count([1..100000])")
      assert.equal("U1001", select(2, pcall(tight.evaluate, tight)).code)
      assert.equal(100000, loose:evaluate())
      assert.equal(100000, tight:evaluate(nil, nil, { memory_limit = false }))
    end)

    it("raises on an unknown option", function()
      assert.has_error(function() jsonata.compile("1", { timelimit = 1 }) end,
        "jsonata.compile: unknown option 'timelimit'")
    end)
  end)
end)
