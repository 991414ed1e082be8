-- test_blas.lua - llfc.blas(): the sgemm backend (OpenBLAS or oneDNN), forcing it
-- from Lua and with LLFC_BLAS, its errors, threads, the measured rates, and
-- training on both backends (bit-identical on one, close across them).
local T = require "check"

local bin = os.getenv("LLFC") or (T.builddir .. "/llfc")
local b0 = llfc.blas()

T.section("what llfc.blas() reports", function()
  T.ok(b0.backend == "openblas" or b0.backend == "dnnl", "backend is openblas or dnnl", tostring(b0.backend))
  T.ok(b0.gemm:match("^OpenBLAS ") or b0.gemm:match("^oneDNN "), "gemm describes the library", b0.gemm)
  T.ok(b0.gemm:match("%d+ threads?%)$"), "gemm names the thread count", b0.gemm)
  T.ok(type(b0.isa) == "string" and #b0.isa > 0, "isa names the kernels' instruction set", tostring(b0.isa))
  T.ok(({avx512 = 1, avx2 = 1, avx = 1, sse = 1, unknown = 1})[b0.cpu], "cpu is llfc's detection", tostring(b0.cpu))
  T.ok(type(b0.reason) == "string" and #b0.reason > 0, "reason says why", tostring(b0.reason))
  if os.getenv("LLFC_BLAS") == nil or os.getenv("LLFC_BLAS") == "" then
    T.ok(b0.reason:match("^auto: ") and b0.reason:find(b0.core, 1, true), "without LLFC_BLAS the rule chose", b0.reason)
  end
  T.eq(b0.gflops, nil, "no measurement unless asked")
end)

local has_dnnl = pcall(llfc.blas, {backend = "dnnl"})
llfc.blas{backend = "auto"}

T.section("forcing a backend", function()
  local o = llfc.blas{backend = "openblas"}
  T.eq(o.backend, "openblas", "llfc.blas{backend = 'openblas'}")
  T.eq(o.reason, "set by the program", "the reason says it was forced")
  T.ok(o.gemm:match("^OpenBLAS %S+ %(" .. o.core .. " kernels"), "OpenBLAS with its kernel family", o.gemm)
  if has_dnnl then
    local d = llfc.blas{backend = "dnnl"}
    T.eq(d.backend, "dnnl", "llfc.blas{backend = 'dnnl'}")
    T.ok(d.gemm:match("^oneDNN %d+%.%d+%.%d+ %(") and d.gemm:find(d.isa, 1, true), "oneDNN with its ISA", d.gemm)
  else
    T.raises(function() llfc.blas{backend = "dnnl"} end, "oneDNN is not available", "no oneDNN: forcing it fails")
  end
  T.eq(llfc.blas{backend = "auto"}.backend, b0.backend, "auto gives the first choice back")
  T.raises(function() llfc.blas{backend = "mkl"} end, "llfc.blas: unknown BLAS backend 'mkl' (expected auto, openblas or dnnl)",
           "an unknown backend is an error")
  T.raises(function() llfc.blas{backend = 2} end, "backend", "backend must be a string")
  T.raises(function() llfc.blas{backnd = "dnnl"} end, "did you mean 'backend'", "a misspelt option is caught")
  T.raises(function() llfc.blas{measure = "yes"} end, "option 'measure' must be a boolean or seconds", "measure's type")
  T.raises(function() llfc.blas{threads = 0} end, "thread count must be between 1 and 1024", "threads = 0")
  T.eq(llfc.blas().backend, b0.backend, "a failed call changes nothing")
end)

T.section("threads", function()
  local backends = has_dnnl and {"openblas", "dnnl"} or {"openblas"}
  for _, be in ipairs(backends) do
    T.eq(llfc.blas{backend = be, threads = 1}.threads, 1, be .. ": threads = 1")
    T.ok(llfc.blas().gemm:match("1 thread%)$"), be .. ": the description follows", llfc.blas().gemm)
    llfc.blas(b0.threads)
    T.eq(llfc.blas().threads, b0.threads, be .. ": llfc.blas(n) sets it back")
  end
  llfc.blas{backend = "auto"}
end)

T.section("measured rates", function()
  local m = llfc.blas{measure = 0.02}
  local n = 0
  for _, k in ipairs{"2048x2048x2048", "128x512x784", "128x512x512"} do
    T.ok(type(m.gflops[k]) == "number" and m.gflops[k] > 0 and m.gflops[k] < 1e5, "gflops[" .. k .. "]",
         tostring(m.gflops[k]))
    n = n + 1
  end
  T.eq(n, 3, "three shapes measured")
end)

T.section("LLFC_BLAS", function()
  local function run(env, code)
    local p = io.popen(env .. " " .. T.sh_quote(bin) .. " -e " .. T.sh_quote(code) .. " 2>&1")
    local out = p:read("a")
    local ok, _, rc = p:close()
    return ok, rc, out
  end
  local ok, rc, out = run("LLFC_BLAS=openblas", "io.write(llfc.blas().backend, ' ', llfc.blas().reason)")
  T.ok(ok and out == "openblas LLFC_BLAS=openblas", "LLFC_BLAS=openblas", out)
  ok, rc, out = run("LLFC_BLAS=bogus", "print('ran')")
  T.ok(not ok and rc == 1 and out:find("llfc: LLFC_BLAS: unknown BLAS backend 'bogus' (expected auto, openblas or dnnl)", 1, true)
       and not out:find("ran"), "LLFC_BLAS=bogus stops llfc with the reason", out)
  if has_dnnl then
    ok, rc, out = run("LLFC_BLAS=dnnl", "io.write(llfc.blas().backend, ' ', llfc.blas().reason)")
    T.ok(ok and out == "dnnl LLFC_BLAS=dnnl", "LLFC_BLAS=dnnl", out)
  end
  ok, rc, out = run("LLFC_BLAS=dnnl", "io.write(llfc.blas{backend = 'openblas'}.backend)")
  T.ok(out == "openblas" or (not has_dnnl and out:find("oneDNN is not available")), "llfc.blas{} overrides LLFC_BLAS", out)
end)

-- the same seed on one backend gives the same bits; across backends the
-- weights of a short training run agree to float rounding
T.section("training on each backend", function()
  local ds = data.spirals{n = 600, classes = 3, noise = 0.2, split = 0.8, seed = 3}
  local function train(be)
    llfc.blas{backend = be}
    local net = nn.mlp{2, 64, 64, 3, seed = 1}
    net:train(ds.train, {epochs = 2, lr = 0.05, batch = 32, seed = 2, progress = false})
    return net
  end
  local function maxdiff(a, b)
    local pa, pb, m = a:params(), b:params(), 0
    for i = 1, #pa do m = math.max(m, (pa[i].tensor:clone():sub(pb[i].tensor):abs():max())) end
    return m
  end
  local backends = has_dnnl and {"openblas", "dnnl"} or {"openblas"}
  local nets = {}
  for _, be in ipairs(backends) do
    nets[be] = train(be)
    T.eq(maxdiff(nets[be], train(be)), 0, be .. ": the same seed gives bit-identical weights")
  end
  if has_dnnl then
    local d = maxdiff(nets.openblas, nets.dnnl)
    T.ok(d < 1e-3, "openblas and dnnl weights agree after 30 steps", string.format("max |diff| %.3g", d))
    T.ok(math.abs(nets.openblas:eval(ds.test).loss - nets.dnnl:eval(ds.test).loss) < 1e-4,
         "and so do their test losses")
  else
    T.skip("openblas vs dnnl", "no oneDNN")
  end
  llfc.blas{backend = "auto"}
end)

T.done()
