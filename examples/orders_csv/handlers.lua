-- The Lua handlers of the orders_csv example.
local json = require("stepflow.json")

return {
  -- One child execution of the Distributed Map: a batch of up to five CSV
  -- rows ({BatchInput, Items}); every CSV value arrives as a string.
  priceBatch = function(batch)
    local vat = batch.BatchInput.vatPercent
    local total, by_country = 0, {}
    for _, order in ipairs(batch.Items) do
      local cents = math.tointeger(tonumber(order.amount_cents))
      local gross = cents + (cents * vat + 50) // 100
      total = total + gross
      by_country[order.country] = (by_country[order.country] or 0) + gross
    end
    io.stderr:write(string.format("  [PriceBatch] %d orders, %d cents with VAT\n", #batch.Items, total))
    return { orders = #batch.Items, totalCents = total, byCountry = by_country }
  end,

  -- The results the ResultWriter wrote, read back from S3: each file a
  -- list of child execution records whose Output is the batch's result.
  summarize = function(input)
    local orders, total, batches, by_country = 0, 0, 0, {}
    for _, file in ipairs(input.files) do
      for _, record in ipairs(file.records) do
        local r = json.decode(record.Output)
        batches = batches + 1
        orders = orders + r.orders
        total = total + r.totalCents
        for country, cents in pairs(r.byCountry) do
          by_country[country] = (by_country[country] or 0) + cents
        end
      end
    end
    return { batches = batches, orders = orders, totalCents = total, byCountry = by_country,
      resultsBucket = input.written.ResultWriterDetails.Bucket }
  end,
}
