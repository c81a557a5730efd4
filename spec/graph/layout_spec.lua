local json = require("stepflow.json")
local graph = require("stepflow.graph")
local check = require("graph.check")

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local text = fh:read("a")
  fh:close()
  return text
end

-- A definition file: an ASL file, or a conformance case holding one.
local function definition(path)
  local v = json.decode(read(path))
  return v.definition or v
end

local function examples()
  local list = {}
  local p = assert(io.popen("ls examples/*/*.asl.json"))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local CASES = "../shared/conformance/cases/"
local HISTORY = "../shared/history/cases/"

-- Definitions from the recorded AWS cases that cover what the layout must
-- handle: Choice (JSONPath and JSONata), Parallel (nested, with Catch and
-- Retry), Map (inline and distributed, with Catch and Retry), loops.
local RECORDED = {
  CASES .. "scenarios/base_scenarios__choice_aws_docs_scenario_CHOICE_STATE_AWS_SCENARIO_JSONATA.json",
  CASES .. "scenarios/base_scenarios__choice_singleton_composite_CHOICE_STATE_SINGLETON_COMPOSITE_LITERAL_JSONATA.json",
  CASES .. "scenarios/base_scenarios__parallel_state_catch.json",
  CASES .. "scenarios/base_scenarios__parallel_state_nested.json",
  CASES .. "scenarios/base_scenarios__parallel_state_retry.json",
  CASES .. "scenarios/base_scenarios__map_state_catch_legacy.json",
  CASES .. "scenarios/base_scenarios__map_state_retry.json",
  CASES .. "scenarios/base_scenarios__map_state_break_condition.json",
  CASES .. "scenarios/base_scenarios__map_state_config_distributed_reentrant.json",
  CASES .. "scenarios/base_scenarios__lambda_invoke_with_retry_base.json",
  CASES .. "error_handling/task_lambda__no_such_function_catch.json",
  CASES .. "assign/assign_base__base_parallel_cases_BASE_SCOPE_PARALLEL.json",
  HISTORY .. "comments/comments__comments_as_per_docs.json",
}

local FIXTURES = {
  "spec/graph/fixtures/nested.asl.json",    -- Map in Parallel, Parallel in Map
  "spec/graph/fixtures/jsonata.asl.json",   -- JSONata Conditions, a loop through Catch
  "spec/graph/fixtures/loops.asl.json",     -- a self loop, short and long loops
  "spec/graph/fixtures/choices.asl.json",   -- every kind of Choice rule
}

describe("stepflow.graph.layout", function()
  local all = {}
  for _, list in ipairs({ examples(), FIXTURES, RECORDED }) do
    for _, path in ipairs(list) do all[#all + 1] = path end
  end

  for _, path in ipairs(all) do
    it("lays out " .. path:gsub("^.*/cases/", "") .. " with every state and edge, nothing overlapping", function()
      local def = definition(path)
      local layout = assert(graph.layout(def))
      assert.same({}, check.geometry(layout))
      assert.same({}, check.complete(layout, def))
    end)
  end

  it("covers every example", function()
    assert.is_true(#examples() >= 4)
  end)

  it("nests Map item processors and Parallel branches inside their boxes", function()
    local layout = assert(graph.layout(definition("spec/graph/fixtures/nested.asl.json")))
    local by_name = {}
    for _, b in ipairs(layout.boxes) do by_name[b.name] = b end
    local function holder(name)
      local b = by_name[name]
      local parent
      for _, c in ipairs(layout.boxes) do
        if c.id == b.parent then parent = c end
      end
      return parent
    end
    -- Classify is in PerItem's processor; PerItem in a branch of FanOut
    assert.equal("PerItem", holder("Classify").id)
    assert.equal("branch", holder("PerItem").kind)
    assert.equal("FanOut", holder("PerItem").parent)
    assert.equal("processor", by_name.PerItem.container)
    assert.equal("branches", by_name.FanOut.container)
    -- the three Checks branches side by side: same top, apart in x
    local p, s, t = by_name.CheckPrice, by_name.CheckStock, by_name.CheckTax
    assert.equal(p.y, s.y)
    assert.equal(s.y, t.y)
    assert.is_true(p.x + p.w < s.x and s.x + s.w < t.x)
  end)

  it("draws Catch edges apart from Next edges, labelled with the errors", function()
    local layout = assert(graph.layout(definition("examples/order/definition.asl.json")))
    local catches = {}
    for _, e in ipairs(layout.edges) do
      if e.kind == "catch" then catches[#catches + 1] = e.from .. ">" .. e.to .. ":" .. e.label.full end
    end
    table.sort(catches)
    assert.same({ "ChargePayment>ReleaseStock:Catch: Payment.Declined",
      "ValidateOrder>RejectOrder:Catch: Order.Invalid" }, catches)
  end)

  it("shows Retry on the state with the retried errors", function()
    local layout = assert(graph.layout(definition("examples/order/definition.asl.json")))
    for _, b in ipairs(layout.boxes) do
      if b.name == "ReserveStock" then
        assert.equal("Inventory.Busy, States.Timeout", b.retry)
        assert.matches("Retry: Inventory.Busy", b.lines[3].text, 1, true)
        assert.matches("Retry: Inventory.Busy, States.Timeout", b.title, 1, true)
      end
    end
  end)

  it("labels each Choice rule with its text and the Default", function()
    local layout = assert(graph.layout(definition("examples/approval/definition.asl.json")))
    local labels = {}
    for _, e in ipairs(layout.edges) do
      if e.from == "Decide" then labels[e.to] = e.label.full end
    end
    assert.same({
      PlacePurchaseOrder = '$.decision.status == "APPROVED"',
      Rejected = '$.decision.status == "REJECTED"',
      Expired = "$.poll.checks >= $.maxChecks",
      SendReminder = "$.poll.reminded == false and $.poll.checks >= $.remindAfterChecks",
      WaitForDecision = "Default",
    }, labels)
  end)

  it("draws loops as back edges that leave and reach their boxes by a side", function()
    local layout = assert(graph.layout(definition("examples/approval/definition.asl.json")))
    local by_id = {}
    for _, b in ipairs(layout.boxes) do by_id[b.id] = b end
    local backs = 0
    for _, e in ipairs(layout.edges) do
      if e.back then
        backs = backs + 1
        local to = by_id[e.to]
        local last = e.points[#e.points]
        -- reaches its target by a side (or from below), never by the top
        -- where the forward edges arrive
        assert.is_true(last[2] > to.y + 0.5)
      end
    end
    assert.equal(2, backs)
  end)

  it("shortens long state names and keeps the full name as the title", function()
    local layout = assert(graph.layout(definition("spec/graph/fixtures/nested.asl.json")))
    for _, b in ipairs(layout.boxes) do
      if b.name == "NotifyCustomerThatTheOrderIsBeingProcessedRightNow" then
        assert.is_true(b.lines[1].cut)
        assert.matches("\u{2026}$", b.lines[1].text)
        assert.is_true(#b.lines[1].text < #b.name)
        assert.matches("^NotifyCustomerThatTheOrderIsBeingProcessedRightNow\n", b.title)
      end
    end
  end)

  it("is the same for the same definition, whatever the order of its tables", function()
    local text = read("spec/graph/fixtures/nested.asl.json")
    local a = assert(graph.svg(json.decode(text)))
    -- the same states inserted in another order
    local def = json.decode(text)
    local states = {}
    local names = {}
    for name in pairs(def.States) do names[#names + 1] = name end
    table.sort(names, function(x, y) return x > y end)
    for _, name in ipairs(names) do states[name] = def.States[name] end
    def.States = states
    assert.equal(a, assert(graph.svg(def)))
  end)

  it("lays out the 160 states of the parallel_fanout workload in well under a second", function()
    local def = definition("../shared/bench/workloads/parallel_fanout/definition.asl.json")
    local t0 = os.clock()
    local layout = assert(graph.layout(def))
    local spent = os.clock() - t0
    assert.same({}, check.geometry(layout))
    local states = 0
    for _, b in ipairs(layout.boxes) do
      if b.kind == "state" then states = states + 1 end
    end
    assert.equal(161, states)
    assert.is_true(spent < 0.3, "took " .. spent .. " s")
  end)

  it("refuses a definition it cannot draw, saying where", function()
    local l, err = graph.layout({ StartAt = "A", States = { A = { Type = "Pass", Next = "B" } } })
    assert.is_nil(l)
    assert.equal("definition: States.A: no state named 'B' in this scope", err)
    l, err = graph.layout({ StartAt = "X", States = { A = { Type = "Succeed" } } })
    assert.is_nil(l)
    assert.equal("definition: StartAt: no state named 'X'", err)
  end)
end)

describe("the layout checks", function()
  -- the checks must fail on a broken layout, or they prove nothing
  local function layout()
    return assert(graph.layout(definition("examples/order/definition.asl.json")))
  end

  it("find overlapping boxes", function()
    local l = layout()
    local a, b = l.boxes[2], l.boxes[3]
    b.x, b.y = a.x + 5, a.y + 5
    assert.is_true(#check.geometry(l) > 0)
  end)

  it("find an edge that does not start on its box's border", function()
    local l = layout()
    local e = l.edges[2]
    e.points[1][1] = e.points[1][1] + 0.5
    e.points[1][2] = e.points[1][2] - 3
    assert.matches("does not start on its box's border", table.concat(check.geometry(l), "\n"), 1, true)
  end)

  it("find a missing edge and a state drawn twice", function()
    local def = definition("examples/order/definition.asl.json")
    local l = layout()
    table.remove(l.edges, 3)
    l.boxes[#l.boxes + 1] = l.boxes[2]
    local problems = check.complete(l, def)
    assert.equal(2, #problems)
  end)
end)
