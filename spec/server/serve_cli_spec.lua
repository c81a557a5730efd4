-- `stepflow serve` on the command line: its arguments, its first line,
-- the warning off loopback, its exit on signals.
local serve = require("server.serve_process")

local function run(args)
  local p = assert(io.popen("bin/stepflow serve " .. args .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

describe("stepflow serve", function()
  it("refuses bad arguments with exit status 2", function()
    for _, args in ipairs({ "--port 70000", "--port x", "extra", "--account abc", "--region 'a b'",
      "--credentials /nonexistent", "--handlers /nonexistent.lua", "--bogus" }) do
      local out, code = run(args)
      assert.equal(2, code, args .. ": " .. out)
      assert.matches("^stepflow: ", out)
    end
  end)

  it("says so and exits 1 when it cannot listen; warns off loopback", function()
    local out, code = run("--host 192.0.2.1 --port 0")
    assert.equal(1, code)
    assert.matches("stepflow: warning: listening on 192.0.2.1, not only this machine", out, 1, true)
    assert.matches("cannot listen on 192.0.2.1 port 0", out, 1, true)
  end)

  it("prints its address and store, and exits 0 on SIGTERM", function()
    local p = serve.start("")
    assert.matches("^stepflow: serving the Step Functions API on http://127%.0%.0%.1:%d+, store in memory", p.line)
    local rest, code = p:stop("TERM")
    assert.equal("", rest)
    assert.equal(0, code)
  end)

  it("exits 1 on a store another engine holds", function()
    local path = serve.temp_store()
    local p = serve.start("--store " .. path)
    local out, code = run("--port 0 --store " .. path)
    assert.equal(1, code)
    assert.matches("locked by process " .. p.pid, out, 1, true)
    p:stop("TERM")
    serve.remove(path)
  end)
end)
