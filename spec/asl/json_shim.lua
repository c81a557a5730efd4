-- TEMPORARY: a small pure-Lua stand-in for stepflow.json, used by the
-- spec/asl specs only until the C codec lands. Same value model:
-- json.null lightuserdata-like sentinel, arrays with json.array_mt.
local M = {}
M.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })
M.array_mt = { __name = "stepflow.array" }
function M.array(t) return setmetatable(t, M.array_mt) end
function M.is_array(t) return getmetatable(t) == M.array_mt end

local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

function M.decode(s)
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local function fail(what) error(("json: expected %s at byte %d"):format(what, pos), 0) end
  local value
  local function str()
    pos = pos + 1
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("'\"'") end
      if c == '"' then pos = pos + 1; break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then
          local cp = tonumber(s:sub(pos + 2, pos + 5), 16)
          pos = pos + 6
          if cp >= 0xD800 and cp < 0xDC00 and s:sub(pos, pos + 1) == "\\u" then
            local lo = tonumber(s:sub(pos + 2, pos + 5), 16)
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8.char(cp)
        else
          out[#out + 1] = escapes[e] or fail("escape")
          pos = pos + 2
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local t = {}
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("string") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("':'") end
        pos = pos + 1
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then fail("',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local t = M.array({})
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then fail("',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:find("^true", pos) then pos = pos + 4; return true
    elseif s:find("^false", pos) then pos = pos + 5; return false
    elseif s:find("^null", pos) then pos = pos + 4; return M.null
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("value") end
      pos = pos + #num
      if num:find("[.eE]") then return tonumber(num) + 0.0 end
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  local v = value()
  ws()
  if pos <= #s then fail("end of text") end
  return v
end

local function enc(v, out)
  local t = type(v)
  if v == M.null or v == nil then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "number" then
    if math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else
      local s = ("%.17g"):format(v)
      for p = 1, 17 do
        local c = ("%." .. p .. "g"):format(v)
        if tonumber(c) == v then s = c; break end
      end
      out[#out + 1] = s
    end
  elseif t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      for k, e in pairs(escapes) do if e == c and k ~= "/" then return "\\" .. k end end
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif M.is_array(v) or (next(v) ~= nil and #v > 0) then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      enc(v[i], out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      enc(k, out)
      out[#out + 1] = ":"
      enc(v[k], out)
    end
    out[#out + 1] = "}"
  end
end

function M.encode(v)
  local out = {}
  enc(v, out)
  return table.concat(out)
end

--- Installs the shim as stepflow.json unless the real module loads.
function M.install()
  local ok, real = pcall(require, "stepflow.json")
  if ok then return real end
  package.loaded["stepflow.json"] = M
  return M
end

return M
