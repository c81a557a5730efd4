-- Specs of the server's tags (TagResource, UntagResource,
-- ListTagsForResource) and of ValidateStateMachineDefinition, with the
-- facts of AWS-recorded answers.
local helper = require("server.api_helper")
local json = require("stepflow.json")

local SM = helper.SM

describe("stepflow.server tags", function()
  local api
  before_each(function() api = helper.start() end)
  after_each(function() api.close() end)

  local function tags(arn) return api.ok("ListTagsForResource", { resourceArn = arn }).tags end

  it("keeps the tags given at creation, one per key, in the order first given", function()
    api.create("t", nil, { tags = { { key = "key1", value = "value1" }, { key = "key2", value = "value2" },
      { key = "key1", value = "again" } } })
    assert.same({ { key = "key1", value = "again" }, { key = "key2", value = "value2" } }, tags(SM .. "t"))
  end)

  it("adds, replaces and removes tags", function()
    api.create("t")
    assert.same({}, tags(SM .. "t"))
    assert.is_true(json.is_array(tags(SM .. "t")))
    assert.same({}, api.ok("TagResource", { resourceArn = SM .. "t", tags = {} }))
    api.ok("TagResource", { resourceArn = SM .. "t", tags = { { key = "key1", value = "value1" },
      { key = "key1", value = "value1" } } })
    api.ok("TagResource", { resourceArn = SM .. "t", tags = { { key = "key2", value = "" } } })
    api.ok("TagResource", { resourceArn = SM .. "t", tags = { { key = "key1", value = "new" } } })
    assert.same({ { key = "key1", value = "new" }, { key = "key2", value = "" } }, tags(SM .. "t"))
    assert.same({}, api.ok("UntagResource", { resourceArn = SM .. "t", tagKeys = { "key1", "key1", "none" } }))
    assert.same({ { key = "key2", value = "" } }, tags(SM .. "t"))
    api.ok("UntagResource", { resourceArn = SM .. "t", tagKeys = {} })
    assert.equal(1, #tags(SM .. "t"))
  end)

  it("refuses more than 50 tags, changing nothing", function()
    api.create("t")
    local fifty = {}
    for i = 1, 50 do fifty[i] = { key = "k" .. i, value = "v" } end
    api.ok("TagResource", { resourceArn = SM .. "t", tags = fifty })
    api.ok("TagResource", { resourceArn = SM .. "t", tags = { { key = "k1", value = "changed" } } })
    local status, code, message = api.err("TagResource", { resourceArn = SM .. "t",
      tags = { { key = "k51", value = "v" } } })
    assert.same({ 400, "TooManyTags" }, { status, code })
    assert.matches("at most 50", message)
    local _, body = api.call("TagResource", { resourceArn = SM .. "t", tags = { { key = "k51", value = "v" } } })
    assert.equal(SM .. "t", body.resourceName)
    assert.equal(50, #tags(SM .. "t"))
    fifty[51] = { key = "k51", value = "v" }
    assert.equal("TooManyTags", select(2, api.err("CreateStateMachine", { name = "many", definition = helper.PASS,
      roleArn = helper.ROLE, tags = fifty })))
  end)

  it("tags state machines and activities only, that exist", function()
    api.create("t", nil, { publish = true })
    assert.same({ 400, "ResourceNotFound", "Resource not found: '" .. SM .. "t:1'" },
      { api.err("TagResource", { resourceArn = SM .. "t:1", tags = { { key = "k", value = "v" } } }) })
    assert.same({ 400, "ResourceNotFound", "Resource not found: '" .. SM .. "none'" },
      { api.err("ListTagsForResource", { resourceArn = SM .. "none" }) })
    assert.equal("InvalidArn", select(2, api.err("UntagResource", { resourceArn = "nope", tagKeys = {} })))
    assert.equal("InvalidArn", select(2, api.err("ListTagsForResource",
      { resourceArn = helper.EXEC .. "t:e1" })))
    -- an activity: its tags given at creation, then changed
    local act = "arn:aws:states:us-east-1:123456789012:activity:work"
    assert.equal("ResourceNotFound", select(2, api.err("ListTagsForResource", { resourceArn = act })))
    api.ok("CreateActivity", { name = "work", tags = { { key = "team", value = "x" }, { key = "env", value = "dev" } } })
    assert.same({ { key = "team", value = "x" }, { key = "env", value = "dev" } }, tags(act))
    api.ok("TagResource", { resourceArn = act, tags = { { key = "team", value = "a" } } })
    api.ok("UntagResource", { resourceArn = act, tagKeys = { "env" } })
    assert.same({ { key = "team", value = "a" } }, tags(act))
    api.ok("DescribeActivity", { activityArn = act })
    -- a deleted activity's tags go with it
    api.ok("DeleteActivity", { activityArn = act })
    assert.equal("ResourceNotFound", select(2, api.err("ListTagsForResource", { resourceArn = act })))
    api.ok("CreateActivity", { name = "work" })
    assert.same({}, tags(act))
    assert.equal("ValidationException", select(2, api.err("TagResource", { resourceArn = act,
      tags = { { key = "", value = "v" } } })))
  end)
end)

describe("stepflow.server ValidateStateMachineDefinition", function()
  local api
  before_each(function() api = helper.start() end)
  after_each(function() api.close() end)

  local function validate(definition, extra)
    local input = { definition = definition }
    for k, v in pairs(extra or {}) do input[k] = v end
    return api.ok("ValidateStateMachineDefinition", input)
  end

  it("answers OK without diagnostics for a valid definition", function()
    local r = validate(helper.PASS)
    assert.same({ result = "OK", diagnostics = {}, truncated = false }, r)
    assert.same({ result = "OK", diagnostics = {}, truncated = false },
      validate('{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":"{% 1 %}","End":true}}}',
        { type = "EXPRESS" }))
  end)

  it("answers what is not a definition as AWS does", function()
    assert.same({ result = "FAIL", truncated = false, diagnostics = { { severity = "ERROR",
      code = "SCHEMA_VALIDATION_FAILED", message = "Definition must be a valid JSON object" } } }, validate(" "))
    assert.same({ result = "FAIL", truncated = false, diagnostics = { { severity = "ERROR",
      code = "SCHEMA_VALIDATION_FAILED", message = "These fields are required: [States, StartAt]",
      location = "/" } } }, validate("{}"))
    local r = validate("not a definition")
    assert.equal("INVALID_JSON_DESCRIPTION", r.diagnostics[1].code)
    assert.equal('[Source: (String)"not a definition"; line: 1, column: 1]', r.diagnostics[1].location)
    assert.matches("\n at %[Source: ", r.diagnostics[1].message)
    r = validate('{\n"StartAt": tru}')
    assert.matches("line: 2, column: 12%]$", r.diagnostics[1].location)
    r = validate(("x"):rep(600))
    assert.matches('"%[truncated 100 chars%]; line: 1, column: 1%]$', r.diagnostics[1].location)
  end)

  it("gives every problem its code and location", function()
    local r = validate('{"StartAt":"pass1","States":{"pass1":{"Type":"Pass","Next":"pass3"},'
      .. '"pass2":{"Type":"Pass","End":true}}}')
    assert.equal("FAIL", r.result)
    local got = {}
    for i, d in ipairs(r.diagnostics) do got[i] = d.severity .. " " .. d.code .. " " .. d.location end
    assert.same({ "ERROR MISSING_TRANSITION_TARGET /States/pass1/Next",
      "ERROR MISSING_TRANSITION_TARGET /States/pass2" }, got)
    r = validate('{"StartAt":"T","States":{"T":{"Type":"Task","Resource":'
      .. '"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}', { type = "EXPRESS" })
    assert.same({ "SCHEMA_VALIDATION_FAILED", "/States/T/Resource" }, { r.diagnostics[1].code, r.diagnostics[1].location })
    assert.matches("^Express state machine does not support '.waitForTaskToken' service integration",
      r.diagnostics[1].message)
    assert.equal("OK", validate('{"StartAt":"T","States":{"T":{"Type":"Task","Resource":'
      .. '"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}').result)
  end)

  it("gives warnings with severity WARNING only, which leave the result OK", function()
    local def = '{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a":"$.x","b.$":"$.y",'
      .. '"c":{"d":"States.Format(\'{}\', $.z)"}},"Next":"R"},"R":{"Type":"Pass","Result":{"v.$":"$.x"},"Next":"F"},'
      .. '"F":{"Type":"Fail","Error":"$.error"}}}'
    assert.same({ result = "OK", diagnostics = {}, truncated = false }, validate(def))
    local r = validate(def, { severity = "WARNING" })
    assert.equal("OK", r.result)
    local got = {}
    for i, d in ipairs(r.diagnostics) do got[i] = d.severity .. " " .. d.code .. " " .. d.location end
    table.sort(got)
    assert.same({ "WARNING NO_DOLLAR /States/P/Parameters/a", "WARNING NO_DOLLAR /States/P/Parameters/c/d",
      "WARNING NO_PATH /States/F/Error", "WARNING PASS_RESULT_IS_STATIC /States/R/Result" }, got)
  end)

  it("answers at most maxResults diagnostics, saying when there were more", function()
    local states = {}
    for i = 1, 5 do states["S" .. i] = { Type = "Nope" } end
    local def = json.encode({ StartAt = "S1", States = states })
    local all = validate(def)
    assert.is_true(#all.diagnostics > 2)
    local r = validate(def, { maxResults = 2 })
    assert.same({ "FAIL", 2, true }, { r.result, #r.diagnostics, r.truncated })
    assert.same({ all.diagnostics[1], all.diagnostics[2] }, r.diagnostics)
    r = validate(def, { maxResults = 0 })
    assert.same({ #all.diagnostics, false }, { #r.diagnostics, r.truncated })
    assert.equal("ValidationException", select(2, api.err("ValidateStateMachineDefinition",
      { definition = def, maxResults = 101 })))
  end)
end)
