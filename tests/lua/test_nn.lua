-- test_nn.lua - the nn module: building MLPs, params, copies, interpolation.
local T = require "check"

T.section("mlp", function()
  local net = nn.mlp{784, 512, 512, 512, 10, seed = 1}
  T.eq(net:nparams(), 784*512+512 + 2*(512*512+512) + 512*10+10, "nparams of 784-512-512-512-10")
  local s = tostring(net)
  T.ok(s:find("784-512-512-512-10", 1, true) and s:find("0.weight 512x784", 1, true), "tostring names widths and shapes")
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

T.done()
