-- Specs for stepflow.jsonata: the public API and the language rules
-- (paths, sequences, predicates, operators, constructors, lambdas, errors).
local json = require("stepflow.json")
local jsonata = require("stepflow.jsonata")

local function ev(expr, input, bindings)
  return jsonata.evaluate(expr, input, bindings)
end

local function err(expr, input)
  local ok, e = pcall(jsonata.evaluate, expr, input)
  assert.is_false(ok)
  assert.is_table(e)
  return e
end

local function A(t) return json.array(t) end

local account = json.decode([[{"Account": {"Name": "Firefly", "Order": [
  {"OrderID": "o1", "Product": [{"Name": "Hat", "Price": 34.45, "Quantity": 2},
                                {"Name": "Bag", "Price": 107.99, "Quantity": 1}]},
  {"OrderID": "o2", "Product": [{"Name": "Hat", "Price": 34.45, "Quantity": 4}]}]}}]])

describe("stepflow.jsonata", function()
  describe("compile", function()
    it("returns a reusable compiled expression", function()
      local c = jsonata.compile("a + 1")
      assert.equal(2, c:evaluate({ a = 1 }))
      assert.equal(11, c:evaluate({ a = 10 }))
      assert.equal(5, jsonata.evaluate(c, { a = 4 }))
    end)

    it("raises a syntax error with code, position and token", function()
      local ok, e = pcall(jsonata.compile, "a +")
      assert.is_false(ok)
      assert.equal("S0207", e.code)
      local ok2, e2 = pcall(jsonata.compile, "(a b)")
      assert.is_false(ok2)
      assert.equal("S0202", e2.code)
      assert.equal("b", e2.token)
      assert.is_number(e2.position)
      assert.is_string(e2.message)
    end)

    it("rejects the 2.1 coalescing and default operators", function()
      assert.equal("S0211", select(2, pcall(jsonata.compile, "a ?? b")).code)
      assert.equal("S0211", select(2, pcall(jsonata.compile, "a ?: b")).code)
    end)

    it("reports unterminated strings, comments and regexes", function()
      assert.equal("S0101", select(2, pcall(jsonata.compile, '"abc')).code)
      assert.equal("S0106", select(2, pcall(jsonata.compile, "1 /* x")).code)
      assert.equal("S0302", select(2, pcall(jsonata.compile, "$match(a, /ab)")).code)
    end)
  end)

  describe("paths and sequences", function()
    it("navigates objects and maps over arrays", function()
      assert.equal("Firefly", ev("Account.Name", account))
      assert.same(A { "o1", "o2" }, ev("Account.Order.OrderID", account))
      assert.same(A { 34.45, 107.99, 34.45 }, ev("Account.Order.Product.Price", account))
    end)

    it("returns undefined (nil) for missing paths and keeps null", function()
      assert.is_nil(ev("Account.Missing", account))
      assert.equal(json.null, ev("a", json.decode('{"a": null}')))
    end)

    it("unwraps singleton sequences unless [] keeps them", function()
      local input = json.decode('{"a": [{"b": 1}]}')
      assert.equal(1, ev("a.b", input))
      assert.same(A { 1 }, ev("a.b[]", input))
    end)

    it("flattens nested arrays along a path", function()
      local input = json.decode('{"a": [[1, 2], [3]]}')
      assert.same(A { A { 1, 2 }, A { 3 } }, ev("a", input))
      assert.same(A { 1, 2, 3 }, ev("a.$", input))
    end)

    it("gives the same results with and without the plain-field fast path", function()
      local eval = require("stepflow.jsonata.eval_path")
      local exprs = { "Account.Name", "Account.Order.OrderID", "Account.Order.Product.Price",
        "$.Account.Order[0].Product", "Account.Missing.x", "Account.Order.Product.Name[]",
        "$x.y", "[1, 2].a", "Account.Order[0].OrderID", "Account.Order#$i.OrderID",
        "$x.y[0]", "Account.Order.Product{Name: Price}", "Account.Order.Product.%.OrderID" }
      local input = account
      for _, e in ipairs(exprs) do
        eval.fast_paths = true
        local fast = json.encode(jsonata.compile(e):evaluate(input, { x = { y = { 1 } } }) or json.null)
        eval.fast_paths = false
        local slow = json.encode(jsonata.compile(e):evaluate(input, { x = { y = { 1 } } }) or json.null)
        eval.fast_paths = true
        assert.equal(slow, fast)
      end
    end)

    it("keeps undefined items that a filter lets through, as jsonata-js does", function()
      local input = json.decode('{"a": [{"x": 1}, {"x": 2}]}')
      assert.same(A { json.null, json.null }, ev("a.y[true]", input))
      assert.equal(2, ev("$count(a.y[true])", input))
      assert.is_nil(ev("a[0].y[true]", input))
      assert.equal("[null,null]", ev("$string(a.y[true])", input))
      assert.equal("T0412", err("$sum(a.y[true])", input).code)
    end)

    it("selects by arrays of indexes and keeps the document order", function()
      assert.same(A { "a", "c" }, ev('["a", "b", "c"][[0, 2]]'))
      assert.same(A { "a", "c" }, ev('["a", "b", "c"][[2, 0]]'))
    end)

    it("evaluates predicates, indexes and negative indexes", function()
      assert.equal("Bag", ev("Account.Order.Product[Price > 100].Name", account))
      assert.equal("o2", ev("Account.Order[-1].OrderID", account))
      assert.same(A { "Hat", "Hat" }, ev("Account.Order.Product[0].Name", account))
      assert.equal("Hat", ev("(Account.Order.Product)[0].Name", account))
    end)

    it("expands wildcards and descendants", function()
      local input = json.decode('{"a": {"x": 1, "y": {"z": 2}}}')
      assert.same(A { 1, json.decode('{"z": 2}') }, ev("a.*", input))
      assert.same(A { 2 }, ev("a.**.z[]", input))
    end)

    it("binds positions with # and context with @", function()
      assert.same(A { "0:o1", "1:o2" }, ev('Account.Order#$i.($string($i) & ":" & OrderID)', account))
      local input = json.decode('{"a": [{"id": 1}, {"id": 2}], "b": [{"ref": 2, "v": "x"}]}')
      assert.equal("x", ev("a@$a.b@$b[$a.id = $b.ref].$b.v", input))
    end)

    it("resolves the parent operator %", function()
      assert.same(A { "o1", "o1", "o2" }, ev("Account.Order.Product.%.OrderID", account))
    end)

    it("sorts with ^ in ascending and descending order", function()
      assert.same(A { 107.99, 34.45, 34.45 }, ev("Account.Order.Product^(>Price).Price", account))
      assert.same(A { "Bag", "Hat", "Hat" }, ev("Account.Order.Product^(Name).Name", account))
    end)

    it("groups with object constructors", function()
      local r = ev("Account.Order.Product{Name: $sum(Quantity)}", account)
      assert.same({ Hat = 6, Bag = 1 }, r)
    end)
  end)

  describe("operators", function()
    it("does arithmetic and raises T2001/T2002 on non-numbers", function()
      assert.equal(7, ev("1 + 2 * 3"))
      assert.equal(1, ev("7 % 3"))
      assert.equal(2.5, ev("5 / 2"))
      assert.equal("T2001", err('"a" + 1').code)
      assert.equal("T2002", err('1 - "a"').code)
      assert.equal("D3001", err("$string(1/0)").code)
      assert.equal("D1001", err("1/0 + 1").code)
    end)

    it("compares values and raises T2009/T2010 on mixed types", function()
      assert.is_true(ev('"a" < "b"'))
      assert.is_true(ev("[1,2] = [1,2]"))
      assert.equal("T2009", err('1 < "a"').code)
      assert.equal("T2010", err("{} < 1").code)
    end)

    it("concatenates strings with &, casting with $string rules", function()
      assert.equal("a1true[1,2]", ev('"a" & 1 & true & [1,2]'))
    end)

    it("tests membership with in", function()
      assert.is_true(ev('"b" in ["a", "b"]'))
      assert.is_false(ev("3 in [1, 2]"))
    end)

    it("builds ranges and refuses non-integers", function()
      assert.same(A { 1, 2, 3 }, ev("[1..3]"))
      assert.equal("T2003", err("[1.5..3]").code)
    end)

    it("evaluates the conditional operator", function()
      assert.equal("big", ev('x > 5 ? "big" : "small"', { x = 10 }))
      assert.is_nil(ev('x > 5 ? "big"', { x = 1 }))
    end)
  end)

  describe("functions", function()
    it("defines lambdas, closures and recursion", function()
      assert.equal(120, ev("($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(5))"))
      assert.equal(15, ev("($add := function($x){ function($y){ $x + $y } }; $add(5)(10))"))
    end)

    it("runs tail calls without growing the stack", function()
      assert.equal(10000, ev("($loop := function($n, $acc){ $n = 0 ? $acc : $loop($n - 1, $acc + 1) }; $loop(10000, 0))"))
    end)

    it("raises U1001 for runaway recursion", function()
      assert.equal("U1001", err("($inf := function($n){ $n + $inf($n - 1) }; $inf(5))").code)
    end)

    it("stops a runaway tail-call loop at the time limit with U1001", function()
      local c = jsonata.compile("($inf := function(){ $inf() }; $inf())", { time_limit = 0.2 })
      local ok, e = pcall(c.evaluate, c)
      assert.is_false(ok)
      assert.equal("U1001", e.code)
    end)

    it("applies partial application and chaining with ~>", function()
      assert.equal("hel", ev('($first3 := $substring(?, 0, 3); $first3("hello"))'))
      assert.equal("HELLO", ev('"hello" ~> $uppercase()'))
      assert.equal(6, ev("($inc := function($x){$x+1}; $dbl := function($x){$x*2}; ($inc ~> $dbl)(2))"))
    end)

    it("validates signatures", function()
      local e = err('$substring("x", "a")')
      assert.equal("T0410", e.code)
      assert.equal("substring", e.token)
      assert.equal(2, e.index)
      assert.equal('Argument 2 of function "substring" does not match function signature', e.message)
      assert.equal("T0410", err("(function($x)<n:n>{$x})(\"a\")").code)
    end)

    it("reads $now() and $millis() from the clock once per evaluation", function()
      local t = 1700000000123
      local clock = function() t = t + 1 return t end
      local c = jsonata.compile("[$millis(), $millis()]", { clock = clock })
      assert.same(A { 1700000000124, 1700000000124 }, c:evaluate())
      assert.same(A { 1700000000125, 1700000000125 }, c:evaluate())
      -- a clock given for one evaluation wins over the compiled one
      assert.same(A { 7, 7 }, c:evaluate(nil, nil, { clock = function() return 7 end }))
    end)

    it("binds variables from the bindings table", function()
      assert.equal(42, ev("$x * 2", nil, { x = 21 }))
    end)

    it("transforms copies with |pattern|update,delete|", function()
      local input = json.decode('{"a": {"b": 1, "c": 2}}')
      local r = ev('$ ~> |a|{"b": 10}, ["c"]|', input)
      assert.same({ a = { b = 10 } }, r)
      assert.equal(2, input.a.c)
    end)
  end)

  describe("errors", function()
    it("refuses non-string and duplicate keys in object constructors", function()
      assert.equal("T1003", err("{1: 2}").code)
      assert.equal("D1009", err('{"a": 1, "a": 2}').code)
    end)

    it("checks transform clauses", function()
      assert.equal("T2011", err('{"a": 1} ~> |$|5|').code)
      assert.equal("T2012", err('{"a": 1} ~> |$|{}, 5|').code)
      assert.equal("T2011", err('{"a": [1, 2]} ~> |a|{"b": 1}|').code)
    end)

    it("names a forgotten $ with T1005 and a non-function with T1006", function()
      assert.equal("T1005", err("sum([1])").code)
      assert.equal("T1006", err("$nothing(1)").code)
      assert.equal("T2006", err("1 ~> 2").code)
    end)

    it("refuses mixed sort keys with T2007 and non-scalar keys with T2008", function()
      assert.equal("T2007", err('[{"a": 1}, {"a": "x"}]^(a)').code)
      assert.equal("T2008", err('[{"a": [1]}, {"a": {}}]^(a)').code)
    end)

    it("refuses negating a non-number with D1002", function()
      assert.equal("D1002", err('-"a"').code)
    end)
  end)

  describe("results", function()
    it("returns arrays carrying the JSON array metatable", function()
      local r = ev("[1, 2]")
      assert.equal(json.array_mt, getmetatable(r))
      local s = ev("Account.Order.OrderID", account)
      assert.equal(json.array_mt, getmetatable(s))
      assert.equal('["o1","o2"]', json.encode(s))
    end)

    it("drops nested functions as JSON.stringify does", function()
      local r = ev('{"f": $sum, "g": 1, "a": [$sum, 2]}')
      assert.is_nil(r.f)
      assert.same(A { json.null, 2 }, r.a)
      assert.equal('{"a":[null,2],"g":1}', json.encode(r))
    end)

    it("keeps the insertion order of constructed object keys", function()
      assert.same(A { "z", "a", "m" }, ev('$keys({"z": 1, "a": 2, "m": 3})'))
      assert.equal('{"z":1,"a":[1,2]}', ev('$string({"z": 1, "a": [1, 2]})'))
    end)

    it("treats a top-level input array as one value", function()
      assert.equal(3, ev("$count($)", json.decode("[1, 2, 3]")))
      assert.equal(2, ev("$[1]", json.decode("[1, 2, 3]")))
    end)
  end)
end)
