-- test_metrics.lua - the metrics module through the binary: result layouts,
-- options, errors, the live view protocol, and every metric recomputed by a
-- naive per-sample loop written here (from net:features and the parameters).
local T = require "check"

if not (nn and nn.mlp and nn.lerp and data and data.blobs and data.from_tensors and tensor and tensor.new) then
  T.skip("metrics", "needs nn.mlp, nn.lerp, data.blobs, data.from_tensors and tensors")
  T.ok(type(metrics.report) == "function", "metrics.report exists")
  T.done()
  return
end

local CONV = "theta_alpha = alpha*A + (1-alpha)*B"
local a = nn.mlp{4, 6, 5, 3, seed = 1}
local b = nn.mlp{4, 6, 5, 3, seed = 2}
local ds = data.blobs{n = 45, dim = 4, classes = 3, seed = 3}
local X, Y = ds:tensors()
local x, y = X:totable(), Y:totable()
local N = #x

-- ---- naive helpers -----------------------------------------------------------
local function feats(net) -- { {name=, pre = rows, post = rows}, ... }
  local f = net:features(X)
  local out = {}
  for l, t in ipairs(f) do out[l] = { name = t.name, pre = t.pre:totable(), post = t.post:totable() } end
  return out
end
local function omc(u, v) -- 1 - cos, or nil when a vector is zero
  local uv, uu, vv = 0, 0, 0
  for j = 1, #u do uv = uv + u[j] * v[j]; uu = uu + u[j] * u[j]; vv = vv + v[j] * v[j] end
  if uu == 0 or vv == 0 then return nil end
  return 1 - uv / math.sqrt(uu * vv), uv / uu
end
local function meanstd(v)
  local s = 0
  for _, e in ipairs(v) do s = s + e end
  local m = s / #v
  local q = 0
  for _, e in ipairs(v) do q = q + (e - m) ^ 2 end
  return m, math.sqrt(q / #v)
end
local function mixrow(al, p, q)
  local r = {}
  for j = 1, #p do r[j] = al * p[j] + (1 - al) * q[j] end
  return r
end
local function maxdiff(d, x1, x2) return math.max(d, math.abs(x1 - x2)) end

-- ---- interpolate -------------------------------------------------------------
T.section("interpolate", function()
  local r = metrics.interpolate(a, b, ds, { alphas = { .75, 0, 1, .5 } })
  T.eq(r.kind, "interpolate", "kind")
  T.eq(r.n, N, "n")
  local function join(t) local o = {} for i, v in ipairs(t) do o[i] = string.format("%g", v) end return table.concat(o, ",") end
  T.eq(join(r.alphas), "0,0.5,0.75,1", "alphas sorted ascending")
  local d = 0
  for k, al in ipairs(r.alphas) do
    local z = nn.lerp(a, b, al):forward(X):totable()
    local nerr, loss = 0, 0
    for i = 1, N do
      local best, mx = 1, z[i][1]
      for j = 2, 3 do if z[i][j] > mx then best, mx = j, z[i][j] end end
      local s = 0
      for j = 1, 3 do s = s + math.exp(z[i][j] - mx) end
      loss = loss + mx + math.log(s) - z[i][y[i]]
      if best ~= y[i] then nerr = nerr + 1 end
    end
    T.near(r.err[k], nerr / N, 1e-12, "err(" .. al .. ") = " .. nerr .. "/" .. N)
    d = maxdiff(d, r.loss[k], loss / N)
  end
  T.ok(d < 1e-5, "loss(alpha) matches the naive loop", "max diff " .. d)
  T.eq(r.err_a, r.err[4], "err_a is alpha = 1")
  T.eq(r.err_b, r.err[1], "err_b is alpha = 0")
  local be, bea = -math.huge
  for k, al in ipairs(r.alphas) do
    local v = (r.err[k] - r.err_b) - al * (r.err_a - r.err_b)
    if v > be then be, bea = v, al end
  end
  T.near(r.barrier.err, be, 1e-12, "barrier.err")
  T.eq(r.barrier.err_alpha, bea, "barrier.err_alpha")
  T.ok(r.barrier.loss >= 0 and r.barrier.loss_alpha >= 0, "loss barrier present")
  T.near(r.lemma.eps, math.max(r.err_a, r.err_b), 1e-15, "lemma.eps = max endpoint err")
  T.eq(r.lemma.holds, r.lemma.max_err <= 2 * r.lemma.eps, "lemma.holds")
  local s = tostring(r)
  T.ok(s:find(CONV, 1, true) and s:find("barrier", 1, true), "tostring states the convention", s)
  T.eq(#metrics.interpolate(a, b, ds).alphas, 21, "default grid: 21 points")
  local r5 = metrics.interpolate(a, b, ds, { alphas = 5 })
  T.eq(join(r5.alphas), "0,0.25,0.5,0.75,1", "alphas = 5: evenly spaced")
end)

-- ---- llfc and weak additivity --------------------------------------------------
T.section("llfc", function()
  local als = { .25, .5, .9 }
  local r = metrics.llfc(a, b, ds, { alphas = als })
  T.eq(r.kind, "llfc", "kind")
  T.eq(#r.layers, 3, "one entry per feature layer")
  T.eq(r.layers[1].name .. r.layers[2].name .. r.layers[3].name, "h1h2logits", "names h1 h2 logits")
  T.eq(r.layers[1].dim, 6, "dim")
  local fa, fb = feats(a), feats(b)
  local d, skips = 0, true
  for l = 1, 3 do
    local v = {}
    for i = 1, N do v[#v + 1] = omc(fa[l].post[i], fb[l].post[i]) end
    local m, s = meanstd(v)
    d = maxdiff(maxdiff(d, r.layers[l].ab.mean, m), r.layers[l].ab.std, s)
    for k, al in ipairs(als) do
      local ft = feats(nn.lerp(a, b, al))
      local cs, cf = {}, {}
      for i = 1, N do
        local c, coef = omc(ft[l].post[i], mixrow(al, fa[l].post[i], fb[l].post[i]))
        if c then cs[#cs + 1], cf[#cf + 1] = c, coef end
      end
      local at = r.layers[l].at[k]
      T.eq(at.alpha, al, "at[" .. k .. "].alpha")
      local m1, s1 = meanstd(cs)
      local m2, s2 = meanstd(cf)
      d = maxdiff(maxdiff(maxdiff(maxdiff(d, at.mean, m1), at.std, s1), at.coef_mean, m2), at.coef_std, s2)
      skips = skips and at.skipped == N - #cs
      local tot = at.coef_hist.below + at.coef_hist.above
      for _, c in ipairs(at.coef_hist.counts) do tot = tot + c end
      T.eq(tot, #cf, r.layers[l].name .. " alpha " .. al .. ": histogram counts every kept sample")
      T.eq(#at.coef_hist.edges, #at.coef_hist.counts + 1, "histogram: edges = bins + 1")
    end
  end
  T.ok(d < 1e-5, "1-cos, baseline and c match the naive loop", "max diff " .. d)
  T.ok(skips, "skipped counts match")
  T.ok(tostring(r):find(CONV, 1, true), "tostring states the convention")
  -- pre-activations, layers by name and number
  local rp = metrics.llfc(a, b, ds, { alphas = { .5 }, features = "pre", layers = { "logits", 1 } })
  T.eq(#rp.layers, 2, "layers option selects 2")
  T.eq(rp.layers[1].name .. rp.layers[2].name, "h1logits", "selected layers in network order")
  T.eq(rp.features, "pre", "features = pre")
  local ft = feats(nn.lerp(a, b, .5))
  local cs = {}
  for i = 1, N do cs[#cs + 1] = omc(ft[1].pre[i], mixrow(.5, fa[1].pre[i], fb[1].pre[i])) end
  T.near(rp.layers[1].at[1].mean, (meanstd(cs)), 1e-5, "features = pre uses pre-activations")
end)

T.section("weak_additivity", function()
  local r = metrics.weak_additivity(a, b, ds, { alphas = { .3, .6 } })
  T.eq(r.kind, "weak_additivity", "kind")
  T.eq(#r.layers, 2, "hidden layers only")
  local fa, fb = feats(a), feats(b)
  local d = 0
  for l = 1, 2 do
    for k, al in ipairs(r.alphas) do
      local v = {}
      for i = 1, N do
        local u = mixrow(al, fa[l].pre[i], fb[l].pre[i])
        for j = 1, #u do u[j] = math.max(u[j], 0) end
        v[#v + 1] = omc(u, mixrow(al, fa[l].post[i], fb[l].post[i]))
      end
      local m, s = meanstd(v)
      d = maxdiff(maxdiff(d, r.layers[l].at[k].mean, m), r.layers[l].at[k].std, s)
    end
  end
  T.ok(d < 1e-5, "weak additivity matches the naive loop", "max diff " .. d)
  local la, lb = nn.mlp{4, 6, 5, 3, seed = 1, act = "identity"}, nn.mlp{4, 6, 5, 3, seed = 2, act = "identity"}
  local rl = metrics.weak_additivity(la, lb, ds)
  local mx = 0
  for _, ly in ipairs(rl.layers) do for _, at in ipairs(ly.at) do mx = math.max(mx, math.abs(at.mean)) end end
  T.ok(mx < 1e-12, "linear network: weak additivity exact", "max " .. mx)
end)

-- ---- commutativity ---------------------------------------------------------------
T.section("commutativity", function()
  local r = metrics.commutativity(a, b, ds)
  T.eq(r.kind, "commutativity", "kind")
  T.eq(#r.layers, 3, "one entry per weight layer")
  T.eq(r.layers[1].input .. r.layers[2].input .. r.layers[3].input, "xh1h2", "inputs x h1 h2")
  local pa, pb = a:params(), b:params()
  local fa, fb = feats(a), feats(b)
  local d = 0
  for l = 1, 3 do
    local WA, WB = pa[2 * l - 1].tensor:totable(), pb[2 * l - 1].tensor:totable()
    local num, x2, y2, ha2, hb2, dh2, wa2, wb2, dw2 = 0, 0, 0, 0, 0, 0, 0, 0, 0
    for i = 1, N do
      local HA = l == 1 and x[i] or fa[l - 1].post[i]
      local HB = l == 1 and x[i] or fb[l - 1].post[i]
      for j = 1, #HA do ha2 = ha2 + HA[j] ^ 2; hb2 = hb2 + HB[j] ^ 2; dh2 = dh2 + (HA[j] - HB[j]) ^ 2 end
      for o = 1, #WA do
        local X, Yv = 0, 0
        for j = 1, #HA do
          X = X + WA[o][j] * HA[j] + WB[o][j] * HB[j]
          Yv = Yv + WA[o][j] * HB[j] + WB[o][j] * HA[j]
        end
        num, x2, y2 = num + (X - Yv) ^ 2, x2 + X ^ 2, y2 + Yv ^ 2
      end
    end
    for o = 1, #WA do
      for j = 1, #WA[o] do
        wa2, wb2, dw2 = wa2 + WA[o][j] ^ 2, wb2 + WB[o][j] ^ 2, dw2 + (WA[o][j] - WB[o][j]) ^ 2
      end
    end
    local c = r.layers[l]
    T.eq(c.layer, l, "layer number " .. l)
    local dc = num == 0 and 0 or num / math.sqrt(x2 * y2)
    d = math.max(d, math.abs(c.dist_com - dc) / math.max(1, dc))
    d = math.max(d, math.abs(c.dist_w - dw2 / math.sqrt(wa2 * wb2)))
    d = math.max(d, math.abs(c.dist_h - (dh2 == 0 and 0 or dh2 / math.sqrt(ha2 * hb2))))
  end
  T.ok(d < 1e-5, "Dist_com, Dist_W, Dist_H match the naive loop", "max diff " .. d)
  T.eq(r.layers[1].dist_com, 0, "layer 1: same input, Dist_com = 0")
  T.ok(tostring(r):find("biases excluded", 1, true), "tostring says biases are excluded")
end)

-- ---- identical and permuted networks ----------------------------------------------
local function permute_hidden(net, g, perm) -- hidden layer g (1-based) by perm (1-based)
  local p = net:params()
  local W, bb, W2 = p[2 * g - 1].tensor, p[2 * g].tensor, p[2 * g + 1].tensor
  local tW, tb, tW2 = W:totable(), bb:totable(), W2:totable()
  for i, src in ipairs(perm) do
    for j = 1, #tW[1] do W:set(i, j, tW[src][j]) end
    bb:set(i, tb[src])
    for o = 1, #tW2 do W2:set(o, i, tW2[o][src]) end
  end
end

T.section("identical and permuted", function()
  local c = a:clone()
  local r = metrics.report(a, c, ds)
  T.eq(r.kind, "report", "report kind")
  T.eq(r.interpolate.barrier.err, 0, "identical: error barrier 0")
  T.ok(math.abs(r.interpolate.barrier.loss) < 1e-6, "identical: loss barrier 0")
  local mx = 0
  for _, ly in ipairs(r.llfc.layers) do
    mx = math.max(mx, math.abs(ly.ab.mean))
    for _, at in ipairs(ly.at) do mx = math.max(mx, math.abs(at.mean), math.abs(at.coef_mean - 1)) end
  end
  T.ok(mx < 1e-6, "identical: 1 - cos_alpha = 0 and c = 1", "max " .. mx)
  local p1, p2 = { 4, 1, 6, 2, 5, 3 }, { 5, 3, 1, 2, 4 }
  permute_hidden(c, 1, p1)
  permute_hidden(c, 2, p2)
  local rp = metrics.llfc(a, c, ds)
  T.ok(rp.layers[1].ab.mean > 1e-3 and rp.layers[2].ab.mean > 1e-3, "permuted copy: 1 - cos_AB > 0")
  T.ok(math.abs(rp.layers[3].ab.mean) < 1e-6, "permuted copy: logits unchanged")
  local q1, q2 = {}, {}
  for i, v in ipairs(p1) do q1[v] = i end
  for i, v in ipairs(p2) do q2[v] = i end
  permute_hidden(c, 1, q1)
  permute_hidden(c, 2, q2)
  rp = metrics.llfc(a, c, ds)
  mx = 0
  for _, ly in ipairs(rp.layers) do for _, at in ipairs(ly.at) do mx = math.max(mx, math.abs(at.mean)) end end
  T.ok(mx < 1e-6, "inverse permutation applied: 1 - cos_alpha = 0", "max " .. mx)
  if perm and perm.weight_match then
    permute_hidden(c, 1, p1)
    permute_hidden(c, 2, p2)
    local p = perm.weight_match(a, c)
    local rm = metrics.report(a, p:apply(c), ds)
    mx = 0
    for _, ly in ipairs(rm.llfc.layers) do
      mx = math.max(mx, math.abs(ly.ab.mean))
      for _, at in ipairs(ly.at) do mx = math.max(mx, math.abs(at.mean)) end
    end
    T.ok(mx < 1e-6 and rm.interpolate.barrier.err == 0, "after weight matching: 1 - cos_AB = 1 - cos_alpha = 0, barrier 0",
      "max " .. mx)
  else
    T.skip("weight matching", "perm.weight_match not available")
  end
end)

-- ---- report, options, errors, progress, view ----------------------------------------
T.section("report", function()
  local r = metrics.report(a, b, ds, { llfc_alphas = { .5 } })
  T.eq(r.interpolate.kind .. r.llfc.kind .. r.weak_additivity.kind .. r.commutativity.kind,
    "interpolatellfcweak_additivitycommutativity", "report holds the four results")
  local i1 = metrics.interpolate(a, b, ds)
  local c1 = metrics.commutativity(a, b, ds)
  local l1 = metrics.llfc(a, b, ds, { alphas = { .5 } })
  T.eq(r.interpolate.err[8], i1.err[8], "report: same err as interpolate")
  T.near(r.commutativity.layers[2].dist_com, c1.layers[2].dist_com, 1e-12, "report: same Dist_com")
  T.near(r.llfc.layers[1].at[1].mean, l1.layers[1].at[1].mean, 1e-12, "report: same llfc")
  T.eq(#r.weak_additivity.alphas, 1, "weak alphas default to the llfc alphas")
  local s = tostring(r)
  T.ok(s:find("interpolate:", 1, true) and s:find("llfc:", 1, true) and s:find("commutativity:", 1, true),
    "report tostring shows every table")
  T.ok(tostring(r.llfc):find("h1", 1, true), "sub-results print too")
end)

T.section("errors", function()
  local c3 = nn.mlp{4, 7, 5, 3, seed = 1}
  T.raises(function() metrics.report(a, c3, ds) end, "do not match", "mismatched architectures")
  local c5 = nn.mlp{5, 6, 5, 3}
  T.raises(function() metrics.interpolate(c5, c5, ds) end, "5 inputs", "input dim vs dataset")
  T.raises(function() metrics.interpolate(a, b, ds:subset({})) end, "empty", "empty dataset")
  T.raises(function() metrics.interpolate(a, b, ds, { alphas = { .5, 1.5 } }) end, "1.5", "alpha > 1")
  T.raises(function() metrics.llfc(a, b, ds, { alphas = { 0 / 0 } }) end, "nan", "NaN alpha")
  T.raises(function() metrics.llfc(a, b, ds, { alphas = { "x" } }) end, "must be a number", "alpha type")
  T.raises(function() metrics.interpolate(a, b, ds, { alphas = 1 }) end, "between 2", "alphas = 1")
  T.raises(function() metrics.llfc(a, b, ds, { features = "mid" }) end, "post", "bad features")
  T.raises(function() metrics.llfc(a, b, ds, { layers = { "h9" } }) end, "h9", "bad layer name")
  T.raises(function() metrics.llfc(a, b, ds, { layers = { 4 } }) end, "out of range", "bad layer number")
  T.raises(function() metrics.llfc(a, b, ds, { range = { 2, 1 } }) end, "lo < hi", "bad range")
  T.raises(function() metrics.interpolate(a, b, ds, { batch = -1 }) end, "batch", "bad batch")
  T.raises(function() metrics.interpolate(a, ds, ds) end, "llfc.Net expected", "not a network")
  T.eq(#metrics.interpolate(a, b, ds, { alphas = { .5, .5, .2 } }).alphas, 2, "duplicate alphas dropped")
  T.raises(function() metrics.weak_additivity(a, b, ds, { layers = { "logits" } }) end, "no hidden layer",
    "weak additivity needs a hidden layer")
  local r = metrics.report(a, b, ds, { layers = { "logits" } })
  T.ok(#r.llfc.layers == 1 and #r.weak_additivity.layers == 0, "report on the logits only: no weak additivity rows")
end)

T.section("progress and view", function()
  local calls, last = 0, nil
  local r = metrics.interpolate(a, b, ds, { batch = 10, progress = function(d, t, w) calls = calls + 1; last = { d, t } end })
  T.eq(calls, 5, "progress called once per batch")
  T.ok(last[1] == 5 and last[2] == 5, "progress done == total at the end")
  T.raises(function() metrics.interpolate(a, b, ds, { batch = 10, progress = function(d) return d < 2 end }) end,
    "interrupted", "progress returning false stops with 'interrupted'")
  T.raises(function() metrics.interpolate(a, b, ds, { batch = 10, progress = function() error("boom") end }) end,
    "boom", "an error in the progress callback is reported")
  -- Ctrl-C without the view: the partial result of the batches done so far, the
  -- interrupt consumed (the next statement runs).  The signal comes from a
  -- background shell while the progress callback waits.
  local sent = false
  local ri = metrics.interpolate(a, b, ds, { batch = 10, alphas = 5, progress = function(d)
    if d == 2 and not sent then
      sent = true
      os.execute("(sleep 0.05; kill -INT $PPID) &")
      local t0 = os.clock()
      while os.clock() - t0 < 5 do end
    end
  end })
  T.ok(ri.interrupted == true and ri.complete == false, "Ctrl-C returns a partial result (interrupted, not complete)",
    tostring(ri.interrupted) .. ", " .. tostring(ri.complete))
  T.ok(ri.n >= 10 and ri.n < N and ri.n % 10 == 0, "the partial result covers whole batches", tostring(ri.n))
  local head = ds:subset(ri.n)
  local rh = metrics.interpolate(a, b, head, { alphas = 5 })
  local same = #rh.err == #ri.err
  for i = 1, #rh.err do same = same and math.abs(rh.err[i] - ri.err[i]) < 1e-12 end
  T.ok(same, "the partial errors equal a full run on the samples done")
  local after = metrics.interpolate(a, b, ds, { alphas = 5 })
  T.ok(after.complete and not after.interrupted, "the interrupt was consumed: the next run completes")
  -- the live view protocol, with recording hooks in place of the view module
  local V = require("llfc.util") and view
  if type(V) ~= "table" then T.skip("view protocol", "no view module table"); return end
  local saved = { V.begin, V.update, V.finish }
  local log = {}
  V.begin = function(kind, title) log[#log + 1] = { "begin", kind, title } end
  V.update = function(t) log[#log + 1] = { "update", t.kind, t.n, #t.layers } end
  V.finish = function(t, status) log[#log + 1] = { "finish", t.kind, t.n, status } end
  local ok, err = pcall(function()
    local rr = metrics.llfc(a, b, ds, { batch = 20, view = true })
    T.eq(rr.n, N, "view: full result returned")
  end)
  T.ok(ok, "view run", err)
  T.eq(log[1] and log[1][1] .. log[1][2], "beginllfc", "view.begin(kind)")
  T.ok(log[1] and log[1][3]:find(CONV, 1, true), "view title states the convention")
  T.ok(log[2] and log[2][1] == "update" and log[2][3] == 20 and log[2][4] == 3, "update: partial, final layout")
  T.ok(log[3] and log[3][1] == "update" and log[3][3] == 40, "update: n grows")
  T.ok(log[4] and log[4][1] == "finish" and log[4][3] == N and log[4][4] == nil, "finish with the final result")
  log = {}
  V.update = function(t) log[#log + 1] = { "update", t.kind, t.n }; return false end
  local rr = metrics.interpolate(a, b, ds, { batch = 20, view = true })
  T.ok(rr.n == 20 and rr.complete == false, "view.update returning false stops: partial result")
  V.begin, V.update, V.finish = saved[1], saved[2], saved[3]
end)

T.done()
