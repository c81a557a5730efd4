--- A bounded cache of compiled things by key (path text, expression text),
-- for the compilers a long-running server calls for ever: two generations
-- of at most `size` entries each; when the young one is full it becomes
-- the old one and the old one is dropped, and a hit in the old one moves
-- the entry back to the young one. So at most 2 x size entries are kept,
-- the recently used ones survive, and no lookup walks a list.
local M = {}

local Cache = {}
Cache.__index = Cache
Cache.__name = "stepflow.util.cache"

--- A new cache holding up to 2 x size entries.
function M.new(size)
  if math.type(size) ~= "integer" or size < 1 then
    error("stepflow.util.cache.new: size must be a positive integer", 2)
  end
  return setmetatable({ size = size, young = {}, old = {}, n = 0 }, Cache)
end

--- The value cached for key, or nil.
function Cache:get(key)
  local v = self.young[key]
  if v ~= nil then return v end
  v = self.old[key]
  if v ~= nil then self:put(key, v) end
  return v
end

--- Caches value (not nil) for key; returns value.
function Cache:put(key, value)
  if self.young[key] == nil then
    if self.n >= self.size then
      self.old, self.young, self.n = self.young, {}, 0
    end
    self.n = self.n + 1
  end
  self.young[key] = value
  return value
end

return M
