local json = require("stepflow.json")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return out:gsub("rc=%d+%s*$", ""), rc
end

local function write(path, text)
  local fh = assert(io.open(path, "w"))
  fh:write(text)
  fh:close()
end

describe("stepflow command line with --store", function()
  local dir, db, def, handlers
  -- The pid an engine writes into the store's lock file ("" before any).
  local function lock_owner()
    local f = io.open(db .. ".lock")
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text
  end
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    db = dir .. "/s.db"
    def = dir .. "/flow.json"
    handlers = dir .. "/h.lua"
    write(def, json.encode({ StartAt = "T", States = {
      T = { Type = "Task", Resource = "double", Next = "W" },
      W = { Type = "Wait", Seconds = 1, End = true } } }))
    write(handlers, "return { double = function(x) return x * 2 end }")
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("starts without running, resumes, lists and shows the history", function()
    local out, rc = sh("bin/stepflow start " .. def .. " --store " .. db .. " --name a --input 4")
    assert.equal(0, rc)
    assert.matches(":execution:flow:a", out)
    out, rc = sh("bin/stepflow executions --store " .. db .. " --status RUNNING --json")
    assert.equal(0, rc)
    assert.equal("RUNNING", json.decode(out).status)
    out, rc = sh("bin/stepflow resume --store " .. db .. " --handlers " .. handlers .. " --virtual-time")
    assert.equal(0, rc, out)
    out = sh("bin/stepflow executions --store " .. db .. " --json")
    local rec = json.decode(out)
    assert.equal("SUCCEEDED", rec.status)
    assert.equal(8, rec.output)
    out, rc = sh("bin/stepflow history a --store " .. db .. " --json")
    assert.equal(0, rc)
    -- one document, GetExecutionHistory's shape
    local types = {}
    for i, ev in ipairs(json.decode(out).events) do types[i] = ev.type end
    assert.same({ "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
      "TaskStateExited", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded" }, types)
  end)

  it("starts without warning about handlers, since it runs nothing", function()
    local out, rc = sh("bin/stepflow start " .. def .. " --store " .. db .. " --name w --input 1")
    assert.equal(0, rc)
    assert.not_matches("warning", out)
  end)

  it("is idempotent on the name and refuses another input", function()
    assert.equal(0, select(2, sh("bin/stepflow start " .. def .. " --store " .. db .. " --name a --input 1")))
    assert.equal(0, select(2, sh("bin/stepflow start " .. def .. " --store " .. db .. " --name a --input 1")))
    local out, rc = sh("bin/stepflow start " .. def .. " --store " .. db .. " --name a --input 2")
    assert.equal(1, rc)
    assert.matches("ExecutionAlreadyExists", out)
  end)

  it("runs a durable execution and prints its result", function()
    local out, rc = sh("bin/stepflow run " .. def .. " --store " .. db .. " --name r --input 5 --handlers " ..
      handlers .. " --virtual-time --json")
    assert.equal(0, rc, out)
    assert.same({ status = "SUCCEEDED", output = 10 }, json.decode(out))
  end)

  it("stops an execution", function()
    sh("bin/stepflow start " .. def .. " --store " .. db .. " --name s --input 1")
    local out, rc = sh("bin/stepflow stop s --store " .. db .. " --error Ops.Stop --cause maintenance")
    assert.equal(0, rc, out)
    local rec = json.decode((sh("bin/stepflow executions --store " .. db .. " --json")))
    assert.equal("ABORTED", rec.status)
    assert.equal("Ops.Stop", rec.error)
    assert.equal("maintenance", rec.cause)
  end)

  it("upgrades a version 1 store when a read-only command opens it", function()
    -- version 1: one row per event (python3's sqlite3 writes it)
    local sql = [[
      CREATE TABLE state_machines (arn TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
        definition TEXT NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE executions (id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE,
        sm_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT,
        output TEXT, error TEXT, cause TEXT, started INTEGER NOT NULL, stopped INTEGER,
        UNIQUE (sm_arn, name));
      CREATE TABLE events (seq INTEGER PRIMARY KEY, exec INTEGER NOT NULL, id INTEGER NOT NULL,
        prev INTEGER NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL);
      INSERT INTO executions (arn, sm_arn, name, status, input, output, started, stopped)
        VALUES ('arn:aws:states:us-east-1:123456789012:execution:flow:old', 'sm', 'old',
        'SUCCEEDED', '1', '2', 0, 1000);
      INSERT INTO events (exec, id, prev, ts, type, details) VALUES
        (1, 1, 0, 0, 'ExecutionStarted', '{"d":{"input":1,"roleArn":"r","stateMachineArn":"sm"}}'),
        (1, 2, 1, 1000, 'ExecutionSucceeded', '{"d":{"output":2}}');
      PRAGMA application_id = 1397115991;
      PRAGMA user_version = 1;
    ]]
    local cmd = ("env -u LD_PRELOAD python3 -c %q %q %q"):format(
      "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()",
      db, sql)
    assert(os.execute(cmd))
    local out, rc = sh("bin/stepflow history old --store " .. db .. " --json")
    assert.equal(0, rc, out)
    assert.matches("stepflow: upgraded " .. db:gsub("%p", "%%%0") .. " to store version " .. require("stepflow.store").VERSION, out)
    local types = {}
    for line in out:gmatch("[^\n]+") do
      if line:sub(1, 1) == "{" then
        for _, ev in ipairs(json.decode(line).events) do types[#types + 1] = ev.type end
      end
    end
    assert.same({ "ExecutionStarted", "ExecutionSucceeded" }, types)
    out, rc = sh("bin/stepflow executions --store " .. db)
    assert.equal(0, rc)
    assert.not_matches("upgraded", out)
  end)

  it("stops an execution that a running engine process runs", function()
    local wait = dir .. "/wait.json"
    write(wait, json.encode({ StartAt = "W", States = { W = { Type = "Wait", Seconds = 60, End = true } } }))
    assert.equal(0, select(2, sh("bin/stepflow start " .. wait .. " --store " .. db .. " --name long")))
    -- an engine in the background holds the store's lock
    local log = dir .. "/resume.log"
    os.execute("(bin/stepflow resume --store " .. db .. " > " .. log .. " 2>&1; echo \"rc=$?\" >> " .. log
      .. ") & echo $! > " .. dir .. "/pid")
    -- until the engine holds the lock: it writes its pid into the lock
    -- file, over the pid of `stepflow start` (probing by taking the lock
    -- could make the engine's own open fail)
    local before = lock_owner()
    for _ = 1, 200 do
      local now = lock_owner()
      if now ~= before and now:match("%d") then break end
      os.execute("sleep 0.05")
    end
    local out, rc
    out, rc = sh("bin/stepflow stop long --store " .. db .. " --error Ops.Halt --cause maintenance")
    assert.equal(0, rc, out)
    assert.matches("stopped arn:aws:states:.*:execution:wait:long %(by engine process %d+%)", out)
    local rec = json.decode((sh("bin/stepflow executions --store " .. db .. " --json")))
    assert.equal("ABORTED", rec.status)
    assert.equal("Ops.Halt", rec.error)
    assert.equal("maintenance", rec.cause)
    for _ = 1, 100 do  -- the engine, with nothing left to run, exits
      local f = io.open(log)
      local text = f and f:read("a") or ""
      if f then f:close() end
      if text:find("rc=0", 1, true) then return end
      os.execute("sleep 0.05")
    end
    error("the engine did not exit after the stop: " .. tostring(io.open(log):read("a")))
  end)

  it("starts an execution that an engine running with resume --watch picks up", function()
    local double = dir .. "/double.json"  -- no Wait: the engine runs in real time
    write(double, json.encode({ StartAt = "T", States = { T = { Type = "Task", Resource = "double", End = true } } }))
    local log = dir .. "/watch.log"
    os.execute("(bin/stepflow resume --store " .. db .. " --handlers " .. handlers .. " --watch > " .. log
      .. " 2>&1) & echo $! > " .. dir .. "/watch.pid")
    for _ = 1, 200 do  -- until the engine holds the lock
      if lock_owner():match("%d") then break end
      os.execute("sleep 0.05")
    end
    local out, rc = sh("bin/stepflow start " .. double .. " --store " .. db .. " --name w1 --input 21")
    assert.equal(0, rc, out)
    assert.matches("recorded for the engine that runs", out)
    local status
    for _ = 1, 100 do  -- the engine reads new executions every 250 ms
      local rec = json.decode((sh("bin/stepflow executions --store " .. db .. " --json")))
      status = rec.status
      if status == "SUCCEEDED" then
        assert.equal(42, rec.output)
        break
      end
      os.execute("sleep 0.05")
    end
    -- the watching engine, never idle by itself, is stopped from outside
    -- (the subshell execs the engine, so $! is the engine's pid; the shell's
    -- own kill, because a program run under the sanitizers' LD_PRELOAD, as
    -- pkill would be, can hang)
    local pf = io.open(dir .. "/watch.pid")
    local pid = pf:read("a"):match("%d+")
    pf:close()
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      local alive = io.open("/proc/" .. pid .. "/cmdline")
      if not alive then break end
      local cmd = alive:read("a")
      alive:close()
      if not cmd:find("resume", 1, true) then break end
      os.execute("sleep 0.05")
    end
    assert.equal("SUCCEEDED", status)
  end)

  it("says clearly when the store is not a store", function()
    write(db, "garbage")
    local out, rc = sh("bin/stepflow executions --store " .. db)
    assert.equal(1, rc)
    assert.matches("store", out)
  end)
end)
