--- Variable scope checks of the definition validator: Parallel branches
-- and inline Map iterations read the variables of the scopes around them
-- but cannot assign them, so an Assign in an inner scope must not name a
-- variable that an enclosing scope assigns (no shadowing). A distributed
-- Map's iterations see no outer variables, so they start afresh. Names that
-- only a Catch assigns do not count as enclosing: AWS accepts a Parallel
-- whose branch assigns the same name as the Parallel's own Catch.
local util = require("stepflow.asl.validate.util")

local M = {}

local join = util.join

-- The variable names an Assign object declares (JSONPath keys may end in .$).
local function names_of(assign)
  local out = {}
  if type(assign) ~= "table" or util.is_array(assign) then return out end
  for k in pairs(assign) do
    if type(k) == "string" then out[#out + 1] = (k:gsub("%.%$$", "")) end
  end
  table.sort(out)
  return out
end

-- Every Assign of the states of one scope (not of nested scopes), as a list
-- of { pointer, name, from_catch }, and the nested scopes as
-- { pointer, def, inherits }.
local function scan(path, def)
  local assigns, nested = {}, {}
  local states = type(def) == "table" and def.States
  if type(states) ~= "table" then return assigns, nested end
  local names = {}
  for name in pairs(states) do if type(name) == "string" then names[#names + 1] = name end end
  table.sort(names)
  for _, name in ipairs(names) do
    local st = states[name]
    local sp = join(join(path, "States"), name)
    if type(st) == "table" then
      local function add(p, assign, from_catch)
        for _, v in ipairs(names_of(assign)) do assigns[#assigns + 1] = { join(p, v), v, from_catch } end
      end
      add(join(sp, "Assign"), st.Assign)
      if util.is_array(st.Choices) then
        for i0, rule in util.elements(st.Choices) do
          if type(rule) == "table" then add(join(join(join(sp, "Choices"), i0), "Assign"), rule.Assign) end
        end
      end
      -- A Catch's Assign writes to the scope of its state.
      if util.is_array(st.Catch) then
        for i0, c in util.elements(st.Catch) do
          if type(c) == "table" then add(join(join(join(sp, "Catch"), i0), "Assign"), c.Assign, true) end
        end
      end
      if st.Type == "Parallel" and util.is_array(st.Branches) then
        for i0, b in util.elements(st.Branches) do
          nested[#nested + 1] = { join(join(sp, "Branches"), i0), b, true }
        end
      elseif st.Type == "Map" then
        local field = st.ItemProcessor ~= nil and "ItemProcessor" or "Iterator"
        local proc = st[field]
        if type(proc) == "table" then
          local mode = type(proc.ProcessorConfig) == "table" and proc.ProcessorConfig.Mode
          nested[#nested + 1] = { join(sp, field), proc, mode ~= "DISTRIBUTED" }
        end
      end
    end
  end
  return assigns, nested
end

local function walk(ctx, path, def, outer)
  local assigns, nested = scan(path, def)
  local here = {}
  for k, v in pairs(outer) do here[k] = v end
  for _, a in ipairs(assigns) do
    local p, name = a[1], a[2]
    if outer[name] then
      ctx:add(p, "the variable '" .. name .. "' is assigned in an enclosing scope (at " ..
        outer[name] .. "); a Parallel branch or Map iteration can read it but not assign it: " ..
        "use another name, or return the value through the state's output")
    elseif not here[name] and not a[3] then
      here[name] = p
    end
  end
  for _, n in ipairs(nested) do
    walk(ctx, n[1], n[2], n[3] and here or {})
  end
end

--- Checks the whole definition.
function M.check(ctx, definition)
  walk(ctx, "", definition, {})
end

return M
