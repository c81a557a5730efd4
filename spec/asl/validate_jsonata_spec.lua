-- stepflow.asl.validate: the JSONata query language (per-state and
-- machine QueryLanguage, fields of one language, expressions, Assign), and
-- the hooks into stepflow.jsonata, stepflow.jsonpath and intrinsics.
local validate = require("stepflow.asl.validate")
local util = require("stepflow.asl.validate.util")

local function machine(start, states, extra)
  local def = { StartAt = start, States = states }
  for k, v in pairs(extra or {}) do def[k] = v end
  return def
end

local function jsonata_machine(start, states)
  return machine(start, states, { QueryLanguage = "JSONata" })
end

local function rejects(def, path, text)
  local problems = validate.check(def)
  assert.are.equal(1, #problems, validate.format(problems))
  assert.are.equal(path, problems[1].path)
  assert.is_truthy(problems[1].message:find(text, 1, true),
    "message '" .. problems[1].message .. "' lacks '" .. text .. "'")
end

local function accepts(def)
  assert.are.equal("", validate.format(validate.check(def)))
end


describe("stepflow.asl.validate", function()
  describe("with QueryLanguage JSONata", function()
    it("accepts the JSONata fields of every state type", function()
      accepts(jsonata_machine("P", {
        P = { Type = "Pass", Output = { x = "{% $states.input.x %}" }, Assign = { seen = true }, Next = "T" },
        T = { Type = "Task", Resource = "work", Arguments = { a = "{% $seen %}" },
          TimeoutSeconds = "{% 10 %}", HeartbeatSeconds = 5, Output = "{% $states.result %}",
          Catch = { { ErrorEquals = { "States.ALL" }, Next = "F",
            Output = "{% $states.errorOutput %}", Assign = { err = "{% $states.errorOutput.Error %}" } } },
          Next = "W" },
        W = { Type = "Wait", Seconds = "{% $states.input.delay %}", Next = "W2" },
        W2 = { Type = "Wait", Timestamp = "{% $now() %}", Next = "C" },
        C = { Type = "Choice", Choices = {
          { Condition = "{% $states.input.x > 1 %}", Next = "M", Assign = { branch = "big" },
            Output = { big = true } },
          { Condition = true, Next = "Par" } }, Default = "F" },
        M = { Type = "Map", Items = "{% $states.input.list %}", MaxConcurrency = "{% 2 %}",
          ItemSelector = { v = "{% $states.context.Map.Item.Value %}" },
          ToleratedFailurePercentage = "{% 10 %}", ToleratedFailureCount = 1,
          ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true } } }, Next = "S" },
        Par = { Type = "Parallel", Arguments = "{% $states.input %}", Branches = {
          { StartAt = "B", States = { B = { Type = "Succeed", Output = 1 } } } }, Next = "S" },
        S = { Type = "Succeed", Output = "{% $branch %}" },
        F = { Type = "Fail", Error = "{% 'E' %}", Cause = "literal cause" },
      }))
    end)

    it("rejects Parameters, naming the JSONata replacement", function()
      rejects(jsonata_machine("P", { P = { Type = "Pass", End = true, Parameters = { a = 1 } } }),
        "/States/P/Parameters", "The QueryLanguage is set to 'JSONata', but field 'Parameters' is only "
        .. "supported for the 'JSONPath' QueryLanguage: use Arguments instead")
    end)

    it("rejects InputPath, OutputPath, ResultPath and ResultSelector", function()
      local problems = validate.check(jsonata_machine("T", { T = { Type = "Task", Resource = "r", End = true,
        InputPath = "$.a", OutputPath = "$.b", ResultPath = "$.c", ResultSelector = { a = 1 } } }))
      local got = {}
      for i, p in ipairs(problems) do got[i] = p.path end
      assert.are.same({ "/States/T/InputPath", "/States/T/OutputPath", "/States/T/ResultPath",
        "/States/T/ResultSelector" }, got)
    end)

    it("rejects ItemsPath in a Map", function()
      rejects(jsonata_machine("M", { M = { Type = "Map", End = true, ItemsPath = "$.items",
        ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true } } } } }),
        "/States/M/ItemsPath", "field 'ItemsPath' is only supported for the 'JSONPath' QueryLanguage: use Items instead")
    end)

    it("rejects SecondsPath in a Wait", function()
      local problems = validate.check(jsonata_machine("W", { W = { Type = "Wait", End = true, SecondsPath = "$.s" } }))
      assert.are.equal("/States/W/SecondsPath", problems[1].path)
      assert.is_truthy(problems[1].message:find("use Seconds with a '{% ... %}' expression instead", 1, true))
    end)

    it("rejects ErrorPath in a Fail state", function()
      rejects(jsonata_machine("F", { F = { Type = "Fail", ErrorPath = "$.e" } }), "/States/F/ErrorPath",
        "field 'ErrorPath' is only supported for the 'JSONPath' QueryLanguage")
    end)

    it("rejects a catcher ResultPath", function()
      rejects(jsonata_machine("T", { T = { Type = "Task", Resource = "r", End = true,
        Catch = { { ErrorEquals = { "States.ALL" }, Next = "H", ResultPath = "$.err" } } },
        H = { Type = "Succeed" } }), "/States/T/Catch/0/ResultPath",
        "field 'ResultPath' is only supported for the 'JSONPath' QueryLanguage")
    end)

    it("rejects a JSONPath state inside a JSONata machine", function()
      rejects(jsonata_machine("P", { P = { Type = "Pass", End = true, QueryLanguage = "JSONPath" } }),
        "/States/P/QueryLanguage", "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine")
    end)

    it("rejects a JSONPath state nested in a Map of a JSONata machine", function()
      rejects(jsonata_machine("M", { M = { Type = "Map", End = true, Items = { 1 },
        ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true, QueryLanguage = "JSONPath" } } } } }),
        "/States/M/ItemProcessor/States/I/QueryLanguage", "'QueryLanguage' can not be 'JSONPath'")
    end)

    it("takes the machine's language, not the Map's, for nested states", function()
      rejects(machine("M", { M = { Type = "Map", End = true, QueryLanguage = "JSONata", Items = { 1 },
        ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true, Output = 1 } } } } }),
        "/States/M/ItemProcessor/States/I/Output", "The QueryLanguage is set to 'JSONPath', but field 'Output'")
    end)

    it("rejects an integer field given as a plain string", function()
      rejects(jsonata_machine("T", { T = { Type = "Task", Resource = "r", End = true, TimeoutSeconds = "10" } }),
        "/States/T/TimeoutSeconds",
        "The field 'TimeoutSeconds' must be a positive integer (at most 99999999) or a JSONata expression '{% ... %}', got '10'")
    end)

    it("rejects an empty expression", function()
      rejects(jsonata_machine("P", { P = { Type = "Pass", End = true, Output = { a = "{%  %}" } } }),
        "/States/P/Output/a", "the JSONata expression is empty")
    end)

    it("rejects Arguments that are neither an object nor an expression", function()
      rejects(jsonata_machine("T", { T = { Type = "Task", Resource = "r", End = true, Arguments = 5 } }),
        "/States/T/Arguments", "The field 'Arguments' must be an object or a JSONata expression")
    end)

    it("rejects Items that are neither an array nor an expression", function()
      rejects(jsonata_machine("M", { M = { Type = "Map", End = true, Items = "list",
        ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true } } } } }),
        "/States/M/Items", "Items must be an array or a JSONata expression '{% ... %}', got 'list'")
    end)
  end)

  describe("a JSONata state in a JSONPath machine", function()
    it("is accepted", function()
      accepts(machine("A", { A = { Type = "Pass", QueryLanguage = "JSONata", Output = "{% 1 %}", Next = "B" },
        B = { Type = "Pass", QueryLanguage = "JSONPath", ResultPath = "$.x", End = true } }))
    end)

    it("rejects a QueryLanguage value out of the enum", function()
      rejects(machine("A", { A = { Type = "Pass", QueryLanguage = "JSONATA", End = true } }),
        "/States/A/QueryLanguage", "Value should be one of the following: [JSONPath, JSONata]")
    end)
  end)

  describe("with QueryLanguage JSONPath", function()
    it("rejects Output, naming the JSONPath replacement", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Output = { a = 1 } } }), "/States/A/Output",
        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage")
    end)

    it("rejects Arguments", function()
      rejects(machine("T", { T = { Type = "Task", Resource = "r", End = true, Arguments = { a = 1 } } }),
        "/States/T/Arguments", "field 'Arguments' is only supported for the 'JSONata' QueryLanguage: use Parameters instead")
    end)

    it("rejects Items in a Map", function()
      rejects(machine("M", { M = { Type = "Map", End = true, Items = { 1 },
        ItemProcessor = { StartAt = "I", States = { I = { Type = "Pass", End = true } } } } }),
        "/States/M/Items", "field 'Items' is only supported for the 'JSONata' QueryLanguage: use ItemsPath instead")
    end)
  end)

  describe("JSONata Choice rules", function()
    local function choice(rule)
      rule.Next = rule.Next or "A"
      return jsonata_machine("C", { C = { Type = "Choice", Choices = { rule } }, A = { Type = "Succeed" } })
    end

    it("require Condition", function()
      rejects(choice({}), "/States/C/Choices/0", "These fields are required: [Condition]")
    end)

    it("reject a Condition that is not an expression or a boolean", function()
      rejects(choice({ Condition = "$.x > 1" }), "/States/C/Choices/0/Condition",
        "Condition must be a JSONata expression '{% ... %}' (or true/false), got '$.x > 1'")
    end)

    it("reject a JSONPath comparison", function()
      local problems = validate.check(choice({ Variable = "$.x", StringEquals = "a", Condition = "{% true %}" }))
      assert.are.equal(2, #problems)
      assert.are.equal("/States/C/Choices/0/StringEquals", problems[1].path)
      assert.are.equal("The QueryLanguage is set to 'JSONata', but field 'StringEquals' is only supported "
        .. "for the 'JSONPath' QueryLanguage: write the test as \"Condition\": \"{% ... %}\"", problems[1].message)
      assert.are.equal("/States/C/Choices/0/Variable", problems[2].path)
    end)

    it("reject a Condition in a JSONPath Choice", function()
      local def = machine("C", { C = { Type = "Choice", Choices = { { Condition = "{% true %}", Next = "A" } } },
        A = { Type = "Succeed" } })
      local problems = validate.check(def)
      assert.are.equal("/States/C/Choices/0/Condition", problems[1].path)
      assert.is_truthy(problems[1].message:find("field 'Condition' is only supported for the 'JSONata'", 1, true))
    end)
  end)

  describe("Assign", function()
    it("rejects the reserved name 'states'", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Assign = { states = 1 } } }),
        "/States/A/Assign/states", "'states' is a reserved variable name")
    end)

    it("rejects the reserved name written with .$", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Assign = { ["states.$"] = "$.x" } } }),
        "/States/A/Assign/states.$", "'states' is a reserved variable name")
    end)

    it("rejects names longer than 80 characters", function()
      local long = string.rep("v", 81)
      rejects(jsonata_machine("A", { A = { Type = "Pass", End = true, Assign = { [long] = 1 } } }),
        "/States/A/Assign/" .. long, "is longer than 80 characters")
    end)

    it("rejects names that are not identifiers", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Assign = { ["my-var"] = 1 } } }),
        "/States/A/Assign/my-var", "invalid variable name 'my-var'")
    end)

    it("rejects .$ keys in a JSONata state", function()
      rejects(jsonata_machine("A", { A = { Type = "Pass", End = true, Assign = { ["x.$"] = "$.x" } } }),
        "/States/A/Assign/x.$", "keys ending in '.$' are JSONPath syntax")
    end)

    it("checks .$ values in a JSONPath state", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Assign = { ["x.$"] = "x" } } }),
        "/States/A/Assign/x.$", "must be a valid JSONPath or a valid intrinsic function call")
    end)

    it("rejects an Assign that is not an object", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Assign = { 1, 2 } } }), "/States/A/Assign",
        "The field 'Assign' must be an object of variable name -> value, got array")
    end)
  end)

  describe("JSONata references", function()
    local has_parser = pcall(require, "stepflow.jsonata.parser")
    local check = has_parser and it or pending

    local function output(expr)
      return jsonata_machine("A", { A = { Type = "Pass", End = true, Output = { v = expr } } })
    end

    check("rejects a path that starts at the top level", function()
      rejects(output("{% input.x %}"), "/States/A/Output/v",
        "Reference to 'input' at the top level is not supported: an expression has no context item; "
        .. "read the state input as $states.input.input")
    end)

    check("finds top-level names in calls, objects, arrays, conditions and lambda bodies", function()
      for _, expr in ipairs({ "{% $count(items) %}", "{% {'a': b} %}", "{% [1, c] %}",
          "{% $states.input.ok ? d : 1 %}", "{% $map([1], function($x){ e }) %}", "{% -f %}" }) do
        local problems = validate.check(output(expr))
        assert.are.equal(1, #problems, expr)
        assert.is_truthy(problems[1].message:find("at the top level is not supported", 1, true), expr)
      end
    end)

    check("accepts names in later steps, predicates and variables", function()
      accepts(output("{% $states.input.items[price > 1].name %}"))
      accepts(output("{% ($v := $states.input; $v.a.b) %}"))
      accepts(output("{% $states.input.{ 'k': value } %}"))
    end)

    check("rejects $$", function()
      rejects(output("{% $$.x %}"), "/States/A/Output/v", "Reference to '$$' is not supported")
    end)

    check("rejects $states.errorOutput outside a Catch", function()
      rejects(output("{% $states.errorOutput %}"), "/States/A/Output/v",
        "Field '$states.errorOutput' does not exist here")
    end)

    check("accepts $states.errorOutput in a catcher's Output and Assign", function()
      accepts(jsonata_machine("T", { T = { Type = "Task", Resource = "r", End = true,
        Catch = { { ErrorEquals = { "States.ALL" }, Next = "H", Output = "{% $states.errorOutput %}",
          Assign = { e = "{% $states.errorOutput.Cause %}" } } } }, H = { Type = "Succeed" } }))
    end)
  end)

  describe("the modules that check syntax", function()
    it("reports the error stepflow.jsonata.compile raises, with its position", function()
      rejects(jsonata_machine("A", { A = { Type = "Pass", End = true, Output = "{% f(1 %}" } }),
        "/States/A/Output", "invalid JSONata expression {% f(1 %}: S0203: Expected \")\" "
          .. "before end of expression (at position 5)")
    end)

    it("reports what stepflow.jsonpath.compile refuses", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, InputPath = "$.a[?bad]" } }),
        "/States/A/InputPath", "The value for the field 'InputPath' must be a valid JSONPath, "
          .. "got '$.a[?bad]': invalid JSONPath '$.a[?bad]': expected '(' after '?' at character 6")
    end)

    it("reports what stepflow.asl.intrinsics.compile refuses", function()
      rejects(machine("A", { A = { Type = "Pass", End = true,
        Parameters = { ["x.$"] = "States.MathAdd($.x, 'a', 3)" } } }),
        "/States/A/Parameters/x.$", "States.MathAdd")
    end)

    it("checks without pcall(require): the checkers are plain dependencies", function()
      assert.is_nil(util.optional)
      assert.is_nil(util.set_optional)
    end)
  end)
end)
