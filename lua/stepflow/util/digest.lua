--- Pure-Lua digests and base64, shared by the ASL intrinsics (States.Hash,
-- States.Base64*) and JSONata ($hash).
-- MD5, SHA-1 and SHA-256 work on 32-bit words held in 64-bit integers
-- (masked); SHA-384/512 use Lua 5.4's wrapping 64-bit integers directly.
local M = {}

local byte, char, rep, format = string.byte, string.char, string.rep, string.format
local spack, sunpack = string.pack, string.unpack
local concat = table.concat

local MASK = 0xffffffff

local function rol32(x, n)
  return ((x << n) | (x >> (32 - n))) & MASK
end

local function ror32(x, n)
  return ((x >> n) | (x << (32 - n))) & MASK
end

-- Pads a message per MD5/SHA-1/SHA-2 (block 64 or 128 bytes); `le` picks
-- the little-endian length of MD5.
local function pad(msg, block, le)
  local len = #msg
  local lenfield = block == 128 and 16 or 8
  local zeros = (block - (len + 1 + lenfield) % block) % block
  local bits = len * 8
  local tail
  if le then
    tail = spack("<I8", bits)
  elseif lenfield == 16 then
    tail = rep("\0", 8) .. spack(">I8", bits)
  else
    tail = spack(">I8", bits)
  end
  return msg .. "\128" .. rep("\0", zeros) .. tail
end

local function hex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

-- MD5 (RFC 1321) --------------------------------------------------------

local MD5_K, MD5_S = {}, {
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
}
for i = 0, 63 do
  MD5_K[i + 1] = math.floor(math.abs(math.sin(i + 1)) * 2 ^ 32) & MASK
end

function M.md5(msg)
  msg = pad(msg, 64, true)
  local a0, b0, c0, d0 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
  local w = {}
  for off = 1, #msg, 64 do
    for i = 0, 15 do
      w[i] = sunpack("<I4", msg, off + i * 4)
    end
    local a, b, c, d = a0, b0, c0, d0
    for i = 0, 63 do
      local f, g
      if i < 16 then
        f = (b & c) | (~b & d); g = i
      elseif i < 32 then
        f = (d & b) | (~d & c); g = (5 * i + 1) % 16
      elseif i < 48 then
        f = b ~ c ~ d; g = (3 * i + 5) % 16
      else
        f = c ~ (b | (~d & MASK)); g = (7 * i) % 16
      end
      f = (f + a + MD5_K[i + 1] + w[g]) & MASK
      a, d, c = d, c, b
      b = (b + rol32(f, MD5_S[i + 1])) & MASK
    end
    a0 = (a0 + a) & MASK; b0 = (b0 + b) & MASK
    c0 = (c0 + c) & MASK; d0 = (d0 + d) & MASK
  end
  return hex(spack("<I4I4I4I4", a0, b0, c0, d0))
end

-- SHA-1 (FIPS 180-4) -----------------------------------------------------

function M.sha1(msg)
  msg = pad(msg, 64, false)
  local h0, h1, h2, h3, h4 =
    0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
  local w = {}
  for off = 1, #msg, 64 do
    for i = 0, 15 do
      w[i] = sunpack(">I4", msg, off + i * 4)
    end
    for i = 16, 79 do
      w[i] = rol32(w[i - 3] ~ w[i - 8] ~ w[i - 14] ~ w[i - 16], 1)
    end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then
        f = (b & c) | ((~b & MASK) & d); k = 0x5a827999
      elseif i < 40 then
        f = b ~ c ~ d; k = 0x6ed9eba1
      elseif i < 60 then
        f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc
      else
        f = b ~ c ~ d; k = 0xca62c1d6
      end
      local t = (rol32(a, 5) + f + e + k + w[i]) & MASK
      e, d, c, b, a = d, c, rol32(b, 30), a, t
    end
    h0 = (h0 + a) & MASK; h1 = (h1 + b) & MASK; h2 = (h2 + c) & MASK
    h3 = (h3 + d) & MASK; h4 = (h4 + e) & MASK
  end
  return hex(spack(">I4I4I4I4I4", h0, h1, h2, h3, h4))
end

-- SHA-256 ----------------------------------------------------------------

local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

function M.sha256(msg)
  msg = pad(msg, 64, false)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local w = {}
  for off = 1, #msg, 64 do
    for i = 0, 15 do
      w[i] = sunpack(">I4", msg, off + i * 4)
    end
    for i = 16, 63 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = ror32(x, 7) ~ ror32(x, 18) ~ (x >> 3)
      local s1 = ror32(y, 17) ~ ror32(y, 19) ~ (y >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & MASK
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 63 do
      local S1 = ror32(e, 6) ~ ror32(e, 11) ~ ror32(e, 25)
      local ch = (e & f) ~ ((~e & MASK) & g)
      local t1 = (hh + S1 + ch + K256[i + 1] + w[i]) & MASK
      local S0 = ror32(a, 2) ~ ror32(a, 13) ~ ror32(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & MASK
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & MASK, c, b, a, (t1 + t2) & MASK
    end
    h[1] = (h[1] + a) & MASK; h[2] = (h[2] + b) & MASK
    h[3] = (h[3] + c) & MASK; h[4] = (h[4] + d) & MASK
    h[5] = (h[5] + e) & MASK; h[6] = (h[6] + f) & MASK
    h[7] = (h[7] + g) & MASK; h[8] = (h[8] + hh) & MASK
  end
  return hex(spack(">I4I4I4I4I4I4I4I4", h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]))
end

-- SHA-512 / SHA-384 (64-bit words; Lua integer arithmetic wraps) ---------

local K512 = {
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
  0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
  0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
  0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
  0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
  0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
  0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
  0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
  0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
  0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
  0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
  0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
  0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
  0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
  0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
  0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
  0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
}

local function ror64(x, n)
  return (x >> n) | (x << (64 - n))
end

local function sha512_core(msg, h, out_words)
  msg = pad(msg, 128, false)
  local w = {}
  for off = 1, #msg, 128 do
    for i = 0, 15 do
      w[i] = sunpack(">i8", msg, off + i * 8)
    end
    for i = 16, 79 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = ror64(x, 1) ~ ror64(x, 8) ~ (x >> 7)
      local s1 = ror64(y, 19) ~ ror64(y, 61) ~ (y >> 6)
      w[i] = w[i - 16] + s0 + w[i - 7] + s1
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 79 do
      local S1 = ror64(e, 14) ~ ror64(e, 18) ~ ror64(e, 41)
      local ch = (e & f) ~ (~e & g)
      local t1 = hh + S1 + ch + K512[i + 1] + w[i]
      local S0 = ror64(a, 28) ~ ror64(a, 34) ~ ror64(a, 39)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      hh, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + S0 + maj
    end
    h[1] = h[1] + a; h[2] = h[2] + b; h[3] = h[3] + c; h[4] = h[4] + d
    h[5] = h[5] + e; h[6] = h[6] + f; h[7] = h[7] + g; h[8] = h[8] + hh
  end
  local parts = {}
  for i = 1, out_words do parts[i] = spack(">i8", h[i]) end
  return hex(concat(parts))
end

function M.sha512(msg)
  return sha512_core(msg, {
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
  }, 8)
end

function M.sha384(msg)
  return sha512_core(msg, {
    0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
    0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
  }, 6)
end

-- Base64 (RFC 4648, with padding, as java.util.Base64) -------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ENC, DEC = {}, {}
for i = 1, 64 do
  ENC[i - 1] = B64:sub(i, i)
  DEC[byte(B64, i)] = i - 1
end

function M.base64_encode(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a << 16 | b << 8 | c
    out[#out + 1] = ENC[v >> 18] .. ENC[v >> 12 & 63] .. ENC[v >> 6 & 63] .. ENC[v & 63]
  end
  local r = n % 3
  if r == 1 then
    local v = byte(s, n) << 16
    out[#out + 1] = ENC[v >> 18] .. ENC[v >> 12 & 63] .. "=="
  elseif r == 2 then
    local a, b = byte(s, n - 1, n)
    local v = a << 16 | b << 8
    out[#out + 1] = ENC[v >> 18] .. ENC[v >> 12 & 63] .. ENC[v >> 6 & 63] .. "="
  end
  return concat(out)
end

--- Decodes base64; returns nil when the text is not valid base64
-- (wrong alphabet, length or padding), as java.util.Base64 rejects it.
function M.base64_decode(s)
  local n = #s
  if n % 4 ~= 0 then return nil end
  local out = {}
  for i = 1, n, 4 do
    local c1, c2, c3, c4 = byte(s, i, i + 3)
    local a, b = DEC[c1], DEC[c2]
    if not a or not b then return nil end
    if c4 == 61 then -- '='
      if i + 3 ~= n then return nil end
      if c3 == 61 then
        out[#out + 1] = char(a << 2 | b >> 4)
      else
        local c = DEC[c3]
        if not c then return nil end
        out[#out + 1] = char(a << 2 | b >> 4, (b & 15) << 4 | c >> 2)
      end
    else
      local c, d = DEC[c3], DEC[c4]
      if not c or not d then return nil end
      out[#out + 1] = char(a << 2 | b >> 4, (b & 15) << 4 | c >> 2, (c & 3) << 6 | d)
    end
  end
  return concat(out)
end

return M
