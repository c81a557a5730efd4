--- What the commands of the command line (stepflow.cli) share: argument
-- parsing, files and inputs read within AWS's limits, execution names,
-- stores opened by the kind of failure `store.open` reports, and engines
-- run so that a failing store ends the command with a message.
local json = require("stepflow.json")
local store = require("stepflow.store")

local M = {}

--- AWS's limit on StartExecution's `input`: 262,144 bytes of UTF-8.
M.INPUT_LIMIT = 262144

--- Writes "stepflow: " and its arguments as one line on stderr.
function M.say(...)
  io.stderr:write("stepflow: ", ...)
  io.stderr:write("\n")
end

--- A bad invocation: says so with the help hint; returns exit status 2.
function M.usage_error(msg)
  io.stderr:write("stepflow: ", msg, "\n(run 'stepflow help' for usage)\n")
  return 2
end

--- Parses argv from index `first` into positional arguments and options.
-- `spec` maps option names to "flag", "value" (not empty), "text" (may be
-- empty) or "list". Returns pos, opts or nil, message.
function M.parse_args(argv, first, spec)
  local pos, opts = {}, {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    local name = a:match("^%-%-(.+)$")
    if name then
      local kind = spec[name]
      if not kind then return nil, "unknown option --" .. name end
      if kind == "flag" then
        opts[name] = true
      else
        i = i + 1
        if argv[i] == nil or (argv[i] == "" and kind ~= "text") then
          return nil, "option --" .. name .. " needs a value"
        end
        if kind == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], argv[i])
        elseif opts[name] ~= nil then
          return nil, "option --" .. name .. " given twice"
        else
          opts[name] = argv[i]
        end
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, opts
end

--- Reads a file named on the command line. `what` names it in messages
-- ("definition", "input"). A file over `limit` bytes is not read: nil,
-- nil, its size (and true when it is only known to be larger: a pipe or a
-- device). Returns the text, or nil and a message (no such file, a
-- folder, unreadable).
function M.read_file(path, what, limit)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, "cannot read " .. what .. ": " .. err end
  -- a folder opens but cannot be read: read(0) says why
  local ok, rerr = fh:read(0)
  if ok == nil and rerr then
    fh:close()
    return nil, "cannot read " .. what .. ": " .. path .. ": " .. rerr
  end
  local size = fh:seek("end")
  local text
  if size and size > 0 then  -- a regular file (a device says 0)
    if size > limit then
      fh:close()
      return nil, nil, size
    end
    fh:seek("set")
    text, rerr = fh:read("a")
  else
    -- a pipe, a device or an empty file: one byte past the limit tells
    fh:seek("set")
    text, rerr = fh:read(limit + 1)
    text = text or (not rerr and "") or nil
    if text and #text > limit then
      fh:close()
      return nil, nil, limit, true
    end
  end
  fh:close()
  if not text then return nil, "cannot read " .. what .. ": " .. path .. ": " .. tostring(rerr) end
  return text
end

--- AWS's limit on a state machine definition: 1,048,576 bytes.
M.DEFINITION_LIMIT = 1048576

--- The text of a DEFINITION file, or nil and a message (also for one over
-- AWS's limit, which is not read).
function M.read_definition(path)
  local text, err, size, over = M.read_file(path, "definition", M.DEFINITION_LIMIT)
  if size then
    return nil, "ValidationException: 1 validation error detected: Value at 'definition' failed to "
      .. "satisfy constraint: Member must have length less than or equal to " .. M.DEFINITION_LIMIT
      .. " (" .. path .. " is " .. (over and "over " or "") .. size .. " bytes)"
  end
  return text, err
end

local function too_large(size, over)
  return "ValidationException: 1 validation error detected: Value at 'input' failed to satisfy " ..
    "constraint: Member must have length less than or equal to " .. M.INPUT_LIMIT ..
    " (the input is " .. (over and "over " or "") .. size .. " bytes)"
end

--- The execution input given as `--input JSON` or `--input @FILE`: the
-- decoded value (`{}` when absent), or nil and a message. An input over
-- AWS's limit is refused as StartExecution refuses it, before anything is
-- decoded or written.
function M.decode_input(spec)
  if spec == nil then return {} end
  local text = spec
  if spec:sub(1, 1) == "@" then
    local err, size, over
    text, err, size, over = M.read_file(spec:sub(2), "input", M.INPUT_LIMIT)
    if size then return nil, too_large(size, over) end
    if not text then return nil, err end
  elseif #spec > M.INPUT_LIMIT then
    return nil, too_large(#spec)
  end
  local ok, v = pcall(json.decode, text)
  if not ok then return nil, "input is not valid JSON: " .. tostring(v) end
  return v
end

-- Code points AWS refuses in names besides ASCII ones: Unicode white
-- space, C1 controls, U+FFFE and U+FFFF.
local function bad_code_point(c)
  return (c >= 0x7F and c <= 0x9F) or c == 0xA0 or c == 0x1680 or (c >= 0x2000 and c <= 0x200A)
    or c == 0x2028 or c == 0x2029 or c == 0x202F or c == 0x205F or c == 0x3000
    or c == 0xFEFF or c == 0xFFFE or c == 0xFFFF or (c >= 0xD800 and c <= 0xDFFF)
end

--- Checks an execution name as StartExecution does: 1 to 80 characters,
-- none of white space, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /` or
-- control characters. Returns nil when it is valid, else AWS's message.
function M.name_problem(name)
  local ok, n = pcall(utf8.len, name)
  if not ok or not n then return "InvalidName: Invalid Name: '" .. name .. "' (not UTF-8)" end
  if n > 80 then
    return "ValidationException: 1 validation error detected: Value '" .. name ..
      "' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
  end
  if n == 0 or name:find("[%s%c<>{}%[%]?*\"#%%\\%^|~`$&,;:/]") then
    return "InvalidName: Invalid Name: '" .. name .. "'"
  end
  for _, c in utf8.codes(name) do
    if bad_code_point(c) then return "InvalidName: Invalid Name: '" .. name .. "'" end
  end
  return nil
end

-- What a user can do about a store that could not be opened for writing.
local WRITE_HINTS = {
  read_only = "reading commands (executions, describe, history) work on it; run, start, resume "
    .. "and stop need to write the file and its folder",
  full = "free some space on its disk, then try again",
  not_found = "give the path of a store file in an existing folder",
}

--- Opens a store for an engine (taking its lock). Returns the store, or
-- nil and open's info `{kind=, pid=, ...}` after saying why; a "locked"
-- store is not reported when `quiet_if_locked` (the caller has another
-- way: a client or a stop request).
function M.open_store(path, quiet_if_locked)
  local s, err, info = store.open(path)
  if s then return s end
  info = info or { kind = "error" }
  if info.kind == "locked" and quiet_if_locked then return nil, info end
  M.say(err)
  if info.kind == "locked" then
    M.say("another engine (process ", tostring(info.pid or "?"), ") runs it: `stepflow start` records ",
      "executions for it and `stepflow stop` asks it to stop one; stop that engine to run ", path, " here")
  elseif WRITE_HINTS[info.kind] then
    M.say(WRITE_HINTS[info.kind])
  end
  return nil, info
end

--- Opens a store for reading (an engine may be running it). A store of an
-- older version is upgraded first, which needs a writable open (a running
-- engine would have upgraded it already). Returns the store, or nil after
-- saying why.
function M.read_store(path)
  local s, err, info = store.open(path, { read_only = true })
  if not s and info and info.kind == "needs_upgrade" then
    local w, werr, winfo = store.open(path)
    if w then
      w:close()
      M.say("upgraded ", path, " to store version ", tostring(store.VERSION))
      s, err = store.open(path, { read_only = true })
    elseif winfo and winfo.kind == "read_only" then
      err = err .. "; this user may not write it: its owner can upgrade it with `stepflow executions --store "
        .. path .. "`"
    else
      err = werr
    end
  end
  if not s then M.say(err) end
  return s
end

--- Finds an execution record by ARN or by name (the newest of that
-- name). Returns the record or nil.
function M.find_execution(s, which)
  local rec = s:get_execution(which)
  if rec then return rec end
  for _, r in ipairs(s:list_executions({}) or {}) do
    if r.name == which then return r end
  end
  return nil
end

-- When a store that refused a write may be written again.
local ONCE = {
  full = "once its disk has room again", read_only = "once this user may write it",
}

--- Runs an engine until nothing can go on, then (after `before_close`, if
-- given) closes it. Returns true,
-- or nil after saying why when its store `s` failed (a full disk, an I/O
-- error): the engine stops at the first write its store refuses, so
-- nothing ran ahead of what the store holds, and `resume` goes on from
-- there. Anything else that stops the engine is a bug: raised again.
function M.run_engine(engine, s, path, before_close)
  local ok, err = pcall(engine.run, engine)
  if ok and before_close then ok, err = pcall(before_close) end
  local cok, cerr = pcall(engine.close, engine)
  if ok and cok then return true end
  local failure = s and s:last_failure()
  if not failure then error(ok and cerr or err, 0) end
  pcall(s.close, s)  -- the engine may have stopped before closing it
  M.say(failure.message)
  M.say("the engine stopped at the first write the store refused, so nothing ran ahead of what ",
    path, " holds; ", ONCE[failure.kind] or "once the cause is fixed", ", `stepflow resume --store ",
    path, "` goes on from there")
  return nil
end

return M
