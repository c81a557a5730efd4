-- `stepflow resume` (and `run --store` and `serve --store`, which resume
-- the store's open executions too) without the handlers that RUNNING executions need:
-- refuses to start (exit 2) naming the executions, states and handlers,
-- and leaves the store as it was; --allow-missing-handlers resumes anyway.
local json = require("stepflow.json")
local h = require("cli.helper")

describe("stepflow resume without the handlers RUNNING executions need", function()
  local dir, db, def, handlers, sf
  before_each(function()
    dir = h.tmpdir()
    db = dir .. "/s.db"
    sf = "bin/stepflow"
    def = h.write(dir .. "/flow.json", json.encode({ StartAt = "T", States = {
      T = { Type = "Task", Resource = "double", Next = "P" },
      P = { Type = "Parallel", Next = "I", Branches = { { StartAt = "L", States = {
        L = { Type = "Task", Resource = "arn:aws:lambda:us-east-1:123456789012:function:square", End = true } } } } },
      I = { Type = "Task", Resource = "arn:aws:states:::lambda:invoke", End = true, OutputPath = "$.Payload",
        Parameters = { FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:tally:1",
          ["Payload.$"] = "$" } } } }))
    handlers = h.write(dir .. "/double.lua", "return { double = function(x) return x * 2 end }")
    h.write(dir .. "/rest.lua", "return { square = function(x) return x * x end, "
      .. "tally = function(x) return x[1] + 1 end }")
    for _, name in ipairs({ "a", "b" }) do
      assert.equal(0, (h.sh(sf .. " start " .. def .. " --store " .. db .. " --name " .. name .. " --input 3")))
    end
  end)
  after_each(function() h.rm(dir) end)

  -- Each execution's status and number of history events.
  local function state_of_store()
    local out = {}
    local _, text = h.sh(sf .. " executions --store " .. db .. " --json")
    for line in text:gmatch("[^\n]+") do
      local rec = json.decode(line)
      local _, hist = h.sh(sf .. " history " .. rec.name .. " --store " .. db .. " --json")
      out[rec.name] = { rec.status, #json.decode(hist).events, rec.output }
    end
    return out
  end

  it("refuses to start, naming executions, states and handlers, and leaves the store alone", function()
    local before = state_of_store()
    assert.same({ "RUNNING", 1 }, before.a)
    local rc, out, err = h.sh(sf .. " resume --store " .. db .. " --handlers " .. handlers .. " --virtual-time")
    assert.is_true(h.clean_refusal(rc, out, err), err)
    assert.equal(2, rc)
    assert.matches("stepflow: 2 RUNNING executions in " .. db .. " need handlers that are not loaded:\n"
      .. "  arn:aws:states:us-east-1:123456789012:execution:flow:a\n"
      .. "    state I: Resource 'arn:aws:states:::lambda:invoke' needs a handler named 'tally'\n"
      .. "    state L: Resource 'arn:aws:lambda:us-east-1:123456789012:function:square' needs a handler "
      .. "named 'square'\n"
      .. "  arn:aws:states:us-east-1:123456789012:execution:flow:b\n", err, 1, true)
    assert.not_matches("'double'", err, 1, true)  -- loaded
    assert.matches("Load the handlers with --handlers FILE", err, 1, true)
    assert.matches("or resume anyway with --allow-missing-handlers", err, 1, true)
    assert.same(before, state_of_store())
    -- run --store resumes them too, so it refuses the same way
    rc, out, err = h.sh(sf .. " run " .. def .. " --store " .. db .. " --name c --input 1 --handlers " .. handlers)
    assert.equal("", out)
    assert.equal(2, rc)
    assert.matches("2 RUNNING executions in " .. db .. " need handlers", err, 1, true)
    assert.same(before, state_of_store())
    -- and so does serve --store, which resumes them at start (before it listens)
    rc, out, err = h.sh("timeout 10 " .. sf .. " serve --port 0 --store " .. db .. " --handlers " .. handlers)
    assert.is_true(h.clean_refusal(rc, out, err), err)
    assert.equal(2, rc)
    assert.matches("2 RUNNING executions in " .. db .. " need handlers", err, 1, true)
    assert.matches("or resume anyway with --allow-missing-handlers", err, 1, true)
    assert.same(before, state_of_store())
  end)

  it("resumes anyway with --allow-missing-handlers: the Tasks without one fail", function()
    local rc, _, err = h.sh(sf .. " resume --store " .. db .. " --handlers " .. handlers
      .. " --virtual-time --allow-missing-handlers")
    assert.equal(0, rc, err)
    local _, text = h.sh(sf .. " describe a --store " .. db .. " --json")
    local rec = json.decode(text)
    assert.equal("FAILED", rec.status)
    assert.equal("Lambda.ResourceNotFoundException", rec.error)
  end)

  it("resumes with every handler loaded", function()
    local rc, _, err = h.sh(sf .. " resume --store " .. db .. " --handlers " .. handlers .. " --handlers "
      .. dir .. "/rest.lua --virtual-time")
    assert.equal(0, rc, err)
    local after = state_of_store()
    assert.equal("SUCCEEDED", after.a[1])
    assert.equal(37, after.b[3])
  end)
end)
