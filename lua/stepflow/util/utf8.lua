--- UTF-8 character walking, shared by JSONata (code points, JavaScript's
-- UTF-16 indexes) and the ASL intrinsics (Java's UTF-16 lengths). Lenient
-- everywhere: a byte that does not start a valid sequence is a character
-- of its own (Lua's utf8 library raises on such bytes, even when lax).
-- Encoded surrogates (ED A0..BF xx, as JSON decoding keeps "\ud800") are
-- characters of their own, as JavaScript keeps lone surrogates.
local M = {}

local byte, sub, find = string.byte, string.sub, string.find
local utf8_len, utf8_char = utf8.len, utf8.char

-- The code point at byte i of s and its length; (byte, 1) when the bytes
-- there are not UTF-8.
local function decode_at(s, i, len)
  local c = byte(s, i)
  if c < 0xC2 or c > 0xF4 then return c, 1 end
  local need = c >= 0xF0 and 3 or (c >= 0xE0 and 2 or 1)
  if i + need > len then return c, 1 end
  local v = c & (0x3F >> need)
  for k = 1, need do
    local cc = byte(s, i + k)
    if cc < 0x80 or cc > 0xBF then return c, 1 end
    v = (v << 6) | (cc & 0x3F)
  end
  -- overlong 3- and 4-byte forms and code points past U+10FFFF are bytes
  if (need == 2 and v < 0x800) or (need == 3 and (v < 0x10000 or v > 0x10FFFF)) then
    return c, 1
  end
  return v, need + 1
end
M.decode_at = decode_at

--- True when s has only ASCII bytes (every walk is then one byte a step).
local function ascii(s)
  return not find(s, "[\128-\255]")
end
M.ascii = ascii

--- Code points of s and the byte offset (1-based) of each: cps, offs, n;
-- offs[n + 1] is #s + 1.
function M.decode(s)
  local cps, offs, n, i, len = {}, {}, 0, 1, #s
  while i <= len do
    local cp, size = decode_at(s, i, len)
    n = n + 1
    cps[n], offs[n] = cp, i
    i = i + size
  end
  offs[n + 1] = len + 1
  return cps, offs, n
end

--- Iterates the characters of s: for pos, cp in codes(s) (pos 1-based).
function M.codes(s)
  local i, len = 1, #s
  return function()
    if i > len then return nil end
    local pos = i
    local cp, size = decode_at(s, i, len)
    i = i + size
    return pos, cp
  end
end

--- The characters of s, each as its own string (a list).
function M.chars(s)
  local out, len = {}, #s
  if ascii(s) then
    for i = 1, len do out[i] = sub(s, i, i) end
    return out
  end
  local i, n = 1, 0
  while i <= len do
    local _, size = decode_at(s, i, len)
    n = n + 1
    out[n] = sub(s, i, i + size - 1)
    i = i + size
  end
  return out
end

--- Number of characters (code points) of s.
function M.len(s)
  if ascii(s) then return #s end
  local n = utf8_len(s, 1, -1, true)
  if n then return n end
  local i, len = 1, #s
  n = 0
  while i <= len do
    local _, size = decode_at(s, i, len)
    n = n + 1
    i = i + size
  end
  return n
end

--- Length in UTF-16 code units (JavaScript's and Java's String length):
-- a character past U+FFFF counts 2.
function M.utf16_len(s)
  if ascii(s) then return #s end
  local i, len, n = 1, #s, 0
  while i <= len do
    local cp, size = decode_at(s, i, len)
    n = n + (cp >= 0x10000 and 2 or 1)
    i = i + size
  end
  return n
end

--- The UTF-16 index of byte offset nbytes (0-based): the code units in the
-- first nbytes bytes of s.
function M.utf16_index(s, nbytes)
  return M.utf16_len(sub(s, 1, nbytes))
end

--- The byte offset (0-based) of UTF-16 index idx in s (#s past the end).
function M.byte_offset(s, idx)
  if ascii(s) then return idx < #s and idx or #s end
  local i, len, n = 1, #s, 0
  while i <= len do
    if n >= idx then return i - 1 end
    local cp, size = decode_at(s, i, len)
    n = n + (cp >= 0x10000 and 2 or 1)
    i = i + size
  end
  return len
end

--- The UTF-16 code units of s as characters: a character past U+FFFF
-- becomes its two surrogates, each encoded on its own (as JavaScript's
-- "".split("") gives them).
function M.utf16_units(s)
  local out, n, i, len = {}, 0, 1, #s
  while i <= len do
    local cp, size = decode_at(s, i, len)
    if cp >= 0x10000 then
      local v = cp - 0x10000
      out[n + 1] = utf8_char(0xD800 + (v >> 10))
      out[n + 2] = utf8_char(0xDC00 + (v & 0x3FF))
      n = n + 2
    else
      n = n + 1
      out[n] = sub(s, i, i + size - 1)
    end
    i = i + size
  end
  return out
end

return M
