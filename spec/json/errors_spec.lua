-- Specs of stepflow.json failures: decode names the byte offset and what
-- it expected; encode names the path of what it cannot encode.
local json = require("stepflow.json")

describe("stepflow.json", function()
  describe("decode errors", function()
    local cases = {
      { "", "expected a value at byte 1" },
      { "   ", "expected a value at byte 4" },
      { "[1,", "expected a value at byte 4" },
      { "[1", "expected ',' or ']' at byte 3" },
      { "[1 2]", "expected ',' or ']' at byte 4" },
      { "[1,]", "expected a value at byte 4" },
      { "{", "expected a string key or '}' at byte 2" },
      { "{1:2}", "expected a string key or '}' at byte 2" },
      { '{"a" 1}', "expected ':' at byte 6" },
      { '{"a":1,}', "expected a string key at byte 8" },
      { '{"a":1 "b":2}', "expected ',' or '}' at byte 8" },
      { '{"a":', "expected a value at byte 6" },
      { "tru", "expected 'true' at byte 1" },
      { "[nul]", "expected 'null' at byte 2" },
      { "falsy", "expected 'false' at byte 1" },
      { "True", "expected a value at byte 1" },
      { "[1] x", "expected end of input at byte 5" },
      { "1 2", "expected end of input at byte 3" },
      { "01", "expected end of input at byte 2" },
      { "1\0", "expected end of input at byte 2" },
      { "-", "expected a digit at byte 2" },
      { "-a", "expected a digit at byte 2" },
      { "+1", "expected a value at byte 1" },
      { ".5", "expected a value at byte 1" },
      { "1.", "expected a digit after '.' at byte 3" },
      { "1.e3", "expected a digit after '.' at byte 3" },
      { "1e", "expected a digit in the exponent at byte 3" },
      { "1e+", "expected a digit in the exponent at byte 4" },
      { "NaN", "expected a value at byte 1" },
      { '"abc', "expected '\"' to end the string at byte 5" },
      { '"ab\\', "expected '\"' to end the string at byte 5" },
      { '"a\\"', "expected '\"' to end the string at byte 5" },
      { '"\\x"', "expected one of \" \\ / b f n r t u after a backslash at byte 3" },
      { '"\\u12"', "expected 4 hex digits after \\u at byte 4" },
      { '"\\u12g4"', "expected 4 hex digits after \\u at byte 4" },
      { "\239\187\191{}", "expected a value at byte 1" },
    }
    for _, c in ipairs(cases) do
      it(string.format("reports %q as %s", c[1], c[2]), function()
        assert.has_error(function() json.decode(c[1]) end, "json: " .. c[2])
      end)
    end

    it("counts the offset from the start of a longer document", function()
      local text = '{"items":[1,2,3],"name":"x",' .. '"z":[true,fals]}'
      assert.has_error(function() json.decode(text) end,
        "json: expected 'false' at byte 39")
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() json.decode({}) end)
      assert.has_error(function() json.decode(nil) end)
    end)

    it("refuses nesting deeper than 1000", function()
      local ok = string.rep("[", 1000) .. string.rep("]", 1000)
      assert.equal(ok, json.encode(json.decode(ok)))
      local deep = string.rep("[", 1001) .. string.rep("]", 1001)
      assert.has_error(function() json.decode(deep) end,
        "json: nesting deeper than 1000 at byte 1001")
      local objs = string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001)
      assert.has_error(function() json.decode(objs) end,
        "json: nesting deeper than 1000 at byte 5001")
    end)

    it("survives a million nested '['", function()
      assert.has_error(function() json.decode(string.rep("[", 1000000)) end,
        "json: nesting deeper than 1000 at byte 1001")
    end)
  end)

  describe("decode of damaged text", function()
    it("returns a value or a json: message for every mutation", function()
      local base = '{"a":[1,-2.5e3,"x\\u00e9\\ud83d\\ude00y",true,null],' ..
                   '"b":{"c":"\xc3\xa9","d":[]},"e":false}'
      assert.is_table(json.decode(base))
      local seed = 99
      local function rand(n)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n + 1
      end
      for _ = 1, 5000 do
        local bytes = { base:byte(1, -1) }
        for _ = 1, rand(3) do
          if #bytes == 0 then break end
          local at, what = rand(#bytes), rand(4)
          if what == 1 then table.remove(bytes, at)
          elseif what == 2 then table.insert(bytes, at, rand(256) - 1)
          elseif what == 3 then bytes[at] = rand(256) - 1
          else for k = at, #bytes do bytes[k] = nil end
          end
        end
        local text = string.char(table.unpack(bytes))
        local v, err = json.try_decode(text)
        if v == nil then
          assert.matches("^json: .* at byte %d+$", err)
        else
          assert.equal(json.encode(v), json.encode(json.decode(json.encode(v))))
        end
      end
    end)
  end)

  describe("try_decode", function()
    it("returns the value on good text", function()
      local v, err = json.try_decode('{"a":[1]}')
      assert.is_nil(err)
      assert.equal(1, v.a[1])
    end)

    it("returns nil and the message decode raises on bad text", function()
      local v, err = json.try_decode('{"a":[1}')
      assert.is_nil(v)
      assert.equal("json: expected ',' or ']' at byte 8", err)
    end)

    it("returns false for the text false, not an error", function()
      local v, err = json.try_decode("false")
      assert.is_false(v)
      assert.is_nil(err)
    end)

    it("raises on a non-string argument, a caller bug", function()
      assert.has_error(function() json.try_decode(nil) end)
    end)
  end)

  describe("encode errors", function()
    it("refuses mixed keys, naming the path", function()
      assert.has_error(function()
        json.encode({ a = { 1, 2, { b = { 1, x = 2 } } } })
      end, "json: cannot encode table with mixed keys at $.a[2].b")
      assert.has_error(function() json.encode({ x = 1, [1] = 2 }) end,
        "json: cannot encode table with mixed keys at $")
    end)

    it("refuses sparse integer keys", function()
      assert.has_error(function() json.encode({ [1] = 1, [3] = 3 }) end,
        "json: cannot encode table with sparse keys at $")
      assert.has_error(function() json.encode({ [0] = 1 }) end,
        "json: cannot encode table with sparse keys at $")
      assert.has_error(function() json.encode({ a = { [2] = 1 } }) end,
        "json: cannot encode table with sparse keys at $.a")
    end)

    it("refuses non-string keys", function()
      assert.has_error(function() json.encode({ [true] = 1 }) end,
        "json: cannot encode table with non-string keys at $")
      assert.has_error(function() json.encode({ [1.5] = 1 }) end,
        "json: cannot encode table with non-string keys at $")
      assert.has_error(function() json.encode({ { [{}] = 1 } }) end,
        "json: cannot encode table with non-string keys at $[0]")
    end)

    it("refuses functions, userdata, threads and nil", function()
      assert.has_error(function() json.encode({ f = print }) end,
        "json: cannot encode function at $.f")
      assert.has_error(function() json.encode({ io.stdout }) end,
        "json: cannot encode userdata at $[0]")
      assert.has_error(function() json.encode(coroutine.create(print)) end,
        "json: cannot encode thread at $")
      assert.has_error(function() json.encode(nil) end,
        "json: cannot encode nil at $")
    end)

    it("writes awkward keys in bracket form in the path", function()
      assert.has_error(function() json.encode({ ["a b"] = { f = print } }) end,
        "json: cannot encode function at $['a b'].f")
    end)

    it("refuses nesting deeper than 1000, a cycle too", function()
      local t = {}
      t.self = t
      local ok, err = pcall(json.encode, t)
      assert.is_false(ok)
      assert.equal("json: nesting deeper than 1000 at $.self.self.self",
                   err:sub(1, 50))
      assert.is_true(#err < 300)
    end)

    it("encodes 1000 levels and survives a 100000-deep table", function()
      local t = {}
      for _ = 1, 999 do t = { t } end
      assert.equal(string.rep("[", 999) .. "{}" .. string.rep("]", 999),
                   json.encode(t))
      local deep = {}
      for _ = 1, 100000 do deep = { deep } end
      assert.has_error(function() json.encode(deep) end)
    end)

    it("rejects options that are not a table", function()
      assert.has_error(function() json.encode({}, "pretty") end)
    end)

    it("gives finalizers that encode during an encode their own buffer", function()
      local inner = {}
      local value = {}
      for i = 1, 2000 do value[i] = { name = "item" .. i, n = i } end
      local expected = json.encode(value)
      for round = 1, 20 do
        for _ = 1, 200 do
          setmetatable({}, { __gc = function()
            inner[#inner + 1] = json.encode({ round = round, s = string.rep("x", 100) })
          end })
        end
        assert.equal(expected, json.encode(value))
      end
      collectgarbage()
      assert.is_true(#inner > 0)
      for _, text in ipairs(inner) do
        assert.matches('^{"round":%d+,"s":"x+"}$', text)
      end
    end)

    it("still works after an error left its buffer behind", function()
      assert.has_error(function() json.encode({ a = print }) end)
      assert.equal('{"a":1}', json.encode({ a = 1 }))
    end)
  end)
end)
