--- What serves a Task's Resource: a Lua handler, an integration, an
-- activity worker, or nothing (then the task fails saying what to
-- provide, and `unresolved` warns about it before anything runs).
-- Mocks come first, per execution (stepflow.integrations.patterns).
local handlers = require("stepflow.handlers")
local errors = require("stepflow.errors")
local aws_errors = require("stepflow.integrations.aws_errors")
local registry = require("stepflow.integrations.registry")

local M = {}

-- Targets that are not a handler function (one table per kind of target
-- and integration, kept by the task's cache).
local ACTIVITY = { kind = "activity" }
M.ACTIVITY = ACTIVITY

local integration_targets = setmetatable({}, { __mode = "k" })

local function integration_target(spec)
  local t = integration_targets[spec]
  if not t then
    t = { kind = "integration", spec = spec }
    integration_targets[spec] = t
  end
  return t
end

-- What to provide for a Resource nothing serves, as a sentence.
local function provide(info, resource)
  if info.kind == "service" then
    return "register an integration for '" .. info.base .. "' (engine:register_integration, or a " ..
      "table under that name in a handlers file) or a handler of that name, or mock the state"
  end
  return "register a Lua handler named '" .. (info.activity or info.function_name or info.name or resource) ..
    "' (engine:register(name, fn) or --handlers FILE), or mock the state"
end

--- Resolves a Task: returns fn, function_name for a handler; nil, nil,
-- target for an integration ({kind = "integration", spec}) or an activity
-- worker ({kind = "activity"}); or nil, error value when nothing serves
-- it. `effective` is the call's input (lambda:invoke names its function
-- there); nil when resolving ahead of a call.
function M.resolve(engine, info, resource, effective)
  local fn, name_or_err = handlers.find(engine.handlers, resource, info, effective, engine)
  if fn then return fn, name_or_err end
  local kind = info.kind
  if kind == "service" or kind == "lambda_invoke" then
    local spec = engine.integrations and engine.integrations:find(info)
    if spec then
      if not registry.serves(spec, info.pattern) then
        return nil, errors.new(errors.TaskFailed, "stepflow: the integration for '" .. info.base ..
          "' cannot run '" .. info.pattern .. "' (it has no " ..
          ((info.pattern == ".sync" or info.pattern == ".sync:2") and "start" or "call") ..
          " function)")
      end
      return nil, nil, integration_target(spec)
    end
    if kind == "lambda_invoke" then return nil, name_or_err end
    return nil, errors.new(errors.TaskFailed, "stepflow: nothing serves Resource '" .. resource ..
      "': " .. provide(info, resource))
  end
  if kind == "activity" then return nil, nil, ACTIVITY end
  if kind == "lambda" then return nil, name_or_err end
  return nil, errors.new(errors.TaskFailed, "stepflow: nothing serves Resource '" .. resource ..
    "': " .. provide(info, resource))
end

--- An ASL error value for a service error of a call's integration (see
-- aws_errors.service_error).
function M.service_error(call, opts)
  local target = call.task.cached_target
  opts.spec = target and target.spec or nil
  return aws_errors.service_error(call.task.info, call.engine, opts)
end

-- Whether a mock test case of the engine names this state (used by
-- `unresolved`: a mocked state needs nothing else).
local function mocked_everywhere(mocked_states, name)
  return mocked_states and mocked_states[name]
end

--- The Task states of a decoded definition that nothing would serve on
-- `engine`: a list of {state =, resource =, message =} (Parallel
-- branches and Map processors included, by state name). A lambda:invoke
-- whose FunctionName is computed at run time is left out (known only
-- then). `mocked_states` (optional): state names a mock test case serves.
function M.unresolved(engine, def, mocked_states)
  local out = {}
  local function walk(machine)
    local states = type(machine) == "table" and machine.States
    if type(states) ~= "table" then return end
    local names = {}
    for name in pairs(states) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local st = states[name]
      if type(st) == "table" then
        if st.Type == "Task" and type(st.Resource) == "string"
            and not mocked_everywhere(mocked_states, name) then
          local info = handlers.describe(st.Resource)
          local payload, known = nil, true
          if info.kind == "lambda_invoke" then
            local args = st.Parameters or st.Arguments
            local fname = type(args) == "table" and args.FunctionName
            known = type(fname) == "string" and not fname:find("^%s*{%%")
            payload = known and { FunctionName = fname } or nil
          end
          if known then
            local fn, err, target = M.resolve(engine, info, st.Resource, payload)
            if not fn and not target then
              local what = info.kind == "lambda_invoke" and payload and
                ("register a Lua handler named '" .. handlers.function_name(payload.FunctionName) ..
                  "' (engine:register(name, fn) or --handlers FILE), or mock the state")
                or (err and err.Cause and err.Cause:match("^stepflow: nothing serves Resource '[^']*': (.*)$"))
                or provide(info, st.Resource)
              out[#out + 1] = { state = name, resource = st.Resource, payload = payload, message = what }
            end
          end
        end
        if type(st.Branches) == "table" then
          for _, branch in ipairs(st.Branches) do walk(branch) end
        end
        walk(st.ItemProcessor)
        walk(st.Iterator)
      end
    end
  end
  walk(def)
  return out
end

return M
