-- The engine methods for Lua programs that host it: step(timeout),
-- recover{on_done}, describe_execution, list_executions, after_commit,
-- close as <close>.
local stepflow = require("stepflow")
local h = require("spec_helper")

local PASS = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'
local WAIT = '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":%s,"End":true}}}'

describe("engine:step", function()
  it("runs one turn without waiting, and says whether work remains", function()
    local engine = stepflow.new()
    local sm = assert(engine:create_state_machine(PASS))
    local exec = engine:start_execution(sm, { a = 1 })
    assert.equal("RUNNING", exec.status)
    for _ = 1, 10 do
      if not engine:step() then break end
    end
    assert.equal("SUCCEEDED", exec.status)
    assert.is_false(engine:step())
  end)

  it("waits at most `timeout` seconds for a timer", function()
    -- a handler that sleeps 50 ms of real time
    local engine = stepflow.new({ handlers = { nap = function(input, ctx) ctx.sleep(0.05) return input end } })
    local sm = assert(engine:create_state_machine(
      '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"nap","End":true}}}'))
    local exec = engine:start_execution(sm, {})
    local t0 = os.clock()
    local clock0 = engine.loop:now()
    engine:step(0.01)  -- the wait is bounded: it returns before the Wait ends
    assert.equal("RUNNING", exec.status)
    assert.is_true(engine.loop:now() - clock0 < 50)
    while exec.status == "RUNNING" do engine:step(1) end
    assert.equal("SUCCEEDED", exec.status)
    assert.is_true(os.clock() - t0 < 0.5)  -- it waited, it did not spin
    assert.has_error(function() engine:step(-1) end, "step: timeout must be a number >= 0")
  end)
end)

describe("engine:recover", function()
  it("calls on_done for the executions it brings back", function()
    local path = h.temp_store()
    local engine = assert(stepflow.new({ store = path, virtual_time = true }))
    local sm = assert(engine:create_state_machine(WAIT:format("60")))
    local exec = assert(engine:start_execution(sm, {}, { name = "back" }))
    engine:step()  -- committed
    engine:close()
    engine = assert(stepflow.new({ store = path, virtual_time = true }))
    local done = {}
    assert.equal(1, (engine:recover({ on_done = function(e) done[#done + 1] = e.arn .. " " .. e.status end })))
    engine:run()
    assert.same({ exec.arn .. " SUCCEEDED" }, done)
    engine:close()
    h.remove_store(path)
  end)
end)

describe("engine:describe_execution and list_executions", function()
  it("read the store, including what is not committed yet", function()
    local engine = assert(stepflow.new({ store = ":memory:" }))
    local sm = assert(engine:create_state_machine(PASS, { name = "m" }))
    local a = assert(engine:start_execution(sm, { n = 1 }, { name = "a" }))
    local rec = engine:describe_execution(a.arn)
    assert.same({ "a", "RUNNING", '{"n":1}', sm.arn }, { rec.name, rec.status, rec.input, rec.sm_arn })
    engine:run()
    assert.equal('{"n":1}', engine:describe_execution(a.arn).output)
    local b = assert(engine:start_execution(sm, {}, { name = "b" }))
    local list = engine:list_executions({ sm_arn = sm.arn })
    assert.same({ b.arn, a.arn }, { list[1].arn, list[2].arn })
    assert.same({ a.arn }, { engine:list_executions({ status = "SUCCEEDED" })[1].arn })
    assert.is_nil(engine:describe_execution("arn:nope"))
    engine:close()
  end)

  it("read the executions kept in memory without a store", function()
    local engine = stepflow.new({ history = true })
    local sm = assert(engine:create_state_machine(PASS, { name = "m" }))
    local a = engine:start_execution(sm, { n = 2 }, { name = "a" })
    engine:run()
    local rec = engine:describe_execution(a.arn)
    assert.same({ "SUCCEEDED", '{"n":2}', '{"n":2}' }, { rec.status, rec.input, rec.output })
    assert.equal(1, #engine:list_executions({ status = "SUCCEEDED", limit = 5 }))
    assert.equal(0, #engine:list_executions({ status = "FAILED" }))
  end)
end)

describe("engine:after_commit", function()
  it("runs once what was written is committed, at once without a store", function()
    local ran = false
    stepflow.new():after_commit(function() ran = true end)
    assert.is_true(ran)
    local path = h.temp_store()
    do
      local engine <close> = assert(stepflow.new({ store = path }))
      assert(engine:create_state_machine(PASS, { name = "m" }))
      ran = false
      engine:after_commit(function() ran = true end)
      assert.is_false(ran)
      engine:run()
      assert.is_true(ran)
      local r = require("stepflow.store").open(path, { read_only = true })
      assert.is_table(r:get_state_machine(engine.machines["arn:aws:states:us-east-1:123456789012:stateMachine:m"].arn))
      r:close()
    end
    h.remove_store(path)
  end)
end)

describe("engine:history with after, limit and reverse", function()
  local function ids(events)
    local out = {}
    for i, e in ipairs(events) do out[i] = e.id end
    return out
  end
  local TWO = '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","End":true}}}'

  for _, case in ipairs({ { "in a store", { store = ":memory:" } }, { "in memory", { history = true } } }) do
    it("reads one page " .. case[1], function()
      local engine = assert(stepflow.new(case[2]))
      local exec = engine:start_execution(assert(engine:create_state_machine(TWO)), {}, { name = "h" })
      engine:run()
      assert.same({ 1, 2, 3, 4, 5, 6 }, ids(engine:history(exec.arn)))
      assert.same({ 3, 4 }, ids(engine:history(exec.arn, { after = 2, limit = 2 })))
      assert.same({ 6, 5, 4 }, ids(engine:history(exec.arn, { reverse = true, limit = 3 })))
      assert.same({ 3, 2, 1 }, ids(engine:history(exec.arn, { reverse = true, after = 4 })))
      engine:close()
    end)
  end
end)

describe("the engine's public methods", function()
  it("are each documented in the README; the runtime's own begin with '_'", function()
    local f = assert(io.open("README.md"))
    local readme = f:read("a")
    f:close()
    local engine = stepflow.new()
    local undocumented, public = {}, 0
    for name, v in pairs(getmetatable(engine).__index) do
      if type(v) == "function" and not name:find("^_") then
        public = public + 1
        if not (readme:find("engine:" .. name .. "[({]") or readme:find("`" .. name .. "`", 1, true)) then
          undocumented[#undocumented + 1] = name
        end
      end
    end
    table.sort(undocumented)
    assert.same({}, undocumented)
    assert.is_true(public > 20)
    -- the interpreter's own are not part of the API
    for _, name in ipairs({ "uuid", "after", "cancel", "when_durable", "new_task_token", "machine_of",
        "resume_record", "drop_execution", "http_client", "mock_test_case" }) do
      assert.is_nil(engine[name], name)
      assert.is_function(engine["_" .. name], name)
    end
    engine:close()
  end)
end)
