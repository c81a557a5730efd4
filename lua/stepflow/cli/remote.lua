--- The command line as a client of a running server (`--endpoint URL`):
-- AWS JSON 1.0 requests over the engine's own HTTP client (libevent, on
-- a loop of its own), signed with SigV4 when AWS_ACCESS_KEY_ID and
-- AWS_SECRET_ACCESS_KEY are set (a server started with --credentials
-- wants that). `start`, `describe` and `stop` with --endpoint live here;
-- stepflow.cli.tasks uses `call` for send-task-*.
local json = require("stepflow.json")
local common = require("stepflow.cli.common")

local say, usage_error = common.say, common.usage_error

local M = {}

--- Seconds a request waits for its answer.
M.TIMEOUT = 30

local CONTENT_TYPE = "application/x-amz-json-1.0"

-- The Host header the client sends for `url` (what a signature covers).
local function host_of(url)
  local scheme, host = url:match("^(https?)://([^/?#]+)")
  if not host then return nil end
  local name, port = host:match("^(.*):(%d+)$")
  if port and ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")) then
    return name
  end
  return host
end

--- One API call: the decoded output, or nil, code, message. code is the
-- server's error code, or "Unreachable" (no answer: nothing listens,
-- the connection failed, or the time ran out), or "BadEndpoint".
function M.call(endpoint, op, input)
  local url = endpoint:gsub("/+$", "") .. "/"
  local host = host_of(url)
  if not host then
    return nil, "BadEndpoint", "--endpoint must be an http:// or https:// URL, got '" .. endpoint .. "'"
  end
  local body = json.encode(input or {})
  local headers = { { "host", host }, { "x-amz-target", "AWSStepFunctions." .. op },
    { "content-type", CONTENT_TYPE } }
  local akid, secret = os.getenv("AWS_ACCESS_KEY_ID"), os.getenv("AWS_SECRET_ACCESS_KEY")
  if akid and akid ~= "" and secret and secret ~= "" then
    require("stepflow.server.sigv4").sign(headers, body, { access_key = akid, secret_key = secret,
      region = os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION") or "us-east-1" })
  end
  local loop = require("stepflow.core.engine").loop({})
  local client = loop:http_client()
  local res
  local ok, err = pcall(client.request, client, { method = "POST", url = url, headers = headers, body = body,
    timeout_ms = M.TIMEOUT * 1000 }, function(r) res = r end)
  if ok then loop:run() end
  client:close()
  loop:close()
  if not ok then return nil, "BadEndpoint", (tostring(err):gsub("^http request: ", "")) end
  if res.error then
    local why = res.error == "timeout" and ("no answer within " .. M.TIMEOUT .. " s")
      or tostring(res.message)
    return nil, "Unreachable", "no Step Functions server answers at " .. endpoint .. " (" .. why .. ")"
  end
  local out = json.try_decode(res.body or "")
  if res.status == 200 and type(out) == "table" then return out end
  if type(out) == "table" and out.__type then
    return nil, (tostring(out.__type):gsub("^.*#", "")), tostring(out.message)
  end
  return nil, "Unreachable", endpoint .. " answered HTTP " .. tostring(res.status) ..
    ", not as a Step Functions server does"
end

--- Says why a call failed (on stderr) and returns exit status 1 (2 for a
-- bad --endpoint).
function M.failed(op, code, message)
  if code == "BadEndpoint" then return usage_error(message) end
  if code == "Unreachable" then
    say(message)
    say("is `stepflow serve` running there? (without a server, use --store FILE)")
    return 1
  end
  say(op, ": ", code, ": ", message)
  return 1
end

local function iso(seconds)
  if seconds == nil then return nil end
  return require("stepflow.asl.timestamp").format(math.floor(seconds * 1000 + 0.5))
end

-- The ARN of a state machine named on the command line: an ARN as it is,
-- else the server's machine of that name. Returns it, or nil and an exit
-- status after saying why.
local function machine_arn(endpoint, which)
  if which:sub(1, 4) == "arn:" then return which end
  local token
  repeat
    local page, code, message = M.call(endpoint, "ListStateMachines", { nextToken = token })
    if not page then return nil, M.failed("ListStateMachines", code, message) end
    for _, sm in ipairs(page.stateMachines or {}) do
      if sm.name == which then return sm.stateMachineArn end
    end
    token = page.nextToken
  until not token
  say("StateMachineDoesNotExist: no state machine named '", which, "' at ", endpoint)
  return nil, 1
end

--- `stepflow start STATE_MACHINE --endpoint URL [--input JSON|@FILE]
-- [--name NAME]`: StartExecution; prints the execution ARN.
function M.start(argv)
  local pos, opts = common.parse_args(argv, 2, { endpoint = "value", input = "value", name = "value" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 then
    return usage_error("usage: stepflow start STATE_MACHINE --endpoint URL [--input JSON|@FILE] [--name NAME]")
  end
  if opts.name then
    local problem = common.name_problem(opts.name)
    if problem then return usage_error(problem) end
  end
  local input, err = common.decode_input(opts.input)
  if input == nil then return usage_error(err) end
  local arn, status = machine_arn(opts.endpoint, pos[1])
  if not arn then return status end
  local out, code, message = M.call(opts.endpoint, "StartExecution", { stateMachineArn = arn,
    input = json.encode(input), name = opts.name })
  if not out then return M.failed("StartExecution", code, message) end
  io.stdout:write(out.executionArn, "\n")
  return 0
end

--- `stepflow describe EXECUTION_ARN --endpoint URL [--json]`:
-- DescribeExecution (--json: its answer as the server gave it).
function M.describe(argv)
  local pos, opts = common.parse_args(argv, 2, { endpoint = "value", json = "flag" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 then return usage_error("usage: stepflow describe EXECUTION_ARN --endpoint URL [--json]") end
  local d, code, message = M.call(opts.endpoint, "DescribeExecution", { executionArn = pos[1] })
  if not d then return M.failed("DescribeExecution", code, message) end
  if opts.json then
    io.stdout:write(json.encode(d), "\n")
    return 0
  end
  d.startDate, d.stopDate = iso(d.startDate), iso(d.stopDate)
  for _, k in ipairs({ "executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate",
    "input", "output", "error", "cause" }) do
    if d[k] ~= nil then io.stdout:write(string.format("%-16s %s\n", k, tostring(d[k]))) end
  end
  return 0
end

--- `stepflow stop EXECUTION_ARN --endpoint URL [--error E] [--cause C]`:
-- StopExecution.
function M.stop(argv)
  local pos, opts = common.parse_args(argv, 2, { endpoint = "value", error = "text", cause = "text" })
  if not pos then return usage_error(opts) end
  if #pos ~= 1 then
    return usage_error("usage: stepflow stop EXECUTION_ARN --endpoint URL [--error E] [--cause C]")
  end
  local out, code, message = M.call(opts.endpoint, "StopExecution", { executionArn = pos[1],
    error = opts.error, cause = opts.cause })
  if not out then return M.failed("StopExecution", code, message) end
  io.stdout:write("stopped ", pos[1], "\n")
  return 0
end

--- Whether argv asks for a server (has --endpoint).
function M.wanted(argv)
  for i = 2, #argv do
    if argv[i] == "--endpoint" then return true end
  end
  return false
end

return M
