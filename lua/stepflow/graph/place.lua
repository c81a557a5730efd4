--- x coordinates of a layered graph's vertices, their layers ordered: as
-- near to straight edges as the spacing of each layer allows.
--
-- The vertex graph (from stepflow.graph.layered): `verts[v] = {kind =
-- "box" | "label" | "dummy", w, rank, right (room for a loop on the
-- right), back (a back edge's dummy)}`, `layers[r]` lists ids in order,
-- `segs` are the edge pieces between adjacent ranks {upper, lower, off
-- (wanted x of lower minus x of upper), weight}.
local M = {}

--- A back edge's column keeps this far from the boxes it joins.
M.BACK_OFFSET = 22

local PASSES = 400  -- at most this many sweeps of the relaxation
local SNAP = 30     -- nearly straight: edges this far off are lined up

-- Pads around vertices, summed between neighbours of a layer.
local PAD = { box = 16, label = 6, dummy = 6 }

-- The least distance between the centres of neighbours a (left) and b.
local function sep(a, b)
  return (a.w + b.w) / 2 + PAD[a.kind] + PAD[b.kind] + (a.right or 0)
end
M.sep = sep

-- The positions of vertices in their layers.
local function positions(layers)
  local pos = {}
  for r = 0, #layers do
    for i, v in ipairs(layers[r]) do pos[v] = i end
  end
  return pos
end

-- Where v may go without coming nearer its neighbours than `sep`: lo, hi.
local function room(layers, verts, pos, x, v)
  local vert = verts[v]
  local layer = layers[vert.rank]
  local i = pos[v]
  local left, right = layer[i - 1], layer[i + 1]
  local lo = left and x[left] + sep(verts[left], vert) or -math.huge
  local hi = right and x[right] - sep(vert, verts[right]) or math.huge
  return lo, hi
end

-- Least squares under order constraints (pool adjacent violators): the
-- x of each vertex of `layer`, as near its `want` as weights `wt` allow,
-- keeping `gaps[i]` between vertex i and i + 1.
local function fit_layer(layer, want, wt, gaps, x)
  local n = #layer
  local offset = { 0 }
  for i = 2, n do offset[i] = offset[i - 1] + gaps[i - 1] end
  -- blocks of pooled vertices: first index, total weight, weighted sum
  local bfirst, bw, bs, nb = {}, {}, {}, 0
  for i = 1, n do
    local v = layer[i]
    nb = nb + 1
    bfirst[nb], bw[nb], bs[nb] = i, wt[v], wt[v] * (want[v] - offset[i])
    while nb > 1 and bs[nb - 1] / bw[nb - 1] > bs[nb] / bw[nb] do
      bw[nb - 1], bs[nb - 1] = bw[nb - 1] + bw[nb], bs[nb - 1] + bs[nb]
      nb = nb - 1
    end
  end
  for b = 1, nb do
    local last = b < nb and bfirst[b + 1] - 1 or n
    local y = bs[b] / bw[b]
    for i = bfirst[b], last do x[layer[i]] = y + offset[i] end
  end
end

-- Each layer in turn moves its vertices to the weighted mean of where
-- their neighbours want them, keeping order and spacing; each step
-- solves its layer exactly. The weights are reweighted by each edge's
-- current slant (iteratively reweighted least squares), so the sweeps
-- settle near the placement of least total slant, Graphviz's objective:
-- chains stay straight and the bends gather where edges fan out, instead
-- of being spread along every chain.
local function relax(layers, verts, segs)
  local x, gaps = {}, {}
  for r = 0, #layers do
    local layer, g = layers[r], {}
    local cur = 0
    for i, v in ipairs(layer) do
      if i > 1 then
        g[i - 1] = sep(verts[layer[i - 1]], verts[v])
        cur = cur + g[i - 1]
      end
      x[v] = cur
    end
    gaps[r] = g
  end
  local nbrs = {}
  for v = 1, #verts do nbrs[v] = {} end
  for _, sg in ipairs(segs) do
    -- straight long edges matter most: dummy-to-dummy pieces pull harder
    local both = verts[sg.upper].kind ~= "box" and verts[sg.lower].kind ~= "box"
    sg.base = sg.weight * (both and 8 or 1)
    sg.cw = sg.base
    local nu, nl = nbrs[sg.upper], nbrs[sg.lower]
    nu[#nu + 1] = { sg.lower, -sg.off, sg }
    nl[#nl + 1] = { sg.upper, sg.off, sg }
  end
  local want, wt = {}, {}
  local function step(r)
    local layer = layers[r]
    for _, v in ipairs(layer) do
      local list = nbrs[v]
      if #list == 0 then
        want[v], wt[v] = x[v], 1
      else
        local s, t = 0, 0
        for _, nb in ipairs(list) do
          local w = nb[3].cw
          s = s + w * (x[nb[1]] + nb[2])
          t = t + w
        end
        want[v], wt[v] = s / t, t
      end
    end
    fit_layer(layer, want, wt, gaps[r], x)
  end
  -- until a round of four sweeps moves nothing more than half a pixel
  -- (or at most PASSES sweeps)
  local moved = 0
  local before = {}
  for pass = 1, PASSES do
    for v = 1, #verts do before[v] = x[v] end
    if pass % 2 == 1 then
      for r = 0, #layers do step(r) end
    else
      for r = #layers, 0, -1 do step(r) end
    end
    for v = 1, #verts do
      local d = math.abs(x[v] - before[v])
      if d > moved then moved = d end
    end
    if pass % 4 == 0 then
      if moved < 0.5 then break end
      moved = 0
      for _, sg in ipairs(segs) do
        local d = math.abs(x[sg.lower] - x[sg.upper] - sg.off)
        sg.cw = sg.base / math.max(d, 2)
      end
    end
  end
  return x
end

-- Puts each long edge's dummies on one vertical line where the layers
-- leave room: the sweeps converge slowly along a long chain, and a
-- straight line is what the eye wants there. For each chain, tries the x
-- of each of its dummies and of the columns its ends want, and keeps the
-- cheapest one that no neighbour forbids.
local function straighten(chains, layers, verts, pos, x)
  for _, chain in ipairs(chains) do
    if #chain >= 4 then
      local first, last = chain.segs_first, chain.segs_last
      local cands = {}
      for i = 2, #chain - 1 do cands[#cands + 1] = x[chain[i]] end
      cands[#cands + 1] = x[chain[1]] + first.off
      cands[#cands + 1] = x[chain[#chain]] - last.off
      local best, best_cost
      for _, c in ipairs(cands) do
        local ok = true
        for i = 2, #chain - 1 do
          local lo, hi = room(layers, verts, pos, x, chain[i])
          if c < lo - 0.01 or c > hi + 0.01 then ok = false; break end
        end
        if ok then
          local cost = first.weight * math.abs(c - x[chain[1]] - first.off)
            + last.weight * math.abs(x[chain[#chain]] - c - last.off)
          if not best_cost or cost < best_cost - 1e-9 then best, best_cost = c, cost end
        end
      end
      if best then
        for i = 2, #chain - 1 do x[chain[i]] = best end
      end
    end
  end
end

-- Lines up nearly straight edges, top down: a vertex moves under its
-- strongest upper neighbour when that is a small move its layer allows.
-- The sweeps leave such edges a few pixels off, which the eye reads as a
-- kink.
local function snap(layers, verts, segs, pos, x)
  local strongest = {}
  for _, sg in ipairs(segs) do
    local cur = strongest[sg.lower]
    if not cur or sg.base > cur.base then
      strongest[sg.lower] = sg
    elseif sg.base == cur.base then
      strongest[sg.lower] = false  -- a tie: no single line to join
    end
  end
  for r = 1, #layers do
    local layer = layers[r]
    -- twice round: a move can make room for a neighbour's
    for pass = 1, 2 * #layer do
      local v = layer[(pass - 1) % #layer + 1]
      local sg = strongest[v]
      if sg then
        local c = x[sg.upper] + sg.off
        local d = c - x[v]
        if d ~= 0 and math.abs(d) <= SNAP then
          local lo, hi = room(layers, verts, pos, x, v)
          if c >= lo - 0.01 and c <= hi + 0.01 then x[v] = c end
        end
      end
    end
  end
end

-- Moves each back edge's column out, clear of both its boxes' outer
-- sides, where its layers leave room: the edge then leaves and reaches
-- its boxes sideways with room for the bend.
local function push_out(back_chains, layers, verts, pos, x)
  for _, chain in ipairs(back_chains) do
    local a, b = chain[1], chain[#chain]
    local lean = chain.lean
    local va, vb = verts[a], verts[b]
    local target
    if lean > 0 then
      target = math.max(x[a] + va.w / 2, x[b] + vb.w / 2) + M.BACK_OFFSET
    else
      target = math.min(x[a] - va.w / 2, x[b] - vb.w / 2) - M.BACK_OFFSET
    end
    for i = 2, #chain - 1 do
      local d = chain[i]
      if lean * (target - x[d]) > 0 then
        local lo, hi = room(layers, verts, pos, x, d)
        local c = math.max(lo, math.min(hi, target))
        if lean * (c - x[d]) > 0 then x[d] = c end
      end
    end
  end
end

-- Moves each label over the box its edge goes to, or as near as its
-- layer allows: a fan of Choice rules reads best with each rule standing
-- above its state.
local function labels_over_targets(layers, verts, segs, pos, x)
  local below = {}
  for _, sg in ipairs(segs) do
    local u = verts[sg.upper]
    if u.kind == "label" and not u.back and verts[sg.lower].kind == "box" then below[sg.upper] = sg.lower end
  end
  for r = 1, #layers, 2 do
    local layer = layers[r]
    for _ = 1, 2 do
      for _, v in ipairs(layer) do
        local t = below[v]
        if t and x[t] ~= x[v] then
          local lo, hi = room(layers, verts, pos, x, v)
          local c = math.max(lo, math.min(hi, x[t]))
          -- only towards the target, never past the current place
          if (c - x[v]) * (x[t] - x[v]) > 0 then x[v] = c end
        end
      end
    end
  end
end

--- The x of every vertex (centres). `chains` are the long edges' vertex
-- lists (their ends boxes) with `segs_first` and `segs_last`, the pieces
-- at their ends; `back_chains` those of back edges, with `lean` (-1 the
-- column runs left of its boxes, 1 right).
function M.place(layers, verts, segs, chains, back_chains)
  local x = relax(layers, verts, segs)
  local pos = positions(layers)
  straighten(chains, layers, verts, pos, x)
  snap(layers, verts, segs, pos, x)
  push_out(back_chains, layers, verts, pos, x)
  labels_over_targets(layers, verts, segs, pos, x)
  return x
end

return M
