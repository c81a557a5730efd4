--- The graph of a state machine, before layout: scopes (the top level, each
-- Parallel branch, each Map item processor) of nodes and edges, built from
-- a decoded definition. Everything is in a fixed order (states in the
-- order a walk from StartAt meets them), so that the same definition
-- always gives the same graph.
local rules = require("stepflow.graph.rules")

local M = {}

local function is_object(v) return type(v) == "table" end

-- The states of a program in walk order: depth first from StartAt along
-- the edges in their own order, then those no walk reaches, by name.
local function state_order(program, targets_of)
  local states = program.States
  local order, seen = {}, {}
  local function visit(name)
    -- an explicit stack: a chain of thousands of states must not
    -- overflow the C stack
    local stack = { name }
    while #stack > 0 do
      local n = table.remove(stack)
      if not seen[n] and states[n] ~= nil then
        seen[n] = true
        order[#order + 1] = n
        local targets = targets_of(states[n])
        for i = #targets, 1, -1 do stack[#stack + 1] = targets[i] end
      end
    end
  end
  if type(program.StartAt) == "string" then visit(program.StartAt) end
  local rest = {}
  for name in pairs(states) do
    if not seen[name] then rest[#rest + 1] = name end
  end
  table.sort(rest)
  for _, name in ipairs(rest) do visit(name) end
  return order
end

-- The outgoing transitions of a state, in the order they are drawn:
-- {kind, target, label, title}.
local function transitions(st)
  local out = {}
  if st.Type == "Choice" then
    for i, rule in ipairs(is_object(st.Choices) and st.Choices or {}) do
      if is_object(rule) and type(rule.Next) == "string" then
        local label = rules.rule(rule)
        out[#out + 1] = { kind = "choice", target = rule.Next, label = label, index = i }
      end
    end
    if type(st.Default) == "string" then
      out[#out + 1] = { kind = "default", target = st.Default, label = "Default" }
    end
  elseif type(st.Next) == "string" then
    out[#out + 1] = { kind = "next", target = st.Next }
  end
  for i, c in ipairs(is_object(st.Catch) and st.Catch or {}) do
    if is_object(c) and type(c.Next) == "string" then
      local errs = rules.errors({ c })
      out[#out + 1] = { kind = "catch", target = c.Next, label = errs, index = i }
    end
  end
  return out
end

local function targets_of(st)
  local t = {}
  if not is_object(st) then return t end
  for i, tr in ipairs(transitions(st)) do t[i] = tr.target end
  return t
end

local function terminal(st)
  return st.End == true or st.Type == "Succeed" or st.Type == "Fail"
end

local build_scope

-- A node for one state; Parallel and Map nodes get their inner scopes.
local function state_node(g, name, st, where)
  local node = { id = name, name = name, kind = "state", type = tostring(st.Type),
    summary = rules.summary(st), def = st }
  if is_object(st.Retry) and #st.Retry > 0 then
    node.retry = rules.errors(st.Retry)
  end
  if st.Type == "Parallel" then
    node.children, node.child_kind = {}, "branches"
    for i, b in ipairs(is_object(st.Branches) and st.Branches or {}) do
      local scope, err = build_scope(g, b, where .. ".Branches[" .. (i - 1) .. "]", false)
      if not scope then return nil, err end
      scope.label = "Branch " .. i
      node.children[i] = scope
    end
  elseif st.Type == "Map" then
    local proc = st.ItemProcessor or st.Iterator
    if is_object(proc) then
      local scope, err = build_scope(g, proc, where .. (st.ItemProcessor and ".ItemProcessor" or ".Iterator"), false)
      if not scope then return nil, err end
      node.children, node.child_kind = { scope }, "processor"
    end
  end
  return node
end

-- Builds the scope of one program. `markers`: the top level has Start and
-- End markers, inner programs do not.
function build_scope(g, program, where, markers)
  if not is_object(program) or not is_object(program.States) then
    return nil, "definition: " .. where .. ": States must be an object"
  end
  local scope = { nodes = {}, edges = {}, markers = markers }
  local by_name = {}
  local start, finish
  if markers then
    start = { id = "__start", kind = "start", name = "Start" }
    scope.nodes[1] = start
  end
  for _, name in ipairs(state_order(program, targets_of)) do
    local st = program.States[name]
    if not is_object(st) then
      return nil, "definition: " .. where .. ".States." .. name .. ": must be an object"
    end
    if g.names[name] then
      return nil, "definition: " .. where .. ".States." .. name .. ": the state name is used twice"
    end
    local node, err = state_node(g, name, st, where .. ".States." .. name)
    if not node then return nil, err end
    g.names[name] = node
    by_name[name] = node
    node.scope = scope
    scope.nodes[#scope.nodes + 1] = node
  end
  if markers then
    finish = { id = "__end", kind = "end", name = "End" }
    scope.nodes[#scope.nodes + 1] = finish
  end
  local function add(from, to, tr)
    scope.edges[#scope.edges + 1] = { from = from, to = to, kind = tr.kind, label = tr.label }
  end
  if start then
    local first = by_name[program.StartAt]
    if not first then
      return nil, "definition: " .. where .. ".StartAt: no state named '" .. tostring(program.StartAt) .. "'"
    end
    add(start, first, { kind = "start" })
  end
  for _, node in ipairs(scope.nodes) do
    if node.kind == "state" then
      for _, tr in ipairs(transitions(node.def)) do
        local to = by_name[tr.target]
        if not to then
          return nil, "definition: " .. where .. ".States." .. node.name .. ": no state named '" ..
            tr.target .. "' in this scope"
        end
        add(node, to, tr)
      end
      if finish and terminal(node.def) then add(node, finish, { kind = "end" }) end
    end
  end
  return scope
end

--- The graph of a decoded definition: {root = scope, names = name ->
-- node}. A scope is {nodes, edges, markers, label}; a node {id, name,
-- kind = "state" | "start" | "end", type, summary, retry, children
-- (scopes), child_kind = "branches" | "processor", scope}; an edge
-- {from, to, kind = "start" | "next" | "choice" | "default" | "catch" |
-- "end", label}. Returns nil, message for a definition it cannot draw
-- (check it with stepflow.asl.validate first for the full list).
function M.build(def)
  if not is_object(def) then return nil, "definition: must be a JSON object" end
  local g = { names = {} }
  local root, err = build_scope(g, def, "", true)
  if not root then return nil, (err:gsub("^definition: %.", "definition: ")) end
  g.root = root
  return g
end

return M
