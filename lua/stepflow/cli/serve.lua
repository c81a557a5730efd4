--- `stepflow serve`: the AWS Step Functions API over HTTP (stepflow.server)
-- until SIGINT or SIGTERM, with the executions of a store resumed first.
local stepflow = require("stepflow")
local common = require("stepflow.cli.common")

local say, usage_error = common.say, common.usage_error

local M = {}

M.USAGE = "usage: stepflow serve [--host 127.0.0.1] [--port 8083] [--store FILE] [--handlers FILE]... "
  .. "[--region R] [--account A] [--credentials FILE] [--mock-config FILE] [--connections FILE] "
  .. "[--poll-timeout SECONDS] [--allow-missing-handlers]"

-- How long a stop waits for the answers in flight before it closes them.
local DRAIN_MS = 5000

local function is_loopback(host)
  return host == "localhost" or host:find("^127%.") ~= nil or host == "::1"
end

local function load_handlers(files)
  local registry = {}
  for _, path in ipairs(files or {}) do
    local t, err = require("stepflow.handlers").load_file(path)
    if not t then return nil, err end
    for name, fn in pairs(t) do registry[name] = fn end
  end
  return registry
end

-- On SIGINT or SIGTERM: stop accepting, let the answers in flight go out
-- (at most DRAIN_MS), then end the loop; the caller commits and closes.
-- A second signal ends at once.
local function on_signals(engine, server)
  local loop = engine.loop
  local signals, stopping = {}, false
  local function finish()
    for _, s in ipairs(signals) do s:close() end
    server:close()
    loop:stop()
  end
  local function stop()
    if stopping then return finish() end
    stopping = true
    server:shutdown()
    local deadline = loop:now() + DRAIN_MS
    local function check()
      if server:connections() == 0 or loop:now() >= deadline then return finish() end
      loop:timer(10, check)
    end
    check()
  end
  signals[1] = loop:signal("SIGINT", stop)
  signals[2] = loop:signal("SIGTERM", stop)
end

--- Runs `stepflow serve` with argv; returns the exit status.
function M.serve(argv)
  local pos, opts = common.parse_args(argv, 2, { host = "value", port = "value", store = "value",
    handlers = "list", region = "value", account = "value", credentials = "value",
    ["mock-config"] = "value", connections = "value", ["poll-timeout"] = "value",
    ["allow-missing-handlers"] = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 0 then return usage_error(M.USAGE) end
  local host = opts.host or "127.0.0.1"
  local port = 8083
  if opts.port then
    port = math.tointeger(tonumber(opts.port))
    if not port or port < 0 or port > 65535 or not opts.port:find("^%d+$") then
      return usage_error("--port must be a number from 0 to 65535")
    end
  end
  if opts.account and not opts.account:find("^%d+$") then
    return usage_error("--account must be digits (an AWS account id)")
  end
  if opts.region and not opts.region:find("^[%w%-]+$") then
    return usage_error("--region must be letters, digits and '-'")
  end
  local poll_timeout
  if opts["poll-timeout"] then
    local seconds = tonumber(opts["poll-timeout"])
    if not seconds or seconds < 0 or seconds > 3600 or not opts["poll-timeout"]:find("^[%d.]+$") then
      return usage_error("--poll-timeout must be a number of seconds from 0 to 3600")
    end
    poll_timeout = math.floor(seconds * 1000 + 0.5)
  end
  -- Step Functions Local reads its mock config from SFN_MOCK_CONFIG
  local mocks = opts["mock-config"] or os.getenv("SFN_MOCK_CONFIG")
  if mocks == "" then mocks = nil end
  local registry, err = load_handlers(opts.handlers)
  if not registry then
    say(err)
    return 2
  end
  local credentials
  if opts.credentials then
    credentials, err = require("stepflow.server.sigv4").load(opts.credentials)
    if not credentials then
      say("--credentials: ", err)
      return 2
    end
  end
  local s
  if opts.store then
    s = common.open_store(opts.store)
    if not s then return 1 end
    -- resumed without their handlers, their Tasks would fail for good
    local code = require("stepflow.cli.needs").refuse(s, registry, opts.store, opts["allow-missing-handlers"])
    if code then
      s:close()
      return code
    end
  else
    s = assert(require("stepflow.store").open(":memory:"))
  end
  local engine, info
  engine, err, info = stepflow.new({ store = s, handlers = registry, region = opts.region, account = opts.account,
    accept_new = opts.store ~= nil, mocks = mocks, connections = opts.connections })
  if not engine then
    pcall(s.close, s)
    say(err)
    -- a mock config or connections file with a mistake: a bad input
    return info and (info.kind == "mocks" or info.kind == "connections") and 2 or 1
  end
  if not is_loopback(host) then
    say("warning: listening on ", host, ", not only this machine: anyone who can reach it may run ",
      "state machines", credentials and "" or " (no --credentials: any request is accepted)")
  end
  local server
  server, err = engine:serve({ host = host, port = port, credentials = credentials, poll_timeout = poll_timeout,
    log = function(line) io.stderr:write(line, "\n") end })
  if not server then
    pcall(engine.close, engine)
    say(err)
    return 1
  end
  local n, failed = engine:recover()
  if not n then
    err = failed
    server:close()
    pcall(engine.close, engine)
    say(err)
    return 1
  end
  -- (a shared PostgreSQL store returns only the number it claimed)
  for _, f in ipairs(failed or {}) do say("could not resume ", f.arn, ": ", f.cause) end
  if opts.store then engine:watch_store() end
  on_signals(engine, server)
  local bound_host, bound_port = server:address()
  local shown = bound_host:find(":", 1, true) and ("[" .. bound_host .. "]") or bound_host
  io.stdout:write("stepflow: serving the Step Functions API and the web console on http://", shown, ":", bound_port,
    ", store ", opts.store or "in memory (nothing is kept after exit)",
    mocks and (", mock config " .. mocks) or "",
    n > 0 and (", " .. n .. " execution(s) resumed") or "", "\n")
  io.stdout:flush()
  if not common.run_engine(engine, s, opts.store or ":memory:") then return 1 end
  return 0
end

return M
