-- The approval as a callback task, through the Lua API: each execution
-- parks on its task token until an approver answers with
-- send_task_success or send_task_failure. Run: lua5.4 examples/approval/callback.lua
local stepflow = require("stepflow")

local engine = stepflow.new()
local inbox = {} -- requests waiting for an approver, with their task tokens
engine:register("askApprover", function(input, ctx)
  inbox[#inbox + 1] = input -- returns nothing: the token completes the task
end)

local sm = assert(engine:create_state_machine([[{
  "StartAt": "AskApprover",
  "States": {
    "AskApprover": { "Type": "Task", "Resource": "askApprover.waitForTaskToken",
      "Parameters": { "requestId.$": "$.requestId", "token.$": "$$.Task.Token" },
      "ResultPath": "$.decision", "Next": "Approved",
      "Catch": [ { "ErrorEquals": ["Approval.Rejected"], "Next": "Rejected" } ] },
    "Approved": { "Type": "Pass", "End": true,
      "Parameters": { "requestId.$": "$.requestId", "approvedBy.$": "$.decision.by" } },
    "Rejected": { "Type": "Fail", "Error": "Approval.Rejected", "CausePath": "$.Cause" }
  }
}]], { name = "CallbackApproval" }))

local a = engine:start_execution(sm, { requestId = "req-1" })
local b = engine:start_execution(sm, { requestId = "req-2" })
engine:run() -- returns once both executions wait for their tokens
print(a.status, b.status, #inbox)

assert(engine:send_task_success(inbox[1].token, { by = "ada" }))
assert(engine:send_task_failure(inbox[2].token, "Approval.Rejected", "over budget"))
engine:run()
print(a.status, stepflow.json.encode(a.output))
print(b.status, b.error, b.cause)
print(engine:send_task_success(inbox[1].token, {})) -- that task is over
