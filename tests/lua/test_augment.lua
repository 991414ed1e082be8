-- test_augment.lua - sample shapes of datasets (ds.shape, ds:shape(), kept by
-- subset/split/normalize, image tensors), Dataset:augment checked pixel by
-- pixel against the definition, and the training option augment on
-- net:train, nn.spawn and nn.pair: reproducible, different from no
-- augmentation, refused on flat data.
local T = require "check"

local function same_weights(a, b)
  local pa, pb = a:params(), b:params()
  for i = 1, #pa do
    if pa[i].tensor:clone():sub(pb[i].tensor):abs():max() ~= 0 then return false end
  end
  return true
end

-- n images c x h x w whose pixel k (1-based, NCHW within a sample) is base + k
local function coded_images(n, c, h, w, base)
  local rows = {}
  for s = 1, n do
    local r = {}
    for k = 1, c * h * w do r[k] = (base or 0) + k end
    rows[s] = r
  end
  local x = tensor.new(rows):reshape(n, c, h, w)
  local y = {}
  for s = 1, n do y[s] = (s - 1) % 3 + 1 end
  return data.from_tensors(x, y, {classes = 3})
end

T.section("sample shapes", function()
  local im = coded_images(6, 3, 4, 5)
  T.ok(im.shape[1] == 3 and im.shape[2] == 4 and im.shape[3] == 5 and #im.shape == 3, "ds.shape of image data: {c, h, w}")
  local s = im:shape()
  T.ok(s[1] == 3 and s[2] == 4 and s[3] == 5, "ds:shape() works as well")
  T.eq(tostring(im.shape), "{3, 4, 5}", "a shape prints as {c, h, w}")
  local flat = data.blobs{n = 10, dim = 7}
  T.ok(#flat.shape == 1 and flat.shape[1] == 7 and flat:shape()[1] == 7, "flat data: shape {dim}")
  T.eq(im:subset{2, 1}.shape[3], 5, "subset keeps the shape")
  local a, b = im:split(0.5, 3)
  T.ok(a.shape[1] == 3 and b.shape[2] == 4, "split keeps the shape")
  T.eq(im:normalize().shape[1], 3, "normalize keeps the shape")
  local parts = data.blobs{n = 10, split = 0.5}
  T.eq(#parts.train.shape, 1, "split option of a flat set: still flat")
  local x2 = im:tensors()
  local x4 = im:tensors{images = true}
  T.eq(#x2:shape(), 2, "tensors(): x [n, dim] by default (as before)")
  T.ok(#x4:shape() == 4 and x4:shape()[2] == 3 and x4:shape()[4] == 5, "tensors{images = true}: x [n, c, h, w]")
  -- NCHW: element (s, ch, i, j) is flat index ((ch-1)*h + i-1)*w + j
  T.eq(x4:get(2, 2, 3, 4), x2:get(2, (1 * 4 + 2) * 5 + 4), "image tensor and flat rows agree in NCHW order")
  T.raises(function() im:tensors{image = true} end, "did you mean 'images'", "tensors{image = true}: the typo is named")
  local back = data.from_tensors(x4, im:labels())
  T.eq(tostring(back.shape), "{3, 4, 5}", "from_tensors of an image tensor keeps the shape")
end)

-- Read image s of an augmented 1 x h x w dataset of coded pixels back into
-- its transform: returns oy, ox, f (crop shift and flip) and whether the
-- whole image matches out(i, j) = in(i + oy, J + ox), J = f and w-1-j or j,
-- zero outside.
local function infer(x, s, h, w)
  local px = {}
  for k = 1, h * w do px[k] = x:get(s, k) end
  for i = 0, h - 1 do
    for j = 0, w - 2 do
      local v, v2 = px[i * w + j + 1], px[i * w + j + 2]
      if v ~= 0 and v2 ~= 0 then
        local si, sj, sj2 = (v - 1) // w, (v - 1) % w, (v2 - 1) % w
        local f = sj2 == sj - 1
        local J = f and w - 1 - j or j
        local oy, ox = si - i, sj - J
        local good = true
        for ii = 0, h - 1 do
          for jj = 0, w - 1 do
            local JJ = f and w - 1 - jj or jj
            local a, b = ii + oy, JJ + ox
            local want = (a >= 0 and a < h and b >= 0 and b < w) and a * w + b + 1 or 0
            if px[ii * w + jj + 1] ~= want then good = false end
          end
        end
        return oy, ox, f, good
      end
    end
  end
  return nil
end

T.section("Dataset:augment", function()
  local h, w, n = 8, 8, 3000
  local ds = coded_images(n, 1, h, w)
  local a = ds:augment{crop = 4, flip = true, seed = 5}
  T.ok(a.n == n and tostring(a.shape) == "{1, 8, 8}", "augment keeps n and the shape")
  T.ok(table.concat(a:labels(), ",") == table.concat(ds:labels(), ","), "augment keeps the labels")
  local x = a:tensors()
  local seen, nseen, bad, flips = {}, 0, 0, 0
  for s = 1, n do
    local oy, ox, f, good = infer(x, s, h, w)
    if not good then bad = bad + 1
    else
      local key = oy .. "," .. ox .. "," .. tostring(f)
      if not seen[key] then seen[key] = 0; nseen = nseen + 1 end
      seen[key] = seen[key] + 1
      if f then flips = flips + 1 end
      if math.abs(oy) > 4 or math.abs(ox) > 4 then bad = bad + 1 end
    end
  end
  T.eq(bad, 0, "every augmented image is a shifted crop with zero padding, maybe mirrored")
  T.eq(nseen, 162, "all 81 crop offsets and both flips occur")
  T.ok(flips > 1300 and flips < 1700, "about half are flipped", flips .. " of 3000")
  local lo, hi = n, 0
  for _, c in pairs(seen) do lo = math.min(lo, c); hi = math.max(hi, c) end
  T.ok(lo >= 5 and hi <= 40, "near uniform (expected 18.5 each)", lo .. ".." .. hi)

  local again = ds:augment{crop = 4, flip = true, seed = 5}:tensors()
  T.eq(again:clone():sub(x):abs():max(), 0, "the same seed gives the same augmentation")
  local other = ds:augment{crop = 4, flip = true, seed = 6}:tensors()
  T.ok(other:clone():sub(x):abs():max() > 0, "another seed, another augmentation")
  local id = ds:augment{crop = 0, flip = false}:tensors()
  T.eq(id:clone():sub((ds:tensors())):abs():max(), 0, "crop = 0, flip = false: the identity")
  -- flip only: mirror images, rows reversed
  local fl = coded_images(40, 2, 3, 4):augment{crop = 0, seed = 2}
  local fx, ox4 = fl:tensors{images = true}, coded_images(40, 2, 3, 4):tensors{images = true}
  local mirrored, same, other_ = 0, 0, 0
  for s = 1, 40 do
    local m, e = true, true
    for ch = 1, 2 do for i = 1, 3 do for j = 1, 4 do
      if fx:get(s, ch, i, j) ~= ox4:get(s, ch, i, 5 - j) then m = false end
      if fx:get(s, ch, i, j) ~= ox4:get(s, ch, i, j) then e = false end
    end end end
    if m then mirrored = mirrored + 1 elseif e then same = same + 1 else other_ = other_ + 1 end
  end
  T.ok(other_ == 0 and mirrored > 8 and same > 8, "flip mirrors every channel row by row, about half the time",
       mirrored .. " mirrored, " .. same .. " unchanged, " .. other_ .. " other")
  -- with the default options: crop 4 and flip on CIFAR-like shapes
  local c = coded_images(4, 3, 32, 32):augment()
  T.eq(tostring(c.shape), "{3, 32, 32}", "augment() with defaults on 3x32x32")
  T.raises(function() data.blobs{n = 10}:augment() end, "flat samples of dim 2", "augment refuses flat data")
  T.raises(function() ds:augment{crop = 9} end, "'crop' = 9 out of range [0, 8]", "crop larger than the image raises")
  T.raises(function() ds:augment{crop = 4, fip = true} end, "did you mean 'flip'", "typo in augment options")
end)

T.section("training with augment", function()
  local ds = data.from_tensors(tensor.rand(120, 2, 6, 6), (function()
    local y = {}
    for i = 1, 120 do y[i] = (i - 1) % 3 + 1 end
    return y
  end)())
  local opts = {steps = 30, lr = 0.05, batch = 16, seed = 3, progress = false, augment = true}
  local a, b, c = nn.mlp{72, 16, 3, seed = 1}, nn.mlp{72, 16, 3, seed = 1}, nn.mlp{72, 16, 3, seed = 1}
  local h = a:train(ds, opts)
  b:train(ds, opts)
  T.ok(same_weights(a, b), "augment = true: the same seed gives bit-identical weights")
  T.ok(h.augment and h.augment.crop == 4 and h.augment.flip == true, "the history records augment {crop = 4, flip = true}")
  opts.augment = nil
  local h2 = c:train(ds, opts)
  T.ok(not same_weights(a, c), "training with augment differs from training without")
  T.eq(h2.augment, nil, "no augment in the history without it")
  local d, e = nn.mlp{72, 16, 3, seed = 1}, nn.mlp{72, 16, 3, seed = 1}
  opts.augment = {crop = 0, flip = false}
  d:train(ds, opts)
  T.ok(same_weights(c, d), "augment = {crop = 0, flip = false} trains as without augment")
  opts.augment = {crop = 4, flip = true}
  e:train(ds, opts)
  T.ok(same_weights(a, e), "augment = {crop = 4, flip = true} is augment = true")
  opts.augment = {crop = 2}
  local f = nn.mlp{72, 16, 3, seed = 1}
  f:train(ds, opts)
  T.ok(not same_weights(a, f), "augment = {crop = 2}: another padding, other weights")

  -- spawn copies the augmentation stream: children with seed0 continue the run exactly
  local sopts = {epochs = 3, k = 1, lr = 0.05, batch = 16, seed0 = 4, seeds = {4, 4}, progress = false, augment = true}
  local init = nn.mlp{72, 16, 3, seed = 2}
  local sa, sb, info = nn.spawn(init, ds, sopts)
  local ref = init:clone()
  ref:train(ds, {epochs = 3, lr = 0.05, batch = 16, seed = 4, progress = false, augment = true})
  T.ok(same_weights(sa, ref) and same_weights(sb, ref), "spawn with augment and seeds = seed0 equals an uninterrupted run")
  T.ok(info.a.augment and info.a.augment.crop == 4, "spawn histories record augment")
  sopts.seeds = {5, 6}
  local ta, tb = nn.spawn(init, ds, sopts)
  local ta2 = nn.spawn(init, ds, sopts)
  T.ok(not same_weights(ta, tb) and same_weights(ta, ta2), "spawn children with augment: reproducible, and differ by seed")

  local pa, pb = nn.pair({72, 16, 3}, ds, {steps = 20, lr = 0.05, batch = 16, progress = false, augment = true})
  local qa = nn.pair({72, 16, 3}, ds, {steps = 20, lr = 0.05, batch = 16, progress = false, augment = true})
  local ra = nn.pair({72, 16, 3}, ds, {steps = 20, lr = 0.05, batch = 16, progress = false})
  T.ok(same_weights(pa, qa) and not same_weights(pa, ra), "nn.pair with augment: reproducible, differs from without")

  local flat = data.blobs{n = 50, classes = 3, dim = 72}
  T.raises(function() nn.mlp{72, 4, 3}:train(flat, {augment = true, steps = 1}) end,
           "train: option 'augment' needs images", "augment on flat data names the option")
  T.raises(function() nn.spawn(nn.mlp{72, 4, 3}, flat, {augment = {crop = 2}, epochs = 1}) end,
           "nn.spawn: option 'augment'", "spawn: augment on flat data raises")
  T.raises(function() nn.pair({72, 4, 3}, flat, {augment = true}) end, "nn.pair: option 'augment'",
           "pair: augment on flat data raises")
  T.ok(pcall(function() nn.mlp{72, 4, 3}:train(flat, {augment = false, steps = 1, progress = false}) end),
       "augment = false is fine on flat data")
  T.raises(function() nn.mlp{72, 4, 3}:train(ds, {augment = {crop = 7}, steps = 1}) end,
           "crop = 7 out of range [0, 6] for 6x6 images", "crop beyond the image raises")
  T.raises(function() nn.mlp{72, 4, 3}:train(ds, {augment = {crop = 4, mirror = true}, steps = 1}) end,
           "unknown field mirror", "unknown augment field raises")
  T.raises(function() nn.mlp{72, 4, 3}:train(ds, {augment = "yes", steps = 1}) end,
           "must be true, false or {crop = 4, flip = true}", "augment of a wrong type raises")
  T.raises(function() nn.mlp{72, 4, 3}:train(ds, {augmnet = true, steps = 1}) end, "did you mean 'augment'",
           "typo of augment is named")
end)

T.section("image batches into networks", function()
  local ds = coded_images(5, 2, 3, 4)
  local x2, x4 = ds:tensors(), ds:tensors{images = true}
  local net = nn.mlp{24, 6, 3, seed = 1}
  T.eq(net:forward(x4):clone():sub(net:forward(x2)):abs():max(), 0, "forward of [n, c, h, w] equals forward of its rows")
  local f2, f4 = net:features(x2), net:features(x4)
  T.eq(f4[1].post:clone():sub(f2[1].post):abs():max(), 0, "features of an image batch equal those of its rows")
  T.raises(function() net:forward(tensor.zeros(5, 2, 3, 5)) end, "c*h*w = 24", "an image batch of the wrong size raises")
end)

T.section("conv net with augment", function()
  if not nn.vgg then T.skip("conv net with augment", "no nn.vgg"); return end
  local y = {}
  for i = 1, 64 do y[i] = (i - 1) % 2 + 1 end
  local ds = data.from_tensors(tensor.rand(64, 1, 8, 8), y)
  local ok, net = pcall(nn.vgg, {layers = {4, "M"}, input = {1, 8, 8}, classes = 2, seed = 1})
  if not ok then T.skip("conv net with augment", tostring(net)); return end
  local a, b = net:clone(), net:clone()
  local opts = {steps = 6, lr = 0.05, batch = 16, progress = false, augment = {crop = 2, flip = true}}
  a:train(ds, opts)
  b:train(ds, opts)
  T.ok(same_weights(a, b), "a conv net trains with augment, bit-reproducibly")
end)

T.done()
