-- Several engines on one PostgreSQL store (stepflow.lease, store_pg):
-- claims split the work, an engine past its lease is taken over and
-- cannot write, a claimed execution's old owner is fenced, requests reach
-- the owner. The database is the throwaway server's (spec/pg_helper.lua);
-- leases are expired with SQL instead of waiting for them.
local stepflow = require("stepflow")
local pg_helper = require("pg_helper")
local pg = require("stepflow.core.pg")

local WAIT_DEF = { StartAt = "A", States = {
  A = { Type = "Pass", Result = "a", ResultPath = "$.a", Next = "W" },
  W = { Type = "Wait", Seconds = 3600, Next = "T" },
  T = { Type = "Task", Resource = "inc", End = true } } }

local function engine_on(url, handlers, opts)
  opts = opts or {}
  return assert(stepflow.new({ store = url, virtual_time = opts.real_time ~= true,
    handlers = handlers, lease_ms = opts.lease_ms or 60000, claim_batch = opts.claim_batch }))
end

local function expire(engine)
  pg_helper.query("UPDATE stepflow.engines SET expires = clock_timestamp() - interval '1 second' "
    .. "WHERE id = $1", engine.durability.lease:id())
end

-- Steps a loop until `done()` or a second of real time.
local function step_until(engine, done)
  local t0 = pg.clock_ms()
  while not done() and pg.clock_ms() - t0 < 2000 do engine.loop:step() end
  return done()
end

-- The owners and epochs of an execution's event rows, in order.
local function writers(arn)
  return pg_helper.query("SELECT v.owner, v.epoch, v.first, v.last FROM stepflow.events v "
    .. "JOIN stepflow.executions e ON e.id = v.exec WHERE e.arn = $1 ORDER BY v.first", arn)
end

-- Event ids of a history are 1..n.
local function contiguous(history)
  for i, e in ipairs(history) do if e.id ~= i then return false end end
  return true
end

describe("engines sharing a PostgreSQL store", function()
  if not pg_helper.url() then
    pending(pg_helper.MISSING)
    return
  end
  local url
  before_each(function() url = pg_helper.reset() end)

  it("runs executions durably, commits asynchronously and recovers none twice", function()
    local calls = 0
    local a = engine_on(url, { inc = function(x) calls = calls + 1; return x end })
    assert.equal(0, a:recover())
    local sm = assert(a:create_state_machine(WAIT_DEF, { name = "w" }))
    local execs = {}
    for i = 1, 10 do execs[i] = assert(a:start_execution(sm, { i = i }, { name = "e" .. i })) end
    a:run()
    for i = 1, 10 do assert.equal("SUCCEEDED", execs[i].status) end
    assert.equal(10, calls)
    local h = a:history(execs[1].arn)
    assert.is_true(contiguous(h))
    assert.equal("ExecutionSucceeded", h[#h].type)
    a:close()
    -- a second engine finds nothing to claim
    local b = engine_on(url, { inc = function(x) calls = calls + 1; return x end })
    assert.equal(0, b:recover())
    b:close()
    assert.equal(10, calls)
  end)

  it("splits the executions a client recorded between engines, each run once", function()
    local client = engine_on(url)
    local sm = assert(client:create_state_machine(WAIT_DEF, { name = "w" }))
    for i = 1, 20 do assert(client:start_execution(sm, { i = i }, { name = "c" .. i, defer = true })) end
    client:close()
    local ran = {}
    local function inc(x, ctx)
      ran[ctx.execution_id] = (ran[ctx.execution_id] or 0) + 1
      return x
    end
    local a = engine_on(url, { inc = inc }, { claim_batch = 8 })
    local b = engine_on(url, { inc = inc }, { claim_batch = 8 })
    assert.equal(8, a:recover())
    assert.equal(8, b:recover())
    a:run()
    b:run()
    -- the rest is claimed by the timers of the lease while work remains:
    -- run until every execution ended
    local left = 1
    for _ = 1, 20 do
      left = tonumber(pg_helper.query("SELECT count(*) FROM stepflow.executions WHERE status = 'RUNNING'")[1][1])
      if left == 0 then break end
      a.durability.lease:claim()
      a:run()
    end
    assert.equal(0, left)
    local n = 0
    for _, count in pairs(ran) do
      n = n + 1
      assert.equal(1, count)
    end
    assert.equal(20, n)
    a:close()
    b:close()
  end)

  -- A Task whose handler waits until the spec lets it answer: the task is
  -- in flight when the lease is lost.
  local TASK_DEF = { StartAt = "A", States = {
    A = { Type = "Pass", Next = "T" },
    T = { Type = "Task", Resource = "slow", End = true } } }
  local function slow_handler(pending)
    return function(x, ctx)
      return ctx.await(function(resume) pending[#pending + 1] = function() resume(x) end end)
    end
  end

  it("takes over the executions of an engine past its lease; the old one cannot write", function()
    local pending = {}
    local a = engine_on(url, { slow = slow_handler(pending) })
    a:recover()
    local sm = assert(a:create_state_machine(TASK_DEF, { name = "t" }))
    local exec = assert(a:start_execution(sm, { i = 1 }, { name = "t1" }))
    assert.is_true(step_until(a, function() return #pending == 1 end))
    expire(a)
    local b = engine_on(url, { slow = function(x) return x end })
    assert.equal(1, b:recover())
    b:run()
    assert.equal("SUCCEEDED", b.store:get_execution(exec.arn).status)
    -- a's handler answers now: its group is refused (its lease expired),
    -- it drops the execution, registers anew and finds nothing to claim
    pending[1]()
    a:run()
    assert.equal(1, a.durability.lease.losses)
    local rows = writers(exec.arn)
    local a_id, b_id = tostring(a.durability.lease:id()), tostring(b.durability.lease:id())
    local seen_b = false
    for _, r in ipairs(rows) do
      if r[1] == b_id then seen_b = true end
      assert.is_false(seen_b and r[1] ~= b_id)  -- nothing of anyone else after b's first row
    end
    assert.is_true(seen_b)
    assert.is_not.equal(a_id, b_id)
    assert.is_true(contiguous(b:history(exec.arn)))
    a:close()
    b:close()
  end)

  it("fences the writes of an execution another engine claimed, and drops it", function()
    local pending = {}
    local a = engine_on(url, { slow = slow_handler(pending) })
    a:recover()
    local sm = assert(a:create_state_machine(TASK_DEF, { name = "t" }))
    local exec = assert(a:start_execution(sm, { i = 1 }, { name = "f1" }))
    local other = assert(a:start_execution(sm, { i = 2 }, { name = "f2" }))
    assert.is_true(step_until(a, function() return #pending == 2 end))
    -- another engine claims f1 alone (a's lease is still valid)
    pg_helper.query("UPDATE stepflow.executions SET owner = NULL, epoch = epoch + 1 WHERE arn = $1", exec.arn)
    local before = #writers(exec.arn)
    pending[1]()
    pending[2]()
    a:run()
    assert.equal("RUNNING", a.store:get_execution(exec.arn).status)
    assert.equal("SUCCEEDED", a.store:get_execution(other.arn).status)
    assert.equal(before, #writers(exec.arn))
    assert.equal(0, a.durability.lease.losses)
    a:close()
  end)

  it("stops an execution that another engine runs, through a stop request", function()
    local a = engine_on(url, nil)
    a:recover()
    local sm = assert(a:create_state_machine({ StartAt = "T", States = {
      T = { Type = "Task", Resource = "hang", End = true } } }, { name = "s" }))
    a:register("hang", function(_, ctx) return ctx.await(function() end) end)
    local exec = assert(a:start_execution(sm, {}, { name = "s1" }))
    assert.is_true(step_until(a, function() return not a.store:busy() and a.store:pending() == 0 end))
    local b = engine_on(url)
    local ok, how = b:stop_execution(exec.arn, "Ops.Stop", "from b")
    assert.is_true(ok)
    assert.equal("requested", how)
    assert.is_true(step_until(a, function() return exec.status == "ABORTED" end))
    a:run()
    assert.equal("Ops.Stop", exec.error)
    assert.equal("ABORTED", b.store:get_execution(exec.arn).status)
    assert.same({}, b.store:stop_requests())
    a:close()
    b:close()
  end)

  it("aborts at once an execution that no engine runs", function()
    local client = engine_on(url)
    local sm = assert(client:create_state_machine(WAIT_DEF, { name = "w" }))
    local exec = assert(client:start_execution(sm, {}, { name = "u1", defer = true }))
    client:close()
    local b = engine_on(url)
    local ok, how = b:stop_execution(exec.arn, nil, "not needed")
    assert.is_true(ok)
    assert.equal("stopped", how)
    local rec = b.store:get_execution(exec.arn)
    assert.equal("ABORTED", rec.status)
    local h = b:history(exec.arn)
    assert.equal("ExecutionAborted", h[#h].type)
    assert.is_true(contiguous(h))
    b:close()
  end)

  it("hands its executions over at a clean close", function()
    local a = engine_on(url, nil)
    a:recover()
    a:register("hang", function(_, ctx) return ctx.await(function() end) end)
    local sm = assert(a:create_state_machine({ StartAt = "T", States = {
      T = { Type = "Task", Resource = "hang", End = true } } }, { name = "h" }))
    local exec = assert(a:start_execution(sm, {}, { name = "h1" }))
    a:run()
    a:close()
    local b = engine_on(url, { hang = function() return "done" end })
    assert.equal(1, b:recover())
    b:run()
    assert.equal("SUCCEEDED", b.store:get_execution(exec.arn).status)
    b:close()
  end)

  it("refuses a group of an engine whose lease expired, as a whole", function()
    local s = assert(require("stepflow.store").open(url))
    assert(s:register(60000))
    assert(s:create_execution({ arn = "arn:x", sm_arn = "arn:sm", name = "x", input = "{}", started = 1 }))
    assert(s:commit())
    pg_helper.query("UPDATE stepflow.engines SET expires = clock_timestamp() - interval '1 second'")
    assert(s:append("arn:x", 1, 0, 1, "ExecutionStarted", "{}"))
    local ok, err, kind = s:commit()
    assert.is_nil(ok)
    assert.equal("lease", kind)
    assert.matches("lease of engine %d+ has expired", err)
    assert.same({}, pg_helper.query("SELECT 1 FROM stepflow.events"))
    s:close()
  end)
end)
