local jsonpath = require("stepflow.jsonpath")

-- The JSON value model (docs/INTERNALS.md): arrays carry the registry
-- metatable "stepflow.array", null is lightuserdata NULL.
local array_mt = debug.getregistry()["stepflow.array"]
local null = require("stepflow.core.json").null

local function arr(t) return setmetatable(t, array_mt) end

local function get(text, root)
  return assert(jsonpath.compile(text)):get(root)
end

describe("stepflow.jsonpath", function()
  describe("get", function()
    it("raises when called without a Path", function()
      local p = jsonpath.compile("$.a")
      assert.has_error(function() p.get(nil, {}) end,
        "bad argument #1 to 'get' (stepflow.JSONPath expected, got nil)")
    end)
  end)

  describe("get with a definite path", function()
    local doc
    before_each(function()
      doc = {
        a = { b = { c = 42 }, s = "str", n = null, f = false },
        items = arr({ { k = 0 }, { k = 1 }, { k = 2 } }),
        ["with space"] = 1, ["delivery-partner"] = "ups",
        ["it's"] = 2, ["q\"d"] = 3, ["é"] = 4,
      }
    end)

    it("returns the root for $", function()
      assert.equal(doc, get("$", doc))
    end)

    it("follows names", function()
      assert.equal(42, get("$.a.b.c", doc))
      assert.equal(doc.a.b, get("$.a.b", doc))
    end)

    it("follows bracket names with spaces, quotes and escapes", function()
      assert.equal(1, get("$['with space']", doc))
      assert.equal(1, get('$["with space"]', doc))
      assert.equal(2, get("$['it\\'s']", doc))
      assert.equal(3, get('$["q\\"d"]', doc))
      assert.equal(4, get("$['\\u00e9']", doc))
      assert.equal(5, get("$['\\ud83d\\ude00']", { ["\u{1F600}"] = 5 }))
      assert.equal(6, get("$['a\\/b']", { ["a/b"] = 6 }))
      assert.equal(42, get("$.a.['b'].c", doc))
    end)

    it("keeps the backslash before the other quote inside a quoted name, as AWS does", function()
      -- inside '...', \" is not an escape: the key holds the backslash
      assert.equal(7, get([=[$['Test\""Name"']]=], { [ [=[Test\""Name"]=] ] = 7 }))
      assert.equal(8, get([=[$["it\'s"]]=], { [ [=[it\'s]=] ] = 8 }))
      assert.equal(9, get([=[$['it\'s']]=], { ["it's"] = 9 }))
    end)

    it("allows hyphens in dot notation", function()
      assert.equal("ups", get("$.delivery-partner", doc))
    end)

    it("indexes arrays from 0", function()
      assert.equal(doc.items[1], get("$.items[0]", doc))
      assert.equal(2, get("$.items[2].k", doc))
    end)

    it("counts negative indexes from the end", function()
      assert.equal(2, get("$.items[-1].k", doc))
      assert.equal(0, get("$.items[-3].k", doc))
    end)

    it("returns nil for a missing key", function()
      assert.is_nil(get("$.nope", doc))
      assert.is_nil(get("$.a.nope.deeper", doc))
    end)

    it("returns nil for an index out of range", function()
      assert.is_nil(get("$.items[3]", doc))
      assert.is_nil(get("$.items[-4]", doc))
    end)

    it("returns nil when stepping into a scalar or null", function()
      assert.is_nil(get("$.a.s.x", doc))
      assert.is_nil(get("$.a.s[0]", doc))
      assert.is_nil(get("$.a.n.x", doc))
      assert.is_nil(get("$.x", "text"))
      assert.is_nil(get("$.x", nil))
    end)

    it("returns null and false values themselves", function()
      assert.equal(null, get("$.a.n", doc))
      assert.is_false(get("$.a.f", doc))
    end)

    it("does not index objects by position or arrays by name", function()
      assert.is_nil(get("$.a[0]", doc))
      assert.is_nil(get("$.items.k", doc))
    end)

    it("preserves integer and float numbers", function()
      local v = get("$.x", { x = 1 })
      assert.equal("integer", math.type(v))
      assert.equal("float", math.type(get("$.x", { x = 1.5 })))
    end)

    it("merges a leaf name union into an object, as Jayway does", function()
      assert.same({ s = "str", f = false }, get("$.a['s','f','nope']", doc))
      assert.is_nil(getmetatable(get("$.a['s','f']", doc)))
    end)

    it("returns nil for a leaf name union on a non-object", function()
      assert.is_nil(get("$.items['a','b']", doc))
    end)

    it("matches nothing with a function, which AWS does not support", function()
      assert.is_nil(get("$.items.length()", doc))
    end)
  end)

  describe("get with an indefinite path", function()
    local doc
    before_each(function()
      doc = {
        store = {
          book = arr({
            { title = "A", price = 8, tags = arr({ "x" }) },
            { title = "B", price = 12.5, isbn = "1" },
            { title = "C", price = 22, isbn = "2", used = false },
          }),
          bike = { color = "red", price = 19 },
        },
        nums = arr({ 1, 2, 3, 4, 5 }),
        empty = arr({}),
      }
    end)

    it("returns an array with the array metatable", function()
      local r = get("$.nums[*]", doc)
      assert.equal(array_mt, getmetatable(r))
      assert.same({ 1, 2, 3, 4, 5 }, r)
    end)

    it("returns an empty array when nothing matches", function()
      for _, text in ipairs({ "$[*]", "$.items[*]", "$.item.items[*]",
                              "$.items[*].itemValue", "$.items[1:]",
                              "$.items[:1].itemValue",
                              "$.item.items[1:5].itemValue" }) do
        local r = get(text, {})
        assert.same({}, r, text)
        assert.equal(array_mt, getmetatable(r), text)
      end
    end)

    it("maps a wildcard over array elements", function()
      assert.same({ "A", "B", "C" }, get("$.store.book[*].title", doc))
    end)

    it("takes object values in key order for a wildcard", function()
      assert.same({ "red", 19 }, get("$.store.bike.*", doc))
      assert.same({ "red", 19 }, get("$.store.bike[*]", doc))
    end)

    it("visits object members in bytewise key order, whatever the hash order",
      function()
        local obj, want = {}, {}
        for c = ("z"):byte(), ("a"):byte(), -1 do
          obj[string.char(c) .. "k"] = c
        end
        for c = ("a"):byte(), ("z"):byte() do want[#want + 1] = c end
        assert.same(want, get("$.*", obj))
        assert.same(want, get("$..*", obj))
      end)

    it("skips elements that lack the next step", function()
      assert.same({ "1", "2" }, get("$.store.book[*].isbn", doc))
    end)

    describe("slices", function()
      local cases = {
        { "$.nums[1:]", { 2, 3, 4, 5 } },
        { "$.nums[:1]", { 1 } },
        { "$.nums[1:3]", { 2, 3 } },
        { "$.nums[1:50]", { 2, 3, 4, 5 } },
        { "$.nums[-2:]", { 4, 5 } },
        { "$.nums[:-2]", { 1, 2, 3 } },
        { "$.nums[-50:2]", { 1, 2 } },
        { "$.nums[3:1]", {} },
        { "$.nums[::2]", { 1, 3, 5 } },
        { "$.nums[1::2]", { 2, 4 } },
        { "$.nums[::-1]", { 5, 4, 3, 2, 1 } },
        { "$.nums[3:0:-1]", { 4, 3, 2 } },
        { "$.empty[0:]", {} },
        { "$.store.bike[0:1]", {} },
      }
      for _, case in ipairs(cases) do
        it("selects " .. case[1], function()
          assert.same(case[2], get(case[1], doc))
        end)
      end
    end)

    it("maps a wildcard over the root array", function()
      assert.same({ 1, 2 }, get("$[*]", arr({ 1, 2 })))
      assert.same({ 1, 2 }, get("$.*", arr({ 1, 2 })))
    end)

    it("merges a root-level name union", function()
      assert.same({ nums = doc.nums }, get("$['nums','nope']", doc))
    end)

    it("takes index unions in the order written, skipping misses", function()
      assert.same({ 5, 1, 3 }, get("$.nums[-1,0,2,9]", doc))
    end)

    it("iterates a name union that is not the last step", function()
      assert.same({ 12.5, 19 },
        get("$['store']['book','bike'].price", { store = {
          book = { price = 12.5 }, bike = { price = 19 } } }))
    end)

    describe("deep scan", function()
      it("finds a name at any depth, parents before children", function()
        local d = { a = { x = 1, b = { x = 2 } }, c = arr({ { x = 3 } }) }
        assert.same({ 1, 2, 3 }, get("$..x", d))
      end)

      it("includes the root level", function()
        -- object members in key order: "bike" before "book"
        assert.same({ 19, 8, 12.5, 22 }, get("$.store..price", doc))
      end)

      it("applies an index to every array", function()
        local tags = arr({ "x" })
        assert.same({ "x", doc.store.book[1], "x" },
          get("$..[0]", { a = tags, b = doc.store.book }))
      end)

      it("matches a filter once per object", function()
        assert.same({ "C", "B" }, {
          get("$..[?(@.price > 20)].title", doc)[1],
          get("$..[?(@.price > 10 && @.price < 19)].title", doc)[1] })
        assert.equal(3, #get("$..[?(@.price > 10)]", doc))
      end)

      it("raises on a cyclic table instead of recursing forever", function()
        local t = { x = 1 }
        t.self = t
        assert.error_matches(function() get("$..x", t) end,
          "JSONPath: value nested deeper than 2000 %(a cycle%?%)")
      end)

      it("lists every value below the root with ..*", function()
        assert.same({ 1, arr({ 2 }), 2 }, get("$..*", { a = 1, b = arr({ 2 }) }))
      end)
    end)

    describe("filters", function()
      local function titles(text) return get(text, doc) end

      it("compares numbers", function()
        assert.same({ "A" }, titles("$.store.book[?(@.price < 10)].title"))
        assert.same({ "A" }, titles("$.store.book[?(@.price <= 8)].title"))
        assert.same({ "C" }, titles("$.store.book[?(@.price > 12.5)].title"))
        assert.same({ "B", "C" },
          titles("$.store.book[?(@.price >= 12.5)].title"))
        assert.same({ "C" }, titles("$.store.book[?(@.price == 22)].title"))
        assert.same({ "A", "B" }, titles("$.store.book[?(@.price != 22)].title"))
      end)

      it("treats equal integers and floats as equal", function()
        assert.same({ "C" }, titles("$.store.book[?(@.price == 22.0)].title"))
        assert.same({ "B" }, titles("$.store.book[?(@.price == 1.25e1)].title"))
      end)

      it("compares strings", function()
        assert.same({ "B" }, titles("$.store.book[?(@.title == 'B')].title"))
        assert.same({ "B" }, titles('$.store.book[?(@.title == "B")].title'))
        assert.same({ "A", "B" }, titles("$.store.book[?(@.title < 'C')].title"))
      end)

      it("compares a number with a numeric string by value", function()
        assert.same({ "B" }, titles("$.store.book[?(@.isbn == 1)].title"))
      end)

      it("never orders values of different types", function()
        assert.same({}, titles("$.store.book[?(@.title < 5)].title"))
        assert.same({}, titles("$.store.book[?(@.price > '1')].title"))
      end)

      it("compares booleans and null", function()
        assert.same({ "C" }, titles("$.store.book[?(@.used == false)].title"))
        assert.same({ 1 }, get("$.a[?(@.v == null)].i",
          { a = arr({ { v = null, i = 1 }, { v = 0, i = 2 } }) }))
        assert.same({ 2 }, get("$.a[?(@.v == true)].i",
          { a = arr({ { v = 1, i = 1 }, { v = true, i = 2 } }) }))
      end)

      it("tests existence, counting false and null as present", function()
        assert.same({ "B", "C" }, titles("$.store.book[?(@.isbn)].title"))
        assert.same({ "C" }, titles("$.store.book[?(@.used)].title"))
        assert.same({ "A" }, titles("$.store.book[?(!@.isbn)].title"))
      end)

      it("treats a missing operand as unequal to everything", function()
        assert.same({ "A", "C" },
          titles("$.store.book[?(@.isbn != '1')].title"))
        assert.same({}, titles("$.store.book[?(@.nope == 1)].title"))
        assert.same({}, titles("$.store.book[?(@.nope < 1)].title"))
      end)

      it("combines with &&, || and ! and groups with parentheses", function()
        assert.same({ "B" },
          titles("$.store.book[?(@.price > 10 && @.price < 20)].title"))
        assert.same({ "A", "C" },
          titles("$.store.book[?(@.price < 10 || @.price > 20)].title"))
        assert.same({ "B" },
          titles("$.store.book[?(!(@.price < 10 || @.price > 20))].title"))
        assert.same({ "A", "C" },
          titles("$.store.book[?((@.title == 'A' || @.title == 'C') && "
            .. "@.price > 0)].title"))
      end)

      it("gives && precedence over ||", function()
        assert.same({ "A", "C" }, titles(
          "$.store.book[?(@.title == 'A' || @.title == 'C' && @.price > 20)]"
          .. ".title"))
      end)

      it("follows nested paths and indexes from @", function()
        assert.same({ 1 }, get("$.a[?(@.b.c[0] == 'x')].i", { a = arr({
          { b = { c = arr({ "x" }) }, i = 1 }, { b = { c = arr({}) }, i = 2 },
        }) }))
      end)

      it("tests that an indefinite path finds something", function()
        assert.same({ "A" }, titles("$.store.book[?(@.tags[*])].title"))
      end)

      it("treats a function operand as missing", function()
        assert.same({}, titles("$.store.book[?(@.tags.length() > 0)].title"))
      end)

      it("compares a definite operand that is not a reference path", function()
        assert.same({ "B" },
          get("$.store.book[?(@['isbn','title'] == $.want)].title",
            { want = { isbn = "1", title = "B" }, store = doc.store }))
      end)

      it("compares with values from the root", function()
        doc.limit = 10
        assert.same({ "A" }, titles("$.store.book[?(@.price < $.limit)].title"))
      end)

      it("matches whole strings against a regex", function()
        assert.same({ "B" }, titles("$.store.book[?(@.title =~ /[B]/)].title"))
        assert.same({}, titles("$.store.book[?(@.title =~ /B.+/)].title"))
        assert.same({ "A" }, titles("$.store.book[?(@.title =~ /a/i)].title"))
        assert.same({ "B", "C" },
          titles("$.store.book[?(@.isbn =~ /\\d/)].title"))
      end)

      it("tests an object itself when applied to an object", function()
        assert.same({ "red" }, get("$.store.bike[?(@.price > 10)].color", doc))
        assert.same({}, get("$.store.bike[?(@.price > 100)]", doc))
      end)

      it("compares objects and arrays structurally", function()
        local d = { a = arr({ { x = arr({ 1, 2 }), y = arr({ 1, 2 }) },
                              { x = { k = 1 }, y = { k = 1 } },
                              { x = { k = 1 }, y = { k = 2 } },
                              { x = arr({}), y = {} } }) }
        assert.equal(2, #get("$.a[?(@.x == @.y)]", d))
      end)

      it("skips scalar elements, as AWS's '@' matches objects only", function()
        assert.same({}, get("$.nums[?(@ > 2)]", doc))
      end)
    end)
  end)

  describe("bounds", function()
    it("stops nested filters that rescan the document, past a step budget", function()
      local doc = {}
      for i = 1, 60 do doc["k" .. i] = { a = arr({ { b = i }, { c = arr({ { d = i } }) } }) } end
      local p = assert(jsonpath.compile("$..[?(@)]..[?($..[?(@)]..[?($..[?(@ == $)])])]"))
      local t = os.clock()
      assert.has_error(function() p:get(doc) end,
        "JSONPath: evaluation took more than 1048576 steps (nested filters over a large document?)")
      assert.is_true(os.clock() - t < 2)
    end)
  end)
end)
