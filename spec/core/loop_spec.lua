local core = require("stepflow.core.engine")

describe("stepflow.core.engine", function()
  describe("loop", function()
    it("creates a real-time loop by default", function()
      local loop = core.loop()
      assert.equal("userdata", type(loop))
      assert.is_false(loop:is_virtual())
      assert.matches("^stepflow.Loop", tostring(loop))
      loop:close()
    end)

    it("creates a virtual-time loop with virtual_time = true", function()
      local loop = core.loop({ virtual_time = true })
      assert.is_true(loop:is_virtual())
      loop:close()
    end)

    it("rejects an unknown option", function()
      assert.has_error(function() core.loop({ virtual = true }) end,
        "bad argument #1 to 'loop' (unknown option 'virtual')")
    end)

    it("rejects a non-boolean virtual_time", function()
      assert.has_error(function() core.loop({ virtual_time = 1 }) end,
        "bad argument #1 to 'loop' (virtual_time must be a boolean)")
    end)

    it("rejects options that are not a table", function()
      assert.error_matches(function() core.loop(true) end,
        "bad argument #1 to 'loop' %(table expected, got boolean%)")
    end)
  end)

  describe("now", function()
    it("returns integer milliseconds near the wall clock", function()
      local loop = core.loop()
      local now = loop:now()
      assert.equal("integer", math.type(now))
      assert.is_true(math.abs(now - os.time() * 1000) < 2000)
      loop:close()
    end)

    it("starts a virtual clock at the wall clock and keeps it still", function()
      local loop = core.loop({ virtual_time = true })
      local now = loop:now()
      assert.is_true(math.abs(now - os.time() * 1000) < 2000)
      local spin = os.clock() + 0.005
      repeat until os.clock() > spin
      assert.equal(now, loop:now())
      loop:close()
    end)
  end)

  describe("call", function()
    it("runs callbacks in FIFO order", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      for i = 1, 5 do loop:call(function() log[#log + 1] = i end) end
      loop:run()
      assert.same({ 1, 2, 3, 4, 5 }, log)
      loop:close()
    end)

    it("does not run anything before run()", function()
      local loop = core.loop({ virtual_time = true })
      local ran = false
      loop:call(function() ran = true end)
      assert.is_false(ran)
      assert.equal(1, loop:pending())
      loop:close()
    end)

    it("passes the optional argument, including false", function()
      local loop = core.loop({ virtual_time = true })
      local got = {}
      loop:call(function(...) got[1] = { n = select("#", ...), ... } end)
      loop:call(function(...) got[2] = { n = select("#", ...), ... } end, "x")
      loop:call(function(...) got[3] = { n = select("#", ...), ... } end, false)
      loop:call(function(...) got[4] = { n = select("#", ...), ... } end, nil)
      loop:run()
      assert.same({ { n = 0 }, { n = 1, "x" }, { n = 1, false }, { n = 0 } },
        got)
      loop:close()
    end)

    it("runs callbacks queued while draining on the next turn", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:call(function()
        log[#log + 1] = "a"
        loop:call(function() log[#log + 1] = "c" end)
      end)
      loop:call(function() log[#log + 1] = "b" end)
      assert.is_true(loop:step())
      assert.same({ "a", "b" }, log)
      assert.is_false(loop:step())
      assert.same({ "a", "b", "c" }, log)
      loop:close()
    end)

    it("lets a due timer run between two ready batches", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:timer(0, function() log[#log + 1] = "timer" end)
      loop:call(function()
        log[#log + 1] = "ready 1"
        loop:call(function() log[#log + 1] = "ready 2" end)
      end)
      loop:run()
      assert.same({ "ready 1", "timer", "ready 2" }, log)
      loop:close()
    end)

    it("keeps a long chain of calls in order", function()
      local loop = core.loop({ virtual_time = true })
      local n, seen = 0, {}
      local function chain(i)
        n = n + 1
        seen[#seen + 1] = i
        if i < 1000 then loop:call(chain, i + 1) end
      end
      loop:call(chain, 1)
      loop:run()
      assert.equal(1000, n)
      for i = 1, 1000 do assert.equal(i, seen[i]) end
      loop:close()
    end)

    it("rejects a callback that is not a function", function()
      local loop = core.loop()
      assert.has_error(function() loop:call("f") end,
        "bad argument #1 to 'call' (function expected, got string)")
      loop:close()
    end)
  end)

  describe("run", function()
    it("returns at once when nothing is ready or pending", function()
      local loop = core.loop()
      loop:run()
      assert.equal(0, loop:pending())
      loop:close()
    end)

    it("raises when called from one of its own callbacks", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() loop:run() end)
      assert.error_matches(function() loop:run() end,
        "loop is already running")
      loop:close()
    end)

    it("waits for real-time timers #slow", function()
      local loop = core.loop()
      local t0 = loop:now()
      local fired_at
      loop:timer(20, function() fired_at = loop:now() end)
      loop:run()
      assert.is_true(fired_at - t0 >= 20)
      assert.is_true(fired_at - t0 < 90)
      loop:close()
    end)

    it("fires a ready callback's timer(0) before the next batch", function()
      local loop = core.loop()
      local log = {}
      loop:call(function()
        loop:timer(0, function() log[#log + 1] = "timer" end)
        loop:call(function() log[#log + 1] = "next" end)
      end)
      loop:run()
      assert.same({ "timer", "next" }, log)
      loop:close()
    end)
  end)

  describe("errors", function()
    it("re-raises a string error from a callback", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() error("boom", 0) end)
      assert.has_error(function() loop:run() end, "boom")
      loop:close()
    end)

    it("re-raises a table error intact", function()
      local loop = core.loop({ virtual_time = true })
      local e = { Error = "X", Cause = "y" }
      loop:call(function() error(e) end)
      local ok, got = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.equal(e, got)
      loop:close()
    end)

    it("re-raises an error from a timer callback", function()
      local loop = core.loop({ virtual_time = true })
      loop:timer(5, function() error({ code = 7 }) end)
      local ok, got = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.same({ code = 7 }, got)
      loop:close()
    end)

    it("stops at the failing callback and keeps the rest queued", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:call(function() log[#log + 1] = 1 end)
      loop:call(function() error("two", 0) end)
      loop:call(function() log[#log + 1] = 3 end)
      assert.has_error(function() loop:run() end, "two")
      assert.same({ 1 }, log)
      assert.equal(1, loop:pending())
      loop:run()
      assert.same({ 1, 3 }, log)
      loop:close()
    end)

    it("leaves the loop usable afterwards", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() error("first", 0) end)
      assert.has_error(function() loop:run() end, "first")
      local ran = false
      loop:timer(10, function() ran = true end)
      loop:run()
      assert.is_true(ran)
      loop:close()
    end)

    it("re-raises from step()", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() error("in step", 0) end)
      assert.has_error(function() loop:step() end, "in step")
      assert.is_false(loop:step())
      loop:close()
    end)

    it("re-raises a callback's error even when it is nil", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() error(nil) end)
      local ok, got = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.is_nil(got)
      loop:close()
    end)
  end)

  describe("stop", function()
    it("makes run() return after the current callback", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:call(function() log[#log + 1] = 1; loop:stop() end)
      loop:call(function() log[#log + 1] = 2 end)
      loop:run()
      assert.same({ 1 }, log)
      assert.equal(1, loop:pending())
      loop:run()
      assert.same({ 1, 2 }, log)
      loop:close()
    end)

    it("keeps FIFO order of the rest and of calls made meanwhile", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:call(function()
        log[#log + 1] = "a"
        loop:call(function() log[#log + 1] = "d" end)
        loop:stop()
      end)
      loop:call(function() log[#log + 1] = "b" end)
      loop:call(function() log[#log + 1] = "c" end)
      loop:run()
      assert.same({ "a" }, log)
      assert.equal(3, loop:pending())
      loop:run()
      assert.same({ "a", "b", "c", "d" }, log)
      loop:close()
    end)

    it("stops a run between timers", function()
      local loop = core.loop({ virtual_time = true })
      local log = {}
      loop:timer(1, function() log[#log + 1] = 1; loop:stop() end)
      loop:timer(1, function() log[#log + 1] = 2 end)
      loop:run()
      assert.same({ 1 }, log)
      loop:run()
      assert.same({ 1, 2 }, log)
      loop:close()
    end)

    it("has no effect on a later run when called outside run()", function()
      local loop = core.loop({ virtual_time = true })
      local ran = false
      loop:stop()
      loop:call(function() ran = true end)
      loop:run()
      assert.is_true(ran)
      loop:close()
    end)
  end)

  describe("step", function()
    it("returns false when no work remains", function()
      local loop = core.loop({ virtual_time = true })
      assert.is_false(loop:step())
      loop:close()
    end)

    it("jumps the virtual clock to a timer when nothing is ready", function()
      local loop = core.loop({ virtual_time = true })
      local t0 = loop:now()
      local fired = false
      loop:timer(500, function() fired = true end)
      assert.is_false(loop:step())
      assert.is_true(fired)
      assert.equal(t0 + 500, loop:now())
      loop:close()
    end)

    it("does not block on a real-time timer", function()
      local loop = core.loop()
      local t = loop:timer(60000, function() end)
      local c0 = os.clock()
      assert.is_true(loop:step())
      assert.is_true(os.clock() - c0 < 0.05)
      assert.is_true(t:cancel())
      assert.is_false(loop:step())
      loop:close()
    end)
  end)

  describe("pending", function()
    it("counts ready callbacks and armed timers", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() end)
      loop:call(function() end)
      local t = loop:timer(10, function() end)
      loop:timer(20, function() end)
      assert.equal(4, loop:pending())
      t:cancel()
      assert.equal(3, loop:pending())
      loop:run()
      assert.equal(0, loop:pending())
      loop:close()
    end)
  end)

  describe("close", function()
    it("makes methods raise 'attempt to use a closed loop'", function()
      local loop = core.loop()
      loop:close()
      for _, m in ipairs({ "now", "run", "step", "stop", "pending" }) do
        assert.has_error(function() loop[m](loop) end,
          "attempt to use a closed loop")
      end
      assert.has_error(function() loop:call(function() end) end,
        "attempt to use a closed loop")
      assert.has_error(function() loop:timer(1, function() end) end,
        "attempt to use a closed loop")
    end)

    it("is idempotent", function()
      local loop = core.loop()
      loop:close()
      loop:close()
      assert.has_no_error(function() loop:close() end)
    end)

    it("disarms pending timers", function()
      local loop = core.loop({ virtual_time = true })
      local t = loop:timer(10, function() end)
      loop:close()
      assert.is_false(t:pending())
      assert.is_false(t:cancel())
    end)

    it("refuses to close a running loop", function()
      local loop = core.loop({ virtual_time = true })
      loop:call(function() loop:close() end)
      assert.error_matches(function() loop:run() end,
        "attempt to close a running loop")
      loop:close()
    end)

    it("closes through a to-be-closed variable", function()
      local loop
      do
        local l <close> = core.loop()
        loop = l
      end
      assert.has_error(function() loop:now() end,
        "attempt to use a closed loop")
    end)

    it("lets an unreachable loop and its armed timers be collected", function()
      local weak = setmetatable({}, { __mode = "v" })
      do
        local loop = core.loop({ virtual_time = true })
        weak.loop = loop
        for i = 1, 10 do
          weak[i] = loop:timer(i, function() end)
          loop:call(function() end)
        end
      end
      for _ = 1, 4 do collectgarbage() end
      assert.is_nil(weak.loop)
      assert.is_nil(next(weak))
    end)

    it("rejects self of the wrong type", function()
      local loop = core.loop()
      assert.error_matches(function() loop.now({}) end,
        "stepflow.Loop expected, got table")
      loop:close()
    end)
  end)
end)
