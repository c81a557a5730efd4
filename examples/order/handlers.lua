-- Handlers of the order example: a validator, a warehouse that is busy on
-- the first call of each execution, a payment gateway that declines cards
-- starting 4000, and a carrier. Each logs one line to stderr.
local function log(ctx, fmt, ...)
  io.stderr:write(string.format("  [%s] " .. fmt .. "\n", ctx.state_name, ...))
end

-- Reservation attempts per execution (the warehouse's idempotency key).
local attempts = {}

return {
  -- Resource arn:aws:lambda:...:function:validateOrder finds this by name.
  validateOrder = function(input, ctx)
    if input.itemCount == 0 then
      error({ Error = "Order.Invalid", Cause = "the order has no items" })
    end
    local total, units = 0, 0
    for i, item in ipairs(input.items) do
      if type(item.qty) ~= "number" or item.qty <= 0 then
        error({ Error = "Order.Invalid", Cause = "item " .. i .. " (" ..
          tostring(item.sku) .. ") has no positive qty" })
      end
      total = total + item.qty * item.priceCents
      units = units + item.qty
    end
    log(ctx, "%d items, %d units, %d cents", input.itemCount, units, total)
    return { orderId = input.orderId, totalCents = total, units = units }
  end,

  reserveStock = function(input, ctx)
    local n = (attempts[input.requestId] or 0) + 1
    attempts[input.requestId] = n
    if n == 1 then
      log(ctx, "warehouse busy (attempt %d)", n)
      error({ Error = "Inventory.Busy", Cause = "warehouse lock held, try again" })
    end
    ctx.sleep(0.05) -- the warehouse API answers after 50 ms
    log(ctx, "reserved %d lines (attempt %d)", #input.items, n)
    return { reservationId = "res-" .. input.orderId, attempt = n }
  end,

  chargePayment = function(input, ctx)
    if input.card:sub(1, 4) == "4000" then
      log(ctx, "card declined")
      error({ Error = "Payment.Declined",
        Cause = "card ending " .. input.card:sub(-4) .. " declined: insufficient funds" })
    end
    log(ctx, "charged %d cents: %s", input.amountCents, input.description)
    return { id = "ch_" .. input.orderId, amountCents = input.amountCents, currency = "EUR" }
  end,

  releaseStock = function(input, ctx)
    log(ctx, "released %s", input.reservationId)
    return { released = input.reservationId }
  end,

  shipOrder = function(input, ctx)
    local carrier = input.address.country == "US" and "UPS" or "DHL"
    local tracking = string.format("%s%010d", carrier == "UPS" and "1Z" or "JD",
      tonumber((input.orderId:gsub("%D", ""))))
    log(ctx, "handed to %s, tracking %s", carrier, tracking)
    return { carrier = carrier, tracking = tracking }
  end,
}
