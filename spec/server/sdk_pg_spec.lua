-- `stepflow serve` on a PostgreSQL store driven by the AWS SDK for
-- JavaScript: the operations of sdk_spec (operations.mjs "all" and
-- api_operations.mjs) again. Apart from sdk_spec because the specs of the
-- one PostgreSQL test database run in one busted process
-- (tools/run_busted).
local pg_helper = require("pg_helper")
local serve = require("server.serve_process")
local sdk = require("server.sdk_helper")

describe("stepflow serve on a PostgreSQL store with the AWS SDK for JavaScript", function()
  it("serves every operation as on a store file", function()
    if not pg_helper.url() then return pending(pg_helper.MISSING) end
    assert(io.open("node_modules/@aws-sdk/client-sfn/package.json"), "run make (npm ci) first")
    local pg = serve.start("--store '" .. pg_helper.reset() .. "'")
    local report = sdk.node("all", pg.port)
    local _, code = pg:stop("TERM")
    assert.same({}, report.failures)
    assert.equal(0, code)
    sdk.more("'" .. pg_helper.reset() .. "'")
  end)
end)
