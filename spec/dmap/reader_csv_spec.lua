local h = require("dmap.s3_helper")
local reader = require("stepflow.dmap.reader")

local function csv_def(config)
  config.InputType = "CSV"
  return { Resource = reader.GET_OBJECT, Parameters = { Bucket = "b", Key = "file.csv" },
    ReaderConfig = config }
end

local function read_csv(text, config, opts)
  local b, root = h.backend("b")
  h.write(root, "b", "file.csv", text)
  local ok, out = pcall(function() return h.drain(reader.open(csv_def(config), b, opts)) end)
  h.remove(root)
  if not ok then return nil, { Error = out.Error, Cause = out.Cause } end
  return out
end

-- The file AWS read in its recorded CSV cases (LocalStack's snapshots).
local AWS_ROWS = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"

describe("stepflow.dmap.reader CSV", function()
  describe("with CSVHeaderLocation FIRST_ROW", function()
    it("reads the rows as AWS does: strings, empty and missing fields as \"\", extra ones dropped", function()
      assert.same({
        '{"Col1":"Value1","Col2":"Value2","Col3":"Value3"}',
        '{"Col1":"Value4","Col2":"Value5","Col3":"Value6"}',
        '{"Col1":"","Col2":"","Col3":""}',
        '{"Col1":"true","Col2":"1","Col3":"\'HelloWorld\'"}',
        '{"Col1":"Null","Col2":"None","Col3":""}',
        '{"Col1":"   ","Col2":"","Col3":""}',
      }, read_csv("Col1,Col2,Col3\n" .. AWS_ROWS, { CSVHeaderLocation = "FIRST_ROW" }))
    end)

    it("takes header values as they are, an empty one included", function()
      assert.same({ '{"0":"Value4","True":"Value5","{}":"Value6"}' },
        read_csv("0,True,{}\nValue4,Value5,Value6\n", {}))
      assert.same({ '{"":"Value5","H1":"Value4"}', '{"":"","H1":""}' },
        read_csv("H1,\nValue4,Value5,Value6\n,,,\n", {}))
    end)

    it("refuses duplicate headers with AWS's cause", function()
      local _, err = read_csv("A,A\n1,2\n", {})
      assert.same({ Error = "States.ItemReaderFailed", Cause = "CSV headers cannot contain duplicates." }, err)
    end)

    it("reads a last line without a newline, CRLF line ends, and skips empty lines", function()
      assert.same({ '{"a":"1","b":"2"}', '{"a":"3","b":"4"}' }, read_csv("a,b\r\n1,2\r\n\r\n\n3,4", {}))
    end)
  end)

  describe("with CSVHeaderLocation GIVEN", function()
    it("names the columns from CSVHeaders", function()
      local out = read_csv(AWS_ROWS, { CSVHeaderLocation = "GIVEN", CSVHeaders = { "H1", "H2", "H3" } })
      assert.same('{"H1":"Value1","H2":"Value2","H3":"Value3"}', out[1])
      assert.same('{"H1":"   ","H2":"","H3":""}', out[6])
    end)

    it("drops the fields past the given headers", function()
      assert.same({ '{"H1":"Value1"}', '{"H1":"Value4"}', '{"H1":""}', '{"H1":"true"}', '{"H1":"Null"}',
        '{"H1":"   "}' }, read_csv(AWS_ROWS, { CSVHeaderLocation = "GIVEN", CSVHeaders = { "H1" } }))
    end)

    it("refuses duplicate given headers", function()
      local _, err = read_csv(AWS_ROWS, { CSVHeaderLocation = "GIVEN", CSVHeaders = { "H1", "H1", "H3" } })
      assert.same("CSV headers cannot contain duplicates.", err.Cause)
    end)
  end)

  describe("quoting", function()
    it("keeps delimiters, doubled quotes and newlines inside quoted fields", function()
      local text = 'L,N,S,O,A\nabc,123,"This string contains commas, a double quotation marks (""), ' ..
        'and a newline (\n)",{""MyKey"":""MyValue""},"[1,2,3]"\n'
      assert.same({ '{"A":"[1,2,3]","L":"abc","N":"123","O":"{\\"MyKey\\":\\"MyValue\\"}",' ..
        '"S":"This string contains commas, a double quotation marks (\\"), and a newline (\\n)"}' },
        read_csv(text, {}))
    end)

    it("takes a backslash before a backslash, a quote or the delimiter, and drops it elsewhere", function()
      assert.same({ [[{"path":"C:\\Program Files\\MyApp.exe","size":"6534512"}]],
        '{"path":"a,b","size":"x\\"y"}', '{"path":"nq","size":""}' },
        read_csv("path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\na\\,b,x\\\"y\n\\n\\q\n", {}))
    end)

    it("reads a quoted field that spans the 64 KiB chunks", function()
      local long = string.rep("x", 70000) .. "\n" .. string.rep("y", 70000)
      local out = read_csv('a,b\n"' .. long .. '",2\n3,4\n', {})
      assert.same(2, #out)
      assert.same('{"a":"' .. long:gsub("\n", "\\n") .. '","b":"2"}', out[1])
      assert.same('{"a":"3","b":"4"}', out[2])
    end)
  end)

  describe("CSVDelimiter", function()
    for name, d in pairs({ COMMA = ",", PIPE = "|", SEMICOLON = ";", SPACE = " ", TAB = "\t" }) do
      it("splits fields at " .. name, function()
        -- the other delimiters are plain characters
        local other = name == "COMMA" and ";" or ","
        assert.same({ '{"a":"1","b":"x' .. other .. 'y"}' },
          read_csv(("a_b\n1_x" .. other .. "y\n"):gsub("_", d), { CSVDelimiter = name }))
      end)
    end
  end)

  describe("MaxItems", function()
    local rows = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n"

    it("stops after MaxItems rows", function()
      assert.same(2, #read_csv(rows, { MaxItems = 2 }))
    end)

    it("reads every row with 0 or a limit over 100,000,000", function()
      assert.same(4, #read_csv(rows, { MaxItems = 0 }))
      assert.same(4, #read_csv(rows, {}, { max_items = 100000001 }))
    end)

    it("takes the value of MaxItemsPath from the caller", function()
      assert.same(1, #read_csv(rows, {}, { max_items = 1 }))
    end)

    it("fails a negative value with AWS's cause", function()
      local _, err = read_csv(rows, {}, { max_items = -1 })
      assert.same({ Error = "States.ItemReaderFailed", Cause = "field MaxItems must be positive" }, err)
    end)

    it("skips the items a resumed run already read", function()
      assert.same({ '{"Col1":"Value5","Col2":"Value6"}' }, read_csv(rows, { MaxItems = 3 }, { skip = 2 }))
    end)
  end)
end)
