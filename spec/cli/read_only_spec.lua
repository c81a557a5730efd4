-- The command line on a store the user may only read: a real read-only
-- file, and a real read-only folder (for root, with the capabilities that
-- override permissions dropped: spec/cli/helper.lua). The reading
-- commands work and print what they print on a writable store; the
-- writing ones exit 1 saying why and what works.
local json = require("stepflow.json")
local h = require("cli.helper")

describe("stepflow command line on a store the user may only read", function()
  local prefix, why = h.reader_prefix()
  local dir, db, sf

  before_each(function()
    dir = h.tmpdir()
    db = dir .. "/s.db"
    sf = "bin/stepflow"
    local def = h.write(dir .. "/flow.json", json.encode({ StartAt = "P", States = {
      P = { Type = "Pass", Result = { done = true }, Next = "W" },
      W = { Type = "Wait", Seconds = 3600, End = true } } }))
    assert.equal(0, (h.sh(sf .. " run " .. def .. " --store " .. db .. " --name ended --virtual-time"
      .. " --type STANDARD && " .. sf .. " start " .. def .. " --store " .. db .. " --name open")))
  end)
  after_each(function() h.rm(dir) end)

  -- What each reading command prints on the writable store.
  -- ({S} and {D} stand for the store and the definition; a temporary path
  -- may hold any letter)
  local READS = { "executions --store {S}", "executions --store {S} --json --status RUNNING",
    "describe open --store {S} --json", "history ended --store {S} --json" }
  local function fill(cmd)
    return (cmd:gsub("{S}", function() return db end):gsub("{D}", function() return dir .. "/flow.json" end))
  end
  local function reads()
    local out = {}
    for i, cmd in ipairs(READS) do
      local rc, text, err = h.sh(prefix .. sf .. " " .. fill(cmd))
      assert.equal(0, rc, cmd .. ": " .. err)
      out[i] = text
    end
    return out
  end

  local function writes_refused()
    for _, cmd in ipairs({ "resume --store {S}", "start {D} --store {S} --name n2", "run {D} --store {S} --name n3",
      "stop open --store {S}" }) do
      local rc, out, err = h.sh(prefix .. sf .. " " .. fill(cmd))
      assert.is_true(h.clean_refusal(rc, out, err), cmd .. ": " .. err)
      assert.equal(1, rc, cmd)
      assert.matches("reading commands (executions, describe, history) work on it", err, 1, true)
    end
  end

  it("reads a read-only store file", function()
    if not prefix then return pending(why) end
    local before = reads()
    assert.matches('"status":"RUNNING"', before[2], 1, true)
    assert(os.execute("chmod 444 " .. db))
    assert.same(before, reads())
    writes_refused()
    assert.matches("this process may only read it", select(3, h.sh(prefix .. sf .. " resume --store " .. db)),
      1, true)
  end)

  it("reads a store in a read-only folder, leaving nothing beside it", function()
    if not prefix then return pending(why) end
    local before = reads()
    local listing = select(2, h.sh("ls -a " .. dir))
    assert(os.execute("chmod 444 " .. db .. " && chmod 555 " .. dir))
    assert.same(before, reads())
    writes_refused()
    assert.equal(listing, select(2, h.sh("ls -a " .. dir)))
  end)
end)
