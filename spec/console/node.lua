--- Runs an ES module under Node.js for the specs of the console's
-- scripts: `imports` (name -> file of lua/stepflow/server/console) and a
-- body that prints one JSON value; returns the value.
local json = require("stepflow.json")

local M = {}

function M.run(imports, body)
  local here = io.popen("pwd"):read("l")
  local lines = {}
  for file, names in pairs(imports) do
    lines[#lines + 1] = "import { " .. names .. " } from '" .. here .. "/lua/stepflow/server/console/" .. file .. "';"
  end
  local base = os.tmpname()
  local path = base .. ".mjs"
  local f = assert(io.open(path, "w"))
  f:write(table.concat(lines, "\n"), "\n", body)
  f:close()
  -- without the sanitizers' LD_PRELOAD (make sanitize), as the SDK spec
  local p = assert(io.popen("env -u LD_PRELOAD node --no-warnings " .. path .. " 2>&1"))
  local out = p:read("a")
  p:close()
  os.remove(path)
  os.remove(base)
  local ok, v = pcall(json.decode, out)
  assert(ok, out)
  return v
end

return M
