-- test_vgg.lua - plain convolutional networks (nn.vgg): construction,
-- listing, permutation invariance, training on synthetic images.
local T = require "check"

T.section("construction", function()
  local net = nn.vgg{layers = {4, "M", 8}, input = {1, 8, 8}, classes = 3, seed = 2}
  -- conv 1->4: 4*9+4, conv 4->8: 8*36+8, linear 8->3: 27
  T.eq(net:nparams(), 40 + 296 + 27, "nparams")
  local p = net:params()
  T.eq(p[1].name, "0.weight", "first parameter 0.weight")
  T.eq(p[3].name, "3.weight", "second conv after ReLU and MaxPool is 3.weight")
  T.eq(p[5].name, "7.weight", "classifier after AdaptiveAvgPool2d and Flatten is 7.weight")
  T.eq(#p["0.weight"]:size(), 4, "conv weight is 4-d")
  T.eq(net:info().arch, "vgg", "info().arch")
  local s = tostring(net)
  T.ok(s:find("conv3x3 1 -> 4", 1, true) and s:find("maxpool2x2 -> 4x4", 1, true) and s:find("linear 8 -> 3", 1, true),
       "tostring lists the layers", s)
  local v = nn.vgg{depth = 11, width = 1/8}
  T.eq(#v:params(), 18, "VGG-11: 8 conv + 1 linear")
  T.eq(v:params()[17].name, "23.weight", "VGG-11 classifier name")
  T.eq(nn.vgg{layers = {4, "M"}, input = {1, 8, 8}, head = "flatten", classes = 2}:params()[3].name, "4.weight",
       "flatten head: classifier follows one Flatten")
  T.raises(function() nn.vgg{layers = {"M", 4}} end, "must follow a conv", "M first is an error")
  T.raises(function() nn.vgg{layers = {4, "M", "M"}} end, "must follow a conv", "double M is an error")
  T.raises(function() nn.vgg{depth = 16} end, "depth must be 11", "unsupported depth")
  T.raises(function() nn.vgg{} end, "give depth", "no layout")
  T.raises(function() nn.vgg{layers = {4, "M", 4, "M"}, input = {1, 2, 2}} end, "max pool after conv layer 2",
           "pooling a 1x1 map is an error")
  T.raises(function() nn.vgg{layers = {4}, head = "avg"} end, "unknown head", "unknown head")
  T.raises(function() nn.vgg{layers = {4}, widht = 2} end, "did you mean 'width'", "a typo of an option is an error")
end)

T.section("features and perm", function()
  local net = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, seed = 3}
  local x = tensor.randn({7, 72}, 4)
  local f = net:features(x)
  T.eq(#f, 3, "two conv feature layers and the logits")
  T.eq(f[1].post:size()[2], 4 * 36, "conv 1 feature is [n, 4*6*6]")
  T.eq(f[2].post:size()[2], 6 * 9, "conv 2 feature is [n, 6*3*3]")
  for s = 1, 3 do
    local p = perm.random(net, s)
    local d = perm.check(net, p, x)
    T.ok(d < 1e-5, "perm.check with random perm " .. s, string.format("max diff %g", d))
  end
  local q = perm.random(net, 9):apply(net)
  T.ok(tostring(q) == tostring(net) and (q:params()[1].tensor - net:params()[1].tensor):abs():max() > 0,
       "apply permutes the conv weights")
  local mid = nn.lerp(net, q, 0.5)
  T.ok(mid:forward(x):size()[2] == 5, "lerp of conv nets runs")
  T.raises(function() nn.lerp(net, nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, head = "flatten"}, 0.5) end,
           "", "lerp of different layouts is an error")
end)

T.section("weight matching", function()
  local net = nn.vgg{layers = {4, "M", 6, 8}, input = {2, 6, 6}, classes = 5, seed = 3}
  local p = perm.random(net, 3)
  local q = p:apply(net)
  local r = perm.weight_match(net, q)
  T.ok(r == p:inverse(), "weight matching recovers a planted permutation of a conv net")
  local back, m = r:apply(q), 0
  for i, e in ipairs(net:params()) do m = math.max(m, ((e.tensor - back:params()[i].tensor):abs():max())) end
  T.eq(m, 0, "matched conv net equals the original exactly")
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
  local net = nn.vgg{layers = {8, "M", 16}, input = {1, 8, 8}, classes = 4, seed = 1}
  local before = net:eval(ds).err
  net:train(ds, {lr = 0.05, epochs = 8, batch = 32, progress = false})
  local after = net:eval(ds)
  T.ok(after.err < 0.05 and after.err < before, "a tiny conv net learns quadrant bars",
       string.format("err %.3f -> %.3f", before, after.err))
end)

T.section("pair and spawn", function()
  local ds = quadrants()
  local tmpl = nn.vgg{layers = {4, "M", 8}, input = {1, 8, 8}, classes = 4, seed = 1}
  local a, b = nn.pair(tmpl, ds, {init_seeds = {1, 2}, epochs = 8, lr = 0.05, batch = 32, progress = false})
  T.eq(tostring(a), tostring(tmpl), "nn.pair of a conv net keeps its layout")
  T.ok(((a:params()[1].tensor - b:params()[1].tensor):abs():max()) > 0, "the two conv nets differ")
  T.ok(a:eval(ds).err < 0.5 and b:eval(ds).err < 0.5, "both conv nets trained",
       string.format("%.3f %.3f", a:eval(ds).err, b:eval(ds).err))
  local c = nn.spawn(a, ds, {k = 0, epochs = 1, seeds = {2, 3}, lr = 0.05, batch = 32, progress = false})
  T.eq(tostring(c), tostring(a), "nn.spawn of a conv net")
end)

T.section("metrics", function()
  local a = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, seed = 3}
  local b = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, seed = 4}
  local x = tensor.randn({40, 72}, 4)
  local y = {}
  for i = 1, 40 do y[i] = (i % 5) + 1 end
  local ds = data.from_tensors(x, y)
  local r = metrics.interpolate(a, b, ds, {alphas = 5})
  local worst = 0
  for k, al in ipairs(r.alphas) do
    local e = nn.lerp(a, b, al):eval(ds)
    worst = math.max(worst, math.abs(e.err - r.err[k]), math.abs(e.loss - r.loss[k]))
  end
  T.ok(worst < 1e-5, "interpolate on conv nets matches nn.lerp + eval", string.format("max diff %g", worst))
  -- llfc at alpha 0.5 on h1: mean over samples of 1 - cos(f(theta), (f(A) + f(B)) / 2)
  local l = metrics.llfc(a, b, ds, {alphas = {0.5}})
  local ft = nn.lerp(a, b, 0.5):features(x)[1].post
  local fa, fb = a:features(x)[1].post, b:features(x)[1].post
  local s = 0
  for i = 1, 40 do
    local d, nt, nm = 0, 0, 0
    for j = 1, 144 do
      local t, mix = ft:get(i, j), 0.5 * fa:get(i, j) + 0.5 * fb:get(i, j)
      d, nt, nm = d + t * mix, nt + t * t, nm + mix * mix
    end
    s = s + 1 - d / math.sqrt(nt * nm)
  end
  T.near(l.layers[1].at[1].mean, s / 40, 1e-4, "llfc on a conv feature matches a naive cosine")
  T.raises(function() metrics.commutativity(a, b, ds) end, "MLPs only", "commutativity refuses conv nets")
  T.raises(function() metrics.weak_additivity(a, b, ds) end, "MLPs only", "weak additivity refuses conv nets")
end)

T.section("save and load", function()
  for _, head in ipairs({"gap", "flatten"}) do
    local net = nn.vgg{layers = {4, "M", 6, 5, "M"}, input = {2, 8, 8}, classes = 5, head = head, seed = 3}
    local x = tensor.randn({7, 128}, 4)
    local path = T.tmpname(".safetensors")
    net:save(path)
    local back = nn.load(path)
    T.eq(tostring(back), tostring(net), head .. ": loaded conv net has the same layout")
    T.eq(((back:forward(x) - net:forward(x)):abs():max()), 0, head .. ": loaded conv net computes the same logits")
    os.remove(path)
  end
end)

T.section("refusals", function()
  local net = nn.vgg{layers = {4, "M", 6}, input = {2, 6, 6}, classes = 5, seed = 3}
  local x = tensor.randn({7, 72}, 4)
  T.raises(function() perm.activation_match(net, net:clone(), x) end, "", "activation matching refuses conv nets")
end)

T.done()
