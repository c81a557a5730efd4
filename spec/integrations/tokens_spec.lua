-- Task tokens (stepflow.integrations.tokens) and what the engine's
-- send_task_* say of a token no task waits for: InvalidToken,
-- TaskTimedOut, TaskDoesNotExist, and InvalidOutput for an output that
-- is not JSON.
local stepflow = require("stepflow")
local tokens = require("stepflow.integrations.tokens")

local EXEC = "arn:aws:states:us-east-1:123456789012:execution:m:e1"

local function waiting_engine()
  local engine = stepflow.new({ virtual_time = true })
  local token
  engine:register("ask", function(_, ctx) token = ctx.task_token end)
  local sm = assert(engine:create_state_machine({ StartAt = "Ask", States = { Ask = { Type = "Task",
    Resource = "ask.waitForTaskToken", End = true } } }))
  local exec = engine:start_execution(sm, {}, { history = true })
  engine:run()
  return engine, exec, token
end

describe("stepflow.integrations.tokens", function()
  it("makes tokens that name their execution and pass a shell unquoted", function()
    local source = tokens.source()
    local a, b = source:new(EXEC), source:new(EXEC)
    assert.not_equal(a, b)
    assert.matches("^[%w_%-]+%.%x+$", a)
    assert.equal(EXEC, tokens.execution_of(a))
    assert.equal(EXEC .. ":x", tokens.execution_of(source:new(EXEC .. ":x")))
  end)

  it("finds no execution in text that is not such a token", function()
    for _, t in ipairs({ "", "abc", "abc.def", "YXJu.00", "Zm9v." .. string.rep("0", 32), 42 }) do
      assert.is_nil(tokens.execution_of(t), tostring(t))
    end
  end)
end)

describe("engine:send_task_*", function()
  it("completes a waiting task, then says its task has ended (TaskTimedOut)", function()
    local engine, exec, token = waiting_engine()
    assert.equal(exec.arn, tokens.execution_of(token))
    assert.is_true(engine:send_task_heartbeat(token))
    assert.is_true(engine:send_task_success(token, { ok = true }))
    engine:run()
    assert.equal("SUCCEEDED", exec.status)
    local ok, msg, info = engine:send_task_success(token, {})
    assert.is_nil(ok)
    assert.equal("TaskTimedOut", info.code)
    assert.matches("^TaskTimedOut: ", msg)
  end)

  it("refuses the token of a stopped execution's task", function()
    local engine, exec, token = waiting_engine()
    assert(exec:stop())
    local _, _, info = engine:send_task_failure(token, "E", "c")
    assert.equal("TaskTimedOut", info.code)
    assert.same({}, engine:waiting_tasks(exec.arn))
  end)

  it("tells text that is no token (InvalidToken) from an unknown execution's token", function()
    local engine = stepflow.new()
    local _, _, info = engine:send_task_success("nope", {})
    assert.equal("InvalidToken", info.code)
    _, _, info = engine:send_task_heartbeat(tokens.source():new(EXEC))
    assert.equal("TaskDoesNotExist", info.code)
    assert.has_error(function() engine:send_task_success(nil, {}) end)
  end)

  it("refuses an output that is not JSON, and the task still waits", function()
    local engine, exec, token = waiting_engine()
    local ok, msg, info = engine:send_task_success(token, { f = print })
    assert.is_nil(ok)
    assert.equal("InvalidOutput", info.code)
    assert.matches("^InvalidOutput: ", msg)
    assert.equal(1, #engine:waiting_tasks(exec.arn))
    assert.equal("callback", engine:waiting_tasks(exec.arn)[1].kind)
  end)
end)
