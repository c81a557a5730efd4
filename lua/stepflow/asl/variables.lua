--- Workflow variables: Assign evaluation, scopes and commit at state exit.
-- Assign expressions see the variables as they were when the state was
-- entered; the values are written when the state exits, all at once.
local template = require("stepflow.asl.template")

local M = {}

local pairs, setmetatable = pairs, setmetatable

local json = require("stepflow.json")
local errors = require("stepflow.errors")

local function too_big(cause)
  error(errors.new(errors.DataLimitExceeded, cause), 0)
end

-- AWS's limits: 256 KiB per variable and per Assign, 10 MiB of variables
-- per execution. Sizes are counted per frame, and released when the
-- frame (a branch, an iteration) ends.
local function check_limits(frame, pending)
  local engine = frame.exec.engine
  local per = engine.variable_limit
  if not per then return end
  local sizes = frame.var_sizes
  if not sizes then sizes = {}; frame.var_sizes = sizes end
  local exec = frame.exec
  local total, delta = 0, 0
  for k, v in pairs(pending) do
    local n = #json.encode(v)
    if n > per then
      too_big("The value assigned to the variable '" .. k .. "' is " .. n ..
        " bytes, more than the limit of " .. per .. " bytes.")
    end
    total = total + n
    delta = delta + n - (sizes[k] or 0)
  end
  if total > per then
    too_big("The variables assigned by the state '" .. frame.state.name .. "' are " .. total ..
      " bytes together, more than the limit of " .. per .. " bytes.")
  end
  local limit = engine.variables_limit
  local used = (exec.var_bytes or 0) + delta
  if limit and used > limit then
    too_big("The execution's variables would take " .. used .. " bytes, more than the limit of " ..
      limit .. " bytes.")
  end
  exec.var_bytes = used
  for k, v in pairs(pending) do sizes[k] = #json.encode(v) end
end

--- Releases a finished frame's share of the execution's variable bytes.
function M.release(frame)
  local sizes = frame.var_sizes
  if sizes then
    local n = 0
    for _, size in pairs(sizes) do n = n + size end
    frame.exec.var_bytes = (frame.exec.var_bytes or 0) - n
  end
end

--- The empty scope every execution starts with, shared and never written:
-- an execution gets a table of its own on its first assignment.
M.NONE = setmetatable({}, { __newindex = function()
  error("stepflow: the shared empty variable scope is read-only", 2)
end })

--- The scope a frame writes to: an iteration that shares its outer scope
-- gets its own on its first assignment, and so does a top-level frame.
function M.own_scope(frame)
  local vars = frame.vars
  if vars == M.NONE then
    vars = {}
    frame.vars = vars
  elseif frame.shared_vars then
    vars = M.inner_scope(vars)
    frame.vars = vars
    frame.shared_vars = false
  end
  return vars
end

--- Commits a frame's pending assignments into its own scope.
local function commit(frame)
  local pending = frame.assigned
  if pending then
    check_limits(frame, pending)
    local vars = M.own_scope(frame)
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
  if vars == M.NONE then return into end
  for k, v in pairs(vars) do into[k] = v end
  return into
end

return M
