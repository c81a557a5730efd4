-- `stepflow serve` driven by the AWS CLI (Debian's awscli, /usr/bin/aws)
-- with --endpoint-url: create-state-machine, start-execution,
-- describe-execution, get-execution-history, and an activity task worked
-- with get-activity-task and send-task-success.
local json = require("stepflow.json")
local serve = require("server.serve_process")

local AWS = "/usr/bin/aws"

-- (#full: make test-full and CI run it; the SDK specs cover the same
-- operations in the default run)
describe("stepflow serve with the AWS CLI #full", function()
  local proc, dir

  setup(function()
    assert(io.open(AWS), "the awscli package is missing: run make")
    proc = serve.start("")
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
  end)

  teardown(function()
    if proc then proc:stop("TERM") end
    os.execute("rm -rf " .. dir)
  end)

  -- Runs `aws stepfunctions ARGS` against the server: decoded output.
  local function aws(args)
    local cmd = "env -i PATH=/usr/bin:/bin HOME=" .. dir .. " AWS_ACCESS_KEY_ID=AKIDCLI AWS_SECRET_ACCESS_KEY=s "
      .. "AWS_DEFAULT_REGION=us-east-1 AWS_PAGER= " .. AWS .. " stepfunctions --endpoint-url http://127.0.0.1:"
      .. proc.port .. " --output json " .. args .. " 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    local ok = p:close()
    return ok, out
  end

  it("creates a state machine, runs an execution and reads it back", function()
    local def = dir .. "/hello.json"
    local f = assert(io.open(def, "w"))
    f:write('{"StartAt":"Hi","States":{"Hi":{"Type":"Pass","Result":{"hello":"cli"},"End":true}}}')
    f:close()
    local ok, out = aws("create-state-machine --name cli --role-arn arn:aws:iam::123456789012:role/cli "
      .. "--definition file://" .. def)
    assert.is_true(ok, out)
    local sm = json.decode(out).stateMachineArn
    assert.equal("arn:aws:states:us-east-1:123456789012:stateMachine:cli", sm)
    ok, out = aws("start-execution --state-machine-arn " .. sm .. " --name run1 --input '{\"a\":1}'")
    assert.is_true(ok, out)
    local arn = json.decode(out).executionArn
    local d
    for _ = 1, 20 do
      ok, out = aws("describe-execution --execution-arn " .. arn)
      assert.is_true(ok, out)
      d = json.decode(out)
      if d.status ~= "RUNNING" then break end
    end
    assert.same({ "SUCCEEDED", '{"hello":"cli"}', '{"a":1}' }, { d.status, d.output, d.input })
    ok, out = aws("get-execution-history --execution-arn " .. arn)
    assert.is_true(ok, out)
    local types = {}
    for i, e in ipairs(json.decode(out).events) do types[i] = e.type end
    assert.same({ "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded" }, types)
  end)

  it("works an activity task: get-activity-task, send-task-success", function()
    -- (the setup over plain HTTP: each aws command costs half a second)
    local function api(op, body) return (proc:call(op, body)) end
    local act = api("CreateActivity", { name = "cli-worker" }).activityArn
    local sm = api("CreateStateMachine", { name = "cli-activity", roleArn = "arn:aws:iam::123456789012:role/cli",
      definition = json.encode({ StartAt = "Work", States = { Work = { Type = "Task", Resource = act, End = true } } }) })
    local arn = api("StartExecution", { stateMachineArn = sm.stateMachineArn, input = '{"n":3}' }).executionArn
    local ok, out = aws("get-activity-task --activity-arn " .. act .. " --worker-name cli")
    assert.is_true(ok, out)
    local task = json.decode(out)
    assert.equal('{"n":3}', task.input)
    ok, out = aws("send-task-success --task-token " .. task.taskToken .. " --task-output '{\"n\":4}'")
    assert.is_true(ok, out)
    local d
    for _ = 1, 100 do
      d = api("DescribeExecution", { executionArn = arn })
      if d.status ~= "RUNNING" then break end
    end
    assert.same({ "SUCCEEDED", '{"n":4}' }, { d.status, d.output })
  end)

  -- (Debian's AWS CLI, 2.9, predates versions, aliases, redrives, TestState
  -- and validation: the SDK specs drive those)
  it("lists a state machine's tags, a Map Run and its child executions", function()
    local function api(op, body) return (proc:call(op, body)) end
    local sm = api("CreateStateMachine", { name = "clim", roleArn = "arn:aws:iam::123456789012:role/cli",
      tags = { { key = "team", value = "cli" } }, definition = '{"StartAt":"M","States":{"M":{"Type":"Map",'
        .. '"Label":"each","End":true,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED",'
        .. '"ExecutionType":"STANDARD"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}' }).stateMachineArn
    local ok, out = aws("list-tags-for-resource --resource-arn " .. sm)
    assert.is_true(ok, out)
    assert.same({ { key = "team", value = "cli" } }, json.decode(out).tags)
    local arn = api("StartExecution", { stateMachineArn = sm, input = "[1,2,3]" }).executionArn
    for _ = 1, 100 do
      if api("DescribeExecution", { executionArn = arn }).status ~= "RUNNING" then break end
    end
    ok, out = aws("list-map-runs --execution-arn " .. arn)
    assert.is_true(ok, out)
    local runs = json.decode(out).mapRuns
    assert.equal(sm .. "/each", runs[1].stateMachineArn)
    ok, out = aws("describe-map-run --map-run-arn " .. runs[1].mapRunArn)
    assert.is_true(ok, out)
    assert.same({ "SUCCEEDED", 3 }, { json.decode(out).status, json.decode(out).itemCounts.succeeded })
    ok, out = aws("list-executions --map-run-arn " .. runs[1].mapRunArn)
    assert.is_true(ok, out)
    assert.equal(3, #json.decode(out).executions)
  end)

  it("shows AWS's error codes as the CLI reports them", function()
    local ok, out = aws("describe-execution --execution-arn arn:aws:states:us-east-1:123456789012:execution:cli:none")
    assert.is_false(not not ok)
    assert.matches("An error occurred %(ExecutionDoesNotExist%) when calling the DescribeExecution operation: "
      .. "Execution Does Not Exist: 'arn:aws:states:us%-east%-1:123456789012:execution:cli:none'", out)
  end)
end)
