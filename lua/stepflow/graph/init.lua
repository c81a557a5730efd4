--- stepflow.graph: the picture of a state machine. A definition becomes a
-- graph (stepflow.graph.model), the graph a layout with coordinates
-- (stepflow.graph.layout: data any renderer can draw), the layout SVG
-- (stepflow.graph.svg); DOT (stepflow.graph.dot) is written from the graph
-- for Graphviz to lay out. An execution's history gives each state a
-- status to colour it by (stepflow.graph.status).
--
--     local graph = require("stepflow.graph")
--     local svg = assert(graph.svg(stepflow.json.decode(text), { title = "order" }))
local model = require("stepflow.graph.model")
local layout = require("stepflow.graph.layout")

local M = {}

--- The graph of a decoded definition, or nil, message.
M.build = model.build

--- The layout of a decoded definition (see stepflow.graph.layout), or
-- nil, message.
function M.layout(def)
  local g, err = model.build(def)
  if not g then return nil, err end
  return layout.layout(g)
end

--- The SVG text of a decoded definition, or nil, message. opts: title,
-- subtitle, status, visits (see stepflow.graph.svg.render).
function M.svg(def, opts)
  local l, err = M.layout(def)
  if not l then return nil, err end
  return require("stepflow.graph.svg").render(l, opts)
end

--- The Graphviz DOT text of a decoded definition, or nil, message. opts:
-- title, status (as for svg).
function M.dot(def, opts)
  local g, err = model.build(def)
  if not g then return nil, err end
  return require("stepflow.graph.dot").render(g, opts)
end

return M
