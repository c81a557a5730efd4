--- Tags: TagResource, UntagResource, ListTagsForResource, on state
-- machines and activities (AWS tags neither versions nor aliases). A
-- TagList, one entry per key, in the order the keys were first given. A
-- state machine's tags are a store resource of kind `tags` under its ARN;
-- an activity's are in its record (stepflow.server.activities, which
-- CreateActivity gives its tags).
local json = require("stepflow.json")
local common = require("stepflow.server.common")

local M = {}

local KIND = "tags"

--- AWS's quota: tags per resource.
M.MAX_TAGS = 50

local ops = {}
M.operations = ops

local function not_found(arn)
  return nil, "ResourceNotFound", "Resource not found: '" .. arn .. "'", { resourceName = arn }
end

local function fail(err)
  error("stepflow.server: store: " .. tostring(err), 0)
end

-- Where each type of resource keeps its tags: find(server, parsed arn,
-- arn) gives the resource's handle when it exists, get(server, handle,
-- arn) its TagList, put(server, handle, arn, list) replaces it.
local BACKENDS = {
  stateMachine = {
    find = function(server, p, arn)
      if not p.resource:find(":", 1, true) and server.machines:get(arn) then return arn end
    end,
    get = function(server, _, arn)
      local data = server.engine.store:get_resource(KIND, arn)
      return data and json.decode(data) or {}
    end,
    put = function(server, _, arn, tags)
      local store = server.engine.store
      local ok, err
      if #tags == 0 then
        ok, err = store:delete_resource(KIND, arn)
        if ok ~= nil then ok = true end
      else
        ok, err = store:put_resource(KIND, arn, json.encode(json.array(tags)))
      end
      if not ok then fail(err) end
    end,
  },
  activity = {
    find = function(server, _, arn) return server.activities:get(arn) end,
    get = function(_, rec) return rec.tags or {} end,
    put = function(server, rec, _, tags)
      server.activities:set_tags(rec, #tags > 0 and json.array(tags) or nil)
    end,
  },
}

-- The backend and handle of a resource that can be tagged, or nil and
-- the error.
local function taggable(server, arn)
  local p, why = common.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  local backend = BACKENDS[p.type]
  if not backend then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  local handle = backend.find(server, p, arn)
  if not handle then return not_found(arn) end
  return backend, handle
end

local function get(server, backend, handle, arn)
  local list = {}
  for i, t in ipairs(backend.get(server, handle, arn)) do list[i] = { key = t.key, value = t.value } end
  return json.array(list)
end

-- Adds tags to a resource's tags: a key given again takes the new value
-- and keeps its place. Returns true, or nil, "TooManyTags", message, extra
-- when the result would hold more than 50 tags (nothing is changed then).
local function add(server, backend, handle, arn, tags)
  local list = get(server, backend, handle, arn)
  local at = {}
  for i, t in ipairs(list) do at[t.key] = i end
  for _, t in ipairs(tags) do
    local i = at[t.key]
    if i then
      list[i] = { key = t.key, value = t.value }
    else
      list[#list + 1] = { key = t.key, value = t.value }
      at[t.key] = #list
    end
  end
  if #list > M.MAX_TAGS then
    return nil, "TooManyTags", "Too many tags: '" .. arn .. "' would have " .. #list .. " tags; a resource has at most "
      .. M.MAX_TAGS, { resourceName = arn }
  end
  backend.put(server, handle, arn, list)
  return true
end

-- A ValidationException for tags without a key (the model leaves the
-- member optional; a tag is nothing without it), or nil.
local function keyless(tags)
  for i, t in ipairs(tags or {}) do
    if t.key == nil then
      return "ValidationException", "1 validation error detected: Value null at 'tags." .. i
        .. ".member.key' failed to satisfy constraint: Member must not be null"
    end
  end
  return nil
end

--- Checks the tags a new resource `arn` is created with
-- (CreateStateMachine, CreateActivity): nil when they may be added, else
-- AWS's code, message and extra (a key given twice is one tag).
function M.check_new(arn, tags)
  if not tags then return nil end
  local code, message = keyless(tags)
  if code then return code, message end
  local seen, n = {}, 0
  for _, t in ipairs(tags) do
    if not seen[t.key] then seen[t.key], n = true, n + 1 end
  end
  if n > M.MAX_TAGS then
    return "TooManyTags", "Too many tags: '" .. arn .. "' would have " .. n .. " tags; a resource has at most "
      .. M.MAX_TAGS, { resourceName = arn }
  end
  return nil
end

--- Adds tags to the state machine `arn` (CreateStateMachine's, checked
-- already). Returns true, or nil, "TooManyTags", message, extra.
function M.add(server, arn, tags)
  return add(server, BACKENDS.stateMachine, arn, arn, tags)
end

--- Forgets a state machine's tags (it was deleted).
function M.drop(server, arn)
  local ok, err = server.engine.store:delete_resource(KIND, arn)
  if ok == nil then fail(err) end
end

function M.setup(server)
  -- a state machine's tags go with it
  server.machines:on_purge(function(rec) M.drop(server, rec.arn) end)
end

function ops.TagResource(server, input, call)
  local backend, handle, message, extra = taggable(server, input.resourceArn)
  if not backend then return nil, handle, message, extra end
  local ok, code
  code, message = keyless(input.tags)
  if code then return nil, code, message end
  ok, code, message, extra = add(server, backend, handle, input.resourceArn, input.tags)
  if not ok then return nil, code, message, extra end
  return call:reply_after_commit({})
end

function ops.UntagResource(server, input, call)
  local backend, handle, message, extra = taggable(server, input.resourceArn)
  if not backend then return nil, handle, message, extra end
  local drop = {}
  for _, k in ipairs(input.tagKeys) do drop[k] = true end
  local kept = {}
  for _, t in ipairs(get(server, backend, handle, input.resourceArn)) do
    if not drop[t.key] then kept[#kept + 1] = t end
  end
  backend.put(server, handle, input.resourceArn, kept)
  return call:reply_after_commit({})
end

function ops.ListTagsForResource(server, input)
  local backend, handle, message, extra = taggable(server, input.resourceArn)
  if not backend then return nil, handle, message, extra end
  return { tags = get(server, backend, handle, input.resourceArn) }
end

return M
