--- Choice: the first rule that matches names the next state; else Default;
-- else States.NoChoiceMatched.
local errors = require("stepflow.errors")
local choice = require("stepflow.asl.choice")
local paths = require("stepflow.asl.paths")

local M = {}

function M.compile(c, st, def, where)
  local rules = {}
  for i, rdef in ipairs(def.Choices) do
    local rwhere = where .. "/Choices/" .. (i - 1)
    local rule = {}
    if st.ql == "JSONata" then
      rule.test = st.flow.condition(c, st, rdef, rwhere)
    else
      local test, err = choice.compile(rdef, paths.accessor)
      rule.test = c:check(test, rwhere, err)
    end
    if st.ql == "JSONata" then
      rule.assign = st.flow.compile_rule_assign(c, st, rdef, rwhere)
      rule.output = st.flow.rule_output(c, rdef, rwhere)
    else
      rule.assign = require("stepflow.asl.variables").compile_jsonpath(c, st, rdef, rwhere)
    end
    c:link(st, rule, "next_state", rdef.Next, rwhere .. "/Next")
    rules[i] = rule
  end
  local default = {}
  if def.Default ~= nil then
    c:link(st, default, "next_state", def.Default, where .. "/Default")
  end
  local prepare, finish, n = st.prepare, st.finish, #rules
  st.run = function(_, frame, raw)
    local v = prepare(frame, raw)
    for i = 1, n do
      local rule = rules[i]
      frame.input = v
      if rule.test(frame, raw) then
        frame.rule = rule
        return "next", finish(frame, raw, v), rule.next_state
      end
    end
    if default.next_state then
      frame.rule = false
      return "next", finish(frame, raw, v), default.next_state
    end
    return "fail", errors.new(errors.NoChoiceMatched, "No Matches!")
  end
  -- Without Assign anywhere, the driver's fast loop calls the rules directly.
  local assigns = st.commit_vars ~= nil
  for i = 1, n do if rules[i].assign then assigns = true end end
  local plain = st.ql ~= "JSONata" and def.InputPath == nil and def.OutputPath == nil
  if not assigns and plain then
    -- JSONPath, no paths, no Assign: the output is the input, the rule only
    -- picks the next state.
    st.fast = function(_, frame, raw)
      frame.input = raw
      for i = 1, n do
        local rule = rules[i]
        if rule.test(frame, raw) then return raw, rule.next_state end
      end
      if default.next_state then return raw, default.next_state end
      errors.raise(errors.NoChoiceMatched, "No Matches!")
    end
  elseif not assigns then
    st.fast = function(_, frame, raw)
      local v = prepare(frame, raw)
      for i = 1, n do
        local rule = rules[i]
        frame.input = v
        if rule.test(frame, raw) then
          frame.rule = rule
          return finish(frame, raw, v), rule.next_state
        end
      end
      if default.next_state then
        frame.rule = false
        return finish(frame, raw, v), default.next_state
      end
      errors.raise(errors.NoChoiceMatched, "No Matches!")
    end
  end
end

return M
