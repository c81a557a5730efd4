-- spec/shared_dir.lua: the specs that read ../shared say what is missing
-- when it is absent.

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  return out:gsub("rc=%d+%s*$", ""), tonumber(out:match("rc=(%d+)%s*$"))
end

describe("shared_dir", function()
  local shared = require("shared_dir")

  it("finds the shared folder beside the clone", function()
    assert.equal("../shared/conformance/cases", shared.path("conformance/cases"))
    local files, missing = shared.files("conformance/cases/choice_operators", "*.json")
    assert.is_nil(missing)
    assert.is_true(#files > 0)
  end)

  it("makes a spec that reads it fail saying what is missing, when it is absent", function()
    local out, rc = sh("STEPFLOW_SHARED=/nonexistent-shared lua5.4 /usr/bin/busted "
      .. "spec/asl/validate_conformance_spec.lua")
    assert.equal(1, rc)
    assert.matches("missing: /nonexistent-shared/conformance/cases (the specs read the shared reference "
      .. "material from ../shared beside the clone, as the README's set-up section says", out, 1, true)
  end)
end)
