-- test_view.lua - the view module without a terminal: text rendering of every
-- result kind, SVG and CSV export, the live protocol's fallback, bad arguments.
local T = require "check"

-- hand-made result tables in the documented layouts
local alphas, err, loss = {}, {}, {}
for i = 0, 20 do
  local a = i / 20
  alphas[#alphas + 1] = a
  err[#err + 1] = 0.1 + 0.3 * math.sin(math.pi * a)
  loss[#loss + 1] = 0.3 + 0.9 * math.sin(math.pi * a)
end
local interp = { kind = "interpolate", n = 100, alphas = alphas, err = err, loss = loss,
                 err_a = .1, err_b = .1, loss_a = .3, loss_b = .3,
                 barrier = { err = .3, err_alpha = .5, loss = .9, loss_alpha = .5 },
                 lemma = { eps = .1, max_err = .4, holds = false } }
local function layer(name, ab, xs)
  local at = {}
  for k, a in ipairs { .25, .5, .75 } do
    at[k] = { alpha = a, mean = xs[k], std = xs[k] / 2, coef_mean = 1 + xs[k], coef_std = .01,
              coef_hist = { edges = { .9, 1, 1.1, 1.2 }, counts = { 3, 10 * k, 4 } } }
  end
  return { name = name, dim = 8, skipped = 0, ab = { mean = ab, std = .1 }, at = at }
end
local cos = { kind = "llfc", n = 100, alphas = { .25, .5, .75 },
              layers = { layer("h1", .5, { .01, .02, .01 }), layer("h2", .6, { .03, .05, .03 }),
                         layer("logits", .3, { .1, .2, .1 }) } }
local wa = { kind = "weak_additivity", layers = {
  { name = "h1", at = { { alpha = .5, mean = .01, std = .001 } } },
  { name = "h2", at = { { alpha = .5, mean = .04, std = .002 } } } } }
local com = { kind = "commutativity", layers = {
  { layer = 1, input = "x", dist_com = .1, dist_w = 1.2, dist_h = 0 },
  { layer = 2, input = "h1", dist_com = .3, dist_w = 1.1, dist_h = .8 } } }
local steps, l1, l2, acc = {}, {}, {}, {}
for i = 1, 30 do
  steps[i] = 10 * i; l1[i] = 2 * math.exp(-i / 8); l2[i] = 2.2 * math.exp(-i / 8); acc[i] = 1 - math.exp(-i / 8)
end
local tr = { kind = "train", step = steps, loss = l1, acc = acc, epoch = {} }
local tr2 = { kind = "train", step = steps, loss = l2, acc = acc, epoch = {} }
local rep = { kind = "report", interpolate = interp, llfc = cos, weak_additivity = wa, commutativity = com }

T.section("text rendering of every kind", function()
  local t = view.text(interp, { ascii = true })
  T.ok(t:find("interpolation: err vs alpha", 1, true) and t:find("barrier 0.3", 1, true), "interpolate: title and barrier")
  T.ok(t:find("@B", 1, true) and t:find("A@", 1, true), "interpolate: endpoints B (alpha 0) and A (alpha 1) marked")
  T.ok(t:find("alpha = 1 is A", 1, true), "interpolate: states the convention")
  T.ok(not t:find("[\128-\255]"), "ascii = true gives pure ASCII")
  t = view.text(cos, { ascii = true })
  T.ok(t:find("== llfc ==", 1, true) and t:find("A vs B", 1, true) and t:find("a=0.25", 1, true), "llfc: bars per alpha and A vs B")
  T.ok(t:find("h1", 1, true) and t:find("logits", 1, true), "llfc: layer names under the bars")
  T.ok(t:find("== histogram ==", 1, true) and t:find("layer h1: coefficient c", 1, true), "llfc: coefficient histogram of layer 1")
  t = view.text(cos, { ascii = true, layer = 2, panel = "histogram" })
  T.ok(t:find("layer h2: coefficient", 1, true) and not t:find("== llfc ==", 1, true), "panel and layer options")
  t = view.text(cos, { ascii = false, panel = 1 })
  T.ok(t:find("\u{2588}") and t:find("α=0.5", 1, true), "UTF-8 rendering uses blocks and alpha")
  t = view.text(wa, { ascii = true })
  T.ok(t:find("weak additivity", 1, true) and t:find("h2", 1, true), "weak additivity per layer")
  t = view.text(com, { ascii = true })
  T.ok(t:find("Dist_com", 1, true) and t:find("Dist_W", 1, true) and t:find("Dist_H", 1, true) and t:find("2 (h1)", 1, true),
       "commutativity: Dist_com beside Dist_W and Dist_H")
  t = view.text(tr, { ascii = true })
  T.ok(t:find("training loss", 1, true) and t:find("training accuracy", 1, true), "training: loss and accuracy")
  t = view.text({ tr, tr2 }, { ascii = true })
  T.ok(t:find("run a", 1, true) and t:find("run b", 1, true), "two training runs overlaid with a legend")
  t = view.text(rep, { ascii = true })
  for _, name in ipairs { "interpolation", "llfc", "histogram", "weak additivity", "commutativity" } do
    T.ok(t:find("== " .. name .. " ==", 1, true), "report has the " .. name .. " panel")
  end
  -- log scale: the axis shows powers of ten
  t = view.text(cos, { ascii = true, log = true, panel = 1 })
  T.ok(t:find("0.01", 1, true) and t:find("\n%s*1%+"), "log option: decades on the axis")
end)

T.section("view.plot without a terminal prints text", function()
  -- tests run with stdout redirected: view.plot must print and return
  local out = T.tmpname(".txt")
  local code = string.format("view.plot({kind='commutativity', layers={{layer=1, input='x', dist_com=.5, dist_w=1, dist_h=.2}}}, {ascii=true})")
  local ok = os.execute(string.format("%q -e %q > %q 2>&1 < /dev/null", T.builddir .. "/llfc", code, out))
  local f = io.open(out); local s = f and f:read("a") or ""; if f then f:close() end
  os.remove(out)
  T.ok(ok and s:find("commutativity per weight layer", 1, true) and s:find("Dist_com", 1, true), "view.plot falls back to text")
end)

T.section("live protocol without a terminal", function()
  local out = T.tmpname(".txt")
  local code = [[
    view.begin("llfc", "test run")
    local r = {kind = "llfc", alphas = {.5}, layers = {}}
    for i = 1, 5 do
      r.layers[i] = {name = "h" .. i, ab = {mean = .5}, at = {{alpha = .5, mean = .1}}}
      assert(view.update(r) == true)
    end
    view.finish(r)
    print("returned")
  ]]
  local t0 = os.time()
  local ok = os.execute(string.format("%q -e %q > %q 2>&1 < /dev/null", T.builddir .. "/llfc", code, out))
  local f = io.open(out); local s = f and f:read("a") or ""; if f then f:close() end
  os.remove(out)
  local _, lines = s:gsub("view: test run", "")
  T.ok(ok and s:find("returned", 1, true), "begin/update/finish never block without a terminal")
  T.ok(lines >= 1 and lines <= 3, "at most one status line per half second (" .. lines .. " lines)")
  T.ok(s:find("done after", 1, true), "finish prints one final line")
  T.ok(os.time() - t0 < 5, "fast")
  local got = view.live(function(update) update(interp); return 42, "x" end)
  T.eq(got, 42, "view.live returns the function's results")
  T.raises(function() view.live(function() error("inner failure") end) end, "inner failure", "view.live re-raises errors")
end)

T.section("save SVG", function()
  local have_xmllint = os.execute("command -v xmllint > /dev/null 2>&1")
  for name, r in pairs { interp = interp, llfc = cos, wa = wa, com = com, train = tr, pair = { tr, tr2 }, report = rep } do
    local p = T.tmpname(".svg")
    T.eq(view.save(r, p), p, "save " .. name .. " returns the path")
    local f = io.open(p); local s = f:read("a"); f:close()
    T.ok(s:match("^<%?xml") and s:find("</svg>%s*$") and s:find("<text", 1, true), name .. ": an SVG document with text")
    if have_xmllint then
      T.ok(os.execute("xmllint --noout " .. p .. " 2>/dev/null"), name .. ": xmllint accepts it")
    else
      T.skip(name .. ": xmllint", "xmllint not installed")
    end
    os.remove(p)
  end
  -- text is escaped
  local odd = { kind = "llfc", alphas = { .5 }, layers = { { name = "<h&1>", ab = { mean = .2 }, at = { { alpha = .5, mean = .1 } } } } }
  local p = T.tmpname(".svg")
  view.save(odd, p)
  local f = io.open(p); local s = f:read("a"); f:close()
  T.ok(s:find("&lt;h&amp;1&gt;", 1, true), "layer names are XML-escaped")
  if have_xmllint then T.ok(os.execute("xmllint --noout " .. p .. " 2>/dev/null"), "escaped SVG parses") end
  os.remove(p)
  -- interpolation SVG: curve, chord and barrier annotation
  p = T.tmpname(".svg")
  view.save(interp, p)
  f = io.open(p); s = f:read("a"); f:close()
  os.remove(p)
  T.ok(s:find("<polyline", 1, true) and s:find("stroke-dasharray", 1, true) and s:find("barrier 0.3", 1, true),
       "interpolation SVG: curve, dashed chord and barrier label")
  T.eq(select(2, s:gsub("<circle", "")), 4, "endpoints marked in both charts")
end)

T.section("save CSV", function()
  local p = T.tmpname(".csv")
  view.save(interp, p)
  local rows = {}
  for line in io.lines(p) do rows[#rows + 1] = line end
  os.remove(p)
  T.eq(rows[1], "alpha,err,loss", "interpolate CSV header")
  T.eq(#rows, 22, "one row per alpha")
  local a, e, l = rows[12]:match("^([^,]+),([^,]+),([^,]+)$")
  T.near(tonumber(a), 0.5, 1e-12, "row 11 alpha")
  T.near(tonumber(e), err[11], 1e-9, "row 11 err")
  T.near(tonumber(l), loss[11], 1e-9, "row 11 loss")

  p = T.tmpname(".csv")
  view.save(cos, p)
  rows = {}
  for line in io.lines(p) do rows[#rows + 1] = line end
  os.remove(p)
  T.eq(rows[1], "layer,dim,alpha,mean,std,coef_mean,coef_std,ab_mean,ab_std,skipped", "llfc CSV header")
  T.eq(#rows, 1 + 3 * 3, "one row per layer and alpha")
  T.eq(rows[6], "h2,8,0.5,0.05,0.025,1.05,0.01,0.6,0.1,0", "llfc row for h2 at alpha .5")

  p = T.tmpname(".csv")
  view.save(com, p)
  local s = io.open(p):read("a")
  os.remove(p)
  T.eq(s, "layer,input,dist_com,dist_w,dist_h\n1,x,0.1,1.2,0\n2,h1,0.3,1.1,0.8\n", "commutativity CSV")

  p = T.tmpname(".csv")
  view.save({ tr, tr2 }, p)
  rows = {}
  for line in io.lines(p) do rows[#rows + 1] = line end
  os.remove(p)
  T.eq(rows[1], "run,step,epoch,loss,acc", "training CSV header")
  T.eq(#rows, 61, "two runs of 30 steps")
  T.ok(rows[32]:match("^2,10,,"), "second run starts at row 32: " .. tostring(rows[32]))

  p = T.tmpname(".csv")
  view.save(rep, p)
  s = io.open(p):read("a")
  os.remove(p)
  T.ok(s:match("^section,layer,alpha,quantity,value\n") and s:find("commutativity,2,,dist_h,0.8", 1, true)
       and s:find("llfc,h1,0.25,mean,0.01", 1, true), "report CSV in long form")
  -- quoting
  p = T.tmpname(".csv")
  view.save({ kind = "weak_additivity", layers = { { name = 'a,"b"', at = { { alpha = .5, mean = 1, std = 0 } } } } }, p)
  s = io.open(p):read("a")
  os.remove(p)
  T.ok(s:find('"a,""b""",0.5,1,0', 1, true), "CSV fields with commas and quotes are quoted")
end)

T.section("bad arguments", function()
  T.raises(function() view.plot(42) end, "view.plot: expected a result table", "plot of a number")
  T.raises(function() view.plot({ foo = 1 }) end, "without a known kind", "plot of an unknown table")
  T.raises(function() view.plot(interp, "x") end, "options table expected, got string", "options must be a table")
  T.raises(function() view.plot(interp, { log = 1 }) end, "option 'log' must be a boolean", "log must be boolean")
  T.raises(function() view.plot(cos, { panel = 9 }) end, "panel 9 out of range (1..3)", "panel out of range")
  T.raises(function() view.plot(cos, { panel = "nope" }) end, "no panel 'nope' (have: llfc, coefficients, histogram)", "unknown panel name")
  T.raises(function() view.save(interp, "fig.eps") end, "use a file name ending in .svg, .pdf, .png, .csv or .json", "unknown export format")
  T.raises(function() view.save(interp) end, "file name expected", "missing file name")
  T.raises(function() view.save(nil, "a.svg") end, "expected a result table", "missing result")
  T.raises(function() view.update(3) end, "partial result table expected", "update needs a table")
  T.raises(function() view.live(3) end, "function expected", "live needs a function")
  local ok, msg = view.save(interp, "/nonexistent-dir/x/fig.svg")
  T.ok(ok == nil and tostring(msg):find("/nonexistent-dir/x/fig.svg", 1, true)
       and tostring(msg):find("No such file or directory", 1, true), "unwritable path: nil, message naming path and reason (" .. tostring(msg) .. ")")
end)

T.done()
