-- Answers to task tokens left in a store by another process
-- (stepflow.integrations.answers): applied by the engine that resumes the
-- execution, in Parallel branches too, or by the engine that runs the
-- store; dropped once their execution has ended.
local stepflow = require("stepflow")
local store = require("stepflow.store")
local answers = require("stepflow.integrations.answers")

local ACT = "arn:aws:states:us-east-1:123456789012:activity:approve"

local function parallel()
  return { StartAt = "P", States = { P = { Type = "Parallel", End = true, Branches = {
    { StartAt = "A", States = { A = { Type = "Task", Resource = ACT, End = true } } },
    { StartAt = "B", States = { B = { Type = "Task", Resource = "ask.waitForTaskToken",
      Parameters = { ["t.$"] = "$$.Task.Token" }, End = true } } } } } } }
end

local HANDLERS = { ask = function() end }

describe("stepflow.integrations.answers", function()
  local path
  before_each(function()
    path = os.tmpname()
    os.remove(path)
    path = path .. ".db"
  end)
  after_each(function()
    for _, s in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. s) end
  end)

  -- An execution of parallel() left waiting in the store: its ARN and
  -- waiting tasks.
  local function waiting_execution()
    local e = assert(stepflow.new({ store = path, handlers = HANDLERS, virtual_time = true }))
    local sm = assert(e:create_state_machine(parallel(), { name = "m" }))
    local exec = assert(e:start_execution(sm, { n = 1 }, { name = "x" }))
    e:run()
    local waiting = e:waiting_tasks(exec.arn)
    e:close()
    return exec.arn, waiting
  end

  it("tells whether a token's task still waits in a stored history", function()
    local arn, waiting = waiting_execution()
    local s = assert(store.open(path, { read_only = true }))
    local events = s:history(arn)
    s:close()
    assert.equal(2, #waiting)
    for _, w in ipairs(waiting) do assert.equal("waiting", answers.task_state(events, w.token)) end
    assert.is_nil(answers.task_state(events, "other"))
  end)

  it("applies answers when an engine resumes the execution, in every branch", function()
    local arn, waiting = waiting_execution()
    local s = assert(store.open(path))
    for _, w in ipairs(waiting) do assert(answers.record(s, w.token, { success = { kind = w.kind } })) end
    assert(s:commit())
    s:close()
    local e = assert(stepflow.new({ store = path, handlers = HANDLERS, virtual_time = true }))
    assert.equal(1, e:recover())
    e:run()
    local rec = e.store:get_execution(arn)
    assert.same({ "SUCCEEDED", '[{"kind":"activity"},{"kind":"callback"}]' }, { rec.status, rec.output })
    assert.same({}, e.store:resources(answers.KIND))
    e:close()
  end)

  it("applies a failure, and drops answers whose execution has ended", function()
    local arn, waiting = waiting_execution()
    local s = assert(store.open(path))
    assert(answers.record(s, waiting[1].token, { failure = { error = "No", cause = "refused" } }))
    assert(s:commit())
    s:close()
    local e = assert(stepflow.new({ store = path, handlers = HANDLERS, virtual_time = true }))
    e:recover()
    e:run()
    local rec = e.store:get_execution(arn)
    assert.same({ "FAILED", "No" }, { rec.status, rec.error })
    -- an answer left for the ended execution is dropped at the next read
    assert(answers.record(e.store, waiting[2].token, { heartbeat = true }))
    answers.load(e)
    e:run()
    assert.same({}, e.store:resources(answers.KIND))
    e:close()
  end)
end)
