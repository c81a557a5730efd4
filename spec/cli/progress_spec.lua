local stepflow = require("stepflow")
local json = require("stepflow.json")
local progress = require("stepflow.progress")

local function write(text)
  local path = os.tmpname()
  local fh = assert(io.open(path, "w"))
  fh:write(text)
  fh:close()
  return path
end

-- A stream that keeps what is written.
local function sink()
  local parts = {}
  return { write = function(self, ...)
    for _, s in ipairs({ ... }) do parts[#parts + 1] = s end
    return self
  end, text = function() return table.concat(parts) end }
end

-- A Map of three items that each wait, then a long Wait: something to
-- watch for a while of virtual time.
local WAITING = json.encode({
  StartAt = "Prepare",
  States = {
    Prepare = { Type = "Pass", Next = "Each" },
    Each = { Type = "Map", ItemsPath = "$.items", MaxConcurrency = 1, Next = "Rest",
      ItemProcessor = { StartAt = "Nap", States = { Nap = { Type = "Wait", Seconds = 5, End = true } } } },
    Rest = { Type = "Wait", Seconds = 3600, End = true },
  },
})

describe("stepflow.progress", function()
  describe("the line", function()
    it("counts states done and Map items, and names the state running now", function()
      local p = progress.new({ stream = sink() })
      p:feed({ type = "PassStateEntered", name = "Prepare" })
      p:feed({ type = "PassStateExited", name = "Prepare" })
      p:feed({ type = "MapStateEntered", name = "Each" })
      p:feed({ type = "MapStateStarted", length = 3 })
      p:feed({ type = "MapIterationStarted", frame = "/2#1" })
      p:feed({ type = "WaitStateEntered", name = "Nap", frame = "/2#1" })
      p:feed({ type = "WaitStateExited", name = "Nap", frame = "/2#1" })
      p:feed({ type = "MapIterationSucceeded", frame = "/2#1" })
      assert.equal("2 states done \u{b7} 1/3 items \u{b7} 1.5 s \u{b7} Each", p:line(1500))
      p:feed({ type = "WaitStateEntered", name = "Nap", frame = "/2#2" })
      assert.equal("2 states done \u{b7} 1/3 items \u{b7} 1:05.0 \u{b7} Nap", p:line(65000))
    end)

    it("leaves out the items of a Distributed Map, whose iterations are child executions", function()
      local p = progress.new({ stream = sink() })
      p:feed({ type = "MapStateEntered", name = "Big" })
      p:feed({ type = "MapStateStarted", length = 1000 })
      p:feed({ type = "MapRunStarted" })
      assert.equal("0 states done \u{b7} 0.0 s \u{b7} Big", p:line(0))
    end)

    it("says when the time is virtual, and counts hours", function()
      local p = progress.new({ stream = sink(), virtual = true })
      assert.equal("0 states done \u{b7} 2 h 05 min (virtual)", p:line((2 * 3600 + 5 * 60) * 1000))
    end)

    it("redraws in place, cut to the terminal's width, and erases itself", function()
      local out = sink()
      local p = progress.new({ stream = out, width = 20 })
      p:feed({ type = "TaskStateEntered", name = "AVeryLongStateNameIndeed" })
      p:draw(100)
      p:draw(200)
      local text = out.text()
      local first, second = text:match("^\r\27%[K(.-)\r\27%[K(.*)$")
      assert.equal(19, utf8.len(first))
      assert.equal(19, utf8.len(second))
      assert.are_not.equal(first, second) -- the spinner turns
      p:finish()
      assert.matches("\r\27%[K$", out.text())
    end)
  end)

  describe("start", function()
    it("follows an execution on the engine's loop until it ends", function()
      local engine = stepflow.new({ virtual_time = true })
      local sm = assert(engine:create_state_machine(WAITING))
      local line
      local exec = engine:start_execution(sm, { items = { 1, 2, 3 } }, { history = true,
        on_done = function() line:finish() end })
      local out = sink()
      line = assert(progress.start(engine, exec, out))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      local text = out.text()
      assert.matches("5 states done \u{b7} 3/3 items", text, 1, true)
      assert.matches("(virtual) \u{b7} Rest", text, 1, true)
      -- a year of Waits costs a few dozen redraws, not one per 100 ms
      local _, draws = text:gsub("\r\27%[K[^\r]", "")
      assert.is_true(draws > 3 and draws < 40, draws .. " draws")
      assert.matches("\r\27%[K$", text)
    end)

    it("follows a durable execution through the store", function()
      local engine = assert(stepflow.new({ virtual_time = true, store = ":memory:" }))
      local sm = assert(engine:create_state_machine(WAITING))
      local exec = engine:start_execution(sm, { items = { 1, 2 } })
      local out = sink()
      local line = assert(progress.start(engine, exec, out))
      engine:run()
      line:finish()
      assert.equal("SUCCEEDED", exec.status)
      assert.matches("4 states done \u{b7} 2/2 items", out.text(), 1, true)
    end)

    it("does not keep the loop alive when the execution waits for a token", function()
      local engine = stepflow.new({ virtual_time = true, handlers = { ask = function() end } })
      local sm = assert(engine:create_state_machine({ StartAt = "Ask",
        States = { Ask = { Type = "Task", Resource = "ask.waitForTaskToken", End = true } } }))
      local exec = engine:start_execution(sm, {}, { history = true })
      local line = assert(progress.start(engine, exec, sink()))
      engine:run() -- returns: nothing but the token can move it on
      line:finish()
      assert.equal("RUNNING", exec.status)
    end)

    it("needs a history to read", function()
      local engine = stepflow.new({ virtual_time = true })
      local sm = assert(engine:create_state_machine(WAITING))
      local exec = engine:start_execution(sm, { items = {} })
      assert.is_nil(progress.start(engine, exec, sink()))
      engine:run()
    end)
  end)

  describe("in stepflow run", function()
    local def = write(WAITING)
    local input = " --input '{\"items\":[1,2,3]}' --virtual-time"

    -- Runs a command on a terminal (script(1) gives it a pseudo-terminal)
    -- and returns what the terminal showed.
    local function on_terminal(cmd)
      local p = assert(io.popen("TERM=xterm script -qec " .. ("%q"):format(cmd) .. " /dev/null"))
      local out = p:read("a")
      p:close()
      return out
    end

    it("shows the progress line on a terminal and erases it before the output", function()
      local out = on_terminal("bin/stepflow run " .. def .. input)
      assert.matches("\r\27[K", out, 1, true)
      assert.matches("3/3 items", out, 1, true)
      assert.matches("\r\27%[K%[\r?\n  1,", out)
    end)

    it("shows it for a durable execution too", function()
      local store = os.tmpname()
      os.remove(store)
      local out = on_terminal("bin/stepflow run " .. def .. input .. " --store " .. store)
      os.remove(store)
      os.remove(store .. "-wal")
      os.remove(store .. "-shm")
      assert.matches("3/3 items", out, 1, true)
    end)

    it("shows nothing with --json", function()
      local out = on_terminal("bin/stepflow run " .. def .. input .. " --json")
      assert.is_nil(out:find("\27", 1, true))
      assert.same({ status = "SUCCEEDED", output = { 1, 2, 3 } }, json.decode(out))
    end)

    it("shows nothing when stderr is not a terminal", function()
      local err_file = os.tmpname()
      local p = assert(io.popen("TERM=xterm script -qec " ..
        ("%q"):format("bin/stepflow run " .. def .. input .. " 2>" .. err_file) .. " /dev/null"))
      p:read("a")
      p:close()
      local fh = assert(io.open(err_file))
      local err = fh:read("a")
      fh:close()
      os.remove(err_file)
      assert.equal("", err)
    end)
  end)
end)
