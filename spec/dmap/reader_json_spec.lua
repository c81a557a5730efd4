local h = require("dmap.s3_helper")
local json = require("stepflow.json")
local reader = require("stepflow.dmap.reader")
local codec = require("stepflow.core.codec")

local function read(files, def, opts)
  local b, root = h.backend("b", "data")
  for key, text in pairs(files) do
    local bucket, k = key:match("^(.-):(.*)$")
    h.write(root, bucket, k, text)
  end
  local ok, out = pcall(function() return h.drain(reader.open(def, b, opts)) end)
  h.remove(root)
  if not ok then
    if type(out) ~= "table" then error(out, 0) end
    return nil, { Error = out.Error, Cause = out.Cause }
  end
  return out
end

local function get(key, config)
  return { Resource = reader.GET_OBJECT, Parameters = { Bucket = "b", Key = key }, ReaderConfig = config }
end

local VERDICTS = '[{"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"}, ' ..
  '{"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"}, ' ..
  '{"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"}]'

describe("stepflow.dmap.reader JSON", function()
  it("reads the elements of a JSON array", function()
    local out = read({ ["b:file.json"] = VERDICTS }, get("file.json", { InputType = "JSON" }))
    assert.same({ '{"statement_date":"6/11/2008","statement_source":"speech","verdict":"true"}',
      '{"statement_date":"6/7/2022","statement_source":"television","verdict":"false"}',
      '{"statement_date":"5/18/2016","statement_source":"news","verdict":"mostly-true"}' }, out)
  end)

  it("keeps MaxItems", function()
    assert.same(2, #read({ ["b:file.json"] = VERDICTS }, get("file.json", { InputType = "JSON", MaxItems = 2 })))
  end)

  it("reads elements of every JSON type, strings with brackets and escapes included", function()
    local text = ' [ 1, -2.5e3 ,"a]b\\"}" , true,null,{"x":[1,{"y":"}"}]},[[]] ] '
    assert.same({ "1", "-2500", '"a]b\\"}"', "true", "null", '{"x":[1,{"y":"}"}]}', "[[]]" },
      read({ ["b:f.json"] = text }, get("f.json", { InputType = "JSON" })))
  end)

  it("fails on a document that is not an array with AWS's cause", function()
    local _, err = read({ ["b:f.json"] = '{"Hello": "world"}' }, get("f.json", { InputType = "JSON" }))
    assert.same({ Error = "States.ItemReaderFailed", Cause = "Attempting to map over non-iterable node." }, err)
  end)

  it("fails on bad JSON naming the byte", function()
    local _, err = read({ ["b:f.json"] = '[1, 2 3]' }, get("f.json", { InputType = "JSON" }))
    assert.same("States.ItemReaderFailed", err.Error)
    assert.matches("expected ',' or ']' at byte 7", err.Cause, 1, true)
    _, err = read({ ["b:f.json"] = '[1, {"a": tru}]' }, get("f.json", { InputType = "JSON" }))
    assert.matches("not valid JSON", err.Cause, 1, true)
    _, err = read({ ["b:f.json"] = '[1, {"a": ' }, get("f.json", { InputType = "JSON" }))
    assert.matches("not valid JSON", err.Cause, 1, true)
  end)

  it("streams an array far larger than a chunk, element by element", function()
    local parts = {}
    for i = 1, 20000 do parts[i] = '{"i":' .. i .. ',"pad":"' .. string.rep("p", 20) .. '"}' end
    local out = read({ ["b:big.json"] = "[" .. table.concat(parts, ",\n") .. "]" },
      get("big.json", { InputType = "JSON" }))
    assert.same(20000, #out)
    assert.same('{"i":20000,"pad":"pppppppppppppppppppp"}', out[20000])
  end)

  describe("ItemsPointer", function()
    local doc = '{"skip": {"a": [1, "]"]}, "data": {"items": [{"k": 1}, 2], "other": 3}, "list": [[0], ["x", "y"]],' ..
      ' "a/b": {"~c": [true]}}'

    it("reads the array a JSON Pointer names, skipping the values beside it", function()
      assert.same({ '{"k":1}', "2" }, read({ ["b:f.json"] = doc },
        get("f.json", { InputType = "JSON", ItemsPointer = "/data/items" })))
      assert.same({ '"x"', '"y"' }, read({ ["b:f.json"] = doc },
        get("f.json", { InputType = "JSON", ItemsPointer = "/list/1" })))
      assert.same({ "true" }, read({ ["b:f.json"] = doc },
        get("f.json", { InputType = "JSON", ItemsPointer = "/a~1b/~0c" })))
    end)

    it("fails when the pointer names nothing or a value that is not an array", function()
      local _, err = read({ ["b:f.json"] = doc }, get("f.json", { InputType = "JSON", ItemsPointer = "/nope" }))
      assert.same("States.ItemReaderFailed", err.Error)
      _, err = read({ ["b:f.json"] = doc }, get("f.json", { InputType = "JSON", ItemsPointer = "/data/other" }))
      assert.same("Attempting to map over non-iterable node.", err.Cause)
    end)
  end)
end)

describe("stepflow.dmap.reader JSONL", function()
  it("reads one value a line, skipping blank lines", function()
    assert.same({ '{"a":1}', "[2]", '"s"' }, read({ ["b:f.jsonl"] = '{"a": 1}\n\n  \n[2]\r\n"s"' },
      get("f.jsonl", { InputType = "JSONL" })))
  end)

  it("names the line of bad JSON", function()
    local _, err = read({ ["b:f.jsonl"] = '{"a": 1}\n{oops}\n' }, get("f.jsonl", { InputType = "JSONL" }))
    assert.same("States.ItemReaderFailed", err.Error)
    assert.matches("line 2", err.Cause, 1, true)
  end)
end)

describe("stepflow.dmap.reader missing objects", function()
  it("fails with S3's cause for a missing key or bucket", function()
    local _, err = read({}, get("nope.json", { InputType = "JSON" }))
    assert.same("States.ItemReaderFailed", err.Error)
    assert.matches("^The specified key does not exist%. %(Service: S3, Status Code: 404", err.Cause)
    _, err = read({}, { Resource = reader.GET_OBJECT, Parameters = { Bucket = "none", Key = "k" },
      ReaderConfig = { InputType = "JSON" } })
    assert.matches("^The specified bucket does not exist%.", err.Cause)
  end)

  it("refuses PARQUET with what is missing", function()
    local _, err = read({ ["b:f.parquet"] = "PAR1" }, get("f.parquet", { InputType = "PARQUET" }))
    assert.matches("PARQUET is not supported by stepflow", err.Cause, 1, true)
  end)
end)

describe("stepflow.dmap.reader listObjectsV2", function()
  it("lists the objects under a Prefix as AWS's object summaries, in key order", function()
    local files = { ["b:file_0.txt"] = "0HelloWorld!", ["b:file_1.txt"] = "1HelloWorld!",
      ["b:sub/x.txt"] = "x", ["b:sub-a.txt"] = "y" }
    local out = read(files, { Resource = reader.LIST_OBJECTS, Parameters = { Bucket = "b" } })
    assert.same(4, #out)
    local first = json.decode(out[1])
    assert.same({ Etag = '"' .. codec.md5("0HelloWorld!") .. '"', Key = "file_0.txt",
      LastModified = first.LastModified, Size = 12, StorageClass = "STANDARD" }, first)
    assert.same("integer", math.type(first.LastModified))
    local keys = {}
    for i, t in ipairs(out) do keys[i] = json.decode(t).Key end
    -- "sub-a.txt" sorts before "sub/x.txt" ("-" < "/"), as S3 lists
    assert.same({ "file_0.txt", "file_1.txt", "sub-a.txt", "sub/x.txt" }, keys)
    out = read(files, { Resource = reader.LIST_OBJECTS, Parameters = { Bucket = "b", Prefix = "sub/" } })
    assert.same(1, #out)
  end)

  it("reads the listed objects' contents with Transformation LOAD_AND_FLATTEN", function()
    local files = { ["b:in/1.jsonl"] = '{"n":1}\n{"n":2}\n', ["b:in/2.jsonl"] = '{"n":3}\n', ["b:out.txt"] = "x" }
    assert.same({ '{"n":1}', '{"n":2}', '{"n":3}' }, read(files, { Resource = reader.LIST_OBJECTS,
      Parameters = { Bucket = "b", Prefix = "in/" },
      ReaderConfig = { InputType = "JSONL", Transformation = "LOAD_AND_FLATTEN" } }))
  end)
end)

describe("stepflow.dmap.reader manifests", function()
  local function gzip(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    assert(os.execute("gzip -f -n " .. path))
    f = assert(io.open(path .. ".gz", "rb"))
    local z = f:read("a")
    f:close()
    os.remove(path .. ".gz")
    return z
  end

  it("reads the gzip'd CSV data files of an S3 inventory manifest, columns from fileSchema", function()
    local manifest = json.encode({ sourceBucket = "src", destinationBucket = "arn:aws:s3:::data",
      version = "2016-11-30", fileFormat = "CSV", fileSchema = "Bucket, Key, Size, LastModifiedDate",
      files = { { key = "inv/data/a.csv.gz", size = 1, MD5checksum = "x" },
        { key = "inv/data/b.csv.gz", size = 1, MD5checksum = "y" } } })
    local out = read({ ["b:inv/manifest.json"] = manifest,
      ["data:inv/data/a.csv.gz"] = gzip('"src","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n'),
      ["data:inv/data/b.csv.gz"] = gzip('"src","two.csv","1","2022-11-17T00:00:00.000Z"\n') },
      get("inv/manifest.json", { InputType = "MANIFEST" }))
    assert.same({ '{"Bucket":"src","Key":"csvDataset/titles.csv","LastModifiedDate":"2022-11-16T00:29:32.000Z",' ..
      '"Size":"3399671"}', '{"Bucket":"src","Key":"two.csv","LastModifiedDate":"2022-11-17T00:00:00.000Z","Size":"1"}' },
      out)
  end)

  it("reads the data files an Athena manifest lists, gzip'd or not, as InputType says", function()
    local out = read({ ["b:athena/manifest.csv"] = "s3://data/u/1.gz\ns3://data/u/2\n",
      ["data:u/1.gz"] = gzip("1|a\n2|b\n"), ["data:u/2"] = "3|c\n" },
      get("athena/manifest.csv", { ManifestType = "ATHENA_DATA", InputType = "CSV", CSVDelimiter = "PIPE",
        CSVHeaderLocation = "GIVEN", CSVHeaders = { "id", "v" } }))
    assert.same({ '{"id":"1","v":"a"}', '{"id":"2","v":"b"}', '{"id":"3","v":"c"}' }, out)
  end)

  it("fails on a damaged gzip file", function()
    local z = gzip("1|a\n")
    local _, err = read({ ["b:m"] = "s3://data/u/1.gz\n", ["data:u/1.gz"] = z:sub(1, 12) .. "garbage" .. z:sub(20) },
      get("m", { ManifestType = "ATHENA_DATA", InputType = "JSONL" }))
    assert.same("States.ItemReaderFailed", err.Error)
    assert.matches("Cannot decompress", err.Cause, 1, true)
  end)
end)
