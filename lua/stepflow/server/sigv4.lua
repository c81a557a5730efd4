--- AWS Signature Version 4 verification of API requests (`stepflow serve
-- --credentials FILE`), and signing (the command line's requests to a
-- server), refusing what AWS refuses with AWS's codes:
-- unsigned requests (MissingAuthenticationTokenException), malformed
-- Authorization headers (IncompleteSignatureException), unknown access
-- keys (UnrecognizedClientException), wrong or expired signatures
-- (InvalidSignatureException).
local hash = require("stepflow.util.digest")

local M = {}

local byte, char, rep = string.byte, string.char, string.rep
local concat = table.concat

local function unhex(h)
  return (h:gsub("..", function(x) return char(tonumber(x, 16)) end))
end

local function sha256(s) return hash.sha256(s) end

local function xor_with(key, pad)
  local out = {}
  for i = 1, 64 do out[i] = char(byte(key, i) ~ pad) end
  return concat(out)
end

-- HMAC-SHA256 (RFC 2104), binary result.
local function hmac(key, msg)
  if #key > 64 then key = unhex(sha256(key)) end
  key = key .. rep("\0", 64 - #key)
  return unhex(sha256(xor_with(key, 0x5c) .. unhex(sha256(xor_with(key, 0x36) .. msg))))
end
M.hmac = hmac

--- Reads a credentials file: lines `ACCESS_KEY_ID SECRET_ACCESS_KEY`
-- (blank lines and `#` comments skipped), or the AWS CLI's INI format
-- (`aws_access_key_id = ...` and `aws_secret_access_key = ...` in each
-- section). Returns access key id -> secret, or nil, message.
function M.load(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local keys, pending_id, pending_secret, n = {}, nil, nil, 0
  local function flush()
    if pending_id and pending_secret then
      keys[pending_id] = pending_secret
      n = n + 1
    end
    pending_id, pending_secret = nil, nil
  end
  for line in f:lines() do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    if line:find("^%[") then
      flush()
    elseif line ~= "" and not line:find("^[#;]") then
      local k, v = line:match("^([%w_]+)%s*=%s*(.-)$")
      if k == "aws_access_key_id" then
        pending_id = v
      elseif k == "aws_secret_access_key" then
        pending_secret = v
      elseif not k then
        local id, secret = line:match("^(%S+)%s+(%S+)$")
        if not id then
          f:close()
          return nil, path .. ": a line is neither 'ACCESS_KEY_ID SECRET' nor an INI key"
        end
        keys[id] = secret
        n = n + 1
      end
    end
    if pending_id and pending_secret then flush() end
  end
  f:close()
  flush()
  if n == 0 then return nil, path .. ": no credentials in it" end
  return keys
end

local MISMATCH = "The request signature we calculated does not match the signature you provided. "
  .. "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

-- "20240102T030405Z" -> epoch seconds, or nil.
local function parse_amz_date(s)
  local y, mo, d, h, mi, se = (s or ""):match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from the civil date (proleptic Gregorian), no os.time time zones
  local yy = mo <= 2 and y - 1 or y
  local era = yy // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end

--- A verifier for `credentials` (access key id -> secret): a function
-- (req, body) -> nil when the request is well signed, or its error code
-- and message. `loop` gives the time (signatures older or newer than 15
-- minutes are refused, as AWS does).
function M.verifier(credentials, loop)
  local key_cache = {}
  return function(req, body)
    local auth = req:header("authorization")
    if not auth then return "MissingAuthenticationTokenException", "Missing Authentication Token" end
    local akid, scope_date, region, service, signed, signature = auth:match(
      "^AWS4%-HMAC%-SHA256%s+Credential=([^/,%s]+)/(%d+)/([^/,%s]+)/([^/,%s]+)/aws4_request%s*,%s*"
      .. "SignedHeaders=([^,%s]+)%s*,%s*Signature=(%x+)%s*$")
    if not akid then
      return "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and "
        .. "'SignedHeaders' parameters of AWS4-HMAC-SHA256: '" .. auth .. "'"
    end
    local secret = credentials[akid]
    if not secret then
      return "UnrecognizedClientException", "The security token included in the request is invalid."
    end
    local amz_date = req:header("x-amz-date")
    local t = parse_amz_date(amz_date)
    if not t or amz_date:sub(1, 8) ~= scope_date then
      return "IncompleteSignatureException", "Date must be in ISO-8601 'basic format' and match the credential scope"
    end
    local now = loop:now() // 1000
    if math.abs(now - t) > 900 then
      return "InvalidSignatureException", "Signature expired: " .. amz_date .. " is now earlier or later than "
        .. "15 minutes from the current time"
    end
    local names, lines = {}, {}
    for name in signed:gmatch("[^;]+") do names[#names + 1] = name end
    for i, name in ipairs(names) do
      local v = req:header(name)
      if v == nil then return "InvalidSignatureException", MISMATCH end
      lines[i] = name .. ":" .. v:gsub("%s+", " ")
    end
    local payload = req:header("x-amz-content-sha256")
    if not payload or payload == "UNSIGNED-PAYLOAD" then payload = sha256(body) end
    local canonical = req:method() .. "\n" .. req:target():gsub("%?.*$", "") .. "\n" ..
      (req:target():match("%?(.*)$") or "") .. "\n" .. concat(lines, "\n") .. "\n\n" .. signed .. "\n" .. payload
    local scope = scope_date .. "/" .. region .. "/" .. service .. "/aws4_request"
    local to_sign = "AWS4-HMAC-SHA256\n" .. amz_date .. "\n" .. scope .. "\n" .. sha256(canonical)
    local ck = akid .. "/" .. scope
    local k = key_cache[ck]
    if not k then
      k = hmac(hmac(hmac(hmac("AWS4" .. secret, scope_date), region), service), "aws4_request")
      key_cache = { [ck] = k }  -- the key of one scope at a time: bounded
    end
    local expected = hmac(k, to_sign):gsub(".", function(c) return string.format("%02x", byte(c)) end)
    if expected ~= signature:lower() then return "InvalidSignatureException", MISMATCH end
    return nil
  end
end

local function hex(bin)
  return (bin:gsub(".", function(c) return string.format("%02x", byte(c)) end))
end

--- Signs a `POST /` API request: `headers` is a list of {name, value}
-- pairs that includes Host and X-Amz-Target (names in lower case);
-- x-amz-date, x-amz-content-sha256 and authorization are added. opts:
-- access_key, secret_key, region, service ("states"), time (epoch
-- seconds; default now). Returns the headers.
function M.sign(headers, body, opts)
  local t = opts.time or os.time()
  local amz_date = os.date("!%Y%m%dT%H%M%SZ", t)
  local day = amz_date:sub(1, 8)
  local payload = sha256(body)
  headers[#headers + 1] = { "x-amz-date", amz_date }
  headers[#headers + 1] = { "x-amz-content-sha256", payload }
  local sorted = {}
  for i, h in ipairs(headers) do sorted[i] = h end
  table.sort(sorted, function(a, b) return a[1] < b[1] end)
  local names, lines = {}, {}
  for i, h in ipairs(sorted) do
    names[i] = h[1]
    lines[i] = h[1] .. ":" .. h[2]:gsub("%s+", " ")
  end
  local signed = concat(names, ";")
  local canonical = "POST\n/\n\n" .. concat(lines, "\n") .. "\n\n" .. signed .. "\n" .. payload
  local scope = day .. "/" .. opts.region .. "/" .. (opts.service or "states") .. "/aws4_request"
  local to_sign = "AWS4-HMAC-SHA256\n" .. amz_date .. "\n" .. scope .. "\n" .. sha256(canonical)
  local k = hmac(hmac(hmac(hmac("AWS4" .. opts.secret_key, day), opts.region), opts.service or "states"),
    "aws4_request")
  headers[#headers + 1] = { "authorization", "AWS4-HMAC-SHA256 Credential=" .. opts.access_key .. "/" .. scope
    .. ", SignedHeaders=" .. signed .. ", Signature=" .. hex(hmac(k, to_sign)) }
  return headers
end

return M
