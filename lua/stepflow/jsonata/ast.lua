-- stepflow.jsonata.ast: jsonata-js's post-parse stage. Flattens location
-- paths into steps with stages, attaches group-by and order-by, binds the
-- positional (#) and focus (@) variables, resolves parent (%) slots and
-- marks tail calls.
local regex = require("stepflow.jsonata.regex")

local M = {}

local function fail(code, position, token, value)
  error({ code = code, position = position, token = token, value = value }, 0)
end

local function tail_call_optimize(expr)
  if expr.type == "function" and not expr.predicate then
    return { type = "lambda", thunk = true, arguments = {}, position = expr.position, body = expr }
  elseif expr.type == "condition" then
    expr["then"] = tail_call_optimize(expr["then"])
    if expr["else"] ~= nil then expr["else"] = tail_call_optimize(expr["else"]) end
    return expr
  elseif expr.type == "block" then
    local n = #expr.expressions
    if n > 0 then expr.expressions[n] = tail_call_optimize(expr.expressions[n]) end
    return expr
  end
  return expr
end

--- Post-processes a raw parse tree.
function M.process(root)
  local ancestor_label, ancestor_index = 0, 0
  local ancestry = {}
  local process

  local function seek_parent(node, slot)
    local t = node.type
    if t == "name" or t == "wildcard" then
      slot.level = slot.level - 1
      if slot.level == 0 then
        if node.ancestor == nil then
          node.ancestor = slot
        else
          ancestry[slot.index + 1].slot.label = node.ancestor.label
          node.ancestor = slot
        end
        node.tuple = true
      end
    elseif t == "parent" then
      slot.level = slot.level + 1
    elseif t == "block" then
      if #node.expressions > 0 then
        node.tuple = true
        slot = seek_parent(node.expressions[#node.expressions], slot)
      end
    elseif t == "path" then
      node.tuple = true
      local index = #node.steps
      slot = seek_parent(node.steps[index], slot)
      index = index - 1
      while slot.level > 0 and index >= 1 do
        slot = seek_parent(node.steps[index], slot)
        index = index - 1
      end
    else
      fail("S0217", node.position, t)
    end
    return slot
  end

  local function push_ancestry(result, value)
    if value.seekingParent ~= nil or value.type == "parent" then
      local slots = value.seekingParent or {}
      if value.type == "parent" then slots[#slots + 1] = value.slot end
      if result.seekingParent == nil then
        result.seekingParent = slots
      else
        for _, s in ipairs(slots) do result.seekingParent[#result.seekingParent + 1] = s end
      end
    end
  end

  local function resolve_ancestry(path)
    local index = #path.steps
    local laststep = path.steps[index]
    local slots = laststep.seekingParent or {}
    if laststep.type == "parent" then slots[#slots + 1] = laststep.slot end
    for _, slot in ipairs(slots) do
      index = #path.steps - 1
      while slot.level > 0 do
        if index < 1 then
          if path.seekingParent == nil then
            path.seekingParent = { slot }
          else
            path.seekingParent[#path.seekingParent + 1] = slot
          end
          break
        end
        local step = path.steps[index]
        index = index - 1
        while index >= 1 and step.focus and path.steps[index].focus do
          step = path.steps[index]
          index = index - 1
        end
        slot = seek_parent(step, slot)
      end
    end
  end

  local function binary(expr)
    local op = expr.value
    local result
    if op == "." then
      local lstep = process(expr.lhs)
      if lstep.type == "path" then
        result = lstep
      else
        result = { type = "path", steps = { lstep } }
      end
      if lstep.type == "parent" then result.seekingParent = { lstep.slot } end
      local rest = process(expr.rhs)
      if rest.type == "function" and rest.procedure.type == "path"
        and #rest.procedure.steps == 1 and rest.procedure.steps[1].type == "name"
        and result.steps[#result.steps].type == "function" then
        result.steps[#result.steps].nextFunction = rest.procedure.steps[1].value
      end
      if rest.type == "path" then
        for _, s in ipairs(rest.steps) do result.steps[#result.steps + 1] = s end
      else
        if rest.predicate ~= nil then
          rest.stages = rest.predicate
          rest.predicate = nil
        end
        result.steps[#result.steps + 1] = rest
      end
      for _, step in ipairs(result.steps) do
        if step.type == "number" or step.type == "value" then
          fail("S0213", step.position, nil, step.value)
        end
        if step.type == "string" then step.type = "name" end
      end
      for _, step in ipairs(result.steps) do
        if step.keepArray == true then result.keepSingletonArray = true end
      end
      local first = result.steps[1]
      if first.type == "unary" and first.value == "[" then first.consarray = true end
      local last = result.steps[#result.steps]
      if last.type == "unary" and last.value == "[" then last.consarray = true end
      resolve_ancestry(result)
    elseif op == "[" then
      result = process(expr.lhs)
      local step = result
      local kind = "predicate"
      if result.type == "path" then
        step = result.steps[#result.steps]
        kind = "stages"
      end
      if step.group ~= nil then fail("S0209", expr.position) end
      if step[kind] == nil then step[kind] = {} end
      local predicate = process(expr.rhs)
      if predicate.seekingParent ~= nil then
        for _, slot in ipairs(predicate.seekingParent) do
          if slot.level == 1 then
            seek_parent(step, slot)
          else
            slot.level = slot.level - 1
          end
        end
        push_ancestry(step, predicate)
      end
      local list = step[kind]
      list[#list + 1] = { type = "filter", expr = predicate, position = expr.position }
    elseif op == "{" then
      result = process(expr.lhs)
      if result.group ~= nil then fail("S0210", expr.position) end
      local pairs_ = {}
      for i, pair in ipairs(expr.rhs) do
        pairs_[i] = { process(pair[1]), process(pair[2]) }
      end
      result.group = { lhs = pairs_, position = expr.position }
    elseif op == "^" then
      result = process(expr.lhs)
      if result.type ~= "path" then result = { type = "path", steps = { result } } end
      local sort_step = { type = "sort", position = expr.position }
      local terms = {}
      for i, term in ipairs(expr.rhs) do
        local e = process(term.expression)
        push_ancestry(sort_step, e)
        terms[i] = { descending = term.descending, expression = e }
      end
      sort_step.terms = terms
      result.steps[#result.steps + 1] = sort_step
      resolve_ancestry(result)
    elseif op == ":=" then
      result = { type = "bind", value = op, position = expr.position }
      result.lhs = process(expr.lhs)
      result.rhs = process(expr.rhs)
      push_ancestry(result, result.rhs)
    elseif op == "@" then
      result = process(expr.lhs)
      local step = result
      if result.type == "path" then step = result.steps[#result.steps] end
      if step.stages ~= nil or step.predicate ~= nil then fail("S0215", expr.position) end
      if step.type == "sort" then fail("S0216", expr.position) end
      if expr.keepArray then step.keepArray = true end
      step.focus = expr.rhs.value
      step.tuple = true
    elseif op == "#" then
      result = process(expr.lhs)
      local step = result
      if result.type == "path" then
        step = result.steps[#result.steps]
      else
        result = { type = "path", steps = { result } }
        if step.predicate ~= nil then
          step.stages = step.predicate
          step.predicate = nil
        end
      end
      if step.stages == nil then
        step.index = expr.rhs.value
      else
        step.stages[#step.stages + 1] = { type = "index", value = expr.rhs.value, position = expr.position }
      end
      step.tuple = true
    elseif op == "~>" then
      result = { type = "apply", value = op, position = expr.position }
      result.lhs = process(expr.lhs)
      result.rhs = process(expr.rhs)
      result.keepArray = result.lhs.keepArray or result.rhs.keepArray
    else
      result = { type = expr.type, value = op, position = expr.position }
      result.lhs = process(expr.lhs)
      result.rhs = process(expr.rhs)
      push_ancestry(result, result.lhs)
      push_ancestry(result, result.rhs)
    end
    return result
  end

  function process(expr)
    local result
    local t = expr.type
    if t == "binary" then
      result = binary(expr)
    elseif t == "unary" then
      result = { type = t, value = expr.value, position = expr.position }
      if expr.value == "[" then
        local items = {}
        for i, item in ipairs(expr.expressions) do
          local v = process(item)
          push_ancestry(result, v)
          items[i] = v
        end
        result.expressions = items
      elseif expr.value == "{" then
        local ps = {}
        for i, pair in ipairs(expr.lhs) do
          local k = process(pair[1])
          push_ancestry(result, k)
          local v = process(pair[2])
          push_ancestry(result, v)
          ps[i] = { k, v }
        end
        result.lhs = ps
      else
        result.expression = process(expr.expression)
        if expr.value == "-" and result.expression.type == "number" then
          result = result.expression
          result.value = -result.value
        else
          push_ancestry(result, result.expression)
        end
      end
    elseif t == "function" or t == "partial" then
      result = { type = t, name = expr.name, value = expr.value, position = expr.position }
      local args = {}
      for i, arg in ipairs(expr.arguments) do
        local a = process(arg)
        push_ancestry(result, a)
        args[i] = a
      end
      result.arguments = args
      result.procedure = process(expr.procedure)
    elseif t == "lambda" then
      result = { type = t, arguments = expr.arguments, signature = expr.signature,
        position = expr.position }
      result.body = tail_call_optimize(process(expr.body))
    elseif t == "condition" then
      result = { type = t, position = expr.position }
      result.condition = process(expr.condition)
      push_ancestry(result, result.condition)
      result["then"] = process(expr["then"])
      push_ancestry(result, result["then"])
      if expr["else"] ~= nil then
        result["else"] = process(expr["else"])
        push_ancestry(result, result["else"])
      end
    elseif t == "transform" then
      result = { type = t, position = expr.position }
      result.pattern = process(expr.pattern)
      result.update = process(expr.update)
      if expr.delete ~= nil then result.delete = process(expr.delete) end
    elseif t == "block" then
      result = { type = t, position = expr.position }
      local items = {}
      for i, item in ipairs(expr.expressions) do
        local part = process(item)
        push_ancestry(result, part)
        if part.consarray or (part.type == "path" and part.steps[1].consarray) then
          result.consarray = true
        end
        items[i] = part
      end
      result.expressions = items
    elseif t == "name" then
      result = { type = "path", steps = { expr } }
      if expr.keepArray then result.keepSingletonArray = true end
    elseif t == "parent" then
      result = { type = "parent", position = expr.position,
        slot = { label = "!" .. ancestor_label, level = 1, index = ancestor_index } }
      ancestor_label = ancestor_label + 1
      ancestor_index = ancestor_index + 1
      ancestry[#ancestry + 1] = result
    elseif t == "regex" then
      -- compiled now, so that a bad pattern is a syntax error (jsonata-js
      -- builds the RegExp while it tokenizes)
      local fine, re = pcall(regex.compile, expr.value.pattern, expr.value.flags)
      if not fine then
        if type(re) == "table" then re.position = re.position or expr.position end
        error(re, 0)
      end
      expr.re = re
      result = expr
    elseif t == "string" or t == "number" or t == "value" or t == "wildcard"
      or t == "descendant" or t == "variable" then
      result = expr
    elseif t == "operator" then
      if expr.value == "and" or expr.value == "or" or expr.value == "in" then
        expr.type = "name"
        result = process(expr)
      elseif expr.value == "?" then
        result = expr
      else
        fail("S0201", expr.position, expr.value)
      end
    else
      local code = expr.id == "(end)" and "S0207" or "S0206"
      fail(code, expr.position, expr.value)
    end
    if expr.keepArray then result.keepArray = true end
    return result
  end

  return process(root)
end

return M
