-- stepflow.jsonata.tokenizer: the JSONata lexer (jsonata-js 2.0.6 rules).
-- Positions are 0-based byte offsets just past the token, as jsonata-js
-- reports them.
local M = {}

local operators = {
  ["."] = 75, ["["] = 80, ["]"] = 0, ["{"] = 70, ["}"] = 0, ["("] = 80,
  [")"] = 0, [","] = 0, ["@"] = 80, ["#"] = 80, [";"] = 80, [":"] = 80,
  ["?"] = 20, ["+"] = 50, ["-"] = 50, ["*"] = 60, ["/"] = 60, ["%"] = 60,
  ["|"] = 20, ["="] = 40, ["<"] = 40, [">"] = 40, ["^"] = 40, ["**"] = 60,
  [".."] = 20, [":="] = 10, ["!="] = 40, ["<="] = 40, [">="] = 40,
  ["~>"] = 40, ["and"] = 30, ["or"] = 25, ["in"] = 40, ["&"] = 50,
  ["!"] = 0, ["~"] = 0,
}
M.operators = operators

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b",
  f = "\f", n = "\n", r = "\r", t = "\t" }

local double = { [".."] = true, [":="] = true, ["!="] = true, [">="] = true,
  ["<="] = true, ["**"] = true, ["~>"] = true }

local function is_space(c)
  return c == " " or c == "\t" or c == "\n" or c == "\r" or c == "\v"
end

local function fail(code, position, token)
  error({ code = code, position = position, token = token }, 0)
end

--- Returns next(prefix) -> token {type, value, position} or nil at the end.
function M.new(path)
  local position = 0           -- 0-based offset of the next byte
  local length = #path
  local function at(i) return path:sub(i + 1, i + 1) end
  local function create(type_, value)
    return { type = type_, value = value, position = position }
  end

  local function scan_regex()
    local start = position
    local depth = 0
    local function closing(pos)
      if at(pos) == "/" and depth == 0 then
        local backslashes = 0
        while at(pos - (backslashes + 1)) == "\\" do
          backslashes = backslashes + 1
        end
        return backslashes % 2 == 0
      end
      return false
    end
    while position < length do
      local c = at(position)
      if closing(position) then
        local pattern = path:sub(start + 1, position)
        if pattern == "" then fail("S0301", position) end
        position = position + 1
        c = at(position)
        local fstart = position
        while c == "i" or c == "m" do
          position = position + 1
          c = at(position)
        end
        return { pattern = pattern, flags = path:sub(fstart + 1, position) }
      end
      if (c == "(" or c == "[" or c == "{") and at(position - 1) ~= "\\" then
        depth = depth + 1
      end
      if (c == ")" or c == "]" or c == "}") and at(position - 1) ~= "\\" then
        depth = depth - 1
      end
      position = position + 1
    end
    fail("S0302", position)
  end

  local next_token
  function next_token(prefix)
    if position >= length then return nil end
    local c = at(position)
    while position < length and is_space(c) do
      position = position + 1
      c = at(position)
    end
    if c == "/" and at(position + 1) == "*" then
      local comment_start = position
      position = position + 2
      c = at(position)
      while not (c == "*" and at(position + 1) == "/") do
        position = position + 1
        c = at(position)
        if position >= length then fail("S0106", comment_start) end
      end
      position = position + 2
      return next_token(prefix)
    end
    if prefix ~= true and c == "/" then
      position = position + 1
      return create("regex", scan_regex())
    end
    local two = path:sub(position + 1, position + 2)
    if double[two] then
      position = position + 2
      return create("operator", two)
    end
    if operators[c] then
      position = position + 1
      return create("operator", c)
    end
    if c == '"' or c == "'" then
      local quote = c
      position = position + 1
      local buf = {}
      while position < length do
        c = at(position)
        if c == "\\" then
          position = position + 1
          c = at(position)
          if escapes[c] then
            buf[#buf + 1] = escapes[c]
          elseif c == "u" then
            local hex = path:sub(position + 2, position + 5)
            if hex:match("^%x%x%x%x$") then
              local cp = tonumber(hex, 16)
              position = position + 4
              if cp >= 0xD800 and cp <= 0xDBFF and path:sub(position + 2, position + 3) == "\\u" then
                local lo = path:sub(position + 4, position + 7)
                if lo:match("^%x%x%x%x$") then
                  local lcp = tonumber(lo, 16)
                  if lcp >= 0xDC00 and lcp <= 0xDFFF then
                    cp = 0x10000 + (cp - 0xD800) * 0x400 + (lcp - 0xDC00)
                    position = position + 6
                  end
                end
              end
              buf[#buf + 1] = utf8.char(cp)
            else
              fail("S0104", position)
            end
          else
            fail("S0103", position, c)
          end
        elseif c == quote then
          position = position + 1
          return create("string", table.concat(buf))
        else
          local j = path:find("[\\" .. quote .. "]", position + 1)
          if not j then
            buf[#buf + 1] = path:sub(position + 1)
            position = length
            break
          end
          buf[#buf + 1] = path:sub(position + 1, j - 1)
          position = j - 2
        end
        position = position + 1
      end
      fail("S0101", position)
    end
    -- numbers: (0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?
    local num = path:match("^0", position + 1) or path:match("^[1-9]%d*", position + 1)
    if num then
      local frac = path:match("^%.%d+", position + 1 + #num)
      if frac then num = num .. frac end
      local exp = path:match("^[Ee][-+]?%d+", position + 1 + #num)
      if exp then num = num .. exp end
      local v = tonumber(num)
      if not frac and not exp and math.type(v) == "integer" then
        if v > 2^53 then v = v + 0.0 end
      else
        v = v + 0.0
      end
      if v ~= v or v == math.huge or v == -math.huge then
        fail("S0102", position, num)
      end
      position = position + #num
      return create("number", v)
    end
    if c == "`" then
      position = position + 1
      local e = path:find("`", position + 1, true)
      if e then
        local name = path:sub(position + 1, e - 1)
        position = e
        return create("name", name)
      end
      position = length
      fail("S0105", position)
    end
    local i = position
    while true do
      local ch = at(i)
      if i >= length or is_space(ch) or operators[ch] then
        if at(position) == "$" then
          local name = path:sub(position + 2, i)
          position = i
          return create("variable", name)
        end
        local name = path:sub(position + 1, i)
        position = i
        if name == "or" or name == "in" or name == "and" then
          return create("operator", name)
        elseif name == "true" then
          return create("value", true)
        elseif name == "false" then
          return create("value", false)
        elseif name == "null" then
          return create("value", "null")
        end
        if position == length and name == "" then return nil end
        return create("name", name)
      end
      i = i + 1
    end
  end
  return next_token
end

return M
