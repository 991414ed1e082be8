-- test_data.lua - the data module: Dataset userdata, synthetic sets, loaders,
-- safetensors inspection, files written by numpy independently of llfc.
local T = require "check"

T.section("synthetic sets", function()
  local d = data.blobs{}
  T.eq(#d, 1000, "blobs default n")
  T.eq(d.n, 1000, "ds.n")
  T.eq(d.dim, 2, "blobs default dim")
  T.eq(d.classes, 4, "blobs default classes")
  T.ok(tostring(d):find("1000 samples", 1, true), "tostring(ds)")
  local x, y = d:get(5)
  T.eq(getmetatable(x).__name, "llfc.Tensor", "get returns a tensor")
  T.eq(y, 1, "sample 5 has label 1 (i % classes, 1-based)")
  local labs = d:labels()
  local counts = {0, 0, 0, 0}
  for _, l in ipairs(labs) do counts[l] = counts[l] + 1 end
  T.ok(counts[1] == 250 and counts[4] == 250, "blobs balanced labels 1..4")
  local b3 = data.blobs{n = 30, classes = 3, dim = 5, noise = 0.5, seed = 7}
  T.ok(b3.n == 30 and b3.dim == 5 and b3.classes == 3, "blobs options")
  local m = data.moons{n = 101, noise = 0, seed = 2}
  T.ok(m.n == 101 and m.classes == 2 and m.dim == 2, "moons shape")
  local s = data.spirals{n = 300, classes = 5}
  T.ok(s.n == 300 and s.classes == 5, "spirals options")
  local sp = data.moons{n = 100, split = 0.8, seed = 3}
  T.ok(sp.train.n == 80 and sp.test.n == 20, "split option gives {train=, test=}")
  T.raises(function() data.blobs{n = 0} end, "data.blobs: n must be", "blobs n = 0 raises")
  T.raises(function() data.moons{noise = -1} end, "noise must be >= 0", "negative noise raises")
  T.raises(function() data.blobs{n = "x"} end, "option 'n' must be an integer", "bad option type raises")
end)

T.section("subset, split, order, batches", function()
  local d = data.blobs{n = 10, classes = 2, seed = 4}
  local s = d:subset{3, 1, 3}
  T.eq(#s, 3, "subset by indices")
  local _, l = s:get(1)
  T.eq(l, 1, "subset keeps labels (sample 3 -> label 1)")
  T.eq(#d:subset(4), 4, "subset(n) takes the first n")
  T.raises(function() d:subset{11} end, "out of range", "subset index out of range")
  T.raises(function() d:get(0) end, "out of range", "get(0) raises")
  local a, b = d:split(0.7, 1)
  T.ok(#a == 7 and #b == 3, "split 0.7 of 10")
  local o1, o2 = d:order(5), d:order(5)
  local seen, same = {}, true
  for i = 1, 10 do seen[o1[i]] = true; same = same and o1[i] == o2[i] end
  local all = true
  for i = 1, 10 do all = all and seen[i] end
  T.ok(all, "order is a permutation")
  T.ok(same, "order is reproducible for a seed")
  local n, nb = 0, 0
  for x, y, i in d:batches(4, 1) do n = n + 1; nb = i end
  T.eq(nb, 3, "batches(4) over 10 samples gives 3 batches")
  local nd, mean, std = data.blobs{n = 200, dim = 3}:normalize()
  T.eq(#mean, 1, "normalize() on vectors: one mean")
  local nd2, m2 = nd:normalize()
  T.near(m2[1], 0, 1e-5, "normalized data has mean 0")
end)

T.section("from_tensors", function()
  local d = data.blobs{n = 12, classes = 3, dim = 4}
  local x, y = d:tensors()
  local e = data.from_tensors(x, y)
  T.ok(e.n == 12 and e.dim == 4 and e.classes == 3, "from_tensors(ds:tensors()) round trip")
  local labs = {}
  for i = 1, 12 do labs[i] = (i % 3) + 1 end
  local f = data.from_tensors(x, labs, {classes = 5})
  T.eq(f.classes, 5, "classes option")
  local _, l = f:get(3)
  T.eq(l, 1, "labels from a Lua table are 1-based")
  T.raises(function() data.from_tensors(x, {1, 2}) end, "12 samples in x but 2 labels", "count mismatch raises")
  labs[2] = 0
  T.raises(function() data.from_tensors(x, labs) end, "not a positive integer", "label 0 raises")
  labs[2] = 6
  T.raises(function() data.from_tensors(x, labs, {classes = 5}) end, "out of range [1, 5]", "label above classes raises")
end)


-- files written and checked by numpy, independently of llfc's code
local PY = "/usr/bin/python3"
local function py(script, ...)
  local f = T.tmpname(".py")
  local h = io.open(f, "w"); h:write(script); h:close()
  local args = {}
  for _, a in ipairs({...}) do args[#args + 1] = "'" .. a .. "'" end
  local p = io.popen(PY .. " " .. f .. " " .. table.concat(args, " ") .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  os.remove(f)
  return ok, out
end
local have_numpy = py("import numpy")

T.section("safetensors with numpy", function()
  if not have_numpy then T.skip("safetensors with numpy", "/usr/bin/python3 with numpy not available"); return end
  local a, b = T.tmpname(".safetensors"), T.tmpname(".safetensors")
  -- numpy writes the bytes by hand
  local ok, out = py([==[
import json, struct, sys
import numpy as np
w = (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4)
b = np.array([0.1, -2.5, 1e-3], dtype=np.float64)
h = np.array([1.0, -0.5, 65504.0], dtype=np.float16)
n = np.array([[7, -8]], dtype=np.int64)
parts, hdr, off = [], {"__metadata__": {"arch": "mlp", "widths": "4,3"}}, 0
for name, arr, dt in (("0.weight", w, "F32"), ("0.bias", b, "F64"), ("half", h, "F16"), ("count", n, "I64")):
    raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    hdr[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
    parts.append(raw); off += len(raw)
js = json.dumps(hdr).encode()
js += b" " * (-len(js) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(js)) + js + b"".join(parts))
]==], a)
  T.ok(ok, "numpy wrote a safetensors file", out)
  local t, meta, names = data.safetensors_read(a)
  T.ok(t and t["0.weight"] and t["0.bias"] and t.half and t.count, "read: all tensors present")
  T.eq(meta.arch, "mlp", "read: metadata arch")
  T.eq(meta.widths, "4,3", "read: metadata widths")
  T.eq(table.concat(names, " "), "0.weight 0.bias half count", "read: names in header order")
  -- shape of 0.weight through a dataset view: [3, 4] -> 3 samples of dim 4
  local ds = data.from_tensors(t["0.weight"], {1, 1, 1})
  T.ok(ds.n == 3 and ds.dim == 4, "read: 0.weight is 3x4")
  -- llfc writes back; numpy parses by hand and compares values
  T.ok(data.safetensors_write(b, t, {arch = "mlp", note = 'q"uote'}), "llfc wrote a safetensors file")
  ok, out = py([==[
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
assert n % 8 == 0, "header length not a multiple of 8"
hdr = json.loads(raw[8:8 + n])
data = raw[8 + n:]
assert hdr["__metadata__"] == {"arch": "mlp", "note": 'q"uote'}, hdr["__metadata__"]
def get(k):
    e = hdr[k]; assert e["dtype"] == "F32", e
    b0, b1 = e["data_offsets"]
    return np.frombuffer(data[b0:b1], dtype="<f4").reshape(e["shape"])
w = (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4)
assert (get("0.weight") == w).all()
assert (get("0.bias") == np.array([0.1, -2.5, 1e-3], dtype=np.float64).astype(np.float32)).all()
assert (get("half") == np.array([1.0, -0.5, 65504.0], dtype=np.float32)).all()
assert get("count").shape == (1, 2) and (get("count") == [[7, -8]]).all()
ends = sorted(e["data_offsets"] for k, e in hdr.items() if k != "__metadata__")
assert ends[0][0] == 0 and all(x[1] == y[0] for x, y in zip(ends, ends[1:])) and ends[-1][1] == len(data)
print("checked")
]==], b)
  T.ok(ok and out:find("checked"), "numpy parsed llfc's file: values, dtypes, offsets, metadata", out)
  -- a dataset written by llfc, checked by numpy against the documented labels
  local x, y = data.blobs{n = 10, classes = 3, dim = 2, seed = 5}:tensors()
  data.safetensors_write(b, {x = x, y = y})
  ok, out = py([==[
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
assert "__metadata__" not in hdr
assert hdr["x"]["shape"] == [10, 2] and hdr["y"]["shape"] == [10]
b0, b1 = hdr["y"]["data_offsets"]
y = np.frombuffer(raw[8 + n + b0:8 + n + b1], dtype="<f4")
assert (y == np.arange(10) % 3 + 1).all(), y
print("checked")
]==], b)
  T.ok(ok and out:find("checked"), "numpy read llfc's dataset tensors (labels 1-based)", out)
  -- hostile file from Lua: a clear error, not a crash
  local h = io.open(a, "wb"); h:write(string.pack("<I8", 1000) .. "{}"); h:close()
  T.raises(function() data.safetensors_read(a) end, "beyond the end of the file", "hostile file raises a clear error")
  local none, msg = data.safetensors_read(a .. ".missing")
  T.ok(none == nil and msg:find("missing", 1, true), "missing file returns nil, message")
  os.remove(a); os.remove(b)
end)

T.section("idx and cifar files from Lua", function()
  local dir = T.tmpname("-idx")
  os.execute("mkdir -p '" .. dir .. "'")
  local function put(name, s) local h = io.open(dir .. "/" .. name, "wb"); h:write(s); h:close() end
  local img = {string.pack(">I4I4I4I4", 0x803, 3, 2, 2)}
  for i = 0, 11 do img[#img + 1] = string.char(i * 20) end
  put("train-images-idx3-ubyte", table.concat(img))
  put("train-labels-idx1-ubyte", string.pack(">I4I4", 0x801, 3) .. "\0\9\4")
  put("t10k-images-idx3-ubyte", table.concat(img))
  put("t10k-labels-idx1-ubyte", string.pack(">I4I4", 0x801, 3) .. "\1\2\3")
  local ds = data.idx(dir .. "/train-images-idx3-ubyte", dir .. "/train-labels-idx1-ubyte")
  T.ok(ds.n == 3 and ds.dim == 4 and ds.shape[1] == 1 and ds.shape[2] == 2, "data.idx: 3 images of 1x2x2")
  local l = ds:labels()
  T.ok(l[1] == 1 and l[2] == 10 and l[3] == 5, "data.idx: labels 1-based")
  local _, mean = ds:normalize()
  T.near(mean[1], (0 + 220) / 2 / 255, 1e-6, "data.idx: pixels are byte/255 (mean)")
  local m = data.mnist(dir)
  T.ok(m.train.n == 3 and m.test.n == 3, "data.mnist(dir) gives {train=, test=}")
  put("train-labels-idx1-ubyte", string.pack(">I4I4", 0x801, 3) .. "\0\10\4")
  T.raises(function() data.mnist(dir) end, "label 10 of item 2 out of range", "label out of range raises, naming the problem")
  T.raises(function() data.mnist(dir) end, "train-labels-idx1-ubyte", "the error names the file")
  put("train-labels-idx1-ubyte", string.pack(">I4I4", 0x801, 2) .. "\0\1")
  T.raises(function() data.idx(dir .. "/train-images-idx3-ubyte", dir .. "/train-labels-idx1-ubyte") end,
           "3 images but", "count mismatch raises")
  local none, msg = data.fashion_mnist(dir .. "/nowhere")
  T.ok(none == nil and msg:find("dataset-fashion-mnist", 1, true), "missing Fashion-MNIST says which package to get")
  -- CIFAR-10: 1 label byte + 3072 bytes a record
  local function rec(label, v) return string.char(label) .. string.rep(string.char(v), 3072) end
  for k = 1, 5 do put("data_batch_" .. k .. ".bin", rec(k, k) .. rec(0, 255)) end
  put("test_batch.bin", rec(9, 51))
  local c = data.cifar10(dir)
  T.ok(c.train.n == 10 and c.test.n == 1 and c.train.dim == 3072, "data.cifar10: 10 train, 1 test")
  T.ok(c.train.shape[1] == 3 and c.train.shape[3] == 32, "data.cifar10: 3x32x32")
  T.eq(c.test:labels()[1], 10, "data.cifar10: label 9 -> 10 at the Lua boundary")
  local _, cm = c.test:normalize()
  T.eq(#cm, 3, "image normalize(): per-channel statistics")
  T.near(cm[2], 51 / 255, 1e-6, "cifar pixel/255")
  T.eq(table.concat(c.train:labels(), ","), "2,1,3,1,4,1,5,1,6,1", "data.cifar10: batches 1..5 in order")
  T.near(c.train:get(5):get(3072), 3 / 255, 1e-7, "data.cifar10: record 1 of batch 3, last (blue) pixel")
  local sub = c.train:subset{1, 3}
  T.eq(tostring(sub.shape), "{3, 32, 32}", "data.cifar10: a subset keeps 3x32x32")
  put("data_batch_2.bin", rec(1, 1) .. string.char(10) .. string.rep("\0", 3072))
  T.raises(function() data.cifar10(dir) end, "data_batch_2.bin: label 10 of record 2", "cifar: bad label names file and record")
  put("data_batch_2.bin", rec(2, 2) .. rec(0, 255))
  put("test_batch.bin", rec(9, 51):sub(1, 3000))
  T.raises(function() data.cifar10(dir) end, "test_batch.bin: size 3000", "truncated cifar raises")
  os.remove(dir .. "/test_batch.bin")
  local none2, msg2 = data.cifar10(dir)
  T.ok(none2 == nil and msg2:find("test_batch.bin", 1, true) and msg2:find("cifar-10-binary", 1, true),
       "cifar: a missing test batch returns nil and a message with what to get", msg2)
  os.execute("rm -rf '" .. dir .. "'")
end)

T.section("npy with numpy", function()
  if not have_numpy then T.skip("npy with numpy", "/usr/bin/python3 with numpy not available"); return end
  local xf, yf, zf = T.tmpname(".npy"), T.tmpname(".npy"), T.tmpname(".npy")
  local ok, out = py([==[
import sys
import numpy as np
np.save(sys.argv[1], (np.arange(30, dtype=np.uint8).reshape(5, 2, 3)))
np.save(sys.argv[2], np.array([0, 4, 2, 1, 0], dtype=np.int64))
np.save(sys.argv[3], np.array([0, 1, 2], dtype=np.int64))
]==], xf, yf, zf)
  T.ok(ok, "numpy wrote x.npy and y.npy", out)
  local ds = data.npy(xf, yf)
  T.ok(ds.n == 5 and ds.dim == 6 and ds.classes == 5, "data.npy: 5 samples of dim 6, classes = max label + 1")
  T.eq(tostring(ds.shape), "{1, 2, 3}", "data.npy: x [n, h, w] gives grayscale images 1 x h x w")
  local x, l = ds:get(2)
  T.eq(l, 5, "data.npy: file labels are 0-based, Lua labels 1-based")
  T.eq(x:get(1), 6, "data.npy: values as stored")
  local s = data.npy(xf, yf, {scale = 1 / 255, classes = 10})
  T.near(s:get(5):get(6), 29 / 255, 1e-7, "data.npy: scale option")
  T.eq(s.classes, 10, "data.npy: classes option")
  T.raises(function() data.npy(xf, yf, {classes = 4}) end, "label 4 of item 2 out of range [0, 4)", "data.npy: label out of range")
  T.raises(function() data.npy(xf, zf) end, "has 5 samples but", "data.npy: count mismatch names the files")
  local none, msg = data.npy(xf, yf .. ".missing")
  T.ok(none == nil and msg:find(".missing", 1, true), "data.npy: missing file returns nil, message")
  os.remove(xf); os.remove(yf); os.remove(zf)
end)

T.section("tensor values", function()
  local x = tensor.new{{1, 2, 3}, {4, 5, 6}}
  local ds = data.from_tensors(x, tensor.new{2, 1})
  local v, l = ds:get(2)
  T.ok(v:get(1) == 4 and v:get(3) == 6 and l == 1, "from_tensors/get: values and labels")
  local xx, yy = ds:tensors()
  T.ok(xx:get(1, 2) == 2 and yy:get(1) == 2 and xx:shape()[2] == 3, "tensors(): x [n, dim], y 1-based")
  local im = data.from_tensors(tensor.zeros(2, 3, 4, 5), {1, 1})
  T.ok(im.dim == 60 and im.shape[1] == 3 and im.shape[3] == 5, "from_tensors: [n, c, h, w] keeps the image shape")
  local xi = im:tensors{images = true}
  T.eq(#xi:shape(), 4, "tensors{images = true}: [n, c, h, w]")
  local nd = ds:normalize{mean = {1, 2, 3}, std = 2}
  T.eq(nd:get(2):get(3), 1.5, "normalize{mean = per-feature, std = scalar}")
  T.raises(function() ds:normalize{std = 0} end, "must be > 0", "normalize: std 0 raises")
  local m = data.moons{n = 4, noise = 0}
  T.near(m:get(1):get(1), 1, 1e-6, "moons: first point (cos 0, sin 0)")
  T.near(m:get(2):get(2), 0.5, 1e-6, "moons: second class starts at (0, 0.5)")
  local n, total = 0, 0
  for xb, yb, k in data.blobs{n = 10, classes = 2}:batches(4, 7) do
    n = n + 1; total = total + xb:shape()[1]
    T.eq(xb:shape()[1], yb:shape()[1], "batch " .. k .. ": x and y agree")
  end
  T.ok(n == 3 and total == 10, "batches cover every sample once")
end)

T.section("real Fashion-MNIST", function()
  local f = data.fashion_mnist()
  if not f then T.skip("real Fashion-MNIST", "/usr/share/datasets/fashion-mnist not installed"); return end
  T.ok(f.train.n == 60000 and f.train.dim == 784, "train 60000 x 784")
  T.ok(f.test.n == 10000 and f.test.dim == 784, "test 10000 x 784")
  local lo, hi, counts = 99, 0, {}
  for _, l in ipairs(f.test:labels()) do
    lo, hi = math.min(lo, l), math.max(hi, l); counts[l] = (counts[l] or 0) + 1
  end
  T.ok(lo == 1 and hi == 10 and counts[1] == 1000, "test labels 1..10, 1000 each")
  local _, mean, std = f.test:normalize()
  T.ok(mean[1] > 0.2 and mean[1] < 0.4 and std[1] > 0.2 and std[1] < 0.5, "pixel statistics in [0,1] scale (mean " .. mean[1] .. ")")
end)

T.section("train/test pairs print as a summary", function()
  local s = data.spirals{n = 100, classes = 3, split = 0.8, seed = 1}
  local txt = tostring(s)
  T.eq(txt, "datasets:\n  train  " .. tostring(s.train) .. "\n  test   " .. tostring(s.test),
       "a split prints one line per dataset")
  T.ok(tostring(s.train):find("80 samples", 1, true) and tostring(s.test):find("20 samples", 1, true), "with their sizes")
  s.note = "x"
  T.ok(tostring(s):find("(+1 more field)", 1, true), "other fields are counted")
  s.test = 7
  T.ok(tostring(s):find("test   (a number)", 1, true), "a replaced field never makes printing fail")
  local fm = data.fashion_mnist()
  if fm then
    T.ok(tostring(fm):find("^datasets:\n  train  llfc.Dataset%(fashion_mnist train: 60000 samples"),
         "data.fashion_mnist() prints as a summary, not table: 0x...", tostring(fm))
  else
    T.skip("data.fashion_mnist() prints as a summary", "/usr/share/datasets/fashion-mnist not installed")
  end
end)

T.done()
