-- The PostgreSQL store's batches on the loop while a group's transaction
-- is open on the server (a read in the middle of the group sent its
-- writes): they wait for the commit that ends it, which goes first, so
-- that none runs inside the group (a claim's COMMIT would commit half of
-- it, and hold its row locks meanwhile). And notifications read with the
-- answer of a blocking call still reach the engine.
local pg_helper = require("pg_helper")
local store = require("stepflow.store")
local core = require("stepflow.core.engine")
local pg = require("stepflow.core.pg")

describe("PostgreSQL store batches", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end

  it("wait while a group's transaction is open, behind the commit that ends it", function()
    local url = pg_helper.reset()
    local s = assert(store.open(url))
    local loop = core.loop({})
    s:attach(loop)
    assert(s:register(60000))
    assert(s:create_execution({ arn = "arn:x", sm_arn = "arn:sm", name = "x", input = "{}", started = 1 }))
    assert(s:commit())
    assert(s:append("arn:x", 1, 0, 1, "ExecutionStarted", "{}"))
    assert(s:get_execution("arn:x"))  -- sends the group's writes: its transaction is open
    local order = {}
    s:claim_async(10, function(recs, err)
      assert(recs, err)
      order[#order + 1] = "claim"
    end)
    local t0 = pg.clock_ms()
    while pg.clock_ms() - t0 < 100 do loop:step() end
    assert.same({}, order)  -- held back
    -- nothing of the group is visible to others
    assert.same({}, pg_helper.query("SELECT 1 FROM stepflow.events"))
    s:commit_async(function(ok, err)
      assert(ok, err)
      order[#order + 1] = "commit"
    end)
    t0 = pg.clock_ms()
    while #order < 2 and pg.clock_ms() - t0 < 2000 do loop:step() end
    assert.same({ "commit", "claim" }, order)
    assert.equal(1, #pg_helper.query("SELECT 1 FROM stepflow.events"))
    s:close()
    loop:close()
  end)

  it("delivers the notifications that arrived during a blocking call", function()
    local url = pg_helper.reset()
    local s = assert(store.open(url))
    local loop = core.loop({})
    local heard = {}
    s:attach(loop, function(payload) heard[#heard + 1] = payload end)
    s:listen()
    assert(s:put_state_machine({ arn = "arn:sm", name = "sm", definition = "{}", type = "STANDARD", created = 1 }))
    assert(s:commit())
    local t0 = pg.clock_ms()
    while s:busy() and pg.clock_ms() - t0 < 2000 do loop:step() end
    -- another session holds the state machine's row for 300 ms, a third
    -- notifies meanwhile: the store's delete waits for the row
    local holder, teller = assert(pg.connect(url)), assert(pg.connect(url))
    assert(holder:send({ { sql = "SELECT 1 FROM stepflow.state_machines WHERE arn = 'arn:sm' FOR UPDATE" },
      { sql = "SELECT pg_sleep(0.3)" } }))
    assert(holder:flush())
    assert(teller:send({ { sql = "SELECT pg_sleep(0.1)" }, { sql = "SELECT pg_notify('stepflow', 'hello')" } }))
    assert(teller:flush())
    local f = io.popen("sleep 0.05")  -- (the row is taken before the store asks)
    f:close()
    t0 = pg.clock_ms()
    assert.is_true(s:delete_state_machine("arn:sm"))
    assert.is_true(pg.clock_ms() - t0 >= 150)
    assert(holder:wait())
    assert(teller:wait())
    holder:close()
    teller:close()
    t0 = pg.clock_ms()
    while #heard == 0 and pg.clock_ms() - t0 < 300 do loop:step() end
    assert.same({ "hello" }, heard)
    s:close()
    loop:close()
  end)
end)
