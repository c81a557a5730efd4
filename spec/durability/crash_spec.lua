-- The crash test (tools/crash_test) of durable STANDARD executions: first
-- its own checks against a fake engine that forgets progress at a kill,
-- then the real engine (bin/stepflow) killed 20 times under 200 executions.

-- Runs tools/crash_test with arguments; returns its exit status and output.
local function crash_test(args)
  local p = io.popen("tools/crash_test " .. args .. " 2>&1", "r")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

local function last_line(out)
  return out:match("([^\n]*)\n?$")
end

describe("crash_test #crash", function()
  describe("against a fake engine", function()
    it("reports OK when no resume is killed", function()
      local code, out = crash_test("--stepflow tools/crash/fake_stepflow --executions 8 --kills 0 --seed 11")
      assert.are.equal("crash test: OK", last_line(out):match("^crash test: OK"), out)
      assert.are.equal(0, code)
    end)

    it("reports Tasks that ran again although their result was recorded", function()
      -- The fake starts every open execution again from the beginning after
      -- a kill, so Tasks completed before the kill run twice.
      local code, out = crash_test("--stepflow tools/crash/fake_stepflow --executions 8 --kills 2 --seed 12")
      local line = last_line(out)
      assert.are.equal(1, code, out)
      assert.truthy(line:find("^crash test: FAILED: invocations: attempt crash%-"), out)
      assert.truthy(line:find("yet it was invoked again", 1, true), out)
    end)

    it("fails at the start step when the engine has no start command", function()
      local code, out = crash_test("--stepflow /bin/false --executions 2 --kills 0 --seed 13")
      assert.are.equal(1, code)
      assert.truthy(last_line(out):find("^crash test: FAILED: start: stepflow start crash%-loop%-0001 exited 1"), out)
    end)
  end)

  it("leaves every execution SUCCEEDED exactly once after 20 kills of the engine", function()
    local code, out = crash_test("--executions 200 --kills 20 --seed 20261121 --timeout 60")
    assert.are.equal("crash test: OK", last_line(out):match("^crash test: OK"), out)
    assert.are.equal(0, code)
  end)
end)
