-- bench/jsonata_bench.lua: time per evaluation of typical ASL JSONata
-- expressions (compiled once, evaluated many times), and of compiling.
-- Run from the project root: lua5.4 bench/jsonata_bench.lua [iterations]
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local jsonata = require("stepflow.jsonata")

local iterations = tonumber(arg and arg[1]) or 20000

local items = {}
for i = 1, 20 do
  items[i] = { id = i, name = "item" .. i, price = (i * 7) % 40, qty = i % 5,
    tags = json.array({ "a", "b" }) }
end
local states = {
  input = { items = json.array(items), customer = { name = "Ada", tier = "gold" },
    orderId = "o-123", total = 250 },
  context = { Execution = { Id = "arn:aws:states:us-east-1:123:execution:m:e" } },
}
local bindings = { states = states }

local cases = {
  { "field", "$states.input.orderId" },
  { "filter+sum", "$states.input.items[price > 10].price ~> $sum()" },
  { "condition", "$states.input.total > 100 and $states.input.customer.tier = 'gold'" },
  { "object", "{ 'id': $states.input.orderId, 'who': $uppercase($states.input.customer.name), "
    .. "'n': $count($states.input.items) }" },
  { "map", "$map($states.input.items, function($v){ $v.price * $v.qty })" },
  { "string", "'Order ' & $states.input.orderId & ' for ' & $states.input.customer.name" },
  { "sort", "$states.input.items^(>price).name[[0..2]]" },
  { "group", "$states.input.items{ $string(qty): $sum(price) }" },
}

local clock = os.clock
print(string.format("%-12s %12s %12s", "case", "us/eval", "us/compile"))
for _, c in ipairs(cases) do
  local name, expr = c[1], c[2]
  local t0 = clock()
  local n_compile = math.max(1, iterations // 10)
  for _ = 1, n_compile do jsonata.compile(expr) end
  local compile_us = (clock() - t0) / n_compile * 1e6
  local compiled = jsonata.compile(expr)
  compiled:evaluate(nil, bindings)
  t0 = clock()
  for _ = 1, iterations do compiled:evaluate(nil, bindings) end
  local eval_us = (clock() - t0) / iterations * 1e6
  print(string.format("%-12s %12.2f %12.2f", name, eval_us, compile_us))
end
