--- The data flow of a state compiled for inspection (TestState): the same
-- stages as stepflow.asl.flow_jsonpath and flow_jsonata compile, each
-- noting what it made in `frame.inspection` (input, afterInputPath,
-- afterParameters, afterArguments, result, afterResultSelector,
-- afterResultPath). Only a definition compiled with `{inspect = true}`
-- gets these closures: the closures of executions record nothing and
-- cost nothing more.
local M = {}

local function noted(frame)
  local insp = frame.inspection
  if not insp then
    insp = {}
    frame.inspection = insp
  end
  return insp
end

--- JSONPath: prepare and finish from the state's stages (`s`: select_input,
-- parameters, selector, result_path, assign, select_output, finish_plain:
-- the finish of states without a ResultPath, which record no more).
function M.jsonpath(s)
  local select_input, parameters = s.select_input, s.parameters
  local selector, result_path, assign, select_output = s.selector, s.result_path, s.assign, s.select_output
  local function prepare(frame, raw)
    local insp = noted(frame)
    insp.input = raw
    local v = select_input(frame, raw)
    insp.afterInputPath = v
    if parameters then
      frame.input = v
      v = parameters(frame)
    end
    insp.afterParameters = v
    return v
  end
  if not result_path then return prepare, s.finish_plain end
  local function finish(frame, raw, result)
    local insp = noted(frame)
    insp.result = result
    if selector then
      frame.input = result
      result = selector(frame)
    end
    insp.afterResultSelector = result
    if assign then
      frame.input = result
      assign(frame)
    end
    local out = result_path(raw, result)
    insp.afterResultPath = out
    return select_output(frame, out)
  end
  return prepare, finish
end

--- JSONata: the state's own prepare and finish, noting the input, what
-- Arguments made (when the state has Arguments) and the result (states
-- with one: Task, Parallel, Map).
function M.jsonata(prepare, finish, has_arguments, has_result)
  local function noting_prepare(frame, raw)
    local insp = noted(frame)
    insp.input = raw
    local v = prepare(frame, raw)
    if has_arguments then insp.afterArguments = v end
    return v
  end
  local function noting_finish(frame, raw, result)
    if has_result then noted(frame).result = result end
    return finish(frame, raw, result)
  end
  return noting_prepare, noting_finish
end

return M
