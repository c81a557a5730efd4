--- Routes of a laid-out layered graph's edges: where each leaves and
-- reaches its boxes, and the cubic curves through its dummies.
local M = {}

-- Ports on a border from lo to hi for edges whose other ends lie at
-- `want` (sorted): each as straight above or below its other end as the
-- border allows, keeping the order and `gap` apart where there is room.
local function ports(want, lo, hi, gap)
  local n = #want
  if n == 0 then return {} end
  gap = math.min(gap, n > 1 and (hi - lo) / (n - 1) or gap)
  local p = {}
  for i, w in ipairs(want) do p[i] = math.max(lo, math.min(hi, w)) end
  for i = 2, n do p[i] = math.max(p[i], p[i - 1] + gap) end
  if p[n] > hi then
    p[n] = hi
    for i = n - 1, 1, -1 do p[i] = math.min(p[i], p[i + 1] - gap) end
  end
  return p
end

-- Spreads n attachment points over a border of length `len` around `c`.
local function spread(c, j, m, len, step)
  if m <= 1 then return c end
  local d = math.min(step, len / (m - 1))
  return c + (j - (m + 1) / 2) * d
end

-- The cubic pieces of a route through `pts` leaving and reaching each
-- point in the direction `tan` gives (unit vectors): a Hermite curve per
-- piece, with control points a third of the way along the tangents.
local function curves(pts, tan)
  local out = {}
  for i = 1, #pts - 1 do
    local p, q, tp, tq = pts[i], pts[i + 1], tan[i], tan[i + 1]
    local dx, dy = math.abs(q[1] - p[1]), math.abs(q[2] - p[2])
    -- a vertical tangent reaches half the height, a horizontal one half
    -- the width: no overshoot past either end
    local kp = tp[1] == 0 and dy * 0.5 or dx * 0.5
    local kq = tq[1] == 0 and dy * 0.5 or dx * 0.5
    out[i] = { p[1], p[2], p[1] + tp[1] * kp, p[2] + tp[2] * kp,
      q[1] - tq[1] * kq, q[2] - tq[2] * kq, q[1], q[2] }
  end
  return out
end

-- Splits the edges meeting one border of a box (sorted by where their
-- other end lies) into the left side, the border and the right side: back
-- edges at either end of the list leave or reach the box by its side, so
-- that they cross nothing on the way to their column; the rest share the
-- border.
local function split_border(list, cx)
  table.sort(list, function(a, b)
    if a.x ~= b.x then return a.x < b.x end
    return a.k < b.k
  end)
  local n = #list
  local first, last = 1, n
  while first <= n and list[first].back do first = first + 1 end
  while last >= 1 and list[last].back do last = last - 1 end
  local left, mid, right = {}, {}, {}
  for i, it in ipairs(list) do
    if first > n then
      -- only back edges: each takes the side its column is on
      if it.x < cx then left[#left + 1] = it else right[#right + 1] = it end
    elseif i < first then
      left[#left + 1] = it
    elseif i > last then
      right[#right + 1] = it
    else
      mid[#mid + 1] = it
    end
  end
  return left, mid, right
end

-- Routes every edge between the borders of its boxes. A forward edge
-- leaves by the bottom border and reaches the top one; a back edge,
-- drawn from its lower box up to its upper one, leaves by the top border
-- or a side and reaches the bottom border or a side; a state's edge to
-- itself is a loop on its right.
--- Routes every edge of `g` in `result` (see stepflow.graph.layered):
-- sets each result edge's points and curves.
local function route(g, result)
  local nodes, edges = result.nodes, result.edges
  local tops, bottoms = {}, {}
  for i = 1, #g.nodes do tops[i], bottoms[i] = {}, {} end
  for k, e in ipairs(g.edges) do
    local r = edges[k]
    if not r.self then
      local first, last = r.mids[1][1], r.mids[#r.mids][1]
      if r.back then
        local t, b = tops[e.from], bottoms[e.to]
        t[#t + 1] = { k = k, x = first, back = true, at = "out" }
        b[#b + 1] = { k = k, x = last, back = true, at = "in" }
      else
        local b, t = bottoms[e.from], tops[e.to]
        b[#b + 1] = { k = k, x = first, at = "out" }
        t[#t + 1] = { k = k, x = last, at = "in" }
      end
    end
  end
  local ends = {}   -- edge -> {start point, start tangent, end point, end tangent}
  local function put(it, p, t)
    local en = ends[it.k] or {}
    ends[it.k] = en
    if it.at == "out" then en[1], en[2] = p, t else en[3], en[4] = p, t end
  end
  -- travel direction along the border: down for forward edges, up for back
  local function vertical(it) return { 0, it.back and -1 or 1 } end
  for i, node in ipairs(g.nodes) do
    local nd = nodes[i]
    local sides = { [-1] = {}, [1] = {} }
    for _, border in ipairs({ { tops[i], -1 }, { bottoms[i], 1 } }) do
      local left, mid, right = split_border(border[1], nd.x)
      local y = nd.y + border[2] * node.h / 2
      local want = {}
      for j, it in ipairs(mid) do want[j] = it.x end
      local xs = ports(want, nd.x - node.w * 0.35, nd.x + node.w * 0.35, 12)
      for j, it in ipairs(mid) do put(it, { xs[j], y }, vertical(it)) end
      for _, it in ipairs(left) do it.half = border[2]; table.insert(sides[-1], it) end
      for _, it in ipairs(right) do it.half = border[2]; table.insert(sides[1], it) end
    end
    for _, side in ipairs({ -1, 1 }) do
      local list = sides[side]
      -- edges to the rank above use the side's upper half, those to the
      -- rank below its lower half
      for _, half in ipairs({ -1, 1 }) do
        local these = {}
        for _, it in ipairs(list) do
          if it.half == half then these[#these + 1] = it end
        end
        table.sort(these, function(a, b)
          if a.x ~= b.x then return side * a.x < side * b.x end
          return a.k < b.k
        end)
        for j, it in ipairs(these) do
          local y = spread(nd.y + half * node.h / 6, j, #these, node.h / 3, 8)
          local p = { nd.x + side * node.w / 2, y }
          put(it, p, it.at == "out" and { side, 0 } or { -side, 0 })
        end
      end
    end
  end
  for k, e in ipairs(g.edges) do
    local r = edges[k]
    local pts, tan = {}, {}
    if r.self then
      local nd, node = nodes[e.from], g.nodes[e.from]
      local rx = nd.x + node.w / 2
      local dy = node.h / 4
      pts = { { rx, nd.y - dy }, { rx + (node.self_loop_w or 30) - 8, nd.y }, { rx, nd.y + dy } }
      tan = { { 1, 0 }, { 0, 1 }, { -1, 0 } }
    else
      local en = ends[k]
      local dir = r.back and -1 or 1
      pts[1], tan[1] = en[1], en[2]
      for _, m in ipairs(r.mids) do
        pts[#pts + 1] = m
        tan[#tan + 1] = { 0, dir }
      end
      pts[#pts + 1], tan[#tan + 1] = en[3], en[4]
    end
    r.points, r.curves = pts, curves(pts, tan)
  end
end

M.route = route

return M
