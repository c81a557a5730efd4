-- Definitions AWS accepts that stepflow refused or ran differently: paths
-- with blanks around them, Parameters and ItemSelector that are not
-- objects, and an unquoted string in a filter (Jayway refuses it too).
local helper = require("spec_helper")
local json = require("stepflow.json")

local run, j = helper.run, helper.j

describe("AWS fidelity of paths and templates", function()
  it("reads a path with trailing blanks, as Jayway trims it", function()
    local status, out = run(j([[{"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Parameters": {"name.$": "$$.Execution.Name ", "x.$": "$.x  "},
      "ResultPath": "$.r ", "End": true}}}]]), { x = 1 }, nil, { exec_name = "e1" })
    assert.equal("SUCCEEDED", status)
    assert.same({ x = 1, r = { name = "e1", x = 1 } }, out)
  end)

  it("runs Parameters given as an array of templates", function()
    local status, out = run(j([[{"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Parameters": [{"a.$": "$.x"}, 2, "three"], "End": true}}}]]), { x = 1 })
    assert.equal("SUCCEEDED", status)
    assert.equal('[{"a":1},2,"three"]', json.encode(out))
  end)

  it("runs Parameters given as a scalar", function()
    local status, out = run(j([[{"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Parameters": "just text", "End": true}}}]]), {})
    assert.equal("SUCCEEDED", status)
    assert.equal("just text", out)
  end)

  it("runs a Map ItemSelector given as an array", function()
    local status, out = run(j([[{"StartAt": "M", "States": {"M": {"Type": "Map",
      "ItemsPath": "$.xs", "ItemSelector": ["$$.Map.Item.Index", {"v.$": "$$.Map.Item.Value"}],
      "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
      "End": true}}}]]), { xs = json.array({ "a", "b" }) })
    assert.equal("SUCCEEDED", status)
    assert.equal('[["$$.Map.Item.Index",{"v":"a"}],["$$.Map.Item.Index",{"v":"b"}]]',
      json.encode(out))
  end)

  it("refuses an unquoted string in a filter, as Jayway's filter compiler does", function()
    local status, err, problems = run(j([[{"StartAt": "P", "States": {"P": {"Type": "Pass",
      "InputPath": "$.langs[?(@.code==fr)]", "End": true}}}]]), {})
    assert.equal("INVALID", status)
    assert.equal("/States/P/InputPath", problems[1].path)
    assert.matches("expected a value, '@' or '$' at character 19", err, 1, true)
  end)
end)
