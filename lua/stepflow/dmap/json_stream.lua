--- JSON and JSON Lines files as ItemReader items, streamed. A JSON array
-- is read element by element: a scanner in C finds where each element's
-- text ends (bracket depth and strings only) and stepflow.json decodes
-- that text, so memory holds one chunk and one element. An ItemsPointer
-- (RFC 6901) is followed the same way, skipping the values beside it.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local codec = require("stepflow.core.codec")

local M = {}

local find, sub, byte = string.find, string.sub, string.byte
local value_end = codec.json_value_end
local try_decode = json.try_decode

--- AWS's cause when the items are not an array.
M.NOT_ITERABLE = "Attempting to map over non-iterable node."

local function fail(cause) errors.raise(errors.ItemReaderFailed, cause) end

local Buf = {}
Buf.__index = Buf

local function new_buf(src, what)
  return setmetatable({ src = src, buf = "", pos = 1, eof = false, what = what, offset = 0 }, Buf)
end

-- Reads one more chunk; false at the end. Keeps the unread part only.
function Buf:more()
  if self.eof then return false end
  local chunk = self.src:read()
  if not chunk then
    self.eof = true
    return false
  end
  if self.pos > #self.buf then
    self.offset = self.offset + #self.buf
    self.buf = chunk
  else
    self.offset = self.offset + self.pos - 1
    self.buf = sub(self.buf, self.pos) .. chunk
  end
  self.pos = 1
  return true
end

-- The next byte that is not white space (not consumed), or nil at the end.
function Buf:peek()
  while true do
    local p = find(self.buf, "[^ \t\r\n]", self.pos)
    if p then
      self.pos = p
      return byte(self.buf, p)
    end
    self.pos = #self.buf + 1
    if not self:more() then return nil end
  end
end

function Buf:bad(what)
  fail("The " .. self.what .. " is not valid JSON: expected " .. what .. " at byte " ..
    (self.offset + self.pos))
end

-- The text of the value starting at the current byte; consumed.
function Buf:value_text()
  while true do
    local e = value_end(self.buf, self.pos, self.eof)
    if e then
      local text = sub(self.buf, self.pos, e)
      self.pos = e + 1
      return text
    end
    -- at the end, one more try with eof set ends a scalar there
    local was_eof = self.eof
    if not self:more() and was_eof then self:bad("the end of a value") end
  end
end

function Buf:value()
  local at = self.offset + self.pos
  local v, err = try_decode(self:value_text())
  if err then
    fail("The " .. self.what .. " is not valid JSON: " .. err:gsub("at byte (%d+)", function(n)
      return "at byte " .. (at + tonumber(n) - 1)
    end))
  end
  return v
end

function Buf:expect(c, what)
  if self:peek() ~= c then self:bad(what) end
  self.pos = self.pos + 1
end

-- Pointer tokens of an RFC 6901 JSON Pointer ("" is the whole document).
local function tokens(pointer)
  local out = {}
  if pointer == "" then return out end
  for t in (pointer:sub(2) .. "/"):gmatch("(.-)/") do
    out[#out + 1] = (t:gsub("~1", "/"):gsub("~0", "~"))
  end
  return out
end

-- Moves to the value at `token` inside the container at the current
-- position; false when it has none.
local function descend(b, token)
  local c = b:peek()
  if c == 123 then -- {
    b.pos = b.pos + 1
    if b:peek() == 125 then return false end
    while true do
      if b:peek() ~= 34 then b:bad("a key") end
      local key = b:value()
      b:expect(58, "':'")
      b:peek()
      if key == token then return true end
      b:value_text()
      local n = b:peek()
      if n == 125 then return false end
      if n ~= 44 then b:bad("',' or '}'") end
      b.pos = b.pos + 1
    end
  elseif c == 91 then -- [
    local index = token:match("^0$") or token:match("^[1-9]%d*$")
    if not index then return false end
    index = tonumber(index)
    b.pos = b.pos + 1
    if b:peek() == 93 then return false end
    local i = 0
    while true do
      b:peek()
      if i == index then return true end
      b:value_text()
      local n = b:peek()
      if n == 93 then return false end
      if n ~= 44 then b:bad("',' or ']'") end
      b.pos = b.pos + 1
      i = i + 1
    end
  end
  return false
end

--- A stream of the elements of the JSON array in `src` (a chunk source),
-- or of the array at `pointer` inside it. `what` names the file in
-- causes. stream.next() -> element | nil at the end.
function M.array(src, pointer, what)
  local b = new_buf(src, what or "file")
  for _, t in ipairs(tokens(pointer or "")) do
    if not descend(b, t) then
      fail("The ItemsPointer " .. pointer .. " does not point at a node of the " .. b.what .. ".")
    end
  end
  local c = b:peek()
  if c == nil then b:bad("a value") end
  if c ~= 91 then fail(M.NOT_ITERABLE) end
  b.pos = b.pos + 1
  local first, done = true, false
  return {
    next = function()
      if done then return nil end
      local n = b:peek()
      if n == 93 then
        done = true
        b.pos = b.pos + 1
        return nil
      end
      if not first then
        if n ~= 44 then b:bad("',' or ']'") end
        b.pos = b.pos + 1
        b:peek()
      end
      first = false
      return b:value()
    end,
    close = function() if src.close then src:close() end end,
  }
end

--- A stream of the values of a JSON Lines file, one per non-empty line.
function M.lines(src, what)
  local buf, pos, eof, line_no = "", 1, false, 0
  what = what or "file"
  return {
    next = function()
      while true do
        local nl = find(buf, "\n", pos, true)
        local line
        if nl then
          line = sub(buf, pos, nl - 1)
          pos = nl + 1
        elseif eof then
          if pos > #buf then return nil end
          line = sub(buf, pos)
          pos = #buf + 1
        else
          local chunk = src:read()
          if chunk then
            buf = sub(buf, pos) .. chunk
          else
            eof = true
            buf = sub(buf, pos)
          end
          pos = 1
        end
        if line then
          line_no = line_no + 1
          if find(line, "[^ \t\r]") then
            local v, err = try_decode(line)
            if err then
              fail("The " .. what .. " is not valid JSON Lines: line " .. line_no .. ": " .. err)
            end
            return v
          end
        end
      end
    end,
    close = function() if src.close then src:close() end end,
  }
end

return M
