-- Shared builders of the Distributed Map data specs: a fresh local S3
-- folder per test, files written into it, streams drained.
local lfs = require("lfs")
local json = require("stepflow.json")
local folder = require("stepflow.s3.folder")

local M = {}

--- A new empty folder under the system's temporary folder.
function M.root()
  local path = os.tmpname()
  os.remove(path)
  assert(lfs.mkdir(path))
  return path
end

--- Removes a folder and everything in it.
function M.remove(path)
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then
      local p = path .. "/" .. name
      if lfs.attributes(p, "mode") == "directory" then M.remove(p) else os.remove(p) end
    end
  end
  lfs.rmdir(path)
end

--- A backend over a fresh root with the given buckets (folders).
function M.backend(...)
  local root = M.root()
  for _, b in ipairs({ ... }) do assert(lfs.mkdir(root .. "/" .. b)) end
  return folder.new(root), root
end

--- Writes a file of the local S3 (its folders made as needed).
function M.write(root, bucket, key, text)
  local at = root .. "/" .. bucket
  local parts = {}
  for p in key:gmatch("[^/]+") do parts[#parts + 1] = p end
  for i = 1, #parts - 1 do
    at = at .. "/" .. parts[i]
    lfs.mkdir(at)
  end
  local f = assert(io.open(root .. "/" .. bucket .. "/" .. key, "wb"))
  f:write(text)
  f:close()
end

function M.read(root, bucket, key)
  local f = io.open(root .. "/" .. bucket .. "/" .. key, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Every item of a stream, as a list of JSON texts (exact shapes).
function M.drain(stream)
  local out = {}
  while true do
    local item = stream:next()
    if item == nil then break end
    out[#out + 1] = json.encode(item)
  end
  return out
end

--- The ASL error a function raises (nil when it does not).
function M.error_of(fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then return nil end
  return { Error = e.Error, Cause = e.Cause }
end

return M
