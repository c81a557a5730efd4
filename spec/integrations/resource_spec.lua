-- The one parser of Resource strings, and the validator's use of it.
local resource = require("stepflow.integrations.resource")
local validate = require("stepflow.asl.validate")

local function task(r, opts)
  return validate.check({ StartAt = "T", States = { T = { Type = "Task", Resource = r, End = true } } }, opts)
end

describe("stepflow.integrations.resource", function()
  describe("parse", function()
    it("reads an optimized integration: service, action, pattern, and what the history records", function()
      local i = assert(resource.parse("arn:aws:states:::sqs:sendMessage.waitForTaskToken"))
      assert.same({ "service", "sqs", "sendMessage", ".waitForTaskToken", "sqs", "sendMessage.waitForTaskToken" },
        { i.kind, i.service, i.action, i.pattern, i.resource_type, i.resource })
      assert.equal("arn:aws:states:::sqs:sendMessage", i.base)
      assert.is_nil(i.region)
    end)

    it("reads the exported form with region and account as the same integration", function()
      local short = assert(resource.parse("arn:aws:states:::aws-sdk:s3:getObject"))
      local long = assert(resource.parse("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject"))
      for _, k in ipairs({ "kind", "service", "sdk_service", "action", "pattern", "base", "resource_type",
          "resource" }) do
        assert.equal(short[k], long[k], k)
      end
      assert.equal("aws-sdk:s3", long.service)
      assert.equal("s3", long.sdk_service)
      assert.equal("us-east-1", long.region)
      assert.equal("123456789012", long.account)
    end)

    it("reads .sync:2, Lambda function ARNs, activities and handler names", function()
      local s = assert(resource.parse("arn:aws:states:::states:startExecution.sync:2"))
      assert.same({ "startExecution", ".sync:2", "startExecution.sync:2" }, { s.action, s.pattern, s.resource })
      local l = assert(resource.parse("arn:aws:lambda:us-east-1:1:function:charge:prod"))
      assert.same({ "lambda", "charge", "prod" }, { l.kind, l.function_name, l.qualifier })
      local a = assert(resource.parse("arn:aws:states:us-east-1:1:activity:approve"))
      assert.same({ "activity", "approve" }, { a.kind, a.activity })
      local n = assert(resource.parse("echo"))
      assert.same({ "handler", "echo", "lua" }, { n.kind, n.base, n.resource_type })
    end)

    it("refuses an unknown pattern suffix and a missing action, saying what to write", function()
      local _, err = resource.parse("arn:aws:states:::sqs:sendMessage.waitForTaskTokn")
      assert.matches("unknown integration pattern '.waitForTaskTokn': write .sync, .sync:2 or .waitForTaskToken",
        err, 1, true)
      _, err = resource.parse("arn:aws:states:::aws-sdk:s3")
      assert.matches("names no service and action", err, 1, true)
      _, err = resource.parse("arn:aws:states:::sqs")
      assert.matches("names no action", err, 1, true)
    end)
  end)

  describe("supports", function()
    it("knows the patterns of AWS's integrations, and leaves unknown services to their integration", function()
      assert.is_true(resource.supports("states", "startExecution", ".sync:2"))
      assert.is_false(resource.supports("sqs", "sendMessage", ".sync"))
      assert.is_false(resource.supports("aws-sdk:s3", "getObject", ".sync"))
      assert.is_true(resource.supports("aws-sdk:s3", "getObject", ".waitForTaskToken"))
      assert.is_false(resource.supports("dynamodb", "putItem", ".waitForTaskToken"))
      assert.is_nil(resource.supports("myservice", "run", ".sync"))
    end)
  end)

  describe("in validation", function()
    it("refuses an unknown suffix at its place", function()
      local problems = task("arn:aws:states:::sqs:sendMessage.waitForTaskTokn")
      assert.equal(1, #problems)
      assert.equal("/States/T/Resource", problems[1].path)
      assert.matches("unknown integration pattern", problems[1].message, 1, true)
    end)

    it("refuses a pattern the AWS integration lacks", function()
      local problems = task("arn:aws:states:::aws-sdk:s3:getObject.sync")
      assert.matches("AWS SDK integrations support request-response and .waitForTaskToken", problems[1].message, 1,
        true)
      assert.equal(1, #task("arn:aws:states:::sqs:sendMessage.sync"))
    end)

    it("accepts every form a definition from AWS uses", function()
      for _, r in ipairs({ "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "arn:aws:states:::http:invoke",
          "arn:aws:states:::states:startExecution.sync:2", "arn:aws:states:::states:startExecution.sync",
          "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", "arn:aws:states:::ecs:runTask.sync",
          "arn:aws:states:::lambda:invoke.waitForTaskToken", "arn:aws:states:::myservice:anything.sync" }) do
        assert.same({}, task(r), r)
      end
    end)
  end)
end)
