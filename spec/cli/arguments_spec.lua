-- Every command with wrong, missing and odd arguments, as a new user
-- types them: each ends with exit 1 or 2 and a "stepflow: " message,
-- never a traceback; and the refusals that need a precise answer.
local json = require("stepflow.json")
local h = require("cli.helper")

describe("stepflow command line given bad input", function()
  local dir, sf, def, db, text_file
  setup(function()
    dir = h.tmpdir()
    sf = "bin/stepflow"
    def = h.write(dir .. "/flow.json", json.encode({ StartAt = "P", States = { P = { Type = "Pass", End = true } } }))
    text_file = h.write(dir .. "/notes.txt", "not a store\n")
    db = dir .. "/s.db"
    assert.equal(0, (h.sh(sf .. " start " .. def .. " --store " .. db .. " --name e1")))
  end)
  teardown(function() h.rm(dir) end)

  local function run(args)
    return h.sh(sf .. " " .. args:gsub("DEF", def):gsub("DIR", dir):gsub("DB", db):gsub("TXT", text_file))
  end

  it("refuses every odd invocation with a message and exit 1 or 2, never a traceback", function()
    local cases = {
      -- missing or extra arguments, unknown options, missing values
      "run", "start DEF", "resume", "executions", "describe --store DB", "history --store DB", "stop --store DB",
      "validate", "run DEF DEF", "validate DEF DEF", "run DEF --input", "run DEF --frobnicate",
      "executions --store DB --status", "run DEF --name", "history e1 e1 --store DB", "resume --store DB extra",
      "resume --store DB --watch --virtual-time", "nonsense", "run DEF --type express",
      -- files that are folders, absent, empty, or not what they should be
      "run DIR", "validate DIR", "start DIR --store DB", "run DEF --input @DIR", "run DEF --input @DIR/none.json",
      "run DEF --handlers DIR", "run DEF --handlers DIR/none.lua", "run DEF --handlers TXT", "run ''",
      "run DIR/none.json", "run TXT", "run DEF --input ''", "run DEF --input '{\"a\":'",
      "executions --store DIR", "executions --store DIR/none.db", "executions --store TXT",
      "history e1 --store DIR", "describe e1 --store TXT", "resume --store DIR", "resume --store TXT",
      "run DEF --store DIR", "start DEF --store TXT", "stop e1 --store DIR", "stop e1 --store TXT",
      "resume --store /nonexistent-dir/s.db", "executions --store ''", "run /dev/zero", "validate /dev/zero",
      "run DEF --input @/dev/zero", "run /dev/null",
      -- values out of range
      "executions --store DB --status running", "run DEF --name 'two words'", "run DEF --name ''",
      "start DEF --store DB --name 'a/b'", "run DEF --type BOTH", "start DEF --store DB --type EXPRESS",
      "describe nobody --store DB", "history nobody --store DB", "stop nobody --store DB",
    }
    local bad = {}
    for _, args in ipairs(cases) do
      local rc, out, err = run(args)
      local ok, why = h.clean_refusal(rc, out, err)
      if not ok then bad[#bad + 1] = args .. ": " .. why .. ": " .. err end
    end
    assert.equal("", table.concat(bad, "\n"))
  end)

  it("says a folder is not a definition, an input or a store", function()
    local rc, _, err = run("run DIR")
    assert.equal(2, rc)
    assert.matches("stepflow: cannot read definition: " .. dir .. ": Is a directory", err, 1, true)
    rc, _, err = run("run DEF --input @DIR")
    assert.equal(2, rc)
    assert.matches("stepflow: cannot read input: " .. dir .. ": Is a directory", err, 1, true)
    rc, _, err = run("executions --store DIR")
    assert.equal(1, rc)
    assert.matches("stepflow: store: " .. dir .. ": a folder, not a store file", err, 1, true)
  end)

  it("names the statuses when --status is unknown", function()
    local rc, _, err = run("executions --store DB --status running")
    assert.equal(2, rc)
    assert.matches("unknown --status 'running' (one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)", err, 1,
      true)
  end)

  it("checks execution names as AWS does", function()
    local rc, _, err = run("run DEF --name 'a:b'")
    assert.equal(2, rc)
    assert.matches("stepflow: InvalidName: Invalid Name: 'a:b'", err, 1, true)
    rc, _, err = run("run DEF --name " .. ("n"):rep(81))
    assert.equal(2, rc)
    assert.matches("at 'name' failed to satisfy constraint: Member must have length less than or equal to 80",
      err, 1, true)
    assert.equal(0, (run("run DEF --name " .. ("n"):rep(76) .. "-é_1")))  -- 80 characters
  end)

  it("refuses an input over 256 KiB before anything is written, as StartExecution does", function()
    local big = h.write(dir .. "/big.json", '"' .. ("x"):rep(262144) .. '"')
    local store = dir .. "/big.db"
    local msg = "stepflow: ValidationException: 1 validation error detected: Value at 'input' failed to "
      .. "satisfy constraint: Member must have length less than or equal to 262144 (the input is 262146 bytes)"
    for _, args in ipairs({ "run DEF --input @" .. big, "start DEF --store " .. store .. " --input @" .. big,
      "run DEF --store " .. store .. " --input @" .. big }) do
      local rc, out, err = run(args)
      assert.equal(2, rc, args)
      assert.equal("", out)
      assert.matches(msg, err, 1, true)
    end
    assert.is_nil(io.open(store))  -- not even created
    -- through a pipe, read only up to the limit
    local rc, _, err = h.sh("cat " .. big .. " | " .. sf .. " run " .. def .. " --input @/dev/stdin")
    assert.equal(2, rc)
    assert.matches("(the input is over 262144 bytes)", err, 1, true)
    -- the limit itself is accepted
    h.write(big, '"' .. ("x"):rep(262142) .. '"')
    assert.equal(0, (run("run DEF --input @" .. big .. " --json >/dev/null")))
  end)

  it("refuses a definition over AWS's 1 MiB limit without reading it all", function()
    local big = h.write(dir .. "/big.asl.json", (" "):rep(1048577))
    for _, args in ipairs({ "run " .. big, "validate " .. big, "run /dev/zero" }) do
      local rc, _, err = run(args)
      assert.equal(2, rc, args)
      assert.matches("stepflow: ValidationException: 1 validation error detected: Value at 'definition' failed "
        .. "to satisfy constraint: Member must have length less than or equal to 1048576", err, 1, true)
    end
  end)

  it("refuses start of an EXPRESS execution, which could not be durable", function()
    local rc, _, err = run("start DEF --store DB --type EXPRESS")
    assert.equal(2, rc)
    assert.matches("EXPRESS executions are not durable", err, 1, true)
  end)

  it("refuses an option given twice", function()
    local rc, _, err = run("run DEF --input 1 --input 2")
    assert.equal(2, rc)
    assert.matches("option --input given twice", err, 1, true)
  end)

  it("shows the usage for --help after a command", function()
    local rc, out = run("resume --help")
    assert.equal(0, rc)
    assert.matches("^usage: stepflow", out)
  end)

  it("fails when its output cannot be written", function()
    local rc, _, err = run("executions --store DB > /dev/full")
    assert.equal(1, rc)
    assert.matches("stepflow: cannot write the output: No space left on device", err, 1, true)
  end)
end)
