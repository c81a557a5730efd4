local paths = require("stepflow.asl.paths")

local array_mt = debug.getregistry()["stepflow.array"]
local null = require("stepflow.core.json").null

local function arr(t) return setmetatable(t, array_mt) end

describe("stepflow.asl.paths", function()
  describe("accessor", function()
    local env
    before_each(function()
      env = {
        input = { x = { y = 1 }, list = arr({ 10, 20, 30 }) },
        context = { Execution = { Id = "arn:exec" },
                    Map = { Item = { Index = 0 } } },
        vars = { count = 3, obj = { a = { b = "deep" } },
                 items = arr({ "p", "q" }), nothing = null, _v1 = "u" },
      }
    end)

    it("reads the whole input with $", function()
      assert.equal(env.input, assert(paths.accessor("$"))(env))
    end)

    it("reads the input with $.path", function()
      assert.equal(1, assert(paths.accessor("$.x.y"))(env))
      assert.equal(30, assert(paths.accessor("$.list[-1]"))(env))
    end)

    it("reads $$.Map.Item.* from the item being selected, else from the context", function()
      local index, value = assert(paths.accessor("$$.Map.Item.Index")), assert(paths.accessor("$$.Map.Item.Value"))
      assert.equal(0, index(env))
      assert.is_nil(value(env))
      env.map_item = { Index = 7, Value = "v" }
      assert.equal(7, index(env))
      assert.equal("v", value(env))
      env.map_item, env.context = nil, {}
      assert.is_nil(index(env))
      env.context_part = function(_, part) if part == "Map" then return { Item = { Index = 3 } } end end
      assert.equal(3, index(env))
    end)

    it("reads the whole context object with $$", function()
      assert.equal(env.context, assert(paths.accessor("$$"))(env))
    end)

    it("reads the context object with $$.path", function()
      assert.equal("arn:exec", assert(paths.accessor("$$.Execution.Id"))(env))
      assert.equal(0, assert(paths.accessor("$$.Map.Item.Index"))(env))
      assert.equal("arn:exec",
        assert(paths.accessor("$$['Execution']['Id']"))(env))
    end)

    it("reads a variable with $name", function()
      assert.equal(3, assert(paths.accessor("$count"))(env))
      assert.equal("u", assert(paths.accessor("$_v1"))(env))
    end)

    it("reads into a variable with $name.path and $name[i]", function()
      assert.equal("deep", assert(paths.accessor("$obj.a.b"))(env))
      assert.equal("q", assert(paths.accessor("$items[1]"))(env))
      assert.equal("deep", assert(paths.accessor("$obj['a'].b"))(env))
    end)

    it("returns null for a variable holding null", function()
      assert.equal(null, assert(paths.accessor("$nothing"))(env))
    end)

    it("returns nil for an undefined variable or a missing path", function()
      assert.is_nil(assert(paths.accessor("$noSuchVar"))(env))
      assert.is_nil(assert(paths.accessor("$noSuchVar.noSuchMember"))(env))
      assert.is_nil(assert(paths.accessor("$obj.nope"))(env))
      assert.is_nil(assert(paths.accessor("$.no.such.path"))(env))
      assert.is_nil(assert(paths.accessor("$$.Execution.Input"))(env))
      assert.is_nil(assert(paths.accessor("$count"))({ input = {} }))
    end)

    it("returns an array for an indefinite path", function()
      local r = assert(paths.accessor("$.list[1:]"))(env)
      assert.same({ 20, 30 }, r)
      assert.equal(array_mt, getmetatable(r))
      assert.same({ "p", "q" }, assert(paths.accessor("$items[*]"))(env))
      assert.same({}, assert(paths.accessor("$.nope[*]"))(env))
    end)

    it("trims blanks around the text, as Jayway's path compiler does", function()
      assert.equal("arn:exec", assert(paths.accessor("$$.Execution.Id "))(env))
      assert.equal(1, assert(paths.accessor("  $.x.y\t"))(env))
      assert.equal(3, assert(paths.accessor(" $count "))(env))
      assert.equal(env.context, assert(paths.accessor("$$ "))(env))
    end)

    it("caches the accessor by text", function()
      assert.equal(paths.accessor("$.x.y"), paths.accessor("$.x.y"))
    end)

    it("reports errors at their position in the text as written", function()
      local get, err = paths.accessor("$.a[")
      assert.is_nil(get)
      assert.equal("invalid JSONPath '$.a[': expected ']' at character 5", err)
      assert.same({ nil, "invalid JSONPath '$$.a[': expected ']' at "
        .. "character 6" }, { paths.accessor("$$.a[") })
      assert.same({ nil, "invalid JSONPath '$var.a[': expected ']' at "
        .. "character 8" }, { paths.accessor("$var.a[") })
      assert.same({ nil, "invalid JSONPath '$$x': expected '.' or '[' at "
        .. "character 3" }, { paths.accessor("$$x") })
      assert.same({ nil, "invalid JSONPath 'x': expected '$' at character 1" },
        { paths.accessor("x") })
    end)

    it("raises when the path is not a string", function()
      assert.has_error(function() paths.accessor(nil) end,
        "stepflow.asl.paths.accessor: path must be a string")
    end)
  end)

  describe("reference_keys", function()
    it("is empty for $", function()
      assert.same({}, assert(paths.reference_keys("$")))
    end)

    it("lists names and 0-based indexes", function()
      assert.same({ "a", "b c", 0 },
        assert(paths.reference_keys("$.a['b c'][0]")))
    end)

    it("rejects paths that are not reference paths", function()
      assert.same({ nil, "invalid ReferencePath '$.a[*]': only .name, "
        .. "['name'] and [index] steps are allowed" },
        { paths.reference_keys("$.a[*]") })
      assert.is_nil(paths.reference_keys("$..a"))
      assert.is_nil(paths.reference_keys("$.a[?(@.b)]"))
    end)

    it("rejects context and variable paths", function()
      assert.is_nil(paths.reference_keys("$$.a"))
      assert.is_nil(paths.reference_keys("$var"))
    end)

    it("passes on compile errors", function()
      assert.same({ nil, "invalid JSONPath '$.a[': expected ']' at "
        .. "character 5" }, { paths.reference_keys("$.a[") })
    end)
  end)

  describe("set", function()
    local function set(input, path, value)
      return paths.set(input, assert(paths.reference_keys(path)), value)
    end

    it("replaces the whole input for $", function()
      assert.equal("r", set({ a = 1 }, "$", "r"))
    end)

    it("adds the result beside the input's fields", function()
      assert.same({ a = 1, r = { ok = true } }, set({ a = 1 }, "$.r",
        { ok = true }))
    end)

    it("replaces an existing field", function()
      assert.same({ a = 2 }, set({ a = 1 }, "$.a", 2))
    end)

    it("creates missing intermediate objects", function()
      assert.same({ a = 1, x = { y = { z = "r" } } },
        set({ a = 1 }, "$.x.y.z", "r"))
    end)

    it("merges into an existing nested object", function()
      assert.same({ s = { a = 1, r = 2 } }, set({ s = { a = 1 } }, "$.s.r", 2))
    end)

    it("stores null as a value", function()
      assert.equal(null, set({}, "$.r", null).r)
    end)

    it("replaces an array element at an index in range", function()
      local out = set({ l = arr({ 1, 2, 3 }) }, "$.l[1]", "x")
      assert.same({ 1, "x", 3 }, out.l)
      assert.equal(array_mt, getmetatable(out.l))
      assert.same({ 1, 2, "y" }, set({ l = arr({ 1, 2, 3 }) }, "$.l[-1]", "y").l)
      assert.same({ l = arr({ { a = 1, r = 0 } }) },
        set({ l = arr({ { a = 1 } }) }, "$.l[0].r", 0))
    end)

    it("fails when a name steps into a string, number or array", function()
      local r, err = set({ a = "str" }, "$.a.b", 1)
      assert.is_nil(r)
      assert.matches('^Unable to apply step "b" to input ', err)
      assert.is_nil((set({ a = 5 }, "$.a.b", 1)))
      assert.is_nil((set({ a = arr({ 1 }) }, "$.a.b", 1)))
      assert.is_nil((set({ a = null }, "$.a.b", 1)))
      assert.is_nil((set("scalar input", "$.r", 1)))
      assert.is_nil((set(arr({ 1, 2 }), "$.r", 1)))
    end)

    it("fails for an index outside an array or on a non-array", function()
      assert.is_nil((set({ l = arr({ 1 }) }, "$.l[1]", 1)))
      assert.is_nil((set({ l = arr({ 1 }) }, "$.l[-2]", 1)))
      assert.is_nil((set({ l = { a = 1 } }, "$.l[0]", 1)))
      assert.is_nil((set({}, "$.l[0]", 1)))
    end)

    it("leaves the input and the tables it shares untouched", function()
      local inner = { a = 1 }
      local input = { s = inner }
      local out = set(input, "$.s.r", 2)
      assert.same({ s = { a = 1 } }, input)
      assert.same({ a = 1 }, inner)
      assert.same({ s = { a = 1, r = 2 } }, out)
    end)

    it("puts the input inside itself without making a cycle", function()
      local input = { a = 1 }
      local out = set(input, "$.copy", input)
      assert.equal(input, out.copy)
      assert.is_nil(input.copy)
    end)

    it("raises when the value is nil", function()
      assert.has_error(function() paths.set({}, { "a" }, nil) end,
        "stepflow.asl.paths.set: value must not be nil (use json.null)")
    end)
  end)
end)
