-- test_repair.lua - nn.reset_bn and nn.repair from Lua: in-place reset of the
-- running statistics, repair at the endpoints computing the endpoints,
-- progress and stopping, and errors naming the bad argument.  (The site
-- statistics themselves are checked against naive loops in test_repair.c.)
local T = require "check"

local function maxdiff(p, q, x)
  local lp, lq = p:forward(x), q:forward(x)
  local d = lp:clone():sub(lq):abs():max()
  return d / math.max(lq:abs():max(), 1e-12)
end

-- a small image dataset: 60 samples of 1x8x8, 3 classes
local n = 60
local x = tensor.rand({n, 64}, {seed = 3})
local labels = {}
for i = 1, n do labels[i] = (i % 3) + 1 end
local ds = data.from_tensors(x, labels, {classes = 3})

local function bnnet(seed) return nn.vgg{layers = {4, "M", 6}, norm = "bn", input = {1, 8, 8}, classes = 3, seed = seed} end
local function param(net, suffix)
  for _, p in ipairs(net:params()) do if p.name:sub(-#suffix) == suffix then return p.tensor end end
end

T.section("reset_bn", function()
  local net = bnnet(1)
  local w0 = param(net, "weight"):clone()
  local rm0 = param(net, "running_mean"):clone()
  local r = nn.reset_bn(net, ds, {batch = 16})
  T.ok(r == net, "nn.reset_bn returns the same network (in place)")
  T.ok(param(net, "running_mean"):clone():sub(rm0):abs():max() > 1e-4, "the running mean moved")
  T.eq(param(net, "weight"):clone():sub(w0):abs():max(), 0, "weights unchanged")
  local rm1 = param(net, "running_mean"):clone()
  nn.reset_bn(net, ds, {batch = 16})
  T.eq(param(net, "running_mean"):clone():sub(rm1):abs():max(), 0,
       "a second reset on the same data gives the same statistics")
  local nb = param(net, "num_batches_tracked")
  T.eq(nb and nb:get(1), 4, "num_batches_tracked = 4 batches of 16 for 60 samples")
  nn.reset_bn(net, ds, {batch = 16, n = 20})
  T.eq(nb and param(net, "num_batches_tracked"):get(1), 2, "option n limits the samples (20 = 2 batches)")
  local calls = 0
  nn.reset_bn(net, ds, {progress = function() calls = calls + 1 end})
  T.ok(calls >= 1, "the progress function is called", calls)
end)

T.section("reset_bn errors", function()
  T.raises(function() nn.reset_bn(nn.mlp{64, 8, 3}, ds) end, "no BatchNorm", "an MLP has no BatchNorm")
  T.raises(function() nn.reset_bn(nn.vgg{layers = {4}, norm = "ln", input = {1, 8, 8}, classes = 3}, ds) end,
           "no BatchNorm", "a LayerNorm net has no BatchNorm")
  T.raises(function() nn.reset_bn(bnnet(1), data.spirals{n = 30}) end, "features per sample",
           "a dataset of another input size")
  T.raises(function() nn.reset_bn(bnnet(1), ds, {bach = 4}) end, "did you mean 'batch'", "an option typo")
  T.raises(function() nn.reset_bn(bnnet(1), ds, {batch = 0}) end, "batch", "batch 0")
  T.raises(function() nn.reset_bn(ds, ds) end, "Net expected", "the net is checked")
  -- a stop request leaves the network as it was
  local net = bnnet(2)
  local rm = param(net, "running_mean"):clone()
  T.raises(function() nn.reset_bn(net, ds, {batch = 8, progress = function() return false end}) end,
           "interrupted", "progress returning false stops with 'interrupted'")
  T.eq(param(net, "running_mean"):clone():sub(rm):abs():max(), 0, "a stopped reset leaves the net unchanged")
end)

T.section("repair", function()
  for _, norm in ipairs({"bn", "ln", "none"}) do
    local a = nn.vgg{layers = {4, "M", 6}, norm = norm ~= "none" and norm or nil, input = {1, 8, 8}, classes = 3, seed = 1}
    local b = nn.vgg{layers = {4, "M", 6}, norm = norm ~= "none" and norm or nil, input = {1, 8, 8}, classes = 3, seed = 2}
    local a0 = a:clone()
    local r1, r0 = nn.repair(a, b, 1, ds), nn.repair(a, b, 0, ds, {batch = 7})
    T.ok(r1 ~= a and r0 ~= b, norm .. ": nn.repair returns a new network")
    T.ok(maxdiff(r1, a, x) < 1e-3 and maxdiff(r0, b, x) < 1e-3,
         norm .. ": repair at alpha 1 computes a, at 0 computes b", maxdiff(r1, a, x) .. " " .. maxdiff(r0, b, x))
    local rh = nn.repair(a, b, 0.5, ds)
    T.ok(maxdiff(rh, nn.lerp(a, b, 0.5), x) > 1e-3, norm .. ": at 0.5 the repaired net differs from the plain lerp")
    T.eq(maxdiff(a, a0, x), 0, norm .. ": the endpoint is unchanged")
  end
  local m, m2 = nn.mlp{64, 16, 16, 3, seed = 1}, nn.mlp{64, 16, 16, 3, seed = 2}
  T.ok(maxdiff(nn.repair(m, m2, 1, ds), m, x) < 1e-3, "an MLP repaired at alpha 1 computes a")
  T.ok(maxdiff(nn.repair(m, m, 0.5, ds), m, x) < 1e-3, "repairing a net with itself changes nothing")
  local r = nn.resnet20{width = 1, norm = "ln", input = {1, 8, 8}, classes = 3, seed = 1}
  local r2 = nn.resnet20{width = 1, norm = "ln", input = {1, 8, 8}, classes = 3, seed = 2}
  local calls, total = 0, nil
  local rr = nn.repair(r, r2, 1, ds, {n = 30, progress = function(d, t) calls = calls + 1; total = t end})
  T.ok(maxdiff(rr, r, x) < 1e-3, "ResNet-20 (ln) repaired at alpha 1 computes a")
  T.ok(calls >= 21 and total == 23, "progress once per site (21) and for the endpoints", calls .. " " .. tostring(total))
end)

T.section("repair errors", function()
  local a, b = bnnet(1), bnnet(2)
  T.raises(function() nn.repair(a, b, 1.5, ds) end, "alpha must be in [0, 1]", "alpha above 1")
  T.raises(function() nn.repair(a, b, -0.1, ds) end, "bad argument #3", "alpha below 0 names argument 3")
  T.raises(function() nn.repair(a, nn.vgg{layers = {4, "M", 8}, norm = "bn", input = {1, 8, 8}, classes = 3}, 0.5, ds) end,
           "bad argument #2", "different layouts name argument 2")
  T.raises(function() nn.repair(a, nn.mlp{64, 8, 3}, 0.5, ds) end, "bad argument #2", "a conv net and an MLP")
  T.raises(function() nn.repair(a, b, 0.5, data.spirals{n = 30}) end, "features per sample",
           "a dataset of another input size")
  T.raises(function() nn.repair(a, b, 0.5, ds, {m = 3, bacth = 2}) end, "did you mean 'batch'", "an option typo")
  T.raises(function() nn.repair(a, b, 0.5, ds, {progress = function() return false end}) end, "interrupted",
           "progress returning false stops with 'interrupted'")
  T.raises(function() nn.repair(a, b, "x", ds) end, "number expected", "alpha must be a number")
end)

T.done()
