--- Workflow variables: Assign evaluation, scopes and commit at state exit.
-- Assign expressions see the variables as they were when the state was
-- entered; the values are written when the state exits, all at once.
local template = require("stepflow.asl.template")

local M = {}

local pairs, setmetatable = pairs, setmetatable

--- Commits a frame's pending assignments into its own scope.
local function commit(frame)
  local pending = frame.assigned
  if pending then
    local vars = frame.vars
    for k, v in pairs(pending) do vars[k] = v end
  end
end
M.commit = commit

--- Compiles a JSONPath-mode Assign field into `fn(frame)` that evaluates
-- the template (with frame.input already set) into frame.assigned, or nil
-- when the state has no Assign.
function M.compile_jsonpath(c, st, def, where)
  if def.Assign == nil then return nil end
  local fn, err = template.compile(def.Assign, "Assign")
  c:check(fn, where .. "/Assign", err)
  st.commit_vars = commit
  return function(frame)
    local values = fn(frame)
    local pending = frame.assigned
    if not pending then pending = {}; frame.assigned = pending end
    for k, v in pairs(values) do pending[k] = v end
  end
end

--- A new scope that reads the outer scope and writes only its own names.
function M.inner_scope(outer)
  return setmetatable({}, { __index = outer, outer = outer })
end

--- Every variable visible from a scope, inner names over outer ones, in
-- one plain table `into` (for evaluators that iterate their bindings).
function M.visible(vars, into)
  local mt = getmetatable(vars)
  if mt and mt.outer then M.visible(mt.outer, into) end
  for k, v in pairs(vars) do into[k] = v end
  return into
end

return M
