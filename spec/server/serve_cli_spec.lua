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
      "--credentials /nonexistent", "--handlers /nonexistent.lua", "--bogus", "--poll-timeout -1",
      "--poll-timeout x", "--mock-config /nonexistent.json" }) do
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
    assert.matches("^stepflow: serving the Step Functions API and the web console on http://127%.0%.0%.1:%d+, store in memory",
      p.line)
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

  describe("--mock-config and --connections", function()
    local dir
    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    local function file(name, text)
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(text)
      f:close()
      return dir .. "/" .. name
    end

    it("refuses a mock config or connections file with mistakes, listing each", function()
      local mocks = file("bad-mocks.json", '{"StateMachines":{"M":{"TestCases":{"T":{"S":"Nope"}}}},'
        .. '"MockedResponses":{"R":{"0":{},"x":{"Return":1}}}}')
      local out, code = run("--port 0 --mock-config " .. mocks)
      assert.equal(2, code)
      assert.matches("/MockedResponses/R/0: a response needs Return or Throw", out, 1, true)
      assert.matches("/MockedResponses/R/x: the invocation range must be N or N-M", out, 1, true)
      assert.matches("/StateMachines/M/TestCases/T/S: MockedResponses has no response 'Nope'", out, 1, true)
      out, code = run("--port 0 --connections " .. file("bad-connections.json",
        '{"Connections":{"A":{"AuthorizationType":"BASIC"}}}'))
      assert.equal(2, code)
      assert.matches("/Connections/A/AuthParameters: is required", out, 1, true)
      -- SFN_MOCK_CONFIG names the file as Step Functions Local reads it
      local p = assert(io.popen("SFN_MOCK_CONFIG=" .. mocks .. " bin/stepflow serve --port 0 2>&1"))
      out = p:read("a")
      local _, _, c = p:close()
      assert.equal(2, c)
      assert.matches("/MockedResponses/R/0", out, 1, true)
    end)

    it("serves with a good mock config and says so", function()
      local mocks = file("mocks.json", '{"StateMachines":{},"MockedResponses":{}}')
      local p = serve.start("--mock-config " .. mocks .. " --connections " .. file("connections.json",
        '{"Connections":{}}'))
      assert.matches(", mock config " .. mocks, p.line, 1, true)
      local _, code = p:stop("TERM")
      assert.equal(0, code)
    end)
  end)
end)
