-- Specs of the store's version 4 additions, on both back ends: the
-- version and alias an execution was started through, redrives
-- (redrive_execution, redrive_count, redrive_date) and the list filters
-- that go with them; and the upgrade of a version 3 SQLite store.
local store = require("stepflow.store")
local pg_helper = require("pg_helper")

local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"

local function exec_arn(name)
  return "arn:aws:states:us-east-1:123456789012:execution:orders:" .. name
end

local function start(s, name, extra)
  local e = { arn = exec_arn(name), sm_arn = SM, name = name, input = "{}", started = 1000 }
  for k, v in pairs(extra or {}) do e[k] = v end
  assert(s:create_execution(e))
  return e.arn
end

local function names(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r.name end
  table.sort(out)
  return out
end

for _, backend in ipairs(pg_helper.backends()) do
describe("stepflow.store version 4 on " .. backend.name, function()
  if not backend.available then
    pending(pg_helper.MISSING)
    return
  end
  local s
  before_each(function()
    s = assert(store.open(backend.sqlite and ":memory:" or backend.fresh()))
  end)
  after_each(function()
    s:close()
  end)

  it("keeps the version and alias an execution was started through", function()
    local a = start(s, "a", { version_arn = SM .. ":1", alias_arn = SM .. ":prod" })
    local b = start(s, "b", { version_arn = SM .. ":2" })
    local c = start(s, "c")
    assert(s:commit())
    local ra = s:get_execution(a)
    assert.same({ SM .. ":1", SM .. ":prod" }, { ra.version_arn, ra.alias_arn })
    assert.same({ SM .. ":2" }, { s:get_execution(b).version_arn, s:get_execution(b).alias_arn })
    local rc = s:get_execution(c)
    assert.is_nil(rc.version_arn)
    assert.is_nil(rc.redrive_count)
    assert.same({ "a" }, names(s:list_executions({ sm_arn = SM, qualified = SM .. ":prod" })))
    assert.same({ "a" }, names(s:list_executions({ sm_arn = SM, qualified = SM .. ":1" })))
    assert.same({ "b" }, names(s:list_executions({ sm_arn = SM, qualified = SM .. ":2" })))
    assert.same({ "a", "b", "c" }, names(s:list_executions({ sm_arn = SM })))
  end)

  it("redrives an ended, unsuccessful execution: RUNNING again, counted and dated", function()
    local arn = start(s, "r")
    assert(s:append(arn, 1, 0, 1000, "ExecutionStarted", "{}"))
    assert(s:finish_execution(arn, "FAILED", nil, "Oops", "bad", 2000))
    assert(s:commit())
    assert.is_true(s:redrive_execution(arn, 3000))
    local rec = s:get_execution(arn)
    assert.same({ "RUNNING", 1, 3000 }, { rec.status, rec.redrive_count, rec.redrive_date })
    assert.is_nil(rec.error)
    assert.is_nil(rec.cause)
    assert.is_nil(rec.stopped)
    -- its history goes on after the failure; it can end again
    assert(s:append(arn, 2, 1, 3000, "ExecutionRedriven", '{"redriveCount":1}'))
    assert(s:finish_execution(arn, "TIMED_OUT", nil, "States.Timeout", nil, 4000))
    assert(s:commit())
    assert.is_true(s:redrive_execution(arn, 5000))
    rec = s:get_execution(arn)
    assert.same({ "RUNNING", 2, 5000 }, { rec.status, rec.redrive_count, rec.redrive_date })
    assert(s:finish_execution(arn, "SUCCEEDED", "{}", nil, nil, 6000))
    assert(s:commit())
    local types = {}
    for i, e in ipairs(s:history(arn)) do types[i] = e.type end
    assert.same({ "ExecutionStarted", "ExecutionRedriven" }, types)
    assert.same({ "SUCCEEDED", 2 }, { s:get_execution(arn).status, s:get_execution(arn).redrive_count })
  end)

  it("refuses to redrive a RUNNING or SUCCEEDED execution, or one that does not exist", function()
    local running = start(s, "running")
    local done = start(s, "done")
    assert(s:finish_execution(done, "SUCCEEDED", "{}", nil, nil, 2000))
    assert(s:commit())
    assert.same({ nil, "ExecutionNotRedrivable" }, { s:redrive_execution(running, 3000) })
    assert.same({ nil, "ExecutionNotRedrivable" }, { s:redrive_execution(done, 3000) })
    assert.same({ nil, "ExecutionDoesNotExist" }, { s:redrive_execution(exec_arn("none"), 3000) })
    assert.equal("RUNNING", s:get_execution(running).status)
  end)

  it("lists executions redriven or not", function()
    local r = start(s, "r")
    start(s, "n")
    assert(s:finish_execution(r, "ABORTED", nil, nil, nil, 2000))
    assert(s:commit())
    assert(s:redrive_execution(r, 3000))
    assert(s:commit())
    assert.same({ "r" }, names(s:list_executions({ sm_arn = SM, redriven = true })))
    assert.same({ "n" }, names(s:list_executions({ sm_arn = SM, redriven = false })))
    assert.same({ "r" }, names(s:list_executions({ sm_arn = SM, redriven = true, status = "RUNNING" })))
    assert.same({}, names(s:list_executions({ sm_arn = SM, redriven = true, status = "ABORTED" })))
    assert.has_error(function() s:list_executions({ redriven = true }) end,
      "stepflow.store.list_executions: qualified and redriven need sm_arn")
  end)
end)
end

describe("stepflow.store upgrade to version 4", function()
  it("adds the columns to a version 3 store, its executions kept", function()
    local path = os.tmpname()
    os.remove(path)
    local s = assert(store.open(path))
    start(s, "old")
    assert(s:close())
    -- make it a version 3 store, as the previous build wrote it
    assert(os.execute("env -u LD_PRELOAD python3 -c \"import sqlite3; c = sqlite3.connect('" .. path
      .. "'); c.executescript('ALTER TABLE executions DROP COLUMN version_arn; "
      .. "ALTER TABLE executions DROP COLUMN alias_arn; ALTER TABLE executions DROP COLUMN redrive_count; "
      .. "ALTER TABLE executions DROP COLUMN redrive_date; PRAGMA user_version = 3;'); c.commit(); c.close()\""))
    local ro, err, info = store.open(path, { read_only = true })
    assert.is_nil(ro)
    assert.matches("store version 3 needs an upgrade to version 4", err, 1, true)
    assert.same({ kind = "needs_upgrade", version = 3 }, info)
    s = assert(store.open(path))
    local rec = s:get_execution(exec_arn("old"))
    assert.same({ "old", "RUNNING" }, { rec.name, rec.status })
    start(s, "new", { version_arn = SM .. ":1" })
    assert(s:commit())
    assert.equal(SM .. ":1", s:get_execution(exec_arn("new")).version_arn)
    assert(s:close())
    for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(path .. suffix) end
  end)
end)
