--- Runs `bin/stepflow serve` as a child process for the specs that drive
-- it with real clients (the AWS SDK for JavaScript, the AWS CLI).
local M = {}

local Proc = {}
Proc.__index = Proc

--- Starts `stepflow serve --port 0 ARGS`; returns the process, with
-- `pid`, `port` and `line` (what it printed on start).
function M.start(args)
  local pipe = assert(io.popen("sh -c 'echo $$; exec bin/stepflow serve --port 0 " .. (args or "")
    .. "' 2>&1", "r"))
  local pid = tonumber(pipe:read("l"))
  local line = pipe:read("l") or ""
  local port = tonumber(line:match(":(%d+), store"))
  if not port then error("stepflow serve did not start: " .. line .. (pipe:read("a") or "")) end
  return setmetatable({ pid = pid, port = port, line = line, pipe = pipe }, Proc)
end

--- Sends a signal ("TERM", "KILL", ...) and waits for the exit: returns
-- what the process printed after its first line and its exit status.
function Proc:stop(signal)
  os.execute("kill -" .. (signal or "TERM") .. " " .. self.pid .. " 2>/dev/null")
  local rest = self.pipe:read("a")
  local _, _, code = self.pipe:close()
  return rest, code
end

--- Waits for a process that was killed from elsewhere.
function Proc:wait()
  local rest = self.pipe:read("a")
  local _, how, code = self.pipe:close()
  return rest, how, code
end

--- One API call over HTTP (Debian's lua-socket): returns the decoded
-- answer and the HTTP status.
function Proc:call(op, body)
  local http = require("socket.http")
  local ltn12 = require("ltn12")
  local json = require("stepflow.json")
  local text = json.encode(body or {})
  local out = {}
  local _, status = http.request({
    url = "http://127.0.0.1:" .. self.port .. "/", method = "POST",
    headers = { ["X-Amz-Target"] = "AWSStepFunctions." .. op,
      ["Content-Type"] = "application/x-amz-json-1.0", ["Content-Length"] = #text },
    source = ltn12.source.string(text), sink = ltn12.sink.table(out),
  })
  return json.decode(table.concat(out)), status
end

--- One console operation (POST /console/api/NAME): the decoded answer and
-- the HTTP status.
function Proc:console(name, body)
  local http = require("socket.http")
  local ltn12 = require("ltn12")
  local json = require("stepflow.json")
  local text = json.encode(body or {})
  local out = {}
  local _, status = http.request({
    url = "http://127.0.0.1:" .. self.port .. "/console/api/" .. name, method = "POST",
    headers = { ["Content-Type"] = "application/json", ["Content-Length"] = #text },
    source = ltn12.source.string(text), sink = ltn12.sink.table(out),
  })
  return json.decode(table.concat(out)), status
end

--- A fresh store path (removed with its side files by `remove`).
M.temp_store = require("spec_helper").temp_store
M.remove = require("spec_helper").remove_store

return M
