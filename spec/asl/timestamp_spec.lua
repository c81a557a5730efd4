local timestamp = require("stepflow.asl.timestamp")

describe("stepflow.asl.timestamp", function()
  describe("parse", function()
    it("reads a UTC timestamp as epoch seconds", function()
      assert.equal(1457920740, timestamp.parse("2016-03-14T01:59:00Z"))
      assert.equal(0, timestamp.parse("1970-01-01T00:00:00Z"))
      assert.equal("float", math.type(timestamp.parse("1970-01-01T00:00:00Z")))
    end)

    it("applies a numeric offset", function()
      assert.equal(1349805655, timestamp.parse("2012-10-09T19:00:55+01:00"))
      assert.equal(1349805655 + 3600 + 1800, timestamp.parse("2012-10-09T19:00:55-00:30"))
      assert.equal(1349805655, timestamp.parse("2012-10-09T19:00:55+0100"))
      assert.equal(1349805655, timestamp.parse("2012-10-09T19:00:55+01"))
    end)

    it("keeps fractional seconds up to nanoseconds", function()
      assert.equal(1457213369.5, timestamp.parse("2016-03-05T21:29:29.5Z"))
      local secs, nanos = timestamp.parse_parts("2016-03-05T21:29:29.243167252Z")
      assert.equal(1457213369, secs)
      assert.equal(243167252, nanos)
      assert.near(1457213369.243167252, timestamp.parse("2016-03-05T21:29:29.243167252Z"), 1e-6)
    end)

    it("accepts what Java's ISO_OFFSET_DATE_TIME accepts", function()
      assert.equal(1457920740, timestamp.parse("2016-03-14T01:59Z"))
      assert.equal(1457920740, timestamp.parse("2016-03-14t01:59:00z"))
      assert.equal(951782400, timestamp.parse("2000-02-29T00:00:00Z"))
      assert.equal(-0.5, timestamp.parse("1969-12-31T23:59:59.5Z"))
    end)

    it("rejects what AWS rejects", function()
      for _, text in ipairs({
        "2016-12-05T21:29:29",            -- NO_Z
        "2016-12-05 21:29:29Z",           -- NO_T
        "2016-13-05T21:29:29Z",           -- INVALID_DATE
        "05-12-2016T21:29:29Z",           -- INVALID_ISO
        "2023-02-24 12:15:56.832957",
        "2023-02-24",
        "2015-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2016-04-31T00:00:00Z",
        "2016-03-14T24:00:00Z",
        "2016-03-14T23:60:00Z",
        "2016-03-14T23:59:60Z",
        "2016-03-14T01:59:00.Z",
        "2016-03-14T01:59:00.1234567890Z",
        "2016-03-14T01:59:00+19:00",
        "2016-03-14T01:59:00+1:00",
        "2016-03-14T01:59:00Z ",
        " 2016-03-14T01:59:00Z",
        "",
      }) do
        assert.is_nil(timestamp.parse(text), text)
      end
    end)

    it("gives nil for non-strings", function()
      assert.is_nil(timestamp.parse(12))
      assert.is_nil(timestamp.parse(nil))
      assert.is_nil(timestamp.parse({}))
    end)
  end)

  describe("format", function()
    it("writes UTC with three millisecond digits", function()
      assert.equal("2024-01-02T03:04:05.678Z", timestamp.format(1704164645678))
      assert.equal("1970-01-01T00:00:00.000Z", timestamp.format(0))
      assert.equal("2016-03-14T01:59:00.000Z", timestamp.format(1457920740000))
    end)

    it("handles times before the epoch and far dates", function()
      assert.equal("1969-12-31T23:59:59.999Z", timestamp.format(-1))
      assert.equal("9999-12-31T23:59:59.999Z", timestamp.format(253402300799999))
      assert.equal("2000-02-29T12:00:00.000Z", timestamp.format(951825600000))
    end)

    it("floors float milliseconds", function()
      assert.equal("1970-01-01T00:00:01.234Z", timestamp.format(1234.9))
    end)

    it("round-trips with parse", function()
      for _, ms in ipairs({ 0, 1, 999, 1704164645678, 951825600000, -86400000 }) do
        assert.equal(ms / 1000, timestamp.parse(timestamp.format(ms)))
      end
    end)

    it("raises on a non-number", function()
      assert.has_error(function() timestamp.format("x") end,
        "stepflow.asl.timestamp.format: epoch_ms must be a number")
    end)
  end)
end)
