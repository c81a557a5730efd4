-- stepflow.jsonata.signature: JSONata function signatures (<s-n?:s>) and
-- argument validation with T0410/T0411/T0412, as jsonata-js signature.js.
local values = require("stepflow.jsonata.values")

local M = {}

local array_names = { a = "arrays", b = "booleans", f = "functions", n = "numbers",
  o = "objects", s = "strings" }

local function fail(code, fields)
  fields.code = code
  error(values.decorate(fields), 0)
end

--- Type symbol of a value: s n b l a o f m.
local UNDEF = values.UNDEF

local function symbol_of(v)
  if v == nil or rawequal(v, UNDEF) then return "m" end
  if values.is_function(v) then return "f" end
  local t = type(v)
  if t == "string" then return "s" end
  if t == "number" then return "n" end
  if t == "boolean" then return "b" end
  if rawequal(v, values.null) then return "l" end
  if values.is_array(v) then return "a" end
  return "o"
end
M.symbol_of = symbol_of

local function set_of(chars)
  local s = {}
  for c in (chars or ""):gmatch(".") do s[c] = true end
  return s
end

local function closing(sig, start, open, close)
  local depth = 1
  local pos = start
  while pos < #sig do
    pos = pos + 1
    local c = sig:sub(pos, pos)
    if c == close then
      depth = depth - 1
      if depth == 0 then break end
    elseif c == open then
      depth = depth + 1
    end
  end
  return pos
end

-- Matches the argument symbols syms[pos..n] against params[pi..]; fills
-- counts[i] with the number of arguments each parameter takes (regex
-- semantics: greedy, backtracking). Returns true on a full match.
local function match(params, pi, syms, pos, n, counts)
  local p = params[pi]
  if p == nil then return pos > n end
  local set, mod = p.set, p.mod
  if mod == "+" then
    local k = 0
    while pos + k <= n and set[syms[pos + k]] do k = k + 1 end
    for c = k, 1, -1 do
      counts[pi] = c
      if match(params, pi + 1, syms, pos + c, n, counts) then return true end
    end
    return false
  end
  if pos <= n and set[syms[pos]] then
    counts[pi] = 1
    if match(params, pi + 1, syms, pos + 1, n, counts) then return true end
  end
  if mod == "?" then
    counts[pi] = 0
    return match(params, pi + 1, syms, pos, n, counts)
  end
  return false
end

-- Length of the longest prefix of syms matched by params[1..k] (nil if none).
local function prefix_len(params, k, syms, n)
  local best
  local function try(pi, pos)
    if pi > k then
      if not best or pos - 1 > best then best = pos - 1 end
      return
    end
    local p = params[pi]
    if p.mod == "+" then
      local c = 0
      while pos + c <= n and p.set[syms[pos + c]] do c = c + 1 end
      for j = c, 1, -1 do try(pi + 1, pos + j) end
      return
    end
    if pos <= n and p.set[syms[pos]] then try(pi + 1, pos + 1) end
    if p.mod == "?" then try(pi + 1, pos) end
  end
  try(1, 1)
  return best
end

--- Parses a signature string; returns a validator object.
function M.parse(sig)
  local params = {}
  local param = {}
  local prev = param
  local position = 2
  local function next_param()
    params[#params + 1] = param
    prev = param
    param = {}
  end
  while position <= #sig do
    local c = sig:sub(position, position)
    if c == ":" then break end
    if c == "s" or c == "n" or c == "b" or c == "l" or c == "o" then
      param.chars = c .. "m"
      param.type = c
      next_param()
    elseif c == "a" then
      param.chars = "asnblfom"
      param.type = c
      param.array = true
      next_param()
    elseif c == "f" then
      param.chars = "f"
      param.type = c
      next_param()
    elseif c == "j" then
      param.chars = "asnblom"
      param.type = c
      next_param()
    elseif c == "x" then
      param.chars = "asnblfom"
      param.type = c
      next_param()
    elseif c == "-" then
      prev.context = true
      prev.context_set = set_of(prev.chars)
      prev.mod = "?"
    elseif c == "?" or c == "+" then
      prev.mod = c
    elseif c == "(" then
      local e = closing(sig, position, "(", ")")
      local choice = sig:sub(position + 1, e - 1)
      if choice:find("<", 1, true) then
        fail("S0402", { value = choice, offset = position - 1 })
      end
      param.chars = choice .. "m"
      param.type = "(" .. choice .. ")"
      position = e
      next_param()
    elseif c == "<" then
      if prev.type == "a" or prev.type == "f" then
        local e = closing(sig, position, "<", ">")
        prev.subtype = sig:sub(position + 1, e - 1)
        position = e
      else
        fail("S0401", { value = prev.type, offset = position - 1 })
      end
    end
    position = position + 1
  end
  for _, p in ipairs(params) do p.set = set_of(p.chars) end
  local obj = { definition = sig, params = params }
  obj.validate = M.validate
  return obj
end

--- Validates args (a list with field n) against the signature; returns the
-- fixed-up argument list (with field n). context is the focus value;
-- token (the function's name) goes into the errors.
function M.validate(self, args, context, token)
  local params = self.params
  local n = args.n or #args
  local syms = {}
  for i = 1, n do syms[i] = symbol_of(args[i]) end
  local counts = {}
  if not match(params, 1, syms, 1, n, counts) then
    for k = 1, #params do
      local len = prefix_len(params, k, syms, n)
      if not len then
        local good = k == 1 and 0 or prefix_len(params, k - 1, syms, n) or 0
        fail("T0410", { value = args[good + 1], index = good + 1, token = token })
      end
    end
    local good = prefix_len(params, #params, syms, n) or 0
    fail("T0410", { value = args[good + 1], index = good + 1, token = token })
  end
  local out = {}
  local count = 0
  local arg_index = 1
  for i = 1, #params do
    local p = params[i]
    local c = counts[i]
    if c == 0 then
      if p.context and p.context_set then
        if p.context_set[symbol_of(context)] then
          count = count + 1
          out[count] = context
        else
          fail("T0411", { value = context, index = arg_index, token = token })
        end
      else
        count = count + 1
        out[count] = args[arg_index]
        arg_index = arg_index + 1
      end
    else
      for _ = 1, c do
        local single = syms[arg_index]
        local arg = args[arg_index]
        if p.type == "a" then
          if single == "m" then
            arg = nil
          else
            local ok = true
            local subtype = p.subtype
            if subtype ~= nil then
              if single ~= "a" and (c ~= 1 or single ~= subtype) then
                ok = false
              elseif single == "a" and #arg > 0 then
                local item = symbol_of(arg[1])
                if item ~= subtype:sub(1, 1) then
                  ok = false
                else
                  for j = 2, #arg do
                    if symbol_of(arg[j]) ~= item then ok = false break end
                  end
                end
              end
            end
            if not ok then
              fail("T0412", { value = arg, index = arg_index, type = array_names[subtype], token = token })
            end
            if single ~= "a" then arg = setmetatable({ arg }, values.array_mt) end
          end
        end
        count = count + 1
        out[count] = arg
        arg_index = arg_index + 1
      end
    end
  end
  out.n = count
  return out
end

return M
