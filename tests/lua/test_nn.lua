-- test_nn.lua - the nn module: building MLPs, params, copies, interpolation.
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

T.done()
