-- test_tensor.lua - the tensor module through the real binary: constructors,
-- views, arithmetic, reductions, mm, error messages, and .npy files shared
-- with NumPy (skipped when /usr/bin/python3 has no numpy).
local T = require "check"

local function close(a, b, tol)
  tol = tol or 1e-6
  return math.abs(a - b) <= tol * math.max(1, math.abs(b))
end

T.section("constructors", function()
  local a = tensor.new{{1, 2, 3}, {4, 5, 6}}
  T.eq(a:dim(), 2, "new: nested tables give a 2-d tensor")
  T.eq(a:size(1) * 10 + a:size(2), 23, "size(d)")
  T.eq(table.concat(a:shape(), "x"), "2x3", "shape() is a table")
  T.eq(#a, 2, "#t is the first size")
  T.eq(a:numel(), 6, "numel")
  T.eq(a:get(2, 3), 6, "get is 1-based")
  T.eq(tensor.new{}:numel(), 0, "new{} is empty")
  T.eq(table.concat(tensor.new{{}, {}}:shape(), "x"), "2x0", "new{{}, {}} is 2x0")
  T.eq(tensor.zeros(2, 3):sum(), 0, "zeros")
  T.eq(tensor.ones({2, 3}):sum(), 6, "ones with a table of sizes")
  T.eq(tensor.full(2, 2, 1.5):sum(), 6, "full")
  T.eq(tostring(tensor.arange(4)), "Tensor 4 float32 [0, 1, 2, 3]", "arange(n) starts at 0")
  T.eq(tostring(tensor.arange(1, 2, 0.5)), "Tensor 2 float32 [1, 1.5]", "arange(start, stop, step) excludes stop")
  T.eq(tostring(tensor.linspace(0, 1, 3)), "Tensor 3 float32 [0, 0.5, 1]", "linspace includes both ends")
  local r1, r2 = tensor.rand(3, 4, {seed = 5}), tensor.rand({3, 4}, 5)
  T.eq((r1 - r2):abs():max(), 0, "rand: same seed in both spellings, same values")
  T.ok(r1:max() < 1 and r1:min() >= 0, "rand is in [0, 1)")
  T.ok((tensor.randn(100, {seed = 1}) - tensor.randn(100, {seed = 2})):abs():sum() > 0, "randn: seeds differ")
  T.near(tensor.rand(4, {seed = 42}):get(1), tensor.rand(4, {seed = 42}):get(1), 0, "rand is reproducible")
  T.eq(tensor.new(a):get(1, 2), 2, "new(tensor) copies")
  T.ok(tensor.is(a) and not tensor.is({}), "tensor.is")
end)

T.section("views", function()
  local a = tensor.arange(12):view(3, 4)
  local n = a:narrow(2, 2, 2)
  n:set(1, 1, 100)
  T.eq(a:get(1, 2), 100, "narrow shares memory")
  local s = a:select(1, 3)
  T.eq(tostring(s), "Tensor 4 float32 [8, 9, 10, 11]", "select drops the dimension")
  s:fill(0)
  T.eq(a:get(3, 4), 0, "select shares memory")
  local t = a:t()
  T.eq(t:get(4, 3), a:get(3, 4), "t() transposes")
  T.ok(not t:is_contiguous() and t:contiguous():is_contiguous(), "contiguous")
  T.eq(tostring(a:transpose(1, 2):contiguous():view(12):narrow(1, 1, 3)), "Tensor 3 float32 [0, 4, 0]",
    "transpose + contiguous + view")
  T.eq(table.concat(a:view(2, -1):shape(), "x"), "2x6", "view infers -1")
  T.eq(table.concat(t:reshape{6, 2}:shape(), "x"), "6x2", "reshape of a transposed view")
  local c = a:clone()
  c:set(1, 1, -5)
  T.eq(a:get(1, 1), 0, "clone does not share")
  local d = tensor.zeros(4, 3)
  d:copy(a:t())
  T.eq(d:get(2, 1), 100, "copy from a view")
end)

T.section("arithmetic", function()
  local a = tensor.new{{1, 2}, {3, 4}}
  local b = tensor.new{{10, 20}, {30, 40}}
  T.eq((a + b):get(2, 2), 44, "tensor + tensor")
  T.eq((b - a):get(1, 2), 18, "tensor - tensor")
  T.eq((a * b):get(2, 1), 90, "tensor * tensor (elementwise)")
  T.eq((b / a):get(2, 2), 10, "tensor / tensor")
  T.eq((1 + a):get(1, 1), 2, "number + tensor")
  T.eq((10 - a):get(2, 2), 6, "number - tensor")
  T.eq((a * 2):get(2, 2), 8, "tensor * number")
  T.eq((12 / a):get(2, 2), 3, "number / tensor")
  T.eq((-a):get(1, 2), -2, "unary minus")
  local c = a:clone()
  T.ok(rawequal(c:add(b, 0.5), c) and c:get(2, 2) == 24, "add(u, alpha) in place returns self")
  c:sub(1):mul(2):div(a)
  T.eq(c:get(2, 2), (24 - 1) * 2 / 4, "in-place chain sub/mul/div")
  T.near(a:exp():log():get(2, 1), 3, 1e-6, "exp and log")
  T.eq(tensor.new{-1, 2}:relu():sum(), 2, "relu")
  T.eq(tensor.new{-4, 9}:abs():sqrt():sum(), 5, "abs and sqrt")
  T.eq(a:gt(2):sum(), 2, "gt mask")
  T.eq(a:le(b):sum(), 4, "le mask with a tensor")
  T.eq(a:eq(3):get(2, 1), 1, "eq mask is 1/0")
  T.eq(a:lt(2):sum() + a:ge(2):sum(), 4, "lt and ge partition")
end)

T.section("reductions", function()
  local a = tensor.new{{3, -1, 4}, {1, 5, -9}}
  T.eq(a:sum(), 3, "sum")
  T.near(a:mean(), 0.5, 1e-12, "mean")
  local v, i = a:max()
  T.ok(v == 5 and i == 5, "max returns the value and a 1-based flat index")
  v, i = a:min()
  T.ok(v == -9 and i == 6, "min")
  T.eq(a:argmax(), 5, "argmax")
  T.near(a:norm(), math.sqrt(9 + 1 + 16 + 1 + 25 + 81), 1e-6, "norm")
  T.eq(tostring(a:sum(1)), "Tensor 3 float32 [4, 4, -5]", "sum over dimension 1")
  T.eq(tostring(a:mean(2)), "Tensor 2 float32 [2, -1]", "mean over dimension 2")
  local mv, mi = a:max(2)
  T.eq(tostring(mv) .. " " .. tostring(mi), "Tensor 2 float32 [4, 5] Tensor 2 float32 [3, 2]",
    "max over a dimension gives values and 1-based indices")
  T.eq(tostring(a:argmax(1)), "Tensor 3 float32 [1, 2, 1]", "argmax over dimension 1")
  T.eq(a:dot(a), 9 + 1 + 16 + 1 + 25 + 81, "dot")
  T.eq(tensor.new{1, 2}:sum(1):totable(), 3, "a full reduction over a dimension gives a 0-d tensor")
end)

T.section("mm", function()
  -- against a naive loop in Lua, including transposed views and thin shapes
  for _, s in ipairs{{1, 5, 3}, {5, 1, 3}, {4, 3, 1}, {6, 7, 8}, {1, 1, 1}} do
    local M, N, K = s[1], s[2], s[3]
    local A = tensor.randn(K, M, {seed = M}):t()
    local B = tensor.randn(K, N, {seed = N + 100})
    local C = A:mm(B)
    local err = 0
    for i = 1, M do
      for j = 1, N do
        local acc = 0
        for k = 1, K do acc = acc + A:get(i, k) * B:get(k, j) end
        err = math.max(err, math.abs(acc - C:get(i, j)))
      end
    end
    T.ok(err < 1e-4, string.format("mm %dx%d @ %dx%d (A a transposed view) matches a naive loop", M, K, K, N))
  end
  local A = tensor.new{{1, 2}, {3, 4}, {5, 6}}
  T.eq(tostring(A:mm(tensor.new{1, 1})), "Tensor 3 float32 [3, 7, 11]", "matrix-vector")
  T.eq(tostring(tensor.new{1, 0, 1}:mm(A)), "Tensor 2 float32 [6, 8]", "vector-matrix")
  T.eq(table.concat(tensor.zeros(0, 3):mm(tensor.zeros(3, 2)):shape(), "x"), "0x2", "empty rows")
  T.eq(tensor.ones(2, 0):mm(tensor.ones(0, 2)):sum(), 0, "empty inner dimension gives zeros")
end)

T.section("errors", function()
  local a = tensor.zeros(3, 4)
  T.raises(function() return a:mm(tensor.zeros(5, 2)) end, "mm: size mismatch, 3x4 @ 5x2", "mm mismatch")
  T.raises(function() return a + tensor.zeros(4, 3) end, "add: size mismatch, 3x4 + 4x3", "+ mismatch")
  T.raises(function() return a + "x" end, "add: cannot combine a tensor with a string", "+ with a string")
  T.raises(function() return a:get(4, 1) end, "get: index 4 out of range for dimension 1 of size 3", "get out of range")
  T.raises(function() return a:get(1) end, "get: 1 index for a 2-d tensor (3x4)", "get with too few indices")
  T.raises(function() return a:set(0, 1, 5) end, "set: index 0 out of range", "set quotes the 1-based index")
  T.raises(function() return a:get(1, 1.5) end, "get: index 2 must be an integer, got 1.5", "fractional index")
  T.raises(function() return a:narrow(2, 4, 2) end, "narrow: start 4, length 2 out of range for dimension 2 of size 4",
    "narrow out of range")
  T.raises(function() return a:select(3, 1) end, "select: dimension 3 out of range for a 2-d tensor (3x4)",
    "select on a missing dimension")
  T.raises(function() return a:view(5, 2) end, "view: cannot view 3x4 (12 elements) as 5x2", "view count mismatch")
  T.raises(function() return a:t():view(12) end, "not contiguous", "view of a transposed view")
  T.raises(function() return tensor.zeros(-1, 2) end, "zeros: negative size -1 for dimension 1", "negative size")
  T.raises(function() return tensor.zeros(1e15) end, "zeros: tensor too large", "huge size")
  T.raises(function() return tensor.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end, "at most 8", "too many dimensions")
  T.raises(function() return tensor.new{{1, 2}, {3}} end, "new: element [2] has 1 entries, expected 2", "ragged nesting")
  T.raises(function() return tensor.new{{1, 2}, 3} end, "new: element [2] is a number, expected a table", "mixed nesting")
  T.raises(function() return tensor.new{1, "x"} end, "new: element [2] is a string, expected a number", "non-number")
  T.raises(function() return tensor.new(nil) end, "new: expected a (nested) table of numbers, got nil", "new(nil)")
  local loop = {}; loop[1] = loop
  T.raises(function() return tensor.new(loop) end, "nesting deeper than 8", "self-referencing table")
  T.raises(function() return a:sum(3) end, "sum: dimension 3 out of range for a 2-d tensor (3x4)", "sum dimension")
  T.raises(function() return tensor.zeros(0):max() end, "max: the tensor is empty", "max of an empty tensor")
  T.raises(function() return a:dot(tensor.zeros(5)) end, "dot: size mismatch, 3x4 . 5", "dot mismatch")
  T.raises(function() return a:copy(tensor.zeros(5)) end, "copy: 3x4 and 5 differ in element count", "copy mismatch")
  T.raises(function() return tensor.zeros(2, 2, 2):t() end, "t: expects a 2-d tensor, got 2x2x2", "t of 3-d")
  T.raises(function() return a:mul(a, 2) end, "mul: takes no scale factor", "mul with alpha")
  T.raises(function() return a.mm({}, a) end, "llfc.Tensor expected", "method on a non-tensor")
  T.raises(function() return tensor.arange(0, 1, 0) end, "arange: step must be finite and non-zero", "arange step 0")
end)

T.section("lifetime", function()
  local a = tensor.ones(2, 2)
  local v = a:narrow(1, 1, 1)
  local mt = getmetatable(a)
  mt.__close(a)
  mt.__gc(a)
  T.eq(tostring(a), "Tensor (freed)", "close is idempotent and tostring survives it")
  T.raises(function() return a:sum() end, "tensor has been freed", "using a closed tensor raises")
  T.raises(function() return a + 1 end, "freed tensor", "arithmetic on a closed tensor raises")
  T.eq(v:sum(), 2, "a view outlives the closed tensor it came from")
  do local b <close> = tensor.zeros(3) end
  collectgarbage()
  T.ok(true, "to-be-closed tensors close")
end)

T.section("totable and print", function()
  local tt = tensor.new{{1, 2}, {3, 4}}:t():totable()
  T.ok(tt[1][2] == 3 and tt[2][1] == 2 and #tt == 2, "totable of a transposed view")
  T.eq(tostring(tensor.arange(10):view(2, 5)), "Tensor 2x5 float32 [0, 1, 2, 3, 4, 5, ...]", "tostring is one line")
  local f = io.popen(string.format("%q -e 'tensor.arange(100):view(10, 10):print()'", T.builddir .. "/llfc"))
  local out = f:read("a")
  f:close()
  T.ok(out:find(" 0  1  2 ...  7  8  9\n10 11 12", 1, true) and out:find("[Tensor 10x10 float32]", 1, true),
    "print abbreviates a 10x10 tensor", out)
end)

T.section("npy", function()
  local dir = T.tmpname("_npy")
  os.execute("mkdir -p " .. dir)
  local a = tensor.randn(3, 4, {seed = 3})
  T.eq(a:t():save(dir .. "/a.npy"), true, "save returns true")
  local b = tensor.load(dir .. "/a.npy")
  T.eq((b - a:t()):abs():max(), 0, "load(save(t)) == t")
  local r, msg = tensor.load(dir .. "/missing.npy")
  T.ok(r == nil and msg:find("load: " .. dir .. "/missing.npy: cannot open", 1, true), "a missing file gives nil, message")
  r, msg = a:save("/nonexistent-dir/a.npy")
  T.ok(r == nil and msg:find("save: /nonexistent-dir/a.npy", 1, true), "save into a missing directory gives nil, message")
  local py = "/usr/bin/python3"
  local have = os.execute(py .. " -c 'import numpy' 2>/dev/null")
  if not have then
    T.skip("numpy interoperability", "no numpy for " .. py)
  else
    -- NumPy writes, llfc reads
    local script = dir .. "/w.py"
    local f = io.open(script, "w")
    f:write(string.format([=[
import numpy as np
d = %q
np.save(d + "/f4.npy", np.arange(12, dtype=np.float32).reshape(3, 4) / 4)
np.save(d + "/f8.npy", np.array([[1.5, -2.0], [3.25, 1e-3]]))
np.save(d + "/i8.npy", np.arange(-3, 3, dtype=np.int64).reshape(2, 3, 1))
np.save(d + "/i4.npy", np.array([7, -8], dtype=np.int32))
np.save(d + "/u1.npy", np.array([[0, 255], [128, 1]], dtype=np.uint8))
np.save(d + "/fo.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(d + "/be.npy", np.ones(3, dtype=">f4"))
np.save(d + "/obj.npy", np.array([{}, 1], dtype=object), allow_pickle=True)
np.save(d + "/sc.npy", np.float32(2.5))
]=], dir))
    f:close()
    T.ok(os.execute(py .. " " .. script), "numpy wrote the files")
    T.eq(tostring(tensor.load(dir .. "/f4.npy")), "Tensor 3x4 float32 [0, 0.25, 0.5, 0.75, 1, 1.25, ...]", "float32")
    T.eq(tostring(tensor.load(dir .. "/f8.npy")), "Tensor 2x2 float32 [1.5, -2, 3.25, 0.001]", "float64")
    T.eq(tostring(tensor.load(dir .. "/i8.npy")), "Tensor 2x3x1 float32 [-3, -2, -1, 0, 1, 2]", "int64")
    T.eq(tostring(tensor.load(dir .. "/i4.npy")), "Tensor 2 float32 [7, -8]", "int32")
    T.eq(tostring(tensor.load(dir .. "/u1.npy")), "Tensor 2x2 float32 [0, 255, 128, 1]", "uint8")
    T.eq(tensor.load(dir .. "/sc.npy"):totable(), 2.5, "0-d array")
    local t, m = tensor.load(dir .. "/fo.npy")
    T.ok(not t and m:find("fo.npy: Fortran-order arrays are not supported", 1, true), "Fortran order is refused", m)
    t, m = tensor.load(dir .. "/be.npy")
    T.ok(not t and m:find("big-endian", 1, true), "big-endian is refused", m)
    t, m = tensor.load(dir .. "/obj.npy")
    T.ok(not t and m:find("object arrays", 1, true), "object arrays are refused", m)
    -- llfc writes, NumPy reads
    local x = tensor.randn(2, 3, 4, {seed = 9})
    x:transpose(1, 3):save(dir .. "/x.npy")
    tensor.arange(5):sum(1):save(dir .. "/s.npy")
    tensor.zeros(0, 2):save(dir .. "/e.npy")
    f = io.open(script, "w")
    f:write(string.format([=[
import numpy as np
d = %q
x = np.load(d + "/x.npy")
assert x.dtype == np.float32 and x.shape == (4, 3, 2), (x.dtype, x.shape)
print("%%.9g %%.9g %%.9g" %% (x[3, 2, 1], x[0, 1, 1], x.sum(dtype=np.float64)))
s = np.load(d + "/s.npy"); assert s.shape == () and s == 10
e = np.load(d + "/e.npy"); assert e.shape == (0, 2)
print("ok")
]=], dir))
    f:close()
    local p = io.popen(py .. " " .. script .. " 2>&1")
    local out = p:read("a")
    p:close()
    local v1, v2, s = out:match("^(%S+) (%S+) (%S+)\n")
    T.ok(out:find("ok\n", 1, true), "numpy reads llfc's files", out)
    T.near(tonumber(v1) or 0 / 0, x:get(2, 3, 4), 1e-7, "numpy sees the same values (1)")
    T.near(tonumber(v2) or 0 / 0, x:get(2, 2, 1), 1e-7, "numpy sees the same values (2)")
    T.near(tonumber(s) or 0 / 0, x:sum(), 1e-6, "numpy's sum equals llfc's")
  end
  os.execute("rm -rf " .. dir)
end)

T.done()
