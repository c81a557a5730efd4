-- stepflow.util.cache: the bounded cache of the compilers (paths,
-- intrinsic calls, JSONata text).
local cache = require("stepflow.util.cache")

describe("stepflow.util.cache", function()
  it("keeps at most twice its size, the recent entries", function()
    local c = cache.new(10)
    for i = 1, 1000 do c:put("k" .. i, i) end
    local kept = 0
    for i = 1, 1000 do
      if c:get("k" .. i) ~= nil then kept = kept + 1 end
    end
    assert.is_true(kept <= 20)
    assert.equal(1000, c:get("k1000"))
  end)

  it("keeps an entry that is used while others come and go", function()
    local c = cache.new(4)
    c:put("hot", 1)
    for i = 1, 100 do
      c:put(i, i)
      assert.equal(1, c:get("hot"))
    end
  end)

  it("raises on a size that is not a positive integer", function()
    assert.has_error(function() cache.new(0) end,
      "stepflow.util.cache.new: size must be a positive integer")
  end)
end)
