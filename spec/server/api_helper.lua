--- A server on a fresh engine (an in-memory store) for the specs that
-- call the API in one process: `api.call(op, input)` -> status, body;
-- `api.ok(op, input)` -> body (asserting 200); `api.err(op, input)` ->
-- status, code, message (asserting the code is one the model lists for
-- the operation, or the front end's); `api.send(op, input)` sends a
-- request whose answer is read later (`conn:answer()`), for long polls;
-- `api.until_true(fn)`, `api.spin(fn)`; `api.create(name[, definition[,
-- extra]])`, `api.status(arn, status)`; `api.close()`.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local client = require("server.client")
local model = require("stepflow.server.model")

local M = {}

M.ROLE = "arn:aws:iam::123456789012:role/test"
M.SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
M.EXEC = "arn:aws:states:us-east-1:123456789012:execution:"
M.PASS = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'

-- Errors of the front end, which any operation may answer.
local FRONT = { SerializationException = true, ValidationException = true, UnknownOperationException = true,
  InternalFailure = true }

--- Starts a server. opts: store (default ":memory:"), virtual_time,
-- handlers, integrations, mocks, and `serve` (engine:serve's options).
function M.start(opts)
  opts = opts or {}
  local engine = assert(stepflow.new({ store = opts.store or ":memory:", virtual_time = opts.virtual_time,
    handlers = opts.handlers, integrations = opts.integrations, mocks = opts.mocks }))
  local logged = {}
  local sopts = { port = 0, log = function(l) logged[#logged + 1] = l end }
  for k, v in pairs(opts.serve or {}) do sopts[k] = v end
  local server = assert(engine:serve(sopts))
  local _, port = server:address()
  local api = { engine = engine, server = server, port = port, logged = logged, loop = engine.loop }
  function api.call(op, input) return client.call(engine.loop, port, op, input) end
  function api.ok(op, input)
    local status, body = api.call(op, input)
    assert(status == 200, op .. ": " .. tostring(status) .. " " .. json.encode(body))
    return body
  end
  function api.err(op, input)
    local status, body = api.call(op, input)
    local listed = FRONT[body.__type]
    for _, e in ipairs(model.operations[op] and model.operations[op].errors or {}) do
      if e == body.__type then listed = true end
    end
    assert(listed, op .. " answered " .. tostring(body.__type) .. ", which the model does not list for it")
    return status, body.__type, body.message
  end
  -- A request sent now, answered later: conn:answer() reads it (status,
  -- decoded body), turning the loop meanwhile.
  function api.send(op, input)
    local conn = client.connect(engine.loop, port)
    local body = json.encode(input or {})
    conn:send("POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions." .. op ..
      "\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
    function conn.answer(_, wait)
      local status, _, rbody = conn:response(wait)
      assert(status, op .. ": no answer (" .. tostring(_) .. ")")
      return status, json.decode(rbody)
    end
    return conn
  end
  --- Turns the loop until fn() is true.
  function api.until_true(fn, wait) return client.until_true(engine.loop, fn, wait) end
  --- Turns the loop without pausing until fn() is true (at most 5 s):
  -- for work of this process only (its own answers to write).
  function api.spin(fn)
    local deadline = os.clock() + 5
    while not fn() do
      if os.clock() > deadline then return false end
      engine.loop:step()
    end
    return true
  end
  function api.create(name, definition, extra)
    local input = { name = name, definition = definition or M.PASS, roleArn = M.ROLE }
    for k, v in pairs(extra or {}) do input[k] = v end
    return api.ok("CreateStateMachine", input)
  end
  function api.status(arn, want)
    return api.until_true(function()
      return api.ok("DescribeExecution", { executionArn = arn }).status == want
    end)
  end
  function api.close()
    server:close()
    engine:close()
  end
  return api
end

--- Creates a state machine from a definition table: its ARN.
function M.machine(api, name, def)
  return api.ok("CreateStateMachine", { name = name, roleArn = M.ROLE, definition = json.encode(def) })
    .stateMachineArn
end

return M