-- One execution's expressions cannot take the engine down: numbers that are
-- no JSON number, absurd JSONata arguments and runaway expressions fail
-- that state with the AWS error, and the cause names the place without a
-- Lua file and line (issue 10).
local helper = require("spec_helper")

local run, j = helper.run, helper.j

local function jsonata_output(expr)
  return j([[{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass",
    "Output": {"v": "{% ]] .. expr .. [[ %}"}, "End": true}}}]])
end

describe("expression failures in a state", function()
  for _, case in ipairs({
    { "1e308 * 10", "D1001: Number out of range: null" },
    { "$sum([1e308, 1e308])", "D1001: Number out of range: null" },
    { "$round(1, 400)", "D1001: Number out of range: null" },
    { "$pad('x', 1e15)", "U1001: Expression evaluation exceeded the memory limit of 64 MiB" },
  }) do
    it("fails the state with States.QueryEvaluationError for " .. case[1], function()
      local status, err = run(jsonata_output(case[1]), {})
      assert.equal("FAILED", status)
      assert.equal("States.QueryEvaluationError", err.Error)
      assert.matches("The JSONata expression '" .. case[1] .. "' specified for the field "
        .. "'Output/v' threw an error during evaluation. " .. case[2], err.Cause, 1, true)
      assert.is_nil(err.Cause:find("%.lua:%d"))
    end)
  end

  it("lets a Catch handle it", function()
    local status, out = run(j([[{"QueryLanguage": "JSONata", "StartAt": "T", "States": {
      "T": {"Type": "Task", "Resource": "echo", "Output": "{% 1e308 * 10 %}", "End": true,
        "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "C",
          "Output": "{% $states.errorOutput.Error %}"}]},
      "C": {"Type": "Succeed"}}}]]), {}, { echo = function(x) return x end })
    assert.equal("SUCCEEDED", status)
    assert.equal("States.QueryEvaluationError", out)
  end)

  it("gives undefined for $range with an undefined bound, which the field refuses", function()
    local status, err = run(jsonata_output("$range($states.input.nope, 3)"), {})
    assert.equal("FAILED", status)
    assert.equal("States.QueryEvaluationError", err.Error)
    assert.matches("returned nothing (undefined)", err.Cause, 1, true)
  end)

  it("refuses an intrinsic literal out of range when the definition is loaded", function()
    local status, err, problems = run(j([[{"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Parameters": {"a.$": "States.MathAdd(1e400, 1)"}, "End": true}}}]]), {})
    assert.equal("INVALID", status)
    assert.equal("/States/P/Parameters/a.$", problems[1].path)
    assert.matches("number out of range at position 16", err, 1, true)
  end)
end)
