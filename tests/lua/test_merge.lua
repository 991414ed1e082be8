-- test_merge.lua - nn.merge_features and metrics.feature_llfc from Lua: the
-- merged network is an ordinary network (eval, metrics, save and load), the
-- options (alpha, weights, ridge, align by name or by Perms, n), the info
-- table, progress, stopping and Ctrl-C, and errors naming the bad argument.
-- (The fits themselves are checked against normal equations in test_merge.c.)
local T = require "check"

local function maxdiff(p, q, x)
  local lp, lq = p:forward(x), q:forward(x)
  return lp:clone():sub(lq):abs():max() / math.max(lq:abs():max(), 1e-12)
end

local ds = data.spirals{n = 400, classes = 3, noise = 0.2, split = 0.75, seed = 1}
local x = ds.test:tensors()
local a, b, c = nn.mlp{2, 16, 16, 3, seed = 1}, nn.mlp{2, 16, 16, 3, seed = 2}, nn.mlp{2, 16, 16, 3, seed = 3}

T.section("merge of two", function()
  local m, info = nn.merge_features({a, b}, ds.train)
  T.ok(m ~= a and m ~= b and m.config == a.config, "a new network of the members' layout")
  T.eq(info.kind, "merge_features", "info.kind")
  T.ok(info.k == 2 and info.n == #ds.train and info.fitted == 3 and info.total == 3 and info.interrupted == false,
       "info: 2 networks, every sample, 3 of 3 fits, not interrupted")
  T.ok(info.ridge == 1e-4 and info.init == true and info.align == "none", "defaults: ridge 1e-4, init, no alignment")
  local f1, f3 = info.fits[1], info.fits[3]
  T.ok(f1.name == "h1" and f1.ops == "0" and f1.inputs == 2 and f1.outputs == 16 and f1.rows == #ds.train and f1.bias,
       "fit 1: h1 from op 0, 2 inputs, 16 units, one row per sample, with a bias")
  T.ok(f3.name == "logits" and f3.ops == "4" and f3.inputs == 16, "fit 3: the logits from op 4")
  local fine = true
  for _, f in ipairs(info.fits) do fine = fine and f.mse_fit <= f.mse_avg + 1e-12 and f.target_var > 0 end
  T.ok(fine, "every fit's error is at most the weight average's, targets have variance")
  T.ok(f1.mse_avg < 1e-10, "the first layer's target is the weight average's own map", f1.mse_avg)
  local s = tostring(info)
  T.ok(s:find("merge_features: 2 networks", 1, true) and s:find("logits", 1, true) and s:find("mse fit", 1, true),
       "info prints as a table")
  -- an ordinary network
  local r = m:eval(ds.test)
  T.ok(r.err >= 0 and r.err <= 1, "eval works", r.err)
  local ip = metrics.interpolate(m, a, ds.test, {alphas = 3})
  T.ok(ip.err_a == r.err, "metrics against a member: the merged network is alpha = 1")
  local path = T.tmpname(".safetensors")
  T.ok(m:save(path), "the merged network saves")
  local m2 = nn.load(path)
  os.remove(path)
  T.ok(m2 and maxdiff(m2, m, x) == 0, "and loads back to the same function")
  -- identical members, alpha = 1
  local z = nn.merge_features({a, a}, ds.train)
  T.ok(maxdiff(z, a, x) < 1e-4, "two copies merge to the network", maxdiff(z, a, x))
  local z1 = nn.merge_features({a, b}, ds.train, {alpha = 1})
  T.ok(maxdiff(z1, a, x) < 1e-4, "alpha = 1 gives the first network", maxdiff(z1, a, x))
  local zw = nn.merge_features({a, b}, ds.train, {weights = {0, 1}})
  T.ok(maxdiff(zw, b, x) < 1e-4, "weights {0, 1} give the second network", maxdiff(zw, b, x))
  local zn, inn = nn.merge_features({a, b}, ds.train, {n = 50, ridge = 0.1, init = false})
  T.ok(inn.n == 50 and inn.fits[1].rows == 50 and inn.ridge == 0.1 and inn.init == false and inn.fits[2].lambda > 0,
       "options n, ridge and init reach the fit")
  T.ok(zn ~= nil, "a merge on 50 samples")
end)

T.section("three networks and alignment", function()
  local m, info = nn.merge_features({a, b, c}, ds.train, {weights = {0.5, 0.25, 0.25}})
  T.ok(info.k == 3 and info.weights[2] == 0.25 and m:eval(ds.test).err <= 1, "three networks with weights")
  local p = perm.random(a, 4)
  local pa = p:apply(a)
  local z0 = nn.merge_features({a, pa}, ds.train)
  T.ok(maxdiff(z0, a, x) > 1e-2, "a network and its permuted copy: not the network without alignment", maxdiff(z0, a, x))
  for _, al in ipairs({"weight", "activation", "corr"}) do
    local z, iz = nn.merge_features({a, pa}, ds.train, {align = al})
    T.ok(maxdiff(z, a, x) < 1e-4 and iz.align == al, "align = '" .. al .. "' merges the copy back to the network",
         maxdiff(z, a, x))
    T.ok(iz.perms and iz.perms[1]:is_identity() and maxdiff(iz.perms[2]:apply(pa), a, x) == 0,
         "info.perms: the identity for the first, the alignment of the copy for the second")
  end
  local zg, ig = nn.merge_features({a, pa}, ds.train, {align = {p:inverse()}})
  T.ok(maxdiff(zg, a, x) < 1e-4 and ig.align == "given", "align = a list of Perms")
end)

T.section("conv net", function()
  local n = 40
  local xi = tensor.rand({n, 36}, {seed = 2})
  local labels = {}
  for i = 1, n do labels[i] = i % 2 + 1 end
  local img = data.from_tensors(xi, labels, {classes = 2})
  local function vgg(s) return nn.vgg{layers = {3, "M", 4}, norm = "bn", input = {1, 6, 6}, classes = 2, seed = s} end
  local va, vb = vgg(1), vgg(2)
  local m, info = nn.merge_features({va, vb}, img)
  T.ok(info.total == 3 and info.fits[1].norm == "bn" and info.fits[1].rows == n * 36,
       "VGG bn: 3 fits, the first over 36 positions per sample with its BatchNorm")
  T.ok(m:eval(img).err <= 1 and nn.reset_bn(m:clone(), img) ~= nil, "the merged VGG evaluates and resets")
  local z = nn.merge_features({va, va}, img)
  T.ok(maxdiff(z, va, xi) < 1e-4, "two copies of a VGG merge to it", maxdiff(z, va, xi))
end)

T.section("feature_llfc", function()
  local mid = nn.lerp(a, b, 0.3)
  local r = metrics.feature_llfc(mid, {a, b}, ds.test, {alpha = 0.3})
  local l = metrics.llfc(a, b, ds.test, {alphas = {0.3}})
  local same = #r.layers == #l.layers
  for i, ly in ipairs(r.layers) do
    same = same and ly.name == l.layers[i].name and math.abs(ly.mean - l.layers[i].at[1].mean) < 1e-7
      and math.abs(ly.coef_mean - l.layers[i].at[1].coef_mean) < 1e-7
  end
  T.ok(same, "feature_llfc of nn.lerp(a, b, .3) against {a, b} with alpha .3 = metrics.llfc at .3")
  local rp = metrics.feature_llfc(mid, {a, b}, ds.test, {alpha = 0.3, features = "pre"})
  local lp = metrics.llfc(a, b, ds.test, {alphas = {0.3}, features = "pre"})
  T.ok(math.abs(rp.layers[1].mean - lp.layers[1].at[1].mean) < 1e-7 and rp.features == "pre", "and for pre-activations")
  local m = nn.merge_features({a, b}, ds.train)
  local fp = metrics.feature_llfc(m, {a, b}, ds.train, {features = "pre"})
  T.ok(fp.layers[1].mean < 1e-9 and fp.kind == "feature_llfc" and fp.n == #ds.train,
       "the merge's first pre-activation is the members' average on the fitting data", fp.layers[1].mean)
  T.ok(tostring(fp):find("1-cos mean", 1, true), "feature_llfc prints as a table")
  T.raises(function() metrics.feature_llfc(m, {a, b}, ds.test, {features = "mid"}) end, "'features'", "features checked")
  T.raises(function() metrics.feature_llfc(m, {nn.mlp{2, 8, 3}}, ds.test) end, "layout", "members of another layout")
end)

T.section("progress, stopping and Ctrl-C", function()
  local calls, fitted = 0, 0
  nn.merge_features({a, b}, ds.train, {batch = 100, progress = function(d, t, w)
    calls = calls + 1
    if w:find("fitted", 1, true) then fitted = fitted + 1 end
  end})
  T.ok(calls == 3 * 3 + 3 and fitted == 3, "progress: once per batch (3 x 3) and once per fit", calls .. " calls")
  T.raises(function() nn.merge_features({a, b}, ds.train, {progress = function() return false end}) end,
           "interrupted", "progress returning false stops with 'interrupted'")
  T.raises(function() nn.merge_features({a, b}, ds.train, {progress = function() error("boom") end}) end, "boom",
           "an error in the progress callback is reported")
  local sent = false
  local m, info = nn.merge_features({a, b}, ds.train, {batch = 100, progress = function(d, t, w)
    if w:find("fitted (1 of", 1, true) and not sent then
      sent = true
      os.execute("(sleep 0.05; kill -INT $PPID) &")
      local t0 = os.clock()
      while os.clock() - t0 < 5 do end
    end
  end})
  T.ok(m and info.interrupted == true and info.fitted == 1 and info.total == 3 and info.note:find("weight average", 1, true),
       "Ctrl-C returns the network with the fits done and says the rest is the weight average",
       info and tostring(info.note))
  local wa = nn.lerp(a, b, 0.5)
  T.eq(m:params()["4.weight"]:clone():sub(wa:params()["4.weight"]):abs():max(), 0, "the layers not fitted are the weight average")
  local _, i2 = nn.merge_features({a, b}, ds.train)
  T.ok(i2.interrupted == false and i2.fitted == 3, "the interrupt was consumed: the next merge runs to the end")
end)

T.section("errors", function()
  local f = nn.merge_features
  T.raises(function() f({a, nn.mlp{2, 8, 3}}, ds.train) end, "network 2 is not the layout of network 1", "different layouts")
  T.raises(function() f({a, nn.vgg{layers = {2}, input = {1, 2, 1}, classes = 3}}, ds.train) end, "not the layout",
           "an MLP and a VGG")
  T.raises(function() f({}, ds.train) end, "empty table", "no networks")
  T.raises(function() f({a, "b"}, ds.train) end, "entry 2 is a string", "a member that is no network")
  T.raises(function() f({a, b}, ds.train:subset(0)) end, "the dataset is empty", "an empty dataset")
  T.raises(function() f({a, b}, data.blobs{n = 20, dim = 5}) end, "features per sample", "a dataset of another input size")
  T.raises(function() f({nn.mlp{2, 64, 3}, nn.mlp{2, 64, 3, seed = 2}}, ds.train, {n = 30, ridge = 0}) end,
           "least squares without ridge needs at least as many rows", "n smaller than the fan-in without ridge")
  T.raises(function() f({a, b}, ds.train, {ridge = -1}) end, "'ridge' must be >= 0", "a negative ridge")
  T.raises(function() f({a, b}, ds.train, {weights = {0.5}}) end, "has 1 entries for 2 networks", "weights of another length")
  T.raises(function() f({a, b}, ds.train, {weights = {0.7, 0.7}}) end, "sums to", "weights not summing to 1")
  T.raises(function() f({a, b, c}, ds.train, {alpha = 0.5}) end, "needs two networks", "alpha with three networks")
  T.raises(function() f({a, b}, ds.train, {alpha = 0.5, weights = {0.5, 0.5}}) end, "not both", "alpha and weights")
  T.raises(function() f({a, b}, ds.train, {alpha = 2}) end, "[0, 1]", "alpha outside [0, 1]")
  T.raises(function() f({a, b}, ds.train, {align = "magic"}) end, "option 'align'", "an unknown alignment")
  T.raises(function() f({a, b}, ds.train, {align = {1}}) end, "not a Perm", "align list entries are Perms")
  T.raises(function() f({a, b}, ds.train, {align = {}}) end, "lists 0 Perms", "align list length")
  T.raises(function() f({a, b}, ds.train, {rigde = 1}) end, "did you mean 'ridge'", "an option typo")
  T.raises(function() f({a, b}, ds.train, {n = 0}) end, "'n' must be at least 1", "n = 0")
  T.raises(function() f({a, b}, ds.train, {batch = 0}) end, "'batch' must be at least 1", "batch = 0")
end)

T.done()
