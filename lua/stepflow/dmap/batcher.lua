--- ItemBatcher as a stream transformer: items in, batches out, one batch
-- held at a time. A batch is what the child execution receives:
-- {"BatchInput": ..., "Items": [...]} (BatchInput only when given).
-- MaxInputBytesPerBatch counts the bytes of that whole input as JSON
-- text, and no batch ever exceeds AWS's 256 KiB input limit.
local json = require("stepflow.json")
local errors = require("stepflow.errors")

local M = {}

--- AWS's limit on a child execution's input, and the largest
-- MaxInputBytesPerBatch.
M.MAX_BYTES = 262144

local array_mt = json.array_mt
local encode = json.encoder({ sort = false })

--- The size in bytes of a batch's JSON text, from its parts: the
-- encoded BatchInput (or nil), the sum of the items' encoded sizes and
-- their number.
function M.batch_size(batch_input_text, items_bytes, n)
  local size = #'{"Items":[]}' + items_bytes + (n > 1 and n - 1 or 0)
  if batch_input_text then size = size + #'"BatchInput":,' + #batch_input_text end
  return size
end

--- Wraps an item stream.
-- @param stream next() -> item | nil (and optionally close())
-- @tparam table opts max_items (MaxItemsPerBatch, nil = no limit),
--   max_bytes (MaxInputBytesPerBatch, nil = 262144), batch_input (the
--   evaluated BatchInput, nil for none)
-- @return stream with next() -> {BatchInput?, Items} | nil, close();
--   raises States.ItemReaderFailed when one item alone is over max_bytes
function M.wrap(stream, opts)
  opts = opts or {}
  local max_items = opts.max_items
  if max_items ~= nil and (math.type(max_items) ~= "integer" or max_items < 1) then
    error("stepflow.dmap.batcher.wrap: max_items must be a positive integer", 2)
  end
  local max_bytes = opts.max_bytes or M.MAX_BYTES
  if math.type(max_bytes) ~= "integer" or max_bytes < 1 then
    error("stepflow.dmap.batcher.wrap: max_bytes must be a positive integer", 2)
  end
  if max_bytes > M.MAX_BYTES then max_bytes = M.MAX_BYTES end
  local bi = opts.batch_input
  local bi_text = bi ~= nil and encode(bi) or nil
  local pending, pending_size -- an item read that did not fit the last batch
  local done = false
  local next_item = stream.next
  local out = {}
  function out.next()
    if done then return nil end
    local items, n, bytes = setmetatable({}, array_mt), 0, 0
    while not max_items or n < max_items do
      local item, size = pending, pending_size
      pending = nil
      if item == nil then
        item = next_item(stream)
        if item == nil then
          done = true
          break
        end
        size = #encode(item)
      end
      if M.batch_size(bi_text, bytes + size, n + 1) > max_bytes then
        if n == 0 then
          errors.raise(errors.ItemReaderFailed, "An item's input is " ..
            M.batch_size(bi_text, size, 1) .. " bytes as a batch, over MaxInputBytesPerBatch (" ..
            max_bytes .. " bytes)")
        end
        pending, pending_size = item, size
        break
      end
      n = n + 1
      items[n] = item
      bytes = bytes + size
    end
    if n == 0 then return nil end
    return { BatchInput = bi, Items = items }
  end
  function out.close()
    if stream.close then stream.close(stream) end
  end
  return out
end

return M
