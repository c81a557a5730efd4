-- The handler of the hello example: a Task whose Resource is "greet".
return {
  greet = function(input, ctx)
    if input.name == nil then
      error({ Error = "Greeting.NoName", Cause = "the input has no name" })
    end
    return "Hello, " .. input.name .. "!"
  end,
}
