-- test_basics.lua - the binary runs scripts with llfc's modules loaded.
local T = require "check"
T.ok(type(tensor) == "table" and type(nn) == "table" and type(data) == "table", "modules are globals")
T.ok(type(llfc.version) == "string" and llfc.version:match("^%d+%.%d+"), "llfc.version")
T.eq(require("llfc.util").fmt(0.5), "0.5000", "embedded Lua modules load")
T.eq(arg[0]:match("test_basics.lua$") ~= nil, true, "arg[0] is the script")
local b = llfc.blas()
T.ok(math.type(b.threads) == "integer" and b.threads >= 1, "llfc.blas() reports the thread count")
T.ok(type(b.core) == "string" and #b.core > 0 and type(b.config) == "string", "llfc.blas() names the kernel family and build")
T.eq(llfc.blas(1).threads, 1, "llfc.blas(n) sets the thread count")
llfc.blas(b.threads)
T.raises(function() llfc.blas(0) end, "thread count must be between 1 and 1024", "llfc.blas(0) is an error")
T.done()
