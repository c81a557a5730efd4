-- stepflow.jsonata.apply: function values and their application: lambdas
-- and closures, the tail-call trampoline, native functions with signature
-- validation, partial application, ~> chaining, transforms and regexes.
local values = require("stepflow.jsonata.values")
local eval = require("stepflow.jsonata.eval")
local ustr = require("stepflow.util.utf8")
local signature = require("stepflow.jsonata.signature")

local M = {}

local fn_mt = values.fn_mt
local throw = values.throw
local is_function = values.is_function
local evaluate = eval.evaluate
local new_frame = eval.new_frame
local setmetatable, getmetatable, type = setmetatable, getmetatable, type

local HOLE = setmetatable({}, { __name = "jsonata.placeholder" })

--- Makes a native function value: impl(args, input, env) with args.n.
function M.native(name, sig, arity, impl)
  return setmetatable({ kind = "native", name = name, impl = impl, arity = arity,
    signature = sig and signature.parse(sig) or nil }, fn_mt)
end

--- Number of parameters a function value declares.
function M.arity(f)
  if type(f) == "function" then return debug.getinfo(f, "u").nparams end
  local kind = f.kind
  if kind == "lambda" then return #f.arguments end
  if kind == "native" then return f.arity end
  if kind == "partial" then return f.holes end
  if kind == "chain" then return 1 end
  return f.arity or 1
end

local apply

local function apply_procedure(proc, args)
  local env = new_frame(proc.env)
  for i, param in ipairs(proc.arguments) do env[param.value] = args[i] end
  return evaluate(proc.body, proc.input, env)
end

local tick = eval.tick

local function apply_inner(proc, args, input, env, token)
  tick()
  if type(proc) == "table" and getmetatable(proc) == fn_mt then
    local validated = args
    if proc.signature then validated = proc.signature:validate(args, input, token or proc.name) end
    local kind = proc.kind
    if kind == "lambda" then
      return apply_procedure(proc, validated)
    elseif kind == "native" then
      if values.undef_used then
        for i = 1, validated.n or #validated do
          if rawequal(validated[i], values.UNDEF) then validated[i] = nil end
        end
      end
      return proc.impl(validated, input, env)
    elseif kind == "partial" then
      local full, j = {}, 1
      local bound = proc.args
      local n = math.max(bound.n, proc.target_arity or 0)
      for i = 1, n do
        local a = bound[i]
        if a == HOLE then
          full[i] = validated[j]
          j = j + 1
        else
          full[i] = a
        end
      end
      full.n = n
      return apply(proc.target, full, input, env)
    elseif kind == "chain" then
      local r = apply(proc.f, validated, input, env)
      return apply(proc.g, { r, n = 1 }, input, env)
    elseif kind == "regex" then
      -- the JavaScript closure (str, fromIndex) of jsonata-js
      local str, from = validated[1], validated[2]
      if type(str) ~= "string" then str = M.js_string(str) end
      local start = 0
      if type(from) == "number" and from > 0 then start = ustr.byte_offset(str, math.floor(from)) end
      return M.regex_exec(proc, str, start)
    end
  elseif type(proc) == "function" then
    return proc(table.unpack(args, 1, args.n or #args))
  end
  throw("T1006", {})
end

--- Applies a function value to args (a list with field n).
function apply(proc, args, input, env, token)
  if args.n == nil then args.n = #args end
  local result = apply_inner(proc, args, input, env, token)
  while type(result) == "table" and getmetatable(result) == fn_mt and result.thunk do
    local body = result.body
    local nxt = evaluate(body.procedure, result.input, result.env)
    local eargs = { n = #body.arguments }
    for i, a in ipairs(body.arguments) do
      eargs[i] = evaluate(a, result.input, result.env)
    end
    if nxt == nil then throw("T1006", { position = body.position }) end
    local name = body.procedure.type == "variable" and body.procedure.value or nil
    local saved_position, saved_token = values.call_position, values.call_token
    values.call_position = body.procedure.position
    if name then values.call_token = name end
    result = apply_inner(nxt, eargs, input, env, name)
    values.call_position, values.call_token = saved_position, saved_token
  end
  return result
end
M.apply = apply

--- Calls f with the HOF argument convention (value, index, array by arity).
function M.hof_call(f, a1, a2, a3, input, env)
  local arity = M.arity(f)
  local args = { a1, n = 1 }
  if arity >= 2 then args[2] = a2 args.n = 2 end
  if arity >= 3 then args[3] = a3 args.n = 3 end
  return apply(f, args, input, env)
end

function M.evaluate_function(expr, input, env, applyto)
  local proc = evaluate(expr.procedure, input, env)
  local procedure = expr.procedure
  if proc == nil and procedure.type == "path" and env[procedure.steps[1].value] ~= nil then
    throw("T1005", { position = expr.position, token = procedure.steps[1].value })
  end
  local args, n = {}, 0
  if applyto then
    n = 1
    args[1] = applyto.context
  end
  for _, a in ipairs(expr.arguments) do
    n = n + 1
    args[n] = evaluate(a, input, env)
  end
  args.n = n
  local name = procedure.type == "path" and procedure.steps[1].value or procedure.value
  if not is_function(proc) then
    throw("T1006", { position = expr.position, token = name })
  end
  local saved_position, saved_token = values.call_position, values.call_token
  values.call_position, values.call_token = expr.position, name
  local result = apply(proc, args, input, env, name)
  values.call_position, values.call_token = saved_position, saved_token
  return result
end

function M.evaluate_lambda(expr, input, env)
  return setmetatable({ kind = "lambda", input = input, env = env, arguments = expr.arguments,
    signature = expr.signature, body = expr.body, thunk = expr.thunk }, fn_mt)
end

function M.evaluate_partial(expr, input, env)
  local args = { n = #expr.arguments }
  for i, a in ipairs(expr.arguments) do
    if a.type == "operator" and a.value == "?" then
      args[i] = HOLE
    else
      args[i] = evaluate(a, input, env)
    end
  end
  local proc = evaluate(expr.procedure, input, env)
  local procedure = expr.procedure
  if proc == nil and procedure.type == "path" and env[procedure.steps[1].value] ~= nil then
    throw("T1007", { position = expr.position, token = procedure.steps[1].value })
  end
  if type(proc) == "table" and getmetatable(proc) == fn_mt and proc.kind == "lambda" then
    local fenv = new_frame(proc.env)
    local unbound = {}
    for i, param in ipairs(proc.arguments) do
      local a = args[i]
      if a == HOLE then
        unbound[#unbound + 1] = param
      else
        fenv[param.value] = a
      end
    end
    return setmetatable({ kind = "lambda", input = proc.input, env = fenv, arguments = unbound,
      body = proc.body }, fn_mt)
  elseif is_function(proc) then
    local holes = 0
    for i = 1, args.n do if args[i] == HOLE then holes = holes + 1 end end
    return setmetatable({ kind = "partial", target = proc, args = args, holes = holes,
      target_arity = M.arity(proc) }, fn_mt)
  end
  local name = procedure.type == "path" and procedure.steps[1].value or procedure.value
  throw("T1008", { position = expr.position, token = name })
end

function M.evaluate_apply(expr, input, env)
  local lhs = evaluate(expr.lhs, input, env)
  if expr.rhs.type == "function" then
    return M.evaluate_function(expr.rhs, input, env, { context = lhs })
  end
  local func = evaluate(expr.rhs, input, env)
  if not is_function(func) then
    throw("T2006", { position = expr.position, value = func })
  end
  if is_function(lhs) then
    return setmetatable({ kind = "chain", f = lhs, g = func }, fn_mt)
  end
  return apply(func, { lhs, n = 1 }, nil, env)
end

local transform_sig = signature.parse("<(oa):o>")

function M.evaluate_transform(expr, _, env)
  local function transformer(args)
    local obj = args[1]
    if obj == nil then return nil end
    local clone = env["clone"]
    if not is_function(clone) then throw("T2013", { position = expr.position }) end
    local result = apply(clone, { obj, n = 1 }, nil, env)
    local matches = evaluate(expr.pattern, result, env)
    if matches ~= nil then
      if not values.is_array(matches) then matches = { matches } end
      for i = 1, #matches do
        local match = matches[i]
        local update = evaluate(expr.update, match, env)
        if update ~= nil then
          if not values.is_object(update) then
            throw("T2011", { position = expr.update.position, value = update })
          end
          if values.is_object(match) then
            for _, k in ipairs(values.keys(update)) do values.set(match, k, update[k]) end
          elseif not values.is_array(match) and next(update) ~= nil then
            -- jsonata-js (strict mode) fails to set a property on a scalar
            throw("T2011", { position = expr.update.position, value = match,
              message = "Cannot update a " .. (match == values.null and "null" or type(match))
                .. " value in a transform expression" })
          end
        end
        if expr.delete ~= nil then
          local deletions = evaluate(expr.delete, match, env)
          if deletions ~= nil then
            local val = deletions
            if not values.is_array(deletions) then deletions = { deletions } end
            for j = 1, #deletions do
              if type(deletions[j]) ~= "string" then
                throw("T2012", { position = expr.delete.position, value = val })
              end
            end
            if values.is_object(match) then
              for j = 1, #deletions do values.set(match, deletions[j], nil) end
            end
          end
        end
      end
    end
    return result
  end
  -- no name: jsonata-js reports its signature errors without a token
  return setmetatable({ kind = "native", arity = 1,
    signature = transform_sig, impl = transformer }, fn_mt)
end

---------------------------------------------------------------- regexes

local MATCH_POS = setmetatable({}, { __mode = "k" })
M.MATCH_POS = MATCH_POS

local js_index = ustr.utf16_index

--- Runs the regex function value on str from byte offset from (0-based);
-- returns the JSONata match object or nil.
-- JavaScript String(v), as RegExp.prototype.exec converts its argument.
local function js_string(v)
  local t = type(v)
  if t == "string" then return v end
  if v == nil then return "undefined" end
  if v == values.null then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then return values.js_number(v) end
  if values.is_array(v) then
    local parts = {}
    for i = 1, #v do
      local x = v[i]
      parts[i] = (x == nil or x == values.null) and "" or js_string(x)
    end
    return table.concat(parts, ",")
  end
  if values.is_function(v) then return "function" end
  return "[object Object]"
end

M.js_string = js_string


function M.regex_exec(rx, str, from)
  if type(str) ~= "string" then str = js_string(str) end
  local m = rx.re:exec(str, from + 1)
  if not m then return nil end
  local bstart, bend = m.start - 1, m.finish
  local obj = values.new_object()
  local matched = str:sub(m.start, m.finish)
  values.set(obj, "match", matched)
  values.set(obj, "start", js_index(str, bstart))
  values.set(obj, "end", js_index(str, bend))
  local groups = values.new_array()
  local i = 1
  while m[i] ~= nil do
    groups[i] = m[i] or ""
    i = i + 1
  end
  values.set(obj, "groups", groups)
  values.set(obj, "next", setmetatable({ kind = "native", name = "next", arity = 0,
    impl = function()
      if bend >= #str then return nil end
      local nx = M.regex_exec(rx, str, bend)
      if nx and nx.match == "" then
        throw("D1004", { position = rx.position, value = rx.source })
      end
      return nx
    end }, fn_mt))
  MATCH_POS[obj] = { bstart, bend }
  return obj
end

function M.evaluate_regex(expr)
  local rx = expr.compiled
  if not rx then
    -- the parser compiled the pattern (stepflow.jsonata.ast)
    local re = expr.re
    rx = setmetatable({ kind = "regex", re = re, source = expr.value.pattern,
      position = expr.position, arity = 2 }, fn_mt)
    expr.compiled = rx
  end
  return rx
end

return M
