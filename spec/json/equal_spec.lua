-- stepflow.json.equal: the one deep equality of JSON values.
local json = require("stepflow.json")

local null, arr = json.null, json.array

describe("stepflow.json.equal", function()
  it("compares numbers by value", function()
    assert.is_true(json.equal(1, 1.0))
    -- JSON numbers are doubles: what encode prints for a big float reads
    -- back as an integer, and the two are one number
    local f = json.decode("901234567890678900.01")
    local i = json.decode(json.encode(f))
    assert.equal("integer", math.type(i))
    assert.is_true(json.equal(f, i))
    assert.is_false(json.equal(1, "1"))
    assert.is_true(json.equal(null, null))
    assert.is_false(json.equal(null, false))
  end)

  it("compares arrays element by element, by the is_array rule", function()
    assert.is_true(json.equal(arr({ 1, { a = 2 } }), { 1, { a = 2.0 } }))
    assert.is_false(json.equal(arr({ 1, 2 }), arr({ 2, 1 })))
    assert.is_false(json.equal(arr({ 1 }), arr({ 1, 2 })))
    assert.is_false(json.equal(arr({}), {}))
  end)

  it("compares objects by their key sets", function()
    assert.is_true(json.equal({ a = 1, b = arr({}) }, { b = arr({}), a = 1 }))
    assert.is_false(json.equal({ a = 1 }, { a = 1, b = 2 }))
    assert.is_false(json.equal({ a = 1, b = 2 }, { a = 1 }))
    assert.is_false(json.equal({ a = null }, {}))
  end)

  it("treats a table with another metatable as opaque", function()
    local f = setmetatable({}, { __name = "x" })
    assert.is_true(json.equal(f, f))
    assert.is_false(json.equal(f, setmetatable({}, getmetatable(f))))
  end)

  it("raises on a cycle", function()
    local t = {}
    t.t = t
    local u = {}
    u.t = u
    assert.has_error(function() json.equal(t, u) end,
      "json: nesting deeper than 1000 in equal")
  end)
end)
