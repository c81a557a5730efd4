--- Scope checks of the definition validator: a state machine, a Parallel
-- branch or a Map ItemProcessor/Iterator is a scope with StartAt and
-- States. Checks its fields, state names (unique in the whole machine, at
-- most 80 characters), transitions (Next, Default, Choices, Catch name a
-- state of the same scope) and reachability from StartAt.
local util = require("stepflow.asl.validate.util")
local states = require("stepflow.asl.validate.states")
local fields = require("stepflow.asl.validate.fields")

local M = {}

local join, show = util.join, util.show

local MAX_NAME = 80

local SCOPE_FIELDS = {
  machine = { "Comment", "QueryLanguage", "StartAt", "States", "TimeoutSeconds", "Version" },
  branch = { "Comment", "StartAt", "States" },
  iterator = { "Comment", "ProcessorConfig", "StartAt", "States" },
  processor = { "Comment", "ProcessorConfig", "StartAt", "States" },
}

local SCOPE_WHAT = {
  machine = "the state machine",
  branch = "a Parallel branch",
  iterator = "a Map Iterator",
  processor = "a Map ItemProcessor",
}

-- The transitions of one state: list of { pointer, target name }.
local function transitions(path, state)
  local out = {}
  if type(state) ~= "table" then return out end
  local function add(p, v)
    if type(v) == "string" and v ~= "" then out[#out + 1] = { p, v } end
  end
  if fields.allows(state.Type, "Next") then add(join(path, "Next"), state.Next) end
  if state.Type == "Choice" then add(join(path, "Default"), state.Default) end
  if state.Type == "Choice" and util.is_array(state.Choices) then
    for i0, rule in util.elements(state.Choices) do
      if type(rule) == "table" then add(join(join(join(path, "Choices"), i0), "Next"), rule.Next) end
    end
  end
  if fields.allows(state.Type, "Catch") and util.is_array(state.Catch) then
    for i0, c in util.elements(state.Catch) do
      if type(c) == "table" then add(join(join(join(path, "Catch"), i0), "Next"), c.Next) end
    end
  end
  return out
end

local function state_list(names)
  return "states here: " .. (#names > 0 and util.list(names) or "none")
end

local function is_terminal(state)
  if type(state) ~= "table" then return false end
  return state.Type == "Succeed" or state.Type == "Fail" or state.End == true
end

--- Checks one scope. kind: "machine", "branch", "iterator" or "processor".
function M.check(ctx, path, scope, kind)
  local what = SCOPE_WHAT[kind]
  if not util.is_object(scope) then
    ctx:add(path, what .. " must be an object with StartAt and States, got " .. util.type_name(scope))
    return
  end
  local allowed = {}
  for _, f in ipairs(SCOPE_FIELDS[kind]) do allowed[f] = true end
  for _, k in ipairs(util.sorted_keys(scope)) do
    if not allowed[k] then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in " .. what
        .. util.did_you_mean(k, SCOPE_FIELDS[kind]) .. "; its fields are: "
        .. table.concat(SCOPE_FIELDS[kind], ", "))
    end
  end
  local missing = {}
  if scope.States == nil then missing[#missing + 1] = "States" end
  if scope.StartAt == nil then missing[#missing + 1] = "StartAt" end
  if #missing > 0 then
    ctx:add(path, "These fields are required: [" .. table.concat(missing, ", ") .. "]")
  end
  if scope.Comment ~= nil and type(scope.Comment) ~= "string" then
    ctx:add(join(path, "Comment"), "Comment must be a string, got " .. util.type_name(scope.Comment))
  end

  local st = scope.States
  local names = {}
  if st ~= nil then
    if not util.is_object(st) then
      ctx:add(join(path, "States"), "States must be an object of state name -> state, got "
        .. util.type_name(st))
      st = nil
    elseif next(st) == nil then
      ctx:add(join(path, "States"), "States must hold at least one state")
    else
      names = util.sorted_keys(st)
    end
  end
  local states_path = join(path, "States")

  -- StartAt
  local start = scope.StartAt
  if start ~= nil then
    if type(start) ~= "string" or start == "" then
      ctx:add(join(path, "StartAt"), "StartAt must be the name of a state (a non-empty string), got "
        .. show(start))
      start = nil
    elseif st and st[start] == nil then
      ctx:add(join(path, "StartAt"), "no state named '" .. start .. "'"
        .. util.did_you_mean(start, names) .. " (" .. state_list(names) .. ")", "MISSING_TRANSITION_TARGET")
      start = nil
    end
  end

  -- Each state.
  for _, name in ipairs(names) do
    local p = join(states_path, name)
    local len = utf8.len(name) or #name
    if len > MAX_NAME then
      ctx:add(p, "the state name is " .. len .. " characters long; state names have at most "
        .. MAX_NAME, "INVALID_STATE_NAME")
    elseif len == 0 then
      ctx:add(p, "a state name must not be empty", "INVALID_STATE_NAME")
    end
    local first = ctx.names[name]
    if first then
      ctx:add(p, "Duplicate State name: '" .. name .. "' is also declared at " .. first
        .. "; state names must be unique in the whole state machine, Parallel branches and "
        .. "Map processors included", "DUPLICATE_STATE_NAME")
    else
      ctx.names[name] = p
    end
    states.check(ctx, p, st[name])
  end

  if not st then return end

  -- Transitions name states of this scope.
  for _, name in ipairs(names) do
    for _, t in ipairs(transitions(join(states_path, name), st[name])) do
      local p, target = t[1], t[2]
      if st[target] == nil then
        local elsewhere = ctx.names[target] or ctx.all_names[target]
        ctx:add(p, "no state named '" .. target .. "'" .. util.did_you_mean(target, names)
          .. " (" .. state_list(names) .. ")"
          .. (elsewhere and ("; '" .. target .. "' is in another scope (" .. elsewhere
            .. "), and a transition cannot leave its branch or Map processor") or ""),
          "MISSING_TRANSITION_TARGET")
      end
    end
  end

  -- Reachability from StartAt.
  if start then
    local seen, queue = { [start] = true }, { start }
    local i = 1
    while queue[i] do
      local name = queue[i]
      i = i + 1
      for _, t in ipairs(transitions("", st[name])) do
        local target = t[2]
        if st[target] ~= nil and not seen[target] then
          seen[target] = true
          queue[#queue + 1] = target
        end
      end
    end
    for _, name in ipairs(names) do
      if not seen[name] then
        ctx:add(join(states_path, name), "State '" .. name .. "' is not reachable from StartAt '"
          .. start .. "': add a Next, Default or Catch that leads to it, or remove it", "MISSING_TRANSITION_TARGET")
      end
    end
  end

  -- A state machine needs a way to end.
  if kind == "machine" then
    -- Only when every state is well formed and transitions somewhere: a
    -- state without Next/End is reported on its own already.
    local any, broken = false, false
    for _, name in ipairs(names) do
      local s = st[name]
      any = any or is_terminal(s)
      broken = broken or type(s) ~= "table" or not fields.allows(s.Type, "Type")
        or (fields.allows(s.Type, "Next") and type(s.Next) ~= "string" and s.End ~= true)
    end
    if not any and not broken and #names > 0 then
      ctx:add(states_path, "the state machine has no terminal state: give some state "
        .. "\"End\": true, or add a Succeed or Fail state", "MISSING_END_STATE")
    end
  end
end

--- Collects every state name of the machine (all scopes) into set, for messages.
function M.collect_names(scope, set, path)
  if type(scope) ~= "table" or type(scope.States) ~= "table" then return end
  local sp = join(path, "States")
  for name, state in pairs(scope.States) do
    if type(name) == "string" then
      set[name] = set[name] or join(sp, name)
      if type(state) == "table" then
        if util.is_array(state.Branches) then
          for i0, b in util.elements(state.Branches) do
            M.collect_names(b, set, join(join(join(sp, name), "Branches"), i0))
          end
        end
        M.collect_names(state.ItemProcessor, set, join(join(sp, name), "ItemProcessor"))
        M.collect_names(state.Iterator, set, join(join(sp, name), "Iterator"))
      end
    end
  end
end

return M
