-- Specs of engine:redrive_execution (AWS's RedriveExecution): a FAILED,
-- TIMED_OUT or ABORTED execution runs again from what had not succeeded,
-- in every frame, its history going on after ExecutionRedriven; and the
-- reasons an execution cannot be redriven.
local stepflow = require("stepflow")
local h = require("spec_helper")
local json = require("stepflow.json")

local function types(events)
  local out = {}
  for i, e in ipairs(events) do out[i] = e.type end
  return out
end

-- Handlers that count their calls by key, and fail while `broken[key]`.
local function counting()
  local calls, broken = {}, {}
  local function handler(key_of)
    return function(input)
      local key = key_of(input)
      calls[key] = (calls[key] or 0) + 1
      if broken[key] then error(stepflow.error("Broken", "broken " .. tostring(key)), 0) end
      return input
    end
  end
  return calls, broken, handler
end

-- Lets virtual time pass: a timer `ms` ahead, and the loop run to it.
local function wait(engine, ms)
  engine.loop:timer(ms, function() end)
  engine:run()
end

describe("engine:redrive_execution", function()
  local path, engine
  before_each(function() path = h.temp_store() end)
  after_each(function()
    if engine then engine:close() end
    engine = nil
    h.remove_store(path)
  end)

  local function new_engine(handlers, opts)
    opts = opts or {}
    engine = assert(stepflow.new({ store = path, virtual_time = true, handlers = handlers,
      history_limit = opts.history_limit }))
    return engine
  end

  it("runs a failed Task again, not the states that succeeded before it", function()
    local calls, broken, handler = counting()
    new_engine({ prep = handler(function() return "prep" end), work = handler(function() return "work" end) })
    local sm = assert(engine:create_state_machine({ StartAt = "Prep", States = {
      Prep = { Type = "Task", Resource = "prep", Next = "Work" },
      Work = { Type = "Task", Resource = "work", ResultPath = "$.done", End = true } } }, { name = "r1" }))
    broken.work = true
    local exec = assert(engine:start_execution(sm, { n = 1 }, { name = "e" }))
    engine:run()
    assert.same({ "FAILED", "Broken" }, { exec.status, exec.error })
    broken.work = nil
    local again = assert(engine:redrive_execution(exec.arn))
    engine:run()
    assert.equal("SUCCEEDED", again.status)
    assert.same({ prep = 1, work = 2 }, calls)
    local rec = engine:describe_execution(exec.arn)
    assert.same({ "SUCCEEDED", 1 }, { rec.status, rec.redrive_count })
    assert.same({ n = 1, done = { n = 1 } }, json.decode(rec.output))
    assert.is_number(rec.redrive_date)
    local events = engine:history(exec.arn)
    local t = types(events)
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
      "TaskStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed", "ExecutionFailed",
      "ExecutionRedriven", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
      "ExecutionSucceeded" }, t)
    -- ExecutionRedriven follows the failure; the rerun goes on from there
    assert.same({ 12, 11, { redriveCount = 1 } }, { events[12].id, events[12].previousEventId,
      events[12].executionRedrivenEventDetails })
    assert.equal(12, events[13].previousEventId)
    for i, e in ipairs(events) do assert.equal(i, e.id) end
  end)

  it("runs again only the failed branch of a Parallel and the failed iteration of a Map", function()
    local calls, broken, handler = counting()
    new_engine({ work = handler(function(x) return x.k end) })
    local sm = assert(engine:create_state_machine({ StartAt = "Both", States = {
      Both = { Type = "Parallel", Next = "Each", Branches = {
        { StartAt = "A", States = { A = { Type = "Task", Resource = "work", Parameters = { k = "a" }, End = true } } },
        { StartAt = "B", States = { B = { Type = "Task", Resource = "work", Parameters = { k = "b" }, End = true } } },
      } },
      Each = { Type = "Map", ItemsPath = "$[0].items", ItemSelector = { ["k.$"] = "$$.Map.Item.Value" },
        ItemProcessor = { StartAt = "T", States = { T = { Type = "Task", Resource = "work", End = true } } },
        End = true } } }, { name = "r2" }))
    broken.b = true
    local exec = assert(engine:start_execution(sm, {}, { name = "e" }))
    engine:run()
    assert.equal("FAILED", exec.status)
    assert.same({ a = 1, b = 1 }, calls)
    broken.b = nil
    assert(engine:redrive_execution(exec.arn))
    engine:run()
    assert.equal("FAILED", engine:describe_execution(exec.arn).status)  -- $[0].items is missing
    assert.same({ a = 1, b = 2 }, calls)

    -- a Map: only its failed iteration runs again
    local sm2 = assert(engine:create_state_machine({ StartAt = "Each", States = {
      Each = { Type = "Map", ItemSelector = { ["k.$"] = "$$.Map.Item.Value" },
        ItemProcessor = { StartAt = "T", States = { T = { Type = "Task", Resource = "work", End = true } } },
        End = true } } }, { name = "r3" }))
    broken.y = true
    local e2 = assert(engine:start_execution(sm2, json.array({ "x", "y", "z" }), { name = "m" }))
    engine:run()
    assert.equal("FAILED", e2.status)
    broken.y = nil
    assert(engine:redrive_execution(e2.arn))
    engine:run()
    local rec = engine:describe_execution(e2.arn)
    assert.same({ "SUCCEEDED", '[{"k":"x"},{"k":"y"},{"k":"z"}]' }, { rec.status, rec.output })
    assert.same({ 1, 2 }, { calls.x, calls.y })
    assert.is_true(calls.z <= 1)
  end)

  it("finds a retried Parallel's last attempt again, and redrives more than once", function()
    local calls, broken, handler = counting()
    new_engine({ work = handler(function(x) return x.k end) })
    local sm = assert(engine:create_state_machine({ StartAt = "Both", States = {
      Both = { Type = "Parallel", End = true,
        Retry = { { ErrorEquals = { "Broken" }, MaxAttempts = 1, IntervalSeconds = 1 } },
        Branches = {
          { StartAt = "A", States = { A = { Type = "Task", Resource = "work", Parameters = { k = "a" }, End = true } } },
          { StartAt = "B", States = { B = { Type = "Task", Resource = "work", Parameters = { k = "b" }, End = true } } },
        } } } }, { name = "r4" }))
    broken.b = true
    local exec = assert(engine:start_execution(sm, {}, { name = "e" }))
    engine:run()
    assert.equal("FAILED", exec.status)
    assert.same({ a = 2, b = 2 }, calls)  -- two attempts
    assert(engine:redrive_execution(exec.arn))
    engine:run()
    -- the last attempt's branch A succeeded: only B runs; its retrier
    -- counts again from 0, and its new attempt runs both branches
    assert.same({ a = 3, b = 4 }, calls)
    local rec = engine:describe_execution(exec.arn)
    assert.same({ "FAILED", 1 }, { rec.status, rec.redrive_count })
    broken.b = nil
    assert(engine:redrive_execution(exec.arn))
    engine:run()
    rec = engine:describe_execution(exec.arn)
    assert.same({ "SUCCEEDED", 2, '[{"k":"a"},{"k":"b"}]' }, { rec.status, rec.redrive_count, rec.output })
    assert.same({ a = 3, b = 5 }, calls)
    local redriven = {}
    for _, e in ipairs(engine:history(exec.arn)) do
      if e.type == "ExecutionRedriven" then redriven[#redriven + 1] = e.executionRedrivenEventDetails.redriveCount end
    end
    assert.same({ 1, 2 }, redriven)
  end)

  it("gives $$.Execution its RedriveCount and RedriveTime, and restarts TimeoutSeconds", function()
    local _, broken, handler = counting()
    new_engine({ work = handler(function() return "w" end) })
    local sm = assert(engine:create_state_machine({ StartAt = "Work", TimeoutSeconds = 60, States = {
      Work = { Type = "Task", Resource = "work", Parameters = { ["exec.$"] = "$$.Execution" }, End = true } } },
      { name = "r5" }))
    broken.w = true
    local exec = assert(engine:start_execution(sm, {}, { name = "e" }))
    engine:run()
    assert.equal("FAILED", exec.status)
    wait(engine, 3600 * 1000)  -- an hour later: past the 60 s of the first run
    broken.w = nil
    local again = assert(engine:redrive_execution(exec.arn))
    engine:run()
    assert.equal("SUCCEEDED", again.status)
    local out = json.decode(engine:describe_execution(exec.arn).output).exec
    assert.equal(1, out.RedriveCount)
    assert.equal(require("stepflow.asl.timestamp").format(engine:describe_execution(exec.arn).redrive_date),
      out.RedriveTime)
  end)

  it("goes on after a crash during the redrive, without running the old failure again", function()
    local calls = {}
    engine = assert(stepflow.new({ store = path, handlers = {
      work = function(x, ctx)
        calls[#calls + 1] = x.try
        if x.try == 0 then error(stepflow.error("Broken", "first"), 0) end
        return ctx.await(function() end)  -- the redrive's run waits: then the "crash"
      end } }))
    local sm = assert(engine:create_state_machine({ StartAt = "Prep", States = {
      Prep = { Type = "Pass", Next = "Work" },
      Work = { Type = "Task", Resource = "work", Parameters = { ["try.$"] = "$$.Execution.RedriveCount" },
        End = true } } }, { name = "r6" }))
    local exec = assert(engine:start_execution(sm, {}, { name = "e" }))
    engine:run()
    assert.equal("FAILED", exec.status)
    assert(engine:redrive_execution(exec.arn))
    engine:run()
    assert.same({ 0, 1 }, calls)
    assert.equal("RUNNING", engine:describe_execution(exec.arn).status)
    engine:close()
    engine = assert(stepflow.new({ store = path, virtual_time = true,
      handlers = { work = function(x) calls[#calls + 1] = x.try; return "done" end } }))
    assert.equal(1, (engine:recover()))
    engine:run()
    local rec = engine:describe_execution(exec.arn)
    assert.same({ "SUCCEEDED", '"done"', 1 }, { rec.status, rec.output, rec.redrive_count })
    assert.same({ 0, 1, 1 }, calls)
    local t = types(engine:history(exec.arn))
    assert.same({ "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "TaskScheduled",
      "TaskStarted", "TaskFailed", "ExecutionFailed", "ExecutionRedriven", "TaskScheduled", "TaskStarted",
      "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded" }, t)
  end)

  for _, child_type in ipairs({ "STANDARD", "EXPRESS" }) do
    it("redrives a Distributed Map's failed run: only its unsuccessful " .. child_type .. " children run", function()
      local calls, broken, handler = counting()
      new_engine({ work = handler(function(x) return x end) })
      local sm = assert(engine:create_state_machine({ StartAt = "M", States = { M = { Type = "Map",
        Label = "each", MaxConcurrency = 1, End = true, ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED",
          ExecutionType = child_type }, StartAt = "T", States = { T = { Type = "Task", Resource = "work",
            End = true } } } } } }, { name = "dm" .. child_type }))
      broken[3] = true
      local exec = assert(engine:start_execution(sm, json.array({ 1, 2, 3, 4 }), { name = "e" }))
      engine:run()
      assert.same({ "FAILED", "States.ExceedToleratedFailureThreshold" }, { exec.status, exec.error })
      assert.same({ [1] = 1, [2] = 1, [3] = 1 }, calls)
      local run = engine:list_map_runs(exec.arn)[1].mapRunArn
      broken[3] = nil
      assert(engine:redrive_execution(exec.arn))
      engine:run()
      local rec = engine:describe_execution(exec.arn)
      assert.same({ "SUCCEEDED", "[1,2,3,4]" }, { rec.status, rec.output })
      assert.same({ [1] = 1, [2] = 1, [3] = 2, [4] = 1 }, calls)
      -- the same run, redriven
      local runs = engine:list_map_runs(exec.arn)
      assert.same({ 1, run }, { #runs, runs[1].mapRunArn })
      local d = engine:describe_map_run(run)
      assert.same({ "SUCCEEDED", 1 }, { d.status, d.redriveCount })
      local redriven, started = nil, 0
      for _, e in ipairs(engine:history(exec.arn)) do
        if e.type == "MapRunRedriven" then redriven = e.mapRunRedrivenEventDetails end
        if e.type == "MapRunStarted" then started = started + 1 end
      end
      assert.same({ { mapRunArn = run, redriveCount = 1 }, 1 }, { redriven, started })
      -- the failed child itself was redriven
      local child = engine:describe_execution(child_type == "EXPRESS"
        and (exec.arn:gsub(":execution:[^:]+:[^:]+$", ":express:dm" .. child_type .. "/each:")
          .. run:match(":([^:]+)$") .. "-3")
        or (exec.arn:gsub(":execution:[^:]+:[^:]+$", ":execution:dm" .. child_type .. "/each:")
          .. run:match(":([^:]+)$") .. "-3"))
      assert.same({ "SUCCEEDED", 1 }, { child.status, child.redrive_count })
    end)
  end

  it("schedules a timed-out activity task again for a worker", function()
    local act = "arn:aws:states:us-east-1:123456789012:activity:approve"
    new_engine({})
    local sm = assert(engine:create_state_machine({ StartAt = "A", States = {
      A = { Type = "Task", Resource = act, TimeoutSeconds = 30, End = true } } }, { name = "act" }))
    local exec = assert(engine:start_execution(sm, { n = 1 }, { name = "e" }))
    engine:run()
    assert(engine:get_activity_task(act, "slow"))
    engine:run()
    assert.same({ "FAILED", "States.Timeout" }, { engine:describe_execution(exec.arn).status,
      engine:describe_execution(exec.arn).error })
    assert(engine:redrive_execution(exec.arn))
    engine:run()
    local task = assert(engine:get_activity_task(act, "quick"))
    assert.equal('{"n":1}', task.input)
    assert(engine:send_task_success(task.taskToken, { ok = true }))
    engine:run()
    local rec = engine:describe_execution(exec.arn)
    assert.same({ "SUCCEEDED", '{"ok":true}' }, { rec.status, json.encode(json.decode(rec.output)) })
    local t = types(engine:history(exec.arn))
    assert.same({ "ExecutionRedriven", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
      "ExecutionSucceeded" }, { table.unpack(t, #t - 5) })
  end)

  it("refuses what AWS refuses, with its reasons", function()
    local _, broken, handler = counting()
    new_engine({ work = handler(function() return "w" end) }, { history_limit = 10 })
    local sm = assert(engine:create_state_machine({ StartAt = "W", States = {
      W = { Type = "Task", Resource = "work", End = true } } }, { name = "r7" }))
    local ok = assert(engine:start_execution(sm, {}, { name = "ok" }))
    local long = assert(engine:create_state_machine({ StartAt = "W", States = {
      W = { Type = "Wait", Seconds = 100, End = true } } }, { name = "r8" }))
    local running = assert(engine:start_execution(long, {}, { name = "run" }))
    engine.loop:step()
    assert.same({ nil, "ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven" },
      { engine:redrive_execution(running.arn) })
    engine:run()
    assert.same({ nil, "ExecutionNotRedrivable", "Execution is SUCCEEDED and cannot be redriven" },
      { engine:redrive_execution(ok.arn) })
    assert.same({ false, "Execution is SUCCEEDED and cannot be redriven" },
      { engine:redrivable(engine:describe_execution(ok.arn)) })
    local code, why = select(2, engine:redrive_execution(ok.arn .. "x"))
    assert.same({ "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. ok.arn .. "x'" }, { code, why })
    -- a failure 15 days ago is past the redrivable period
    broken.w = true
    local old = assert(engine:start_execution(sm, {}, { name = "old" }))
    engine:run()
    assert.is_true((engine:redrivable(engine:describe_execution(old.arn))))
    wait(engine, 15 * 24 * 3600 * 1000)
    assert.same({ nil, "ExecutionNotRedrivable", "Execution redrivable period exceeded" },
      { engine:redrive_execution(old.arn) })
    -- the history's limit: no room for ExecutionRedriven and one more event
    local retried = assert(engine:create_state_machine({ StartAt = "W", States = {
      W = { Type = "Task", Resource = "work", End = true,
        Retry = { { ErrorEquals = { "Broken" }, MaxAttempts = 1, IntervalSeconds = 1 } } } } }, { name = "r9" }))
    local full = assert(engine:start_execution(retried, {}, { name = "full" }))
    engine:run()
    assert.equal(9, #engine:history(full.arn))
    assert.same({ nil, "ExecutionNotRedrivable", "Execution history event limit exceeded" },
      { engine:redrive_execution(full.arn) })
  end)
end)
