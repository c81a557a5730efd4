-- Handlers of the callback approval (callback.asl.json) for stepflow serve:
-- askApprover only announces the request; the execution then waits for
-- its task token, which the approver answers with SendTaskSuccess or
-- SendTaskFailure (the web console's Approve and Reject buttons).
return {
  askApprover = function(input, ctx)
    io.stderr:write(string.format("  [%s] %s is asked to approve %s (%d cents); task token %s\n",
      ctx.state_name, input.approver, input.requestId, input.amountCents, input.taskToken))
    -- returns nothing: the token completes the task
  end,

  placePurchaseOrder = function(input)
    return { number = "PO-" .. input.requestId:match("%d+") }
  end,
}
