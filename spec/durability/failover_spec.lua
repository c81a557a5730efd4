-- The failover test (tools/failover_test) of engines sharing a PostgreSQL
-- store: three `stepflow resume --watch` engines on the throwaway
-- server's database, one killed and restarted, one paused past its lease.
-- The default run is small (120 executions, 4 kills, 1 pause: about 10 s);
-- with the tag #full (`make test-all`) 1,000 executions, 10 kills, 2 pauses.
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
    -- small enough for make test; the issue's size runs under test-full
    local code, out = failover_test("--executions 40 --kills 2 --stops 1 --lease-ms 600 --seed 16")
    assert.equal(0, code, out)
    assert.matches("failover test: OK %(40 executions SUCCEEDED once", out)
    assert.matches("1 pauses %(%d+ lease loss", out)
  end)

  it("passes at the issue's size #full", function()
    local code, out = failover_test("--executions 1000 --kills 10 --stops 2 --lease-ms 1500 --seed 1016 --timeout 300")
    assert.equal(0, code, out)
    assert.matches("failover test: OK %(1000 executions SUCCEEDED once", out)
  end)
end)
