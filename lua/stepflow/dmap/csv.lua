--- CSV rows as ItemReader items, streamed: rows are cut from 64 KiB
-- chunks one at a time, so memory holds one chunk and one row however
-- large the file. The rules are AWS's (example-csv-parse-dist-map):
-- fields are strings; a field in double quotes may hold the delimiter,
-- newlines and doubled quotes; a backslash escapes a backslash, a quote
-- or the delimiter and is dropped before any other character; a row
-- shorter than the header gets "" for the missing fields, a longer one
-- loses its extra fields. Empty lines are skipped.
local errors = require("stepflow.errors")

local M = {}

local find, sub, byte = string.find, string.sub, string.byte
local concat = table.concat
local csv_line = require("stepflow.core.codec").csv_line

--- The delimiter characters of ReaderConfig.CSVDelimiter.
M.DELIMITERS = { COMMA = ",", PIPE = "|", SEMICOLON = ";", SPACE = " ", TAB = "\t" }

--- AWS reads CSV headers of up to 10 KiB.
M.MAX_HEADER_BYTES = 10240

local QUOTE, BACKSLASH, CR, LF = 34, 92, 13, 10

local function fail(cause) errors.raise(errors.ItemReaderFailed, cause) end

local Rows = {}
Rows.__index = Rows
Rows.__name = "stepflow.dmap.CsvRows"

-- Appends the next chunk to the unread part of the buffer; false at the
-- end of the source.
function Rows:fill()
  if self.eof then return false end
  local chunk = self.src:read()
  if chunk == nil then
    self.eof = true
    return false
  end
  local buf = self.buf
  if self.pos > #buf then
    self.buf = chunk
  else
    self.buf = sub(buf, self.pos) .. chunk
  end
  self.pos = 1
  self.special = false
  return true
end

-- The slow path: one record that has quotes or backslashes, read
-- character by character; it may span chunks (newlines inside quotes).
function Rows:slow_record()
  local fields, nf = {}, 0
  local parts, np = {}, 0
  local delim = self.delim_byte
  local in_quotes = false
  while true do
    local buf, pos = self.buf, self.pos
    local n = #buf
    if pos > n then
      if not self:fill() then
        -- end of input: the last field ends here
        nf = nf + 1
        fields[nf] = concat(parts, "", 1, np)
        return fields, nf
      end
    else
      local c = byte(buf, pos)
      if in_quotes then
        if c == QUOTE then
          if pos == n and not self.eof then
            -- the next chunk tells whether this quote is doubled
            if not self:fill() then in_quotes = false; self.pos = pos + 1 end
          elseif byte(buf, pos + 1) == QUOTE then
            np = np + 1; parts[np] = '"'
            self.pos = pos + 2
          else
            in_quotes = false
            self.pos = pos + 1
          end
        else
          -- a run of plain characters up to the next quote
          local q = find(buf, '"', pos, true) or n + 1
          np = np + 1; parts[np] = sub(buf, pos, q - 1)
          self.pos = q
        end
      elseif c == delim then
        nf = nf + 1
        fields[nf] = concat(parts, "", 1, np)
        np = 0
        self.pos = pos + 1
      elseif c == LF or (c == CR and byte(buf, pos + 1) == LF) then
        self.pos = pos + (c == CR and 2 or 1)
        nf = nf + 1
        fields[nf] = concat(parts, "", 1, np)
        return fields, nf
      elseif c == CR and pos == n and not self.eof then
        self:fill()
      elseif c == QUOTE and np == 0 then
        in_quotes = true
        self.pos = pos + 1
      elseif c == QUOTE and pos == n and not self.eof then
        self:fill()
      elseif c == QUOTE and byte(buf, pos + 1) == QUOTE then
        -- a doubled quote outside quotes is one quote too (AWS reads
        -- {""MyKey"":""MyValue""} as {"MyKey":"MyValue"})
        np = np + 1; parts[np] = '"'
        self.pos = pos + 2
      elseif c == BACKSLASH then
        if pos == n and not self.eof then
          self:fill()
        else
          local e = byte(buf, pos + 1)
          if e == BACKSLASH or e == QUOTE or e == delim then
            np = np + 1; parts[np] = sub(buf, pos + 1, pos + 1)
            self.pos = pos + 2
          else
            -- dropped before any other character (AWS)
            self.pos = pos + 1
          end
        end
      else
        -- a run of plain characters
        local stop = find(buf, self.plain_stop, pos) or n + 1
        if stop == pos then stop = pos + 1 end
        np = np + 1; parts[np] = sub(buf, pos, stop - 1)
        self.pos = stop
      end
    end
  end
end

--- The next record as a list of field strings and its length, or nil at
-- the end of the input.
function Rows:record()
  while true do
    local buf, pos = self.buf, self.pos
    local nl = find(buf, "\n", pos, true)
    if not nl and not self:fill() then
      if self.pos > #self.buf then return nil end
      nl = #self.buf + 1
    end
    if nl then
      buf, pos = self.buf, self.pos
      local special = self.special
      if not special or special < pos then
        special = find(buf, '["\\]', pos) or #buf + 1
        self.special = special
      end
      if special < nl then return self:slow_record() end
      local stop = nl - 1
      if stop >= pos and byte(buf, stop) == CR then stop = stop - 1 end
      self.pos = nl + 1
      if stop >= pos then
        local fields, nf = {}, 0
        local d, p = self.delim, pos
        while true do
          local e = find(buf, d, p, true)
          nf = nf + 1
          if not e or e > stop then
            fields[nf] = sub(buf, p, stop)
            return fields, nf
          end
          fields[nf] = sub(buf, p, e - 1)
          p = e + 1
        end
      end
      -- an empty line: skipped
    end
  end
end

-- stream:next(): the C fast path splits whole lines without quotes or
-- backslashes straight into items; Rows:record() parses the others, and
-- the last line when it has no newline.
local function item_reader(rows, headers)
  local nh = #headers
  local d = rows.delim
  local function from_fields(fields, nf)
    local item = {}
    for i = 1, nh do
      if i <= nf then item[headers[i]] = fields[i] else item[headers[i]] = "" end
    end
    return item
  end
  return function()
    while true do
      local item, nxt = csv_line(rows.buf, rows.pos, d, headers)
      if item then
        rows.pos = nxt
        return item
      end
      if item == false or not rows:fill() then
        local fields, nf = rows:record()
        if not fields then return nil end
        return from_fields(fields, nf)
      end
    end
  end
end

--- Opens a CSV stream over a chunk source (`src:read() -> chunk | nil`).
-- opts: delimiter (a CSVDelimiter name, default COMMA), header_location
-- ("FIRST_ROW" default, or "GIVEN"), headers (the CSVHeaders list for
-- GIVEN). Returns a stream: stream:next() -> item (a table of header ->
-- string) or nil at the end; raises States.ItemReaderFailed on bad input.
function M.open(src, opts)
  opts = opts or {}
  local d = M.DELIMITERS[opts.delimiter or "COMMA"]
  if not d then error("stepflow.dmap.csv.open: unknown CSVDelimiter " .. tostring(opts.delimiter), 2) end
  local esc = d:gsub("%p", "%%%0")
  local rows = setmetatable({
    src = src, buf = "", pos = 1, eof = false, special = false,
    delim = d, delim_byte = byte(d),
    plain_stop = '["\\\r\n' .. esc .. "]",
  }, Rows)
  local headers
  if (opts.header_location or "FIRST_ROW") == "GIVEN" then
    headers = opts.headers
  else
    local fields, nf = rows:record()
    headers = {}
    for i = 1, nf or 0 do headers[i] = fields[i] end
    local size = 0
    for i = 1, #headers do size = size + #headers[i] + 1 end
    if size - 1 > M.MAX_HEADER_BYTES then
      fail("CSV headers cannot exceed " .. M.MAX_HEADER_BYTES .. " bytes.")
    end
  end
  local seen = {}
  for i = 1, #headers do
    local h = headers[i]
    if seen[h] then fail("CSV headers cannot contain duplicates.") end
    seen[h] = true
  end
  return {
    next = item_reader(rows, headers),
    close = function() if src.close then src:close() end end,
  }
end

return M
