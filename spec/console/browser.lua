--- Headless Chromium for the console's specs, through spec/console/
-- driver.mjs (playwright-core): commands go to the driver's standard
-- input, answers come back through a FIFO, one JSON line each.
local json = require("stepflow.json")

local M = {}

local Browser = {}
Browser.__index = Browser

--- Whether the browser specs can run: the reason they cannot, or nil.
function M.missing()
  if not io.open("/usr/bin/chromium") then return "chromium is not installed (make deps installs it)" end
  if not io.open("node_modules/playwright-core/package.json") then
    return "playwright-core is not installed (make deps runs npm ci)"
  end
  return nil
end

--- Starts Chromium. opts: width, height (the window), timeout_ms (each
-- command's). Returns the browser.
function M.start(opts)
  opts = opts or {}
  local fifo = os.tmpname()
  os.remove(fifo)
  assert(os.execute("mkfifo " .. fifo))
  local log = os.tmpname()
  local env = string.format("CONSOLE_WIDTH=%d CONSOLE_HEIGHT=%d CONSOLE_SPEC_TIMEOUT_MS=%d",
    opts.width or 1280, opts.height or 900, opts.timeout_ms or 10000)
  -- without the sanitizers' LD_PRELOAD (make sanitize), as the SDK spec
  local input = assert(io.popen("env -u LD_PRELOAD " .. env .. " node spec/console/driver.mjs > " .. fifo
    .. " 2> " .. log, "w"))
  local output = assert(io.open(fifo, "r"))
  local self = setmetatable({ input = input, output = output, fifo = fifo, log = log }, Browser)
  local ready = self:read()
  if not ready.ok then
    self:close()
    error(ready.error)
  end
  return self
end

function Browser:read()
  local line = self.output:read("l")
  if not line then
    local f = io.open(self.log)
    local err = f and f:read("a") or ""
    if f then f:close() end
    error("the browser driver stopped: " .. err)
  end
  return json.decode(line)
end

--- Runs a command ({op = ..., ...}): its value, or nil and the error.
function Browser:try(cmd)
  self.input:write(json.encode(cmd), "\n")
  self.input:flush()
  local answer = self:read()
  if answer.ok then
    local v = answer.value
    if v == nil then v = json.null end
    return v
  end
  return nil, answer.error
end

--- Runs a command; raises its error.
function Browser:run(cmd)
  local v, err = self:try(cmd)
  if v == nil then error(cmd.op .. " " .. (cmd.sel or cmd.url or cmd.fn or "") .. ": " .. err, 2) end
  return v
end

function Browser:open(url) return self:run({ op = "open", url = url }) end
function Browser:click(sel) return self:run({ op = "click", sel = sel }) end
function Browser:fill(sel, value) return self:run({ op = "fill", sel = sel, value = value }) end
function Browser:text(sel) return self:run({ op = "text", sel = sel }) end
--- Presses a key ("Enter", "Tab", ...) on the element a selector finds.
function Browser:press(sel, key) return self:run({ op = "press", sel = sel, key = key }) end
--- Waits for a selector: state "visible" (default), "attached", "hidden", "detached".
function Browser:wait(sel, state, timeout) return self:run({ op = "wait", sel = sel, state = state, timeout = timeout }) end
--- Waits until `fn(arg)` (JavaScript source of a function) is truthy in the page; its value.
function Browser:until_true(fn, arg, timeout) return self:run({ op = "until", fn = fn, arg = arg, timeout = timeout }) end
--- `fn(arg)` (JavaScript source of a function) evaluated in the page.
function Browser:eval(fn, arg) return self:run({ op = "eval", fn = fn, arg = arg }) end
function Browser:shot(file, sel, width, height)
  return self:run({ op = "shot", file = file, sel = sel, width = width, height = height })
end
--- The page's script errors, console errors and failed requests since the last call.
function Browser:errors() return self:run({ op = "errors" }) end

function Browser:close()
  if self.input then
    self.input:write('{"op":"quit"}\n')
    self.input:close()
    self.input = nil
  end
  if self.output then
    self.output:close()
    self.output = nil
  end
  os.remove(self.fifo)
  os.remove(self.log)
end

return M
