-- Prints the C sources (or, with --libs, the -l flags) of one module of the
-- rockspec, so that the Makefile builds from the same list luarocks does.
local rockspec, module, flag = arg[1], arg[2], arg[3]
local env = {}
assert(loadfile(rockspec, "t", env))()
local m = env.build.modules[module]
if type(m) ~= "table" then
  io.stderr:write(rockspec .. ": no C module " .. tostring(module) .. "\n")
  os.exit(1)
end
local out = {}
if flag == "--libs" then
  for _, l in ipairs(m.libraries or {}) do out[#out + 1] = "-l" .. l end
else
  for _, s in ipairs(m.sources) do out[#out + 1] = s end
end
print(table.concat(out, " "))
