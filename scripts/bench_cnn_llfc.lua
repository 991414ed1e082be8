-- bench_cnn_llfc.lua - the llfc side of scripts/bench_cnn.
-- usage: llfc scripts/bench_cnn_llfc.lua NET WIDTH NORM C H W STEPS WARMUP EVAL_N EVAL_BATCH [THREADS]
--   THREADS (optional) is set with llfc.blas(n); without it llfc runs as a user runs it.
--   NET: resnet20 | vgg11.  Trains WARMUP then STEPS steps of batch 128 (SGD lr 0.01,
--   momentum 0.9) on random inputs and labels, then evaluates EVAL_N random inputs
--   in batches of EVAL_BATCH (after one warm-up batch); prints
--   "train_seconds=<s for STEPS steps> eval_seconds=<s>".
local which, width, norm = arg[1], tonumber(arg[2]), arg[3]
local c, h, w = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6])
local steps, warmup = tonumber(arg[7]), tonumber(arg[8])
local evaln, evalb = tonumber(arg[9]), tonumber(arg[10])
if arg[11] and arg[11] ~= "" then llfc.blas(tonumber(arg[11])) end
local net
if which == "resnet20" then
  net = nn.resnet20{width = width, norm = norm, classes = 10, input = {c, h, w}, seed = 1}
else
  net = nn.vgg{depth = 11, width = width, norm = norm ~= "none" and norm or nil, classes = 10,
               input = {c, h, w}, head = "gap", seed = 1}
end
local dim = c * h * w
local function dataset(n, seed)
  local ys = {}
  for i = 1, n do ys[i] = (i * 7919 + seed) % 10 + 1 end
  return data.from_tensors(tensor.randn({n, dim}, {seed = seed}), ys, {classes = 10})
end
local opts = {batch = 128, lr = 0.01, momentum = 0.9, seed = 1, progress = false}
local tr = dataset(128 * math.max(steps, warmup, 1), 1)
local ts = 0
if steps > 0 then
  if warmup > 0 then opts.steps = warmup; net:train(tr, opts) end
  opts.steps = steps
  ts = net:train(tr, opts).seconds
end
local es = 0
if evaln > 0 then
  net:eval(dataset(evalb, 3), {batch = evalb})
  es = net:eval(dataset(evaln, 2), {batch = evalb}).seconds
end
print(string.format("train_seconds=%.4f eval_seconds=%.4f", ts, es))
