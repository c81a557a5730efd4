-- loop:watch(fd, fn): readiness of a file descriptor on the loop (the
-- PostgreSQL store's connection), with callbacks after the poll. Uses a
-- connection to the throwaway server of `make test` (spec/pg_helper.lua)
-- as the descriptor that becomes readable.
local core = require("stepflow.core.engine")
local pg_helper = require("pg_helper")

describe("loop:watch", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end
  local pg = require("stepflow.core.pg")
  local conn
  before_each(function() conn = assert(pg.connect(pg_helper.url())) end)
  after_each(function() conn:close() end)

  local function ask(c)
    assert(c:send({ { sql = "SELECT pg_sleep(0.02), 42" } }))
    assert(c:flush())
  end

  it("keeps the loop alive while busy and calls back when the answer is readable", function()
    local loop = core.loop({})
    local got
    local w
    w = loop:watch(conn:socket(), function(readable)
      if not readable then return end
      local r = conn:read()
      if r then
        got = r[1].rows[1][2]
        w:want(false, false)
      end
    end)
    ask(conn)
    w:want(true, false, true)
    assert.equal(1, loop:pending())
    loop:run()
    assert.equal("42", got)
    assert.equal(0, loop:pending())
    loop:close()
  end)

  it("holds virtual time still while busy", function()
    local loop = core.loop({ virtual_time = true })
    local order = {}
    local w
    w = loop:watch(conn:socket(), function()
      if conn:read() then
        order[#order + 1] = "answer"
        w:want(false, false)
      end
    end)
    loop:timer(3600 * 1000, function() order[#order + 1] = "timer" end)
    ask(conn)
    w:want(true, false, true)
    loop:run()
    assert.same({ "answer", "timer" }, order)
    loop:close()
  end)

  it("lets the loop end while idle, and is released by close", function()
    local loop = core.loop({})
    local w = loop:watch(conn:socket(), function() end)
    w:want(true, false)  -- idle: listening only
    local t0 = pg.clock_ms()
    loop:run()
    assert.is_true(pg.clock_ms() - t0 < 1000)
    w:close()
    assert.has_error(function() w:want(true, false) end, "attempt to use a closed watch")
    loop:close()
  end)

  it("is closed with its loop", function()
    local loop = core.loop({})
    local w = loop:watch(conn:socket(), function() end)
    w:want(true, false, true)
    loop:close()
    assert.has_error(function() w:want(false, false) end, "attempt to use a closed watch")
  end)

  it("passes a callback's error out of run", function()
    local loop = core.loop({})
    local w = loop:watch(conn:socket(), function() error("boom", 0) end)
    ask(conn)
    w:want(true, false, true)
    local ok, err = pcall(loop.run, loop)
    assert.is_false(ok)
    assert.equal("boom", err)
    w:close()
    loop:close()
  end)
end)
