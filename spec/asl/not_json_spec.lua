-- Values that are not JSON (a Lua handler may return one) never put a Lua
-- table address in a message, and the definition checks agree with the
-- compiler (cases found by the Lua fuzzer, fuzz/lua/fuzz.lua).
local json = require("stepflow.json")
local template = require("stepflow.asl.template")
local intrinsics = require("stepflow.asl.intrinsics")
local paths = require("stepflow.asl.paths")
local validate = require("stepflow.asl.validate")

describe("values that are not JSON in messages", function()
  it("are described by what json.encode says of them", function()
    assert.equal('{"a":1}', json.describe({ a = 1 }))
    assert.equal("(not JSON: cannot encode function at $.f)", json.describe({ f = print }))
    assert.equal("(not JSON: cannot encode NaN at $[1])", json.describe(json.array({ 1, 0 / 0 })))
  end)

  it("keep addresses out of a path-not-found cause", function()
    local fn = assert(template.compile({ ["x.$"] = "$.nope" }, "Parameters"))
    local ok, e = pcall(fn, { input = { f = print } })
    assert.is_false(ok)
    assert.equal("States.Runtime", e.Error)
    assert.equal("The JSONPath '$.nope' specified for the field 'x.$' could not be found in "
      .. "the input '(not JSON: cannot encode function at $.f)'", e.Cause)
  end)

  it("fail an intrinsic with States.IntrinsicFailure", function()
    for _, call in ipairs({ "States.JsonToString($)", "States.Format('{}', $.f)" }) do
      local fn = assert(intrinsics.compile(call, paths.accessor))
      local ok, e = pcall(fn, { input = { f = print } })
      assert.is_false(ok)
      assert.equal("States.IntrinsicFailure", e.Error)
      assert.equal("Invalid arguments: a function is not a JSON value", e.Cause)
    end
  end)
end)

describe("a '.$' key", function()
  it("takes a path for the name \"\", for the validator as for the compiler", function()
    local def = { StartAt = "P", States = { P = { Type = "Pass", End = true,
      Parameters = { [".$"] = "not a path" } } } }
    local problems = validate.check(def)
    assert.equal(1, #problems)
    assert.equal("/States/P/Parameters/.$", problems[1].path)
    assert.is_nil(template.compile(def.States.P.Parameters, "Parameters"))
  end)
end)
