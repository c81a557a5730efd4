--- `stepflow send-task-success`, `send-task-failure` and
-- `send-task-heartbeat`: a task token answered from the command line, by
-- a running server (--endpoint URL) or through a store (--store FILE, or
-- a shared PostgreSQL database), for the engine that runs it (it reads
-- answers with its stop requests) or that will resume it. And what `stepflow run` says of an execution
-- whose run ends while tasks wait for their tokens.
local json = require("stepflow.json")
local common = require("stepflow.cli.common")
local remote = require("stepflow.cli.remote")
local tokens = require("stepflow.integrations.tokens")
local answers = require("stepflow.integrations.answers")

local say, usage_error = common.say, common.usage_error

local M = {}

-- How long an answer left for a running engine is waited for.
local ANSWER_WAIT_S = 10

local USAGE = {
  success = "usage: stepflow send-task-success TOKEN --output JSON|@FILE (--endpoint URL | --store FILE)",
  failure = "usage: stepflow send-task-failure TOKEN [--error E] [--cause C] (--endpoint URL | --store FILE)",
  heartbeat = "usage: stepflow send-task-heartbeat TOKEN (--endpoint URL | --store FILE)",
}
local OPERATION = { success = "SendTaskSuccess", failure = "SendTaskFailure", heartbeat = "SendTaskHeartbeat" }

-- The JSON text of --output (JSON, or @FILE), checked: text, value; or
-- nil and a message.
local function read_output(spec)
  local text = spec
  if spec:sub(1, 1) == "@" then
    local err, size
    text, err, size = common.read_file(spec:sub(2), "output", common.INPUT_LIMIT)
    if size then return nil, "InvalidOutput: the output is over " .. common.INPUT_LIMIT .. " bytes" end
    if not text then return nil, err end
  end
  if #text > common.INPUT_LIMIT then
    return nil, "InvalidOutput: the output is over " .. common.INPUT_LIMIT .. " bytes"
  end
  local value, err = json.try_decode(text)
  if value == nil then return nil, "InvalidOutput: the output is not JSON: " .. tostring(err) end
  return text, value
end

-- Waits (at most ANSWER_WAIT_S) for the engine that runs the store to
-- take the answer: true once it did. `waits()` tells whether the answer
-- still waits (nil when the store cannot be read).
local function taken(waits)
  local loop = require("stepflow.core.engine").loop({})
  local deadline = loop:now() + ANSWER_WAIT_S * 1000
  local done = false
  local function check()
    local w = waits()
    if w == false then
      done = true
    elseif w and loop:now() < deadline then
      loop:timer(50, check)
    end
  end
  loop:timer(20, check)
  loop:run()
  loop:close()
  return done
end

-- Records the answer in a shared database, judged from it, for the
-- engine that runs the task, and waits for that engine to apply it.
local function through_database(url, token, answer)
  local s, err = require("stepflow.store").open(url)
  if not s then
    say(err)
    return 1
  end
  local arn, ref
  arn, err = answers.judge(s, token)
  if arn then ref, err = answers.record(s, token, answer) end
  if ref then
    local ok, cerr = s:commit()
    if not ok then ref, err = nil, cerr end
  end
  if not ref then
    s:close()
    say(err)
    return 1
  end
  local applied = taken(function() return answers.waits(s, token, ref) end)
  s:close()
  if applied then
    io.stdout:write("answered ", token, " (execution ", arn, ")\n")
  else
    io.stdout:write("recorded the answer for execution ", arn, ", which the engine that runs it applies ",
      "(or the one that takes it over)\n")
  end
  return 0
end

-- Records the answer in the store, for the engine that runs it or will.
local function through_store(path, token, answer)
  local arn = tokens.execution_of(token)
  if not arn then
    say("InvalidToken: not a task token: ", token)
    return 1
  end
  if require("stepflow.store").is_shared(path) then return through_database(path, token, answer) end
  local s, info = common.open_store(path, true)
  local running_pid
  if not s then
    if info.kind ~= "locked" then return 1 end
    -- another engine runs the store: leave the answer for it
    running_pid = info.pid or "?"
    local err
    s, err = require("stepflow.store").open(path, { client = true })
    if not s then
      say(err)
      return 1
    end
  end
  local function fail(...)
    s:close()
    say(...)
    return 1
  end
  local ok, err = answers.judge(s, token)
  if not ok then return fail(err) end
  ok, err = answers.record(s, token, answer)
  if ok then ok, err = s:commit() end
  s:close()
  if not ok then
    say(err)
    return 1
  end
  if running_pid then
    local function waits()
      local r = common.read_store(path)
      if not r then return nil end
      local w = answers.waits(r, token)
      r:close()
      return w
    end
    if taken(waits) then
      io.stdout:write("answered ", token, " (engine process ", tostring(running_pid), ")\n")
    else
      io.stdout:write("recorded the answer for engine process ", tostring(running_pid),
        ", which takes it when it next reads requests\n")
    end
  else
    io.stdout:write("recorded the answer in ", path, "; the execution goes on when an engine runs the store: ",
      "stepflow resume --store ", path, " (or stepflow serve --store ", path, ")\n")
  end
  return 0
end

--- Runs send-task-success (`kind` "success"), send-task-failure
-- ("failure") or send-task-heartbeat ("heartbeat") with argv; returns the
-- exit status.
function M.send(argv, kind)
  local spec = { endpoint = "value", store = "value" }
  if kind == "success" then spec.output = "value" end
  if kind == "failure" then spec.error, spec.cause = "text", "text" end
  local pos, opts = common.parse_args(argv, 2, spec)
  if not pos then return usage_error(opts) end
  if #pos ~= 1 or (opts.endpoint == nil) == (opts.store == nil) or (kind == "success" and not opts.output) then
    return usage_error(USAGE[kind])
  end
  local token = pos[1]
  local input, answer = { taskToken = token }
  if kind == "success" then
    local text, value = read_output(opts.output)
    if not text then return usage_error(value) end
    input.output, answer = text, { success = value }
  elseif kind == "failure" then
    input.error, input.cause = opts.error, opts.cause
    answer = { failure = { error = opts.error, cause = opts.cause } }
  else
    answer = { heartbeat = true }
  end
  if opts.store then return through_store(opts.store, token, answer) end
  local op = OPERATION[kind]
  local out, code, message = remote.call(opts.endpoint, op, input)
  if not out then return remote.failed(op, code, message) end
  return 0
end

-- Shell quoting for the commands shown.
local function q(s)
  if s:find("^[%w_%-%.,/:@=+]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- What `stepflow run` prints (on stderr) for an execution whose run
-- ended while it waits for task tokens: each waiting state, its token or
-- activity, and the commands that answer it. `store` is the run's
-- --store (nil: nothing is kept after the run).
function M.report_waiting(waiting, store)
  for _, w in ipairs(waiting) do
    if w.kind == "activity" then
      io.stderr:write("state '", w.state, "' waits for a worker of activity ", w.resource,
        w.taken and " (a worker has it)" or "", "; its task token:\n  ", w.token, "\n")
    else
      io.stderr:write("state '", w.state, "' (", w.resource, ") waits for its task token:\n  ", w.token, "\n")
    end
  end
  if #waiting == 0 then return end
  local token = #waiting == 1 and waiting[1].token or "TOKEN"
  if store then
    io.stderr:write("answer it from another shell, then resume:\n",
      "  stepflow send-task-success ", token, " --store ", q(store), " --output '{...}'\n",
      "  stepflow send-task-failure ", token, " --store ", q(store), " --error E --cause C\n",
      "  stepflow resume --store ", q(store), " [--handlers FILE]...\n",
      "(or serve the store, stepflow serve --store ", q(store), ", and answer with --endpoint URL, ",
      "the AWS CLI or SDKs)\n")
  else
    io.stderr:write("nothing of this run is kept after it exits: to answer from another shell, run it with ",
      "--store FILE (then stepflow send-task-success TOKEN --store FILE --output JSON, and stepflow resume ",
      "--store FILE), or on a server (stepflow serve) with SendTaskSuccess\n")
  end
end

return M
