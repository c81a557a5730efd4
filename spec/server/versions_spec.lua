-- Specs of the server's state machine versions and aliases, and of
-- DeleteStateMachine's DELETING status, with AWS's semantics (the facts
-- of AWS-recorded answers: publishing is idempotent per revision, numbers
-- are never reused, a version an alias routes to cannot be deleted, ...).
local helper = require("server.api_helper")
local json = require("stepflow.json")

local SM, PASS = helper.SM, helper.PASS
local R1 = '{"Comment":"R1","StartAt":"P","States":{"P":{"Type":"Pass","Result":"one","End":true}}}'
local R2 = '{"Comment":"R2","StartAt":"P","States":{"P":{"Type":"Pass","Result":"two","End":true}}}'

local function arns(list, field)
  local out = {}
  for i, x in ipairs(list) do out[i] = x[field] end
  return out
end

describe("stepflow.server versions", function()
  local api
  before_each(function() api = helper.start() end)
  after_each(function() api.close() end)

  it("publishes on create and describes a version: what it froze, with its description", function()
    local out = api.create("v", R1, { publish = true, versionDescription = "first" })
    assert.equal(SM .. "v:1", out.stateMachineVersionArn)
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "v", definition = R2 })
    local d = api.ok("DescribeStateMachine", { stateMachineArn = SM .. "v:1" })
    assert.same({ SM .. "v:1", "v", R1, "first", "ACTIVE", "STANDARD", helper.ROLE },
      { d.stateMachineArn, d.name, d.definition, d.description, d.status, d.type, d.roleArn })
    assert.is_nil(d.revisionId)  -- the first revision has none (AWS)
    assert.equal(R2, api.ok("DescribeStateMachine", { stateMachineArn = SM .. "v" }).definition)
    assert.same({ 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" .. SM .. "v:9'" },
      { api.err("DescribeStateMachine", { stateMachineArn = SM .. "v:9" }) })
  end)

  it("publishes a revision once: the same request again returns its version", function()
    api.create("i", R1)
    local p1 = api.ok("PublishStateMachineVersion", { stateMachineArn = SM .. "i" })
    local p2 = api.ok("PublishStateMachineVersion", { stateMachineArn = SM .. "i" })
    assert.same(p1, p2)
    assert.equal(SM .. "i:1", p1.stateMachineVersionArn)
    -- an update that changes nothing keeps the revision (and has no revisionId yet)
    local u = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "i", definition = R1, publish = true })
    assert.same({ SM .. "i:1" }, { u.stateMachineVersionArn, u.revisionId })
    u = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "i", definition = R2, publish = true })
    assert.equal(SM .. "i:2", u.stateMachineVersionArn)
    assert.is_string(u.revisionId)
    local list = api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "i" }).stateMachineVersions
    assert.same({ SM .. "i:2", SM .. "i:1" }, arns(list, "stateMachineVersionArn"))
    assert.is_number(list[1].creationDate)
  end)

  it("refuses to publish another revision than the current one", function()
    api.create("c", R1)
    local r = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "c", definition = R2 }).revisionId
    local r3 = api.ok("UpdateStateMachine", { stateMachineArn = SM .. "c", definition = R1 }).revisionId
    assert.same({ 400, "ConflictException", "Failed to publish the State Machine version for revision " .. r
      .. ". The current State Machine revision is " .. r3 .. "." },
      { api.err("PublishStateMachineVersion", { stateMachineArn = SM .. "c", revisionId = r }) })
    assert.equal(SM .. "c:1", api.ok("PublishStateMachineVersion", { stateMachineArn = SM .. "c",
      revisionId = r3, description = "d" }).stateMachineVersionArn)
    assert.same({ 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" .. SM .. "none'" },
      { api.err("PublishStateMachineVersion", { stateMachineArn = SM .. "none" }) })
    assert.same({ 400, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_arn'" },
      { api.err("PublishStateMachineVersion", { stateMachineArn = "invalid_arn" }) })
  end)

  it("deletes versions, never reusing a number; pages the list", function()
    api.create("n", R1, { publish = true })
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "n", definition = R2, publish = true })
    api.ok("DeleteStateMachineVersion", { stateMachineVersionArn = SM .. "n:2" })
    api.ok("DeleteStateMachineVersion", { stateMachineVersionArn = SM .. "n:2" })  -- gone: still fine
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "n", roleArn = "arn:aws:iam::123456789012:role/other" })
    assert.equal(SM .. "n:3", api.ok("PublishStateMachineVersion", { stateMachineArn = SM .. "n" })
      .stateMachineVersionArn)
    local p1 = api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "n", maxResults = 1 })
    local p2 = api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "n", maxResults = 1,
      nextToken = p1.nextToken })
    assert.same({ SM .. "n:3", SM .. "n:1" }, { p1.stateMachineVersions[1].stateMachineVersionArn,
      p2.stateMachineVersions[1].stateMachineVersionArn })
    assert.is_nil(p2.nextToken)
    assert.equal("InvalidToken", select(2, api.err("ListStateMachineVersions", { stateMachineArn = SM .. "n",
      nextToken = "forged" })))
    assert.equal("ValidationException", select(2, api.err("DeleteStateMachineVersion",
      { stateMachineVersionArn = SM .. "n" })))
    assert.same({}, api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "none" }).stateMachineVersions)
  end)

  it("runs an execution started through a version on that version's definition", function()
    api.create("x", R1, { publish = true })
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "x", definition = R2 })
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "x:1" })
    local plain = api.ok("StartExecution", { stateMachineArn = SM .. "x" })
    assert.matches(":execution:x:", e.executionArn)
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    assert.is_true(api.status(plain.executionArn, "SUCCEEDED"))
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ '"one"', SM .. "x", SM .. "x:1" }, { d.output, d.stateMachineArn, d.stateMachineVersionArn })
    assert.is_nil(d.stateMachineAliasArn)
    assert.equal('"two"', api.ok("DescribeExecution", { executionArn = plain.executionArn }).output)
    local ran = api.ok("DescribeStateMachineForExecution", { executionArn = e.executionArn })
    assert.same({ SM .. "x", R1 }, { ran.stateMachineArn, ran.definition })
    local listed = api.ok("ListExecutions", { stateMachineArn = SM .. "x:1" }).executions
    assert.same({ e.executionArn }, arns(listed, "executionArn"))
    assert.same({ SM .. "x:1", 0 }, { listed[1].stateMachineVersionArn, listed[1].redriveCount })
    assert.equal(2, #api.ok("ListExecutions", { stateMachineArn = SM .. "x" }).executions)
    assert.equal("StateMachineDoesNotExist", select(2, api.err("StartExecution", { stateMachineArn = SM .. "x:7" })))
    -- a version's history says what it was started through
    local h = api.ok("GetExecutionHistory", { executionArn = e.executionArn }).events
    assert.equal(SM .. "x:1", h[1].executionStartedEventDetails.stateMachineVersionArn)
  end)
end)

describe("stepflow.server aliases", function()
  local api
  before_each(function()
    api = helper.start()
    api.create("a", R1, { publish = true })
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "a", definition = R2, publish = true })
  end)
  after_each(function() api.close() end)

  local function routing(w1, w2)
    local r = { { stateMachineVersionArn = SM .. "a:1", weight = w1 } }
    if w2 then r[2] = { stateMachineVersionArn = SM .. "a:2", weight = w2 } end
    return r
  end

  it("creates (idempotently), describes, updates, lists and deletes aliases", function()
    local c = api.ok("CreateStateMachineAlias", { name = "prod", routingConfiguration = routing(100),
      description = "live" })
    assert.equal(SM .. "a:prod", c.stateMachineAliasArn)
    assert.same(c, api.ok("CreateStateMachineAlias", { name = "prod", routingConfiguration = routing(100),
      description = "live" }))
    local conflict = "Failed to create alias because an alias with the same name and a different routing "
      .. "configuration already exists."
    assert.same({ 400, "ConflictException", conflict }, { api.err("CreateStateMachineAlias", { name = "prod",
      routingConfiguration = routing(100), description = "other" }) })
    assert.same({ 400, "ConflictException", conflict }, { api.err("CreateStateMachineAlias", { name = "prod",
      routingConfiguration = routing(50, 50), description = "live" }) })
    local d = api.ok("DescribeStateMachineAlias", { stateMachineAliasArn = SM .. "a:prod" })
    assert.same({ "prod", "live", routing(100) }, { d.name, d.description, d.routingConfiguration })
    assert.equal(d.creationDate, d.updateDate)
    api.ok("UpdateStateMachineAlias", { stateMachineAliasArn = SM .. "a:prod", routingConfiguration = routing(30, 70) })
    d = api.ok("DescribeStateMachineAlias", { stateMachineAliasArn = SM .. "a:prod" })
    assert.same({ "live", routing(30, 70) }, { d.description, d.routingConfiguration })
    api.ok("CreateStateMachineAlias", { name = "beta", routingConfiguration = routing(100) })
    local l1 = api.ok("ListStateMachineAliases", { stateMachineArn = SM .. "a", maxResults = 1 })
    local l2 = api.ok("ListStateMachineAliases", { stateMachineArn = SM .. "a", nextToken = l1.nextToken })
    assert.same({ SM .. "a:prod", SM .. "a:beta" }, { l1.stateMachineAliases[1].stateMachineAliasArn,
      l2.stateMachineAliases[1].stateMachineAliasArn })
    api.ok("DeleteStateMachineAlias", { stateMachineAliasArn = SM .. "a:beta" })
    api.ok("DeleteStateMachineAlias", { stateMachineAliasArn = SM .. "a:beta" })  -- gone: still fine
    assert.same({ SM .. "a:prod" }, arns(api.ok("ListStateMachineAliases", { stateMachineArn = SM .. "a" })
      .stateMachineAliases, "stateMachineAliasArn"))
    assert.same({ 400, "ResourceNotFound", "Request references a resource that does not exist." },
      { api.err("UpdateStateMachineAlias", { stateMachineAliasArn = SM .. "a:beta", description = "x" }) })
    assert.equal("ResourceNotFound", select(2, api.err("DescribeStateMachineAlias",
      { stateMachineAliasArn = SM .. "a:beta" })))
    assert.equal("StateMachineDoesNotExist", select(2, api.err("ListStateMachineAliases",
      { stateMachineArn = SM .. "none" })))
    assert.equal("InvalidToken", select(2, api.err("ListStateMachineAliases", { stateMachineArn = SM .. "a",
      nextToken = "Invalid token" })))
  end)

  it("checks routing configurations as AWS does", function()
    local function refused(r)
      local _, code, message = api.err("CreateStateMachineAlias", { name = "bad", routingConfiguration = r })
      return code .. ": " .. message
    end
    assert.equal("ValidationException: Routing configuration must contain state machine version ARNs. Received: ["
      .. SM .. "a]", refused({ { stateMachineVersionArn = SM .. "a", weight = 100 } }))
    assert.equal("ValidationException: Routing configuration must contain distinct state machine version ARNs. "
      .. "Received: [" .. SM .. "a:1, " .. SM .. "a:1]", refused({ { stateMachineVersionArn = SM .. "a:1",
      weight = 50 }, { stateMachineVersionArn = SM .. "a:1", weight = 50 } }))
    assert.equal("ValidationException: Sum of routing configuration weights must equal 100. Received: [70, 29]",
      refused(routing(70, 29)))
    assert.equal("ResourceNotFound: Request references a resource that does not exist.",
      refused({ { stateMachineVersionArn = SM .. "a:9", weight = 100 } }))
    assert.matches("^1 validation error detected: Value 'INVALID ALIAS' at 'name' failed to "
      .. "satisfy constraint: Member must satisfy regular expression pattern: ",
      select(3, api.err("CreateStateMachineAlias", { name = "INVALID ALIAS", routingConfiguration = routing(100) })))
    local three = routing(50, 30)
    three[3] = { stateMachineVersionArn = SM .. "a:3", weight = 20 }
    assert.matches("Member must have length less than or equal to 2", select(3, api.err("CreateStateMachineAlias",
      { name = "three", routingConfiguration = three })))
  end)

  it("routes executions started through an alias to its versions by weight", function()
    api.ok("CreateStateMachineAlias", { name = "all1", routingConfiguration = routing(100, 0) })
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "a:all1" })
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ '"one"', SM .. "a:all1", SM .. "a:1" }, { d.output, d.stateMachineAliasArn,
      d.stateMachineVersionArn })
    assert.equal(1, #api.ok("ListExecutions", { stateMachineArn = SM .. "a:all1" }).executions)
    -- 50/50: both versions run
    api.ok("CreateStateMachineAlias", { name = "half", routingConfiguration = routing(50, 50) })
    local seen = {}
    for _ = 1, 40 do
      local x = api.ok("StartExecution", { stateMachineArn = SM .. "a:half" })
      seen[api.ok("DescribeExecution", { executionArn = x.executionArn }).stateMachineVersionArn] = true
    end
    assert.same({ [SM .. "a:1"] = true, [SM .. "a:2"] = true }, seen)
    -- a version an alias routes to cannot be deleted
    assert.same({ 400, "ConflictException", "Version to be deleted must not be referenced by an alias. Current "
      .. "list of aliases referencing this version: [all1, half]" },
      { api.err("DeleteStateMachineVersion", { stateMachineVersionArn = SM .. "a:1" }) })
  end)
end)

describe("stepflow.server DeleteStateMachine", function()
  it("is DELETING while executions run, which end at their next transition; then it goes", function()
    local waiting
    local api = helper.start({ handlers = {
      hold = function(_, ctx) return ctx.await(function(resume) waiting = resume end) end } })
    api.create("d", '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"hold","Next":"P"},'
      .. '"P":{"Type":"Pass","End":true}}}', { publish = true, tags = { { key = "k", value = "v" } } })
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "d" })
    assert.is_true(api.until_true(function() return waiting ~= nil end))
    api.ok("DeleteStateMachine", { stateMachineArn = SM .. "d" })
    assert.equal("DELETING", api.ok("DescribeStateMachine", { stateMachineArn = SM .. "d" }).status)
    local deleting = "State machine is being deleted: '" .. SM .. "d'"
    assert.same({ 400, "StateMachineDeleting", deleting }, { api.err("StartExecution", { stateMachineArn = SM .. "d" }) })
    assert.same({ 400, "StateMachineDeleting", deleting },
      { api.err("PublishStateMachineVersion", { stateMachineArn = SM .. "d" }) })
    assert.same({ 400, "StateMachineDeleting", deleting },
      { api.err("CreateStateMachine", { name = "d", definition = PASS, roleArn = helper.ROLE }) })
    assert.same({ 400, "StateMachineDeleting", deleting },
      { api.err("UpdateStateMachine", { stateMachineArn = SM .. "d", definition = PASS }) })
    assert.same({ 400, "StateMachineDeleting", deleting },
      { api.err("ListStateMachineAliases", { stateMachineArn = SM .. "d" }) })
    local d = api.ok("DescribeExecution", { executionArn = e.executionArn })
    assert.same({ "RUNNING", "NOT_REDRIVABLE" }, { d.status, d.redriveStatus })
    -- the task's result is the execution's next transition: it ends there
    waiting("done")
    assert.is_true(api.status(e.executionArn, "ABORTED"))
    assert.equal("StateMachineDoesNotExist", select(2, api.err("DescribeStateMachine", { stateMachineArn = SM .. "d" })))
    assert.equal("StateMachineDoesNotExist", select(2, api.err("DescribeStateMachine", { stateMachineArn = SM .. "d:1" })))
    assert.equal("ResourceNotFound", select(2, api.err("ListTagsForResource", { resourceArn = SM .. "d" })))
    -- a machine of that name can be made again, without the old versions
    api.create("d", PASS)
    assert.same({}, api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "d" }).stateMachineVersions)
    assert.same({}, api.ok("ListTagsForResource", { resourceArn = SM .. "d" }).tags)
    e = api.ok("StartExecution", { stateMachineArn = SM .. "d" })
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    api.close()
  end)
end)

describe("stepflow.server DeleteStateMachine in a store", function()
  it("stays DELETING across a restart; the resumed executions end at their next transition", function()
    local path = os.tmpname()
    os.remove(path)
    local hold = function(_, ctx) return ctx.await(function() end) end
    local api = helper.start({ store = path, handlers = { hold = hold } })
    api.create("d", '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"hold","End":true}}}')
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "d" })
    api.ok("DeleteStateMachine", { stateMachineArn = SM .. "d" })
    api.close()
    api = helper.start({ store = path, handlers = { hold = hold } })
    assert.equal("DELETING", api.ok("DescribeStateMachine", { stateMachineArn = SM .. "d" }).status)
    api.engine:recover()
    assert.is_true(api.status(e.executionArn, "ABORTED"))
    assert.equal("StateMachineDoesNotExist", select(2, api.err("DescribeStateMachine", { stateMachineArn = SM .. "d" })))
    api.close()
    for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. suffix) end
  end)
end)

describe("stepflow.server versions and aliases in a store", function()
  it("survive a restart", function()
    local path = os.tmpname()
    os.remove(path)
    local api = helper.start({ store = path })
    api.create("s", R1, { publish = true, versionDescription = "v1" })
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "s", definition = R2, publish = true })
    api.ok("CreateStateMachineAlias", { name = "live", routingConfiguration = {
      { stateMachineVersionArn = SM .. "s:1", weight = 100 } } })
    api.ok("DeleteStateMachineVersion", { stateMachineVersionArn = SM .. "s:2" })
    api.close()
    api = helper.start({ store = path })
    assert.same({ SM .. "s:1" }, arns(api.ok("ListStateMachineVersions", { stateMachineArn = SM .. "s" })
      .stateMachineVersions, "stateMachineVersionArn"))
    assert.equal("v1", api.ok("DescribeStateMachine", { stateMachineArn = SM .. "s:1" }).description)
    local e = api.ok("StartExecution", { stateMachineArn = SM .. "s:live" })
    assert.is_true(api.status(e.executionArn, "SUCCEEDED"))
    assert.equal('"one"', api.ok("DescribeExecution", { executionArn = e.executionArn }).output)
    -- the next version is 3: 2 was used
    api.ok("UpdateStateMachine", { stateMachineArn = SM .. "s", definition = PASS })
    assert.equal(SM .. "s:3", api.ok("PublishStateMachineVersion", { stateMachineArn = SM .. "s" })
      .stateMachineVersionArn)
    api.close()
    for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. suffix) end
    assert.is_table(json)
  end)
end)
