--- Checks that every module the tree requires is ours or comes from a
-- Debian package that the Makefile installs, so that a fresh machine
-- never lacks one (a spec passed only where lua-cjson had been installed
-- by hand: issue 10).
--
--   lua5.4 tools/check_requires.lua [--root DIR] PACKAGE...   (the Makefile's DEBS)
--
-- Reads every module name given literally to require (also through
-- pcall(require, ...)) in
-- lua/, spec/, bench/, tools/ and bin/, Lua scripts without a .lua name
-- included. A module is ours when a file of the tree provides it: lua/
-- (stepflow.*), a C module of the rockspec (stepflow.core.*), or a helper
-- beside the requiring file or in spec/, tools/ or bench/ (their package
-- paths). Lua's own libraries are fine. Any other module must be in
-- PROVIDERS below, mapped to a package of DEBS, and on this machine it
-- must be installed by that package (or by one of its dependencies).
-- Prints each problem and exits 1, or prints one line and exits 0.

-- Module (or module prefix, "name.") -> the DEBS package that brings it.
local PROVIDERS = {
  ["cjson"] = "lua-cjson", ["cjson."] = "lua-cjson",
  ["busted"] = "lua-busted", ["busted."] = "lua-busted",
  ["luassert"] = "lua-busted", ["luassert."] = "lua-busted",
  ["say"] = "lua-busted",
  ["luarocks."] = "luarocks",
  ["lfs"] = "lua-filesystem",
  ["socket"] = "lua-socket", ["socket."] = "lua-socket", ["ltn12"] = "lua-socket",
}

local STANDARD = {
  string = true, table = true, math = true, io = true, os = true, coroutine = true,
  utf8 = true, debug = true, package = true, _G = true,
}

local debs, root = {}, "."
do
  local i = 1
  while arg[i] do
    if arg[i] == "--root" and arg[i + 1] then
      root = arg[i + 1]
      i = i + 1
    else
      debs[arg[i]] = true
    end
    i = i + 1
  end
end
if next(debs) == nil then
  io.stderr:write("usage: lua5.4 tools/check_requires.lua [--root DIR] PACKAGE... (the Makefile's DEBS)\n")
  os.exit(2)
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The files to read (paths relative to root): *.lua, and scripts whose
-- first line runs lua.
local function find(dirs, test)
  return lines_of("cd " .. q(root) .. " && find " .. dirs .. " " .. test .. " 2>/dev/null | sort")
end
local files = find("lua spec bench tools", "-name '*.lua'")
for _, f in ipairs(find("bin bench tools", "-type f ! -name '*.*'")) do
  if read(root .. "/" .. f):match("^#![^\n]*lua") then files[#files + 1] = f end
end

-- C modules of the rockspec.
local c_modules = {}
do
  local env = {}
  assert(loadfile(root .. "/rocks/stepflow-scm-1.rockspec", "t", env))()
  for name, m in pairs(env.build.modules) do
    if type(m) == "table" then c_modules[name] = true end
  end
end

local function ours(module, file)
  if c_modules[module] then return true end
  local rel = module:gsub("%.", "/")
  local dirs = { "lua", "spec", "tools", "bench", (file:match("^(.*)/[^/]*$") or ".") }
  for _, d in ipairs(dirs) do
    local base = root .. "/" .. d .. "/" .. rel
    if exists(base .. ".lua") or exists(base .. "/init.lua") then return true end
  end
  return false
end

local function provider(module)
  if PROVIDERS[module] then return PROVIDERS[module] end
  local prefix = module:match("^([^.]+%.)")
  return prefix and PROVIDERS[prefix]
end

-- The packages a package depends on directly (names only).
local function depends(pkg)
  local out = lines_of("dpkg-query -W -f='${Depends}\\n' " .. pkg .. " 2>/dev/null")[1] or ""
  local set = {}
  for name in out:gmatch("([%w][%w%.+%-]*)") do set[name] = true end
  return set
end

local problems, externals = {}, {}
local count = 0
for _, file in ipairs(files) do
  local text = read(root .. "/" .. file)
  local found = {}
  for module in text:gmatch("require%s*%(?%s*[\"']([%w_%.%-]+)[\"']") do found[#found + 1] = module end
  for module in text:gmatch("require%s*,%s*[\"']([%w_%.%-]+)[\"']") do found[#found + 1] = module end
  for _, module in ipairs(found) do
    count = count + 1
    if not STANDARD[module] and not ours(module, file) then
      local pkg = provider(module)
      if not pkg then
        problems[#problems + 1] = file .. ": requires '" .. module .. "', which is neither ours nor in "
          .. "tools/check_requires.lua's PROVIDERS: add the Debian package that provides it to the "
          .. "Makefile's DEBS and to PROVIDERS"
      elseif not debs[pkg] then
        problems[#problems + 1] = file .. ": requires '" .. module .. "' from the Debian package " .. pkg
          .. ", which is not in the Makefile's DEBS"
      else
        externals[module] = externals[module] or { pkg = pkg, file = file }
      end
    end
  end
end

-- Each external module must really come from its package here.
local path = package.path .. ";/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua"
local cpath = package.cpath
for module, e in pairs(externals) do
  local found = package.searchpath(module, path) or package.searchpath(module, cpath)
  if not found then
    problems[#problems + 1] = e.file .. ": requires '" .. module .. "', not installed here (package " .. e.pkg
      .. "): run `make deps`"
  else
    local owner = (lines_of("dpkg -S " .. found .. " 2>/dev/null")[1] or ""):match("^([^:]+)")
    if owner ~= e.pkg and not depends(e.pkg)[owner or ""] then
      problems[#problems + 1] = e.file .. ": requires '" .. module .. "', which " .. found .. " provides from "
        .. tostring(owner or "no package") .. ", not from " .. e.pkg .. " (fix PROVIDERS)"
    end
  end
end

if #problems > 0 then
  for _, p in ipairs(problems) do io.stderr:write("check_requires: ", p, "\n") end
  os.exit(1)
end
local n = 0
for _ in pairs(externals) do n = n + 1 end
print(("check_requires: %d requires in %d files: ours, Lua's, or from DEBS (%d external module(s))")
  :format(count, #files, n))
