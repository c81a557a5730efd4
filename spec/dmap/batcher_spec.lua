local json = require("stepflow.json")
local batcher = require("stepflow.dmap.batcher")

local function source(items)
  local i = 0
  return { next = function() i = i + 1; return items[i] end }
end

local function drain(s)
  local out = {}
  while true do
    local b = s:next()
    if not b then break end
    out[#out + 1] = json.encode(b)
  end
  return out
end

describe("stepflow.dmap.batcher", function()
  it("groups MaxItemsPerBatch items with the BatchInput", function()
    local s = batcher.wrap(source({ 1, 2, 3, 4, 5 }), { max_items = 2, batch_input = { t = "x" } })
    assert.same({ '{"BatchInput":{"t":"x"},"Items":[1,2]}', '{"BatchInput":{"t":"x"},"Items":[3,4]}',
      '{"BatchInput":{"t":"x"},"Items":[5]}' }, drain(s))
  end)

  it("gives no batch for no items", function()
    assert.same({}, drain(batcher.wrap(source({}), { max_items = 3 })))
  end)

  it("counts MaxInputBytesPerBatch on the whole batch input as JSON text", function()
    local items = { "aaaa", "bbbb", "cccc" } -- 6 bytes each encoded
    -- {"Items":["aaaa","bbbb"]} is 25 bytes: two fit in 25, not in 24
    assert.same(25, #json.encode({ Items = json.array({ "aaaa", "bbbb" }) }))
    assert.same({ '{"Items":["aaaa","bbbb"]}', '{"Items":["cccc"]}' },
      drain(batcher.wrap(source(items), { max_bytes = 25 })))
    assert.same({ '{"Items":["aaaa"]}', '{"Items":["bbbb"]}', '{"Items":["cccc"]}' },
      drain(batcher.wrap(source(items), { max_bytes = 24 })))
    local bi = { k = 1 }
    local with = #json.encode({ BatchInput = bi, Items = json.array({ "aaaa", "bbbb" }) })
    assert.same({ '{"BatchInput":{"k":1},"Items":["aaaa","bbbb"]}', '{"BatchInput":{"k":1},"Items":["cccc"]}' },
      drain(batcher.wrap(source(items), { max_bytes = with, batch_input = bi })))
  end)

  it("keeps every batch within 256 KiB by default", function()
    local big = string.rep("x", 100000)
    local out = drain(batcher.wrap(source({ big, big, big }), {}))
    assert.same(2, #out)
    assert.is_true(#out[1] <= 262144)
  end)

  it("fails when one item alone is over the limit", function()
    local ok, err = pcall(drain, batcher.wrap(source({ "a", string.rep("x", 100) }), { max_bytes = 50 }))
    assert.is_false(ok)
    assert.same("States.ItemReaderFailed", err.Error)
    assert.matches("over MaxInputBytesPerBatch (50 bytes)", err.Cause, 1, true)
  end)

  it("refuses bad limits as caller bugs", function()
    assert.has_error(function() batcher.wrap(source({}), { max_items = 0 }) end,
      "stepflow.dmap.batcher.wrap: max_items must be a positive integer")
  end)
end)
