--- Compiles a validated definition into programs of state objects. Every
-- path, template, rule and expression is compiled here, once; the
-- interpreter only calls the closures.
local errors = require("stepflow.errors")
local retry = require("stepflow.asl.retry")
local jsonpath_flow = require("stepflow.asl.flow_jsonpath")

local M = {}

local EVENTS = {
  Pass = { "PassStateEntered", "PassStateExited" },
  Task = { "TaskStateEntered", "TaskStateExited" },
  Choice = { "ChoiceStateEntered", "ChoiceStateExited" },
  Wait = { "WaitStateEntered", "WaitStateExited" },
  Succeed = { "SucceedStateEntered", "SucceedStateExited" },
  Fail = { "FailStateEntered", nil },
  Parallel = { "ParallelStateEntered", "ParallelStateExited", "ParallelStateFailed" },
  Map = { "MapStateEntered", "MapStateExited", "MapStateFailed" },
}

local STATE_MODULES = {
  Pass = "stepflow.states.pass", Task = "stepflow.states.task",
  Choice = "stepflow.states.choice", Wait = "stepflow.states.wait",
  Succeed = "stepflow.states.succeed", Fail = "stepflow.states.fail",
  Parallel = "stepflow.states.parallel", Map = "stepflow.states.map",
}

-- Whether a state's output can be larger than both its input and its
-- result, each already within the payload limit: a ResultPath that merges
-- the result into the input, a template that repeats what it reads, a
-- JSONata Output. Only these states pay for measuring their output.
local HAS_RESULT = { Pass = true, Task = true, Parallel = true, Map = true }

local function may_grow(def, ql)
  if ql == "JSONata" then
    if def.Output ~= nil then return true end
    for _, rule in ipairs(type(def.Choices) == "table" and def.Choices or {}) do
      if type(rule) == "table" and rule.Output ~= nil then return true end
    end
    return false
  end
  if not HAS_RESULT[def.Type] then return false end
  local rp = def.ResultPath
  if type(rp) == "string" and rp ~= "$" then return true end
  if def.Type == "Pass" then return def.Parameters ~= nil end
  return def.ResultSelector ~= nil
end

-- Makes st.finish fail the state with States.DataLimitExceeded (which
-- Retry and Catch see) when its output is over the engine's payload
-- limit, as AWS fails any state whose output is.
local function limit_output(st)
  local finish, name = st.finish, st.name
  local result_path = st.finish_result_path
  if st.finish_is_result or result_path then
    -- the output is the result, or the result put in the input by the
    -- ResultPath: without the call to finish, on every transition
    st.finish = function(frame, raw, result)
      local out = result
      if result_path then out = result_path(raw, result) end
      local limit = frame.exec.engine.payload_limit
      if limit then errors.check_size(out, limit, name) end
      return out
    end
    return
  end
  st.finish = function(frame, raw, result)
    local out = finish(frame, raw, result)
    local limit = frame.exec.engine.payload_limit
    if limit then errors.check_size(out, limit, name) end
    return out
  end
end

local function flow_for(ql)
  if ql == "JSONata" then return require("stepflow.asl.flow_jsonata") end
  return jsonpath_flow
end

local Compiler = {}
Compiler.__index = Compiler

local function fail(where, msg)
  error({ compile_error = where .. ": " .. msg }, 0)
end

--- Raises a compile error located at `where` unless `v` is non-nil.
function Compiler.check(_, v, where, err)
  if v == nil then fail(where, err or "invalid") end
  return v
end

--- Compiles one program ({StartAt, States}) at JSON pointer `where`.
function Compiler:program(def, where, ql, scope)
  local program = { states = {}, where = where, scope = scope or {} }
  local states = program.states
  for name, sdef in pairs(def.States) do
    states[name] = self:state(name, sdef, where .. "/States/" .. name, ql, program)
  end
  -- Resolve Next names to state objects once, so a transition is a field read.
  for name, st in pairs(states) do
    if st.Next then
      st.next_state = self:check(states[st.Next], where .. "/States/" .. name .. "/Next",
        "no state named '" .. tostring(st.Next) .. "'")
    end
    for _, link in ipairs(st.links or {}) do
      link.target[link.field] = self:check(states[link.name], link.where,
        "no state named '" .. tostring(link.name) .. "'")
    end
    st.links = nil
  end
  program.start = self:check(states[def.StartAt], where .. "/StartAt",
    "no state named '" .. tostring(def.StartAt) .. "'")
  return program
end

--- Compiles one state.
function Compiler:state(name, def, where, outer_ql, program)
  local ql = def.QueryLanguage or outer_ql
  local ev = EVENTS[def.Type]
  if not ev then fail(where .. "/Type", "unknown state type '" .. tostring(def.Type) .. "'") end
  local st = {
    name = name, type = def.Type, ql = ql, where = where, program = program,
    Next = def.Next, entered_type = ev[1], exited_type = ev[2], failed_type = ev[3], links = {},
  }
  local flow = flow_for(ql)
  st.flow = flow
  flow.compile_common(self, st, def, where)
  if st.finish and may_grow(def, ql) then limit_output(st) end
  if def.Retry then st.retriers = retry.compile_retriers(def.Retry) end
  if def.Catch then
    st.catchers = {}
    for i, c in ipairs(def.Catch) do
      local catcher = { ErrorEquals = c.ErrorEquals }
      flow.compile_catcher(self, st, catcher, c, where .. "/Catch/" .. (i - 1))
      st.catchers[i] = catcher
      st.links[#st.links + 1] = { target = catcher, field = "next_state", name = c.Next,
        where = where .. "/Catch/" .. (i - 1) .. "/Next" }
    end
  end
  require(STATE_MODULES[def.Type]).compile(self, st, def, where)
  return st
end

--- Makes a link from `target[field]` to the state called `name`, resolved
-- when the whole program is compiled.
function Compiler.link(_, st, target, field, name, where)
  st.links[#st.links + 1] = { target = target, field = field, name = name, where = where }
end

--- Compiles a whole definition table. Returns a machine or nil, message.
function M.compile(definition, opts)
  local c = setmetatable({ opts = opts or {} }, Compiler)
  local ok, res = pcall(function()
    local ql = definition.QueryLanguage or "JSONPath"
    local program = c:program(definition, "", ql)
    return {
      definition = definition, program = program, query_language = ql,
      timeout_seconds = definition.TimeoutSeconds,
    }
  end)
  if ok then return res end
  if type(res) == "table" and res.compile_error then return nil, res.compile_error end
  error(res, 0)
end

return M
