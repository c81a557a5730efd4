-- The process the nested-execution crash spec kills: a parent that starts
-- a child with startExecution.sync:2 (no Name: the child's name comes from
-- the parent's task), on a durable store.
--
--   lua5.4 spec/integrations/nested_crash.lua start STORE   prints "child running"
--                                                           once the child's
--                                                           first Task runs
--   lua5.4 spec/integrations/nested_crash.lua resume STORE  recovers, runs to the
--                                                           end, prints a JSON report
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local stepflow = require("stepflow")
local json = require("stepflow.json")

local mode, store = arg[1], arg[2]

local CHILD = { StartAt = "Mark", States = {
  Mark = { Type = "Task", Resource = "mark", ResultPath = "$.marked", Next = "Done" },
  Done = { Type = "Pass", Parameters = { ["child_got.$"] = "$.n" }, End = true } } }

local handlers = {
  -- runs once the child's creation and the parent's TaskSubmitted are
  -- committed (a durable task runs after its Scheduled commit)
  mark = function(_, ctx)
    io.stdout:write("child running\n")
    io.stdout:flush()
    ctx.sleep(2)
    return true
  end,
}

local engine = assert(stepflow.new({ store = store, handlers = handlers, virtual_time = mode == "resume" }))
if mode == "start" then
  local child = assert(engine:create_state_machine(CHILD, { name = "Child" }))
  local parent = assert(engine:create_state_machine({ StartAt = "Run", States = {
    Run = { Type = "Task", Resource = "arn:aws:states:::states:startExecution.sync:2",
      Parameters = { StateMachineArn = child.arn, Input = { ["n.$"] = "$.n" } }, End = true } } },
    { name = "Parent" }))
  assert(engine:start_execution(parent, { n = 7 }, { name = "p" }))
  engine:run()
  io.stdout:write("not killed\n")
else
  assert(engine:recover())
  engine:run()
  local parent = engine.store:get_execution(
    "arn:aws:states:us-east-1:123456789012:execution:Parent:p")
  local children = engine.store:list_executions({
    sm_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Child" })
  local submitted = 0
  for _, e in ipairs(engine:history(parent.arn)) do
    if e.type == "TaskSubmitted" then submitted = submitted + 1 end
  end
  io.stdout:write(json.encode({ status = parent.status, output = parent.output and json.decode(parent.output),
    children = #children, child_status = children[1] and children[1].status, submitted = submitted }), "\n")
end
engine:close()
