--- Manifests as ItemReader sources: an S3 inventory manifest.json (its
-- "files" are gzip'd CSV data files whose columns "fileSchema" names) and
-- an Athena data manifest (a text file of s3:// URIs, one per line, of
-- the data files an UNLOAD wrote). Both only name the data files: this
-- module yields those files one at a time, and the reader streams each.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local codec = require("stepflow.core.codec")

local M = {}

local function fail(cause) errors.raise(errors.ItemReaderFailed, cause) end

--- Reads a whole (small) object of a chunk source.
function M.slurp(src)
  local parts = {}
  while true do
    local c = src:read()
    if not c then break end
    parts[#parts + 1] = c
  end
  if src.close then src:close() end
  return table.concat(parts)
end

--- A chunk source that inflates gzip data when the first bytes are the
-- gzip magic (1f 8b), and passes anything else through.
function M.maybe_gunzip(src, what)
  local first = src:read()
  if first == nil then return { read = function() return nil end, close = src.close } end
  if first:sub(1, 2) ~= "\31\139" then
    local pending = first
    return {
      read = function()
        if pending then
          local c = pending
          pending = nil
          return c
        end
        return src:read()
      end,
      close = function() if src.close then src:close() end end,
    }
  end
  local z = codec.inflater()
  local pending = first
  local function inflate(chunk)
    local out, err = z:write(chunk)
    if not out then fail("Cannot decompress " .. what .. ": " .. err) end
    return out
  end
  return {
    read = function()
      while true do
        local chunk = pending or src:read()
        pending = nil
        if chunk == nil then
          if not z:finished() then fail("Cannot decompress " .. what .. ": the gzip data ends early") end
          return nil
        end
        local out = inflate(chunk)
        if out ~= "" then return out end
      end
    end,
    close = function()
      z:close()
      if src.close then src:close() end
    end,
  }
end

-- "arn:aws:s3:::bucket" or "bucket" -> "bucket"
local function bucket_name(v)
  if type(v) ~= "string" then return nil end
  return v:match("^arn:aws[%w-]*:s3:::(.+)$") or v
end

--- The data files of an S3 inventory manifest (the JSON text): a list of
-- {bucket, key} and the CSV headers of fileSchema. `bucket` is the
-- manifest's own bucket, used when destinationBucket is absent.
function M.inventory(text, bucket)
  local m, err = json.try_decode(text)
  if err or type(m) ~= "table" then
    fail("The S3 inventory manifest is not valid JSON" .. (err and (": " .. err) or ""))
  end
  if m.fileFormat ~= nil and m.fileFormat ~= "CSV" then
    fail("The S3 inventory manifest's fileFormat is " .. tostring(m.fileFormat) ..
      ": only CSV inventories can be read")
  end
  if type(m.fileSchema) ~= "string" or type(m.files) ~= "table" then
    fail("The S3 inventory manifest has no fileSchema or files")
  end
  local headers = {}
  for h in (m.fileSchema .. ","):gmatch("%s*(.-)%s*,") do headers[#headers + 1] = h end
  local dest = bucket_name(m.destinationBucket) or bucket
  local files = {}
  for i, f in ipairs(m.files) do
    if type(f) ~= "table" or type(f.key) ~= "string" then
      fail("The S3 inventory manifest's files[" .. (i - 1) .. "] has no key")
    end
    files[#files + 1] = { bucket = dest, key = f.key }
  end
  return files, headers
end

--- The data files of an Athena data manifest (one s3:// URI a line).
function M.athena(text)
  local files = {}
  for line in text:gmatch("[^\r\n]+") do
    line = line:match("^%s*(.-)%s*$")
    if line ~= "" then
      local b, k = line:match("^[sS]3://([^/]+)/(.+)$")
      if not b then fail("The Athena manifest names " .. line .. ", not an s3://bucket/key URI") end
      files[#files + 1] = { bucket = b, key = k }
    end
  end
  return files
end

return M
