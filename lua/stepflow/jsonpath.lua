--- JSONPath (the Jayway dialect AWS Step Functions uses), compiled once in C
-- and evaluated directly on Lua tables. See docs/INTERNALS.md.
--
--     local p = assert(jsonpath.compile("$.a.b[0]"))
--     p:get(root)      -- value, or nil; an array for indefinite paths
--     p:is_definite(), p:keys(), p:text()
local core = require("stepflow.core.json")

local M = {}

local path_compile = core.path_compile

--- Compiles a `$`-rooted JSONPath.
-- @tparam string text the path
-- @return a Path, or nil and a message naming the position and what was
--   expected, e.g. "invalid JSONPath '$.a[': expected ']' at character 5"
function M.compile(text)
  if type(text) ~= "string" then
    error("stepflow.jsonpath.compile: text must be a string", 2)
  end
  return path_compile(text)
end

return M
