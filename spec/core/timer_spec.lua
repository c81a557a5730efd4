local core = require("stepflow.core.engine")

local function vloop()
  return core.loop({ virtual_time = true })
end

describe("stepflow.core.engine", function()
  describe("timer", function()
    it("returns a stepflow.Timer", function()
      local loop = vloop()
      local t = loop:timer(1, function() end)
      assert.matches("^stepflow.Timer", tostring(t))
      loop:close()
    end)

    it("fires timers in due order", function()
      local loop = vloop()
      local log = {}
      for _, ms in ipairs({ 30, 10, 50, 20, 40 }) do
        loop:timer(ms, function() log[#log + 1] = ms end)
      end
      loop:run()
      assert.same({ 10, 20, 30, 40, 50 }, log)
      loop:close()
    end)

    it("fires ties in insertion order", function()
      local loop = vloop()
      local log = {}
      for i = 1, 50 do
        loop:timer(i % 2 == 0 and 100 or 200, function() log[#log + 1] = i end)
      end
      loop:run()
      local expected = {}
      for i = 2, 50, 2 do expected[#expected + 1] = i end
      for i = 1, 49, 2 do expected[#expected + 1] = i end
      assert.same(expected, log)
      loop:close()
    end)

    it("fires each timer once, with no arguments", function()
      local loop = vloop()
      local calls = {}
      loop:timer(5, function(...) calls[#calls + 1] = select("#", ...) end)
      loop:run()
      loop:run()
      assert.same({ 0 }, calls)
      loop:close()
    end)

    it("accepts a fractional delay and rounds it up", function()
      local loop = vloop()
      local t0 = loop:now()
      local t = loop:timer(1.25, function() end)
      assert.equal(t0 + 2, t:due())
      loop:close()
    end)

    it("rejects a negative delay", function()
      local loop = vloop()
      assert.has_error(function() loop:timer(-1, function() end) end,
        "bad argument #1 to 'timer' (delay must be >= 0)")
      assert.has_error(function() loop:timer(-0.5, function() end) end,
        "bad argument #1 to 'timer' (delay must be >= 0)")
      assert.has_error(function() loop:timer(0 / 0, function() end) end,
        "bad argument #1 to 'timer' (delay must be >= 0)")
      loop:close()
    end)

    it("rejects a delay too large for the clock", function()
      local loop = vloop()
      assert.has_error(function() loop:timer(math.huge, function() end) end,
        "bad argument #1 to 'timer' (delay is too large)")
      assert.has_error(function()
        loop:timer(math.maxinteger, function() end)
      end, "bad argument #1 to 'timer' (delay is too large)")
      loop:close()
    end)

    it("rejects a non-number delay and a missing callback", function()
      local loop = vloop()
      assert.has_error(function() loop:timer("soon", function() end) end,
        "bad argument #1 to 'timer' (number expected, got string)")
      assert.has_error(function() loop:timer(1) end,
        "bad argument #2 to 'timer' (function expected, got no value)")
      loop:close()
    end)
  end)

  describe("timers added from callbacks", function()
    it("are scheduled from the clock at the time they are added", function()
      local loop = vloop()
      local t0 = loop:now()
      local times = {}
      loop:timer(100, function()
        times[#times + 1] = loop:now() - t0
        loop:timer(50, function() times[#times + 1] = loop:now() - t0 end)
      end)
      loop:timer(120, function() times[#times + 1] = loop:now() - t0 end)
      loop:run()
      assert.same({ 100, 120, 150 }, times)
      loop:close()
    end)

    it("fire on a later turn when added with delay 0 from a timer", function()
      local loop = vloop()
      local log = {}
      loop:timer(10, function()
        log[#log + 1] = "a"
        loop:timer(0, function() log[#log + 1] = "c" end)
        loop:call(function() log[#log + 1] = "ready" end)
      end)
      loop:timer(10, function() log[#log + 1] = "b" end)
      loop:run()
      assert.same({ "a", "b", "ready", "c" }, log)
      loop:close()
    end)

    it("let a timer re-arm itself without holding the turn", function()
      local loop = vloop()
      local n, other = 0, false
      local function again()
        n = n + 1
        if n < 5 then loop:timer(0, again) end
      end
      loop:timer(0, again)
      loop:call(function() loop:call(function() other = n end) end)
      loop:run()
      assert.equal(5, n)
      assert.is_true(other < 5)
      loop:close()
    end)
  end)

  describe("virtual clock", function()
    it("completes a 3600 s timer at once and advances now() by exactly it",
      function()
        local loop = vloop()
        local t0 = loop:now()
        local fired_at
        local c0 = os.clock()
        loop:timer(3600 * 1000, function() fired_at = loop:now() end)
        loop:run()
        assert.equal(t0 + 3600000, fired_at)
        assert.equal(t0 + 3600000, loop:now())
        assert.is_true(os.clock() - c0 < 0.5)
        loop:close()
      end)

    it("does not advance while callbacks are ready", function()
      local loop = vloop()
      local t0 = loop:now()
      local seen = {}
      loop:timer(1000, function() end)
      loop:call(function()
        seen[#seen + 1] = loop:now()
        loop:call(function() seen[#seen + 1] = loop:now() end)
      end)
      loop:run()
      assert.same({ t0, t0 }, seen)
      assert.equal(t0 + 1000, loop:now())
      loop:close()
    end)

    it("jumps from deadline to deadline", function()
      local loop = vloop()
      local t0 = loop:now()
      local seen = {}
      for _, ms in ipairs({ 3000, 1000, 2000 }) do
        loop:timer(ms, function() seen[#seen + 1] = loop:now() - t0 end)
      end
      loop:run()
      assert.same({ 1000, 2000, 3000 }, seen)
      loop:close()
    end)

    it("does not move backward for a timer due in the past", function()
      local loop = vloop()
      local t0 = loop:now()
      local seen
      loop:timer_at(t0 - 5000, function() seen = loop:now() end)
      loop:run()
      assert.equal(t0, seen)
      loop:close()
    end)
  end)

  describe("cancel", function()
    it("prevents a pending timer from firing and returns true", function()
      local loop = vloop()
      local fired = false
      local t = loop:timer(10, function() fired = true end)
      assert.is_true(t:cancel())
      loop:run()
      assert.is_false(fired)
      loop:close()
    end)

    it("returns false the second time", function()
      local loop = vloop()
      local t = loop:timer(10, function() end)
      assert.is_true(t:cancel())
      assert.is_false(t:cancel())
      loop:close()
    end)

    it("returns false after the timer fired", function()
      local loop = vloop()
      local t = loop:timer(10, function() end)
      loop:run()
      assert.is_false(t:cancel())
      loop:close()
    end)

    it("works from inside another callback", function()
      local loop = vloop()
      local log = {}
      local late
      loop:timer(10, function()
        log[#log + 1] = "first"
        log[#log + 1] = late:cancel()
      end)
      late = loop:timer(10, function() log[#log + 1] = "late" end)
      loop:timer(20, function() log[#log + 1] = "last" end)
      loop:run()
      assert.same({ "first", true, "last" }, log)
      loop:close()
    end)

    it("returns false from the timer's own callback", function()
      local loop = vloop()
      local t, got
      t = loop:timer(1, function() got = t:cancel() end)
      loop:run()
      assert.is_false(got)
      loop:close()
    end)

    it("removes a timer from the middle of many", function()
      local loop = vloop()
      local log, timers = {}, {}
      for i = 1, 100 do
        timers[i] = loop:timer(i, function() log[#log + 1] = i end)
      end
      for i = 2, 100, 3 do assert.is_true(timers[i]:cancel()) end
      loop:run()
      local expected = {}
      for i = 1, 100 do
        if (i - 2) % 3 ~= 0 then expected[#expected + 1] = i end
      end
      assert.same(expected, log)
      loop:close()
    end)

    it("releases the callback", function()
      local loop = vloop()
      local weak = setmetatable({}, { __mode = "k" })
      local t
      do
        local fn = function() end
        weak[fn] = true
        t = loop:timer(10, fn)
      end
      t:cancel()
      collectgarbage()
      collectgarbage()
      assert.is_nil(next(weak))
      loop:close()
    end)
  end)

  describe("pending", function()
    it("tells whether the timer is still armed", function()
      local loop = vloop()
      local t = loop:timer(10, function() end)
      assert.is_true(t:pending())
      loop:run()
      assert.is_false(t:pending())
      loop:close()
    end)
  end)

  describe("due", function()
    it("returns the absolute due time in ms", function()
      local loop = vloop()
      local t0 = loop:now()
      local t = loop:timer(2500, function() end)
      assert.equal(t0 + 2500, t:due())
      loop:run()
      assert.equal(t0 + 2500, t:due())
      loop:close()
    end)

    it("rejects a non-timer", function()
      local loop = vloop()
      local t = loop:timer(1, function() end)
      assert.error_matches(function() t.due(loop) end,
        "stepflow.Timer expected, got stepflow.Loop")
      loop:close()
    end)
  end)

  describe("timer_at", function()
    it("fires at an absolute time of the loop's clock", function()
      local loop = vloop()
      local t0 = loop:now()
      local seen
      local t = loop:timer_at(t0 + 7000, function() seen = loop:now() end)
      assert.equal(t0 + 7000, t:due())
      loop:run()
      assert.equal(t0 + 7000, seen)
      loop:close()
    end)

    it("fires past-due timers first, in due order", function()
      local loop = vloop()
      local t0 = loop:now()
      local log = {}
      loop:timer(0, function() log[#log + 1] = "now" end)
      loop:timer_at(t0 - 10, function() log[#log + 1] = "-10" end)
      loop:timer_at(t0 - 20, function() log[#log + 1] = "-20" end)
      loop:run()
      assert.same({ "-20", "-10", "now" }, log)
      loop:close()
    end)

    it("re-arms a recorded timer in a new loop", function()
      local first = vloop()
      local due = first:timer(60000, function() end):due()
      first:close()
      local second = vloop()
      local seen
      second:timer_at(due, function() seen = second:now() end)
      second:run()
      assert.equal(due, seen)
      second:close()
    end)

    it("accepts extreme due times on a virtual clock", function()
      local loop = vloop()
      local log = {}
      local far = loop:timer_at(math.maxinteger, function()
        log[#log + 1] = "far"
      end)
      loop:timer(1, function() log[#log + 1] = "one" end)
      loop:timer_at(math.mininteger, function() log[#log + 1] = "past" end)
      assert.equal(math.maxinteger, far:due())
      loop:run()
      assert.same({ "past", "one", "far" }, log)
      loop:close()
    end)

    it("accepts extreme due times on the real clock", function()
      local loop = core.loop()
      local fired = false
      local far = loop:timer_at(math.maxinteger, function() end)
      loop:timer_at(math.mininteger, function() fired = true end)
      assert.is_true(loop:step())
      assert.is_true(fired)
      assert.is_true(far:cancel())
      loop:close()
    end)

    it("waits for an absolute real time #slow", function()
      local loop = core.loop()
      local due = loop:now() + 15
      local fired_at
      loop:timer_at(due, function() fired_at = loop:now() end)
      loop:run()
      assert.is_true(fired_at >= due)
      assert.is_true(fired_at < due + 80)
      loop:close()
    end)

    it("requires an integer due time", function()
      local loop = vloop()
      assert.has_error(function() loop:timer_at(1.5, function() end) end,
        "bad argument #1 to 'timer_at' (number has no integer representation)")
      loop:close()
    end)
  end)

  describe("many timers", function()
    it("fires 100,000 timers in order, quickly", function()
      local loop = vloop()
      local t0 = loop:now()
      local n = 100000
      local last_due, last_seq, count, ok = -1, -1, 0, true
      local c0 = os.clock()
      for i = 1, n do
        local ms = (i * 7919) % 1000
        local seq = i
        loop:timer(ms, function()
          local now = loop:now() - t0
          if now < last_due or (now == last_due and seq < last_seq) then
            ok = false
          end
          if now ~= ms then ok = false end
          last_due, last_seq = now, seq
          count = count + 1
        end)
      end
      loop:run()
      assert.equal(n, count)
      assert.is_true(ok)
      assert.is_true(os.clock() - c0 < 2)
      loop:close()
    end)

    it("keeps (due, insertion) order through random cancels", function()
      local loop = vloop()
      local t0 = loop:now()
      local timers, expected, log = {}, {}, {}
      local seed = 12345
      local function rand(n)  -- small LCG: the same sequence everywhere
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
      end
      for i = 1, 5000 do
        local ms = rand(200)
        timers[i] = { ms = ms, i = i,
          t = loop:timer(ms, function() log[#log + 1] = i end) }
      end
      for _ = 1, 2500 do
        local k = rand(5000) + 1
        if timers[k].t:pending() then
          assert.is_true(timers[k].t:cancel())
          timers[k].canceled = true
        end
      end
      -- cancels from inside callbacks too
      loop:timer(100, function()
        for k = 1, 5000, 7 do
          local e = timers[k]
          if e.ms > 100 and not e.canceled then
            assert.is_true(e.t:cancel())
            e.canceled = true
          end
        end
      end)
      loop:run()
      for _, e in ipairs(timers) do
        if not e.canceled then expected[#expected + 1] = e end
      end
      table.sort(expected, function(a, b)
        return a.ms < b.ms or (a.ms == b.ms and a.i < b.i)
      end)
      for k, e in ipairs(expected) do expected[k] = e.i end
      assert.same(expected, log)
      assert.equal(t0 + 199, loop:now())
      loop:close()
    end)

    it("cancels 100,000 timers", function()
      local loop = vloop()
      local timers, fired = {}, 0
      for i = 1, 100000 do
        timers[i] = loop:timer(i % 977, function() fired = fired + 1 end)
      end
      for i = 1, 100000, 2 do timers[i]:cancel() end
      assert.equal(50000, loop:pending())
      loop:run()
      assert.equal(50000, fired)
      loop:close()
    end)
  end)
end)
