--- The state a TestState request tests: one state's definition, or a
-- whole state machine and the name of one of its states. A lone state is
-- tested as AWS tests it, as the state "StateName" of a machine of its
-- own, whose transitions (Next, Default, a Choice's or a Catch's Next) may
-- name states that do not exist: they stand for the state it would go to.
-- The definition is validated as CreateStateMachine validates it, and
-- compiled for inspection (stepflow.asl.inspect).
local json = require("stepflow.json")
local validate = require("stepflow.asl.validate")
local compile = require("stepflow.asl.compile")

local M = {}

--- The name AWS gives the state it tests (also in $$.State.Name).
M.STATE_NAME = "StateName"

local invalid = require("stepflow.server.common").invalid_definition

-- The names a state transitions to.
local function targets(def)
  local out = {}
  if type(def.Next) == "string" then out[#out + 1] = def.Next end
  if type(def.Default) == "string" then out[#out + 1] = def.Default end
  for _, field in ipairs({ "Choices", "Catch" }) do
    local list = def[field]
    if type(list) == "table" then
      for _, x in ipairs(list) do
        if type(x) == "table" and type(x.Next) == "string" then out[#out + 1] = x.Next end
      end
    end
  end
  return out
end

-- A lone state as a machine: it and the states it names, as Succeed
-- states (never run: TestState stops after the state it tests).
local function machine_of(def)
  local states = { [M.STATE_NAME] = def }
  for _, name in ipairs(targets(def)) do
    if name ~= M.STATE_NAME then states[name] = { Type = "Succeed" } end
  end
  return { StartAt = M.STATE_NAME, States = states }
end

-- Finds a state definition by name in a machine (its top level first,
-- then its branches and processors): the state's definition, the JSON
-- pointer of its scope, or nil.
local function find(scope, name, path)
  local states = type(scope) == "table" and scope.States
  if type(states) ~= "table" then return nil end
  if type(states[name]) == "table" then return states[name], path end
  for sname, st in pairs(states) do
    if type(st) == "table" then
      local sp = path .. "/States/" .. sname
      for i, b in ipairs(type(st.Branches) == "table" and st.Branches or {}) do
        local d, p = find(b, name, sp .. "/Branches/" .. (i - 1))
        if d then return d, p end
      end
      local proc = st.ItemProcessor or st.Iterator
      local d, p = find(proc, name, sp .. (st.ItemProcessor and "/ItemProcessor" or "/Iterator"))
      if d then return d, p end
    end
  end
  return nil
end

-- The compiled state of a program tree by name (programs of branches and
-- processors included).
local function compiled_state(program, name)
  local st = program.states[name]
  if st then return st end
  for _, s in pairs(program.states) do
    for _, p in ipairs(s.programs or {}) do
      local found = compiled_state(p, name)
      if found then return found end
    end
  end
  return nil
end

--- Reads a TestState definition: returns {machine (compiled), state (its
-- compiled state), def (the state's definition), name}, or nil, code
-- (InvalidDefinition, ValidationException), message.
function M.read(text, state_name, machine_type)
  local def, err = json.try_decode(text)
  if def == nil then return invalid({ { path = "/", message = tostring(err), code = "INVALID_JSON_DESCRIPTION" } }) end
  if type(def) ~= "table" or json.is_array(def) then
    return invalid({ { path = "/", message = "Definition must be a valid JSON object" } })
  end
  local machine, state_def
  if state_name then
    machine = def
    state_def = find(def, state_name, "")
  else
    machine = machine_of(def)
    state_def, state_name = def, M.STATE_NAME
  end
  local problems = validate.check(machine, { type = machine_type or "STANDARD" })
  if #problems > 0 then return invalid(problems) end
  if not state_def then return nil, "ValidationException", "State not found in definition" end
  local compiled, cerr = compile.compile(machine, { inspect = true })
  if not compiled then return invalid({ { path = "/", message = cerr } }) end
  return { machine = compiled, state = compiled_state(compiled.program, state_name), def = state_def,
    name = state_name, machine_def = machine }
end

return M
