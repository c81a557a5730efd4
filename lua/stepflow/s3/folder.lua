--- The local S3 backend: `s3://bucket/key` is the file `ROOT/bucket/key`.
-- A bucket is a folder directly under ROOT; a key's "/" are folders. The
-- backend interface, which another store (an S3-compatible endpoint) can
-- implement with the same methods and failure codes:
--
--     b:open(bucket, key)        -> reader | nil, code, message
--         reader:read() -> the next chunk (<= 64 KiB) | nil at the end
--         reader:close()
--     b:head(bucket, key)        -> info | nil, code, message
--         info = { size = bytes, mtime = epoch seconds, etag = '"<md5 hex>"' }
--     b:list(bucket, opts)       -> iterator | nil, code, message
--         opts = { prefix = "", start_after = key }; iterator() -> key, info
--         in UTF-8 binary key order (S3's), nil at the end
--     b:create(bucket, key)      -> writer | nil, code, message
--         writer:write(text); writer:close() -> info; writer:abort()
--     b:put(bucket, key, body)   -> info | nil, code, message
--     b:delete(bucket, key)      -> true | nil, code, message
--     b:check_bucket(bucket)     -> true | nil, code, message
--
-- Codes: "NoSuchBucket", "NoSuchKey", "InvalidKey" (a key the folder
-- cannot hold: empty, "." or ".." parts), "IO" (the file system refused).
local lfs = require("lfs")
local codec = require("stepflow.core.codec")

local M = {}

local CHUNK = 65536

local Folder = {}
Folder.__index = Folder
Folder.__name = "stepflow.s3.Folder"

--- A backend over the folder `root` (which must exist).
function M.new(root)
  if type(root) ~= "string" or root == "" then
    error("stepflow.s3.folder.new: root must be a folder path", 2)
  end
  root = root:gsub("/+$", "")
  if root == "" then root = "/" end
  return setmetatable({ root = root }, Folder)
end

local function is_dir(path) return lfs.attributes(path, "mode") == "directory" end

-- The folder of a bucket, or nil, code, message.
function Folder:bucket_dir(bucket)
  if type(bucket) ~= "string" or bucket == "" or bucket:find("/", 1, true)
      or bucket == "." or bucket == ".." then
    return nil, "NoSuchBucket", "no bucket named " .. tostring(bucket)
  end
  local dir = self.root .. "/" .. bucket
  if not is_dir(dir) then
    return nil, "NoSuchBucket", "no folder " .. dir .. " for bucket " .. bucket
  end
  return dir
end

function Folder:check_bucket(bucket)
  local dir, code, msg = self:bucket_dir(bucket)
  if not dir then return nil, code, msg end
  return true
end

-- The file of a key, or nil, code, message.
function Folder:path(bucket, key)
  local dir, code, msg = self:bucket_dir(bucket)
  if not dir then return nil, code, msg end
  if type(key) ~= "string" or key == "" or key:sub(1, 1) == "/" or key:sub(-1) == "/" then
    return nil, "InvalidKey", "the key " .. tostring(key) .. " cannot be a file under " .. dir
  end
  for part in key:gmatch("[^/]*") do
    if part == "." or part == ".." then
      return nil, "InvalidKey", "the key " .. key .. " cannot be a file under " .. dir
    end
  end
  if key:find("//", 1, true) then
    return nil, "InvalidKey", "the key " .. key .. " cannot be a file under " .. dir
  end
  return dir .. "/" .. key
end

local function info_of(path)
  local attr = lfs.attributes(path)
  if not attr or attr.mode ~= "file" then return nil end
  local etag = codec.md5_file(path)
  if not etag then return nil end
  return { size = attr.size, mtime = attr.modification, etag = '"' .. etag .. '"' }
end

function Folder:head(bucket, key)
  local path, code, msg = self:path(bucket, key)
  if not path then
    if code == "InvalidKey" then return nil, "NoSuchKey", msg end
    return nil, code, msg
  end
  local info = info_of(path)
  if not info then return nil, "NoSuchKey", "no file " .. path end
  return info
end

function Folder:open(bucket, key)
  local path, code, msg = self:path(bucket, key)
  if not path then
    if code == "InvalidKey" then return nil, "NoSuchKey", msg end
    return nil, code, msg
  end
  if lfs.attributes(path, "mode") ~= "file" then return nil, "NoSuchKey", "no file " .. path end
  local f, err = io.open(path, "rb")
  if not f then return nil, "IO", err end
  return {
    read = function()
      if not f then return nil end
      local chunk = f:read(CHUNK)
      if chunk == nil then f:close(); f = nil end
      return chunk
    end,
    close = function()
      if f then f:close(); f = nil end
    end,
  }
end

-- mkdir -p for the folders of a key's file.
local function make_parents(dir, key)
  local at = dir
  local parts = {}
  for part in key:gmatch("[^/]+") do parts[#parts + 1] = part end
  for i = 1, #parts - 1 do
    at = at .. "/" .. parts[i]
    local mode = lfs.attributes(at, "mode")
    if mode == nil then
      local ok, err = lfs.mkdir(at)
      if not ok and not is_dir(at) then return nil, err end
    elseif mode ~= "directory" then
      return nil, at .. " is a file, not a folder"
    end
  end
  return true
end

-- Writes go to a temporary file renamed at close, so that a reader never
-- sees half an object (S3's PUT is atomic).
function Folder:create(bucket, key)
  local path, code, msg = self:path(bucket, key)
  if not path then return nil, code, msg end
  local ok, err = make_parents(self.root .. "/" .. bucket, key)
  if not ok then return nil, "IO", err end
  if is_dir(path) then return nil, "InvalidKey", path .. " is a folder" end
  local tmp = path .. ".stepflow-part"
  local f, ferr = io.open(tmp, "wb")
  if not f then return nil, "IO", ferr end
  return {
    write = function(_, text)
      local fine, werr = f:write(text)
      if not fine then error(werr, 2) end
    end,
    close = function()
      local fine, cerr = f:close()
      if not fine then os.remove(tmp); return nil, "IO", cerr end
      local moved, merr = os.rename(tmp, path)
      if not moved then os.remove(tmp); return nil, "IO", merr end
      return info_of(path)
    end,
    abort = function()
      f:close()
      os.remove(tmp)
    end,
  }
end

function Folder:put(bucket, key, body)
  local w, code, msg = self:create(bucket, key)
  if not w then return nil, code, msg end
  local ok, err = pcall(w.write, w, body)
  if not ok then w.abort(); return nil, "IO", tostring(err) end
  return w.close()
end

function Folder:delete(bucket, key)
  local path, code, msg = self:path(bucket, key)
  if not path then
    if code == "InvalidKey" then return true end
    return nil, code, msg
  end
  if lfs.attributes(path, "mode") == "file" then
    local ok, err = os.remove(path)
    if not ok then return nil, "IO", err end
  end
  return true
end

-- The entries of a folder in key order: a folder sorts as its name plus
-- "/", so a depth-first walk yields keys in S3's binary order. Partly
-- written files (.stepflow-part) are not objects.
local function sorted_entries(dir)
  local out = {}
  local ok, iter, state = pcall(lfs.dir, dir)
  if not ok then return out end
  for name in iter, state do
    if name ~= "." and name ~= ".." and not name:find("%.stepflow%-part$") then
      local mode = lfs.attributes(dir .. "/" .. name, "mode")
      if mode == "directory" then
        out[#out + 1] = { sort = name .. "/", name = name, dir = true }
      elseif mode == "file" then
        out[#out + 1] = { sort = name, name = name }
      end
    end
  end
  table.sort(out, function(a, b) return a.sort < b.sort end)
  return out
end

function Folder:list(bucket, opts)
  local dir, code, msg = self:bucket_dir(bucket)
  if not dir then return nil, code, msg end
  opts = opts or {}
  local prefix = opts.prefix or ""
  local after = opts.start_after
  -- a stack of {entries, index, key prefix, folder}
  local stack = { { entries = sorted_entries(dir), i = 0, base = "", path = dir } }
  return function()
    while #stack > 0 do
      local top = stack[#stack]
      top.i = top.i + 1
      local e = top.entries[top.i]
      if not e then
        stack[#stack] = nil
      else
        local k = top.base .. e.sort
        local path = top.path .. "/" .. e.name
        if e.dir then
          -- only folders that can hold keys with the prefix, past start_after
          local fits = k:sub(1, #prefix) == prefix or prefix:sub(1, #k) == k
          local past = not after or k > after or after:sub(1, #k) == k
          if fits and past then
            stack[#stack + 1] = { entries = sorted_entries(path), i = 0, base = k, path = path }
          end
        elseif k:sub(1, #prefix) == prefix and (not after or k > after) then
          local info = info_of(path)
          if info then return k, info end
        end
      end
    end
    return nil
  end
end

return M
