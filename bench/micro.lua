-- bench/micro.lua: micro-benchmarks in ns per operation (CPU time, best of
-- 3 rounds): JSON decode/encode beside Debian's lua-cjson, JSONPath, ASL
-- path accessors, Choice rules, intrinsic calls, payload templates and the
-- ResultPath merge. `bench/run micro [--quick] [--json]` runs it, then
-- bench/json_bench.lua (large documents) unless --quick.
local common = dofile("bench/common.lua")
local json = common.json

local quick, as_json = false, false
for _, a in ipairs(arg) do
  if a == "--quick" then quick = true elseif a == "--json" then as_json = true end
end

local ok_cjson, cjson = pcall(require, "cjson")
local jsonpath = require("stepflow.jsonpath")
local paths = require("stepflow.asl.paths")
local choice = require("stepflow.asl.choice")
local intrinsics = require("stepflow.asl.intrinsics")
local template = require("stepflow.asl.template")

-- Operations per round: enough for ~50-200 ms per case on this machine.
local SCALE = quick and 0.1 or 1
local ROUNDS = quick and 1 or 3

local results = {}

-- Runs fn(i) n times per round; records the best round's ns per call.
local function bench(group, name, n, fn, note)
  n = math.max(1, math.floor(n * SCALE))
  fn(1)                                         -- warm up, fail early
  local best = math.huge
  for _ = 1, ROUNDS do
    collectgarbage("collect")
    local c = os.clock()
    for i = 1, n do fn(i) end
    local t = os.clock() - c
    if t < best then best = t end
  end
  local r = { group = group, name = name, ns_per_op = best / n * 1e9, ops = n, note = note }
  results[#results + 1] = r
  return r
end

---------------------------------------------------------------- baseline

local function nop() end
bench("baseline", "empty Lua call in the loop", 5e6, function() nop() end)

---------------------------------------------------------------- JSON

local small_doc = { id = 12345, name = "customer order", price = 12.5, ok = true,
  tags = json.array({ "a", "b" }), address = { street = "Main Street 1", zip = "10001" } }
local small_text = json.encode(small_doc)
local pass_input_text = common.read_file(common.WORKLOADS .. "/pass_chain_100/input.json")
local pass_input = json.decode(pass_input_text)
local map_text = common.read_file(common.WORKLOADS .. "/map_10k/input.json")
local map_doc = json.decode(map_text)

bench("json", "stepflow decode small (" .. #small_text .. " B)", 3e5,
  function() json.decode(small_text) end)
bench("json", "stepflow encode small (sorted keys)", 3e5, function() json.encode(small_doc) end)
bench("json", "stepflow encode small sort=false", 3e5,
  function() json.encode(small_doc, { sort = false }) end)
bench("json", "stepflow encode pass_chain_100 input", 3e5, function() json.encode(pass_input) end)
bench("json", "stepflow decode map_10k input (" .. #map_text .. " B)", 100,
  function() json.decode(map_text) end)
bench("json", "stepflow encode map_10k input", 100, function() json.encode(map_doc) end)
if ok_cjson then
  local cj_small = cjson.decode(small_text)
  local cj_map = cjson.decode(map_text)
  local cj_pass = cjson.decode(pass_input_text)
  bench("json", "cjson decode small", 3e5, function() cjson.decode(small_text) end)
  bench("json", "cjson encode small", 3e5, function() cjson.encode(cj_small) end)
  bench("json", "cjson encode pass_chain_100 input", 3e5, function() cjson.encode(cj_pass) end)
  bench("json", "cjson decode map_10k input", 100, function() cjson.decode(map_text) end)
  bench("json", "cjson encode map_10k input", 100, function() cjson.encode(cj_map) end)
else
  results[#results + 1] = { group = "json", name = "lua-cjson not installed (apt-get install lua-cjson)" }
end

---------------------------------------------------------------- JSONPath

local doc = { a = { b = json.array({ 7, 8, 9 }), c = "x" }, x = 3, y = 10 }
local p_ab0 = assert(jsonpath.compile("$.a.b[0]"))
bench("jsonpath", "compile(\"$.a.b[0]\"):get(doc) (compiled once)", 2e6, function() p_ab0:get(doc) end)
local p_x = assert(jsonpath.compile("$.x"))
bench("jsonpath", "compile(\"$.x\"):get(doc)", 2e6, function() p_x:get(doc) end)
bench("jsonpath", "compile(\"$.a.b[0]\") (compile each time)", 2e5,
  function() jsonpath.compile("$.a.b[0]") end)
local p_star = assert(jsonpath.compile("$.a.b[*]"))
bench("jsonpath", "compile(\"$.a.b[*]\"):get(doc) (indefinite)", 1e6, function() p_star:get(doc) end)

local env = { input = doc }
local acc = assert(paths.accessor("$.a.b[0]"))
bench("paths", "accessor(\"$.a.b[0]\")(env)", 2e6, function() acc(env) end)
local keys = assert(paths.reference_keys("$.acc"))
bench("paths", "set(pass input, {\"acc\"}, value) (ResultPath merge)", 1e6,
  function() paths.set(pass_input, keys, small_doc) end)

---------------------------------------------------------------- Choice

local r_lt = assert(choice.compile({ Variable = "$.x", NumericLessThanPath = "$.y", Next = "n" },
  paths.accessor))
bench("choice", "NumericLessThanPath $.x < $.y", 2e6, function() r_lt(env) end)
local r_num = assert(choice.compile({ Variable = "$.x", IsNumeric = true, Next = "n" }, paths.accessor))
bench("choice", "IsNumeric $.x", 2e6, function() r_num(env) end)
local r_str = assert(choice.compile({ Variable = "$.a.c", StringEquals = "x", Next = "n" }, paths.accessor))
bench("choice", "StringEquals $.a.c", 2e6, function() r_str(env) end)
local r_and = assert(choice.compile({ And = {
  { Variable = "$.x", NumericGreaterThanEquals = 0 },
  { Variable = "$.a.c", IsPresent = true },
  { Not = { Variable = "$.y", NumericEquals = 3 } } }, Next = "n" }, paths.accessor))
bench("choice", "And(3 rules incl. Not)", 1e6, function() r_and(env) end)

---------------------------------------------------------------- intrinsics

local ienv = { input = { a = 41, acc = { n = 5 }, s = "world" } }
local add = assert(intrinsics.compile("States.MathAdd($.a, 1)", paths.accessor))
bench("intrinsics", "States.MathAdd($.a, 1)", 1e6, function() add(ienv) end)
local fmt = assert(intrinsics.compile("States.Format('hello {}', $.s)", paths.accessor))
bench("intrinsics", "States.Format('hello {}', $.s)", 1e6, function() fmt(ienv) end)
local arr = assert(intrinsics.compile("States.Array($.a, $.s, 3)", paths.accessor))
bench("intrinsics", "States.Array($.a, $.s, 3)", 1e6, function() arr(ienv) end)
local compile_uncached = intrinsics.compile_uncached or intrinsics.compile
bench("intrinsics", "compile States.MathAdd (parse + closures)", 1e5,
  function() compile_uncached("States.MathAdd($.a, 1)", paths.accessor) end)
bench("intrinsics", "intrinsics.compile of a text seen before", 1e5,
  function() intrinsics.compile("States.MathAdd($.a, 1)", paths.accessor) end)

---------------------------------------------------------------- templates

local tmpl = assert(template.compile({ ["n.$"] = "States.MathAdd($.acc.n, 1)", last = "P001" }, "Parameters"))
bench("template", "pass_chain_100 Parameters {n.$: MathAdd, last}", 1e6, function() tmpl(ienv) end)
local tmpl2 = assert(template.compile({ ["id.$"] = "$.a", ["x.$"] = "$.s" }, "Parameters"))
bench("template", "{id.$: $.a, x.$: $.s}", 1e6, function() tmpl2(ienv) end)

---------------------------------------------------------------- engine parts

-- Costs the profiles point at (docs/BENCH.md): context timestamps, the
-- execution name, a coroutine per Task call, a frame's __index miss.
local timestamp = require("stepflow.asl.timestamp")
local stepflow = require("stepflow")
local execution = require("stepflow.execution")
bench("engine", "timestamp.format(ms) (context StartTime/EnteredTime)", 5e5,
  function(i) timestamp.format(1700000000000 + i) end)
local engine = stepflow.new({ virtual_time = true })
bench("engine", "engine:_uuid() (execution name per start)", 3e5, function() engine:_uuid() end)
local function handler(x) return x + 1 end
bench("engine", "coroutine.create + resume (Task call)", 5e5, function(i)
  local co = coroutine.create(handler)
  coroutine.resume(co, i)
end)
bench("engine", "pcall(handler) (Task call without a coroutine)", 5e5, function(i) pcall(handler, i) end)
local frame = execution.new_frame({}, { start = {} }, {}, {}, function() end)
bench("engine", "frame.absent_field (through the frame metatable's __index)", 2e6,
  function() return frame.no_such_field end)
local plain = { dead = false }
bench("engine", "plain.present_field (field set to false)", 2e6, function() return plain.dead end)
local loop = engine.loop
local function empty() end
bench("engine", "loop:call(fn) + loop:run() (one empty callback)", 2e5, function()
  loop:call(empty)
  loop:run()
end)
local sm = assert(engine:create_state_machine([[{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}]],
  { name = "tiny", type = "EXPRESS" }))
bench("engine", "start_execution + run (1 Succeed state)", 5e4, function()
  engine:start_execution(sm, {})
  engine:run()
end)

---------------------------------------------------------------- output

if as_json then
  for _, r in ipairs(results) do io.write(json.encode(r), "\n") end
else
  print(string.format("micro-benchmarks: CPU ns per operation, best of %d round%s%s",
    ROUNDS, ROUNDS == 1 and "" or "s", quick and " (quick)" or ""))
  local group
  for _, r in ipairs(results) do
    if r.group ~= group then
      group = r.group
      print(group)
    end
    if r.ns_per_op then
      print(string.format("  %-56s %10.1f ns", r.name, r.ns_per_op))
    else
      print("  " .. r.name)
    end
  end
end
io.stdout:flush()

if not quick and not as_json then
  local fh = io.open("bench/json_bench.lua", "r")
  if fh then
    fh:close()
    print("")
    print("bench/json_bench.lua (large and many small documents, CPU seconds):")
    io.stdout:flush()
    os.execute((os.getenv("LUA") or "lua5.4") .. " bench/json_bench.lua 3")
  end
end
