--- Which fields each state type takes, which are bound to one query
-- language, and the check for unknown and misplaced fields.
local util = require("stepflow.asl.validate.util")

local M = {}

local join = util.join

M.TYPES = { "Choice", "Fail", "Map", "Parallel", "Pass", "Succeed", "Task", "Wait" }

local COMMON = { "Type", "Comment", "QueryLanguage" }

local BY_TYPE = {
  Pass = { "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result",
    "Output", "Assign" },
  Task = { "Next", "End", "Resource", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "Arguments", "Output", "Assign", "TimeoutSeconds", "TimeoutSecondsPath",
    "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Credentials" },
  Choice = { "Choices", "Default", "InputPath", "OutputPath", "Output", "Assign" },
  Wait = { "Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath",
    "OutputPath", "Output", "Assign" },
  Succeed = { "InputPath", "OutputPath", "Output" },
  Fail = { "Error", "ErrorPath", "Cause", "CausePath" },
  Parallel = { "Next", "End", "Branches", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "Arguments", "Output", "Assign", "Retry", "Catch" },
  Map = { "Next", "End", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector",
    "Parameters", "MaxConcurrency", "MaxConcurrencyPath", "ResultSelector", "ResultPath",
    "InputPath", "OutputPath", "Output", "Assign", "Retry", "Catch", "ItemReader", "ItemBatcher",
    "ResultWriter", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
    "ToleratedFailureCount", "ToleratedFailureCountPath", "Label" },
}

-- Fields of one query language, with how to say the same in the other.
M.JSONPATH_ONLY = {
  InputPath = "read $states.input in the expressions instead",
  OutputPath = "use Output instead",
  ResultPath = "use Output (with $states.result) instead",
  ResultSelector = "use Output (with $states.result) instead",
  Parameters = "use Arguments instead",
  Result = "use Output instead",
  ItemsPath = "use Items instead",
  MaxConcurrencyPath = "use MaxConcurrency with a '{% ... %}' expression instead",
  ErrorPath = "use Error with a '{% ... %}' expression instead",
  CausePath = "use Cause with a '{% ... %}' expression instead",
  TimeoutSecondsPath = "use TimeoutSeconds with a '{% ... %}' expression instead",
  HeartbeatSecondsPath = "use HeartbeatSeconds with a '{% ... %}' expression instead",
  SecondsPath = "use Seconds with a '{% ... %}' expression instead",
  TimestampPath = "use Timestamp with a '{% ... %}' expression instead",
  ToleratedFailurePercentagePath =
    "use ToleratedFailurePercentage with a '{% ... %}' expression instead",
  ToleratedFailureCountPath = "use ToleratedFailureCount with a '{% ... %}' expression instead",
}
M.JSONATA_ONLY = {
  Output = "use InputPath, ResultSelector, ResultPath or OutputPath instead",
  Arguments = "use Parameters instead",
  Items = "use ItemsPath instead",
}

local ALLOWED = {}
for t, list in pairs(BY_TYPE) do
  local set, names = {}, {}
  for _, f in ipairs(COMMON) do set[f] = true; names[#names + 1] = f end
  for _, f in ipairs(list) do set[f] = true; names[#names + 1] = f end
  ALLOWED[t] = { set = set, names = names }
end

--- The names of the fields a state type takes (for messages).
function M.allowed_names(state_type)
  return ALLOWED[state_type] and ALLOWED[state_type].names or {}
end

--- True when state_type takes field.
function M.allows(state_type, field)
  return ALLOWED[state_type] ~= nil and ALLOWED[state_type].set[field] == true
end

local function language_name(jsonata)
  return jsonata and "JSONata" or "JSONPath"
end

--- The message for a field of the other query language.
function M.language_message(field, jsonata)
  local hint = jsonata and M.JSONPATH_ONLY[field] or M.JSONATA_ONLY[field]
  return "The QueryLanguage is set to '" .. language_name(jsonata) .. "', but field '" .. field
    .. "' is only supported for the '" .. language_name(not jsonata) .. "' QueryLanguage"
    .. (hint and (": " .. hint) or "")
end

--- True when field belongs to the other query language than the state's.
function M.wrong_language(field, jsonata)
  if jsonata then return M.JSONPATH_ONLY[field] ~= nil end
  return M.JSONATA_ONLY[field] ~= nil
end

--- Reports unknown fields and fields of the other query language.
-- Returns a set of the fields that passed (the per-type checks look at those).
function M.check(ctx, path, state, state_type, jsonata)
  local ok_fields = {}
  for _, f in ipairs(util.sorted_keys(state)) do
    local p = join(path, f)
    if not M.allows(state_type, f) then
      local where = {}
      for _, t in ipairs(M.TYPES) do
        if BY_TYPE[t] and M.allows(t, f) and t ~= state_type then where[#where + 1] = t end
      end
      local msg = "Field '" .. f .. "' is not supported by a " .. state_type .. " state"
      if #where > 0 then
        msg = msg .. " (only by " .. table.concat(where, ", ") .. ")"
      else
        msg = msg .. util.did_you_mean(f, M.allowed_names(state_type))
          .. "; its fields are: " .. table.concat(M.allowed_names(state_type), ", ")
      end
      ctx:add(p, msg)
    elseif M.wrong_language(f, jsonata) then
      ctx:add(p, M.language_message(f, jsonata))
    else
      ok_fields[f] = true
    end
  end
  return ok_fields
end

return M
