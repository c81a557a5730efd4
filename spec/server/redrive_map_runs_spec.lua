-- Specs of the server's RedriveExecution (and the redrive fields of
-- DescribeExecution and ListExecutions) and of its Map Run operations
-- (DescribeMapRun, ListMapRuns, UpdateMapRun, ListExecutions with a
-- mapRunArn).
local helper = require("server.api_helper")
local stepflow = require("stepflow")
local json = require("stepflow.json")

local SM = helper.SM

describe("stepflow.server RedriveExecution", function()
  local api, broken
  before_each(function()
    broken = true
    api = helper.start({ handlers = { work = function(x)
      if broken then error(stepflow.error("Broken", "not yet"), 0) end
      return x
    end } })
  end)
  after_each(function() api.close() end)

  it("runs a failed execution again; DescribeExecution and ListExecutions show the redrive", function()
    api.create("r", '{"StartAt":"W","States":{"W":{"Type":"Task","Resource":"work","End":true}}}')
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "r", input = '{"a":1}' })
    local other = api.ok("StartExecution", { stateMachineArn = SM .. "r" })
    assert.is_true(api.status(e.executionArn, "FAILED"))
    assert.is_true(api.status(other.executionArn, "FAILED"))
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ 0, "REDRIVABLE" }, { d.redriveCount, d.redriveStatus })
    assert.is_nil(d.redriveStatusReason)
    broken = false
    local r = api.ok("RedriveExecution", { executionArn = e.executionArn, clientToken = "tok-1" })
    assert.is_number(r.redriveDate)
    -- the same client token again: the same redrive
    assert.same(r, api.ok("RedriveExecution", { executionArn = e.executionArn, clientToken = "tok-1" }))
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ '{"a":1}', 1, r.redriveDate, "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven" },
      { d.output, d.redriveCount, d.redriveDate, d.redriveStatus, d.redriveStatusReason })
    local redriven = api.ok("ListExecutions", { stateMachineArn = SM .. "r", redriveFilter = "REDRIVEN" }).executions
    assert.same({ e.executionArn, 1, r.redriveDate }, { redriven[1].executionArn, redriven[1].redriveCount,
      redriven[1].redriveDate })
    assert.equal(1, #redriven)
    local not_redriven = api.ok("ListExecutions", { stateMachineArn = SM .. "r", redriveFilter = "NOT_REDRIVEN" })
    assert.same({ other.executionArn }, { not_redriven.executions[1].executionArn })
    local types = {}
    for i, ev in ipairs(api.ok("GetExecutionHistory", { executionArn = e.executionArn }).events) do
      types[i] = ev.type
      if ev.type == "ExecutionRedriven" then assert.same({ redriveCount = 1 }, ev.executionRedrivenEventDetails) end
    end
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
      "ExecutionFailed", "ExecutionRedriven", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
      "ExecutionSucceeded" }, types)
  end)

  it("refuses what cannot be redriven with AWS's codes", function()
    api.create("ok", helper.PASS)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "ok" })
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    assert.same({ 400, "ExecutionNotRedrivable", "Execution is SUCCEEDED and cannot be redriven" },
      { api.err("RedriveExecution", { executionArn = e.executionArn }) })
    assert.same({ 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. e.executionArn .. "x'" },
      { api.err("RedriveExecution", { executionArn = e.executionArn .. "x" }) })
    assert.equal("InvalidArn", select(2, api.err("RedriveExecution", { executionArn = SM .. "ok" })))
    assert.equal("InvalidArn", select(2, api.err("RedriveExecution",
      { executionArn = "arn:aws:states:us-east-1:123456789012:express:ok:a:b" })))
    assert.equal("ValidationException", select(2, api.err("ListExecutions",
      { stateMachineArn = SM .. "ok", statusFilter = "PENDING_REDRIVE" })))
  end)
end)

describe("stepflow.server Map Runs", function()
  local api, release
  before_each(function()
    release = {}
    api = helper.start({ handlers = { hold = function(x, ctx)
      if not x.wait then return x end
      return ctx.await(function(resume) release[#release + 1] = resume end)
    end } })
  end)
  after_each(function() api.close() end)

  local DMAP = json.encode({ StartAt = "M", States = { M = { Type = "Map", Label = "each", MaxConcurrency = 2,
    ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "T",
      States = { T = { Type = "Task", Resource = "hold", End = true } } }, End = true } } })

  it("describes and lists a finished Map Run and its children", function()
    api.create("dm", DMAP)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "dm", input = '[{"i":1},{"i":2},{"i":3}]' })
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    local runs = api.ok("ListMapRuns", { executionArn = e.executionArn }).mapRuns
    assert.equal(1, #runs)
    local run = runs[1]
    assert.matches("^arn:aws:states:us%-east%-1:123456789012:mapRun:dm/each:", run.mapRunArn)
    assert.same({ e.executionArn, SM .. "dm/each" }, { run.executionArn, run.stateMachineArn })
    assert.is_number(run.startDate)
    assert.is_number(run.stopDate)
    local d = api.ok("DescribeMapRun", { mapRunArn = run.mapRunArn })
    assert.same({ "SUCCEEDED", 2, 3, 3 }, { d.status, d.maxConcurrency, d.executionCounts.succeeded,
      d.itemCounts.total })
    local children = api.ok("ListExecutions", { mapRunArn = run.mapRunArn })
    assert.equal(3, #children.executions)
    for _, c in ipairs(children.executions) do
      assert.same({ run.mapRunArn, 1, "SUCCEEDED", SM .. "dm/each" }, { c.mapRunArn, c.itemCount, c.status,
        c.stateMachineArn })
      assert.matches(":execution:dm/each:", c.executionArn)
      local cd = api.ok("DescribeExecution", { executionArn = c.executionArn })
      assert.equal(run.mapRunArn, cd.mapRunArn)
    end
    local p1 = api.ok("ListExecutions", { mapRunArn = run.mapRunArn, maxResults = 2 })
    local p2 = api.ok("ListExecutions", { mapRunArn = run.mapRunArn, maxResults = 2, nextToken = p1.nextToken })
    assert.same({ 2, 1 }, { #p1.executions, #p2.executions })
    assert.same({}, api.ok("ListExecutions", { mapRunArn = run.mapRunArn, statusFilter = "FAILED" }).executions)
    assert.same({ 400, "ValidationException", "Map Run " .. run.mapRunArn
      .. " is not running (CANNOT_UPDATE_COMPLETED_MAP_RUN)" },
      { api.err("UpdateMapRun", { mapRunArn = run.mapRunArn, maxConcurrency = 5 }) })
  end)

  it("updates a running Map Run", function()
    api.create("dm", DMAP)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "dm",
      input = '[{"wait":1},{"wait":1},{"wait":1},{"wait":1}]' })
    assert.is_true(api.until_true(function() return #release == 2 end))
    local run = api.ok("ListMapRuns", { executionArn = e.executionArn }).mapRuns[1].mapRunArn
    local d = api.ok("DescribeMapRun", { mapRunArn = run })
    assert.same({ "RUNNING", 2, 2 }, { d.status, d.executionCounts.running, d.itemCounts.total })
    assert.same({}, api.ok("UpdateMapRun", { mapRunArn = run, maxConcurrency = 4, toleratedFailureCount = 1 }))
    assert.is_true(api.until_true(function() return #release == 4 end))
    d = api.ok("DescribeMapRun", { mapRunArn = run })
    assert.same({ 4, 1, 4 }, { d.maxConcurrency, d.toleratedFailureCount, d.executionCounts.running })
    assert.equal(4, #api.ok("ListExecutions", { mapRunArn = run, statusFilter = "RUNNING" }).executions)
    for _, resume in ipairs(release) do resume("done") end
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    assert.equal("ValidationException", select(2, api.err("UpdateMapRun", { mapRunArn = run })))
  end)

  it("answers AWS's errors for unknown runs and executions", function()
    local unknown = "arn:aws:states:us-east-1:123456789012:mapRun:dm/each:00000000-0000-4000-8000-000000000000"
    assert.same({ 400, "ResourceNotFound", "Resource not found: '" .. unknown .. "'" },
      { api.err("DescribeMapRun", { mapRunArn = unknown }) })
    assert.equal("ResourceNotFound", select(2, api.err("UpdateMapRun", { mapRunArn = unknown, maxConcurrency = 1 })))
    assert.equal("ResourceNotFound", select(2, api.err("ListExecutions", { mapRunArn = unknown })))
    assert.equal("InvalidArn", select(2, api.err("DescribeMapRun", { mapRunArn = SM .. "dm" })))
    assert.equal("ExecutionDoesNotExist", select(2, api.err("ListMapRuns",
      { executionArn = helper.EXEC .. "dm:none" })))
    assert.equal("InvalidArn", select(2, api.err("ListMapRuns", { executionArn = SM .. "dm" })))
    assert.equal("ValidationException", select(2, api.err("ListExecutions",
      { mapRunArn = unknown, stateMachineArn = SM .. "dm" })))
  end)
end)
