-- test_file.lua - llfc.write, llfc.csv and llfc.json: the atomic file and
-- the text formats every exported file is made of, checked against
-- hand-written text and, for JSON, against Python's json module as an
-- independent parser.
local T = require "check"

local dir = T.tmpname("_file")
assert(os.execute("mkdir -p " .. dir))
local function ls() local p = io.popen("ls -A " .. dir); local s = p:read("a"); p:close(); return s end

T.section("llfc.write", function()
  local p = dir .. "/a.txt"
  T.eq(llfc.write(p, "one\0two\n"), p, "returns the path")
  T.eq(T.slurp(p), "one\0two\n", "the bytes are written as given (a zero byte too)")
  T.eq(llfc.write(p, "new"), p, "writes over an existing file")
  T.eq(T.slurp(p), "new", "the new text replaces the old")
  local r, msg = llfc.write(dir .. "/missing/b.txt", "x")
  T.ok(r == nil and tostring(msg):find(dir .. "/missing/b.txt", 1, true) and tostring(msg):find("No such file", 1, true),
       "a missing directory: nil and a message naming the path and the reason", tostring(msg))
  assert(os.execute("mkdir " .. dir .. "/sub"))
  r, msg = llfc.write(dir .. "/sub", "x")
  T.ok(r == nil and msg, "writing over a directory fails", tostring(msg))
  T.eq(ls(), "a.txt\nsub\n", "failures leave no temporary file behind")
  T.raises(function() llfc.write(p) end, "string expected", "the text is required")
end)

T.section("llfc.csv", function()
  T.eq(llfc.csv{{"alpha", "err"}, {0.5, 0.25}, {1, 0 / 0}}, "alpha,err\n0.5,0.25\n1,nan\n", "header and rows")
  T.eq(llfc.csv{{'a,"b"', "x\ny", "plain"}}, '"a,""b""","x\ny",plain\n', "cells with a comma, a quote or a line break are quoted")
  T.eq(llfc.csv{{1 / 0, -1 / 0, 1 / 3, 2 ^ 60, math.mininteger, true, false}},
       "inf,-inf,0.3333333333,1.152921505e+18,-9223372036854775808,true,false\n",
       "numbers: 10 digits, infinities, integers exactly, booleans")
  T.eq(llfc.csv{{"a", "b", "c"}, {1}, table.pack(nil, 2, nil, nil)}, "a,b,c\n1,,\n,2,,\n",
       "short rows are padded to the header; row.n counts trailing nils")
  T.eq(llfc.csv{}, "", "no rows: empty text")
  T.raises(function() llfc.csv{{"a"}, 3} end, "llfc.csv: row 2 must be a table", "a row that is not a table")
  T.raises(function() llfc.csv{{"a", {}}} end, "row 1, cell 2: cannot write a table", "a cell that is a table")
  T.raises(function() llfc.csv("x") end, "table expected", "rows must be a table")
  -- view.csv goes through the same writer
  local r = {kind = "interpolate", alphas = {0, 1}, err = {0.5, 0 / 0}, loss = {1, 2}}
  T.eq(view.csv(r), llfc.csv{{"alpha", "err", "loss"}, {0, 0.5, 1}, {1, 0 / 0, 2}}, "view.csv is llfc.csv of its rows")
end)

T.section("llfc.json", function()
  local v = {n = 3, err = {0.25, 0.5, 0 / 0, 1 / 0}, s = 'a"b\\c\n\1', t = {}, deep = {x = {y = {true, false}}},
             big = 2 ^ 40, neg = -7, frac = 0.1}
  local js = llfc.json(v)
  T.ok(js:find('"deep"', 1, true) < js:find('"err"', 1, true) and js:find('"err"', 1, true) < js:find('"n"', 1, true),
       "object keys are sorted")
  local py = os.execute("command -v python3 > /dev/null 2>&1")
  if not py then T.skip("llfc.json parses in Python", "python3 not installed") else
    local f = T.tmpname(".json")
    local h = io.open(f, "w"); h:write(js); h:close()
    local p = io.popen("python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); " ..
                       "print(d[\"n\"], d[\"err\"], repr(d[\"s\"]), d[\"t\"], d[\"deep\"][\"x\"][\"y\"], d[\"big\"], d[\"neg\"], d[\"frac\"])' " .. f)
    local out = p:read("a"); p:close(); os.remove(f)
    T.eq(out, "3 [0.25, 0.5, None, None] 'a\"b\\\\c\\n\\x01' [] [True, False] 1099511627776 -7 0.1\n",
         "Python's json reads back every value (nan and inf as null)")
  end
  T.eq(llfc.json(1.5), "1.5", "a number alone")
  T.eq(llfc.json("x"), '"x"', "a string alone")
  T.raises(function() llfc.json{options = {seeds = {1, print}}} end, "llfc.json: options.seeds[2]: cannot encode a function",
           "an unsupported value is named by its path")
  T.raises(function() llfc.json{1, 2, x = 3} end, "both list and other keys", "a table mixing list and string keys")
  T.raises(function() llfc.json{[2.5] = 1} end, "non-string keys", "a table with number keys")
  T.raises(function() llfc.json("a\0b") end, "zero byte", "a string with a zero byte")
  local cyc = {}; cyc.self = cyc
  T.raises(function() llfc.json(cyc) end, "a cycle?", "a cycle is caught")
  local deep = {}
  for _ = 1, 99 do deep = {deep} end
  T.ok(pcall(llfc.json, deep), "99 levels of nesting are fine")
  T.raises(function() llfc.json() end, "value expected", "a value is required")
end)

os.execute("rm -rf " .. dir)
T.done()
