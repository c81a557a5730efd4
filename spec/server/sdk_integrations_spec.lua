-- examples/onboarding through `stepflow serve`, driven by the AWS SDK for
-- JavaScript (spec/server/sdk/onboarding.mjs): a nested `.sync:2`
-- execution, an HTTP Task through a connection (against a real HTTP
-- server on 127.0.0.1), a `.waitForTaskToken` SQS step served by a Lua
-- integration, and the example's Step Functions Local mock config with
-- test cases picked by `#TestCase` ARNs.
local serve = require("server.serve_process")
local sdk = require("server.sdk_helper")
local http = require("integrations.http_helper")

describe("stepflow serve with the integrations, through the AWS SDK for JavaScript", function()
  it("runs the onboarding example's test cases as the Lua API does", function()
    assert(io.open("node_modules/@aws-sdk/client-sfn/package.json"), "run make (npm ci) first")
    local api = http.start()
    local dir = "examples/onboarding/"
    local p = serve.start("--mock-config " .. dir .. "mock-config.json --connections " .. dir
      .. "connections.json --handlers " .. dir .. "integrations.lua")
    local ok, report = pcall(sdk.node_script, "spec/server/sdk/onboarding.mjs", p.port, api.url)
    local _, code = p:stop("TERM")
    api.stop()
    assert(ok, report)
    assert.same({}, report.failures)
    assert.is_true(report.checks >= 20)
    assert.equal(0, code)
  end)
end)
