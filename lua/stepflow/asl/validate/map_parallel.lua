--- Map and Parallel checks of the definition validator: Branches,
-- ItemProcessor / Iterator (nested scopes with their own StartAt and
-- States), ProcessorConfig, items, concurrency and failure tolerance, and
-- a Distributed Map's ItemReader and ResultWriter (stepflow.dmap.validate).
local util = require("stepflow.asl.validate.util")
local paths = require("stepflow.asl.validate.paths")
local jsonata = require("stepflow.asl.validate.jsonata")

local M = {}

local join, show = util.join, util.show

local MAX_INT = 99999999

local function int_in(lo, hi)
  return function(v)
    if not util.is_integer(v) then return false end
    if v < lo then return false, "must be at least " .. lo end
    if v > hi then return false, "must be at most " .. hi end
    return true
  end
end

-- "Field" (literal or JSONata expression) and "FieldPath" (JSONPath) exclude each other.
local function check_pair(ctx, path, state, ok, field, is_jsonata, literal_ok, what)
  local v, vp = state[field], state[field .. "Path"]
  if v ~= nil and vp ~= nil then
    ctx:add(join(path, field .. "Path"), "A Map state cannot include both field '" .. field
      .. "' and '" .. field .. "Path': keep one")
  end
  if v ~= nil and ok[field] then
    jsonata.check_literal_or_expression(ctx, join(path, field), field, v, is_jsonata,
      literal_ok, what)
  end
  if vp ~= nil and ok[field .. "Path"] then
    paths.check_path(ctx, join(path, field .. "Path"), vp, field .. "Path")
  end
end

--- Checks a Parallel state's Branches.
function M.check_parallel(ctx, path, state)
  local b = state.Branches
  local p = join(path, "Branches")
  if b == nil then
    ctx:add(path, "These fields are required: [Branches]; a Parallel state needs a non-empty "
      .. "array of branches, each with StartAt and States")
    return
  end
  if not util.is_array(b) or next(b) == nil then
    ctx:add(p, "Branches must be a non-empty array of branches (objects with StartAt and "
      .. "States), got " .. (util.is_array(b) and "an empty array" or util.type_name(b)))
    return
  end
  for i0, branch in util.elements(b) do
    ctx.check_scope(ctx, join(p, i0), branch, "branch")
  end
end

local MODES = { INLINE = true, DISTRIBUTED = true }
local EXECUTION_TYPES = { STANDARD = true, EXPRESS = true }

local function check_processor_config(ctx, path, cfg)
  if not util.is_object(cfg) then
    ctx:add(path, "ProcessorConfig must be an object such as {\"Mode\": \"INLINE\"}, got "
      .. util.type_name(cfg))
    return
  end
  for _, k in ipairs(util.sorted_keys(cfg)) do
    if k ~= "Mode" and k ~= "ExecutionType" then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in ProcessorConfig"
        .. util.did_you_mean(k, { "Mode", "ExecutionType" }) .. "; its fields are: Mode, ExecutionType")
    end
  end
  local mode = cfg.Mode
  if mode ~= nil and not MODES[mode] then
    ctx:add(join(path, "Mode"), "Mode must be 'INLINE' or 'DISTRIBUTED', got " .. show(mode))
  end
  local et = cfg.ExecutionType
  if et ~= nil and not EXECUTION_TYPES[et] then
    ctx:add(join(path, "ExecutionType"), "ExecutionType must be 'STANDARD' or 'EXPRESS', got "
      .. show(et))
  end
  if mode == "DISTRIBUTED" and et == nil then
    ctx:add(path, "These fields are required: [ExecutionType]; a DISTRIBUTED Map runs its "
      .. "items as STANDARD or EXPRESS child executions")
  end
end

local BATCHER_FIELDS = { "MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
  "MaxInputBytesPerBatchPath", "BatchInput" }

local function check_item_batcher(ctx, path, b, is_jsonata)
  if not util.is_object(b) then
    ctx:add(path, "ItemBatcher must be an object, got " .. util.type_name(b))
    return
  end
  local known = {}
  for _, f in ipairs(BATCHER_FIELDS) do known[f] = true end
  for _, k in ipairs(util.sorted_keys(b)) do
    if not known[k] then
      ctx:add(join(path, k), "Field '" .. k .. "' is not supported in ItemBatcher"
        .. util.did_you_mean(k, BATCHER_FIELDS) .. "; its fields are: " .. table.concat(BATCHER_FIELDS, ", "))
    end
  end
  local pseudo_ok = {}
  for _, f in ipairs(BATCHER_FIELDS) do pseudo_ok[f] = true end
  check_pair(ctx, path, b, pseudo_ok, "MaxItemsPerBatch", is_jsonata, int_in(1, MAX_INT),
    "a positive integer")
  check_pair(ctx, path, b, pseudo_ok, "MaxInputBytesPerBatch", is_jsonata, int_in(1, 262144),
    "a positive integer (at most 262144)")
  if b.BatchInput ~= nil then
    if is_jsonata then
      jsonata.check_payload(ctx, join(path, "BatchInput"), b.BatchInput)
    elseif util.is_object(b.BatchInput) then
      paths.check_template(ctx, join(path, "BatchInput"), b.BatchInput)
    else
      ctx:add(join(path, "BatchInput"), "BatchInput must be an object, got "
        .. util.type_name(b.BatchInput))
    end
  end
end

--- Checks a Map state's own fields and its nested scope.
function M.check_map(ctx, path, state, ok, is_jsonata)
  local ip, it = state.ItemProcessor, state.Iterator
  if ip ~= nil and it ~= nil then
    ctx:add(join(path, "Iterator"), "A Map state cannot include both 'ItemProcessor' and the "
      .. "deprecated 'Iterator': keep ItemProcessor")
  elseif ip == nil and it == nil then
    ctx:add(path, "These fields are required: [ItemProcessor]; give the states run for each "
      .. "item as \"ItemProcessor\": {\"StartAt\": ..., \"States\": {...}}")
  end
  if ip ~= nil then
    ctx.check_scope(ctx, join(path, "ItemProcessor"), ip, "processor")
    if util.is_object(ip) and ip.ProcessorConfig ~= nil then
      check_processor_config(ctx, join(join(path, "ItemProcessor"), "ProcessorConfig"),
        ip.ProcessorConfig)
    end
  elseif it ~= nil then
    ctx.check_scope(ctx, join(path, "Iterator"), it, "iterator")
    if util.is_object(it) and it.ProcessorConfig ~= nil then
      check_processor_config(ctx, join(join(path, "Iterator"), "ProcessorConfig"),
        it.ProcessorConfig)
    end
  end
  if ok.ItemsPath then
    paths.check_path(ctx, join(path, "ItemsPath"), state.ItemsPath, "ItemsPath", { reference = true })
  end
  if ok.Items then
    local v, p = state.Items, join(path, "Items")
    if type(v) == "string" and jsonata.is_expression(v) then
      jsonata.check_expression(ctx, p, v)
    elseif type(v) == "table" then
      jsonata.check_payload(ctx, p, v)
    else
      ctx:add(p, "Items must be an array or a JSONata expression '{% ... %}', got " .. show(v))
    end
  end
  if ok.ItemSelector then
    -- any JSON value, as AWS's schema has it (an array of templates too)
    local v, p = state.ItemSelector, join(path, "ItemSelector")
    if is_jsonata then jsonata.check_payload(ctx, p, v)
    else paths.check_template(ctx, p, v) end
    if state.Parameters ~= nil and ok.Parameters then
      ctx:add(join(path, "Parameters"), "A Map state cannot include both 'ItemSelector' and the "
        .. "deprecated 'Parameters': keep ItemSelector")
    end
  end
  check_pair(ctx, path, state, ok, "MaxConcurrency", is_jsonata, int_in(0, MAX_INT),
    "an integer >= 0 (0 = no limit)")
  check_pair(ctx, path, state, ok, "ToleratedFailurePercentage", is_jsonata, function(v)
    if not util.is_number(v) then return false end
    if v < 0 or v > 100 then return false, "must be between 0 and 100" end
    return true
  end, "a number from 0 to 100")
  check_pair(ctx, path, state, ok, "ToleratedFailureCount", is_jsonata, int_in(0, MAX_INT),
    "an integer >= 0")
  if ok.Label then
    local l = state.Label
    if type(l) ~= "string" or l == "" or (utf8.len(l) or #l) > 40 then
      ctx:add(join(path, "Label"), "Label must be a non-empty string of at most 40 characters, got "
        .. show(l), "INVALID_LABEL_NAME")
    elseif l:find("[%s%c<>{}%[%]?*\"#%%\\^|~`$&,;:/]") then
      ctx:add(join(path, "Label"), "Label " .. show(l) .. " holds a character a Map Run name cannot "
        .. "have (white space, brackets, ? * \" # % \\ ^ | ~ ` $ & , ; : /)", "INVALID_LABEL_NAME")
    end
  end
  if ok.ItemBatcher then check_item_batcher(ctx, join(path, "ItemBatcher"), state.ItemBatcher, is_jsonata) end
  if ok.ItemReader or ok.ResultWriter then
    local proc = util.is_object(state.ItemProcessor) and state.ItemProcessor or
      util.is_object(state.Iterator) and state.Iterator or {}
    local config = util.is_object(proc.ProcessorConfig) and proc.ProcessorConfig or {}
    require("stepflow.dmap.validate").check_into(ctx, path, state, is_jsonata, config.Mode == "DISTRIBUTED")
  end
end

return M
