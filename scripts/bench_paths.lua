-- bench_paths.lua: CPU seconds of one MLP workload on one BLAS thread, for
-- comparing two builds of llfc side by side (scripts/bench_paths runs it).
--   llfc scripts/bench_paths.lua train|eval|report|wm|am
-- 784-512-512-512-10 ReLU MLPs, Fashion-MNIST: train = one epoch of 30,000
-- images (batch 128), eval = 5 x 10,000 test images, report = metrics.report
-- on 10,000 test images, wm = 5 weight matchings, am = 2 activation matchings
-- on 10,000 test images.  Prints "WHAT SECONDS" (os.clock of the work alone).
llfc.blas(1)
local what = arg[1]
local fm = data.fashion_mnist()
local a = nn.mlp{784, 512, 512, 512, 10, seed = 1}
local b = nn.mlp{784, 512, 512, 512, 10, seed = 2}
local c0 = os.clock()
if what == "train" then a:train(fm.train:subset(30000), {epochs = 1, lr = 0.01, batch = 128, progress = false})
elseif what == "eval" then for _ = 1, 5 do a:eval(fm.test) end
elseif what == "report" then metrics.report(a, b, fm.test)
elseif what == "wm" then for _ = 1, 5 do perm.weight_match(a, b) end
elseif what == "am" then for _ = 1, 2 do perm.activation_match(a, b, fm.test) end
else error("bench_paths.lua: expected train, eval, report, wm or am, got " .. tostring(what), 0) end
print(what, string.format("%.3f", os.clock() - c0))
