-- Specs of stepflow.store: records, names, groups, history, lists; run
-- against both back ends (SQLite, and the PostgreSQL database of the
-- throwaway server of `make test`: spec/pg_helper.lua).
local store = require("stepflow.store")
local pg_helper = require("pg_helper")

local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
local SM2 = "arn:aws:states:us-east-1:123456789012:stateMachine:refunds"

local function exec_arn(sm_arn, name)
  return (sm_arn:gsub(":stateMachine:", ":execution:")) .. ":" .. name
end

local function new_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function start(s, name, opts)
  opts = opts or {}
  local sm_arn = opts.sm_arn or SM
  local arn = exec_arn(sm_arn, name)
  assert(s:create_execution({ arn = arn, sm_arn = sm_arn, name = name,
    input = opts.input or '{"n":1}', started = opts.started or 1000 }))
  return arn
end

for _, backend in ipairs(pg_helper.backends()) do
describe("stepflow.store on " .. backend.name, function()
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

  describe("put_state_machine", function()
    it("stores a state machine that get_state_machine returns", function()
      assert.equal(1, s:put_state_machine({ arn = SM, name = "orders",
        definition = '{"StartAt":"A"}', type = "STANDARD", created = 42 }))
      assert.same({ arn = SM, name = "orders", definition = '{"StartAt":"A"}',
        type = "STANDARD", created = 42, revision = 1 }, s:get_state_machine(SM))
    end)

    it("replaces the definition of an existing ARN, keeping every revision", function()
      assert.equal(1, s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "STANDARD", created = 1 }))
      assert.equal(1, s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "STANDARD", created = 2 }))  -- the same definition: the same revision
      assert.equal(2, s:put_state_machine({ arn = SM, name = "orders", definition = '{"v":2}',
        type = "STANDARD", created = 3 }))
      assert.equal(3, s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "STANDARD", created = 4 }))  -- back to the first text: a new revision
      local sm = s:get_state_machine(SM)
      assert.equal("{}", sm.definition)
      assert.equal(3, sm.revision)
      assert.equal(1, sm.created)
      assert.equal(1, #s:list_state_machines())
      assert.equal("{}", s:get_definition(SM, 1))
      assert.equal('{"v":2}', s:get_definition(SM, 2))
      assert.equal("{}", s:get_definition(SM, 3))
      assert.is_nil(s:get_definition(SM, 4))
      assert.is_nil(s:get_definition(SM .. "x", 1))
    end)

    it("records the revision an execution runs", function()
      local rev = s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "STANDARD", created = 1 })
      assert(s:create_execution({ arn = SM .. ":e1", sm_arn = SM, name = "e1",
        input = "{}", started = 1, revision = rev }))
      assert(s:create_execution({ arn = SM .. ":e2", sm_arn = SM, name = "e2",
        input = "{}", started = 1 }))
      assert.equal(1, s:get_execution(SM .. ":e1").revision)
      assert.is_nil(s:get_execution(SM .. ":e2").revision)
      assert.has_error(function()
        s:create_execution({ arn = SM .. ":e3", sm_arn = SM, name = "e3", started = 1, revision = "1" })
      end, "stepflow.store.create_execution: revision must be an integer")
    end)

    it("returns nil for an unknown ARN", function()
      assert.is_nil(s:get_state_machine(SM))
    end)

    it("raises on a type other than STANDARD or EXPRESS", function()
      assert.has_error(function()
        s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
          type = "standard", created = 1 })
      end, "stepflow.store.put_state_machine: type must be STANDARD or EXPRESS")
    end)
  end)

  describe("delete_state_machine", function()
    it("deletes and tells whether the state machine was there", function()
      s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "EXPRESS", created = 1 })
      assert.is_true(s:delete_state_machine(SM))
      assert.is_false(s:delete_state_machine(SM))
      assert.is_nil(s:get_state_machine(SM))
    end)
  end)

  describe("create_execution", function()
    it("stores a RUNNING execution without a stop date", function()
      local arn = start(s, "e1", { input = '{"a":[1,2]}', started = 1234 })
      assert.same({ arn = arn, sm_arn = SM, name = "e1", status = "RUNNING",
        input = '{"a":[1,2]}', started = 1234 }, s:get_execution(arn))
    end)

    it("refuses a name already used in the same state machine", function()
      start(s, "e1")
      local ok, err = s:create_execution({ arn = exec_arn(SM, "e1") .. "x",
        sm_arn = SM, name = "e1", input = "{}", started = 1 })
      assert.is_nil(ok)
      assert.equal("ExecutionAlreadyExists", err)
    end)

    it("refuses an ARN already used", function()
      local arn = start(s, "e1")
      local ok, err = s:create_execution({ arn = arn, sm_arn = SM2,
        name = "other", input = "{}", started = 1 })
      assert.is_nil(ok)
      assert.equal("ExecutionAlreadyExists", err)
    end)

    it("accepts the same name in another state machine", function()
      start(s, "e1")
      local arn2 = start(s, "e1", { sm_arn = SM2 })
      assert.equal(SM2, s:get_execution(arn2).sm_arn)
    end)

    it("raises on an unknown status", function()
      assert.has_error(function()
        s:create_execution({ arn = "a", sm_arn = SM, name = "n",
          status = "DONE", started = 1 })
      end, "stepflow.store.create_execution: unknown status DONE")
    end)

    it("raises when started is not an integer", function()
      assert.has_error(function()
        s:create_execution({ arn = "a", sm_arn = SM, name = "n",
          started = 1.5 })
      end, "stepflow.store.create_execution: started must be an integer "
        .. "(ms since the epoch)")
    end)
  end)

  describe("find_execution", function()
    it("finds an execution by state machine and name", function()
      local arn = start(s, "e1", { input = '{"k":"v"}' })
      local e = s:find_execution(SM, "e1")
      assert.equal(arn, e.arn)
      assert.equal('{"k":"v"}', e.input)
    end)

    it("returns nil when the name is unused in that state machine", function()
      start(s, "e1")
      assert.is_nil(s:find_execution(SM2, "e1"))
      assert.is_nil(s:find_execution(SM, "e2"))
    end)
  end)

  describe("append and history", function()
    it("returns events ordered by id with their fields", function()
      local arn = start(s, "e1")
      for id = 1, 12 do
        assert(s:append(arn, id, id - 1, 5000 + id, "T" .. id,
          '{"id":' .. id .. '}'))
      end
      local h = s:history(arn)
      assert.equal(12, #h)
      for i = 1, 12 do assert.equal(i, h[i].id) end
      assert.same({ id = 10, previousEventId = 9, timestamp = 5010,
        type = "T10", details = '{"id":10}' }, h[10])
    end)

    it("pages with after, limit and reverse", function()
      local arn = start(s, "e1")
      for id = 1, 10 do assert(s:append(arn, id, id - 1, id, "X", "{}")) end
      local function ids(h)
        local r = {}
        for i, e in ipairs(h) do r[i] = e.id end
        return r
      end
      assert.same({ 4, 5, 6 }, ids(s:history(arn, { after = 3, limit = 3 })))
      assert.same({ 10, 9 }, ids(s:history(arn, { reverse = true, limit = 2 })))
      assert.same({ 6, 5 }, ids(s:history(arn, { reverse = true, after = 7,
        limit = 2 })))
    end)

    it("keeps the histories of executions apart", function()
      local a, b = start(s, "a"), start(s, "b")
      s:append(a, 1, 0, 1, "A", "{}")
      s:append(b, 1, 0, 1, "B", "{}")
      s:append(b, 2, 1, 2, "B", "{}")
      assert.equal(1, #s:history(a))
      assert.equal(2, #s:history(b))
    end)

    it("defaults prev_id to 0 and details to {}", function()
      local arn = start(s, "e1")
      s:append(arn, 1, nil, 7, "ExecutionStarted")
      local e = s:history(arn)[1]
      assert.equal(0, e.previousEventId)
      assert.equal("{}", e.details)
    end)

    it("raises on an event id the execution already has", function()
      local arn = start(s, "e1")
      s:append(arn, 1, 0, 1, "X", "{}")
      assert.has_error(function() s:append(arn, 1, 0, 1, "X", "{}") end,
        "stepflow.store.append: event 1 of " .. arn .. " already exists"
        .. " or is out of order (ids must increase)")
    end)

    it("raises on an event id below the last one, also after a commit", function()
      local arn = start(s, "e1")
      s:append(arn, 1, 0, 1, "X", "{}")
      s:append(arn, 3, 2, 1, "X", "{}")
      assert.has_error(function() s:append(arn, 2, 1, 1, "X", "{}") end,
        "stepflow.store.append: event 2 of " .. arn .. " already exists"
        .. " or is out of order (ids must increase)")
      assert(s:commit())
      assert.has_error(function() s:append(arn, 3, 2, 1, "X", "{}") end)
      assert(s:append(arn, 4, 3, 1, "X", "{}"))
    end)

    it("raises on an event type the row format cannot hold", function()
      local arn = start(s, "e1")
      for _, t in ipairs({ "", "Task Scheduled", "X\n", ("X"):rep(101) }) do
        assert.has_error(function() s:append(arn, 1, 0, 1, t, "{}") end,
          "stepflow.store.append: event type must be 1 to 100 bytes "
          .. "without spaces or control characters")
      end
      assert(s:append(arn, 1, 0, 1, ("X"):rep(100), "{}"))
    end)

    it("keeps details of any text, newlines and digits included", function()
      local arn = start(s, "e1")
      -- PostgreSQL's text cannot hold NUL bytes (JSON never has them raw)
      local texts = { "", "\n", "12 3 4 X 5\n{}\n", backend.sqlite and ("\0x\n"):rep(50) or ("x\n"):rep(50) }
      if not backend.sqlite then
        assert.has_error(function() s:append(arn, 9, 0, 1, "T", "a\0b") end,
          "stepflow.store.append: details hold a NUL byte, which PostgreSQL's text cannot store")
      end
      for i, t in ipairs(texts) do assert(s:append(arn, i, i - 1, -i, "T", t)) end
      local h = s:history(arn)
      for i, t in ipairs(texts) do
        assert.equal(t, h[i].details)
        assert.equal(-i, h[i].timestamp)
      end
      assert(s:commit())
      h = s:history(arn, { reverse = true })
      for i, t in ipairs(texts) do assert.equal(t, h[#texts + 1 - i].details) end
    end)

    it("reads events written over several groups, in both orders and pages", function()
      local arn = start(s, "e1")
      local id = 0
      for _ = 1, 4 do
        for _ = 1, 5 do
          id = id + 1
          assert(s:append(arn, id, id - 1, id, "E" .. id, '{"n":' .. id .. '}'))
        end
        assert(s:commit())
      end
      local function ids(h)
        local r = {}
        for i, e in ipairs(h) do r[i] = e.id end
        return r
      end
      assert.same({ 4, 5, 6, 7 }, ids(s:history(arn, { after = 3, limit = 4 })))
      assert.same({ 12, 11, 10 }, ids(s:history(arn, { reverse = true, after = 13, limit = 3 })))
      local all = s:history(arn)
      assert.equal(20, #all)
      for i = 1, 20 do
        assert.same({ id = i, previousEventId = i - 1, timestamp = i, type = "E" .. i,
          details = '{"n":' .. i .. '}' }, all[i])
      end
    end)

    it("raises on an ARN that is not a string", function()
      assert.has_error(function() s:append(nil, 1, 0, 1, "X", "{}") end,
        "stepflow.store.append: arn must be a string")
    end)

    it("raises on an unknown execution", function()
      assert.has_error(function() s:append("arn:nope", 1, 0, 1, "X", "{}") end,
        "stepflow.store.append: no execution arn:nope")
    end)

    it("returns ExecutionDoesNotExist for the history of an unknown ARN", function()
      local h, err = s:history("arn:nope")
      assert.is_nil(h)
      assert.equal("ExecutionDoesNotExist", err)
    end)
  end)

  describe("finish_execution", function()
    it("sets status, output, error, cause and stop date", function()
      local arn = start(s, "e1", { started = 10 })
      assert.is_true(s:finish_execution(arn, "FAILED", nil, "Oops", "bad", 99))
      assert.same({ arn = arn, sm_arn = SM, name = "e1", status = "FAILED",
        input = '{"n":1}', error = "Oops", cause = "bad", started = 10,
        stopped = 99 }, s:get_execution(arn))
    end)

    it("refuses an execution that is no longer RUNNING", function()
      local arn = start(s, "e1")
      assert.is_true(s:finish_execution(arn, "SUCCEEDED", "{}", nil, nil, 5))
      local ok, err = s:finish_execution(arn, "ABORTED", nil, nil, nil, 6)
      assert.is_nil(ok)
      assert.equal("ExecutionNotRunning", err)
      assert.equal("SUCCEEDED", s:get_execution(arn).status)
    end)

    it("returns ExecutionDoesNotExist for an unknown ARN", function()
      local ok, err = s:finish_execution("arn:x", "ABORTED", nil, nil, nil, 6)
      assert.is_nil(ok)
      assert.equal("ExecutionDoesNotExist", err)
    end)

    it("raises on RUNNING as a final status", function()
      local arn = start(s, "e1")
      assert.has_error(function()
        s:finish_execution(arn, "RUNNING", nil, nil, nil, 1)
      end, "stepflow.store.finish_execution: status must be SUCCEEDED, "
        .. "FAILED, TIMED_OUT or ABORTED")
    end)
  end)

  describe("list_executions", function()
    local function names(list)
      local r = {}
      for i, e in ipairs(list) do r[i] = e.name end
      return r
    end

    before_each(function()
      start(s, "a", { started = 1 })
      start(s, "b", { started = 2 })
      start(s, "c", { started = 3, sm_arn = SM2 })
      start(s, "d", { started = 4 })
      s:finish_execution(exec_arn(SM, "b"), "SUCCEEDED", "{}", nil, nil, 5)
      s:finish_execution(exec_arn(SM2, "c"), "FAILED", nil, "E", "C", 5)
    end)

    it("lists all executions newest first", function()
      assert.same({ "d", "c", "b", "a" }, names(s:list_executions()))
    end)

    it("filters by status", function()
      assert.same({ "d", "a" }, names(s:list_executions({ status = "RUNNING" })))
      assert.same({ "c" }, names(s:list_executions({ status = "FAILED" })))
      assert.same({}, names(s:list_executions({ status = "ABORTED" })))
    end)

    it("filters by state machine", function()
      assert.same({ "d", "b", "a" }, names(s:list_executions({ sm_arn = SM })))
    end)

    it("filters by status and state machine together", function()
      assert.same({ "b" }, names(s:list_executions({ sm_arn = SM,
        status = "SUCCEEDED" })))
    end)

    it("stops at limit", function()
      assert.same({ "d", "c" }, names(s:list_executions({ limit = 2 })))
    end)

    it("raises on an unknown status", function()
      assert.has_error(function() s:list_executions({ status = "DONE" }) end,
        "stepflow.store.list_executions: unknown status DONE")
    end)
  end)

  describe("running", function()
    it("lists RUNNING executions oldest first, with events on request", function()
      local a = start(s, "a", { started = 1 })
      local b = start(s, "b", { started = 2 })
      local c = start(s, "c", { started = 3 })
      s:append(a, 1, 0, 1, "ExecutionStarted", "{}")
      s:append(c, 1, 0, 1, "ExecutionStarted", "{}")
      s:append(c, 2, 1, 2, "TaskScheduled", "{}")
      s:finish_execution(b, "ABORTED", nil, nil, nil, 3)
      local r = s:running({ events = true })
      assert.equal(2, #r)
      assert.equal(a, r[1].arn)
      assert.equal(c, r[2].arn)
      assert.equal(1, #r[1].events)
      assert.equal("TaskScheduled", r[2].events[2].type)
      assert.is_nil(s:running()[1].events)
    end)
  end)

  describe("pending", function()
    it("counts the writes of the open group and resets on commit", function()
      assert.equal(0, s:pending())
      local arn = start(s, "e1")
      s:append(arn, 1, 0, 1, "X", "{}")
      assert.equal(2, s:pending())
      assert.is_true(s:commit())
      assert.equal(0, s:pending())
    end)
  end)

  describe("commit", function()
    it("returns true when nothing is pending", function()
      assert.is_true(s:commit())
    end)
  end)

  describe("groups seen from a second connection", function()
    local path, s2, reader
    before_each(function()
      path = backend.fresh()
      s2 = assert(store.open(path))
      reader = nil
    end)
    after_each(function()
      if reader then reader:close() end
      s2:close()
      backend.remove(path)
    end)

    it("makes events visible only after commit", function()
      local arn = start(s2, "e1")
      assert.is_true(s2:commit())
      reader = assert(store.open(path, { read_only = true }))
      s2:append(arn, 1, 0, 1, "ExecutionStarted", "{}")
      s2:append(arn, 2, 1, 2, "PassStateEntered", "{}")
      assert.equal(2, #s2:history(arn))  -- the writer sees its own group
      assert.same({}, reader:history(arn))
      assert.is_true(s2:commit())
      assert.equal(2, #reader:history(arn))
    end)

    it("commits the final events and the final status together", function()
      local arn = start(s2, "e1")
      s2:append(arn, 1, 0, 1, "ExecutionStarted", "{}")
      assert.is_true(s2:commit())
      reader = assert(store.open(path, { read_only = true }))
      s2:append(arn, 2, 1, 2, "ExecutionSucceeded", '{"output":"{}"}')
      s2:finish_execution(arn, "SUCCEEDED", "{}", nil, nil, 2)
      assert.equal("RUNNING", reader:get_execution(arn).status)
      assert.equal(1, #reader:history(arn))
      assert.is_true(s2:commit())
      assert.equal("SUCCEEDED", reader:get_execution(arn).status)
      assert.equal(2, #reader:history(arn))
    end)

    it("makes a new execution invisible to find_execution before commit", function()
      start(s2, "e1")
      reader = assert(store.open(path, { read_only = true }))
      assert.is_nil(reader:find_execution(SM, "e1"))
      s2:commit()
      assert.equal("e1", reader:find_execution(SM, "e1").name)
    end)
  end)

  describe("read_only", function()
    it("refuses writes with a message", function()
      local path = backend.fresh()
      assert(store.open(path)):close()
      local r = assert(store.open(path, { read_only = true }))
      local ok, err = r:put_state_machine({ arn = SM, name = "orders",
        definition = "{}", type = "STANDARD", created = 1 })
      r:close()
      backend.remove(path)
      assert.is_nil(ok)
      assert.equal("store: opened read-only", err)
    end)

    if backend.sqlite then it("refuses a file that does not exist", function()
      local path = new_path()
      local r, err = store.open(path, { read_only = true })
      assert.is_nil(r)
      assert.equal("store: " .. path .. ": No such file or directory", err)
    end) end
  end)

  describe("close", function()
    it("commits what is pending", function()
      local path = backend.fresh()
      local w = assert(store.open(path))
      local arn = start(w, "e1")
      w:append(arn, 1, 0, 1, "ExecutionStarted", "{}")
      assert.is_true(w:close())
      local r = assert(store.open(path))
      local h = r:history(arn)
      r:close()
      backend.remove(path)
      assert.equal(1, #h)
    end)

    it("makes later calls raise", function()
      local w = assert(store.open(":memory:"))
      w:close()
      assert.has_error(function() w:get_execution("x") end,
        "attempt to use a closed store")
    end)
  end)
  describe("stop requests", function()
    local function file_store()
      local p = backend.fresh()
      local fs = assert(store.open(p))
      return fs, p
    end
    local rm = backend.remove

    it("are recorded without the engine lock and read and deleted by the engine", function()
      local fs, p = file_store()
      assert(store.request_stop(p, "arn:a", "E", "because"))
      assert(store.request_stop(p, "arn:b"))
      assert(store.request_stop(p, "arn:a", "E2", nil))  -- replaces
      local list = fs:stop_requests()
      assert.equal(2, #list)
      local by = {}
      for _, r in ipairs(list) do by[r.arn] = r end
      assert.equal("E2", by["arn:a"].error)
      assert.is_nil(by["arn:a"].cause)
      assert.is_nil(by["arn:b"].error)
      assert.equal("integer", math.type(by["arn:b"].requested))
      assert(fs:delete_stop_request("arn:a"))
      assert(fs:commit())
      assert.same({ "arn:b" }, (function()
        local r = {}
        for i, x in ipairs(fs:stop_requests()) do r[i] = x.arn end
        return r
      end)())
      fs:close()
      rm(p)
    end)

    it("lists the RUNNING executions added after a sequence number, for an engine to pick up", function()
      local fs, p = file_store()
      assert(fs:put_state_machine({ arn = SM, name = "orders", definition = "{}", type = "STANDARD", created = 1 }))
      assert(fs:create_execution({ arn = SM .. ":a", sm_arn = SM, name = "a", input = "{}", started = 1 }))
      assert(fs:commit())
      local seen = fs:running_after(0)
      assert.equal(1, #seen)
      local seq = seen[1].seq
      -- a client adds two, finishes one of them
      local client = assert(store.open(p, { client = true }))
      assert(client:create_execution({ arn = SM .. ":b", sm_arn = SM, name = "b", input = "{}", started = 2 }))
      assert(client:create_execution({ arn = SM .. ":c", sm_arn = SM, name = "c", input = "{}", started = 3 }))
      assert(client:append(SM .. ":c", 1, 0, 3, "ExecutionStarted", "{}"))
      assert(client:finish_execution(SM .. ":b", "ABORTED", nil, nil, nil, 4))
      assert(client:commit())
      client:close()
      local new = fs:running_after(seq)
      assert.equal(1, #new)
      assert.equal(SM .. ":c", new[1].arn)
      assert.is_true(new[1].seq > seq)
      assert.is_nil(new[1]._key)
      assert.equal(1, #fs:history(SM .. ":c"))
      fs:close()
      rm(p)
    end)

    if not backend.sqlite then return end
    it("opens as a client only a store of this version, never creating one", function()
      local ok, err = store.open(":memory:", { client = true })
      assert.is_nil(ok)
      assert.matches("cannot be opened as a client", err)
      local p = os.tmpname()  -- empty file
      ok, err = store.open(p, { client = true })
      assert.is_nil(ok)
      assert.matches("not a stepflow store %(empty database%)", err)
      assert.equal("", (function() local f = io.open(p, "rb"); local d = f:read("a"); f:close(); return d end)())
      os.remove(p)
      ok, err = store.open(p, { client = true })
      assert.is_nil(ok)
      assert.matches("No such file", err)
      assert.is_nil(io.open(p .. ".lock"))
    end)

    it("refuses what is not a store of this version, with a message", function()
      local ok, err = store.request_stop(":memory:", "arn:a")
      assert.is_nil(ok)
      assert.matches("private to its engine", err)
      local p = os.tmpname()
      ok, err = store.request_stop(p, "arn:a")  -- an empty file
      assert.is_nil(ok)
      assert.matches("not a stepflow store", err)
      os.remove(p)
      ok, err = store.request_stop(p, "arn:a")
      assert.is_nil(ok)
      assert.matches("No such file", err)
      assert.has_error(function() store.request_stop(p, 7) end,
        "stepflow.store.request_stop: arn must be a string")
    end)
  end)
end)
end
