--- Graphviz DOT of a state machine's graph (stepflow.graph.model), for
-- `dot -Tsvg` and other Graphviz tools, which do their own layout:
-- Parallel and Map states become clusters holding their branches and
-- item processor, edges into and out of them end at the cluster's border
-- (compound=true, lhead/ltail). Colours follow the SVG renderer.
local text = require("stepflow.graph.text")

local M = {}

local FILL = {
  succeeded = { "#e9f5e6", "#1d8102" }, failed = { "#fdeceb", "#d13212" },
  caught = { "#fff4e5", "#e07700" }, running = { "#e6f2fb", "#0972d3" },
  cancelled = { "#eeeeee", "#7d8998" }, ["not-reached"] = { "#ffffff", "#aab7b8" },
}

-- A DOT string: quoted, with quotes and backslashes escaped and new lines
-- as \n (centred lines in labels).
local function q(s)
  s = text.valid_utf8(tostring(s)):gsub("[%z\1-\8\11\12\14-\31]", "\u{FFFD}")
  return '"' .. s:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\r?\n", "\\n") .. '"'
end

local EDGE_STYLE = {
  catch = ' style=dashed color="#d45b07" fontcolor="#b04a05"',
  default = ' fontname="DejaVu Sans Oblique"',
}

local function shown(s, max)
  return (text.fit(text.valid_utf8(s), max, 11, false))
end

-- The node that stands for a state in edges: a Parallel or Map state is a
-- cluster, so its edges attach to a node inside (its first state, the
-- first state of its first branch, ...) and are clipped at the border.
local function anchor(node)
  while node.children do
    local scope = node.children[1]
    local first = scope and scope.nodes[1]
    if not first then return nil end
    node = first
  end
  return node
end

-- The node an edge out of a Parallel or Map cluster starts from: a state
-- that ends its first branch (or item processor), so that Graphviz ranks
-- what follows below the cluster.
local function exit_anchor(node)
  while node.children do
    local scope = node.children[1]
    local pick = scope and scope.nodes[1]
    if not pick then return nil end
    for _, n in ipairs(scope.nodes) do
      local def = n.def
      if def and (def.End == true or def.Type == "Succeed" or def.Type == "Fail") then
        pick = n
        break
      end
    end
    node = pick
  end
  return node
end

--- The DOT text of a graph. opts: title, status (as for the SVG).
function M.render(graph, opts)
  opts = opts or {}
  local status = opts.status
  local out = {}
  local function w(s) out[#out + 1] = s end
  local clusters = 0
  local function node_attrs(node)
    local label = node.name .. "\n" .. node.summary
    if node.retry then label = label .. "\n\u{21bb} Retry: " .. node.retry end
    local a = "label=" .. q(shown(node.name, 200) .. "\n" .. shown(node.summary, 200) ..
      (node.retry and ("\n" .. shown("\u{21bb} Retry: " .. node.retry, 200)) or "")) ..
      " tooltip=" .. q(label)
    if status then
      local st = status[node.name] or "not-reached"
      a = a .. ' fillcolor="' .. FILL[st][1] .. '" color="' .. FILL[st][2] .. '"'
    end
    return a
  end
  local emit_scope
  local function emit_node(node, indent)
    if node.kind == "start" or node.kind == "end" then
      w(indent .. q(node.id) .. ' [label=' .. q(node.name) ..
        ' shape=box style="rounded,filled" fillcolor="#232f3e" fontcolor="#ffffff" color="#232f3e"];')
    elseif node.children then
      clusters = clusters + 1
      node.cluster = "cluster_" .. clusters
      w(indent .. "subgraph " .. q(node.cluster) .. " {")
      -- a cluster's attributes are statements of its body
      w(indent .. "  " .. node_attrs(node) .. ';')
      if not status then w(indent .. '  fillcolor="#f8f9fa"; color="#5f6b7a";') end
      w(indent .. '  style="rounded,filled";')
      for i, scope in ipairs(node.children) do
        if node.child_kind == "branches" then
          clusters = clusters + 1
          w(indent .. "  subgraph " .. q("cluster_" .. clusters) .. " {")
          w(indent .. '    label=' .. q(scope.label or ("Branch " .. i)) ..
            '; style="rounded,dashed"; color="#aab7b8"; fillcolor="#f8f9fa";')
          emit_scope(scope, indent .. "    ")
          w(indent .. "  }")
        else
          emit_scope(scope, indent .. "  ")
        end
      end
      w(indent .. "}")
    else
      w(indent .. q(node.id) .. " [" .. node_attrs(node) .. "];")
    end
  end
  function emit_scope(scope, indent)
    for _, node in ipairs(scope.nodes) do emit_node(node, indent) end
    for _, e in ipairs(scope.edges) do
      local from, to = exit_anchor(e.from), anchor(e.to)
      if from and to then
        local a = {}
        if e.from.cluster then a[#a + 1] = "ltail=" .. q(e.from.cluster) end
        if e.to.cluster then a[#a + 1] = "lhead=" .. q(e.to.cluster) end
        if e.label then
          local full = (e.kind == "catch" and "Catch: " or "") .. e.label
          a[#a + 1] = "label=" .. q(shown(full, 190)) .. " tooltip=" .. q(full)
        end
        w(indent .. q(from.id) .. " -> " .. q(to.id) .. " [" .. table.concat(a, " ") ..
          (EDGE_STYLE[e.kind] or "") .. "];")
      end
    end
  end
  w("digraph " .. q(opts.title or "StateMachine") .. " {")
  w('  graph [compound=true rankdir=TB nodesep=0.35 ranksep=0.45 fontname="DejaVu Sans" ' ..
    'fontsize=12 labelloc=t label=' .. q(opts.title or "") .. '];')
  w('  node [shape=box style="rounded,filled" fillcolor="#ffffff" color="#5f6b7a" ' ..
    'fontname="DejaVu Sans" fontsize=11 margin="0.2,0.06"];')
  w('  edge [color="#687078" fontname="DejaVu Sans" fontsize=10 fontcolor="#414750" arrowsize=0.7];')
  emit_scope(graph.root, "  ")
  w("}")
  return table.concat(out, "\n") .. "\n"
end

return M
