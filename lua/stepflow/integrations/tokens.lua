--- Task tokens: what a worker, a queue or a person gets to answer a task
-- with (`$$.Task.Token`, GetActivityTask's taskToken). A token is opaque
-- to them, but it names its execution: base64url of the execution ARN, a
-- dot, and 128 random bits. So a token whose task has ended can be told
-- (TaskTimedOut) from one whose execution is unknown (TaskDoesNotExist)
-- and from text that is no token at all (InvalidToken), and the command
-- line finds the execution of a token it is given. Tokens use only
-- [A-Za-z0-9_.-]: they pass through a shell unquoted.
local digest = require("stepflow.util.digest")

local M = {}

local format, byte = string.format, string.byte
local random = math.random

local function b64url(s)
  return (digest.base64_encode(s):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

local function unb64url(s)
  local t = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  local pad = #t % 4
  if pad == 1 then return nil end
  if pad > 0 then t = t .. string.rep("=", 4 - pad) end
  return digest.base64_decode(t)
end

local Source = {}
Source.__index = Source
Source.__name = "stepflow.TokenSource"

--- A source of tokens for one engine: its random part comes from
-- /dev/urandom (opened on first use), a token being a capability that
-- anyone holding it may answer with; Lua's generator where there is none.
function M.source()
  return setmetatable({ urandom = nil }, Source)
end

-- 16 random bytes as 32 hex digits.
function Source:nonce()
  local f = self.urandom
  if f == nil then
    f = io.open("/dev/urandom", "rb") or false
    self.urandom = f
  end
  local bytes = f and f:read(16)
  if bytes and #bytes == 16 then
    return format("%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", byte(bytes, 1, 16))
  end
  return format("%08x%08x%08x%08x", random(0, 0xffffffff), random(0, 0xffffffff), random(0, 0xffffffff),
    random(0, 0xffffffff))
end

--- A new token for a task of the execution `exec_arn`.
function Source:new(exec_arn)
  return b64url(exec_arn) .. "." .. self:nonce()
end

--- AWS's messages for the errors of SendTaskSuccess, SendTaskFailure and
-- SendTaskHeartbeat, by code (the engine's send_task_* return the code).
M.MESSAGES = {
  InvalidToken = "Invalid Token: 'Invalid token'",
  TaskTimedOut = "Task Timed Out: 'Provided task does not exist anymore'",
  TaskDoesNotExist = "Task Does Not Exist: 'Provided task does not exist'",
}

--- The execution ARN a token names, or nil when `token` is not a token
-- of this format.
function M.execution_of(token)
  if type(token) ~= "string" then return nil end
  local head, nonce = token:match("^([%w_%-]+)%.(%x+)$")
  if not head or #nonce ~= 32 then return nil end
  local arn = unb64url(head)
  if not arn or arn:sub(1, 4) ~= "arn:" then return nil end
  return arn
end

return M
