--- Definition checks of a Map state's ItemReader and ResultWriter, for
-- the definition validator (stepflow.asl.validate calls check_into from
-- its Map checks), or on their own through check(state).
local util = require("stepflow.asl.validate.util")
local paths = require("stepflow.asl.validate.paths")
local jsonata = require("stepflow.asl.validate.jsonata")

local M = {}

local join, show = util.join, util.show

local GET_OBJECT = "arn:aws:states:::s3:getObject"
local LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
local PUT_OBJECT = "arn:aws:states:::s3:putObject"
local MAX_ITEMS = 100000000

local function enum(ctx, path, field, v, values)
  for _, x in ipairs(values) do
    if v == x then return true end
  end
  ctx:add(join(path, field), field .. " must be one of " .. table.concat(values, ", ") .. ", got " .. show(v))
  return false
end

local function unknown_fields(ctx, path, obj, allowed, what)
  local set = {}
  for _, f in ipairs(allowed) do set[f] = true end
  for _, k in ipairs(util.sorted_keys(obj)) do
    if not set[k] then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in " .. what ..
        util.did_you_mean(k, allowed) .. "; its fields are: " .. table.concat(allowed, ", "))
    end
  end
end

-- Parameters (JSONPath) or Arguments (JSONata) of a reader or writer.
local function check_payload(ctx, path, obj, is_jsonata, what)
  local field = is_jsonata and "Arguments" or "Parameters"
  local other = is_jsonata and "Parameters" or "Arguments"
  if obj[other] ~= nil then
    ctx:add(join(path, other), "Field '" .. other .. "' is not supported in a " ..
      (is_jsonata and "JSONata" or "JSONPath") .. " " .. what .. "; use " .. field)
  end
  local v = obj[field]
  if v == nil then return nil end
  local p = join(path, field)
  if is_jsonata then
    if util.is_object(v) or jsonata.is_expression(v) then
      jsonata.check_payload(ctx, p, v)
    else
      ctx:add(p, field .. " must be an object or a JSONata expression '{% ... %}', got " .. util.type_name(v))
    end
  elseif util.is_object(v) then
    paths.check_template(ctx, p, v)
  else
    ctx:add(p, field .. " must be an object (a payload template), got " .. util.type_name(v))
  end
  return v
end

local READER_CONFIG = { "InputType", "Transformation", "ManifestType", "CSVDelimiter", "CSVHeaderLocation",
  "CSVHeaders", "MaxItems", "MaxItemsPath", "ItemsPointer" }

local function check_reader_config(ctx, path, rc, resource, is_jsonata)
  if not util.is_object(rc) then
    ctx:add(path, "ReaderConfig must be an object, got " .. util.type_name(rc))
    return
  end
  unknown_fields(ctx, path, rc, READER_CONFIG, "ReaderConfig")
  local it = rc.InputType
  if it ~= nil and enum(ctx, path, "InputType", it, { "CSV", "JSON", "JSONL", "MANIFEST", "PARQUET" })
      and it == "PARQUET" then
    ctx:add(join(path, "InputType"), "InputType PARQUET is not supported by stepflow (it has no Parquet " ..
      "decoder): convert the data to CSV or JSON Lines")
  end
  if resource == GET_OBJECT and it == nil then
    ctx:add(path, "These fields are required: [InputType]; an ItemReader that reads one object must " ..
      "say its format (CSV, JSON, JSONL, MANIFEST)")
  end
  if rc.ManifestType ~= nil then
    enum(ctx, path, "ManifestType", rc.ManifestType, { "ATHENA_DATA", "S3_INVENTORY" })
    if rc.ManifestType == "ATHENA_DATA" and it == "MANIFEST" then
      ctx:add(join(path, "InputType"), "An ATHENA_DATA manifest needs the InputType of its data files " ..
        "(CSV, JSONL or PARQUET), not MANIFEST")
    end
  end
  if rc.Transformation ~= nil and enum(ctx, path, "Transformation", rc.Transformation,
      { "NONE", "LOAD_AND_FLATTEN" }) and rc.Transformation == "LOAD_AND_FLATTEN" and resource ~= LIST_OBJECTS then
    ctx:add(join(path, "Transformation"), "Transformation LOAD_AND_FLATTEN reads the objects of a listing: " ..
      "it needs the Resource " .. LIST_OBJECTS)
  end
  local csv_input = it == "CSV"
  if rc.CSVDelimiter ~= nil then
    enum(ctx, path, "CSVDelimiter", rc.CSVDelimiter, { "COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB" })
    if not csv_input then ctx:add(join(path, "CSVDelimiter"), "CSVDelimiter needs InputType CSV") end
  end
  local loc = rc.CSVHeaderLocation
  if loc ~= nil then
    enum(ctx, path, "CSVHeaderLocation", loc, { "FIRST_ROW", "GIVEN" })
    if not csv_input then ctx:add(join(path, "CSVHeaderLocation"), "CSVHeaderLocation needs InputType CSV") end
  end
  local h = rc.CSVHeaders
  if h ~= nil then
    if loc ~= "GIVEN" then
      ctx:add(join(path, "CSVHeaders"), "CSVHeaders needs CSVHeaderLocation GIVEN")
    end
    if not util.is_array(h) or next(h) == nil then
      ctx:add(join(path, "CSVHeaders"), "CSVHeaders must be a non-empty array of strings, got " .. show(h))
    else
      for i0, v in util.elements(h) do
        if type(v) ~= "string" then
          ctx:add(join(join(path, "CSVHeaders"), i0), "A CSV header must be a string, got " .. show(v))
        end
      end
    end
  elseif loc == "GIVEN" then
    ctx:add(path, "These fields are required: [CSVHeaders]; CSVHeaderLocation GIVEN names the columns there")
  end
  if rc.ItemsPointer ~= nil then
    local ip = rc.ItemsPointer
    if type(ip) ~= "string" or (ip ~= "" and ip:sub(1, 1) ~= "/") then
      ctx:add(join(path, "ItemsPointer"), "ItemsPointer must be a JSON Pointer such as \"/data/items\", got " ..
        show(ip))
    end
    if it ~= "JSON" then ctx:add(join(path, "ItemsPointer"), "ItemsPointer needs InputType JSON") end
  end
  if rc.MaxItems ~= nil and rc.MaxItemsPath ~= nil then
    ctx:add(join(path, "MaxItemsPath"), "ReaderConfig cannot include both field 'MaxItems' and " ..
      "'MaxItemsPath': keep one")
  end
  if rc.MaxItems ~= nil then
    jsonata.check_literal_or_expression(ctx, join(path, "MaxItems"), "MaxItems", rc.MaxItems, is_jsonata,
      function(v)
        if not util.is_integer(v) then return false end
        if v < 0 or v > MAX_ITEMS then return false, "must be between 0 and " .. MAX_ITEMS end
        return true
      end, "an integer from 0 to " .. MAX_ITEMS .. " (0 = no limit)")
  end
  if rc.MaxItemsPath ~= nil then
    if is_jsonata then
      ctx:add(join(path, "MaxItemsPath"), "Field 'MaxItemsPath' is not supported in JSONata: give MaxItems " ..
        "as '{% ... %}'")
    else
      paths.check_path(ctx, join(path, "MaxItemsPath"), rc.MaxItemsPath, "MaxItemsPath")
    end
  end
end

--- Checks a Map state's ItemReader at `path` (a JSON pointer).
function M.check_item_reader(ctx, path, r, is_jsonata)
  if not util.is_object(r) then
    ctx:add(path, "ItemReader must be an object, got " .. util.type_name(r))
    return
  end
  unknown_fields(ctx, path, r, { "Resource", "Parameters", "Arguments", "ReaderConfig" }, "ItemReader")
  local res = r.Resource
  if res == nil then
    ctx:add(path, "These fields are required: [Resource]; an ItemReader reads with " .. GET_OBJECT ..
      " or " .. LIST_OBJECTS)
  elseif res ~= GET_OBJECT and res ~= LIST_OBJECTS then
    ctx:add(join(path, "Resource"), "The ItemReader's Resource must be " .. GET_OBJECT .. " or " ..
      LIST_OBJECTS .. ", got " .. show(res))
  end
  local params = check_payload(ctx, path, r, is_jsonata, "ItemReader")
  if params == nil and res ~= nil then
    ctx:add(path, "These fields are required: [" .. (is_jsonata and "Arguments" or "Parameters") ..
      "]; they name the Bucket and " .. (res == LIST_OBJECTS and "Prefix" or "Key"))
  end
  if r.ReaderConfig ~= nil then
    check_reader_config(ctx, join(path, "ReaderConfig"), r.ReaderConfig, res, is_jsonata)
  elseif res == GET_OBJECT then
    ctx:add(path, "These fields are required: [ReaderConfig]; an ItemReader that reads one object must " ..
      "say its InputType")
  end
end

--- Checks a Map state's ResultWriter at `path`.
function M.check_result_writer(ctx, path, w, is_jsonata)
  if not util.is_object(w) then
    ctx:add(path, "ResultWriter must be an object, got " .. util.type_name(w))
    return
  end
  unknown_fields(ctx, path, w, { "Resource", "Parameters", "Arguments", "WriterConfig" }, "ResultWriter")
  local field = is_jsonata and "Arguments" or "Parameters"
  local params = check_payload(ctx, path, w, is_jsonata, "ResultWriter")
  if w.Resource == nil and params == nil and w.WriterConfig == nil then
    ctx:add(path, "ResultWriter cannot be empty: give WriterConfig, or Resource and " .. field ..
      ", or all three")
  elseif (w.Resource == nil) ~= (params == nil) then
    ctx:add(path, "ResultWriter needs Resource and " .. field .. " together (they name where the " ..
      "results go), or neither")
  end
  if w.Resource ~= nil and w.Resource ~= PUT_OBJECT then
    ctx:add(join(path, "Resource"), "The ResultWriter's Resource must be " .. PUT_OBJECT .. ", got " ..
      show(w.Resource))
  end
  local wc = w.WriterConfig
  if wc ~= nil then
    local p = join(path, "WriterConfig")
    if not util.is_object(wc) then
      ctx:add(p, "WriterConfig must be an object, got " .. util.type_name(wc))
    else
      unknown_fields(ctx, p, wc, { "OutputType", "Transformation" }, "WriterConfig")
      if wc.OutputType ~= nil then enum(ctx, p, "OutputType", wc.OutputType, { "JSON", "JSONL" }) end
      if wc.Transformation ~= nil then
        enum(ctx, p, "Transformation", wc.Transformation, { "NONE", "COMPACT", "FLATTEN" })
      end
    end
  end
end

--- The checks of a Map state's ItemReader and ResultWriter into the
-- validator's collector `ctx` (ctx:add(pointer, message)). `path` is the
-- state's pointer; `distributed` whether its ProcessorConfig Mode is
-- DISTRIBUTED (both fields need it).
function M.check_into(ctx, path, state, is_jsonata, distributed)
  for _, field in ipairs({ "ItemReader", "ResultWriter" }) do
    if state[field] ~= nil and not distributed then
      ctx:add(join(path, field), "Field '" .. field .. "' needs a Distributed Map: set " ..
        "ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED")
    end
  end
  if state.ItemReader ~= nil then
    M.check_item_reader(ctx, join(path, "ItemReader"), state.ItemReader, is_jsonata)
  end
  if state.ResultWriter ~= nil then
    M.check_result_writer(ctx, join(path, "ResultWriter"), state.ResultWriter, is_jsonata)
  end
end

--- Checks one Map state on its own: a list of {path, message}, pointers
-- relative to the state ("/ItemReader/ReaderConfig/InputType").
function M.check(state, opts)
  opts = opts or {}
  local ctx = util.new_ctx()
  local proc = type(state) == "table" and (state.ItemProcessor or state.Iterator) or nil
  local cfg = type(proc) == "table" and proc.ProcessorConfig or nil
  local distributed = type(cfg) == "table" and cfg.Mode == "DISTRIBUTED"
  local is_jsonata = opts.jsonata or (type(state) == "table" and state.QueryLanguage == "JSONata")
  M.check_into(ctx, "", state, is_jsonata, distributed)
  return ctx.problems
end

return M
