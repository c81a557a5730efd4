-- The hello example through the Lua API: lua5.4 examples/hello/hello.lua
local stepflow = require("stepflow")

local engine = stepflow.new({ virtual_time = true })
engine:register("greet", function(input, ctx)
  return "Hello, " .. input.name .. "!"
end)

local sm = assert(engine:create_state_machine([[{
  "StartAt": "Greet",
  "States": {
    "Greet": { "Type": "Task", "Resource": "greet",
               "ResultPath": "$.greeting", "Next": "Format" },
    "Format": { "Type": "Pass", "End": true, "Parameters": {
      "message.$": "States.Format('{} You are visitor number {}.', $.greeting, $.visitor)" } }
  }
}]], { name = "Hello" }))

local exec = engine:start_execution(sm, { name = "Ada", visitor = 42 })
engine:run()
print(exec.status, stepflow.json.encode(exec.output))
