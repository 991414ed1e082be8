-- test_cnn_numpy.lua - conv nets against an independent NumPy forward
-- (tests/lua/cnn_numpy.py: convolution over padded windows, BatchNorm eval,
-- LayerNorm over channels, max pool, global average pool, residual sums).
-- llfc builds small VGG and ResNet-20 nets, trains two steps, moves every norm
-- parameter and statistic away from its default, saves; NumPy checks the
-- PyTorch names and shapes and recomputes the logits.  NumPy then writes
-- files with the PyTorch names (with and without metadata), which llfc loads.
-- Skipped when /usr/bin/python3 has no numpy.
local T = require "check"

local PY = "/usr/bin/python3"
local probe = io.popen(PY .. " -c 'import numpy' 2>&1 && echo yes")
local have = probe:read("a"):find("yes")
probe:close()
if not have then
  T.skip("conv nets against numpy", PY .. " with numpy not found")
  T.done()
  return
end
local script = T.srcdir .. "/tests/lua/cnn_numpy.py"

local cases = {
  {"VGG-11/8 norm none 3x8x8", function(s)
    return nn.vgg{depth = 11, width = 0.125, classes = 10, input = {3, 8, 8}, seed = s} end},
  {"VGG-11/8 bn 1x12x12", function(s)
    return nn.vgg{depth = 11, norm = "bn", width = 0.125, classes = 10, input = {1, 12, 12}, seed = s} end},
  {"VGG-11/8 ln 3x8x8", function(s)
    return nn.vgg{depth = 11, norm = "ln", width = 0.125, classes = 7, input = {3, 8, 8}, seed = s} end},
  {"VGG layers bn flatten 3x10x10", function(s)
    return nn.vgg{layers = {4, "M", 6, 6, "M"}, norm = "bn", head = "flatten", classes = 5,
                  input = {3, 10, 10}, seed = s} end},
  {"ResNet-20 bn 3x8x8", function(s)
    return nn.resnet20{width = 1, norm = "bn", classes = 10, input = {3, 8, 8}, seed = s} end},
  {"ResNet-20 ln 1x9x9", function(s)
    return nn.resnet20{width = 1, norm = "ln", classes = 10, input = {1, 9, 9}, seed = s} end},
}

local function maxdiff(a, b)
  if a:numel() ~= b:numel() then return math.huge end
  return a:clone():sub(b:view(a:shape())):abs():max()
end

for ci, c in ipairs(cases) do
  local name, build = c[1], c[2]
  T.section(name, function()
    local dir = T.tmpname("")
    os.execute("mkdir -p " .. dir)
    local net = build(ci)
    local dim = net:widths()[1]
    -- two training steps: BatchNorm statistics and the step count move
    local xs = tensor.randn({32, dim}, {seed = 10 + ci})
    local ys = {}
    for i = 1, 32 do ys[i] = (i * 7) % 5 + 1 end
    net:train(data.from_tensors(xs, ys, {classes = 5}), {steps = 2, batch = 16, lr = 0.05, progress = false})
    -- every norm weight, bias and running statistic away from its default
    local k = 0
    for _, e in ipairs(net:params()) do
      local t, pn = e.tensor, e.name
      k = k + 1
      if t:dim() == 1 and t:numel() > 1 and not pn:find("^classifier") and not pn:find("^linear%.") then
        local r = tensor.rand(t:shape(), {seed = 100 * ci + k})
        if pn:find("running_var$") then t:mul(r:add(0.5))
        elseif pn:find("running_mean$") then t:add(r:sub(0.5))
        elseif pn:find("weight$") then t:mul(r:add(0.5))
        else t:add(r:sub(0.5):mul(0.5)) end
      end
    end
    local a = dir .. "/a.safetensors"
    T.ok(net:save(a), name .. ": saved")
    local x = tensor.randn({5, dim}, {seed = 20 + ci})
    x:save(dir .. "/x.npy")
    net:forward(x):save(dir .. "/z.npy")
    local cmd = string.format("%s %s run %s %s/x.npy %s/z.npy %s/b.safetensors %s/c.safetensors %s/zb.npy 2>&1",
                              PY, script, a, dir, dir, dir, dir, dir)
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    T.ok(out:find("names ok"), name .. ": llfc's file has the PyTorch names, shapes and dtypes", out)
    T.ok(out:find("\nmatch ") or out:find("^match "), name .. ": numpy's logits equal llfc's (<= 1e-4)", out)
    T.ok(out:find("wrote"), name .. ": numpy wrote a PyTorch-named file", out)
    -- numpy's file with metadata through nn.load
    local want = tensor.load(dir .. "/zb.npy")
    local b, msg = nn.load(dir .. "/b.safetensors")
    T.ok(b, name .. ": nn.load reads numpy's file", msg)
    if b and want then
      local d = maxdiff(b:forward(x), want)
      T.ok(d <= 1e-4, name .. ": llfc's logits of numpy's file equal numpy's", "max diff " .. d)
    end
    -- without metadata: a state_dict copied by name into a net built by llfc
    local t, _, names = data.safetensors_read(dir .. "/c.safetensors")
    local fresh = build(ci + 50)
    local missing = {}
    for _, e in ipairs(fresh:params()) do
      if t[e.name] and t[e.name]:numel() == e.tensor:numel() then e.tensor:copy(t[e.name])
      else missing[#missing + 1] = e.name end
    end
    T.ok(#missing == 0 and #names == #fresh:params(), name .. ": every PyTorch name is an llfc parameter",
         table.concat(missing, " ") .. " (" .. #names .. " in file, " .. #fresh:params() .. " in llfc)")
    if want then
      local d = maxdiff(fresh:forward(x), want)
      T.ok(d <= 1e-4, name .. ": the copied state_dict gives numpy's logits", "max diff " .. d)
    end
    os.execute("rm -rf " .. dir)
  end)
end

T.done()
