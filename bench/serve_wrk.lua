-- wrk script of bench/serve.lua: one API call per request, over keep-alive
-- connections. Environment: SF_TARGET (the operation), SF_BODY (the JSON
-- body), SF_DELAY_MS (a pause before each request on a connection, to hold
-- a rate below the maximum). wrk's own globals: wrk, delay.
-- luacheck: globals wrk delay
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions." .. os.getenv("SF_TARGET")
wrk.body = os.getenv("SF_BODY")
local pause = tonumber(os.getenv("SF_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
