-- Handlers of the fan-out example: a slow reference-data lookup (one
-- second each, so MaxConcurrency shows in the run time) and a validator.
local regions = { GB = "EMEA", FI = "EMEA", DE = "EMEA", US = "AMER", CA = "AMER", JP = "APAC" }

return {
  enrichRecord = function(input, ctx)
    ctx.sleep(1) -- the reference-data service answers after a second
    local tier = input.spendCents >= 100000 and "gold"
      or input.spendCents >= 10000 and "silver" or "standard"
    return { region = regions[input.country] or "UNKNOWN", tier = tier }
  end,

  validateRecord = function(input, ctx)
    ctx.sleep(0.5)
    local problems = {}
    if not input.email:match("^[^@%s]+@[^@%s]+%.%a+$") then
      problems[#problems + 1] = "email '" .. input.email .. "' has no valid domain"
    end
    if not regions[input.country] then
      problems[#problems + 1] = "unknown country " .. input.country
    end
    -- An empty Lua table encodes as {}; mark it so that it stays a JSON array.
    return { valid = #problems == 0, problems = require("stepflow.json").array(problems) }
  end,
}
