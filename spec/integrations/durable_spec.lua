-- Integrations with a durable store: after a restart, work already
-- submitted (a TaskSubmitted in the history) is found again instead of
-- being started twice; task tokens handed out stay valid; a parent finds
-- its child execution. One spec kills a real engine process (SIGKILL).
local stepflow = require("stepflow")
local h = require("spec_helper")
local json = require("stepflow.json")

local function types(events)
  local out = {}
  for i, e in ipairs(events) do out[i] = e.type end
  return out
end

local function count(list, value)
  local n = 0
  for _, v in ipairs(list) do if v == value then n = n + 1 end end
  return n
end

describe("integrations with a durable store", function()
  local path
  before_each(function() path = h.temp_store() end)
  after_each(function() h.remove_store(path) end)

  it("keeps a .waitForTaskToken's token across a restart, without sending the request again", function()
    local sent = {}
    local sqs = { call = function(_, ctx)
      sent[#sent + 1] = ctx.task_token
      return { MessageId = "m" .. #sent }
    end }
    local def = { StartAt = "Send", States = { Send = { Type = "Task",
      Resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
      Parameters = { MessageBody = { ["token.$"] = "$$.Task.Token" } }, End = true } } }
    local first = assert(stepflow.new({ store = path, integrations = { ["arn:aws:states:::sqs:sendMessage"] = sqs } }))
    local sm = assert(first:create_state_machine(def, { name = "cb" }))
    local exec = assert(first:start_execution(sm, {}, { name = "e1" }))
    first:run()
    assert.equal(1, #sent)
    first:close()  -- the process ends while the task waits for its token
    local again = assert(stepflow.new({ store = path, virtual_time = true,
      integrations = { ["arn:aws:states:::sqs:sendMessage"] = sqs } }))
    assert.equal(1, again:recover())
    again:run()
    assert.equal(1, #sent)  -- not sent again
    assert(again:send_task_success(sent[1], { ok = true }))
    again:run()
    local rec = again.store:get_execution(exec.arn)
    assert.equal("SUCCEEDED", rec.status)
    assert.same({ ok = true }, json.decode(rec.output))
    local t = types(again:history(exec.arn))
    assert.equal(1, count(t, "TaskSubmitted"))
    assert.equal(1, count(t, "TaskStarted"))
    again:close()
  end)

  it("polls a .sync job again after a restart instead of starting a second one", function()
    local starts, polls = 0, 0
    local job = { poll_interval = 10,
      start = function() starts = starts + 1; return { JobId = "j" .. starts } end,
      poll = function(s)
        polls = polls + 1
        if polls < 2 then return nil end
        return { JobId = s.JobId, Status = "SUCCEEDED" }
      end }
    local def = { StartAt = "Run", States = { Run = { Type = "Task", Resource = "arn:aws:states:::batch:submitJob.sync",
      End = true } } }
    local first = assert(stepflow.new({ store = path, integrations = { ["arn:aws:states:::batch:submitJob"] = job } }))
    local sm = assert(first:create_state_machine(def, { name = "sync" }))
    local exec = assert(first:start_execution(sm, {}, { name = "s1" }))
    first.loop:step()
    first.loop:step()
    first.loop:step()
    first.loop:step()
    assert.equal(1, starts)
    first:close()
    local again = assert(stepflow.new({ store = path, virtual_time = true,
      integrations = { ["arn:aws:states:::batch:submitJob"] = job } }))
    assert.equal(1, again:recover())
    again:run()
    assert.equal(1, starts)
    local rec = again.store:get_execution(exec.arn)
    assert.same({ JobId = "j1", Status = "SUCCEEDED" }, json.decode(rec.output))
    again:close()
  end)

  it("finds a .sync child again after the parent's engine is killed (a real crash)", function()
    local q = function(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local p = assert(io.popen("sh -c " .. q("lua5.4 spec/integrations/nested_crash.lua start " .. q(path) ..
      " & echo $!; wait") .. " 2>/dev/null", "r"))
    local pid = assert(tonumber(p:read("l")))
    -- the child's first Task runs once the child and the parent's
    -- TaskSubmitted are committed: then the engine is killed
    assert.equal("child running", p:read("l"))
    os.execute("kill -9 " .. pid)
    p:close()
    local r = assert(io.popen("lua5.4 spec/integrations/nested_crash.lua resume " .. q(path), "r"))
    local lines = r:read("a")
    r:close()
    local report = json.decode(lines:match("({.*})"))
    assert.equal("SUCCEEDED", report.status)
    assert.equal(1, report.children)
    assert.equal("SUCCEEDED", report.child_status)
    assert.equal(1, report.submitted)
    assert.same({ child_got = 7 }, report.output.Output)
  end)
end)
