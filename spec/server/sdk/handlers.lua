-- Handlers of the server the SDK drives in spec/server/sdk/api_operations.mjs.
return {
  -- fails until the file its input names exists (a redrive then succeeds)
  flaky = function(x)
    local f = io.open(x.marker)
    if f then
      f:close()
      return { fixed = true }
    end
    error({ Error = "Flaky", Cause = "no " .. tostring(x.marker) .. " yet" })
  end,
}
