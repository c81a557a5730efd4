--- The crash test's checks: what `stepflow executions --json`, `stepflow
-- history --json` and the handlers' invocation log must show at the end.
-- Each check returns a list of problems (strings); empty means fine.
local json = require("stepflow.json")
local oracle = require("crash.oracle")

local M = {}

--- Canonical text of a JSON value (keys sorted), for comparisons.
function M.canon(v)
  local ok, text = pcall(json.encode, v)
  return ok and text or ("<unencodable: " .. tostring(text) .. ">")
end

local function decode(text)
  local ok, v = pcall(json.decode, text)
  if ok then return v end
  return nil, tostring(v)
end
M.decode = decode

--- Parses lines of JSON objects. Returns records, problems.
function M.json_lines(text, what)
  local out, problems = {}, {}
  -- `history --json` prints one document {"events": [...]}: its events
  local doc = text:match("^%s*({.*})%s*$")
  local whole = doc and not doc:find("\n") and decode(doc)
  if type(whole) == "table" and type(whole.events) == "table" then
    for i, ev in ipairs(whole.events) do out[i] = ev end
    return out, problems
  end
  for line in text:gmatch("[^\n]+") do
    if line:match("%S") then
      local v, err = decode(line)
      if type(v) ~= "table" then
        problems[#problems + 1] = what .. ": not a JSON object: " .. line:sub(1, 120) ..
          (err and (" (" .. err .. ")") or "")
      else
        out[#out + 1] = v
      end
    end
  end
  return out, problems
end

local EXEC_FIELDS = { "executionArn", "name", "status", "startDate", "stateMachineArn" }

--- `executions --json` records against the expected executions
-- (`expected[name] = {output = ...}`): every name SUCCEEDED exactly once
-- with its expected output, no other execution (but names in `ignore`).
function M.executions(records, expected, ignore)
  local problems, seen = {}, {}
  local function add(msg) problems[#problems + 1] = msg end
  for _, r in ipairs(records) do
    for _, f in ipairs(EXEC_FIELDS) do
      if r[f] == nil then add("executions --json: record of " .. tostring(r.name) .. " lacks " .. f) end
    end
    local name = r.name
    if name ~= nil then
      seen[name] = (seen[name] or 0) + 1
      local exp = expected[name]
      if not exp and ignore and ignore[name] then
        seen[name] = nil
      elseif not exp then
        add("executions: unexpected execution " .. tostring(name) .. " (" .. tostring(r.status) .. ")")
      elseif r.status ~= "SUCCEEDED" then
        add("execution " .. name .. " is " .. tostring(r.status) ..
          (r.error and (" error=" .. tostring(r.error)) or "") ..
          (r.cause and (" cause=" .. tostring(r.cause):sub(1, 200)) or ""))
      else
        local a, b = M.ms_of(r.startDate), M.ms_of(r.stopDate)
        if not (a and b and b >= a) then
          add("execution " .. name .. ": startDate " .. tostring(r.startDate) .. ", stopDate " .. tostring(r.stopDate))
        end
        local out = r.output
        if type(out) == "string" then out = decode(out) end
        if M.canon(out) ~= M.canon(exp.output) then
          add("execution " .. name .. ": output " .. M.canon(out) .. ", expected " .. M.canon(exp.output))
        end
      end
    end
  end
  for name in pairs(expected) do
    local n = seen[name] or 0
    if n ~= 1 then add("executions: " .. name .. " listed " .. n .. " times (expected once)") end
  end
  table.sort(problems)
  return problems
end

-- The details object of an event, by AWS's naming.
local function details_of(ev)
  local t = ev.type
  if type(t) ~= "string" then return nil end
  if t:match("StateEntered$") then return ev.stateEnteredEventDetails end
  if t:match("StateExited$") then return ev.stateExitedEventDetails end
  return ev[t:sub(1, 1):lower() .. t:sub(2) .. "EventDetails"]
end
M.details_of = details_of

local function count_map(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. t[k] end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- One execution's `history --json` events against its expectation
-- (oracle.expect): ids 1..n in order, every previousEventId earlier,
-- (returns the problems, and the TaskStarted events per attempt key)
-- one ExecutionStarted first and one ExecutionSucceeded last with the
-- expected output, each state entered and exited as often as the logic
-- implies, every Task attempt scheduled exactly once.
function M.history(name, events, exp)
  local problems = {}
  local function add(msg) problems[#problems + 1] = "history of " .. name .. ": " .. msg end
  if #events == 0 then add("no events"); return problems end
  local entered, exited, types = {}, {}, {}
  local scheduled, wanted, iterations, running, visits = {}, {}, {}, {}, {}
  local attempt_of = {} -- TaskScheduled id -> attempt key
  local scheduled_at = {} -- attempt key -> TaskScheduled event
  local starts = {} -- attempt key -> TaskStarted events recorded for it
  for i, ev in ipairs(events) do
    if ev.id ~= i then
      add("event #" .. i .. " has id " .. tostring(ev.id) .. " (ids must be 1..n without gaps or duplicates)")
      break
    end
    local prev = ev.previousEventId
    if math.type(prev) ~= "integer" or prev < 0 or prev >= i then
      add("event " .. i .. " (" .. tostring(ev.type) .. ") has previousEventId " .. tostring(prev))
    end
    -- Events are recorded in time order: ids and timestamps agree.
    local ts, before = M.ms_of(ev.timestamp), i > 1 and M.ms_of(events[i - 1].timestamp)
    if not ts then
      add("event " .. i .. " has an unreadable timestamp " .. tostring(ev.timestamp))
    elseif before and ts < before then
      add("event " .. i .. " (" .. tostring(ev.type) .. ") is timestamped " .. (before - ts) ..
        " ms before event " .. (i - 1))
    end
    local t = tostring(ev.type)
    types[t] = (types[t] or 0) + 1
    local d = details_of(ev)
    if t:match("StateEntered$") or t:match("StateExited$") then
      local st = type(d) == "table" and d.name
      if type(st) ~= "string" then
        add("event " .. i .. " (" .. t .. ") has no state name")
      elseif t:match("Entered$") then
        entered[st] = (entered[st] or 0) + 1
        -- In the crash test's definitions a state never sees the same
        -- input twice (loop counters and Map indexes differ).
        local k = st .. " " .. tostring(d.input)
        if visits[k] then
          add(t .. " " .. st .. " recorded twice with the same input (events " .. visits[k] .. " and " .. i .. ")")
        end
        visits[k] = i
      else
        exited[st] = (exited[st] or 0) + 1
      end
    elseif t == "TaskScheduled" then
      local params = type(d) == "table" and d.parameters
      local p = type(params) == "string" and decode(params)
      if type(p) ~= "table" then
        add("event " .. i .. " TaskScheduled: parameters is not a JSON object text: " .. M.canon(params))
      else
        local key = oracle.key(p.st, p.tag, p.step, p.rc)
        scheduled[key] = (scheduled[key] or 0) + 1
        attempt_of[i] = p
        scheduled_at[key] = ev
      end
    elseif t == "TaskStarted" then
      local sched = events[ev.previousEventId]
      while sched and sched.type == "TaskStarted" do sched = events[sched.previousEventId] end
      local p = sched and attempt_of[sched.id]
      if p then
        local key = oracle.key(p.st, p.tag, p.step, p.rc)
        starts[key] = (starts[key] or 0) + 1
      end
    elseif t == "MapIterationStarted" or t == "MapIterationSucceeded" or t == "MapIterationFailed" then
      -- Each Map state of the crash test's definitions runs once per execution.
      local map = type(d) == "table" and tostring(d.name) or "?"
      local it = type(d) == "table" and (map .. " index " .. tostring(d.index)) or "?"
      running[map] = (running[map] or 0) + (t == "MapIterationStarted" and 1 or -1)
      local max = oracle.MAX_CONCURRENCY[map]
      if max and max > 0 and running[map] > max then
        add(map .. " runs " .. running[map] .. " iterations at event " .. i .. ", more than its MaxConcurrency " .. max)
      end
      local k = t .. " " .. it
      if iterations[k] then
        add(k .. " recorded twice (events " .. iterations[k] .. " and " .. i .. ")")
      end
      iterations[k] = i
    end
  end
  for _, p in ipairs(M.timing(events, attempt_of, scheduled_at)) do add(p) end
  if events[1].type ~= "ExecutionStarted" then add("first event is " .. tostring(events[1].type)) end
  local last = events[#events]
  if (types.ExecutionSucceeded or 0) ~= 1 or last.type ~= "ExecutionSucceeded" then
    add("ExecutionSucceeded " .. (types.ExecutionSucceeded or 0) .. " time(s), last event " .. tostring(last.type))
  else
    local d = details_of(last)
    local out = type(d) == "table" and d.output
    if type(out) ~= "string" then
      add("ExecutionSucceeded output is not a JSON string: " .. M.canon(out))
    elseif M.canon(decode(out)) ~= M.canon(exp.output) then
      add("ExecutionSucceeded output " .. out .. ", expected " .. M.canon(exp.output))
    end
  end
  for _, t in ipairs({ "ExecutionStarted", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut" }) do
    local want = t == "ExecutionStarted" and 1 or 0
    if (types[t] or 0) ~= want then add(t .. " " .. (types[t] or 0) .. " time(s)") end
  end
  if count_map(entered) ~= count_map(exp.entered) then
    add("states entered " .. count_map(entered) .. ", expected " .. count_map(exp.entered))
  end
  if count_map(exited) ~= count_map(exp.entered) then
    add("states exited " .. count_map(exited) .. ", expected " .. count_map(exp.entered))
  end
  for t, n in pairs(exp.counts) do
    if (types[t] or 0) ~= n then add(t .. " " .. (types[t] or 0) .. " time(s), expected " .. n) end
  end
  for _, a in ipairs(exp.attempts) do
    local key = oracle.key(a.st, a.tag, a.step, a.rc)
    wanted[key] = true
    local n = scheduled[key] or 0
    if n ~= 1 then add("Task attempt " .. key .. " scheduled " .. n .. " time(s)") end
  end
  for key, n in pairs(scheduled) do
    if not wanted[key] then add("unexpected Task attempt " .. key .. " scheduled " .. n .. " time(s)") end
  end
  table.sort(problems)
  return problems, starts
end

-- The event types that must precede an event of a type in its frame
-- (previousEventId), as an execution that is never interrupted records them.
local PREDECESSORS = {
  TaskScheduled = { TaskStateEntered = true, TaskFailed = true },
  -- a second TaskStarted: the handler invoked again after a restart
  TaskStarted = { TaskScheduled = true, TaskStarted = true },
  TaskSucceeded = { TaskStarted = true },
  TaskFailed = { TaskStarted = true },
  TaskStateExited = { TaskSucceeded = true, TaskFailed = true },
  WaitStateExited = { WaitStateEntered = true },
}

-- Milliseconds since the epoch of an event timestamp: an RFC 3339 text
-- (UTC) or a number (seconds, or milliseconds when large).
local function ms_of(ts)
  if type(ts) == "number" then return ts > 1e11 and ts or ts * 1000 end
  if type(ts) ~= "string" then return nil end
  local y, mo, d, h, mi, s, frac = ts:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$")
  if not y then return nil end
  local days = os.time({ year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = 12 }) // 86400
  local ms = tonumber(((frac or "") .. "000"):sub(1, 3))
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(s) * 1000 + ms
end
M.ms_of = ms_of

-- Timers after recovery must fire at their recorded due times, never
-- early: a Wait lasts at least its Seconds, a retry starts at least
-- IntervalSeconds (1 s in every crash test Retrier) after the failure.
-- Also checks each TaskStarted/TaskFailed follows its TaskScheduled.
function M.timing(events, attempt_of, scheduled_at)
  local problems = {}
  local SLACK = 2 -- ms: timestamps are truncated to milliseconds
  for i, ev in ipairs(events) do
    local t = ev.type
    local allowed = PREDECESSORS[t]
    local prev = events[ev.previousEventId]
    if allowed and not (prev and allowed[prev.type]) then
      local names = {}
      for k in pairs(allowed) do names[#names + 1] = k end
      table.sort(names)
      problems[#problems + 1] = t .. " " .. i .. " has previousEventId " .. tostring(ev.previousEventId) ..
        " (" .. tostring(prev and prev.type) .. "), expected a " .. table.concat(names, " or ")
    end
    if t == "WaitStateExited" then
      local e = events[ev.previousEventId]
      local d = e and details_of(e)
      local input = type(d) == "table" and type(d.input) == "string" and decode(d.input)
      local secs_of = d and oracle.WAIT_SECONDS[d.name]
      if not (e and e.type == "WaitStateEntered" and input and secs_of) then
        problems[#problems + 1] = "WaitStateExited " .. i .. " does not follow a WaitStateEntered with its input"
      else
        local a, b = ms_of(e.timestamp), ms_of(ev.timestamp)
        local secs = secs_of(input)
        if not (a and b) then
          problems[#problems + 1] = "event " .. i .. ": unreadable timestamps " .. tostring(e.timestamp) ..
            ", " .. tostring(ev.timestamp)
        elseif b - a < secs * 1000 - SLACK then
          problems[#problems + 1] = "Wait " .. d.name .. " (events " .. e.id .. "-" .. i .. ") lasted " ..
            (b - a) .. " ms, less than its " .. secs .. " s"
        end
      end
    elseif t == "TaskFailed" then
      local started = events[ev.previousEventId]
      local sched = started and events[started.previousEventId]
      while sched and sched.type == "TaskStarted" do sched = events[sched.previousEventId] end
      local p = sched and attempt_of[sched.id]
      if not (started and started.type == "TaskStarted" and p) then
        problems[#problems + 1] = "TaskFailed " .. i .. " does not follow a TaskStarted of a TaskScheduled"
      else
        local retry = scheduled_at[oracle.key(p.st, p.tag, p.step, p.rc + 1)]
        local a, b = ms_of(ev.timestamp), retry and ms_of(retry.timestamp)
        if retry and a and b and b - a < 1000 - SLACK then
          problems[#problems + 1] = "retry of " .. oracle.key(p.st, p.tag, p.step, p.rc) .. " scheduled " ..
            (b - a) .. " ms after its failure (event " .. i .. " -> " .. retry.id .. "), IntervalSeconds is 1"
        end
      end
    end
  end
  return problems
end

--- Parses the handlers' log: one record per line
-- {pid, token, ex, st, tag, step, rc, committed = "C"|"N"|"-", line = n}.
-- Returns records, problems.
function M.parse_log(text)
  local out, problems = {}, {}
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local pid, token, ex, st, tag, step, rc, c =
      line:match("^([%d.]+)\t(%S+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(%-?%d+)\t(%d+)\t([CN%-])$")
    if not pid then
      problems[#problems + 1] = "invocation log line " .. n .. " is malformed: " .. line:sub(1, 120)
    else
      out[#out + 1] = { pid = pid, token = token, ex = ex, st = st, tag = tag,
        step = tonumber(step), rc = tonumber(rc), committed = c, line = n }
    end
  end
  return out, problems
end

-- True if `a` is `b` or an ancestor lineage of it ("/" < "/m1" < "/m1/b0").
local function ancestor_or_self(a, b)
  if a == "/" or a == b then return true end
  return b:sub(1, #a + 1) == a .. "/"
end

-- True if invocation `j` can only run after invocation `i` completed and
-- its completion was recorded: a later retry of the same Task entry, or a
-- later step in the same or an enclosing lineage.
local function successor(i, j)
  if i.ex ~= j.ex then return false end
  if j.st == i.st and j.tag == i.tag and j.step == i.step then return j.rc > i.rc end
  return j.step > i.step and ancestor_or_self(j.tag, i.tag)
end
M.successor = successor

--- The invocation log against the expectations and the killed processes:
-- every expected attempt invoked, nothing else; an attempt invoked more
-- than once only if all but its last invocation ran in processes the
-- harness killed, never twice in one process, and each of those earlier
-- invocations was still in flight when its process died (no causal
-- successor of it ran in that process afterwards).
-- `expected[name] = oracle.expect(...)`, `killed[pid] = true`.
-- opts.any_order (the failover test): invocations in killed processes
-- may come in any order among the others (a process paused past its
-- lease may go on with the one it had let start before the pause, and
-- log it after the pause), at most one invocation of an attempt is from
-- a process not killed, and an invocation counts as re-done (and must
-- have been in flight) only when a live process invoked it later.
-- Returns problems, stats {invocations, repeated_keys, repeated_invocations}.
function M.log(records, expected, killed, starts, opts)
  local problems = {}
  local function add(msg) problems[#problems + 1] = msg end
  local by_key, by_pid = {}, {}
  local wanted = {}
  for name, exp in pairs(expected) do
    for _, a in ipairs(exp.attempts) do
      wanted[name .. "|" .. oracle.key(a.st, a.tag, a.step, a.rc)] = true
    end
  end
  for _, r in ipairs(records) do
    local key = r.ex .. "|" .. oracle.key(r.st, r.tag, r.step, r.rc)
    r.key = key
    local list = by_key[key]
    if not list then list = {}; by_key[key] = list end
    list[#list + 1] = r
    local pl = by_pid[r.pid]
    if not pl then pl = {}; by_pid[r.pid] = pl end
    pl[#pl + 1] = r
    r.pos = #pl
  end
  local stats = { invocations = #records, repeated_keys = 0, repeated_invocations = 0, verified = 0 }
  for _, r in ipairs(records) do
    if r.committed == "C" then
      stats.verified = stats.verified + 1
    elseif r.committed == "N" then
      add("attempt " .. r.key .. " was invoked (log line " .. r.line .. ", pid " .. r.pid ..
        ") before its TaskScheduled event was committed")
    end
  end
  for key in pairs(wanted) do
    if not by_key[key] then add("attempt " .. key .. " was never invoked") end
  end
  for key, list in pairs(by_key) do
    if not wanted[key] then
      add("unexpected invocation " .. key .. " (pid " .. list[1].pid .. ")")
    end
    if #list > 1 then
      stats.repeated_keys = stats.repeated_keys + 1
      stats.repeated_invocations = stats.repeated_invocations + #list - 1
      -- the history shows every run: a second TaskStarted per re-invocation
      if starts and (starts[key] or 0) < #list then
        add("attempt " .. key .. " ran " .. #list .. " times but its history records " ..
          (starts[key] or 0) .. " TaskStarted event(s)")
      end
      local pids = {}
      for k, r in ipairs(list) do
        if pids[r.pid] then
          add("attempt " .. key .. " invoked twice in process " .. r.pid ..
            " (log lines " .. pids[r.pid] .. " and " .. r.line .. ")")
        end
        pids[r.pid] = r.line
        if opts and opts.any_order then
          for k2 = k + 1, #list do
            if not killed[r.pid] and not killed[list[k2].pid] then
              add("attempt " .. key .. " invoked in processes " .. r.pid .. " and " .. list[k2].pid ..
                " (log lines " .. r.line .. " and " .. list[k2].line .. "), neither killed nor past its lease")
            end
          end
        end
        -- any_order: a later invocation from a process past its lease may
        -- be stale (or logged late): only one by a live owner requires r
        -- to have been in flight
        local later_live = k < #list
        if opts and opts.any_order then
          later_live = false
          for k2 = k + 1, #list do
            if not killed[list[k2].pid] then later_live = true end
          end
        end
        if later_live and not (opts and opts.any_order and not killed[r.pid]) then
          if not killed[r.pid] then
            add("attempt " .. key .. " invoked again after log line " .. r.line ..
              " although its process " .. r.pid .. " was not killed")
          else
            -- Was it the task's last activity in that process?
            local pl = by_pid[r.pid]
            for p = r.pos + 1, #pl do
              if successor(r, pl[p]) then
                add("attempt " .. key .. " (log line " .. r.line .. ", killed pid " .. r.pid ..
                  ") was complete, since " .. pl[p].key .. " ran after it (log line " ..
                  pl[p].line .. "), yet it was invoked again")
                break
              end
            end
          end
        end
      end
    end
  end
  table.sort(problems)
  return problems, stats
end

return M
