-- test_train.lua - net:train, histories, callbacks, determinism, divergence,
-- nn.spawn, nn.pair, model files (with a NumPy round trip when python3-numpy
-- is there).
local T = require "check"

local ds = data.blobs{n = 300, classes = 3, dim = 2, noise = 0.5, seed = 1}
local moons = data.moons{n = 400, noise = 0.1, seed = 2}

local function same_weights(a, b)
  local pa, pb = a:params(), b:params()
  for i = 1, #pa do
    if pa[i].tensor:clone():sub(pb[i].tensor):abs():max() ~= 0 then return false end
  end
  return true
end

T.section("train learns", function()
  local net = nn.mlp{2, 32, 32, 2, seed = 1}
  local before = net:eval(moons)
  local h = net:train(moons, {epochs = 30, lr = 0.1, batch = 32, schedule = "cosine", progress = false, test = moons})
  local after = net:eval(moons)
  T.eq(h.kind, "train", "history kind")
  T.eq(#h.loss, 30 * 13, "one loss per step (13 steps per epoch)")
  T.eq(#h.epochs, 30, "one entry per epoch")
  T.eq(h.step[#h.step], 390, "steps are numbered")
  T.ok(h.lr[1] > h.lr[#h.lr] and h.lr[#h.lr] < 1e-3, "cosine schedule decays to lr_min")
  T.ok(after.err < 0.05 and after.err < before.err, "moons are learned",
       string.format("err %.3f -> %.3f", before.err, after.err))
  T.near(h.epochs[30].test_err, after.err, 1e-12, "per-epoch test evaluation")
  T.ok(tostring(h):find("epoch") ~= nil, "history prints as a table")
  T.ok(h.seconds > 0 and h.examples == 30 * 400, "history counts time and examples")
end)

T.section("eval", function()
  local net = nn.mlp{2, 8, 3, seed = 1}
  local r = net:eval(ds)
  T.eq(r.n, 300, "eval n")
  T.ok(r.err >= 0 and r.err <= 1 and r.loss > 0, "eval err is a fraction")
  -- brute force with forward
  local z = net:forward(ds:tensors())
  local _, lab = ds:tensors()
  local wrong = 0
  local am = z:argmax(2)
  for i = 1, 300 do if am:get(i) ~= lab:get(i) then wrong = wrong + 1 end end
  T.near(r.err, wrong / 300, 1e-12, "eval error equals argmax of forward")
  T.near(net:eval(ds, {batch = 7}).loss, r.loss, 1e-6, "batch size does not change eval")
  T.raises(function() nn.mlp{3, 2}:eval(ds) end, "2 features", "eval checks the input width")
end)

T.section("determinism and options", function()
  local a, b = nn.mlp{2, 16, 3, seed = 4}, nn.mlp{2, 16, 3, seed = 4}
  local opts = {steps = 25, lr = 0.05, batch = 16, seed = 3, nesterov = true, wd = 1e-3, progress = false}
  a:train(ds, opts)
  b:train(ds, opts)
  T.ok(same_weights(a, b), "same seed and options: bit-identical weights")
  local c = nn.mlp{2, 16, 3, seed = 4}
  opts.seed = 4
  c:train(ds, opts)
  T.ok(not same_weights(a, c), "another data seed: other weights")
  local calls, ecalls, last = 0, 0
  local h = nn.mlp{2, 4, 3}:train(ds, {epochs = 2, batch = 100, progress = false,
    callback = function(s) calls = calls + 1; last = s end,
    on_epoch = function(s) ecalls = ecalls + 1 end})
  T.eq(calls, 6, "callback once per step")
  T.eq(ecalls, 2, "on_epoch once per epoch")
  T.ok(last.step == 6 and last.epoch == 2 and last.loss and last.acc and last.lr, "callback table fields")
  local n = 0
  local hs = nn.mlp{2, 4, 3}:train(ds, {epochs = 5, batch = 100, progress = false,
    callback = function() n = n + 1; if n == 4 then return false end end})
  T.eq(#hs.loss, 4, "a callback returning false stops training")
  local hw = nn.mlp{2, 4, 3}:train(ds, {steps = 10, lr = 1, warmup = 5, batch = 50, progress = false})
  T.near(hw.lr[1], 0.2, 1e-12, "warm-up starts at lr/warmup")
  T.near(hw.lr[7], 1, 1e-12, "then constant")
  local hst = nn.mlp{2, 4, 3}:train(ds, {epochs = 3, lr = 1, schedule = "step", step_epochs = 1, gamma = 0.5,
    batch = 100, progress = false})
  T.near(hst.lr[7], 0.25, 1e-12, "step schedule: decays every epoch")
  T.raises(function() nn.mlp{2, 4, 3}:train(ds, {schedule = "exp"}) end, "unknown schedule", "unknown schedule")
  T.raises(function() nn.mlp{2, 4, 3}:train(ds, {epochs = 1, steps = 2}) end, "not both", "epochs and steps")
  T.raises(function() nn.mlp{2, 4, 3}:train(ds, {momentum = 1}) end, "momentum", "momentum 1 refused")
  T.raises(function() nn.mlp{2, 4, 3}:train(ds, {lr = "x"}) end, "'lr' must be a number", "lr type")
  T.raises(function() nn.mlp{5, 4, 3}:train(ds, {}) end, "2 features", "train checks the dataset width")
  T.raises(function() nn.mlp{2, 4, 2}:train(ds, {}) end, "3 classes", "train checks the classes")
end)

T.section("live view protocol", function()
  local saved = {view.begin, view.update, view.finish}
  local log = {}
  view.begin = function(kind, title) log[#log + 1] = "begin " .. kind .. " " .. title end
  view.update = function(r) log[#log + 1] = "update " .. #r.loss end
  view.finish = function(r, status) log[#log + 1] = "finish " .. #r.loss .. " " .. tostring(status) end
  local ok, err = pcall(function()
    nn.mlp{2, 4, 3}:train(ds, {epochs = 2, batch = 100, view = true, title = "tiny", progress = false})
  end)
  local first = log
  log = {}
  local n = 0
  view.update = function(r) n = n + 1; if n == 2 then return false end end
  local h = nn.mlp{2, 4, 3}:train(ds, {epochs = 5, batch = 100, view = true, progress = false})
  view.begin, view.update, view.finish = saved[1], saved[2], saved[3]
  local second = log
  log = first
  T.ok(ok, "train with view = true runs", tostring(err))
  T.eq(log[1], "begin train tiny", "view.begin(kind, title)")
  T.eq(log[#log], "finish 6 nil", "view.finish with the whole history")
  T.ok(#log >= 4 and log[2]:match("^update %d+$"), "view.update with partial histories")
  T.ok(#h.loss < 15 and #h.loss == tonumber(second[#second]:match("finish (%d+)")),
       "view.update returning false stops training", #h.loss .. " steps")
end)

T.section("divergence", function()
  local net = nn.mlp{2, 16, 3, seed = 1}
  local ok, err = pcall(net.train, net, ds, {lr = 1e30, epochs = 5, batch = 10, progress = false})
  T.ok(not ok and err:find("at step %d+") and err:find("diverged"), "a huge lr stops naming the step", tostring(err))
  local finite = true
  for _, p in ipairs(net:params()) do
    local m = p.tensor:clone():abs():max()
    finite = finite and m == m and m < math.huge
  end
  T.ok(finite, "the weights of the last good step are finite")
  T.eq(net:eval(ds).n, 300, "the net stays usable after divergence")
end)

T.section("spawn", function()
  local init = nn.mlp{2, 16, 3, seed = 2}
  local opts = {k = 2, unit = "epoch", epochs = 4, batch = 32, lr = 0.05, seed0 = 5, seeds = {5, 5},
                schedule = "linear", progress = false}
  local a, b, info = nn.spawn(init, ds, opts)
  local ref = init:clone()
  ref:train(ds, {epochs = 4, batch = 32, lr = 0.05, seed = 5, schedule = "linear", progress = false})
  T.ok(same_weights(a, ref) and same_weights(b, ref), "spawn with seeds = seed0 equals an uninterrupted run")
  T.ok(same_weights(init, nn.mlp{2, 16, 3, seed = 2}), "spawn leaves the given net unchanged")
  opts.seeds = {6, 7}
  local a2, b2, info2 = nn.spawn(init, ds, opts)
  T.ok(not same_weights(a2, b2), "children with different seeds differ")
  T.ok(same_weights(info2.parent, info.parent), "the spawn point does not depend on the children's seeds")
  T.eq(info2.spawn_step, 20, "k = 2 epochs is step 20 (10 steps per epoch)")
  T.eq(#info2.spawn.loss, 20, "spawn history")
  T.eq(#info2.a.loss, 20, "child a trained the remaining 20 steps")
  T.eq(info2.a.step[1], 21, "the children continue the step count")
  T.near(info2.a.lr[1], info.a.lr[1], 0, "the schedule position is copied")
  -- spawning at a step inside an epoch, with momentum copied
  local sa, sb = nn.spawn(init, ds, {k = 13, unit = "step", epochs = 3, batch = 32, seed0 = 1, seeds = {1, 1},
                                     progress = false})
  local r2 = init:clone()
  r2:train(ds, {epochs = 3, batch = 32, seed = 1, progress = false})
  T.ok(same_weights(sa, r2), "spawning mid-epoch copies momentum and data position")
  T.raises(function() nn.spawn(init, ds, {k = 9, epochs = 4}) end, "outside the run", "k beyond the run")
  T.raises(function() nn.spawn(init, ds, {unit = "hour"}) end, "unit", "unknown unit")
end)

T.section("pair", function()
  local a, b, info = nn.pair({2, 16, 3}, ds, {epochs = 2, batch = 32, progress = false})
  T.ok(not same_weights(a, b), "independent nets differ")
  local ref = nn.mlp{2, 16, 3, seed = 2}
  ref:train(ds, {epochs = 2, batch = 32, seed = 2, progress = false})
  T.ok(same_weights(b, ref), "net b is init seed 2 trained with data seed 2")
  T.eq(info.a.init_seed, 1, "history records the init seed")
  local c, d = nn.pair(a, ds, {steps = 3, init_seeds = {3, 4}, progress = false})
  T.eq(tostring(c):match("mlp [%d-]+"), "mlp 2-16-3", "pair from a net's architecture")
end)

T.section("files", function()
  local net = nn.mlp{5, 7, 3, seed = 3, act = "tanh"}
  local path = T.tmpname(".safetensors")
  T.ok(net:save(path), "save")
  local back = nn.load(path)
  T.ok(back and same_weights(net, back), "load gives the same weights")
  T.eq(back:info().act, "tanh", "the activation comes from the metadata")
  local f = io.open(path, "rb")
  local bytes = f:read("a")
  f:close()
  T.ok(bytes:find('"0.weight"', 1, true) and bytes:find('"widths":"5,7,3"', 1, true), "state_dict names and metadata")
  local nilv, msg = nn.load(path .. ".missing")
  T.ok(nilv == nil and msg:find("missing"), "a missing file gives nil, message")
  local bad = T.tmpname(".safetensors")
  f = io.open(bad, "wb")
  f:write(bytes:sub(1, 100))
  f:close()
  nilv, msg = nn.load(bad)
  T.ok(nilv == nil and type(msg) == "string", "a truncated file gives nil, message", msg)
  local nofile, m2 = net:save("/nonexistent-dir/x.safetensors")
  T.ok(nofile == nil and m2:find("save"), "save into a missing directory gives nil, message")
  os.remove(path)
  os.remove(bad)
end)

-- NumPy writes and reads the files independently of llfc's code
T.section("numpy round trip", function()
  local py = "/usr/bin/python3"
  local probe = io.popen(py .. " -c 'import numpy' 2>&1 && echo yes")
  local has = probe:read("a"):find("yes")
  probe:close()
  if not has then T.skip("numpy round trip", "/usr/bin/python3 with numpy not found"); return end
  local script = T.srcdir .. "/tests/lua/st_numpy.py"
  local dir = T.tmpname("")
  os.execute("mkdir -p " .. dir)
  -- 1. numpy writes a PyTorch-style file without metadata and the logits of an input
  local cmd = string.format("%s %s write %s 2>&1", py, script, dir)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  T.ok(out:find("wrote"), "numpy wrote a state_dict file", out)
  local net = assert(nn.load(dir .. "/torch.safetensors"))
  T.eq(table.concat(net:widths(), ","), "6,9,8,4", "widths from the shapes")
  local x = tensor.load(dir .. "/x.npy")
  local want = tensor.load(dir .. "/logits.npy")
  local z = net:forward(x)
  local diff = z:clone():sub(want):abs():max()
  T.ok(diff < 1e-5, "llfc's logits equal numpy's on a file written by numpy", "max diff " .. diff)
  -- 2. llfc writes a file and its logits; numpy reads it and recomputes them
  local mine = nn.mlp{6, 5, 5, 3, seed = 8}
  mine:save(dir .. "/llfc.safetensors")
  mine:forward(x):save(dir .. "/llfc_logits.npy")
  p = io.popen(string.format("%s %s read %s 2>&1", py, script, dir))
  out = p:read("a")
  p:close()
  T.ok(out:find("match"), "numpy reads llfc's file: same logits, keys and metadata", out)
  os.execute("rm -rf " .. dir)
end)

T.section("ds:order(seed, epoch) and ds:batches are training's order", function()
  local d = data.blobs{n = 40, dim = 3, classes = 2, seed = 9}
  local net = nn.mlp{3, 5, 2, seed = 4}
  local losses = {}
  net:clone():train(d, {epochs = 2, batch = 16, lr = 0, momentum = 0, seed = 7, progress = false,
                        on_step = function(s) losses[#losses + 1] = s.loss end})
  local worst, k = 0, 0
  for e = 1, 2 do
    local o = d:order(7, e)
    for b = 0, 2 do
      local idx = {}
      for i = b * 16 + 1, math.min(40, (b + 1) * 16) do idx[#idx + 1] = o[i] end
      k = k + 1
      worst = math.max(worst, math.abs(net:eval(d:subset(idx)).loss - losses[k]))
    end
  end
  T.ok(#losses == 6 and worst < 1e-6, "the loss of every step (lr = 0) is that of the batch ds:order(seed, epoch) gives",
       string.format("%d steps, worst %.2g", #losses, worst))
  local o2 = d:order(7, 2)
  local x = d:batches(16, 7, 2)()
  local first = d:subset({o2[1]}):tensors()
  T.ok(x:shape()[1] == 16 and math.abs(x:get(1, 1) - first:get(1, 1)) == 0, "ds:batches(16, seed, 2) starts with ds:order(seed, 2)")
  T.ok(d:order(7, 1)[1] ~= nil and table.concat(d:order(7, 1), ",") ~= table.concat(o2, ","), "epochs differ")
  T.raises(function() d:order(7, 0) end, "epoch must be >= 1", "epoch 0 is an error")
end)

T.section("hardening: empty data, Ctrl-C in nn.pair, model file options", function()
  local d = data.blobs{n = 30, dim = 3, classes = 2, seed = 2}
  local e = d:subset({})
  T.eq(#e, 0, "an empty subset")
  T.raises(function() nn.mlp{3, 4, 2}:train(e) end, "train: the dataset", "training on an empty dataset is an error")
  T.raises(function() nn.pair({3, 4, 2}, e, {epochs = 1}) end, "is empty", "nn.pair on an empty dataset is an error")
  T.raises(function() nn.spawn(nn.mlp{3, 4, 2}, e, {epochs = 1}) end, "is empty", "nn.spawn on an empty dataset is an error")
  T.raises(function() nn.mlp{2, 64.5, 3} end, "width 2 must be an integer, got 64.5", "a fractional width is named with its value")
  -- Ctrl-C while net a of a pair trains: a partly trained, b nil, info.interrupted
  local sent = false
  local a, b, info = nn.pair({3, 8, 2}, d, {epochs = 50, batch = 2, progress = false, on_step = function(s)
    if s.step == 3 and not sent then
      sent = true
      os.execute("(sleep 0.05; kill -INT $PPID) &")
      local t0 = os.clock()
      while os.clock() - t0 < 5 do end
    end
  end})
  T.ok(a ~= nil and b == nil and info.interrupted == true and info.a.interrupted == true and info.b == nil,
       "Ctrl-C while net a trains: a partly trained, b = nil, interrupted", tostring(a) .. " " .. tostring(b))
  -- model files: NaN weights, renamed tensors, paths
  local dir = T.tmpname("-files")
  os.execute("mkdir -p " .. T.sh_quote(dir))
  local n = nn.mlp{3, 4, 2, seed = 5}
  n:params()["2.bias"]:set(2, 1 / 0)
  T.ok(n:save(dir .. "/inf.st"), "a net holding inf saves")
  local got, msg = nn.load(dir .. "/inf.st")
  T.ok(got == nil and msg:find("'2.bias' holds an infinity", 1, true) and msg:find("allow_nonfinite", 1, true),
       "nn.load refuses a non-finite weight and names the tensor", msg)
  T.ok(nn.load(dir .. "/inf.st", {allow_nonfinite = true}) ~= nil, "{allow_nonfinite = true} loads it")
  local m = nn.mlp{3, 4, 2, seed = 6}
  local map = {["0.weight"] = "fc1.weight", ["0.bias"] = "fc1.bias", ["2.weight"] = "fc2.weight", ["2.bias"] = "fc2.bias"}
  T.ok(m:save(dir .. "/fc.st", {names = map}), "save with names")
  local inv = {}
  for k, v in pairs(map) do inv[v] = k end
  local back = nn.load(dir .. "/fc.st", {names = inv})
  local x = tensor.ones{2, 3}
  T.ok(back ~= nil and (back:forward(x) - m:forward(x)):abs():max() == 0, "load with the inverse names: the same net")
  local none, err = nn.load(dir .. "/fc.st")
  T.ok(none == nil and err:find("missing tensor '0.weight'", 1, true), "without names the renamed file does not fit", err)
  T.raises(function() nn.load(dir .. "/fc.st", {names = {a = 1}}) end, "maps tensor names", "names must map strings to strings")
  T.raises(function() m:save(dir .. "/x.st", {names = {["0.weight"] = "w", ["0.bias"] = "w"}}) end, "both become 'w'",
           "two names mapped to one is an error")
  T.raises(function() m:save(0 / 0) end, "file name expected", "a number is no path for save")
  T.raises(function() nn.load(5) end, "file name expected", "a number is no path for nn.load")
  os.execute("rm -rf " .. T.sh_quote(dir))
end)

T.done()
