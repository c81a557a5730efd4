-- The runnable examples in examples/: each runs through the Lua API and
-- through bin/stepflow, and must give its recorded expected output.
local stepflow = require("stepflow")
local json = require("stepflow.json")

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local text = fh:read("a")
  fh:close()
  return text
end

local function load_json(path) return json.decode(read(path)) end

-- The canonical text of a JSON value: stable key order, [] vs {} and 3 vs
-- 3.0 kept apart, so comparing texts is stricter than assert.same.
local function canon(v) return json.encode(v) end

-- Runs fn with io.stderr replaced by a recorder (the example handlers log
-- there); returns fn's results and the recorded text.
local function quietly(fn)
  local real = io.stderr
  local lines = {}
  -- luacheck: push ignore 122 (io.stderr is replaced while fn runs)
  io.stderr = { write = function(self, ...)
    for _, s in ipairs({ ... }) do lines[#lines + 1] = tostring(s) end
    return self
  end }
  local ok, a, b, c = pcall(fn)
  io.stderr = real
  -- luacheck: pop
  if not ok then error(a, 0) end
  return a, b, c, table.concat(lines)
end

-- Wraps every handler of a table to count calls and the most calls in
-- flight at once. Returns the wrapped table and the stats.
local function instrument(handlers)
  local stats = { calls = {}, inputs = {}, in_flight = 0, peak = {} }
  local wrapped = {}
  for name, fn in pairs(handlers) do
    stats.calls[name], stats.inputs[name], stats.peak[name] = 0, {}, 0
    local running = 0
    wrapped[name] = function(input, ctx)
      stats.calls[name] = stats.calls[name] + 1
      table.insert(stats.inputs[name], input)
      running = running + 1
      if running > stats.peak[name] then stats.peak[name] = running end
      local ok, out = pcall(fn, input, ctx)
      running = running - 1
      if not ok then error(out, 0) end
      return out
    end
  end
  return wrapped, stats
end

--- Runs an example through the Lua API on a virtual-time engine.
-- input_file defaults to the example's input.json. With `instrumented`,
-- the handlers file is loaded with dofile and wrapped by instrument().
-- Returns the result table, the execution and the handler stats.
local function run_api(example, input_file, instrumented)
  local dir = "examples/" .. example .. "/"
  return quietly(function()
    local engine, stats
    if instrumented then
      local wrapped
      wrapped, stats = instrument(dofile(dir .. "handlers.lua"))
      engine = stepflow.new({ virtual_time = true, handlers = wrapped })
    else
      engine = stepflow.new({ virtual_time = true })
      assert(engine:load_handlers(dir .. "handlers.lua"))
    end
    local sm, err = engine:create_state_machine(read(dir .. "definition.asl.json"),
      { name = example })
    assert(sm, err)
    local exec = engine:start_execution(sm, load_json(input_file or (dir .. "input.json")))
    engine:run()
    return exec:result(), exec, stats
  end)
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Runs bin/stepflow with arguments; returns stdout, stderr, exit code.
local function cli(args)
  local errfile = os.tmpname()
  local cmd = "bin/stepflow"
  for _, a in ipairs(args) do cmd = cmd .. " " .. shell_quote(a) end
  local p = assert(io.popen(cmd .. " 2>" .. shell_quote(errfile)))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = read(errfile)
  os.remove(errfile)
  return out, err, code
end

local function cli_run(example, input_file, extra)
  local dir = "examples/" .. example .. "/"
  local args = { "run", dir .. "definition.asl.json",
    "--input", "@" .. (input_file or dir .. "input.json"), "--handlers", dir .. "handlers.lua" }
  for _, a in ipairs(extra or { "--virtual-time" }) do args[#args + 1] = a end
  return cli(args)
end

--- Runs a Lua program of the examples against the tree's modules; returns
-- its stdout and stderr together, and its exit code.
local function lua_script(path)
  local cpath = os.getenv("STEPFLOW_CPATH") or "./build/?.so"
  local p = assert(io.popen("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="
    .. shell_quote(cpath .. ";;") .. " lua5.4 " .. shell_quote(path) .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

local function elapsed(exec) return exec.stop_ms - exec.start_ms end

-- The checks every example gets: valid definition, expected output through
-- the API and through the command line, and each failing variant's
-- {status, error, cause} through both.
local function common(example, variants)
  local dir = "examples/" .. example .. "/"
  local expected = load_json(dir .. "expected_output.json")

  it("has a definition that stepflow validate accepts", function()
    local out, err, code = cli({ "validate", dir .. "definition.asl.json" })
    assert.equal("", err)
    assert.equal(0, code)
    assert.matches("valid", out)
  end)

  it("gives expected_output.json through the Lua API", function()
    local result = run_api(example)
    assert.equal("SUCCEEDED", result.status,
      tostring(result.error) .. ": " .. tostring(result.cause))
    assert.equal(canon(expected), canon(result.output))
  end)

  it("gives expected_output.json through bin/stepflow and exits 0", function()
    local out, err, code = cli_run(example)
    assert.equal(0, code, err)
    assert.equal(canon(expected), canon(json.decode(out)))
  end)

  it("prints the --json shape through bin/stepflow", function()
    local out, err, code = cli_run(example, nil, { "--virtual-time", "--json" })
    assert.equal(0, code, err)
    assert.equal(1, select(2, out:gsub("\n", "")))
    assert.equal(canon({ status = "SUCCEEDED", output = expected }), canon(json.decode(out)))
  end)

  for _, v in ipairs(variants or {}) do
    local input_file = dir .. "variants/" .. v .. ".input.json"
    local want = load_json(dir .. "variants/" .. v .. ".expected.json")
    it("ends the " .. v .. " variant with " .. want.status .. " " .. want.error
      .. " through the API", function()
        local result = run_api(example, input_file)
        assert.equal(canon(want), canon(result))
      end)
    it("ends the " .. v .. " variant with exit 1 and the error on stderr through bin/stepflow",
      function()
        local out, err, code = cli_run(example, input_file)
        assert.equal(1, code)
        assert.equal("", out)
        assert.matches(want.status, err, 1, true)
        assert.matches("error: " .. want.error, err, 1, true)
        if want.cause then assert.matches("cause: " .. want.cause, err, 1, true) end
        out, err, code = cli_run(example, input_file, { "--virtual-time", "--json" })
        assert.equal(1, code, err)
        assert.equal(canon(want), canon(json.decode(out)))
      end)
  end
end

describe("examples", function()
  describe("hello", function()
    common("hello")

    it("runs hello.lua, the README's Lua API example", function()
      local out, code = lua_script("examples/hello/hello.lua")
      assert.equal(0, code, out)
      assert.equal('SUCCEEDED\t{"message":"Hello, Ada! You are visitor number 42."}\n', out)
    end)

    it("is the Lua program that README.md shows", function()
      local readme = read("README.md")
      local section = readme:match("\n## A first state machine\n(.-)\n## ")
      assert.is_string(section)
      local code = section:match("```lua\n(.-)```")
      local program = read("examples/hello/hello.lua"):gsub("^%-%-[^\n]*\n", "")
      assert.equal(program, code)
    end)

    it("fails with the handler's error when the input has no name", function()
      local engine = stepflow.new({ virtual_time = true })
      assert(engine:load_handlers("examples/hello/handlers.lua"))
      local r = engine:run_once(read("examples/hello/definition.asl.json"), { visitor = 1 })
      assert.same({ status = "FAILED", error = "Greeting.NoName",
        cause = "the input has no name" }, r)
    end)
  end)

  describe("order", function()
    common("order", { "declined", "invalid" })

    it("retries the busy warehouse once, after the 1 s interval", function()
      local result, exec, stats = run_api("order", nil, true)
      assert.equal("SUCCEEDED", result.status)
      assert.equal(2, stats.calls.reserveStock)
      assert.equal(stats.inputs.reserveStock[1].requestId, exec.arn)
      assert.equal(1, stats.calls.chargePayment)
      assert.equal(0, stats.calls.releaseStock)
      assert.is_true(elapsed(exec) >= 1000)
      assert.is_true(elapsed(exec) < 2000)
    end)

    it("passes the effective input to the payment handler", function()
      local _, _, stats = run_api("order", nil, true)
      assert.same({ orderId = "ord-1001", amountCents = 11297, card = "4242424242424242",
        description = "Order ord-1001 (4 units)" }, stats.inputs.chargePayment[1])
    end)

    it("releases the reservation and never ships when the card is declined", function()
      local _, _, stats = run_api("order", "examples/order/variants/declined.input.json", true)
      assert.equal(1, stats.calls.chargePayment)
      assert.same({ { reservationId = "res-ord-1002" } }, stats.inputs.releaseStock)
      assert.equal(0, stats.calls.shipOrder)
    end)

    it("rejects an invalid order before it reserves stock", function()
      local _, _, stats = run_api("order", "examples/order/variants/invalid.input.json", true)
      assert.equal(1, stats.calls.validateOrder)
      assert.equal(0, stats.calls.reserveStock)
    end)

    it("runs as `make demo` does, in real time, and logs each step", function()
      local out, err, code = cli_run("order", nil, {})
      assert.equal(0, code, err)
      assert.equal(canon(load_json("examples/order/expected_output.json")), canon(json.decode(out)))
      assert.matches("warehouse busy (attempt 1)", err, 1, true)
      assert.matches("handed to DHL", err, 1, true)
    end)
  end)

  describe("fanout", function()
    common("fanout")

    it("runs at most MaxConcurrency (2) records at once", function()
      local result, exec, stats = run_api("fanout", nil, true)
      assert.equal("SUCCEEDED", result.status)
      assert.equal(5, stats.calls.enrichRecord)
      assert.equal(5, stats.calls.validateRecord)
      assert.equal(2, stats.peak.enrichRecord)
      -- 5 records, 2 at a time, 1 s each (the 0.5 s validation runs alongside)
      assert.is_true(elapsed(exec) >= 3000)
      assert.is_true(elapsed(exec) < 3500)
    end)

    it("gives both Parallel branches the ItemSelector's record", function()
      local _, _, stats = run_api("fanout", nil, true)
      local emails = {}
      for _, input in ipairs(stats.inputs.validateRecord) do emails[input.email] = input.country end
      assert.same({ ["ada@example.com"] = "GB", ["grace@example"] = "US",
        ["linus@example.org"] = "FI", ["margaret@example.com"] = "US",
        ["alan@example.com"] = "XX" }, emails)
    end)
  end)

  describe("approval", function()
    common("approval", { "rejected", "expired", "timed_out" })

    it("polls hourly, reminds once, and is approved on the fourth check", function()
      local result, exec, stats = run_api("approval", nil, true)
      assert.equal("SUCCEEDED", result.status)
      assert.equal(4, stats.calls.checkDecision)
      assert.equal(1, stats.calls.sendReminder)
      assert.equal(1, stats.calls.placePurchaseOrder)
      for i, input in ipairs(stats.inputs.checkDecision) do assert.equal(i, input.check) end
      assert.is_true(elapsed(exec) >= 4 * 3600 * 1000)
      assert.is_true(elapsed(exec) < 4 * 3600 * 1000 + 1000)
    end)

    it("gives up after maxChecks with no decision", function()
      local result, exec, stats = run_api("approval",
        "examples/approval/variants/expired.input.json", true)
      assert.equal("FAILED", result.status)
      assert.equal(6, stats.calls.checkDecision)
      assert.equal(1, stats.calls.sendReminder)
      assert.is_true(elapsed(exec) >= 6 * 3600 * 1000)
    end)

    it("runs callback.lua: task tokens answered through the Lua API", function()
      local out, code = lua_script("examples/approval/callback.lua")
      assert.equal(0, code, out)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(4, #lines, out)
      assert.equal("RUNNING\tRUNNING\t2", lines[1])
      assert.equal('SUCCEEDED\t{"approvedBy":"ada","requestId":"req-1"}', lines[2])
      assert.equal("FAILED\tApproval.Rejected\tover budget", lines[3])
      assert.matches("^nil\tTaskDoesNotExist: no task waits for token [%w_%-]+%.%x+", lines[4])
    end)

    it("times out at the machine's TimeoutSeconds (72 h) between two checks", function()
      local result, exec, stats = run_api("approval",
        "examples/approval/variants/timed_out.input.json", true)
      assert.equal("TIMED_OUT", result.status)
      assert.equal(2, stats.calls.checkDecision)
      assert.equal(259200 * 1000, elapsed(exec))
    end)
  end)

  describe("orders_csv", function()
    local dir = "examples/orders_csv/"
    local expected = load_json(dir .. "expected_output.json")
    -- a copy of the example's S3 folder: the run writes its results there
    local function s3_copy()
      local tmp = os.tmpname()
      os.remove(tmp)
      assert(os.execute("cp -r " .. shell_quote(dir .. "s3") .. " " .. shell_quote(tmp)))
      return tmp
    end

    it("has a definition that stepflow validate accepts", function()
      local out, _, code = cli({ "validate", dir .. "definition.asl.json" })
      assert.equal(0, code)
      assert.matches("valid", out)
    end)

    it("reads the CSV from S3 in batches, writes the results back and sums them (Lua API)", function()
      local s3 = s3_copy()
      local result = quietly(function()
        local engine = assert(stepflow.new({ virtual_time = true, s3_dir = s3 }))
        assert(engine:load_handlers(dir .. "handlers.lua"))
        local sm = assert(engine:create_state_machine(read(dir .. "definition.asl.json"), { name = "definition" }))
        local e = engine:start_execution(sm, load_json(dir .. "input.json"))
        engine:run()
        return e:result()
      end)
      assert.equal("SUCCEEDED", result.status, tostring(result.cause))
      assert.equal(canon(expected), canon(result.output))
      -- the ResultWriter's files: the manifest and one file of records
      local p = io.popen("find " .. shell_quote(s3 .. "/reports/priced") .. " -type f | sort")
      local files = {}
      for f in p:lines() do files[#files + 1] = f:match("[^/]+$") end
      p:close()
      assert.same({ "SUCCEEDED_0.json", "manifest.json" }, files)
      assert(os.execute("rm -rf " .. shell_quote(s3)))
    end)

    it("gives expected_output.json through bin/stepflow --s3-dir", function()
      local s3 = s3_copy()
      local out, err, code = cli({ "run", dir .. "definition.asl.json", "--input", "@" .. dir .. "input.json",
        "--handlers", dir .. "handlers.lua", "--s3-dir", s3 })
      assert(os.execute("rm -rf " .. shell_quote(s3)))
      assert.equal(0, code, err)
      assert.equal(canon(expected), canon(json.decode(out)))
      assert.not_matches("warning", err)
    end)
  end)
end)
