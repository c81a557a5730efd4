--- stepflow.server.console: the web console, served by the server on its
-- own port and loop. The page and its scripts are static files (the
-- folder console/ beside this module, which the rock installs with it);
-- they call the Step Functions API (`POST /`) like any client, and a few
-- console routes where the API has no operation (stepflow.server.
-- console_api). Routes:
--
--     GET  /                    the page (console/index.html)
--     GET  /console/NAME        a static file of console/
--     GET  /console/api/info    what the page needs before it calls
--                               anything: SigV4 on or off, the operations
--                               this server answers
--     POST /console/api/NAME    a console operation (JSON in and out;
--                               SigV4-signed like the API when the server
--                               verifies signatures)
--
-- Static files and info are answered without a signature: they hold no
-- data. Everything else goes through the same verification as the API.
local json = require("stepflow.json")
local console_api = require("stepflow.server.console_api")

local M = {}

local encode = json.encoder({ sort = true })

local TYPES = {
  html = "text/html; charset=utf-8", css = "text/css; charset=utf-8",
  js = "text/javascript; charset=utf-8", svg = "image/svg+xml", png = "image/png",
}

-- The page renders data it gets from the API (names, inputs) as text, and
-- inline SVG from the console's graph route; nothing is fetched from
-- elsewhere, nothing is framed.
local CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
  .. "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

-- The folder of the static files: console/ beside this file, in the
-- source tree and in an installed rock alike.
local function static_dir()
  local source = debug.getinfo(1, "S").source
  local dir = source:sub(1, 1) == "@" and source:match("^@(.*)[/\\][^/\\]+$")
  return (dir or ".") .. "/console"
end

local function headers(ctype, id)
  local h = { ["Content-Type"] = ctype, ["Cache-Control"] = "no-cache",
    ["X-Content-Type-Options"] = "nosniff", ["Referrer-Policy"] = "no-referrer",
    ["x-amzn-RequestId"] = id }
  if ctype:find("^text/html") then
    h["Content-Security-Policy"] = CSP
    h["X-Frame-Options"] = "DENY"
  end
  return h
end

local function error_answer(req, id, status, code, message)
  req:respond(status, encode({ __type = code, message = message }),
    headers("application/json", id))
end

local Console = {}
Console.__index = Console
Console.__name = "stepflow.server.Console"

-- The text of a static file, read once (the folder holds a handful of
-- small files, so the cache is bounded by it); nil if there is none.
function Console:file(name)
  local text = self.files[name]
  if text == nil then
    local f = io.open(self.dir .. "/" .. name, "rb")
    if not f then return nil end
    text = f:read("a")
    f:close()
    self.files[name] = text
  end
  return text
end

function Console:static(req, id, name)
  local ext = name:match("^[%w][%w_%-]*%.(%a+)$")
  local ctype = ext and TYPES[ext]
  local text = ctype and self:file(name)
  if not text then
    return error_answer(req, id, 404, "ResourceNotFound", "No console file " .. name)
  end
  req:respond(200, text, headers(ctype, id))
end

-- GET requests: the page, its files, info.
function Console:get(req, id)
  local path = req:target():gsub("[?#].*$", "")
  if path == "/" or path == "/index.html" then return self:static(req, id, "index.html") end
  if path == "/console/api/info" then
    return req:respond(200, encode(console_api.info(self.server)), headers("application/json", id))
  end
  local name = path:match("^/console/([^/]+)$")
  if name then return self:static(req, id, name) end
  error_answer(req, id, 404, "UnknownOperationException", "No route for GET " .. path)
end

-- POST /console/api/NAME: a console operation.
function Console:post(req, id)
  local name = req:target():match("^/console/api/([%w_]+)$")
  local op = name and console_api.operations[name]
  if not op then
    return error_answer(req, id, 404, "UnknownOperationException", "No console operation " .. req:target())
  end
  local body = req:body()
  local server = self.server
  if server.sigv4 then
    local code, message = server.sigv4(req, body)
    if code then
      return error_answer(req, id, code == "MissingAuthenticationTokenException" and 403 or 400, code, message)
    end
  end
  local input = {}
  if body ~= "" then
    local err
    input, err = json.try_decode(body)
    if type(input) ~= "table" then
      return error_answer(req, id, 400, "SerializationException", tostring(err or "the body must be a JSON object"))
    end
  end
  local out, code, message = op(self.api, input)
  if out == nil then return error_answer(req, id, code == "InternalFailure" and 500 or 400, code, message) end
  req:respond(200, encode(out), headers("application/json", id))
end

--- Serves the console on `server` (a stepflow.server): adds its routes.
-- Returns the console.
function M.attach(server)
  local self = setmetatable({ server = server, api = console_api.new(server), dir = static_dir(),
    files = {} }, Console)
  server:route("POST", "/console/api/", function(req, id) return self:post(req, id) end)
  -- last: every other GET is the console's (unknown paths answer 404)
  server:route("GET", "/", function(req, id) return self:get(req, id) end)
  return self
end

return M
