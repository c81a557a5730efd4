-- The SQS queue of the callback step, as a Lua integration (see
-- examples/queue for a fuller one): it keeps each message and hands it to
-- a reviewer, a worker that answers the task token in the message on a
-- later turn of the loop. Customers named "Mallory" are refused.
local json = require("stepflow.json")

local reviews = {}

local function reviewer(message, engine)
  local body = json.decode(message)
  if body.customer.name == "Mallory" then
    engine:send_task_failure(body.TaskToken, "Review.Refused", "the reviewer refused " .. body.customer.name)
  else
    engine:send_task_success(body.TaskToken, { reviewer = "reviews-team", tier = body.check.tier })
  end
end

return {
  ["arn:aws:states:::sqs:sendMessage"] = { call = function(params, ctx)
    if params.QueueUrl ~= "https://sqs.us-east-1.amazonaws.com/123456789012/onboarding-reviews" then
      error(ctx.error("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.",
        { exception = "QueueDoesNotExistException" }), 0)
    end
    local body = type(params.MessageBody) == "string" and params.MessageBody or json.encode(params.MessageBody)
    reviews[#reviews + 1] = body
    ctx.engine.loop:call(function() reviewer(body, ctx.engine) end)
    return { MessageId = ctx.request_id(), MD5OfMessageBody = require("stepflow.util.digest").md5(body) }
  end },
}
