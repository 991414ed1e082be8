-- bench_cnn_step.lua - CPU time of conv net training steps or eval batches
-- on random data (the non-conv kernels' measurements in docs/BENCH.md).
--
--   llfc -e "ARCH='resnet20'; MODE='train'; STEPS=8" scripts/bench_cnn_step.lua
--
-- ARCH 'resnet20' (WIDTH, NORM) or 'vgg' (VGG-11); MODE 'train' or 'eval';
-- STEPS timed batches of 128 random 3x32x32 images after 2 warm-up batches.
-- CLOCK 'cpu' (the default) or 'wall' (monotonic; what threads buy, see
-- bench_cnn_wall.lua).
-- os.clock() is process CPU time (all threads): on a shared machine it is
-- less disturbed than wall time.  Run it under `perf record -e cpu-clock`
-- for the time per kernel.
local arch, mode, steps = ARCH or "resnet20", MODE or "train", STEPS or 6
local n = 128 * steps
local x = tensor.randn({n, 3, 32, 32}, 1)
local y = {}
for i = 1, n do y[i] = (i % 10) + 1 end
local ds = data.from_tensors(x, y, {classes = 10})
local net
if arch == "resnet20" then net = nn.resnet20{width = WIDTH or 1, norm = NORM or "bn"}
else net = nn.vgg{depth = 11, norm = NORM or "bn", input = {3, 32, 32}} end
local wall = CLOCK == "wall"
local clock = wall and require("llfc.view.c").now or os.clock
local label = wall and "wall" or "cpu"
if mode == "train" then
  net:train(ds:subset(256), {batch = 128, epochs = 1, lr = 0.01, progress = false})
  local t0 = clock()
  net:train(ds, {batch = 128, epochs = 1, lr = 0.01, progress = false})
  print(string.format("%s %s %s_ms_per_step %.1f", arch, mode, label, (clock() - t0) * 1000 / steps))
else
  net:eval(ds:subset(256), {batch = 128})
  local t0 = clock()
  net:eval(ds, {batch = 128})
  print(string.format("%s %s %s_ms_per_batch %.1f", arch, mode, label, (clock() - t0) * 1000 / steps))
end
