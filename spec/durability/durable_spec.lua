local stepflow = require("stepflow")
local helper = require("spec_helper")
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")

-- The engine that "crashes" runs in real time, so its timers stay pending;
-- the one that recovers runs in virtual time.
local function engine_on(path, handlers, real_time)
  local engine = assert(stepflow.new({ store = path, virtual_time = not real_time, handlers = handlers }))
  return engine
end

local function types(events)
  local out = {}
  for i, e in ipairs(events) do out[i] = e.type end
  return out
end

-- A handler that never finishes in this engine: the task stays in flight.
local function hang(_, ctx) return ctx.await(function() end) end

describe("durable executions", function()
  local path
  before_each(function() path = helper.temp_store() end)
  after_each(function() helper.remove_store(path) end)

  describe("history", function()
    it("records AWS-shaped events with details and chained ids", function()
      local engine = engine_on(path, { inc = function(x) return x + 1 end })
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", Result = 1, Next = "T" },
        T = { Type = "Task", Resource = "inc", End = true } } }, { name = "hist" }))
      local exec = assert(engine:start_execution(sm, { a = 1 }, { name = "h1" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      local events = assert(engine:history(exec.arn))
      assert.same({ "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered",
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, types(events))
      assert.same({ name = "P", input = '{"a":1}', inputDetails = { truncated = false } },
        events[2].stateEnteredEventDetails)
      assert.equal("1", events[3].stateExitedEventDetails.output)
      assert.equal('{"a":1}', events[1].executionStartedEventDetails.input)
      assert.equal("inc", events[5].taskScheduledEventDetails.resource)
      assert.equal("2", events[7].taskSucceededEventDetails.output)
      assert.equal("2", events[9].executionSucceededEventDetails.output)
      for i, e in ipairs(events) do
        assert.equal(i, e.id)
        -- the first state's entered event follows 0, as in AWS
        assert.equal(i == 2 and 0 or i - 1, e.previousEventId)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT", e.timestamp)
      end
      engine:close()
    end)
    it("records what an in-memory execution records, event for event", function()
      -- Every state type, variables, a Map and a Parallel whose frames
      -- interleave; a budget of 1 transition makes frames give way between
      -- a state's exit and the next one's entry.
      local execution = require("stepflow.execution")
      local def = { StartAt = "Prep", States = {
        Prep = { Type = "Pass", Parameters = { ["items.$"] = "$.items", n = 1 }, Next = "Keep" },
        Keep = { Type = "Pass", Assign = { seen = json.array({ 1, "two" }) }, Next = "Work" },
        Work = { Type = "Task", Resource = "echo", ResultPath = "$.r", Next = "Route" },
        Route = { Type = "Choice", Choices = { { Variable = "$.n", NumericEquals = 1, Next = "Each" } },
          Default = "Done" },
        Each = { Type = "Map", ItemsPath = "$.items", ResultPath = "$.mapped", Iterator = {
          StartAt = "A", States = { A = { Type = "Pass", Next = "B" }, B = { Type = "Pass", End = true } } },
          Next = "Both" },
        Both = { Type = "Parallel", ResultPath = "$.both", Branches = {
          { StartAt = "X", States = { X = { Type = "Pass", Result = "x", End = true } } },
          { StartAt = "Y", States = { Y = { Type = "Task", Resource = "echo", End = true } } } },
          Next = "Done" },
        Done = { Type = "Succeed" } } }
      local input = { items = json.array({ { k = 1 }, { k = 2 }, { k = 3 } }) }
      local function aws_history(store)
        local engine = assert(stepflow.new({ store = store, virtual_time = true,
          handlers = { echo = function(x) return x end } }))
        local sm = assert(engine:create_state_machine(def, { name = "same" }))
        local exec = assert(engine:start_execution(sm, input, { name = "s1", history = true }))
        engine:run()
        assert.equal("SUCCEEDED", exec.status)
        local h = assert(engine:history(exec.arn))
        engine:close()
        for _, e in ipairs(h) do e.timestamp = nil end
        return h
      end
      local budget = execution.BUDGET
      execution.BUDGET = 1
      local ok, durable_h, memory_h = pcall(function() return aws_history(path), aws_history(nil) end)
      execution.BUDGET = budget
      assert(ok, durable_h)
      assert.equal(#memory_h, #durable_h)
      assert.is_true(#durable_h > 40)
      for i = 1, #memory_h do assert.same(memory_h[i], durable_h[i]) end
    end)

    it("records assigned variables as JSON text on the exit event", function()
      local engine = engine_on(path)
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", Assign = { x = json.array({ 1 }) }, End = true } } }, { name = "vars" }))
      local exec = engine:start_execution(sm, {})
      engine:run()
      local events = engine:history(exec.arn)
      assert.same({ x = "[1]" }, events[3].stateExitedEventDetails.assignedVariables)
      engine:close()
    end)
  end)

  describe("names", function()
    it("returns the existing execution for the same name and input", function()
      local engine = engine_on(path)
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }, { name = "idem" }))
      local a = assert(engine:start_execution(sm, { n = 1 }, { name = "same" }))
      engine:run()
      local b = assert(engine:start_execution(sm, { n = 1 }, { name = "same" }))
      assert.equal(a.arn, b.arn)
      engine:run()
      assert.equal(1, #engine.store:list_executions({}))
      engine:close()
    end)
    it("refuses the same name with another input: ExecutionAlreadyExists", function()
      local engine = engine_on(path)
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }, { name = "idem" }))
      assert(engine:start_execution(sm, { n = 1 }, { name = "same" }))
      local none, err = engine:start_execution(sm, { n = 2 }, { name = "same" })
      assert.is_nil(none)
      assert.matches("^ExecutionAlreadyExists", err)
      engine:close()
    end)
  end)

  describe("stop", function()
    it("aborts a running execution with error and cause, in memory and in the store", function()
      local engine = engine_on(path, { hang = hang })
      local sm = assert(engine:create_state_machine({ StartAt = "T", States = { T = { Type = "Task", Resource = "hang", End = true } } }, { name = "stop" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "s1" }))
      engine:run()
      assert.equal("RUNNING", exec.status)
      assert.is_true(engine:stop_execution(exec.arn, "User.Stop", "enough"))
      engine:run()
      assert.equal("ABORTED", exec.status)
      local rec = engine.store:get_execution(exec.arn)
      assert.equal("ABORTED", rec.status)
      assert.equal("User.Stop", rec.error)
      local events = engine:history(exec.arn)
      assert.equal("ExecutionAborted", events[#events].type)
      assert.same({ error = "User.Stop", cause = "enough" }, events[#events].executionAbortedEventDetails)
      assert.is_nil(engine:stop_execution(exec.arn))
      engine:close()
    end)
  end)

  describe("groups", function()
    it("commits a Pass-Task execution in two synced groups: up to TaskStarted, then the rest", function()
      local engine = engine_on(path, { inc = function(x) return x + 1 end })
      local commits, real_commit = {}, engine.store.commit
      engine.store.commit = function(st)
        local h = st:pending()
        commits[#commits + 1] = h
        return real_commit(st)
      end
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", Next = "T" },
        T = { Type = "Task", Resource = "inc", End = true } } }, { name = "groups" }))
      commits = {}
      local exec = assert(engine:start_execution(sm, 1, { name = "g1" }))
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      -- the state machine and definition rows, the execution row and
      -- ExecutionStarted share the first group with PassStateEntered ..
      -- TaskScheduled and TaskStarted (the handler runs only once both are
      -- committed); the second holds TaskSucceeded .. ExecutionSucceeded
      -- and the execution's end
      assert.same({ 9, 4 }, commits)
      engine:close()
    end)
  end)

  describe("clients", function()
    local function def() return { StartAt = "W", States = {
      W = { Type = "Wait", Seconds = 0, Next = "P" },
      P = { Type = "Pass", Result = "done", End = true } } } end
    -- An execution that keeps the real-time loop busy for 0.4 s, past the
    -- first read of the clients' records (every 250 ms).
    local KEEP = { keepalive = function(_, ctx) ctx.sleep(0.4) return {} end }
    local function keepalive(engine)
      return assert(engine:create_state_machine({ StartAt = "K", States = {
        K = { Type = "Task", Resource = "keepalive", End = true } } }, { name = "keepalive" }))
    end

    it("runs the executions a client records while it runs, with accept_new", function()
      local engine = assert(stepflow.new({ store = path, accept_new = true, handlers = KEEP }))  -- real time
      local sm = keepalive(engine)
      local keep = assert(engine:start_execution(sm, {}, { name = "k" }))
      local added
      engine.loop:timer(20, function()
        -- another process's view: no engine lock, only new records
        local client = assert(stepflow.new({ store = path, client = true }))
        local csm = assert(client:create_state_machine(def(), { name = "fromclient" }))
        added = assert(client:start_execution(csm, { n = 1 }, { name = "c1", defer = true }))
        client:close()
      end)
      engine:run()
      assert.equal("SUCCEEDED", keep.status)
      -- ended, it is read from the store
      assert.is_nil(engine.executions[added.arn])
      local exec = assert(engine:get_execution(added.arn))
      assert.equal("SUCCEEDED", exec.status)
      assert.equal("done", exec.output)
      local h = engine:history(added.arn)
      assert.equal("ExecutionStarted", h[1].type)
      assert.equal(1, #(function()
        local n = {}
        for _, e in ipairs(h) do if e.type == "ExecutionStarted" then n[#n + 1] = e end end
        return n
      end)())
      engine:close()
    end)

    it("leaves them to a later recovery without accept_new", function()
      local engine = assert(stepflow.new({ store = path, handlers = KEEP }))
      local sm = keepalive(engine)
      assert(engine:start_execution(sm, {}, { name = "k" }))
      local added
      engine.loop:timer(20, function()
        local client = assert(stepflow.new({ store = path, client = true }))
        local csm = assert(client:create_state_machine(def(), { name = "fromclient" }))
        added = assert(client:start_execution(csm, {}, { name = "c2", defer = true }))
        client:close()
      end)
      engine:run()
      assert.is_nil(engine.executions[added.arn])
      assert.equal("RUNNING", engine.store:get_execution(added.arn).status)
      assert.equal(1, engine:recover())
      engine:run()
      assert.equal("SUCCEEDED", engine.store:get_execution(added.arn).status)
      engine:close()
    end)

    it("cannot run or recover executions, and needs a store file", function()
      local first = engine_on(path)
      first:close()
      local client = assert(stepflow.new({ store = path, client = true }))
      assert.has_error(function() client:run() end, "run: a client engine runs no executions")
      assert.has_error(function() client:recover() end, "recover: a client engine runs no executions")
      client:close()
      assert.has_error(function() stepflow.new({ client = true }) end,
        "stepflow.new: client needs a store path")
    end)
  end)

  describe("definition revisions", function()
    it("resumes an execution on the definition it started with, after the machine changed", function()
      local function def(result)
        return { StartAt = "W", States = {
          W = { Type = "Wait", Seconds = 30, Next = "P" },
          P = { Type = "Pass", Result = result, End = true } } }
      end
      local first = engine_on(path, nil, true)  -- real time: the Wait stays pending
      local sm1 = assert(first:create_state_machine(def("v1"), { name = "rev" }))
      assert.equal(1, sm1.revision)
      local old = assert(first:start_execution(sm1, {}, { name = "old" }))
      first:close()  -- as if the process died during the Wait
      local engine = engine_on(path)
      local sm2 = assert(engine:create_state_machine(def("v2"), { name = "rev" }))
      assert.equal(2, sm2.revision)
      local new = assert(engine:start_execution(sm2, {}, { name = "new" }))
      assert.equal(1, engine:recover())
      engine:run()
      assert.equal("SUCCEEDED", new.status)
      assert.equal("v2", new.output)
      local rec = engine.store:get_execution(old.arn)
      assert.equal("SUCCEEDED", rec.status)
      assert.equal('"v1"', rec.output)
      assert.equal(1, rec.revision)
      -- the machine is still the current one
      assert.equal(sm2, engine.machines[sm2.arn])
      engine:close()
    end)

    it("keeps one revision for the same definition created again", function()
      local engine = engine_on(path)
      local d = { StartAt = "P", States = { P = { Type = "Pass", End = true } } }
      assert.equal(1, assert(engine:create_state_machine(d, { name = "same" })).revision)
      assert.equal(1, assert(engine:create_state_machine(d, { name = "same" })).revision)
      engine:close()
    end)
  end)

  describe("stop requests from other processes", function()
    local store = require("stepflow.store")

    it("stops an execution while the engine runs, within the poll interval", function()
      local engine = engine_on(path, nil, true)
      local sm = assert(engine:create_state_machine({ StartAt = "W", States = {
        W = { Type = "Wait", Seconds = 30, End = true } } }, { name = "req" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "r1" }))
      -- the request comes from another connection, without the engine lock
      engine.loop:timer(20, function()
        assert(store.request_stop(path, exec.arn, "Ops.Stop", "from outside"))
      end)
      local t0 = os.time()
      engine:run()
      assert.is_true(os.time() - t0 < 10)
      assert.equal("ABORTED", exec.status)
      assert.equal("Ops.Stop", exec.error)
      assert.equal("from outside", exec.cause)
      local rec = engine.store:get_execution(exec.arn)
      assert.equal("ABORTED", rec.status)
      assert.same({}, engine.store:stop_requests())
      local events = engine:history(exec.arn)
      assert.same({ error = "Ops.Stop", cause = "from outside" }, events[#events].executionAbortedEventDetails)
      engine:close()
    end)

    it("aborts in the store an execution this engine does not run, at a commit", function()
      local first = engine_on(path)
      local sm = assert(first:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", End = true } } }, { name = "req2" }))
      local parked = assert(first:start_execution(sm, {}, { name = "parked", defer = true }))
      first:close()
      assert(store.request_stop(path, parked.arn, nil, "no longer needed"))
      assert(store.request_stop(path, parked.arn .. "-unknown", "X"))
      local engine = engine_on(path)  -- virtual time: requests are read at commits
      sm = assert(engine:create_state_machine({ StartAt = "P", States = {
        P = { Type = "Pass", End = true } } }, { name = "req2" }))
      local other = assert(engine:start_execution(sm, {}, { name = "other" }))
      engine:run()
      assert.equal("SUCCEEDED", other.status)
      local rec = engine.store:get_execution(parked.arn)
      assert.equal("ABORTED", rec.status)
      assert.equal("no longer needed", rec.cause)
      assert.same({}, engine.store:stop_requests())
      engine:close()
    end)

    it("lets the loop end: the poll timer never keeps it alive", function()
      local engine = engine_on(path, { hang = hang }, true)
      local sm = assert(engine:create_state_machine({ StartAt = "T", States = {
        T = { Type = "Task", Resource = "hang", End = true } } }, { name = "req3" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "h" }))
      local t0 = os.time()
      engine:run()  -- only a task that never answers: returns
      assert.is_true(os.time() - t0 < 5)
      assert.equal("RUNNING", exec.status)
      engine:close()
    end)
  end)

  describe("recovery", function()
    it("resumes a Wait at its recorded due time without recording anything twice", function()
      local engine = engine_on(path, nil, true)
      local sm = assert(engine:create_state_machine({ StartAt = "A", States = {
        A = { Type = "Pass", Result = "a", ResultPath = "$.a", Next = "W" },
        W = { Type = "Wait", Seconds = 30, Next = "B" },
        B = { Type = "Pass", Result = "b", ResultPath = "$.b", End = true } } }, { name = "wait" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "w1" }))
      engine.loop:step()
      engine.loop:step()
      engine:close() -- the process dies here, the Wait still pending
      local again = engine_on(path)
      assert.equal(1, again:recover())
      again:run()
      local rec = again.store:get_execution(exec.arn)
      assert.equal("SUCCEEDED", rec.status)
      assert.same({ a = "a", b = "b" }, json.decode(rec.output))
      local events = again:history(exec.arn)
      assert.same({ "ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
        "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded" }, types(events))
      assert.is_true(rec.stopped - rec.started >= 30000)
      again:close()
    end)

    it("invokes a task in flight at the crash again, and only that one", function()
      local calls = {}
      local function counting(name, fn)
        return function(x, ctx) calls[name] = (calls[name] or 0) + 1; return fn(x, ctx) end
      end
      local def = { StartAt = "A", States = {
        A = { Type = "Task", Resource = "a", Next = "B" },
        B = { Type = "Task", Resource = "b", End = true } } }
      local engine = engine_on(path, { a = counting("a", function(x) return x + 1 end), b = counting("b", hang) })
      local sm = assert(engine:create_state_machine(def, { name = "inflight" }))
      local exec = assert(engine:start_execution(sm, 1, { name = "t1" }))
      engine:run()
      assert.equal("RUNNING", exec.status)
      engine:close()
      local again = engine_on(path, { a = counting("a", function(x) return x + 1 end), b = counting("b", function(x) return x * 10 end) })
      again:recover()
      again:run()
      assert.equal("20", again.store:get_execution(exec.arn).output)
      assert.same({ a = 1, b = 2 }, calls)
      local entered = 0
      for _, e in ipairs(again:history(exec.arn)) do
        if e.type == "TaskStateEntered" then entered = entered + 1 end
      end
      assert.equal(2, entered)
      again:close()
    end)

    it("restores retry counters and keeps counting from them", function()
      local seen = {}
          local def = { StartAt = "T", States = { T = { Type = "Task", Resource = "f",
        Parameters = { ["n.$"] = "$$.State.RetryCount" },
        Retry = { { ErrorEquals = { "States.ALL" }, IntervalSeconds = 10, MaxAttempts = 5 } }, End = true } } }
      local engine = engine_on(path, { f = function(input) seen[#seen + 1] = input.n; error("again") end }, true)
      local sm = assert(engine:create_state_machine(def, { name = "retry" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "r1" }))
      for _ = 1, 8 do engine.loop:step() end
      engine:close()
      assert.is_true(#seen >= 1)
      local before = #seen
      local again = engine_on(path, { f = function(input)
        seen[#seen + 1] = input.n
        if input.n < 3 then error("again") end
        return input.n
      end })
      again:recover()
      again:run()
      assert.equal("3", again.store:get_execution(exec.arn).output)
      -- each retry count was attempted once, across both processes
      assert.equal(1, before)
      assert.same({ 0, 1, 2, 3 }, seen)
      again:close()
    end)

    it("keeps the Map iterations and Parallel branches already finished", function()
      local calls = {}
      local def = { StartAt = "P", States = { P = { Type = "Parallel", End = true, Branches = {
        { StartAt = "M", States = { M = { Type = "Map", End = true, ItemProcessor = { StartAt = "T", States = {
          T = { Type = "Task", Resource = "item", End = true } } } } } },
        { StartAt = "B", States = { B = { Type = "Task", Resource = "branch", End = true } } },
      } } } }
      local first = {
        item = function(x) calls[#calls + 1] = "item" .. x; if x == 2 then return hang(x, nil) end return x * 10 end,
        branch = function() calls[#calls + 1] = "branch"; return "b" end,
      }
      first.item = function(x, ctx) calls[#calls + 1] = "item" .. x; if x == 2 then return hang(x, ctx) end return x * 10 end
      local engine = engine_on(path, first)
      local sm = assert(engine:create_state_machine(def, { name = "fan" }))
      local exec = assert(engine:start_execution(sm, json.array({ 1, 2, 3 }), { name = "f1" }))
      engine:run()
      assert.equal("RUNNING", exec.status)
      engine:close()
      table.sort(calls)
      assert.same({ "branch", "item1", "item2", "item3" }, calls)
      calls = {}
      local again = engine_on(path, {
        item = function(x) calls[#calls + 1] = "item" .. x; return x * 10 end,
        branch = function() calls[#calls + 1] = "branch"; return "b" end,
      })
      again:recover()
      again:run()
      assert.same({ { 10, 20, 30 }, "b" }, json.decode(again.store:get_execution(exec.arn).output))
      assert.same({ "item2" }, calls)
      again:close()
    end)

    -- The time from a waiting task's Started event to its TimedOut event
    -- when the engine that started it stopped (`crash`: it runs the
    -- execution up to then) and another recovered it 0.3 s later.
    local function timed_out_after_restart(handlers, def, crash, started_type, timed_out_type)
      local engine = engine_on(path, handlers, true)
      local sm = assert(engine:create_state_machine(def, { name = "waits" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "w" }))
      crash(engine)
      engine:close()
      require("socket").sleep(0.3)  -- the process was down a while
      local again = engine_on(path, handlers)
      assert.equal(1, again:recover())
      again:run()
      assert.equal("States.Timeout", again.store:get_execution(exec.arn).error)
      local started, timed_out
      for _, e in ipairs(again:history(exec.arn)) do
        local ms = math.floor(timestamp.parse(e.timestamp) * 1000 + 0.5)
        if e.type == started_type then started = ms end
        if e.type == timed_out_type then timed_out = ms end
      end
      again:close()
      return timed_out - started
    end

    it("counts a waiting task's TimeoutSeconds from its recorded start, not again from the restart", function()
      local def = { StartAt = "T", States = { T = { Type = "Task", TimeoutSeconds = 60, End = true,
        Resource = "arn:aws:states:::lambda:invoke.waitForTaskToken",
        Parameters = { FunctionName = "notify", ["Payload.$"] = "$$.Task.Token" } } } }
      local waited = timed_out_after_restart({ notify = function() return {} end }, def, function(engine)
        for _ = 1, 6 do engine.loop:step() end
      end, "TaskStarted", "TaskTimedOut")
      -- (re-armed at the restart for 60 s, it would end 60.3 s after the start)
      assert.is_true(waited >= 60000 and waited < 60200, tostring(waited))
    end)

    it("counts an activity task's TimeoutSeconds from the worker's recorded start", function()
      local act = "arn:aws:states:us-east-1:123456789012:activity:review"
      local def = { StartAt = "T", States = { T = { Type = "Task", Resource = act, TimeoutSeconds = 60, End = true } } }
      local waited = timed_out_after_restart(nil, def, function(engine)
        for _ = 1, 4 do engine.loop:step() end
        assert.is_string(assert(engine:get_activity_task(act, "w1")).taskToken)
        for _ = 1, 4 do engine.loop:step() end
      end, "ActivityStarted", "ActivityTimedOut")
      assert.is_true(waited >= 60000 and waited < 60200, tostring(waited))
    end)

    it("re-arms the execution timeout from the recorded start", function()
      local engine = engine_on(path, { hang = hang }, true)
      local sm = assert(engine:create_state_machine({ TimeoutSeconds = 60, StartAt = "T", States = {
        T = { Type = "Task", Resource = "hang", End = true } } }, { name = "timeout" }))
      local exec = assert(engine:start_execution(sm, {}, { name = "to1" }))
      engine.loop:step()
      engine.loop:step()
      engine:close()
      local again = engine_on(path, { hang = hang })
      again:recover()
      again:run()
      local rec = again.store:get_execution(exec.arn)
      assert.equal("TIMED_OUT", rec.status)
      assert.equal("States.Timeout", rec.error)
      again:close()
    end)
  end)

  describe("store", function()
    it("refuses a second engine on a store in use", function()
      local engine = engine_on(path)
      local other, err = stepflow.new({ store = path })
      assert.is_nil(other)
      assert.matches("pid", err)
      engine:close()
    end)
    it("refuses a file that is not a store and leaves it untouched", function()
      local fh = assert(io.open(path, "wb"))
      fh:write("not a database at all\n")
      fh:close()
      local engine, err = stepflow.new({ store = path })
      assert.is_nil(engine)
      assert.is_string(err)
      fh = assert(io.open(path, "rb"))
      assert.equal("not a database at all\n", fh:read("a"))
      fh:close()
    end)
    it("keeps EXPRESS executions out of the store", function()
      local engine = engine_on(path)
      local sm = assert(engine:create_state_machine({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }, { name = "fast", type = "EXPRESS" }))
      local exec = engine:start_execution(sm, {})
      engine:run()
      assert.equal("SUCCEEDED", exec.status)
      assert.equal(0, #engine.store:list_executions({}))
      engine:close()
    end)
  end)
end)

describe("stepflow.replay", function()
  local replay = require("stepflow.replay")
  local function ev(id, etype, index)
    return { id = id, type = etype, f = "", d = index and { index = index } or {} }
  end
  it("matches iteration events by index, whatever order they end in", function()
    local idx = replay.index({ ev(1, "MapStateStarted"), ev(2, "MapIterationStarted", 0),
      ev(3, "MapIterationStarted", 1), ev(4, "MapIterationSucceeded", 1) })
    local frame = { key = "" }
    assert.equal(1, replay.consume(idx, frame, "MapStateStarted", {}).id)
    assert.equal(2, replay.consume(idx, frame, "MapIterationStarted", { index = 0 }).id)
    assert.equal(3, replay.consume(idx, frame, "MapIterationStarted", { index = 1 }).id)
    -- iteration 0 ends only now: new, and the frame still replays
    assert.is_nil(replay.consume(idx, frame, "MapIterationSucceeded", { index = 0 }))
    assert.equal(4, replay.consume(idx, frame, "MapIterationSucceeded", { index = 1 }).id)
  end)
  it("passes over recorded iteration events for events in order", function()
    local idx = replay.index({ ev(1, "MapIterationSucceeded", 3), ev(2, "MapStateFailed") })
    assert.equal(2, replay.consume(idx, { key = "" }, "MapStateFailed", {}).id)
  end)
  it("turns a frame live when it goes another way than recorded", function()
    local idx = replay.index({ ev(1, "TaskScheduled"), ev(2, "TaskStarted") })
    local frame = { key = "" }
    assert.is_nil(replay.consume(idx, frame, "TaskFailed", {}))
    assert.is_nil(replay.consume(idx, frame, "TaskScheduled", {}))
  end)
end)

describe("durable Distributed Map runs", function()
  local path
  before_each(function() path = helper.temp_store() end)
  after_each(function() helper.remove_store(path) end)

  for _, child_type in ipairs({ "STANDARD", "EXPRESS" }) do
    it("go on after a crash without running the ended " .. child_type .. " children again", function()
      local def = { StartAt = "M", States = { M = { Type = "Map", MaxConcurrency = 2, End = true,
        ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = child_type },
          StartAt = "T", States = { T = { Type = "Task", Resource = "work", End = true } } } } } }
      local first = {}
      local engine = engine_on(path, { work = function(x, ctx)
        first[#first + 1] = x
        if x >= 3 then return hang(x, ctx) end  -- in flight at the crash
        return x * 2
      end })
      local sm = assert(engine:create_state_machine(def, { name = "dmap" }))
      local exec = assert(engine:start_execution(sm, json.array({ 1, 2, 3, 4, 5, 6 }), { name = "d1" }))
      engine:run()
      assert.equal("RUNNING", exec.status)
      assert.same({ 1, 2, 3, 4 }, first)
      engine:close() -- the process dies here, items 3 and 4 in flight
      local second = {}
      local again = engine_on(path, { work = function(x)
        second[#second + 1] = x
        return x * 2
      end })
      again:recover()
      again:run()
      local rec = again.store:get_execution(exec.arn)
      assert.equal("SUCCEEDED", rec.status)
      assert.same({ 2, 4, 6, 8, 10, 12 }, json.decode(rec.output))
      table.sort(second)
      assert.same({ 3, 4, 5, 6 }, second)
      -- the parent's history holds one Map Run, started once
      local started = 0
      for _, e in ipairs(again:history(exec.arn)) do
        if e.type == "MapRunStarted" then started = started + 1 end
      end
      assert.equal(1, started)
      again:close()
    end)
  end
end)
