-- Specs of the HTTP server of stepflow.core.engine (core/http_server.c,
-- core/http_parse.c, core/lmod_http.c) and of loop:signal, driven by a
-- lua-socket client on the same loop.
local core = require("stepflow.core.engine")
local json = require("stepflow.json")
local client = require("server.client")

local function serve(opts, handler)
  local loop = core.loop()
  opts = opts or {}
  opts.port = 0
  opts.on_request = handler or function(req)
    req:respond(200, req:method() .. " " .. req:target() .. " " .. req:body(), { ["X-Test"] = "yes" })
  end
  local srv = assert(loop:http_server(opts))
  local _, port = srv:address()
  return loop, srv, port
end

local function raw(loop, port, data)
  local c = client.connect(loop, port)
  c:send(data)
  return c
end

describe("loop:http_server", function()
  it("answers requests and keeps the connection for the next one", function()
    local loop, srv, port = serve()
    local c = raw(loop, port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    local status, headers, body = c:response()
    assert.equal(200, status)
    assert.equal("POST /a abc", body)
    assert.equal("yes", headers["x-test"])
    assert.is_nil(headers.connection)
    c:send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = c:response()
    assert.equal(200, status)
    assert.equal("GET /b ", body)
    assert.equal("yes", headers["x-test"])
    assert.equal(1, srv:connections())
    c:close()
    loop:close()
  end)

  it("answers pipelined requests one at a time, in order", function()
    local loop, _, port = serve()
    local c = raw(loop, port, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
      .. "POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nzz")
    for _, want in ipairs({ "GET /1 ", "GET /2 ", "POST /3 zz" }) do
      local status, _, body = c:response()
      assert.equal(200, status)
      assert.equal(want, body)
    end
    assert.is_true(c:closed())
    loop:close()
  end)

  it("reads chunked bodies, extensions and trailers", function()
    local loop, _, port = serve()
    local c = raw(loop, port, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
    local status, _, body = c:response()
    assert.equal(200, status)
    assert.equal("POST / abcde", body)
    loop:close()
  end)

  it("sends 100 Continue to a client that expects it", function()
    local loop, _, port = serve()
    local c = raw(loop, port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    client.until_true(loop, function()
      c.c:settimeout(0)
      local d, _, p = c.c:receive(65536)
      c.buf = c.buf .. (d or p or "")
      return c.buf:find("HTTP/1.1 100 Continue\r\n\r\n", 1, true) ~= nil
    end)
    c:send("ok")
    local status, _, body = c:response()
    assert.equal(200, status)
    assert.equal("POST / ok", body)
    loop:close()
  end)

  it("closes an HTTP/1.0 connection after its answer, unless it asks to keep it", function()
    local loop, _, port = serve()
    local c = raw(loop, port, "GET / HTTP/1.0\r\n\r\n")
    local status, headers = c:response()
    assert.equal(200, status)
    assert.equal("close", headers.connection)
    assert.is_true(c:closed())
    c = raw(loop, port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers = c:response()
    assert.equal(200, status)
    assert.equal("keep-alive", headers.connection)
    loop:close()
  end)

  describe("refuses, with an AWS-shaped error and a request id, then closes", function()
    local cases = {
      { "a body over max_body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413,
        "ValidationException", "request body too large" },
      { "a chunked body over max_body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "65\r\n", 413, "ValidationException", "request body too large" },
      { "a head over max_head", "GET / HTTP/1.1\r\nHost: x\r\nX: " .. ("a"):rep(400) .. "\r\n\r\n", 431,
        "ValidationException", "request head too large" },
      { "a malformed request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "SerializationException",
        "malformed request line" },
      { "HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400, "SerializationException",
        "an HTTP/1.1 request needs one Host field" },
      { "Content-Length beside Transfer-Encoding",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
        "SerializationException", "both Content-Length and Transfer-Encoding" },
      { "two different Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        400, "SerializationException", "conflicting Content-Length fields" },
      { "obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, "SerializationException",
        "obsolete line folding" },
      { "a space before a field's colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "SerializationException",
        "malformed header field" },
      { "another transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
        "SerializationException", "unsupported Transfer-Encoding" },
      { "HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "SerializationException",
        "HTTP version not supported" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local loop, _, port = serve({ max_body = 100, max_head = 256 })
        local c = raw(loop, port, case[2])
        local status, headers, body = c:response()
        assert.equal(case[3], status)
        assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", headers["x-amzn-requestid"])
        assert.equal("close", headers.connection)
        assert.same({ __type = case[4], message = case[5] }, json.decode(body))
        loop:close()
      end)
    end
  end)

  it("reads and drops the rest of a refused body, so the client gets the answer", function()
    local loop, _, port = serve({ max_body = 10 })
    local c = raw(loop, port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" .. ("x"):rep(2000))
    local status = c:response()
    assert.equal(413, status)
    c:send(("x"):rep(3000))
    assert.is_true(c:closed())
    loop:close()
  end)

  it("answers 408 to a request that does not arrive in time", function()
    local loop, _, port = serve({ request_timeout = 30 })
    local c = raw(loop, port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    local status, _, body = c:response()
    assert.equal(408, status)
    assert.equal("RequestTimeout", json.decode(body).__type)
    assert.is_true(c:closed())
    loop:close()
  end)

  it("closes a connection idle longer than idle_timeout", function()
    local loop, srv, port = serve({ idle_timeout = 30 })
    local c = raw(loop, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.equal(200, (c:response()))
    assert.is_true(c:closed())
    assert.is_true(client.until_true(loop, function() return srv:connections() == 0 end))
    loop:close()
  end)

  it("answers later, and tells when the client left before the answer", function()
    local held = {}
    local loop, srv, port = serve(nil, function(req) held[#held + 1] = req end)
    local c = raw(loop, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.is_true(client.until_true(loop, function() return #held == 1 end))
    assert.equal("x", held[1]:header("HOST"))
    assert.same({ host = "x" }, held[1]:headers())
    assert.is_true(held[1]:is_open())
    c:close()
    assert.is_true(client.until_true(loop, function() return srv:connections() == 0 end))
    assert.is_false(held[1]:is_open())
    assert.is_false(held[1]:respond(200, "late"))
    assert.has_error(function() held[1]:respond(200, "again") end,
      "respond: the request was answered already")
    loop:close()
  end)

  it("answers 500 for a request dropped unanswered", function()
    local loop, _, port = serve(nil, function() end)
    local c = raw(loop, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    local status, body
    for _ = 1, 100 do
      collectgarbage()
      status, _, body = c:response(0.05)
      if status then break end
    end
    assert.equal(500, status)
    assert.equal("InternalFailure", json.decode(body).__type)
    loop:close()
  end)

  it("refuses header injection in answers", function()
    local loop, _, port = serve(nil, function(req)
      local ok, err = pcall(req.respond, req, 200, "", { ["X"] = "a\r\nEvil: 1" })
      req:respond(200, ok and "accepted" or err)
    end)
    local c = raw(loop, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    local _, _, body = c:response()
    assert.matches("header value has a line break or NUL", body)
    loop:close()
  end)

  it("shuts down: no new connections, idle ones closed, busy ones answered then closed", function()
    local held
    local loop, srv, port = serve(nil, function(req) held = req end)
    local idle = raw(loop, port, "")
    local busy = raw(loop, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.is_true(client.until_true(loop, function() return held ~= nil and srv:connections() == 2 end))
    srv:shutdown()
    assert.is_true(idle:closed())
    held:respond(200, "bye")
    local status, headers, body = busy:response()
    assert.equal(200, status)
    assert.equal("bye", body)
    assert.equal("close", headers.connection)
    assert.is_true(busy:closed())
    local late = client.connect(loop, port)
    assert.is_true(late:closed())
    loop:close()
  end)

  it("is closed with its loop", function()
    local loop, srv = serve()
    loop:close()
    assert.has_error(function() srv:address() end, "attempt to use a closed server")
    srv:close()
  end)

  it("keeps the loop running until closed", function()
    local loop, srv = serve()
    assert.is_true(loop:step())
    srv:close()
    assert.is_false(loop:step())
    loop:close()
  end)

  it("says why it cannot listen", function()
    local loop, _, port = serve()
    local again, err = loop:http_server({ port = port, on_request = function() end })
    assert.is_nil(again)
    assert.matches("cannot listen on 127.0.0.1 port " .. port, err, 1, true)
    again, err = loop:http_server({ host = "not an address", on_request = function() end })
    assert.is_nil(again)
    assert.matches("not a numeric address", err, 1, true)
    assert.has_error(function() loop:http_server({ port = 1, bogus = 1, on_request = print }) end,
      "bad argument #1 to 'http_server' (unknown option 'bogus')")
    loop:close()
  end)
end)

describe("loop:signal", function()
  it("posts the callback to the ready queue when the signal comes", function()
    local loop = core.loop()
    local got = 0
    local s = loop:signal("SIGUSR1", function() got = got + 1 end)
    local pid = io.open("/proc/self/stat"):read("n")
    os.execute("kill -USR1 " .. pid)
    assert.is_true(client.until_true(loop, function() return got == 1 end))
    s:close()
    assert.is_false(loop:step())
    assert.has_error(function() loop:signal("SIGFOO", print) end)
    loop:close()
  end)
end)
