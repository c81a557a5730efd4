--- Starts spec/integrations/http_server.py on 127.0.0.1 for the HTTP
-- specs: returns {port =, url =, stop = fn}. `tls` = {cert =, key =}
-- serves https.
local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.start(tls)
  local cmd = "python3 spec/integrations/http_server.py" ..
    (tls and (" --tls " .. q(tls.cert) .. " " .. q(tls.key)) or "")
  -- the shell prints the server's pid, then the server its port
  local p = assert(io.popen("sh -c " .. q(cmd .. " & echo $!; wait"), "r"))
  local pid = assert(tonumber(p:read("l")), "no server pid")
  local port = assert(tonumber(p:read("l")), "the HTTP server did not start")
  local scheme = tls and "https" or "http"
  return {
    port = port,
    url = scheme .. "://127.0.0.1:" .. port,
    stop = function()
      os.execute("kill " .. pid .. " 2>/dev/null")
      p:close()
    end,
  }
end

--- A self-signed certificate for 127.0.0.1 (openssl): {cert =, key =,
-- dir =}.
function M.certificate()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. q(dir)))
  local cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  assert(os.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 " ..
    "-addext subjectAltName=IP:127.0.0.1 -keyout " .. q(key) .. " -out " .. q(cert) .. " >/dev/null 2>&1"),
    "openssl could not make a certificate")
  return { cert = cert, key = key, dir = dir }
end

function M.remove(dir)
  os.execute("rm -rf " .. q(dir))
end

return M
