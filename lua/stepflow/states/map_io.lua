--- A Distributed Map's items and results: its ItemReader (items streamed
-- from the S3 folder), ItemSelector and ItemBatcher as stream stages, and
-- its ResultWriter. Compiled once per state; the readers, batcher and
-- writer themselves are stepflow.dmap's.
local template = require("stepflow.asl.template")
local paths = require("stepflow.asl.paths")
local dataflow = require("stepflow.asl.dataflow")
local numbers = require("stepflow.asl.number_field")

local M = {}

local mtype, floor = math.type, math.floor

-- A payload field of an ItemReader or ResultWriter: JSONPath Parameters
-- (a payload template) or JSONata Arguments. fn(frame, raw, effective)
-- -> the evaluated value, or nil when the field is absent.
local function payload(c, st, def, where, owner)
  if st.ql == "JSONata" then
    if def.Arguments == nil then return nil end
    return st.flow.template(c, def.Arguments, where .. "/Arguments", owner .. "/Arguments")
  end
  if def.Parameters == nil then return nil end
  local fn, err = template.compile(def.Parameters, "Parameters")
  fn = c:check(fn, where .. "/Parameters", err)
  return function(frame, _, effective)
    frame.input = effective
    return fn(frame)
  end
end

-- The evaluated copy of an ItemReader or ResultWriter definition: its
-- payload evaluated, the rest as written.
local function evaluated(def, field, value)
  local out = {}
  for k, v in pairs(def) do out[k] = v end
  if value ~= nil then out[field] = value end
  return out
end

--- Compiles an ItemReader. Returns fn(frame, raw, effective) -> the
-- reader definition with its payload evaluated, and opts {max_items}.
function M.reader(c, st, def, where)
  local field = st.ql == "JSONata" and "Arguments" or "Parameters"
  local params = payload(c, st, def, where, "ItemReader")
  local config = type(def.ReaderConfig) == "table" and def.ReaderConfig or {}
  local cwhere = where .. "/ReaderConfig"
  local max_items
  if config.MaxItemsPath ~= nil then
    local text = config.MaxItemsPath
    local get = c:check(paths.accessor(text), cwhere .. "/MaxItemsPath")
    max_items = function(frame, _, effective)
      frame.input = effective
      local v = get(frame)
      if v == nil then dataflow.no_results(text) end
      if mtype(v) == "float" and v == floor(v) then v = floor(v) end
      if mtype(v) ~= "integer" then
        error(dataflow.runtime("The MaxItemsPath field refers to value \"" .. tostring(v) ..
          "\" which is not a valid integer: " .. text), 0)
      end
      return v
    end
  elseif st.ql == "JSONata" and type(config.MaxItems) == "string" then
    local n = st.flow.number_field(c, st, config.MaxItems, cwhere .. "/MaxItems",
      "ItemReader/ReaderConfig/MaxItems")
    max_items = function(frame, raw) return n(frame, nil, raw) end
  end
  return function(frame, raw, effective)
    local value = params and params(frame, raw, effective)
    return evaluated(def, field, value), { max_items = max_items and max_items(frame, raw, effective) }
  end
end

--- Compiles a ResultWriter. Returns fn(frame, raw, effective) -> its
-- definition with its payload evaluated.
function M.writer(c, st, def, where)
  local field = st.ql == "JSONata" and "Arguments" or "Parameters"
  local params = payload(c, st, def, where, "ResultWriter")
  return function(frame, raw, effective)
    return evaluated(def, field, params and params(frame, raw, effective))
  end
end

--- Compiles an ItemBatcher. Returns fn(frame, raw, effective) -> the
-- batcher's options {max_items, max_bytes, batch_input}, or nil.
function M.batcher(c, st, def, where)
  local b = def.ItemBatcher
  if b == nil then return nil end
  local bwhere = where .. "/ItemBatcher"
  local max_items = numbers.compile(c, st, b, "MaxItemsPerBatch", "integer", bwhere)
  local max_bytes = numbers.compile(c, st, b, "MaxInputBytesPerBatch", "integer", bwhere)
  local batch_input
  if b.BatchInput ~= nil then
    if st.ql == "JSONata" then
      batch_input = st.flow.template(c, b.BatchInput, bwhere .. "/BatchInput", "ItemBatcher/BatchInput")
    else
      local fn, err = template.compile(b.BatchInput, "BatchInput")
      fn = c:check(fn, bwhere .. "/BatchInput", err)
      batch_input = function(frame) return fn(frame) end
    end
  end
  return function(frame, raw, effective)
    frame.input = effective
    local extra = batch_input and batch_input(frame, raw)
    frame.input = effective
    return { max_items = max_items and max_items(frame, effective, raw),
      max_bytes = max_bytes and max_bytes(frame, effective, raw), batch_input = extra }
  end
end

--- A stream whose items are `stream`'s passed through fn(i, item) (i
-- counts from 1).
function M.mapped(stream, fn)
  local i = 0
  return { next = function()
    local item = stream:next()
    if item == nil then return nil end
    i = i + 1
    return fn(i, item)
  end }
end

--- A stream opened when first read: open() -> stream (so that a reader
-- that fails, fails the Map Run after it started, as AWS records it).
function M.lazy(open)
  local s
  return { next = function()
    if not s then s = open() end
    return s:next()
  end, close = function() if s and s.close then s:close() end end }
end

return M
