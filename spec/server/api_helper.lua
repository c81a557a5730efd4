--- A server on a fresh engine (an in-memory store) for the specs that
-- call the API in one process: `api.call(op, input)` -> status, body;
-- `api.ok(op, input)` -> body (asserting 200); `api.err(op, input)` ->
-- status, code, message (asserting the code is one the model lists for
-- the operation, or the front end's); `api.until_true(fn)`;
-- `api.create(name[, definition[, extra]])`, `api.status(arn, status)`;
-- `api.close()`.
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

--- Starts a server; opts: handlers, store (default ":memory:").
function M.start(opts)
  opts = opts or {}
  local engine = assert(stepflow.new({ store = opts.store or ":memory:", handlers = opts.handlers }))
  local logged = {}
  local server = assert(engine:serve({ port = 0, log = function(l) logged[#logged + 1] = l end }))
  local _, port = server:address()
  local api = { engine = engine, server = server, port = port, logged = logged }
  function api.call(op, input) return client.call(engine.loop, port, op, input) end
  function api.ok(op, input)
    local status, body = api.call(op, input)
    assert(status == 200, op .. ": " .. status .. " " .. json.encode(body))
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
  function api.until_true(fn, wait) return client.until_true(engine.loop, fn, wait) end
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

return M
