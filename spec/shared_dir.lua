--- Where the specs find the shared reference material (the conformance
-- and history cases recorded on AWS, the JSONata suite, the benchmark
-- workloads): ../shared beside the clone, as the README's set-up section
-- says, or the folder STEPFLOW_SHARED names. A spec that reads it fails
-- with a message saying what is missing when it is absent.
local M = {}

--- The shared folder.
M.root = os.getenv("STEPFLOW_SHARED") or "../shared"

local function is_dir(path)
  local p = io.popen("test -d '" .. path:gsub("'", "'\\''") .. "' && echo yes")
  local yes = p:read("a")
  p:close()
  return yes:find("yes", 1, true) ~= nil
end

--- The path of `sub` inside the shared folder, or nil and a message
-- saying what is missing and where it is expected.
function M.path(sub)
  local path = M.root .. "/" .. sub
  local f = io.open(path)
  if f then f:close() end
  if f or is_dir(path) then return path end
  return nil, "missing: " .. path .. " (the specs read the shared reference material from ../shared "
    .. "beside the clone, as the README's set-up section says; STEPFLOW_SHARED=DIR names another place)"
end

--- The files in the folder `sub` of the shared folder whose names match
-- the shell pattern `glob` (all of its tree with `recursive`), sorted; or
-- an empty list and the message of M.path when the folder is missing.
function M.files(sub, glob, recursive)
  local dir, err = M.path(sub)
  if not dir then return {}, err end
  local p = io.popen("find '" .. dir:gsub("'", "'\\''") .. "'" .. (recursive and "" or " -maxdepth 1")
    .. " -type f -name '" .. glob .. "' | sort")
  local list = {}
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

return M
