-- luacheck configuration (Debian's lua-check; `make lint`).
-- Lua 5.4, no globals: modules are `local M = {}` tables, and specs may
-- use busted's names only.
std = "lua54"
files["spec"] = { std = "+busted" }
max_line_length = 120
