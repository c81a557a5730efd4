-- An SQS-style queue kept in memory, written as a stepflow integration:
-- the engine handles request-response and .waitForTaskToken for it, and
-- its errors carry AWS's names, so a definition written for Amazon SQS
-- runs unchanged (docs/INTEGRATIONS.md).
--
--   arn:aws:states:::sqs:sendMessage[.waitForTaskToken]   the optimized integration
--   arn:aws:states:::aws-sdk:sqs:*                        receiveMessage, deleteMessage,
--                                                         getQueueAttributes (AWS SDK)
--
-- Queues exist when the file is loaded (QUEUES below): a message to any
-- other queue fails with SQS.QueueDoesNotExistException, as on AWS. A
-- queue may have a consumer, which reads each message on a later turn of
-- the engine's loop, as a worker reading the queue would: the approvals
-- queue's consumer answers the task token in its messages.
local json = require("stepflow.json")
local hash = require("stepflow.util.digest")

-- name -> {messages = {...}, consumer = fn(message, engine)}
local QUEUES = {}

local function queue_of(url)
  return type(url) == "string" and QUEUES[url:match("([^/]+)$")] or nil
end

-- The approver: approves orders up to 1000, rejects the rest; an order
-- marked "silent" is never answered (its Task times out).
local function approver(message, engine)
  local body = json.decode(message.Body)
  if body.order.silent then return end
  if body.order.total <= 1000 then
    engine:send_task_success(body.TaskToken, { approved = true, by = "approver" })
  else
    engine:send_task_failure(body.TaskToken, "Order.Rejected", "total " .. body.order.total .. " is over 1000")
  end
end

QUEUES.orders = { messages = {} }
QUEUES.approvals = { messages = {}, consumer = approver }
QUEUES.shipping = { messages = {} }

local function no_queue(ctx, url)
  return ctx.error("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist for this " ..
    "wsdl version. (queue " .. tostring(url) .. ")", { status = 400, exception = "QueueDoesNotExistException" })
end

-- SendMessage: the body is kept as text (a JSON MessageBody is sent as
-- its JSON text, as Step Functions does).
local function send(params, ctx)
  local q = queue_of(params.QueueUrl)
  if not q then error(no_queue(ctx, params.QueueUrl), 0) end
  local body = params.MessageBody
  if body == nil or body == json.null then
    error(ctx.error("MissingParameter", "The request must contain the parameter MessageBody.",
      { status = 400, exception = ctx.sdk_service and "SqsException" or "AmazonSQSException" }), 0)
  end
  if type(body) ~= "string" then body = json.encode(body) end
  local message = { MessageId = ctx.request_id(), Body = body, MD5OfBody = hash.md5(body),
    ReceiptHandle = ctx.request_id() }
  q.messages[#q.messages + 1] = message
  if q.consumer then
    -- a worker reads the queue later, never inside the Task
    ctx.engine.loop:call(function() q.consumer(message, ctx.engine) end)
  end
  return { MessageId = message.MessageId, MD5OfMessageBody = message.MD5OfBody }
end

local SDK = {
  sendMessage = send,
  receiveMessage = function(params, ctx)
    local q = queue_of(params.QueueUrl)
    if not q then error(no_queue(ctx, params.QueueUrl), 0) end
    local out = json.array({})
    for i = 1, math.min(params.MaxNumberOfMessages or 1, #q.messages) do
      local m = q.messages[i]
      out[i] = { MessageId = m.MessageId, Body = m.Body, MD5OfBody = m.MD5OfBody, ReceiptHandle = m.ReceiptHandle }
    end
    return { Messages = out }
  end,
  deleteMessage = function(params, ctx)
    local q = queue_of(params.QueueUrl)
    if not q then error(no_queue(ctx, params.QueueUrl), 0) end
    for i, m in ipairs(q.messages) do
      if m.ReceiptHandle == params.ReceiptHandle then
        table.remove(q.messages, i)
        return {}
      end
    end
    error(ctx.error("ReceiptHandleIsInvalid", "The input receipt handle is invalid.", 404), 0)
  end,
  getQueueAttributes = function(params, ctx)
    local q = queue_of(params.QueueUrl)
    if not q then error(no_queue(ctx, params.QueueUrl), 0) end
    return { Attributes = { ApproximateNumberOfMessages = tostring(#q.messages) } }
  end,
}

return {
  ["arn:aws:states:::sqs:sendMessage"] = { call = send },
  ["arn:aws:states:::aws-sdk:sqs:*"] = { call = function(params, ctx)
    local action = SDK[ctx.action]
    if not action then
      error(ctx.error("UnsupportedOperation", "This example queue has no action " .. ctx.action, 400), 0)
    end
    return action(params, ctx)
  end },
}
