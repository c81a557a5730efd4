-- stepflow.jsonata.parser: Pratt parser for JSONata 2.0.6 (tokens from
-- stepflow.jsonata.tokenizer); the parse tree goes through
-- stepflow.jsonata.ast, jsonata-js's post-processing, before it is returned.
local tokenizer = require("stepflow.jsonata.tokenizer")
local signature = require("stepflow.jsonata.signature")
local null = require("stepflow.json").null
local ast = require("stepflow.jsonata.ast")

local M = {}

local operators = tokenizer.operators

local function fail(code, position, token, value)
  error({ code = code, position = position, token = token, value = value }, 0)
end

--- Parses source text into the post-processed AST; raises syntax errors.
function M.parse(source)
  local lexer = tokenizer.new(source)
  local node
  local symbols = {}
  local expression

  local function symbol(id, bp)
    bp = bp or 0
    local s = symbols[id]
    if s then
      if bp >= s.lbp then s.lbp = bp end
    else
      s = { id = id, value = id, lbp = bp }
      symbols[id] = s
    end
    return s
  end

  local function advance(id, infix)
    if id and node.id ~= id then
      local code = node.id == "(end)" and "S0203" or "S0202"
      fail(code, node.position, node.value, id)
    end
    local tok = lexer(infix)
    if tok == nil then
      node = { id = "(end)", lbp = 0, value = "(end)", position = #source }
      return node
    end
    local value, type_ = tok.value, tok.type
    local sym
    if type_ == "name" or type_ == "variable" then
      sym = symbols["(name)"]
    elseif type_ == "operator" then
      sym = symbols[value]
      if not sym then fail("S0204", tok.position, value) end
    elseif type_ == "string" or type_ == "number" or type_ == "value" then
      sym = symbols["(literal)"]
      if type_ == "value" and value == "null" then value = null end
    elseif type_ == "regex" then
      sym = symbols["(regex)"]
    else
      fail("S0205", tok.position, value)
    end
    node = { id = sym.id, lbp = sym.lbp, value = value, type = type_, position = tok.position }
    return node
  end

  local function nud(t)
    local s = symbols[t.id]
    if not s.nud then fail("S0211", t.position, t.value) end
    return s.nud(t)
  end

  local function led(t, left)
    local s = symbols[t.id]
    if not s.led then fail("S0211", t.position, t.value) end
    return s.led(t, left)
  end

  function expression(rbp)
    local t = node
    advance(nil, true)
    local left = nud(t)
    while rbp < node.lbp do
      t = node
      advance()
      left = led(t, left)
    end
    return left
  end

  local function terminal(id)
    local s = symbol(id, 0)
    s.nud = function(self) return self end
  end

  local function infix(id, bp, fn)
    local power = bp or operators[id]
    local s = symbol(id, power)
    s.led = fn or function(self, left)
      self.lhs = left
      self.rhs = expression(power)
      self.type = "binary"
      return self
    end
    return s
  end

  local function infixr(id, bp, fn)
    local s = symbol(id, bp)
    s.led = fn
    return s
  end

  local function prefix(id, fn)
    local s = symbol(id)
    s.nud = fn or function(self)
      self.expression = expression(70)
      self.type = "unary"
      return self
    end
    return s
  end

  terminal("(end)")
  terminal("(name)")
  terminal("(literal)")
  terminal("(regex)")
  for _, id in ipairs({ ":", ";", ",", ")", "]", "}", ".." }) do symbol(id) end
  for _, id in ipairs({ ".", "+", "-", "*", "/", "%", "=", "<", ">", "!=", "<=", ">=",
    "&", "and", "or", "in", "~>" }) do
    infix(id)
  end
  terminal("and")
  terminal("or")
  terminal("in")
  prefix("-")
  prefix("*", function(self) self.type = "wildcard" return self end)
  prefix("**", function(self) self.type = "descendant" return self end)
  prefix("%", function(self) self.type = "parent" return self end)

  infix("(", operators["("], function(self, left)
    self.procedure = left
    self.type = "function"
    self.arguments = {}
    if node.id ~= ")" then
      while true do
        if node.type == "operator" and node.id == "?" then
          self.type = "partial"
          self.arguments[#self.arguments + 1] = node
          advance("?")
        else
          self.arguments[#self.arguments + 1] = expression(0)
        end
        if node.id ~= "," then break end
        advance(",")
      end
    end
    advance(")", true)
    if left.type == "name" and (left.value == "function" or left.value == "\206\187") then
      for i, arg in ipairs(self.arguments) do
        if arg.type ~= "variable" then
          fail("S0208", arg.position, arg.value, i)
        end
      end
      self.type = "lambda"
      if node.id == "<" then
        local sig_pos = node.position
        local depth = 1
        local sig = { "<" }
        while depth > 0 and node.id ~= "{" and node.id ~= "(end)" do
          local tok = advance()
          if tok.id == ">" then depth = depth - 1
          elseif tok.id == "<" then depth = depth + 1 end
          sig[#sig + 1] = tostring(tok.value)
        end
        advance(">")
        local ok, res = pcall(signature.parse, table.concat(sig))
        if not ok then
          if type(res) == "table" then
            res.position = sig_pos + (res.offset or 0)
          end
          error(res, 0)
        end
        self.signature = res
      end
      advance("{")
      self.body = expression(0)
      advance("}")
    end
    return self
  end)

  prefix("(", function(self)
    local exprs = {}
    while node.id ~= ")" do
      exprs[#exprs + 1] = expression(0)
      if node.id ~= ";" then break end
      advance(";")
    end
    advance(")", true)
    self.type = "block"
    self.expressions = exprs
    return self
  end)

  prefix("[", function(self)
    local a = {}
    if node.id ~= "]" then
      while true do
        local item = expression(0)
        if node.id == ".." then
          local range = { type = "binary", value = "..", position = node.position, lhs = item }
          advance("..")
          range.rhs = expression(0)
          item = range
        end
        a[#a + 1] = item
        if node.id ~= "," then break end
        advance(",")
      end
    end
    advance("]", true)
    self.expressions = a
    self.type = "unary"
    return self
  end)

  infix("[", operators["["], function(self, left)
    if node.id == "]" then
      local step = left
      while step and step.type == "binary" and step.value == "[" do
        step = step.lhs
      end
      step.keepArray = true
      advance("]")
      return left
    end
    self.lhs = left
    self.rhs = expression(operators["]"])
    self.type = "binary"
    advance("]", true)
    return self
  end)

  infix("^", operators["^"], function(self, left)
    advance("(")
    local terms = {}
    while true do
      local term = { descending = false }
      if node.id == "<" then
        advance("<")
      elseif node.id == ">" then
        term.descending = true
        advance(">")
      end
      term.expression = expression(0)
      terms[#terms + 1] = term
      if node.id ~= "," then break end
      advance(",")
    end
    advance(")")
    self.lhs = left
    self.rhs = terms
    self.type = "binary"
    return self
  end)

  local function object_parser(self, left)
    local a = {}
    if node.id ~= "}" then
      while true do
        local n = expression(0)
        advance(":")
        local v = expression(0)
        a[#a + 1] = { n, v }
        if node.id ~= "," then break end
        advance(",")
      end
    end
    advance("}", true)
    if left == nil then
      self.lhs = a
      self.type = "unary"
    else
      self.lhs = left
      self.rhs = a
      self.type = "binary"
    end
    return self
  end
  prefix("{", object_parser)
  infix("{", operators["{"], object_parser)

  infixr(":=", operators[":="], function(self, left)
    if left.type ~= "variable" then fail("S0212", left.position, left.value) end
    self.lhs = left
    self.rhs = expression(operators[":="] - 1)
    self.type = "binary"
    return self
  end)

  infix("@", operators["@"], function(self, left)
    self.lhs = left
    self.rhs = expression(operators["@"])
    if self.rhs.type ~= "variable" then fail("S0214", self.rhs.position, "@") end
    self.type = "binary"
    return self
  end)

  infix("#", operators["#"], function(self, left)
    self.lhs = left
    self.rhs = expression(operators["#"])
    if self.rhs.type ~= "variable" then fail("S0214", self.rhs.position, "#") end
    self.type = "binary"
    return self
  end)

  infix("?", operators["?"], function(self, left)
    self.type = "condition"
    self.condition = left
    self["then"] = expression(0)
    if node.id == ":" then
      advance(":")
      self["else"] = expression(0)
    end
    return self
  end)

  prefix("|", function(self)
    self.type = "transform"
    self.pattern = expression(0)
    advance("|")
    self.update = expression(0)
    if node.id == "," then
      advance(",")
      self.delete = expression(0)
    end
    advance("|")
    return self
  end)

  advance()
  local expr = expression(0)
  if node.id ~= "(end)" then fail("S0201", node.position, node.value) end
  expr = ast.process(expr)
  if expr.type == "parent" or expr.seekingParent ~= nil then
    fail("S0217", expr.position, expr.type)
  end
  return expr
end

return M
