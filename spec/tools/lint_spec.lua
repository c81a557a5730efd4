-- make lint: luacheck (Debian's lua-check) with the committed .luacheckrc.
-- The whole tree is clean: CI runs `make lint` over it (3 s here, so not
-- in make test); this spec checks that the configuration refuses globals.

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  return out:gsub("rc=%d+%s*$", ""), tonumber(out:match("rc=(%d+)%s*$"))
end

describe("make lint", function()
  it("finds nothing in the tree #full", function()
    local out, rc = sh("luacheck -q --no-color lua spec bench tools bin/stepflow bench/run tools/crash_test "
      .. "tools/crash/fake_stepflow")
    assert.equal(0, rc, out)
  end)

  it("refuses globals, in modules and in specs", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/spec"))
    local f = assert(io.open(dir .. "/spec/x_spec.lua", "w"))
    f:write("describe('x', function() it('y', function() counter = 1 end) end)\n")
    f:close()
    -- luacheck reads .luacheckrc from the current folder
    local out, rc = sh("cp .luacheckrc " .. dir .. " && cd " .. dir .. " && luacheck -q --no-color spec")
    os.execute("rm -rf " .. dir)
    assert.equal(1, rc, out)
    assert.matches("setting non-standard global variable 'counter'", out, 1, true)
    assert.not_matches("describe", out, 1, true)
  end)
end)
