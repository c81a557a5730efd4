-- Specs of the store's resources (store version 3): JSON documents by kind
-- and ARN that the server keeps beside the engine's tables, and the
-- upgrade of a version 2 store.
local store = require("stepflow.store")

local A = "arn:aws:states:us-east-1:123456789012:stateMachine:a"
local B = "arn:aws:states:us-east-1:123456789012:stateMachine:b"

local function new_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function remove_store(p)
  for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(p .. suffix) end
end

local pg_helper = require("pg_helper")

for _, backend in ipairs(pg_helper.backends()) do
  describe("stepflow.store resources (" .. backend.name .. ")", function()
    it("puts, replaces, reads, lists in first-put order and deletes", function()
      if not backend.available then return pending(pg_helper.MISSING) end
      local path = backend.sqlite and ":memory:" or backend.fresh()
      local s = assert(store.open(path))
      assert.is_true(s:put_resource("state_machine", B, '{"n":1}'))
      assert.is_true(s:put_resource("state_machine", A, '{"n":2}'))
      assert.is_true(s:put_resource("state_machine", B, '{"n":3}'))
      assert(s:commit())
      assert.equal('{"n":3}', s:get_resource("state_machine", B))
      assert.is_nil(s:get_resource("state_machine", "nope"))
      assert.same({ { arn = B, data = '{"n":3}' }, { arn = A, data = '{"n":2}' } }, s:resources("state_machine"))
      assert.is_true(s:delete_resource("state_machine", B))
      assert.is_false(s:delete_resource("state_machine", B))
      assert(s:commit())
      assert.same({ { arn = A, data = '{"n":2}' } }, s:resources("state_machine"))
      s:close()
    end)
  end)
end

describe("stepflow.store resources", function()
  it("puts, replaces, reads, lists in first-put order and deletes within a group", function()
    local s = assert(store.open(":memory:"))
    assert.is_true(s:put_resource("state_machine", B, '{"n":1}'))
    assert.is_true(s:put_resource("state_machine", A, '{"n":2}'))
    assert.is_true(s:put_resource("state_machine", B, '{"n":3}'))
    assert.is_true(s:put_resource("other", A, "x"))
    assert.equal('{"n":3}', s:get_resource("state_machine", B))
    assert.is_nil(s:get_resource("state_machine", "nope"))
    assert.same({ { arn = B, data = '{"n":3}' }, { arn = A, data = '{"n":2}' } },
      s:resources("state_machine"))
    assert.is_true(s:delete_resource("state_machine", B))
    assert.is_false(s:delete_resource("state_machine", B))
    assert.same({ { arn = A, data = '{"n":2}' } }, s:resources("state_machine"))
    assert.equal("x", s:get_resource("other", A))
    s:close()
  end)

  it("refuses arguments of the wrong type", function()
    local s = assert(store.open(":memory:"))
    assert.has_error(function() s:put_resource("k", A, 1) end,
      "stepflow.store.put_resource: data must be a string")
    assert.has_error(function() s:get_resource(nil, A) end,
      "stepflow.store.get_resource: kind must be a string")
    s:close()
  end)

  it("keeps them across a reopen once committed", function()
    local path = new_path()
    local s = assert(store.open(path))
    assert(s:put_resource("state_machine", A, "{}"))
    assert(s:commit())
    s:close()
    s = assert(store.open(path, { read_only = true }))
    assert.equal("{}", s:get_resource("state_machine", A))
    s:close()
    remove_store(path)
  end)

  it("upgrades a version 2 store by adding the table, data kept", function()
    local path = new_path()
    local s = assert(store.open(path))
    assert(s:put_state_machine({ arn = A, name = "a", definition = "{}", type = "STANDARD", created = 1 }))
    assert(s:close())
    -- make it a version 2 store, as the previous build wrote it
    assert(os.execute("env -u LD_PRELOAD python3 -c \"import sqlite3; c = sqlite3.connect('" .. path
      .. "'); c.executescript('DROP TABLE resources; ALTER TABLE executions DROP COLUMN version_arn; "
      .. "ALTER TABLE executions DROP COLUMN alias_arn; ALTER TABLE executions DROP COLUMN redrive_count; "
      .. "ALTER TABLE executions DROP COLUMN redrive_date; PRAGMA user_version = 2;'); c.commit(); c.close()\""))
    local ro, err, info = store.open(path, { read_only = true })
    assert.is_nil(ro)
    assert.matches("store version 2 needs an upgrade to version " .. store.VERSION, err, 1, true)
    assert.same({ kind = "needs_upgrade", version = 2 }, info)
    s = assert(store.open(path))
    assert.equal("{}", s:get_state_machine(A).definition)
    assert(s:put_resource("state_machine", A, "{}"))
    assert(s:close())
    remove_store(path)
  end)
end)

describe("stepflow.store state machines put again after a delete", function()
  it("number their revisions after the old ones, which stay readable", function()
    local s = assert(store.open(":memory:"))
    assert.equal(1, s:put_state_machine({ arn = A, name = "a", definition = "one", type = "STANDARD", created = 1 }))
    assert.equal(2, s:put_state_machine({ arn = A, name = "a", definition = "two", type = "STANDARD", created = 1 }))
    assert.is_true(s:delete_state_machine(A))
    assert.equal(3, s:put_state_machine({ arn = A, name = "a", definition = "three", type = "STANDARD", created = 2 }))
    assert.equal("one", s:get_definition(A, 1))
    assert.equal("three", s:get_definition(A, 3))
    assert.equal(3, s:get_state_machine(A).revision)
    s:close()
  end)
end)
