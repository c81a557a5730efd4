--- SigV4 signing for the console specs, written from AWS's description
-- apart from the page's sigv4.js (so each checks the other against the
-- server's verifier): the headers of a POST with host and x-amz-date
-- signed, plus any x-amz-* headers given.
local sigv4 = require("stepflow.server.sigv4")
local digest = require("stepflow.util.digest")

local M = {}

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- Headers (name -> value) that sign `POST path` to `host` with `body`.
-- opts: key, secret, region (us-east-1), headers (x-amz-* to sign too),
-- time (epoch seconds; now).
function M.headers(host, path, body, opts)
  local amz = os.date("!%Y%m%dT%H%M%SZ", opts.time or os.time())
  local day = amz:sub(1, 8)
  local region = opts.region or "us-east-1"
  local signed = { host = host, ["x-amz-date"] = amz }
  for k, v in pairs(opts.headers or {}) do signed[k:lower()] = v end
  local names = {}
  for k in pairs(signed) do names[#names + 1] = k end
  table.sort(names)
  local lines = {}
  for i, k in ipairs(names) do lines[i] = k .. ":" .. signed[k] end
  local canonical = "POST\n" .. path .. "\n\n" .. table.concat(lines, "\n") .. "\n\n" .. table.concat(names, ";")
    .. "\n" .. digest.sha256(body)
  local scope = day .. "/" .. region .. "/states/aws4_request"
  local to_sign = "AWS4-HMAC-SHA256\n" .. amz .. "\n" .. scope .. "\n" .. digest.sha256(canonical)
  local k = sigv4.hmac(sigv4.hmac(sigv4.hmac(sigv4.hmac("AWS4" .. opts.secret, day), region), "states"),
    "aws4_request")
  local out = { ["X-Amz-Date"] = amz, Authorization = "AWS4-HMAC-SHA256 Credential=" .. opts.key .. "/" .. scope
    .. ", SignedHeaders=" .. table.concat(names, ";") .. ", Signature=" .. hex(sigv4.hmac(k, to_sign)) }
  for k2, v in pairs(opts.headers or {}) do out[k2] = v end
  return out
end

return M
