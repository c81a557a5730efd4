-- The reader holds one chunk and one row, however many rows it reads:
-- Lua's heap after 20,000 rows and after 120,000 rows is the same size
-- (make bench's bench/dmap_reader.lua measures 1M and 2M rows).
local h = require("dmap.s3_helper")
local reader = require("stepflow.dmap.reader")

local function heap_kb()
  collectgarbage("collect")
  return collectgarbage("count")
end

describe("stepflow.dmap.reader memory", function()
  for _, format in ipairs({ "CSV", "JSON", "JSONL" }) do
    it("stays flat reading a " .. format .. " file of 120,000 items", function()
      local b, root = h.backend("b")
      local f = assert(io.open(root .. "/b/f", "wb"))
      local rows = {}
      for i = 1, 120000 do
        if format == "CSV" then rows[i] = i .. ",name" .. i .. "\n"
        elseif format == "JSON" then rows[i] = (i > 1 and "," or "[") .. '{"id":' .. i .. ',"n":"name' .. i .. '"}'
        else rows[i] = '{"id":' .. i .. ',"n":"name' .. i .. '"}\n' end
      end
      if format == "CSV" then f:write("id,n\n") end
      f:write(table.concat(rows))
      if format == "JSON" then f:write("]") end
      f:close()
      rows = nil -- luacheck: ignore 311
      local s = reader.open({ Resource = reader.GET_OBJECT, Parameters = { Bucket = "b", Key = "f" },
        ReaderConfig = { InputType = format } }, b)
      for _ = 1, 20000 do assert(s:next()) end
      local early = heap_kb()
      local n = 20000
      while s:next() do n = n + 1 end
      local late = heap_kb()
      h.remove(root)
      assert.same(120000, n)
      assert.is_true(late - early < 512, ("heap grew from %.0f KiB to %.0f KiB"):format(early, late))
    end)
  end
end)
