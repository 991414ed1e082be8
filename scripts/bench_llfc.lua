-- bench_llfc.lua - the llfc side of scripts/bench.
-- usage: llfc scripts/bench_llfc.lua train|eval [DATADIR [THREADS]]   prints "seconds=<s> acc=<a>"
-- THREADS (optional) is set with llfc.blas(n); without it llfc runs as a user runs it.
local what = arg[1] or "train"
if arg[3] and arg[3] ~= "" then llfc.blas(tonumber(arg[3])) end
local ds = data.fashion_mnist(arg[2])
local net = nn.mlp{784, 512, 512, 512, 10, seed = 1}
if what == "train" then
  local h = net:train(ds.train, {epochs = 1, lr = 0.01, momentum = 0.9, batch = 128, seed = 1, progress = false})
  print(string.format("seconds=%.4f acc=%.4f", h.seconds, h.epochs[1].acc))
else
  net:eval(ds.test, {batch = 1000, n = 1000})
  local r = net:eval(ds.test, {batch = 1000})
  print(string.format("seconds=%.4f acc=%.4f", r.seconds, 1 - r.err))
end
