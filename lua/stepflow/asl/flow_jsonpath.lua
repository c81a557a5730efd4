--- The JSONPath query language's data flow for one state:
-- InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath -> OutputPath.
-- Sets st.prepare(frame, raw) -> effective input and
-- st.finish(frame, raw, result) -> state output on the state object.
local errors = require("stepflow.errors")
local dataflow = require("stepflow.asl.dataflow")
local template = require("stepflow.asl.template")
local paths = require("stepflow.asl.paths")
local intrinsics = require("stepflow.asl.intrinsics")

local M = {}


local function has(def, key) return def[key] ~= nil end

local function compiled(c, v, err, where)
  return c:check(v, where, err)
end

--- Compiles a payload template field (or returns nil when absent).
function M.template(c, def, field, where)
  if def[field] == nil then return nil end
  local fn, err = template.compile(def[field], field)
  return compiled(c, fn, err, where .. "/" .. field)
end

--- Compiles a value that is a path or an intrinsic call (ErrorPath,
-- CausePath, ...): returns get(env) -> value or nil.
function M.path_or_intrinsic(c, text, where)
  if intrinsics.is_call(text) then
    local fn, err = intrinsics.compile(text, paths.accessor)
    return compiled(c, fn, err, where)
  end
  local acc, err = paths.accessor(text)
  return compiled(c, acc, err, where)
end

-- Which stages each state type has.
local HAS_PARAMETERS = { Pass = true, Task = true, Parallel = true }
local HAS_RESULT = { Pass = true, Task = true, Parallel = true, Map = true }
local HAS_SELECTOR = { Task = true, Parallel = true, Map = true }

function M.compile_common(c, st, def, where)
  local t = def.Type
  if t == "Fail" then return end
  local select_input = compiled(c, dataflow.compile_select(def.InputPath, has(def, "InputPath")))
  local select_output = compiled(c, dataflow.compile_select(def.OutputPath, has(def, "OutputPath")))
  local parameters = HAS_PARAMETERS[t] and M.template(c, def, "Parameters", where)
  local selector = HAS_SELECTOR[t] and M.template(c, def, "ResultSelector", where)
  local result_path
  if HAS_RESULT[t] then
    result_path = compiled(c, dataflow.compile_result_path(def.ResultPath, has(def, "ResultPath")),
      nil, where .. "/ResultPath")
  end
  local assign = require("stepflow.asl.variables").compile_jsonpath(c, st, def, where)

  if c.opts.inspect then
    -- TestState: stages that note what they make (stepflow.asl.inspect)
    st.prepare, st.finish = require("stepflow.asl.inspect").jsonpath({ select_input = select_input,
      parameters = parameters or nil, selector = selector or nil, result_path = result_path or nil,
      assign = assign, select_output = select_output,
      finish_plain = M.general_finish(assign, select_output) })
    return
  end

  local input_identity = select_input == dataflow.identity
  local output_identity = select_output == dataflow.identity
  if parameters then
    if input_identity then
      st.prepare = function(frame, raw)
        frame.input = raw
        return parameters(frame)
      end
    else
      st.prepare = function(frame, raw)
        frame.input = select_input(frame, raw)
        return parameters(frame)
      end
    end
  else
    st.prepare = select_input
  end

  -- The common shapes get a closure without the stages they lack.
  if result_path then
    if not selector and not assign and output_identity and result_path == dataflow.replace then
      st.finish = function(_, _, result) return result end
      st.finish_is_result = true  -- (compile's output limit need not call it)
    elseif not selector and not assign and output_identity then
      st.finish = function(_, raw, result) return result_path(raw, result) end
      st.finish_result_path = result_path  -- (compile's output limit calls it itself)
    else
      st.finish = function(frame, raw, result)
        if selector then
          frame.input = result
          result = selector(frame)
        end
        if assign then
          frame.input = result
          assign(frame)
        end
        return select_output(frame, result_path(raw, result))
      end
    end
  elseif not assign and output_identity then
    st.finish = function(frame, _, effective)
      if frame.rule then return M.finish_rule(frame, effective, select_output) end
      return effective
    end
  else
    st.finish = M.general_finish(assign, select_output)
  end
end

--- The finish of a state without ResultPath (Choice, Wait, Succeed):
-- its (or its matched rule's) Assign, then OutputPath.
function M.general_finish(assign, select_output)
  return function(frame, _, effective)
    local a = assign
    local rule = frame.rule
    if rule then
      -- A matched Choice rule's Assign replaces the state's.
      frame.rule = false
      if rule.assign then a = rule.assign end
    end
    if a then
      frame.input = effective
      a(frame)
    end
    return select_output(frame, effective)
  end
end

-- A Choice state without Assign or OutputPath whose matched rule has an Assign.
function M.finish_rule(frame, effective, select_output)
  local rule = frame.rule
  frame.rule = false
  if rule.assign then
    frame.input = effective
    rule.assign(frame)
  end
  return select_output(frame, effective)
end

--- A catcher's output: the error output put at its ResultPath in the
-- state's raw input.
function M.compile_catcher(c, st, catcher, def, where)
  local result_path = compiled(c, dataflow.compile_result_path(def.ResultPath, has(def, "ResultPath")),
    nil, where .. "/ResultPath")
  local assign = require("stepflow.asl.variables").compile_jsonpath(c, st, def, where)
  catcher.apply = function(frame, raw, err)
    local out = errors.output(err)
    if assign then
      frame.input = out
      assign(frame)
    end
    return result_path(raw, out)
  end
end

return M
