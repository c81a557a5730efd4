-- stepflow.asl.validate: structure, fields per state type, transitions,
-- reachability, paths and payload templates.
local validate = require("stepflow.asl.validate")

-- A one-scope machine: StartAt names the first state given.
local function machine(start, states, extra)
  local def = { StartAt = start, States = states }
  for k, v in pairs(extra or {}) do def[k] = v end
  return def
end

local function pass_end() return { Type = "Pass", End = true } end

-- Asserts exactly one problem, at path, whose message contains text.
local function rejects(def, path, text, opts)
  local problems = validate.check(def, opts)
  assert.are.equal(1, #problems, validate.format(problems))
  assert.are.equal(path, problems[1].path)
  assert.is_truthy(problems[1].message:find(text, 1, true),
    "message '" .. problems[1].message .. "' lacks '" .. text .. "'")
end

local function paths_of(def)
  local out = {}
  for i, p in ipairs(validate.check(def)) do out[i] = p.path end
  return out
end

describe("stepflow.asl.validate", function()
  describe("check", function()
    it("returns an empty list for a valid definition", function()
      assert.are.same({}, validate.check(machine("A", { A = pass_end() })))
    end)

    it("accepts every state type in one machine", function()
      local def = machine("P", {
        P = { Type = "Pass", Result = { x = 1 }, ResultPath = "$.r", Next = "T" },
        T = { Type = "Task", Resource = "echo", TimeoutSeconds = 10, HeartbeatSeconds = 5,
          Retry = { { ErrorEquals = { "States.TaskFailed" }, MaxAttempts = 2 },
                    { ErrorEquals = { "States.ALL" } } },
          Catch = { { ErrorEquals = { "States.ALL" }, Next = "F", ResultPath = "$.err" } },
          Next = "C" },
        C = { Type = "Choice", Choices = {
          { Variable = "$.r.x", NumericEquals = 1, Next = "W" },
          { And = { { Variable = "$.a", IsPresent = true }, { Not = { Variable = "$.a", IsNull = true } } },
            Next = "S" } }, Default = "F" },
        W = { Type = "Wait", Seconds = 0, Next = "Par" },
        Par = { Type = "Parallel", Branches = {
          { StartAt = "B1", States = { B1 = pass_end() } },
          { StartAt = "B2", States = { B2 = { Type = "Succeed" } } } }, Next = "M" },
        M = { Type = "Map", ItemsPath = "$.items", MaxConcurrency = 2,
          ItemSelector = { ["v.$"] = "$$.Map.Item.Value" },
          ItemProcessor = { ProcessorConfig = { Mode = "INLINE" }, StartAt = "I",
            States = { I = pass_end() } }, Next = "S" },
        S = { Type = "Succeed" },
        F = { Type = "Fail", Error = "Oops", Cause = "bad" },
      }, { Comment = "all types", Version = "1.0", TimeoutSeconds = 60 })
      assert.are.same({}, validate.check(def))
    end)

    it("raises on a non-table opts argument", function()
      assert.has_error(function() validate.check({}, "EXPRESS") end,
        "bad argument #2 to 'check' (table expected, got string)")
    end)
  end)

  describe("top level", function()
    it("requires States and StartAt", function()
      rejects({}, "/", "These fields are required: [States, StartAt]")
    end)

    it("rejects a definition that is not an object", function()
      rejects("nope", "/", "Definition must be a valid JSON object")
    end)

    it("rejects a StartAt that names no state", function()
      rejects(machine("Strat", { Start = pass_end() }), "/StartAt",
        "no state named 'Strat' (did you mean 'Start'?) (states here: Start)")
    end)

    it("rejects unknown top-level fields", function()
      rejects(machine("A", { A = pass_end() }, { Timeout = 5 }), "/Timeout",
        "Field 'Timeout' is not supported in the state machine")
    end)

    it("rejects a QueryLanguage other than JSONPath or JSONata", function()
      rejects(machine("A", { A = pass_end() }, { QueryLanguage = "jsonata" }), "/QueryLanguage",
        "Value should be one of the following: [JSONPath, JSONata]")
    end)

    it("rejects a Version other than 1.0", function()
      rejects(machine("A", { A = pass_end() }, { Version = "2.0" }), "/Version",
        "Version must be \"1.0\"")
    end)

    it("rejects a negative or fractional TimeoutSeconds", function()
      rejects(machine("A", { A = pass_end() }, { TimeoutSeconds = -1 }), "/TimeoutSeconds",
        "TimeoutSeconds must be an integer from 0 to 99999999")
      rejects(machine("A", { A = pass_end() }, { TimeoutSeconds = 1.5 }), "/TimeoutSeconds",
        "got 1.5")
    end)

    it("rejects an empty States object", function()
      local def = machine("A", setmetatable({}, nil))
      local problems = validate.check(def)
      assert.are.same({ "/States", "/StartAt" }, { problems[1].path, problems[2] and problems[2].path })
    end)

    it("rejects a Comment that is not a string", function()
      rejects(machine("A", { A = pass_end() }, { Comment = 5 }), "/Comment",
        "Comment must be a string")
    end)
  end)

  describe("states", function()
    it("requires a Type", function()
      rejects(machine("A", { A = { End = true } }), "/States/A", "These fields are required: [Type]")
    end)

    it("rejects an unknown Type with a suggestion", function()
      rejects(machine("A", { A = { Type = "Taks", End = true } }), "/States/A/Type",
        "unknown state Type 'Taks' (did you mean 'Task'?)")
    end)

    it("rejects a state that is not an object", function()
      rejects(machine("A", { A = "Pass" }), "/States/A", "a state must be an object")
    end)

    it("rejects names longer than 80 characters", function()
      local long = string.rep("n", 81)
      rejects(machine(long, { [long] = pass_end() }), "/States/" .. long,
        "the state name is 81 characters long; state names have at most 80")
    end)

    it("accepts names of 80 characters", function()
      local name = string.rep("n", 80)
      assert.are.same({}, validate.check(machine(name, { [name] = pass_end() })))
    end)

    it("escapes '/' and '~' in pointers", function()
      rejects(machine("a/b~c", { ["a/b~c"] = { Type = "Pass" } }), "/States/a~1b~0c",
        "This state must have 'Next'")
    end)

    it("rejects a state name used twice across nested scopes", function()
      local def = machine("P", {
        P = { Type = "Parallel", End = true, Branches = {
          { StartAt = "P", States = { P = pass_end() } } } } })
      rejects(def, "/States/P/Branches/0/States/P",
        "Duplicate State name: 'P' is also declared at /States/P")
    end)
  end)

  describe("fields per state type", function()
    it("rejects a field of another state type", function()
      rejects(machine("A", { A = { Type = "Pass", Resource = "x", End = true } }),
        "/States/A/Resource", "Field 'Resource' is not supported by a Pass state (only by Task)")
    end)

    it("rejects an unknown field with a suggestion", function()
      rejects(machine("A", { A = { Type = "Task", Resource = "x", End = true, ResultPth = "$.x" } }),
        "/States/A/ResultPth", "Field 'ResultPth' is not supported by a Task state (did you mean 'ResultPath'?)")
    end)

    it("rejects Retry on a Pass state", function()
      rejects(machine("A", { A = { Type = "Pass", End = true,
        Retry = { { ErrorEquals = { "States.ALL" } } } } }),
        "/States/A/Retry", "Field 'Retry' is not supported by a Pass state (only by Map, Parallel, Task)")
    end)

    it("rejects InputPath on a Fail state", function()
      rejects(machine("A", { A = { Type = "Fail", InputPath = "$" } }), "/States/A/InputPath",
        "Field 'InputPath' is not supported by a Fail state")
    end)

    it("rejects Assign on a Succeed state", function()
      rejects(machine("A", { A = { Type = "Succeed", Assign = { x = 1 } } }), "/States/A/Assign",
        "Field 'Assign' is not supported by a Succeed state")
    end)

    it("requires Resource on a Task state", function()
      rejects(machine("A", { A = { Type = "Task", End = true } }), "/States/A",
        "These fields are required: [Resource]")
    end)

    it("rejects a Resource that is not a string", function()
      rejects(machine("A", { A = { Type = "Task", Resource = 5, End = true } }),
        "/States/A/Resource", "Resource must be a non-empty string")
    end)

    it("accepts a Parameters value of any JSON type, as AWS does", function()
      local arr = require("stepflow.json").array
      for _, v in ipairs({ "x", 5, true, arr({ { ["a.$"] = "$.a" }, 1 }), arr({}) }) do
        assert.same({}, validate.check(machine("A", { A = { Type = "Pass", Parameters = v,
          End = true } })))
      end
      rejects(machine("A", { A = { Type = "Pass", Parameters = arr({ { ["a.$"] = "a" } }),
        End = true } }), "/States/A/Parameters/0/a.$", "must be a valid JSONPath")
    end)

    it("rejects a ResultSelector value that is not an object", function()
      rejects(machine("A", { A = { Type = "Task", Resource = "r", ResultSelector = "x",
        End = true } }), "/States/A/ResultSelector", "The field 'ResultSelector' must be an object")
    end)

    it("accepts paths with blanks around them, as Jayway trims them", function()
      assert.same({}, validate.check(machine("A", { A = { Type = "Pass", End = true,
        InputPath = "$.a ", Parameters = { ["n.$"] = "$$.Execution.Name " } } })))
    end)
  end)

  describe("transitions", function()
    it("rejects a Next that names no state, listing the states", function()
      local problems = validate.check(machine("Charge", {
        Charge = { Type = "Pass", Next = "Chrage" }, Done = { Type = "Succeed" } }))
      assert.are.same({
        { path = "/States/Charge/Next",
          message = "no state named 'Chrage' (did you mean 'Charge'?) (states here: Charge, Done)",
          code = "MISSING_TRANSITION_TARGET" },
        { path = "/States/Done", message = "State 'Done' is not reachable from StartAt 'Charge': "
          .. "add a Next, Default or Catch that leads to it, or remove it", code = "MISSING_TRANSITION_TARGET" },
      }, problems)
    end)

    it("gives the problems AWS names apart their diagnostic code", function()
      local function codes(def)
        local out = {}
        for _, p in ipairs(validate.check(def)) do out[#out + 1] = (p.code or "-") .. " " .. p.path end
        return out
      end
      assert.same({ "MISSING_END_STATE /States" }, codes(machine("A", { A = { Type = "Pass", Next = "A" } })))
      assert.same({ "MISSING_TRANSITION_TARGET /StartAt" }, codes(machine("Z", { A = pass_end() })))
      assert.same({ "INVALID_STATE_NAME /States/" .. ("n"):rep(81) },
        codes(machine(("n"):rep(81), { [("n"):rep(81)] = pass_end() })))
      assert.same({ "DUPLICATE_STATE_NAME /States/P/Branches/0/States/P" }, codes(machine("P", { P = {
        Type = "Parallel", End = true, Branches = { { StartAt = "P", States = { P = pass_end() } } } } })))
      assert.same({ "INVALID_LABEL_NAME /States/M/Label" }, codes(machine("M", { M = { Type = "Map", End = true,
        Label = "a b", ItemProcessor = { ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "X",
          States = { X = pass_end() } } } })))
      -- the rest are schema problems
      assert.same({ "- /States/A/Type" }, codes(machine("A", { A = { Type = "Nope", End = true } })))
    end)

    it("requires Next or End", function()
      rejects(machine("A", { A = { Type = "Pass" } }), "/States/A",
        "This state must have 'Next' (the state to go to) or \"End\": true")
    end)

    it("rejects End: false without Next", function()
      rejects(machine("A", { A = { Type = "Pass", End = false } }), "/States/A", "(End is false)")
    end)

    it("rejects both Next and End", function()
      local problems = validate.check(machine("A", {
        A = { Type = "Pass", Next = "B", End = true }, B = pass_end() }))
      assert.are.equal("/States/A", problems[1].path)
      assert.are.equal("A state cannot have both 'Next' and 'End': keep Next to continue, "
        .. "or End: true to finish", problems[1].message)
    end)

    it("rejects Next on a Succeed state", function()
      rejects(machine("A", { A = { Type = "Succeed", Next = "A" } }), "/States/A/Next",
        "Field 'Next' is not supported by a Succeed state")
    end)

    it("rejects End on a Choice state", function()
      rejects(machine("A", { A = { Type = "Choice", End = true,
        Choices = { { Variable = "$.x", IsPresent = true, Next = "B" } } }, B = pass_end() }),
        "/States/A/End", "Field 'End' is not supported by a Choice state")
    end)

    it("rejects a Default that names no state", function()
      rejects(machine("A", { A = { Type = "Choice", Default = "Nope",
        Choices = { { Variable = "$.x", IsPresent = true, Next = "B" } } }, B = pass_end() }),
        "/States/A/Default", "no state named 'Nope'")
    end)

    it("rejects a Catch Next that names no state", function()
      rejects(machine("A", { A = { Type = "Task", Resource = "x", End = true,
        Catch = { { ErrorEquals = { "States.ALL" }, Next = "Handler" } } } }),
        "/States/A/Catch/0/Next", "no state named 'Handler'")
    end)

    it("rejects a transition out of a Parallel branch", function()
      local def = machine("P", {
        P = { Type = "Parallel", Next = "Done", Branches = {
          { StartAt = "B", States = { B = { Type = "Pass", Next = "Done" } } } } },
        Done = { Type = "Succeed" } })
      rejects(def, "/States/P/Branches/0/States/B/Next",
        "'Done' is in another scope (/States/Done), and a transition cannot leave its branch")
    end)
  end)

  describe("reachability", function()
    it("rejects a state that nothing leads to", function()
      rejects(machine("A", { A = pass_end(), Orphan = pass_end() }), "/States/Orphan",
        "State 'Orphan' is not reachable from StartAt 'A'")
    end)

    it("counts Choice rules, Default and Catch as transitions", function()
      local def = machine("C", {
        C = { Type = "Choice", Choices = { { Variable = "$.x", IsPresent = true, Next = "T" } },
          Default = "D" },
        T = { Type = "Task", Resource = "x", End = true,
          Catch = { { ErrorEquals = { "States.ALL" }, Next = "H" } } },
        D = pass_end(), H = pass_end() })
      assert.are.same({}, validate.check(def))
    end)

    it("checks reachability inside a Map processor", function()
      local def = machine("M", { M = { Type = "Map", End = true, ItemProcessor = {
        StartAt = "I", States = { I = pass_end(), J = pass_end() } } } })
      rejects(def, "/States/M/ItemProcessor/States/J", "State 'J' is not reachable from StartAt 'I'")
    end)

    it("rejects a machine without a terminal state", function()
      local def = machine("A", { A = { Type = "Pass", Next = "B" }, B = { Type = "Pass", Next = "A" } })
      rejects(def, "/States", "the state machine has no terminal state")
    end)

    it("collects every problem in a stable order", function()
      local def = machine("A", {
        A = { Type = "Pass", Next = "X" }, B = { Type = "Pass" }, C = { Type = "Bogus" } })
      local first = paths_of(def)
      assert.are.same({ "/States/B", "/States/C/Type", "/States/A/Next", "/States/B", "/States/C" },
        first)
      for _ = 1, 5 do assert.are.same(first, paths_of(def)) end
    end)
  end)

  describe("paths", function()
    it("rejects a ResultPath that is not a reference path", function()
      rejects(machine("A", { A = { Type = "Pass", ResultPath = "$.items[*]", End = true } }),
        "/States/A/ResultPath", "The value for the field 'ResultPath' must be a valid reference path")
    end)

    it("rejects a ResultPath into the context object", function()
      rejects(machine("A", { A = { Type = "Pass", ResultPath = "$$.Execution", End = true } }),
        "/States/A/ResultPath", "the context object ($$) cannot be used here")
    end)

    it("rejects an InputPath that does not start with $", function()
      rejects(machine("A", { A = { Type = "Pass", InputPath = "input.x", End = true } }),
        "/States/A/InputPath", "a path starts with '$' (input), '$$' (context object) or '$name' (variable)")
    end)

    it("rejects an OutputPath with unbalanced brackets", function()
      rejects(machine("A", { A = { Type = "Pass", OutputPath = "$.a[0", End = true } }),
        "/States/A/OutputPath", "The value for the field 'OutputPath' must be a valid JSONPath")
    end)

    it("rejects an ItemsPath with a filter", function()
      rejects(machine("M", { M = { Type = "Map", End = true, ItemsPath = "$.a[?(@.x)]",
        ItemProcessor = { StartAt = "I", States = { I = pass_end() } } } }),
        "/States/M/ItemsPath", "The value for the field 'ItemsPath' must be a valid reference path")
    end)

    it("accepts context, variable and quoted reference paths", function()
      assert.are.same({}, validate.check(machine("A", { A = { Type = "Pass", End = true,
        InputPath = "$$.Execution.Input", OutputPath = "$result",
        ResultPath = "$['a b'][0].c-d" } })))
    end)

    it("accepts null InputPath, OutputPath and ResultPath", function()
      local null = require("cjson").null
      assert.are.same({}, validate.check(machine("A", { A = { Type = "Pass", End = true,
        InputPath = null, OutputPath = null, ResultPath = null } })))
    end)
  end)

  describe("payload templates", function()
    it("rejects a .$ value that is not a string", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Parameters = { ["x.$"] = 5 } } }),
        "/States/A/Parameters/x.$",
        "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call, got integer")
    end)

    it("rejects a .$ value that is neither a path nor a call", function()
      rejects(machine("A", { A = { Type = "Pass", End = true, Parameters = { ["x.$"] = "hello" } } }),
        "/States/A/Parameters/x.$", "must be a valid JSONPath or a valid intrinsic function call")
    end)

    it("rejects an unknown intrinsic function with a suggestion", function()
      rejects(machine("A", { A = { Type = "Task", Resource = "r", End = true,
        ResultSelector = { nested = { ["x.$"] = "States.Frmat('{}', $.a)" } } } }),
        "/States/A/ResultSelector/nested/x.$",
        "unknown intrinsic function 'States.Frmat' (did you mean 'States.Format'?)")
    end)

    it("rejects an intrinsic call with an unterminated string", function()
      rejects(machine("A", { A = { Type = "Pass", End = true,
        Parameters = { list = { { ["x.$"] = "States.Format('{}, $.a)" } } } } }),
        "/States/A/Parameters/list/0/x.$", "must be a valid JSONPath or a valid intrinsic function call")
    end)

    it("accepts nested intrinsic calls, paths and literals", function()
      assert.are.same({}, validate.check(machine("A", { A = { Type = "Pass", End = true,
        Parameters = {
          ["a.$"] = "States.Format('{} and {}', $.x, States.ArrayLength(States.Array(1, 'two', true, null)))",
          ["b.$"] = "$.items[*].id", ["c.$"] = "$$.Execution.Id", ["d.$"] = "$myVar.field",
          ["e.$"] = "States.UUID()", literal = "$.not.a.path" } } })))
    end)

    it("rejects a bad path inside an intrinsic argument", function()
      rejects(machine("A", { A = { Type = "Pass", End = true,
        Parameters = { ["x.$"] = "States.JsonToString(x.y)" } } }),
        "/States/A/Parameters/x.$", "must be a valid JSONPath or a valid intrinsic function call")
    end)
  end)

  describe("format", function()
    it("renders one 'path: message' line per problem", function()
      assert.are.equal("/a: one\n/b: two", validate.format({
        { path = "/a", message = "one" }, { path = "/b", message = "two" } }))
    end)
  end)

  describe("validate", function()
    it("returns true for a valid definition", function()
      assert.is_true(validate.validate(machine("A", { A = pass_end() })))
    end)

    it("returns nil, a message naming every problem, and the problems", function()
      local ok, msg, problems = validate.validate(machine("A", { A = { Type = "Pass" } }))
      assert.is_nil(ok)
      assert.are.equal(1, #problems)
      assert.are.equal("invalid state machine definition (1 problem):\n/States/A: "
        .. problems[1].message, msg)
    end)
  end)
end)
