local order = require("stepflow.graph.order")

-- A layered graph from rank lists and edges {upper, lower}.
local function graph(layers, edges)
  local up, down = {}, {}
  for r = 0, #layers do
    for _, v in ipairs(layers[r]) do up[v], down[v] = {}, {} end
  end
  for _, e in ipairs(edges) do
    table.insert(down[e[1]], e[2])
    table.insert(up[e[2]], e[1])
  end
  return up, down
end

describe("stepflow.graph.order", function()
  it("counts the crossings of an ordering", function()
    local layers = { [0] = { 1, 2 }, { 3, 4 } }
    local _, down = graph(layers, { { 1, 4 }, { 2, 3 } })
    assert.equal(1, order.total_crossings(layers, down))
  end)

  it("removes the crossings a planar layering does not need", function()
    -- two chains of three, each rank listed the wrong way round once
    local layers = { [0] = { 1, 2 }, { 4, 3 }, { 5, 6 }, { 8, 7 } }
    local edges = { { 1, 3 }, { 2, 4 }, { 3, 5 }, { 4, 6 }, { 5, 7 }, { 6, 8 } }
    local up, down = graph(layers, edges)
    assert.equal(3, order.total_crossings(layers, down))
    assert.equal(0, order.reduce(layers, up, down))
    assert.equal(0, order.total_crossings(layers, down))
  end)

  it("keeps the one crossing of K(2,2)", function()
    local layers = { [0] = { 1, 2 }, { 3, 4 } }
    local up, down = graph(layers, { { 1, 3 }, { 1, 4 }, { 2, 3 }, { 2, 4 } })
    assert.equal(1, order.reduce(layers, up, down))
  end)
end)
