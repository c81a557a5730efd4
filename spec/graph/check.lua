--- The layout invariants the graph specs check, written apart from the
-- layout code: what a reader of the picture relies on. Each function
-- returns a list of problems (empty when the layout is right).
local M = {}

local TOL = 0.51  -- coordinates are drawn rounded to a tenth of a pixel

local function overlap(a, b)
  return a.x < b.x + b.w - TOL and b.x < a.x + a.w - TOL and a.y < b.y + b.h - TOL and b.y < a.y + a.h - TOL
end

local function inside(a, c)
  return a.x >= c.x - TOL and a.y >= c.y - TOL and a.x + a.w <= c.x + c.w + TOL
    and a.y + a.h <= c.y + c.h + TOL
end

local function on_border(p, b)
  local x, y = p[1], p[2]
  local in_x = x >= b.x - TOL and x <= b.x + b.w + TOL
  local in_y = y >= b.y - TOL and y <= b.y + b.h + TOL
  local on_v = math.abs(x - b.x) <= TOL or math.abs(x - (b.x + b.w)) <= TOL
  local on_h = math.abs(y - b.y) <= TOL or math.abs(y - (b.y + b.h)) <= TOL
  return (on_v and in_y) or (on_h and in_x)
end

local function ancestors(boxes_by_id, b)
  local set = {}
  local p = b.parent
  while p do
    set[p] = true
    p = boxes_by_id[p] and boxes_by_id[p].parent
  end
  return set
end

--- Geometry: sizes, no overlapping boxes (a box lies inside the boxes
-- that hold it and overlaps no other), edges from border to border,
-- labels clear of boxes and of each other.
function M.geometry(layout)
  local problems = {}
  local function bad(msg) problems[#problems + 1] = msg end
  local by_id = {}
  for _, b in ipairs(layout.boxes) do
    if by_id[b.id] then bad("box id twice: " .. b.id) end
    by_id[b.id] = b
    if not (b.w > 0 and b.h > 0) then bad("box without size: " .. b.id) end
    if b.x < -TOL or b.y < -TOL or b.x + b.w > layout.width + TOL or b.y + b.h > layout.height + TOL then
      bad("box outside the drawing: " .. b.id)
    end
  end
  local anc = {}
  for _, b in ipairs(layout.boxes) do
    anc[b] = ancestors(by_id, b)
    if b.parent then
      local p = by_id[b.parent]
      if not p then bad(b.id .. ": unknown parent " .. b.parent)
      elseif not inside(b, p) then bad(b.id .. " is not inside " .. p.id) end
    end
  end
  for i, a in ipairs(layout.boxes) do
    for j = i + 1, #layout.boxes do
      local b = layout.boxes[j]
      if not anc[a][b.id] and not anc[b][a.id] and overlap(a, b) then
        bad("boxes overlap: " .. a.id .. " and " .. b.id)
      end
    end
  end
  for _, e in ipairs(layout.edges) do
    local from, to = by_id[e.from], by_id[e.to]
    local name = e.from .. " -> " .. e.to
    if not from or not to then
      bad("edge between unknown boxes: " .. name)
    else
      local p1, p2 = e.points[1], e.points[#e.points]
      if not on_border(p1, from) then bad("edge does not start on its box's border: " .. name) end
      if not on_border(p2, to) then bad("edge does not end on its box's border: " .. name) end
      local c = e.curves
      if c[1][1] ~= p1[1] or c[1][2] ~= p1[2] or c[#c][7] ~= p2[1] or c[#c][8] ~= p2[2] then
        bad("edge curves do not join its end points: " .. name)
      end
    end
    if e.label then
      local l = e.label
      local held = from and ancestors(by_id, from) or {}
      for _, b in ipairs(layout.boxes) do
        if not held[b.id] and overlap(l, b) then bad("label of " .. name .. " overlaps box " .. b.id) end
      end
    end
  end
  for i, a in ipairs(layout.edges) do
    for j = i + 1, #layout.edges do
      local b = layout.edges[j]
      if a.label and b.label and overlap(a.label, b.label) then
        bad("labels overlap: " .. a.from .. " -> " .. a.to .. " and " .. b.from .. " -> " .. b.to)
      end
    end
  end
  return problems
end

-- Every state of a definition (all levels), and every transition as
-- "from -> to (kind)", read from the definition itself.
local function expected(def)
  local states, edges = {}, {}
  local function walk(program, top)
    if top then edges[#edges + 1] = "__start -> " .. program.StartAt .. " (start)" end
    for name, st in pairs(program.States) do
      states[#states + 1] = name
      if st.Type == "Choice" then
        for _, r in ipairs(st.Choices) do edges[#edges + 1] = name .. " -> " .. r.Next .. " (choice)" end
        if st.Default then edges[#edges + 1] = name .. " -> " .. st.Default .. " (default)" end
      elseif st.Next then
        edges[#edges + 1] = name .. " -> " .. st.Next .. " (next)"
      end
      for _, c in ipairs(st.Catch or {}) do edges[#edges + 1] = name .. " -> " .. c.Next .. " (catch)" end
      if top and (st.End or st.Type == "Succeed" or st.Type == "Fail") then
        edges[#edges + 1] = name .. " -> __end (end)"
      end
      for _, b in ipairs(st.Branches or {}) do walk(b, false) end
      local proc = st.ItemProcessor or st.Iterator
      if proc then walk(proc, false) end
    end
  end
  walk(def, true)
  table.sort(states)
  table.sort(edges)
  return states, edges
end

--- Completeness: every state drawn once as a box, Start and End once,
-- and exactly the edges the definition has (Next, Default, each Choice
-- rule, each Catch, Start and End).
function M.complete(layout, def)
  local problems = {}
  local want_states, want_edges = expected(def)
  local got_states, markers = {}, {}
  for _, b in ipairs(layout.boxes) do
    if b.kind == "state" then got_states[#got_states + 1] = b.name
    elseif b.kind == "start" or b.kind == "end" then markers[#markers + 1] = b.kind end
  end
  table.sort(got_states)
  table.sort(markers)
  local function same(a, b) return table.concat(a, "\n") == table.concat(b, "\n") end
  if not same(got_states, want_states) then
    problems[#problems + 1] = "states drawn: " .. table.concat(got_states, ", ") ..
      "; in the definition: " .. table.concat(want_states, ", ")
  end
  if not same(markers, { "end", "start" }) then
    problems[#problems + 1] = "markers: " .. table.concat(markers, ", ")
  end
  local got_edges = {}
  for _, e in ipairs(layout.edges) do got_edges[#got_edges + 1] = e.from .. " -> " .. e.to .. " (" .. e.kind .. ")" end
  table.sort(got_edges)
  if not same(got_edges, want_edges) then
    problems[#problems + 1] = "edges drawn:\n  " .. table.concat(got_edges, "\n  ") ..
      "\nin the definition:\n  " .. table.concat(want_edges, "\n  ")
  end
  return problems
end

return M
