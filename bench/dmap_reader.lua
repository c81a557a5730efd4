#!/usr/bin/env lua5.4
-- bench/dmap_reader.lua: ItemReader CSV throughput and memory (issue 15).
-- Writes an N-row CSV into a temporary local S3 folder, then reads it
-- through reader.open(...):next() alone in a fresh process per size, and
-- prints rows/s and the process's peak RSS. Usage:
--   lua5.4 bench/dmap_reader.lua [ROWS ...]      (default 1000000 2000000)
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

if arg[1] == "--read" then
  local reader = require("stepflow.dmap.reader")
  local folder = require("stepflow.s3.folder")
  local stream = reader.open({ Resource = reader.GET_OBJECT, Parameters = { Bucket = "b", Key = "rows.csv" },
    ReaderConfig = { InputType = "CSV", CSVHeaderLocation = "FIRST_ROW" } }, folder.new(arg[2]))
  local clock = os.clock
  local t0, n = clock(), 0
  while stream:next() do n = n + 1 end
  local dt = clock() - t0
  print(string.format("%d %.3f %.1f", n, dt, peak_rss_mb()))
  os.exit(0)
end

local sizes = {}
for i = 1, #arg do sizes[#sizes + 1] = tonumber(arg[i]) end
if #sizes == 0 then sizes = { 1000000, 2000000 } end
local root = os.tmpname()
os.remove(root)
assert(os.execute("mkdir -p " .. root .. "/b"))
local results = {}
for _, n in ipairs(sizes) do
  local f = assert(io.open(root .. "/b/rows.csv", "wb"))
  f:write("order_id,customer,amount,region\n")
  local batch = {}
  for i = 1, n do
    batch[#batch + 1] = i .. ",customer" .. (i % 9973) .. "," .. (i % 1000) .. ".25,eu-west-" .. (i % 3) .. "\n"
    if #batch == 10000 then f:write(table.concat(batch)); batch = {} end
  end
  f:write(table.concat(batch))
  f:close()
  local p = assert(io.popen((os.getenv("LUA") or "lua5.4") .. " bench/dmap_reader.lua --read " .. root))
  local out = p:read("a")
  p:close()
  local rows, secs, rss = out:match("^(%d+) ([%d.]+) ([%d.]+)")
  assert(tonumber(rows) == n, "read " .. tostring(rows) .. " rows of " .. n .. ": " .. out)
  results[#results + 1] = { n = n, rate = n / tonumber(secs), rss = tonumber(rss) }
  print(string.format("dmap_reader csv %9d rows: %10.0f rows/s (target >= 1,000,000)  peak RSS %.1f MB",
    n, n / tonumber(secs), tonumber(rss)))
end
os.execute("rm -rf " .. root)
