-- Every definition in the shared conformance cases ran on AWS Step
-- Functions, and every benchmark workload is meant to run: the validator
-- must accept them all (this spec catches over-strictness).
local validate = require("stepflow.asl.validate")

local ok_json, json = pcall(require, "stepflow.json")
if not ok_json then json = require("cjson") end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function files(pattern)
  local list = {}
  local p = assert(io.popen("find " .. pattern .. " -name '*.json' 2>/dev/null | sort"))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local SHARED = os.getenv("STEPFLOW_SHARED") or "/work/shared"

describe("stepflow.asl.validate", function()
  describe("with the AWS conformance definitions", function()
    local cases = files(SHARED .. "/conformance/cases")
    it("finds the cases", function()
      assert.is_true(#cases > 600)
    end)
    it("accepts every definition that AWS accepted", function()
      local failures = {}
      for _, file in ipairs(cases) do
        local case = json.decode(read(file))
        local problems = validate.check(case.definition)
        if #problems > 0 then
          failures[#failures + 1] = file:match("cases/(.*)$") .. "\n  "
            .. validate.format(problems):gsub("\n", "\n  ")
        end
      end
      assert.are.equal("", table.concat(failures, "\n"))
    end)
  end)

  describe("with the benchmark workloads", function()
    local defs = {}
    local p = assert(io.popen("ls " .. SHARED .. "/bench/workloads/*/definition.asl.json 2>/dev/null"))
    for line in p:lines() do defs[#defs + 1] = line end
    p:close()
    it("finds the workloads", function()
      assert.is_true(#defs > 0)
    end)
    it("accepts every workload definition", function()
      local failures = {}
      for _, file in ipairs(defs) do
        local problems = validate.check(json.decode(read(file)))
        if #problems > 0 then
          failures[#failures + 1] = file .. "\n  " .. validate.format(problems):gsub("\n", "\n  ")
        end
      end
      assert.are.equal("", table.concat(failures, "\n"))
    end)
  end)
end)
