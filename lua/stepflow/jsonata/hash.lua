--- $hash for JSONata: the digests of stepflow.util.digest (one pure-Lua
-- implementation for States.Hash and $hash), with JSONata's error
-- for an algorithm it does not know.
local M = {}

local digests

-- Algorithm names as AWS spells them -> the digest function's name.
local NAMES = {
  ["MD5"] = "md5", ["SHA-1"] = "sha1", ["SHA-256"] = "sha256",
  ["SHA-384"] = "sha384", ["SHA-512"] = "sha512",
}

--- Lowercase hex digest of data; raises a JSONata error for an unknown
-- algorithm.
function M.hex(data, alg)
  local name = NAMES[alg]
  if not name then
    error({ code = "D3137", value = alg,
      message = "Unsupported hash algorithm: " .. tostring(alg)
        .. " (supported: MD5, SHA-1, SHA-256, SHA-384, SHA-512)" }, 0)
  end
  digests = digests or require("stepflow.util.digest")
  return digests[name](data)
end

--- Raw digest bytes of data, or nil for an unknown algorithm.
function M.digest(data, alg)
  if not NAMES[alg] then return nil end
  return (M.hex(data, alg):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

return M
