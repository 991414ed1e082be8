-- bench_llfc.lua - the llfc side of scripts/bench.
-- usage: llfc scripts/bench_llfc.lua train|eval|spawn [DATADIR [THREADS]]   prints "seconds=<s> acc=<a>"
-- spawn: nn.spawn on the first 10,000 training images, parent 1 epoch, then
-- both children 1 epoch each (as bench_torch.py spawn).
-- THREADS (optional) is set with llfc.blas(n); without it llfc runs as a user runs it.
local what = arg[1] or "train"
if arg[3] and arg[3] ~= "" then llfc.blas(tonumber(arg[3])) end
local ds = data.fashion_mnist(arg[2])
local net = nn.mlp{784, 512, 512, 512, 10, seed = 1}
if what == "spawn" then
  local now = package.loaded["llfc.view.c"].now
  local t0 = now()
  local a, b = nn.spawn(net, ds.train:subset(10000), {k = 1, unit = "epoch", epochs = 2, seeds = {2, 3}, seed0 = 1,
                                                     lr = 0.01, momentum = 0.9, batch = 128, progress = false})
  local secs = now() - t0
  assert(a and b, "spawn failed")
  print(string.format("seconds=%.4f acc=%.4f", secs, 1 - a:eval(ds.test, {n = 1000}).err))
elseif what == "train" then
  local h = net:train(ds.train, {epochs = 1, lr = 0.01, momentum = 0.9, batch = 128, seed = 1, progress = false})
  print(string.format("seconds=%.4f acc=%.4f", h.seconds, h.epochs[1].acc))
else
  net:eval(ds.test, {batch = 1000, n = 1000})
  local r = net:eval(ds.test, {batch = 1000})
  print(string.format("seconds=%.4f acc=%.4f", r.seconds, 1 - r.err))
end
