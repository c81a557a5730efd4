-- Every definition in the shared conformance cases ran on AWS Step
-- Functions, and every benchmark workload is meant to run: the validator
-- must accept them all (this spec catches over-strictness).
local validate = require("stepflow.asl.validate")
local json = require("stepflow.json")
local shared = require("shared_dir")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

describe("stepflow.asl.validate", function()
  describe("with the AWS conformance definitions", function()
    local cases, missing = shared.files("conformance/cases", "*.json", true)
    it("finds the cases", function()
      assert(not missing, missing)
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
    local defs, missing = shared.files("bench/workloads", "definition.asl.json", true)
    it("finds the workloads", function()
      assert(not missing, missing)
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
