--- The PostgreSQL side of the specs: the database of the throwaway server
-- that `make test` starts (tools/pg_test_server sets STEPFLOW_PG_URL),
-- emptied between specs, and the list of store back ends a spec runs
-- against. Without STEPFLOW_PG_URL the PostgreSQL variants are pending.
local M = {}

--- The URL of the test database, or nil.
function M.url()
  local u = os.getenv("STEPFLOW_PG_URL")
  if u == nil or u == "" then return nil end
  return u
end

M.MISSING = "no PostgreSQL server: run the specs with `make test` (tools/pg_test_server run ...)"

--- Empties the store of the test database (every table of the
-- `stepflow` schema, none when it does not exist yet) and returns its URL.
function M.reset()
  local url = assert(M.url(), M.MISSING)
  local pg = require("stepflow.core.pg")
  local c = assert(pg.connect(url))
  assert(c:send({ { sql = "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'stepflow') "
    .. "THEN TRUNCATE stepflow.state_machines, stepflow.definitions, stepflow.executions, "
    .. "stepflow.events, stepflow.stop_requests, stepflow.engines, stepflow.resources, stepflow.task_answers, "
    .. "stepflow.activity_tasks; END IF; END $$" } }))
  local r = assert(c:wait())
  c:close()
  assert(not r[1].error, r[1].error)
  return url
end

--- Runs one SQL statement on the test database (checks in specs):
-- its rows (arrays of text).
function M.query(text, ...)
  local pg = require("stepflow.core.pg")
  local c = assert(pg.connect(assert(M.url(), M.MISSING)))
  local stmt = { sql = text, n = select("#", ...) }
  for i = 1, stmt.n do stmt[i + 1] = (select(i, ...)) end
  assert(c:send({ stmt }))
  local r = assert(c:wait())
  c:close()
  assert(not r[1].error, r[1].error)
  return r[1].rows
end

local function tmp_path()
  local p = os.tmpname()
  os.remove(p)
  return p
end

--- The store back ends: { name =, sqlite = bool, available = bool,
-- fresh() -> path of a new empty store, remove(path) }.
function M.backends()
  return {
    { name = "SQLite", sqlite = true, available = true, fresh = tmp_path,
      remove = function(p)
        for _, suffix in ipairs({ "", "-wal", "-shm", ".lock" }) do os.remove(p .. suffix) end
      end },
    { name = "PostgreSQL", sqlite = false, available = M.url() ~= nil, fresh = M.reset,
      remove = function() end },
  }
end

return M
