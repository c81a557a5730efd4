--- stepflow.s3: the Amazon S3 actions of the AWS SDK Task integration
-- (`arn:aws:states:::aws-sdk:s3:<action>`) over a backend (see
-- stepflow.s3.folder for the interface; `--s3-dir DIR` gives a folder).
-- Each action is `fn(parameters, ctx) -> result`, raising an ASL error
-- value `{Error, Cause}` as AWS names it (S3.NoSuchKeyException, ...);
-- `ctx.s3` is the backend. Results have AWS's shapes as the SDK
-- integration returns them (getObject's Body as text).
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local codec = require("stepflow.core.codec")

local M = {}

local array_mt = json.array_mt
local concat = table.concat

--- The Task resources this module serves -> their action function.
M.resources = {}

-- AWS's causes carry the SDK's service and status; the request ids are
-- random on AWS, a digest of the request here.
local function request_id(...)
  return codec.md5(concat({ ... }, "\0")):sub(1, 16):upper()
end

local CAUSES = {
  NoSuchKey = { "S3.NoSuchKeyException", "The specified key does not exist.", 404 },
  NoSuchBucket = { "S3.NoSuchBucketException", "The specified bucket does not exist.", 404 },
}

--- The ASL error name and cause of a backend failure `code` (message:
-- its details), as the SDK integration reports it.
function M.failure(code, message, bucket, key)
  local c = CAUSES[code]
  local id = request_id(code, tostring(bucket), tostring(key))
  if c then
    return c[1], c[2] .. " (Service: S3, Status Code: " .. c[3] .. ", Request ID: " .. id ..
      ", Extended Request ID: " .. codec.md5(id) .. ")"
  end
  return "S3.S3Exception", tostring(message) .. " (Service: S3, Status Code: 400, Request ID: " ..
    id .. ")"
end

--- Raises the ASL error of a backend failure (see failure).
function M.fail(code, message, bucket, key)
  errors.raise(M.failure(code, message, bucket, key))
end

local function backend_of(ctx)
  local b = type(ctx) == "table" and ctx.s3 or nil
  if not b then
    errors.raise("S3.SdkClientException", "no S3 storage is configured: start stepflow with " ..
      "--s3-dir DIR (s3://bucket/key is then DIR/bucket/key)")
  end
  return b
end

local function required(params, name, action)
  local v = type(params) == "table" and params[name] or nil
  if type(v) ~= "string" or v == "" then
    errors.raise("S3.SdkClientException", "The " .. action .. " request needs the parameter " ..
      name .. " (a non-empty string), got " .. (v == nil and "none" or json.encode(v)))
  end
  return v
end

--- An ISO 8601 UTC time of epoch seconds, as the SDK integration writes dates.
function M.date(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", seconds)
end

-- Text with every byte sequence that is not UTF-8 replaced by U+FFFD, as
-- an SDK decoding a body as UTF-8 does.
local function as_text(s)
  if utf8.len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local len, bad = utf8.len(s, i)
    if len then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\239\191\189"
    i = bad + 1
  end
  return concat(out)
end

local function base64_crc32(s)
  local crc = codec.crc32(s)
  local raw = string.pack(">I4", crc)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local a, b, c = raw:byte(1, 3)
  local d = raw:byte(4)
  local n1 = (a << 16) | (b << 8) | c
  local n2 = d << 16
  local function ch(v) return alphabet:sub(v + 1, v + 1) end
  return ch(n1 >> 18) .. ch((n1 >> 12) & 63) .. ch((n1 >> 6) & 63) .. ch(n1 & 63) ..
    ch(n2 >> 18) .. ch((n2 >> 12) & 63) .. "=="
end

-- Parses a Range header "bytes=a-b", "bytes=a-" or "bytes=-n" against a size.
local function byte_range(range, size)
  local a, b = range:match("^bytes=(%d*)%-(%d*)$")
  if not a or (a == "" and b == "") then return nil end
  if a == "" then
    local n = tonumber(b)
    return math.max(size - n, 0), size - 1
  end
  local first = tonumber(a)
  local last = b == "" and size - 1 or math.min(tonumber(b), size - 1)
  if first >= size or last < first then return nil end
  return first, last
end

--- getObject: {Bucket, Key[, Range, VersionId]} -> the object with its
-- Body as text.
function M.getObject(params, ctx)
  local b = backend_of(ctx)
  local bucket = required(params, "Bucket", "GetObject")
  local key = required(params, "Key", "GetObject")
  local info, code, msg = b:head(bucket, key)
  if not info then M.fail(code, msg, bucket, key) end
  local r
  r, code, msg = b:open(bucket, key)
  if not r then M.fail(code, msg, bucket, key) end
  local parts = {}
  while true do
    local chunk = r:read()
    if not chunk then break end
    parts[#parts + 1] = chunk
  end
  r:close()
  local body = concat(parts)
  local out = {
    AcceptRanges = "bytes", ContentType = "binary/octet-stream", ETag = info.etag,
    LastModified = M.date(info.mtime), Metadata = {}, ServerSideEncryption = "AES256",
  }
  if type(params.Range) == "string" then
    local first, last = byte_range(params.Range, #body)
    if not first then
      errors.raise("S3.S3Exception", "The requested range is not satisfiable (Service: S3, " ..
        "Status Code: 416, Request ID: " .. request_id("Range", bucket, key) .. ")")
    end
    body = body:sub(first + 1, last + 1)
    out.ContentRange = "bytes " .. first .. "-" .. last .. "/" .. info.size
  end
  out.ContentLength = #body
  out.Body = as_text(body)
  return out
end

--- headObject: {Bucket, Key} -> the object's metadata.
function M.headObject(params, ctx)
  local b = backend_of(ctx)
  local bucket = required(params, "Bucket", "HeadObject")
  local key = required(params, "Key", "HeadObject")
  local info, code, msg = b:head(bucket, key)
  if not info then M.fail(code, msg, bucket, key) end
  return {
    AcceptRanges = "bytes", ContentLength = info.size, ContentType = "binary/octet-stream",
    ETag = info.etag, LastModified = M.date(info.mtime), Metadata = {},
    ServerSideEncryption = "AES256",
  }
end

--- The bytes putObject stores for a Body: AWS writes the JSON text of
-- the value, so a string is stored with its quotes (as recorded on AWS).
function M.body_bytes(body)
  if body == nil then return "" end
  return json.encode(body)
end

--- putObject: {Bucket, Key, Body} -> {ChecksumCRC32, ChecksumType, ETag,
-- ServerSideEncryption}.
function M.putObject(params, ctx)
  local b = backend_of(ctx)
  local bucket = required(params, "Bucket", "PutObject")
  local key = required(params, "Key", "PutObject")
  local bytes = M.body_bytes(params.Body)
  local info, code, msg = b:put(bucket, key, bytes)
  if not info then M.fail(code, msg, bucket, key) end
  return {
    ChecksumCRC32 = base64_crc32(bytes), ChecksumType = "FULL_OBJECT", ETag = info.etag,
    ServerSideEncryption = "AES256",
  }
end

--- deleteObject: {Bucket, Key} -> {} (a missing key is no error in S3).
function M.deleteObject(params, ctx)
  local b = backend_of(ctx)
  local bucket = required(params, "Bucket", "DeleteObject")
  local key = required(params, "Key", "DeleteObject")
  local ok, code, msg = b:delete(bucket, key)
  if not ok then M.fail(code, msg, bucket, key) end
  return {}
end

local function token_encode(key)
  return (key:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function token_decode(token)
  if type(token) ~= "string" or #token % 2 ~= 0 or token:find("[^%x]") then return nil end
  return (token:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

--- listObjectsV2: {Bucket[, Prefix, Delimiter, MaxKeys, StartAfter,
-- ContinuationToken]} -> {Contents, CommonPrefixes, IsTruncated, KeyCount,
-- MaxKeys, Name, Prefix, NextContinuationToken, ...}. At most MaxKeys
-- (default and limit 1000) keys and common prefixes per call.
function M.listObjectsV2(params, ctx)
  local b = backend_of(ctx)
  local bucket = required(params, "Bucket", "ListObjectsV2")
  local prefix = type(params.Prefix) == "string" and params.Prefix or ""
  local delim = type(params.Delimiter) == "string" and params.Delimiter ~= "" and params.Delimiter or nil
  local max = math.tointeger(params.MaxKeys) or 1000
  if max < 0 then max = 0 end
  if max > 1000 then max = 1000 end
  local after = type(params.StartAfter) == "string" and params.StartAfter or nil
  if params.ContinuationToken ~= nil then
    after = token_decode(params.ContinuationToken)
    if not after then
      errors.raise("S3.S3Exception", "The continuation token provided is incorrect (Service: S3, " ..
        "Status Code: 400, Request ID: " .. request_id("Token", bucket) .. ")")
    end
  end
  local iter, code, msg = b:list(bucket, { prefix = prefix, start_after = after })
  if not iter then M.fail(code, msg, bucket) end
  local contents, prefixes = setmetatable({}, array_mt), setmetatable({}, array_mt)
  local count, last, truncated = 0, nil, false
  local last_prefix
  while true do
    local key, info = iter()
    if not key then break end
    local rolled
    if delim then
      local at = key:find(delim, #prefix + 1, true)
      if at then rolled = key:sub(1, at + #delim - 1) end
    end
    if not (rolled and rolled == last_prefix) then
      if count >= max then
        truncated = true
        break
      end
      count = count + 1
      if rolled then
        last_prefix = rolled
        prefixes[#prefixes + 1] = { Prefix = rolled }
      else
        contents[#contents + 1] = { ETag = info.etag, Key = key, LastModified = M.date(info.mtime),
          Size = info.size, StorageClass = "STANDARD" }
      end
    end
    last = key
  end
  local out = { IsTruncated = truncated, KeyCount = count, MaxKeys = max, Name = bucket,
    Prefix = prefix }
  if #contents > 0 then out.Contents = contents end
  if #prefixes > 0 then out.CommonPrefixes = prefixes end
  if delim then out.Delimiter = delim end
  if params.StartAfter ~= nil then out.StartAfter = params.StartAfter end
  if params.ContinuationToken ~= nil then out.ContinuationToken = params.ContinuationToken end
  if truncated then
    -- every key up to the last one seen is accounted for (listed, or
    -- rolled up into a common prefix already given)
    out.NextContinuationToken = token_encode(last)
  end
  return out
end

for _, action in ipairs({ "getObject", "putObject", "listObjectsV2", "headObject", "deleteObject" }) do
  M.resources["arn:aws:states:::aws-sdk:s3:" .. action] = M[action]
end

return M
