--- Map: runs its ItemProcessor for every item (INLINE, or DISTRIBUTED on
-- local data), at most MaxConcurrency at once; the result is the array of
-- iteration outputs in item order.
local json = require("stepflow.json")
local errors = require("stepflow.errors")
local execution = require("stepflow.execution")
local dataflow = require("stepflow.asl.dataflow")
local template = require("stepflow.asl.template")
local paths = require("stepflow.asl.paths")
local group = require("stepflow.states.group")
local numbers = require("stepflow.asl.number_field")

local M = {}

local record, record_from = execution.record, execution.record_from
local map_run = require("stepflow.states.map_run")
local map_io = require("stepflow.states.map_io")
local reader = require("stepflow.dmap.reader")
local batcher = require("stepflow.dmap.batcher")
local writer = require("stepflow.dmap.writer")
local array_mt, null = json.array_mt, json.null
local setmetatable = setmetatable

local function runtime(msg) error(dataflow.runtime(msg), 0) end

local number_field = function(c, st, def, field, kind, where)
  return numbers.compile(c, st, def, field, kind, where)
end

local function items_fn(c, st, def, where)
  if st.ql == "JSONata" then return st.flow.map_items(c, st, def, where) end
  local text = def.ItemsPath or "$"
  local get = c:check(paths.accessor(text), where .. "/ItemsPath")
  return function(frame, effective)
    frame.input = effective
    local items = get(frame)
    if items == nil then
      dataflow.no_results(text)
    end
    if not json.is_array(items) then
      runtime("Map state input must be an array but was: " ..
        (items == null and "null" or json.encode(items)))
    end
    return items
  end
end

local function selector_fn(c, st, def, where)
  if st.ql == "JSONata" then return st.flow.map_selector(c, st, def, where) end
  local field = def.ItemSelector ~= nil and "ItemSelector" or (def.Parameters ~= nil and "Parameters")
  if not field then return nil end
  local fn, err = template.compile(def[field], field)
  return c:check(fn, where .. "/" .. field, err)
end

function M.compile(c, st, def, where)
  local proc = def.ItemProcessor or def.Iterator
  local pfield = def.ItemProcessor and "ItemProcessor" or "Iterator"
  local program = c:program(proc, where .. "/" .. pfield, st.ql)
  st.programs = { program }
  local config = proc.ProcessorConfig or {}
  local distributed = config.Mode == "DISTRIBUTED"
  -- a Distributed Map's children run the processor as a machine of its own
  local processor = distributed and { StartAt = proc.StartAt, States = proc.States, QueryLanguage = st.ql }
  local get_items = items_fn(c, st, def, where)
  local selector = selector_fn(c, st, def, where)
  -- A Distributed Map's items and results (stepflow.states.map_io)
  local batch_opts = map_io.batcher(c, st, def, where)
  local read_def = distributed and def.ItemReader ~= nil and map_io.reader(c, st, def.ItemReader,
    where .. "/ItemReader")
  local write_def = distributed and def.ResultWriter ~= nil and map_io.writer(c, st, def.ResultWriter,
    where .. "/ResultWriter")
  local max_conc = number_field(c, st, def, "MaxConcurrency", "integer", where)
  local tol_count = number_field(c, st, def, "ToleratedFailureCount", "integer", where)
  local tol_pct = number_field(c, st, def, "ToleratedFailurePercentage", "float", where)
  local prepare, finish = st.prepare, st.finish
  local name = st.name
  local label = def.Label

  -- The item's input: its ItemSelector with $$.Map.Item (`$$.Map.Item.Index`
  -- and `.Value` are read directly by paths.lua, `$$.Map` builds the part).
  local function select(frame, effective, raw, i, item)
    frame.input = effective
    frame.map_item = { Index = i - 1, Value = item }
    local v = selector(frame, raw, item, i - 1)
    frame.map_item = false
    return v
  end

  -- A Distributed Map: its items, read from the state input or by its
  -- ItemReader, selected and batched as they are pulled, run as child
  -- executions of a Map Run; its results are kept, or written by its
  -- ResultWriter.
  local function run_distributed(frame, raw, effective, max, items)
    local exec = frame.exec
    local engine = exec.engine
    local sink = exec.sink
    local source, length
    if read_def then
      local rdef, ropts = read_def(frame, raw, effective)
      source = map_io.lazy(function() return reader.open(rdef, engine.s3, ropts) end)
      length = 0  -- not known before the items are read
    else
      source, length = map_run.array_source(items), #items
    end
    if selector then
      source = map_io.mapped(source, function(i, item) return select(frame, effective, raw, i, item) end)
    end
    local bopts = batch_opts and batch_opts(frame, raw, effective)
    if bopts then
      source = batcher.wrap(source, bopts)
      if not read_def then length = nil end
    end
    local wdef = write_def and write_def(frame, raw, effective)
    if not record(exec, frame, "MapStateStarted", sink and { length = length or 0 }) then return "block" end
    -- Its tolerance is checked after it has started (AWS records
    -- MapStateStarted before these failures).
    local tc = tol_count and tol_count(frame, effective, raw)
    local tp = tol_pct and tol_pct(frame, effective, raw)
    if tc and tc < 0 then runtime("ToleratedFailureCount cannot be negative.") end
    if tp and (tp < 0 or tp > 100) then
      runtime("ToleratedFailurePercentage must be between 0 and 100.")
    end
    return map_run.start(frame, {
      program = program, processor = processor, child_type = config.ExecutionType or "STANDARD",
      source = source, max_concurrency = max, batched = bopts ~= nil,
      tolerated_count = tc, tolerated_percentage = tp, label = label,
      open_writer = wdef and function(run)
        return writer.open(wdef, engine.s3, { map_run_id = run.id, map_run_arn = run.arn })
      end,
      done = function(ok, run)
        if not ok then error(run, 0) end
        local results = run:output()
        record_from(exec, frame, frame.last_event, "MapStateSucceeded", sink and {})
        -- the children's results together, like a task's result
        errors.check_size(results, engine.payload_limit, name)
        return finish(frame, raw, results)
      end,
    })
  end

  if c.opts.inspect then
    -- TestState: what the Map makes of its input before any iteration
    -- runs (its iterations are mocked there). `backend` serves the
    -- ItemReader's object (the test's data).
    st.inspect_items = function(frame, raw, effective, backend)
      local out = {}
      local items
      if read_def then
        local rdef, ropts = read_def(frame, raw, effective)
        local stream = reader.open(rdef, backend, ropts)
        items = setmetatable({}, array_mt)
        for item in stream.next do items[#items + 1] = item end
        stream.close()
        local rconfig = type(rdef.ReaderConfig) == "table" and rdef.ReaderConfig or {}
        if rconfig.ItemsPointer ~= nil then out.afterItemsPointer = items end
      else
        items = get_items(frame, effective, raw)
        if st.ql ~= "JSONata" then out.afterItemsPath = items end
      end
      local inputs = items
      if selector then
        inputs = setmetatable({}, array_mt)
        for i = 1, #items do inputs[i] = select(frame, effective, raw, i, items[i]) end
        out.afterItemSelector = inputs
      end
      if batch_opts then
        local batches = batcher.wrap(map_run.array_source(inputs), batch_opts(frame, raw, effective))
        local list = setmetatable({}, array_mt)
        for b in batches.next do list[#list + 1] = b end
        out.afterItemBatcher = list
      end
      out.maxConcurrency = max_conc and max_conc(frame, effective, raw) or 0
      out.toleratedFailureCount = tol_count and tol_count(frame, effective, raw)
      out.toleratedFailurePercentage = tol_pct and tol_pct(frame, effective, raw)
      out.items = #items
      return out
    end
  end

  st.run = function(_, frame, raw)
    local effective = prepare(frame, raw)
    local exec = frame.exec
    local sink = exec.sink
    -- the items first (an ItemReader reads them later), then MaxConcurrency
    local items = not read_def and get_items(frame, effective, raw)
    local max = max_conc and max_conc(frame, effective, raw) or 0
    if max < 0 then runtime("MaxConcurrency cannot be negative.") end
    if distributed then return run_distributed(frame, raw, effective, max, items) end
    local inputs = items
    if selector then
      inputs = setmetatable({}, array_mt)
      for i = 1, #items do inputs[i] = select(frame, effective, raw, i, items[i]) end
    end
    if batch_opts then
      -- (AWS documents ItemBatcher for Distributed Maps; an inline one batches alike)
      local batches = batcher.wrap(map_run.array_source(inputs), batch_opts(frame, raw, effective))
      inputs = setmetatable({}, array_mt)
      for b in batches.next do inputs[#inputs + 1] = b end
    end
    local n = #inputs
    if not record(exec, frame, "MapStateStarted", sink and { length = n }) then return "block" end
    -- Unique per visit and attempt, and the same when a recovery replays
    -- it; only durable executions need keys.
    local durable = exec.durable
    local key = durable and (frame.key .. "/" .. frame.entered_id .. "." .. frame.retry_count .. "#")
    -- The last iteration's end: MapStateSucceeded and MapStateExited
    -- follow it.
    local last_end = false
    -- Inline iterations share the outer scope until they assign.
    local opts = {
      n = n, max = max, program = program, inputs = inputs, vars = frame.vars, shared = true,
      key = durable and key,
      done = function(ok, value, failed)
        if not ok then error(errors.from(value), 0) end
        if failed > 0 then
          for i = 1, #value do
            if errors.is(value[i]) then value[i] = errors.output(value[i]) end
          end
        end
        if last_end then frame.last_event = last_end end
        record_from(exec, frame, frame.last_event, "MapStateSucceeded", sink and {})
        -- the iterations' results together, like a task's result
        errors.check_size(value, exec.engine.payload_limit, name)
        return finish(frame, raw, value)
      end,
    }
    if not (sink or exec.replay) then
      -- Nothing records the iteration events: they are only counted.
      opts.count_events = true
    else
      opts.started = function(i, child)
        child.last_event = record_from(exec, child, frame.last_event, "MapIterationStarted",
          sink and { name = name, index = i - 1 }) or 0
      end
      opts.ended = function(i, ok, _, child)
        local id = record_from(exec, child, child.last_event,
          ok and "MapIterationSucceeded" or "MapIterationFailed", sink and { name = name, index = i - 1 })
        -- The next iteration follows this one's last event, not its end.
        frame.last_event = child.last_event
        last_end = id or false
      end
      opts.aborted = function(i, child)
        record_from(exec, child, child.last_event, "MapIterationAborted",
          sink and { name = name, index = i - 1 })
      end
    end
    return group.start(frame, opts)
  end
end

return M
