--- Helpers of the specs that drive `stepflow serve` with the AWS SDK for
-- JavaScript (spec/server/sdk/*.mjs run by node): sdk_spec and
-- sdk_pg_spec.
local assert = require("luassert")
local json = require("stepflow.json")
local serve = require("server.serve_process")

local M = {}

local SCRIPT = "spec/server/sdk/operations.mjs"

function M.node_script(script, ...)
  local args = table.concat({ ... }, " ")
  local p = assert(io.popen("env -u LD_PRELOAD node " .. script .. " " .. args .. " 2>&1"))
  local out = p:read("a")
  p:close()
  local last = out:match("([^\n]*)\n?$")
  local ok, report = pcall(json.decode, last)
  assert(ok and type(report) == "table", "node " .. args .. " printed: " .. out)
  return report
end

function M.node(...) return M.node_script(SCRIPT, ...) end

--- The operations of api_operations.mjs against a server on `store`.
function M.more(store_arg)
  local marker = os.tmpname()
  os.remove(marker)
  local p = serve.start("--store " .. store_arg .. " --handlers spec/server/sdk/handlers.lua")
  local pipe = assert(io.popen("env -u LD_PRELOAD node spec/server/sdk/api_operations.mjs " .. p.port .. " "
    .. marker .. " 2>&1"))
  local out = pipe:read("a")
  pipe:close()
  local _, code = p:stop("TERM")
  os.remove(marker)
  local ok, report = pcall(json.decode, out:match("([^\n]*)\n?$"))
  assert(ok and type(report) == "table", "node printed: " .. out)
  assert.same({}, report.failures)
  assert.is_true(report.checks >= 35)
  assert.equal(0, code)
end

return M
