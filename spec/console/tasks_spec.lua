-- stepflow.server.console_tasks: the tasks of a history that wait for a
-- task token or an activity worker, read from AWS-shaped events.
local tasks = require("stepflow.server.console_tasks")

local T = "2026-01-02T03:04:05.000Z"

-- An event: id, previousEventId, type, details (under the type's member).
local MEMBER = {
  TaskStateEntered = "stateEnteredEventDetails", TaskStateExited = "stateExitedEventDetails",
  TaskScheduled = "taskScheduledEventDetails", TaskStarted = "taskStartedEventDetails",
  TaskSubmitted = "taskSubmittedEventDetails", TaskSucceeded = "taskSucceededEventDetails",
  TaskFailed = "taskFailedEventDetails", ActivityScheduled = "activityScheduledEventDetails",
  ActivityStarted = "activityStartedEventDetails", ActivitySucceeded = "activitySucceededEventDetails",
  ParallelStateEntered = "stateEnteredEventDetails", ParallelStateStarted = false,
}
local function ev(id, prev, etype, details)
  local e = { id = id, previousEventId = prev, type = etype, timestamp = T }
  if MEMBER[etype] then e[MEMBER[etype]] = details or {} end
  return e
end

local LIVE = { ["tok-a"] = true, ["tok-b"] = true }
local function live(s) return LIVE[s] == true end

local function callback(id, prev, token)
  return ev(id, prev, "TaskScheduled", { resource = "ask.waitForTaskToken", resourceType = "lua",
    parameters = '{"who":"ada","nested":{"token":"' .. token .. '"}}', timeoutInSeconds = 60 })
end

describe("stepflow.server.console_tasks", function()
  it("finds a callback task that waits, with its state and the token its parameters hold", function()
    local out = tasks.waiting({
      ev(1, 0, "ExecutionStarted"),
      ev(2, 0, "TaskStateEntered", { name = "Ask" }),
      callback(3, 2, "tok-a"),
      ev(4, 3, "TaskStarted"),
      ev(5, 4, "TaskSubmitted"),
    }, live)
    assert.same({ { kind = "callback", stateName = "Ask", resource = "ask.waitForTaskToken", resourceType = "lua",
      input = '{"who":"ada","nested":{"token":"tok-a"}}', taskToken = "tok-a", scheduledDate = T,
      timeoutInSeconds = 60 } }, out)
  end)

  it("leaves out tasks that ended, tasks that do not wait for a token and tokens that no longer wait", function()
    local out = tasks.waiting({
      ev(2, 0, "TaskStateEntered", { name = "Done" }),
      callback(3, 2, "tok-a"),
      ev(4, 3, "TaskStarted"),
      ev(5, 4, "TaskSucceeded"),
      ev(6, 5, "TaskStateExited", { name = "Done" }),
      ev(7, 6, "TaskStateEntered", { name = "Plain" }),
      ev(8, 7, "TaskScheduled", { resource = "plain", resourceType = "lua", parameters = '"tok-b"' }),
      ev(9, 8, "TaskStarted"),
      ev(10, 0, "TaskStateEntered", { name = "Gone" }),
      callback(11, 10, "tok-gone"),
    }, live)
    assert.same({}, out)
  end)

  it("takes a retry's new attempt as the task that waits", function()
    local out = tasks.waiting({
      ev(2, 0, "TaskStateEntered", { name = "Ask" }),
      callback(3, 2, "tok-old"),
      ev(4, 3, "TaskStarted"),
      ev(5, 4, "TaskFailed"),
      callback(6, 5, "tok-a"),
      ev(7, 6, "TaskStarted"),
    }, function(s) return s == "tok-a" or s == "tok-old" end)
    assert.equal(1, #out)
    assert.equal("tok-a", out[1].taskToken)
    assert.equal("Ask", out[1].stateName)
  end)

  it("follows Parallel branches whose events interleave", function()
    local out = tasks.waiting({
      ev(2, 0, "ParallelStateEntered", { name = "Both" }),
      ev(3, 2, "ParallelStateStarted"),
      ev(4, 3, "TaskStateEntered", { name = "Left" }),
      ev(5, 3, "TaskStateEntered", { name = "Right" }),
      callback(6, 4, "tok-a"),
      callback(7, 5, "tok-b"),
      ev(8, 6, "TaskStarted"),
      ev(9, 7, "TaskStarted"),
      ev(10, 8, "TaskSucceeded"),
      ev(11, 10, "TaskStateExited", { name = "Left" }),
    }, live)
    assert.equal(1, #out)
    assert.equal("Right", out[1].stateName)
    assert.equal("tok-b", out[1].taskToken)
  end)

  it("lists activity tasks waiting for a worker or at one", function()
    local arn = "arn:aws:states:us-east-1:123456789012:activity:review"
    local out = tasks.waiting({
      ev(2, 0, "TaskStateEntered", { name = "Review" }),
      ev(3, 2, "ActivityScheduled", { resource = arn, input = '{"doc":1}', heartbeatInSeconds = 30 }),
      ev(4, 0, "TaskStateEntered", { name = "Review2" }),
      ev(5, 4, "ActivityScheduled", { resource = arn, input = '{"doc":2}' }),
      ev(6, 5, "ActivityStarted", { workerName = "w1" }),
      ev(7, 0, "TaskStateEntered", { name = "Review3" }),
      ev(8, 7, "ActivityScheduled", { resource = arn, input = "{}" }),
      ev(9, 8, "ActivityStarted", { workerName = "w2" }),
      ev(10, 9, "ActivitySucceeded"),
    }, live)
    assert.same({
      { kind = "activity", stateName = "Review", resource = arn, input = '{"doc":1}', scheduledDate = T,
        heartbeatInSeconds = 30 },
      { kind = "activity", stateName = "Review2", resource = arn, input = '{"doc":2}', scheduledDate = T,
        startedDate = T, workerName = "w1" },
    }, out)
  end)
end)
