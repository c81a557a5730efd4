-- Specs of stepflow.json: the value model (arrays, objects, null, numbers)
-- and the round trips it promises. Debian's lua-cjson serves as an oracle.
local json = require("stepflow.json")
local cjson = require("cjson")

-- Deep equality that ignores metatables and compares numbers by value.
local function same_json(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same_json(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

describe("stepflow.json", function()
  describe("null", function()
    it("is lightuserdata NULL, the same value as cjson.null", function()
      assert.equal("userdata", type(json.null))
      assert.equal(cjson.null, json.null)
      assert.equal(json.null, json.decode("null"))
    end)

    it("encodes cjson.null as null", function()
      assert.equal("[null,1]", json.encode({ cjson.null, 1 }))
    end)

    it("decodes null inside arrays and objects", function()
      local t = json.decode('{"a":null,"b":[null]}')
      assert.equal(json.null, t.a)
      assert.equal(json.null, t.b[1])
    end)
  end)

  describe("arrays", function()
    it("decodes [] to a table with the array metatable", function()
      local t = json.decode("[]")
      assert.equal(json.array_mt, getmetatable(t))
      assert.is_nil(next(t))
    end)

    it("names the array metatable stepflow.array in the registry", function()
      assert.equal(json.array_mt, debug.getregistry()["stepflow.array"])
      assert.equal("stepflow.array", json.array_mt.__name)
    end)

    it("round-trips [], {} and nested empties", function()
      for _, text in ipairs({ "[]", "{}", "[[]]", "[{}]", '{"a":[]}',
                              '{"a":{}}', '[[],{},[[]],{"b":[{}]}]' }) do
        assert.equal(text, json.encode(json.decode(text)))
      end
    end)

    it("gives every decoded array the same metatable", function()
      local t = json.decode("[[1],[2,[3]]]")
      assert.equal(json.array_mt, getmetatable(t[1]))
      assert.equal(json.array_mt, getmetatable(t[2][2]))
    end)

    it("leaves decoded objects without a metatable", function()
      assert.is_nil(getmetatable(json.decode('{"a":1}')))
      assert.is_nil(getmetatable(json.decode("{}")))
    end)

    it("encodes an empty plain table as {}", function()
      assert.equal("{}", json.encode({}))
    end)

    it("encodes a non-empty sequence without metatable as an array", function()
      assert.equal('[1,"a",true]', json.encode({ 1, "a", true }))
    end)

    it("encodes elements 1..#t of a table marked as an array", function()
      assert.equal("[1,2]", json.encode(json.array({ 1, 2 })))
    end)

    it("refuses an array-marked table with holes, naming the index", function()
      local t = json.array({ 1, 2, 3 })
      t[2] = nil
      assert.equal(3, rawlen(t))  -- the constructor sized the array part
      assert.has_error(function() json.encode(t) end,
        "json: cannot encode nil (an array with holes) at $[1]")
    end)
  end)

  describe("array", function()
    it("sets the array metatable and returns the table", function()
      local t = {}
      assert.equal(t, json.array(t))
      assert.equal(json.array_mt, getmetatable(t))
      assert.equal("[]", json.encode(t))
    end)

    it("accepts a table that already is an array", function()
      local t = json.decode("[1]")
      assert.equal(t, json.array(t))
    end)

    it("raises on a table with another metatable", function()
      assert.has_error(function() json.array(setmetatable({}, {})) end)
    end)

    it("raises on a non-table", function()
      assert.has_error(function() json.array("x") end)
    end)
  end)

  describe("is_array", function()
    it("is true for tables with the array metatable, empty ones too", function()
      assert.is_true(json.is_array(json.decode("[]")))
      assert.is_true(json.is_array(json.array({ 1 })))
    end)

    it("is true for non-empty sequences, as encode sees them", function()
      assert.is_true(json.is_array({ 1, 2 }))
    end)

    it("is false for objects, empty plain tables and non-tables", function()
      assert.is_false(json.is_array({}))
      assert.is_false(json.is_array(json.decode('{"a":1}')))
      assert.is_false(json.is_array({ [2] = 1 }))
      assert.is_false(json.is_array({ 1, x = 2 }))
      assert.is_false(json.is_array("[]"))
      assert.is_false(json.is_array(json.null))
    end)
  end)

  describe("objects", function()
    it("decodes keys to string keys, the last duplicate winning", function()
      local t = json.decode('{"a":1,"1":2,"a":3}')
      assert.equal(3, t.a)
      assert.equal(2, t["1"])
      assert.is_nil(t[1])
    end)

    it("encodes keys sorted bytewise", function()
      local t = { b = 1, a = 2, B = 3, ["é"] = 4, aa = 5, [""] = 6 }
      assert.equal('{"":6,"B":3,"a":2,"aa":5,"b":1,"é":4}', json.encode(t))
    end)

    it("sorts objects of many keys", function()
      local t, keys = {}, {}
      for i = 1, 300 do
        local k = string.format("k%03d", (i * 7919) % 300)
        t[k] = i
        keys[#keys + 1] = k
      end
      table.sort(keys)
      local text = json.encode(t)
      local last = 0
      for _, k in ipairs(keys) do
        local at = text:find('"' .. k .. '"', 1, true)
        assert.is_true(at > last)
        last = at
      end
    end)

    it("encodes deep nests of wide objects and one object of 100000 keys", function()
      -- each object holds its pairs on the Lua stack while it is written;
      -- run under valgrind, this caught a stack overrun
      local t = { leaf = true }
      for d = 1, 60 do
        local o = { child = t }
        for k = 1, 20 do o["k" .. k] = d end
        t = o
      end
      local text = json.encode(t)
      assert.equal(text, json.encode(json.decode(text)))
      local wide = {}
      for i = 1, 100000 do wide["key" .. i] = i end
      assert.equal(100000, select(2, json.encode(wide):gsub(":", "")))
    end)

    it("keeps table order with sort = false, with the same members", function()
      local t = { b = 1, a = 2, c = { z = 1, y = 2 } }
      local text = json.encode(t, { sort = false })
      assert.is_true(same_json(t, json.decode(text)))
    end)

    it("encodes wide, deep and mixed values unsorted as sorted, members alike", function()
      local t = { arr = json.array({ 1, { x = json.null, y = { true, false } }, "s\n" }),
        empty = {}, ea = json.array({}), n = -0.5, big = 2 ^ 53, u = "é\0" }
      for i = 1, 300 do t["k" .. i] = { i = i, s = tostring(i) } end
      local unsorted = json.encode(t, { sort = false })
      assert.not_equal(json.encode(t), unsorted)
      assert.equal(#json.encode(t), #unsorted)
      assert.equal(json.encode(t), json.encode(json.decode(unsorted)))
    end)

    it("names the path of what it cannot encode, unsorted too", function()
      for _, opts in ipairs({ { sort = false }, {} }) do
        assert.has_error(function() json.encode({ a = { b = { print } } }, opts) end,
          "json: cannot encode function at $.a.b[0]")
        assert.has_error(function() json.encode({ a = { [true] = 1 } }, opts) end,
          "json: cannot encode table with non-string keys at $.a")
        assert.has_error(function() json.encode({ a = { x = 1, [2] = 1 } }, opts) end)
      end
    end)
  end)

  describe("size_within", function()
    it("says a value certainly fits only when its encoding does", function()
      math.randomseed(7)
      local function rnd(depth)
        local r = math.random(8)
        if depth > 3 or r <= 2 then return math.random(-1e6, 1e6) end
        if r == 3 then return math.random() * 1e300 end
        if r == 4 then
          local t = {}
          for i = 1, math.random(0, 20) do t[i] = string.char(math.random(0, 255)) end
          return table.concat(t)
        end
        if r == 5 then return json.null end
        if r == 6 then return math.random(2) == 1 end
        local t = r == 7 and json.array({}) or {}
        for i = 1, math.random(0, 5) do
          if r == 7 then t[i] = rnd(depth + 1) else t["k" .. i .. "\n"] = rnd(depth + 1) end
        end
        return t
      end
      local fits = 0
      for _ = 1, 2000 do
        local v = rnd(0)
        local ok, text = pcall(json.encode, v)
        if ok then
          for _, limit in ipairs({ 40, 100, 400, 2000 }) do
            if json.size_within(v, limit) then
              fits = fits + 1
              assert(#text <= limit, text)
            end
          end
        end
      end
      assert.is_true(fits > 1000)
    end)

    it("answers at once for small values and says maybe for big ones", function()
      assert.is_true(json.size_within({ i = 1, n = 2 }, 262144))
      assert.is_true(json.size_within(("x"):rep(1000), 262144))
      assert.is_false(json.size_within(("x"):rep(300000), 262144))
      assert.is_false(json.size_within({ ("y"):rep(50000) }, 262144))  -- maybe: escapes
      assert.is_false(json.size_within({ a = 1 }, 0))
    end)
  end)

  describe("encoder", function()
    it("returns an encode function with the options fixed", function()
      local enc = json.encoder({ sort = false })
      local t = { b = 1, a = { d = 2, c = 3 } }
      assert.is_true(same_json(t, json.decode(enc(t))))
      assert.equal('{"a":1,"b":2}', json.encoder({})({ b = 2, a = 1 }))
      assert.equal('{\n  "a": 1\n}', json.encoder({ pretty = true })({ a = 1 }))
      assert.equal('[1,2]', enc({ 1, 2 }))
      assert.has_error(function() enc(print) end, "json: cannot encode function at $")
    end)

    it("refuses unknown options when made, not when called", function()
      assert.has_error(function() json.encoder({ sorted = true }) end,
        "bad argument #1 to 'encoder' (unknown option 'sorted')")
    end)
  end)

  describe("pretty", function()
    it("indents by 2 spaces, with empties inline", function()
      local text = json.encode(json.decode('{"b":[1,{"c":null}],"a":{},"d":[]}'),
                               { pretty = true })
      assert.equal(table.concat({
        "{",
        '  "a": {},',
        '  "b": [',
        "    1,",
        "    {",
        '      "c": null',
        "    }",
        "  ],",
        '  "d": []',
        "}" }, "\n"), text)
    end)

    it("prints scalars as in compact mode", function()
      assert.equal('"x"', json.encode("x", { pretty = true }))
    end)

    it("rejects unknown options", function()
      assert.has_error(function() json.encode({}, { prety = true }) end,
        "bad argument #2 to 'encode' (unknown option 'prety')")
    end)
  end)

  describe("with lua-cjson as an oracle", function()
    local docs = {
      '{"a":[1,2,3],"b":{"c":"d","e":[true,false,null]},"f":-1.5e-3}',
      '[1.5,-0.25,"\\u00e9\\n\\t\\"",{"x":{"y":{"z":[0]}}}]',
      '{"unicode":"\\u4e2d\\u6587 \\ud83d\\ude00","esc":"\\/\\\\\\b\\f\\r"}',
      '"plain"', "12345", "true", "null",
    }
    for i, text in ipairs(docs) do
      it("decodes document " .. i .. " to the values cjson gives", function()
        assert.is_true(same_json(cjson.decode(text), json.decode(text)))
      end)

      it("encodes document " .. i .. " to text cjson reads back", function()
        local v = json.decode(text)
        assert.is_true(same_json(cjson.decode(json.encode(v)), v))
      end)
    end
  end)

  describe("booleans", function()
    it("round-trip", function()
      assert.is_true(json.decode("true"))
      assert.is_false(json.decode("false"))
      assert.equal("[true,false]", json.encode({ true, false }))
    end)
  end)

  describe("blanks", function()
    it("accepts space, tab, CR and LF around every token", function()
      local t = json.decode(' \t\r\n{ "a" : [ 1 , 2 ] , "b" : { } } \n')
      assert.equal('{"a":[1,2],"b":{}}', json.encode(t))
    end)
  end)
end)

describe("stepflow.json copies", function()
  it("copy makes a shallow copy with the metatable, and sets a key", function()
    local inner = { z = 1 }
    local t = { a = 1, b = inner }
    local c = json.copy(t, "k", "v")
    assert.same({ a = 1, b = { z = 1 }, k = "v" }, c)
    assert.equal(inner, c.b)
    assert.is_nil(t.k)
    local arr = json.copy(json.array({ 1, 2 }))
    assert.is_true(json.is_array(arr))
    assert.same({ 1, 2 }, arr)
  end)
  it("copy with a size hint copies in one pass and returns the count", function()
    local t = { a = 1, b = 2, c = 3 }
    for _, hint in ipairs({ 0, 3, 50 }) do
      local c, n = json.copy(t, "d", 4, hint)
      assert.same({ a = 1, b = 2, c = 3, d = 4 }, c)
      assert.equal(3, n)
    end
  end)
  it("deep_copy copies every nested table", function()
    local t = { a = { b = json.array({ { c = 1 } }) }, n = json.null }
    local c = json.deep_copy(t)
    assert.same(t, c)
    assert.are_not.equal(t.a, c.a)
    assert.are_not.equal(t.a.b[1], c.a.b[1])
    assert.is_true(json.is_array(c.a.b))
    assert.equal(json.null, c.n)
    assert.equal(5, json.deep_copy(5))
  end)
  it("deep_copy refuses a cycle with an error, never a crash", function()
    local t = {}
    t.self = t
    assert.has_error(function() json.deep_copy(t) end, "json: nesting deeper than 1000 in copy")
  end)
end)
