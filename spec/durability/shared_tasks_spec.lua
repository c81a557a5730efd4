-- Task tokens and activity tasks across engines sharing a PostgreSQL
-- store (integrations.answers, integrations.activities_shared,
-- store_pg_tasks): an answer received by an engine that does not run the
-- task reaches its owner, which applies it once; an activity task of one
-- engine's execution goes to a worker polling another, once, its
-- ActivityStarted recorded by the owner before the worker hears of it;
-- and what happens when the poller or the owner dies in between. Engines
-- run in real time (their loops stepped by hand, never waiting), leases
-- are expired with SQL instead of waiting for them.
local stepflow = require("stepflow")
local pg_helper = require("pg_helper")
local pg = require("stepflow.core.pg")
local json = require("stepflow.json")
local tokens = require("stepflow.integrations.tokens")

local ACT = "arn:aws:states:us-east-1:123456789012:activity:approve"

local function engine_on(url, handlers)
  local e = assert(stepflow.new({ store = url, handlers = handlers, lease_ms = 60000 }))
  assert(e:recover())
  return e
end

local function expire(engine)
  pg_helper.query("UPDATE stepflow.engines SET expires = clock_timestamp() - interval '1 second' "
    .. "WHERE id = $1", engine.durability.lease:id())
end

-- Steps the loops of `engines` in turn until `done()` (at most 3 s).
local function step_until(engines, done)
  local t0 = pg.clock_ms()
  while not done() and pg.clock_ms() - t0 < 3000 do
    for _, e in ipairs(engines) do e.loop:step() end
  end
  return done()
end

-- Steps until nothing of `engine` waits for the database.
local function settle(engines)
  return step_until(engines, function()
    for _, e in ipairs(engines) do
      if e.store:busy() or e.store:pending() > 0 or e.durability.commit_posted then return false end
    end
    return true
  end)
end

local function status(arn)
  return pg_helper.query("SELECT status FROM stepflow.executions WHERE arn = $1", arn)[1][1]
end

-- The types of an execution's events, read from the database, and the
-- engine that wrote each.
local function events(arn)
  local rows = pg_helper.query("SELECT v.data, v.owner FROM stepflow.events v JOIN stepflow.executions e "
    .. "ON e.id = v.exec WHERE e.arn = $1 ORDER BY v.first", arn)
  local out = {}
  for _, r in ipairs(rows) do
    for _, ev in ipairs(assert(pg.parse_events(r[1]))) do
      out[#out + 1] = { type = ev.type, details = json.decode(ev.details).d, writer = tonumber(r[2]) }
    end
  end
  return out
end

local function count(list, etype)
  local n = 0
  for _, e in ipairs(list) do if e.type == etype then n = n + 1 end end
  return n
end

local function rows_of(table_name)
  return #pg_helper.query("SELECT 1 FROM stepflow." .. table_name)
end

local CALLBACK = { StartAt = "Ask", States = { Ask = { Type = "Task", Resource = "ask.waitForTaskToken",
  Parameters = { ["t.$"] = "$$.Task.Token" }, HeartbeatSeconds = 600, End = true } } }

local function activity_machine()
  return { StartAt = "Approve", States = { Approve = { Type = "Task", Resource = ACT, End = true } } }
end

describe("task tokens and activity tasks across engines on PostgreSQL", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end
  local url
  local open = {}
  before_each(function()
    url = pg_helper.reset()
    open = {}
  end)
  after_each(function()
    for _, e in ipairs(open) do pcall(e.close, e) end
  end)
  local function engine(handlers)
    local e = engine_on(url, handlers)
    open[#open + 1] = e
    return e
  end

  describe("answers to task tokens", function()
    -- An execution of CALLBACK started on `a`, waiting for its token.
    local function waiting(a, name)
      local got = {}
      a:register("ask", function(input) got[1] = input.t end)
      local sm = assert(a:create_state_machine(CALLBACK, { name = "cb" }))
      local exec = assert(a:start_execution(sm, { n = 1 }, { name = name }))
      assert.is_true(step_until({ a }, function() return got[1] ~= nil and not a.store:busy() end))
      return exec, got[1]
    end

    it("reaches the owner through another engine, which applies it once", function()
      local a, b = engine(), engine()
      local exec, token = waiting(a, "x1")
      -- judged from the database: a heartbeat, then the success
      assert.is_true(b:send_task_heartbeat(token))
      assert.is_true(b:send_task_success(token, { ok = true }))
      assert.is_true(step_until({ a, b }, function() return exec.status == "SUCCEEDED" end))
      assert.same({ ok = true }, exec.output)
      assert.is_true(settle({ a, b }))
      local evs = events(exec.arn)
      assert.equal(1, count(evs, "TaskSucceeded"))
      assert.equal("SUCCEEDED", status(exec.arn))
      assert.equal(0, rows_of("task_answers"))
      -- the task has ended: AWS's code, from the database
      local ok, _, info = b:send_task_success(token, 1)
      assert.is_nil(ok)
      assert.equal("TaskTimedOut", info.code)
    end)

    it("tells AWS's codes from the database, and refuses a second answer while one waits", function()
      local a, b = engine(), engine()
      local exec, token = waiting(a, "x2")
      local function code(...)
        local ok, _, info = ...
        assert.is_nil(ok)
        return info.code
      end
      assert.equal("InvalidToken", code(b:send_task_success("no-token", 1)))
      local other = tokens.source():new("arn:aws:states:us-east-1:123456789012:execution:cb:none")
      assert.equal("TaskDoesNotExist", code(b:send_task_failure(other, "E")))
      local stranger = tokens.source():new(exec.arn)
      assert.equal("TaskDoesNotExist", code(b:send_task_heartbeat(stranger)))
      assert.equal("InvalidOutput", code(b:send_task_success(token, { bad = 0 / 0 })))
      -- a failure waits for a: a second final answer is refused, as the
      -- task will have ended with the first
      assert.is_true(b:send_task_failure(token, "Ops.No", "refused"))
      assert.equal("TaskTimedOut", code(b:send_task_success(token, 2)))
      assert.is_true(step_until({ a, b }, function() return exec.status == "FAILED" end))
      assert.same({ "Ops.No", "refused" }, { exec.error, exec.cause })
    end)

    it("makes a heartbeat reset the owner's heartbeat timer", function()
      local a, b = engine(), engine()
      local exec, token = waiting(a, "x3")
      local call = a.tokens[token]
      local due = call.hb_timer:due()
      local t0 = pg.clock_ms()
      while pg.clock_ms() - t0 < 5 do end  -- (the timer is re-armed from a later now)
      assert.is_true(b:send_task_heartbeat(token))
      assert.is_true(step_until({ a, b }, function() return call.hb_timer and call.hb_timer:due() > due end))
      assert.equal("RUNNING", exec.status)
      assert.is_true(settle({ a, b }))
      assert.equal(0, rows_of("task_answers"))
    end)

    it("is applied by the engine that takes over an execution whose owner died", function()
      local a, b = engine(), engine()
      local exec, token = waiting(a, "x4")
      -- b leaves the answer; a dies before it reads it
      assert.is_true(b:send_task_success(token, "late"))
      assert.is_true(settle({ b }))
      expire(a)
      -- (c sends the request again, with the same token: at-least-once
      -- handlers, as after any crash)
      local c = engine({ ask = function(input) assert(input.t == token) end })
      assert.is_true(step_until({ b, c }, function() return status(exec.arn) == "SUCCEEDED" end))
      local evs = events(exec.arn)
      assert.equal(1, count(evs, "TaskSucceeded"))
      assert.equal(c.durability.lease:id(), evs[#evs].writer)
      assert.equal(0, rows_of("task_answers"))
    end)

    it("comes from `stepflow send-task-success --store postgresql://...`", function()
      local a = engine()
      local exec, token = waiting(a, "x5")
      local out = os.tmpname()
      os.execute("(bin/stepflow send-task-success " .. token .. " --store '" .. url .. "' --output '{\"cli\":1}' > "
        .. out .. " 2>&1; echo $? >> " .. out .. ".rc) &")
      local function rc()
        local f = io.open(out .. ".rc")
        local v = f and f:read("n")
        if f then f:close() end
        return v
      end
      assert.is_true(step_until({ a }, function() return exec.status == "SUCCEEDED" and rc() ~= nil end))
      local f = assert(io.open(out))
      local text = f:read("a")
      f:close()
      os.remove(out)
      os.remove(out .. ".rc")
      assert.equal(0, rc and 0)
      assert.matches("answered " .. token, text, 1, true)
      assert.same({ cli = 1 }, exec.output)
    end)
  end)

  describe("activity tasks", function()
    -- Starts `n` executions of activity_machine() on `e` (inputs i = from..).
    local function start(e, n, from)
      local sm = assert(e:create_state_machine(activity_machine(), { name = "act" }))
      local out = {}
      for i = 1, n do out[i] = assert(e:start_execution(sm, { i = from + i - 1 }, { name = "e" .. (from + i - 1) })) end
      assert.is_true(settle({ e }))
      return out
    end

    -- A long-polling worker on engine `e`: its task once it has one.
    local function worker(e, name)
      local w = { task = false, ended = false }
      w.give_up = e:wait_activity_task(ACT, name, function(task)
        w.ended = true
        w.task = task or false
      end)
      return w
    end

    it("hands a task of one engine's execution to a worker polling another, started by the owner", function()
      local a, b = engine(), engine()
      local exec = start(a, 1, 1)[1]
      local w = worker(b, "w1")
      local started_before
      assert.is_true(step_until({ a, b }, function()
        if w.task and started_before == nil then
          -- the worker hears of it once its ActivityStarted is committed
          started_before = count(events(exec.arn), "ActivityStarted")
        end
        return w.task ~= false
      end))
      assert.equal(1, started_before)
      assert.equal('{"i":1}', w.task.input)
      local evs = events(exec.arn)
      local st = evs[#evs]
      assert.same({ "ActivityStarted", { workerName = "w1" }, a.durability.lease:id() },
        { st.type, st.details, st.writer })
      -- answered through the poller's engine too
      assert.is_true(b:send_task_success(w.task.taskToken, { done = true }))
      assert.is_true(step_until({ a, b }, function() return exec.status == "SUCCEEDED" end))
      assert.is_true(settle({ a, b }))
      assert.equal(0, rows_of("activity_tasks"))
      assert.equal(0, rows_of("task_answers"))
    end)

    it("serves tasks oldest first across engines, each to one worker", function()
      local a, b = engine(), engine()
      start(a, 1, 1)
      start(b, 1, 2)
      start(a, 1, 3)
      start(b, 1, 4)
      -- one poller: its workers get the tasks in the order they were scheduled
      local c = engine()
      local ws = {}
      for i = 1, 3 do ws[i] = worker(c, "c" .. i) end
      assert.is_true(step_until({ a, b, c }, function() return ws[1].task and ws[2].task and ws[3].task and true end))
      for i = 1, 3 do assert.equal('{"i":' .. i .. '}', ws[i].task.input) end
      -- two pollers at once for the last task: one gets it
      local x, y = worker(a, "x"), worker(b, "y")
      assert.is_true(step_until({ a, b, c }, function() return (x.task or y.task) and true end))
      assert.is_true(settle({ a, b, c }))
      assert.is_true((x.task and not y.task) or (y.task and not x.task))
      local got = x.task or y.task
      assert.equal('{"i":4}', got.input)
      -- the other gives up: its poll ends at once
      assert.is_true((x.task and y or x).give_up())
      local seen = {}
      for _, w in ipairs({ ws[1], ws[2], ws[3], x.task and x or y }) do
        assert.is_nil(seen[w.task.taskToken])
        seen[w.task.taskToken] = true
      end
    end)

    it("gives a claim back when the worker's poll ends before the owner took it", function()
      local a, b = engine(), engine()
      local exec = start(a, 1, 1)[1]
      local w = worker(b, "w")
      -- b claims; a, the owner, is not stepped yet
      assert.is_true(step_until({ b }, function() return b.activities.nclaims == 1 and not b.store:busy() end))
      assert.is_false(w.give_up())  -- the answer comes once the claim is given back
      assert.is_true(step_until({ b }, function() return w.ended end))
      assert.is_false(w.task)
      local w2 = worker(a, "w2")
      assert.is_true(step_until({ a, b }, function() return w2.task ~= false end))
      assert.equal(1, count(events(exec.arn), "ActivityStarted"))
      assert.equal("w2", events(exec.arn)[4].details.workerName)
    end)

    it("queues a task again when the poller that claimed it died", function()
      local a, b = engine(), engine()
      local exec = start(a, 1, 1)[1]
      worker(b, "lost")
      assert.is_true(step_until({ b }, function() return b.activities.nclaims == 1 and not b.store:busy() end))
      expire(b)  -- b is gone: never stepped again
      local c = engine()
      local w = worker(c, "w")
      assert.is_true(step_until({ a, c }, function() return w.task ~= false end))
      assert.is_true(settle({ a, c }))
      local evs = events(exec.arn)
      assert.equal(1, count(evs, "ActivityStarted"))
      assert.equal("w", evs[#evs].details.workerName)
    end)

    it("lets the engine that takes over an execution start the task its dead owner had not", function()
      local a, b = engine(), engine()
      local exec = start(a, 1, 1)[1]
      local w = worker(b, "w")
      -- b claims and tells a; a dies before it acts on the claim
      assert.is_true(step_until({ b }, function() return b.activities.nclaims == 1 and not b.store:busy() end))
      expire(a)
      local c = engine()  -- claims the execution at once
      assert.is_true(step_until({ b, c }, function() return w.task ~= false end))
      assert.is_true(settle({ b, c }))
      local evs = events(exec.arn)
      assert.equal(1, count(evs, "ActivityStarted"))
      assert.same({ "w", c.durability.lease:id() }, { evs[#evs].details.workerName, evs[#evs].writer })
      assert.is_true(c:send_task_success(w.task.taskToken, 7))
      assert.is_true(step_until({ b, c }, function() return status(exec.arn) == "SUCCEEDED" end))
    end)

    it("starts it again under the next owner when the owner's group with ActivityStarted failed", function()
      local a, b = engine(), engine()
      local exec = start(a, 1, 1)[1]
      -- a loses its lease right after it accepted b's claim: the group
      -- with the task's ActivityStarted is refused
      local accept = a.store.accept_claim_async
      a.store.accept_claim_async = function(s, arn, seq, poller, done)
        return accept(s, arn, seq, poller, function(ok, err)
          if ok then expire(a) end
          done(ok, err)
        end)
      end
      local w = worker(b, "w")
      assert.is_true(step_until({ a, b }, function() return w.task ~= false end))
      assert.is_true(settle({ a, b }))
      assert.equal(1, a.durability.lease.losses)
      local evs = events(exec.arn)
      assert.equal(1, count(evs, "ActivityStarted"))
      assert.equal("w", evs[#evs].details.workerName)
      assert.is_not.equal(a.durability.lease:id(), nil)
      assert.equal(0, rows_of("activity_tasks"))
    end)

    it("takes a task of its own executions at once with get_activity_task, and drops a task that ended", function()
      local a, b = engine(), engine()
      local sm = assert(a:create_state_machine({ StartAt = "Approve", States = { Approve = { Type = "Task",
        Resource = ACT, End = true } } }, { name = "own" }))
      local mine = assert(a:start_execution(sm, { i = 1 }, { name = "own1" }))
      assert.is_true(settle({ a }))
      assert.is_nil(b:get_activity_task(ACT, "b"))  -- not b's
      local task = assert(a:get_activity_task(ACT, "a"))
      assert.equal('{"i":1}', task.input)
      assert.is_true(settle({ a }))
      assert.equal(0, rows_of("activity_tasks"))
      assert.equal("ActivityStarted", events(mine.arn)[4].type)
      -- a queued task whose execution stops is never handed out
      local other = assert(a:start_execution(sm, { i = 2 }, { name = "own2" }))
      assert.is_true(settle({ a }))
      assert(b:stop_execution(other.arn, "Ops.Stop"))
      assert.is_true(step_until({ a, b }, function() return other.status == "ABORTED" end))
      assert.is_true(settle({ a, b }))
      local w = worker(b, "late")
      local t0 = pg.clock_ms()
      step_until({ a, b }, function() return pg.clock_ms() - t0 > 200 end)
      assert.is_false(w.task)
      assert.is_true(w.give_up())
    end)
  end)
end)
