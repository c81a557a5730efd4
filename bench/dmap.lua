#!/usr/bin/env lua5.4
-- bench/dmap.lua: a Distributed Map over a large CSV file (issue 15).
-- Writes an N-row CSV into a temporary local S3 folder, then maps it in a
-- fresh process per size: ItemReader CSV, batches of 100, each batch an
-- EXPRESS child execution of two Pass states (or, with --standard, a
-- STANDARD child on a durable store). Prints items/s and the process's
-- peak RSS. Usage:
--   lua5.4 bench/dmap.lua [--standard] [ROWS ...]   (default 1000000 2000000)
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

local function definition(child_type)
  return {
    StartAt = "Map",
    States = {
      Map = {
        Type = "Map", End = true, ResultSelector = { ["done.$"] = "$.MapRunArn" },
        ItemReader = { Resource = "arn:aws:states:::s3:getObject",
          ReaderConfig = { InputType = "CSV", CSVHeaderLocation = "FIRST_ROW" },
          Parameters = { Bucket = "b", Key = "rows.csv" } },
        ItemBatcher = { MaxItemsPerBatch = 100 },
        -- the results go to S3: the state's own output stays small
        ResultWriter = { Resource = "arn:aws:states:::s3:putObject",
          Parameters = { Bucket = "b", Prefix = "out" }, WriterConfig = { OutputType = "JSONL" } },
        ItemProcessor = {
          ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = child_type },
          StartAt = "Count",
          States = {
            Count = { Type = "Pass", Parameters = { ["n.$"] = "States.ArrayLength($.Items)" }, Next = "Done" },
            Done = { Type = "Pass", End = true },
          },
        },
      },
    },
  }
end

if arg[1] == "--run" then
  local stepflow = require("stepflow")
  local root, child_type = arg[2], arg[3]
  local opts = { virtual_time = true, s3_dir = root, payload_limit = false }
  if child_type == "STANDARD" then opts.store = root .. "/store.db" end
  local engine = assert(stepflow.new(opts))
  local sm = assert(engine:create_state_machine(definition(child_type), { name = "bench" }))
  local t0 = os.clock()
  local exec = engine:start_execution(sm, {})
  engine:run()
  local dt = os.clock() - t0
  assert(exec.status == "SUCCEEDED", tostring(exec.error) .. ": " .. tostring(exec.cause))
  -- (DescribeMapRun's execution counts: batches of 100 items)
  local run = engine:describe_map_run(engine:list_map_runs(exec.arn)[1].mapRunArn)
  engine:close()
  print(string.format("%d %.3f %.1f", run.executionCounts.total, dt, peak_rss_mb()))
  os.exit(0)
end

local child_type = "EXPRESS"
local sizes = {}
for i = 1, #arg do
  if arg[i] == "--standard" then child_type = "STANDARD" else sizes[#sizes + 1] = tonumber(arg[i]) end
end
if #sizes == 0 then sizes = { 1000000, 2000000 } end
local root = os.tmpname()
os.remove(root)
local results = {}
for _, n in ipairs(sizes) do
  assert(os.execute("rm -rf " .. root .. " && mkdir -p " .. root .. "/b"))
  local f = assert(io.open(root .. "/b/rows.csv", "wb"))
  f:write("order_id,customer,amount,region\n")
  local buf = {}
  for i = 1, n do
    buf[#buf + 1] = string.format("ord-%d,customer %d,%d.%02d,%s\n", i, i % 997, i % 500, i % 100,
      i % 3 == 0 and "eu" or "us")
    if #buf == 10000 then f:write(table.concat(buf)); buf = {} end
  end
  f:write(table.concat(buf))
  f:close()
  local p = assert(io.popen("lua5.4 bench/dmap.lua --run " .. root .. " " .. child_type))
  local out = p:read("a")
  p:close()
  local batches, secs, rss = out:match("^(%d+) ([%d.]+) ([%d.]+)")
  assert(batches and tonumber(batches) == (n + 99) // 100, "the run failed: " .. out)
  results[#results + 1] = { n = n, rate = n / tonumber(secs), rss = tonumber(rss) }
end
os.execute("rm -rf " .. root)
print(string.format("Distributed Map over a CSV, batches of 100, %s children of two Pass states:", child_type))
print("  rows        items/s    peak RSS")
for _, r in ipairs(results) do
  print(string.format("  %-9d %9.0f   %6.1f MB", r.n, r.rate, r.rss))
end
