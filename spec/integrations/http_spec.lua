-- The HTTP Task (arn:aws:states:::http:invoke) against a real HTTP
-- server on 127.0.0.1, through the engine's non-blocking client.
local json = require("stepflow.json")
local stepflow = require("stepflow")
local http = require("stepflow.integrations.http")
local server = require("integrations.http_helper")

local CONN = "arn:aws:events:us-east-1:123456789012:connection/Api/81210c42-8af1-456b-9c4a-6ff02fc664ac"

local CONNECTIONS = { Connections = {
  [CONN] = { AuthorizationType = "API_KEY", AuthParameters = {
    ApiKeyAuthParameters = { ApiKeyName = "x-api-key", ApiKeyValue = "secret-key" },
    InvocationHttpParameters = { HeaderParameters = { { Key = "X-From-Connection", Value = "yes" } },
      QueryStringParameters = { { Key = "conn", Value = "q" } } } } },
  Basic = { AuthorizationType = "BASIC", AuthParameters = { BasicAuthParameters = { Username = "u",
    Password = "p" } } },
} }

local function task(params, extra)
  local st = { Type = "Task", Resource = "arn:aws:states:::http:invoke", Parameters = params, End = true }
  for k, v in pairs(extra or {}) do st[k] = v end
  return { StartAt = "Call", States = { Call = st } }
end

-- Runs a definition on a fresh engine (virtual time unless opts say).
local function run(def, opts)
  opts = opts or {}
  local engine = assert(stepflow.new({ virtual_time = opts.virtual_time ~= false, history = true,
    connections = opts.connections or CONNECTIONS, http_timeout = opts.http_timeout,
    http_ca_file = opts.ca_file }))
  local sm = assert(engine:create_state_machine(def))
  local exec = assert(engine:start_execution(sm, opts.input or {}))
  engine:run()
  return exec, engine
end

describe("the HTTP Task", function()
  local srv
  setup(function() srv = server.start() end)
  teardown(function() srv.stop() end)

  it("sends the method, headers and query, and returns {Headers, ResponseBody, StatusCode, StatusText}", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/echo?fixed=1", Method = "GET",
      Authentication = { ConnectionArn = CONN },
      Headers = { ["X-Custom"] = "c" }, QueryParameters = { a = "1 2", list = { "x", "y" } } }))
    assert.equal("SUCCEEDED", exec.status)
    local out = exec.output
    assert.equal(200, out.StatusCode)
    assert.equal("OK", out.StatusText)
    assert.same({ "one", "two" }, out.Headers["X-Multi"])
    assert.same({ "application/json" }, out.Headers["Content-Type"])
    local got = out.ResponseBody
    assert.equal("GET", got.method)
    assert.equal("/echo", got.path)
    assert.same({ fixed = { "1" }, a = { "1 2" }, list = { "x", "y" }, conn = { "q" } }, got.query)
    assert.equal("c", got.headers["X-Custom"])
    assert.equal("secret-key", got.headers["x-api-key"])
    assert.equal("yes", got.headers["X-From-Connection"])
    assert.equal("Amazon|StepFunctions|HttpInvoke|us-east-1", got.headers["User-Agent"])
    assert.equal("bytes=0-262144", got.headers["Range"])
    assert.equal("127.0.0.1:" .. srv.port, got.headers["Host"])
    local sched = exec.history[3].details
    assert.same({ "http", "invoke" }, { sched.resourceType, sched.resource })
  end)

  it("sends a JSON RequestBody, and a URL-encoded one with Transform", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/echo", Method = "POST",
      Authentication = { ConnectionArn = "Basic" }, RequestBody = { a = { 1, 2 }, b = "x y" } }))
    local got = exec.output.ResponseBody
    assert.equal("POST", got.method)
    assert.same({ a = { 1, 2 }, b = "x y" }, json.decode(got.body))
    assert.equal("application/json; charset=UTF-8", got.headers["Content-Type"])
    assert.equal("Basic " .. http.base64("u:p"), got.headers["Authorization"])
    local formats = { INDICES = "a%5B0%5D=1&a%5B1%5D=2&b=x%20y", REPEAT = "a=1&a=2&b=x%20y",
      BRACKETS = "a%5B%5D=1&a%5B%5D=2&b=x%20y", COMMAS = "a=1%2C2&b=x%20y" }
    for format, want in pairs(formats) do
      local e = run(task({ ApiEndpoint = srv.url .. "/echo", Method = "PUT", Authentication = { ConnectionArn = CONN },
        RequestBody = { a = { 1, 2 }, b = "x y" }, Transform = { RequestBodyEncoding = "URL_ENCODED",
          RequestEncodingOptions = { ArrayFormat = format } } }))
      assert.equal(want, e.output.ResponseBody.body, format)
      assert.equal("application/x-www-form-urlencoded", e.output.ResponseBody.headers["Content-Type"])
    end
  end)

  it("returns a text body as a string", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/text", Method = "GET", Authentication = { ConnectionArn = CONN } }))
    assert.equal("plain words", exec.output.ResponseBody)
  end)

  it("fails with States.Http.StatusCode.NNN and the response as cause; Retry and Catch match it", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/status/404", Method = "GET",
      Authentication = { ConnectionArn = CONN } }))
    assert.equal("FAILED", exec.status)
    assert.equal("States.Http.StatusCode.404", exec.error)
    local cause = json.decode(exec.cause)
    assert.equal(404, cause.StatusCode)
    assert.equal("Not Found", cause.StatusText)
    assert.same({ error = "status 404" }, cause.ResponseBody)
    local def = task({ ApiEndpoint = srv.url .. "/status/503", Method = "GET", Authentication = { ConnectionArn = CONN } },
      { Retry = { { ErrorEquals = { "States.Http.StatusCode.503" }, IntervalSeconds = 1, MaxAttempts = 2 } },
        Catch = { { ErrorEquals = { "States.Http.StatusCode.503" }, Next = "Caught" } } })
    def.States.Caught = { Type = "Pass", End = true }
    local e = run(def)
    assert.equal("SUCCEEDED", e.status)
    assert.equal("States.Http.StatusCode.503", e.output.Error)
    local attempts = 0
    for _, ev in ipairs(e.history) do if ev.type == "TaskFailed" then attempts = attempts + 1 end end
    assert.equal(3, attempts)
  end)

  it("fails with States.Http.Socket when it cannot connect", function()
    local exec = run(task({ ApiEndpoint = "http://127.0.0.1:1/", Method = "GET",
      Authentication = { ConnectionArn = CONN } }))
    assert.equal("States.Http.Socket", exec.error)
    assert.matches("cannot connect to 127.0.0.1:1", exec.cause, 1, true)
  end)

  it("fails with States.Http.Socket past its timeout, in real time", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/slow?s=1", Method = "GET",
      Authentication = { ConnectionArn = CONN } }), { http_timeout = 0.2, virtual_time = false })
    assert.equal("States.Http.Socket", exec.error)
  end)

  it("is waited for by virtual time: a Task timeout does not outrun the response", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/slow?s=0.1", Method = "GET",
      Authentication = { ConnectionArn = CONN } }, { TimeoutSeconds = 1 }))
    assert.equal("SUCCEEDED", exec.status)
  end)

  it("authenticates with OAuth client credentials, asking for a token once", function()
    local connections = { Connections = { OAuth = { AuthorizationType = "OAUTH_CLIENT_CREDENTIALS",
      AuthParameters = { OAuthParameters = { AuthorizationEndpoint = srv.url .. "/oauth/token", HttpMethod = "POST",
        ClientParameters = { ClientID = "client", ClientSecret = "secret" },
        OAuthHttpParameters = { BodyParameters = { { Key = "scope", Value = "read" } } } } } } } }
    local def = { StartAt = "A", States = {
      A = { Type = "Task", Resource = "arn:aws:states:::http:invoke", ResultPath = "$.a", Next = "B",
        Parameters = { ApiEndpoint = srv.url .. "/need-bearer", Method = "GET", Authentication = {
          ConnectionArn = "arn:aws:events:us-east-1:1:connection/OAuth/x" } } },
      B = { Type = "Task", Resource = "arn:aws:states:::http:invoke", ResultPath = "$.b", End = true,
        Parameters = { ApiEndpoint = srv.url .. "/need-bearer", Method = "GET", Authentication = {
          ConnectionArn = "arn:aws:events:us-east-1:1:connection/OAuth/x" } } } } }
    local exec, engine = run(def, { connections = connections })
    assert.equal("SUCCEEDED", exec.status)
    assert.same({ authorization = "Bearer tok-read" }, exec.output.a.ResponseBody)
    assert.same({ authorization = "Bearer tok-read" }, exec.output.b.ResponseBody)
    assert.truthy(engine.connections.tokens.OAuth)
    connections.Connections.OAuth.AuthParameters.OAuthParameters.ClientParameters.ClientSecret = "wrong"
    local bad = run(def, { connections = connections })
    assert.equal("Events.ConnectionResource.InvalidConnectionState", bad.error)
  end)

  it("fails for a ConnectionArn no connection has", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/echo", Method = "GET",
      Authentication = { ConnectionArn = "arn:aws:events:us-east-1:1:connection/Nope/1" } }))
    assert.equal("Events.ConnectionResource.ResourceNotFound", exec.error)
  end)

  it("needs Authentication.ConnectionArn, as AWS does, and says so", function()
    for _, auth in ipairs({ json.null, { ConnectionArn = 7 }, "x" }) do
      local params = { ApiEndpoint = srv.url .. "/echo", Method = "GET", Authentication = auth }
      if auth == json.null then params.Authentication = nil end
      local exec = run(task(params))
      assert.equal("States.Runtime", exec.error)
      assert.matches("The HTTP Task needs Authentication.ConnectionArn (a connection: engine:use_connections "
        .. "or --connections FILE), got Authentication " .. json.encode(auth), exec.cause, 1, true)
    end
  end)

  it("refuses headers AWS does not let a definition set, and bad parameters", function()
    local exec = run(task({ ApiEndpoint = srv.url .. "/echo", Method = "GET", Authentication = { ConnectionArn = CONN },
      Headers = { Authorization = "x" } }))
    assert.equal("States.Runtime", exec.error)
    assert.matches("cannot set the header 'Authorization'", exec.cause, 1, true)
    exec = run(task({ ApiEndpoint = "ftp://x", Method = "GET", Authentication = { ConnectionArn = CONN } }))
    assert.matches("ApiEndpoint must be an http:// or https:// URL", exec.cause, 1, true)
    exec = run(task({ ApiEndpoint = srv.url, Method = "FETCH", Authentication = { ConnectionArn = CONN } }))
    assert.matches("Method must be one of", exec.cause, 1, true)
  end)

  it("drops a request in flight when the loop closes", function()
    local engine = assert(stepflow.new({ connections = CONNECTIONS }))
    local sm = assert(engine:create_state_machine(task({ ApiEndpoint = srv.url .. "/slow?s=1", Method = "GET",
      Authentication = { ConnectionArn = CONN } })))
    engine:start_execution(sm, {})
    engine.loop:step()
    engine.loop:step()
    engine.loop:close()
  end)

  describe("over https", function()
    local cert, tls
    setup(function()
      cert = server.certificate()
      tls = server.start(cert)
    end)
    teardown(function()
      tls.stop()
      server.remove(cert.dir)
    end)

    it("checks the server against the given CAs", function()
      local exec = run(task({ ApiEndpoint = tls.url .. "/echo", Method = "GET",
        Authentication = { ConnectionArn = CONN } }), { ca_file = cert.cert })
      assert.equal("SUCCEEDED", exec.status)
      assert.equal("/echo", exec.output.ResponseBody.path)
    end)

    it("refuses a server its CAs do not vouch for (States.Http.Socket)", function()
      local exec = run(task({ ApiEndpoint = tls.url .. "/echo", Method = "GET",
        Authentication = { ConnectionArn = CONN } }))
      assert.equal("States.Http.Socket", exec.error)
      assert.matches("TLS", exec.cause, 1, true)
    end)
  end)
end)
