--- Crossing reduction for a layered graph: the order of the vertices in
-- each layer. Barycentric sweeps (each layer sorted by the mean position
-- of its neighbours in the layer before it), the best order kept, then
-- adjacent swaps (transposition) where they remove crossings.
--
-- A layered graph here: `layers[r]` lists vertex ids of rank r (r from 0),
-- `up[v]` and `down[v]` the neighbours of v in ranks r-1 and r+1, and
-- `bias[v]` an optional nudge of v's barycenter (back edges lean right).
local M = {}

local MAX_SWEEPS = 24
local PATIENCE = 4
local MAX_TRANSPOSE = 8

-- Crossings between layer r and r+1 (positions in `pos`): edges sorted by
-- upper position, then the inversions of their lower positions, counted
-- with a Fenwick tree.
local function crossings_between(upper, down, pos, width)
  local list = {}
  for _, v in ipairs(upper) do
    local pv = pos[v]
    for _, w in ipairs(down[v]) do list[#list + 1] = pv * 65536 + pos[w] end
  end
  table.sort(list)
  local tree, count, seen = {}, 0, 0
  for i = 1, width do tree[i] = 0 end
  for _, key in ipairs(list) do
    local p = key % 65536
    -- edges seen so far whose lower end lies right of p cross this one
    local le, i = 0, p
    while i > 0 do le = le + tree[i]; i = i - (i & -i) end
    count = count + seen - le
    seen = seen + 1
    i = p
    while i <= width do tree[i] = tree[i] + 1; i = i + (i & -i) end
  end
  return count
end

local function set_positions(layer, pos)
  for i, v in ipairs(layer) do pos[v] = i end
end

local function total_crossings(layers, down, pos)
  local total = 0
  for r = 0, #layers - 1 do
    total = total + crossings_between(layers[r], down, pos, #layers[r + 1])
  end
  return total
end

-- Sorts one layer by barycenter of `nbrs` (positions in the neighbouring
-- layer); a vertex without neighbours keeps its place.
local function sort_layer(layer, nbrs, pos, bias)
  local key = {}
  for i, v in ipairs(layer) do
    local list = nbrs[v]
    if #list > 0 then
      local s = 0
      for _, w in ipairs(list) do s = s + pos[w] end
      key[v] = s / #list + (bias[v] or 0)
    else
      key[v] = i
    end
  end
  local index = {}
  for i, v in ipairs(layer) do index[v] = i end
  table.sort(layer, function(a, b)
    local ka, kb = key[a], key[b]
    if ka ~= kb then return ka < kb end
    return index[a] < index[b]
  end)
  set_positions(layer, pos)
end

--- A copy of layers (each a new list).
local function copy_layers(layers)
  local out = {}
  for r = 0, #layers do
    local l = {}
    for i, v in ipairs(layers[r]) do l[i] = v end
    out[r] = l
  end
  return out
end

-- Crossings of vertex pair (a left of b) with layer neighbours `nbrs`, in
-- the order a, b: pairs (x of a, y of b) with x above y's position.
local function pair_crossings(a, b, nbrs, pos)
  local c = 0
  for _, x in ipairs(nbrs[a]) do
    local px = pos[x]
    for _, y in ipairs(nbrs[b]) do
      if px > pos[y] then c = c + 1 end
    end
  end
  return c
end

-- Swaps neighbours in each layer while that removes crossings.
local function transpose(layers, up, down, pos)
  for _ = 1, MAX_TRANSPOSE do
    local improved = false
    for r = 0, #layers do
      local layer = layers[r]
      for i = 1, #layer - 1 do
        local a, b = layer[i], layer[i + 1]
        local now = pair_crossings(a, b, up, pos) + pair_crossings(a, b, down, pos)
        local swapped = pair_crossings(b, a, up, pos) + pair_crossings(b, a, down, pos)
        if swapped < now then
          layer[i], layer[i + 1] = b, a
          pos[a], pos[b] = i + 1, i
          improved = true
        end
      end
    end
    if not improved then return end
  end
end

--- Orders the layers in place (each `layers[r]` a list of vertex ids,
-- already in an initial order). Returns the number of crossings left.
function M.reduce(layers, up, down, bias)
  bias = bias or {}
  local pos = {}
  for r = 0, #layers do set_positions(layers[r], pos) end
  local best = total_crossings(layers, down, pos)
  local best_layers = copy_layers(layers)
  local stale = 0
  for sweep = 1, MAX_SWEEPS do
    if sweep % 2 == 1 then
      for r = 1, #layers do sort_layer(layers[r], up, pos, bias) end
    else
      for r = #layers - 1, 0, -1 do sort_layer(layers[r], down, pos, bias) end
    end
    local c = total_crossings(layers, down, pos)
    -- a tie is taken too (the sweeps' order: the nudges at work), but
    -- only an improvement resets the patience
    if c <= best then best_layers = copy_layers(layers) end
    if c < best then
      best, stale = c, 0
    else
      stale = stale + 1
      if stale >= PATIENCE then break end
    end
  end
  for r = 0, #layers do
    layers[r] = best_layers[r]
    set_positions(layers[r], pos)
  end
  if best > 0 then
    transpose(layers, up, down, pos)
    best = total_crossings(layers, down, pos)
  end
  return best
end

M.copy_layers = copy_layers

--- The number of crossings of an ordering.
M.total_crossings = function(layers, down)
  local pos = {}
  for r = 0, #layers do set_positions(layers[r], pos) end
  return total_crossings(layers, down, pos)
end

return M
