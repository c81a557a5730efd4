-- bench/json_bench.lua: stepflow.json against Debian's lua-cjson, same run.
-- Run from the project root: lua5.4 bench/json_bench.lua [rounds]
-- Prints the best of N rounds (CPU seconds) for each codec and the ratio
-- stepflow / cjson (below 1 means stepflow is faster).
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local cjson = require("cjson")

local rounds = tonumber(arg and arg[1]) or 5

-- A fixed pseudo-random generator, so every run sees the same documents.
local seed = 42
local function rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local words = { "alpha", "beta", "gamma", "delta", "order", "customer",
  "shipped", "pending", "Zürich", "naïve", "東京", "line\nbreak", "quote\"d" }

local function record(i)
  return {
    id = i,
    uuid = string.format("%08x-%04x-%04x", rand(2^31), rand(65536), rand(65536)),
    name = words[rand(#words) + 1] .. " " .. words[rand(#words) + 1],
    price = rand(100000) / 100,
    ratio = rand(1000000) / 7,
    quantity = rand(1000),
    active = rand(2) == 1,
    note = json.null,
    tags = { words[rand(#words) + 1], words[rand(#words) + 1] },
    address = { street = "Main Street " .. rand(200), zip = tostring(10000 + rand(89999)),
                geo = { lat = rand(180000000) / 1e6 - 90, lon = rand(360000000) / 1e6 - 180 } },
    history = json.array({}),
    created = 1686041011364 + rand(1000000),
  }
end

-- The ~1 MB document: an object holding an array of records.
local big = { items = {}, count = 0, source = "bench" }
for i = 1, 100 do big.items[i] = record(i) end
local per_record = #json.encode(big) / 100
big.count = math.ceil(1000000 / per_record)
for i = 101, big.count do big.items[i] = record(i) end
local big_text = json.encode(big)

-- 100,000 small documents.
local small_texts = {}
for i = 1, 100000 do
  small_texts[i] = json.encode({ id = i, name = words[i % #words + 1],
    price = (i % 997) / 4, ok = i % 3 == 0, tags = { "a", "b" } })
end

local function best(fn)
  local t = math.huge
  for _ = 1, rounds do
    collectgarbage("collect")
    local c = os.clock()
    fn()
    t = math.min(t, os.clock() - c)
  end
  return t
end

local results = {}
local function bench(name, ours, theirs)
  local a, b = best(ours), best(theirs)
  results[#results + 1] = { name, a, b }
end

local function decode_all(decode)
  return function()
    for i = 1, #small_texts do decode(small_texts[i]) end
  end
end

local ours_big, cj_big = json.decode(big_text), cjson.decode(big_text)
local ours_small, cj_small = {}, {}
for i = 1, #small_texts do
  ours_small[i] = json.decode(small_texts[i])
  cj_small[i] = cjson.decode(small_texts[i])
end
local function encode_all(encode, values)
  return function()
    for i = 1, #values do encode(values[i]) end
  end
end

bench("decode 1 MB document", function() json.decode(big_text) end,
      function() cjson.decode(big_text) end)
bench("encode 1 MB document", function() json.encode(ours_big) end,
      function() cjson.encode(cj_big) end)
bench("encode 1 MB, sort=false", function() json.encode(ours_big, { sort = false }) end,
      function() cjson.encode(cj_big) end)
bench("decode 100k small", decode_all(json.decode), decode_all(cjson.decode))
bench("encode 100k small", encode_all(json.encode, ours_small),
      encode_all(cjson.encode, cj_small))

-- Floats that need 16-17 digits (cjson prints 14, losing precision).
local floats = json.array({})
for i = 1, 200000 do floats[i] = i / 7 end
local floats_text = json.encode(floats)
bench("encode 200k floats", function() json.encode(floats) end,
      function() cjson.encode(floats) end)
bench("decode 200k floats", function() json.decode(floats_text) end,
      function() cjson.decode(floats_text) end)

print(string.format("document: %d bytes, %d records; small: %d documents of ~%d bytes; best of %d",
  #big_text, big.count, #small_texts, #small_texts[1], rounds))
print(string.format("%-26s %12s %12s %8s", "case", "stepflow s", "cjson s", "ratio"))
for _, r in ipairs(results) do
  print(string.format("%-26s %12.4f %12.4f %8.2f", r[1], r[2], r[3], r[2] / r[3]))
end
