-- stepflow.util.utf8: the one UTF-8 walker, lenient on bytes that are
-- not UTF-8 (Lua's utf8 library raises on them).
local ustr = require("stepflow.util.utf8")

describe("stepflow.util.utf8", function()
  it("walks code points, a stray byte being a character of its own", function()
    assert.same({ "a", "é", "😀", "\255", "b" }, ustr.chars("aé😀\255b"))
    assert.equal(5, ustr.len("aé😀\255b"))
    local seen = {}
    for pos, cp in ustr.codes("é\128x") do seen[#seen + 1] = { pos, cp } end
    assert.same({ { 1, 0xE9 }, { 3, 0x80 }, { 4, 0x78 } }, seen)
  end)

  it("keeps an encoded lone surrogate as one character", function()
    assert.same({ "\237\160\128" }, ustr.chars("\237\160\128"))
  end)

  it("counts UTF-16 code units as JavaScript and Java do", function()
    assert.equal(4, ustr.utf16_len("a😀b"))
    assert.equal(3, ustr.utf16_index("a😀b", 5))
    assert.equal(5, ustr.byte_offset("a😀b", 3))
    assert.equal(6, ustr.byte_offset("a😀b", 99))
    assert.same({ "a", "\237\160\189", "\237\184\128" }, ustr.utf16_units("a😀"))
  end)

  it("decodes with the byte offset of each code point", function()
    local cps, offs, n = ustr.decode("aé")
    assert.same({ 0x61, 0xE9 }, cps)
    assert.same({ 1, 2, 4 }, offs)
    assert.equal(2, n)
  end)

  it("never raises on bytes that are not UTF-8", function()
    local s = "\192\128\237\255\244\144\128\128\248"
    assert.equal(#s, ustr.len(s))
    assert.equal(#s, #ustr.chars(s))
  end)
end)
