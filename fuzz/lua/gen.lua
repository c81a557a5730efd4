-- fuzz/lua/gen.lua: random JSON values, JSONata expressions, intrinsic
-- calls and ASL definitions for the Lua-level fuzzer, from a seeded
-- random source so that every case can be made again from its seed.
-- Half of what it makes is grown from the seed corpora (fuzz/corpus/lua).
local json = require("stepflow.json")

local M = {}

local rnd     -- function(m, n): the case's random source (math.random)

--- Starts a case: the random source is seeded with `seed`.
function M.seed(seed)
  math.randomseed(seed)
  rnd = math.random
end

local function pick(list) return list[rnd(#list)] end
local function chance(p) return rnd() < p end
M.pick, M.chance = pick, chance

---------------------------------------------------------------- corpora

local corpus = {}

-- Loads fuzz/corpus/lua/NAME: one entry per line (# comments), or, for a
-- folder of .json files, each file's text.
local function lines(path)
  local out = {}
  local fh = io.open(path)
  if not fh then return out end
  for line in fh:lines() do
    if line ~= "" and line:sub(1, 1) ~= "#" then out[#out + 1] = line end
  end
  fh:close()
  return out
end

function M.load_corpus(dir)
  corpus.jsonata = lines(dir .. "/jsonata.txt")
  corpus.intrinsics = lines(dir .. "/intrinsics.txt")
  corpus.inputs = lines(dir .. "/inputs.txt")
  corpus.definitions = {}
  local p = io.popen("ls " .. dir .. "/definitions/*.json 2>/dev/null")
  for f in p:lines() do
    local fh = io.open(f)
    corpus.definitions[#corpus.definitions + 1] = fh:read("a")
    fh:close()
  end
  p:close()
end

---------------------------------------------------------------- JSON

local NUMBERS = { 0, 1, -1, 2, 7, 42, 0.5, -2.25, 1e21, 1e-7, 9007199254740993,
  math.maxinteger, math.mininteger, 1e308, -1e308, 5e-324, 2 ^ 53, 1e15, 3.0, -0.0 }
local STRINGS = { "", "a", "abc", "é", "😀", "\237\160\128", "a b", "$.a", "$$.Execution.Id",
  "{% 1 + 1 %}", "States.Format('{}', 1)", "2016-03-14T01:59:00Z", "null", "true",
  "\n\t\"\\", "0", "-1.5e3", ("x"):rep(300), "ünï\u{FFFF}", "Z" }
local KEYS = { "a", "b", "c", "x", "n", "items", "acc", "", "k k", "a.b", "$", "é", "0" }

--- A random JSON value (arrays carry the array metatable).
function M.value(depth)
  depth = depth or 0
  local r = rnd(depth > 3 and 6 or 9)
  if r == 1 then return json.null
  elseif r == 2 then return chance(0.5)
  elseif r == 3 then return pick(NUMBERS)
  elseif r == 4 then return rnd(-1000, 1000)
  elseif r == 5 or r == 6 then return pick(STRINGS)
  elseif r == 7 or r == 8 then
    local t = {}
    for _ = 1, rnd(0, 4) do t[pick(KEYS)] = M.value(depth + 1) end
    return t
  else
    local t = json.array({})
    for i = 1, rnd(0, 5) do t[i] = M.value(depth + 1) end
    return t
  end
end

--- A JSON value as text, grown from the inputs corpus half the time.
function M.input_text()
  if chance(0.5) and #corpus.inputs > 0 then return pick(corpus.inputs) end
  return json.encode(M.value())
end

---------------------------------------------------------------- JSONata

local FUNCTIONS = { "sum", "count", "max", "min", "average", "string", "substring",
  "substringBefore", "substringAfter", "lowercase", "uppercase", "length", "trim",
  "pad", "match", "contains", "replace", "split", "join", "formatNumber", "formatBase",
  "formatInteger", "parseInteger", "number", "floor", "ceil", "round", "abs", "sqrt",
  "power", "random", "boolean", "not", "map", "filter", "single", "reduce", "sift",
  "zip", "keys", "lookup", "append", "exists", "spread", "merge", "reverse", "each",
  "error", "assert", "type", "sort", "shuffle", "distinct", "base64encode",
  "base64decode", "encodeUrlComponent", "encodeUrl", "decodeUrlComponent", "decodeUrl",
  "clone", "toMillis", "fromMillis", "now", "millis", "partition", "range", "hash",
  "uuid", "parse" }
local OPS = { "+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "&", "and", "or",
  "in", "..", "~>" }
local ATOMS = { "1", "0", "-1", "2.5", "1e308", "1e-300", "0/0", "1/0", "'s'", "''",
  "\"é😀\"", "true", "false", "null", "$", "$$", "a", "b.c", "items", "nope", "$x",
  "$states", "*", "**", "%", "[]", "{}", "[1,2,3]", "{'k': 1}", "/a+b*/i", "[1..5]",
  "1e15", "-1e15", "9007199254740993", "$random()", "$now()", "'2016-03-14T01:59:00Z'" }

local function jexpr(depth)
  if depth > 4 then return pick(ATOMS) end
  local r = rnd(14)
  if r <= 3 then return pick(ATOMS)
  elseif r <= 6 then
    local args = {}
    for i = 1, rnd(0, 4) do args[i] = jexpr(depth + 1) end
    return "$" .. pick(FUNCTIONS) .. "(" .. table.concat(args, ", ") .. ")"
  elseif r == 7 then
    return "(" .. jexpr(depth + 1) .. " " .. pick(OPS) .. " " .. jexpr(depth + 1) .. ")"
  elseif r == 8 then
    return "function($v, $i){ " .. jexpr(depth + 1) .. " }"
  elseif r == 9 then
    return jexpr(depth + 1) .. " ? " .. jexpr(depth + 1) .. " : " .. jexpr(depth + 1)
  elseif r == 10 then
    return "($x := " .. jexpr(depth + 1) .. "; " .. jexpr(depth + 1) .. ")"
  elseif r == 11 then
    return jexpr(depth + 1) .. "[" .. jexpr(depth + 1) .. "]"
  elseif r == 12 then
    return "{" .. jexpr(depth + 1) .. ": " .. jexpr(depth + 1) .. "}"
  elseif r == 13 then
    return "[" .. jexpr(depth + 1) .. ", " .. jexpr(depth + 1) .. "]"
  else
    return jexpr(depth + 1) .. "." .. jexpr(depth + 1)
  end
end

local chars = require("stepflow.util.utf8").chars
local PUNCT = { "(", ")", "[", "]", "{", "}", ",", "$", ".", "'", "9", "-", " ", "\\", "/",
  "~", "?", ":", "%", "#", "@" }

-- Changes a few characters of text, or splices a random expression in, at
-- character boundaries (ASL text comes from JSON, which is UTF-8).
local function mutate(text)
  local list = chars(text)
  for _ = 1, rnd(1, 3) do
    local i = rnd(1, #list + 1)
    local r = rnd(4)
    if r == 1 then
      if #list > 0 then table.remove(list, math.min(i, #list)) end
    elseif r == 2 then
      table.insert(list, i, pick(PUNCT))
    elseif r == 3 then
      table.insert(list, i, pick(ATOMS))
    else
      for _ = i, math.min(rnd(i, #list + 1), #list) do table.remove(list, i) end
      table.insert(list, i, jexpr(3))
    end
  end
  return table.concat(list)
end
M.mutate = mutate

--- A JSONata expression (text).
function M.jsonata()
  if chance(0.5) and #corpus.jsonata > 0 then
    local seed = pick(corpus.jsonata)
    return chance(0.3) and seed or mutate(seed)
  end
  return jexpr(0)
end

---------------------------------------------------------------- intrinsics

local INTRINSICS = { "Format", "StringToJson", "JsonToString", "Array", "ArrayPartition",
  "ArrayContains", "ArrayRange", "ArrayGetItem", "ArrayLength", "ArrayUnique",
  "Base64Encode", "Base64Decode", "Hash", "JsonMerge", "MathRandom", "MathAdd",
  "StringSplit", "UUID" }
local IARGS = { "1", "-1", "0", "2.5", "1e308", "-1e308", "1e400", "2147483648",
  "9223372036854775807", "'a'", "''", "'{}'", "'{} {}'", "'SHA-256'", "'MD5'",
  "'\\{\\}'", "'é'", "true", "false", "null", "$", "$.a", "$.b[0]", "$.items",
  "$.items[*]", "$..a", "$$.Execution.Id", "$$.Execution.Input", "$v", "$.nope",
  "'{\"a\": 1}'", "'[1,2]'", "'aGVsbG8='", "',;'" }

local function icall(depth)
  local args = {}
  for i = 1, rnd(0, 4) do
    args[i] = (depth < 3 and chance(0.2)) and icall(depth + 1) or pick(IARGS)
  end
  return "States." .. pick(INTRINSICS) .. "(" .. table.concat(args, ", ") .. ")"
end

--- An intrinsic call (text).
function M.intrinsic()
  if chance(0.5) and #corpus.intrinsics > 0 then
    local seed = pick(corpus.intrinsics)
    return chance(0.3) and seed or mutate(seed)
  end
  return icall(0)
end

---------------------------------------------------------------- ASL

local PATHS = { "$", "$.a", "$.b", "$.items", "$.items[0]", "$.a.b", "$.nope", "$$.Execution.Id",
  "$$.State.Name", "$.items[?(@.n > 1)]", "$..n", "$.x ", "$v" }
local HANDLERS = { "echo", "fail", "random", "count", "sleepy", "echo", "random", "odd" }

-- A JSONPath payload template.
local function template(depth)
  local t = {}
  for _ = 1, rnd(0, 3) do
    local r = rnd(4)
    if r == 1 then t[pick(KEYS) .. ".$"] = pick(PATHS)
    elseif r == 2 then t[pick(KEYS) .. ".$"] = M.intrinsic()
    elseif r == 3 and depth < 2 then t[pick(KEYS)] = template(depth + 1)
    else t[pick(KEYS)] = M.value(2) end
  end
  return t
end

-- A JSONata payload: "{% expr %}" strings at any depth.
local function payload(depth)
  local r = rnd(4)
  if r == 1 or depth > 1 then return "{% " .. M.jsonata() .. " %}" end
  if r == 2 then return M.value(2) end
  local t = {}
  for _ = 1, rnd(1, 3) do t[pick(KEYS)] = payload(depth + 1) end
  return t
end

local function retry_catch(st, jsonata, names, i)
  if chance(0.3) then
    st.Retry = json.array({ { ErrorEquals = json.array({ pick({ "States.ALL", "States.TaskFailed",
      "Custom.Error", "States.Timeout" }) }), MaxAttempts = pick({ 0, 1, 2, 3, 99999999 }),
      IntervalSeconds = pick({ 1, 2, 0, 99999999 }), BackoffRate = pick({ 1, 2, 1.5, 100 }),
      MaxDelaySeconds = chance(0.2) and rnd(1, 100) or nil } })
  end
  if chance(0.3) and i < #names then
    local c = { ErrorEquals = json.array({ "States.ALL" }), Next = names[rnd(i + 1, #names)] }
    if jsonata then
      if chance(0.5) then c.Output = payload(1) end
    elseif chance(0.5) then c.ResultPath = pick({ "$.error", "$", "$.a.b" }) end
    st.Catch = json.array({ c })
  end
end

-- One state of a machine whose states are names[1..n]; transitions only go
-- forward (names[i + 1..n]), so that a machine always ends.
local function state(names, i, jsonata, depth)
  local last = i == #names
  local types = { "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map" }
  local t = pick(types)
  if last and t == "Choice" then t = "Pass" end
  if depth > 1 and (t == "Parallel" or t == "Map") then t = "Pass" end
  local st = { Type = t }
  local function next_or_end()
    if last then st.End = true else st.Next = names[rnd(i + 1, #names)] end
  end
  if t == "Pass" or t == "Task" or t == "Parallel" or t == "Map" then next_or_end() end
  if t == "Wait" then
    next_or_end()
    local r = rnd(4)
    if jsonata then st.Seconds = chance(0.5) and rnd(0, 100) or ("{% " .. M.jsonata() .. " %}")
    elseif r == 1 then st.Seconds = pick({ 0, 1, 10, 1000, 99999999 })
    elseif r == 2 then st.SecondsPath = pick(PATHS)
    elseif r == 3 then st.Timestamp = pick({ "2016-03-14T01:59:00Z", "2099-01-01T00:00:00Z" })
    else st.TimestampPath = pick(PATHS) end
  end
  if t == "Task" then
    st.Resource = pick(HANDLERS)
    if chance(0.2) then st.TimeoutSeconds = rnd(1, 100) end
    retry_catch(st, jsonata, names, i)
  end
  if t == "Fail" then
    if jsonata then
      if chance(0.5) then st.Error = chance(0.5) and "E" or ("{% " .. M.jsonata() .. " %}") end
      if chance(0.5) then st.Cause = "{% " .. M.jsonata() .. " %}" end
    else
      if chance(0.5) then st.Error = "Custom.Error" end
      if chance(0.3) then st.CausePath = chance(0.5) and pick(PATHS) or M.intrinsic() end
    end
  end
  if t == "Choice" then
    local rules = json.array({})
    for k = 1, rnd(1, 3) do
      local rule = { Next = names[rnd(i + 1, #names)] }
      if jsonata then
        rule.Condition = "{% " .. M.jsonata() .. " %}"
      else
        rule.Variable = pick(PATHS)
        local op = pick({ "NumericEquals", "NumericLessThan", "StringEquals", "StringMatches",
          "BooleanEquals", "IsPresent", "IsNull", "IsNumeric", "TimestampLessThan",
          "NumericGreaterThanPath", "StringEqualsPath" })
        if op:find("Path$") then rule[op] = pick(PATHS)
        elseif op:find("^Is") or op == "BooleanEquals" then rule[op] = chance(0.5)
        elseif op:find("^String") then rule[op] = pick(STRINGS)
        elseif op:find("^Timestamp") then rule[op] = "2016-03-14T01:59:00Z"
        else rule[op] = pick(NUMBERS) end
      end
      rules[k] = rule
    end
    st.Choices = rules
    if chance(0.5) then st.Default = names[rnd(i + 1, #names)] end
  end
  if t == "Parallel" then
    local branches = json.array({})
    for k = 1, rnd(1, 2) do
      local sub = {}
      for s = 1, rnd(1, 3) do sub[s] = "B" .. depth .. "_" .. i .. "_" .. k .. "_" .. s end
      local states = {}
      for s = 1, #sub do states[sub[s]] = state(sub, s, jsonata, depth + 1) end
      branches[k] = { StartAt = sub[1], States = states }
    end
    st.Branches = branches
    retry_catch(st, jsonata, names, i)
  end
  if t == "Map" then
    local sub = {}
    for s = 1, rnd(1, 2) do sub[s] = "M" .. depth .. "_" .. i .. "_" .. s end
    local states = {}
    for s = 1, #sub do states[sub[s]] = state(sub, s, jsonata, depth + 1) end
    st.ItemProcessor = { ProcessorConfig = { Mode = "INLINE" }, StartAt = sub[1], States = states }
    if jsonata then
      if chance(0.6) then st.Items = "{% " .. pick({ "[1,2,3]", "$states.input.items",
        M.jsonata() }) .. " %}" end
    else
      st.ItemsPath = pick({ "$.items", "$", "$.a", "$.nope" })
      if chance(0.3) then st.ItemSelector = template(0) end
    end
    if chance(0.5) then st.MaxConcurrency = rnd(0, 3) end
  end
  if t ~= "Fail" and t ~= "Succeed" then
    if jsonata then
      if t ~= "Choice" and chance(0.5) then st.Output = payload(0) end
      if (t == "Task" or t == "Parallel") and chance(0.4) then st.Arguments = payload(0) end
      if chance(0.3) then st.Assign = { v = payload(1) } end
    else
      if chance(0.2) then st.InputPath = pick(PATHS) end
      if chance(0.2) then st.OutputPath = pick(PATHS) end
      if (t == "Pass" or t == "Task" or t == "Parallel") and chance(0.5) then
        st.Parameters = template(0)
      end
      if t ~= "Choice" and t ~= "Wait" and chance(0.3) then
        st.ResultPath = pick({ "$.r", "$", "$.a.b", "$.items[0]", json.null })
      end
      if chance(0.2) then st.Assign = { ["v.$"] = pick(PATHS) } end
    end
  end
  return st
end

--- An ASL definition (a table), grown from the corpus half the time.
function M.definition()
  if chance(0.3) and #corpus.definitions > 0 then
    local ok, def = pcall(json.decode, pick(corpus.definitions))
    if ok then return def end
  end
  local jsonata = chance(0.4)
  local names = {}
  for i = 1, rnd(1, 6) do names[i] = "S" .. i end
  local states = {}
  for i = 1, #names do states[names[i]] = state(names, i, jsonata, 0) end
  local def = { StartAt = names[1], States = states }
  if jsonata then def.QueryLanguage = "JSONata" end
  return def
end

---------------------------------------------------------------- API requests

-- Strings an API member may be given: names, ARNs of every kind (known
-- to the server or not), definitions, JSON texts and junk.
local API_STRINGS = { "a", "flow", "", "x y", ("n"):rep(81), "é",
  "arn:aws:states:us-east-1:123456789012:stateMachine:flow",
  "arn:aws:states:us-east-1:123456789012:stateMachine:flow:1",
  "arn:aws:states:us-east-1:123456789012:stateMachine:flow:prod",
  "arn:aws:states:us-east-1:123456789012:execution:flow:e1",
  "arn:aws:states:us-east-1:123456789012:express:flow:e1:x",
  "arn:aws:states:us-east-1:123456789012:activity:act",
  "arn:aws:states:us-east-1:123456789012:mapRun:flow/l:1",
  "arn:aws:states:us-east-1:123456789012:nope:x", "arn:aws:iam::123456789012:role/r", "arn:",
  '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}', "{}", "[]", "1", '{"a":', "null",
  "AAAA", "eyJ9", "Pass", "P", "TRACE", "DEBUG" }

--- A random input for the API shape `name` of `shapes` (the server's
-- model): mostly of the right types and sizes, sometimes anything, so
-- both the model's checks and the operations behind them are reached.
function M.api_input(shapes, name, depth)
  depth = depth or 0
  if chance(0.02) or depth > 5 then return M.value(3) end
  local shape = shapes[name]
  local kind = shape[1]
  if kind == "structure" then
    local t, required = {}, {}
    for _, r in ipairs(shape.required or {}) do required[r] = true end
    for _, m in ipairs(shape.members or {}) do
      if chance(required[m[1]] and 0.95 or 0.5) then
        local v = M.api_input(shapes, m[2], depth + 1)
        if m[2] == "Definition" and chance(0.5) then v = json.encode(M.definition()) end
        t[m[1]] = v
      end
    end
    return t
  elseif kind == "list" then
    local t = json.array({})
    for i = 1, rnd(0, 3) do t[i] = M.api_input(shapes, shape.member, depth + 1) end
    return t
  elseif kind == "map" then
    return { k = M.api_input(shapes, shape.value, depth + 1) }
  elseif kind == "string" then
    if shape.enum and chance(0.8) then return pick(shape.enum) end
    if chance(0.2) then return M.input_text() end
    return pick(API_STRINGS)
  elseif kind == "integer" or kind == "long" then
    return pick({ 0, 1, 2, -1, 1000, 1001, 2 ^ 31, math.maxinteger })
  elseif kind == "float" or kind == "double" then
    return pick({ 0, 0.5, 100, 100.5, -1 })
  elseif kind == "boolean" then
    return chance(0.5)
  end
  return M.value(3)
end

return M
