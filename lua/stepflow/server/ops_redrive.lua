--- RedriveExecution: a FAILED, TIMED_OUT or ABORTED STANDARD execution
-- runs again from what had not succeeded (engine:redrive_execution).
-- Idempotent as AWS is: the last 10 client tokens of an execution's
-- successful redrives, each for 15 minutes, answer that redrive again
-- (kept in the store as the resource `redrive_tokens` of the execution).
local json = require("stepflow.json")
local common = require("stepflow.server.common")
local exec_ops = require("stepflow.server.ops_executions")

local M = {}

local date = common.date
local ops = {}
M.operations = ops

local KIND = "redrive_tokens"
M.TOKENS, M.TOKEN_MS = 10, 15 * 60 * 1000

-- The redrives a client token already made for an execution:
-- {token, date (ms), used (ms)} newest last.
local function tokens_of(server, arn)
  local data = server.engine.store:get_resource(KIND, arn)
  return data and json.decode(data) or {}
end

local function remember(server, arn, list, token, when)
  list[#list + 1] = { token = token, date = when, used = server.engine.loop:now() }
  while #list > M.TOKENS do table.remove(list, 1) end
  local ok, err = server.engine.store:put_resource(KIND, arn, json.encode(json.array(list)))
  if not ok then error("stepflow.server: store: " .. tostring(err), 0) end
end

function ops.RedriveExecution(server, input, call)
  local arn = input.executionArn
  local ok, code, message = common.execution_arn(arn)
  if not ok then return nil, code, message end
  local engine = server.engine
  local rec = engine:describe_execution(arn)
  if not rec then return nil, "ExecutionDoesNotExist", "Execution Does Not Exist: '" .. arn .. "'" end
  local list = input.clientToken and tokens_of(server, arn) or {}
  local now = engine.loop:now()
  for _, t in ipairs(list) do
    if t.token == input.clientToken and now - t.used <= M.TOKEN_MS then
      return { redriveDate = date(t.date) }
    end
  end
  local redrivable, why = exec_ops.redrivable(server, rec)
  if not redrivable then return nil, "ExecutionNotRedrivable", why end
  local exec
  exec, code, message = engine:redrive_execution(arn)
  if not exec then return nil, code, message end
  local when = engine:describe_execution(arn).redrive_date
  if input.clientToken then remember(server, arn, list, input.clientToken, when) end
  return call:reply_after_commit({ redriveDate = date(when) })
end

return M
