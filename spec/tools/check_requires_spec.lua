-- tools/check_requires.lua: every module the tree requires is ours or
-- comes from a Debian package that the Makefile installs.

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  return out:gsub("rc=%d+%s*$", ""), tonumber(out:match("rc=(%d+)%s*$"))
end

-- The sources written below name `require` through this, so that this
-- spec itself requires nothing the check would see.
local R = "req" .. "uire"

local function write(path, text)
  text = text:gsub("REQ", R)
  assert(os.execute("mkdir -p '" .. path:match("^(.*)/[^/]*$") .. "'"))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- The Makefile's DEBS list.
local function makefile_debs()
  local f = assert(io.open("Makefile"))
  local text = f:read("a")
  f:close()
  local list = text:match("\nDEBS%s*=%s*(.-[^\\])\n")
  return (list:gsub("\\\n", " "):gsub("%s+", " "))
end

describe("tools/check_requires.lua", function()
  it("accepts this tree with the Makefile's packages", function()
    local out, rc = sh("lua5.4 tools/check_requires.lua " .. makefile_debs())
    assert.equal(0, rc, out)
    assert.matches("^check_requires: %d+ requires in %d+ files", out)
  end)

  describe("on a tree of its own", function()
    local root
    before_each(function()
      root = os.tmpname()
      os.remove(root)
      write(root .. "/rocks/stepflow-scm-1.rockspec", [[build = { modules = {
        ["stepflow.core.json"] = { sources = {} }, ["stepflow.x"] = "lua/stepflow/x.lua" } }]])
      write(root .. "/lua/stepflow/x.lua", 'local json = REQ("stepflow.core.json")\nreturn {}')
      write(root .. "/spec/x_spec.lua", 'local x = REQ "stepflow.x"\nlocal h = REQ("spec_helper")')
      write(root .. "/spec/spec_helper.lua", "return true")
      write(root .. "/tools/t", '#!/usr/bin/env lua5.4\nlocal c = REQ("crash.oracle")\nlocal s = REQ("string")')
      write(root .. "/tools/crash/oracle.lua", "return {}")
    end)
    after_each(function() os.execute("rm -rf '" .. root .. "'") end)

    local function check(debs)
      return sh("lua5.4 tools/check_requires.lua --root '" .. root .. "' " .. debs)
    end

    it("accepts modules of the tree, of the rockspec, beside a tool, and Lua's own", function()
      local out, rc = check("lua5.4")
      assert.equal(0, rc, out)
      assert.matches("check_requires: 5 requires in 5 files", out, 1, true)
    end)

    it("refuses a module from a package the Makefile does not install", function()
      write(root .. "/spec/y_spec.lua", 'local cjson = REQ("cjson")')
      local out, rc = check("lua5.4 lua-busted")
      assert.equal(1, rc)
      assert.matches("spec/y_spec.lua: requires 'cjson' from the Debian package lua-cjson, which is not in "
        .. "the Makefile's DEBS", out, 1, true)
      out, rc = check("lua5.4 lua-cjson")
      assert.equal(0, rc, out)
    end)

    it("refuses a module that is neither ours nor known, also through pcall", function()
      write(root .. "/bench/z.lua", 'local ok, posix = pcall(REQ, "posix")')
      local out, rc = check("lua5.4")
      assert.equal(1, rc)
      assert.matches("bench/z.lua: requires 'posix', which is neither ours nor in", out, 1, true)
    end)
  end)
end)
