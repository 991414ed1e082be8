-- cnn_common.lua - pieces shared by the conv net experiments (repair.lua,
-- resnet.lua): image data (Fashion-MNIST, optionally average-pooled to a
-- smaller size, or a synthetic set when the data package is missing), conv
-- nets by name, and barriers along paths of fixed-up interpolations
-- (BatchNorm reset, REPAIR).  Loaded like common.lua:
--   local C = dofile(dir .. "cnn_common.lua")
local C = {}

-- options every conv net script shares (E.options format)
C.OPTIONS = {
  {"downsample", "number", 1, "average-pool the images by this factor (2: 14x14 Fashion-MNIST)"},
  {"n-repair", "number", 2000, "training samples the BatchNorm reset and REPAIR statistics use"},
}

-- average-pool every image of ds by k (k x k windows, the rest cut off)
local function pool(ds, k)
  local c, h, w = ds.shape[1], ds.shape[2], ds.shape[3]
  local h2, w2 = h // k, w // k
  local x, y = ds:tensors()
  local rows, out = x:totable(), {}
  local inv = 1 / (k * k)
  for i, r in ipairs(rows) do
    local o = {}
    for ch = 0, c - 1 do
      for p = 0, h2 - 1 do
        for q = 0, w2 - 1 do
          local s = 0
          for a = 0, k - 1 do
            local base = ch * h * w + (p * k + a) * w + q * k + 1
            for b = 0, k - 1 do s = s + r[base + b] end
          end
          o[#o + 1] = s * inv
        end
      end
    end
    out[i] = o
  end
  local xt = tensor.new(out):reshape({#rows, c, h2, w2})
  return data.from_tensors(xt, y, {classes = ds.classes})
end

-- a synthetic image set: each class a fixed random 1 x s x s pattern, samples
-- are the pattern at a random contrast plus noise (learnable in an epoch)
local function synthetic(n, s, classes, seed)
  local t = tensor.rand({classes, s * s}, {seed = seed}):totable()
  local noise = tensor.rand({n, s * s}, {seed = seed + 1}):totable()
  local xs, ys = {}, {}
  for i = 1, n do
    local c = (i * 7919) % classes + 1
    local contrast = 0.6 + 0.4 * noise[i][1]
    local r = {}
    for j = 1, s * s do r[j] = math.min(1, math.max(0, contrast * t[c][j] + 0.6 * (noise[i][j] - 0.5))) end
    xs[i], ys[i] = r, c
  end
  return data.from_tensors(tensor.new(xs):reshape({n, 1, s, s}), ys, {classes = classes})
end

-- C.images(o, E) -> {train =, test =, name =}: Fashion-MNIST (first n-train /
-- n-test images), pooled by --downsample; --dataset synthetic (or --quick
-- without the data package) gives 8x8 synthetic images
function C.images(o, E)
  local name = o.dataset
  local ntr, nte = math.floor(o["n-train"]), math.floor(o["n-test"])
  if name == "spirals" and o.quick and not o.given.dataset then name = "fashion" end
  if name == "fashion" or name == "fashion_mnist" then
    local fm = data.fashion_mnist()
    if not fm and o.quick and not o.given.dataset then name = "synthetic"
    elseif not fm then error("fashion_mnist is not installed (use --dataset synthetic)", 0)
    else
      local ds = { train = fm.train:subset(math.min(ntr, #fm.train)),
                   test = fm.test:subset(math.min(nte, #fm.test)), name = "fashion_mnist" }
      local k = math.floor(o.downsample)
      if k > 1 then
        ds.train, ds.test = pool(ds.train, k), pool(ds.test, k)
        ds.name = string.format("fashion_mnist/%d", k)
      end
      return ds
    end
  end
  if name ~= "synthetic" then error("--dataset: expected fashion or synthetic, got '" .. tostring(name) .. "'", 0) end
  local all = synthetic(ntr + nte, 8, 4, 1)
  local idx_tr, idx_te = {}, {}
  for i = 1, ntr do idx_tr[i] = i end
  for i = 1, nte do idx_te[i] = ntr + i end
  return { train = all:subset(idx_tr), test = all:subset(idx_te), name = "synthetic 8x8" }
end

-- C.net(arch, ds, seed, vwidth, rwidth): arch "vgg11-bn" | "vgg11-ln" | "vgg11-none" |
-- "resnet20-bn" | ...; vwidth the VGG width multiplier, rwidth the ResNet's (an integer)
function C.net(arch, ds, seed, vwidth, rwidth)
  local fam, norm = arch:match("^(%a+%d+)%-(%a+)$")
  if not fam or (norm ~= "bn" and norm ~= "ln" and norm ~= "none") then
    error("unknown architecture '" .. tostring(arch) .. "' (vgg11-bn, vgg11-ln, vgg11-none, resnet20-bn, ...)", 0)
  end
  local input = { ds.train.shape[1], ds.train.shape[2], ds.train.shape[3] }
  if fam == "vgg11" or fam == "vgg13" or fam == "vgg16" then
    return nn.vgg{ depth = tonumber(fam:sub(4)), norm = norm ~= "none" and norm or nil, width = vwidth,
                   classes = ds.train.classes, input = input, seed = seed }
  elseif fam == "resnet20" then
    return nn.resnet20{ width = rwidth, norm = norm, classes = ds.train.classes, input = input, seed = seed }
  end
  error("unknown architecture '" .. arch .. "'", 0)
end

function C.has_bn(arch) return arch:match("%-bn$") ~= nil end

-- the grid of n alphas in [0, 1], ascending
function C.alphas(n)
  local t = {}
  n = math.max(2, math.floor(n))
  for i = 0, n - 1 do t[i + 1] = i / (n - 1) end
  return t
end

-- C.curve(a, b, test, alphas, fix) -> {alphas, err, loss, barrier = {err, loss, err_alpha}}
-- fix(alpha) returns the network at an interior alpha; the endpoints are a
-- (alpha = 1) and b (alpha = 0).  Barrier E = max over alpha of
-- E(alpha) - (alpha*E(1) + (1-alpha)*E(0)), as metrics.interpolate.
function C.curve(a, b, test, alphas, fix)
  local c = { alphas = alphas, err = {}, loss = {} }
  for i, al in ipairs(alphas) do
    local net = (al == 1 and a) or (al == 0 and b) or fix(al)
    local r = net:eval(test)
    c.err[i], c.loss[i] = r.err, r.loss
  end
  local e0, e1, l0, l1 = c.err[1], c.err[#alphas], c.loss[1], c.loss[#alphas]
  c.barrier = { err = -math.huge, loss = -math.huge }
  for i, al in ipairs(alphas) do
    local be, bl = c.err[i] - (al * e1 + (1 - al) * e0), c.loss[i] - (al * l1 + (1 - al) * l0)
    if be > c.barrier.err then c.barrier.err, c.barrier.err_alpha = be, al end
    if bl > c.barrier.loss then c.barrier.loss, c.barrier.loss_alpha = bl, al end
  end
  c.err_a, c.err_b = e1, e0
  return c
end

-- plain, BatchNorm-reset and REPAIRed paths between a and b; reset only for BN nets
function C.paths(a, b, ds, alphas, nrep, bn, log)
  local train = ds.train
  local n = math.min(math.floor(nrep), #train)
  local t0 = os.clock()
  local out = { plain = C.curve(a, b, ds.test, alphas, function(al) return nn.lerp(a, b, al) end) }
  out.plain.seconds = os.clock() - t0
  if bn then
    t0 = os.clock()
    out.reset = C.curve(a, b, ds.test, alphas, function(al)
      return nn.reset_bn(nn.lerp(a, b, al), train, { n = n })
    end)
    out.reset.seconds = os.clock() - t0
  end
  t0 = os.clock()
  out.repair = C.curve(a, b, ds.test, alphas, function(al)
    if log then log(string.format("REPAIR at alpha %.2f", al)) end
    return nn.repair(a, b, al, train, { n = n })
  end)
  out.repair.seconds = os.clock() - t0
  return out
end

-- a barrier table cell: the number, or "-" when the method does not apply
function C.cell(c, field) if c then return c.barrier[field] end return "-" end

-- The start of a conv-net experiment: options (with the quick-mode defaults q
-- where the user gave none), the output directory, the data and the header
-- lines.  Returns the options and the data.
function C.start(name, about, argv, extra, q, E)
  local o = E.options(name, about, argv, extra)
  if o.quick then
    for key, v in pairs(q) do if not o.given[key] then o[key] = v end end
  end
  E.mkdir(o.out)
  o.t0 = os.time()
  local ds = C.images(o, E)
  print(name .. ": " .. about)
  print(string.format("data %s: %d train, %d test, images %s; %g epochs, lr %g, batch %d%s", ds.name, #ds.train,
                      #ds.test, table.concat(ds.train.shape, "x"), o.epochs, o.lr, math.floor(o.batch),
                      o.quick and " (quick)" or ""))
  print("theta_alpha = alpha*A + (1-alpha)*B (alpha = 1 is A, alpha = 0 is B); errors are fractions")
  return o, ds
end

return C
