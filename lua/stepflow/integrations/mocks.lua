--- Mocked integrations in Step Functions Local's MockConfigFile format,
-- so that a file people already have works unchanged:
--
--   {"StateMachines": {"<machine name>": {"TestCases": {"<case>":
--       {"<state name>": "<response name>", ...}}}},
--    "MockedResponses": {"<response name>": {"0": {"Return": <result>},
--       "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}
--
-- An execution runs with one test case (engine:start_execution(sm,
-- input, {test_case = NAME}); StartExecution with "<machine ARN>#NAME"):
-- each Task state the case names takes its responses in invocation order
-- (retries included), in Map and Parallel states too (by state name); the
-- states it does not name run their handlers and integrations. A file
-- with a mistake is refused with the place of each mistake (a JSON
-- pointer into the file).
local json = require("stepflow.json")

local M = {}

local Mocks = {}
Mocks.__index = Mocks
Mocks.__name = "stepflow.MockConfig"

local function ptr(...)
  local parts = {}
  for i, p in ipairs({ ... }) do parts[i] = (tostring(p):gsub("~", "~0"):gsub("/", "~1")) end
  return "/" .. table.concat(parts, "/")
end

local function is_object(v)
  return type(v) == "table" and not json.is_array(v)
end

-- (the keys of a JSON object, sorted: a stable order)
local sorted_keys = require("stepflow.asl.validate.util").sorted_keys

-- Parses an invocation range key: "3" or "1-2". Returns first, last or
-- nil and a message.
local function parse_range(key)
  local a, b = key:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
  if not a then a = key:match("^%s*(%d+)%s*$"); b = a end
  if not a then
    return nil, "the invocation range must be N or N-M (non-negative integers), got '" .. key .. "'"
  end
  a, b = tonumber(a), tonumber(b)
  if math.type(a) ~= "integer" or math.type(b) ~= "integer" then
    return nil, "the invocation range '" .. key .. "' is too large"
  end
  if b < a then
    return nil, "the invocation range '" .. key .. "' ends before it starts"
  end
  return a, b
end

-- Checks one response step ({Return = v} or {Throw = {Error, Cause}}).
local function check_step(step, where, problems)
  if not is_object(step) then
    problems[#problems + 1] = { path = where, message = "a response must be an object with " ..
      "Return or Throw" }
    return
  end
  local n = 0
  for k in pairs(step) do
    if k ~= "Return" and k ~= "Throw" then
      problems[#problems + 1] = { path = where .. ptr(k),
        message = "unknown field '" .. tostring(k) .. "' (a response has Return or Throw)" }
    end
    n = n + 1
  end
  if step.Return ~= nil and step.Throw ~= nil then
    problems[#problems + 1] = { path = where, message = "a response has Return or Throw, not both" }
  elseif step.Return == nil and step.Throw == nil then
    problems[#problems + 1] = { path = where, message = "a response needs Return or Throw" }
  elseif step.Throw ~= nil then
    local t = step.Throw
    if not is_object(t) or type(t.Error) ~= "string" then
      problems[#problems + 1] = { path = where .. "/Throw",
        message = "Throw needs Error (a string) and Cause (a string)" }
    elseif t.Cause ~= nil and type(t.Cause) ~= "string" then
      problems[#problems + 1] = { path = where .. "/Throw/Cause", message = "Cause must be a string" }
    end
  end
  return n
end

-- Expands a mocked response's ranges into responses[0..n-1]; ranges must
-- cover 0..n-1 once each, in order.
local function expand(name, ranges, problems)
  local where = ptr("MockedResponses", name)
  if not is_object(ranges) or next(ranges) == nil then
    problems[#problems + 1] = { path = where, message = "a mocked response maps invocation " ..
      "ranges (\"0\", \"1-2\") to responses, and needs at least one" }
    return nil
  end
  local spans = {}
  for _, key in ipairs(sorted_keys(ranges)) do
    local p = ptr("MockedResponses", name, key)
    local a, b = parse_range(key)
    if not a then
      problems[#problems + 1] = { path = p, message = b }
    else
      spans[#spans + 1] = { a, b, key }
      check_step(ranges[key], p, problems)
    end
  end
  table.sort(spans, function(x, y) return x[1] < y[1] end)
  local out, nxt = {}, 0
  for _, s in ipairs(spans) do
    local a, b, key = s[1], s[2], s[3]
    if a ~= nxt then
      problems[#problems + 1] = { path = ptr("MockedResponses", name, key),
        message = a < nxt and ("the invocation range '" .. key .. "' overlaps another one")
          or ("invocations are numbered from 0 without gaps: expected " .. nxt ..
            " next, got '" .. key .. "'") }
      return nil
    end
    for i = a, b do out[i] = ranges[key] end
    nxt = b + 1
  end
  return out, nxt
end

--- Checks and compiles a decoded mock config. `source` names it in
-- messages (a file name). Returns a mock config, or nil, message (every
-- problem, one per line, each with its place) and the problem list.
function M.parse(config, source)
  source = source or "(a table)"
  local problems = {}
  local function fail()
    local lines = {}
    for i, p in ipairs(problems) do lines[i] = p.path .. ": " .. p.message end
    return nil, "mock config " .. source .. ":\n  " .. table.concat(lines, "\n  "), problems
  end
  if not is_object(config) then
    problems[1] = { path = "/", message = "a mock config is an object with StateMachines and " ..
      "MockedResponses" }
    return fail()
  end
  for k in pairs(config) do
    if k ~= "StateMachines" and k ~= "MockedResponses" then
      problems[#problems + 1] = { path = ptr(k), message = "unknown field (a mock config has " ..
        "StateMachines and MockedResponses)" }
    end
  end
  local sms, responses = config.StateMachines, config.MockedResponses
  if not is_object(sms) then
    problems[#problems + 1] = { path = "/StateMachines", message = "must be an object: " ..
      "state machine name -> {TestCases}" }
  end
  if not is_object(responses) then
    problems[#problems + 1] = { path = "/MockedResponses", message = "must be an object: " ..
      "response name -> {invocation range -> Return | Throw}" }
  end
  if #problems > 0 then return fail() end
  local expanded, counts = {}, {}
  for _, name in ipairs(sorted_keys(responses)) do
    expanded[name], counts[name] = expand(name, responses[name], problems)
  end
  local machines = {}
  for _, mname in ipairs(sorted_keys(sms)) do
    local sm = sms[mname]
    local cases = is_object(sm) and sm.TestCases
    if not is_object(cases) then
      problems[#problems + 1] = { path = ptr("StateMachines", mname),
        message = "needs TestCases: test case name -> {state name -> response name}" }
    else
      local m = { name = mname, cases = {} }
      machines[mname] = m
      for _, cname in ipairs(sorted_keys(cases)) do
        local tc = cases[cname]
        local where = ptr("StateMachines", mname, "TestCases", cname)
        if not is_object(tc) then
          problems[#problems + 1] = { path = where, message = "a test case maps state names " ..
            "to mocked response names" }
        else
          local case = { machine = mname, name = cname, states = {}, where = where }
          m.cases[cname] = case
          for _, state in ipairs(sorted_keys(tc)) do
            local rname = tc[state]
            local p = ptr("StateMachines", mname, "TestCases", cname, state)
            if type(rname) ~= "string" then
              problems[#problems + 1] = { path = p, message = "must name a mocked response (a string)" }
            elseif responses[rname] == nil then
              local names = sorted_keys(responses)
              problems[#problems + 1] = { path = p, message = "MockedResponses has no response '" ..
                rname .. "'" .. (#names > 0 and (" (it has: " .. table.concat(names, ", ") .. ")") or "") }
            elseif expanded[rname] then
              case.states[state] = { response = rname, responses = expanded[rname],
                count = counts[rname], where = p }
            end
          end
        end
      end
    end
  end
  if #problems > 0 then return fail() end
  return setmetatable({ machines = machines, source = source }, Mocks)
end

--- Reads and checks a mock config file (JSON). Returns a mock config, or
-- nil, message[, problems].
function M.load(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, "mock config: " .. tostring(err) end
  local text = fh:read("a")
  fh:close()
  local ok, config = pcall(json.decode, text)
  if not ok then return nil, "mock config " .. path .. ": " .. tostring(config) end
  return M.parse(config, path)
end

--- A mock config from what a caller gives: a file path, a decoded table,
-- or a mock config already made. Returns it, or nil, message, problems.
function M.from(config)
  if type(config) == "string" then return M.load(config) end
  if getmetatable(config) == Mocks then return config end
  return M.parse(config)
end

--- The test case `name` of a state machine (its name and its definition,
-- decoded), checked: nil and a message when the config lacks it or it
-- mocks states the machine lacks.
function Mocks:case_for(machine_name, def, name)
  local case, err = self:test_case(machine_name, name)
  if not case then return nil, err end
  local ok
  ok, err = self:check_case(case, def)
  if not ok then return nil, err end
  return case
end

--- The test case `case_name` of state machine `machine_name`, or nil and
-- a message saying what the file has instead.
function Mocks:test_case(machine_name, case_name)
  local m = self.machines[machine_name]
  if not m then
    local names = sorted_keys(self.machines)
    return nil, "mock config " .. self.source .. ": /StateMachines has no state machine '" ..
      tostring(machine_name) .. "'" .. (#names > 0 and (" (it has: " .. table.concat(names, ", ") ..
      ")") or "")
  end
  local case = m.cases[case_name]
  if not case then
    local names = sorted_keys(m.cases)
    return nil, "mock config " .. self.source .. ": " .. ptr("StateMachines", machine_name, "TestCases") ..
      " has no test case '" .. tostring(case_name) .. "'" ..
      (#names > 0 and (" (it has: " .. table.concat(names, ", ") .. ")") or "")
  end
  return case
end

-- The states of a decoded definition by name, in branches and item
-- processors too.
local function states_of(def, out)
  local states = type(def) == "table" and def.States
  if type(states) ~= "table" then return out end
  for name, st in pairs(states) do
    out[name] = st
    if type(st) == "table" then
      if type(st.Branches) == "table" then
        for _, b in ipairs(st.Branches) do states_of(b, out) end
      end
      states_of(st.ItemProcessor, out)
      states_of(st.Iterator, out)
    end
  end
  return out
end

--- Checks that every state a test case mocks is a Task state of the
-- definition (decoded). Returns true, or nil and a message naming the
-- place in the mock config.
function Mocks:check_case(case, def)
  local states = states_of(def, {})
  for _, name in ipairs(sorted_keys(case.states)) do
    local st = states[name]
    local where = case.states[name].where
    if st == nil then
      return nil, "mock config " .. self.source .. ": " .. where .. ": state machine '" ..
        case.machine .. "' has no state named '" .. name .. "'"
    end
    if type(st) ~= "table" or st.Type ~= "Task" then
      return nil, "mock config " .. self.source .. ": " .. where .. ": state '" .. name ..
        "' is a " .. tostring(type(st) == "table" and st.Type) .. " state; only Task states " ..
        "are mocked"
    end
  end
  return true
end

--- Splits a StartExecution state machine ARN as Step Functions Local
-- reads it: "arn:...:stateMachine:Name#TestCase" -> the ARN, "TestCase";
-- an ARN without '#' -> the ARN, nil.
function M.split_arn(arn)
  if type(arn) ~= "string" then return arn, nil end
  local base, case = arn:match("^(.-)#(.*)$")
  if not base then return arn, nil end
  if case == "" then case = nil end
  return base, case
end

--- The mock test case an execution runs with, and the execution that
-- counts its invocations (a Distributed Map's child executions count in
-- their parent's); nil when none.
function M.case_of(exec)
  local e = exec
  while e do
    local case = rawget(e, "mock_case")
    if case then return case, e end
    e = rawget(e, "parent")
  end
  return nil
end

--- Attaches test case `case` to an execution (before it runs).
function M.attach(exec, case)
  rawset(exec, "mock_case", case)
  rawset(exec, "mock_counts", {})
end

--- The response for the next invocation of `state` in `case` (counted on
-- `owner`): the response step, nil when the case does not mock the
-- state, or nil and a message when the invocations ran past the ranges.
function M.next_response(case, owner, state)
  local entry = case.states[state]
  if not entry then return nil end
  local counts = rawget(owner, "mock_counts")
  local i = counts[state] or 0
  counts[state] = i + 1
  local r = entry.responses[i]
  if r then return r end
  return nil, "mock test case '" .. case.name .. "' (" .. entry.where .. "): state '" .. state ..
    "' was invoked " .. (i + 1) .. " times, and MockedResponses/" .. entry.response ..
    " has responses for invocations 0-" .. (entry.count - 1) .. " only"
end

return M
