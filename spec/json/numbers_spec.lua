-- Specs of stepflow.json numbers: integers stay integers, floats print as
-- JSON.stringify prints them (shortest text that reads back exactly).
local json = require("stepflow.json")

describe("stepflow.json", function()
  describe("decode of integers", function()
    it("gives Lua integers for text without fraction or exponent", function()
      assert.equal("integer", math.type(json.decode("3")))
      assert.equal("integer", math.type(json.decode("-0")))
      assert.equal("integer", math.type(json.decode("[7]")[1]))
    end)

    it("keeps 1686041011364000000 exactly", function()
      local n = json.decode("1686041011364000000")
      assert.equal("integer", math.type(n))
      assert.equal(1686041011364000000, n)
      assert.equal("1686041011364000000", json.encode(n))
    end)

    it("keeps the int64 limits exactly", function()
      assert.equal(math.maxinteger, json.decode("9223372036854775807"))
      assert.equal(math.mininteger, json.decode("-9223372036854775808"))
      assert.equal("9223372036854775807", json.encode(math.maxinteger))
      assert.equal("-9223372036854775808", json.encode(math.mininteger))
    end)

    it("gives floats for integers too big for int64", function()
      local big = json.decode("9223372036854775808")
      assert.equal("float", math.type(big))
      assert.equal(2.0 ^ 63, big)
      assert.equal("float", math.type(json.decode("-9223372036854775809")))
      assert.equal(1e30, json.decode("1000000000000000000000000000000"))
    end)
  end)

  describe("decode of floats", function()
    it("gives floats for text with a fraction or an exponent", function()
      assert.equal("float", math.type(json.decode("3.0")))
      assert.equal("float", math.type(json.decode("3e0")))
      assert.equal("float", math.type(json.decode("3E+2")))
      assert.equal(300.0, json.decode("3E+2"))
      assert.equal(-0.025, json.decode("-2.5e-2"))
    end)

    it("reads the nearest double", function()
      assert.equal(0.1, json.decode("0.1"))
      assert.equal(5e-324, json.decode("5e-324"))
      assert.equal(1.7976931348623157e308, json.decode("1.7976931348623157e308"))
    end)

    it("reads long mantissas", function()
      local text = "0." .. string.rep("3", 100)
      assert.equal(1 / 3, json.decode(text))
    end)

    it("refuses numbers beyond a double, which could not be encoded back", function()
      assert.has_error(function() json.decode('{"a":1e400}') end,
        "json: number out of range at byte 6")
      assert.has_error(function() json.decode("-1e309") end, "json: number out of range at byte 1")
      assert.has_error(function() json.decode("[" .. ("9"):rep(400) .. "]") end,
        "json: number out of range at byte 2")
      assert.equal(0.0, json.decode("1e-400"))  -- underflow is a number: 0
    end)
  end)

  describe("encode of floats", function()
    local cases = {
      { 0.1, "0.1" }, { 1.5, "1.5" }, { -2.25, "-2.25" },
      { 3.0, "3" }, { -0.0, "0" }, { 0.0, "0" },
      { 1e21, "1e+21" }, { 1e20, "100000000000000000000" },
      { 2.0 ^ 60, "1152921504606847000" },
      { 1e-7, "1e-7" }, { 1e-6, "0.000001" }, { 1.5e-7, "1.5e-7" },
      { 123456.789, "123456.789" }, { 0.1 + 0.2, "0.30000000000000004" },
      { 1 / 3, "0.3333333333333333" }, { 5e-324, "5e-324" },
      { 1.7976931348623157e308, "1.7976931348623157e+308" },
      { 123e-20, "1.23e-18" }, { 2.0 ^ 53, "9007199254740992" },
      { 4.35, "4.35" }, { 100.0, "100" }, { 1e300, "1e+300" },
      -- powers of two, where the shortest text lies above the value
      { 2.0 ^ -1017, "7.120236347223045e-307" },
      { 2.0 ^ -921, "5.641232424577593e-278" },
      -- exact ties at the 17th digit round to even, nearly-ties exactly
      { -1187963360343591.25, "-1187963360343591.2" },
      { 5.5146173536920085, "5.5146173536920085" },
      { 0.0029088648955096765, "0.0029088648955096765" },
      { 337.29248917929147, "337.29248917929147" },
    }
    for _, c in ipairs(cases) do
      it("writes " .. string.format("%.17g", c[1]) .. " as " .. c[2], function()
        assert.equal(c[2], json.encode(c[1]))
      end)
    end

    it("reads back every float it writes", function()
      local seed = 12345
      local function rand()  -- a fixed LCG, so failures reproduce
        seed = (seed * 6364136223846793005 + 1442695040888963407)
        return seed
      end
      for _ = 1, 20000 do
        local x = string.unpack("<d", string.pack("<i8", rand()))
        if x == x and x ~= math.huge and x ~= -math.huge then
          local y = json.decode(json.encode(x))
          -- integral floats at or above 2^53 come back as integers whose
          -- value as a float is x (JS prints them without a fraction)
          assert.equal(x, y + 0.0)
        end
      end
    end)

    it("refuses NaN and infinities, naming the path", function()
      assert.has_error(function() json.encode({ a = 0 / 0 }) end,
        "json: cannot encode NaN at $.a")
      assert.has_error(function() json.encode({ math.huge }) end,
        "json: cannot encode inf at $[0]")
      assert.has_error(function() json.encode(-math.huge) end,
        "json: cannot encode -inf at $")
    end)
  end)

  describe("encode of integers", function()
    it("writes them in decimal", function()
      assert.equal("[0,-1,42]", json.encode({ 0, -1, 42 }))
    end)
  end)
end)
