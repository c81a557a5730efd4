-- stepflow.util.calendar: day numbers of dates, shared by ASL timestamps
-- and JSONata dates.
describe("stepflow.util.calendar", function()
  local ts = require("stepflow.util.calendar")
  it("counts days from 1970-01-01 and back, negative years included", function()
    assert.equal(0, ts.days_from_civil(1970, 1, 1))
    assert.equal(11016, ts.days_from_civil(2000, 2, 29))
    for _, ymd in ipairs({ { 2000, 2, 29 }, { 1, 1, 1 }, { 0, 3, 1 }, { -1, 12, 31 }, { -400, 1, 1 }, { 9999, 12, 31 } }) do
      local y, m, d = ts.civil_from_days(ts.days_from_civil(ymd[1], ymd[2], ymd[3]))
      assert.same(ymd, { y, m, d })
    end
    assert.equal(ts.days_from_civil(-400, 1, 1) + 146097, ts.days_from_civil(0, 1, 1))
  end)

  it("knows leap years", function()
    assert.is_true(ts.is_leap(2000))
    assert.is_false(ts.is_leap(1900))
    assert.is_true(ts.is_leap(2024))
    assert.is_false(ts.is_leap(2023))
  end)
end)
