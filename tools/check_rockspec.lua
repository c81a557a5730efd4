-- Checks that the rockspec and the tree agree: every core/*.c is built into
-- some C module, every lua/**/*.lua is installed under its module name,
-- every other file under lua/ (the web console's static files) is installed
-- by build.install.lua to the same place, and every file the rockspec names
-- exists.
local rockspec = arg[1] or "rocks/stepflow-scm-1.rockspec"
local env = {}
assert(loadfile(rockspec, "t", env))()
local problems = {}
local listed = {}
for name, m in pairs(env.build.modules) do
  if type(m) == "string" then
    listed[m] = true
    local want = "lua/" .. name:gsub("%.", "/") .. ".lua"
    local want_init = "lua/" .. name:gsub("%.", "/") .. "/init.lua"
    if m ~= want and m ~= want_init then
      problems[#problems + 1] = name .. ": file " .. m .. " does not match the module name"
    end
  else
    for _, s in ipairs(m.sources) do listed[s] = true end
  end
end
for f in pairs(listed) do
  local fh = io.open(f)
  if fh then fh:close() else problems[#problems + 1] = "listed but missing: " .. f end
end
local p = io.popen("find core lua -name '*.c' -o -name '*.lua' | sort")
for f in p:lines() do
  if not listed[f] then problems[#problems + 1] = "not in the rockspec: " .. f end
end
p:close()
-- build.install.lua copies FILE to <lua dir>/<the key's parts but the
-- last>/<FILE's own name>: that must be FILE's place under lua/
local data = {}
for key, f in pairs(env.build.install and env.build.install.lua or {}) do
  data[f] = true
  local want = "lua/" .. key:gsub("[^.]*$", ""):gsub("%.", "/") .. f:match("[^/]*$")
  if f ~= want then problems[#problems + 1] = key .. ": installs " .. f .. " as " .. want end
  local fh = io.open(f)
  if fh then fh:close() else problems[#problems + 1] = "listed but missing: " .. f end
end
p = io.popen("find lua -type f ! -name '*.lua' | sort")
for f in p:lines() do
  if not data[f] then problems[#problems + 1] = "not in the rockspec's install.lua: " .. f end
end
p:close()
for _, b in pairs(env.build.install and env.build.install.bin or {}) do
  local fh = io.open(b)
  if fh then fh:close() else problems[#problems + 1] = "bin missing: " .. b end
end
table.sort(problems)
for _, msg in ipairs(problems) do print(rockspec .. ": " .. msg) end
if #problems > 0 then os.exit(1) end
print("rockspec: sources and modules agree")
