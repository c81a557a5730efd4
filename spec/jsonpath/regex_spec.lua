-- The regular expressions of JSONPath filters (=~): Java's syntax, as
-- Jayway JsonPath (AWS) takes it, matched against the whole string by an
-- NFA whose time and memory are bounded by the pattern size.
local jsonpath = require("stepflow.jsonpath")

local array_mt = debug.getregistry()["stepflow.array"]

local function arr(t) return setmetatable(t, array_mt) end

-- Does the whole of s match /pattern/flags?
local function matches(pattern, s, flags)
  local text = "$[?(@.s =~ /" .. pattern .. "/" .. (flags or "") .. ")]"
  local p = assert(jsonpath.compile(text))
  return #p:get(arr({ { s = s } })) == 1
end

local function refusal(pattern)
  local p, err = jsonpath.compile("$[?(@.s =~ /" .. pattern .. "/)]")
  assert.is_nil(p)
  return err
end

describe("stepflow.jsonpath regular expressions", function()
  describe("matching", function()
    it("matches the whole string, as Matcher.matches does", function()
      assert.is_true(matches("abc", "abc"))
      assert.is_false(matches("abc", "abcd"))
      assert.is_false(matches("b", "abc"))
      assert.is_true(matches(".*b.*", "abc"))
    end)

    it("takes alternatives, groups and quantifiers", function()
      assert.is_true(matches("a|ab", "ab"))
      assert.is_true(matches("(ab)+c?", "ababab"))
      assert.is_true(matches("(?:x|y)*z", "xyxz"))
      assert.is_true(matches("(?<word>[a-z]+)-\\d{2,3}", "abc-123"))
      assert.is_false(matches("[a-z]+-\\d{2,3}", "abc-1234"))
      assert.is_true(matches("a{3}", "aaa"))
      assert.is_false(matches("a{3}", "aa"))
      assert.is_true(matches("a{2,}", "aaaaa"))
      assert.is_true(matches("x*?y+?", "xxyy"))
    end)

    it("knows Java's classes and escapes", function()
      assert.is_true(matches("\\d\\D\\w\\W\\s\\S", "1a_ \t!"))
      assert.is_true(matches("[^0-9]+", "abc"))
      assert.is_false(matches("[^0-9]+", "ab1"))
      assert.is_true(matches("[\\d.-]+", "1.5-2"))
      assert.is_true(matches("\\x41\\u0042\\x{43}\\0104\\t", "ABCD\t"))
      assert.is_true(matches("\\Q.*\\E", ".*"))
      assert.is_false(matches("\\Q.*\\E", "ab"))
      assert.is_true(matches("a\\/b", "a/b"))
      assert.is_true(matches("\\bab\\b", "ab"))
    end)

    it("matches code points, not bytes", function()
      assert.is_true(matches("caf.", "café"))
      assert.is_true(matches("[é-ë]x", "ëx"))
      assert.is_true(matches(".", "😀"))
    end)

    it("ignores ASCII case with /i and (?i)", function()
      assert.is_true(matches("abc", "ABC", "i"))
      assert.is_true(matches("[a-c]+", "AbC", "i"))
      assert.is_false(matches("abc", "ABC"))
      assert.is_true(matches("(?i)abc", "aBc"))
      assert.is_true(matches("a(?i:b)c", "aBc"))
      assert.is_false(matches("a(?i:b)c", "aBC"))
    end)

    it("keeps '.' off line terminators unless (?s)", function()
      assert.is_false(matches("a.b", "a\nb"))
      assert.is_true(matches("(?s)a.b", "a\nb"))
      assert.is_true(matches("a$\n", "a\n"))
    end)

    it("matches only strings", function()
      local p = assert(jsonpath.compile("$[?(@.s =~ /1/)]"))
      assert.same({}, p:get(arr({ { s = 1 }, { s = true } })))
    end)
  end)

  describe("bounds", function()
    it("takes time linear in the text on patterns that make backtracking explode", function()
      local s = ("a"):rep(20000)
      local t = os.clock()
      assert.is_false(matches("(a*)*b", s))
      assert.is_false(matches("(a|a?)+b", s))
      assert.is_true(matches("(a+)+", s))
      assert.is_true(os.clock() - t < 2)
    end)

    it("refuses stacked quantifiers at the first one too many, at once", function()
      local t = os.clock()
      assert.equal("invalid JSONPath '$[?(@.s =~ /a++++++++++++++++++++++/)]': "
        .. "invalid regular expression /a++++++++++++++++++++++/: possessive "
        .. "quantifiers are not supported at character 15",
        refusal("a++++++++++++++++++++++"))
      assert.equal("invalid JSONPath '$[?(@.s =~ /a**/)]': invalid regular "
        .. "expression /a**/: dangling quantifier at character 15", refusal("a**"))
      assert.is_true(os.clock() - t < 0.1)
    end)

    it("refuses a pattern whose expansion is too big", function()
      assert.matches("pattern too big once its repetitions are expanded",
        refusal("(a{100}){100}"), 1, true)
      assert.matches("pattern too long", refusal(("a"):rep(1001)), 1, true)
      assert.matches("groups nested too deeply",
        refusal(("("):rep(101) .. "a" .. (")"):rep(101)), 1, true)
      assert.matches("repetition count too big", refusal("a{1000000}"), 1, true)
    end)
  end)

  describe("refusals", function()
    for _, case in ipairs({
      { "a(", "unclosed group at character 14" },
      { "a)", "unmatched ')' at character 14" },
      { "*a", "dangling quantifier at character 13" },
      { "a{x}", "illegal repetition at character 14" },
      { "a{3,1}", "illegal repetition range at character 14" },
      { "[a", "unclosed character class at character 13" },
      { "[z-a]", "illegal character range at character 16" },
      { "\\q", "illegal or unsupported escape sequence at character 13" },
      { "(a)\\1", "back references are not supported at character 16" },
      { "(?=a)", "lookaround groups are not supported at character 13" },
      { "(?>a)", "atomic groups are not supported at character 13" },
      { "\\p{L}", "unsupported escape sequence at character 13" },
      { "[a&&b]", "character class intersections are not supported at character 15" },
      { "(?x)a", "unsupported inline flag at character 15" },
    }) do
      it("refuses /" .. case[1] .. "/ naming the place", function()
        assert.equal("invalid JSONPath '$[?(@.s =~ /" .. case[1] .. "/)]': invalid "
          .. "regular expression /" .. case[1] .. "/: " .. case[2], refusal(case[1]))
      end)
    end

    it("refuses flags other than i, as Jayway reads only that one", function()
      local p, err = jsonpath.compile("$[?(@.s =~ /a/g)]")
      assert.is_nil(p)
      assert.equal("invalid JSONPath '$[?(@.s =~ /a/g)]': unsupported regex flag "
        .. "(only i) at character 15", err)
    end)
  end)
end)
