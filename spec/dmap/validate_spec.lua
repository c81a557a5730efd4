local validate = require("stepflow.dmap.validate")

local function map(fields, mode)
  local state = { Type = "Map", ItemProcessor = { ProcessorConfig = { Mode = mode or "DISTRIBUTED",
    ExecutionType = "STANDARD" }, StartAt = "P", States = { P = { Type = "Pass", End = true } } }, End = true }
  for k, v in pairs(fields) do state[k] = v end
  return state
end

local function messages(state, opts)
  local out = {}
  for _, p in ipairs(validate.check(state, opts)) do out[#out + 1] = p.path .. ": " .. p.message end
  return out
end

local GET = "arn:aws:states:::s3:getObject"

describe("stepflow.dmap.validate", function()
  it("accepts every ItemReader form AWS documents", function()
    local forms = {
      { Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "CSV",
        CSVHeaderLocation = "GIVEN", CSVHeaders = { "a" }, CSVDelimiter = "PIPE", MaxItems = 10 } },
      { Resource = GET, Parameters = { ["Bucket.$"] = "$.b", Key = "k" }, ReaderConfig = { InputType = "JSON",
        ItemsPointer = "/data/items", MaxItemsPath = "$.max" } },
      { Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "JSONL" } },
      { Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "MANIFEST" } },
      { Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "CSV",
        ManifestType = "ATHENA_DATA", CSVHeaderLocation = "GIVEN", CSVHeaders = { "x" } } },
      { Resource = "arn:aws:states:::s3:listObjectsV2", Parameters = { Bucket = "b", Prefix = "p/" } },
      { Resource = "arn:aws:states:::s3:listObjectsV2", Parameters = { Bucket = "b" },
        ReaderConfig = { InputType = "JSON", Transformation = "LOAD_AND_FLATTEN" } },
    }
    for _, r in ipairs(forms) do assert.same({}, messages(map({ ItemReader = r }))) end
    assert.same({}, messages(map({ ItemReader = { Resource = GET,
      Arguments = { Bucket = "{% $states.input.b %}", Key = "k" },
      ReaderConfig = { InputType = "JSON", MaxItems = "{% $max %}" } } }), { jsonata = true }))
  end)

  it("refuses PARQUET naming what is missing", function()
    assert.same({ "/ItemReader/ReaderConfig/InputType: InputType PARQUET is not supported by stepflow (it has " ..
      "no Parquet decoder): convert the data to CSV or JSON Lines" }, messages(map({ ItemReader = {
        Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "PARQUET" } } })))
  end)

  it("points at each problem of a bad ItemReader", function()
    local out = messages(map({ ItemReader = { Resource = "arn:aws:states:::s3:getObjects",
      Parameters = { Bucket = "b" }, ReaderConfig = { InputType = "XML", CSVHeaderLocation = "GIVEN",
        MaxItems = -1, ItemsPointer = "data", Extra = 1 } } }))
    assert.same({
      "/ItemReader/Resource: The ItemReader's Resource must be arn:aws:states:::s3:getObject or " ..
        "arn:aws:states:::s3:listObjectsV2, got 'arn:aws:states:::s3:getObjects'",
      "/ItemReader/ReaderConfig/Extra: Field 'Extra' is not supported in ReaderConfig; its fields are: InputType, " ..
        "Transformation, ManifestType, CSVDelimiter, CSVHeaderLocation, CSVHeaders, MaxItems, MaxItemsPath, ItemsPointer",
      "/ItemReader/ReaderConfig/InputType: InputType must be one of CSV, JSON, JSONL, MANIFEST, PARQUET, got 'XML'",
      "/ItemReader/ReaderConfig/CSVHeaderLocation: CSVHeaderLocation needs InputType CSV",
      "/ItemReader/ReaderConfig: These fields are required: [CSVHeaders]; CSVHeaderLocation GIVEN names the " ..
        "columns there",
      "/ItemReader/ReaderConfig/ItemsPointer: ItemsPointer must be a JSON Pointer such as \"/data/items\", got 'data'",
      "/ItemReader/ReaderConfig/ItemsPointer: ItemsPointer needs InputType JSON",
    }, { table.unpack(out, 1, 7) })
    assert.matches("^/ItemReader/ReaderConfig/MaxItems: ", out[8])
  end)

  it("requires a Distributed Map", function()
    assert.same({ "/ItemReader: Field 'ItemReader' needs a Distributed Map: set " ..
      "ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED" }, messages(map({ ItemReader = {
        Resource = GET, Parameters = { Bucket = "b", Key = "k" }, ReaderConfig = { InputType = "JSON" } } }, "INLINE")))
  end)

  describe("ResultWriter", function()
    it("accepts WriterConfig alone, Resource with Parameters, or all three", function()
      local put = "arn:aws:states:::s3:putObject"
      assert.same({}, messages(map({ ResultWriter = { WriterConfig = { Transformation = "FLATTEN",
        OutputType = "JSON" } } })))
      assert.same({}, messages(map({ ResultWriter = { Resource = put, Parameters = { Bucket = "b", Prefix = "p" } } })))
      assert.same({}, messages(map({ ResultWriter = { Resource = put, Parameters = { Bucket = "b" },
        WriterConfig = { OutputType = "JSONL", Transformation = "COMPACT" } } })))
    end)

    it("refuses an empty one, a Resource alone and bad enums", function()
      assert.same({ "/ResultWriter: ResultWriter cannot be empty: give WriterConfig, or Resource and Parameters, " ..
        "or all three" }, messages(map({ ResultWriter = {} })))
      assert.same({ "/ResultWriter: ResultWriter needs Resource and Parameters together (they name where the " ..
        "results go), or neither" }, messages(map({ ResultWriter = { Resource = "arn:aws:states:::s3:putObject" } })))
      assert.same({ "/ResultWriter/WriterConfig/OutputType: OutputType must be one of JSON, JSONL, got 'CSV'" },
        messages(map({ ResultWriter = { WriterConfig = { OutputType = "CSV" } } })))
    end)
  end)
end)
