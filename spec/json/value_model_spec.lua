-- One value model: json.is_array decides what is an array for the codec,
-- the paths, the intrinsics, JSONata and the validator alike (a plain Lua
-- sequence, as a handler may return, is an array everywhere).
local json = require("stepflow.json")
local jsonata = require("stepflow.jsonata")
local paths = require("stepflow.asl.paths")
local intrinsics = require("stepflow.asl.intrinsics")
local util = require("stepflow.asl.validate.util")

describe("the one array rule", function()
  it("is json.is_array: the metatable, or keys exactly 1..n", function()
    assert.is_true(json.is_array(json.array({})))
    assert.is_true(json.is_array({ 1, 2 }))
    assert.is_false(json.is_array({}))
    assert.is_false(json.is_array({ 1, 2, x = 3 }))
    assert.is_false(json.is_array({ [1] = 1, [3] = 3 }))
    assert.is_false(json.is_array("x"))
  end)

  it("makes a plain sequence an array in JSONata", function()
    assert.equal(3, jsonata.evaluate("$count($)", { 1, 2, 3 }))
    assert.equal("array", jsonata.evaluate("$type(a)", { a = { "x", "y" } }))
    assert.equal("y", jsonata.evaluate("a[1]", { a = { "x", "y" } }))
    assert.equal('[{"k":1},{"k":2}]', json.encode(jsonata.evaluate("items.{'k': n}",
      { items = { { n = 1 }, { n = 2 } } })))
    assert.is_true(jsonata.evaluate("a = [1, 2]", { a = { 1, 2 } }))
  end)

  it("makes a plain sequence an array for the intrinsics", function()
    local len = assert(intrinsics.compile("States.ArrayLength($.a)", paths.accessor))
    assert.equal(2, len({ input = { a = { "x", "y" } } }))
    local has = assert(intrinsics.compile("States.ArrayContains($.a, $.b)", paths.accessor))
    assert.is_true(has({ input = { a = { { 1 }, 2 }, b = json.array({ 1 }) } }))
  end)

  it("makes a plain sequence an array for ResultPath", function()
    assert.equal('{"a":[1,"r"]}', json.encode(paths.set({ a = { 1, 2 } }, { "a", 1 }, "r")))
    assert.is_nil(paths.set({ a = { 1, 2 } }, { "a", "x" }, "r"))
  end)

  it("gives the validator the same answer, an empty table being both", function()
    assert.is_true(util.is_array({ 1, 2 }))
    assert.is_false(util.is_array({ 1, x = 2 }))
    assert.is_true(util.is_array({}) and util.is_object({}))
    assert.equal("array", util.type_name({ 1 }))
    assert.equal("object", util.type_name({ 1, x = 2 }))
  end)
end)
