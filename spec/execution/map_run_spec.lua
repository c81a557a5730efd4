-- Distributed Map: each item runs as a child execution of a Map Run.
local stepflow = require("stepflow")
local json = require("stepflow.json")
local h = require("spec_helper")

local function dmap(extra, processor)
  local m = { Type = "Map", End = true, ItemProcessor = processor or {
    ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" },
    StartAt = "T", States = { T = { Type = "Task", Resource = "work", End = true } } } }
  for k, v in pairs(extra or {}) do m[k] = v end
  return { StartAt = "M", States = { M = m } }
end

-- A handler failing for the items listed, doubling the others.
local function work(failing)
  local bad = {}
  for _, v in ipairs(failing or {}) do bad[v] = true end
  return { work = function(x)
    if bad[x] then error({ Error = "Item.Bad", Cause = "item " .. x }) end
    return x * 2
  end }
end

describe("Distributed Map", function()
  it("runs every item as a child execution and gives the results in item order", function()
    local status, out, exec = h.run(dmap(), json.array({ 1, 2, 3, 4 }), work())
    assert.equal("SUCCEEDED", status)
    assert.same({ 2, 4, 6, 8 }, out)
    -- the children's events are their own: the parent records the Map Run
    assert.same({ "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
      "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded" }, h.event_types(exec))
    assert.equal(4, exec.history[3].details.length)
  end)

  it("names the Map Run after the machine and its Label", function()
    local _, _, exec = h.run(dmap({ Label = "Orders" }), json.array({ 1 }), work(), { name = "Shop" })
    local arn = exec.history[4].details.mapRunArn
    assert.matches("^arn:aws:states:us%-east%-1:123456789012:mapRun:Shop/Orders:[%x-]+$", arn)
  end)

  it("describes itself as DescribeMapRun does, counting items and child executions apart", function()
    local engine = stepflow.new({ virtual_time = true, handlers = { work = function(batch)
      for _, x in ipairs(batch.Items) do if x == 4 then error({ Error = "Bad" }) end end
      return #batch.Items
    end } })
    local sm = assert(engine:create_state_machine(dmap({ ItemBatcher = { MaxItemsPerBatch = 2 },
      ToleratedFailureCount = 1, MaxConcurrency = 3 })))
    local exec = engine:start_execution(sm, json.array({ 1, 2, 3, 4, 5 }))
    engine:run()
    assert.equal("SUCCEEDED", exec.status, exec.cause)
    local runs = engine:list_map_runs(exec.arn)
    assert.equal(1, #runs)
    local d = engine:describe_map_run(runs[1].mapRunArn)
    assert.equal("SUCCEEDED", d.status)
    assert.equal(exec.arn, d.executionArn)
    assert.equal(3, d.maxConcurrency)
    assert.equal(1, d.toleratedFailureCount)
    assert.same({ pending = 0, running = 0, succeeded = 2, failed = 1, timedOut = 0, aborted = 0, total = 3,
      resultsWritten = 0, failuresNotRedrivable = 0, pendingRedrive = 0 }, d.executionCounts)
    assert.same({ pending = 0, running = 0, succeeded = 3, failed = 2, timedOut = 0, aborted = 0, total = 5,
      resultsWritten = 0, failuresNotRedrivable = 0, pendingRedrive = 0 }, d.itemCounts)
    assert.is_number(d.startDate)
    assert.is_number(d.stopDate)
  end)

  it("takes a new MaxConcurrency and tolerance while it runs (UpdateMapRun)", function()
    local in_flight, most = 0, 0
    local engine = stepflow.new({ virtual_time = true, handlers = { work = function(x, ctx)
      in_flight = in_flight + 1
      if in_flight > most then most = in_flight end
      ctx.sleep(10)
      in_flight = in_flight - 1
      if x == 2 then error({ Error = "Bad" }) end
      return x
    end } })
    local sm = assert(engine:create_state_machine(dmap({ MaxConcurrency = 1 })))
    local exec = engine:start_execution(sm, json.array({ 1, 2, 3, 4, 5, 6 }))
    local arn
    engine.loop:timer(5000, function()
      arn = next(engine.map_runs)
      assert.is_true(engine:update_map_run(arn, { max_concurrency = 4, tolerated_failure_count = 1 }))
    end)
    engine:run()
    assert.equal("SUCCEEDED", exec.status, exec.cause)
    assert.equal(4, most)
    local ok, code = engine:update_map_run(arn, { max_concurrency = 2 })
    assert.is_nil(ok)
    assert.equal("ValidationException", code)
    assert.equal("ResourceNotFound", select(2, engine:update_map_run("arn:nope", {})))
  end)

  it("keeps its counts, status and settings for DescribeMapRun", function()
    local engine = stepflow.new({ virtual_time = true, handlers = work({ 3 }) })
    local sm = assert(engine:create_state_machine(dmap({ ToleratedFailureCount = 1, MaxConcurrency = 2 })))
    local exec = engine:start_execution(sm, json.array({ 1, 2, 3, 4, 5 }))
    engine:run()
    assert.equal("SUCCEEDED", exec.status)
    local arn, run = next(engine.map_runs)
    assert.is_string(arn)
    assert.equal("SUCCEEDED", run.status)
    assert.same({ pending = 0, running = 0, succeeded = 4, failed = 1, timed_out = 0, aborted = 0,
      total = 5, results_written = 0 }, run.counts)
    assert.equal(2, run.max_concurrency)
    assert.equal(1, run.tolerated_count)
  end)

  it("keeps an ended run of a durable execution in the store: described and listed after a restart", function()
    local path = h.temp_store()
    local engine = assert(stepflow.new({ virtual_time = true, handlers = work({ 3 }), store = path }))
    local sm = assert(engine:create_state_machine(dmap({ ToleratedFailureCount = 1, MaxConcurrency = 2,
      Label = "Items" }), { name = "Kept" }))
    local exec = engine:start_execution(sm, json.array({ 1, 2, 3, 4, 5 }))
    engine:run()
    assert.equal("SUCCEEDED", exec.status, exec.cause)
    local runs = engine:list_map_runs(exec.arn)
    assert.equal(1, #runs)
    local arn = runs[1].mapRunArn
    local before = engine:describe_map_run(arn)
    assert.is_nil(next(engine.map_runs))  -- ended: in the store, not in memory
    engine:close()
    local again = assert(stepflow.new({ store = path }))
    assert.same(before, again:describe_map_run(arn))
    assert.equal("SUCCEEDED", before.status)
    assert.equal(4, before.executionCounts.succeeded)
    assert.same(runs, again:list_map_runs(exec.arn))
    assert.equal(sm.arn .. "/Items", runs[1].stateMachineArn)
    assert.equal("ValidationException", select(2, again:update_map_run(arn, { max_concurrency = 3 })))
    assert.is_nil(again:describe_map_run(arn .. "0"))
    again:close()
    h.remove_store(path)
  end)

  describe("tolerated failures", function()
    it("fails the run with States.ExceedToleratedFailureThreshold at the first failure by default", function()
      local status, err, exec = h.run(dmap(), json.array({ 1, 2, 3 }), work({ 2 }))
      assert.equal("FAILED", status)
      assert.same({ Error = "States.ExceedToleratedFailureThreshold",
        Cause = "The specified tolerated failure threshold was exceeded" }, err)
      local failed = exec.history[5]
      assert.equal("MapRunFailed", failed.type)
      assert.same({ error = "States.ExceedToleratedFailureThreshold",
        cause = "The specified tolerated failure threshold was exceeded" }, failed.details)
      assert.equal("MapStateFailed", exec.history[6].type)
    end)
    it("tolerates ToleratedFailureCount failures, with the failures' errors among the results", function()
      local status, out = h.run(dmap({ ToleratedFailureCount = 1 }), json.array({ 1, 2, 3 }), work({ 2 }))
      assert.equal("SUCCEEDED", status)
      assert.same({ 2, { Error = "Item.Bad", Cause = "item 2" }, 6 }, out)
      status = h.run(dmap({ ToleratedFailureCount = 1 }), json.array({ 1, 2, 3 }), work({ 1, 2 }))
      assert.equal("FAILED", status)
    end)
    it("tolerates ToleratedFailurePercentage of the items", function()
      assert.equal("SUCCEEDED", (h.run(dmap({ ToleratedFailurePercentage = 50 }), json.array({ 1, 2, 3, 4 }),
        work({ 1, 2 }))))
      assert.equal("FAILED", (h.run(dmap({ ToleratedFailurePercentage = 50 }), json.array({ 1, 2, 3, 4 }),
        work({ 1, 2, 3 }))))
    end)
    it("lets a Catch on the Map state catch the threshold error", function()
      local def = dmap()
      def.States.M.End = nil
      def.States.M.Next = "Done"
      def.States.M.Catch = { { ErrorEquals = { "States.ExceedToleratedFailureThreshold" }, Next = "Caught" } }
      def.States.Done = { Type = "Succeed" }
      def.States.Caught = { Type = "Pass", Result = "caught", End = true }
      local status, out = h.run(def, json.array({ 1, 2 }), work({ 1 }))
      assert.equal("SUCCEEDED", status)
      assert.equal("caught", out)
    end)
  end)

  describe("ToleratedFailure* on an inline Map", function()
    it("are accepted and, as on AWS, change nothing: the first failed iteration fails the Map", function()
      local inline = { StartAt = "T", States = { T = { Type = "Task", Resource = "work", End = true } } }
      local status, err = h.run(dmap({ ToleratedFailureCount = 5, ToleratedFailurePercentage = 100 }, inline),
        json.array({ 1, 2, 3 }), work({ 2 }))
      assert.equal("FAILED", status)
      assert.same({ Error = "Item.Bad", Cause = "item 2" }, err)
    end)
  end)

  describe("MaxConcurrency", function()
    it("runs at most that many children at once, and starts the next as one ends", function()
      local in_flight, most = 0, 0
      local handlers = { work = function(x, ctx)
        in_flight = in_flight + 1
        if in_flight > most then most = in_flight end
        ctx.sleep(1)
        in_flight = in_flight - 1
        return x
      end }
      local status, out = h.run(dmap({ MaxConcurrency = 3 }), json.array({ 1, 2, 3, 4, 5, 6, 7 }), handlers,
        { once = true })
      assert.equal("SUCCEEDED", status)
      assert.same({ 1, 2, 3, 4, 5, 6, 7 }, out)
      assert.equal(3, most)
    end)
  end)

  it("gives each child execution its own context: its own execution, no outer variables", function()
    local status, out = h.run({ StartAt = "A", States = {
      A = { Type = "Pass", Assign = { v = 1 }, Next = "M" },
      M = { Type = "Map", End = true, ItemProcessor = {
        ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }, StartAt = "P",
        States = { P = { Type = "Pass", Parameters = { ["id.$"] = "$$.Execution.Id", ["input.$"] = "$$.Execution.Input" },
          End = true } } } } } }, json.array({ 7 }), {}, { name = "Outer" })
    assert.equal("SUCCEEDED", status)
    assert.matches("^arn:aws:states:us%-east%-1:123456789012:execution:Outer/[%x-]+:[%x-]+$", out[1].id)
    assert.equal(7, out[1].input)
  end)

  describe("with an ItemReader and a ResultWriter on the S3 folder", function()
    local s3
    before_each(function()
      s3 = os.tmpname()
      os.remove(s3)
      assert(os.execute("mkdir -p " .. s3 .. "/in " .. s3 .. "/out"))
      local f = assert(io.open(s3 .. "/in/items.jsonl", "w"))
      for i = 1, 7 do f:write(json.encode({ n = i }), "\n") end
      f:close()
    end)
    after_each(function() os.execute("rm -rf " .. s3) end)

    local function reader_def(extra, config)
      local rc = { InputType = "JSONL" }
      for k, v in pairs(config or {}) do rc[k] = v end
      return dmap(extra or {}, {
        ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" },
        StartAt = "P", States = { P = { Type = "Pass", Parameters = { ["twice.$"] = "States.MathAdd($.n, $.n)" },
          End = true } } }), rc
    end
    local function run(def, input)
      local engine = assert(stepflow.new({ virtual_time = true, s3_dir = s3, history = true }))
      local sm = assert(engine:create_state_machine(def))
      local exec = engine:start_execution(sm, input or {})
      engine:run()
      return exec, engine
    end

    it("streams the items of a JSON Lines object, MaxItems at most", function()
      local def, rc = reader_def()
      rc.MaxItems = 5
      def.States.M.ItemReader = { Resource = "arn:aws:states:::s3:getObject", ReaderConfig = rc,
        Parameters = { Bucket = "in", ["Key.$"] = "$.key" } }
      local exec = run(def, { key = "items.jsonl" })
      assert.equal("SUCCEEDED", exec.status, exec.cause)
      assert.same({ { twice = 2 }, { twice = 4 }, { twice = 6 }, { twice = 8 }, { twice = 10 } }, exec.output)
      -- the number of items is not known when the Map starts
      assert.equal(0, exec.history[3].details.length)
    end)

    it("fails the Map Run with States.ItemReaderFailed when the object is missing", function()
      local def, rc = reader_def()
      def.States.M.ItemReader = { Resource = "arn:aws:states:::s3:getObject", ReaderConfig = rc,
        Parameters = { Bucket = "in", Key = "nope.jsonl" } }
      local exec = run(def)
      assert.equal("FAILED", exec.status)
      assert.equal("States.ItemReaderFailed", exec.error)
      local types = {}
      for i, e in ipairs(exec.history) do types[i] = e.type end
      assert.same({ "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunFailed",
        "MapStateFailed", "ExecutionFailed" }, types)
    end)

    it("writes the results to S3 and gives where it wrote them", function()
      local def, rc = reader_def({ Label = "Twice" })
      def.States.M.ItemReader = { Resource = "arn:aws:states:::s3:getObject", ReaderConfig = rc,
        Parameters = { Bucket = "in", Key = "items.jsonl" } }
      def.States.M.ResultWriter = { Resource = "arn:aws:states:::s3:putObject",
        Parameters = { Bucket = "out", Prefix = "runs" } }
      local exec, engine = run(def)
      assert.equal("SUCCEEDED", exec.status, exec.cause)
      local arn, map_run = next(engine.map_runs)
      assert.same({ MapRunArn = arn, ResultWriterDetails = { Bucket = "out",
        Key = "runs/" .. map_run.id .. "/manifest.json" } }, exec.output)
      assert.equal(7, map_run.counts.results_written)
      local f = assert(io.open(s3 .. "/out/runs/" .. map_run.id .. "/SUCCEEDED_0.json"))
      local records = json.decode(f:read("a"))
      f:close()
      assert.equal(7, #records)
      assert.equal("SUCCEEDED", records[1].Status)
      assert.same({ twice = 2 }, json.decode(records[1].Output))
    end)

    it("transforms the results without writing them when the ResultWriter has only WriterConfig", function()
      local def = dmap({ ResultWriter = { WriterConfig = { Transformation = "COMPACT" } } }, {
        ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "EXPRESS" },
        StartAt = "P", States = { P = { Type = "Pass", End = true } } })
      local exec = run(def, json.array({ 1, 2, 3 }))
      assert.equal("SUCCEEDED", exec.status, exec.cause)
      assert.same({ 1, 2, 3 }, exec.output)
    end)
  end)
end)
