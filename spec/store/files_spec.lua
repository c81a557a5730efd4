-- Specs of stepflow.store on files: schema, reopen, refused files left
-- untouched, the engine lock (same process, child process, killed holder)
-- and durability across close and crash.
local store = require("stepflow.store")

local SM = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
local E1 = "arn:aws:states:us-east-1:123456789012:execution:orders:e1"

local function new_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function remove_store(p)
  for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do
    os.remove(p .. suffix)
  end
end

local function read_file(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local d = f:read("a")
  f:close()
  return d
end

local function write_file(p, data)
  local f = assert(io.open(p, "wb"))
  f:write(data)
  f:close()
end

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function be32(n)
  return string.pack(">I4", n)
end

local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- Makes a store with a state machine, an execution and `n` events.
local function make_store(p, n)
  local s = assert(store.open(p))
  assert(s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
    type = "STANDARD", created = 1 }))
  assert(s:create_execution({ arn = E1, sm_arn = SM, name = "e1",
    input = "{}", started = 1 }))
  for id = 1, n or 0 do
    assert(s:append(E1, id, id - 1, id, "X", ('{"pad":"%s"}'):format(
      ("p"):rep(100))))
  end
  assert(s:close())
end

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Runs Lua code in a child lua5.4 that can require stepflow.store and
-- knows the store path as P; returns its output.
local function child(p, code, shell_prefix)
  local prog = ("package.path = %q; package.cpath = %q; P = %q; "
    .. "local store = require('stepflow.store'); %s")
    :format(package.path, package.cpath, p, code)
  local f = assert(io.popen((shell_prefix or "") .. "lua5.4 -e "
    .. shell_quote(prog) .. " 2>&1"))
  local out = f:read("a")
  f:close()
  return out
end

-- Runs SQL in Python's sqlite3 (another application writing a database):
-- on each path its script, in one python3 process.
local function python_sqlite_many(jobs)
  local args = {}
  for _, job in ipairs(jobs) do
    args[#args + 1] = shell_quote(job[1])
    args[#args + 1] = shell_quote(job[2])
  end
  local cmd = "env -u LD_PRELOAD python3 -c " .. shell_quote(
    "import sqlite3, sys\n"
    .. "for p, sql in zip(sys.argv[1::2], sys.argv[2::2]):\n"
    .. "  c = sqlite3.connect(p); c.executescript(sql); c.commit(); c.close()\n")
    .. " " .. table.concat(args, " ")
  assert(os.execute(cmd), "python3 with sqlite3 is needed")
end

local function python_sqlite(p, sql)
  python_sqlite_many({ { p, sql } })
end

describe("stepflow.store", function()
  local path
  before_each(function() path = new_path() end)
  after_each(function() remove_store(path) end)

  describe("open", function()
    it("creates a store marked with stepflow's application id and version", function()
      make_store(path)
      local d = read_file(path)
      assert.equal("SQLite format 3\0", d:sub(1, 16))
      assert.equal(be32(0x53464C57), d:sub(69, 72))
      assert.equal(be32(store.VERSION), d:sub(61, 64))
    end)

    it("puts the file in WAL mode", function()
      make_store(path)
      local d = read_file(path)
      assert.equal("\2\2", d:sub(19, 20))  -- header bytes 18-19: 2 = WAL
    end)

    it("reopens a store with its data", function()
      make_store(path, 3)
      local s = assert(store.open(path))
      local e = s:get_execution(E1)
      local h = s:history(E1)
      s:close()
      assert.equal("e1", e.name)
      assert.equal(3, #h)
    end)

    it("accepts an empty file as a new store", function()
      write_file(path, "")
      local s = assert(store.open(path))
      s:close()
      assert.equal("SQLite format 3\0", read_file(path):sub(1, 16))
    end)

    it("checks the whole file with verify", function()
      make_store(path, 200)
      local s = assert(store.open(path, { verify = true }))
      s:close()
    end)

    it("raises on a path that is not a non-empty string", function()
      assert.has_error(function() store.open("") end,
        "stepflow.store.open: path must be a non-empty string")
    end)

    it("fails with a message and not_found when the directory does not exist", function()
      local s, err, info = store.open("/nonexistent-dir/x.db")
      assert.is_nil(s)
      assert.equal("store: /nonexistent-dir/x.db: no such folder to create it in", err)
      assert.same({ kind = "not_found" }, info)
      s, err, info = store.open("/nonexistent-dir/x.db", { read_only = true })
      assert.is_nil(s)
      assert.equal("store: /nonexistent-dir/x.db: No such file or directory", err)
      assert.same({ kind = "not_found" }, info)
    end)

    it("refuses a folder, with not_a_file", function()
      local dir = new_path()
      assert(os.execute("mkdir " .. dir))
      for _, opts in ipairs({ {}, { read_only = true }, { client = true } }) do
        local s, err, info = store.open(dir, opts)
        assert.is_nil(s)
        assert.equal("store: " .. dir .. ": a folder, not a store file", err)
        assert.same({ kind = "not_a_file" }, info)
      end
      os.remove(dir)
    end)
  end)

  describe("open of a file that is not a usable store", function()
    -- Opens twice: without PATH.lock (the header is read before the lock
    -- file is made) and with it (only SQLite reads the file, under the
    -- lock); `pattern_locked` is the message of the second open when it
    -- differs. Both leave the file as it was and say why with `info`
    -- (`info_locked` for the second when it differs).
    local function refused(data_before, pattern, pattern_locked, info, info_locked)
      os.remove(path .. ".lock")
      for i, p in ipairs({ pattern, pattern_locked or pattern }) do
        local s, err, why = store.open(path)
        assert.is_nil(s)
        assert.matches(p, err, 1, true)
        assert.truthy(err:find(path, 1, true))
        assert.equal(data_before, read_file(path))
        if info then assert.same(i == 2 and info_locked or info, why) end
        write_file(path .. ".lock", "")
      end
    end

    it("refuses a text file and leaves it and its directory alone", function()
      local text = ("not a database\n"):rep(200)
      write_file(path, text)
      local s, err = store.open(path)
      assert.is_nil(s)
      assert.equal("store: " .. path .. ": not a stepflow store (not an "
        .. "SQLite database); left untouched", err)
      assert.is_false(exists(path .. ".lock"))
      refused(text, "not a stepflow store (not an SQLite database); left "
        .. "untouched", nil, { kind = "not_ours" })
    end)

    it("refuses a file shorter than an SQLite header", function()
      write_file(path, "hi")
      refused("hi", "not a stepflow store (not an SQLite database)")
    end)

    it("refuses an SQLite database of another application", function()
      python_sqlite(path, "CREATE TABLE accounts (id INTEGER, owner TEXT);"
        .. "INSERT INTO accounts VALUES (1, 'ann');")
      local before = read_file(path)
      refused(before, "not a stepflow store (an SQLite database of another "
        .. "application); left untouched", nil, { kind = "not_ours" })
    end)

    it("refuses a database of another application without tables", function()
      python_sqlite(path, "PRAGMA user_version = 7;")
      local before = read_file(path)
      refused(before, "an SQLite database of another application")
    end)

    it("refuses a database with another application id", function()
      make_store(path)
      local d = read_file(path)
      d = d:sub(1, 68) .. be32(0x12345678) .. d:sub(73)
      write_file(path, d)
      refused(d, "an SQLite database of another application")
    end)

    it("refuses a store of a newer version", function()
      make_store(path)
      local d = read_file(path)
      d = d:sub(1, 60) .. be32(store.VERSION + 1) .. d:sub(65)
      write_file(path, d)
      refused(d, ("written by a newer stepflow (store version %d, this build "
        .. "reads up to %d); left untouched"):format(store.VERSION + 1,
        store.VERSION), nil, { kind = "newer_version", version = store.VERSION + 1 })
    end)

    it("refuses a store whose schema page is garbage", function()
      make_store(path, 50)
      local d = read_file(path)
      d = d:sub(1, 100) .. ("\171"):rep(3996) .. d:sub(4097)
      write_file(path, d)
      refused(d, "corrupt (database disk image is malformed); left untouched", nil,
        { kind = "corrupt" })
    end)

    it("refuses a store with an invalid header", function()
      make_store(path, 50)
      local d = read_file(path)
      d = d:sub(1, 16) .. ("\171"):rep(#d - 16)
      write_file(path, d)
      refused(d, "corrupt (invalid SQLite header); left untouched",
        "not a stepflow store (not an SQLite database); left untouched",
        { kind = "corrupt" }, { kind = "not_ours" })
    end)

    it("refuses a truncated store", function()
      make_store(path, 200)
      local d = read_file(path):sub(1, 8192)
      write_file(path, d)
      refused(d, "corrupt (")
    end)

    it("reports a damaged data page to the call that reads it", function()
      make_store(path, 200)
      local d = read_file(path)
      write_file(path, d:sub(1, 6 * 4096) .. ("\0"):rep(#d - 6 * 4096))
      local s = assert(store.open(path))
      local h, err = s:history(E1)
      s:close()
      assert.is_nil(h)
      assert.equal("store: history: database disk image is malformed", err)
    end)

    it("finds a damaged data page with verify", function()
      make_store(path, 200)
      local d = read_file(path)
      d = d:sub(1, 3 * 4096) .. ("\0"):rep(4096) .. d:sub(4 * 4096 + 1)
      write_file(path, d)
      local s, err = store.open(path, { verify = true })
      assert.is_nil(s)
      assert.matches("corrupt (", err, 1, true)
      assert.equal(d, read_file(path))
    end)
  end)

  describe("event rows written by something else", function()
    it("reports a row that is not in row format as corrupt, in both orders", function()
      make_store(path)
      local bad = { "x", "1 0 1 X 5\n{}\n", "1 0 1 X 2\n{}", "1 0 1  2\n{}\n",
        "99999999999999999999 0 1 X 2\n{}\n", "1 0 1 X -1\n\n", "1 0 1 X 2\n{}\n2 1" }
      -- a copy of the store per row, all written by one python3
      local jobs = {}
      for i, data in ipairs(bad) do
        assert(os.execute(("cp %s %s-%d"):format(path, path, i)))
        jobs[i] = { path .. "-" .. i, ("DELETE FROM events; INSERT INTO events (exec, first, last, data) "
          .. "VALUES (1, 1, 2, '%s');"):format(data:gsub("\n", "' || char(10) || '")) }
      end
      python_sqlite_many(jobs)
      for i, data in ipairs(bad) do
        local copy = path .. "-" .. i
        local s = assert(store.open(copy))
        for _, reverse in ipairs({ false, true }) do
          local h, err = s:history(E1, { reverse = reverse })
          assert.is_nil(h, data)
          assert.equal("store: history: corrupt event row", err)
        end
        assert(s:close())
        remove_store(copy)
      end
      -- and a good one, for contrast
      python_sqlite(path, "DELETE FROM events; INSERT INTO events (exec, first, last, data) "
        .. "VALUES (1, 1, 1, '1 0 5 X 2' || char(10) || '{}' || char(10));")
      local s = assert(store.open(path))
      assert.same({ { id = 1, previousEventId = 0, timestamp = 5, type = "X", details = "{}" } },
        s:history(E1))
      assert(s:close())
    end)
  end)

  describe("upgrade of a version 1 store", function()
    -- A store as version 1 wrote it: one row per event.
    local V1 = [[
      CREATE TABLE state_machines (arn TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL, definition TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),
        created INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE executions (id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE, sm_arn TEXT NOT NULL, name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED',
          'FAILED', 'TIMED_OUT', 'ABORTED')),
        input TEXT, output TEXT, error TEXT, cause TEXT,
        started INTEGER NOT NULL, stopped INTEGER, UNIQUE (sm_arn, name));
      CREATE INDEX executions_by_status ON executions (status, started);
      CREATE TABLE events (seq INTEGER PRIMARY KEY, exec INTEGER NOT NULL,
        id INTEGER NOT NULL, prev INTEGER NOT NULL, ts INTEGER NOT NULL,
        type TEXT NOT NULL, details TEXT NOT NULL);
      CREATE UNIQUE INDEX events_by_exec ON events (exec, id);
      INSERT INTO state_machines VALUES ('%s', 'orders', '{}', 'STANDARD', 1);
      INSERT INTO executions (arn, sm_arn, name, status, input, started)
        VALUES ('%s', '%s', 'e1', 'RUNNING', '{"a":1}', 5);
      INSERT INTO events (exec, id, prev, ts, type, details) VALUES
        (1, 1, 0, 10, 'ExecutionStarted', '{"d":{"input":{"a":1}}}'),
        (1, 2, 1, 11, 'PassStateEntered', '{"d":{"name":"é ' || char(10) || '"}}');
      PRAGMA application_id = 1397115991;
      PRAGMA user_version = 1;
    ]]

    it("upgrades it in place on a writable open, events and all", function()
      python_sqlite(path, V1:format(SM, E1, SM))
      local s = assert(store.open(path))
      local h = assert(s:history(E1))
      assert.same({
        { id = 1, previousEventId = 0, timestamp = 10, type = "ExecutionStarted",
          details = '{"d":{"input":{"a":1}}}' },
        { id = 2, previousEventId = 1, timestamp = 11, type = "PassStateEntered",
          details = '{"d":{"name":"é \n"}}' },
      }, h)
      assert.has_error(function() s:append(E1, 2, 1, 12, "X", "{}") end)
      -- the one definition version 1 kept is revision 1, which it runs
      assert.equal("{}", s:get_definition(SM, 1))
      assert.equal(1, s:get_state_machine(SM).revision)
      assert.equal(1, s:get_execution(E1).revision)
      assert(s:append(E1, 3, 2, 12, "PassStateExited", "{}"))
      assert(s:finish_execution(E1, "SUCCEEDED", "{}", nil, nil, 13))
      assert(s:commit())  -- the group holds SQLite's write lock until then
      assert(store.request_stop(path, E1, "E", "C"))  -- the new table exists
      assert.equal(1, #s:stop_requests())
      assert(s:close())
      s = assert(store.open(path, { read_only = true }))
      assert.equal(3, #s:history(E1))
      assert.equal("SUCCEEDED", s:get_execution(E1).status)
      assert(s:close())
      assert.equal(be32(store.VERSION), read_file(path):sub(61, 64))
    end)

    it("refuses a read-only open, saying how to upgrade, and leaves it alone", function()
      python_sqlite(path, V1:format(SM, E1, SM))
      local before = read_file(path)
      local s, err, info = store.open(path, { read_only = true })
      assert.is_nil(s)
      assert.equal("store: " .. path .. ": store version 1 needs an upgrade to version "
        .. store.VERSION .. ", which a read-only open cannot do; open it once "
        .. "read-write to upgrade it", err)
      assert.same({ kind = "needs_upgrade", version = 1 }, info)
      s, err = store.open(path, { client = true })
      assert.is_nil(s)
      assert.matches("which a client open cannot do", err)
      assert.equal(before, read_file(path))
    end)
  end)

  describe("lock", function()
    it("refuses a second open in the same process", function()
      local s = assert(store.open(path))
      local s2, err, info = store.open(path)
      s:close()
      assert.is_nil(s2)
      assert.equal(("store: %s: already open in this process (pid %d)")
        :format(path, my_pid()), err)
      assert.same({ kind = "already_open", pid = my_pid() }, info)
    end)

    it("refuses an open from another process, naming the holder", function()
      local s = assert(store.open(path))
      local out = child(path, "local s, err, info = store.open(P); "
        .. "io.write(tostring(s), ' ', tostring(err), ' ', info.kind, ' ', info.pid)")
      s:close()
      assert.equal(("nil store: %s: locked by process %d (another engine "
        .. "uses this store) locked %d"):format(path, my_pid(), my_pid()), out)
    end)

    it("is shared by a symbolic link to the store", function()
      make_store(path)
      local link = path .. "-link"
      assert(os.execute(("ln -s %s %s"):format(path, link)))
      local s = assert(store.open(path))
      local s2, err = store.open(link)
      s:close()
      os.remove(link)
      assert.is_nil(s2)
      assert.equal(("store: %s: already open in this process (pid %d)")
        :format(link, my_pid()), err)
    end)

    it("is released by close", function()
      assert(store.open(path)):close()
      local s = assert(store.open(path))
      s:close()
      local out = child(path, "io.write(tostring(store.open(P) ~= nil))")
      assert.equal("true", out)
    end)

    it("is released when the holder is killed", function()
      local out = child(path, "local s = assert(store.open(P)); "
        .. "io.write('held '); io.flush(); "
        .. "local f = io.open('/proc/self/stat'); local pid = f:read('n'); "
        .. "os.execute('kill -9 ' .. pid); io.write('alive')")
      assert.equal("held ", out:sub(1, 5))
      assert.is_nil(out:find("alive"))
      local s, err = store.open(path)
      assert.is_nil(err)
      s:close()
    end)

    it("keeps SQLite's own locks when a second open is refused or a reader closes", function()
      -- In WAL mode each connection holds a POSIX read lock on the file;
      -- closing any descriptor of the file would drop it for the whole
      -- process, and another process could then delete the WAL under us.
      local probe = ("env -u LD_PRELOAD python3 -c %s %s"):format(
        shell_quote("import fcntl, os, sys\n"
        .. "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        .. "try:\n"
        .. "  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)\n"
        .. "  print('free')\n"
        .. "except OSError:\n"
        .. "  print('held')\n"), shell_quote(path))
      local function sqlite_lock()
        local f = assert(io.popen(probe))
        local r = f:read("l")
        f:close()
        return r
      end
      make_store(path, 1)
      local s = assert(store.open(path))
      assert(s:get_execution(E1))
      assert.equal("held", sqlite_lock())
      assert.is_nil(store.open(path))
      local r = assert(store.open(path, { read_only = true }))
      assert(r:get_execution(E1))
      r:close()
      local held = sqlite_lock()
      s:close()
      assert.equal("held", held)
    end)

    it("lets read-only openers in while an engine holds the lock", function()
      make_store(path, 1)
      local s = assert(store.open(path))
      local r = assert(store.open(path, { read_only = true }))
      local n = #r:history(E1)
      r:close()
      s:close()
      assert.equal(1, n)
    end)
  end)

  describe("a file this process may only read", function()
    -- For root, the capabilities that override permissions are dropped
    -- (spec/cli/helper.lua): the files and folders are really read-only.
    local prefix, why = require("cli.helper").reader_prefix()
    local dir
    before_each(function()
      dir = new_path()
      assert(os.execute("mkdir " .. dir))
      path = dir .. "/s.db"
    end)
    after_each(function() os.execute("chmod -R u+w " .. dir .. "; rm -rf " .. dir) end)

    -- What each kind of open says in a child process that may only read.
    local function opens()
      return child(path, [[
        for _, opts in ipairs({ {}, { client = true }, { read_only = true } }) do
          local s, err, info = store.open(P, opts)
          if s then
            io.write("ok ", #s:history("]] .. E1 .. [["), "\n")
            s:close()
          else
            io.write(info.kind, " ", err, "\n")
          end
        end]], prefix)
    end

    it("is refused as read_only by a writable or client open, and read by a read-only one", function()
      if not prefix then return pending(why) end
      make_store(path, 3)
      assert(os.execute("chmod 444 " .. path))
      assert.equal(("read_only store: %s: this process may only read it (a read-only open can)\n"):format(path)
        .. ("read_only store: %s: this process may only read it (a read-only open can)\n"):format(path)
        .. "ok 3\n", opens())
    end)

    it("in a read-only folder: read as it was closed, leaving nothing beside it", function()
      if not prefix then return pending(why) end
      make_store(path, 3)
      assert(os.execute("chmod 555 " .. dir))
      -- the lock file was made with the store: the engine's open takes it
      -- (it may write that file), then SQLite cannot make its -wal there
      local refusal = ("read_only store: %s: this process may not write its folder (attempt to write a "
        .. "readonly database); a read-only open can read it\n"):format(path)
      assert.equal(refusal .. refusal .. "ok 3\n", opens())
      assert(os.execute("chmod 755 " .. dir))
      os.remove(path .. ".lock")
      assert(os.execute("chmod 555 " .. dir))
      assert.equal(("read_only store: %s: this process may not write its folder (cannot create %s.lock: "
        .. "Permission denied); a read-only open can read it\n"):format(path, path)
        .. refusal .. "ok 3\n", opens())
      local p = io.popen("ls -A " .. dir)
      assert.equal("s.db\n", p:read("a"))
      p:close()
    end)

    it("in a read-only folder, refuses a store whose WAL holds commits it cannot read", function()
      if not prefix then return pending(why) end
      -- an engine killed after a commit leaves its commits in the WAL
      local out = child(path, ([[
        local s = assert(store.open(P))
        assert(s:create_execution{arn = %q, sm_arn = %q, name = "e1", input = "{}", started = 1})
        assert(s:commit())
        io.write("committed "); io.flush()
        local f = io.open("/proc/self/stat"); local pid = f:read("n")
        os.execute("kill -9 " .. pid)]]):format(E1, SM))
      assert.equal("committed ", out:sub(1, 10))
      os.remove(path .. "-shm")
      assert(os.execute("chmod 555 " .. dir))
      local last = opens():match("([^\n]*)\n$")
      assert.equal(("read_only store: %s: cannot read it: its WAL (%s-wal) holds commits that SQLite reads "
        .. "through %s-shm, which this process may not create in that folder; open it once as a user who "
        .. "may write the folder"):format(path, path, path), last)
    end)
  end)

  describe("durability", function()
    it("keeps committed groups across close and reopen", function()
      local s = assert(store.open(path))
      s:put_state_machine({ arn = SM, name = "orders", definition = "{}",
        type = "STANDARD", created = 1 })
      s:create_execution({ arn = E1, sm_arn = SM, name = "e1", input = "{}",
        started = 1 })
      for id = 1, 1000 do s:append(E1, id, id - 1, id, "X", "{}") end
      assert.is_true(s:commit())
      s:finish_execution(E1, "SUCCEEDED", '{"ok":true}', nil, nil, 2)
      assert.is_true(s:commit())
      s:close()
      s = assert(store.open(path))
      local e, h = s:get_execution(E1), s:history(E1)
      s:close()
      assert.equal("SUCCEEDED", e.status)
      assert.equal('{"ok":true}', e.output)
      assert.equal(1000, #h)
      assert.equal(1000, h[1000].id)
    end)

    it("drops the whole group when the disk refuses the commit", function()
      -- a 200 kB file size limit (SIGXFSZ ignored): the commit's WAL write
      -- fails with EFBIG, as it would on a full disk
      local out = child(path, ([[
        local s = assert(store.open(P))
        assert(s:create_execution{arn = %q, sm_arn = %q, name = "e1",
          input = "{}", started = 1})
        assert(s:append(%q, 1, 0, 1, "ExecutionStarted", "{}"))
        assert(s:commit())
        for id = 2, 2000 do
          assert(s:append(%q, id, id - 1, id, "X", ("x"):rep(200)))
        end
        local ok, err, kind = s:commit()
        io.write(tostring(ok), "|", tostring(err), " (", kind, "; ", s:last_failure().kind, ")|",
          #s:history(%q), "|")
        assert(s:append(%q, 2, 1, 2, "Y", "{}"))
        io.write(tostring(s:commit()), "|", #s:history(%q))
        s:close()
      ]]):format(E1, SM, E1, E1, E1, E1, E1), "trap '' XFSZ; ulimit -f 400; ")
      local ok, err, n, ok2, n2 = out:match("^(.-)|(.-)|(.-)|(.-)|(.-)$")
      assert.equal("nil", ok)
      -- SQLite loses the errno (EFBIG) of a failed COMMIT: an I/O error
      assert.matches("^store: commit: disk I/O error %(io; io%)", err)
      assert.equal("1", n)    -- the failed group is gone from this process
      assert.equal("true", ok2)
      assert.equal("2", n2)   -- and the next group commits normally
      local s = assert(store.open(path))
      local h = s:history(E1)
      s:close()
      assert.equal(2, #h)
      assert.equal("Y", h[2].type)
    end)

    it("keeps committed groups and drops the open one when the process dies", function()
      local out = child(path, ([[
        local s = assert(store.open(P))
        assert(s:create_execution{arn = %q, sm_arn = %q, name = "e1",
          input = "{}", started = 1})
        assert(s:append(%q, 1, 0, 1, "ExecutionStarted", "{}"))
        assert(s:append(%q, 2, 1, 2, "TaskScheduled", "{}"))
        assert(s:commit())
        assert(s:append(%q, 3, 2, 3, "TaskSucceeded", "{}"))
        s:finish_execution(%q, "SUCCEEDED", "{}", nil, nil, 3)
        io.write("committed "); io.flush()
        local f = io.open("/proc/self/stat"); local pid = f:read("n")
        os.execute("kill -9 " .. pid)
        io.write("alive")
      ]]):format(E1, SM, E1, E1, E1, E1))
      assert.equal("committed ", out:sub(1, 10))
      assert.is_nil(out:find("alive"))
      local s = assert(store.open(path))
      local e, h = s:get_execution(E1), s:history(E1)
      local running = s:running()
      s:close()
      assert.equal("RUNNING", e.status)
      assert.equal(2, #h)
      assert.equal("TaskScheduled", h[2].type)
      assert.equal(1, #running)
    end)
  end)
end)
