--- What the command-line specs share: running bin/stepflow in a shell,
-- temporary folders, a user who may only read a file, and a full disk.
-- All of it real: processes, files, permissions, file systems.
local M = {}

--- Quotes text for the shell.
function M.q(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local text = fh:read("a")
  fh:close()
  return text
end
M.read = slurp

--- Runs a shell command; returns its exit status, stdout and stderr.
function M.sh(cmd)
  local out_file, err_file = os.tmpname(), os.tmpname()
  local ok, how, rc = os.execute("(" .. cmd .. ") >" .. out_file .. " 2>" .. err_file)
  local out, err = slurp(out_file), slurp(err_file)
  os.remove(out_file)
  os.remove(err_file)
  if how == "signal" then rc = 128 + rc end
  return rc or (ok and 0 or 1), out, err
end

--- Writes a file (its folder must exist).
function M.write(path, text)
  local fh = assert(io.open(path, "wb"))
  fh:write(text)
  fh:close()
  return path
end

--- A new empty folder; remove it with M.rm.
function M.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. M.q(dir)))
  return dir
end

function M.rm(dir)
  os.execute("chmod -R u+w " .. M.q(dir) .. " 2>/dev/null; rm -rf " .. M.q(dir))
end

--- True when a command exited 1 or 2 with a "stepflow: " message and no
-- traceback (what every refused invocation must look like); else false
-- and why.
function M.clean_refusal(rc, _, err)
  if rc ~= 1 and rc ~= 2 then return false, "exit " .. tostring(rc) end
  if not err:find("stepflow: ", 1, true) then return false, "no message" end
  if err:find("traceback", 1, true) or err:find("internal error", 1, true) or err:find("%.lua:%d+:") then
    return false, "a traceback"
  end
  return true
end

local is_root
local function root()
  if is_root == nil then
    local p = io.popen("id -u")
    is_root = p:read("a"):match("^0%s") ~= nil
    p:close()
  end
  return is_root
end

--- A shell prefix under which a command cannot override file
-- permissions: nothing for a user other than root; for root, setpriv
-- drops the capabilities that let it write a read-only file or folder.
-- nil (and why) when that cannot be arranged here.
function M.reader_prefix()
  if not root() then return "" end
  local prefix = "setpriv --bounding-set=-dac_override,-dac_read_search,-fowner -- "
  local dir = M.tmpdir()
  os.execute("chmod 555 " .. M.q(dir))
  local rc = M.sh(prefix .. "touch " .. M.q(dir .. "/x"))
  M.rm(dir)
  if rc == 0 then return nil, "setpriv cannot drop root's file capabilities here" end
  return prefix
end

--- Runs a shell `script` with a full disk, real: $F is a folder on a
-- small tmpfs (in a private mount namespace) when this machine allows
-- it, else on the usual disk with a file size limit (ulimit -f; a write
-- past it fails with EFBIG, which SQLite and stepflow treat as a full
-- disk). The script calls `fill` to use all but about 100 kB (with the
-- limit: nothing to do), runs commands as `full CMD ARGS...`, and calls
-- `unfill` to make room again. $R is a folder outside $F for results.
-- Returns the shell's exit status and output, and the mode ("tmpfs" or
-- "ulimit").
function M.with_full_disk(script, r)
  local f = M.tmpdir()
  local common = "F=" .. M.q(f) .. "; R=" .. M.q(r) .. "; export F R\n"
  local tmpfs = common .. [[
mount -t tmpfs -o size=1m tmpfs "$F" || exit 99
fill() { dd if=/dev/zero of="$F/filler" bs=4k 2>/dev/null; truncate -s -100K "$F/filler"; }
full() { "$@"; }
unfill() { rm -f "$F/filler"; }
]] .. script
  local unshare = root() and "unshare -m" or "unshare -rm"
  local rc, out, err = M.sh(unshare .. " sh -c " .. M.q(tmpfs))
  if rc ~= 99 and not err:find("unshare: ", 1, true) then
    M.rm(f)
    return rc, out .. err, "tmpfs"
  end
  local limited = common .. [[
fill() { :; }
full() ( trap '' XFSZ; ulimit -f 200; "$@" )
unfill() { :; }
]] .. script
  rc, out, err = M.sh("sh -c " .. M.q(limited))
  M.rm(f)
  return rc, out .. err, "ulimit"
end

return M
