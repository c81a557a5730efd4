--- ResultWriter: a Map Run's child execution results, written to S3 as
-- they come (never all held) or, with WriterConfig alone, transformed
-- into the Map state's output.
--
--     local writer = require("stepflow.dmap.writer")
--     local w = writer.open(result_writer, backend, { map_run_id = id, map_run_arn = arn })
--     w:add(writer.record{ ... })      -- one per child execution, as it ends
--     local output = w:finish()        -- the Map state's output
--
-- Exported, the files are `<Prefix>/<map run id>/SUCCEEDED_n.json`,
-- `FAILED_n.json` (failed, timed out and aborted children),
-- `PENDING_n.json` and `manifest.json`, in AWS's shapes.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local s3 = require("stepflow.s3")

local M = {}

local array_mt = json.array_mt
local encode, decode = json.encode, json.decode
local floor = math.floor

--- AWS starts a new result file past 5 GB.
M.MAX_FILE_BYTES = 5 * 1024 * 1024 * 1024

M.PUT_OBJECT = "arn:aws:states:::s3:putObject"

-- The result file each child status goes to.
local FILE_OF = { SUCCEEDED = "SUCCEEDED", FAILED = "FAILED", TIMED_OUT = "FAILED", ABORTED = "FAILED",
  PENDING = "PENDING" }

local function fail(cause) errors.raise(errors.ResultWriterFailed, cause) end

--- An ISO 8601 UTC time with milliseconds of epoch milliseconds.
function M.date(ms)
  local s = floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", ms - s * 1000)
end

--- One child execution's result as AWS writes it. fields:
--   execution_arn, name, state_machine_arn, status (SUCCEEDED, FAILED,
--   TIMED_OUT, ABORTED or PENDING), input (the child's input value),
--   output (its output value, SUCCEEDED), error, cause (otherwise),
--   start_ms, stop_ms (epoch milliseconds), redrive_count (default 0)
-- @return the record: ExecutionArn, Input (JSON text), InputDetails,
--   Name, RedriveCount, RedriveStatus, StartDate, StateMachineArn,
--   Status, StopDate, and Output, OutputDetails, RedriveStatusReason
--   (SUCCEEDED) or Error, Cause, OutputDetails (failed)
function M.record(f)
  local status = f.status
  if not FILE_OF[status] then error("stepflow.dmap.writer.record: unknown status " .. tostring(status), 2) end
  local r = {
    ExecutionArn = f.execution_arn, Name = f.name, StateMachineArn = f.state_machine_arn,
    Status = status, Input = encode(f.input == nil and json.null or f.input),
    InputDetails = { Included = true }, RedriveCount = f.redrive_count or 0,
    StartDate = f.start_ms and M.date(f.start_ms) or nil,
  }
  if status == "PENDING" then return r end
  r.StopDate = f.stop_ms and M.date(f.stop_ms) or nil
  r.OutputDetails = { Included = true }
  if status == "SUCCEEDED" then
    r.Output = encode(f.output == nil and json.null or f.output)
    r.RedriveStatus = "NOT_REDRIVABLE"
    r.RedriveStatusReason = "Execution is SUCCEEDED and cannot be redriven"
  else
    r.Error = f.error
    r.Cause = f.cause
    r.RedriveStatus = "REDRIVABLE_BY_MAP_RUN"
  end
  return r
end

-- The Transformation of one record: NONE keeps it, COMPACT keeps the
-- output, FLATTEN also spreads an output array; a child that did not
-- succeed is kept whole (as NONE). Calls emit(value) for each result.
local function transform(record, how, emit)
  if how == "NONE" or record.Status ~= "SUCCEEDED" then return emit(record) end
  local out = decode(record.Output)
  if how == "FLATTEN" and getmetatable(out) == array_mt then
    for i = 1, #out do emit(out[i]) end
    return
  end
  emit(out)
end

local Writer = {}
Writer.__index = Writer
Writer.__name = "stepflow.dmap.ResultWriter"

-- Starts the next file of a kind (SUCCEEDED, FAILED, PENDING).
function Writer:start_file(kind)
  local index = self.next_index[kind] or 0
  self.next_index[kind] = index + 1
  local key = self.dir .. kind .. "_" .. index .. ".json"
  local w, code, msg = self.backend:create(self.bucket, key)
  if not w then
    local _, cause = s3.failure(code, msg, self.bucket, key)
    fail(cause)
  end
  local f = { key = key, w = w, size = 0, count = 0 }
  self.open_files[kind] = f
  return f
end

function Writer:write(f, text)
  local ok, err = pcall(f.w.write, f.w, text)
  if not ok then fail("Cannot write s3://" .. self.bucket .. "/" .. f.key .. ": " .. tostring(err)) end
  f.size = f.size + #text
end

function Writer:close_file(kind)
  local f = self.open_files[kind]
  if not f then return end
  self.open_files[kind] = nil
  if self.jsonl then
    if f.count == 0 then self:write(f, "") end
  else
    self:write(f, f.count == 0 and "[]" or "]")
  end
  local info, code, msg = f.w.close()
  if not info then
    local _, cause = s3.failure(code, msg, self.bucket, f.key)
    fail(cause)
  end
  local list = self.files[kind]
  list[#list + 1] = { Key = f.key, Size = f.size }
end

-- Writes one transformed result to the file of `kind`.
function Writer:emit(kind, value)
  local text = encode(value)
  local f = self.open_files[kind] or self:start_file(kind)
  -- JSON: "[" or "," before and the closing "]"; JSONL: "\n" after
  if f.count > 0 and f.size + #text + 2 > self.max_file_bytes then
    self:close_file(kind)
    f = self:start_file(kind)
  end
  if self.jsonl then
    self:write(f, text .. "\n")
  else
    self:write(f, (f.count == 0 and "[" or ",") .. text)
  end
  f.count = f.count + 1
end

--- Adds one child execution's record (see M.record); `index` (1-based
-- item order) places it in the output when nothing is exported.
function Writer:add(record, index)
  local kind = FILE_OF[record.Status]
  if not kind then error("stepflow.dmap.writer: a record needs a Status", 2) end
  if self.export then
    transform(record, self.transformation, function(v) self:emit(kind, v) end)
  else
    self.held[index or (#self.held + 1)] = record
    if index and index > self.held_n then self.held_n = index end
    if not index then self.held_n = #self.held end
  end
end

--- Ends the writer. Exported: closes the result files, writes
-- manifest.json and returns the Map state's output {MapRunArn,
-- ResultWriterDetails = {Bucket, Key}}. Not exported: returns the
-- transformed results (an array in item order). `counts` is not needed.
function Writer:finish(_)
  if not self.export then
    local out, n = setmetatable({}, array_mt), 0
    for i = 1, self.held_n do
      local r = self.held[i]
      if r ~= nil then
        transform(r, self.transformation, function(v) n = n + 1; out[n] = v end)
      end
    end
    return out
  end
  for _, kind in ipairs({ "SUCCEEDED", "FAILED", "PENDING" }) do self:close_file(kind) end
  local manifest = {
    DestinationBucket = self.bucket, MapRunArn = self.map_run_arn,
    ResultFiles = { SUCCEEDED = self.files.SUCCEEDED, FAILED = self.files.FAILED,
      PENDING = self.files.PENDING },
  }
  local key = self.dir .. "manifest.json"
  local info, code, msg = self.backend:put(self.bucket, key, encode(manifest))
  if not info then
    local _, cause = s3.failure(code, msg, self.bucket, key)
    fail(cause)
  end
  return { MapRunArn = self.map_run_arn, ResultWriterDetails = { Bucket = self.bucket, Key = key } }
end

--- Discards what was written (the Map Run ended without results).
function Writer:abort()
  for kind, f in pairs(self.open_files) do
    f.w.abort()
    self.open_files[kind] = nil
  end
end

--- Opens a ResultWriter.
-- @tparam table def the ResultWriter, Parameters/Arguments evaluated
-- @param backend an S3 backend (nil when only WriterConfig is given)
-- @tparam table opts map_run_id (required to export), map_run_arn,
--   max_file_bytes (default 5 GB; a spec may lower it)
function M.open(def, backend, opts)
  if type(def) ~= "table" then error("stepflow.dmap.writer.open: ResultWriter must be a table", 2) end
  opts = opts or {}
  local config = def.WriterConfig or {}
  local export = def.Resource ~= nil
  local w = setmetatable({
    export = export, transformation = config.Transformation or "NONE",
    jsonl = config.OutputType == "JSONL", map_run_arn = opts.map_run_arn,
    max_file_bytes = opts.max_file_bytes or M.MAX_FILE_BYTES,
    held = {}, held_n = 0,
  }, Writer)
  if not export then return w end
  if def.Resource ~= M.PUT_OBJECT then
    fail("The ResultWriter's Resource must be " .. M.PUT_OBJECT .. ", got " .. tostring(def.Resource))
  end
  if backend == nil then fail("no S3 storage is configured: start stepflow with --s3-dir DIR") end
  if type(opts.map_run_id) ~= "string" then error("stepflow.dmap.writer.open: opts.map_run_id is required", 2) end
  local params = def.Arguments or def.Parameters or {}
  local bucket = params.Bucket
  if type(bucket) ~= "string" or bucket == "" then fail("The ResultWriter's Bucket must be a non-empty string") end
  local prefix = params.Prefix
  if prefix ~= nil and type(prefix) ~= "string" then fail("The ResultWriter's Prefix must be a string") end
  prefix = (prefix or ""):gsub("/+$", "")
  local ok, code, msg = backend:check_bucket(bucket)
  if not ok then
    local _, cause = s3.failure(code, msg, bucket)
    fail(cause)
  end
  w.backend, w.bucket = backend, bucket
  w.dir = (prefix ~= "" and (prefix .. "/") or "") .. opts.map_run_id .. "/"
  w.open_files, w.next_index = {}, {}
  w.files = { SUCCEEDED = setmetatable({}, array_mt), FAILED = setmetatable({}, array_mt),
    PENDING = setmetatable({}, array_mt) }
  return w
end

return M
