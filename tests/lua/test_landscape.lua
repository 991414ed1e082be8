-- test_landscape.lua - several networks at once and paths beyond the
-- straight line, from Lua: nn.average (by hand with tensors, BatchNorm reset
-- and REPAIR options), perm.align_many (the maps compose, planted copies come
-- back), and the errors that name the bad argument.  The numerics are
-- checked against double-precision references in test_landscape.c.
local T = require "check"

local function maxdiff(a, b)
  local pa, pb = a:params(), b:params()
  local m = 0
  for i = 1, #pa do
    local d = (pa[i].tensor:clone():sub(pb[i].tensor):abs():max())
    if d > m then m = d end
  end
  return m
end

-- a small image dataset: 60 samples of 1x8x8, 3 classes
local n = 60
local x = tensor.rand({n, 64}, {seed = 3})
local labels = {}
for i = 1, n do labels[i] = (i % 3) + 1 end
local ds = data.from_tensors(x, labels, {classes = 3})
local function bnnet(seed) return nn.vgg{layers = {4, "M", 6}, norm = "bn", input = {1, 8, 8}, classes = 3, seed = seed} end
local function mlp(seed) return nn.mlp{64, 12, 10, 3, seed = seed} end

T.section("nn.average", function()
  local a, b, c = mlp(1), mlp(2), mlp(3)
  T.eq(maxdiff(nn.average({a, a}), a), 0, "the average of two copies is the model")
  local m = nn.average({a, b, c}, {1, 1, 2})
  local pa, pb, pc, pm = a:params(), b:params(), c:params(), m:params()
  local worst = 0
  for i = 1, #pa do
    local want = pa[i].tensor:clone():add(pb[i].tensor):add(pc[i].tensor:clone():mul(2)):mul(0.25)
    worst = math.max(worst, (want:sub(pm[i].tensor):abs():max()))
  end
  T.ok(worst < 1e-6, "weights {1, 1, 2}: (a + b + 2c)/4 parameter by parameter", worst)
  local e = nn.average({a, b}):eval(ds).err
  T.ok(e >= 0 and e <= 1, "the average evaluates")
  -- BatchNorm: reset against nn.reset_bn of the plain average
  local u, v = bnnet(1), bnnet(2)
  local r1 = nn.average({u, v}, nil, {reset_bn = ds, batch = 16})
  local r2 = nn.reset_bn(nn.average({u, v}), ds, {batch = 16})
  T.eq(maxdiff(r1, r2), 0, "reset_bn = ds equals nn.reset_bn of the average")
  T.ok(maxdiff(r1, nn.average({u, v})) > 0, "reset_bn changes the running statistics")
  -- REPAIR of two copies changes nothing that matters: the function is the network's
  local rp = nn.average({u, u}, nil, {repair = ds})
  local d = rp:forward(x):sub(u:forward(x)):abs():max()
  T.ok(d < 1e-4, "repair = ds of two copies computes the copy's function", d)
  -- REPAIR of two networks at weights {1, 1} is nn.repair at alpha = 0.5
  local r3, r4 = nn.average({u, v}, nil, {repair = ds, n = 40}), nn.repair(u, v, 0.5, ds, {n = 40})
  T.eq(maxdiff(r3, r4), 0, "repair of two networks at equal weights is nn.repair(a, b, 0.5)")
end)

T.section("nn.average errors", function()
  local a = mlp(1)
  T.raises(function() nn.average({}) end, "at least 1", "an empty list")
  T.raises(function() nn.average({a, nn.mlp{64, 5, 3}}) end, "network 2 does not have the layout",
           "two layouts name the network")
  T.raises(function() nn.average({a, 3}) end, "entry 2 is number", "a non-network entry")
  T.raises(function() nn.average({a, a}, {1}) end, "1 weights for 2 networks", "a weight count")
  T.raises(function() nn.average({a, a}, {1, -2}) end, "weight 2 is -2", "a negative weight")
  T.raises(function() nn.average({a, a}, {0, 0}) end, "sum to 0", "zero weights")
  T.raises(function() nn.average({a, a}, nil, {reset_bn = ds}) end, "no BatchNorm", "reset_bn on an MLP")
  T.raises(function() nn.average({bnnet(1)}, nil, {reset_bn = ds, repair = ds}) end, "not both", "both options")
  T.raises(function() nn.average({a}, nil, {repiar = ds}) end, "did you mean 'repair'", "an option typo")
  T.raises(function() nn.average({bnnet(1)}, nil, {repair = ds, progress = function() return false end}) end,
           "interrupted", "progress returning false stops")
end)

T.section("perm.align_many", function()
  local base = mlp(5)
  local copies = {}
  for i = 1, 3 do copies[i] = perm.random(base, i):apply(base) end
  for _, method in ipairs { "average", "universe" } do
    local ps, st = perm.align_many(copies, {method = method})
    T.eq(#ps, 3, method .. ": one Perm per network")
    T.eq(st.kind, "align_many", method .. ": stats.kind")
    T.eq(st.frame, method == "average" and "first" or "universe", method .. ": stats.frame")
    local a1 = ps[1]:apply(copies[1])
    T.ok(maxdiff(ps[2]:apply(copies[2]), a1) == 0 and maxdiff(ps[3]:apply(copies[3]), a1) == 0,
         method .. ": permuted copies are aligned back to one network")
    T.ok(st.final >= st.start and #st.objective == st.iterations, method .. ": objective trace",
         st.start .. " -> " .. st.final)
  end
  -- independent networks: i -> j -> k is i -> k
  local nets = { mlp(11), mlp(12), mlp(13) }
  local ps = perm.align_many(nets, {method = "average", seed = 3})
  local function map(i, j) return ps[j]:inverse():compose(ps[i]) end
  local ok = true
  for i = 1, 3 do for j = 1, 3 do for k = 1, 3 do
    ok = ok and map(j, k):compose(map(i, j)) == map(i, k)
  end end end
  T.ok(ok, "maps of independent networks compose exactly over all 27 triples")
  T.ok(ps[1]:is_identity(), "the average method's frame is the first network's")
  local calls, lines = 0, 0
  perm.align_many(nets, {progress = function(done, total, what)
    calls = calls + 1
    if what:find("round") then lines = lines + 1 end
  end})
  T.ok(calls >= 3 and lines >= 1, "progress is called for the start and each round", calls)
end)

T.section("perm.align_many errors", function()
  local a = mlp(1)
  T.raises(function() perm.align_many({a}) end, "at least 2", "one network")
  T.raises(function() perm.align_many({a, a}, {method = "median"}) end, '"average" or "universe"', "a bad method")
  T.raises(function() perm.align_many({a, a}, {init = "random"}) end, '"first" or "identity"', "a bad init")
  T.raises(function() perm.align_many({a, a}, {max_iter = 0}) end, "max_iter", "max_iter 0")
  T.raises(function() perm.align_many({a, a}, {mehtod = "average"}) end, "did you mean 'method'", "an option typo")
  T.raises(function() perm.align_many({a, mlp(2)}, {progress = function() return false end}) end, "interrupted",
           "progress returning false stops")
end)

T.section("metrics.merge", function()
  local a, b, c = mlp(1), mlp(2), mlp(3)
  local m = metrics.merge(nn.average({a, b, c}), {a, b, c}, ds)
  T.eq(m.kind, "merge", "kind merge")
  local ea, eb, ec = a:eval(ds).err, b:eval(ds).err, c:eval(ds).err
  T.near(m.members[2].err, eb, 1e-12, "a member's error is its own")
  T.near(m.members_err, (ea + eb + ec) / 3, 1e-12, "members_err is the mean of the members' errors")
  T.near(m.err, nn.average({a, b, c}):eval(ds).err, 1e-12, "err is the merge's")
  T.near(m.gap, m.err - m.members_err, 1e-12, "gap = err - members_err")
  T.eq(#m.layers, 3, "one LLFC entry per feature layer")
  -- two members at weights (0.3, 0.7) against the pair's LLFC at alpha = 0.3 (metrics.c, another code path)
  local mid = nn.lerp(a, b, 0.3)
  local pm = metrics.merge(mid, {a, b}, ds, {weights = {0.3, 0.7}})
  local pl = metrics.llfc(a, b, ds, {alphas = {0.3}})
  local worst = 0
  for i, l in ipairs(pl.layers) do
    worst = math.max(worst, math.abs(l.at[1].mean - pm.layers[i].mean), math.abs(l.at[1].coef_mean - pm.layers[i].coef_mean))
  end
  T.ok(worst < 1e-6, "two members: the N-model LLFC is the pair's LLFC at alpha", worst)
  local same = metrics.merge(a, {a, a}, ds, {layers = {"h1", 3}})
  T.ok(#same.layers == 2 and same.layers[1].name == "h1" and same.layers[2].name == "logits", "layers by name and number")
  T.ok(math.abs(same.layers[1].mean) < 1e-7 and same.gap == 0, "a merge of copies: gap 0 and 1 - cos 0")
  T.raises(function() metrics.merge(a, {a, b}, ds, {weights = {1}}) end, "1 weights for 2", "weights count")
  T.raises(function() metrics.merge(nn.mlp{64, 5, 3}, {a, b}, ds) end, "bad argument #1", "the merge's layout")
  T.raises(function() metrics.merge(a, {a, b}, ds, {layers = {"h9"}}) end, "not a feature layer", "a bad layer")
  T.raises(function() metrics.merge(a, {a, b}, ds, {wieghts = {1, 1}}) end, "did you mean 'weights'", "a typo")
end)

T.section("metrics.plane", function()
  local a, b, c = mlp(1), mlp(2), mlp(3)
  local p = metrics.plane(a, b, c, ds, {grid = 4, what = {"err", "loss", "llfc"}})
  T.eq(p.kind, "plane", "kind plane")
  T.ok(#p.x == 4 and #p.y == 4 and #p.err == 4 and #p.err[1] == 4 and #p.loss[4] == 4, "a 4 x 4 grid of err and loss")
  for k, net in ipairs { a, b, c } do
    local e = net:eval(ds)
    T.eq(p.points[k].err, e.err, "point " .. p.points[k].label .. ": its error is the network's own")
    T.near(p.points[k].loss, e.loss, 1e-9, "point " .. p.points[k].label .. ": its loss is the network's own")
  end
  T.ok(p.points[1].x == 0 and p.points[1].y == 0 and p.points[2].y == 0 and p.points[3].y > 0,
       "a at the origin, b on the x axis, c above it")
  T.near(p.points[2].x, p.dist.ab, 1e-12, "b at x = |b - a|")
  T.near(p.points[3].x ^ 2 + p.points[3].y ^ 2, p.dist.ac ^ 2, 1e-9, "c at distance |c - a| from a")
  T.near((p.points[3].x - p.points[2].x) ^ 2 + p.points[3].y ^ 2, p.dist.bc ^ 2, 1e-9, "c at distance |c - b| from b")
  T.ok(p.x[1] < 0 and p.x[4] > p.points[2].x and p.y[1] < 0 and p.y[4] > p.points[3].y, "the grid has margins")
  T.ok(#p.llfc == 3 and #p.llfc[1].mean == 4 and p.llfc[1].mean[2][2] >= 0, "LLFC grids per layer")
  T.ok(tostring(p):find("plane", 1, true) ~= nil, "the plane prints")
  -- a grid point through its weights: the corner (x[1], y[1]) is a combination of a, b, c
  T.raises(function() metrics.plane(a, a, c, ds) end, "same point", "a = b has no plane")
  T.raises(function() metrics.plane(a, b, nn.lerp(a, b, 0.5), ds) end, "on the line", "collinear points")
  T.raises(function() metrics.plane(a, b, c, ds, {grid = 1}) end, "grid", "grid 1")
  T.raises(function() metrics.plane(a, b, c, ds, {what = {"acc"}}) end, "what[1]", "a bad what")
  T.raises(function() metrics.plane(a, b, c, ds, {reset_bn = ds}) end, "no BatchNorm", "reset_bn on an MLP")
  local u, v, w = bnnet(1), bnnet(2), bnnet(3)
  local q = metrics.plane(u, v, w, ds, {grid = 2, reset_bn = ds, bn_batch = 20})
  T.ok(q.complete and q.err[2][2] >= 0, "a BatchNorm plane with statistics reset per point")
  T.near(q.points[1].err, nn.reset_bn(u:clone(), ds, {batch = 20}):eval(ds).err, 1e-12,
         "reset_bn: the point a is a with its statistics reset")
  -- a contour level: kept in the result, drawn on the error map
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(p.err) do for _, e in ipairs(row) do lo, hi = math.min(lo, e), math.max(hi, e) end end
  local level = (lo + hi) / 2
  local pc = metrics.plane(a, b, c, ds, {grid = 4, contour = level})
  T.eq(pc.contour, level, "the contour level is kept in the result")
  local txt = view.text(pc, {panel = 1, ascii = true})
  T.ok(lo < hi and txt:find("~", 1, true) ~= nil, "the error map draws the contour line ('~') halfway between its ends")
  T.ok(not view.text(p, {panel = 1, ascii = true}):find("~", 1, true), "no contour without a level")
  T.raises(function() view.text(p, {contour = "high"}) end, "option 'contour' must be a number", "a bad contour")
  local calls = 0
  metrics.plane(a, b, c, ds, {grid = 3, progress = function() calls = calls + 1 end})
  T.eq(calls, 12, "progress after each of 3 + 9 points")
  T.raises(function() metrics.plane(a, b, c, ds, {grid = 3, progress = function() return false end}) end,
           "interrupted", "progress returning false stops")
end)

T.section("nn.curve", function()
  local sp = data.spirals{n = 600, classes = 3, noise = 0.2, split = 0.5, seed = 1}
  local function trained(seed)
    local net = nn.mlp{2, 32, 32, 3, seed = seed}
    net:train(sp.train, {epochs = 20, lr = 0.05, progress = false, seed = seed})
    return net
  end
  local a, b = trained(1), trained(2)
  local c, h = nn.curve(a, b, sp.train, {epochs = 20, lr = 0.05, progress = false})
  T.eq(c.kind, "bezier", "a Bezier curve by default")
  T.ok(c.bends == 1 and c.steps == #h.step and #h.step > 0 and h.curve.kind == "bezier", "one bend, its history")
  T.eq(maxdiff(c:at(1), a), 0, "at(1) is a, bit for bit")
  T.eq(maxdiff(c:at(0), b), 0, "at(0) is b, bit for bit")
  local w = c:weights(0.3)
  T.ok(#w == 3 and math.abs(w[1] - 0.49) < 1e-12 and math.abs(w[2] - 0.42) < 1e-12 and math.abs(w[3] - 0.09) < 1e-12,
       "weights (1-t)^2, 2t(1-t), t^2 for b, the bend, a")
  local ci = metrics.interpolate(c, sp.test, {alphas = 5})
  local li = metrics.interpolate(a, b, sp.test, {alphas = 5})
  T.eq(ci.path, "curve", "the result says it is along a curve")
  local exact = true
  for i, t in ipairs(ci.alphas) do exact = exact and ci.err[i] == c:at(t):eval(sp.test).err end
  T.ok(exact, "err at every t is the error of curve:at(t)")
  T.ok(ci.err_a == li.err_a and ci.err_b == li.err_b, "the curve's ends are the pair's")
  T.ok(ci.loss[3] < li.loss[3], "training bends the curve below the straight line at t = 0.5",
       ci.loss[3] .. " vs " .. li.loss[3])
  T.ok(tostring(ci):find("along a curve", 1, true) ~= nil, "it prints as a curve")
  -- a polychain of one bend: theta(1/4) is halfway from b to the bend, its mix half of each's features
  local pc = nn.curve(a, b, sp.train, {kind = "polychain", steps = 10, lr = 0.05, progress = false})
  local bend = pc:nodes()[2]
  local cl = metrics.llfc(pc, sp.test, {alphas = {0.25, 0.5}})
  local pl = metrics.llfc(bend, b, sp.test, {alphas = {0.5}})
  local worst = 0
  for i, l in ipairs(cl.layers) do worst = math.max(worst, math.abs(l.at[1].mean - pl.layers[i].at[1].mean)) end
  T.ok(worst < 1e-6, "polychain LLFC at t = 1/4 is the pair (bend, b)'s at alpha = 1/2", worst)
  T.ok(math.abs(cl.layers[1].at[2].mean) < 1e-7, "at a node the point is the node: 1 - cos = 0")
  T.near(cl.layers[1].ab.mean, metrics.llfc(a, b, sp.test).layers[1].ab.mean, 1e-9, "the baseline is 1 - cos(f(a), f(b))")
  -- files
  local path = T.tmpname(".safetensors")
  assert(c:save(path))
  local d = nn.load(path)
  T.ok(d and d.kind == "bezier" and maxdiff(d:at(0.3), c:at(0.3)) == 0, "a curve file loads back as the curve")
  os.remove(path)
  -- BatchNorm: reset at t
  local u, v = bnnet(1), bnnet(2)
  local bc = nn.curve(u, v, ds, {steps = 2, lr = 0.01, batch = 20, progress = false})
  local r1 = bc:at(0.5, {reset_bn = ds, batch = 20})
  T.eq(maxdiff(r1, nn.reset_bn(bc:at(0.5), ds, {batch = 20})), 0, "at(t, {reset_bn = ds}) resets the point's statistics")
  local bi = metrics.interpolate(bc, ds, {alphas = 3, reset_bn = ds, bn_batch = 20})
  T.eq(bi.err[2], r1:eval(ds).err, "interpolate with reset_bn evaluates the reset points")
  -- errors
  T.raises(function() nn.curve(a, b, sp.train, {kind = "spline"}) end, '"bezier" or "polychain"', "a bad kind")
  T.raises(function() nn.curve(a, b, sp.train, {bends = 0}) end, "bends", "zero bends")
  T.raises(function() nn.curve(a, b, sp.train, {test = sp.test}) end, "'test' is not used", "option test")
  T.raises(function() nn.curve(a, nn.mlp{2, 5, 3}, sp.train) end, "bad argument #2", "two layouts")
  T.raises(function() nn.curve(a, b, sp.train, {eppochs = 2}) end, "did you mean 'epochs'", "a typo")
  T.raises(function() c:at(1.5) end, "t must be in [0, 1]", "t outside [0, 1]")
  T.raises(function() metrics.interpolate(c, sp.test, {alphas = {0.2, 0.5}}) end, "include 0 and 1", "ends missing")
  T.raises(function() c:at(0.5, {reset_bn = sp.test}) end, "no BatchNorm", "reset_bn on an MLP curve")
end)

T.section("nn.stitch and metrics.stitch", function()
  local sp = data.spirals{n = 600, classes = 3, noise = 0.2, split = 0.5, seed = 1}
  local a, b = nn.mlp{2, 32, 32, 3, seed = 1}, nn.mlp{2, 32, 32, 3, seed = 2}
  a:train(sp.train, {epochs = 15, lr = 0.05, progress = false})
  b:train(sp.train, {epochs = 15, lr = 0.05, progress = false, seed = 2})
  local x = sp.test:tensors()
  local s0, cut = nn.stitch(a, b, 0)
  T.ok(cut.layer == 0 and cut.name == "x" and cut.width == 2, "the cut at the input")
  T.eq(s0:forward(x):sub(b:forward(x)):abs():max(), 0, "none of A's layers: B's function")
  local s3 = nn.stitch(a, b, "logits")
  T.eq(s3:forward(x):sub(a:forward(x)):abs():max(), 0, "all of A's layers: A's function")
  -- a permutation stitch between a network and its permuted copy: the network's function
  local p = perm.random(a, 4)
  local pa = p:apply(a)
  local idx = p:get("P2")
  local W = tensor.zeros({32, 32})
  for i = 1, 32 do W:set(i, idx[i], 1) end
  local ps = nn.stitch(a, pa, "h2", {weight = W})
  T.ok(ps:forward(x):sub(a:forward(x)):abs():max() < 1e-5, "a stitch set to the permutation gives the net's function")
  T.eq(ps:nparams(), 32 * 32 + 32, "only the stitching layer trains")
  local r = metrics.stitch(a, b, sp.test, {train = sp.train, epochs = 5, lr = 0.05})
  T.eq(r.kind, "stitch", "kind stitch")
  T.eq(#r.layers, 4, "cuts 0 (input) .. 3 (logits)")
  T.ok(r.layers[1].err == r.err_b and r.layers[4].err == r.err_a, "identity stitch: B at the input, A at the logits")
  T.ok(r.layers[3].err_trained < r.layers[3].err, "training the stitch at h2 lowers its error",
       r.layers[3].err_trained .. " vs " .. r.layers[3].err)
  T.ok(tostring(r):find("stitching", 1, true) ~= nil, "it prints")
  local one = metrics.stitch(a, b, sp.test, {layer = "h1"})
  T.ok(#one.layers == 1 and one.layers[1].name == "h1" and one.layers[1].err_trained == nil, "one cut, untrained")
  -- a ResNet: cuts inside residual blocks are noted
  local rn1 = nn.resnet20{width = 1, input = {1, 8, 8}, classes = 3, seed = 1}
  local rn2 = nn.resnet20{width = 1, input = {1, 8, 8}, classes = 3, seed = 2}
  local rr = metrics.stitch(rn1, rn2, ds, {layers = {1, 2, 3}})
  T.ok(rr.layers[2].note and rr.layers[2].err ~= rr.layers[2].err and rr.layers[2].name == "layer1.0.relu1",
       "a cut inside a residual block: NaN and a note")
  T.ok(rr.layers[3].err >= 0, "a cut at a block output is fine")
  T.raises(function() nn.stitch(rn1, rn2, "layer1.0.relu1") end, "residual block", "nn.stitch refuses it")
  T.raises(function() nn.stitch(a, b, 4) end, "outside 0", "a layer past the logits")
  T.raises(function() nn.stitch(a, b, "h7") end, "no feature layer named", "a bad name")
  T.raises(function() nn.stitch(a, b, 1, {weight = tensor.zeros({3, 3})}) end, "has 9 values", "a weight of another size")
  T.raises(function() metrics.stitch(a, b, sp.test, {lr = 0.1, eppochs = 2}) end, "unknown option", "a typo")
  T.raises(function() metrics.stitch(a, b, sp.test, {train = 3}) end, "option 'train'", "a bad train")
  local ok, err = pcall(metrics.stitch, a, b, sp.test:subset({}))
  T.ok(not ok and tostring(err):find("^metrics%.stitch: network a: eval: ") and not tostring(err):find("landscape"),
       "an empty dataset: the error names metrics.stitch and the network, no position inside the library", tostring(err))
end)

T.section("metrics.principal_angles", function()
  local a, b = mlp(1), mlp(2)
  local r = metrics.principal_angles(a, b, ds, {k = 4, n = 40})
  T.eq(r.kind, "principal_angles", "kind principal_angles")
  T.ok(r.n == 40 and #r.layers == 3 and r.layers[1].k == 4 and #r.layers[1].angles == 4, "k angles per layer")
  local l = r.layers[1]
  local sorted = true
  for i = 2, #l.cos do sorted = sorted and l.cos[i] <= l.cos[i - 1] and l.angles[i] >= l.angles[i - 1] end
  T.ok(sorted and l.cos[1] <= 1 and l.min_cos >= 0, "cosines descend in [0, 1], angles ascend")
  T.near(math.cos(l.angles[2]), l.cos[2], 1e-12, "angles are acos of the cosines")
  local same = metrics.principal_angles(a, perm.random(a, 3):apply(a), ds, {k = 4, n = 40})
  local low = 1
  for _, y in ipairs(same.layers) do low = math.min(low, y.min_cos) end
  T.ok(low > 1 - 1e-4, "a permuted copy: every angle 0", low)
  local c = metrics.principal_angles(bnnet(1), bnnet(2), ds, {k = 3, n = 30, layers = {"h1"}})
  T.ok(#c.layers == 1 and c.layers[1].name == "h1" and c.layers[1].dim == 4 * 64, "a conv net's layer, chosen by name")
  T.ok(tostring(r):find("principal angles", 1, true) ~= nil, "it prints")
  T.raises(function() metrics.principal_angles(a, b, ds, {k = 0}) end, "option 'k'", "k 0")
  T.raises(function() metrics.principal_angles(a, nn.mlp{64, 5, 3}, ds) end, "bad argument #2", "two layouts")
  T.raises(function() metrics.principal_angles(a, b, ds, {layres = {1}}) end, "did you mean 'layers'", "a typo")
  T.raises(function() metrics.principal_angles(a, b, ds, {progress = function() return false end}) end,
           "interrupted", "progress returning false stops")
end)

T.section("Ctrl-C", function()
  -- the signal comes from a background shell while a progress callback waits
  local function ctrl_c()
    os.execute("(sleep 0.05; kill -INT $PPID) &")
    local t0 = os.clock()
    while os.clock() - t0 < 5 do end
  end
  local a, b, c = mlp(1), mlp(2), mlp(3)
  local sent = false
  local p = metrics.plane(a, b, c, ds, {grid = 3, progress = function(done)
    if done == 4 and not sent then sent = true; ctrl_c() end
  end})
  T.ok(p.interrupted == true and p.complete == false and p.done == 4, "Ctrl-C in metrics.plane returns the points done",
       tostring(p.interrupted) .. ", " .. tostring(p.done))
  T.ok(p.err[1][1] == p.err[1][1] and p.err[3][3] ~= p.err[3][3], "the first grid point is there, the last is NaN")
  local full = metrics.plane(a, b, c, ds, {grid = 3})
  T.ok(full.complete and full.err[1][1] == p.err[1][1], "the interrupt was consumed: the next plane completes, the same")
  sent = false
  local ps, st = perm.align_many({ a, b, c }, {progress = function()
    if not sent then sent = true; ctrl_c() end
  end})
  T.ok(st.interrupted == true and #ps == 3 and ps[1]:is_identity(), "Ctrl-C in perm.align_many returns the Perms so far")
  local _, st2 = perm.align_many({ a, b, c })
  T.ok(st2.interrupted == false, "the interrupt was consumed: the next alignment runs to the end")
  sent = false
  T.raises(function()
    metrics.principal_angles(a, b, ds, {k = 3, n = 40, progress = function()
      if not sent then sent = true; ctrl_c() end
    end})
  end, "interrupted", "Ctrl-C in metrics.principal_angles stops it")
  T.ok(metrics.principal_angles(a, b, ds, {k = 3, n = 40}).layers[1].k == 3, "and the next call runs")
end)

T.done()
