local jsonpath = require("stepflow.jsonpath")

describe("stepflow.jsonpath", function()
  describe("compile", function()
    it("returns a Path that remembers its text", function()
      local p = assert(jsonpath.compile("$.a.b[0]"))
      assert.equal("$.a.b[0]", p:text())
      assert.equal("stepflow.JSONPath: $.a.b[0]", tostring(p))
    end)

    it("raises when the text is not a string", function()
      assert.has_error(function() jsonpath.compile(42) end,
        "stepflow.jsonpath.compile: text must be a string")
    end)

    local cases = {
      { "$.a[", "invalid JSONPath '$.a[': expected ']' at character 5" },
      { "a.b", "invalid JSONPath 'a.b': expected '$' at character 1" },
      { "", "invalid JSONPath '': expected '$' at character 1" },
      { "$a", "invalid JSONPath '$a': expected '.' or '[' at character 2" },
      { "$.", "invalid JSONPath '$.': expected a name at character 3" },
      { "$..", "invalid JSONPath '$..': expected a name at character 4" },
      { "$.a..", "invalid JSONPath '$.a..': expected a name at character 6" },
      { "$.a.", "invalid JSONPath '$.a.': expected a name at character 5" },
      { "$.a b", "invalid JSONPath '$.a b': unexpected space (use ['...'] "
        .. "for such names) at character 4" },
      { "$['a", "invalid JSONPath '$['a': unterminated string at character 3" },
      { "$['a'", "invalid JSONPath '$['a'': expected ',' or ']' at character 6" },
      { "$['a',]", "invalid JSONPath '$['a',]': expected a quoted name at "
        .. "character 7" },
      { "$[x]", "invalid JSONPath '$[x]': expected a quoted name, index, "
        .. "slice, '*' or '?' at character 3" },
      { "$[1", "invalid JSONPath '$[1': expected ']' at character 4" },
      { "$[1,]", "invalid JSONPath '$[1,]': expected an index at character 5" },
      { "$[::0]", "invalid JSONPath '$[::0]': slice step is 0 at character 5" },
      { "$[*", "invalid JSONPath '$[*': expected ']' at character 4" },
      { "$['a\\q']", "invalid JSONPath '$['a\\q']': invalid escape in "
        .. "string at character 6" },
      { "$[?@.a]", "invalid JSONPath '$[?@.a]': expected '(' after '?' at "
        .. "character 4" },
      { "$[?(@.x <)]", "invalid JSONPath '$[?(@.x <)]': expected a value, "
        .. "'@' or '$' at character 10" },
      { "$[?(@.x < 1]", "invalid JSONPath '$[?(@.x < 1]': expected ')' at "
        .. "character 12" },
      { "$[?(@.x < 1)", "invalid JSONPath '$[?(@.x < 1)': expected ']' at "
        .. "character 13" },
      { "$[?(1)]", "invalid JSONPath '$[?(1)]': expected a comparison "
        .. "operator at character 6" },
      { "$[?(@.x =~ 'a')]", "invalid JSONPath '$[?(@.x =~ 'a')]': expected "
        .. "a /regex/ after '=~' at character 12" },
      { "$[?(@.x == /a/)]", "invalid JSONPath '$[?(@.x == /a/)]': a /regex/ "
        .. "needs '=~' at character 12" },
      { "$[?(@.x =~ /a)]", "invalid JSONPath '$[?(@.x =~ /a)]': unterminated "
        .. "regex at character 12" },
      { "$[?(@.x == 1.2.3)]", "invalid JSONPath '$[?(@.x == 1.2.3)]': "
        .. "invalid number at character 12" },
      { "$.f(", "invalid JSONPath '$.f(': expected ')' at character 5" },
    }
    for _, case in ipairs(cases) do
      it("reports the position and the expectation for " .. case[1], function()
        local p, err = jsonpath.compile(case[1])
        assert.is_nil(p)
        assert.equal(case[2], err)
      end)
    end

    it("trims blanks around the text, as Jayway's path compiler does", function()
      local p = assert(jsonpath.compile(" \t$.a.b \n"))
      assert.same({ "a", "b" }, p:keys())
      assert.equal(" \t$.a.b \n", p:text())
      assert.same({ nil, "invalid JSONPath '  $.a[ ': expected ']' at character 7" },
        { jsonpath.compile("  $.a[ ") })
    end)

    it("refuses a text longer than 65535 bytes", function()
      assert.same({ nil, "invalid JSONPath: text longer than 65535 bytes" },
        { jsonpath.compile("$" .. (".a"):rep(40000)) })
    end)

    it("rejects an invalid regex, naming the place", function()
      local p, err = jsonpath.compile("$[?(@.x =~ /a(/)]")
      assert.is_nil(p)
      assert.equal("invalid JSONPath '$[?(@.x =~ /a(/)]': invalid regular "
        .. "expression /a(/: unclosed group at character 14", err)
    end)

    it("accepts every path form the conformance cases use", function()
      for _, text in ipairs({
        "$", "$.Variable", "$.delivery-partner", "$.sub-values", "$[0]",
        "$[*]", "$['NoSuchInputPath']", "$.items[:1].itemValue",
        "$.items[1:]", "$.item.items[1:5].itemValue", "$.items[*].itemValue",
        "$.abc.['def ghi']", "$.input_value", "$.Iterations",
      }) do
        assert.is_not_nil(jsonpath.compile(text), text)
      end
    end)
  end)

  describe("is_definite", function()
    it("is true for names, indexes and a leaf name union", function()
      for _, text in ipairs({ "$", "$.a", "$.a[0]", "$['a b'][-1]",
                              "$.a['b','c']", "$.a.length()" }) do
        assert.is_true(jsonpath.compile(text):is_definite(), text)
      end
    end)

    it("is false for wildcards, slices, unions, scans and filters", function()
      for _, text in ipairs({ "$[*]", "$.*", "$.a[1:2]", "$.a[0,1]",
                              "$..a", "$['a','b'].c", "$[?(@.a)]",
                              "$.a[*].b" }) do
        assert.is_false(jsonpath.compile(text):is_definite(), text)
      end
    end)
  end)

  describe("keys", function()
    it("lists the steps of a reference path with 0-based indexes", function()
      assert.same({ "a", "b c", 0, "d", -1 },
        jsonpath.compile("$.a['b c'][0].d[-1]"):keys())
    end)

    it("is empty for $", function()
      assert.same({}, jsonpath.compile("$"):keys())
    end)

    it("keeps integer indexes as integers", function()
      assert.equal("integer", math.type(jsonpath.compile("$[3]"):keys()[1]))
    end)

    it("is nil when the path is not a reference path", function()
      for _, text in ipairs({ "$[*]", "$..a", "$.a['b','c']", "$[0:1]",
                              "$[0,1]", "$[?(@.a)]", "$.a.length()" }) do
        assert.is_nil(jsonpath.compile(text):keys(), text)
      end
    end)
  end)
end)
