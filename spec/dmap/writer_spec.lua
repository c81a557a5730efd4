local h = require("dmap.s3_helper")
local json = require("stepflow.json")
local writer = require("stepflow.dmap.writer")

local ARN = "arn:aws:states:us-east-1:123456789012:mapRun:sm/Map:run-1"
local T0 = 1700000000123

local function rec(i, status, output)
  return writer.record({
    execution_arn = "arn:aws:states:us-east-1:123456789012:execution:sm/Map:c" .. i, name = "c" .. i,
    state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:sm/Map", status = status,
    input = { i = i }, output = output, error = status ~= "SUCCEEDED" and "States.TaskFailed" or nil,
    cause = status ~= "SUCCEEDED" and "boom" or nil, start_ms = T0, stop_ms = T0 + 1000,
  })
end

local function run(def, records, opts)
  local b, root = h.backend("out")
  opts = opts or {}
  opts.map_run_id = "run-1"
  opts.map_run_arn = ARN
  local w = writer.open(def, b, opts)
  for i, r in ipairs(records) do w:add(r, i) end
  local result = w:finish()
  return result, root
end

local EXPORT = { Resource = writer.PUT_OBJECT, Parameters = { Bucket = "out", Prefix = "jobs" } }

describe("stepflow.dmap.writer", function()
  describe("record", function()
    it("has AWS's keys for a succeeded child", function()
      assert.same({
        ExecutionArn = "arn:aws:states:us-east-1:123456789012:execution:sm/Map:c1", Input = '{"i":1}',
        InputDetails = { Included = true }, Name = "c1", Output = '"done"', OutputDetails = { Included = true },
        RedriveCount = 0, RedriveStatus = "NOT_REDRIVABLE",
        RedriveStatusReason = "Execution is SUCCEEDED and cannot be redriven",
        StartDate = "2023-11-14T22:13:20.123Z", StateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:sm/Map",
        Status = "SUCCEEDED", StopDate = "2023-11-14T22:13:21.123Z",
      }, rec(1, "SUCCEEDED", "done"))
    end)

    it("has Error and Cause, and no Output, for a failed child", function()
      local r = rec(2, "FAILED")
      assert.same({ "States.TaskFailed", "boom", nil, "REDRIVABLE_BY_MAP_RUN", nil },
        { r.Error, r.Cause, r.Output, r.RedriveStatus, r.RedriveStatusReason })
    end)
  end)

  describe("exporting", function()
    it("writes SUCCEEDED_0.json and FAILED_0.json and the manifest; returns ResultWriterDetails", function()
      local result, root = run(EXPORT, { rec(1, "SUCCEEDED", { a = 1 }), rec(2, "FAILED"), rec(3, "TIMED_OUT"),
        rec(4, "SUCCEEDED", 4) })
      assert.same({ MapRunArn = ARN, ResultWriterDetails = { Bucket = "out", Key = "jobs/run-1/manifest.json" } },
        result)
      local succeeded = h.read(root, "out", "jobs/run-1/SUCCEEDED_0.json")
      local failed = h.read(root, "out", "jobs/run-1/FAILED_0.json")
      local list = json.decode(succeeded)
      assert.same({ 2, '{"a":1}', "4" }, { #list, list[1].Output, list[2].Output })
      assert.same({ "FAILED", "TIMED_OUT" }, { json.decode(failed)[1].Status, json.decode(failed)[2].Status })
      assert.same({
        DestinationBucket = "out", MapRunArn = ARN,
        ResultFiles = { FAILED = { { Key = "jobs/run-1/FAILED_0.json", Size = #failed } }, PENDING = {},
          SUCCEEDED = { { Key = "jobs/run-1/SUCCEEDED_0.json", Size = #succeeded } } },
      }, json.decode(h.read(root, "out", "jobs/run-1/manifest.json")))
      assert.is_nil(h.read(root, "out", "jobs/run-1/PENDING_0.json"))
      h.remove(root)
    end)

    it("writes JSON Lines with OutputType JSONL", function()
      local def = { Resource = writer.PUT_OBJECT, Parameters = { Bucket = "out" },
        WriterConfig = { OutputType = "JSONL" } }
      local result, root = run(def, { rec(1, "SUCCEEDED", 1), rec(2, "SUCCEEDED", 2) })
      assert.same("run-1/manifest.json", result.ResultWriterDetails.Key)
      local text = h.read(root, "out", "run-1/SUCCEEDED_0.json")
      local lines = {}
      for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = json.decode(l).Name end
      assert.same({ "c1", "c2" }, lines)
      h.remove(root)
    end)

    it("writes the outputs only with COMPACT, spread arrays with FLATTEN, failures whole", function()
      local def = { Resource = writer.PUT_OBJECT, Parameters = { Bucket = "out" },
        WriterConfig = { Transformation = "FLATTEN" } }
      local _, root = run(def, { rec(1, "SUCCEEDED", json.array({ 1, 2 })), rec(2, "SUCCEEDED", { x = 3 }),
        rec(3, "FAILED") })
      assert.same("[1,2,{\"x\":3}]", h.read(root, "out", "run-1/SUCCEEDED_0.json"))
      assert.same("c3", json.decode(h.read(root, "out", "run-1/FAILED_0.json"))[1].Name)
      h.remove(root)
      def.WriterConfig.Transformation = "COMPACT"
      _, root = run(def, { rec(1, "SUCCEEDED", json.array({ 1, 2 })), rec(2, "SUCCEEDED", "s") })
      assert.same('[[1,2],"s"]', h.read(root, "out", "run-1/SUCCEEDED_0.json"))
      h.remove(root)
    end)

    it("starts a new file past the size threshold", function()
      local records = {}
      for i = 1, 5 do records[i] = rec(i, "SUCCEEDED", string.rep("o", 100)) end
      local one = #json.encode(records[1])
      local _, root = run(EXPORT, records, { max_file_bytes = 2 * one + 3 })
      local manifest = json.decode(h.read(root, "out", "jobs/run-1/manifest.json"))
      local keys, total = {}, 0
      for i, f in ipairs(manifest.ResultFiles.SUCCEEDED) do
        keys[i] = f.Key
        local text = h.read(root, "out", f.Key)
        assert.same(#text, f.Size)
        assert.is_true(#text <= 2 * one + 3)
        total = total + #json.decode(text)
      end
      assert.same({ "jobs/run-1/SUCCEEDED_0.json", "jobs/run-1/SUCCEEDED_1.json", "jobs/run-1/SUCCEEDED_2.json" }, keys)
      assert.same(5, total)
      h.remove(root)
    end)

    it("fails with States.ResultWriterFailed for a missing bucket", function()
      local b, root = h.backend()
      local err = h.error_of(writer.open, { Resource = writer.PUT_OBJECT, Parameters = { Bucket = "none" } }, b,
        { map_run_id = "r" })
      assert.same("States.ResultWriterFailed", err.Error)
      assert.matches("^The specified bucket does not exist", err.Cause)
      h.remove(root)
    end)
  end)

  describe("with WriterConfig only", function()
    it("returns the transformed results in item order, writing nothing", function()
      local w = writer.open({ WriterConfig = { Transformation = "FLATTEN" } }, nil, {})
      w:add(rec(2, "SUCCEEDED", json.array({ "b", "c" })), 2)
      w:add(rec(1, "SUCCEEDED", "a"), 1)
      w:add(rec(3, "SUCCEEDED", 9), 3)
      assert.same('["a","b","c",9]', json.encode(w:finish()))
      w = writer.open({ WriterConfig = { Transformation = "NONE" } }, nil, {})
      w:add(rec(1, "SUCCEEDED", "a"), 1)
      assert.same("c1", w:finish()[1].Name)
    end)
  end)
end)
