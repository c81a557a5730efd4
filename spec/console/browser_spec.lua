-- The web console in a real browser: `stepflow serve` in a child process,
-- headless Chromium (Debian's chromium) driven with playwright-core
-- (spec/console/driver.mjs). The approval as a callback runs from the
-- start form to Approve and a green graph; Reject, Stop, Redrive, the execution
-- list's filters, the Tasks and Activities pages and the SigV4 key form
-- are used as a user would; every example's graph, as the browser lays
-- out the SVG, keeps the layout invariants of spec/graph/check.lua. No
-- step sleeps: each waits for what the page shows.
local json = require("stepflow.json")
local http = require("socket.http")
local ltn12 = require("ltn12")
local serve = require("server.serve_process")
local browser = require("console.browser")
local check = require("graph.check")
local sign = require("console.sign")

local ROLE = "arn:aws:iam::123456789012:role/console"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- A POST to the server: status and decoded body.
local function post(port, path, headers, body)
  local out = {}
  headers["Content-Length"] = tostring(#body)
  local _, status = http.request({ url = "http://127.0.0.1:" .. port .. path, method = "POST", headers = headers,
    source = ltn12.source.string(body), sink = ltn12.sink.table(out) })
  local text = table.concat(out)
  return status, text ~= "" and json.decode(text) or nil
end

local function api(port, op, input, key)
  local body = json.encode(input)
  local headers = { ["Content-Type"] = "application/x-amz-json-1.0", ["X-Amz-Target"] = "AWSStepFunctions." .. op }
  if key then
    headers = sign.headers("127.0.0.1:" .. port, "/", body, { key = key.id, secret = key.secret,
      headers = headers })
  end
  local status, out = post(port, "/", headers, body)
  assert(status == 200, op .. ": " .. tostring(status) .. " " .. json.encode(out))
  return out
end

-- Every example's definition: examples/*/*.asl.json.
local function examples()
  local list = {}
  local p = assert(io.popen("ls examples/*/*.asl.json"))
  for path in p:lines() do list[#list + 1] = path end
  p:close()
  return list
end

local function machine_name(path)
  local dir, file = path:match("examples/([^/]+)/([^/]+)%.asl%.json$")
  return file == "definition" and dir or (dir .. "-" .. file)
end

local function url_of(arn, kind)
  return "#/" .. kind .. "/" .. arn:gsub(":", "%%3A")
end

-- What the browser drew of the graph on the page, in drawing order.
local MEASURE = [==[() => {
  const group = document.querySelector('[data-graph] svg > g[transform]');
  const rect = (el) => { const b = el.getBBox(); return { x: b.x, y: b.y, w: b.width, h: b.height }; };
  const out = { boxes: [], edges: [], labels: [] };
  for (const el of group.children) {
    const cls = (el.getAttribute('class') || '').split(' ');
    if (cls[0] === 'branch') out.boxes.push(rect(el));
    else if (cls[0] === 'marker') out.boxes.push({ kind: cls[1], ...rect(el.querySelector('rect')) });
    else if (cls[0] === 'state') {
      out.boxes.push({ state: el.dataset.state, title: el.querySelector('title').textContent,
        text: el.querySelector('text').textContent, ...rect(el.querySelector('rect.box')) });
    } else if (cls[0] === 'edge') {
      const p = el.querySelector('path');
      const a = p.getPointAtLength(0);
      const b = p.getPointAtLength(p.getTotalLength());
      out.edges.push({ kind: cls[1], from: el.dataset.from, to: el.dataset.to, points: [[a.x, a.y], [b.x, b.y]] });
    } else if (cls[0] === 'label') out.labels.push(rect(el.querySelector('rect')));
  }
  return out;
}]==]

-- The states of the graph on the page and the status each is drawn with.
local STATUSES = [[() => {
  const out = {};
  for (const g of document.querySelectorAll('[data-graph] g.state')) {
    const st = [...g.classList].find((c) => c.startsWith('st-'));
    out[g.dataset.state] = st ? st.slice(3) : null;
  }
  return out;
}]]

-- The event table's rows: {id, type, step}.
local EVENTS = [[() => [...document.querySelectorAll('[data-events] tr.c-event-row')].map((r) =>
  ({ id: Number(r.cells[0].textContent), type: r.dataset.type, step: r.dataset.step }))]]

describe("the web console in headless Chromium", function()
  local proc, b, base, port
  local machines = {}

  setup(function()
    local missing = browser.missing()
    assert(not missing, missing)
    proc = serve.start("--handlers examples/approval/callback_handlers.lua")
    port = proc.port
    base = "http://127.0.0.1:" .. port .. "/"
    for _, path in ipairs(examples()) do
      local name = machine_name(path)
      machines[name] = api(port, "CreateStateMachine", { name = name, definition = read(path), roleArn = ROLE })
        .stateMachineArn
    end
    b = browser.start({ width = 1280, height = 900 })
  end)

  teardown(function()
    if b then b:close() end
    if proc then proc:stop("KILL") end
  end)

  after_each(function()
    -- no script error, console error or failed request on any page
    if b then assert.same({}, b:errors()) end
  end)

  local function start_approval(name)
    return api(port, "StartExecution", { stateMachineArn = machines["approval-callback"], name = name,
      input = read("examples/approval/input.json") }).executionArn
  end

  local function open_execution(arn)
    b:open(base .. url_of(arn, "executions"))
    b:wait("[data-graph] svg")
  end

  it("lists the state machines and opens one with its graph and definition", function()
    b:open(base)
    b:wait("text=approval-callback")
    local names = b:eval("() => [...document.querySelectorAll('.c-table tbody a')].map((a) => a.textContent)")
    table.sort(names)
    local want = {}
    for name in pairs(machines) do want[#want + 1] = name end
    table.sort(want)
    assert.same(want, names)
    b:fill(".c-search", "rde")
    b:wait(".c-table tbody tr:nth-child(3)", "detached")
    assert.same({ "order", "orders_csv" },
      b:eval("() => [...document.querySelectorAll('.c-table tbody a')].map((a) => a.textContent)"))
    b:click("text=order")
    b:wait("[data-graph] svg g.state[data-state=ChargePayment]")
    assert.equal("order", b:text("h1"))
    b:wait("text=arn:aws:states:us-east-1:123456789012:stateMachine:order")
    b:click("[data-graph] g.state[data-state=ChargePayment]")
    b:wait(".c-state-panel h3 >> text=ChargePayment")
    assert.same(json.decode(read("examples/order/definition.asl.json")).States.ChargePayment,
      json.decode(b:text(".c-state-panel pre")))
    -- states are buttons for the keyboard too
    b:press("[data-graph] g.state[data-state=ShipOrder]", "Enter")
    b:wait(".c-state-panel h3 >> text=ShipOrder")
    b:click(".c-state-panel >> text=Show the whole definition")
    assert.same(json.decode(read("examples/order/definition.asl.json")), json.decode(b:text(".c-state-panel pre")))
  end)

  it("draws every example's graph within the layout invariants", function()
    for _, path in ipairs(examples()) do
      local name = machine_name(path)
      b:open(base .. url_of(machines[name], "state-machines"))
      b:wait("[data-graph] svg g.state")
      local drawn = b:eval(MEASURE)
      local status, g = post(port, "/console/api/graph", { ["Content-Type"] = "application/json" },
        json.encode({ stateMachineArn = machines[name] }))
      assert.equal(200, status)
      -- the page draws what the server lists, in its order
      assert.equal(#g.boxes, #drawn.boxes, name)
      assert.equal(#g.edges, #drawn.edges, name)
      local layout = { width = g.width, height = g.height, boxes = {}, edges = {} }
      for i, box in ipairs(g.boxes) do
        local d = drawn.boxes[i]
        if box.kind == "state" then
          assert.equal(box.id, d.state, name)
          -- the whole name is in the box's title; the box shows it or its cut
          assert.equal(box.name, d.title:match("^[^\n]*"), name)
          assert.is_truthy(box.name == d.text or d.text:match("…$"), name .. ": " .. d.text)
        elseif box.kind ~= "branch" then
          assert.equal(box.kind, d.kind, name)
        end
        layout.boxes[i] = { id = box.id, kind = box.kind, name = box.name, parent = box.parent,
          x = d.x, y = d.y, w = d.w, h = d.h }
      end
      local labels = 0
      for i, e in ipairs(g.edges) do
        local d = drawn.edges[i]
        assert.same({ e.from, e.to, e.kind }, { d.from, d.to, d.kind })
        local p1, p2 = d.points[1], d.points[2]
        local edge = { from = e.from, to = e.to, kind = e.kind, points = d.points,
          -- the path's ends as measured (the curves in between are the browser's)
          curves = { { p1[1], p1[2], 0, 0, 0, 0, p2[1], p2[2] } } }
        if e.label then
          labels = labels + 1
          edge.label = drawn.labels[labels]
        end
        layout.edges[i] = edge
      end
      assert.equal(labels, #drawn.labels, name)
      assert.same({}, check.geometry(layout), name)
      assert.same({}, check.complete(layout, json.decode(read(path))), name)
    end
  end)

  it("starts the approval, shows it waiting for its token, approves it and ends green", function()
    b:open(base .. url_of(machines["approval-callback"], "state-machines"))
    b:click("text=Start execution")
    b:wait("textarea")
    -- the input editor says where the JSON is wrong, and Start waits for it
    b:fill("textarea", '{"requestId": }')
    b:wait(".c-invalid >> text=line 1, column 15")
    assert.is_true(b:eval("() => document.querySelector('form button[type=submit]').disabled"))
    b:fill("textarea", read("examples/approval/input.json"))
    b:wait(".c-valid")
    b:fill("#c-exec-name", "approved-in-browser")
    b:click("form button[type=submit]")
    -- the live graph shows the state that waits, and the task to answer
    b:wait("[data-graph] g.state.st-running[data-state=AskApprover]")
    assert.same({ AskApprover = "running", PlacePurchaseOrder = "not-reached", Done = "not-reached",
      NotApproved = "not-reached" }, b:eval(STATUSES))
    assert.equal("Running", b:text("h1 .c-badge"))
    b:wait("[data-tasks] .c-task[data-task=AskApprover]")
    b:click("[data-tasks] button.c-approve")
    b:fill("[data-tasks] textarea", '{"approved": true, "by": "ada"}')
    b:click("[data-confirm=approve]")
    b:wait("[data-graph][data-status=SUCCEEDED]")
    assert.same({ AskApprover = "succeeded", PlacePurchaseOrder = "succeeded", Done = "succeeded",
      NotApproved = "not-reached" }, b:eval(STATUSES))
    assert.equal("Succeeded", b:text("h1 .c-badge"))
    b:wait("[data-tasks]", "hidden")
    -- the event table is the execution's history, in AWS's shape
    local arn = "arn:aws:states:us-east-1:123456789012:execution:approval-callback:approved-in-browser"
    local history = api(port, "GetExecutionHistory", { executionArn = arn }).events
    b:wait("[data-events] tr[data-type=ExecutionSucceeded]")
    local rows = b:eval(EVENTS)
    assert.equal(#history, #rows)
    for i, e in ipairs(history) do
      assert.same({ e.id, e.type }, { rows[i].id, rows[i].type })
    end
    assert.same({ id = 3, type = "TaskScheduled", step = "AskApprover" }, rows[3])
    assert.equal("Done", rows[#rows - 1].step)
    -- a state's input and output on click
    b:click("[data-graph] g.state[data-state=PlacePurchaseOrder]")
    b:wait(".c-state-panel h3 >> text=PlacePurchaseOrder")
    local entered, exited
    for _, e in ipairs(history) do
      local d = e.stateEnteredEventDetails or e.stateExitedEventDetails
      if d and d.name == "PlacePurchaseOrder" then
        if e.stateEnteredEventDetails then entered = d.input else exited = d.output end
      end
    end
    assert.same(json.decode(entered), json.decode(b:text(".c-state-input")))
    b:click(".c-state-panel button[role=tab] >> text=Output")
    assert.same(json.decode(exited), json.decode(b:text(".c-state-output")))
    assert.same({ approved = true, by = "ada" }, json.decode(exited).decision)
    -- an event's details open in its row
    b:click("[data-events] tr[data-type=TaskSucceeded] .c-expand")
    b:wait("[data-events] .c-event-details:not([hidden]) >> text=\"approved\": true")
  end)

  it("rejects a task: the Catch takes over and the graph shows where it failed", function()
    open_execution(start_approval("rejected-in-browser"))
    b:click("[data-tasks] button.c-reject")
    b:fill("[aria-label=Cause]", "over budget")
    b:click("[data-confirm=reject]")
    b:wait("[data-graph][data-status=FAILED]")
    assert.same({ AskApprover = "caught", PlacePurchaseOrder = "not-reached", Done = "not-reached",
      NotApproved = "failed" }, b:eval(STATUSES))
    b:wait("text=req-7731 was not approved: Rejected (over budget)")
    b:click("[data-graph] g.state[data-state=AskApprover]")
    b:wait(".c-state-panel >> text=Caught error")
    b:wait(".c-state-panel .c-error-text >> text=Rejected")
  end)

  it("stops a running execution", function()
    open_execution(start_approval("stopped-in-browser"))
    b:wait("[data-graph] g.state.st-running")
    b:click("[data-action=stop]")
    b:fill(".c-confirm [aria-label=Cause]", "no longer needed")
    b:click("[data-confirm=stop]")
    b:wait("[data-graph][data-status=ABORTED]")
    assert.equal("Aborted", b:text("h1 .c-badge"))
    assert.equal("cancelled", b:eval(STATUSES).AskApprover)
    b:wait("[data-action=stop]", "detached")
  end)

  it("shows the server's refusal of a start", function()
    api(port, "StartExecution", { stateMachineArn = machines.hello, name = "taken", input = "{}" })
    b:open(base .. url_of(machines.hello, "state-machines") .. "/start")
    b:fill("#c-exec-name", "not a name")
    b:fill("textarea", "{}")
    b:click("form button[type=submit]")
    b:wait("[data-result] .c-alert-error >> text=InvalidName")
    b:fill("#c-exec-name", "taken")
    b:click("form button[type=submit]")
    b:wait("[data-result] .c-alert-error >> text=ExecutionAlreadyExists")
  end)

  it("lists executions with a status filter and a search by name", function()
    local arn = machines["approval-callback"]
    b:open(base .. url_of(arn, "state-machines"))
    b:wait("[data-executions] tr[data-execution=approved-in-browser]")
    local function shown()
      local names = b:eval("() => [...document.querySelectorAll('[data-executions] tr[data-execution]')]"
        .. ".map((r) => r.dataset.execution + ' ' + r.dataset.status)")
      table.sort(names)
      return names
    end
    assert.same({ "approved-in-browser SUCCEEDED", "rejected-in-browser FAILED", "stopped-in-browser ABORTED" }, shown())
    b:run({ op = "eval", fn = "() => { const s = document.querySelector('.c-select'); s.value = 'FAILED';"
      .. " s.dispatchEvent(new Event('change')); }" })
    -- the list asks ListExecutions with statusFilter FAILED
    b:until_true("(n) => document.querySelectorAll('[data-executions] tr[data-execution]').length === n", 1)
    assert.same({ "rejected-in-browser FAILED" }, shown())
    assert.matches("status=FAILED", b:eval("() => location.hash"), 1, true)
    b:run({ op = "eval", fn = "() => { const s = document.querySelector('.c-select'); s.value = '';"
      .. " s.dispatchEvent(new Event('change')); }" })
    b:wait("[data-executions] tr[data-execution=approved-in-browser]")
    b:fill(".c-card .c-search", "stop")
    b:wait("[data-executions] tr[data-execution=approved-in-browser]", "detached")
    assert.same({ "stopped-in-browser ABORTED" }, shown())
    -- every machine's executions on one page
    b:open(base .. "#/executions")
    b:wait("[data-executions] tr[data-execution=taken]")
    assert.equal(4, #shown())
  end)

  it("lists the tasks waiting for a token on the Tasks page and answers them there", function()
    local first = start_approval("task-page-1")
    local second = start_approval("task-page-2")
    b:open(base .. "#/tasks")
    b:wait(".c-task:nth-child(2)")
    assert.equal(2, b:eval("() => document.querySelectorAll('.c-task').length"))
    local one, two = '.c-task:has-text("task-page-1")', '.c-task:has-text("task-page-2")'
    b:click(one .. " button.c-approve")
    b:click(one .. " [data-confirm=approve]")
    b:wait(one .. " >> text=SendTaskSuccess was accepted.")
    b:click(two .. " button.c-reject")
    b:click(two .. " [data-confirm=reject]")
    b:wait(two .. " >> text=SendTaskFailure was accepted.")
    open_execution(first)
    b:wait("[data-graph][data-status=SUCCEEDED]")
    open_execution(second)
    b:wait("[data-graph][data-status=FAILED]")
  end)

  it("runs an express machine to its end from the start form", function()
    local arn = api(port, "CreateStateMachine", { name = "express-pass", type = "EXPRESS", roleArn = ROLE,
      definition = '{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"got.$":"$.n"},"End":true}}}' })
      .stateMachineArn
    b:open(base .. url_of(arn, "state-machines") .. "/start")
    b:fill("textarea", '{"n": 7}')
    b:click("form button[type=submit]")
    b:wait("[data-result] .c-badge-succeeded")
    assert.same({ got = 7 }, json.decode(b:text("[data-result] pre")))
  end)

  it("redrives a stopped execution: it waits at the state it was stopped in again", function()
    local arn = start_approval("redriven-in-browser")
    api(port, "StopExecution", { executionArn = arn })
    open_execution(arn)
    b:wait("[data-graph][data-status=ABORTED]")
    b:click("[data-action=redrive]")
    b:wait("[data-graph] g.state.st-running[data-state=AskApprover]")
    assert.equal("Running", b:text("h1 .c-badge"))
    b:wait("[data-action=redrive]", "detached")
    b:click("[data-tasks] button.c-approve")
    b:fill("[data-tasks] textarea", '{"approved": true, "by": "grace"}')
    b:click("[data-confirm=approve]")
    b:wait("[data-graph][data-status=SUCCEEDED]")
    b:wait("text=Redrive count")
    local d = api(port, "DescribeExecution", { executionArn = arn })
    assert.same({ "SUCCEEDED", 1 }, { d.status, d.redriveCount })
    b:wait("[data-events] tr[data-type=ExecutionRedriven]")
  end)

  it("lists the activities and their tasks, waiting for a worker or at one", function()
    local activity = api(port, "CreateActivity", { name = "review" }).activityArn
    local sm = api(port, "CreateStateMachine", { name = "review", roleArn = ROLE, definition = json.encode({
      StartAt = "Review", States = { Review = { Type = "Task", Resource = activity, End = true } } }) })
    for _, name in ipairs({ "doc-1", "doc-2" }) do
      api(port, "StartExecution", { stateMachineArn = sm.stateMachineArn, name = name, input = '{"doc":1}' })
    end
    b:open(base .. "#/activities")
    b:wait('[data-activity-tasks] tr:has-text("doc-2") >> text=waiting for a worker')
    assert.equal("2", b:text('[data-activities] tr:has-text("review") td.c-num'))
    -- a worker takes the oldest task
    local task = api(port, "GetActivityTask", { activityArn = activity, workerName = "worker-1" })
    assert.equal('{"doc":1}', task.input)
    b:open(base .. "#/state-machines")
    b:open(base .. "#/activities")
    b:wait('[data-activity-tasks] tr:has-text("doc-1") >> text=started by worker-1')
    assert.equal("Review", b:text('[data-activity-tasks] tr:has-text("doc-1") td:nth-child(3)'))
    b:wait('[data-activity-tasks] tr:has-text("doc-2") >> text=waiting for a worker')
    api(port, "SendTaskSuccess", { taskToken = task.taskToken, output = "{}" })
  end)

  it("asks for a key when the server verifies SigV4, and signs every request with it", function()
    local creds = os.tmpname()
    local f = assert(io.open(creds, "w"))
    f:write("AKIDBROWSER browser-secret\n")
    f:close()
    local signed = serve.start("--credentials " .. creds)
    local ok, err = pcall(function()
      api(signed.port, "CreateStateMachine", { name = "signed", definition = read("examples/hello/definition.asl.json"),
        roleArn = ROLE }, { id = "AKIDBROWSER", secret = "browser-secret" })
      local at = "http://127.0.0.1:" .. signed.port .. "/"
      b:open(at)
      b:wait("form.c-key-form")
      b:fill("#c-akid", "AKIDBROWSER")
      b:fill("#c-secret", "wrong")
      b:click("form.c-key-form button[type=submit]")
      b:wait(".c-key-form .c-alert-error >> text=InvalidSignatureException")
      b:fill("#c-secret", "browser-secret")
      b:click("form.c-key-form button[type=submit]")
      b:wait("text=signed")
      assert.equal("AKIDBROWSER", b:text(".c-key"))
      -- the console's own operations are signed too
      b:click("text=signed")
      b:wait("[data-graph] svg g.state")
      b:open(at .. "#/tasks")
      b:wait("text=No task waits for a token.")
      b:click("text=Sign out")
      b:wait("form.c-key-form")
    end)
    signed:stop("KILL")
    os.remove(creds)
    assert(ok, err)
  end)
end)
