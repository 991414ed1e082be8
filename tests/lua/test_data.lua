-- test_data.lua - the data module: Dataset userdata, synthetic sets, loaders,
-- safetensors inspection, files written by numpy independently of llfc.
local T = require "check"

T.section("synthetic sets", function()
  local d = data.blobs{}
  T.eq(#d, 1000, "blobs default n")
  T.eq(d.n, 1000, "ds.n")
  T.eq(d.dim, 2, "blobs default dim")
  T.eq(d.classes, 4, "blobs default classes")
  T.ok(tostring(d):find("1000 samples", 1, true), "tostring(ds)")
  local x, y = d:get(5)
  T.eq(getmetatable(x).__name, "llfc.Tensor", "get returns a tensor")
  T.eq(y, 1, "sample 5 has label 1 (i % classes, 1-based)")
  local labs = d:labels()
  local counts = {0, 0, 0, 0}
  for _, l in ipairs(labs) do counts[l] = counts[l] + 1 end
  T.ok(counts[1] == 250 and counts[4] == 250, "blobs balanced labels 1..4")
  local b3 = data.blobs{n = 30, classes = 3, dim = 5, noise = 0.5, seed = 7}
  T.ok(b3.n == 30 and b3.dim == 5 and b3.classes == 3, "blobs options")
  local m = data.moons{n = 101, noise = 0, seed = 2}
  T.ok(m.n == 101 and m.classes == 2 and m.dim == 2, "moons shape")
  local s = data.spirals{n = 300, classes = 5}
  T.ok(s.n == 300 and s.classes == 5, "spirals options")
  local sp = data.moons{n = 100, split = 0.8, seed = 3}
  T.ok(sp.train.n == 80 and sp.test.n == 20, "split option gives {train=, test=}")
  T.raises(function() data.blobs{n = 0} end, "data.blobs: n must be", "blobs n = 0 raises")
  T.raises(function() data.moons{noise = -1} end, "noise must be >= 0", "negative noise raises")
  T.raises(function() data.blobs{n = "x"} end, "option 'n' must be an integer", "bad option type raises")
end)

T.section("subset, split, order, batches", function()
  local d = data.blobs{n = 10, classes = 2, seed = 4}
  local s = d:subset{3, 1, 3}
  T.eq(#s, 3, "subset by indices")
  local _, l = s:get(1)
  T.eq(l, 1, "subset keeps labels (sample 3 -> label 1)")
  T.eq(#d:subset(4), 4, "subset(n) takes the first n")
  T.raises(function() d:subset{11} end, "out of range", "subset index out of range")
  T.raises(function() d:get(0) end, "out of range", "get(0) raises")
  local a, b = d:split(0.7, 1)
  T.ok(#a == 7 and #b == 3, "split 0.7 of 10")
  local o1, o2 = d:order(5), d:order(5)
  local seen, same = {}, true
  for i = 1, 10 do seen[o1[i]] = true; same = same and o1[i] == o2[i] end
  local all = true
  for i = 1, 10 do all = all and seen[i] end
  T.ok(all, "order is a permutation")
  T.ok(same, "order is reproducible for a seed")
  local n, nb = 0, 0
  for x, y, i in d:batches(4, 1) do n = n + 1; nb = i end
  T.eq(nb, 3, "batches(4) over 10 samples gives 3 batches")
  local nd, mean, std = data.blobs{n = 200, dim = 3}:normalize()
  T.eq(#mean, 1, "normalize() on vectors: one mean")
  local nd2, m2 = nd:normalize()
  T.near(m2[1], 0, 1e-5, "normalized data has mean 0")
end)

T.section("from_tensors", function()
  local d = data.blobs{n = 12, classes = 3, dim = 4}
  local x, y = d:tensors()
  local e = data.from_tensors(x, y)
  T.ok(e.n == 12 and e.dim == 4 and e.classes == 3, "from_tensors(ds:tensors()) round trip")
  local labs = {}
  for i = 1, 12 do labs[i] = (i % 3) + 1 end
  local f = data.from_tensors(x, labs, {classes = 5})
  T.eq(f.classes, 5, "classes option")
  local _, l = f:get(3)
  T.eq(l, 1, "labels from a Lua table are 1-based")
  T.raises(function() data.from_tensors(x, {1, 2}) end, "12 samples in x but 2 labels", "count mismatch raises")
  labs[2] = 0
  T.raises(function() data.from_tensors(x, labs) end, "not a positive integer", "label 0 raises")
  labs[2] = 6
  T.raises(function() data.from_tensors(x, labs, {classes = 5}) end, "out of range [1, 5]", "label above classes raises")
end)

T.done()
