-- The command line and task tokens: `stepflow run` saying which task
-- waits and how to answer it; send-task-success / -failure / -heartbeat
-- through a store (no server, or an engine running it) and through a
-- running server (--endpoint); start, describe and stop with --endpoint;
-- a server that does not answer; signed requests to a server that
-- verifies them.
local json = require("stepflow.json")
local h = require("cli.helper")
local serve = require("server.serve_process")

local q, sh = h.q, h.sh
local ACT = "arn:aws:states:us-east-1:123456789012:activity:approve"

describe("stepflow and task tokens", function()
  local dir, def, handlers
  setup(function()
    dir = h.tmpdir()
    def = h.write(dir .. "/cb.asl.json", json.encode({ StartAt = "Approve", States = {
      Approve = { Type = "Task", Resource = ACT, Next = "Ask" },
      Ask = { Type = "Task", Resource = "ask.waitForTaskToken", Parameters = { ["t.$"] = "$$.Task.Token" },
        ResultPath = "$.asked", End = true } } }))
    handlers = h.write(dir .. "/handlers.lua", "return { ask = function() end }\n")
  end)
  teardown(function() h.rm(dir) end)

  local function stepflow(args) return sh("bin/stepflow " .. args) end

  -- Runs the definition with a store until it waits: the tokens waiting.
  local function run_waiting(store, name)
    local rc, out = stepflow("run --virtual-time " .. q(def) .. " --handlers " .. q(handlers) .. " --store " .. q(store) ..
      " --name " .. name .. " --input '{\"id\":1}' --json")
    assert.equal(1, rc)
    local r = json.decode(out)
    assert.equal("RUNNING", r.status)
    return r.waiting
  end

  local function callback_token(store, name)
    local _, out = stepflow("history " .. name .. " --store " .. q(store) .. " --json")
    local token
    for _, e in ipairs(json.decode(out).events) do
      if e.type == "TaskScheduled" then token = json.decode(e.taskScheduledEventDetails.parameters).t end
    end
    return token
  end

  describe("stepflow run", function()
    it("says which state waits, its token, and the commands that answer it", function()
      local store = dir .. "/run.db"
      local rc, _, err = stepflow("run --virtual-time " .. q(def) .. " --handlers " .. q(handlers) .. " --store " .. q(store))
      assert.equal(1, rc)
      assert.matches("^RUNNING\n", err)
      local token = err:match("state 'Approve' waits for a worker of activity " .. ACT:gsub("%-", "%%-")
        .. "; its task token:\n  (%S+)\n")
      assert.is_string(token)
      assert.matches("stepflow send-task-success " .. token:gsub("%-", "%%-") .. " --store " .. store
        .. " --output '{...}'", err, 1, true)
      assert.matches("stepflow resume --store " .. store, err, 1, true)
    end)

    it("lists the waiting tasks with --json, and says a run without a store keeps nothing", function()
      local rc, out = stepflow("run " .. q(def) .. " --handlers " .. q(handlers) .. " --json")
      assert.equal(1, rc)
      local r = json.decode(out)
      assert.same({ { state = "Approve", resource = ACT, kind = "activity", taken = false,
        token = r.waiting[1].token } }, r.waiting)
      local err
      rc, out, err = stepflow("run " .. q(def) .. " --handlers " .. q(handlers))
      assert.same({ 1, "" }, { rc, out })
      assert.matches("nothing of this run is kept after it exits", err, 1, true)
    end)
  end)

  describe("send-task-* --store", function()
    it("records answers that the next resume applies, then the execution ends", function()
      local store = dir .. "/answers.db"
      local waiting = run_waiting(store, "one")
      local rc, out = stepflow("send-task-success " .. waiting[1].token .. " --store " .. q(store) ..
        " --output '{\"id\":1,\"approved\":true}'")
      assert.equal(0, rc)
      assert.matches("recorded the answer in", out, 1, true)
      rc = stepflow("resume --virtual-time --store " .. q(store) .. " --handlers " .. q(handlers))
      assert.equal(0, rc)
      local token = callback_token(store, "one")
      rc = stepflow("send-task-failure " .. token .. " --store " .. q(store) .. " --error Ask.Refused --cause no")
      assert.equal(0, rc)
      stepflow("resume --virtual-time --store " .. q(store) .. " --handlers " .. q(handlers))
      local _, d = stepflow("describe one --store " .. q(store) .. " --json")
      d = json.decode(d)
      assert.same({ "FAILED", "Ask.Refused", "no" }, { d.status, d.error, d.cause })
      -- the task has ended: its token is refused
      local err
      rc, _, err = stepflow("send-task-heartbeat " .. token .. " --store " .. q(store))
      assert.equal(1, rc)
      assert.matches("^stepflow: TaskTimedOut: ", err)
    end)

    it("refuses what is no token, an unknown execution's token and bad output", function()
      local store = dir .. "/refusals.db"
      local waiting = run_waiting(store, "r")
      local rc, _, err = stepflow("send-task-success nope --store " .. q(store) .. " --output 1")
      assert.equal(1, rc)
      assert.matches("^stepflow: InvalidToken: ", err)
      local other = require("stepflow.integrations.tokens").source()
        :new("arn:aws:states:us-east-1:123456789012:execution:cb:none")
      rc, _, err = stepflow("send-task-success " .. other .. " --store " .. q(store) .. " --output 1")
      assert.equal(1, rc)
      assert.matches("^stepflow: TaskDoesNotExist: ", err)
      rc, _, err = stepflow("send-task-success " .. waiting[1].token .. " --store " .. q(store) .. " --output '{x'")
      assert.equal(2, rc)
      assert.matches("InvalidOutput", err, 1, true)
      for _, args in ipairs({ "send-task-success T --output 1", "send-task-success T --store a --endpoint b --output 1",
          "send-task-success T --store x", "send-task-heartbeat --store x", "send-task-failure T --bogus 1 --store x" }) do
        assert.is_true(h.clean_refusal(stepflow(args)))
        assert.equal(2, (stepflow(args)))
      end
    end)
  end)

  describe("with a running server", function()
    local store, proc
    before_each(function()
      store = dir .. "/served.db"
      run_waiting(store, "served")
      proc = serve.start("--store " .. q(store) .. " --handlers " .. q(handlers))
    end)
    after_each(function()
      if proc then proc:stop("KILL") end
      serve.remove(store)
    end)

    local function endpoint() return " --endpoint http://127.0.0.1:" .. proc.port end

    it("answers through the server (--endpoint) and through its store (--store)", function()
      local arn = "arn:aws:states:us-east-1:123456789012:execution:cb:served"
      local rc, out = stepflow("describe " .. arn .. endpoint() .. " --json")
      assert.equal(0, rc)
      assert.equal("RUNNING", json.decode(out).status)
      local _, tasks = stepflow("run " .. q(def) .. " --handlers " .. q(handlers) .. " --json")
      local wrong = json.decode(tasks).waiting[1].token  -- a token of another (ended) run
      local err
      rc, _, err = stepflow("send-task-success " .. wrong .. endpoint() .. " --output 1")
      assert.equal(1, rc)
      assert.matches("SendTaskSuccess: TaskDoesNotExist: ", err, 1, true)
      -- the activity: through the server; the callback: through the store it runs
      local function api(op, body) return (proc:call(op, body)) end
      assert.equal(ACT, api("CreateActivity", { name = "approve" }).activityArn)
      local task = api("GetActivityTask", { activityArn = ACT })
      assert.is_string(task.taskToken)
      rc = stepflow("send-task-success " .. task.taskToken .. endpoint() .. " --output '{\"step\":1}'")
      assert.equal(0, rc)
      local token
      for _ = 1, 100 do
        token = callback_token(store, "served")
        if token then break end
      end
      rc, out = stepflow("send-task-success " .. token .. " --store " .. q(store) .. " --output '\"by store\"'")
      assert.equal(0, rc)
      assert.matches("^answered ", out)
      rc, out = stepflow("describe " .. arn .. endpoint())
      assert.equal(0, rc)
      assert.matches("status%s+SUCCEEDED", out)
      assert.matches('output%s+{"asked":"by store","step":1}', out)
    end)

    it("starts, describes and stops executions (--endpoint)", function()
      local rc, out = stepflow("start cb" .. endpoint() .. " --name two --input '{\"id\":2}'")
      assert.equal(0, rc)
      local arn = out:match("^(%S+)\n$")
      assert.equal("arn:aws:states:us-east-1:123456789012:execution:cb:two", arn)
      rc, out = stepflow("stop " .. arn .. endpoint() .. " --error Ops.Stop --cause 'by hand'")
      assert.equal(0, rc)
      assert.equal("stopped " .. arn .. "\n", out)
      local d = json.decode(select(2, stepflow("describe " .. arn .. endpoint() .. " --json")))
      assert.same({ "ABORTED", "Ops.Stop", "by hand" }, { d.status, d.error, d.cause })
      local err
      rc, out, err = stepflow("start nosuch" .. endpoint())
      assert.same({ 1, "" }, { rc, out })
      assert.matches("StateMachineDoesNotExist", err, 1, true)
      rc, out, err = stepflow("describe arn:aws:states:us-east-1:123456789012:execution:cb:none" .. endpoint())
      assert.same({ 1, "" }, { rc, out })
      assert.matches("^stepflow: DescribeExecution: ExecutionDoesNotExist: ", err)
    end)
  end)

  it("says so when no server answers at the endpoint", function()
    -- a port nothing listens on: the one a server just left
    local p = serve.start("")
    local port = p.port
    p:stop("KILL")
    local rc, out, err = stepflow("describe x --endpoint http://127.0.0.1:" .. port)
    assert.equal(1, rc)
    assert.matches("no Step Functions server answers at http://127.0.0.1:" .. port, err, 1, true)
    assert.is_true(h.clean_refusal(rc, out, err))
    rc, out, err = stepflow("send-task-heartbeat T --endpoint ftp://x")
    assert.same({ 2, "" }, { rc, out })
    assert.matches("--endpoint must be an http:// or https:// URL", err, 1, true)
  end)

  it("signs its requests for a server that verifies signatures", function()
    local creds = h.write(dir .. "/creds", "AKIDCLI secret-cli\n")
    local p = serve.start("--credentials " .. q(creds))
    local url = " --endpoint http://127.0.0.1:" .. p.port
    local rc, _, err = sh("env -u AWS_ACCESS_KEY_ID bin/stepflow describe x" .. url)
    assert.equal(1, rc)
    assert.matches("MissingAuthenticationTokenException", err, 1, true)
    _, _, err = sh("AWS_ACCESS_KEY_ID=AKIDCLI AWS_SECRET_ACCESS_KEY=wrong bin/stepflow describe x" .. url)
    assert.matches("InvalidSignatureException", err, 1, true)
    local out
    rc, out, err = sh("AWS_ACCESS_KEY_ID=AKIDCLI AWS_SECRET_ACCESS_KEY=secret-cli bin/stepflow describe "
      .. "arn:aws:states:us-east-1:123456789012:execution:m:e" .. url)
    assert.equal(1, rc)
    assert.matches("ExecutionDoesNotExist", err, 1, true)  -- signed: the operation ran
    assert.equal("", out)
    p:stop("KILL")
  end)
end)
