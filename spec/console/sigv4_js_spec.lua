-- The page's SigV4 signer (lua/stepflow/server/console/sigv4.js) under
-- Node.js: AWS's get-vanilla example of the SigV4 test suite, and SHA-256
-- and HMAC against stepflow.util.digest and stepflow.server.sigv4.
local json = require("stepflow.json")
local digest = require("stepflow.util.digest")
local sigv4 = require("stepflow.server.sigv4")
local node = require("console.node")

local function run(body)
  return node.run({ ["sigv4.js"] = "sign, sha256, hmac, hex" }, body)
end

describe("the console's sigv4.js", function()
  it("signs AWS's get-vanilla example as AWS does", function()
    local headers = run([[
      console.log(JSON.stringify(sign({ method: 'GET', host: 'example.amazonaws.com', path: '/', body: '',
        region: 'us-east-1', service: 'service', accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', now: new Date('2015-08-30T12:36:00Z') })));
    ]])
    assert.same({
      ["x-amz-date"] = "20150830T123600Z",
      Authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        .. "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }, headers)
  end)

  it("hashes and keys as the server does, across block boundaries and UTF-8", function()
    local texts = { "", "abc", string.rep("a", 55), string.rep("a", 56), string.rep("a", 64),
      string.rep("é", 700), "héllo ☃" }
    local out = run("const texts = " .. json.encode(texts) .. [[;
      console.log(JSON.stringify(texts.map((t) => [hex(sha256(new TextEncoder().encode(t))),
        hex(hmac('k'.repeat(t.length % 90), t))])));
    ]])
    for i, t in ipairs(texts) do
      assert.equal(digest.sha256(t), out[i][1], t)
      local mac = sigv4.hmac(string.rep("k", utf8.len(t) % 90), t)
      assert.equal((mac:gsub(".", function(c) return string.format("%02x", c:byte()) end)), out[i][2], t)
    end
  end)
end)
