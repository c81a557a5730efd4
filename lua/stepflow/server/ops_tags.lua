--- Tags: TagResource, UntagResource, ListTagsForResource, on state
-- machines and activities (AWS tags neither versions nor aliases). A
-- resource's tags are a store resource of kind `tags` under its ARN: the
-- TagList, one entry per key, in the order the keys were first given.
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

-- Whether a resource that takes tags exists: a state machine (unqualified)
-- or an activity (a store resource of kind "activity").
local EXISTS = {
  stateMachine = function(server, p, arn)
    return not p.resource:find(":", 1, true) and server.machines:get(arn) ~= nil
  end,
  activity = function(server, _, arn)
    return server.engine.store:get_resource("activity", arn) ~= nil
  end,
}

-- The ARN of a resource that can be tagged, or nil and the error.
local function taggable(server, arn)
  local p, why = common.parse_arn(arn)
  if not p then return nil, "InvalidArn", why end
  local exists = EXISTS[p.type]
  if not exists then
    return nil, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: " .. p.type .. "'"
  end
  if not exists(server, p, arn) then return not_found(arn) end
  return arn
end

local function fail(err)
  error("stepflow.server: store: " .. tostring(err), 0)
end

--- The tags of a resource (a TagList), empty when it has none.
function M.get(server, arn)
  local data = server.engine.store:get_resource(KIND, arn)
  return json.array(data and json.decode(data) or {})
end

local function put(server, arn, tags)
  local store = server.engine.store
  local ok, err
  if #tags == 0 then
    ok, err = store:delete_resource(KIND, arn)
    if ok ~= nil then ok = true end
  else
    ok, err = store:put_resource(KIND, arn, json.encode(json.array(tags)))
  end
  if not ok then fail(err) end
end

--- Adds tags to a resource's tags: a key given again takes the new
-- value and keeps its place. Returns true, or nil, "TooManyTags",
-- message, extra when the result would hold more than 50 tags (nothing
-- is changed then). The caller checked that the resource exists.
function M.add(server, arn, tags)
  local list = M.get(server, arn)
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
  put(server, arn, list)
  return true
end

--- Forgets a resource's tags (it was deleted).
function M.drop(server, arn)
  local ok, err = server.engine.store:delete_resource(KIND, arn)
  if ok == nil then fail(err) end
end

function M.setup(server)
  -- a state machine's tags go with it
  server.machines:on_purge(function(rec) M.drop(server, rec.arn) end)
end

function ops.TagResource(server, input, call)
  local arn, code, message, extra = taggable(server, input.resourceArn)
  if not arn then return nil, code, message, extra end
  local ok
  ok, code, message, extra = M.add(server, arn, input.tags)
  if not ok then return nil, code, message, extra end
  return call:reply_after_commit({})
end

function ops.UntagResource(server, input, call)
  local arn, code, message, extra = taggable(server, input.resourceArn)
  if not arn then return nil, code, message, extra end
  local drop = {}
  for _, k in ipairs(input.tagKeys) do drop[k] = true end
  local kept = {}
  for _, t in ipairs(M.get(server, arn)) do
    if not drop[t.key] then kept[#kept + 1] = t end
  end
  put(server, arn, kept)
  return call:reply_after_commit({})
end

function ops.ListTagsForResource(server, input)
  local arn, code, message, extra = taggable(server, input.resourceArn)
  if not arn then return nil, code, message, extra end
  return { tags = M.get(server, arn) }
end

return M
