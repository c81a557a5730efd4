--- The web console's own operations, for what the Step Functions API has
-- no operation for (the console calls the API for everything else):
--
--   info    SigV4 on or off, the API operations this server answers (the
--           page shows what they serve: activities, redrive, tasks)
--   graph   the picture of a state machine or of an execution: the SVG of
--           stepflow.graph (the one renderer), the boxes and edges it
--           draws, and for an execution each state's status
--   tasks   the tasks that wait for a task token or an activity worker,
--           read from the histories of running executions
--
-- An operation is fn(console, input) -> output table, or nil, code,
-- message, as the API's operations answer.
local json = require("stepflow.json")
local timestamp = require("stepflow.asl.timestamp")
local graph = require("stepflow.graph")
local svg = require("stepflow.graph.svg")
local status = require("stepflow.graph.status")
local common = require("stepflow.server.common")
local sm_ops = require("stepflow.server.ops_state_machines")
local tasks = require("stepflow.server.console_tasks")
local tokens = require("stepflow.integrations.tokens")

local M = {}

local array = json.array
local ops = {}
M.operations = ops

--- What the page reads first (GET /console/api/info, unsigned).
function M.info(server)
  local names = {}
  for name in pairs(server.ops) do names[#names + 1] = name end
  table.sort(names)
  return { sigv4 = server.sigv4 and true or false, operations = array(names),
    region = server.region, account = server.account }
end

local function execution_record(server, arn)
  local ok, code, message = common.execution_arn(arn)
  if not ok then return nil, code, message end
  local rec = server.engine:describe_execution(arn)
  if not rec then return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. arn .. "'" end
  return rec
end

-- The layout of a definition text, cached by the text (a server draws the
-- same few machines again and again).
local function layout_of(console, text)
  local l = console.layouts:get(text)
  if l then return l end
  local ok, def = pcall(json.decode, text)
  if not ok then return nil, "InternalFailure", "the definition is not JSON: " .. tostring(def) end
  local err
  l, err = graph.layout(def)
  if not l then return nil, "InternalFailure", "cannot draw the definition: " .. tostring(err) end
  return console.layouts:put(text, l)
end

-- Each state's status in an execution: its history read once and then
-- only the events past the last one read (the page asks every second
-- while the execution runs).
local function statuses(console, arn, exec_status)
  local seen = console.histories:get(arn)
  if not seen then seen = console.histories:put(arn, { events = {}, last = nil }) end
  local rows, err = console.server.engine.store:history(arn, { after = seen.last })
  if not rows then return nil, "InternalFailure", tostring(err) end
  local events = seen.events
  for _, e in ipairs(status.from_store(rows)) do
    events[#events + 1] = e
    seen.last = e.id
  end
  return status.compute(events, exec_status)
end

-- What the picture holds, in the order the SVG draws it: boxes, then
-- edges (an edge's label follows in the same order).
local function drawn(layout)
  local boxes, edges = {}, {}
  for i, b in ipairs(layout.boxes) do
    boxes[i] = { id = b.id, kind = b.kind, name = b.name, type = b.type, parent = b.parent }
  end
  for i, e in ipairs(layout.edges) do
    edges[i] = { from = e.from, to = e.to, kind = e.kind, label = e.label and e.label.full or nil }
  end
  return array(boxes), array(edges)
end

--- graph {stateMachineArn | executionArn, svg = false}: the picture
-- (without svg = false) and, for an execution, the statuses:
-- {svg, boxes, edges, width, height (of the layout), status = {state =
-- status}, visits = {state = n}, executionStatus}.
function ops.graph(console, input)
  local server = console.server
  local text, st, visits, exec_status
  if type(input.executionArn) == "string" then
    local rec, code, message = execution_record(server, input.executionArn)
    if not rec then return nil, code, message end
    text = server.machines:revision_of(rec.sm_arn, rec.revision)
    if not text then return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. rec.arn .. "'" end
    exec_status = rec.status
    st, visits, message = statuses(console, rec.arn, exec_status)
    if not st then return nil, visits, message end
  elseif type(input.stateMachineArn) == "string" then
    local rec, code, message = sm_ops.lookup(server, input.stateMachineArn)
    if not rec then return nil, code, message end
    text = rec.definition
  else
    return nil, "ValidationException", "graph needs a stateMachineArn or an executionArn"
  end
  local out = { executionStatus = exec_status, status = st, visits = visits }
  if input.svg ~= false then
    local layout, code, message = layout_of(console, text)
    if not layout then return nil, code, message end
    out.svg = svg.render(layout, { status = st, visits = visits })
    out.boxes, out.edges = drawn(layout)
    out.width, out.height = layout.width, layout.height
  end
  return out
end

-- The AWS-shaped history of a running execution: read once, then only
-- the events past the last one read (the Tasks page asks every 2 s).
local function history_of(console, arn)
  local seen = console.task_histories:get(arn)
  if not seen then seen = console.task_histories:put(arn, { events = {}, last = nil }) end
  local page, err = console.server.engine:history(arn, { after = seen.last })
  if not page then return nil, err end
  local events = seen.events
  for _, e in ipairs(page) do
    events[#events + 1] = e
    seen.last = e.id
  end
  return events
end

--- tasks {executionArn}: the tasks waiting for a task token or for an
-- activity worker, in one execution or in every running one (oldest
-- wait first): {tasks = {{kind = "callback" | "activity", executionArn,
-- stateName, resource, resourceType, input, taskToken, scheduledDate,
-- startedDate, workerName, timeoutInSeconds, heartbeatInSeconds}}}.
function ops.tasks(console, input)
  local server = console.server
  local engine = server.engine
  local list
  if type(input.executionArn) == "string" then
    local rec, code, message = execution_record(server, input.executionArn)
    if not rec then return nil, code, message end
    list = rec.status == "RUNNING" and { rec } or {}
  else
    local err
    list, err = engine:list_executions({ status = "RUNNING" })
    if not list then return nil, "InternalFailure", tostring(err) end
  end
  local shared = engine.durability and engine.durability.shared
  local out = {}
  for _, rec in ipairs(list) do
    -- the engine's waiting tasks say which tokens wait; the history what
    -- each task is (its state, input, times, worker). An execution that
    -- another engine of a shared store runs: its history alone (a token
    -- names its execution), answered through the database.
    local live
    local waiting = engine:waiting_tasks(rec.arn)
    if #waiting > 0 then
      local set = {}
      for _, w in ipairs(waiting) do set[w.token] = true end
      live = function(s) return set[s] == true end
    elseif shared and not engine.executions[rec.arn] then
      live = function(s) return tokens.execution_of(s) == rec.arn end
    end
    if live then
      local events, err = history_of(console, rec.arn)
      if not events then return nil, "InternalFailure", tostring(err) end
      for _, t in ipairs(tasks.waiting(events, live)) do
        t.executionArn, t.stateMachineArn, t.executionName = rec.arn, rec.sm_arn, rec.name
        t.scheduledDate = timestamp.parse(t.scheduledDate)
        t.startedDate = t.startedDate and timestamp.parse(t.startedDate)
        out[#out + 1] = t
      end
    end
  end
  table.sort(out, function(a, b)
    if a.scheduledDate ~= b.scheduledDate then return a.scheduledDate < b.scheduledDate end
    return a.executionArn < b.executionArn
  end)
  return { tasks = array(out) }
end

--- The state of the console's operations for a server.
function M.new(server)
  local cache = require("stepflow.util.cache")
  return { server = server, layouts = cache.new(32), histories = cache.new(64), task_histories = cache.new(64) }
end

return M
