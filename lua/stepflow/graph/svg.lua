--- SVG of a laid-out graph (stepflow.graph.layout): one self-contained
-- file (styles inside, no fonts or scripts fetched), readable on its own:
-- a title, a margin, boxes with their names, edges with their labels and,
-- for an execution, each state coloured by how it went, with a legend.
local text = require("stepflow.graph.text")

local M = {}

local MARGIN = 20
local TITLE_H = 30
local LEGEND_H = 22
local FONT_STACK = "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif"

--- The statuses a state can be drawn with, in legend order, with their
-- legend text.
M.STATUSES = {
  { "succeeded", "Succeeded" }, { "failed", "Failed" }, { "caught", "Caught error" },
  { "running", "In progress" }, { "cancelled", "Cancelled" }, { "not-reached", "Not reached" },
}

local STYLE = [[
.state rect.box { fill: #ffffff; stroke: #5f6b7a; stroke-width: 1.2; }
.state text { fill: #16191f; }
.state .summary { fill: #5f6b7a; }
.state .retry { fill: #8a4b08; }
.container rect.box { fill: #f8f9fa; }
.branch { fill: none; stroke: #aab7b8; stroke-width: 1; stroke-dasharray: 4 3; }
.marker rect { fill: #232f3e; stroke: none; }
.marker text { fill: #ffffff; font-weight: bold; }
.edge path { fill: none; stroke: #687078; stroke-width: 1.4; }
.edge.catch path { stroke: #d45b07; stroke-dasharray: 5 3; }
.label rect { fill: #ffffff; stroke: #d5dbdb; stroke-width: 1; }
.label text { fill: #414750; }
.label.catch text { fill: #b04a05; }
.label.default text { font-style: italic; }
.arrow { fill: #687078; }
.arrow-catch { fill: #d45b07; }
.title { font-weight: bold; fill: #16191f; }
.subtitle { fill: #5f6b7a; }
.legend text { fill: #414750; }
.st-succeeded rect.box, .legend .st-succeeded { fill: #e9f5e6; stroke: #1d8102; }
.st-failed rect.box, .legend .st-failed { fill: #fdeceb; stroke: #d13212; }
.st-caught rect.box, .legend .st-caught { fill: #fff4e5; stroke: #e07700; }
.st-running rect.box, .legend .st-running { fill: #e6f2fb; stroke: #0972d3; }
.st-cancelled rect.box, .legend .st-cancelled { fill: #eeeeee; stroke: #7d8998; }
.st-not-reached rect.box, .legend .st-not-reached { fill: #ffffff; stroke: #aab7b8; }
.st-succeeded rect.box, .st-failed rect.box, .st-caught rect.box, .st-running rect.box { stroke-width: 2; }
.st-not-reached text { fill: #7d8998; }
]]

-- Numbers as short, stable text: at most one decimal, no "-0".
local function num(v)
  local s = string.format("%.1f", v)
  s = s:gsub("%.0$", "")
  if s == "-0" then s = "0" end
  return s
end

-- XML text: the five special characters escaped, and the characters XML
-- 1.0 forbids (C0 controls but tab and newline) replaced.
local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
  ["\n"] = "&#10;" }
local function esc(s)
  s = text.valid_utf8(tostring(s))
  s = s:gsub("[%z\1-\8\11\12\14-\31]", "\u{FFFD}")
  return (s:gsub("[&<>\"'\n]", ESC))
end
M.escape = esc

local function class_of(kind)
  return (kind:gsub("[^%w%-]", "-"):lower())
end

local function text_el(out, x, y, size, cls, s, extra)
  out[#out + 1] = '<text x="' .. num(x) .. '" y="' .. num(y) .. '" font-size="' .. num(size) ..
    '" text-anchor="middle"' .. (cls and (' class="' .. cls .. '"') or "") .. (extra or "") .. ">" ..
    esc(s) .. "</text>"
end

-- The baselines of a box's lines, from its top.
local LINE_H = { name = 17, summary = 15, retry = 15, marker = 26 }
local function draw_lines(out, box)
  local y = box.y + (box.kind == "state" and 9 or 0)
  for _, l in ipairs(box.lines) do
    local lh = LINE_H[l.role]
    local baseline = y + (lh + l.size * 0.72) / 2
    text_el(out, box.x + box.w / 2, baseline, l.size, l.role ~= "marker" and l.role or nil, l.text,
      l.bold and ' font-weight="bold"' or nil)
    y = y + lh
  end
end

local function draw_box(out, box, status, visits)
  if box.kind == "branch" then
    out[#out + 1] = '<rect class="branch" x="' .. num(box.x) .. '" y="' .. num(box.y) .. '" width="' ..
      num(box.w) .. '" height="' .. num(box.h) .. '" rx="6"/>'
    return
  end
  if box.kind ~= "state" then
    out[#out + 1] = '<g class="marker ' .. box.kind .. '">'
    out[#out + 1] = '<rect x="' .. num(box.x) .. '" y="' .. num(box.y) .. '" width="' .. num(box.w) ..
      '" height="' .. num(box.h) .. '" rx="' .. num(box.h / 2) .. '"/>'
    draw_lines(out, box)
    out[#out + 1] = "</g>"
    return
  end
  local cls = "state type-" .. class_of(box.type or "")
  if box.container then cls = cls .. " container" end
  if status then cls = cls .. " st-" .. (status[box.name] or "not-reached") end
  out[#out + 1] = '<g class="' .. cls .. '" data-state="' .. esc(box.name) .. '">'
  local title = box.title
  if status then
    local st = status[box.name] or "not-reached"
    for _, s in ipairs(M.STATUSES) do
      if s[1] == st then title = title .. "\n" .. s[2] end
    end
    local n = visits and visits[box.name]
    if n and n > 1 then title = title .. " (entered " .. n .. " times)" end
  end
  out[#out + 1] = "<title>" .. esc(title) .. "</title>"
  out[#out + 1] = '<rect class="box" x="' .. num(box.x) .. '" y="' .. num(box.y) .. '" width="' ..
    num(box.w) .. '" height="' .. num(box.h) .. '" rx="6"/>'
  if box.container then
    out[#out + 1] = '<path class="box" d="M' .. num(box.x) .. " " .. num(box.y + box.header_h) .. "h" ..
      num(box.w) .. '" stroke="#d5dbdb" stroke-width="1"/>'
  end
  draw_lines(out, box)
  out[#out + 1] = "</g>"
end

local function path_d(e)
  local c = e.curves
  local parts = { "M" .. num(c[1][1]) .. " " .. num(c[1][2]) }
  for _, p in ipairs(c) do
    parts[#parts + 1] = "C" .. num(p[3]) .. " " .. num(p[4]) .. " " .. num(p[5]) .. " " .. num(p[6]) ..
      " " .. num(p[7]) .. " " .. num(p[8])
  end
  return table.concat(parts, " ")
end

local function draw_edge(out, e)
  local arrow = e.kind == "catch" and "url(#arrow-catch)" or "url(#arrow)"
  out[#out + 1] = '<g class="edge ' .. e.kind .. (e.back and " back" or "") .. '" data-from="' ..
    esc(e.from) .. '" data-to="' .. esc(e.to) .. '"><path d="' .. path_d(e) .. '" marker-end="' ..
    arrow .. '"/></g>'
end

local function draw_label(out, e)
  local l = e.label
  out[#out + 1] = '<g class="label ' .. e.kind .. '"><title>' .. esc(l.full) .. "</title>"
  out[#out + 1] = '<rect x="' .. num(l.x) .. '" y="' .. num(l.y) .. '" width="' .. num(l.w) ..
    '" height="' .. num(l.h) .. '" rx="4"/>'
  text_el(out, l.x + l.w / 2, l.y + l.h / 2 + 11 * 0.36, 11, nil, l.text)
  out[#out + 1] = "</g>"
end

-- The legend's rows: items wrapped to `width`.
local function legend_rows(width)
  local rows, row, x = {}, {}, 0
  for _, s in ipairs(M.STATUSES) do
    local w = 16 + text.width(s[2], 11, false) + 18
    if x + w > width and #row > 0 then
      rows[#rows + 1] = row
      row, x = {}, 0
    end
    row[#row + 1] = { s[1], s[2], x }
    x = x + w
  end
  rows[#rows + 1] = row
  return rows
end

--- The SVG text of a layout. opts (all optional):
--   title     a heading (a file or execution name)
--   subtitle  a line under it (an execution's status)
--   status    state name -> "succeeded" | "failed" | "caught" |
--             "running" | "cancelled"; states not in it are drawn
--             "not reached", and a legend is added
--   visits    state name -> times entered (said in the state's title)
function M.render(layout, opts)
  opts = opts or {}
  local status = opts.status
  local out = {}
  local head = 0
  if opts.title then head = TITLE_H + (opts.subtitle and 16 or 0) end
  local content_w = layout.width
  local width = content_w
  local rows
  if status then
    rows = legend_rows(math.max(width, 420))
    for _, row in ipairs(rows) do
      local last = row[#row]
      width = math.max(width, last[3] + 16 + text.width(last[2], 11, false))
    end
  end
  if opts.title then
    width = math.max(width, text.width(opts.title, 15, true),
      opts.subtitle and text.width(opts.subtitle, 12, false) or 0)
  end
  local legend_h = rows and (#rows * LEGEND_H + 12) or 0
  local W = math.ceil(width + 2 * MARGIN)
  local H = math.ceil(head + layout.height + legend_h + 2 * MARGIN)
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>'
  out[#out + 1] = '<svg xmlns="http://www.w3.org/2000/svg" width="' .. W .. '" height="' .. H ..
    '" viewBox="0 0 ' .. W .. " " .. H .. '" font-family="' .. FONT_STACK .. '">'
  out[#out + 1] = "<title>" .. esc(opts.title or "state machine") .. "</title>"
  out[#out + 1] = "<style>" .. STYLE .. "</style>"
  out[#out + 1] = '<defs><marker id="arrow" class="arrow" viewBox="0 0 10 10" refX="9" refY="5" ' ..
    'markerWidth="8" markerHeight="8" orient="auto"><path d="M0,1 L9,5 L0,9 z"/></marker>' ..
    '<marker id="arrow-catch" class="arrow-catch" viewBox="0 0 10 10" refX="9" refY="5" ' ..
    'markerWidth="8" markerHeight="8" orient="auto"><path d="M0,1 L9,5 L0,9 z"/></marker></defs>'
  out[#out + 1] = '<rect width="' .. W .. '" height="' .. H .. '" fill="#ffffff"/>'
  if opts.title then
    out[#out + 1] = '<text class="title" x="' .. MARGIN .. '" y="' .. (MARGIN + 15) ..
      '" font-size="15">' .. esc(opts.title) .. "</text>"
    if opts.subtitle then
      out[#out + 1] = '<text class="subtitle" x="' .. MARGIN .. '" y="' .. (MARGIN + 33) ..
        '" font-size="12">' .. esc(opts.subtitle) .. "</text>"
    end
  end
  -- the drawing is centred when the title or legend is wider
  local dx = MARGIN + (width - content_w) / 2
  out[#out + 1] = '<g transform="translate(' .. num(dx) .. "," .. num(MARGIN + head) .. ')">'
  for _, box in ipairs(layout.boxes) do draw_box(out, box, status, opts.visits) end
  for _, e in ipairs(layout.edges) do draw_edge(out, e) end
  for _, e in ipairs(layout.edges) do
    if e.label then draw_label(out, e) end
  end
  out[#out + 1] = "</g>"
  if rows then
    local y = MARGIN + head + layout.height + 12
    out[#out + 1] = '<g class="legend">'
    for _, row in ipairs(rows) do
      for _, item in ipairs(row) do
        local x = MARGIN + item[3]
        out[#out + 1] = '<rect class="st-' .. item[1] .. '" x="' .. num(x) .. '" y="' .. num(y + 3) ..
          '" width="12" height="12" rx="2" stroke-width="1.5"/>'
        out[#out + 1] = '<text x="' .. num(x + 17) .. '" y="' .. num(y + 13) .. '" font-size="11">' ..
          esc(item[2]) .. "</text>"
      end
      y = y + LEGEND_H
    end
    out[#out + 1] = "</g>"
  end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

return M
