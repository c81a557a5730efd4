-- The crash test (tools/crash_test) of durable STANDARD executions: its
-- checks on hand-altered histories and invocation logs, a short run of the
-- real engine (bin/stepflow) killed 3 times under 24 executions, and, with
-- the tag #full (`make test-all`, CI; they take about 30 s of real time),
-- the whole harness against a fake engine that forgets progress at a kill
-- and the real engine killed 20 times under 200 executions.
package.path = "./tools/?.lua;" .. package.path

local json = require("stepflow.json")
local stepflow = require("stepflow")
local oracle = require("crash.oracle")
local checks = require("crash.checks")
local aws_history = require("crash.aws_history")

-- Runs tools/crash_test with arguments; returns its exit status and output.
local function crash_test(args)
  local p = io.popen("tools/crash_test " .. args .. " 2>&1", "r")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

local function last_line(out)
  return out:match("([^\n]*)\n?$")
end

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local s = fh:read("a")
  fh:close()
  return s
end

-- The history of an uninterrupted in-memory execution, as `stepflow
-- history --json` prints it, and the oracle's expectation.
local function history_of(kind, input_text)
  local engine = stepflow.new({ history = true, virtual_time = true })
  assert(engine:load_handlers("tools/crash/handlers.lua"))
  local sm = assert(engine:create_state_machine(read("tools/crash/defs/" .. kind .. ".asl.json")))
  local name = "crash-" .. kind .. "-0001"
  local exec = engine:start_execution(sm, json.decode(input_text), { name = name })
  engine:run()
  assert.are.equal("SUCCEEDED", exec.status)
  local events = {}
  for i, ev in ipairs(aws_history.events(exec.history)) do events[i] = json.decode(json.encode(ev)) end
  return name, events, oracle.expect(kind, json.decode(input_text))
end

local function find(events, pred)
  for _, ev in ipairs(events) do
    if pred(ev, checks.details_of(ev)) then return ev end
  end
end

local function params(ev)
  local d = checks.details_of(ev)
  return d and d.parameters and json.decode(d.parameters)
end

-- The TaskScheduled event of an attempt.
local function scheduled(events, st, tag, rc)
  return find(events, function(ev)
    local p = ev.type == "TaskScheduled" and params(ev)
    return p and p.st == st and p.tag == tag and p.rc == rc
  end)
end

local function has(problems, text)
  for _, p in ipairs(problems) do
    if p:find(text, 1, true) then return true end
  end
  return false
end

local FANOUT = '{"items":[{"x":2,"fail":1,"w":1},{"x":3,"fail":0,"w":0}],"f":0,"d":0.01}'

describe("crash_test #crash", function()
  describe("oracle.expect", function()
    it("follows the loop, the retries and the Catch of the loop definition", function()
      local exp = oracle.expect("loop", json.decode('{"v":1,"i":0,"n":2,"f":[1,0,3],"d":0,"w":0}'))
      assert.are.equal('{"i":2,"recovered":"Crash.Flaky","v":16}', checks.canon(exp.output))
      assert.are.equal(2 + 2 + 3, #exp.attempts)
      assert.are.same({ AddThree = 1, Pause = 1, Loop = 3, Double = 2, AddOne = 1, Recover = 1 }, exp.entered)
      assert.are.equal(4, exp.counts.TaskFailed)
    end)
  end)

  describe("checks.history", function()
    it("accepts the history of an uninterrupted execution", function()
      for _, case in ipairs({
        { "fanout", FANOUT },
        { "loop", '{"v":-4,"i":0,"n":3,"f":[2,1,1],"d":0.02,"w":1}' },
        { "parallel", '{"v":7,"f":[1,0,2,1],"w":[1,0],"d":0}' },
        { "nested", '{"items":[4,-1],"f":[0,1],"d":0.03,"w":1}' },
      }) do
        local name, events, exp = history_of(case[1], case[2])
        assert.are.same({}, checks.history(name, events, exp))
      end
    end)

    it("reports a Map iteration whose end is recorded twice", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local first = find(events, function(ev) return ev.type == "MapIterationSucceeded" end)
      local second = find(events, function(ev) return ev.type == "MapIterationSucceeded" and ev ~= first end)
      second.mapIterationSucceededEventDetails.index = first.mapIterationSucceededEventDetails.index
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "MapIterationSucceeded Spread index " ..
        first.mapIterationSucceededEventDetails.index .. " recorded twice"), table.concat(problems, "\n"))
    end)

    it("reports a Map running more iterations at once than its MaxConcurrency", function()
      local input = '{"items":[{"x":1,"fail":0,"w":0},{"x":2,"fail":0,"w":0},{"x":3,"fail":0,"w":0},' ..
        '{"x":4,"fail":0,"w":0}],"f":0,"d":0}'
      local name, events, exp = history_of("fanout", input)
      assert.are.same({}, checks.history(name, events, exp))
      -- Move the fourth iteration's start before the first iteration's end.
      local function at(pred) for i, ev in ipairs(events) do if pred(ev) then return i end end end
      local start4 = at(function(ev) return ev.type == "MapIterationStarted" and ev.mapIterationStartedEventDetails.index == 3 end)
      local end1 = at(function(ev) return ev.type == "MapIterationSucceeded" end)
      assert.is_true(start4 > end1)
      events[start4].type, events[end1].type = events[end1].type, events[start4].type
      events[start4].mapIterationSucceededEventDetails, events[end1].mapIterationStartedEventDetails =
        events[end1].mapIterationSucceededEventDetails, events[start4].mapIterationStartedEventDetails
      events[start4].mapIterationStartedEventDetails, events[end1].mapIterationSucceededEventDetails = nil, nil
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "Spread runs 4 iterations at event " .. end1 .. ", more than its MaxConcurrency 3"),
        table.concat(problems, "\n"))
    end)

    it("reports a retry scheduled before its interval has passed", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local retry = scheduled(events, "Square", "/m0", 1)
      local failed = events[events[retry.previousEventId].id]
      assert.are.equal("TaskFailed", failed.type)
      retry.timestamp = failed.timestamp + 500
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "retry of Square|/m0|20|0 scheduled 500 ms after its failure"),
        table.concat(problems, "\n"))
    end)

    it("reports a retry whose previous event is not the failure", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local retry = scheduled(events, "Square", "/m0", 1)
      retry.previousEventId = events[retry.previousEventId].previousEventId
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "(TaskStarted), expected a TaskFailed or TaskStateEntered"),
        table.concat(problems, "\n"))
    end)

    it("reports a Wait that ended before its Seconds", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local exited = find(events, function(ev, d) return ev.type == "WaitStateExited" and events[ev.previousEventId]
        and json.decode(checks.details_of(events[ev.previousEventId]).input).w == 1 and d end)
      exited.timestamp = events[exited.previousEventId].timestamp + 10
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "lasted 10 ms, less than its 1 s"), table.concat(problems, "\n"))
    end)

    it("reports an event timestamped before the one recorded ahead of it", function()
      local name, events, exp = history_of("fanout", FANOUT)
      events[4].timestamp = events[3].timestamp - 7
      assert.is_true(has(checks.history(name, events, exp), "is timestamped 7 ms before event 3"))
    end)

    it("reports a state entered twice with the same input", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local function entered(idx)
        return find(events, function(ev, d)
          return ev.type == "WaitStateEntered" and json.decode(d.input).idx == idx
        end)
      end
      local e0, e1 = entered(0), entered(1)
      e1.stateEnteredEventDetails.input = e0.stateEnteredEventDetails.input
      assert.is_true(has(checks.history(name, events, exp), "WaitStateEntered Settle recorded twice with the same input " ..
        "(events " .. math.min(e0.id, e1.id) .. " and " .. math.max(e0.id, e1.id) .. ")"))
    end)

    it("reports a gap in event ids", function()
      local name, events, exp = history_of("fanout", FANOUT)
      events[5].id = 6
      assert.is_true(has(checks.history(name, events, exp), "event #5 has id 6"))
    end)

    it("reports a Task attempt scheduled twice and one never scheduled", function()
      local name, events, exp = history_of("fanout", FANOUT)
      local bump1 = scheduled(events, "Bump", "/m1", 0)
      local p = params(bump1)
      p.tag = "/m0"
      bump1.taskScheduledEventDetails.parameters = json.encode(p)
      local problems = checks.history(name, events, exp)
      assert.is_true(has(problems, "Task attempt Bump|/m0|21|0 scheduled 2 time(s)"), table.concat(problems, "\n"))
      assert.is_true(has(problems, "Task attempt Bump|/m1|21|0 scheduled 0 time(s)"), table.concat(problems, "\n"))
    end)

    it("reports an output other than the expected one", function()
      local name, events, exp = history_of("fanout", FANOUT)
      events[#events].executionSucceededEventDetails.output = '{"count":2,"total":0}'
      assert.is_true(has(checks.history(name, events, exp), 'ExecutionSucceeded output {"count":2,"total":0}'))
    end)
  end)

  describe("checks.executions", function()
    local expected = { a = { output = { v = 1 } }, b = { output = { v = 2 } } }
    local function rec(name, status, output)
      return { executionArn = "arn:" .. name, name = name, status = status, output = output,
        startDate = "2026-11-21T20:00:00.000Z", stopDate = "2026-11-21T20:00:01.000Z", stateMachineArn = "arn:sm" }
    end

    it("accepts each execution SUCCEEDED once with its output, as a value or JSON text", function()
      assert.are.same({}, checks.executions({ rec("a", "SUCCEEDED", { v = 1 }), rec("b", "SUCCEEDED", '{"v":2}') },
        expected))
    end)

    it("reports a missing, a repeated, a failed and a wrong execution", function()
      assert.are.same({
        "execution a: output {\"v\":3}, expected {\"v\":1}",
        "execution b is FAILED error=E",
        "executions: a listed 2 times (expected once)",
      }, checks.executions({ rec("a", "SUCCEEDED", { v = 3 }), rec("a", "SUCCEEDED", { v = 1 }),
        { executionArn = "x", name = "b", status = "FAILED", error = "E", startDate = 0, stateMachineArn = "s" } },
        expected))
      assert.are.same({ "executions: b listed 0 times (expected once)" },
        checks.executions({ rec("a", "SUCCEEDED", { v = 1 }) }, expected))
    end)
  end)

  describe("checks.log", function()
    local expected = { e = { attempts = {
      { st = "A", tag = "/", step = 1, rc = 0 }, { st = "B", tag = "/", step = 2, rc = 0 },
    } } }
    local function rec(pid, st, step, line)
      return { pid = pid, token = pid .. "." .. line, ex = "e", st = st, tag = "/", step = step, rc = 0, line = line,
        committed = "C" }
    end

    it("accepts a Task invoked again after a kill that caught it in flight", function()
      local problems, stats = checks.log({ rec("1", "A", 1, 1), rec("2", "A", 1, 2), rec("2", "B", 2, 3) },
        expected, { ["1"] = true })
      assert.are.same({}, problems)
      assert.are.equal(1, stats.repeated_keys)
    end)

    it("reports a Task invoked again after its process had moved past it", function()
      local problems = checks.log({ rec("1", "A", 1, 1), rec("1", "B", 2, 2), rec("2", "A", 1, 3), rec("2", "B", 2, 4) },
        expected, { ["1"] = true })
      assert.are.same({ "attempt e|A|/|1|0 (log line 1, killed pid 1) was complete, since e|B|/|2|0 ran " ..
        "after it (log line 2), yet it was invoked again" }, problems)
    end)

    it("reports a Task invoked again although its process was not killed", function()
      local problems = checks.log({ rec("1", "A", 1, 1), rec("2", "A", 1, 2), rec("2", "B", 2, 3) }, expected, {})
      assert.are.same({ "attempt e|A|/|1|0 invoked again after log line 1 although its process 1 was not killed" },
        problems)
    end)

    it("reports a Task never invoked", function()
      local problems = checks.log({ rec("1", "A", 1, 1) }, expected, {})
      assert.are.same({ "attempt e|B|/|2|0 was never invoked" }, problems)
    end)

    it("orders Tasks by step within a lineage and its enclosing lineages only", function()
      local inc = { ex = "e", st = "Inc", tag = "/m1/b0", step = 60, rc = 0 }
      assert.is_true(checks.successor(inc, { ex = "e", st = "Merge", tag = "/m1", step = 61, rc = 0 }))
      assert.is_false(checks.successor(inc, { ex = "e", st = "Merge", tag = "/m2", step = 61, rc = 0 }))
      assert.is_false(checks.successor({ ex = "e", st = "Inc", tag = "/m10/b0", step = 60, rc = 0 },
        { ex = "e", st = "Merge", tag = "/m1", step = 61, rc = 0 }))
      assert.is_true(checks.successor(inc, { ex = "e", st = "Inc", tag = "/m1/b0", step = 60, rc = 1 }))
      assert.is_false(checks.successor(inc, { ex = "e", st = "Neg", tag = "/m1/b1", step = 60, rc = 1 }))
    end)
  end)

  describe("against a fake engine #full", function()
    it("reports OK when no resume is killed", function()
      local code, out = crash_test("--stepflow tools/crash/fake_stepflow --executions 8 --kills 0 --seed 11")
      assert.are.equal("crash test: OK", last_line(out):match("^crash test: OK"), out)
      assert.are.equal(0, code)
    end)

    -- A failing run keeps its work folder for inspection: these specs give
    -- it one they remove.
    local function in_temp_dir(args)
      local dir = os.tmpname()
      os.remove(dir)
      local code, out = crash_test(args .. " --keep " .. dir)
      os.execute("rm -rf '" .. dir .. "'")
      return code, out
    end

    it("reports Tasks that ran again although their result was recorded", function()
      -- The fake starts every open execution again from the beginning after
      -- a kill, so Tasks completed before the kill run twice.
      local code, out = in_temp_dir("--stepflow tools/crash/fake_stepflow --executions 8 --kills 2 --seed 12")
      local line = last_line(out)
      assert.are.equal(1, code, out)
      assert.truthy(line:find("^crash test: FAILED: invocations: attempt crash%-"), out)
      assert.truthy(line:find("yet it was invoked again", 1, true), out)
    end)

    it("fails at the start step when the engine has no start command", function()
      local code, out = in_temp_dir("--stepflow /bin/false --executions 2 --kills 0 --seed 13")
      assert.are.equal(1, code)
      assert.truthy(last_line(out):find("^crash test: FAILED: start: stepflow start crash%-loop%-0001 exited 1"), out)
    end)
  end)

  it("leaves every execution SUCCEEDED exactly once after 3 kills, finishing in virtual time", function()
    local code, out = crash_test("--executions 24 --kills 3 --seed 20261204 --timeout 60 --delays 0.05-0.25 "
      .. "--virtual-finish")
    assert.are.equal("crash test: OK", last_line(out):match("^crash test: OK"), out)
    assert.are.equal(0, code)
  end)

  it("leaves every execution SUCCEEDED exactly once after 20 kills of the engine #full", function()
    local code, out = crash_test("--executions 200 --kills 20 --seed 20261121 --timeout 60")
    assert.are.equal("crash test: OK", last_line(out):match("^crash test: OK"), out)
    assert.are.equal(0, code)
  end)
end)
