-- test_nn.lua - the nn module on every architecture: building MLPs, params,
-- copies, interpolation; conv nets (nn.vgg, nn.resnet20): PyTorch names and
-- parameter counts, feature layers, permutation specs, the function preserved
-- by random permutations (BatchNorm in eval mode with non-trivial running
-- statistics), planted permutations recovered by weight matching, listing,
-- errors; training, pair/spawn and model files of conv nets.
local T = require "check"

T.section("mlp", function()
  local net = nn.mlp{784, 512, 512, 512, 10, seed = 1}
  T.eq(net:nparams(), 784*512+512 + 2*(512*512+512) + 512*10+10, "nparams of 784-512-512-512-10")
  local s = tostring(net)
  T.ok(s:find("784-512-512-512-10", 1, true) and s:find("linear 784 -> 512", 1, true) and
       s:find("relu (feature h1)", 1, true), "tostring names widths, layers and features")
  local w = net:widths()
  T.eq(#w, 5, "widths")
  T.eq(net:info().act, "relu", "default activation is relu")
  T.eq(nn.mlp{3, 4, 2, act = "tanh"}:info().act, "tanh", "act = tanh")
  T.raises(function() nn.mlp{3} end, "at least 2 widths", "one width is an error")
  T.raises(function() nn.mlp{3, 0, 2} end, "width 2", "zero width is an error")
  T.raises(function() nn.mlp{3, 2, act = "gelu"} end, "unknown act", "unknown activation is an error")
  T.raises(function() nn.mlp{3, 2, init = "xavier"} end, "unknown init", "unknown init is an error")
  T.raises(function() nn.mlp{3, "x"} end, "width 2 must be an integer", "non-integer width is an error")
end)

T.section("params", function()
  local net = nn.mlp{4, 3, 2, seed = 7}
  local p = net:params()
  T.eq(#p, 4, "four parameter tensors")
  T.eq(p[1].name, "0.weight", "first is 0.weight")
  T.eq(p[4].name, "2.bias", "last is 2.bias")
  T.ok(p["2.weight"] == p[3].tensor, "name -> tensor map holds the same objects")
end)

T.section("clone and lerp", function()
  local a = nn.mlp{4, 3, 2, seed = 1}
  local b = a:clone()
  T.ok(a ~= b, "clone is a new object")
  T.eq(tostring(a), tostring(b), "clone has the same architecture")
  T.raises(function() nn.lerp(a, nn.mlp{4, 5, 2}, 0.5) end, "0.weight", "lerp names the mismatching parameter")
  T.raises(function() nn.lerp(a, nn.mlp{4, 3, 2, act = "tanh"}, 0.5) end, "activation", "lerp checks activations")
end)

-- forward with a parameter tensor as input (a 4x4 weight is a batch of 4 inputs of width 4)
T.section("forward", function()
  local net = nn.mlp{4, 4, 3, seed = 2}
  local x = net:params()[1].tensor
  local z = net:forward(x)
  T.ok(z ~= nil, "forward returns a tensor")
  local f = net:features(x)
  T.eq(#f, 2, "features: one entry per layer")
  T.eq(f[1].name, "h1", "features: hidden layer name")
  T.eq(f[2].name, "logits", "features: last layer name")
  T.ok(f[2].pre == f[2].post, "features: the logits' pre and post are the same tensor")
  T.raises(function() net:forward(net:params()[4].tensor) end, "input must be [n, 4]", "forward checks the input shape")
end)

-- a naive forward written here with get(): logits of row i
local function naive(net, x, i)
  local p = net:params()
  local w = net:widths()
  local a = {}
  for j = 1, w[1] do a[j] = x:get(i, j) end
  for l = 1, #w - 1 do
    local W, b, z = p[2 * l - 1].tensor, p[2 * l].tensor, {}
    for o = 1, w[l + 1] do
      local s = b:get(o)
      for j = 1, w[l] do s = s + W:get(o, j) * a[j] end
      z[o] = (l < #w - 1) and math.max(s, 0) or s
    end
    a = z
  end
  return a
end

T.section("forward values", function()
  local net = nn.mlp{5, 7, 6, 3, seed = 3}
  local x = tensor.randn({4, 5}, {seed = 2})
  local z = net:forward(x)
  T.eq(z:size(1), 4, "logits rows")
  T.eq(z:size(2), 3, "logits columns")
  local maxd = 0
  for i = 1, 4 do
    local r = naive(net, x, i)
    for k = 1, 3 do maxd = math.max(maxd, math.abs(r[k] - z:get(i, k))) end
  end
  T.ok(maxd < 1e-5, "forward matches a naive loop", "max diff " .. maxd)
  local xt = x:t():contiguous():t()   -- same values, transposed strides
  T.ok(not xt:is_contiguous(), "a non-contiguous input")
  T.near(net:forward(xt):get(3, 2), z:get(3, 2), 1e-6, "forward accepts non-contiguous input")
  local one = net:forward(x:select(1, 2))
  T.eq(one:dim(), 1, "one sample [in] gives [classes]")
  T.near(one:get(3), z:get(2, 3), 1e-6, "one sample equals its row")
  local f = net:features(x)
  T.eq(#f, 3, "three feature layers")
  T.near(f[3].post:get(4, 1), z:get(4, 1), 1e-6, "features: logits equal forward")
  local ok = true
  for i = 1, 4 do for j = 1, 7 do
    ok = ok and math.abs(f[1].post:get(i, j) - math.max(0, f[1].pre:get(i, j))) < 1e-7
  end end
  T.ok(ok, "features: post = relu(pre) in hidden layers")
  T.eq(f[2].pre:size(2), 6, "features: h2 width")
end)

T.section("params share memory", function()
  local net = nn.mlp{3, 2, seed = 1}
  local p = net:params()
  local x = tensor.new{{1, 2, 3}}
  p["0.weight"]:fill(0)
  p["0.bias"]:set(1, 4)
  p["0.bias"]:set(2, -1)
  local z = net:forward(x)
  T.near(z:get(1, 1), 4, 1e-7, "writing a param tensor changes the network")
  T.near(z:get(1, 2), -1, 1e-7, "writing a param tensor changes the network (2)")
  local c = net:clone()
  p["0.bias"]:set(1, 9)
  T.near(c:forward(x):get(1, 1), 4, 1e-7, "a clone does not share memory")
end)

T.section("lerp values", function()
  local a, b = nn.mlp{3, 4, 2, seed = 1}, nn.mlp{3, 4, 2, seed = 2}
  local m = nn.lerp(a, b, 0.25)
  local pa, pb, pm = a:params(), b:params(), m:params()
  T.near(pm[1].tensor:get(2, 3), 0.25 * pa[1].tensor:get(2, 3) + 0.75 * pb[1].tensor:get(2, 3), 1e-6,
         "lerp = alpha*a + (1-alpha)*b")
  T.near(nn.lerp(a, b, 1):params()[4].tensor:get(2), pa[4].tensor:get(2), 1e-7, "alpha = 1 gives a")
  local x = tensor.randn({2, 3}, {seed = 1})
  T.near(nn.lerp(a, b, 0):forward(x):get(2, 2), b:forward(x):get(2, 2), 1e-6, "alpha = 0 gives b")
end)

T.section("init", function()
  local n = nn.mlp{400, 300, 2, seed = 5}
  local W = n:params()[1].tensor
  T.ok(W:max() <= 0.05 and W:min() >= -0.05 and W:max() > 0.049, "torch init: U(-1/sqrt(400), 1/sqrt(400))")
  local k = nn.mlp{400, 300, 2, seed = 5, init = "kaiming"}
  local Wk = k:params()[1].tensor
  local sd = math.sqrt((Wk:norm() ^ 2) / Wk:numel())
  T.near(sd, math.sqrt(2 / 400), 0.01, "kaiming init: sd sqrt(2/fan_in)")
  T.eq(k:params()[2].tensor:abs():max(), 0, "kaiming init: zero biases")
  T.eq(nn.mlp{4, 3, seed = 9}:params()[1].tensor:get(1, 1), nn.mlp{4, 3, seed = 9}:params()[1].tensor:get(1, 1),
       "same seed, same weights")
end)

T.ok(nn.gemm_rate(64, 1) > 0, "gemm_rate measures something")

-- ---- conv and residual nets --------------------------------------------------
do
-- VGG parameter count by hand: (C*9 + 1)*K per conv (+2K with a norm), F*classes + classes
local function vgg_count(cfg, cin, classes, norm)
  local n, c = 0, cin
  for _, v in ipairs(cfg) do
    if v ~= "M" then n, c = n + (c * 9 + 1) * v + (norm and 2 * v or 0), v end
  end
  return n + c * classes + classes
end

local A = {64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"}
local B = {64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"}
local D = {64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"}

-- ResNet-20 trainable parameters, written out stage by stage
local function resnet_count(k, norm, cin, classes)
  local w = {16 * k, 32 * k, 64 * k}
  local nrm, bias = norm and 2 or 0, norm and 0 or 1
  local n, prev = w[1] * cin * 9 + (bias + nrm) * w[1], w[1]
  for s = 1, 3 do
    for b = 1, 3 do
      local i = b > 1 and w[s] or prev
      n = n + w[s] * i * 9 + (bias + nrm) * w[s] + w[s] * w[s] * 9 + (bias + nrm) * w[s]
      if i ~= w[s] then n = n + w[s] * i + (bias + nrm) * w[s] end
      prev = w[s]
    end
  end
  return n + classes * w[3] + classes
end

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

T.section("vgg construction", function()
  local net = nn.vgg{layers = {4, "M", 8}, input = {1, 8, 8}, classes = 3, seed = 2}
  T.eq(net:nparams(), 40 + 296 + 27, "nparams of a small vgg")
  local p = net:params()
  T.eq(p[1].name, "features.0.weight", "first parameter features.0.weight")
  T.eq(p[3].name, "features.3.weight", "second conv after ReLU and MaxPool is features.3")
  T.eq(p[5].name, "classifier.weight", "classifier.weight")
  T.eq(#p["features.0.weight"]:size(), 4, "conv weight is 4-d")
  T.eq(net.arch, "cnn", "net.arch is cnn")
  T.eq(net:info().arch, "cnn", "info().arch")
  T.eq(net.config, "vgg layers=4,M,8 norm=none head=gap classes=3 input=1,8,8", "net.config")
  T.eq(nn.mlp{4, 3}.arch, "mlp", "an MLP's arch")
  T.eq(nn.mlp{4, 3}.config, "mlp widths=4,3 act=relu init=torch", "an MLP's config describes it")
  T.eq(type(net.forward), "function", "methods still reachable through __index")
  T.eq(type(net.permspec), "function", "Net:permspec (added by the perm module) reachable")
  local s = tostring(net)
  T.ok(s:find("llfc.Net cnn: vgg layers=4,M,8", 1, true) and s:find("conv3x3 1 -> 4", 1, true) and
       s:find("maxpool2x2", 1, true) and s:find("4x4x4", 1, true) and s:find("linear 8 -> 3", 1, true),
       "tostring lists the modules", s)
  for _, d in ipairs({{11, A}, {13, B}, {16, D}}) do
    local half = {}
    for i, c in ipairs(d[2]) do half[i] = c == "M" and "M" or c // 2 end
    T.eq(nn.vgg{depth = d[1], width = 0.5}:nparams(), vgg_count(half, 3, 10, false),
         "VGG-" .. d[1] .. " width 1/2 parameters (hand count)")
    local b = nn.vgg{depth = d[1], norm = "bn", width = 1 / 8, input = {1, 28, 28}, classes = 7}
    local cfg = {}
    for i, c in ipairs(d[2]) do cfg[i] = c == "M" and "M" or math.floor(c / 8 + 0.5) end
    T.eq(b:nparams(), vgg_count(cfg, 1, 7, true), "VGG-" .. d[1] .. " bn width 1/8 parameters")
    T.eq(count(tostring(b), "maxpool"), 4, "VGG-" .. d[1] .. " on 28x28: the 5th pool is left out")
    T.eq(#b:features(tensor.zeros({1, 784})), #cfg - 5 + 1, "VGG-" .. d[1] .. ": a feature per conv + logits")
  end
  local v = nn.vgg{depth = 11}
  T.eq(v:nparams(), 9225610, "VGG-11 (torchvision A, CIFAR head): 9,225,610 parameters")
  T.eq(v:params()[15].name, "features.18.weight", "VGG-11 last conv is features.18")
  local bn = nn.vgg{depth = 11, norm = "bn", width = 1 / 8}
  T.eq(bn:params()[3].name, "features.1.weight", "bn follows its conv: features.1.weight")
  T.eq(bn:params()[5].name, "features.1.running_mean", "features.1.running_mean")
  T.eq(bn:params()[7].name, "features.1.num_batches_tracked", "features.1.num_batches_tracked")
  T.eq(bn:params()[8].name, "features.4.weight", "conv, bn, relu, pool: next conv features.4")
  T.eq(bn.config, "vgg depth=11 width=0.125 norm=bn head=gap classes=10 input=3,32,32", "depth config")
  local ln = nn.vgg{layers = {4, "M", 6}, norm = "ln", input = {1, 8, 8}}
  T.eq(ln:params()[3].name, "features.1.weight", "ln weight features.1.weight")
  T.eq(ln:nparams(), vgg_count({4, "M", 6}, 1, 10, true), "vgg ln parameters")
  T.eq(nn.vgg{layers = {4, "M"}, input = {1, 8, 8}, head = "flatten", classes = 2}:params()[3].name,
       "classifier.weight", "flatten head: classifier.weight")
  T.eq(nn.vgg{layers = {4, "M"}, input = {1, 8, 8}, head = "flatten", classes = 2}:params()[3].tensor:size()[2], 64,
       "flatten head: classifier reads 4x4x4")
  T.raises(function() nn.vgg{layers = {"M", 4}} end, "layers[1]", "M first is an error")
  T.raises(function() nn.vgg{layers = {4, "M", "M"}} end, "must follow a conv", "double M is an error")
  T.raises(function() nn.vgg{layers = {4, 0}} end, "layers[2]", "0 channels")
  T.raises(function() nn.vgg{depth = 12} end, "depth must be 11, 13 or 16", "unsupported depth")
  T.raises(function() nn.vgg{depth = 11, layers = {4}} end, "not both", "depth and layers")
  T.raises(function() nn.vgg{} end, "give depth", "no layout")
  T.raises(function() nn.vgg{layers = {4}, head = "avg"} end, "unknown head", "unknown head")
  T.raises(function() nn.vgg{layers = {4}, norm = "gn"} end, "unknown norm 'gn'", "unknown norm")
  T.raises(function() nn.vgg{layers = {4}, width = 0} end, "width", "width 0")
  T.raises(function() nn.vgg{layers = {4}, classes = 0} end, "classes", "0 classes")
  T.raises(function() nn.vgg{layers = {4}, input = {1, 8}} end, "input", "input of 2 numbers")
  T.raises(function() nn.vgg{layers = {4}, input = {1, 0, 8}} end, "input[2]", "input side 0")
  T.raises(function() nn.vgg{layers = {4}, widht = 2} end, "did you mean 'width'", "a typo of an option is an error")
  T.raises(function() nn.vgg{layers = {4}, nrom = "bn"} end, "did you mean 'norm'", "norm typo")
end)

T.section("resnet20 construction", function()
  local net = nn.resnet20{}
  T.eq(net:nparams(), 272474, "ResNet-20 width 1 bn: 272,474 parameters as PyTorch's parameters()")
  T.eq(resnet_count(1, true, 3, 10), 272474, "the hand count agrees")
  T.eq(#net:params(), 128, "128 state_dict tensors (BatchNorm buffers included)")
  local p = net:params()
  T.eq(p[1].name, "conv1.weight", "conv1.weight first")
  T.eq(p[2].name, "bn1.weight", "bn1.weight")
  T.ok(p["layer2.0.shortcut.0.weight"] and p["layer2.0.shortcut.0.weight"]:size()[2] == 16 and
       p["layer2.0.shortcut.0.weight"]:size()[3] == 1, "projection shortcut [32, 16, 1, 1]")
  T.ok(p["layer3.0.shortcut.1.running_var"] ~= nil, "shortcut norm layer3.0.shortcut.1")
  T.eq(p["layer1.0.shortcut.0.weight"], nil, "identity shortcut without parameters")
  T.eq(p[#p].name, "linear.bias", "linear.bias last")
  T.eq(net.config, "resnet20 width=1 norm=bn classes=10 input=3,32,32", "config")
  T.ok(tostring(net):find("llfc.Net cnn: resnet20 width=1 norm=bn", 1, true) and
       tostring(net):find("add layer2.0.bn2 + layer2.0.shortcut.1", 1, true) and
       tostring(net):find("conv1x1/2 16 -> 32", 1, true), "tostring lists blocks, shortcuts and sums")
  local ln = nn.resnet20{norm = "ln", width = 2, classes = 7, input = {1, 28, 28}}
  T.eq(ln:nparams(), resnet_count(2, true, 1, 7), "ResNet-20 ln width 2 parameters")
  T.eq(ln:params()[2].name, "ln1.weight", "ln1.weight")
  T.ok(ln:params()["layer3.2.ln2.bias"] ~= nil, "layer3.2.ln2.bias")
  local none = nn.resnet20{norm = "none", input = {3, 8, 8}}
  T.eq(none:nparams(), resnet_count(1, false, 3, 10), "ResNet-20 without norm: convs with biases")
  T.ok(none:params()["layer2.0.shortcut.0.bias"] ~= nil, "shortcut conv bias without norm")
  local wide = nn.resnet20{width = 4, input = {3, 8, 8}}
  T.eq(wide:nparams(), resnet_count(4, true, 3, 10), "ResNet-20 width 4 parameters")
  T.raises(function() nn.resnet20{width = 1.5} end, "width must be an integer", "fractional width")
  T.raises(function() nn.resnet20{width = 0} end, "width", "width 0")
  T.raises(function() nn.resnet20{norm = "gn"} end, "unknown norm", "unknown norm")
  T.raises(function() nn.resnet20{widht = 2} end, "did you mean 'width'", "typo")
  T.raises(function() nn.resnet20{input = {3, 32}} end, "input", "bad input")
end)

T.section("features", function()
  local net = nn.resnet20{input = {2, 6, 6}, classes = 5}
  local x = tensor.randn({3, 72}, 1)
  local f = net:features(x)
  T.eq(#f, 20, "ResNet-20: 19 ReLU features + logits")
  T.eq(f[1].name, "conv1", "feature 1 conv1 (stem)")
  T.eq(f[2].name, "layer1.0.relu1", "feature 2 layer1.0.relu1")
  T.eq(f[3].name, "layer1.0", "feature 3 layer1.0 (block output)")
  T.eq(f[19].name, "layer3.2", "feature 19 layer3.2")
  T.eq(f[20].name, "logits", "logits last")
  T.eq(f[3].post:size()[2], 16 * 36, "layer1.0 is [n, 16*6*6]")
  T.eq(f[9].post:size()[2], 32 * 9, "layer2.0 is [n, 32*3*3]")
  T.eq(f[19].post:size()[2], 64 * 4, "layer3.2 is [n, 64*2*2]")
  local v = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, norm = "bn"}
  local g = v:features(x)
  T.ok(#g == 3 and g[1].name == "h1" and g[2].name == "h2" and g[3].name == "logits", "VGG features h1, h2, logits")
  T.eq(g[2].post:size()[2], 6 * 9, "h2 is [n, 6*3*3]")
  T.eq(net:widths()[1], 72, "widths: input c*h*w first")
end)

T.section("permspec", function()
  local s = nn.resnet20{input = {2, 6, 6}}:permspec()
  T.eq(#s.groups, 12, "ResNet-20: 3 stream + 9 inner groups")
  local byname = {}
  for _, g in ipairs(s.groups) do byname[g.name] = g end
  T.ok(byname.S1 and byname.S2 and byname.S3 and byname["layer3.2"], "groups S1..S3 and layer<s>.<b>")
  T.eq(byname.S2.feature, "layer2.2", "S2's feature is the stage's last block output")
  T.eq(byname["layer1.1"].feature, "layer1.1.relu1", "inner group's feature is its relu1")
  local has = {}
  for _, a in ipairs(byname.S3.axes) do has[a.param .. ":" .. a.axis] = true end
  T.ok(has["linear.weight:2"] and has["layer3.0.shortcut.0.weight:1"] and has["layer3.0.shortcut.1.running_mean:1"] and
       has["layer2.2.conv2.weight:1"] == nil and has["layer3.1.conv1.weight:2"], "S3 axes: shortcut, norms, consumers")
  local v = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, norm = "bn"}:permspec()
  T.ok(#v.groups == 2 and v.groups[1].name == "P1" and v.groups[2].feature == "h2", "VGG groups P1, P2 on h1, h2")
  local f = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, head = "flatten"}:permspec()
  T.eq(#f.groups, 1, "flatten head on 3x3: the last conv has no group")
end)

-- every parameter random (running_var positive), so BatchNorm in eval mode is not the identity
local function randomize(net, seed)
  for i, e in ipairs(net:params()) do
    local t = e.tensor
    if e.name:find("num_batches") then -- leave it
    elseif e.name:find("running_var") then t:copy(tensor.rand(t:size(), seed + i) + 0.5)
    else t:copy(tensor.randn(t:size(), seed + i) * 0.3) end
  end
  return net
end

T.section("perm.check", function()
  local nets = {
    {"vgg none", nn.vgg{layers = {4, "M", 6, "M", 5}, input = {2, 8, 8}, classes = 5}},
    {"vgg bn", nn.vgg{layers = {4, "M", 6, "M", 5}, input = {2, 8, 8}, classes = 5, norm = "bn"}},
    {"vgg ln", nn.vgg{layers = {4, "M", 6, "M", 5}, input = {2, 8, 8}, classes = 5, norm = "ln"}},
    {"vgg flatten", nn.vgg{layers = {4, "M", 6}, input = {2, 8, 8}, classes = 5, head = "flatten", norm = "bn"}},
    {"resnet20 bn", nn.resnet20{input = {2, 8, 8}, classes = 5}},
    {"resnet20 ln", nn.resnet20{input = {2, 8, 8}, classes = 5, norm = "ln"}},
    {"resnet20 none", nn.resnet20{input = {2, 8, 8}, classes = 5, norm = "none"}},
  }
  local x = tensor.randn({6, 128}, 4)
  for k, e in ipairs(nets) do
    local net = randomize(e[2], 10 * k)
    local scale = (net:forward(x):abs():max())
    local worst = 0
    for s = 1, 3 do worst = math.max(worst, (perm.check(net, perm.random(net, s), x))) end
    T.ok(worst < 1e-5 * math.max(1, scale), e[1] .. ": random perms preserve the logits",
         string.format("max diff %g, logits up to %g", worst, scale))
    local q = perm.random(net, 7):apply(net)
    local moved = 0
    for i, p in ipairs(net:params()) do moved = math.max(moved, ((p.tensor - q:params()[i].tensor):abs():max())) end
    T.ok(moved > 0, e[1] .. ": the permuted net has other weights")
  end
end)

T.section("weight matching", function()
  for _, e in ipairs({
    {"vgg bn", nn.vgg{layers = {6, "M", 8, 8, "M", 5}, input = {2, 8, 8}, classes = 5, norm = "bn"}},
    {"resnet20 bn", nn.resnet20{input = {2, 8, 8}, classes = 5}},
    {"resnet20 ln width 2", nn.resnet20{input = {2, 8, 8}, classes = 5, norm = "ln", width = 2}},
  }) do
    local net = randomize(e[2], 3)
    local p = perm.random(net, 5)
    local q = p:apply(net)
    local r = perm.weight_match(net, q)
    T.ok(r == p:inverse(), e[1] .. ": weight matching recovers the planted permutation")
    local back, m = r:apply(q), 0
    for i, t in ipairs(net:params()) do m = math.max(m, ((t.tensor - back:params()[i].tensor):abs():max())) end
    T.ok(m <= 1e-6, e[1] .. ": the matched net equals the original", string.format("max diff %g", m))
  end
end)

T.section("clone and lerp", function()
  local a = nn.resnet20{input = {2, 6, 6}, classes = 3, seed = 1}
  local b = nn.resnet20{input = {2, 6, 6}, classes = 3, seed = 2}
  T.ok(a:params()[1].tensor:get(1, 1, 1, 1) ~= b:params()[1].tensor:get(1, 1, 1, 1), "seeds give other weights")
  T.eq(nn.resnet20{input = {2, 6, 6}, classes = 3, seed = 1}:params()[1].tensor:get(1, 1, 1, 1),
       a:params()[1].tensor:get(1, 1, 1, 1), "the same seed gives the same weights")
  local c = a:clone()
  T.eq(tostring(c), tostring(a), "clone keeps the layout")
  local mid = nn.lerp(a, b, 0.25)
  local d = (mid:params()[1].tensor - (a:params()[1].tensor * 0.25 + b:params()[1].tensor * 0.75)):abs():max()
  T.ok(d < 1e-6, "lerp of conv nets: 0.25 a + 0.75 b")
  T.raises(function() nn.lerp(a, nn.resnet20{input = {2, 6, 6}, classes = 3, norm = "ln"}, 0.5) end, "",
           "lerp of different layouts is an error")
end)

-- 4 classes of 1x8x8 images: a bright square in one quadrant plus noise
local function quadrants()
  local n = 256
  local x = tensor.randn({n, 64}, 5) * 0.3
  local y = {}
  for i = 1, n do
    local c = (i - 1) % 4
    y[i] = c + 1
    local r0, c0 = (c // 2) * 4, (c % 2) * 4
    for r = r0, r0 + 3 do
      for cc = c0, c0 + 3 do
        x:set(i, r * 8 + cc + 1, x:get(i, r * 8 + cc + 1) + 1.5)
      end
    end
  end
  return data.from_tensors(x, y)
end

T.section("training", function()
  local ds = quadrants()
  local net = nn.vgg{layers = {8, "M", 16}, input = {1, 8, 8}, classes = 4, seed = 1, norm = "bn"}
  local before = net:eval(ds).err
  net:train(ds, {lr = 0.05, epochs = 8, batch = 32, progress = false})
  local after = net:eval(ds)
  T.ok(after.err < 0.05 and after.err < before, "a tiny vgg with BatchNorm learns quadrant bars",
       string.format("err %.3f -> %.3f", before, after.err))
end)

T.section("pair and spawn", function()
  local ds = quadrants()
  local tmpl = nn.resnet20{input = {1, 8, 8}, classes = 4, seed = 1}
  local a, b = nn.pair(tmpl, ds, {init_seeds = {1, 2}, epochs = 2, lr = 0.05, batch = 32, progress = false})
  T.eq(tostring(a), tostring(tmpl), "nn.pair of a conv net keeps its layout")
  T.ok(((a:params()[1].tensor - b:params()[1].tensor):abs():max()) > 0, "the two conv nets differ")
  T.ok(a:eval(ds).err < 0.5 and b:eval(ds).err < 0.5, "both conv nets trained",
       string.format("%.3f %.3f", a:eval(ds).err, b:eval(ds).err))
  local c = nn.spawn(a, ds, {k = 0, epochs = 1, seeds = {2, 3}, lr = 0.05, batch = 32, progress = false})
  T.eq(tostring(c), tostring(a), "nn.spawn of a conv net")
end)

T.section("save and load", function()
  for _, net in ipairs({nn.vgg{layers = {4, "M", 6, 5, "M"}, input = {2, 8, 8}, classes = 5, norm = "bn", seed = 3},
                        nn.vgg{depth = 11, width = 1 / 16, norm = "bn", input = {2, 8, 8}, classes = 5},
                        nn.resnet20{input = {2, 8, 8}, classes = 5, norm = "ln", width = 2}}) do
    randomize(net, 9)
    local x = tensor.randn({7, 128}, 4)
    local path = T.tmpname(".safetensors")
    assert(net:save(path))
    local back = nn.load(path)
    T.eq(back.config, net.config, "loaded conv net has the same config")
    T.eq(tostring(back), tostring(net), "loaded conv net has the same layout")
    T.eq(((back:forward(x) - net:forward(x)):abs():max()), 0, "loaded conv net computes the same logits")
    os.remove(path)
  end
end)
end

T.done()
