local json = require("stepflow.json")
local graph = require("stepflow.graph")

local function read(path)
  local fh = assert(io.open(path, "rb"))
  local text = fh:read("a")
  fh:close()
  return text
end

-- Parses SVG texts with Python's XML parser (an independent judge of
-- well-formedness), all in one run, and returns for each what a reader
-- sees: per state box its rect, its texts and its title, and the
-- legend's texts; or {error = the parser's message}.
local PARSE = [==[
import json, sys, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
def read(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return {"error": str(e)}
    states = []
    for g in root.iter(NS + "g"):
        if "state" in g.get("class", "").split():
            states.append({
                "name": g.get("data-state"),
                "class": g.get("class"),
                "rects": len(g.findall(NS + "rect")),
                "texts": [t.text for t in g.findall(NS + "text")],
                "title": g.findtext(NS + "title"),
            })
    legend = [t.text for g in root.iter(NS + "g") if g.get("class") == "legend" for t in g.iter(NS + "text")]
    return {"root": root.tag, "states": states, "legend": legend}
print(json.dumps([read(p) for p in sys.argv[1:]]))
]==]

local function parse_all(svgs)
  local files = {}
  for i, svg in ipairs(svgs) do
    files[i] = os.tmpname()
    local fh = assert(io.open(files[i], "wb"))
    fh:write(svg)
    fh:close()
  end
  local script = os.tmpname()
  local fh = assert(io.open(script, "w"))
  fh:write(PARSE)
  fh:close()
  -- without the sanitizers' LD_PRELOAD (make sanitize), as the store specs
  local p = assert(io.popen("env -u LD_PRELOAD python3 " .. script .. " " .. table.concat(files, " ")))
  local out = p:read("a")
  p:close()
  for _, f in ipairs(files) do os.remove(f) end
  os.remove(script)
  local docs = json.decode(out)
  assert(#docs == #svgs, "python3 did not read every SVG")
  return docs
end

-- One parser run for every SVG of this file: `svg(key, text)` registers
-- one, `doc(key)` parses them all on first use and returns its result.
local pending, parsed = {}, nil
local function svg(key, text)
  pending[#pending + 1] = { key, text }
  return text
end
local function doc(key)
  if not parsed then
    local texts = {}
    for i, p in ipairs(pending) do texts[i] = p[2] end
    local docs = parse_all(texts)
    parsed = {}
    for i, p in ipairs(pending) do parsed[p[1]] = docs[i] end
  end
  local d = parsed[key]
  if d.error then return nil, d.error end
  return d
end

local function examples()
  local list = {}
  local p = assert(io.popen("ls examples/*/definition.asl.json"))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local function state_names(def, out)
  out = out or {}
  for name, st in pairs(def.States) do
    out[#out + 1] = name
    for _, b in ipairs(st.Branches or {}) do state_names(b, out) end
    if st.ItemProcessor or st.Iterator then state_names(st.ItemProcessor or st.Iterator, out) end
  end
  return out
end

describe("stepflow.graph.svg", function()
  -- every SVG is made here, so that one parser run reads them all
  local defs = {}
  for _, path in ipairs(examples()) do
    defs[path] = json.decode(read(path))
    svg(path, assert(graph.svg(defs[path], { title = path })))
  end
  svg("escapes", assert(graph.svg({
    StartAt = "A <&> \"B\" 'C'",
    States = {
      ["A <&> \"B\" 'C'"] = { Type = "Choice", Choices = {
        { Variable = "$.x", StringEquals = "</text><script>\1", Next = "Z & Z" } }, Default = "Z & Z" },
      ["Z & Z"] = { Type = "Succeed" },
    },
  }, { title = "<title>" })))
  local long = "AStateWithAVeryLongNameThatCannotPossiblyFitInsideItsBox"
  svg("long", assert(graph.svg({ StartAt = long, States = { [long] = { Type = "Succeed" } } })))
  local order = json.decode(read("examples/order/definition.asl.json"))
  local coloured = svg("status", assert(graph.svg(order, { title = "order",
    subtitle = "execution e1 \u{b7} FAILED", status = {
      ValidateOrder = "succeeded", ReserveStock = "succeeded", ChargePayment = "caught",
      ReleaseStock = "succeeded", PaymentFailed = "failed" }, visits = { ReserveStock = 2, ShipOrder = 1 } })))
  local plain = svg("plain", assert(graph.svg(json.decode(read("examples/fanout/definition.asl.json")))))

  for _, path in ipairs(examples()) do
    it("draws " .. path .. " as well-formed SVG, each state a box with its name", function()
      local d = assert(doc(path))
      assert.equal("{http://www.w3.org/2000/svg}svg", d.root)
      local seen = {}
      for _, s in ipairs(d.states) do
        assert.is_nil(seen[s.name], "drawn twice: " .. s.name)
        seen[s.name] = true
        assert.equal(1, s.rects)
        -- the name, or its shortened form, is the first text
        local shown = s.texts[1]
        assert.is_true(shown == s.name or (shown:sub(-3) == "\u{2026}" and s.name:sub(1, #shown - 3) == shown:sub(1, -4)))
        assert.equal(s.name, s.title:match("^[^\n]+"))
      end
      for _, name in ipairs(state_names(defs[path])) do assert.is_true(seen[name], "not drawn: " .. name) end
    end)
  end

  it("escapes what XML forbids in names and labels", function()
    local d = assert(doc("escapes"))
    local names = {}
    for _, s in ipairs(d.states) do names[#names + 1] = s.name end
    table.sort(names)
    assert.same({ "A <&> \"B\" 'C'", "Z & Z" }, names)
  end)

  it("keeps the full name of a shortened state as its title", function()
    local s = assert(doc("long")).states[1]
    assert.equal(long, s.name)
    assert.matches("\u{2026}$", s.texts[1])
    assert.equal(long .. "\nSucceed", s.title)
  end)

  it("colours states by status and adds a legend", function()
    local d = assert(doc("status"))
    local class, titles = {}, {}
    for _, s in ipairs(d.states) do
      class[s.name] = s.class:match("st%-([%w%-]+)")
      titles[s.name] = s.title
    end
    assert.equal("ReserveStock\nTask: reserveStock\nRetry: Inventory.Busy, States.Timeout\nSucceeded (entered 2 times)",
      titles.ReserveStock)
    assert.equal("ShipOrder\nTask: shipOrder\nNot reached", titles.ShipOrder)
    assert.same({ ValidateOrder = "succeeded", ReserveStock = "succeeded", ChargePayment = "caught",
      ReleaseStock = "succeeded", PaymentFailed = "failed", RejectOrder = "not-reached",
      ShipOrder = "not-reached", Summarize = "not-reached" }, class)
    assert.same({ "Succeeded", "Failed", "Caught error", "In progress", "Cancelled", "Not reached" }, d.legend)
    assert.matches("execution e1", coloured, 1, true)
  end)

  it("has no legend without a status, and needs nothing from outside the file", function()
    assert.same({}, assert(doc("plain")).legend)
    assert.is_nil(plain:find("href", 1, true))
    assert.is_nil(plain:find("@import", 1, true))
    assert.is_nil(plain:find("<script", 1, true))
  end)

  it("writes the same bytes in separate processes", function()
    -- each Lua process hashes strings with its own seed: table order differs
    local function run()
      local p = assert(io.popen("bin/stepflow graph spec/graph/fixtures/nested.asl.json"))
      local out = p:read("a")
      p:close()
      return out
    end
    local a = run()
    assert.is_true(#a > 1000)
    assert.equal(a, run())
  end)
end)

describe("stepflow.graph.dot", function()
  local def = json.decode(read("spec/graph/fixtures/nested.asl.json"))
  local dot = assert(graph.dot(def, { title = "nested" }))

  it("writes a digraph with every state as a node or a cluster", function()
    assert.matches('^digraph "nested" {\n', dot)
    assert.matches("}\n$", dot)
    for _, name in ipairs(state_names(def)) do
      local st = name == "FanOut" or name == "PerItem" or name == "Audit" or name == "Checks"
      if st then
        assert.matches('label="' .. name .. '\\n', dot, 1, true)
      else
        assert.matches('\n%s*"' .. name:gsub("%p", "%%%0") .. '" %[label=', dot)
      end
    end
  end)

  it("draws edges into and out of Parallel and Map clusters to their border", function()
    assert.matches('"Prepare" -> "Classify" [lhead="cluster_1"]', dot, 1, true)
    assert.matches('"ShipBook" -> "Reject" [ltail="cluster_1" label="Catch: Kind.Unknown"', dot, 1, true)
    assert.matches('style=dashed', dot, 1, true)
  end)

  it("balances its braces and quotes names with quotes in them", function()
    local d = assert(graph.dot({ StartAt = 'say "hi"\\', States = { ['say "hi"\\'] = { Type = "Succeed" } } }))
    assert.matches('"say \\"hi\\"\\\\" [label=', d, 1, true)
    local _, open = dot:gsub("{", "")
    local _, close = dot:gsub("}", "")
    assert.equal(open, close)
  end)
end)
