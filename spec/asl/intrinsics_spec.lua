local json = require("stepflow.json")
local intrinsics = require("stepflow.asl.intrinsics")
local functions = require("stepflow.asl.intrinsics.functions")
local errors = require("stepflow.errors")

local accessor = require("stepflow.asl.paths").accessor

local function eval(text, input, extra)
  local fn, err = intrinsics.compile(text, accessor)
  assert(fn, err)
  return fn({ input = input or {}, context = extra and extra.context, vars = extra and extra.vars })
end

local function text_of(v) return functions.json_text(v) end

local function fails(text, input)
  local fn = assert(intrinsics.compile(text, accessor))
  local ok, err = pcall(fn, { input = input or {} })
  assert.is_false(ok)
  assert.is_true(errors.is(err), tostring(err))
  return err
end

local function intrinsic_failure(text, input, cause)
  local err = fails(text, input)
  assert.equal("States.IntrinsicFailure", err.Error)
  if cause then assert.equal(cause, err.Cause) end
  return err
end

describe("stepflow.asl.intrinsics", function()
  describe("is_call", function()
    it("tells intrinsic calls from paths", function()
      assert.is_true(intrinsics.is_call("States.Format('{}', $.x)"))
      assert.is_true(intrinsics.is_call("States.UUID()"))
      assert.is_false(intrinsics.is_call("$.x"))
      assert.is_false(intrinsics.is_call("States.Format"))
      assert.is_false(intrinsics.is_call(42))
    end)
  end)

  describe("compile", function()
    it("returns nil and a message for an unknown function", function()
      local fn, err = intrinsics.compile("States.Nope(1)", accessor)
      assert.is_nil(fn)
      assert.equal("unknown intrinsic function States.Nope", err)
    end)

    it("checks the number of arguments", function()
      local _, err = intrinsics.compile("States.ArrayRange(1, 2)", accessor)
      assert.equal("States.ArrayRange takes 3 argument(s), got 2", err)
      _, err = intrinsics.compile("States.MathRandom(1)", accessor)
      assert.equal("States.MathRandom takes 2 to 3 argument(s), got 1", err)
      _, err = intrinsics.compile("States.Format()", accessor)
      assert.equal("States.Format takes at least 1 argument(s), got 0", err)
      _, err = intrinsics.compile("States.UUID(1)", accessor)
      assert.equal("States.UUID takes 0 argument(s), got 1", err)
    end)

    it("reports syntax errors with their position", function()
      local _, err = intrinsics.compile("States.Array(1 2)", accessor)
      assert.equal("expected ',' or ')' at position 16 in States.Array(1 2)", err)
      _, err = intrinsics.compile("States.Array('abc)", accessor)
      assert.equal("unterminated string at position 14 in States.Array('abc)", err)
      _, err = intrinsics.compile("States.Array(1) x", accessor)
      assert.equal("unexpected text after the call at position 17 in States.Array(1) x", err)
      _, err = intrinsics.compile("States.Array(1x)", accessor)
      assert.equal("invalid number at position 15 in States.Array(1x)", err)
      _, err = intrinsics.compile("States.Array(@)", accessor)
      assert.equal("unexpected character '@' at position 14 in States.Array(@)", err)
      _, err = intrinsics.compile("States.Array(,)", accessor)
      assert.is_string(err)
      _, err = intrinsics.compile("States.Array(1,)", accessor)
      assert.is_string(err)
      _, err = intrinsics.compile("Foo.Array(1)", accessor)
      assert.equal("expected 'States.<name>(' at position 1 in Foo.Array(1)", err)
    end)

    it("allows nesting 10 deep and no deeper", function()
      local ten = string.rep("States.Array(", 10) .. "1" .. string.rep(")", 10)
      local v = eval(ten)
      for _ = 1, 9 do v = v[1] end
      assert.equal(1, v[1])
      local eleven = string.rep("States.Array(", 11) .. "1" .. string.rep(")", 11)
      local fn, err = intrinsics.compile(eleven, accessor)
      assert.is_nil(fn)
      assert.matches("nested more than 10 deep", err)
    end)

    it("reports a path the accessor rejects", function()
      local _, err = intrinsics.compile("States.Array($.a[x])", accessor)
      assert.equal("invalid path '$.a[x]' in States.Array($.a[x]): invalid JSONPath '$.a[x]': "
        .. "expected a quoted name, index, slice, '*' or '?' at character 5", err)
    end)

    it("raises on caller bugs", function()
      assert.has_error(function() intrinsics.compile(nil, accessor) end,
        "stepflow.asl.intrinsics.compile: text must be a string")
      assert.has_error(function() intrinsics.compile("States.UUID()") end,
        "stepflow.asl.intrinsics.compile: accessor_factory must be a function")
    end)
  end)

  describe("arguments", function()
    it("read string escapes", function()
      assert.equal("it's {x} \\ done", eval([[States.Format('it\'s \{x\} \\ done')]]))
      assert.equal("é", eval([[States.Format('\u00e9')]]))
    end)

    it("read a \\u surrogate pair as one character, as a Java string holds it", function()
      assert.equal("a\u{1F600}b", eval([[States.Format('a\uD83D\uDE00b')]]))
      -- the digest is of the character's UTF-8 bytes
      assert.equal("2a02eac39d716a70ecf37579185927b6", eval([[States.Hash('\ud83d\ude00', 'MD5')]]))
      assert.equal(1, #eval([[States.StringSplit('\uD83D\uDE00', ',')]]))
    end)

    it("keep a lone surrogate escape without failing", function()
      assert.equal(2, #eval([[States.StringSplit('a\uD83Db', '\uD83D')]]))
    end)

    it("read integers, decimals and exponents", function()
      local v = eval("States.Array(1, -2, 1.5, -0.25, 1e3, 2E-2)")
      assert.equal("integer", math.type(v[1]))
      assert.equal(-2, v[2])
      assert.equal(1.5, v[3])
      assert.equal(-0.25, v[4])
      assert.equal("float", math.type(v[5]))
      assert.equal(1000, v[5])
      assert.equal(0.02, v[6])
    end)

    it("read true, false and null", function()
      local v = eval("States.Array(true, false, null)")
      assert.same({ true, false, json.null }, { v[1], v[2], v[3] })
    end)

    it("allow whitespace between tokens", function()
      assert.equal("a-b", eval("  States.Format (\n '{}-{}' ,\t$.a , $.b )  ", { a = "a", b = "b" }))
    end)

    it("read input, context and variable paths", function()
      local v = eval("States.Array($.a, $$.Execution.Name, $x.y, $)", { a = 1 },
        { context = { Execution = { Name = "run" } }, vars = { x = { y = "v" } } })
      assert.equal(1, v[1])
      assert.equal("run", v[2])
      assert.equal("v", v[3])
      assert.equal(1, v[4].a)
    end)

    it("evaluate nested calls", function()
      assert.equal(6, eval("States.MathAdd(States.MathAdd(1, 2), States.ArrayLength(States.Array(1, 2, 3)))"))
    end)

    it("raise States.Runtime for a path that matches nothing", function()
      local err = fails("States.Format('{}', $.missing.x)", {})
      assert.equal("States.Runtime", err.Error)
      assert.equal("Invalid path '$.missing.x' : No results for path: $['missing']['x']", err.Cause)
      assert.equal("$.missing.x", err.path)
      assert.is_true(err.state_prefix)
    end)
  end)

  describe("States.Format", function()
    it("interpolates values as Java prints them", function()
      assert.equal("a=1 b=1.5 c=true d=null e=x", eval("States.Format('a={} b={} c={} d={} e={}', 1, 1.5, true, null, 'x')"))
      assert.equal("{Arg1=1, Arg2=[]} [1, a, {k=v}]",
        eval("States.Format('{} {}', $.o, $.a)", { o = { Arg1 = 1, Arg2 = json.array({}) },
          a = json.array({ 1, "a", { k = "v" } }) }))
      assert.equal("3.0 1.0E7 1.0E-4 0.001", eval("States.Format('{} {} {} {}', 3.0, 1e7, 1e-4, 1e-3)"))
    end)

    it("keeps escaped braces literal", function()
      assert.equal("{} 1", eval([[States.Format('\{\} {}', 1)]]))
    end)

    it("takes a template from a path", function()
      assert.equal("Hello, my name is Arnav.", eval("States.Format($.template, $.name)",
        { name = "Arnav", template = "Hello, my name is {}." }))
    end)

    it("fails when placeholders and values differ in number", function()
      intrinsic_failure("States.Format('{} {}', 1)", {},
        "Invalid arguments in States.Format: the template has 2 placeholder(s) but 1 value(s) were given")
      intrinsic_failure("States.Format($.t)", { t = "{}" })
    end)

    it("fails when the template is not a string", function()
      intrinsic_failure("States.Format($.t, 1)", { t = 1 })
    end)
  end)

  describe("States.StringToJson and States.JsonToString", function()
    it("parse JSON text", function()
      assert.equal(3, eval("States.StringToJson($.s)", { s = "3" }))
      assert.equal('{"a":[1,{}]}', text_of(eval("States.StringToJson($.s)", { s = '{"a":[1,{}]}' })))
      assert.equal(json.null, eval("States.StringToJson($.s)", { s = "  " }))
    end)

    it("fail on text that is not JSON", function()
      intrinsic_failure("States.StringToJson($.s)", { s = "{nope" })
      intrinsic_failure("States.StringToJson($.s)", { s = 1 })
    end)

    it("print compact JSON with Java number text", function()
      assert.equal('{"a":1.5,"b":[true,null,"x\\"y"],"c":{}}',
        eval("States.JsonToString($.v)", { v = { b = json.array({ true, json.null, 'x"y' }), a = 1.5, c = {} } }))
      assert.equal("[]", eval("States.JsonToString($.v)", { v = json.array({}) }))
      assert.equal("1.0E21", eval("States.JsonToString($.v)", { v = 1e21 }))
      assert.equal('"a\\nb\\u0001/"', eval("States.JsonToString($.v)", { v = "a\nb\1/" }))
    end)
  end)

  describe("array functions", function()
    it("States.Array builds an array, empty too", function()
      assert.equal("[]", text_of(eval("States.Array()")))
      assert.equal('["a",1]', text_of(eval("States.Array('a', 1)")))
    end)

    it("States.ArrayPartition chunks an array", function()
      assert.equal("[[1,2],[3]]", text_of(eval("States.ArrayPartition($.a, 2)", { a = json.array({ 1, 2, 3 }) })))
      assert.equal("[[1,2,3]]", text_of(eval("States.ArrayPartition($.a, 2.5)", { a = json.array({ 1, 2, 3 }) })))
      intrinsic_failure("States.ArrayPartition($.a, 0)", { a = json.array({ 1 }) })
      intrinsic_failure("States.ArrayPartition($.a, 1)", { a = {} })
    end)

    it("States.ArrayContains compares deeply", function()
      assert.is_true(eval("States.ArrayContains($.a, $.v)", { a = json.array({ { x = json.array({ 1 }) } }), v = { x = json.array({ 1 }) } }))
      assert.is_false(eval("States.ArrayContains($.a, 'b')", { a = json.array({ "a" }) }))
      intrinsic_failure("States.ArrayContains($.a, 1)", { a = "x" })
    end)

    it("States.ArrayRange counts up or down by a non-zero step", function()
      assert.equal("[1,3,5,7,9]", text_of(eval("States.ArrayRange(1, 9, 2)")))
      assert.equal("[5,3,1]", text_of(eval("States.ArrayRange(5, 0, -2)")))
      assert.equal("[]", text_of(eval("States.ArrayRange(5, 0, 2)")))
      assert.equal("[1,2]", text_of(eval("States.ArrayRange(0.5, 2.4, 1)")))
      intrinsic_failure("States.ArrayRange(1, 9, 0)")
      intrinsic_failure("States.ArrayRange('1', 9, 1)")
    end)

    it("States.ArrayRange allows 1000 items and no more", function()
      assert.equal(1000, #eval("States.ArrayRange(1, 1000, 1)"))
      intrinsic_failure("States.ArrayRange(0, 1000, 1)", {},
        "Invalid arguments in States.ArrayRange: the array cannot contain more than 1000 items, size: 1001")
    end)

    it("States.ArrayGetItem reads a 0-based index", function()
      assert.equal("b", eval("States.ArrayGetItem($.a, 1)", { a = json.array({ "a", "b" }) }))
      intrinsic_failure("States.ArrayGetItem($.a, 2)", { a = json.array({ "a", "b" }) })
      intrinsic_failure("States.ArrayGetItem($.a, -1)", { a = json.array({ "a" }) })
      intrinsic_failure("States.ArrayGetItem($.a, 0.5)", { a = json.array({ "a" }) })
    end)

    it("States.ArrayLength counts items", function()
      assert.equal(0, eval("States.ArrayLength($.a)", { a = json.array({}) }))
      intrinsic_failure("States.ArrayLength($.a)", { a = {} })
    end)

    it("States.ArrayUnique keeps first occurrences in order", function()
      assert.equal('[1,"1",{"a":1},2,null]', text_of(eval("States.ArrayUnique($.a)",
        { a = json.array({ 1, "1", { a = 1 }, 1, { a = 1 }, 2, json.null, json.null, 2 }) })))
    end)
  end)

  describe("encoding and hashing", function()
    it("States.Base64Encode and Base64Decode round-trip UTF-8", function()
      assert.equal("RGF0YSB0byBlbmNvZGU=", eval("States.Base64Encode('Data to encode')"))
      assert.equal("Data to encode", eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"))
      assert.equal("w6k=", eval("States.Base64Encode('é')"))
    end)

    it("States.Base64Decode turns bytes that are not UTF-8 into U+FFFD as Java does", function()
      local R = "\u{FFFD}"
      assert.equal(R, eval("States.Base64Decode('/w==')"))                -- FF
      assert.equal(R .. "(" .. R, eval("States.Base64Decode('4iih')"))    -- E2 28 A1
      assert.equal(R .. R .. R, eval("States.Base64Decode('4ICA')"))      -- overlong E0 80 80
      assert.equal(R, eval("States.Base64Decode('8J+Y')"))                -- cut-off F0 9F 98
      -- an encoded surrogate is one character to Java's decoder
      assert.equal(R .. "A", eval("States.Base64Decode('7aCAQQ==')"))     -- ED A0 80 41
      assert.equal("oké", eval("States.Base64Decode('b2vDqQ==')"))
    end)

    it("States.Base64Decode fails on text that is not base64", function()
      intrinsic_failure("States.Base64Decode('abc')")
      intrinsic_failure("States.Base64Decode('ab!=')")
    end)

    it("limit input to 10,000 characters", function()
      local ok = string.rep("a", 10000)
      assert.is_string(eval("States.Base64Encode($.s)", { s = ok }))
      assert.is_string(eval("States.Hash($.s, 'MD5')", { s = ok }))
      intrinsic_failure("States.Base64Encode($.s)", { s = ok .. "a" })
      intrinsic_failure("States.Base64Decode($.s)", { s = ok .. "aaaa" })
      intrinsic_failure("States.Hash($.s, 'MD5')", { s = ok .. "a" },
        "Invalid arguments in States.Hash: the input string must not exceed 10000 characters")
      -- Characters, not bytes: 10,000 two-byte characters fit.
      assert.is_string(eval("States.Base64Encode($.s)", { s = string.rep("é", 10000) }))
    end)

    it("States.Hash knows five algorithms", function()
      assert.equal("900150983cd24fb0d6963f7d28e17f72", eval("States.Hash('abc', 'MD5')"))
      assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", eval("States.Hash('abc', 'SHA-1')"))
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", eval("States.Hash('abc', 'SHA-256')"))
      assert.equal(96, #eval("States.Hash('abc', 'SHA-384')"))
      assert.equal(128, #eval("States.Hash('abc', 'SHA-512')"))
      intrinsic_failure("States.Hash('abc', 'SHA-3')")
      intrinsic_failure("States.Hash(1, 'MD5')")
    end)
  end)

  describe("States.JsonMerge", function()
    it("merges shallowly, the second object winning", function()
      local v = eval("States.JsonMerge($.a, $.b, false)", { a = { x = { p = 1 }, y = 1 }, b = { x = { q = 2 } } })
      assert.equal('{"x":{"q":2},"y":1}', text_of(v))
    end)

    it("fails unless the third argument is false", function()
      intrinsic_failure("States.JsonMerge($.a, $.b, true)", { a = {}, b = {} })
      intrinsic_failure("States.JsonMerge($.a, $.b, 'false')", { a = {}, b = {} })
    end)

    it("fails on non-objects", function()
      intrinsic_failure("States.JsonMerge($.a, $.b, false)", { a = json.array({ 1 }), b = {} })
    end)
  end)

  describe("math functions", function()
    it("States.MathAdd rounds each argument like Java's Math.round", function()
      assert.equal(3, eval("States.MathAdd(1.49, 1.5)"))
      assert.equal(-2, eval("States.MathAdd(-2.5, 0)"))
      assert.equal("integer", math.type(eval("States.MathAdd(1.5, 1)")))
      assert.equal(-1, eval("States.MathAdd($.n, -1)", { n = 0 }))
    end)

    it("States.MathAdd keeps arguments in the 32-bit range", function()
      assert.equal(2147483647, eval("States.MathAdd(2147483647, 0)"))
      intrinsic_failure("States.MathAdd(2147483648, 0)")
      intrinsic_failure("States.MathAdd('1', 0)")
    end)

    it("States.MathRandom stays in [start, end)", function()
      for _ = 1, 50 do
        local v = eval("States.MathRandom(1, 3)")
        assert.is_true(v == 1 or v == 2)
      end
      intrinsic_failure("States.MathRandom(3, 3)")
    end)

    it("States.MathRandom repeats with a seed like java.util.Random", function()
      assert.equal(eval("States.MathRandom(0, 1000, 42)"), eval("States.MathRandom(0, 1000, 42)"))
      assert.equal(10 + 30, eval("States.MathRandom(10, 110, 42)"))
      intrinsic_failure("States.MathRandom(0, 10, 1e300)")
      -- new java.util.Random(42).nextInt() is -1170105035 (0xBA5A1A35), so
      -- next(31) is 0xBA5A1A35 >> 1 = 1562431130: nextInt(10) is 0,
      -- nextInt(100) is 30 and nextInt(2^30) is 1562431130 >> 1.
      assert.equal(0, functions.java_next_int(42, 10))
      assert.equal(30, functions.java_next_int(42, 100))
      assert.equal(781215565, functions.java_next_int(42, 1 << 30))
    end)
  end)

  describe("States.StringSplit", function()
    it("splits on every delimiter character and drops empty tokens", function()
      assert.equal('["a","b","c"]', text_of(eval("States.StringSplit('a,b;;c', ',;')")))
      assert.equal("[]", text_of(eval("States.StringSplit(',,', ',')")))
      assert.equal('["a b"]', text_of(eval("States.StringSplit('a b', '')")))
      assert.equal('["a","b"]', text_of(eval("States.StringSplit('a€b', '€')")))
    end)
  end)

  describe("java_double", function()
    it("prints floats as Java's Double.toString", function()
      local cases = {
        [1.1] = "1.1", [100.0] = "100.0", [1e7] = "1.0E7", [9999999.0] = "9999999.0",
        [0.001] = "0.001", [0.0001] = "1.0E-4", [1.2345e-5] = "1.2345E-5", [-1.5] = "-1.5",
        [1e21] = "1.0E21", [0.1 + 0.2] = "0.30000000000000004", [12345678.9] = "1.23456789E7",
      }
      for x, want in pairs(cases) do
        assert.equal(want, functions.java_double(x))
      end
      assert.equal("0.0", functions.java_double(0.0))
      assert.equal("-0.0", functions.java_double(-0.0))
    end)
  end)

  describe("States.UUID", function()
    it("makes version 4 UUIDs", function()
      local a, b = eval("States.UUID()"), eval("States.UUID()")
      assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", a)
      assert.not_equal(a, b)
    end)
  end)

  describe("recorded AWS cases", function()
    local all, missing = require("shared_dir").files("conformance/cases/intrinsic_functions", "*.json")
    local files = {}
    for _, f in ipairs(all) do
      if not f:find("jsonata") then files[#files + 1] = f end
    end

    it("are all present", function()
      assert(not missing, missing)
      assert.equal(90, #files)
    end)

    for _, file in ipairs(files) do
      local name = file:match("([^/]+)%.json$")
      it("gives AWS's result in " .. name, function()
        local fh = assert(io.open(file))
        local case = json.decode(fh:read("a"))
        fh:close()
        local state = case.definition.States[case.definition.StartAt]
        assert.equal("SUCCEEDED", case.expected.status)
        for key, text in pairs(state.Parameters) do
          local field = key:sub(1, -3)
          local fn = assert(intrinsics.compile(text, accessor))
          local got = fn({ input = case.input, context = { Execution = { Input = case.input } } })
          local want = case.expected.output[field]
          if want == "<any>" then
            assert.is_number(got)
          else
            assert.equal(text_of(want), text_of(got))
          end
        end
      end)
    end
  end)
end)
