-- Specs of stepflow.json strings: escapes, UTF-8, lone surrogates.
local json = require("stepflow.json")

describe("stepflow.json", function()
  describe("decode of strings", function()
    it("reads every simple escape", function()
      assert.equal('"\\/\b\f\n\r\t', json.decode([["\"\\\/\b\f\n\r\t"]]))
    end)

    it("reads \\u escapes to UTF-8", function()
      assert.equal("A\0é€", json.decode([["\u0041\u0000\u00e9\u20AC"]]))
    end)

    it("joins a surrogate pair into one code point", function()
      assert.equal("😀", json.decode([["\ud83d\ude00"]]))
      assert.equal("x😀y", json.decode([["x\uD83D\uDE00y"]]))
    end)

    it("keeps a lone surrogate as its WTF-8 bytes", function()
      -- jsonata's function-encodeUrl/case002 needs "\ud800" to decode
      assert.equal("\xED\xA0\x80", json.decode([["\ud800"]]))
      assert.equal("\xED\xB0\x80", json.decode([["\udc00"]]))
      assert.equal("\xED\xA0\x80a", json.decode([["\ud800a"]]))
      assert.equal("\xED\xA0\x80\xED\xA0\x81", json.decode([["\ud800\ud801"]]))
    end)

    it("passes raw UTF-8 through", function()
      assert.equal("héllo 中文 😀", json.decode('"héllo 中文 😀"'))
    end)

    it("reads strings with escapes after long plain runs", function()
      local long = string.rep("abcdefgh", 2000)
      assert.equal(long .. "\n" .. long, json.decode('"' .. long .. "\\n" .. long .. '"'))
    end)

    it("rejects invalid UTF-8 with its byte offset", function()
      local bad = {
        { '"ab\xff"', 4 }, { '"\xc3"', 2 }, { '"\xc0\xaf"', 2 },
        { '"x\xe0\x80\xaf"', 3 }, { '"\xed\xa0\x80"', 2 },
        { '"\xf4\x90\x80\x80"', 2 }, { '"\\n\x80"', 4 },
      }
      for _, c in ipairs(bad) do
        assert.has_error(function() json.decode(c[1]) end,
          "json: invalid UTF-8 at byte " .. c[2])
      end
    end)

    it("rejects raw control characters", function()
      assert.has_error(function() json.decode('"a\tb"') end,
        "json: expected an escape, not a raw control character, in a string at byte 3")
      assert.has_error(function() json.decode('"a\\n\0"') end,
        "json: expected an escape, not a raw control character, in a string at byte 5")
    end)
  end)

  describe("encode of strings", function()
    it("escapes quote, backslash and control characters", function()
      assert.equal([["\"\\\b\f\n\r\t\u0000\u0001\u001f"]],
                   json.encode('"\\\b\f\n\r\t\0\1\31'))
    end)

    it("does not escape '/' or DEL", function()
      assert.equal('"a/b\127"', json.encode("a/b\127"))
    end)

    it("writes non-ASCII UTF-8 raw", function()
      assert.equal('"é中😀"', json.encode("é中😀"))
    end)

    it("writes a lone surrogate as \\u escape, as JSON.stringify does", function()
      assert.equal([["\ud800"]], json.encode("\xED\xA0\x80"))
      assert.equal([["a\udfffb"]], json.encode("a\xED\xBF\xBFb"))
      assert.equal("\xED\xA0\x80", json.decode(json.encode("\xED\xA0\x80")))
    end)

    it("refuses invalid UTF-8, naming the path", function()
      assert.has_error(function() json.encode({ a = { "ok", "\xff" } }) end,
        "json: cannot encode invalid UTF-8 at $.a[1]")
      assert.has_error(function() json.encode({ ["k\xff"] = 1 }) end,
        "json: cannot encode invalid UTF-8 at $['k\xff']")
    end)

    it("round-trips every code point class", function()
      local s = "a\0\31 ~\127\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}"
      assert.equal(s, json.decode(json.encode(s)))
    end)
  end)
end)
