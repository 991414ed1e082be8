-- test_progress.lua - every computation that takes a progress function stops
-- the same way: a function returning false stops it with the error
-- "interrupted"; a function that raises stops it with its own message.
local T = require "check"

local ds = data.blobs{n = 60, classes = 3, dim = 64, seed = 1}
local a, b = nn.mlp{64, 8, 3, seed = 1}, nn.mlp{64, 8, 3, seed = 2}
local function bnnet(seed) return nn.vgg{layers = {4, "M", 6}, norm = "bn", input = {1, 8, 8}, classes = 3, seed = seed} end
local ca, cb = bnnet(1), bnnet(2)

local kernels = {
  {"metrics.interpolate", function(p) return metrics.interpolate(a, b, ds, {alphas = 3, batch = 20, progress = p}) end},
  {"metrics.report", function(p) return metrics.report(a, b, ds, {alphas = 3, batch = 20, progress = p}) end},
  {"perm.weight_match", function(p) return perm.weight_match(a, b, {progress = p}) end},
  {"perm.activation_match", function(p) return perm.activation_match(a, b, ds, {batch = 20, progress = p}) end},
  {"nn.reset_bn", function(p) return nn.reset_bn(ca, ds, {batch = 20, progress = p}) end},
  {"nn.repair", function(p) return nn.repair(ca, cb, 0.5, ds, {batch = 20, progress = p}) end},
}
for _, k in ipairs(kernels) do
  local name, run = k[1], k[2]
  local calls = 0
  T.ok(pcall(run, function() calls = calls + 1 end) and calls > 0, name .. ": runs to the end and calls progress", calls)
  local ok, err = pcall(run, function() return false end)
  T.ok(not ok and tostring(err):find(name .. ": interrupted", 1, true),
       name .. ": a progress function returning false stops it with 'interrupted'", tostring(err))
  ok, err = pcall(run, function() error("boom 42") end)
  T.ok(not ok and tostring(err):find("progress callback", 1, true) and tostring(err):find("boom 42", 1, true),
       name .. ": a progress function that raises stops it with its own message", tostring(err))
  T.ok(pcall(run, nil), name .. ": runs again afterwards")
end

T.done()
