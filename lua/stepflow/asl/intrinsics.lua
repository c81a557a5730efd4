--- Intrinsic functions (`States.Format('{}', $.x)` ...) compiled to closures.
-- The argument syntax follows AWS: single-quoted strings with backslash
-- escapes (\' \{ \} \\ and \uXXXX), integers and decimals (negative,
-- exponent), true/false/null, paths ($..., $$..., $var...) and nested
-- calls, at most 10 calls deep. Whitespace may separate any two tokens.
local errors = require("stepflow.errors")
local json = require("stepflow.json")
local functions = require("stepflow.asl.intrinsics.functions")

local M = {}

local byte, sub, find, match, format =
  string.byte, string.sub, string.find, string.match, string.format
local concat = table.concat

local FUNCS = functions.table
local MAX_DEPTH = 10

--- Tells whether `text` looks like an intrinsic call, `States.Name(...)`.
-- @param text any value
-- @return boolean
function M.is_call(text)
  return type(text) == "string"
    and find(text, "^[ \t\n]*States%.[%w_]+[ \t\n]*%(.*%)[ \t\n]*$") ~= nil
end

-- "$.a.b[0]" -> "$['a']['b'][0]", the way AWS prints a path that matched
-- nothing; other paths are shown as written.
local function normalized(path)
  local root, rest = match(path, "^(%$)(.*)$")
  local out = { root }
  while rest ~= "" do
    local name, r = match(rest, "^%.([%w_]+)(.*)$")
    if name then
      out[#out + 1] = "['" .. name .. "']"
    else
      local idx
      idx, r = match(rest, "^(%[%d+%])(.*)$")
      if not idx then return path end
      out[#out + 1] = idx
    end
    rest = r
  end
  return concat(out)
end

local function missing_path(path)
  local e = errors.new(errors.Runtime, "Invalid path '" .. path
    .. "' : No results for path: " .. normalized(path))
  e.path = path
  e.state_prefix = true
  error(e, 0)
end

-- Parser -----------------------------------------------------------------
-- Every parse function takes the position and returns (node, next
-- position) or raises a parse error message (a string table) caught by
-- compile.

local ParseError = {}

local function perr(text, pos, what)
  error(setmetatable({ msg = format("%s at position %d in %s", what, pos, text) },
    ParseError), 0)
end

local function skip_ws(text, pos)
  local _, e = find(text, "^[ \t\n\r]+", pos)
  return e and e + 1 or pos
end

local DELIM = { [44] = true, [41] = true, [32] = true, [9] = true, [10] = true, [13] = true }

local function at_delim(text, pos)
  local c = byte(text, pos)
  return c == nil or DELIM[c] == true
end

-- A quoted string: returns its value and, for Format, the literal parts
-- around unescaped `{}` placeholders.
local function parse_string(text, pos)
  local buf, parts = {}, {}
  local i = pos + 1
  local n = #text
  while true do
    if i > n then perr(text, pos, "unterminated string") end
    local c = sub(text, i, i)
    if c == "'" then
      i = i + 1
      break
    elseif c == "\\" then
      local e = sub(text, i + 1, i + 1)
      if e == "" then perr(text, i, "unterminated escape") end
      if e == "u" and find(text, "^%x%x%x%x", i + 2) then
        local cp = tonumber(sub(text, i + 2, i + 5), 16)
        i = i + 6
        -- `\uD83D\uDE00` is one character (Java strings are UTF-16): a
        -- high surrogate escape followed by a low one makes one code point
        if cp >= 0xD800 and cp <= 0xDBFF and find(text, "^\\u[dD][c-fC-F]%x%x", i) then
          local lo = tonumber(sub(text, i + 2, i + 5), 16)
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          i = i + 6
        end
        buf[#buf + 1] = utf8.char(cp)
      else
        buf[#buf + 1] = e
        i = i + 2
      end
    elseif c == "{" and sub(text, i + 1, i + 1) == "}" then
      parts[#parts + 1] = concat(buf)
      buf = { }
      i = i + 2
    else
      buf[#buf + 1] = c
      i = i + 1
    end
  end
  parts[#parts + 1] = concat(buf)
  return { kind = "string", value = concat(parts, "{}"), parts = parts }, i
end

local function parse_number(text, pos)
  local _, e = find(text, "^%-?%d+", pos)
  if not e then perr(text, pos, "invalid number") end
  local is_float = false
  local _, e2 = find(text, "^%.%d+", e + 1)
  if e2 then e, is_float = e2, true end
  _, e2 = find(text, "^[eE][-+]?%d+", e + 1)
  if e2 then e, is_float = e2, true end
  if not at_delim(text, e + 1) then perr(text, e + 1, "invalid number") end
  local s = sub(text, pos, e)
  local v = tonumber(s)
  if is_float then v = v + 0.0 end
  -- 1e400 reads as an infinity, which no JSON value can hold: the call
  -- could only fail (or write a value no state can output)
  if v == math.huge or v == -math.huge then perr(text, pos, "number out of range") end
  return { kind = "literal", value = v }, e + 1
end

-- A path runs to the first delimiter outside brackets (filters and
-- quoted names inside brackets may hold commas, spaces and parentheses).
local function parse_path(text, pos)
  local i, n, depth, quote = pos, #text, 0, nil
  while i <= n do
    local c = byte(text, i)
    if quote then
      if c == 92 then i = i + 1 elseif c == quote then quote = nil end
    elseif c == 91 then depth = depth + 1
    elseif c == 93 then depth = depth - 1
    elseif depth > 0 and (c == 39 or c == 34) then quote = c
    elseif depth == 0 and DELIM[c] then break
    end
    i = i + 1
  end
  if depth ~= 0 or quote then perr(text, pos, "unbalanced brackets in path") end
  return { kind = "path", path = sub(text, pos, i - 1) }, i
end

local parse_call

local WORDS = { "true", "false", "null" }
local WORD_VALUE = { ["true"] = true, ["false"] = false, null = json.null }

local function parse_arg(text, pos, depth)
  local c = sub(text, pos, pos)
  if c == "'" then return parse_string(text, pos) end
  if c == "$" then return parse_path(text, pos) end
  if find(c, "^[%d%-]") then return parse_number(text, pos) end
  for _, word in ipairs(WORDS) do
    if sub(text, pos, pos + #word - 1) == word and at_delim(text, pos + #word) then
      return { kind = "literal", value = WORD_VALUE[word] }, pos + #word
    end
  end
  if find(text, "^States%.", pos) then return parse_call(text, pos, depth + 1) end
  if c == "" then perr(text, pos, "unexpected end of text") end
  perr(text, pos, "unexpected character '" .. c .. "'")
end

function parse_call(text, pos, depth)
  if depth > MAX_DEPTH then
    perr(text, pos, "intrinsic functions nested more than " .. MAX_DEPTH .. " deep")
  end
  local _, e, name = find(text, "^States%.([%w_]+)", pos)
  if not e then perr(text, pos, "expected 'States.<name>('") end
  local call = { kind = "call", name = name, args = {}, pos = pos }
  local i = skip_ws(text, e + 1)
  if sub(text, i, i) ~= "(" then perr(text, i, "expected '('") end
  i = skip_ws(text, i + 1)
  if sub(text, i, i) == ")" then return call, i + 1 end
  while true do
    local arg
    arg, i = parse_arg(text, i, depth)
    call.args[#call.args + 1] = arg
    i = skip_ws(text, i)
    local c = sub(text, i, i)
    if c == ")" then return call, i + 1 end
    if c ~= "," then perr(text, i, "expected ',' or ')'") end
    i = skip_ws(text, i + 1)
  end
end

-- Compiler -----------------------------------------------------------------

local compile_node

-- Literal arguments: a function for the general path, and the value
-- itself (CONST[f]) so that call sites pass it without a call.
local CONST = setmetatable({}, { __mode = "k" })

local function const(v)
  local f = function() return v end
  CONST[f] = { v }
  return f
end

local function compile_call(node, factory, text)
  local spec = FUNCS[node.name]
  if not spec then
    return nil, "unknown intrinsic function States." .. node.name
  end
  local n = #node.args
  local lo, hi = spec[1], spec[2]
  if n < lo or (hi and n > hi) then
    local want = hi == lo and tostring(lo)
      or hi and (lo .. " to " .. hi) or ("at least " .. lo)
    return nil, format("States.%s takes %s argument(s), got %d", node.name, want, n)
  end
  local argf = {}
  for i = 1, n do
    local f, err = compile_node(node.args[i], factory, text)
    if not f then return nil, err end
    argf[i] = f
  end
  local impl = spec[3]
  local first = node.args[1]
  if node.name == "Format" and first.kind == "string" then
    -- A literal template is split at compile time: `\{}` stays literal.
    local parts, format_parts = first.parts, functions.format_parts
    impl = function(a, k) return format_parts(parts, a, k) end
  end
  if n == 0 then
    return function() return impl({}, 0) end
  elseif n == 1 then
    -- One argument table per call site, reused: no function keeps it, and
    -- evaluating a call never re-enters its own site (nested calls are
    -- other sites).
    local f1, args = argf[1], {}
    return function(env)
      args[1] = f1(env)
      return impl(args, 1)
    end
  elseif n == 2 then
    local f1, f2, args = argf[1], argf[2], {}
    local c2 = CONST[f2]
    if c2 then
      -- e.g. States.MathAdd($.n, 1): the literal sits in the table for good
      args[2] = c2[1]
      return function(env)
        args[1] = f1(env)
        args[2] = c2[1]
        return impl(args, 2)
      end
    end
    return function(env)
      local a1 = f1(env)
      args[2] = f2(env)
      args[1] = a1
      return impl(args, 2)
    end
  end
  return function(env)
    local a = {}
    for i = 1, n do a[i] = argf[i](env) end
    return impl(a, n)
  end
end

function compile_node(node, factory, text)
  local kind = node.kind
  if kind == "call" then return compile_call(node, factory, text) end
  if kind == "string" or kind == "literal" then return const(node.value) end
  local get, err = factory(node.path)
  if not get then
    return nil, "invalid path '" .. node.path .. "' in " .. text .. ": " .. tostring(err)
  end
  local path = node.path
  return function(env)
    local v = get(env)
    if v == nil then missing_path(path) end
    return v
  end
end

--- Compiles an intrinsic function call.
-- @param text the call, e.g. "States.Format('{}', $.x)"
-- @param accessor_factory function(path) -> get(env) | nil, err
--   (in production `require("stepflow.asl.paths").accessor`)
-- @return fn(env) -> value (raises States.IntrinsicFailure for bad
--   arguments, States.Runtime with field `path` for a path that matches
--   nothing), or nil, message for a syntax error, an unknown function or
--   a wrong number of arguments
-- Compiled calls (or their errors) by factory and text: definitions repeat
-- the same calls, and the validator and the compiler compile each one. A
-- compiled call holds no per-use state, so it can be shared. Bounded: a
-- server compiles definitions for as long as it runs.
local compiled_cache = setmetatable({}, { __mode = "k" })
local new_cache = require("stepflow.util.cache").new

function M.compile(text, accessor_factory)
  if type(text) ~= "string" then
    error("stepflow.asl.intrinsics.compile: text must be a string", 2)
  end
  if type(accessor_factory) ~= "function" then
    error("stepflow.asl.intrinsics.compile: accessor_factory must be a function", 2)
  end
  local by_text = compiled_cache[accessor_factory]
  if not by_text then
    by_text = new_cache(1000)
    compiled_cache[accessor_factory] = by_text
  end
  local hit = by_text:get(text)
  if hit then return hit[1], hit[2] end
  local fn, err = M.compile_uncached(text, accessor_factory)
  by_text:put(text, { fn, err })
  return fn, err
end

--- Compiles without the cache (see compile).
function M.compile_uncached(text, accessor_factory)
  local ok, node = pcall(function()
    local p = skip_ws(text, 1)
    local call, e = parse_call(text, p, 1)
    e = skip_ws(text, e)
    if e <= #text then perr(text, e, "unexpected text after the call") end
    return call
  end)
  if not ok then
    if getmetatable(node) == ParseError then return nil, node.msg end
    error(node, 0)
  end
  return compile_node(node, accessor_factory, text)
end

return M
