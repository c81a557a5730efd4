-- The command line on a full disk (a small tmpfs, or a file size limit
-- where mounting is not allowed: spec/cli/helper.lua): every command that
-- writes the store exits 1 with the store's message and what to do, never
-- a traceback; nothing runs ahead of the store; reading still works; and
-- once there is room, resume finishes every execution.
local json = require("stepflow.json")
local h = require("cli.helper")

describe("stepflow command line on a full disk", function()
  it("stops with a message, loses nothing, and resumes once there is room", function()
    local r = h.tmpdir()
    local big = '{"pad":"' .. ("x"):rep(150000) .. '"}'
    h.write(r .. "/big.json", big)
    h.write(r .. "/wait.json", json.encode({ StartAt = "W", States = {
      W = { Type = "Wait", Seconds = 1, Next = "P" }, P = { Type = "Pass", End = true } } }))
    local sf = "$PWD/bin/stepflow"
    -- Each step leaves NAME.rc, NAME.out and NAME.err in $R.
    local script = ([[
step() { name=$1; shift; "$@" >"$R/$name.out" 2>"$R/$name.err"; echo $? >"$R/$name.rc"; }
S=%s
step setup $S start "$R/wait.json" --store "$F/s.db" --name small --input '{"n":1}'
fill
step start full $S start "$R/wait.json" --store "$F/s.db" --name big1 --input @"$R/big.json"
step run full $S run "$R/wait.json" --store "$F/s.db" --name big2 --input @"$R/big.json" --virtual-time
step executions full $S executions --store "$F/s.db" --json
unfill
step resume $S resume --store "$F/s.db" --virtual-time
step after $S executions --store "$F/s.db" --json
]]):format(sf)
    local _, out, mode = h.with_full_disk(script, r)
    -- A tmpfs fills up (SQLite: "database or disk is full"); a file size
    -- limit makes the write fail with EFBIG, which SQLite reports as an
    -- I/O error without the errno at commit.
    local full_msg = mode == "tmpfs" and "database or disk is full" or "disk I/O error"
    local once = mode == "tmpfs" and "once its disk has room again" or "once the cause is fixed"
    local function step(name)
      return tonumber(h.read(r .. "/" .. name .. ".rc") or ""), h.read(r .. "/" .. name .. ".out") or "",
        h.read(r .. "/" .. name .. ".err") or ""
    end
    local rc, _, serr = step("setup")
    assert.equal(0, rc, mode .. ": " .. out .. serr)
    local sout

    -- start: the record's commit fails; nothing is recorded
    rc, sout, serr = step("start")
    assert.is_true(h.clean_refusal(rc, sout, serr), mode .. ": " .. serr)
    assert.equal(1, rc)
    assert.matches("stepflow: store: commit: " .. full_msg, serr, 1, true)
    assert.matches("stepflow: the execution was not recorded", serr, 1, true)

    -- run: the engine stops at the failed commit, saying how to go on
    rc, sout, serr = step("run")
    assert.is_true(h.clean_refusal(rc, sout, serr), mode .. ": " .. serr)
    assert.equal(1, rc)
    assert.matches(full_msg, serr, 1, true)
    assert.matches("nothing ran ahead of what", serr, 1, true)
    assert.matches(once .. ", `stepflow resume --store", serr, 1, true)
    assert.equal("", sout)

    -- reading needs no room
    rc, sout, serr = step("executions")
    assert.equal(0, rc, mode .. ": " .. serr)
    assert.equal("small", json.decode(sout).name)

    -- with room again, resume finishes what was recorded
    rc, _, serr = step("resume")
    assert.equal(0, rc, mode .. ": " .. serr)
    rc, sout = step("after")
    assert.equal(0, rc)
    local recs = {}
    for line in sout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      recs[rec.name] = rec.status
    end
    assert.same({ small = "SUCCEEDED" }, recs)
    h.rm(r)
  end)
end)
