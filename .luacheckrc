-- luacheck configuration (Debian's lua-check; `make lint`).
-- Lua 5.4 and no globals: modules are `local M = {}` tables, and specs
-- use busted's names only. Deliberate exceptions (a profiler that wraps
-- coroutine.create, a spec that captures io.stderr) say so inline.
std = "lua54"
max_line_length = 120
files["spec"] = {
  std = "+busted",
  -- specs quote definitions, inputs and AWS's messages on one line
  max_line_length = 160,
}
-- generated from the service model (tools/gen_api_model.lua): one shape a line
files["lua/stepflow/server/model.lua"] = { max_line_length = false }
-- generated from botocore's models (tools/gen_mock_shapes.lua)
files["lua/stepflow/testing/shapes.lua"] = { max_line_length = false }
