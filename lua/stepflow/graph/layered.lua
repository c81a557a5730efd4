--- A layered (top-down) drawing of one directed graph of boxes, in the
-- manner of Sugiyama et al.: cycles broken by a depth-first walk (back
-- edges reversed), ranks by longest path, long edges split by dummy
-- vertices, crossings reduced (stepflow.graph.order), x coordinates as
-- straight as each layer's order and spacing allow (stepflow.graph.place),
-- y by rank, edges routed between the boxes' borders
-- (stepflow.graph.route).
--
-- Ranks are doubled, as dagre does: boxes sit on even ranks and every edge
-- crosses at least one odd rank, where its label (a vertex of the label's
-- size) is placed, so labels never overlap boxes or each other.
--
-- Input: `g.nodes[i] = {w, h, self_loop_w}`, `g.edges[k] = {from, to,
-- label = {w, h} | nil}` (indices), `g.entry` (where the walk starts),
-- `g.last` (a node put on the last rank: the End marker). Output
-- (centres; y grows downwards): {width, height, nodes = {{x, y}},
-- edges = {{points, tangents, label = {x, y}, back}}}.
local order = require("stepflow.graph.order")
local place = require("stepflow.graph.place")
local route = require("stepflow.graph.route")

local M = {}

local RANK_GAP = 18      -- between consecutive (doubled) ranks
local MAX_BEND_GAP = 48  -- the most a rank gap grows for edges that bend

---------------------------------------------------------------- ranks

-- Marks back edges with a depth-first walk from `entry`, then from every
-- node not yet seen (in index order).
local function find_back_edges(n, out, entry)
  local state = {}   -- nil: new, 1: on the walk's path, 2: done
  local back = {}
  local function walk(root)
    local stack = { { root, 1 } }
    state[root] = 1
    while #stack > 0 do
      local top = stack[#stack]
      local v, i = top[1], top[2]
      local list = out[v]
      if i > #list then
        state[v] = 2
        stack[#stack] = nil
      else
        top[2] = i + 1
        local e = list[i]
        local w = e.to
        if state[w] == 1 then
          back[e.index] = true
        elseif state[w] == nil then
          state[w] = 1
          stack[#stack + 1] = { w, 1 }
        end
      end
    end
  end
  if entry then walk(entry) end
  for v = 1, n do
    if state[v] == nil then walk(v) end
  end
  return back
end

-- Longest-path ranks of the acyclic graph `dag` (pairs a -> b).
local function longest_path(n, dag)
  local indeg, succ = {}, {}
  for v = 1, n do indeg[v], succ[v] = 0, {} end
  for _, e in ipairs(dag) do
    indeg[e[2]] = indeg[e[2]] + 1
    local s = succ[e[1]]
    s[#s + 1] = e[2]
  end
  local rank, queue, head = {}, {}, 1
  for v = 1, n do
    rank[v] = 0
    if indeg[v] == 0 then queue[#queue + 1] = v end
  end
  while head <= #queue do
    local v = queue[head]
    head = head + 1
    for _, w in ipairs(succ[v]) do
      if rank[v] + 1 > rank[w] then rank[w] = rank[v] + 1 end
      indeg[w] = indeg[w] - 1
      if indeg[w] == 0 then queue[#queue + 1] = w end
    end
  end
  return rank
end

---------------------------------------------------------------- the layout

-- Builds the doubled-rank vertex graph: real vertices 1..n, then dummies.
local function build_vertices(g, rank, back)
  local verts, segs, chains = {}, {}, {}
  for i, node in ipairs(g.nodes) do
    verts[i] = { kind = "box", w = node.w, h = node.h, rank = 2 * rank[i], node = i,
      right = node.self_loop_w }
  end
  local back_chains = {}
  for k, e in ipairs(g.edges) do
    if e.from ~= e.to then
      local is_back = back[k]
      local a, b = e.from, e.to
      if is_back then a, b = b, a end
      local chain = { a }
      local ra, rb = verts[a].rank, verts[b].rank
      -- the label sits next to the edge's own source
      local label_rank = is_back and rb - 1 or ra + 1
      for r = ra + 1, rb - 1 do
        local v = { kind = "dummy", w = 0, h = 0, rank = r, edge = k, back = is_back }
        if e.label and r == label_rank then
          v.kind, v.w, v.h = "label", e.label.w, e.label.h
        end
        verts[#verts + 1] = v
        chain[#chain + 1] = #verts
      end
      chain[#chain + 1] = b
      for i = 1, #chain - 1 do
        local seg = { upper = chain[i], lower = chain[i + 1], off = 0, weight = e.weight or 1 }
        -- a label stands above where its edge goes, not where it leaves
        if verts[chain[i]].kind == "label" then seg.weight = seg.weight * 1.5 end
        if is_back then
          -- a back edge pulls its boxes little (it must not bend the
          -- flow), and its column hard (it reads best straight)
          seg.weight = (i == 1 or i == #chain - 1) and 0.1 or 2
          seg.back_end = i == 1 or i == #chain - 1
        end
        if is_back then
          -- the column of a back edge runs beside its two boxes (which
          -- side: see lean_back_edges)
          if i == 1 then seg.reach = verts[a].w / 2 + place.BACK_OFFSET end
          if i == #chain - 1 then seg.reach = -(verts[b].w / 2 + place.BACK_OFFSET) end
          chain.segs = chain.segs or {}
          chain.segs[#chain.segs + 1] = seg
        end
        segs[#segs + 1] = seg
      end
      chain.segs_first, chain.segs_last = segs[#segs - #chain + 2], segs[#segs]
      chains[k] = chain
      if is_back then back_chains[#back_chains + 1] = chain end
    end
  end
  return verts, segs, chains, back_chains
end

-- Sets the side (`lean`, -1 left, 1 right) of each back edge's column:
-- the ordering nudge of its dummies and the offsets of its ends.
local function apply_leans(back_chains)
  local bias = {}
  for _, chain in ipairs(back_chains) do
    local lean = chain.lean
    for i = 2, #chain - 1 do bias[chain[i]] = 0.5 * lean end
    for _, seg in ipairs(chain.segs) do
      seg.off = seg.reach and lean * seg.reach or 0
    end
  end
  return bias
end

-- Chooses the side of each back edge's column so that loops go round the
-- drawing rather than through it: first the side of its layers with
-- fewer vertices beside it (after an ordering without nudges), then each
-- column tried on the other side, kept there when that crosses fewer
-- edges. Orders the layers accordingly.
local MAX_LEAN_TRIES = 8
local function lean_back_edges(back_chains, layers, verts, up, down)
  local pos = {}
  for r = 0, #layers do
    for i, v in ipairs(layers[r]) do pos[v] = i end
  end
  for _, chain in ipairs(back_chains) do
    local left, right = 0, 0
    for i = 2, #chain - 1 do
      local d = chain[i]
      left = left + pos[d] - 1
      right = right + #layers[verts[d].rank] - pos[d]
    end
    chain.lean = left < right and -1 or 1
  end
  local start = order.copy_layers(layers)
  local best = order.reduce(layers, up, down, apply_leans(back_chains))
  if best == 0 then return end
  for i = 1, math.min(#back_chains, MAX_LEAN_TRIES) do
    local chain = back_chains[i]
    chain.lean = -chain.lean
    local trial = order.copy_layers(start)
    local c = order.reduce(trial, up, down, apply_leans(back_chains))
    if c < best then
      best = c
      for r = 0, #layers do layers[r] = trial[r] end
    else
      chain.lean = -chain.lean
    end
    if best == 0 then break end
  end
  apply_leans(back_chains)
end

-- Initial order of each layer: the order a depth-first walk down the
-- vertex graph from the entry meets the vertices, then the rest.
local function initial_layers(verts, down, entry, max_rank)
  local layers = {}
  for r = 0, max_rank do layers[r] = {} end
  local seen = {}
  local function walk(root)
    local stack = { root }
    while #stack > 0 do
      local v = table.remove(stack)
      if not seen[v] then
        seen[v] = true
        local l = layers[verts[v].rank]
        l[#l + 1] = v
        local d = down[v]
        for i = #d, 1, -1 do stack[#stack + 1] = d[i] end
      end
    end
  end
  if entry then walk(entry) end
  for v = 1, #verts do
    if not seen[v] and verts[v].kind == "box" then walk(v) end
  end
  for v = 1, #verts do
    if not seen[v] then walk(v) end
  end
  return layers
end

--- Lays out `g` (see the module comment). Deterministic: the result
-- depends only on the order of g.nodes and g.edges.
function M.layout(g)
  local n = #g.nodes
  local out = {}
  for v = 1, n do out[v] = {} end
  for k, e in ipairs(g.edges) do
    local list = out[e.from]
    list[#list + 1] = { to = e.to, index = k }
  end
  local back = find_back_edges(n, out, g.entry)
  local dag = {}
  for k, e in ipairs(g.edges) do
    if e.from ~= e.to then
      dag[#dag + 1] = back[k] and { e.to, e.from } or { e.from, e.to }
    end
  end
  local rank = longest_path(n, dag)
  if g.last then
    local max = 0
    for v = 1, n do
      if v ~= g.last and rank[v] > max then max = rank[v] end
    end
    if rank[g.last] <= max then rank[g.last] = max + 1 end
  end
  local verts, segs, chains, back_chains = build_vertices(g, rank, back)
  local up, down = {}, {}
  local max_rank = 0
  for v, vert in ipairs(verts) do
    up[v], down[v] = {}, {}
    if vert.rank > max_rank then max_rank = vert.rank end
  end
  for _, s in ipairs(segs) do
    local d, u = down[s.upper], up[s.lower]
    d[#d + 1] = s.lower
    u[#u + 1] = s.upper
  end
  local layers = initial_layers(verts, down, g.entry, max_rank)
  order.reduce(layers, up, down)
  if #back_chains > 0 then lean_back_edges(back_chains, layers, verts, up, down) end
  local long = {}
  for k = 1, #g.edges do
    if chains[k] then long[#long + 1] = chains[k] end
  end
  local x = place.place(layers, verts, segs, long, back_chains)

  -- y: each rank as tall as its tallest vertex, centred; edges that run
  -- far sideways between two ranks get more room to bend
  local spread_x = {}
  for r = 0, max_rank do spread_x[r] = 0 end
  for _, sg in ipairs(segs) do
    local r = verts[sg.upper].rank
    -- a back edge's ends run sideways into their boxes anyway
    local d = sg.back_end and 0 or math.abs(x[sg.upper] - x[sg.lower])
    if d > spread_x[r] then spread_x[r] = d end
  end
  local top, height = {}, {}
  local y = 0
  local gap = RANK_GAP
  for r = 0, max_rank do
    local h = 0
    for _, v in ipairs(layers[r]) do
      if verts[v].h > h then h = verts[v].h end
    end
    top[r], height[r] = y, h
    gap = math.max(RANK_GAP, math.min(MAX_BEND_GAP, spread_x[r] * 0.15))
    y = y + h + gap
  end
  local total_h = y - gap
  local minx, maxx = math.huge, -math.huge
  for v, vert in ipairs(verts) do
    local l, rgt = x[v] - vert.w / 2, x[v] + vert.w / 2 + (vert.right or 0)
    if l < minx then minx = l end
    if rgt > maxx then maxx = rgt end
  end
  if n == 0 then minx, maxx, total_h = 0, 0, 0 end
  local function cx(v) return x[v] - minx end
  local function cy(v) return top[verts[v].rank] + height[verts[v].rank] / 2 end

  local result = { width = maxx - minx, height = total_h, nodes = {}, edges = {} }
  for i = 1, n do result.nodes[i] = { x = cx(i), y = cy(i) } end
  for k, e in ipairs(g.edges) do
    local chain = chains[k]
    local r = { back = back[k] or false, self = e.from == e.to, mids = {} }
    if chain then
      local list = {}
      for i = 2, #chain - 1 do list[#list + 1] = chain[i] end
      if r.back then
        -- drawn from its own source (the lower box) up to its target
        local rev = {}
        for i = #list, 1, -1 do rev[#rev + 1] = list[i] end
        list = rev
      end
      for _, v in ipairs(list) do
        r.mids[#r.mids + 1] = { cx(v), cy(v) }
        if verts[v].kind == "label" then r.label = { x = cx(v), y = cy(v) } end
      end
    end
    result.edges[k] = r
  end
  route.route(g, result)
  return result
end

return M
