-- test_conv_backend.lua - llfc.blas() reports what computes convolutions.
local T = require "check"
local c = llfc.blas().conv
T.ok(type(c) == "string" and (c:match("^oneDNN %d+%.%d+%.%d+ %(.+%)$") or c:match("^im2col %+ OpenBLAS %(.+%)$")),
     "llfc.blas().conv names oneDNN with its version or im2col with the reason: " .. tostring(c))
-- with oneDNN in use, the instruction set and the thread policy are named
if c:match("^oneDNN") then
  T.ok(c:match("avx") or c:match("sse"), "llfc.blas().conv names oneDNN's instruction set")
  T.ok(c:match("OpenMP wait policy"), "llfc.blas().conv names the OpenMP wait policy")
end
T.done()
