--- ECMAScript regular expressions for JSONata, on UTF-8 strings.
-- The pattern is parsed to a tree, compiled once to instructions for a
-- backtracking machine with an explicit stack (no recursion per character,
-- so long subjects cannot overflow the C stack), and run on code points.
-- Flags: i (case-insensitive), m (multiline), s (dotAll); g and u are
-- accepted and change nothing else ("\u{...}" is always understood).
-- A bad pattern raises {code = "S0303", message = ...}: jsonata-js has no
-- code for it (JavaScript throws a SyntaxError).
local M = {}

-- Backtracking can take time exponential in the subject's length
-- ((a+)+b on "aaaa...c"): every 4096 steps the machine calls
-- values.check_limits, so the running evaluation's time and memory
-- limits stop it (a regex used outside an evaluation runs unbounded, as
-- JavaScript's does).
local check_limits = require("stepflow.jsonata.values").check_limits
local STEPS_PER_CHECK = 4096

local utf8_char = utf8.char
local concat = table.concat

local function syntax_error(pattern, reason)
  error({ code = "S0303", value = pattern,
    message = "Invalid regular expression: /" .. pattern .. "/: " .. reason }, 0)
end

-- Code points with the byte offset of each; a byte that does not start a
-- valid sequence stands for itself.
local decode = require("stepflow.util.utf8").decode
M.decode = decode

-- Canonical case (ECMAScript Canonicalize without the u flag): upper case,
-- for ASCII, Latin-1, Greek and Cyrillic letters.
local function canon(c)
  if c < 97 then return c end
  if c <= 122 then return c - 32 end
  if c < 0xE0 then return c end
  if c <= 0xFE then return c == 0xF7 and c or c - 32 end
  if c == 0xFF then return 0x178 end
  if c >= 0x3B1 and c <= 0x3C9 then return c == 0x3C2 and 0x3A3 or c - 32 end
  if c >= 0x430 and c <= 0x44F then return c - 32 end
  if c >= 0x450 and c <= 0x45F then return c - 80 end
  return c
end

local function lower(c)
  if c >= 65 and c <= 90 then return c + 32 end
  if c >= 0xC0 and c <= 0xDE and c ~= 0xD7 then return c + 32 end
  if c >= 0x391 and c <= 0x3A9 then return c + 32 end
  if c >= 0x410 and c <= 0x42F then return c + 32 end
  if c >= 0x400 and c <= 0x40F then return c + 80 end
  return c
end

local function is_word(c)
  return c and ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or
    (c >= 97 and c <= 122) or c == 95)
end

local function is_space(c)
  return c == 32 or (c >= 9 and c <= 13) or c == 0xA0 or c == 0x1680 or
    (c >= 0x2000 and c <= 0x200A) or c == 0x2028 or c == 0x2029 or
    c == 0x202F or c == 0x205F or c == 0x3000 or c == 0xFEFF
end

local function is_digit(c) return c >= 48 and c <= 57 end

local function is_line_term(c)
  return c == 10 or c == 13 or c == 0x2028 or c == 0x2029
end

local CLASS_FN = {
  d = is_digit, D = function(c) return not is_digit(c) end,
  w = is_word, W = function(c) return not is_word(c) end,
  s = is_space, S = function(c) return not is_space(c) end,
}

-- ---------------------------------------------------------------------
-- Parser: pattern code points -> tree.

local P = {}
P.__index = P

local function cp_of(ch) return string.byte(ch) end

function P:peek(k) return self.cps[self.i + (k or 0)] end

function P:eat(ch)
  if self.cps[self.i] == cp_of(ch) then self.i = self.i + 1; return true end
  return false
end

function P:fail(reason) syntax_error(self.source, reason) end

local function hexval(c)
  if not c then return nil end
  if c >= 48 and c <= 57 then return c - 48 end
  if c >= 65 and c <= 70 then return c - 55 end
  if c >= 97 and c <= 102 then return c - 87 end
  return nil
end

-- Reads `count` hex digits at the cursor, or returns nil without moving.
function P:hex(count)
  local v = 0
  for k = 0, count - 1 do
    local h = hexval(self:peek(k))
    if not h then return nil end
    v = v * 16 + h
  end
  self.i = self.i + count
  return v
end

function P:decimal()
  local v, start = 0, self.i
  while self:peek() and is_digit(self:peek()) do
    v = v * 10 + (self:peek() - 48)
    self.i = self.i + 1
  end
  if self.i == start then return nil end
  return v
end

-- An escape after the backslash that stands for one character (shared by
-- atoms and classes); returns the code point.
function P:char_escape(in_class)
  local c = self:peek()
  self.i = self.i + 1
  if c == 110 then return 10 end            -- \n
  if c == 114 then return 13 end            -- \r
  if c == 116 then return 9 end             -- \t
  if c == 102 then return 12 end            -- \f
  if c == 118 then return 11 end            -- \v
  if c == 98 and in_class then return 8 end -- [\b]
  if c == 48 and not (self:peek() and is_digit(self:peek())) then return 0 end
  if c == 99 then                           -- \cX
    local x = self:peek()
    if x and ((x >= 65 and x <= 90) or (x >= 97 and x <= 122)) then
      self.i = self.i + 1
      return x % 32
    end
    self.i = self.i - 1
    return 92                               -- a literal backslash
  end
  if c == 120 then                          -- \xHH
    return self:hex(2) or 120
  end
  if c == 117 then                          -- \uHHHH, \u{H...}
    if self:peek() == 123 then
      local save = self.i
      self.i = self.i + 1
      local v, nd = 0, 0
      while hexval(self:peek()) do
        v = v * 16 + hexval(self:peek()); nd = nd + 1; self.i = self.i + 1
      end
      if nd > 0 and self:eat("}") and v <= 0x10FFFF then return v end
      self.i = save
      return 117
    end
    local v = self:hex(4)
    if not v then return 117 end
    if v >= 0xD800 and v <= 0xDBFF and self:peek() == 92 and self:peek(1) == 117 then
      local save = self.i
      self.i = self.i + 2
      local lo = self:hex(4)
      if lo and lo >= 0xDC00 and lo <= 0xDFFF then
        return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
      end
      self.i = save
    end
    return v
  end
  if c >= 48 and c <= 55 then              -- legacy octal: \07, [\101]
    local v = c - 48
    for _ = 1, 2 do
      local d = self:peek()
      if d and d >= 48 and d <= 55 and v * 8 + d - 48 <= 255 then
        v = v * 8 + d - 48; self.i = self.i + 1
      end
    end
    return v
  end
  return c                                  -- identity escape
end

function P:class()
  -- the '[' has been read
  local neg = self:eat("^")
  local ranges, fns = {}, {}
  local function atom()
    local c = self:peek()
    if c == nil then self:fail("Unterminated character class") end
    self.i = self.i + 1
    if c == 92 then
      local e = self:peek()
      if e == nil then self:fail("\\ at end of pattern") end
      if e and CLASS_FN[utf8_char(e)] then
        self.i = self.i + 1
        return nil, CLASS_FN[utf8_char(e)]
      end
      return self:char_escape(true)
    end
    return c
  end
  while true do
    local c = self:peek()
    if c == nil then self:fail("Unterminated character class") end
    if c == 93 then self.i = self.i + 1; break end
    local lo, fn = atom()
    if self:peek() == 45 and self:peek(1) and self:peek(1) ~= 93 then
      self.i = self.i + 1
      local hi, fn2 = atom()
      if fn or fn2 then            -- Annex B: [\d-z] is \d, '-' and 'z'
        if fn then fns[#fns + 1] = fn else ranges[#ranges + 1] = { lo, lo } end
        ranges[#ranges + 1] = { 45, 45 }
        if fn2 then fns[#fns + 1] = fn2 else ranges[#ranges + 1] = { hi, hi } end
      else
        if lo > hi then self:fail("Range out of order in character class") end
        ranges[#ranges + 1] = { lo, hi }
      end
    elseif fn then
      fns[#fns + 1] = fn
    else
      ranges[#ranges + 1] = { lo, lo }
    end
  end
  return { type = "set", ranges = ranges, fns = fns, neg = neg }
end

function P:atom()
  local c = self:peek()
  if c == 40 then                                 -- (
    self.i = self.i + 1
    local node
    if self:eat("?") then
      if self:eat(":") then
        node = { type = "group", body = self:disjunction() }
      elseif self:eat("=") then
        node = { type = "look", body = self:disjunction() }
      elseif self:eat("!") then
        node = { type = "look", neg = true, body = self:disjunction() }
      elseif self:peek() == 60 and (self:peek(1) == 61 or self:peek(1) == 33) then
        local neg = self:peek(1) == 33
        self.i = self.i + 2
        node = { type = "look", behind = true, neg = neg, body = self:disjunction() }
      elseif self:eat("<") then
        local start = self.i
        while self:peek() and self:peek() ~= 62 do self.i = self.i + 1 end
        if not self:eat(">") or self.i - 1 == start then self:fail("Invalid capture group name") end
        local name = {}
        for k = start, self.i - 2 do name[#name + 1] = utf8_char(self.cps[k]) end
        self.ngroups = self.ngroups + 1
        local idx = self.ngroups
        name = concat(name)
        if self.names[name] then self:fail("Duplicate capture group name") end
        self.names[name] = idx
        node = { type = "group", idx = idx, body = self:disjunction() }
      else
        self:fail("Invalid group")
      end
    else
      self.ngroups = self.ngroups + 1
      local idx = self.ngroups
      node = { type = "group", idx = idx, body = self:disjunction() }
    end
    if not self:eat(")") then self:fail("Unterminated group") end
    return node
  elseif c == 91 then                             -- [
    self.i = self.i + 1
    return self:class()
  elseif c == 46 then                             -- .
    self.i = self.i + 1
    return { type = "any" }
  elseif c == 94 then self.i = self.i + 1; return { type = "bol" }
  elseif c == 36 then self.i = self.i + 1; return { type = "eol" }
  elseif c == 92 then                             -- \
    self.i = self.i + 1
    local e = self:peek()
    if e == nil then self:fail("\\ at end of pattern") end
    local ch = utf8_char(e)
    if CLASS_FN[ch] then
      self.i = self.i + 1
      return { type = "set", ranges = {}, fns = { CLASS_FN[ch] } }
    elseif e == 98 then self.i = self.i + 1; return { type = "wordb" }
    elseif e == 66 then self.i = self.i + 1; return { type = "wordb", neg = true }
    elseif e >= 49 and e <= 57 then
      local save = self.i
      local n = self:decimal()
      if n <= self.total_groups then return { type = "backref", idx = n } end
      self.i = save                               -- Annex B: octal or identity
      if e >= 56 then self.i = self.i + 1; return { type = "char", cp = e } end
      local v = 0
      while self:peek() and self:peek() >= 48 and self:peek() <= 55 and
          v * 8 + self:peek() - 48 <= 255 do
        v = v * 8 + self:peek() - 48; self.i = self.i + 1
      end
      return { type = "char", cp = v }
    elseif e == 107 and self.has_names then       -- \k<name>
      self.i = self.i + 1
      if not self:eat("<") then self:fail("Invalid named reference") end
      local start = self.i
      while self:peek() and self:peek() ~= 62 do self.i = self.i + 1 end
      if not self:eat(">") then self:fail("Invalid named reference") end
      local name = {}
      for k = start, self.i - 2 do name[#name + 1] = utf8_char(self.cps[k]) end
      return { type = "backref", name = concat(name) }
    end
    return { type = "char", cp = self:char_escape(false) }
  elseif c == 42 or c == 43 or c == 63 then
    self:fail("Nothing to repeat")
  elseif c == 123 then
    local save = self.i
    if self:quantifier_bounds() then self:fail("Nothing to repeat") end
    self.i = save + 1
    return { type = "char", cp = c }
  end
  self.i = self.i + 1
  return { type = "char", cp = c }
end

-- Parses {n}, {n,}, {n,m} at the cursor; nil (cursor unchanged) if the
-- text is not a quantifier, which Annex B then reads literally.
function P:quantifier_bounds()
  local save = self.i
  if not self:eat("{") then return nil end
  local lo = self:decimal()
  if lo then
    local hi = lo
    if self:eat(",") then hi = self:decimal() or false end
    if self:eat("}") then return lo, hi end
  end
  self.i = save
  return nil
end

function P:term()
  local node = self:atom()
  local c = self:peek()
  local lo, hi
  if c == 42 then lo, hi = 0, false; self.i = self.i + 1
  elseif c == 43 then lo, hi = 1, false; self.i = self.i + 1
  elseif c == 63 then lo, hi = 0, 1; self.i = self.i + 1
  elseif c == 123 then lo, hi = self:quantifier_bounds()
  end
  if lo == nil then return node end
  if hi and hi < lo then self:fail("numbers out of order in {} quantifier") end
  local t = node.type
  if t == "bol" or t == "eol" or t == "wordb" or (t == "look" and node.behind) then
    self:fail("Nothing to repeat")
  end
  local greedy = not self:eat("?")
  return { type = "rep", body = node, min = lo, max = hi, greedy = greedy }
end

function P:alternative()
  local list = {}
  while true do
    local c = self:peek()
    if c == nil or c == 124 or c == 41 then break end
    list[#list + 1] = self:term()
  end
  return { type = "seq", list = list }
end

function P:disjunction()
  local alts = { self:alternative() }
  while self:eat("|") do alts[#alts + 1] = self:alternative() end
  if #alts == 1 then return alts[1] end
  return { type = "alt", list = alts }
end

-- Counts capturing groups ahead of parsing, for \N backreferences.
local function count_groups(cps)
  local n, i, in_class, named = 0, 1, false, false
  while cps[i] do
    local c = cps[i]
    if c == 92 then i = i + 1
    elseif in_class then
      if c == 93 then in_class = false end
    elseif c == 91 then in_class = true
    elseif c == 40 then
      if cps[i + 1] ~= 63 then n = n + 1
      elseif cps[i + 2] == 60 and cps[i + 3] ~= 61 and cps[i + 3] ~= 33 then
        n = n + 1; named = true
      end
    end
    i = i + 1
  end
  return n, named
end

local function parse(pattern)
  local cps = decode(pattern)
  local p = setmetatable({ cps = cps, i = 1, source = pattern, ngroups = 0,
    names = {} }, P)
  p.total_groups, p.has_names = count_groups(cps)
  local tree = p:disjunction()
  if p:peek() ~= nil then
    if p:peek() == 41 then p:fail("Unmatched ')'") end
    p:fail("Unexpected character")
  end
  return tree, p.ngroups, p.names
end

-- ---------------------------------------------------------------------
-- Compiler: tree -> instructions in parallel arrays op/xa/xb.

local CHAR, CHARI, ANY, ANYNL, SET, SPLIT, JMP, SAVE, MATCH, BOL, EOL,
  WORDB, BACKREF, LOOK, MARK, CHECK, RESET = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  11, 12, 13, 14, 15, 16, 17
-- the same, matching leftwards (inside lookbehind)
local BCHAR, BCHARI, BANY, BANYNL, BSET, BBACKREF = 18, 19, 20, 21, 22, 23

local MAX_PROGRAM = 200000

local function nullable(node)
  local t = node.type
  if t == "char" or t == "any" or t == "set" then return false end
  if t == "group" then return nullable(node.body) end
  if t == "seq" then
    for _, x in ipairs(node.list) do if not nullable(x) then return false end end
    return true
  end
  if t == "alt" then
    for _, x in ipairs(node.list) do if nullable(x) then return true end end
    return false
  end
  if t == "rep" then return node.min == 0 or nullable(node.body) end
  return true
end

-- Lowest and highest capture group index inside node, or nil.
local function group_span(node, lo, hi)
  if node.type == "group" and node.idx then
    lo = (lo == nil or node.idx < lo) and node.idx or lo
    hi = (hi == nil or node.idx > hi) and node.idx or hi
  end
  if node.body then lo, hi = group_span(node.body, lo, hi) end
  if node.list then
    for _, x in ipairs(node.list) do lo, hi = group_span(x, lo, hi) end
  end
  return lo, hi
end

local function make_set(node, icase)
  local ranges, fns = node.ranges, node.fns
  local function raw(c)
    for k = 1, #ranges do
      local r = ranges[k]
      if c >= r[1] and c <= r[2] then return true end
    end
    for k = 1, #fns do if fns[k](c) then return true end end
    return false
  end
  local test = raw
  if icase then
    test = function(c) return raw(c) or raw(canon(c)) or raw(lower(c)) end
  end
  local neg = node.neg and true or false
  local ascii = {}
  for c = 0, 127 do ascii[c] = test(c) ~= neg end
  local function wide(c) return test(c) ~= neg end
  return ascii, wide
end

local function compile(tree, ngroups, names, flags, pattern)
  local op, xa, xb = {}, {}, {}
  local pc = 0
  local nslots = 2 * (ngroups + 1)
  local nregs = 0
  local icase, multiline = flags.i, flags.m
  local function emit(o, a, b)
    pc = pc + 1
    if pc > MAX_PROGRAM then syntax_error(pattern, "Regular expression too large") end
    op[pc], xa[pc], xb[pc] = o, a, b
    return pc
  end
  local gen
  local function gen_rep(node, back)
    local body, lo, hi = node.body, node.min, node.max
    local glo, ghi = group_span(body)
    local can_empty = nullable(body)
    local function one(check)
      local reg
      if check then
        nregs = nregs + 1
        reg = nslots + nregs
        emit(MARK, reg)
      end
      if glo then emit(RESET, 2 * glo + 1, 2 * ghi + 2) end
      gen(body, back)
      if check then emit(CHECK, reg) end
    end
    for _ = 1, lo do one(false) end
    if hi == false then
      local loop = emit(SPLIT)
      one(can_empty)
      emit(JMP, loop)
      local after = pc + 1
      if node.greedy then xa[loop], xb[loop] = loop + 1, after
      else xa[loop], xb[loop] = after, loop + 1 end
    else
      local splits = {}
      for _ = 1, hi - lo do
        splits[#splits + 1] = emit(SPLIT)
        one(can_empty)
      end
      local after = pc + 1
      for _, sp in ipairs(splits) do
        if node.greedy then xa[sp], xb[sp] = sp + 1, after
        else xa[sp], xb[sp] = after, sp + 1 end
      end
    end
  end
  -- back: match right to left (ECMAScript lookbehind)
  gen = function(node, back)
    local t = node.type
    if t == "char" then
      if icase then emit(back and BCHARI or CHARI, canon(node.cp))
      else emit(back and BCHAR or CHAR, node.cp) end
    elseif t == "any" then
      if flags.s then emit(back and BANY or ANY)
      else emit(back and BANYNL or ANYNL) end
    elseif t == "set" then
      local ascii, wide = make_set(node, icase)
      emit(back and BSET or SET, ascii, wide)
    elseif t == "bol" then emit(BOL)
    elseif t == "eol" then emit(EOL)
    elseif t == "wordb" then emit(WORDB, node.neg or false)
    elseif t == "backref" then
      local idx = node.idx or names[node.name]
      if not idx then syntax_error(pattern, "Invalid named capture referenced") end
      emit(back and BBACKREF or BACKREF, idx)
    elseif t == "group" then
      local first, last = 1, 2
      if back then first, last = 2, 1 end
      if node.idx then emit(SAVE, 2 * node.idx + first) end
      gen(node.body, back)
      if node.idx then emit(SAVE, 2 * node.idx + last) end
    elseif t == "look" then
      local at = emit(LOOK, nil, (node.neg and 1 or 0) + (node.behind and 2 or 0))
      local jump = emit(JMP)
      xa[at] = pc + 1
      gen(node.body, node.behind)
      emit(MATCH)
      xa[jump] = pc + 1
    elseif t == "seq" then
      local list = node.list
      if back then
        for k = #list, 1, -1 do gen(list[k], back) end
      else
        for k = 1, #list do gen(list[k], back) end
      end
    elseif t == "alt" then
      local jumps = {}
      local list = node.list
      for k = 1, #list do
        if k < #list then
          local sp = emit(SPLIT, pc + 2)
          gen(list[k], back)
          jumps[#jumps + 1] = emit(JMP)
          xb[sp] = pc + 1
        else
          gen(list[k], back)
        end
      end
      for _, j in ipairs(jumps) do xa[j] = pc + 1 end
    elseif t == "rep" then
      gen_rep(node, back)
    end
  end
  gen(tree, false)
  emit(MATCH)
  return { op = op, xa = xa, xb = xb, nslots = nslots, nregs = nregs,
    multiline = multiline, icase = icase }
end

-- ---------------------------------------------------------------------
-- The machine. Positions are code point indices 1..n+1. The stack holds
-- pairs: (pc > 0, pos) to resume at, or (-slot, old value) to restore.

local function run(prog, cps, n, pc, pos, caps)
  local op, xa, xb = prog.op, prog.xa, prog.xb
  local multiline = prog.multiline
  local stack, sp = {}, 0
  local steps = 0
  while true do
    steps = steps + 1
    if steps >= STEPS_PER_CHECK then
      steps = 0
      check_limits()
    end
    local o = op[pc]
    local ok = true
    if o == CHAR then
      if cps[pos] == xa[pc] then pos = pos + 1; pc = pc + 1 else ok = false end
    elseif o == SET then
      local c = cps[pos]
      if c and ((c < 128 and xa[pc][c]) or (c >= 128 and xb[pc](c))) then
        pos = pos + 1; pc = pc + 1
      else ok = false end
    elseif o == SPLIT then
      stack[sp + 1], stack[sp + 2] = xb[pc], pos
      sp = sp + 2
      pc = xa[pc]
    elseif o == JMP then
      pc = xa[pc]
    elseif o == ANYNL then
      local c = cps[pos]
      if c and not is_line_term(c) then pos = pos + 1; pc = pc + 1 else ok = false end
    elseif o == CHARI then
      local c = cps[pos]
      if c and canon(c) == xa[pc] then pos = pos + 1; pc = pc + 1 else ok = false end
    elseif o == SAVE then
      local slot = xa[pc]
      stack[sp + 1], stack[sp + 2] = -slot, caps[slot]
      sp = sp + 2
      caps[slot] = pos
      pc = pc + 1
    elseif o == MATCH then
      return pos
    elseif o == ANY then
      if pos <= n then pos = pos + 1; pc = pc + 1 else ok = false end
    elseif o == BOL then
      if pos == 1 or (multiline and is_line_term(cps[pos - 1])) then pc = pc + 1
      else ok = false end
    elseif o == EOL then
      if pos == n + 1 or (multiline and is_line_term(cps[pos])) then pc = pc + 1
      else ok = false end
    elseif o == WORDB then
      local at = (is_word(cps[pos - 1]) or false) ~= (is_word(cps[pos]) or false)
      if at ~= xa[pc] then pc = pc + 1 else ok = false end
    elseif o == MARK then
      local slot = xa[pc]
      stack[sp + 1], stack[sp + 2] = -slot, caps[slot]
      sp = sp + 2
      caps[slot] = pos
      pc = pc + 1
    elseif o == CHECK then
      -- an iteration that matched the empty string fails (ECMAScript)
      if caps[xa[pc]] == pos then ok = false else pc = pc + 1 end
    elseif o == RESET then
      for slot = xa[pc], xb[pc] do
        if caps[slot] then
          stack[sp + 1], stack[sp + 2] = -slot, caps[slot]
          sp = sp + 2
          caps[slot] = false
        end
      end
      pc = pc + 1
    elseif o == BACKREF then
      local g = xa[pc]
      local s, e = caps[2 * g + 1], caps[2 * g + 2]
      if s and e then
        local len = e - s
        if pos + len - 1 > n then ok = false
        else
          local icase = prog.icase
          for k = 0, len - 1 do
            local a, b = cps[s + k], cps[pos + k]
            if a ~= b and not (icase and canon(a) == canon(b)) then ok = false; break end
          end
          if ok then pos = pos + len end
        end
      end
      if ok then pc = pc + 1 end
    elseif o == LOOK then
      -- the body runs on its own stack: lookarounds are atomic
      local neg = xb[pc] & 1 ~= 0
      local nslots = prog.nslots
      local snap = table.move(caps, 1, nslots, 1, {})
      local r = run(prog, cps, n, xa[pc], pos, caps)
      if neg then
        table.move(snap, 1, nslots, 1, caps)
        ok = not r
      elseif r then
        for slot = 1, nslots do
          if caps[slot] ~= snap[slot] then
            stack[sp + 1], stack[sp + 2] = -slot, snap[slot]
            sp = sp + 2
          end
        end
      else
        ok = false
      end
      if ok then pc = pc + 1 end -- the JMP over the body
    elseif o == BCHAR then
      if cps[pos - 1] == xa[pc] then pos = pos - 1; pc = pc + 1 else ok = false end
    elseif o == BSET then
      local c = cps[pos - 1]
      if c and ((c < 128 and xa[pc][c]) or (c >= 128 and xb[pc](c))) then
        pos = pos - 1; pc = pc + 1
      else ok = false end
    elseif o == BANYNL then
      local c = cps[pos - 1]
      if c and not is_line_term(c) then pos = pos - 1; pc = pc + 1 else ok = false end
    elseif o == BANY then
      if pos > 1 then pos = pos - 1; pc = pc + 1 else ok = false end
    elseif o == BCHARI then
      local c = cps[pos - 1]
      if c and canon(c) == xa[pc] then pos = pos - 1; pc = pc + 1 else ok = false end
    elseif o == BBACKREF then
      local g = xa[pc]
      local s, e = caps[2 * g + 1], caps[2 * g + 2]
      if s and e then
        local len = e - s
        local from = pos - len
        if from < 1 then ok = false
        else
          local icase = prog.icase
          for k = 0, len - 1 do
            local a, b = cps[s + k], cps[from + k]
            if a ~= b and not (icase and canon(a) == canon(b)) then ok = false; break end
          end
          if ok then pos = from end
        end
      end
      if ok then pc = pc + 1 end
    else
      error("stepflow.jsonata.regex: bad instruction " .. tostring(o))
    end
    if not ok then
      while true do
        if sp == 0 then return nil end
        local x, y = stack[sp - 1], stack[sp]
        sp = sp - 2
        if x > 0 then pc, pos = x, y; break end
        caps[-x] = y
      end
    end
  end
end

-- Code points (as a set) that every match consumes: literals on every
-- path, case-sensitive only.
local function required_chars(node, icase)
  local t = node.type
  if t == "char" then
    if icase then return {} end
    return { [node.cp] = true }
  elseif t == "group" then
    return required_chars(node.body, icase)
  elseif t == "rep" then
    if node.min > 0 then return required_chars(node.body, icase) end
    return {}
  elseif t == "seq" then
    local set = {}
    for _, x in ipairs(node.list) do
      for c in pairs(required_chars(x, icase)) do set[c] = true end
    end
    return set
  elseif t == "alt" then
    local set = required_chars(node.list[1], icase)
    for k = 2, #node.list do
      local other = required_chars(node.list[k], icase)
      for c in pairs(set) do
        if not other[c] then set[c] = nil end
      end
    end
    return set
  end
  return {}
end

local Regex = {}
Regex.__index = Regex
Regex.__name = "stepflow.jsonata.Regex"

-- Decoded subject, cached for the repeated exec calls over one string.
function Regex:subject(str)
  if self.last_str ~= str then
    self.last_str = str
    self.last_cps, self.last_offs, self.last_n = decode(str)
    local required = self.required
    if required then
      -- last position of each code point every match must consume
      local last, cps = {}, self.last_cps
      for k = 1, #required do last[k] = 0 end
      for i = self.last_n, 1, -1 do
        local c = cps[i]
        for k = 1, #required do
          if last[k] == 0 and required[k] == c then last[k] = i end
        end
      end
      self.last_required = last
    end
  end
  return self.last_cps, self.last_offs, self.last_n
end

--- Finds the first match at or after byte `init` (default 1).
-- @param str string (UTF-8)
-- @param init integer or nil: 1-based byte index to start searching at
-- @return nil, or {start = first byte, finish = last byte (start - 1 when
--   empty), [k] = text of group k or false when it did not participate}
function Regex:exec(str, init)
  local cps, offs, n = self:subject(str)
  init = init or 1
  -- first code point starting at or after byte `init`
  local lo, hi = 1, n + 1
  while lo < hi do
    local mid = (lo + hi) // 2
    if offs[mid] < init then lo = mid + 1 else hi = mid end
  end
  local last_required = self.last_required
  if last_required then
    for k = 1, #last_required do
      if last_required[k] < lo then return nil end
    end
  end
  local prog, first, anchored = self.prog, self.first_cp, self.anchored
  local first_test = self.first_test
  local nslots = prog.nslots
  local total = nslots + prog.nregs
  for start = lo, n + 1 do
    if anchored and start > 1 then return nil end
    if (first == nil or cps[start] == first) and
        (first_test == nil or first_test(cps[start])) then
      local caps = {}
      for k = 1, total do caps[k] = false end
      caps[1] = start
      local e = run(prog, cps, n, 1, start, caps)
      if e then
        local m = { start = offs[start], finish = offs[e] - 1 }
        for g = 1, self.ngroups do
          local s, f = caps[2 * g + 1], caps[2 * g + 2]
          m[g] = (s and f) and str:sub(offs[s], offs[f] - 1) or false
        end
        return m
      end
    end
  end
  return nil
end

--- Compiles an ECMAScript pattern.
-- @param pattern string (UTF-8), without the delimiting slashes
-- @param flags string or nil, letters among "gimsuy"
-- @return the compiled regex (methods: exec; fields: ngroups, names,
--   source, flags); raises {code = "S0303", message = ...} on bad syntax
function M.compile(pattern, flags)
  if type(pattern) ~= "string" then
    error("stepflow.jsonata.regex.compile: pattern must be a string", 2)
  end
  flags = flags or ""
  local f = {}
  for ch in flags:gmatch(".") do
    if not ("gimsuy"):find(ch, 1, true) or f[ch] then
      syntax_error(pattern, "Invalid flags '" .. flags .. "'")
    end
    f[ch] = true
  end
  local tree, ngroups, names = parse(pattern)
  local prog = compile(tree, ngroups, names, f, pattern)
  local re = setmetatable({ prog = prog, ngroups = ngroups, names = names,
    source = pattern, flags = flags }, Regex)
  -- cheap start filters: a leading literal, or ^ without the m flag
  local lead = tree
  while true do
    if lead.type == "seq" and lead.list[1] then lead = lead.list[1]
    elseif lead.type == "group" then lead = lead.body
    elseif lead.type == "rep" and lead.min > 0 then lead = lead.body
    else break end
  end
  if lead.type == "char" then
    if f.i then
      local want = canon(lead.cp)
      re.first_test = function(c) return c ~= nil and canon(c) == want end
    else
      re.first_cp = lead.cp
    end
  elseif lead.type == "set" then
    local ascii, wide = make_set(lead, f.i)
    re.first_test = function(c)
      return c ~= nil and ((c < 128 and ascii[c]) or (c >= 128 and wide(c)))
    end
  elseif lead.type == "bol" and not f.m then
    re.anchored = true
  end
  local required = {}
  for c in pairs(required_chars(tree, f.i)) do required[#required + 1] = c end
  if #required > 0 and #required <= 8 then re.required = required end
  return re
end

return M
