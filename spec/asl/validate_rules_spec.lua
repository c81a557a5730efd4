-- stepflow.asl.validate: the rules of each state type: Task numbers,
-- Retry/Catch, Choice rules, Wait, Fail, Parallel, Map.
local validate = require("stepflow.asl.validate")

local function machine(start, states, extra)
  local def = { StartAt = start, States = states }
  for k, v in pairs(extra or {}) do def[k] = v end
  return def
end

local function pass_end() return { Type = "Pass", End = true } end

local function rejects(def, path, text, opts)
  local problems = validate.check(def, opts)
  assert.are.equal(1, #problems, validate.format(problems))
  assert.are.equal(path, problems[1].path)
  assert.is_truthy(problems[1].message:find(text, 1, true),
    "message '" .. problems[1].message .. "' lacks '" .. text .. "'")
end

local function accepts(def, opts)
  local problems = validate.check(def, opts)
  assert.are.equal("", validate.format(problems))
end

-- A Task T (End) with extra fields, plus a state H to catch into.
local function task(extra)
  local t = { Type = "Task", Resource = "work", End = true }
  for k, v in pairs(extra) do t[k] = v end
  local states = { T = t }
  if extra.Catch then states.H = pass_end() end
  return machine("T", states)
end

-- A Choice state C whose rules go to A or B.
local function choice(rules, extra)
  local c = { Type = "Choice", Choices = rules }
  for k, v in pairs(extra or {}) do c[k] = v end
  return machine("C", { C = c, A = pass_end(), B = pass_end() })
end

describe("stepflow.asl.validate", function()
  describe("Task", function()
    it("rejects a TimeoutSeconds of 0", function()
      rejects(task({ TimeoutSeconds = 0 }), "/States/T/TimeoutSeconds",
        "The field 'TimeoutSeconds' must be a positive integer")
    end)

    it("rejects a fractional HeartbeatSeconds", function()
      rejects(task({ HeartbeatSeconds = 2.5 }), "/States/T/HeartbeatSeconds",
        "The field 'HeartbeatSeconds' must be a positive integer (at most 99999999), got 2.5")
    end)

    it("rejects TimeoutSeconds together with TimeoutSecondsPath", function()
      rejects(task({ TimeoutSeconds = 5, TimeoutSecondsPath = "$.t" }), "/States/T/TimeoutSecondsPath",
        "A state cannot include both field 'TimeoutSeconds' and 'TimeoutSecondsPath'")
    end)

    it("rejects HeartbeatSeconds not below TimeoutSeconds", function()
      rejects(task({ TimeoutSeconds = 5, HeartbeatSeconds = 5 }), "/States/T/HeartbeatSeconds",
        "HeartbeatSeconds (5) must be smaller than TimeoutSeconds (5)")
    end)

    it("rejects a bad HeartbeatSecondsPath", function()
      rejects(task({ HeartbeatSecondsPath = "heartbeat" }), "/States/T/HeartbeatSecondsPath",
        "The value for the field 'HeartbeatSecondsPath' must be a valid JSONPath")
    end)

    it("accepts Credentials with a RoleArn path", function()
      accepts(task({ Credentials = { ["RoleArn.$"] = "$.role" } }))
    end)

    it("rejects Credentials without RoleArn", function()
      local problems = validate.check(task({ Credentials = { Role = "arn:aws:iam::1:role/x" } }))
      assert.are.same({
        { path = "/States/T/Credentials/Role",
          message = "Field 'Role' is not supported in Credentials; give RoleArn or RoleArn.$" },
        { path = "/States/T/Credentials",
          message = "These fields are required: [RoleArn]; Credentials names the IAM role to assume" },
      }, problems)
    end)

    it("rejects a RoleArn that is not a string", function()
      rejects(task({ Credentials = { RoleArn = 5 } }), "/States/T/Credentials/RoleArn",
        "RoleArn must be a string (an IAM role ARN), got integer")
    end)

    it("rejects Credentials that are not an object", function()
      rejects(task({ Credentials = "arn:aws:iam::1:role/x" }), "/States/T/Credentials",
        "Credentials must be an object")
    end)

    it("rejects a malformed ARN", function()
      rejects(task({ Resource = "arn:aws:lambda:us-east-1:123456789012:function:charge:" }),
        "/States/T/Resource", "The resource provided arn:aws:lambda:us-east-1:123456789012:function:charge: "
        .. "is not recognized. The value is not a valid resource ARN")
      rejects(task({ Resource = "arn:aws:lambda:us-east-1:1:function:f:$*#$7485" }), "/States/T/Resource",
        "is not recognized")
      rejects(task({ Resource = "arn:aws:states" }), "/States/T/Resource", "is not recognized")
    end)

    it("accepts handler names and well-formed ARNs", function()
      for _, r in ipairs({ "charge", "my handler", "arn:aws:lambda:us-east-1:1:function:f",
          "arn:aws:lambda:us-east-1:1:function:f:prod", "arn:aws:lambda:us-east-1:1:function:f:$LATEST",
          "arn:aws:states:::lambda:invoke", "arn:aws:states:::aws-sdk:s3:listBuckets",
          "arn:aws:states:us-east-1:1:activity:approve" }) do
        accepts(task({ Resource = r }))
      end
    end)

    it("accepts .sync and .waitForTaskToken resources in a STANDARD machine", function()
      accepts(task({ Resource = "arn:aws:states:::lambda:invoke.waitForTaskToken" }))
      accepts(task({ Resource = "arn:aws:states:::states:startExecution.sync:2" }))
    end)

    it("rejects .waitForTaskToken in an EXPRESS machine", function()
      rejects(task({ Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken" }),
        "/States/T/Resource", "Express state machine does not support '.waitForTaskToken' service integration",
        { type = "EXPRESS" })
    end)

    it("rejects an activity in an EXPRESS machine", function()
      rejects(task({ Resource = "arn:aws:states:us-east-1:123456789012:activity:approve" }),
        "/States/T/Resource", "Express state machine does not support Activity ARN", { type = "EXPRESS" })
      accepts(task({ Resource = "arn:aws:states:us-east-1:123456789012:activity:approve" }))
    end)
  end)

  describe("Retry", function()
    it("requires ErrorEquals", function()
      rejects(task({ Retry = { { MaxAttempts = 1 } } }), "/States/T/Retry/0",
        "These fields are required: [ErrorEquals]")
    end)

    it("rejects an empty ErrorEquals", function()
      rejects(task({ Retry = { { ErrorEquals = require("stepflow.json").array({}) } } }),
        "/States/T/Retry/0/ErrorEquals", "ErrorEquals must be a non-empty array of error names, got an empty array")
    end)

    it("rejects States.ALL with other names", function()
      rejects(task({ Retry = { { ErrorEquals = { "States.ALL", "Custom" } } } }),
        "/States/T/Retry/0/ErrorEquals", "States.ALL must appear alone in ErrorEquals")
    end)

    it("rejects States.ALL before the last retrier", function()
      rejects(task({ Retry = { { ErrorEquals = { "States.ALL" } }, { ErrorEquals = { "Custom" } } } }),
        "/States/T/Retry/0/ErrorEquals", "States.ALL must be in the last Retry entry")
    end)

    it("rejects an IntervalSeconds of 0", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, IntervalSeconds = 0 } } }),
        "/States/T/Retry/0/IntervalSeconds", "IntervalSeconds must be a positive integer")
    end)

    it("rejects a negative MaxAttempts", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, MaxAttempts = -1 } } }),
        "/States/T/Retry/0/MaxAttempts", "MaxAttempts must be an integer >= 0 (0 = never retry), got -1")
    end)

    it("rejects a BackoffRate below 1", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, BackoffRate = 0.5 } } }),
        "/States/T/Retry/0/BackoffRate", "BackoffRate must be a number >= 1.0")
    end)

    it("rejects an unknown JitterStrategy", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, JitterStrategy = "HALF" } } }),
        "/States/T/Retry/0/JitterStrategy", "JitterStrategy must be 'FULL' or 'NONE', got 'HALF'")
    end)

    it("rejects a MaxDelaySeconds of 0", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, MaxDelaySeconds = 0 } } }),
        "/States/T/Retry/0/MaxDelaySeconds", "MaxDelaySeconds must be a positive integer")
    end)

    it("rejects an unknown retrier field with a suggestion", function()
      rejects(task({ Retry = { { ErrorEquals = { "X" }, MaxAttempt = 2 } } }),
        "/States/T/Retry/0/MaxAttempt", "Field 'MaxAttempt' is not supported in a retrier (did you mean 'MaxAttempts'?)")
    end)

    it("rejects a Retry that is not an array", function()
      rejects(task({ Retry = { ErrorEquals = { "X" } } }), "/States/T/Retry",
        "Retry must be an array of retriers, got object")
    end)

    it("accepts every retrier field", function()
      accepts(task({ Retry = { { ErrorEquals = { "States.Timeout", "Custom.Error" }, IntervalSeconds = 3,
        MaxAttempts = 0, BackoffRate = 1.5, MaxDelaySeconds = 10, JitterStrategy = "FULL",
        Comment = "c" } } }))
    end)
  end)

  describe("Catch", function()
    it("requires Next", function()
      rejects(machine("T", { T = { Type = "Task", Resource = "r", End = true,
        Catch = { { ErrorEquals = { "States.ALL" } } } } }), "/States/T/Catch/0",
        "These fields are required: [Next]")
    end)

    it("rejects a ResultPath that is not a reference path", function()
      rejects(task({ Catch = { { ErrorEquals = { "States.ALL" }, Next = "H", ResultPath = "$..err" } } }),
        "/States/T/Catch/0/ResultPath", "must be a valid reference path")
    end)

    it("rejects Output in a JSONPath catcher", function()
      rejects(task({ Catch = { { ErrorEquals = { "States.ALL" }, Next = "H", Output = {} } } }),
        "/States/T/Catch/0/Output", "field 'Output' is only supported for the 'JSONata' QueryLanguage")
    end)

    it("rejects States.ALL before the last catcher", function()
      rejects(task({ Catch = { { ErrorEquals = { "States.ALL" }, Next = "H" },
        { ErrorEquals = { "X" }, Next = "H" } } }),
        "/States/T/Catch/0/ErrorEquals", "States.ALL must be in the last Catch entry")
    end)

    it("accepts Assign with a path in a catcher", function()
      accepts(task({ Catch = { { ErrorEquals = { "States.ALL" }, Next = "H",
        Assign = { ["failure.$"] = "$.Cause" } } } }))
    end)
  end)

  describe("Choice", function()
    it("requires Choices", function()
      rejects(machine("C", { C = { Type = "Choice", Default = "A" }, A = pass_end() }), "/States/C",
        "These fields are required: [Choices]")
    end)

    it("rejects an empty Choices array", function()
      rejects(machine("C", { C = { Type = "Choice", Choices = require("stepflow.json").array({}),
        Default = "A" }, A = pass_end() }), "/States/C/Choices",
        "Choices must be a non-empty array of Choice rules")
    end)

    it("requires Next on a top-level rule", function()
      rejects(choice({ { Variable = "$.x", IsPresent = true }, { Variable = "$.y", IsPresent = true,
        Next = "B" } }, { Default = "A" }), "/States/C/Choices/0",
        "These fields are required: [Next]")
    end)

    it("rejects Next on a nested rule", function()
      rejects(choice({ { Not = { Variable = "$.x", IsNull = true, Next = "A" }, Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0/Not/Next", "a nested Choice rule (inside And, Or, Not) takes no Next")
    end)

    it("rejects a rule without an operator", function()
      rejects(choice({ { Variable = "$.x", Next = "A" } }, { Default = "B" }), "/States/C/Choices/0",
        "a Choice rule needs one comparison operator")
    end)

    it("rejects a rule with two operators", function()
      rejects(choice({ { Variable = "$.x", StringEquals = "a", IsPresent = true, Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0",
        "a Choice rule takes exactly one operator, found IsPresent, StringEquals")
    end)

    it("requires Variable with a comparison", function()
      rejects(choice({ { NumericEquals = 1, Next = "A" } }, { Default = "B" }), "/States/C/Choices/0",
        "These fields are required: [Variable]")
    end)

    it("rejects a Variable that is not a reference path", function()
      rejects(choice({ { Variable = "$.items[*]", IsPresent = true, Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/Variable", "The value for the field 'Variable' must be a valid reference path")
    end)

    it("rejects an empty And", function()
      rejects(choice({ { And = require("stepflow.json").array({}), Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/And", "And must be a non-empty array of Choice rules, got an empty array")
    end)

    it("rejects an Or that is not an array", function()
      rejects(choice({ { Or = { Variable = "$.x", IsNull = true }, Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/Or", "Or must be a non-empty array of Choice rules, got object")
    end)

    it("rejects a Not holding an array", function()
      rejects(choice({ { Not = { { Variable = "$.x", IsNull = true } }, Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/Not", "Not must be one Choice rule (an object), got array")
    end)

    it("rejects a Variable beside And", function()
      rejects(choice({ { Variable = "$.x", And = { { Variable = "$.x", IsNull = true } }, Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0/Variable", "a rule with And takes no Variable")
    end)

    it("rejects a StringEquals operand that is not a string", function()
      rejects(choice({ { Variable = "$.x", StringEquals = 5, Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/StringEquals", "StringEquals must be a string, got 5")
    end)

    it("rejects a Numeric operand that is a string", function()
      rejects(choice({ { Variable = "$.x", NumericLessThan = "5", Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/NumericLessThan", "NumericLessThan must be a number, got '5'")
    end)

    it("rejects a BooleanEquals operand that is a string", function()
      rejects(choice({ { Variable = "$.x", BooleanEquals = "true", Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/BooleanEquals", "BooleanEquals must be true or false")
    end)

    it("rejects a Timestamp operand that is not a timestamp", function()
      rejects(choice({ { Variable = "$.x", TimestampEquals = "2016-13-05T21:29:29Z", Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0/TimestampEquals",
        "TimestampEquals must be an RFC 3339 timestamp string")
    end)

    it("rejects a *Path operand that is not a path", function()
      rejects(choice({ { Variable = "$.x", StringEqualsPath = "x", Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/StringEqualsPath", "StringEqualsPath must be a reference path")
    end)

    it("rejects a *Path operand that is not a reference path", function()
      rejects(choice({ { Variable = "$.x", NumericLessThanPath = "$.list[*].n", Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0/NumericLessThanPath",
        "NumericLessThanPath must be a reference path, got '$.list[*].n'")
    end)

    it("rejects an Is* operand that is not a boolean", function()
      rejects(choice({ { Variable = "$.x", IsPresent = "yes", Next = "A" } }, { Default = "B" }),
        "/States/C/Choices/0/IsPresent", "IsPresent must be true or false")
    end)

    it("rejects an unknown operator with a suggestion", function()
      local problems = validate.check(choice({ { Variable = "$.x", StringEqual = "a", Next = "A" } },
        { Default = "B" }))
      assert.are.equal("/States/C/Choices/0/StringEqual", problems[1].path)
      assert.are.equal("Field 'StringEqual' is not supported in a Choice rule (did you mean 'StringEquals'?)",
        problems[1].message)
    end)

    it("rejects Assign on a nested rule", function()
      rejects(choice({ { Or = { { Variable = "$.x", IsNull = true, Assign = { a = 1 } } }, Next = "A" } },
        { Default = "B" }), "/States/C/Choices/0/Or/0/Assign", "a nested Choice rule (inside And, Or, Not) takes no Assign")
    end)

    it("accepts every operator family with its operand type", function()
      accepts(choice({
        { Variable = "$.s", StringMatches = "log-*.txt", Next = "A" },
        { Variable = "$.n", NumericGreaterThanEquals = 1.5, Next = "A" },
        { Variable = "$.n", NumericEqualsPath = "$.m", Next = "A" },
        { Variable = "$.b", BooleanEquals = false, Next = "A" },
        { Variable = "$.t", TimestampLessThan = "2016-03-14T01:59:00.123+01:00", Next = "A" },
        { Variable = "$$.Execution.Input.x", IsTimestamp = false, Next = "A" },
        { Variable = "$myvar", IsNumeric = true, Next = "B", Assign = { picked = "B" } },
      }, { Default = "B" }))
    end)
  end)

  describe("Wait", function()
    local function wait(fields)
      local w = { Type = "Wait", End = true }
      for k, v in pairs(fields) do w[k] = v end
      return machine("W", { W = w })
    end

    it("requires one of Seconds, Timestamp, SecondsPath, TimestampPath", function()
      rejects(wait({}), "/States/W", "A Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath")
    end)

    it("rejects Seconds together with SecondsPath", function()
      rejects(wait({ Seconds = 1, SecondsPath = "$.s" }), "/States/W/SecondsPath",
        "A Wait state takes exactly one of Seconds, Timestamp, SecondsPath, TimestampPath; found Seconds, SecondsPath")
    end)

    it("rejects negative Seconds", function()
      rejects(wait({ Seconds = -1 }), "/States/W/Seconds", "The field 'Seconds' must be an integer from 0 to 99999999")
    end)

    it("rejects a Timestamp without a time zone", function()
      rejects(wait({ Timestamp = "2016-12-05T21:29:29" }), "/States/W/Timestamp",
        "The field 'Timestamp' must be an RFC 3339 timestamp")
    end)

    it("rejects a TimestampPath that is not a path", function()
      rejects(wait({ TimestampPath = "when" }), "/States/W/TimestampPath",
        "The value for the field 'TimestampPath' must be a valid JSONPath")
    end)

    it("accepts a Timestamp with fractional seconds and an offset", function()
      accepts(wait({ Timestamp = "2016-03-14T01:59:00.5-05:00" }))
    end)
  end)

  describe("Fail", function()
    it("rejects Error together with ErrorPath", function()
      rejects(machine("F", { F = { Type = "Fail", Error = "E", ErrorPath = "$.e" } }), "/States/F/ErrorPath",
        "A Fail state cannot include both field 'Error' and 'ErrorPath'")
    end)

    it("rejects Cause together with CausePath", function()
      rejects(machine("F", { F = { Type = "Fail", Cause = "c", CausePath = "$.c" } }), "/States/F/CausePath",
        "A Fail state cannot include both field 'Cause' and 'CausePath'")
    end)

    it("rejects an ErrorPath that is not a string", function()
      rejects(machine("F", { F = { Type = "Fail", ErrorPath = 5 } }), "/States/F/ErrorPath",
        "ErrorPath must be a string (a path or an intrinsic function call), got integer")
    end)

    it("rejects a bad intrinsic in CausePath", function()
      rejects(machine("F", { F = { Type = "Fail", CausePath = "States.Format('{}', $.x" } }),
        "/States/F/CausePath", "The value for the field 'CausePath' must be a valid JSONPath or a valid intrinsic function call")
    end)

    it("accepts ErrorPath and CausePath with paths and intrinsics", function()
      accepts(machine("F", { F = { Type = "Fail", ErrorPath = "$.error",
        CausePath = "States.Format('failed: {}', $.cause)" } }))
    end)
  end)

  describe("Parallel", function()
    it("requires Branches", function()
      rejects(machine("P", { P = { Type = "Parallel", End = true } }), "/States/P",
        "These fields are required: [Branches]")
    end)

    it("rejects empty Branches", function()
      rejects(machine("P", { P = { Type = "Parallel", End = true, Branches = require("stepflow.json").array({}) } }),
        "/States/P/Branches", "Branches must be a non-empty array of branches")
    end)

    it("requires StartAt in a branch", function()
      rejects(machine("P", { P = { Type = "Parallel", End = true, Branches = { { States = { B = pass_end() } } } } }),
        "/States/P/Branches/0", "These fields are required: [StartAt]")
    end)

    it("rejects an unknown field in a branch", function()
      rejects(machine("P", { P = { Type = "Parallel", End = true,
        Branches = { { StartAt = "B", States = { B = pass_end() }, QueryLanguage = "JSONata" } } } }),
        "/States/P/Branches/0/QueryLanguage", "Field 'QueryLanguage' is not supported in a Parallel branch")
    end)

    it("checks the states inside a branch", function()
      rejects(machine("P", { P = { Type = "Parallel", End = true,
        Branches = { { StartAt = "B", States = { B = { Type = "Pass", Next = "Nope" } } } } } }),
        "/States/P/Branches/0/States/B/Next", "no state named 'Nope' (states here: B)")
    end)
  end)

  describe("Map", function()
    local function map(fields)
      local m = { Type = "Map", End = true, ItemProcessor = { StartAt = "I", States = { I = pass_end() } } }
      for k, v in pairs(fields) do m[k] = v end
      return machine("M", { M = m })
    end

    it("requires ItemProcessor or Iterator", function()
      rejects(machine("M", { M = { Type = "Map", End = true } }), "/States/M",
        "These fields are required: [ItemProcessor]")
    end)

    it("rejects both ItemProcessor and Iterator", function()
      rejects(map({ Iterator = { StartAt = "J", States = { J = pass_end() } } }), "/States/M/Iterator",
        "A Map state cannot include both 'ItemProcessor' and the deprecated 'Iterator'")
    end)

    it("accepts the deprecated Iterator", function()
      accepts(machine("M", { M = { Type = "Map", End = true, Parameters = { ["x.$"] = "$$.Map.Item.Value" },
        Iterator = { StartAt = "J", States = { J = pass_end() } } } }))
    end)

    it("rejects an unknown ProcessorConfig Mode", function()
      rejects(map({ ItemProcessor = { ProcessorConfig = { Mode = "PARALLEL" }, StartAt = "I",
        States = { I = pass_end() } } }), "/States/M/ItemProcessor/ProcessorConfig/Mode",
        "Mode must be 'INLINE' or 'DISTRIBUTED', got 'PARALLEL'")
    end)

    it("requires ExecutionType in DISTRIBUTED mode", function()
      rejects(map({ ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED" }, StartAt = "I",
        States = { I = pass_end() } } }), "/States/M/ItemProcessor/ProcessorConfig",
        "These fields are required: [ExecutionType]")
    end)

    it("rejects an unknown ExecutionType", function()
      rejects(map({ ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "FAST" },
        StartAt = "I", States = { I = pass_end() } } }), "/States/M/ItemProcessor/ProcessorConfig/ExecutionType",
        "ExecutionType must be 'STANDARD' or 'EXPRESS', got 'FAST'")
    end)

    it("rejects a negative MaxConcurrency", function()
      rejects(map({ MaxConcurrency = -1 }), "/States/M/MaxConcurrency",
        "The field 'MaxConcurrency' must be an integer >= 0 (0 = no limit), got -1")
    end)

    it("rejects MaxConcurrency together with MaxConcurrencyPath", function()
      rejects(map({ MaxConcurrency = 1, MaxConcurrencyPath = "$.m" }), "/States/M/MaxConcurrencyPath",
        "A Map state cannot include both field 'MaxConcurrency' and 'MaxConcurrencyPath'")
    end)

    it("rejects a ToleratedFailurePercentage above 100", function()
      rejects(map({ ToleratedFailurePercentage = 100.5 }), "/States/M/ToleratedFailurePercentage",
        "The field 'ToleratedFailurePercentage' must be a number from 0 to 100, got 100.5: must be between 0 and 100")
    end)

    it("rejects a negative ToleratedFailureCount", function()
      rejects(map({ ToleratedFailureCount = -2 }), "/States/M/ToleratedFailureCount",
        "The field 'ToleratedFailureCount' must be an integer >= 0")
    end)

    it("rejects ItemSelector together with Parameters", function()
      rejects(map({ ItemSelector = { a = 1 }, Parameters = { a = 1 } }), "/States/M/Parameters",
        "A Map state cannot include both 'ItemSelector' and the deprecated 'Parameters'")
    end)

    it("rejects ItemReader and ResultWriter on an inline Map", function()
      rejects(map({ ItemReader = { Resource = "arn:aws:states:::s3:getObject",
        Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "JSON" } } }),
        "/States/M/ItemReader", "Field 'ItemReader' needs a Distributed Map")
      rejects(map({ ResultWriter = { Resource = "arn:aws:states:::s3:putObject",
        Parameters = { Bucket = "b", Prefix = "p" } } }), "/States/M/ResultWriter",
        "Field 'ResultWriter' needs a Distributed Map")
    end)

    it("accepts ItemReader and ResultWriter on a Distributed Map", function()
      local def = map({ ItemReader = { Resource = "arn:aws:states:::s3:getObject",
        Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "CSV", CSVHeaderLocation = "FIRST_ROW" } },
        ResultWriter = { Resource = "arn:aws:states:::s3:putObject", Parameters = { Bucket = "b", Prefix = "p" } } })
      def.States.M.ItemProcessor.ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" }
      assert.same({}, validate.check(def))
    end)

    it("refuses loudly an ItemReader of PARQUET data, which stepflow cannot decode", function()
      local def = map({ ItemReader = { Resource = "arn:aws:states:::s3:getObject",
        Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "PARQUET" } } })
      def.States.M.ItemProcessor.ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" }
      rejects(def, "/States/M/ItemReader/ReaderConfig/InputType", "InputType PARQUET is not supported by stepflow")
    end)

    it("rejects a Label longer than 40 characters", function()
      rejects(map({ Label = string.rep("l", 41) }), "/States/M/Label",
        "Label must be a non-empty string of at most 40 characters")
    end)

    it("rejects a Label with a character a Map Run name cannot have", function()
      rejects(map({ Label = "fan out" }), "/States/M/Label", "Label 'fan out' holds a character")
    end)

    it("rejects an unknown ItemBatcher field", function()
      rejects(map({ ItemBatcher = { MaxItemsPerBatc = 5 } }), "/States/M/ItemBatcher/MaxItemsPerBatc",
        "Field 'MaxItemsPerBatc' is not supported in ItemBatcher (did you mean 'MaxItemsPerBatch'?)")
    end)

    it("accepts a DISTRIBUTED map with batching and failure tolerance", function()
      accepts(map({ ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" },
        StartAt = "I", States = { I = pass_end() } }, ItemsPath = "$.items", Label = "fan",
        ItemBatcher = { MaxItemsPerBatch = 10, BatchInput = { ["run.$"] = "$$.Execution.Id" } },
        ToleratedFailurePercentage = 5, ToleratedFailureCountPath = "$.tolerated", MaxConcurrencyPath = "$.m" }))
    end)
  end)
end)
