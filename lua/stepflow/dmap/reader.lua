--- ItemReader: the items of a Distributed Map read from S3, streamed.
--
--     local reader = require("stepflow.dmap.reader")
--     local stream = reader.open(item_reader, backend, { max_items = n })
--     local item = stream:next()   -- nil at the end
--     stream:close()
--
-- `item_reader` is the state's ItemReader with its Parameters (or
-- Arguments) already evaluated; `backend` an S3 backend (stepflow.s3.folder).
-- Bad input raises an ASL error value States.ItemReaderFailed with AWS's
-- causes. No format is ever held whole: CSV and JSON Lines go line by
-- line, a JSON array element by element, manifests file by file.
local errors = require("stepflow.errors")
local s3 = require("stepflow.s3")
local csv = require("stepflow.dmap.csv")
local json_stream = require("stepflow.dmap.json_stream")
local manifest = require("stepflow.dmap.manifest")

local M = {}

--- AWS stops reading after this many items, whatever MaxItems says.
M.MAX_ITEMS = 100000000

M.GET_OBJECT = "arn:aws:states:::s3:getObject"
M.LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"

local function fail(cause) errors.raise(errors.ItemReaderFailed, cause) end

-- Opens an object as a chunk source; a missing bucket or key fails the
-- reader with the cause S3 gives.
local function open_object(backend, bucket, key)
  local src, code, msg = backend:open(bucket, key)
  if not src then
    local _, cause = s3.failure(code, msg, bucket, key)
    fail(cause)
  end
  return src
end

local function text_param(params, name)
  local v = params[name]
  if type(v) ~= "string" or v == "" then
    fail("The ItemReader's " .. name .. " must be a non-empty string, got " ..
      (v == nil and "none" or type(v)))
  end
  return v
end

-- A stream of the items of one data file of InputType `input_type`.
local function format_stream(src, config, input_type, what)
  if input_type == "JSON" then
    return json_stream.array(src, config.ItemsPointer, what)
  elseif input_type == "JSONL" then
    return json_stream.lines(src, what)
  elseif input_type == "CSV" then
    return csv.open(src, { delimiter = config.CSVDelimiter, header_location = config.CSVHeaderLocation,
      headers = config.CSVHeaders })
  elseif input_type == "PARQUET" then
    if src.close then src:close() end
    fail("InputType PARQUET is not supported by stepflow (it has no Parquet decoder): " ..
      "convert the data to CSV or JSON Lines")
  end
  if src.close then src:close() end
  fail("Unknown InputType " .. tostring(input_type))
end

-- One stream over the items of several files, opened one at a time.
local function chain(next_file, open)
  local current
  return {
    next = function()
      while true do
        if current then
          local item = current.next()
          if item ~= nil then return item end
          current.close()
          current = nil
        end
        local f = next_file()
        if not f then return nil end
        current = open(f)
      end
    end,
    close = function()
      if current then current.close(); current = nil end
    end,
  }
end

local function list_files(files)
  local i = 0
  return function()
    i = i + 1
    return files[i]
  end
end

-- The items of a manifest object: the data files it names, each read
-- (gunzipped when it is gzip) as the ReaderConfig says.
local function manifest_stream(backend, bucket, key, config)
  local mtype = config.ManifestType or "S3_INVENTORY"
  local text = manifest.slurp(open_object(backend, bucket, key))
  if mtype == "ATHENA_DATA" then
    local input_type = config.InputType
    if input_type == "MANIFEST" or input_type == nil then
      fail("An ATHENA_DATA manifest needs the InputType of its data files (CSV, JSONL or PARQUET)")
    end
    return chain(list_files(manifest.athena(text)), function(f)
      local what = "s3://" .. f.bucket .. "/" .. f.key
      return format_stream(manifest.maybe_gunzip(open_object(backend, f.bucket, f.key), what),
        config, input_type, what)
    end)
  end
  local files, headers = manifest.inventory(text, bucket)
  return chain(list_files(files), function(f)
    local what = "s3://" .. f.bucket .. "/" .. f.key
    return csv.open(manifest.maybe_gunzip(open_object(backend, f.bucket, f.key), what),
      { header_location = "GIVEN", headers = headers })
  end)
end

--- An item of s3:listObjectsV2: the object summary as AWS gives it
-- (Etag, Key, LastModified in epoch seconds, Size, StorageClass).
function M.object_item(key, info)
  return { Etag = info.etag, Key = key, LastModified = info.mtime, Size = info.size,
    StorageClass = "STANDARD" }
end

local function objects_stream(backend, params, config)
  local bucket = text_param(params, "Bucket")
  local prefix = params.Prefix
  if prefix ~= nil and type(prefix) ~= "string" then fail("The ItemReader's Prefix must be a string") end
  local iter, code, msg = backend:list(bucket, { prefix = prefix or "" })
  if not iter then
    local _, cause = s3.failure(code, msg, bucket)
    fail(cause)
  end
  if config.Transformation == "LOAD_AND_FLATTEN" then
    -- the listed objects' contents, each read as InputType
    return chain(function()
      local key = iter()
      return key and { bucket = bucket, key = key }
    end, function(f)
      return format_stream(open_object(backend, f.bucket, f.key), config, config.InputType or "JSON",
        "s3://" .. f.bucket .. "/" .. f.key)
    end)
  end
  return {
    next = function()
      local key, info = iter()
      if not key then return nil end
      return M.object_item(key, info)
    end,
    close = function() end,
  }
end

--- The effective item limit: MaxItems (or the value of MaxItemsPath) as
-- AWS applies it: 0 or none = no limit, above 100,000,000 = that many.
-- Raises States.ItemReaderFailed for a negative value.
function M.max_items(n)
  if n == nil then return nil end
  if math.type(n) ~= "integer" then
    local i = math.tointeger(n)
    if not i then fail("field MaxItems must be an integer") end
    n = i
  end
  if n < 0 then fail("field MaxItems must be positive") end
  if n == 0 then return nil end
  if n > M.MAX_ITEMS then return M.MAX_ITEMS end
  return n
end

--- Opens the items of an ItemReader.
-- @tparam table def the ItemReader, Parameters/Arguments evaluated
-- @param backend an S3 backend (stepflow.s3.folder interface)
-- @tparam[opt] table opts max_items: the evaluated MaxItemsPath or
--   JSONata MaxItems (else ReaderConfig.MaxItems); skip: items to pass
--   over first (a resumed Map Run; they count toward max_items)
-- @return stream with next() -> item | nil, close(), source
--   ("S3://bucket/key" or "S3://bucket" for a listing)
function M.open(def, backend, opts)
  if type(def) ~= "table" then error("stepflow.dmap.reader.open: ItemReader must be a table", 2) end
  if backend == nil then
    fail("no S3 storage is configured: start stepflow with --s3-dir DIR")
  end
  opts = opts or {}
  local config = def.ReaderConfig or {}
  local params = def.Arguments or def.Parameters or {}
  if type(params) ~= "table" then fail("The ItemReader's Parameters must be an object") end
  local limit = M.max_items(opts.max_items or config.MaxItems)
  local inner, source
  if def.Resource == M.LIST_OBJECTS then
    inner = objects_stream(backend, params, config)
    source = "S3://" .. params.Bucket
  elseif def.Resource == M.GET_OBJECT then
    local bucket, key = text_param(params, "Bucket"), text_param(params, "Key")
    source = "S3://" .. bucket .. "/" .. key
    if config.InputType == "MANIFEST" or config.ManifestType ~= nil then
      inner = manifest_stream(backend, bucket, key, config)
    else
      if config.InputType == nil then fail("The ItemReader's ReaderConfig needs an InputType") end
      inner = format_stream(open_object(backend, bucket, key), config, config.InputType, "file")
    end
  else
    fail("The ItemReader's Resource " .. tostring(def.Resource) .. " is not one stepflow reads: " ..
      M.GET_OBJECT .. " or " .. M.LIST_OBJECTS)
  end
  local count = 0
  local inner_next = inner.next
  local stream = { source = source }
  function stream.next()
    if limit and count >= limit then return nil end
    local item = inner_next()
    if item == nil then return nil end
    count = count + 1
    return item
  end
  function stream.close() inner.close() end
  for _ = 1, opts.skip or 0 do
    if stream.next() == nil then break end
  end
  return stream
end

return M
