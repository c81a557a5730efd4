--- Text metrics for the graph: how wide a string is drawn, and how to
-- shorten it to a width. There is no font at layout time, so widths come
-- from the advance widths of DejaVu Sans (the font the SVG names first,
-- and the widest of the common sans-serif fonts: text measured with it
-- also fits in Verdana, Arial or Helvetica).
local M = {}

-- Advance widths of ASCII 32..126 in thousandths of an em, read from
-- DejaVuSans.ttf and DejaVuSans-Bold.ttf (hmtx, version 2.37).
local REGULAR = {
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
  636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
  1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
  603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
  500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
  635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
}
local BOLD = {
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365,
  696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580,
  1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
  733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500,
  500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687,
  716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
}

-- Other characters: wide scripts (CJK and beyond U+2E80) take a full em,
-- the rest about a digit's width.
local function other_width(cp)
  if cp >= 0x2E80 then return 1000 end
  return 700
end

--- The width in pixels of `s` (UTF-8) at font size `size`.
-- @tparam string s
-- @tparam number size font size in px
-- @tparam[opt] boolean bold
function M.width(s, size, bold)
  local widths = bold and BOLD or REGULAR
  local total = 0
  for _, cp in utf8.codes(s, true) do
    local w = cp >= 32 and cp <= 126 and widths[cp - 31] or other_width(cp)
    total = total + w
  end
  return total * size / 1000
end

--- `s` cut to fit `max_width` px with an ellipsis, or `s` itself when it
-- fits. Cuts between characters, never inside one.
-- @return string, boolean (true when shortened)
function M.fit(s, max_width, size, bold)
  if M.width(s, size, bold) <= max_width then return s, false end
  local widths = bold and BOLD or REGULAR
  local budget = max_width * 1000 / size - other_width(0x2026)
  local total, cut = 0, 0
  for pos, cp in utf8.codes(s, true) do
    local w = cp >= 32 and cp <= 126 and widths[cp - 31] or other_width(cp)
    if total + w > budget then break end
    total = total + w
    cut = pos + #utf8.char(cp) - 1
  end
  return s:sub(1, cut) .. "\u{2026}", true
end

--- `s` with runs of white space made one space, trimmed.
function M.squash(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

--- `s` with each byte that is not part of valid UTF-8 (surrogates
-- included) replaced by U+FFFD, so that renderers can embed it.
function M.valid_utf8(s)
  local out, i = {}, 1
  while true do
    local ok, bad = utf8.len(s, i)
    if ok then
      out[#out + 1] = s:sub(i)
      return table.concat(out)
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
end

return M
