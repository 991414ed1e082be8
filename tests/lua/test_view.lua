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

-- ---- exports ------------------------------------------------------------------------------
local function have(cmd) return os.execute("command -v " .. cmd .. " > /dev/null 2>&1") end
local PY = "/usr/bin/python3"
local have_py = os.execute(PY .. " -c 'import zlib' > /dev/null 2>&1")
local png_stats = T.srcdir .. "/tests/lua/png_stats.py"
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end
local function png_info(path)
  local ok, out = sh(PY .. " " .. T.sh_quote(png_stats) .. " " .. T.sh_quote(path))
  local w, h, ink = out:match("^(%d+) (%d+) ([%d.]+)")
  return ok and tonumber(w), tonumber(h), tonumber(ink)
end
local function png_diff(a, b)
  local ok, out = sh(PY .. " " .. T.sh_quote(png_stats) .. " " .. T.sh_quote(a) .. " " .. T.sh_quote(b))
  local d, far = out:match("^([%d.]+) ([%d.]+)")
  return ok and tonumber(d), tonumber(far), out
end

T.section("exports: SVG, PDF and PNG of every kind", function()
  local xl, pdf, py = have("xmllint"), have("pdfinfo") and have("pdftotext"), have_py
  for name, r in pairs { interp = interp, llfc = cos, wa = wa, com = com, train = tr, pair = { tr, tr2 }, report = rep } do
    local base = T.tmpname("")
    T.eq(view.save(r, base .. ".svg"), base .. ".svg", "save " .. name .. " as SVG returns the path")
    local s = T.slurp(base .. ".svg")
    T.ok(s:find("<svg", 1, true) and s:find("</svg>%s*$"), name .. ": an SVG document")
    if xl then T.ok(os.execute("xmllint --noout " .. base .. ".svg 2>/dev/null"), name .. ": xmllint accepts the SVG")
    else T.skip(name .. ": xmllint", "xmllint not installed") end
    T.eq(view.save(r, base .. ".pdf", { size = { 6, 4 } }), base .. ".pdf", "save " .. name .. " as PDF")
    if pdf then
      local _, info = sh("pdfinfo " .. base .. ".pdf")
      T.ok(info:find("Pages:%s+1") and info:find("Page size:%s+432 x 288 pts"), name .. ": one page of 6 x 4 inches")
      local _, text = sh("pdftotext " .. base .. ".pdf -")
      local want = ({ interp = "interpolation: err vs alpha", llfc = "LLFC: E[1 - cos", wa = "weak additivity",
                      com = "Dist_com", train = "training loss", pair = "run b", report = "commutativity per weight layer" })[name]
      T.ok(text:find(want, 1, true), name .. ": the PDF's text holds '" .. want .. "'")
    else T.skip(name .. ": pdfinfo/pdftotext", "poppler-utils not installed") end
    T.eq(view.save(r, base .. ".png", { size = { 3, 2 }, dpi = 50 }), base .. ".png", "save " .. name .. " as PNG")
    if py then
      local w, h, ink = png_info(base .. ".png")
      T.ok(w == 150 and h == 100, name .. ": PNG of 3 x 2 inches at 50 dpi is 150 x 100 pixels (" .. tostring(w) .. " x " .. tostring(h) .. ")")
      T.ok(ink and ink > 0.02 and ink < 0.8, name .. ": the PNG is drawn on, not blank (" .. tostring(ink) .. " of the pixels)")
    else T.skip(name .. ": PNG pixels", "python3 not installed") end
    for _, ext in ipairs { ".svg", ".pdf", ".png" } do os.remove(base .. ext) end
  end
end)

T.section("exports: the PDF and the SVG of one figure look the same", function()
  if not (have("rsvg-convert") and have("pdftoppm") and have_py) then
    T.skip("PDF against SVG", "rsvg-convert, pdftoppm or python3 missing"); return
  end
  local base = T.tmpname("")
  local function pngs(r, tag)
    view.save(r, base .. tag .. ".svg", { size = { 5, 3 } })
    view.save(r, base .. tag .. ".pdf", { size = { 5, 3 } })
    os.execute(string.format("rsvg-convert -w 300 -h 180 %s.svg -o %s_svg.png", base .. tag, base .. tag))
    os.execute(string.format("pdftoppm -png -singlefile -scale-to-x 300 -scale-to-y 180 %s.pdf %s_pdf", base .. tag, base .. tag))
    return base .. tag .. "_svg.png", base .. tag .. "_pdf.png"
  end
  local s1, p1 = pngs({ interp, interp }, "a")
  local d, far, out = png_diff(s1, p1)
  T.ok(d and d < 0.01 and far < 0.01, "interpolation: SVG and PDF rendered to PNG agree (mean block difference "
       .. tostring(d) .. ", far blocks " .. tostring(far) .. ") " .. (d and "" or out))
  local s2, p2 = pngs(cos, "b")
  d, far = png_diff(s2, p2)
  T.ok(d and d < 0.01 and far < 0.01, "llfc: SVG and PDF rendered to PNG agree (" .. tostring(d) .. ", " .. tostring(far) .. ")")
  -- the comparison can fail: two different figures differ
  d, far = png_diff(s1, s2)
  T.ok(d and (d > 0.02 or far > 0.05), "different figures differ (" .. tostring(d) .. ", " .. tostring(far) .. ")")
  for _, t in ipairs { "a", "b" } do
    for _, e in ipairs { ".svg", ".pdf", "_svg.png", "_pdf.png" } do os.remove(base .. t .. e) end
  end
end)

T.section("exports: JSON of any result through cJSON", function()
  local p = T.tmpname(".json")
  T.eq(view.save(cos, p), p, "save llfc as JSON")
  local back = view.load(p)
  T.eq(view.kindof(back), "llfc", "loaded back, its kind is llfc")
  T.near(back.layers[2].at[2].mean, cos.layers[2].at[2].mean, 1e-12, "a number survives the round trip")
  T.eq(back.layers[3].name, "logits", "a string survives the round trip")
  T.ok(tostring(back):find("llfc:", 1, true), "the loaded result prints as a result")
  local odd = { kind = "interpolate", alphas = { 0, 1 }, err = { 0 / 0, math.huge }, loss = { 1, 2 } }
  local j = view.json(odd)
  T.ok(j:find('"err":%s*%[null,%s*null%]'), "NaN and inf are written as null")
  T.ok(j:find('"kind":%s*"interpolate"') and j:find('"alphas":%s*%[0,%s*1%]'), "keys and arrays: " .. j:gsub("%s+", " "))
  T.eq(view.json({ tr, tr2 }):sub(1, 1), "[", "a list of results is a JSON array")
  T.raises(function() view.json({ kind = "llfc", f = print }) end, "cannot write a function", "a function cannot be written")
  local cyc = { kind = "llfc" }
  cyc.self = cyc
  T.raises(function() view.json(cyc) end, "deeper than 64", "a cycle is an error, not a hang")
  local bad = T.tmpname(".json")
  local f = io.open(bad, "w"); f:write("{not json"); f:close()
  local v, msg = view.load(bad)
  T.ok(v == nil and msg:find("not valid JSON", 1, true), "a broken file: nil and a message (" .. tostring(msg) .. ")")
  os.remove(p); os.remove(bad)
end)

T.section("figures: options", function()
  local t = view.text(interp, { ascii = true, title = "before matching", panel = 1 })
  T.ok(not t:find("before matching", 1, true), "a title is the figure's, not a chart's, when a panel has two charts")
  t = view.text(com, { ascii = true, title = "my title" })
  T.ok(t:find("my title", 1, true), "title of a one-chart figure")
  t = view.text(interp, { ascii = true, ylim = { 0, 2 }, panel = 1, height = 12 })
  T.ok(t:find("\n%s*2%+") and t:find("\n%s*0%+"), "ylim sets the y range (0 .. 2)")
  t = view.text(interp, { ascii = true, xlim = { 0.25, 0.75 }, panel = 1 })
  T.ok(t:find("0.3", 1, true) and not t:find(" 0.9 ", 1, true), "xlim sets the x range")
  t = view.text({ interp, interp }, { ascii = true, labels = { "before", "after" } })
  T.ok(t:find("before (barrier 0.3)", 1, true) and t:find("after (barrier 0.3)", 1, true),
       "a list of interpolations overlays them with a legend of the labels and barriers")
  t = view.text({ cos, cos }, { ascii = true, labels = { "none", "weight" } })
  T.ok(t:find("none", 1, true) and t:find("weight", 1, true) and t:find("at a = 0.5", 1, true), "llfc results side by side per layer")
  t = view.text({ com, com }, { ascii = true })
  T.ok(t:find("Dist_W per weight layer", 1, true), "commutativity results side by side")
  t = view.text({ wa, wa }, { ascii = true, labels = { "x", "y" } })
  T.ok(t:find("weak additivity", 1, true), "weak additivity results side by side")
  local p = T.tmpname(".svg")
  T.eq(view.save({ interp, interp }, p, { labels = { "a", "b" }, title = "both", panels = { 1 } }), p, "save an overlay")
  os.remove(p)
  T.raises(function() view.save({ interp, cos }, p) end, "different or unknown kinds", "a mixed list is an error")
  T.raises(function() view.save(interp, p, { ylim = { 1, 0 } }) end, "'ylim' must be {lo, hi}", "bad ylim")
  T.raises(function() view.save(interp, p, { size = { 0, 3 } }) end, "'size' must be {width, height}", "bad size")
  T.raises(function() view.save(interp, p, { dpi = 1 }) end, "'dpi' must be", "bad dpi")
  T.raises(function() view.save(interp, p, { smooth = 2 }) end, "'smooth' must be", "bad smooth")
  T.raises(function() view.save(interp, p, { titel = "x" }) end, "did you mean 'title'", "a typo in an option")
end)

T.section("figures: kinds come from the result", function()
  T.eq(view.kindof({ alphas = { 0 }, err = { 1 } }), nil, "no guessing from field names")
  local r = setmetatable({ layers = com.layers }, { kind = "commutativity" })
  T.eq(view.kindof(r), "commutativity", "a metatable's kind names the kind")
  T.eq(view.kindof({ tr, tr2 }), "train", "a list of histories")
  T.eq(view.kindof({ interp, cos }), nil, "a mixed list has no kind")
end)

T.section("figures: a one-sample barrier draws small", function()
  -- err from 0.036 to 0.042 with one test sample (1/2000) above the chord at 0.5
  local al, e = {}, {}
  for i = 0, 20 do al[i + 1] = i / 20; e[i + 1] = 0.036 + 0.006 * i / 20 end
  e[11] = e[11] + 1 / 2000
  local r = { kind = "interpolate", n = 2000, alphas = al, err = e, loss = e, err_a = 0.042, err_b = 0.036,
              loss_a = 0.042, loss_b = 0.036, barrier = { err = 1 / 2000, err_alpha = 0.5, loss = 1 / 2000, loss_alpha = 0.5 } }
  local t = view.text(r, { ascii = true, panel = 1, height = 20 })
  t = t:match("^(.-)\n%s*interpolation: loss") or t
  -- the rows the curve ('*') occupies: the whole path, barrier included, spans a few rows of 14
  local first, last, row = nil, nil, 0
  for line in t:gmatch("[^\n]*") do
    row = row + 1
    local plot = line:match("^%s*[%d.]*[+|](.*)$")
    if plot and plot:find("*", 1, true) then first = first or row; last = row end
  end
  T.ok(first and last - first <= 3, "the curve spans at most 4 of 14 plot rows (rows " .. tostring(first) .. ".." .. tostring(last) .. ")")
  T.ok(t:find("0.06", 1, true) and (t:find("\n%s*0.01+", 1) or t:find("\n%s*0.02+", 1)),
       "the y axis spans at least the endpoint error, not 0.036-0.042")
  -- without the floor the same data would fill the plot: an explicit ylim zooms in
  local z = view.text(r, { ascii = true, panel = 1, height = 20, ylim = { 0.0355, 0.0425 } })
  z = z:match("^(.-)\n%s*interpolation: loss") or z
  first, last, row = nil, nil, 0
  for line in z:gmatch("[^\n]*") do
    row = row + 1
    local plot = line:match("^%s*[%d.]*[+|](.*)$")
    if plot and plot:find("*", 1, true) then first = first or row; last = row end
  end
  T.ok(first and last - first >= 8, "zoomed in with ylim, the same curve fills the plot (rows " .. tostring(first) .. ".." .. tostring(last) .. ")")
end)

T.section("figures: error bars, smoothing, epochs, categorical axes, log", function()
  local t = view.text(cos, { ascii = true, panel = 1, height = 20 })
  T.ok(t:find("I +-1 SD over samples", 1, true), "bar charts say what the error bars are: " .. (t:match("[^\n]*SD[^\n]*") or "none"))
  T.ok(t:find("T", 1, true) and t:find("|", 1, true), "error bars drawn above the bars (T caps)")
  local summ = view.summary({ cos, cos, cos }, { what = "seeds" })
  T.eq(view.kindof(summ), "llfc", "a summary has its results' kind")
  t = view.text(summ, { ascii = true, panel = 1, height = 20 })
  T.ok(t:find("mean +- SD over 3 s", 1, true), "a summary's error bars say mean +- SD over seeds")
  T.near(summ.layers[2].at[2].mean, cos.layers[2].at[2].mean, 1e-12, "the summary of equal runs is their value")
  T.near(summ.layers[2].at[2].std, 0, 1e-12, "and its spread over runs is 0")
  -- two runs whose h1 value at alpha .25 is 0.01 and 0.03: mean 0.02, SD sqrt(2) * 0.01, range 0.01 .. 0.03
  local other = { kind = "llfc", alphas = cos.alphas, layers = {} }
  for i, l in ipairs(cos.layers) do
    local at = {}
    for k, e in ipairs(l.at) do at[k] = { alpha = e.alpha, mean = e.mean + 0.02, std = 0, coef_mean = e.coef_mean, coef_std = 0 } end
    other.layers[i] = { name = l.name, ab = l.ab, at = at }
  end
  local s2 = view.summary({ cos, other })
  T.near(s2.layers[1].at[1].mean, 0.02, 1e-12, "summary: the mean over runs")
  T.near(s2.layers[1].at[1].std, math.sqrt(2) * 0.01, 1e-12, "summary: the sample SD over runs")
  local s3 = view.summary({ cos, other }, { spread = "range" })
  T.near(s3.layers[1].at[1].mean_lo, 0.01, 1e-12, "range summary: the minimum")
  T.near(s3.layers[1].at[1].mean_hi, 0.03, 1e-12, "range summary: the maximum")
  T.ok(view.text(s3, { ascii = true, panel = 1, height = 20 }):find("min-max over 2 runs", 1, true), "a range summary says min-max")
  T.raises(function() view.summary({ cos, other }, { spread = "iqr" }) end, "'spread' must be", "bad spread")
  T.raises(function() view.summary(cos) end, "a list of results of one kind", "summary needs a list")
  local ci = view.summary({ interp, interp }, { spread = "range" })
  T.near(ci.err_lo[11], interp.err[11], 1e-12, "interpolation summary: min over runs")
  -- training: raw series faint behind the smoothed one, epochs marked
  local steps, loss, ep = {}, {}, {}
  for i = 1, 200 do steps[i] = i; loss[i] = 1 + ((i % 2 == 0) and 0.5 or -0.5); ep[i] = (i - 1) // 50 + 1 end
  local h = { kind = "train", step = steps, loss = loss, epoch = ep }
  t = view.text(h, { ascii = true, height = 16 })
  T.ok(t:find(".", 1, true) and t:find("smoothed (EMA)", 1, true), "training: a smoothed curve before a faint raw series")
  T.ok(t:find("ep 2", 1, true) and t:find(":", 1, true), "training: epochs marked")
  local sm = require("llfc.figures").ema(loss)
  T.ok(math.abs(sm[200] - 1) < 0.1 and math.abs(sm[199] - 1) < 0.1, "EMA of an alternating 0.5/1.5 series is near 1")
  local raw = view.text(h, { ascii = true, height = 16, smooth = 0 })
  T.ok(not raw:find("smoothed", 1, true), "smooth = 0 plots the raw series only")
  -- a categorical axis: names, not 1, 1.5, 2
  local f = { kind = "series", title = "factors", groups = { "1 (x)", "2 (h1)", "3 (h2)" }, ylabel = "Dist",
              series = { { name = "Dist_W", y = { 0, 0.588, 2.35 } } } }
  t = view.text(f, { ascii = true })
  local xaxis = t:match("\n([^\n]*1 %(x%)[^\n]*)") or ""
  T.ok(xaxis:find("3 (h2)", 1, true) and not xaxis:find("1.5", 1, true), "categorical x axis: the names, no 1.5: '" .. xaxis .. "'")
  T.ok(t:find("\n%s*2.0%+") and t:find("\n%s*0.5%+") and not t:find("0.588", 1, true), "y ticks at round numbers (1-2-5)")
  -- log works on histograms and lines
  t = view.text(cos, { ascii = true, panel = "histogram", log = true })
  T.ok(t:find("\n%s*10%+") or t:find("\n%s*1%+"), "log scale on the histogram panel: decades")
  t = view.text(tr, { ascii = true, log = true })
  T.ok(t:find("\n%s*0.1%+") or t:find("\n%s*1%+"), "log scale on training curves: decades")
end)

T.section("figures: histograms from samples", function()
  local samples = {}
  for i = 1, 3000 do samples[i] = 1 + 0.005 * math.sin(i * 1.7) end
  local h = package.loaded["llfc.view.c"].hist(samples)
  T.ok(h.edges[1] > 0.99 and h.edges[#h.edges] < 1.01, "robust range around the samples: " .. h.edges[1] .. " .. " .. h.edges[#h.edges])
  T.ok(#h.counts >= 5 and #h.counts <= 100, "a Freedman-Diaconis number of bins: " .. #h.counts)
  local total = h.below + h.above
  for _, c in ipairs(h.counts) do total = total + c end
  T.eq(total, 3000, "every sample counted (in a bin, below or above)")
  local r = { kind = "llfc", alphas = { .5 }, layers = { { name = "h1", ab = { mean = .1, std = 0 },
              at = { { alpha = .5, mean = .01, std = 0, coef_mean = 1, coef_std = .005, coef_samples = samples,
                       coef_hist = { edges = { 0, 1, 2 }, counts = { 0, 3000 } } } } } } }
  local t = view.text(r, { ascii = true, panel = "histogram" })
  local xaxis = t:match("\n([^\n]*1%.000[^\n]*)") or ""
  T.ok(xaxis:find("0.998", 1, true) and not xaxis:find(" 2", 1, true), "the histogram of samples spans the data, not [0, 2]: '" .. xaxis .. "'")
  r.layers[1].at[1].coef_samples = nil
  t = view.text(r, { ascii = true, panel = "histogram", height = 14 })
  T.ok(t:find("all in 1 bin", 1, true), "a fixed-range histogram with one occupied bin says so")
  local p = T.tmpname(".svg")
  local many = { kind = "llfc", alphas = { .5 }, layers = {} }
  for i = 1, 5 do many.layers[i] = { name = "h" .. i, ab = { mean = .1 }, at = r.layers[1].at } end
  T.eq(view.save(many, p, { panel = "histogram" }), p, "the histogram export has every layer")
  os.remove(p)
end)

T.section("figures: heat maps", function()
  local x, y, z = { 0, 1, 2, 3 }, { 0, 1, 2 }, {}
  for j = 1, 3 do z[j] = {}; for i = 1, 4 do z[j][i] = (i - 1) + 4 * (j - 1) end end
  local hm = { kind = "heatmap", title = "plane", x = x, y = y, z = z, zlabel = "err",
               points = { { x = 0, y = 0, label = "A" }, { x = 3, y = 2, label = "B" } } }
  local t = view.text(hm, { ascii = true, height = 12 })
  T.ok(t:find("@", 1, true) and t:find("A", 1, true) and t:find("B", 1, true), "marked points")
  T.ok(t:find("11", 1, true) and t:find("err", 1, true), "a colour bar with its top value and label")
  local ramp = " .:-=+*#%@"
  local top = t:match("\n%s*[%d.]*[+|]([^\n]*)") or ""
  T.ok(top:find("[#%%@]") and not top:find("^ *%.%.%."), "ASCII: the high row (top) is dense: '" .. top .. "'")
  -- 256 colours: half-block cells whose colours differ from top to bottom
  local C = package.loaded["llfc.view.c"]
  local cv = C.canvas(40, 14, false, 256)
  local fig = C.figure(require("llfc.figures").panels(hm, "heatmap", false, {}, C)[1].charts)
  cv:draw(fig, 1)
  local blocks, fgs = 0, {}
  for yy = 0, 13 do
    for xx = 0, 39 do
      local g, _, fg, bg = cv:cell(xx, yy)
      if fg and g == "\u{2580}" then blocks = blocks + 1; fgs[fg] = true end
    end
  end
  local nfg = 0
  for _ in pairs(fgs) do nfg = nfg + 1 end
  T.ok(blocks > 50 and nfg >= 4, "256 colours: half-block cells (" .. blocks .. ") in several colours (" .. nfg .. ")")
  local cv2 = C.canvas(40, 14, false, 0)
  cv2:draw(fig, 1)
  T.ok(cv2:totext():find("\u{2593}") or cv2:totext():find("\u{2588}"), "without 256 colours: shade blocks")
  T.raises(function() view.text({ kind = "heatmap", x = { 0, 1 }, y = { 0 }, z = { { 1 } } }) end, "row 1 of z must hold 2 values",
           "a ragged grid is an error")
  T.raises(function() view.text({ kind = "heatmap", x = { 1, 0 }, y = { 0 }, z = { { 1, 2 } } }) end, "x must ascend",
           "unsorted x is an error")
  local p = T.tmpname(".png")
  T.eq(view.save(hm, p, { size = { 3, 2 }, dpi = 50 }), p, "a heat map exports")
  if have_py then
    local w, h, ink = png_info(p)
    T.ok(w == 150 and ink > 0.3, "the heat map's PNG is mostly coloured (" .. tostring(ink) .. ")")
  end
  os.remove(p)
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
