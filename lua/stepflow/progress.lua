--- The progress line of `stepflow run` on a terminal: states done, Map
-- items done of total, elapsed time and the state running now, redrawn
-- in place on stderr while the execution runs and erased at its end.
--
-- It reads the execution's history from outside the interpreter: the
-- events kept in memory (start_execution with `history = true`), or those
-- of a durable execution in the engine's store, read on a loop timer.
local M = {}

local TICK_MS = 250          -- real time between redraws
local FIRST_VIRTUAL_MS = 100 -- virtual time: the first tick; later ones
                             -- twice as far apart, so that a Wait of a
                             -- year costs a few dozen ticks
local SPINNER = { "\u{280b}", "\u{2819}", "\u{2839}", "\u{2838}", "\u{283c}", "\u{2834}",
  "\u{2826}", "\u{2827}", "\u{2807}", "\u{280f}" }

--- Whether the progress line is wanted: not with --json, and only when
-- stderr is a terminal that can redraw a line (asked once, with test -t).
function M.wanted(as_json)
  if as_json then return false end
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  return os.execute("test -t 2") == true
end

-- The terminal's width, asked once (stty reads the terminal itself).
local function columns()
  local n = tonumber(os.getenv("COLUMNS") or "")
  if n and n > 0 then return n end
  local p = io.popen("stty size 2>/dev/null </dev/tty")
  local line = p and p:read("l")
  if p then p:close() end
  n = line and tonumber(line:match("%d+%s+(%d+)"))
  return n and n > 0 and n or 80
end

local Progress = {}
Progress.__index = Progress
Progress.__name = "stepflow.Progress"

--- A progress state fed with events; `draw` writes its line to `stream`.
-- opts: stream (with :write), width (columns), virtual (boolean).
function M.new(opts)
  return setmetatable({ stream = opts.stream, width = opts.width or 80, virtual = opts.virtual,
    done = 0, items = 0, items_done = 0, open = {}, current = false, ticks = 0, drawn = false,
    last_length = {} },
    Progress)
end

--- Takes one event: {type, name (state events), frame, length
-- (MapStateStarted)}.
function Progress:feed(e)
  local t = e.type
  local f = e.frame or ""
  if t:sub(-12) == "StateEntered" then
    self.open[f] = e.name
    self.current = e.name
  elseif t:sub(-11) == "StateExited" then
    self.done = self.done + 1
    self.open[f] = nil
    if self.current == e.name then self.current = false end
  elseif t == "MapStateStarted" then
    local n = tonumber(e.length) or 0
    self.items = self.items + n
    self.last_length[f] = n
  elseif t == "MapRunStarted" then
    -- a Distributed Map's iterations are child executions: their ends are
    -- not in this history, so its items are not counted
    self.items = self.items - (self.last_length[f] or 0)
    self.last_length[f] = nil
  elseif t == "MapIterationSucceeded" or t == "MapIterationFailed" or t == "MapIterationAborted" then
    self.items_done = self.items_done + 1
  end
end

local function clock(ms)
  local s = ms / 1000
  if s < 60 then return string.format("%.1f s", s) end
  if s < 3600 then return string.format("%d:%04.1f", s // 60, s % 60) end
  return string.format("%d h %02d min", s // 3600, (s % 3600) // 60)
end

--- The progress line (without control characters) at `elapsed_ms`.
function Progress:line(elapsed_ms)
  local parts = { self.done .. (self.done == 1 and " state" or " states") .. " done" }
  if self.items > 0 then
    parts[#parts + 1] = self.items_done .. "/" .. self.items .. " items"
  end
  parts[#parts + 1] = clock(elapsed_ms) .. (self.virtual and " (virtual)" or "")
  local now = self.current
  if not now then
    -- another open state: the lowest frame key, for a stable pick
    local best
    for f, name in pairs(self.open) do
      if not best or f < best then best, now = f, name end
    end
  end
  if now then parts[#parts + 1] = now end
  return table.concat(parts, " \u{b7} ")
end

--- Redraws the line in place, cut to the terminal's width.
function Progress:draw(elapsed_ms)
  self.ticks = self.ticks + 1
  local text = SPINNER[(self.ticks - 1) % #SPINNER + 1] .. " " .. self:line(elapsed_ms)
  local max = self.width - 1
  if (utf8.len(text) or 0) > max then
    text = text:sub(1, utf8.offset(text, max + 1) - 1)
  end
  self.stream:write("\r\27[K", text)
  self.drawn = true
end

--- Erases the line (if one was drawn).
function Progress:clear()
  if self.drawn then
    self.stream:write("\r\27[K")
    self.drawn = false
  end
end

-- Reads the events recorded since the last call: from memory, or from
-- the engine's store for a durable execution (only the events the line
-- needs are decoded).
local function reader(engine, exec)
  if exec.history then
    local seen = 0
    return function(feed)
      local h = exec.history
      for i = seen + 1, #h do
        local e = h[i]
        local d = e.details
        feed({ type = e.type, frame = e.frame, name = type(d) == "table" and d.name or nil,
          length = type(d) == "table" and d.length or nil })
      end
      seen = #h
    end
  end
  local store = engine.store
  if not (exec.durable and store) then return nil end
  local durable = require("stepflow.durable")
  local last = 0
  return function(feed)
    local rows = store:history(exec.arn, { after = last })
    for _, row in ipairs(rows or {}) do
      local t = row.type
      local e = { type = t }
      if t:find("State", 1, true) or t == "MapRunStarted" then
        local d = durable.decode_event(row)
        e.frame = d.f
        if type(d.d) == "table" then e.name, e.length = d.d.name, d.d.length end
      end
      feed(e)
      last = row.id
    end
  end
end

--- Shows the progress of `exec` (started, not yet run) on `stream`
-- (default io.stderr) while `engine` runs. Returns the progress, whose
-- finish() erases the line; nil when the execution keeps no events to
-- read (start it with `history = true`).
function M.start(engine, exec, stream)
  local read = reader(engine, exec)
  if not read then return nil end
  local loop = engine.loop
  local virtual = loop:is_virtual()
  local p = M.new({ stream = stream or io.stderr, width = columns(), virtual = virtual })
  local feed = function(e) p:feed(e) end
  -- A durable engine on a real clock keeps a timer of its own that, like
  -- this one, re-arms only while other work is pending (docs/STORE.md,
  -- stop requests): neither may count the other as work, or the two
  -- would keep an idle loop alive for ever.
  local others = (engine.store and not virtual) and 1 or 0
  local delay = virtual and FIRST_VIRTUAL_MS or TICK_MS
  local timer
  local function tick()
    timer = nil
    if p.finished or exec.finished then return end
    read(feed)
    p:draw(loop:now() - exec.start_ms)
    if not exec.finished and loop:pending() > others then
      if virtual then delay = delay * 2 end
      timer = loop:timer(delay, tick)
    end
  end
  timer = loop:timer(delay, tick)
  p.stop_timer = function()
    if timer then timer:cancel() end
    timer = nil
  end
  return p
end

--- Ends the display: no more ticks, the line erased.
function Progress:finish()
  self.finished = true
  if self.stop_timer then self.stop_timer() end
  self:clear()
end

return M
