-- Specs for the benchmark harness: bench/common.lua (JSON-value comparison,
-- handlers), bench/worker.lua (one trial, one JSON line) and bench/run
-- (--json lines, output checks, -k filter) on a tiny workload folder.
local json = require("stepflow.json")

local function common()
  return dofile("bench/common.lua")
end

local function write(path, text)
  local fh = assert(io.open(path, "wb"))
  fh:write(text)
  fh:close()
end

-- A workloads folder with one tiny workload; `expected` is its expected
-- output text.
local function make_workloads(expected)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/tiny'"))
  write(dir .. "/tiny/definition.asl.json", [[{
    "StartAt": "Add",
    "States": {
      "Add": { "Type": "Pass", "Parameters": { "n.$": "States.MathAdd($.n, 1)" }, "Next": "Inc" },
      "Inc": { "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:bench-increment",
        "InputPath": "$.n", "ResultPath": "$.n", "End": true }
    }
  }]])
  write(dir .. "/tiny/input.json", '{"n": 1}')
  write(dir .. "/tiny/expected_output.json", expected)
  write(dir .. "/tiny/workload.json", [[{
    "name": "tiny",
    "handlers": { "arn:aws:lambda:us-east-1:123456789012:function:bench-increment": "bench-increment" },
    "transitions_per_execution": 2, "executions_per_trial": 3 }]])
  return dir
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function json_lines(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then rows[#rows + 1] = json.decode(line) end
  end
  return rows
end

describe("bench.common", function()
  describe("json_equal", function()
    it("compares integers and floats by value", function()
      local c = common()
      assert.is_true(c.json_equal({ n = 2 }, { n = 2.0 }))
      assert.is_false(c.json_equal({ n = 2 }, { n = 2.5 }))
    end)

    it("ignores object key order and names the first difference", function()
      local c = common()
      assert.is_true(c.json_equal(json.decode('{"a":1,"b":[1,2]}'), json.decode('{"b":[1,2],"a":1}')))
      local ok, where = c.json_equal(json.decode('{"a":{"b":[1,2]}}'), json.decode('{"a":{"b":[1,3]}}'))
      assert.is_false(ok)
      assert.are.equal("$.a.b[1]", where)
    end)

    it("tells an empty array from an empty object and a missing key from null", function()
      local c = common()
      assert.is_false(c.json_equal(json.decode("[]"), json.decode("{}")))
      assert.is_false(c.json_equal(json.decode('{"a":null}'), json.decode("{}")))
      assert.is_false(c.json_equal(json.decode("{}"), json.decode('{"a":null}')))
    end)
  end)

  describe("handlers_for", function()
    it("gives the workload's handlers under their Lambda function names", function()
      local c = common()
      local h = c.handlers_for({ handlers = { ["arn:x:function:bench-double"] = "bench-double",
        ["arn:x:function:bench-increment"] = "bench-increment" } })
      assert.are.same({ i = 3, n = 8 }, h["bench-double"]({ i = 3, n = 4 }))
      assert.are.equal(6, h["bench-increment"](5))
    end)
  end)
end)

describe("bench.worker", function()
  it("runs a trial and prints one JSON line with the figures", function()
    local dir = make_workloads('{"n": 3}')
    local out = run("STEPFLOW_BENCH_WORKLOADS='" .. dir .. "' lua5.4 bench/worker.lua tiny")
    local r = json_lines(out)[1]
    assert.are.equal("tiny", r.workload)
    assert.are.equal("sequential", r.mode)
    assert.are.equal(3, r.executions)
    assert.are.equal(6, r.transitions)
    assert.is_true(r.transitions_ok)
    assert.is_true(r.outputs_ok)
    assert.is_true(r.peak_rss_kb > 0)
    assert.is_true(r.transitions_per_s > 0)
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("reports a wrong output with the execution and the place", function()
    local dir = make_workloads('{"n": 4}')
    local out = run("STEPFLOW_BENCH_WORKLOADS='" .. dir .. "' lua5.4 bench/worker.lua tiny burst")
    local r = json_lines(out)[1]
    assert.are.equal("burst", r.mode)
    assert.is_false(r.outputs_ok)
    assert.are.equal("execution 1: output differs at $.n", r.mismatch)
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("bench.run", function()
  it("prints one JSON object per scenario with median fields and exits 0 when outputs match", function()
    local dir = make_workloads('{"n": 3}')
    local out, ok = run("STEPFLOW_BENCH_WORKLOADS='" .. dir .. "' bench/run --json --trials 2 -k tiny")
    local rows = json_lines(out)
    assert.are.equal(1, #rows)
    local r = rows[1]
    assert.are.equal("tiny", r.workload)
    assert.are.equal(2, r.trials)
    assert.is_true(r.outputs_ok)
    assert.is_true(r.transitions_per_s_min <= r.transitions_per_s)
    assert.is_true(r.transitions_per_s <= r.transitions_per_s_max)
    assert.is_number(r.executions_per_s)
    assert.is_number(r.peak_rss_kb)
    assert.is_true(ok)
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("exits non-zero when an output is wrong", function()
    local dir = make_workloads('{"n": 99}')
    local out, ok = run("STEPFLOW_BENCH_WORKLOADS='" .. dir .. "' bench/run --quick -k tiny")
    assert.is_falsy(ok)
    assert.is_truthy(out:find("WRONG", 1, true))
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("says what is missing when the workloads folder is absent", function()
    local missing = "/nonexistent-workloads"
    for _, cmd in ipairs({ "bench/run --quick", "lua5.4 bench/durable.lua --quick" }) do
      local out, ok = run("STEPFLOW_BENCH_WORKLOADS=" .. missing .. " " .. cmd)
      assert.is_falsy(ok)
      assert.matches("bench: missing: " .. missing .. " (the benchmarks run the shared workloads, "
        .. "from ../shared beside the clone", out, 1, true)
    end
  end)

  it("refuses a -k that matches nothing", function()
    local _, ok = run("bench/run --quick -k no-such-workload")
    assert.is_falsy(ok)
  end)
end)
