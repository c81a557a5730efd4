--- SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat: the answers of
-- workers, for every task that waits for its token alike (an activity
-- task, a .waitForTaskToken callback, a .sync job). A 200 means the
-- answer is committed: the task's outcome event is in the store.
local json = require("stepflow.json")
local tokens = require("stepflow.integrations.tokens")

local M = {}

local ops = {}
M.operations = ops

local EMPTY = {}

-- The operation's answer for what the engine's send_task_* returned.
local function answered(call, ok, message, info)
  if ok then return call:reply_after_commit(EMPTY) end
  local code = info and info.code
  if code == "InvalidOutput" then
    return nil, code, "Invalid Output: '" .. tostring(message):gsub("^InvalidOutput: ", "") .. "'"
  end
  if not tokens.MESSAGES[code] then return nil, "InternalFailure", tostring(message) end
  return nil, code, tokens.MESSAGES[code]
end

function ops.SendTaskSuccess(server, input, call)
  local value, err = json.try_decode(input.output)
  if value == nil then
    -- a bad token is told first, as AWS checks it before the output
    local engine = server.engine
    if not engine.tokens[input.taskToken] and not tokens.execution_of(input.taskToken) then
      return nil, "InvalidToken", tokens.MESSAGES.InvalidToken
    end
    return nil, "InvalidOutput", "Invalid Output: '" .. tostring(err) .. "'"
  end
  return answered(call, server.engine:send_task_success(input.taskToken, value))
end

function ops.SendTaskFailure(server, input, call)
  return answered(call, server.engine:send_task_failure(input.taskToken, input.error, input.cause))
end

function ops.SendTaskHeartbeat(server, input, call)
  local ok, message, info = server.engine:send_task_heartbeat(input.taskToken)
  -- a heartbeat records nothing here, but one left for the engine that
  -- runs the task on a shared store is answered once it is committed
  if ok then return call:reply_after_commit(EMPTY) end
  return answered(call, ok, message, info)
end

return M
