-- The server's activity operations in one process: CreateActivity,
-- DescribeActivity, DeleteActivity, ListActivities, and GetActivityTask's
-- long poll (FIFO, the empty answer at the end of the poll, workers whose
-- connection closes, many parked at once), with AWS's error codes.
local json = require("stepflow.json")
local api_helper = require("server.api_helper")

local ACT = "arn:aws:states:us-east-1:123456789012:activity:"

local function activity_machine(api, name, activity_arn, extra)
  local st = { Type = "Task", Resource = activity_arn, End = true }
  for k, v in pairs(extra or {}) do st[k] = v end
  return api_helper.machine(api, name, { StartAt = "Work", States = { Work = st } })
end

local function start(api, sm, input)
  return api.ok("StartExecution", { stateMachineArn = sm, input = json.encode(input) }).executionArn
end

describe("stepflow.server activities", function()
  local api
  after_each(function() if api then api.close() end api = nil end)

  describe("CreateActivity", function()
    before_each(function() api = api_helper.start() end)

    it("creates an activity and is idempotent on its name", function()
      local a = api.ok("CreateActivity", { name = "approve", tags = { { key = "team", value = "ops" } } })
      assert.equal(ACT .. "approve", a.activityArn)
      assert.is_number(a.creationDate)
      -- the same name again (other tags are ignored): the same activity
      local again = api.ok("CreateActivity", { name = "approve", tags = { { key = "team", value = "dev" } } })
      assert.same(a, again)
      assert.equal(1, #api.ok("ListActivities", {}).activities)
    end)

    it("refuses another encryption configuration for an existing name", function()
      api.ok("CreateActivity", { name = "approve" })
      assert.same({ 400, "ActivityAlreadyExists", "Activity already exists: '" .. ACT .. "approve'" },
        { api.err("CreateActivity", { name = "approve", encryptionConfiguration = { type = "AWS_OWNED_KEY" } }) })
    end)

    it("refuses bad names, too many tags and a KMS key without its id", function()
      assert.same({ 400, "InvalidName", "Invalid Name: 'has space'" },
        { api.err("CreateActivity", { name = "has space" }) })
      local tags = {}
      for i = 1, 51 do tags[i] = { key = "k" .. i, value = "v" } end
      local _, code = api.err("CreateActivity", { name = "tagged", tags = tags })
      assert.equal("TooManyTags", code)
      local status, body = api.call("CreateActivity", { name = "tagged", tags = tags })
      assert.same({ 400, "TooManyTags", ACT .. "tagged" }, { status, body.__type, body.resourceName })
      -- a key given twice is one tag
      tags[51] = { key = "k1", value = "again" }
      api.ok("CreateActivity", { name = "tagged", tags = tags })
      api.ok("DeleteActivity", { activityArn = ACT .. "tagged" })
      _, code = api.err("CreateActivity", { name = "kms", encryptionConfiguration = { type = "CUSTOMER_MANAGED_KMS_KEY" } })
      assert.equal("InvalidEncryptionConfiguration", code)
      _, code = api.err("CreateActivity", { name = string.rep("n", 81) })
      assert.equal("ValidationException", code)
      assert.same({}, api.ok("ListActivities", {}).activities)
    end)
  end)

  describe("DescribeActivity and DeleteActivity", function()
    before_each(function() api = api_helper.start() end)

    it("describes an activity, and it is gone once deleted", function()
      local a = api.ok("CreateActivity", { name = "review", encryptionConfiguration = { type = "AWS_OWNED_KEY" } })
      assert.same({ activityArn = a.activityArn, name = "review", creationDate = a.creationDate,
        encryptionConfiguration = { type = "AWS_OWNED_KEY" } }, api.ok("DescribeActivity", { activityArn = a.activityArn }))
      assert.same({}, api.ok("DeleteActivity", { activityArn = a.activityArn }))
      assert.same({ 400, "ActivityDoesNotExist", "Activity Does Not Exist: '" .. a.activityArn .. "'" },
        { api.err("DescribeActivity", { activityArn = a.activityArn }) })
      -- deleting it again is no error, as on AWS
      assert.same({}, api.ok("DeleteActivity", { activityArn = a.activityArn }))
    end)

    it("refuses ARNs that do not name an activity", function()
      local sm = "arn:aws:states:us-east-1:123456789012:stateMachine:x"
      assert.same({ 400, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: stateMachine'" },
        { api.err("DescribeActivity", { activityArn = sm }) })
      local _, code = api.err("DeleteActivity", { activityArn = "nope" })
      assert.equal("InvalidArn", code)
      _, code = api.err("GetActivityTask", { activityArn = sm })
      assert.equal("InvalidArn", code)
      _, code = api.err("GetActivityTask", { activityArn = ACT .. "none" })
      assert.equal("ActivityDoesNotExist", code)
    end)
  end)

  describe("ListActivities", function()
    before_each(function() api = api_helper.start() end)

    it("pages with maxResults and nextToken, oldest first", function()
      for i = 1, 5 do api.ok("CreateActivity", { name = "a" .. i }) end
      local names, token, pages = {}, nil, 0
      repeat
        local page = api.ok("ListActivities", { maxResults = 2, nextToken = token })
        pages = pages + 1
        assert.is_true(#page.activities <= 2)
        for _, a in ipairs(page.activities) do
          names[#names + 1] = a.name
          assert.same({ "activityArn", "creationDate", "name" }, (function()
            local keys = {}
            for k in pairs(a) do keys[#keys + 1] = k end
            table.sort(keys)
            return keys
          end)())
        end
        token = page.nextToken
      until not token
      assert.equal(3, pages)
      assert.same({ "a1", "a2", "a3", "a4", "a5" }, names)
      local _, code = api.err("ListActivities", { nextToken = "bm90IGEgdG9rZW4=" })
      assert.equal("InvalidToken", code)
    end)
  end)

  describe("GetActivityTask", function()
    it("hands out a waiting task with its input, and records the worker's name", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "approve" }).activityArn
      local exec = start(api, activity_machine(api, "m", act), { order = 7 })
      api.until_true(function() return api.engine.activities:pending(act) == 1 end)
      local task = api.ok("GetActivityTask", { activityArn = act, workerName = "worker-1" })
      assert.equal('{"order":7}', task.input)
      assert.is_string(task.taskToken)
      local events = api.ok("GetExecutionHistory", { executionArn = exec }).events
      assert.equal("ActivityStarted", events[4].type)
      assert.same({ workerName = "worker-1" }, events[4].activityStartedEventDetails)
    end)

    it("answers {} without a token when no task comes within the poll (60 s by default)", function()
      -- virtual time: the loop's clock jumps to the poll's end
      api = api_helper.start({ virtual_time = true })
      local act = api.ok("CreateActivity", { name = "idle" }).activityArn
      local before = api.loop:now()
      local status, body = api.call("GetActivityTask", { activityArn = act })
      assert.equal(200, status)
      assert.same({}, body)
      assert.equal(60000, api.loop:now() - before)
      assert.equal(0, api.server.activities:parked_polls())
    end)

    it("answers at once with a poll_timeout of 0", function()
      api = api_helper.start({ serve = { poll_timeout = 0 } })
      local act = api.ok("CreateActivity", { name = "idle" }).activityArn
      assert.same({}, api.ok("GetActivityTask", { activityArn = act }))
    end)

    it("serves parked workers first come, first served, as tasks are scheduled", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "fifo" }).activityArn
      local sm = activity_machine(api, "m", act)
      local polls = {}
      for i = 1, 3 do
        polls[i] = api.send("GetActivityTask", { activityArn = act, workerName = "w" .. i })
        api.until_true(function() return api.server.activities:parked_polls() == i end)
      end
      start(api, sm, { n = 1 })
      local _, first = polls[1]:answer()
      assert.equal('{"n":1}', first.input)
      start(api, sm, { n = 2 })
      local _, second = polls[2]:answer()
      assert.equal('{"n":2}', second.input)
      assert.equal(1, api.server.activities:parked_polls())
      assert.equal(0, api.engine.activities:pending(act))
      for _, p in ipairs(polls) do p:close() end
    end)

    it("gives a task to the next worker when a parked worker's connection closed", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "gone" }).activityArn
      local sm = activity_machine(api, "m", act)
      local gone = api.send("GetActivityTask", { activityArn = act, workerName = "gone" })
      api.until_true(function() return api.server.activities:parked_polls() == 1 end)
      gone:close()
      assert.is_true(api.until_true(function() return api.server:connections() == 0 end))
      local next_one = api.send("GetActivityTask", { activityArn = act, workerName = "next" })
      api.until_true(function() return api.server.activities:parked_polls() == 2 end)
      local exec = start(api, sm, { n = 1 })
      local _, task = next_one:answer()
      assert.equal('{"n":1}', task.input)
      next_one:close()
      local events = api.ok("GetExecutionHistory", { executionArn = exec }).events
      assert.same({ workerName = "next" }, events[4].activityStartedEventDetails)
    end)

    it("keeps the task queued when the only parked worker has gone", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "alone" }).activityArn
      local gone = api.send("GetActivityTask", { activityArn = act })
      api.until_true(function() return api.server.activities:parked_polls() == 1 end)
      gone:close()
      api.until_true(function() return api.server:connections() == 0 end)
      start(api, activity_machine(api, "m", act), { n = 5 })
      api.until_true(function() return api.engine.activities:pending(act) == 1 end)
      assert.equal('{"n":5}', api.ok("GetActivityTask", { activityArn = act }).input)
    end)

    it("parks a thousand workers and serves each of them", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "many" }).activityArn
      local sm = activity_machine(api, "m", act)
      local polls = {}
      for i = 1, 1000 do polls[i] = api.send("GetActivityTask", { activityArn = act, workerName = "w" .. i }) end
      api.until_true(function() return api.server.activities:parked_polls() == 1000 end)
      -- (started through the engine: a thousand StartExecution round trips
      -- would cost more than the polls)
      local machine = api.server.machines:get(sm).sm
      for i = 1, 1000 do assert(api.engine:start_execution(machine, { i = i })) end
      api.spin(function() return api.server.activities:parked_polls() == 0 end)
      for i = 1, 1000 do
        local status, task = polls[i]:answer()
        assert.equal(200, status)
        assert.equal(i, json.decode(task.input).i)
        polls[i]:close()
      end
      assert.equal(0, api.server.activities:parked_polls())
    end)

    it("answers parked workers with {} when the server shuts down", function()
      api = api_helper.start()
      local act = api.ok("CreateActivity", { name = "bye" }).activityArn
      local p = api.send("GetActivityTask", { activityArn = act })
      api.until_true(function() return api.server.activities:parked_polls() == 1 end)
      api.server:shutdown()
      local status, body = p:answer()
      assert.same({ 200, {} }, { status, body })
      p:close()
    end)
  end)

  describe("with a store", function()
    it("keeps activities across a restart", function()
      local path = os.tmpname()
      os.remove(path)
      path = path .. ".db"
      api = api_helper.start({ store = path })
      local a = api.ok("CreateActivity", { name = "durable", encryptionConfiguration = { type = "AWS_OWNED_KEY" } })
      api.ok("CreateActivity", { name = "other" })
      api.ok("DeleteActivity", { activityArn = ACT .. "other" })
      api.close()
      api = api_helper.start({ store = path })
      assert.same({ activityArn = a.activityArn, name = "durable", creationDate = a.creationDate,
        encryptionConfiguration = { type = "AWS_OWNED_KEY" } }, api.ok("DescribeActivity", { activityArn = a.activityArn }))
      assert.equal(1, #api.ok("ListActivities", {}).activities)
      api.close()
      api = nil
      for _, s in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. s) end
    end)
  end)
end)
