--- The layout of a state machine's graph, as data for renderers (SVG,
-- the web console): every box and edge with its coordinates, its shown
-- (shortened) texts and full texts. Parallel branches are laid out side by
-- side inside their Parallel box, a Map's item processor inside its Map
-- box, each recursively with stepflow.graph.layered.
local layered = require("stepflow.graph.layered")
local text = require("stepflow.graph.text")

local M = {}

-- Sizes in px. Texts longer than their room are cut with an ellipsis;
-- the full text is the box's title.
local FONT = { name = 13, summary = 11, retry = 10.5, label = 11, marker = 12 }
local LINE = { name = 17, summary = 15, retry = 15 }
local TEXT_MAX = 220       -- widest shown line in a box
local LABEL_MAX = 190      -- widest edge label
local BOX_MIN_W = 130
local PAD_X, PAD_Y = 14, 9
local LABEL_PAD_X, LABEL_H = 6, 18
local MARKER_H = 26
local CONTAINER_PAD = 14   -- inside a Parallel or Map box, around its content
local FRAME_PAD = 12       -- inside a branch's frame
local FRAME_GAP = 18       -- between branch frames
local SELF_LOOP_W = 34

M.FONT = FONT

-- How hard an edge pulls its ends into line: the main flow most, the
-- edges to End and of Catch least.
local WEIGHT = { start = 4, next = 4, default = 2, choice = 1, catch = 0.5, ["end"] = 0.25 }

local RETRY_MARK = "\u{21bb} "

-- The text lines of a state (name, summary, retry), each fitted.
local function state_lines(node)
  local lines = {}
  local function add(s, role, size, bold)
    s = text.valid_utf8(s)
    local shown, cut = text.fit(s, TEXT_MAX, size, bold)
    lines[#lines + 1] = { text = shown, full = s, cut = cut, role = role, size = size, bold = bold,
      w = text.width(shown, size, bold) }
  end
  add(node.name, "name", FONT.name, true)
  add(node.summary, "summary", FONT.summary, false)
  if node.retry then add(RETRY_MARK .. "Retry: " .. node.retry, "retry", FONT.retry, false) end
  return lines
end

local function lines_size(lines)
  local w, h = 0, 2 * PAD_Y
  for _, l in ipairs(lines) do
    if l.w > w then w = l.w end
    h = h + LINE[l.role]
  end
  return w + 2 * PAD_X, h
end

local function title_of(node)
  local t = { text.valid_utf8(node.name), text.valid_utf8(node.summary) }
  if node.retry then t[#t + 1] = "Retry: " .. text.valid_utf8(node.retry) end
  return table.concat(t, "\n")
end

local EDGE_PREFIX = { catch = "Catch: " }

local function edge_label(e)
  if not e.label then return nil end
  local full = text.valid_utf8((EDGE_PREFIX[e.kind] or "") .. e.label)
  local shown, cut = text.fit(full, LABEL_MAX, FONT.label, false)
  local w = text.width(shown, FONT.label, false)
  return { text = shown, full = full, cut = cut, w = w + 2 * LABEL_PAD_X, h = LABEL_H }
end

local function translate(block, dx, dy, boxes, edges)
  for _, b in ipairs(block.boxes) do
    b.x, b.y = b.x + dx, b.y + dy
    boxes[#boxes + 1] = b
  end
  for _, e in ipairs(block.edges) do
    for _, p in ipairs(e.points) do p[1], p[2] = p[1] + dx, p[2] + dy end
    for _, c in ipairs(e.curves) do
      for i = 1, 8, 2 do c[i], c[i + 1] = c[i] + dx, c[i + 1] + dy end
    end
    if e.label then e.label.x, e.label.y = e.label.x + dx, e.label.y + dy end
    edges[#edges + 1] = e
  end
end

local layout_scope

-- The size of a node, and for a container the blocks it holds.
local function measure(node)
  if node.kind ~= "state" then
    local w = text.width(node.name, FONT.marker, true) + 36
    return { w = w, h = MARKER_H }
  end
  local lines = state_lines(node)
  local w, h = lines_size(lines)
  local m = { lines = lines, w = math.max(w, BOX_MIN_W), h = h }
  if node.children then
    m.header_h = h
    local blocks = {}
    for i, scope in ipairs(node.children) do blocks[i] = layout_scope(scope) end
    m.blocks = blocks
    local inner_w, inner_h = 0, 0
    if node.child_kind == "branches" then
      for i, b in ipairs(blocks) do
        inner_w = inner_w + b.w + 2 * FRAME_PAD + (i > 1 and FRAME_GAP or 0)
        inner_h = math.max(inner_h, b.h + 2 * FRAME_PAD)
      end
    else
      for _, b in ipairs(blocks) do
        inner_w = math.max(inner_w, b.w)
        inner_h = inner_h + b.h
      end
    end
    m.inner_w = inner_w
    m.w = math.max(m.w, inner_w + 2 * CONTAINER_PAD)
    m.h = h + inner_h + CONTAINER_PAD
  end
  return m
end

-- Places a container's inner blocks inside its box (top-left x, y).
local function place_children(node, m, box, boxes, edges)
  local x0 = box.x + (box.w - m.inner_w) / 2
  local y0 = box.y + m.header_h
  if node.child_kind == "branches" then
    local inner_h = box.h - m.header_h - CONTAINER_PAD
    for i, b in ipairs(m.blocks) do
      local fw = b.w + 2 * FRAME_PAD
      boxes[#boxes + 1] = { id = box.id .. "#" .. i, kind = "branch", parent = box.id,
        name = node.children[i].label, x = x0, y = y0, w = fw, h = inner_h, lines = {} }
      translate(b, x0 + FRAME_PAD, y0 + FRAME_PAD, boxes, edges)
      for j = #boxes - #b.boxes + 1, #boxes do
        if boxes[j].parent == nil then boxes[j].parent = box.id .. "#" .. i end
      end
      x0 = x0 + fw + FRAME_GAP
    end
  else
    for _, b in ipairs(m.blocks) do
      local first = #boxes + 1
      translate(b, box.x + (box.w - b.w) / 2, y0, boxes, edges)
      for j = first, #boxes do
        if boxes[j].parent == nil then boxes[j].parent = box.id end
      end
      y0 = y0 + b.h
    end
  end
end

-- Lays out one scope: a block {w, h, boxes, edges} with (0, 0) at its
-- top-left corner.
function layout_scope(scope)
  local index, g = {}, { nodes = {}, edges = {} }
  local sizes = {}
  local incoming = {}
  for _, e in ipairs(scope.edges) do incoming[e.to] = (incoming[e.to] or 0) + 1 end
  for i, node in ipairs(scope.nodes) do
    index[node] = i
    local m = measure(node)
    if node.kind == "end" then
      -- room on its top border for every state that ends here
      m.w = math.max(m.w, ((incoming[node] or 1) - 1) * 14 / 0.6 + 12)
    end
    sizes[i] = m
    g.nodes[i] = { w = m.w, h = m.h }
    if node.kind == "end" then g.last = i end
  end
  g.entry = #scope.nodes > 0 and 1 or nil
  local labels = {}
  for k, e in ipairs(scope.edges) do
    local lab = edge_label(e)
    labels[k] = lab
    g.edges[k] = { from = index[e.from], to = index[e.to], label = lab and { w = lab.w, h = lab.h },
      weight = WEIGHT[e.kind] }
    if e.from == e.to then g.nodes[index[e.from]].self_loop_w = SELF_LOOP_W end
  end
  local placed = layered.layout(g)
  local block = { w = placed.width, h = placed.height, boxes = {}, edges = {} }
  local boxes = block.boxes
  local containers = {}
  for i, node in ipairs(scope.nodes) do
    local m, p = sizes[i], placed.nodes[i]
    local box = { id = node.id, kind = node.kind, name = text.valid_utf8(node.name), type = node.type,
      x = p.x - m.w / 2, y = p.y - m.h / 2, w = m.w, h = m.h, lines = m.lines or {
        { text = node.name, full = node.name, role = "marker", size = FONT.marker, bold = true } } }
    if node.kind == "state" then
      box.title = title_of(node)
      box.summary = text.valid_utf8(node.summary)
      box.retry = node.retry and text.valid_utf8(node.retry)
    end
    if node.children then
      box.container = node.child_kind
      box.header_h = m.header_h
      containers[#containers + 1] = { node = node, m = m, box = box }
    end
    boxes[#boxes + 1] = box
  end
  for k, e in ipairs(scope.edges) do
    local r = placed.edges[k]
    local out = { from = e.from.id, to = e.to.id, kind = e.kind, back = r.back, self = r.self,
      points = r.points, curves = r.curves }
    local lab = labels[k]
    if lab then
      local c = r.label
      if not c then
        -- a loop's label: beside the loop, right of the box
        local p = r.points[2]
        c = { x = p[1] + lab.w / 2 + 4, y = p[2] }
      end
      out.label = { text = lab.text, full = lab.full, cut = lab.cut, x = c.x - lab.w / 2,
        y = c.y - lab.h / 2, w = lab.w, h = lab.h }
    end
    block.edges[#block.edges + 1] = out
  end
  -- the self loops and their labels reach right of the laid-out width
  for _, e in ipairs(block.edges) do
    if e.self then
      local right = e.points[2][1] + 8
      if e.label then right = math.max(right, e.label.x + e.label.w) end
      if right > block.w then block.w = right end
    end
  end
  for _, c in ipairs(containers) do place_children(c.node, c.m, c.box, boxes, block.edges) end
  return block
end

--- Lays out a graph (stepflow.graph.model). Returns {width, height,
-- boxes, edges}: boxes {id, kind = "state" | "start" | "end" | "branch",
-- name, type, x, y, w, h (top-left corner and size), lines = {{text,
-- full, cut, role, size, bold}}, title, summary, retry, container =
-- "branches" | "processor" | nil, header_h, parent (id of the box it lies
-- in)}, containers before what they hold; edges {from, to (box ids),
-- kind, back, self, points, curves (cubic pieces {x0, y0, c1x, c1y, c2x,
-- c2y, x1, y1}), label = {text, full, cut, x, y, w, h} | nil}.
function M.layout(graph)
  local block = layout_scope(graph.root)
  return { width = block.w, height = block.h, boxes = block.boxes, edges = block.edges }
end

return M
