local json = require("stepflow.json")

local function sh(cmd)
  local out_file, err_file = os.tmpname(), os.tmpname()
  local ok, _, rc = os.execute(cmd .. " >" .. out_file .. " 2>" .. err_file)
  local function slurp(p)
    local fh = io.open(p)
    local t = fh:read("a")
    fh:close()
    os.remove(p)
    return t
  end
  return rc or (ok and 0 or 1), slurp(out_file), slurp(err_file)
end

local function write(text)
  local path = os.tmpname()
  local fh = assert(io.open(path, "w"))
  fh:write(text)
  fh:close()
  return path
end

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local t = fh:read("a")
  fh:close()
  return t
end

local ORDER = "examples/order/definition.asl.json"

describe("stepflow graph", function()
  it("writes the SVG of a definition on standard output", function()
    local rc, out, err = sh("bin/stepflow graph " .. ORDER)
    assert.equal(0, rc)
    assert.equal("", err)
    assert.matches("^<%?xml", out)
    assert.matches("</svg>\n$", out)
    for _, name in ipairs({ "ValidateOrder", "ReserveStock", "ChargePayment", "ReleaseStock", "PaymentFailed",
      "ShipOrder", "Summarize", "RejectOrder" }) do
      assert.matches('data-state="' .. name .. '"', out, 1, true)
    end
    -- the title is the example's name
    assert.matches('<text class="title"[^>]*>order</text>', out)
  end)

  it("writes into FILE with -o, and DOT with --format dot", function()
    local file = os.tmpname()
    local rc, out = sh("bin/stepflow graph " .. ORDER .. " -o " .. file)
    assert.equal(0, rc)
    assert.equal("", out)
    assert.matches("^<%?xml", read(file))
    rc, out = sh("bin/stepflow graph " .. ORDER .. " --format dot --output " .. file)
    assert.equal(0, rc)
    assert.equal("", out)
    assert.matches('^digraph "order" {', read(file))
    os.remove(file)
  end)

  it("refuses a bad invocation with exit status 2 and says why", function()
    local cases = {
      { "", "graph needs a DEFINITION file" },
      { ORDER .. " --format png", "--format must be svg or dot" },
      { ORDER .. " --colour red", "unknown option --colour" },
      { ORDER .. " -x", "unknown option -x" },
      { ORDER .. " -o", "option --output needs a value" },
      { ORDER .. " " .. ORDER, "graph takes one DEFINITION file" },
      { ORDER .. " --execution e1", "--execution and --store go together" },
      { "/nonexistent/def.json", "cannot read definition: /nonexistent/def.json" },
    }
    for _, c in ipairs(cases) do
      local rc, out, err = sh("bin/stepflow graph " .. c[1])
      assert.equal(2, rc, c[1])
      assert.equal("", out)
      assert.matches("stepflow: " .. c[2], err, 1, true)
    end
  end)

  it("refuses an invalid definition with exit status 2, listing its problems", function()
    local bad = write(json.encode({ StartAt = "A", States = { A = { Type = "Pass", Next = "Nowhere" } } }))
    local rc, out, err = sh("bin/stepflow graph " .. bad)
    assert.equal(2, rc)
    assert.equal("", out)
    assert.matches("invalid definition", err, 1, true)
    assert.matches("Nowhere", err, 1, true)
    local not_json = write("{ nope")
    local out2
    rc, out2, err = sh("bin/stepflow graph " .. not_json)
    assert.equal("", out2)
    assert.equal(2, rc)
    assert.matches("not valid JSON", err, 1, true)
    os.remove(bad)
    os.remove(not_json)
  end)

  it("exits 1 when it cannot write the output file", function()
    local rc, _, err = sh("bin/stepflow graph " .. ORDER .. " -o /nonexistent/dir/x.svg")
    assert.equal(1, rc)
    assert.matches("cannot write", err, 1, true)
  end)

  describe("with --execution", function()
    local dir, store
    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      store = dir .. "/s.db"
      -- one execution whose card is declined: caught, released, failed
      local rc = sh("bin/stepflow run " .. ORDER .. " --store " .. store .. " --name declined --virtual-time" ..
        " --input @examples/order/variants/declined.input.json --handlers examples/order/handlers.lua")
      assert(rc == 1, "the declined order fails")
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    local function classes(svg)
      local t = {}
      for name, st in svg:gmatch('<g class="state [^"]* st%-([%w%-]+)" data%-state="([^"]+)"') do
        t[st] = name
      end
      return t
    end

    it("colours each state by how the execution went, with a legend", function()
      local code, out, err = sh("bin/stepflow graph " .. ORDER .. " --execution declined --store " .. store)
      assert.equal(0, code, err)
      assert.same({ ValidateOrder = "succeeded", ReserveStock = "succeeded", ChargePayment = "caught",
        ReleaseStock = "succeeded", PaymentFailed = "failed", RejectOrder = "not-reached",
        ShipOrder = "not-reached", Summarize = "not-reached" }, classes(out))
      assert.matches('<g class="legend">', out, 1, true)
      assert.matches("execution declined \u{b7} FAILED", out, 1, true)
    end)

    it("draws the definition the execution ran when DEFINITION is left out", function()
      local code, out = sh("bin/stepflow graph --execution declined --store " .. store)
      assert.equal(0, code)
      assert.equal("caught", classes(out).ChargePayment)
      assert.matches('<text class="title"[^>]*>definition</text>', out)
    end)

    it("colours the DOT too", function()
      local code, out = sh("bin/stepflow graph " .. ORDER .. " --format dot --execution declined --store " .. store)
      assert.equal(0, code)
      assert.matches('"PaymentFailed" [label="PaymentFailed\\nFail: Order.PaymentDeclined" ' ..
        'tooltip="PaymentFailed\\nFail: Order.PaymentDeclined" fillcolor="#fdeceb" color="#d13212"]', out, 1, true)
    end)

    it("exits 1 for an execution the store does not have, or a file that is not a store", function()
      local code, out, err = sh("bin/stepflow graph " .. ORDER .. " --execution nope --store " .. store)
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("ExecutionDoesNotExist: nope", err, 1, true)
      code, out, err = sh("bin/stepflow graph " .. ORDER .. " --execution declined --store " .. ORDER)
      assert.equal("", out)
      assert.equal(1, code)
      assert.matches("stepflow: ", err, 1, true)
    end)
  end)
end)
