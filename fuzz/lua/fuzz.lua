-- fuzz/lua/fuzz.lua: the Lua-level fuzzer. It makes random (and
-- corpus-grown) JSONata expressions, intrinsic calls, ASL definitions and
-- execution inputs, and requests to every operation of the API server
-- (shaped by the service model), runs them, and fails on any outcome that
-- is not a clean error value: an error that is not a JSONata error table,
-- a stepflow.errors value or a `nil, message`; a validator that raises
-- instead of listing problems; an execution that does not end SUCCEEDED
-- with JSON output or FAILED with an error name and a cause; an API
-- answer with a 5xx status, or an operation that raised; a message or
-- cause holding a Lua file:line or a table address.
--
--   lua5.4 fuzz/lua/fuzz.lua [--seconds N] [--seed N] [--cases N]
--                            [--only jsonata|intrinsics|asl|api] [-v]
--
-- Each case has a seed; `--seed S --cases 1 --only KIND -v` makes it again.
-- Findings that match fuzz/lua/known.lua (owned elsewhere, being fixed)
-- are listed apart and do not fail the run. Exit status 1 on a finding.
package.path = "./lua/?.lua;./lua/?/init.lua;./fuzz/lua/?.lua;" .. package.path
package.cpath = (os.getenv("STEPFLOW_CPATH") or "./build/?.so") .. ";" .. package.cpath

local json = require("stepflow.json")
local errors = require("stepflow.errors")
local jsonata = require("stepflow.jsonata")
local jvalues = require("stepflow.jsonata.values")
local intrinsics = require("stepflow.asl.intrinsics")
local paths = require("stepflow.asl.paths")
local validate = require("stepflow.asl.validate")
local stepflow = require("stepflow")
local gen = require("gen")
local known = require("known")

local opts = { seconds = 10, seed = os.time(), verbose = false }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--seconds" then i = i + 1; opts.seconds = tonumber(arg[i])
    elseif a == "--seed" then i = i + 1; opts.seed = tonumber(arg[i])
    elseif a == "--cases" then i = i + 1; opts.cases = tonumber(arg[i])
    elseif a == "--only" then i = i + 1; opts.only = arg[i]
    elseif a == "-v" then opts.verbose = true
    else
      io.stderr:write("usage: fuzz.lua [--seconds N] [--seed N] [--cases N] "
        .. "[--only jsonata|intrinsics|asl|api] [-v]\n")
      os.exit(2)
    end
    i = i + 1
  end
end

gen.load_corpus("fuzz/corpus/lua")

---------------------------------------------------------------- oracles

-- What a clean message must not hold.
local function unclean(s)
  if type(s) ~= "string" then return "not a string: " .. type(s) end
  if s:find("[%w_/%-]+%.lua:%d+") then return "a Lua file:line" end
  for _, t in ipairs({ "table", "function", "userdata", "thread" }) do
    if s:find(t .. ": 0x%x") then return "a " .. t .. " address" end
  end
  return nil
end

local function encodable(v)
  return (pcall(json.encode, v))
end

local Finding = {}
local current   -- the case being run, for a Lua error raised outside a target's checks

local function finding(kind, what, detail, case)
  error(setmetatable({ kind = kind, what = what, detail = tostring(detail), case = case },
    Finding), 0)
end

local function is_finding(e) return getmetatable(e) == Finding end

-- Runs fn; a Lua error that is not a finding becomes one.
local function guarded(kind, case, fn, ...)
  local ok, e = xpcall(fn, function(err)
    if is_finding(err) then return err end
    return setmetatable({ kind = kind, what = "raised a Lua error",
      detail = tostring(err), trace = debug.traceback("", 2), case = case or current }, Finding)
  end, ...)
  if ok then return nil end
  return e
end

local LIMITS = { time_limit = 0.5, memory_limit = 64 * 1024 * 1024 }

local function check_jsonata_error(e, case, where)
  if type(e) ~= "table" or type(e.code) ~= "string" then
    finding("jsonata", where .. " raised a non-JSONata error", e, case)
  end
  local why = unclean(e.message)
  if why then finding("jsonata", where .. " gave a message with " .. why, e.message, case) end
end

local targets = {}
local ran = {}   -- outcomes of the executions run: status -> count

function targets.jsonata()
  local expr = gen.jsonata()
  local input = gen.value()
  local bindings = { x = gen.value(), states = { input = input } }
  local case = { expression = expr, input = input }
  current = case
  local ok, c = pcall(jsonata.compile, expr, LIMITS)
  if not ok then
    check_jsonata_error(c, case, "compile")
    return
  end
  local fine, v = pcall(c.evaluate, c, input, bindings)
  if not fine then
    check_jsonata_error(v, case, "evaluate")
    return
  end
  if v ~= nil and not jvalues.is_function(v) and not encodable(v) then
    finding("jsonata", "returned a value that is not JSON", select(2, pcall(json.encode, v)), case)
  end
end

function targets.intrinsics()
  local text = gen.intrinsic()
  local input = { a = gen.value(), b = json.array({ gen.value() }),
    items = json.array({ 1, 2, { n = 3 } }) }
  local case = { call = text, input = input }
  current = case
  local fn, err = intrinsics.compile(text, paths.accessor)
  if not fn then
    local why = unclean(err)
    if why then finding("intrinsics", "compile gave a message with " .. why, err, case) end
    return
  end
  local env = { input = input, context = { Execution = { Id = "arn:x", Input = input } },
    vars = { v = gen.value() } }
  local ok, v = pcall(fn, env)
  if not ok then
    if not errors.is(v) then finding("intrinsics", "raised a non-ASL error", v, case) end
    local why = unclean(v.Cause) or unclean(v.Error)
    if why then finding("intrinsics", "raised a cause with " .. why, v.Cause, case) end
    return
  end
  if v == nil or not encodable(v) then
    finding("intrinsics", "returned a value that is not JSON", tostring(v), case)
  end
end

-- Task handlers: JSON results, failures, one that waits, and one that
-- returns what a careless handler may (a value that is not JSON, an odd
-- error value).
local ODD = {
  function() return function() end end,
  function() return 0 / 0 end,
  function() return { 1, 2, x = 3 } end,
  function() error({ Error = {}, Cause = 12 }, 0) end,
  function() error("plain message", 0) end,
  function() return nil, stepflow.error("Custom.Odd", "returned as a value") end,
  function() return { n = math.huge } end,
}

local function handlers()
  local n = 0
  return {
    echo = function(input) return input end,
    fail = function() error(stepflow.error("Custom.Error", "it failed"), 0) end,
    random = function() return gen.value() end,
    count = function() n = n + 1 return { n = n } end,
    sleepy = function(input, ctx) ctx.sleep(5) return input end,
    odd = function() return gen.pick(ODD)() end,
  }
end

-- VM instructions one execution may take before it counts as a hang: a
-- retry loop that runs to the execution's timeout or to the 25,000-event
-- limit takes a few seconds under virtual time, and ends.
local STEPS = 5e8
local HANG = setmetatable({}, { __tostring = function() return "execution did not end" end })

function targets.asl()
  local def = gen.definition()
  local input_text = gen.input_text()
  local case = { definition = def, input = input_text }
  current = case
  local ok, problems = pcall(validate.check, def)
  if not ok then finding("asl", "validate.check raised", problems, case) end
  if type(problems) ~= "table" then finding("asl", "validate.check gave no list", problems, case) end
  for _, p in ipairs(problems) do
    local why = unclean(p.message)
    if why then finding("asl", "a validation message has " .. why, p.message, case) end
  end
  if #problems > 0 then return end
  local engine = stepflow.new({ virtual_time = true, handlers = handlers() })
  local sm, err = engine:create_state_machine(def, { name = "Fuzz" })
  if not sm then
    finding("asl", "a valid definition did not compile", err, case)
  end
  local input = json.decode(input_text)
  local exec = engine:start_execution(sm, input)
  local steps = 0
  debug.sethook(function()
    steps = steps + 1
    if steps * 1000 > STEPS then debug.sethook(); error(HANG, 0) end
  end, "", 1000)
  local fine, e = pcall(engine.run, engine)
  debug.sethook()
  if not fine then
    if e == HANG then finding("asl", "an execution did not end", "", case) end
    finding("asl", "engine:run raised", e, case)
  end
  ran[exec.status] = (ran[exec.status] or 0) + 1
  if exec.status == "SUCCEEDED" then
    if not encodable(exec.output) then
      finding("asl", "succeeded with output that is not JSON",
        select(2, pcall(json.encode, exec.output)), case)
    end
  elseif exec.status == "FAILED" or exec.status == "TIMED_OUT" then
    -- a Fail state without Error fails with no error name, as on AWS
    if exec.error ~= nil and type(exec.error) ~= "string" then
      finding("asl", "failed with an error name that is not a string", exec.error, case)
    end
    local why = unclean(exec.cause or "")
    if why then finding("asl", "failed with a cause holding " .. why, exec.cause, case) end
  else
    finding("asl", "ended " .. tostring(exec.status), "", case)
  end
  engine:close()
end

-- The API server the api target sends its requests to: one per run, in
-- this process, on its own loop (GetActivityTask answers at once).
local api_server
local answered = {}  -- the server's answers: status -> count

local function api_started()
  if api_server then return api_server end
  local engine = stepflow.new({ store = ":memory:", handlers = handlers() })
  local logged = {}
  local server = assert(engine:serve({ port = 0, poll_timeout = 0,
    log = function(line) logged[#logged + 1] = line end }))
  local _, port = server:address()
  api_server = { engine = engine, server = server, port = port, logged = logged }
  return api_server
end

-- Sends one request and turns the server's loop until the answer is
-- complete (the connection closes) or 2 s have passed (an operation that
-- waits, such as a StartSyncExecution of a long Wait). Returns the status
-- (nil: no answer in time) and the answer's text.
local function api_request(s, op, body)
  local socket = require("socket")
  local c = assert(socket.tcp())
  c:settimeout(0)
  c:connect("127.0.0.1", s.port)
  local data = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSStepFunctions." .. op
    .. "\r\nContent-Type: application/x-amz-json-1.0\r\nConnection: close\r\nContent-Length: " .. #body
    .. "\r\n\r\n" .. body
  local sent, got, deadline = 0, {}, socket.gettime() + 2
  while socket.gettime() < deadline do
    s.engine.loop:step()
    if sent < #data then
      local n, err, partial = c:send(data, sent + 1)
      sent = n or partial or sent
      if err and err ~= "timeout" then break end
    end
    local chunk, err, partial = c:receive(8192)
    chunk = chunk or partial
    if chunk and chunk ~= "" then got[#got + 1] = chunk end
    if err == "closed" then break end
    socket.select({ c }, nil, 0.001)
  end
  c:close()
  local text = table.concat(got)
  return tonumber(text:match("^HTTP/1%.1 (%d+)")), text
end

-- What the server holds before the first case, so that the ARNs the
-- generator gives (gen.lua's API_STRINGS) name things that exist.
local API_SETUP = {
  { "CreateStateMachine", { name = "flow", roleArn = "arn:aws:iam::123456789012:role/r", definition =
    '{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"W"},"W":{"Type":"Wait","Seconds":3600,"End":true}}}' } },
  { "PublishStateMachineVersion", { stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:flow" } },
  { "CreateStateMachineAlias", { name = "prod", routingConfiguration = json.array({ { weight = 100,
    stateMachineVersionArn = "arn:aws:states:us-east-1:123456789012:stateMachine:flow:1" } }) } },
  { "StartExecution", { stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:flow", name = "e1" } },
  { "CreateActivity", { name = "act" } },
}

function targets.api()
  local fresh = not api_server
  local s = api_started()
  if fresh then
    for _, r in ipairs(API_SETUP) do
      local status, text = api_request(s, r[1], json.encode(r[2]))
      if status ~= 200 then error("fuzz.lua: setting up the API server: " .. r[1] .. " answered " .. text) end
    end
  end
  local model = require("stepflow.server.model")
  local ops = {}
  for name in pairs(model.operations) do ops[#ops + 1] = name end
  table.sort(ops)
  local op = gen.pick(ops)
  local input = gen.api_input(model.shapes, model.operations[op].input)
  local body = json.encode(input)
  local case = { operation = op, input = input }
  current = case
  local before = #s.logged
  local status, text = api_request(s, op, body)
  local k = status and tostring(status) or "none in 2 s"
  answered[k] = (answered[k] or 0) + 1
  if #s.logged > before then finding("api", op .. " failed in the server", s.logged[#s.logged], case) end
  if status and status >= 500 then finding("api", op .. " answered " .. status, text, case) end
  if status then
    local answer = text:match("\r\n\r\n(.*)$") or ""
    local why = unclean(answer)
    if why then finding("api", op .. " answered with " .. why, answer, case) end
  end
end

---------------------------------------------------------------- driver

-- A case as JSON, or as Lua source when it holds what JSON cannot.
local function lua_source(v, indent)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, keys = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = indent .. "  [" .. lua_source(k, "") .. "] = "
      .. lua_source(v[k], indent .. "  ")
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

local function show(case)
  local ok, text = pcall(json.encode, case, { pretty = true })
  return ok and text or lua_source(case, "")
end

local kinds = { "jsonata", "intrinsics", "asl", "api" }
if opts.only then
  if not targets[opts.only] then
    io.stderr:write("fuzz.lua: unknown target " .. opts.only .. "\n")
    os.exit(2)
  end
  kinds = { opts.only }
end

local seen, findings, known_seen = {}, {}, {}
local counts, n = {}, 0
-- (wall time: the api target mostly waits for its server)
local now = require("socket").gettime
local deadline = now() + opts.seconds
local seed = opts.seed
while (opts.cases and n < opts.cases) or (not opts.cases and now() < deadline) do
  local kind = kinds[n % #kinds + 1]
  n = n + 1
  seed = seed + 1
  gen.seed(seed)
  counts[kind] = (counts[kind] or 0) + 1
  local f = guarded(kind, nil, targets[kind])
  if f then
    f.seed = seed
    -- one report per kind of finding: messages without their numbers
    local sig = f.kind .. ": " .. f.what .. ": "
      .. f.detail:gsub("0x%x+", "ADDR"):gsub("%d+", "N"):sub(1, 120)
    local k = known.match(f)
    if k then
      known_seen[k] = known_seen[k] or f
    elseif not seen[sig] then
      seen[sig] = true
      findings[#findings + 1] = f
      io.stderr:write(string.format("FINDING %s (seed %d, --only %s): %s\n  %s\n%s\n%s\n",
        f.kind, f.seed, f.kind, f.what, f.detail, f.trace or "", show(f.case)))
    end
  end
  if opts.verbose then io.stderr:write("case " .. seed .. " (" .. kind .. ") done\n") end
end

local parts = {}
for _, k in ipairs(kinds) do parts[#parts + 1] = k .. " " .. (counts[k] or 0) end
for name, f in pairs(known_seen) do
  print(string.format("known (%s): %s (e.g. seed %d, --only %s)", name, f.what, f.seed, f.kind))
end
local outcomes = {}
for status, count in pairs(ran) do outcomes[#outcomes + 1] = status .. " " .. count end
table.sort(outcomes)
local statuses = {}
for status, count in pairs(answered) do statuses[#statuses + 1] = status .. " " .. count end
table.sort(statuses)
print(string.format("fuzz.lua: %d cases (%s; executions run: %s; API answers: %s), %d findings", n,
  table.concat(parts, ", "), #outcomes > 0 and table.concat(outcomes, ", ") or "none",
  #statuses > 0 and table.concat(statuses, ", ") or "none", #findings))
os.exit(#findings > 0 and 1 or 0)
