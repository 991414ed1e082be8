-- test_metrics.lua - the metrics module through the binary on every
-- architecture: result layouts, options, errors, the live view protocol, and
-- every metric recomputed by a naive per-sample loop written here (from
-- net:features and the parameters): on MLPs, then on conv and residual nets
-- (nn.vgg, nn.resnet20) with an explicit convolution, max pool and average
-- pool in Lua, hand-computed cases and planted permutations.
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

-- ---- conv and residual nets --------------------------------------------------
do
-- ---- naive helpers (flat Lua lists, NCHW) ---------------------------------------
local function flat(t) return t:reshape({ t:numel() }):totable() end
local function rows(t) return t:totable() end

-- conv of one sample x [C, H, W] with w [K, C, R, R] (flat), no bias
local function conv(x, C, H, W, w, K, R, stride, pad)
  local P, Q = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - R) // stride + 1
  local out = {}
  for k = 0, K - 1 do
    for p = 0, P - 1 do
      for q = 0, Q - 1 do
        local s = 0
        for c = 0, C - 1 do
          for i = 0, R - 1 do
            local y = p * stride - pad + i
            if y >= 0 and y < H then
              for j = 0, R - 1 do
                local xx = q * stride - pad + j
                if xx >= 0 and xx < W then
                  s = s + w[((k * C + c) * R + i) * R + j + 1] * x[(c * H + y) * W + xx + 1]
                end
              end
            end
          end
        end
        out[(k * P + p) * Q + q + 1] = s
      end
    end
  end
  return out
end
local function maxpool2(x, C, H, W)
  local out = {}
  for c = 0, C - 1 do
    for p = 0, H // 2 - 1 do
      for q = 0, W // 2 - 1 do
        local m = -math.huge
        for i = 0, 1 do
          for j = 0, 1 do m = math.max(m, x[(c * H + 2 * p + i) * W + 2 * q + j + 1]) end
        end
        out[(c * (H // 2) + p) * (W // 2) + q + 1] = m
      end
    end
  end
  return out
end
local function gap(x, C, H, W)
  local out = {}
  for c = 0, C - 1 do
    local s = 0
    for k = 1, H * W do s = s + x[c * H * W + k] end
    out[c + 1] = s / (H * W)
  end
  return out
end
local function linear(x, w, K)
  local D, out = #x, {}
  for k = 0, K - 1 do
    local s = 0
    for j = 1, D do s = s + w[k * D + j] * x[j] end
    out[k + 1] = s
  end
  return out
end
local function sumsq(v) local s = 0 for _, e in ipairs(v) do s = s + e * e end return s end
local function dist(d2, x2, y2) return d2 == 0 and 0 or d2 / math.sqrt(x2 * y2) end

-- Naive commutativity of one weight: apply(h, w) -> W h for one sample; HA,
-- HB lists of per-sample inputs.  Returns dist_com, dist_h (dist_w apart).
local function naive_comm(apply, WA, WB, HA, HB)
  local num, x2, y2, ha2, hb2, dh2 = 0, 0, 0, 0, 0, 0
  for i = 1, #HA do
    local aa, bb = apply(HA[i], WA), apply(HB[i], WB)
    local ab, ba = apply(HB[i], WA), apply(HA[i], WB)
    for j = 1, #aa do
      local X, Y = aa[j] + bb[j], ab[j] + ba[j]
      num, x2, y2 = num + (X - Y) ^ 2, x2 + X * X, y2 + Y * Y
    end
    for j = 1, #HA[i] do
      ha2, hb2, dh2 = ha2 + HA[i][j] ^ 2, hb2 + HB[i][j] ^ 2, dh2 + (HA[i][j] - HB[i][j]) ^ 2
    end
  end
  return dist(num, x2, y2), dist(dh2, ha2, hb2)
end
local function naive_dist_w(a, b, pname)
  local wa, wb = flat(a:params()[pname]), flat(b:params()[pname])
  local d2 = 0
  for j = 1, #wa do d2 = d2 + (wa[j] - wb[j]) ^ 2 end
  return dist(d2, sumsq(wa), sumsq(wb))
end
local function entry(r, name)
  for _, c in ipairs(r.layers) do if c.name == name then return c end end
end
local function relerr(x, y) return math.abs(x - y) / math.max(1e-12, math.abs(y)) end

-- ---- a tiny VGG: conv 2->3, relu, maxpool, conv 3->4, relu, gap, linear ---------
local spec = { layers = { 3, "M", 4 }, input = { 2, 4, 4 }, classes = 3 }
local function vgg(seed, norm)
  local t = { seed = seed, norm = norm }
  for k, v in pairs(spec) do t[k] = v end
  return nn.vgg(t)
end
local ds = data.blobs{ n = 24, dim = 32, classes = 3, seed = 5 }
local X = ds:tensors()
local xs = rows(X)
local N = #xs

T.section("vgg: features are the relu inputs and outputs, flattened NCHW", function()
  local a = vgg(1)
  local f = a:features(X)
  T.eq(#f, 3, "two relu features and the logits")
  T.eq(f[1].pre:size()[2], 3 * 16, "h1 is [n, 3*4*4]")
  local w, b = flat(a:params()["features.0.weight"]), flat(a:params()["features.0.bias"])
  local pre, post, d = rows(f[1].pre), rows(f[1].post), 0
  for i = 1, N do
    local z = conv(xs[i], 2, 4, 4, w, 3, 3, 1, 1)
    for j = 1, #z do
      local v = z[j] + b[(j - 1) // 16 + 1]
      d = math.max(d, math.abs(pre[i][j] - v), math.abs(post[i][j] - math.max(v, 0)))
    end
  end
  T.ok(d < 1e-5, "h1 pre = conv(x) + b, post = relu(pre) (naive conv)", "max diff " .. d)
end)

for _, norm in ipairs { false, "bn", "ln" } do
  local tag = "vgg" .. (norm and (" " .. norm) or "")
  T.section(tag .. ": commutativity against naive convolutions", function()
    local a, b = vgg(1, norm or nil), vgg(2, norm or nil)
    local r = metrics.commutativity(a, b, ds, { batch = 7 })
    T.eq(r.kind, "commutativity", tag .. ": kind")
    T.eq(#r.layers, 3, tag .. ": one entry per weight op (2 convs, the classifier)")
    local names = {}
    for k, c in ipairs(r.layers) do
      names[k] = c.name
      T.ok(a:params()[c.name .. ".weight"] ~= nil, tag .. ": entry " .. k .. " names its weight module " .. tostring(c.name))
      T.eq(c.layer, k, tag .. ": layer numbers count the weight ops")
    end
    T.eq(r.layers[1].input, "x", tag .. ": the first conv reads x")
    T.eq(r.layers[1].dist_com, 0, tag .. ": same input x: Dist_com = 0")
    T.eq(r.layers[1].dist_h, 0, tag .. ": same input x: Dist_H = 0")
    local fa, fb = a:features(X), b:features(X)
    local h1a, h1b, h2a, h2b = rows(fa[1].post), rows(fb[1].post), rows(fa[2].post), rows(fb[2].post)
    local HA2, HB2, HA3, HB3 = {}, {}, {}, {}
    for i = 1, N do
      HA2[i], HB2[i] = maxpool2(h1a[i], 3, 4, 4), maxpool2(h1b[i], 3, 4, 4)
      HA3[i], HB3[i] = gap(h2a[i], 4, 2, 2), gap(h2b[i], 4, 2, 2)
    end
    local c2, c3 = r.layers[2], r.layers[3]
    local dc, dh = naive_comm(function(h, w) return conv(h, 3, 2, 2, w, 4, 3, 1, 1) end,
      flat(a:params()[c2.name .. ".weight"]), flat(b:params()[c2.name .. ".weight"]), HA2, HB2)
    T.ok(relerr(c2.dist_com, dc) < 1e-4, tag .. ": conv 2 Dist_com", string.format("%.9g vs %.9g", c2.dist_com, dc))
    T.ok(relerr(c2.dist_h, dh) < 1e-4, tag .. ": conv 2 Dist_H (H = max pool of h1)", string.format("%.9g vs %.9g", c2.dist_h, dh))
    T.ok(relerr(c2.dist_w, naive_dist_w(a, b, c2.name .. ".weight")) < 1e-5, tag .. ": conv 2 Dist_W")
    dc, dh = naive_comm(function(h, w) return linear(h, w, 3) end,
      flat(a:params()[c3.name .. ".weight"]), flat(b:params()[c3.name .. ".weight"]), HA3, HB3)
    T.ok(relerr(c3.dist_com, dc) < 1e-4, tag .. ": classifier Dist_com", string.format("%.9g vs %.9g", c3.dist_com, dc))
    T.ok(relerr(c3.dist_h, dh) < 1e-4, tag .. ": classifier Dist_H (H = average pool of h2)")
    T.ok(relerr(c3.dist_w, naive_dist_w(a, b, c3.name .. ".weight")) < 1e-5, tag .. ": classifier Dist_W")
    local r1 = metrics.commutativity(a, b, ds, { batch = 24 })
    T.ok(relerr(r1.layers[2].dist_com, c2.dist_com) < 1e-5, tag .. ": the batch size does not change the result")
    local z = metrics.commutativity(a, a:clone(), ds)
    local zero = true
    for _, c in ipairs(z.layers) do zero = zero and c.dist_com == 0 and c.dist_w == 0 and c.dist_h == 0 end
    T.ok(zero, tag .. ": identical nets: every distance is 0")
    T.ok(tostring(r):find(c2.name, 1, true) ~= nil, tag .. ": tostring lists the weight modules")
  end)
end

T.section("vgg: hand-computed 2-channel commutativity", function()
  -- 1x1 maps: a 3x3 conv with padding 1 sees only its centre tap, a 2x2 matrix
  local mk = function() return nn.vgg{ layers = { 2 }, input = { 2, 1, 1 }, classes = 2, head = "flatten", seed = 1 } end
  local a, b = mk(), mk()
  local function set(net, conv_c, lin)
    local p = net:params()
    local w = p["features.0.weight"]
    w:fill(0)
    for k = 1, 2 do for c = 1, 2 do w:set(k, c, 2, 2, conv_c[k][c]) end end
    p["features.0.bias"]:fill(0)
    local l
    for _, e in ipairs(p) do if e.name:find("weight$") and e.tensor:dim() == 2 then l = e.tensor end end
    for k = 1, 2 do for c = 1, 2 do l:set(k, c, lin[k][c]) end end
    for _, e in ipairs(p) do if e.name:find("bias$") then e.tensor:fill(0) end end
  end
  local I, P = { { 1, 0 }, { 0, 1 } }, { { 0, 1 }, { 1, 0 } }
  set(a, I, I)
  set(b, P, P)
  local one = data.from_tensors(tensor.new({ { 1, 2 } }), { 1 }, { classes = 2 })
  local r = metrics.commutativity(a, b, one)
  -- conv: H = x for both: Dist_com = Dist_H = 0, Dist_W = |I-P|^2/(|I||P|) = 4/2
  T.eq(r.layers[1].dist_com, 0, "conv: Dist_com 0")
  T.near(r.layers[1].dist_w, 2, 1e-6, "conv: Dist_W = 2")
  -- classifier: H_A = (1, 2), H_B = (2, 1); X = (1,2) + P(2,1) = (2,4), Y = (2,1) + P(1,2) = (4,2)
  T.near(r.layers[2].dist_com, 8 / 20, 1e-6, "classifier: Dist_com = |(-2,2)|^2/(|(2,4)||(4,2)|) = 0.4")
  T.near(r.layers[2].dist_h, 2 / 5, 1e-6, "classifier: Dist_H = 2/5")
  T.near(r.layers[2].dist_w, 2, 1e-6, "classifier: Dist_W = 2")
end)

T.section("vgg: weak additivity and llfc against naive loops", function()
  local a, b = vgg(1, "bn"), vgg(2, "bn")
  local al = { 0, .3, 1 }
  local w = metrics.weak_additivity(a, b, ds, { alphas = al, batch = 5 })
  T.eq(#w.layers, 2, "weak additivity: the two relu layers, not the logits")
  T.eq(w.layers[1].name, "h1", "layer name h1")
  T.eq(w.layers[1].dim, 48, "dim = C*H*W")
  local fa, fb = a:features(X), b:features(X)
  local d = 0
  for l = 1, 2 do
    local pa, pb, ha, hb = rows(fa[l].pre), rows(fb[l].pre), rows(fa[l].post), rows(fb[l].post)
    for k, alpha in ipairs(al) do
      local s, n = 0, 0
      for i = 1, N do
        local uv, uu, vv = 0, 0, 0
        for j = 1, #pa[i] do
          local u = math.max(alpha * pa[i][j] + (1 - alpha) * pb[i][j], 0)
          local v = alpha * ha[i][j] + (1 - alpha) * hb[i][j]
          uv, uu, vv = uv + u * v, uu + u * u, vv + v * v
        end
        if uu > 0 and vv > 0 then s, n = s + 1 - uv / math.sqrt(uu * vv), n + 1 end
      end
      d = math.max(d, math.abs(w.layers[l].at[k].mean - s / n))
    end
  end
  T.ok(d < 1e-5, "weak additivity = the naive loop on the relus' inputs and outputs", "max diff " .. d)
  T.ok(math.abs(w.layers[1].at[1].mean) < 1e-6 and math.abs(w.layers[2].at[3].mean) < 1e-6,
       "alpha 0 and 1: weak additivity 0")
  -- llfc against nn.lerp features
  local r = metrics.llfc(a, b, ds, { alphas = { .5 }, batch = 10 })
  T.eq(#r.layers, 3, "llfc: h1, h2, logits")
  local ft = nn.lerp(a, b, .5):features(X)
  d = 0
  for l = 1, 3 do
    local t, pa, pb = rows(ft[l].post), rows(fa[l].post), rows(fb[l].post)
    local s, n = 0, 0
    for i = 1, N do
      local tm, tt, mm = 0, 0, 0
      for j = 1, #t[i] do
        local m = .5 * pa[i][j] + .5 * pb[i][j]
        tm, tt, mm = tm + t[i][j] * m, tt + t[i][j] ^ 2, mm + m * m
      end
      if tt > 0 and mm > 0 then s, n = s + 1 - tm / math.sqrt(tt * mm), n + 1 end
    end
    d = math.max(d, math.abs(r.layers[l].at[1].mean - s / n))
  end
  T.ok(d < 1e-5, "llfc on a BatchNorm VGG = naive loop on nn.lerp's features", "max diff " .. d)
  local pre = metrics.llfc(a, b, ds, { alphas = { .5 }, features = "pre", layers = { "h2" } })
  T.ok(pre.layers[1].name == "h2" and pre.layers[1].at[1].mean == pre.layers[1].at[1].mean, "llfc pre on a chosen layer")
end)

T.section("vgg: weak additivity is exact when every pre-activation is positive", function()
  local a, b = vgg(1), vgg(2)
  for _, net in ipairs { a, b } do
    for _, e in ipairs(net:params()) do e.tensor:copy(e.tensor:abs()) end
  end
  local pos = data.from_tensors(X:abs(), select(2, ds:tensors()), { classes = 3 })
  local w = metrics.weak_additivity(a, b, pos, { alphas = { .25, .5 } })
  local m = 0
  for _, ly in ipairs(w.layers) do for _, at in ipairs(ly.at) do m = math.max(m, math.abs(at.mean)) end end
  T.ok(m < 1e-6, "relu is linear on nonnegative inputs: weak additivity 0", "max " .. m)
end)

T.section("vgg: report (all four parts) and its live view", function()
  local a, b = vgg(1, "bn"), vgg(2, "bn")
  local r = metrics.report(a, b, ds, { alphas = 5, llfc_alphas = { .5 }, batch = 8 })
  T.ok(r.interpolate and r.llfc and r.weak_additivity and r.commutativity, "report has the four parts")
  T.eq(r.n, N, "report n")
  local c = metrics.commutativity(a, b, ds)
  T.ok(relerr(r.commutativity.layers[2].dist_com, c.layers[2].dist_com) < 1e-5, "report: same Dist_com")
  local ip = metrics.interpolate(a, b, ds, { alphas = 5 })
  T.near(r.interpolate.err[3], ip.err[3], 1e-12, "report: same err(0.5)")
  local z = nn.lerp(a, b, .5):eval(ds)
  T.near(ip.err[3], z.err, 1e-12, "interpolate err(0.5) = nn.lerp(a, b, .5):eval")
  T.near(ip.loss[3], z.loss, 1e-4, "interpolate loss(0.5) = nn.lerp(a, b, .5):eval")
  T.ok(tostring(r):find("commutativity", 1, true) ~= nil, "report prints")
  local V = view
  if type(V) ~= "table" then T.skip("view protocol", "no view module table"); return end
  local saved = { V.begin, V.update, V.finish }
  local log = {}
  V.begin = function(kind) log[#log + 1] = { "begin", kind } end
  V.update = function(t) log[#log + 1] = { "update", t.n, t.commutativity and #t.commutativity.layers } end
  V.finish = function(t, status) log[#log + 1] = { "finish", t.n, status } end
  local ok, err = pcall(function() return metrics.report(a, b, ds, { batch = 8, view = true }) end)
  V.begin, V.update, V.finish = saved[1], saved[2], saved[3]
  T.ok(ok, "report with view = true runs", err)
  T.ok(log[1] and log[1][2] == "report", "view.begin('report')")
  T.ok(log[2] and log[2][1] == "update" and log[2][2] == 8 and log[2][3] == 3, "update: partial report, final layout")
  T.ok(log[#log] and log[#log][1] == "finish" and log[#log][2] == N, "finish with the full report")
end)

T.section("vgg: activation matching recovers a planted permutation", function()
  local net = vgg(3, "bn")
  local big = data.blobs{ n = 64, dim = 32, classes = 3, seed = 9 }
  for s = 1, 2 do
    local p = perm.random(net, s)
    local q = p:apply(net)
    for _, method in ipairs { "inner", "corr" } do
      local r, st = perm.activation_match(net, q, big, { method = method, batch = 10 })
      T.ok(r == p:inverse(), "vgg " .. method .. " (seed " .. s .. "): planted permutation recovered")
      T.eq(st.n, 64, "vgg " .. method .. ": every sample used")
    end
  end
  local p = perm.random(net, 3)
  T.ok(perm.weight_match(net, p:apply(net)) == p:inverse(), "vgg: weight matching recovers it too")
  local r, st = perm.activation_match(net, net:clone(), big)
  T.ok(r == perm.identity(net), "a net against itself: the identity")
  T.eq(#st.identity, 0, "every group had a feature layer")
end)

-- ---- ResNet-20 -------------------------------------------------------------------
if not nn.resnet20 then
  T.skip("resnet20", "nn.resnet20 not built")
  T.done()
  return
end

local rds = data.blobs{ n = 6, dim = 64, classes = 3, seed = 11 }
local RX = rds:tensors()
local rxs = rows(RX)
local function resnet(seed, norm) return nn.resnet20{ width = 1, input = { 1, 8, 8 }, classes = 3, seed = seed, norm = norm } end

T.section("resnet20: commutativity per weight op against naive convolutions", function()
  local a, b = resnet(1), resnet(2)
  local r = metrics.commutativity(a, b, rds, { batch = 4 })
  T.eq(#r.layers, 22, "19 convs, 2 shortcut convs and the linear")
  T.eq(r.layers[1].input, "x", "the stem conv reads x")
  local c1, c2 = entry(r, "layer1.0.conv1"), entry(r, "layer1.0.conv2")
  local s1, s2 = entry(r, "layer2.0.conv1"), entry(r, "layer2.0.shortcut.0")
  T.ok(c1 and c2 and s1 and s2 and entry(r, "linear"), "entries named by module")
  if not (c1 and c2 and s1 and s2) then return end
  T.eq(c1.input, "conv1", "layer1.0.conv1 reads the stem relu 'conv1'")
  T.eq(c2.input, "layer1.0.relu1", "layer1.0.conv2 reads the inner relu")
  T.eq(s1.input, "layer1.2", "layer2.0.conv1 reads the block output layer1.2")
  T.eq(s2.input, "layer1.2", "the shortcut reads the same block output")
  local fa, fb = a:features(RX), b:features(RX)
  local function feat(f, name) for _, e in ipairs(f) do if e.name == name then return rows(e.post) end end end
  local cases = {
    { c2, "layer1.0.relu1", 16, 8, 16, 3, 1, 1 },
    { s1, "layer1.2", 16, 8, 32, 3, 2, 1 },
    { s2, "layer1.2", 16, 8, 32, 1, 2, 0 },
  }
  for _, cs in ipairs(cases) do
    local e, fname, C, H, K, R, stride, pad = table.unpack(cs)
    local HA, HB = feat(fa, fname), feat(fb, fname)
    local dc, dh = naive_comm(function(h, w) return conv(h, C, H, H, w, K, R, stride, pad) end,
      flat(a:params()[e.name .. ".weight"]), flat(b:params()[e.name .. ".weight"]), HA, HB)
    T.ok(relerr(e.dist_com, dc) < 1e-4, e.name .. ": Dist_com = naive", string.format("%.9g vs %.9g", e.dist_com, dc))
    T.ok(relerr(e.dist_h, dh) < 1e-4, e.name .. ": Dist_H = naive")
    T.ok(relerr(e.dist_w, naive_dist_w(a, b, e.name .. ".weight")) < 1e-5, e.name .. ": Dist_W = naive")
  end
  local z = metrics.commutativity(a, a:clone(), rds)
  local zero = true
  for _, c in ipairs(z.layers) do zero = zero and c.dist_com == 0 and c.dist_h == 0 end
  T.ok(zero, "identical ResNets: Dist_com = Dist_H = 0 everywhere")
end)

T.section("resnet20: report on residual block outputs, weak additivity naive", function()
  local a, b = resnet(1, "ln"), resnet(2, "ln")
  local r = metrics.report(a, b, rds, { alphas = 3, llfc_alphas = { .5 }, weak_alphas = { .5 } })
  local names = {}
  for _, ly in ipairs(r.llfc.layers) do names[#names + 1] = ly.name end
  T.eq(#names, 20, "llfc: stem, 9 inner relus, 9 block outputs, logits")
  T.eq(names[3], "layer1.0", "the block output is a feature layer")
  T.eq(#r.weak_additivity.layers, 19, "weak additivity on every relu")
  T.ok(tostring(r.weak_additivity):find("layer1.0.relu1 +%d") ~= nil and tostring(r.llfc):find("layer1.0.relu1 +%d") ~= nil,
       "long layer names keep a space before the dim column")
  local fa, fb = a:features(RX), b:features(RX)
  local d = 0
  for l = 1, 19, 6 do
    local pa, pb, ha, hb = rows(fa[l].pre), rows(fb[l].pre), rows(fa[l].post), rows(fb[l].post)
    local s, n = 0, 0
    for i = 1, #pa do
      local uv, uu, vv = 0, 0, 0
      for j = 1, #pa[i] do
        local u = math.max(.5 * pa[i][j] + .5 * pb[i][j], 0)
        local v = .5 * ha[i][j] + .5 * hb[i][j]
        uv, uu, vv = uv + u * v, uu + u * u, vv + v * v
      end
      if uu > 0 and vv > 0 then s, n = s + 1 - uv / math.sqrt(uu * vv), n + 1 end
    end
    d = math.max(d, math.abs(r.weak_additivity.layers[l].at[1].mean - s / n))
  end
  T.ok(d < 1e-5, "weak additivity on ResNet relus (block outputs: pre = the residual sum) = naive", "max diff " .. d)
  T.eq(#r.commutativity.layers, 22, "report: commutativity per weight op")
  T.near(r.interpolate.err_a, a:eval(rds).err, 1e-12, "report: endpoint error of A")
end)

T.section("resnet20: activation matching recovers a planted permutation", function()
  local net = resnet(4)
  local big = data.blobs{ n = 40, dim = 64, classes = 3, seed = 13 }
  local p = perm.random(net, 7)
  local q = p:apply(net)
  -- channels dead on every sample tie in the cost and may swap: compare what
  -- the aligned copy computes (every feature layer) instead of the perm alone
  local BX = big:tensors()
  local fn = net:features(BX)
  local function aligned(r)
    local fr, d = r:apply(q):features(BX), 0
    for l = 1, #fn do d = math.max(d, ((fr[l].post - fn[l].post):abs():max())) end
    return d
  end
  local r, st = perm.activation_match(net, q, big, { batch = 16 })
  T.ok(aligned(r) < 1e-4, "resnet20 (bn): activation matching undoes a planted permutation", "max diff " .. aligned(r))
  T.eq(#st.identity, 0, "every stream and inner group has a feature layer")
  local r2 = perm.activation_match(net, q, big, { method = "corr" })
  T.ok(aligned(r2) < 1e-4, "resnet20 (bn): the same with correlation")
  T.ok(aligned(perm.identity(net)) > 1e-3, "(the planted permutation changes the features)")
  T.ok(perm.weight_match(net, q) == p:inverse(), "resnet20 (bn): weight matching recovers it (shortcuts, norms, streams)")
end)
end

T.done()
