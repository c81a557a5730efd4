--- A TestState answer: how an error ends the tested state (TestState
-- retries nothing: a retrier that would retry makes the status
-- RETRIABLE, a catcher CAUGHT_ERROR), and which of the noted data-flow
-- stages AWS reports for each kind of state (DEBUG and TRACE), as AWS's
-- recorded answers show them.
local errors = require("stepflow.errors")
local retry = require("stepflow.asl.retry")

local M = {}

-- The stages AWS reports, by query language and state type (besides
-- `variables` and `errorDetails`, reported whenever there are some).
local JSONPATH = {
  Task = { "input", "afterInputPath", "afterParameters", "result", "afterResultSelector", "afterResultPath" },
  Pass = { "input", "afterInputPath", "afterParameters", "afterResultSelector", "afterResultPath" },
  -- a Pass with a Result: its input goes through no stage before it
  PassResult = { "input", "result", "afterResultSelector", "afterResultPath" },
  Choice = { "input", "afterInputPath" },
  Wait = { "input", "afterInputPath" },
  Succeed = { "input", "afterInputPath" },
  Fail = { "input", "afterInputPath" },
  Map = { "input", "afterInputPath", "afterItemsPath", "afterItemsPointer", "afterItemSelector", "afterItemBatcher",
    "afterResultSelector", "afterResultPath", "maxConcurrency", "toleratedFailureCount",
    "toleratedFailurePercentage" },
  Parallel = { "input", "afterResultSelector", "afterResultPath" },
}
local JSONATA = {
  Task = { "input", "afterArguments", "result" },
  Map = { "input", "afterItemsPointer", "afterItemSelector", "afterItemBatcher", "maxConcurrency",
    "toleratedFailureCount", "toleratedFailurePercentage" },
}
local INPUT_ONLY = { "input" }

--- The inspection data AWS reports of the stages noted (`noted`, values)
-- for a state of type `stype` (its definition `def`) in query language
-- `ql`: a table of values (nil fields left out).
function M.inspection(def, ql, noted)
  local stype = def.Type
  local fields
  if ql == "JSONata" then
    fields = JSONATA[stype] or INPUT_ONLY
  else
    fields = JSONPATH[(stype == "Pass" and def.Result ~= nil) and "PassResult" or stype] or INPUT_ONLY
  end
  local out = {}
  for _, f in ipairs(fields) do out[f] = noted[f] end
  if ql ~= "JSONata" and stype == "Fail" then out.afterInputPath = noted.input end
  out.variables, out.errorDetails = noted.variables, noted.errorDetails
  return out
end

-- Headers as AWS shows them: "[Name: value, ...]"; without
-- revealSecrets, what a connection adds to authenticate is left out.
local function header_text(headers, reveal)
  local parts = {}
  for _, h in ipairs(headers or {}) do
    if reveal or h[1]:lower() ~= "authorization" then parts[#parts + 1] = h[1] .. ": " .. h[2] end
  end
  return "[" .. table.concat(parts, ", ") .. "]"
end

--- An HTTP Task's request and response (TRACE), as AWS's inspection data
-- shows them (`res` nil: no response came).
function M.http(req, res, reveal)
  local protocol = (req.url or ""):match("^(%a+)://") or "https"
  local request = { protocol = protocol, method = req.method, url = req.url,
    headers = header_text(req.headers, reveal), body = req.body or "" }
  if not res or res.error then return request, nil end
  return request, { protocol = protocol, statusCode = tostring(res.status), statusMessage = res.reason or "",
    headers = header_text(res.headers, true), body = res.body or "" }
end

-- An error value without the marks the interpreter adds for its own
-- causes (a state prefix, an EvaluationFailed event).
local function plain(err)
  return errors.new(err.Error or "", err.Cause)
end

--- How an ASL error ends the tested state `st` (entered with `raw`, on
-- `frame`): `retry_count` is the state configuration's retrierRetryCount.
-- Returns {status, error, cause, output, next_state, details}.
function M.on_error(st, frame, raw, err, retry_count)
  err = plain(err)
  local details
  local retriers = st.retriers
  if retriers then
    local i = retry.find(retriers, err.Error)
    if i then
      local ms = retry.delay_ms(retriers[i], (retry_count or 0) + 1)
      if ms then
        return { status = "RETRIABLE", error = err.Error, cause = err.Cause,
          details = { retryIndex = i - 1, retryBackoffIntervalSeconds = ms / 1000 } }
      end
      details = { retryIndex = i - 1 }
    end
  end
  local catchers = st.catchers
  if catchers and err.Error ~= errors.Runtime then
    for i, c in ipairs(catchers) do
      if retry.matches(c.ErrorEquals, err.Error) then
        details = details or {}
        details.catchIndex = i - 1
        local ok, out = pcall(c.apply, frame, raw, err)
        if not ok then
          local e = errors.is(out) and out or errors.internal(out, frame)
          return { status = "FAILED", error = e.Error, cause = e.Cause, details = details }
        end
        return { status = "CAUGHT_ERROR", error = err.Error, cause = err.Cause, output = out,
          next_state = c.next_state and c.next_state.name, details = details }
      end
    end
  end
  return { status = "FAILED", error = err.Error, cause = err.Cause, details = details }
end

return M
