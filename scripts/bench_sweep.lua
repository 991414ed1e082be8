-- bench_sweep.lua - the sweep timed by scripts/bench_sweep: N trainings of the
-- 784-512-512-512-10 MLP (seeds 1..N) on the first --n-train Fashion-MNIST
-- images, one task each; or, with --noop, N tasks that do nothing (the
-- scheduler's own cost per task).  Prints "wall=SECONDS busy=SECONDS" on
-- rank 0: the wall time of Sweep:run and the sum of the tasks' own seconds.
--   llfc scripts/bench_sweep.lua --dir DIR [--n 8] [--epochs 1] [--n-train 10000] [--noop]
local o = { n = 8, epochs = 1, ["n-train"] = 10000 }
local i = 1
while arg[i] do
  local k = arg[i]:match("^%-%-(.+)$")
  if k == "noop" then o.noop = true
  elseif k and arg[i + 1] then o[k] = tonumber(arg[i + 1]) or arg[i + 1]; i = i + 1
  else error("bench_sweep.lua: bad argument " .. arg[i], 0) end
  i = i + 1
end
assert(o.dir, "--dir is required")
local ds
if not o.noop then
  local fm = assert(data.fashion_mnist())
  ds = fm.train:subset(math.floor(o["n-train"]))
end
local S = sweep.new{ dir = o.dir, progress = false,
                     data = o.noop and "none" or ("fashion_mnist: first " .. #ds .. " training images") }
for s = 1, math.floor(o.n) do
  S:task{ id = "t" .. s, params = { seed = s }, run = function(p)
    if o.noop then return { s = p.seed } end
    local net = nn.mlp{ 784, 512, 512, 512, 10, seed = p.seed }
    local h = net:train(ds, { epochs = o.epochs, lr = 0.05, batch = 128, seed = p.seed, progress = false })
    return { net = net, loss = h.epochs[#h.epochs].loss }
  end }
end
sweep.info() -- MPI starts (under mpirun) before the clock does
local w0 = package.loaded["llfc.sweep.c"].now()
local rows = S:run()
local wall = package.loaded["llfc.sweep.c"].now() - w0
local busy = 0
for _, r in ipairs(rows) do busy = busy + (r.seconds or 0) end
print(string.format("wall=%.3f busy=%.3f tasks=%d", wall, busy, #rows))
