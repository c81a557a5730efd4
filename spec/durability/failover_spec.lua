-- The failover test (tools/failover_test) of engines sharing a PostgreSQL
-- store: three `stepflow resume --watch` engines on the throwaway
-- server's database, one killed and restarted, one paused past its lease.
-- It takes real time (the crash test's Waits and Retry intervals): make
-- test runs a small one (20 executions, a kill, a pause: about 6 s, beside
-- the other specs), `make test-full`/`test-all` (CI) the issue's size:
-- 1,000 executions, 10 kills, 2 pauses.
local pg_helper = require("pg_helper")

local function failover_test(args)
  local p = io.popen("tools/failover_test " .. args .. " 2>&1", "r")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

describe("tools/failover_test", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end

  it("passes with engines killed and paused past their lease", function()
    local code, out = failover_test("--executions 20 --kills 1 --stops 1 --lease-ms 300 --seed 16")
    assert.equal(0, code, out)
    assert.matches("failover test: OK %(20 executions SUCCEEDED once", out)
    assert.matches("1 pauses %(%d+ lease loss", out)
  end)

  it("passes at the issue's size #full", function()
    local code, out = failover_test("--executions 1000 --kills 10 --stops 2 --lease-ms 1500 --seed 1016 --timeout 300")
    assert.equal(0, code, out)
    assert.matches("failover test: OK %(1000 executions SUCCEEDED once", out)
    assert.matches("2 pauses %(%d+ lease loss", out)
  end)
end)
