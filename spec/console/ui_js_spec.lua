-- The console's input editor check (jsonError in ui.js) under Node.js:
-- it takes exactly the texts JSON.parse takes, and says where and why the
-- others go wrong.
local node = require("console.node")

local function check(texts)
  return node.run({ ["ui.js"] = "jsonError" }, "const texts = " .. require("stepflow.json").encode(texts) .. [[;
    console.log(JSON.stringify(texts.map((t) => {
      let parsed = true;
      try { JSON.parse(t); } catch (e) { parsed = false; }
      return { parsed, error: jsonError(t) };
    })));
  ]])
end

describe("the console's JSON editor", function()
  it("accepts what JSON.parse accepts and refuses the rest", function()
    local texts = { "{}", "[]", "1", "-0.5e+3", '"a\\u00e9\\n"', ' {"a": [1, 2, {"b": null}], "c": true} ',
      "", "[1,]", '{"a":1,}', "01", '"\1"', "tru", "[1 2]", '{"a" 1}', '"abc', "1.", '{"a":1}x', '"\\x"',
      "nul", "[" .. string.rep("1,", 2000) .. "1]", "{\"deep\": " .. string.rep("[", 50) .. string.rep("]", 50) .. "}" }
    for i, r in ipairs(check(texts)) do
      assert.equal(r.parsed, r.error == require("stepflow.json").null, texts[i])
    end
  end)

  it("says the line, the column, what it expected and what it found", function()
    local r = check({ '{"requestId": }', '{\n "a": "b"\n "c": 1}', '"abc', "[1 2]" })
    assert.equal("Invalid JSON at line 1, column 15: expected a value (object, array, string, number, true, false"
      .. " or null), found '}'", r[1].error)
    assert.equal("Invalid JSON at line 3, column 2: expected ',' or '}', found '\"'", r[2].error)
    assert.equal("Invalid JSON at line 1, column 5: expected a closing '\"', found the end of the text", r[3].error)
    assert.equal("Invalid JSON at line 1, column 4: expected ',' or ']', found '2'", r[4].error)
  end)
end)
