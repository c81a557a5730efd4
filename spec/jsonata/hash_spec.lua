-- Specs for stepflow.jsonata.hash: pure-Lua digests against known vectors.
local hash = require("stepflow.jsonata.hash")

local fox = "The quick brown fox jumps over the lazy dog"

describe("stepflow.jsonata.hash", function()
  describe("hex", function()
    it("computes MD5", function()
      assert.equal("d41d8cd98f00b204e9800998ecf8427e", hash.hex("", "MD5"))
      assert.equal("9e107d9d372bb6826bd81d3542a419d6", hash.hex(fox, "MD5"))
    end)

    it("computes SHA-1", function()
      assert.equal("da39a3ee5e6b4b0d3255bfef95601890afd80709", hash.hex("", "SHA-1"))
      assert.equal("2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", hash.hex(fox, "SHA-1"))
    end)

    it("computes SHA-256 across block boundaries", function()
      assert.equal("d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592", hash.hex(fox, "SHA-256"))
      assert.equal("41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
        hash.hex(string.rep("a", 1000), "SHA-256"))
    end)

    it("computes SHA-384 and SHA-512", function()
      assert.equal("ca737f1014a48f4c0b6dd43cb177b0afd9e5169367544c494011e3317dbf9a509cb1e5dc1e85a941bbee3d7f2afbc9b1",
        hash.hex(fox, "SHA-384"))
      assert.equal("07e547d9586f6a73f73fbac0435ed76951218fb7d0c8d788a309d785436bbb642e93a252a954f23912547d1e8a3b5ed6e1bfd7097821233fa0538f3db854fee6",
        hash.hex(fox, "SHA-512"))
    end)

    it("raises for an unknown algorithm", function()
      local ok, e = pcall(hash.hex, "a", "SHA-3")
      assert.is_false(ok)
      assert.equal("D3137", e.code)
    end)
  end)
end)
