-- Handlers of the approval example. The simulated approver answers on the
-- fourth check: approves up to 5000.00, rejects more; "bob" is on holiday
-- and never answers.
local function log(ctx, fmt, ...)
  io.stderr:write(string.format("  [%s] " .. fmt .. "\n", ctx.state_name, ...))
end

-- Seconds since the epoch of an ISO 8601 UTC time ("2026-11-21T20:15:00.123Z").
local function epoch(text)
  local y, mo, d, h, mi, s = text:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d%.]+)")
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y, mo = y - 1, mo + 12 end
  -- days from 1970-01-01 (proleptic Gregorian calendar)
  local days = 365 * y + y // 4 - y // 100 + y // 400 + (153 * (mo - 3) + 2) // 5
    + tonumber(d) - 719469
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

return {
  requestApproval = function(input, ctx)
    log(ctx, "asked %s to approve %d cents: %s", input.approver, input.amountCents, input.link)
    return { ticket = input.approver .. "/" .. input.requestId }
  end,

  checkDecision = function(input, ctx)
    local approver = input.ticket:match("^([^/]+)")
    local waited = math.floor((epoch(input.now) - epoch(input.requestedAt)) / 3600 + 0.5)
    if approver == "bob" or input.check < 4 then
      log(ctx, "check %d: no decision yet", input.check)
      return { status = "PENDING", waitedHours = waited }
    end
    local approved = input.amountCents <= 500000
    log(ctx, "check %d: %s", input.check, approved and "approved" or "rejected")
    return {
      status = approved and "APPROVED" or "REJECTED",
      decidedBy = approver,
      comment = approved and "ok" or "over the 5000.00 limit",
      waitedHours = waited,
    }
  end,

  sendReminder = function(input, ctx)
    log(ctx, "to %s: %s", input.to, input.text)
    return { sent = true }
  end,

  placePurchaseOrder = function(input, ctx)
    local number = "PO-" .. input.requestId:match("%d+")
    log(ctx, "placed %s", number)
    return { number = number }
  end,
}
