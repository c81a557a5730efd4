-- fuzz/lua/known.lua: findings of the Lua fuzzer that belong to a part of
-- the tree being fixed elsewhere (the interpreter core: issue 10, "The
-- engine survives whatever one execution does"). Each entry names the
-- class and matches a finding by its kind, what and detail (Lua patterns);
-- a matching finding is reported as known and does not fail the run.
-- Remove an entry when its class is fixed.
local M = {}

M.entries = {
  -- by design: a defect of the runtime fails only its execution, and the
  -- cause keeps the traceback for the report (execution.lua)
  { name = "core: the internal-error safety net puts a Lua traceback in the cause",
    kind = "asl", what = "failed with a cause holding a Lua file:line",
    detail = "^internal error in state" },
}

--- The name of the entry f matches, or nil.
function M.match(f)
  for _, e in ipairs(M.entries) do
    if (e.kind == nil or e.kind == f.kind)
        and (e.what == nil or f.what:find(e.what, 1, true))
        and (e.detail == nil or f.detail:find(e.detail)) then
      return e.name
    end
  end
  return nil
end

return M
