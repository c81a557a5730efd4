--- A small HTTP/1.1 client for the server specs (Debian's lua-socket):
-- it talks to a server on the same loop, turning the loop between
-- non-blocking reads, so the specs run in one process and fast.
local socket = require("socket")
local json = require("stepflow.json")

local M = {}

local Conn = {}
Conn.__index = Conn

--- Connects to 127.0.0.1:port; `loop` is the server's loop.
function M.connect(loop, port)
  local c = assert(socket.tcp())
  c:settimeout(0)
  c:connect("127.0.0.1", port)  -- completes while the loop turns
  return setmetatable({ c = c, loop = loop, buf = "" }, Conn)
end

-- Turns the loop once and waits a moment for the socket.
local function turn(self)
  self.loop:step()
  socket.select({ self.c }, nil, 0.001)
end

--- Sends raw bytes (all of them).
function Conn:send(data)
  local i, deadline = 1, socket.gettime() + 5
  while i <= #data do
    local n, err, partial = self.c:send(data, i)
    local sent = n or partial
    if sent and sent >= i then i = sent + 1 end
    if err and err ~= "timeout" then error("send: " .. err) end
    if socket.gettime() > deadline then error("send: timed out") end
    if i <= #data then turn(self) end
  end
end

-- Reads more bytes into the buffer: false once the peer closed, true
-- when bytes came, nil when none.
local function fill(self)
  local data, err, partial = self.c:receive(65536)
  local got = data or partial
  if got and #got > 0 then self.buf = self.buf .. got end
  if err == "closed" then return false end
  return (got ~= nil and #got > 0) or nil
end

--- Reads one response: status, headers (lower-case names), body; or nil,
-- "closed" when the server closed the connection first. Gives up after
-- `wait` seconds (default 5).
function Conn:response(wait)
  local deadline = socket.gettime() + (wait or 5)
  while true do
    local head_end = self.buf:find("\r\n\r\n", 1, true)
    if head_end then
      local head = self.buf:sub(1, head_end - 1)
      local status = tonumber(head:match("^HTTP/1%.1 (%d%d%d)"))
      local headers = {}
      for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
      local len = tonumber(headers["content-length"] or "0")
      if #self.buf >= head_end + 3 + len then
        local body = self.buf:sub(head_end + 4, head_end + 3 + len)
        self.buf = self.buf:sub(head_end + 4 + len)
        if status ~= 100 then return status, headers, body end
      end
    end
    local got = fill(self)
    if got == false and not self.buf:find("\r\n\r\n", 1, true) then return nil, "closed" end
    if socket.gettime() > deadline then return nil, "timeout" end
    -- bytes that came may complete the answer: look before waiting
    if not got then turn(self) end
  end
end

--- Whether the server closed the connection (within `wait` seconds).
function Conn:closed(wait)
  local deadline = socket.gettime() + (wait or 5)
  while socket.gettime() < deadline do
    if fill(self) == false then return true end
    turn(self)
  end
  return false
end

function Conn:close()
  self.c:close()
end

--- One API call on a new or given connection: status, decoded body,
-- headers.
function M.call(loop, port, op, input, conn)
  local own = not conn
  conn = conn or M.connect(loop, port)
  local body = type(input) == "string" and input or json.encode(input or {})
  conn:send("POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions." .. op ..
    "\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body)
  local status, headers, rbody = conn:response()
  if own then conn:close() end
  assert(status, "no response to " .. op .. ": " .. tostring(headers))
  return status, json.decode(rbody), headers
end

--- Turns the loop until fn() is true (at most `wait` seconds).
function M.until_true(loop, fn, wait)
  local deadline = socket.gettime() + (wait or 5)
  while not fn() do
    if socket.gettime() > deadline then return false end
    loop:step()
    socket.sleep(0.001)
  end
  return true
end

return M
