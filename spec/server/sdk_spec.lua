-- `stepflow serve` driven by the AWS SDK for JavaScript v3 (npm
-- @aws-sdk/client-sfn, pinned in package-lock.json, installed by make):
-- every operation on state machines and executions and their error codes,
-- StartSyncExecution with and without the sync- host prefix, SigV4
-- verification, a SIGKILL with StartExecution calls in flight that
-- loses nothing acknowledged, an activity worker, and (api_operations.mjs)
-- versions, aliases, tags, redrives, Map Runs, TestState and validation
-- (the same on a PostgreSQL store: sdk_pg_spec).
local serve = require("server.serve_process")

local sdk = require("server.sdk_helper")
local node, node_script, more = sdk.node, sdk.node_script, sdk.more

describe("stepflow serve with the AWS SDK for JavaScript", function()
  local store, creds, proc, signed

  setup(function()
    assert(io.open("node_modules/@aws-sdk/client-sfn/package.json"), "run make (npm ci) first")
    store = serve.temp_store()
    creds = os.tmpname()
    local f = assert(io.open(creds, "w"))
    f:write("# access key id, secret\nAKIDSTEPFLOW stepflow-secret\n")
    f:close()
  end)

  teardown(function()
    if proc then proc:stop("KILL") end
    if signed then signed:stop("KILL") end
    serve.remove(store)
    os.remove(creds)
  end)

  it("serves every operation and error code as the SDK expects them", function()
    proc = serve.start("--store " .. store)
    assert.matches("store " .. store, proc.line, 1, true)
    signed = serve.start("--credentials " .. creds)
    assert.matches("store in memory", signed.line, 1, true)
    local report = node("all", proc.port, signed.port)
    assert.same({}, report.failures)
    assert.is_true(report.checks >= 50)
    local _, code = signed:stop("TERM")
    signed = nil
    assert.equal(0, code)
  end)

  it("serves an activity worker written with the SDK (GetActivityTask, SendTask*)", function()
    local worker = serve.start("")
    -- a server whose polls end at once, for the empty answer
    local idle = serve.start("--poll-timeout 0")
    local report = node_script("spec/server/sdk/activity_worker.mjs", worker.port, idle.port)
    local _, code = worker:stop("TERM")
    idle:stop("TERM")
    assert.same({}, report.failures)
    assert.is_true(report.checks >= 20)
    assert.equal(0, code)
  end)

  it("serves versions, aliases, tags, redrives, Map Runs, TestState and validation as the SDK expects", function()
    local own = serve.temp_store()
    more(own)
    serve.remove(own)
  end)

  it("keeps state machines and executions across a restart", function()
    local _, code = proc:stop("TERM")
    proc = nil
    assert.equal(0, code)
    proc = serve.start("--store " .. store)
    local answer = proc:call("ListStateMachines")
    local names = {}
    for _, sm in ipairs(answer.stateMachines) do names[#names + 1] = sm.name end
    assert.same({ "sdk-std", "sdk-express", "sdk-fail", "sdk-long" }, names)
  end)

  it("loses no acknowledged StartExecution when killed with SIGKILL", function()
    local acked = os.tmpname()
    local report = node("kill", proc.port, proc.pid, acked)
    assert.same({}, report.failures)
    local _, how, code = proc:wait()
    proc = nil
    assert.is_true(how == "signal" or code == 128 + 9)  -- killed (through sh: 137)
    proc = serve.start("--store " .. store)
    assert.matches("execution%(s%) resumed", proc.line)
    report = node("verify", proc.port, acked)
    os.remove(acked)
    assert.same({}, report.failures)
    local _, status = proc:stop("INT")
    proc = nil
    assert.equal(0, status)
  end)
end)
